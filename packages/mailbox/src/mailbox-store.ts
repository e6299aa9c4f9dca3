import type Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { ulid } from '@ron/kernel';
import { GroupCommitWriter, openDurableSqlite } from '@ron/kernel/sqlite';
import { snapshotSqlite } from '@ron/kernel/backup';
import { formatReceipt, parseReceipt } from './receipt.js';

// Durable queues (SPEC §4.5.3). A message row is either queued (state 0) or dead (state 1, the DLQ).
// A queued message is leased when `leased = 1`: `visible_at` is then its lease deadline, an absolute
// wall-clock time, so a lease granted before a restart expires on time after it. Each lease bumps
// `lease` and draws a fresh `token`; a receipt names (id, lease, token), so a receipt for an older
// lease, a nacked lease or a deleted message matches nothing and is refused.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  id          TEXT NOT NULL UNIQUE,
  topic       TEXT NOT NULL,
  body        BLOB NOT NULL,
  enqueued_at INTEGER NOT NULL,
  state       INTEGER NOT NULL DEFAULT 0,
  visible_at  INTEGER NOT NULL,
  leased      INTEGER NOT NULL DEFAULT 0,
  lease       INTEGER NOT NULL DEFAULT 0,
  token       TEXT NOT NULL DEFAULT '',
  attempts    INTEGER NOT NULL DEFAULT 0,
  history     TEXT NOT NULL DEFAULT '[]',
  dead_at     INTEGER
);
CREATE INDEX IF NOT EXISTS messages_queue ON messages (topic, state, seq);
CREATE TABLE IF NOT EXISTS dedup (
  topic TEXT NOT NULL,
  key   TEXT NOT NULL,
  id    TEXT NOT NULL,
  at    INTEGER NOT NULL,
  PRIMARY KEY (topic, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_at ON dedup (at);
CREATE TABLE IF NOT EXISTS topics (
  topic      TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** One lease in a message's attempt history. */
export interface Attempt {
  attempt: number;
  leased_at: number;
  visibility_ms: number;
  /** How the lease ended, once known: expired, nacked or dead (moved to the DLQ). */
  outcome?: 'expired' | 'nacked';
}

export interface Delivery {
  id: string;
  receipt: string;
  body: Buffer;
  attempts: number;
  enqueued_at: number;
}

export interface DeadMessage {
  id: string;
  body: Buffer;
  attempts: number;
  enqueued_at: number;
  dead_at: number;
  history: Attempt[];
}

export interface TopicStats {
  visible: number;
  in_flight: number;
  delayed: number;
  dlq: number;
  oldest_age_s: number;
}

export interface ReceiveResult {
  messages: Delivery[];
  /** Messages moved to the DLQ while looking for deliverable ones. */
  deadLettered: number;
}

/** A batch operation on receipts: all of them name a held lease, or nothing changes. */
export type ReceiptResult = { ok: true; count: number } | { ok: false; stale: string[] };

export interface MailboxStoreOptions {
  /** SQLite file, or ':memory:' (amnesia, tests). */
  path: string;
  maxReceives: number;
  dedupWindowMs: number;
  /** Wall clock in ms (injectable for tests). */
  now?: () => number;
}

interface Row {
  seq: number;
  id: string;
  body: Buffer;
  enqueued_at: number;
  attempts: number;
  lease: number;
  history: string;
}

interface LeaseRow {
  seq: number;
  id: string;
  state: number;
  leased: number;
  lease: number;
  token: string;
  attempts: number;
  history: string;
  visible_at: number;
}

/**
 * The mailbox's SQLite store. Every write goes through {@link MailboxStore.commit}, i.e. the kernel's
 * group-commit writer: writes that arrive in the same event-loop turn share one transaction and one
 * fsync (WAL, synchronous=FULL), each in its own savepoint, and each promise resolves only after
 * COMMIT returned — so an answer never runs ahead of the disk. Reads
 * (stats, DLQ listing) run directly.
 */
export class MailboxStore {
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #maxReceives: number;
  readonly #dedupWindowMs: number;
  readonly #writer: GroupCommitWriter;
  readonly #s: {
    insert: Database.Statement<[string, string, Buffer, number, number]>;
    dedupGet: Database.Statement<[string, string], { id: string; at: number }>;
    dedupPut: Database.Statement<[string, string, string, number]>;
    topicPut: Database.Statement<[string, number]>;
    candidates: Database.Statement<[string, number, number], Row>;
    lease: Database.Statement<[number, number, string, number, string, number]>;
    kill: Database.Statement<[number, string, number]>;
    byId: Database.Statement<[string], LeaseRow>;
    del: Database.Statement<[string]>;
    extend: Database.Statement<[number, string]>;
    release: Database.Statement<[number, string, string]>;
    nextVisible: Database.Statement<[string, number], { at: number | null }>;
    stats: Database.Statement<
      [{ now: number; topic: string }],
      {
        visible: number | null;
        in_flight: number | null;
        delayed: number | null;
        dlq: number | null;
        oldest: number | null;
      }
    >;
    allStats: Database.Statement<
      [{ now: number }],
      {
        topic: string;
        visible: number;
        in_flight: number;
        delayed: number;
        dlq: number;
        oldest: number | null;
      }
    >;
    topics: Database.Statement<[], { topic: string }>;
    hasTopic: Database.Statement<[string], { topic: string }>;
    dlq: Database.Statement<[string, number, number], Row & { dead_at: number }>;
    redrive: Database.Statement<[number, string, number]>;
    exhausted: Database.Statement<[number, number], { seq: number; topic: string; history: string }>;
    dedupPrune: Database.Statement<[number]>;
  };

  constructor(opts: MailboxStoreOptions) {
    this.#db = openDurableSqlite(opts.path, SCHEMA);
    this.#now = opts.now ?? Date.now;
    this.#maxReceives = opts.maxReceives;
    this.#dedupWindowMs = opts.dedupWindowMs;
    const db = this.#db;
    this.#s = {
      insert: db.prepare(
        'INSERT INTO messages (id, topic, body, enqueued_at, visible_at) VALUES (?, ?, ?, ?, ?)',
      ),
      dedupGet: db.prepare('SELECT id, at FROM dedup WHERE topic = ? AND key = ?'),
      dedupPut: db.prepare(
        'INSERT INTO dedup (topic, key, id, at) VALUES (?, ?, ?, ?) ON CONFLICT (topic, key) DO UPDATE SET id = excluded.id, at = excluded.at',
      ),
      topicPut: db.prepare('INSERT INTO topics (topic, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING'),
      // Enqueue order among what is visible now: first deliveries follow enqueue order per topic.
      candidates: db.prepare(
        'SELECT seq, id, body, enqueued_at, attempts, lease, history FROM messages ' +
          'WHERE topic = ? AND state = 0 AND visible_at <= ? ORDER BY seq LIMIT ?',
      ),
      lease: db.prepare(
        'UPDATE messages SET leased = 1, visible_at = ?, lease = ?, token = ?, attempts = ?, history = ? WHERE seq = ?',
      ),
      kill: db.prepare('UPDATE messages SET state = 1, leased = 0, dead_at = ?, history = ? WHERE seq = ?'),
      byId: db.prepare(
        'SELECT seq, id, state, leased, lease, token, attempts, history, visible_at FROM messages WHERE id = ?',
      ),
      del: db.prepare('DELETE FROM messages WHERE id = ?'),
      extend: db.prepare('UPDATE messages SET visible_at = ? WHERE id = ?'),
      release: db.prepare('UPDATE messages SET leased = 0, visible_at = ?, history = ? WHERE id = ?'),
      nextVisible: db.prepare(
        'SELECT MIN(visible_at) AS at FROM messages WHERE topic = ? AND state = 0 AND visible_at > ?',
      ),
      stats: db.prepare(
        'SELECT SUM(state = 0 AND visible_at <= @now) AS visible, SUM(state = 0 AND leased = 1 AND visible_at > @now) AS in_flight, ' +
          'SUM(state = 0 AND leased = 0 AND visible_at > @now) AS delayed, SUM(state = 1) AS dlq, ' +
          'MIN(CASE WHEN state = 0 THEN enqueued_at END) AS oldest FROM messages WHERE topic = @topic',
      ),
      allStats: db.prepare(
        'SELECT t.topic AS topic, COALESCE(SUM(m.state = 0 AND m.visible_at <= @now), 0) AS visible, ' +
          'COALESCE(SUM(m.state = 0 AND m.leased = 1 AND m.visible_at > @now), 0) AS in_flight, ' +
          'COALESCE(SUM(m.state = 0 AND m.leased = 0 AND m.visible_at > @now), 0) AS delayed, ' +
          'COALESCE(SUM(m.state = 1), 0) AS dlq, MIN(CASE WHEN m.state = 0 THEN m.enqueued_at END) AS oldest ' +
          'FROM topics t LEFT JOIN messages m ON m.topic = t.topic GROUP BY t.topic ORDER BY t.topic',
      ),
      topics: db.prepare('SELECT topic FROM topics ORDER BY topic'),
      hasTopic: db.prepare('SELECT topic FROM topics WHERE topic = ?'),
      dlq: db.prepare(
        'SELECT seq, id, body, enqueued_at, attempts, lease, history, dead_at FROM messages ' +
          'WHERE topic = ? AND state = 1 AND seq > ? ORDER BY seq LIMIT ?',
      ),
      redrive: db.prepare(
        'UPDATE messages SET state = 0, leased = 0, attempts = 0, dead_at = NULL, visible_at = ? ' +
          'WHERE seq IN (SELECT seq FROM messages WHERE topic = ? AND state = 1 ORDER BY seq LIMIT ?)',
      ),
      exhausted: db.prepare(
        'SELECT seq, topic, history FROM messages WHERE state = 0 AND attempts >= ? AND visible_at <= ? LIMIT 1000',
      ),
      dedupPrune: db.prepare('DELETE FROM dedup WHERE at <= ?'),
    };
    this.#writer = new GroupCommitWriter(db);
  }

  /** A consistent copy of the store in the new file `dest` (SQLite online backup; writes keep flowing). */
  snapshot(dest: string): Promise<void> {
    return snapshotSqlite(this.#db, dest);
  }

  isOpen(): boolean {
    return this.#db.open;
  }

  /**
   * Runs `fn` inside the next group transaction (the kernel's group-commit writer); resolves with its
   * result once COMMIT returned. A throwing `fn` is rolled back alone; its batch-mates commit.
   */
  commit<T>(fn: () => T): Promise<T> {
    if (!this.#db.open || this.#writer.closed)
      return Promise.reject(new Error('the mailbox store is closed'));
    return this.#writer.write(fn);
  }

  /** 201 (created) or the first id within the dedup window (duplicate). */
  enqueue(topic: string, body: Buffer, idemKey?: string): Promise<{ id: string; duplicate: boolean }> {
    return this.commit(() => {
      const now = this.#now();
      if (idemKey !== undefined) {
        const seen = this.#s.dedupGet.get(topic, idemKey);
        if (seen !== undefined && seen.at > now - this.#dedupWindowMs)
          return { id: seen.id, duplicate: true };
      }
      const id = ulid(now);
      this.#s.topicPut.run(topic, now);
      this.#s.insert.run(id, topic, body, now, now);
      if (idemKey !== undefined) this.#s.dedupPut.run(topic, idemKey, id, now);
      return { id, duplicate: false };
    });
  }

  /** Leases up to `max` visible messages for `visibilityMs`, oldest enqueue first. */
  receive(topic: string, max: number, visibilityMs: number): Promise<ReceiveResult> {
    return this.commit(() => this.#receiveNow(topic, max, visibilityMs));
  }

  #receiveNow(topic: string, max: number, visibilityMs: number): ReceiveResult {
    const now = this.#now();
    const messages: Delivery[] = [];
    let deadLettered = 0;
    while (messages.length < max) {
      const rows = this.#s.candidates.all(topic, now, max - messages.length);
      if (rows.length === 0) break;
      for (const r of rows) {
        const history = closeLast(JSON.parse(r.history) as Attempt[], 'expired');
        // 1. A message that already had max_receives leases goes to the DLQ instead.
        if (r.attempts >= this.#maxReceives) {
          this.#s.kill.run(now, JSON.stringify(history), r.seq);
          deadLettered++;
          continue;
        }
        // 2. A new lease: a new number and a new token, so every older receipt is stale.
        const lease = r.lease + 1;
        const attempts = r.attempts + 1;
        const token = randomBytes(6).toString('base64url');
        history.push({ attempt: attempts, leased_at: now, visibility_ms: visibilityMs });
        this.#s.lease.run(now + visibilityMs, lease, token, attempts, JSON.stringify(history), r.seq);
        messages.push({
          id: r.id,
          receipt: formatReceipt(r.id, lease, token),
          body: r.body,
          attempts,
          enqueued_at: r.enqueued_at,
        });
      }
    }
    return { messages, deadLettered };
  }

  /** The rows behind receipts when every one names the lease currently held; else the stale ones. */
  #held(receipts: readonly string[]): { rows: LeaseRow[]; stale: string[] } {
    const rows: LeaseRow[] = [];
    const stale: string[] = [];
    const seen = new Set<string>();
    for (const r of receipts) {
      if (seen.has(r)) continue;
      seen.add(r);
      const p = parseReceipt(r);
      const row = p === undefined ? undefined : this.#s.byId.get(p.id);
      if (
        p === undefined ||
        row === undefined ||
        row.state !== 0 ||
        row.leased !== 1 ||
        row.lease !== p.lease ||
        row.token !== p.token
      ) {
        stale.push(r);
      } else {
        rows.push(row);
      }
    }
    return { rows, stale };
  }

  /** Deletes the messages; all receipts must name held leases, or nothing changes. */
  ack(receipts: readonly string[]): Promise<ReceiptResult> {
    return this.commit((): ReceiptResult => {
      const { rows, stale } = this.#held(receipts);
      if (stale.length > 0) return { ok: false, stale };
      for (const row of rows) this.#s.del.run(row.id);
      return { ok: true, count: rows.length };
    });
  }

  /** Releases the leases; the messages become visible after `delayMs` (or move to the DLQ when exhausted). */
  nack(receipts: readonly string[], delayMs: number): Promise<ReceiptResult & { deadLettered?: number }> {
    return this.commit(() => {
      const { rows, stale } = this.#held(receipts);
      if (stale.length > 0) return { ok: false as const, stale };
      const now = this.#now();
      let dead = 0;
      for (const row of rows) {
        const history = closeLast(JSON.parse(row.history) as Attempt[], 'nacked');
        if (row.attempts >= this.#maxReceives) {
          this.#s.kill.run(now, JSON.stringify(history), row.seq);
          dead++;
        } else {
          this.#s.release.run(now + delayMs, JSON.stringify(history), row.id);
        }
      }
      return { ok: true as const, count: rows.length, deadLettered: dead };
    });
  }

  /** Moves each lease's deadline to now + `visibilityMs`; the receipts stay valid. */
  extend(receipts: readonly string[], visibilityMs: number): Promise<ReceiptResult> {
    return this.commit((): ReceiptResult => {
      const { rows, stale } = this.#held(receipts);
      if (stale.length > 0) return { ok: false, stale };
      const until = this.#now() + visibilityMs;
      for (const row of rows) this.#s.extend.run(until, row.id);
      return { ok: true, count: rows.length };
    });
  }

  /** Moves up to `max` dead messages back to the queue with a fresh attempt budget. */
  redrive(topic: string, max: number): Promise<number> {
    return this.commit(() => this.#s.redrive.run(this.#now(), topic, max).changes);
  }

  /**
   * Housekeeping: exhausted messages whose last lease expired move to the DLQ (so stats and alerts
   * see them without waiting for a receive), and idempotency keys older than the window are forgotten.
   * Returns the topics of the messages dead-lettered.
   */
  sweep(): Promise<string[]> {
    return this.commit(() => {
      const now = this.#now();
      const topics: string[] = [];
      for (const r of this.#s.exhausted.all(this.#maxReceives, now)) {
        this.#s.kill.run(
          now,
          JSON.stringify(closeLast(JSON.parse(r.history) as Attempt[], 'expired')),
          r.seq,
        );
        topics.push(r.topic);
      }
      this.#s.dedupPrune.run(now - this.#dedupWindowMs);
      return topics;
    });
  }

  /** When the next queued message of a topic becomes visible (ms), if any is pending. */
  nextVisibleAt(topic: string): number | undefined {
    return this.#s.nextVisible.get(topic, this.#now())?.at ?? undefined;
  }

  hasTopic(topic: string): boolean {
    return this.#s.hasTopic.get(topic) !== undefined;
  }

  topics(): string[] {
    return this.#s.topics.all().map((r) => r.topic);
  }

  stats(topic: string): TopicStats {
    const now = this.#now();
    const r = this.#s.stats.get({ now, topic });
    return {
      visible: r?.visible ?? 0,
      in_flight: r?.in_flight ?? 0,
      delayed: r?.delayed ?? 0,
      dlq: r?.dlq ?? 0,
      oldest_age_s: ageSeconds(now, r?.oldest ?? null),
    };
  }

  allStats(): ({ topic: string } & TopicStats)[] {
    const now = this.#now();
    return this.#s.allStats.all({ now }).map((r) => ({
      topic: r.topic,
      visible: r.visible,
      in_flight: r.in_flight,
      delayed: r.delayed,
      dlq: r.dlq,
      oldest_age_s: ageSeconds(now, r.oldest),
    }));
  }

  /** One page of a topic's DLQ in enqueue order; `after` is the seq cursor of the previous page. */
  dlq(topic: string, limit: number, after: number): { messages: DeadMessage[]; next: number | undefined } {
    const rows = this.#s.dlq.all(topic, after, limit + 1);
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return {
      messages: page.map((r) => ({
        id: r.id,
        body: r.body,
        attempts: r.attempts,
        enqueued_at: r.enqueued_at,
        dead_at: r.dead_at,
        history: JSON.parse(r.history) as Attempt[],
      })),
      next: more ? page[page.length - 1]!.seq : undefined,
    };
  }

  /** Commits what is queued, then closes the file. */
  close(): void {
    if (!this.#db.open) return;
    this.#writer.close();
    this.#db.close();
  }
}

function closeLast(history: Attempt[], outcome: 'expired' | 'nacked'): Attempt[] {
  const last = history[history.length - 1];
  if (last !== undefined && last.outcome === undefined) last.outcome = outcome;
  return history;
}

function ageSeconds(now: number, oldest: number | null): number {
  return oldest === null ? 0 : Math.max(0, Math.round(now - oldest) / 1000);
}
