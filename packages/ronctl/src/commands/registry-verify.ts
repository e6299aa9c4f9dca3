// ronctl registry verify: downloads the whole log, recomputes the chain, checks every signature
// against the signer set in force at that version; prints the first fault.
import type { Command } from 'commander';
import {
  ChainError,
  ChainVerifier,
  b3,
  canonicalJson,
  evaluateQuorum,
  governanceEntryOf,
  governanceSignedBytes,
  initChain,
  initialSignerSet,
  quorumMet,
  signedBytes,
  subjectOf,
  type Head,
  type LogEntry,
  type SignerSet,
} from '@ron/registry/protocol';
import { CliError, ctxOf, type Ctx, action } from '../context.js';
import { callJson } from '../http.js';

export interface VerifyReport {
  ok: boolean;
  entries: number;
  head: number;
  chain_b3: string;
  signer_sets: number;
  genesis: 'flags' | 'registry';
  fault?: { version: number; reason: string };
}

/** Checks one entry's signatures and content against the set in force; returns a fault or the next set. */
function checkEntry(
  registryId: string,
  e: LogEntry,
  set: SignerSet,
  perId: Map<string, number>,
): string | SignerSet {
  if (e.op === 'commit') {
    const q = evaluateQuorum(
      e.signatures,
      signedBytes({ registry: registryId, op: 'commit', payload_b3: e.payload_b3, version: e.version }),
      set,
    );
    if (q.error !== undefined) return q.error;
    if (!quorumMet(q))
      return `commit has ${q.have} valid signatures of signer set v${set.version}; ${q.need} needed`;
    return set;
  }
  const g = governanceEntryOf(e);
  if (g === undefined || e.body === undefined) return `${e.op} entry carries no body`;
  if (e.payload_b3 !== b3(canonicalJson(e.body))) return 'payload_b3 is not the BLAKE3 of the entry body';
  const s = subjectOf(g);
  const q = evaluateQuorum(
    e.signatures,
    governanceSignedBytes(registryId, s),
    set,
    s.op === 'signers' ? s.signers : undefined,
  );
  if (q.error !== undefined) return q.error;
  if (!quorumMet(q))
    return `${e.op} lacks a quorum of signer set v${set.version}${s.op === 'signers' ? ' and of the new set' : ''} (${q.have}/${q.need})`;
  if (s.op === 'signers') {
    if (s.signers.version !== set.version + 1)
      return `signer set version ${s.signers.version} does not follow ${set.version}`;
    return s.signers;
  }
  const prev = perId.get(s.descriptor.id) ?? 0;
  if (s.descriptor.version !== prev + 1)
    return `descriptor ${s.descriptor.id} version ${s.descriptor.version} does not follow ${prev} (rollback?)`;
  if (e.descriptor_id !== s.descriptor.id) return 'descriptor_id does not match the body';
  perId.set(s.descriptor.id, s.descriptor.version);
  return set;
}

export async function verify(ctx: Ctx, o: { signer?: string[]; threshold?: string }): Promise<VerifyReport> {
  await initChain();
  const head = await callJson<Head>(ctx, 'GET', `${ctx.registryUrl}/registry/head`);
  // Genesis set: pinned by flags (trust anchor), else as the registry reports it.
  let set: SignerSet;
  let genesis: VerifyReport['genesis'];
  if (o.signer !== undefined && o.signer.length > 0) {
    try {
      set = initialSignerSet(
        o.signer.flatMap((s) => s.split(',')).map((s) => s.trim()),
        Number(o.threshold ?? '1'),
      );
    } catch (err) {
      throw new CliError(`--signer/--threshold: ${(err as Error).message}`);
    }
    genesis = 'flags';
  } else {
    const s = await callJson<{ history: { set: SignerSet }[] }>(
      ctx,
      'GET',
      `${ctx.registryUrl}/v1/registry/signers`,
    );
    const first = s.history[0];
    if (first === undefined) throw new CliError('the registry reported no signer sets');
    set = first.set;
    genesis = 'registry';
  }
  const report: VerifyReport = {
    ok: true,
    entries: 0,
    head: head.version,
    chain_b3: 'b3:0',
    signer_sets: 1,
    genesis,
  };
  const chain = new ChainVerifier();
  const perId = new Map<string, number>();
  let from = 1;
  while (from <= head.version) {
    const page = await callJson<{ entries: LogEntry[]; next: number | null; floor: number }>(
      ctx,
      'GET',
      `${ctx.registryUrl}/registry/history?from=${from}&limit=1000`,
    );
    if (page.entries.length === 0) break;
    for (const e of page.entries) {
      if (e.version > head.version) break;
      try {
        chain.push(e);
      } catch (err) {
        if (err instanceof ChainError)
          return { ...report, ok: false, fault: { version: err.version, reason: err.reason } };
        throw err;
      }
      const r = checkEntry(ctx.registryId, e, set, perId);
      if (typeof r === 'string') return { ...report, ok: false, fault: { version: e.version, reason: r } };
      if (r !== set) report.signer_sets++;
      set = r;
      report.entries++;
      from = e.version + 1;
    }
    if (page.next === null) break;
  }
  report.chain_b3 = chain.prev;
  if (chain.version !== head.version)
    return {
      ...report,
      ok: false,
      fault: {
        version: chain.version + 1,
        reason: `history ends at ${chain.version} but the head is ${head.version}`,
      },
    };
  if (head.version > 0 && chain.prev !== head.chain_b3)
    return {
      ...report,
      ok: false,
      fault: { version: head.version, reason: 'the head chain_b3 does not match the recomputed chain' },
    };
  return report;
}

export function registryVerify(registry: Command): void {
  registry
    .command('verify')
    .description(
      'download the whole log; check the hash chain and every signature against the signer set in force',
    )
    .option(
      '--signer <id>',
      'pin the genesis signer set (repeatable/comma-separated; default: as the registry reports it)',
      (v: string, p: string[] | undefined) => [...(p ?? []), v],
    )
    .option('--threshold <n>', 'genesis threshold with --signer', '1')
    .action(
      action(async (o: { signer?: string[]; threshold?: string }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const r = await verify(ctx, o);
        if (ctx.json) ctx.out(JSON.stringify(r));
        else if (r.ok) {
          ctx.out(
            `ok: ${r.entries} entries verified up to head ${r.head}; chain ${r.chain_b3}; ${r.signer_sets} signer set(s)${r.genesis === 'registry' ? ' (genesis set as reported by the registry; pin it with --signer)' : ''}`,
          );
        } else {
          ctx.out(`FAULT at version ${r.fault!.version}: ${r.fault!.reason}`);
        }
        if (!r.ok) {
          throw new CliError(
            `log verification failed at version ${r.fault!.version}`,
            `entries up to ${r.fault!.version - 1} are sound; do not trust anything from ${r.fault!.version} on (check --registry-id matches the registry's REGISTRY_ID)`,
          );
        }
      }),
    );
}
