// ronctl registry show <pid>: a proposal as the registry holds it, before anyone signs it.
import type { Command } from 'commander';
import type { ProposalStatus } from '@ron/registry/protocol';
import { ctxOf, action, type Ctx } from '../context.js';
import { HttpError, callJson } from '../http.js';

/** GET /v1/registry/proposals/{id}; `stale` is absent from registries that predate it (read as false). */
export type ProposalView = ProposalStatus & { stale?: boolean };

export interface Staleness {
  stale: boolean;
  /** Why, when ronctl could tell: what is current and what the proposal would create. */
  reason?: string;
  /** The version a fresh proposal must carry. */
  next?: number;
}

export function proposalUrl(ctx: Ctx, pid: string): string {
  return `${ctx.registryUrl}/v1/registry/proposals/${encodeURIComponent(pid)}`;
}

/**
 * Whether a pending proposal can still be applied: the registry's `stale` flag, or — for a registry
 * that does not report it — the current version of what the proposal changes, which must be exactly
 * one below the proposal's (SPEC §2.1 rollback protection).
 */
export async function stalenessOf(ctx: Ctx, p: ProposalView): Promise<Staleness> {
  if (p.state === 'applied') return { stale: false };
  let current: number;
  let what: string;
  let proposed: number;
  if (p.op === 'signers' && p.signers !== undefined) {
    const s = await callJson<{ current: { version: number } }>(
      ctx,
      'GET',
      `${ctx.registryUrl}/v1/registry/signers`,
    );
    current = s.current.version;
    proposed = p.signers.version;
    what = 'the signer set';
  } else if (p.descriptor !== undefined) {
    const d = p.descriptor;
    try {
      current = (
        await callJson<{ version: number }>(
          ctx,
          'GET',
          `${ctx.registryUrl}/v1/registry/descriptors/${encodeURIComponent(d.id)}`,
        )
      ).version;
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 404)) throw err;
      current = 0;
    }
    proposed = d.version;
    what = `descriptor ${d.id}`;
  } else {
    return { stale: p.stale === true };
  }
  if (proposed <= current) {
    return {
      stale: true,
      reason: `${what} is already at version ${current}; this proposal would create version ${proposed}`,
      next: current + 1,
    };
  }
  return { stale: p.stale === true };
}

/** The hint for a stale proposal: it can never be applied; a new one must carry the next version. */
export function staleHint(p: ProposalView, s: Staleness): string {
  const next = s.next !== undefined ? ` version ${s.next}` : ' the next version';
  if (p.op === 'signers')
    return `it can never be applied: propose a rotation to${next} (ronctl registry propose --file F)`;
  const id = p.descriptor?.id ?? '<id>';
  return `it can never be applied: review the current descriptor (ronctl registry get ${id}) and propose${next}`;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

function humanExpiry(at: string): string {
  const ms = Date.parse(at) - Date.now();
  if (Number.isNaN(ms)) return at;
  if (ms <= 0) return `${at} (expired)`;
  const m = Math.round(ms / 60_000);
  return `${at} (in ${m >= 120 ? `${Math.round(m / 60)}h` : `${m}m`})`;
}

/** The human rendering: everything a signer should read before `approve` signs it. */
export function showLines(p: ProposalView, s: Staleness): string[] {
  const out = [`proposal ${p.proposal_id}`, `  op          ${p.op}`];
  if (p.descriptor !== undefined) {
    const d = p.descriptor;
    out.push(`  descriptor  ${d.id}  ${d.kind}  v${d.version}`);
    for (const [k, v] of Object.entries(d.body)) out.push(`    ${k.padEnd(10)}${str(v)}`);
  }
  if (p.signers !== undefined) {
    out.push(`  signer set  v${p.signers.version}, threshold ${p.signers.threshold}`);
    for (const id of p.signers.signers) out.push(`    ${id}`);
  }
  out.push(
    `  signatures  ${p.have}/${p.need}${p.detail !== undefined ? ` (current set ${p.detail.current.have}/${p.detail.current.need}, new set ${p.detail.next.have}/${p.detail.next.need})` : ''}`,
  );
  for (const sig of p.signatures) out.push(`    ${sig.signer_id}`);
  out.push(
    `  state       ${p.state}${p.applied_version !== undefined ? ` at log version ${p.applied_version}` : ''}`,
  );
  out.push(`  expires     ${humanExpiry(p.expires_at)}`);
  out.push(`  stale       ${s.stale ? `yes${s.reason !== undefined ? `: ${s.reason}` : ''}` : 'no'}`);
  if (s.stale) out.push(`next: nothing; ${staleHint(p, s)}`);
  else if (p.state === 'applied') out.push('next: nothing; it is applied');
  else if (p.have < p.need)
    out.push(`next: ronctl registry approve ${p.proposal_id} --key K   (signs exactly what is shown above)`);
  else out.push(`next: ronctl registry apply ${p.proposal_id}`);
  return out;
}

export function registryShow(registry: Command): void {
  registry
    .command('show')
    .description(
      'show a proposal before you sign it: op, descriptor, signatures so far, have/need, expiry, stale or not (signs nothing)',
    )
    .argument('<proposal_id>')
    .action(
      action(async (pid: string, _o: unknown, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const p = await callJson<ProposalView>(ctx, 'GET', proposalUrl(ctx, pid));
        const s = await stalenessOf(ctx, p);
        if (ctx.json)
          return ctx.out(
            JSON.stringify({
              ...p,
              stale: s.stale,
              ...(s.reason !== undefined ? { stale_reason: s.reason } : {}),
            }),
          );
        for (const l of showLines(p, s)) ctx.out(l);
      }),
    );
}
