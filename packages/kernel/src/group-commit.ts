import type Database from 'better-sqlite3';
import { ApiError } from './errors.js';

/**
 * One group-commit writer per SQLite connection (SPEC §6 "Durable writes").
 *
 * 1. `write(fn)` queues `fn`; nothing runs yet.
 * 2. The first write into an empty queue schedules a flush with `setImmediate`: it runs in the check
 *    phase of the same event-loop turn, right after the poll phase that delivered the request. So a
 *    lone write commits at once (no timer, no added wait), and every write that the same poll phase
 *    delivered (requests that arrived together, or while the previous COMMIT was fsyncing and the
 *    loop was blocked) joins the same transaction.
 * 3. A flush takes up to `maxBatchWrites` writes / `maxBatchBytes` bytes (at least one) and runs
 *    them in submission order inside one `BEGIN IMMEDIATE … COMMIT`, each inside its own SAVEPOINT:
 *    a write whose `fn` throws is rolled back to its savepoint and fails alone; its batch-mates stay.
 *    (A batch of one skips the savepoint: its transaction is rolled back instead.)
 * 4. COMMIT (WAL, synchronous=FULL: the WAL is fsynced before it returns); only then is each
 *    caller's promise settled, in submission order. A failed COMMIT fails every write of the batch:
 *    none of them is durable.
 * 5. Writes left over by the bounds are flushed in the next turn.
 *
 * better-sqlite3 is synchronous, so a whole batch (BEGIN … COMMIT) runs inside one call: no read on
 * this connection can ever run while a batch transaction is open, so readers see only committed
 * (durable) state, never a batch-mate's uncommitted write. Inside a batch, a write does see the
 * writes before it in the same batch — they commit together or not at all, in that order.
 *
 * `fn` must be synchronous and must not open its own transaction (it already runs in one);
 * statements prepared on `db` are fine. Its return value becomes the promise's value.
 *
 * @example
 * const writer = new GroupCommitWriter(db);
 * const id = await writer.write((d) => insert.run(k, v).lastInsertRowid, { bytes: v.length });
 */
export class GroupCommitWriter {
  readonly #db: Database.Database;
  readonly #maxWrites: number;
  readonly #maxBytes: number;
  readonly #onCommit: ((s: BatchStats) => void) | undefined;
  readonly #begin: Database.Statement;
  readonly #commit: Database.Statement;
  readonly #rollback: Database.Statement;
  readonly #savepoint: Database.Statement;
  readonly #release: Database.Statement;
  readonly #rollbackTo: Database.Statement;
  #queue: Pending[] = [];
  #head = 0;
  #scheduled = false;
  #closed = false;
  #batches = 0;
  #writes = 0;

  constructor(db: Database.Database, opts: GroupCommitOptions = {}) {
    const o = { ...DEFAULTS, ...opts };
    if (!(o.maxBatchWrites >= 1) || !(o.maxBatchBytes >= 1))
      throw new RangeError('maxBatchWrites and maxBatchBytes must be ≥ 1');
    this.#db = db;
    this.#maxWrites = o.maxBatchWrites;
    this.#maxBytes = o.maxBatchBytes;
    this.#onCommit = opts.onCommit;
    this.#begin = db.prepare('BEGIN IMMEDIATE');
    this.#commit = db.prepare('COMMIT');
    this.#rollback = db.prepare('ROLLBACK');
    this.#savepoint = db.prepare('SAVEPOINT gc_write');
    this.#release = db.prepare('RELEASE gc_write');
    this.#rollbackTo = db.prepare('ROLLBACK TO gc_write');
  }

  /**
   * Queues `fn` for the next batch; resolves with its result once the COMMIT containing it returned,
   * rejects with what it threw (only this write is undone) or with the COMMIT's error.
   * `bytes` is this write's size for the batch byte bound (default 0).
   */
  write<T>(fn: (db: Database.Database) => T, opts: { bytes?: number } = {}): Promise<T> {
    if (this.#closed) return Promise.reject(new WriterClosedError());
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({
        fn,
        bytes: opts.bytes ?? 0,
        resolve: resolve as (v: unknown) => void,
        reject,
        ok: false,
        value: undefined,
      });
      this.#schedule();
    });
  }

  /** Writes queued and not yet committed. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /** Batches committed (or failed) and writes settled so far. */
  get stats(): { batches: number; writes: number } {
    return { batches: this.#batches, writes: this.#writes };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Commits every queued write now (synchronously, batch by batch), then refuses new ones. The
   * promises of the flushed writes settle as usual. Does not close the database.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    while (this.pending > 0 && this.#db.open) this.#flush();
    // A database closed underneath us: nothing queued can become durable any more.
    for (const p of this.#take(Infinity, Infinity)) p.reject(new WriterClosedError());
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#onTurn);
  }

  readonly #onTurn = (): void => {
    this.#scheduled = false;
    if (this.pending === 0) return;
    if (!this.#db.open) {
      this.close();
      return;
    }
    this.#flush();
    if (this.pending > 0) this.#schedule();
  };

  /** Removes the next batch from the queue (at least one write when any is queued). */
  #take(maxWrites: number, maxBytes: number): Pending[] {
    const q = this.#queue;
    let end = this.#head;
    let bytes = 0;
    while (end < q.length && end - this.#head < maxWrites) {
      const b = q[end]!.bytes;
      if (end > this.#head && bytes + b > maxBytes) break;
      bytes += b;
      end++;
    }
    const batch = q.slice(this.#head, end);
    this.#head = end;
    if (this.#head === q.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
    return batch;
  }

  /** One batch: BEGIN, each write in its savepoint, COMMIT, then settle the promises in order. */
  #flush(): void {
    const t0 = performance.now();
    let batch = this.#take(this.#maxWrites, this.#maxBytes);
    let commitError: unknown;
    let failed = 0;
    try {
      this.#begin.run();
    } catch (err) {
      commitError = err;
    }
    if (commitError === undefined && batch.length === 1) {
      // A lone write (the idle case: one connection, or a quiet node) needs no savepoint: when it
      // throws, the whole transaction is its own and is rolled back below, which fails it alone.
      const p = batch[0]!;
      try {
        p.value = p.fn(this.#db);
        p.ok = true;
      } catch (err) {
        p.value = err;
        failed = 1;
        if (this.#db.inTransaction) this.#rollbackQuietly();
      }
    } else if (commitError === undefined) {
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i]!;
        try {
          this.#savepoint.run();
          p.value = p.fn(this.#db);
          this.#release.run();
          p.ok = true;
        } catch (err) {
          p.value = err;
          failed++;
          if (!this.#db.inTransaction) {
            // SQLite rolled the whole transaction back (SQLITE_FULL, I/O error): the writes before
            // this one are gone with it. Fail them with the cause; the ones not yet run go back to
            // the front of the queue for the next batch.
            this.#requeue(batch.slice(i + 1));
            batch = batch.slice(0, i + 1);
            for (const q of batch) {
              if (!q.ok) continue;
              q.ok = false;
              q.value = err;
              failed++;
            }
            break;
          }
          try {
            this.#rollbackTo.run();
            this.#release.run();
          } catch (undo) {
            commitError = undo;
            break;
          }
        }
      }
    }
    if (commitError === undefined && this.#db.inTransaction) {
      try {
        this.#commit.run();
      } catch (err) {
        commitError = err;
      }
    }
    if (commitError !== undefined && this.#db.inTransaction) this.#rollbackQuietly();
    this.#batches++;
    this.#writes += batch.length;
    for (const p of batch) {
      if (commitError !== undefined) p.reject(commitError);
      else if (p.ok) p.resolve(p.value);
      else p.reject(p.value);
    }
    if (this.#onCommit) {
      let bytes = 0;
      for (const p of batch) bytes += p.bytes;
      this.#onCommit({
        writes: batch.length,
        failed: commitError !== undefined ? batch.length : failed,
        bytes,
        seconds: (performance.now() - t0) / 1000,
        error: commitError,
      });
    }
  }

  #rollbackQuietly(): void {
    try {
      this.#rollback.run();
    } catch {
      // The transaction is gone either way; nothing in it is acknowledged.
    }
  }

  #requeue(rest: Pending[]): void {
    if (rest.length === 0) return;
    this.#queue = [...rest, ...this.#queue.slice(this.#head)];
    this.#head = 0;
  }
}

export interface GroupCommitOptions {
  /** Most writes in one transaction (default 512). */
  maxBatchWrites?: number;
  /** Most bytes (sum of each write's `bytes`) in one transaction, but at least one write (default 8 MiB). */
  maxBatchBytes?: number;
  /** Called after each batch settled (metrics). */
  onCommit?: (s: BatchStats) => void;
}

export interface BatchStats {
  writes: number;
  /** Writes of the batch that failed (all of them when the COMMIT failed). */
  failed: number;
  bytes: number;
  /** BEGIN to settled, including the fsync. */
  seconds: number;
  /** The COMMIT's (or BEGIN's) error when the whole batch failed. */
  error: unknown;
}

/** A write submitted after `close()`: it was not applied. */
export class WriterClosedError extends Error {
  readonly code = 'WRITER_CLOSED';
  constructor() {
    super('the store is closing; the write was not applied');
    this.name = 'WriterClosedError';
  }
}

/**
 * The HTTP answer for a durable write that failed in the store rather than in its own logic: a full
 * disk (SQLite's SQLITE_FULL, PostgreSQL's 53100) is 507 `InsufficientStorage`, an I/O or lock
 * failure 503 `StoreUnavailable`, a closing store 503 `NotReady`. Anything else (a bug, a constraint the caller did not expect) is undefined: let it
 * become a 500.
 */
export function durableWriteError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof WriterClosedError)
    return new ApiError('NotReady', err.message, { hint: 'retry on the restarted node' });
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  // SQLite's full disk, or PostgreSQL's disk_full (SQLSTATE 53100) for the stores on PostgreSQL.
  if (code === 'SQLITE_FULL' || code === '53100')
    return new ApiError(
      'InsufficientStorage',
      'the disk under the store is full; the write was not applied',
      {
        hint: 'free space on the data volume, then retry',
      },
    );
  if (/^SQLITE_(IOERR|CANTOPEN|READONLY|BUSY|LOCKED|NOMEM|PROTOCOL)/.test(code))
    return new ApiError('StoreUnavailable', `the store could not apply the write (${code})`);
  return undefined;
}

const DEFAULTS = { maxBatchWrites: 512, maxBatchBytes: 8 * 1024 * 1024 };

interface Pending {
  fn: (db: Database.Database) => unknown;
  bytes: number;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  ok: boolean;
  value: unknown;
}
