// ronctl registry publish --file F --key K…: propose with every key's signature, then apply.
import type { Command } from 'commander';
import { governanceSignedBytes, signBytes, type ProposalStatus } from '@ron/registry/protocol';
import { CliError, collect, ctxOf, readKey, action } from '../context.js';
import { callJson } from '../http.js';
import { proposalBody, readProposal } from '../proposal.js';
import type { ApplyResult } from './registry-apply.js';

export function registryPublish(registry: Command): void {
  registry
    .command('publish')
    .description('one-shot: sign with every --key, propose and apply (needs a quorum of keys at hand)')
    .requiredOption('--file <file>', 'proposal file')
    .requiredOption('--key <file>', 'signer key file (repeatable)', collect)
    .action(
      action(async (o: { file: string; key: string[] }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const { subject, signatures } = readProposal(o.file);
        const bytes = governanceSignedBytes(ctx.registryId, subject);
        const sigs = [...signatures, ...o.key.map((k) => signBytes(readKey(k), bytes))];
        const p = await callJson<ProposalStatus>(
          ctx,
          'POST',
          `${ctx.registryUrl}/v1/registry/proposals`,
          proposalBody(subject, sigs),
        );
        if (p.have < p.need) {
          throw new CliError(
            `only ${p.have} of ${p.need} required signatures (proposal ${p.proposal_id} stays open)`,
            `collect more: ronctl registry approve ${p.proposal_id} --key K, then ronctl registry apply ${p.proposal_id}`,
          );
        }
        const r = await callJson<ApplyResult>(
          ctx,
          'POST',
          `${ctx.registryUrl}/v1/registry/apply/${encodeURIComponent(p.proposal_id)}`,
        );
        ctx.out(
          ctx.json
            ? JSON.stringify(r)
            : `applied ${r.op} (version ${r.subject_version}) at log version ${r.version}`,
        );
      }),
    );
}
