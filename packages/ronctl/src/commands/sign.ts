// ronctl sign --key FILE <proposal.json>: prints the signature over the proposal's exact bytes.
import type { Command } from 'commander';
import { governanceSignedBytes, signBytes } from '@ron/registry/protocol';
import { ctxOf, readKey, action } from '../context.js';
import { readProposal } from '../proposal.js';

export function sign(program: Command): void {
  program
    .command('sign')
    .description('sign a proposal file (publish/deprecate/signers); prints {signer_id, alg, sig}')
    .requiredOption('--key <file>', 'signer key file (ronctl keygen)')
    .option('--bytes', 'print the exact signed bytes (canonical JSON) instead of signing')
    .argument('<proposal.json>', 'proposal file: {op, descriptor} or {op:"signers", version, signers}')
    .action(
      action(async (file: string, o: { key: string; bytes?: boolean }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const { subject } = readProposal(file);
        const bytes = governanceSignedBytes(ctx.registryId, subject);
        if (o.bytes === true) {
          ctx.out(bytes.toString('utf8'));
          return;
        }
        ctx.out(JSON.stringify(signBytes(readKey(o.key), bytes)));
        await Promise.resolve();
      }),
    );
}
