// The registry core: replayed head, serialized quorum-checked appends, reads, and append listeners.
import { ApiError, type Logger } from '@ron/kernel';
import { ChainVerifier, initChain, seal } from './chain.js';
import { ChainError, StoreConflictError } from './errors.js';
import { FRESH_HEAD, ZERO_B3, headOf, type Head, type LogEntry } from './log-entry.js';
import { checkQuorum, signBytes, signedBytes, type KeyFile, type Signature } from './signing.js';
import type { LogStore } from './store.js';

export interface RegistryOptions {
  registryId: string;
  /** Allow-listed signer ids. */
  signers: readonly string[];
  threshold: number;
  /** Accept commits without signatures (dev mode on loopback only); the dev key signs them. */
  allowUnsigned?: boolean;
  /** The process-held dev key (dev mode). */
  devKey?: KeyFile | undefined;
  /** Recent entries kept in memory for reads (READ_CACHE_CAP). */
  readCacheCap?: number;
  /** Clock (tests). */
  now?: () => Date;
  logger?: Logger;
  /**
   * Called with every entry `open()` replays, in order, once it verified: lets the caller fold the
   * log (governance) from the same pass instead of reading it again.
   */
  onReplay?: (e: LogEntry) => void;
}

export interface CommitRequest {
  payload_b3: string;
  signatures: Signature[];
}

/** Entries per store read while `open()` replays the log. */
const REPLAY_PAGE = 2000;

export type CommitOutcome = 'ok' | 'no_quorum' | 'bad_signature' | 'store_error';
export type AppendListener = (entry: LogEntry, head: Head) => void;

/** How boot went: entries replayed and verified. */
export interface ReplayReport {
  entries: number;
  head: Head;
  ms: number;
}

/**
 * One registry over one store. Appends are serialized (single writer); the head changes and the
 * listeners run synchronously once the store has made the entry durable, so every listener sees
 * every version exactly once and in order.
 */
export class Registry {
  readonly store: LogStore;
  readonly registryId: string;
  // Not readonly: governance signer rotation swaps the set via useSigners().
  #allow: ReadonlySet<string>;
  #threshold: number;
  readonly #allowUnsigned: boolean;
  readonly #devKey: KeyFile | undefined;
  readonly #now: () => Date;
  readonly #log: Logger | undefined;
  readonly #listeners = new Set<AppendListener>();
  readonly #cacheCap: number;
  #cache: LogEntry[] = [];
  #head: Head = FRESH_HEAD;
  #tail: Promise<unknown> = Promise.resolve();
  #degraded = false;
  /** A catch-up is queued on #tail and has not started yet (wake-ups coalesce). */
  #catchUpQueued = false;
  /** Set when an entry read from the shared store does not extend our head: ingest stops. */
  #ingestFault: ChainError | undefined;
  /** Set when writes must be refused (an audit fault): every write answers 503 StoreUnavailable. */
  #refusal: string | undefined;

  private constructor(store: LogStore, opts: RegistryOptions) {
    this.store = store;
    this.registryId = opts.registryId;
    this.#allow = new Set(opts.signers);
    this.#threshold = opts.threshold;
    this.#allowUnsigned = opts.allowUnsigned ?? false;
    this.#devKey = opts.devKey;
    this.#now = opts.now ?? (() => new Date());
    this.#log = opts.logger;
    this.#cacheCap = Math.max(0, opts.readCacheCap ?? 4096);
  }

  /**
   * Replays the store, verifying the hash chain, and returns a serving registry.
   * Throws ChainError naming the first bad version.
   */
  static async open(
    store: LogStore,
    opts: RegistryOptions,
  ): Promise<{ registry: Registry; replay: ReplayReport }> {
    const t0 = performance.now();
    await initChain();
    const reg = new Registry(store, opts);
    const floor = store.floor();
    // The head when boot starts: every entry up to it must be replayed. Only the newest entries go
    // to the read cache (the rest die young instead of being promoted and trimmed away), and
    // entries another replica appends meanwhile are replayed too.
    const last = await store.last();
    const cacheFrom = (last?.version ?? 0) - reg.#cacheCap;
    let verifier: ChainVerifier | undefined = floor <= 1 ? new ChainVerifier() : undefined;
    let count = 0;
    let lastEntry: LogEntry | undefined;
    const onReplay = opts.onReplay;
    // Stores that keep entries as text hand it over: the chain is checked on it (no re-canonicalizing).
    type Page = { entry: LogEntry; text: string | undefined }[];
    const read = (after: number): Promise<Page> =>
      store.rangeStored !== undefined
        ? store.rangeStored(after, REPLAY_PAGE)
        : store.range(after, REPLAY_PAGE).then((es) => es.map((entry) => ({ entry, text: undefined })));
    // The next page is read while this one is verified (a networked store answers meanwhile).
    let next: Promise<Page> | undefined = read(floor - 1);
    while (next !== undefined) {
      const page: Page = await next;
      next = page.length < REPLAY_PAGE ? undefined : read(page.at(-1)!.entry.version);
      // Rejected while this page fails verification: awaited by nobody, so not left unhandled.
      next?.catch(() => undefined);
      for (const { entry: e, text } of page) {
        verifier ??= new ChainVerifier(e.version - 1, e.prev_b3);
        verifier.push(e, text);
        lastEntry = e;
        if (e.version > cacheFrom) reg.#remember(e);
        onReplay?.(e);
      }
      count += page.length;
    }
    if (last !== undefined && (lastEntry?.version ?? 0) < last.version) {
      throw new ChainError(last.version, 'the log has entries past a gap');
    }
    if (lastEntry !== undefined) reg.#head = headOf(lastEntry);
    return { registry: reg, replay: { entries: count, head: reg.#head, ms: performance.now() - t0 } };
  }

  get head(): Head {
    return this.#head;
  }

  get threshold(): number {
    return this.#threshold;
  }

  get signers(): readonly string[] {
    return [...this.#allow];
  }

  /** True after a store write failed and until one succeeds (reads stay up). */
  get degraded(): boolean {
    return this.#degraded;
  }

  /** Why writes are refused (an audit fault), or undefined while they are accepted. */
  get writeRefusal(): string | undefined {
    return this.#refusal;
  }

  /** Refuses every later write with 503 StoreUnavailable naming `reason` (reads continue). */
  refuseWrites(reason: string): void {
    this.#refusal = reason;
  }

  /** Throws 503 StoreUnavailable while writes are refused. */
  assertWritable(): void {
    if (this.#refusal !== undefined) {
      throw new ApiError('StoreUnavailable', `writes are refused: ${this.#refusal}`, {
        hint: 'the stored log failed its audit; see docs/runbook.md (registry audit fault)',
      });
    }
  }

  /** Registers a listener called synchronously after each durable append; returns the remover. */
  onAppend(fn: AppendListener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * Appends an opaque `commit` entry once quorum holds over
   * JCS({domain, registry, op:"commit", payload_b3, version: head+1}).
   * Throws ApiError BadSignature (422), NoQuorum (412) or StoreUnavailable (503); `onOutcome`
   * reports the result for metrics.
   */
  commit(req: CommitRequest, onOutcome?: (o: CommitOutcome) => void): Promise<Head> {
    const run = this.#tail.then(() => this.#commitNow(req, onOutcome));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #commitNow(req: CommitRequest, onOutcome?: (o: CommitOutcome) => void): Promise<Head> {
    for (;;) {
      const head = await this.#commitOnce(req, onOutcome);
      if (head !== undefined) return head;
      // Another replica appended this version first: we caught up, so judge the commit again at
      // the new head, exactly as a commit that lost the race on one node (a signature over the old
      // version no longer verifies: 422; a dev-signed commit is re-signed and lands).
    }
  }

  /** One attempt; undefined when another writer won the version (the head has caught up since). */
  async #commitOnce(req: CommitRequest, onOutcome?: (o: CommitOutcome) => void): Promise<Head | undefined> {
    try {
      this.assertWritable();
    } catch (err) {
      onOutcome?.('store_error');
      throw err;
    }
    const version = this.#head.version + 1;
    const bytes = signedBytes({
      registry: this.registryId,
      op: 'commit',
      payload_b3: req.payload_b3,
      version,
    });
    let signatures = req.signatures;
    if (signatures.length === 0 && this.#allowUnsigned && this.#devKey !== undefined) {
      signatures = [signBytes(this.#devKey, bytes)];
    }
    // 1. Every presented signature must be allow-listed, distinct and valid (422).
    const q = checkQuorum(signatures, bytes, this.#allow, this.#threshold);
    if (q.error !== undefined) {
      onOutcome?.('bad_signature');
      throw new ApiError('BadSignature', q.error.message, {
        hint: `sign JCS({"domain":"ron-registry/v1","registry":"${this.registryId}","op":"commit","payload_b3":…,"version":${version}})`,
      });
    }
    // 2. Enough distinct signers (412).
    if (q.have < q.need) {
      onOutcome?.('no_quorum');
      throw new ApiError(
        'NoQuorum',
        `commit requires ${q.need} valid signature${q.need === 1 ? '' : 's'} (got ${q.have})`,
        {
          hint: 'add another signer from the allow-list',
        },
      );
    }
    // 3. Seal onto the chain and make it durable before acknowledging.
    const entry = seal({
      version,
      op: 'commit',
      payload_b3: req.payload_b3,
      prev_b3: this.#head.version === 0 ? ZERO_B3 : this.#head.chain_b3,
      committed_at: this.#now().toISOString(),
      signatures,
    });
    try {
      await this.store.append(entry);
    } catch (err) {
      if (err instanceof StoreConflictError && (await this.#catchUpNow()) > 0) return undefined;
      this.#degraded = true;
      onOutcome?.('store_error');
      this.#log?.error({ err, version, store: this.store.kind }, 'store append failed; registry degraded');
      throw new ApiError('StoreUnavailable', 'the store could not make the commit durable', {
        hint: 'see the server log; the commit was not applied',
      });
    }
    this.#degraded = false;
    this.#applied(entry);
    onOutcome?.('ok');
    return this.#head;
  }

  // --- governance hooks: additive ---------------------------------------------------

  /** Replaces the commit allow-list and threshold after an `op:"signers"` rotation. */
  useSigners(signers: readonly string[], threshold: number): void {
    this.#allow = new Set(signers);
    this.#threshold = threshold;
  }

  /**
   * Appends an already quorum-checked governance entry (publish/deprecate/signers) through
   * the same serialized path, chain, store and listeners as commits. The caller verified signatures.
   */
  appendGoverned(e: {
    op: Exclude<LogEntry['op'], 'commit'>;
    descriptor_id?: string;
    payload_b3: string;
    body: unknown;
    signatures: Signature[];
  }): Promise<LogEntry> {
    const run = this.#tail.then(async () => {
      this.assertWritable();
      const entry = seal({
        version: this.#head.version + 1,
        op: e.op,
        ...(e.descriptor_id !== undefined ? { descriptor_id: e.descriptor_id } : {}),
        payload_b3: e.payload_b3,
        body: e.body,
        prev_b3: this.#head.version === 0 ? ZERO_B3 : this.#head.chain_b3,
        committed_at: this.#now().toISOString(),
        signatures: e.signatures,
      });
      try {
        await this.store.append(entry);
      } catch (err) {
        if (err instanceof StoreConflictError && (await this.#catchUpNow()) > 0) {
          throw new ApiError('Conflict', 'another replica appended to the log first; nothing was applied', {
            hint: 'retry: the proposal is judged again against the new head',
          });
        }
        this.#degraded = true;
        this.#log?.error(
          { err, version: entry.version, store: this.store.kind },
          'store append failed; registry degraded',
        );
        throw new ApiError('StoreUnavailable', 'the store could not make the entry durable', {
          hint: 'see the server log; nothing was applied',
        });
      }
      this.#degraded = false;
      this.#applied(entry);
      return entry;
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }
  // --- end governance hooks ----------------------------------------------------------------------

  /**
   * Ingests entries another replica appended to the shared store (PostgreSQL): each must extend our
   * head (version, prev_b3, entry_b3), then it takes the same path as a local append (#applied), so
   * the head, read cache, governance and stream listeners see every version once, in order.
   * Serialized with local appends; wake-ups while one is queued coalesce. Resolves to the number
   * of entries ingested (0 when the store is unreachable: the next wake-up retries).
   */
  catchUp(): Promise<number> {
    if (this.#catchUpQueued) return Promise.resolve(0);
    this.#catchUpQueued = true;
    const run = this.#tail.then(() => {
      this.#catchUpQueued = false;
      return this.#catchUpNow();
    });
    this.#tail = run.catch(() => undefined);
    return run.catch(() => 0);
  }

  /** The chain fault that stopped ingest, if any (writes are refused from then on). */
  get ingestFault(): ChainError | undefined {
    return this.#ingestFault;
  }

  async #catchUpNow(): Promise<number> {
    if (this.#ingestFault !== undefined) return 0;
    let n = 0;
    for (;;) {
      let page: LogEntry[];
      try {
        page = await this.store.range(this.#head.version, 1000);
      } catch (err) {
        this.#log?.warn(
          { err, store: this.store.kind },
          'catch-up read failed; retrying on the next wake-up',
        );
        return n;
      }
      // The store answered: it is reachable again.
      this.#degraded = false;
      const v = new ChainVerifier(
        this.#head.version,
        this.#head.version === 0 ? ZERO_B3 : this.#head.chain_b3,
      );
      for (const e of page) {
        try {
          v.push(e);
        } catch (err) {
          const fault = err instanceof ChainError ? err : new ChainError(e.version, String(err));
          this.#ingestFault = fault;
          this.refuseWrites(
            `entry ${fault.version} in the shared store does not extend this replica's head (${fault.reason})`,
          );
          this.#log?.error(
            { version: fault.version, reason: fault.reason },
            'ingest refused an entry; writes refused',
          );
          return n;
        }
        this.#applied(e);
        n++;
      }
      if (page.length < 1000) return n;
    }
  }

  #applied(entry: LogEntry): void {
    this.#head = headOf(entry);
    this.#remember(entry);
    for (const fn of this.#listeners) fn(entry, this.#head);
  }

  #remember(e: LogEntry): void {
    if (this.#cacheCap === 0) return;
    this.#cache.push(e);
    if (this.#cache.length > this.#cacheCap * 2) this.#cache = this.#cache.slice(-this.#cacheCap);
  }

  /** Lowest retained version. */
  floor(): number {
    return this.store.floor();
  }

  /** One entry; undefined past head or below the floor. */
  async entry(version: number): Promise<LogEntry | undefined> {
    if (version < 1 || version > this.#head.version) return undefined;
    const c = this.#cache;
    const first = c[0]?.version;
    if (first !== undefined && version >= first && version >= this.store.floor()) return c[version - first];
    return this.store.get(version);
  }

  /** Up to `limit` entries with version > after, from the read cache when it covers them, else the store. */
  async range(after: number, limit: number): Promise<LogEntry[]> {
    const c = this.#cache;
    const first = c[0]?.version;
    const start = after + 1;
    if (first !== undefined && start >= first && start >= this.store.floor()) {
      const i = start - first;
      return c.slice(i, i + limit);
    }
    return this.store.range(after, limit);
  }
}
