// `macronode backup` and `macronode restore` (docs/runbook.md § Backups).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { StartupError, runMain } from '@ron/kernel';
import { loadMacronodeConfig, type LoadInput } from './config.js';
import type { NodeBackupManifest } from './backup.js';
import { NODE_REGISTRY_ID } from './planes/registry/plane.js';
import { existingSignerId, signerKeyPlace } from './planes/registry/signer-key.js';

type Flags = Record<string, unknown>;

function adminUrlOf(flags: Flags, input: LoadInput): { url: string; token: string } {
  const c = loadMacronodeConfig(input).config;
  const explicit = typeof flags.admin === 'string' ? flags.admin : undefined;
  const addr = c.http_addr.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
  return { url: (explicit ?? `http://${addr}`).replace(/\/$/, ''), token: c.admin_token };
}

/** Adds `backup` and `restore` to the macronode command line. */
export function addBackupCommands(
  program: Command,
  withRunFlags: (cmd: Command) => Command,
  input: (flags: Flags) => LoadInput,
): void {
  withRunFlags(program.command('backup'))
    .description(
      'back up every plane store of a RUNNING node into a new directory (consistent online snapshots, verified)',
    )
    .option('--out <dir>', 'directory to create (default: <data_dir>/backups/<UTC time> on the node)')
    .option('--admin <url>', 'the node admin URL (default: from http_addr in the config)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 64 usage or --out exists, 69 node unreachable or a plane down, 78 invalid config.',
    )
    .action((flags: Flags) =>
      runMain('macronode', async () => {
        // Loaded on demand: the host's `run` never loads the SQLite addon.
        const { TtyProgress, formatBytes } = await import('@ron/kernel/backup');
        const { url, token } = adminUrlOf(flags, input(flags));
        const out = typeof flags.out === 'string' ? resolve(flags.out) : undefined;
        let res: Response;
        try {
          res = await fetch(`${url}/api/v1/backup?progress=1`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(token !== '' ? { authorization: `Bearer ${token}` } : {}),
            },
            body: JSON.stringify(out !== undefined ? { out } : {}),
          });
        } catch (err) {
          throw new StartupError(
            `nothing answers at ${url} (${(err as Error).message}): is macronode running? --admin names its admin URL`,
            69,
          );
        }
        const progress = new TtyProgress();
        let final: {
          ok?: boolean;
          out?: string;
          manifest?: NodeBackupManifest;
          error?: { code: string; message: string };
        } = {};
        let buf = '';
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          buf += Buffer.from(chunk).toString('utf8');
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            const o = JSON.parse(line) as typeof final & {
              progress?: { plane: string; bytes: number; total?: number };
            };
            if (o.progress) progress.update(`backup ${o.progress.plane}`, o.progress.bytes, o.progress.total);
            else final = o;
          }
        }
        if (buf.trim() !== '') final = JSON.parse(buf) as typeof final;
        progress.done();
        if (final.ok !== true || final.manifest === undefined) {
          throw new StartupError(
            `backup failed (${res.status}): ${final.error?.message ?? 'no answer'}`,
            res.status === 409 ? 64 : 69,
          );
        }
        if (flags.json === true) {
          process.stdout.write(`${JSON.stringify(final)}\n`);
          return;
        }
        process.stdout.write(`backup ok: ${final.out}\n`);
        for (const [plane, p] of Object.entries(final.manifest.planes)) {
          const log = p.log !== undefined ? `, ${p.log.entries} entries verified, head ${p.log.head}` : '';
          process.stdout.write(`  ${plane.padEnd(9)} ${formatBytes(p.bytes)}${log}\n`);
        }
      }),
    );
  withRunFlags(program.command('restore'))
    .description('verify a backup directory, then put every plane store in place (the node must be stopped)')
    .requiredOption('--from <dir>', 'a directory written by `macronode backup`')
    .option('--force', 'restore even when the backup is older than the data it replaces')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 65 corrupt or older backup (nothing replaced), 69 node still running, 78 invalid config.',
    )
    .action((flags: Flags) =>
      runMain('macronode', async () => {
        const c = loadMacronodeConfig(input(flags)).config;
        const { restoreNode } = await import('./backup.js');
        // The registry's signatures are audited against this node's own key when it has one (the
        // trust anchor the restored plane boots with), else against the signer set the backup recorded.
        const signer = existingSignerId(signerKeyPlace(c['registry.signer_key'], c));
        const audit =
          signer !== undefined
            ? { registryId: NODE_REGISTRY_ID, signers: [signer], threshold: c['registry.sig_threshold'] }
            : undefined;
        const r = await restoreNode(String(flags.from), c.data_dir, flags.force === true, audit);
        process.stdout.write(
          `restore ok from ${resolve(String(flags.from))} (taken ${r.manifest.taken_at})\n`,
        );
        for (const s of r.restored) process.stdout.write(`  ${s.plane.padEnd(9)} ${s.path}\n`);
      }),
    );
}
