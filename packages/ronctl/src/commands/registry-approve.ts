// ronctl registry approve <pid> --key K: signs the proposal as the registry holds it and adds the signature.
import type { Command } from 'commander';
import { governanceSignedBytes, signBytes, type Subject } from '@ron/registry/protocol';
import { CliError, collect, ctxOf, readKey, action } from '../context.js';
import { HttpError, callJson } from '../http.js';
import { proposalUrl, stalenessOf, staleHint, type ProposalView, type Staleness } from './registry-show.js';

/** The subject of a proposal status (what its signers sign). */
export function subjectOfStatus(p: ProposalView): Subject {
  if (p.op === 'signers' && p.signers !== undefined) return { op: 'signers', signers: p.signers };
  if ((p.op === 'publish' || p.op === 'deprecate') && p.descriptor !== undefined)
    return { op: p.op, descriptor: p.descriptor };
  throw new CliError(`proposal ${p.proposal_id} has an unexpected shape`);
}

function staleError(p: ProposalView, s: Staleness): CliError {
  return new CliError(
    `proposal ${p.proposal_id} is stale${s.reason !== undefined ? `: ${s.reason}` : ''}`,
    staleHint(p, s),
  );
}

export function registryApprove(registry: Command): void {
  registry
    .command('approve')
    .description(
      'sign a pending proposal with each --key and add the signatures (signs at once: review it first with ronctl registry show <proposal_id>)',
    )
    .argument('<proposal_id>')
    .requiredOption('--key <file>', 'signer key file (repeatable)', collect)
    .action(
      action(async (pid: string, o: { key: string[] }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const url = proposalUrl(ctx, pid);
        const p = await callJson<ProposalView>(ctx, 'GET', url);
        // 1. A proposal that can never be applied is not signed.
        const s = await stalenessOf(ctx, p);
        if (s.stale) throw staleError(p, s);
        const bytes = governanceSignedBytes(ctx.registryId, subjectOfStatus(p));
        let last: { have: number; need: number; state?: string; stale?: boolean } = p;
        for (const k of o.key) {
          try {
            last = await callJson(ctx, 'POST', `${url}/approvals`, {
              signature: signBytes(readKey(k), bytes),
            });
          } catch (err) {
            // 2. It went stale between the check and the approval: the registry refuses with 409.
            if (err instanceof HttpError && err.status === 409 && err.errorCode === 'StaleVersion')
              throw staleError(p, await stalenessOf(ctx, { ...p, stale: true }));
            throw err;
          }
        }
        if (last.stale === true) throw staleError(p, await stalenessOf(ctx, { ...p, stale: true }));
        if (ctx.json) return ctx.out(JSON.stringify({ proposal_id: pid, ...last }));
        ctx.out(
          `proposal ${pid}: ${last.have}/${last.need} signatures${last.state !== undefined ? ` (${last.state})` : ''}`,
        );
        if (last.have >= last.need) ctx.out(`next: ronctl registry apply ${pid}`);
      }),
    );
}
