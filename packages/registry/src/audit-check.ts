// The signature audit of one log entry (SPEC §2.5): its signatures must reach quorum under the
// signer set in force at its version, exactly as the write path demanded when it was appended.
// Pure and synchronous: it runs in the audit worker, and tests call it directly.
import { governanceSignedBytes, evaluateQuorum, quorumMet, type Subject } from './governance/quorum.js';
import type { Descriptor } from './governance/descriptor.js';
import type { SignerSet } from './governance/signer-set.js';
import type { LogEntry } from './log-entry.js';
import { checkQuorum, signedBytes } from './signing.js';

export interface AuditFault {
  version: number;
  reason: string;
}

/** Walks entries in version order, tracking the signer set through `op:"signers"` entries. */
export class EntryAuditor {
  readonly #registry: string;
  #set: SignerSet;

  constructor(registry: string, genesis: SignerSet) {
    this.#registry = registry;
    this.#set = genesis;
  }

  get signerSet(): SignerSet {
    return this.#set;
  }

  /** Undefined when the entry's signatures hold, else the fault. Advances the signer set on a rotation. */
  check(e: LogEntry): AuditFault | undefined {
    const fault = (reason: string): AuditFault => ({ version: e.version, reason });
    if (!Array.isArray(e.signatures)) return fault('the entry carries no signature list');
    const cur = this.#set;
    if (e.op === 'commit') {
      const bytes = signedBytes({
        registry: this.#registry,
        op: 'commit',
        payload_b3: e.payload_b3,
        version: e.version,
      });
      const q = checkQuorum(e.signatures, bytes, new Set(cur.signers), cur.threshold);
      if (q.error !== undefined) return fault(`${q.error.message} (signer set ${cur.version})`);
      if (q.have < q.need)
        return fault(`${q.have} valid signature(s), signer set ${cur.version} needs ${q.need}`);
      return undefined;
    }
    let subject: Subject;
    if (e.op === 'signers') {
      const next = e.body as SignerSet | undefined;
      if (
        typeof next !== 'object' ||
        next === null ||
        !Array.isArray(next.signers) ||
        !Number.isSafeInteger(next.threshold)
      ) {
        return fault('the signers entry carries no signer set');
      }
      if (next.version !== cur.version + 1)
        return fault(`signer set version ${String(next.version)} does not follow ${cur.version}`);
      subject = { op: 'signers', signers: next };
    } else if (e.op === 'publish' || e.op === 'deprecate') {
      if (typeof e.body !== 'object' || e.body === null)
        return fault(`the ${e.op} entry carries no descriptor`);
      subject = { op: e.op, descriptor: e.body as Descriptor };
    } else {
      return fault(`unknown op ${JSON.stringify(e.op)}`);
    }
    const bytes = governanceSignedBytes(this.#registry, subject);
    const q =
      subject.op === 'signers'
        ? evaluateQuorum(e.signatures, bytes, cur, subject.signers)
        : evaluateQuorum(e.signatures, bytes, cur);
    if (q.error !== undefined) return fault(`${q.error} (signer set ${cur.version})`);
    if (!quorumMet(q))
      return fault(`quorum not met under signer set ${cur.version} (${q.have} of ${q.need})`);
    if (subject.op === 'signers') this.#set = subject.signers;
    return undefined;
  }
}
