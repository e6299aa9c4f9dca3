// ronctl registry get <id> [--version N]: one descriptor.
import type { Command } from 'commander';
import { ctxOf, action } from '../context.js';
import { callJson } from '../http.js';

interface DescriptorView {
  id: string;
  kind: string;
  version: number;
  state: string;
  body: Record<string, unknown>;
  signatures: { signer_id: string }[];
  log_version: number;
  committed_at: string;
}

export function registryGet(registry: Command): void {
  registry
    .command('get')
    .description('show a descriptor (latest, or --version N)')
    .argument('<id>', 'descriptor id, e.g. svc-storage@us-east-1')
    .option('--version <n>', 'an older descriptor version')
    .action(
      action(async (id: string, o: { version?: string }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const q = o.version !== undefined ? `?version=${encodeURIComponent(o.version)}` : '';
        const d = await callJson<DescriptorView>(
          ctx,
          'GET',
          `${ctx.registryUrl}/v1/registry/descriptors/${encodeURIComponent(id)}${q}`,
        );
        if (ctx.json) return ctx.out(JSON.stringify(d));
        ctx.out(
          `${d.id}  ${d.kind}  v${d.version}  ${d.state}  (log version ${d.log_version}, ${d.committed_at})`,
        );
        for (const [k, v] of Object.entries(d.body))
          ctx.out(`  ${k.padEnd(8)} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
        ctx.out(`  signed by ${d.signatures.map((s) => s.signer_id).join(', ')}`);
      }),
    );
}
