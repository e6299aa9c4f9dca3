// ronctl registry approve <pid> --key K: signs the proposal as the registry holds it and adds the signature.
import type { Command } from 'commander';
import { governanceSignedBytes, signBytes, type ProposalStatus, type Subject } from '@ron/registry';
import { CliError, collect, ctxOf, readKey, action } from '../context.js';
import { callJson } from '../http.js';

/** The subject of a proposal status (what its signers sign). */
export function subjectOfStatus(p: ProposalStatus): Subject {
  if (p.op === 'signers' && p.signers !== undefined) return { op: 'signers', signers: p.signers };
  if ((p.op === 'publish' || p.op === 'deprecate') && p.descriptor !== undefined) return { op: p.op, descriptor: p.descriptor };
  throw new CliError(`proposal ${p.proposal_id} has an unexpected shape`);
}

export function registryApprove(registry: Command): void {
  registry
    .command('approve')
    .description('add your signature to a pending proposal (review it first: ronctl --json registry approve shows it)')
    .argument('<proposal_id>')
    .requiredOption('--key <file>', 'signer key file (repeatable)', collect)
    .action(
      action(async (pid: string, o: { key: string[] }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const url = `${ctx.registryUrl}/v1/registry/proposals/${encodeURIComponent(pid)}`;
        const p = await callJson<ProposalStatus>(ctx, 'GET', url);
        const bytes = governanceSignedBytes(ctx.registryId, subjectOfStatus(p));
        let last: { have: number; need: number; state?: string } = p;
        for (const k of o.key) last = await callJson(ctx, 'POST', `${url}/approvals`, { signature: signBytes(readKey(k), bytes) });
        if (ctx.json) return ctx.out(JSON.stringify({ proposal_id: pid, ...last }));
        ctx.out(`proposal ${pid}: ${last.have}/${last.need} signatures${last.state !== undefined ? ` (${last.state})` : ''}`);
        if (last.have >= last.need) ctx.out(`next: ronctl registry apply ${pid}`);
      }),
    );
}
