import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type { SnapshotProgress } from '@ron/kernel/backup';
import { WriterClosedError } from '@ron/kernel/sqlite';
import { canonicalJson } from './canonical.js';
import { ChainError, StoreConflictError } from './errors.js';
import type { LogEntry } from './log-entry.js';
import type { ThreadReply, ThreadRequest, WireError } from './sqlite-wire.js';
import type { LogStore, ProposalRecord, StoredEntry } from './store.js';

interface Row {
  version: number;
  entry: string;
}

/**
 * A stored row back as an entry. A row that does not decode, or whose version column disagrees
 * with its entry (a renumbered row), is corruption: ChainError naming the row's version (exit 65).
 */
function decode(r: Row): LogEntry {
  let e: unknown;
  try {
    e = JSON.parse(r.entry);
  } catch {
    throw new ChainError(r.version, 'the stored entry is not valid JSON');
  }
  if (typeof e !== 'object' || e === null || Array.isArray(e))
    throw new ChainError(r.version, 'the stored entry is not a JSON object');
  const v = (e as { version?: unknown }).version;
  if (v !== r.version) {
    throw new ChainError(
      r.version,
      `the row's version column says ${r.version} but its entry says ${JSON.stringify(v) ?? 'nothing'} (a renumbered row)`,
    );
  }
  return e as LogEntry;
}

/**
 * SQLite backend: WAL with synchronous=FULL, so append() resolves only after the entry is durable.
 * The connection lives on a writer thread (sqlite-thread.ts): every write (appends, proposal records)
 * goes through the kernel's group-commit writer there — the writes that arrive together share one
 * transaction and one fsync, each in its own savepoint, and each promise settles in submission order
 * once that COMMIT returned — while the event loop keeps verifying and sealing the next commits
 * instead of waiting out the fsync. Appends are pipelined: the registry hands over each sealed entry
 * without waiting for the previous COMMIT; the insert checks version = max + 1 inside the batch
 * (which sees the earlier appends of the same batch), so an append sealed on top of a failed one
 * fails too. Reads run on the thread between batches: durable state only.
 *
 * The constructor stays synchronous: it waits (Atomics.wait) for the thread to open the file, so a
 * store in use by another process or an unreadable file throws here, as before.
 */
export class SqliteStore implements LogStore {
  readonly kind = 'sqlite' as const;
  readonly pipelined = true;
  readonly location: string;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #outbox: ThreadRequest[] = [];
  #open = true;
  #closing: Promise<void> | undefined;
  #failure: Error | undefined;

  constructor(path: string) {
    this.location = path;
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    this.#worker = new Worker(new URL('./sqlite-thread.js', import.meta.url), {
      workerData: { path, signal, port: port2 },
      transferList: [port2],
    });
    if (Atomics.wait(signal, 0, 0, OPEN_TIMEOUT_MS) === 'timed-out') {
      void this.#worker.terminate();
      throw new Error(`${path}: the store thread did not open the file within ${OPEN_TIMEOUT_MS} ms`);
    }
    const opened = receiveMessageOnPort(port1)?.message as { ok: boolean; error?: WireError } | undefined;
    port1.close();
    if (opened?.ok !== true) {
      void this.#worker.terminate();
      throw rebuild(
        opened?.error ?? { name: 'Error', message: `${path}: the store thread failed to open it` },
      );
    }
    this.#worker.on('message', (batch: ThreadReply[]) => this.#onReplies(batch));
    this.#worker.on('error', (err) => this.#fail(err));
    this.#worker.on('exit', () => this.#fail(new Error('the store thread exited')));
    // The thread keeps the process alive only while a request is waiting for it.
    this.#worker.unref();
  }

  append(entry: LogEntry, text?: string): Promise<void> {
    const json = text ?? canonicalJson(entry);
    return this.#call({ op: 'append', version: entry.version, kind: entry.op, json }) as Promise<void>;
  }

  async range(after: number, limit: number): Promise<LogEntry[]> {
    return ((await this.#call({ op: 'range', after, limit })) as Row[]).map(decode);
  }

  async rangeStored(after: number, limit: number): Promise<StoredEntry[]> {
    const rows = (await this.#call({ op: 'range', after, limit })) as Row[];
    return rows.map((r) => ({ entry: decode(r), text: r.entry }));
  }

  async get(version: number): Promise<LogEntry | undefined> {
    const r = (await this.#call({ op: 'get', version })) as Row | null;
    return r === null ? undefined : decode(r);
  }

  async last(): Promise<LogEntry | undefined> {
    const r = (await this.#call({ op: 'last' })) as Row | null;
    return r === null ? undefined : decode(r);
  }

  putProposal(p: ProposalRecord): Promise<void> {
    return this.#call({ op: 'putProposal', pid: p.id, json: JSON.stringify(p) }) as Promise<void>;
  }

  async getProposal(id: string): Promise<ProposalRecord | undefined> {
    const r = (await this.#call({ op: 'getProposal', pid: id })) as string | null;
    return r === null ? undefined : (JSON.parse(r) as ProposalRecord);
  }

  async listProposals(): Promise<ProposalRecord[]> {
    return ((await this.#call({ op: 'listProposals' })) as string[]).map(
      (r) => JSON.parse(r) as ProposalRecord,
    );
  }

  deleteProposals(ids: readonly string[]): Promise<void> {
    return this.#call({ op: 'deleteProposals', ids: [...ids] }) as Promise<void>;
  }

  floor(): number {
    return 1;
  }

  /**
   * A consistent copy of the whole store (log and proposals) in the new file `dest`, taken with
   * SQLite's online backup API on the store's connection: appends keep flowing and land in the copy
   * or after it, never half in it.
   */
  snapshot(dest: string, onProgress?: (p: SnapshotProgress) => void): Promise<void> {
    return this.#call({ op: 'snapshot', dest }, onProgress) as Promise<void>;
  }

  isOpen(): boolean {
    return this.#open;
  }

  /** Commits the writes still queued, then closes the file and stops the thread. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#failure === undefined) {
        try {
          await this.#call({ op: 'close' });
        } finally {
          this.#open = false;
          await this.#worker.terminate();
        }
      }
      this.#open = false;
    })();
    return this.#closing;
  }

  #call(
    req: DistributiveOmit<ThreadRequest, 'id'>,
    onProgress?: (p: SnapshotProgress) => void,
  ): Promise<unknown> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (!this.#open || (this.#closing !== undefined && req.op !== 'close'))
      return Promise.reject(new WriterClosedError());
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve, reject, onProgress });
      // Requests made in one event-loop turn go over in one message.
      if (this.#outbox.length === 0) setImmediate(this.#post);
      this.#outbox.push({ ...req, id });
    });
  }

  readonly #post = (): void => {
    const batch = this.#outbox;
    this.#outbox = [];
    if (batch.length > 0) this.#worker.postMessage(batch);
  };

  #onReplies(batch: ThreadReply[]): void {
    for (const r of batch) {
      const p = this.#pending.get(r.id);
      if (p === undefined) continue;
      if ('progress' in r) {
        p.onProgress?.(r.progress);
        continue;
      }
      this.#pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(rebuild(r.error));
    }
    if (this.#pending.size === 0) this.#worker.unref();
  }

  /** The thread died: nothing still waiting can become durable any more. */
  #fail(err: Error): void {
    if (this.#closing !== undefined && this.#pending.size === 0) return;
    this.#failure ??= err;
    this.#open = false;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}

const OPEN_TIMEOUT_MS = 30_000;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  onProgress: ((p: SnapshotProgress) => void) | undefined;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An error from the thread as the type callers expect (conflicts, SQLite codes, a closing store). */
function rebuild(e: WireError): Error {
  if (e.name === 'StoreConflictError' && e.expected !== undefined && e.got !== undefined)
    return new StoreConflictError(e.expected, e.got);
  if (e.name === 'WriterClosedError') return new WriterClosedError();
  const err = new Error(e.message);
  err.name = e.name;
  if (e.code !== undefined) Object.assign(err, { code: e.code });
  return err;
}
