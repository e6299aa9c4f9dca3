// ronctl registry propose --file F [--key K…]: opens a proposal, signed by the keys given.
import type { Command } from 'commander';
import { governanceSignedBytes, signBytes, type ProposalStatus } from '@ron/registry/protocol';
import { collect, ctxOf, readKey, action } from '../context.js';
import { callJson } from '../http.js';
import { proposalBody, readProposal } from '../proposal.js';

export function printProposal(
  ctx: ReturnType<typeof ctxOf>,
  p: Pick<ProposalStatus, 'proposal_id' | 'have' | 'need' | 'expires_at'> & { state?: string },
): void {
  if (ctx.json) return ctx.out(JSON.stringify(p));
  ctx.out(
    `proposal ${p.proposal_id}: ${p.have}/${p.need} signatures${p.state !== undefined ? ` (${p.state})` : ''}, expires ${p.expires_at}`,
  );
  if (p.have < p.need)
    ctx.out(
      `next: ronctl registry approve ${p.proposal_id} --key K   (until ${p.need} signers), then ronctl registry apply ${p.proposal_id}`,
    );
  else ctx.out(`next: ronctl registry apply ${p.proposal_id}`);
}

export function registryPropose(registry: Command): void {
  registry
    .command('propose')
    .description('open a proposal (publish/deprecate/signers) with the signatures of the keys given')
    .requiredOption('--file <file>', 'proposal file')
    .option('--key <file>', 'sign with this key (repeatable)', collect)
    .action(
      action(async (o: { file: string; key?: string[] }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const { subject, signatures } = readProposal(o.file);
        const bytes = governanceSignedBytes(ctx.registryId, subject);
        const sigs = [...signatures, ...(o.key ?? []).map((k) => signBytes(readKey(k), bytes))];
        const p = await callJson<ProposalStatus>(
          ctx,
          'POST',
          `${ctx.registryUrl}/v1/registry/proposals`,
          proposalBody(subject, sigs),
        );
        printProposal(ctx, p);
      }),
    );
}
