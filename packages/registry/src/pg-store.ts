// PostgreSQL backend (SPEC §2.5 "PostgreSQL (scale-out)"): several svc-registry replicas share one
// database. The database serializes appends: one transaction takes an advisory lock, reads the head
// entry, checks the new entry extends it (version = head + 1 and prev_b3 = head's entry_b3) and
// inserts it, so two replicas can never fork the log. The log table is append-only in the schema
// (no UPDATE, DELETE, TRUNCATE or upsert; an insert must be version = max + 1). A commit is
// acknowledged after COMMIT returned (synchronous_commit as the database is configured).
// Every append NOTIFYs `registry_log` with its version; `follow()` LISTENs and also polls, so a
// notification lost across a reconnect loses nothing.
import pg from 'pg';
import { canonicalJson } from './canonical.js';
import { ChainError, StoreConflictError } from './errors.js';
import type { LogEntry } from './log-entry.js';
import type { LogStore, ProposalRecord, StoredEntry } from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS registry_log (
  version BIGINT PRIMARY KEY CHECK (version >= 1),
  op      TEXT NOT NULL,
  entry   TEXT NOT NULL
);
CREATE OR REPLACE FUNCTION registry_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION 'registry_log is append-only: % refused', TG_OP;
  END IF;
  IF NEW.version <> (SELECT coalesce(max(version), 0) + 1 FROM registry_log) THEN
    RAISE EXCEPTION 'registry_log is append-only: version % is not head + 1', NEW.version;
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS registry_log_append_only ON registry_log;
CREATE TRIGGER registry_log_append_only BEFORE INSERT OR UPDATE OR DELETE ON registry_log
  FOR EACH ROW EXECUTE FUNCTION registry_log_guard();
DROP TRIGGER IF EXISTS registry_log_no_truncate ON registry_log;
CREATE TRIGGER registry_log_no_truncate BEFORE TRUNCATE ON registry_log
  FOR EACH STATEMENT EXECUTE FUNCTION registry_log_guard();
CREATE TABLE IF NOT EXISTS registry_proposals (
  id     TEXT PRIMARY KEY,
  record TEXT NOT NULL
);
`;

/** Advisory lock key every replica takes to append (one writer at a time, database-wide). */
const APPEND_LOCK = 0x726f6e; // "ron"
const CHANNEL = 'registry_log';
/** Advisory lock key held while the schema is created (replicas starting together). */
const SCHEMA_LOCK = 0x726f6e5c;

/** Thrown when the database cannot be reached; the registry answers 503 StoreUnavailable. */
export class StoreUnreachableError extends Error {
  constructor(cause: unknown) {
    super(`the PostgreSQL store is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'StoreUnreachableError';
  }
}

export interface PgStoreOptions {
  /** Poll interval of the catch-up query behind LISTEN (default 1000 ms). */
  pollMs?: number;
  /** Pool size (default 8). */
  poolSize?: number;
}

/** Redacts the password in a postgres:// URL for logs. */
export function redactPgUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable)';
  }
}

export class PgStore implements LogStore {
  readonly kind = 'postgres' as const;
  readonly location: string;
  readonly #pool: pg.Pool;
  readonly #url: string;
  readonly #pollMs: number;
  #open = true;
  #reachable = true;
  #listener: pg.Client | undefined;
  #poll: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;

  private constructor(url: string, opts: PgStoreOptions) {
    this.#url = url;
    this.location = redactPgUrl(url);
    this.#pollMs = opts.pollMs ?? 1000;
    this.#pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? 8,
      connectionTimeoutMillis: 2000,
    });
    // An idle client losing its connection (database restarted) must not crash the process.
    this.#pool.on('error', () => {
      this.#reachable = false;
    });
  }

  /** Connects and creates the schema (idempotent). Throws if the database cannot be reached. */
  static async open(url: string, opts: PgStoreOptions = {}): Promise<PgStore> {
    const s = new PgStore(url, opts);
    try {
      // Replicas starting together must not race on CREATE ... IF NOT EXISTS (it is not atomic):
      // the schema is created under a transaction-scoped advisory lock.
      const c = await s.#pool.connect();
      try {
        await c.query('BEGIN');
        await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await c.query(SCHEMA);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
    } catch (err) {
      await s.#pool.end().catch(() => undefined);
      throw err;
    }
    return s;
  }

  /** False while the last database call failed to connect (until one succeeds). */
  get reachable(): boolean {
    return this.#reachable;
  }

  async #q<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      const r = await this.#pool.query<R>(text, values);
      this.#reachable = true;
      return r;
    } catch (err) {
      if (isConnectionError(err)) {
        this.#reachable = false;
        throw new StoreUnreachableError(err);
      }
      throw err;
    }
  }

  async append(entry: LogEntry, text?: string): Promise<void> {
    if (!this.#open) throw new Error('store is closed');
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      this.#reachable = false;
      throw new StoreUnreachableError(err);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK]);
      // 1. The chain link is read inside the appending transaction.
      const last = await client.query<{ version: string; entry: string }>(
        'SELECT version, entry FROM registry_log ORDER BY version DESC LIMIT 1',
      );
      const headVersion = last.rows.length === 0 ? 0 : Number(last.rows[0]!.version);
      const headB3 = last.rows.length === 0 ? 'b3:0' : (JSON.parse(last.rows[0]!.entry) as LogEntry).entry_b3;
      // 2. The new entry must extend exactly that head, or another replica won the race.
      if (entry.version !== headVersion + 1 || entry.prev_b3 !== headB3) {
        await client.query('ROLLBACK');
        throw new StoreConflictError(headVersion + 1, entry.version);
      }
      await client.query('INSERT INTO registry_log (version, op, entry) VALUES ($1, $2, $3)', [
        entry.version,
        entry.op,
        text ?? canonicalJson(entry),
      ]);
      await client.query(`SELECT pg_notify($1, $2)`, [CHANNEL, String(entry.version)]);
      await client.query('COMMIT');
      this.#reachable = true;
    } catch (err) {
      if (err instanceof StoreConflictError) throw err;
      if (isConnectionError(err)) {
        broken = true;
        this.#reachable = false;
        throw new StoreUnreachableError(err);
      }
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async range(after: number, limit: number): Promise<LogEntry[]> {
    const r = await this.#q<{ entry: string }>(
      'SELECT entry FROM registry_log WHERE version > $1 ORDER BY version LIMIT $2',
      [after, Math.max(0, limit)],
    );
    return r.rows.map((row) => JSON.parse(row.entry) as LogEntry);
  }

  async rangeStored(after: number, limit: number): Promise<StoredEntry[]> {
    const r = await this.#q<{ version: string; entry: string }>(
      'SELECT version, entry FROM registry_log WHERE version > $1 ORDER BY version LIMIT $2',
      [after, Math.max(0, limit)],
    );
    return r.rows.map((row) => {
      let entry: unknown;
      try {
        entry = JSON.parse(row.entry);
      } catch {
        throw new ChainError(Number(row.version), 'the stored entry is not valid JSON');
      }
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
        throw new ChainError(Number(row.version), 'the stored entry is not a JSON object');
      return { entry: entry as LogEntry, text: row.entry };
    });
  }

  async get(version: number): Promise<LogEntry | undefined> {
    const r = await this.#q<{ entry: string }>('SELECT entry FROM registry_log WHERE version = $1', [
      version,
    ]);
    return r.rows.length === 0 ? undefined : (JSON.parse(r.rows[0]!.entry) as LogEntry);
  }

  async last(): Promise<LogEntry | undefined> {
    const r = await this.#q<{ entry: string }>(
      'SELECT entry FROM registry_log ORDER BY version DESC LIMIT 1',
    );
    return r.rows.length === 0 ? undefined : (JSON.parse(r.rows[0]!.entry) as LogEntry);
  }

  // Proposals are mutable records (approvals accrue), kept apart from the append-only log and
  // shared by every replica: governance reads them through from here, never from a boot-time copy.
  async putProposal(p: ProposalRecord): Promise<void> {
    await this.#q(
      'INSERT INTO registry_proposals (id, record) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record',
      [p.id, JSON.stringify(p)],
    );
  }

  async getProposal(id: string): Promise<ProposalRecord | undefined> {
    const r = await this.#q<{ record: string }>('SELECT record FROM registry_proposals WHERE id = $1', [id]);
    return r.rows.length === 0 ? undefined : (JSON.parse(r.rows[0]!.record) as ProposalRecord);
  }

  async listProposals(): Promise<ProposalRecord[]> {
    const r = await this.#q<{ record: string }>('SELECT record FROM registry_proposals ORDER BY id');
    return r.rows.map((row) => JSON.parse(row.record) as ProposalRecord);
  }

  async deleteProposals(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#q('DELETE FROM registry_proposals WHERE id = ANY($1::text[])', [[...ids]]);
  }

  floor(): number {
    return 1;
  }

  isOpen(): boolean {
    return this.#open;
  }

  /**
   * Calls `wake()` whenever another writer may have appended: on every NOTIFY of `registry_log`,
   * every `pollMs` (catch-up for notifications lost while disconnected), and after the listening
   * connection comes back. The caller reads the new entries with `range()`.
   */
  follow(wake: () => void): void {
    const connect = (): void => {
      if (!this.#open) return;
      const c = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 2000 });
      const retry = (): void => {
        if (this.#listener === c) this.#listener = undefined;
        c.removeAllListeners('notification');
        void c.end().catch(() => undefined);
        if (this.#open && this.#retry === undefined) {
          this.#retry = setTimeout(() => {
            this.#retry = undefined;
            connect();
          }, 500);
          this.#retry.unref();
        }
      };
      c.on('error', retry);
      c.on('end', retry);
      c.on('notification', () => wake());
      c.connect()
        .then(() => c.query(`LISTEN ${CHANNEL}`))
        .then(() => {
          this.#listener = c;
          wake(); // anything appended while we were not listening
        })
        .catch(retry);
    };
    connect();
    this.#poll = setInterval(wake, this.#pollMs);
    this.#poll.unref();
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    if (this.#poll) clearInterval(this.#poll);
    if (this.#retry) clearTimeout(this.#retry);
    const l = this.#listener;
    this.#listener = undefined;
    if (l) {
      l.removeAllListeners('end');
      l.removeAllListeners('error');
      l.on('error', () => undefined);
      await l.end().catch(() => undefined);
    }
    await this.#pool.end().catch(() => undefined);
  }
}

/**
 * Connects once, without creating anything (`macronode doctor`, operators): the server version and
 * how many log entries the database holds (null when the registry schema is not created yet).
 * Throws with the driver's message when the database cannot be reached or the login fails.
 */
export async function probePostgres(url: string): Promise<{ server: string; entries: number | null }> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const v = await c.query<{ server_version: string }>('SHOW server_version');
    const t = await c.query<{ t: string | null }>("SELECT to_regclass('registry_log')::text AS t");
    let entries: number | null = null;
    if (t.rows[0]?.t !== null && t.rows[0]?.t !== undefined) {
      const n = await c.query<{ n: string }>('SELECT coalesce(max(version), 0) AS n FROM registry_log');
      entries = Number(n.rows[0]!.n);
    }
    return { server: v.rows[0]!.server_version, entries };
  } finally {
    await c.end().catch(() => undefined);
  }
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  if (code === undefined)
    return /Connection terminated|connect|timeout/i.test(String((err as Error).message ?? ''));
  // Node socket errors, and PostgreSQL's admin_shutdown / crash_shutdown / cannot_connect_now classes.
  return [
    'ECONNREFUSED',
    'ECONNRESET',
    'EPIPE',
    'ETIMEDOUT',
    '57P01',
    '57P02',
    '57P03',
    '08000',
    '08003',
    '08006',
    '08001',
    '08004',
  ].includes(code);
}
