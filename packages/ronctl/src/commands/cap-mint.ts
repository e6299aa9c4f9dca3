// ronctl cap mint --root-key FILE --scope S [--expires 1h]: a bearer capability for governance writes.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseDuration } from '@ron/kernel/core';
import {
  CAPABILITY_SCOPES,
  mintCapability,
  parseRootKey,
  type CapabilityScope,
} from '@ron/registry/protocol';
import { CliError, collect, ctxOf, action } from '../context.js';

export function capMint(cap: Command): void {
  cap
    .command('mint')
    .description('mint a macaroon with `scope = …` and `expires < …` caveats')
    .requiredOption(
      '--root-key <file>',
      'the registry’s capability root key file (governance.capability_key_file; ronctl cap keygen makes one)',
    )
    .requiredOption(
      '--scope <scope>',
      `${CAPABILITY_SCOPES.join(' | ')} (repeatable or comma-separated)`,
      collect,
    )
    .option('--expires <duration>', 'lifetime, e.g. 15m, 1h', '1h')
    .action(
      action(async (o: { rootKey: string; scope: string[]; expires: string }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const scopes = o.scope
          .flatMap((s) => s.split(','))
          .map((s) => s.trim())
          .filter((s) => s !== '');
        for (const s of scopes) {
          if (!(CAPABILITY_SCOPES as readonly string[]).includes(s))
            throw new CliError(`unknown scope ${s}`, `use ${CAPABILITY_SCOPES.join(' or ')}`);
        }
        const ms = parseDuration(o.expires);
        if (ms === undefined || ms <= 0)
          throw new CliError(`--expires ${o.expires} is not a duration`, 'use e.g. 30s, 15m, 1h');
        let text: string;
        try {
          text = readFileSync(o.rootKey, 'utf8');
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? String(err);
          throw new CliError(
            `cannot read root key ${o.rootKey}: ${code}`,
            code === 'ENOENT'
              ? 'create one with: ronctl cap keygen --out FILE (and start the registry with --capability-key FILE)'
              : 'check the path and its permissions',
          );
        }
        let root: Uint8Array;
        try {
          root = parseRootKey(text);
        } catch (err) {
          throw new CliError(
            `${o.rootKey} is not a capability root key: ${(err as Error).message}`,
            'use the file the registry was given (--capability-key), or make one with: ronctl cap keygen --out FILE',
          );
        }
        const expiresAt = new Date(Date.now() + ms);
        const token = mintCapability({ rootKey: root, scopes: scopes as CapabilityScope[], expiresAt });
        ctx.out(ctx.json ? JSON.stringify({ token, scopes, expires_at: expiresAt.toISOString() }) : token);
        await Promise.resolve();
      }),
    );
}
