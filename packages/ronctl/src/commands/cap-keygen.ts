// ronctl cap keygen --out FILE: a capability root key (32 random bytes, base64url, file mode 0600).
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { generateRootKey } from '@ron/registry/protocol';
import { CliError, ctxOf, action } from '../context.js';

export function capKeygen(cap: Command): void {
  cap
    .command('keygen')
    .description(
      'generate a capability root key file (mode 0600): give it to the registry (--capability-key) and to cap mint (--root-key)',
    )
    .requiredOption('--out <file>', 'where to write the key (never overwritten)')
    .action(
      action(async (o: { out: string }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        try {
          writeFileSync(o.out, `${generateRootKey()}\n`, { mode: 0o600, flag: 'wx' });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          throw new CliError(
            `cannot write ${o.out}: ${code ?? String(err)}`,
            code === 'EEXIST'
              ? 'refusing to overwrite a key; pick another --out'
              : 'check the directory exists and is writable',
          );
        }
        ctx.out(
          ctx.json
            ? JSON.stringify({ file: o.out })
            : `wrote capability root key ${o.out} (mode 0600; anyone holding it can mint capabilities)`,
        );
        await Promise.resolve();
      }),
    );
}
