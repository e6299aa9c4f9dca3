// The audit's worker thread (SPEC §2.5: off the event loop). The main thread feeds it pages of
// entries in version order; it answers each page with the count checked, or the first fault.
import { parentPort, workerData } from 'node:worker_threads';
import { EntryAuditor } from './audit-check.js';
import type { SignerSet } from './governance/signer-set.js';
import type { LogEntry } from './log-entry.js';

export interface AuditWorkerData {
  registry: string;
  genesis: SignerSet;
}

export type AuditWorkerReply = { checked: number } | { fault: { version: number; reason: string } };

const data = workerData as AuditWorkerData;
const auditor = new EntryAuditor(data.registry, data.genesis);
const port = parentPort;
if (port === null) throw new Error('audit-worker.js runs as a worker thread');
port.on('message', (page: LogEntry[]) => {
  for (const e of page) {
    const fault = auditor.check(e);
    if (fault !== undefined) {
      port.postMessage({ fault } satisfies AuditWorkerReply);
      return;
    }
  }
  port.postMessage({ checked: page.length } satisfies AuditWorkerReply);
});
