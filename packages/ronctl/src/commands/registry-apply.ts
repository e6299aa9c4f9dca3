// ronctl registry apply <pid>: applies a proposal once quorum holds (idempotent).
import type { Command } from 'commander';
import { ctxOf, action } from '../context.js';
import { callJson } from '../http.js';

export interface ApplyResult {
  version: number;
  proposal_id: string;
  op: string;
  subject_version: number;
  committed_at: string;
}

export function registryApply(registry: Command): void {
  registry
    .command('apply')
    .description('apply a proposal that has a quorum (applying twice returns the same version)')
    .argument('<proposal_id>')
    .action(
      action(async (pid: string, _o: unknown, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const r = await callJson<ApplyResult>(
          ctx,
          'POST',
          `${ctx.registryUrl}/v1/registry/apply/${encodeURIComponent(pid)}`,
        );
        ctx.out(
          ctx.json
            ? JSON.stringify(r)
            : `applied ${r.op} (version ${r.subject_version}) at log version ${r.version}`,
        );
      }),
    );
}
