// Shared helpers for the governance tests: keys, a registry with governance attached, signing.
import { ApiError } from '@ron/kernel';
import {
  MemoryStore,
  Registry,
  generateKeyFile,
  governanceSignedBytes,
  signBytes,
  type KeyFile,
  type LogStore,
  type Signature,
} from '../src/index.js';
import { attachGovernance } from '../src/governance/attach.js';
import { type Descriptor } from '../src/governance/descriptor.js';
import { type Governance, type GovernanceMetrics } from '../src/governance/governance.js';
import { type Subject } from '../src/governance/quorum.js';
import { type SignerSet } from '../src/governance/signer-set.js';

export const REG = 'test';

/** n fresh keys sorted by signer id. */
export function keys(n: number): KeyFile[] {
  return Array.from({ length: n }, () => generateKeyFile()).sort((a, b) =>
    a.signer_id < b.signer_id ? -1 : 1,
  );
}

export function ids(ks: readonly KeyFile[]): string[] {
  return ks.map((k) => k.signer_id).sort();
}

export function sig(k: KeyFile, s: Subject, registry = REG): Signature {
  return signBytes(k, governanceSignedBytes(registry, s));
}

export function svc(id: string, version: number, body: Record<string, unknown> = {}): Descriptor {
  return { id, kind: 'service', version, body: { region: 'us-east-1', addr: '10.0.0.5:9000', ...body } };
}

export function publish(d: Descriptor): { op: 'publish'; descriptor: Descriptor } {
  return { op: 'publish', descriptor: d };
}

export function rotation(
  version: number,
  ks: readonly KeyFile[],
  threshold: number,
): { op: 'signers'; signers: SignerSet } {
  const signers: SignerSet = { version, signers: ids(ks), threshold };
  return { op: 'signers', signers };
}

/** Proposal body as the HTTP API takes it. */
export function body(s: Subject, sigs: Signature[]): Record<string, unknown> {
  if (s.op === 'signers') {
    return {
      op: 'signers',
      version: s.signers.version,
      signers: { signers: s.signers.signers, threshold: s.signers.threshold },
      signatures: sigs,
    };
  }
  return { op: s.op, descriptor: s.descriptor, signatures: sigs };
}

export class RecordingMetrics implements GovernanceMetrics {
  readonly updates = new Map<string, number>();
  readonly rejections = new Map<string, number>();
  lastCounts: Record<string, number> = {};
  update(r: string): void {
    this.updates.set(r, (this.updates.get(r) ?? 0) + 1);
  }
  rejected(r: string): void {
    this.rejections.set(r, (this.rejections.get(r) ?? 0) + 1);
  }
  descriptors(c: Record<string, number>): void {
    this.lastCounts = c;
  }
  u(r: string): number {
    return this.updates.get(r) ?? 0;
  }
  r(r: string): number {
    return this.rejections.get(r) ?? 0;
  }
}

export interface Setup {
  reg: Registry;
  gov: Governance;
  store: LogStore;
  ks: KeyFile[];
  metrics: RecordingMetrics;
  clock: { t: number };
}

/** A registry (memory store) with governance attached; threshold t of n generated signers. */
export async function setup(
  n = 3,
  t = 2,
  o: { ttlMs?: number; store?: LogStore; ks?: KeyFile[] } = {},
): Promise<Setup> {
  const ks = o.ks ?? keys(n);
  const store = o.store ?? new MemoryStore();
  const { registry: reg } = await Registry.open(store, { registryId: REG, signers: ids(ks), threshold: t });
  const metrics = new RecordingMetrics();
  const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
  const gov = await attachGovernance(reg, { metrics, now: () => clock.t, proposalTtlMs: o.ttlMs ?? 60_000 });
  return { reg, gov, store, ks, metrics, clock };
}

/** Resolves with the ApiError code a promise (or thunk) rejects with. */
export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof ApiError) return err.code;
    throw err;
  }
  throw new Error('expected a rejection');
}
