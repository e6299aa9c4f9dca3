// ronctl keygen [--out FILE]: a fresh Ed25519 signer key; prints its signer id.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { generateKeyFile } from '@ron/registry/protocol';
import { CliError, ctxOf, action } from '../context.js';

export function keygen(program: Command): void {
  program
    .command('keygen')
    .description('generate an Ed25519 signer key (file mode 0600) and print its signer id')
    .option('--out <file>', 'write the key file here (without it the key JSON goes to stdout)')
    .action(
      action(async (o: { out?: string }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const k = generateKeyFile();
        if (o.out === undefined) {
          ctx.out(JSON.stringify(k));
          if (!ctx.json)
            ctx.err(`signer id: ${k.signer_id} (store this key safely: anyone holding it can sign)`);
          return;
        }
        try {
          writeFileSync(o.out, `${JSON.stringify(k, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          throw new CliError(
            `cannot write ${o.out}: ${code ?? String(err)}`,
            code === 'EEXIST'
              ? 'refusing to overwrite a key; pick another --out'
              : 'check the directory exists and is writable',
          );
        }
        ctx.out(ctx.json ? JSON.stringify({ signer_id: k.signer_id, file: o.out }) : k.signer_id);
        await Promise.resolve();
      }),
    );
}
