// The registry core: replayed head, quorum-checked appends sealed in order (pipelined on SQLite),
// reads, and append listeners.
import { ApiError, type Logger } from '@ron/kernel';
import { ChainVerifier, initChain, sealWithText, type SealedEntry } from './chain.js';
import { ChainError, StoreConflictError } from './errors.js';
import { storeWriteError } from './store-errors.js';
import { FRESH_HEAD, ZERO_B3, headOf, type Head, type LogEntry } from './log-entry.js';
import { ReorderWindow, type ReorderWindowOptions } from './reorder-window.js';
import {
  checkCommit,
  signedVersionAmong,
  type CommitCheck,
  type CommitOutcome,
  type CommitRequest,
  type CommitSigners,
} from './commit-check.js';
import type { KeyFile, Signature } from './signing.js';
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
   * Reorder window for signed commits on a pipelining store (SQLite): a commit whose signatures
   * verify at a version a little ahead of the pending head waits, bounded, for the versions below it
   * instead of being refused at once. Off when absent or `windowMs` is 0; ignored on other stores.
   */
  reorder?: ReorderWindowOptions;
  /** Reorder window outcomes (metrics): a waiting commit sealed in order, or answered after its window. */
  onReorder?: (result: 'sealed' | 'expired') => void;
  /**
   * Called with every entry `open()` replays, in order, once it verified: lets the caller fold the
   * log (governance) from the same pass instead of reading it again.
   */
  onReplay?: (e: LogEntry) => void;
}

/** Entries per store read while `open()` replays the log. */
const REPLAY_PAGE = 2000;

export type { CommitOutcome, CommitRequest } from './commit-check.js';
export type AppendListener = (entry: LogEntry, head: Head) => void;

/** How boot went: entries replayed and verified. */
export interface ReplayReport {
  entries: number;
  head: Head;
  ms: number;
}

/**
 * One registry over one store. Entries are sealed onto the chain one at a time, in call order,
 * against the pending head: the head of the last sealed entry (which may not be durable yet), or
 * the head when another replica moved it past that. On a store that pipelines appends (SQLite: the
 * group-commit writer) a commit is sealed at once and handed to the store without waiting for the
 * previous one, so concurrent commits share one transaction and one fsync; any other store
 * (memory, PostgreSQL) gets one commit at a time, each sealed only once the previous one settled.
 * The head changes and the listeners run synchronously, in version order, only once the store has
 * made the entry durable, so every listener sees every version exactly once and in order. If an
 * append fails, every entry sealed on top of it fails too (the schema refuses it: its version is no
 * longer head + 1), the head does not move, and the next commit is sealed on the durable head again.
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
  readonly #pipelined: boolean;
  /** Commits signed for a version a little ahead, waiting for the ones below (pipelining stores). */
  readonly #window: ReorderWindow<WaitingCommit> | undefined;
  readonly #onReorder: ((result: 'sealed' | 'expired') => void) | undefined;
  /** Ed25519 verifies the reorder window may still spend on trying other versions (see #signedAhead). */
  #trialBudget = 0;
  #cache: LogEntry[] = [];
  #head: Head = FRESH_HEAD;
  /** Head of the last sealed entry: equal to #head, or ahead of it while appends are in flight. */
  #sealed: Head = FRESH_HEAD;
  /**
   * Non-pipelined stores: every write (commit, governed entry, catch-up) runs after the previous
   * one settled. Settles, never rejects.
   */
  #tail: Promise<unknown> = Promise.resolve();
  /** Settles (never rejects) once the last sealed entry was applied or failed. */
  #last: Promise<void> = Promise.resolve();
  /** Bumped when an append fails: the entries sealed on top of it (older epoch) fail too. */
  #epoch = 0;
  /** Set while a governed entry waits or is in flight: commits seal only after it was applied. */
  #gate: Promise<void> | undefined;
  #degraded = false;
  /** A catch-up is queued and has not started yet (wake-ups coalesce). */
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
    this.#pipelined = store.pipelined === true;
    const r = opts.reorder;
    this.#window =
      this.#pipelined && r !== undefined && r.windowMs > 0
        ? new ReorderWindow<WaitingCommit>(r, (w) => this.#expired(w))
        : undefined;
    this.#onReorder = opts.onReorder;
    this.#trialBudget = TRIALS_PER_SEAL * (this.#window?.depth ?? 0);
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
    reg.#sealed = reg.#head;
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
   * JCS({domain, registry, op:"commit", payload_b3, version: pending head + 1}). On a pipelining
   * store with a reorder window, a commit whose signatures verify at a version a little ahead
   * waits (bounded) for the versions below it and is then sealed in order.
   * Throws ApiError BadSignature (422), NoQuorum (412) or StoreUnavailable (503); `onOutcome`
   * reports the result for metrics.
   */
  commit(req: CommitRequest, onOutcome?: (o: CommitOutcome) => void): Promise<Head> {
    if (!this.#pipelined) {
      // One at a time: seal only once the previous write (commit, governed entry, catch-up) settled.
      const run = this.#tail.then(() => this.#commitSerial(req, onOutcome));
      this.#tail = run.catch(() => undefined);
      return run;
    }
    // A governed entry in flight may change the signer set: seal after it was applied.
    if (this.#gate !== undefined) return this.#gate.then(() => this.#commitPipelined(req, onOutcome));
    return this.#commitPipelined(req, onOutcome);
  }

  /**
   * Answers every commit waiting in the reorder window now (with the refusal it would get when its
   * window ran out) and lets none wait from then on; entries already sealed still complete. Called
   * when the server starts shutting down, so no request hangs on a gap that will not fill.
   */
  closeReorderWindow(): void {
    this.#window?.close();
  }

  /**
   * What the next entry is sealed on: the last sealed entry, or the head when something else (a
   * catch-up from the shared store) moved the head past it.
   */
  #base(): Head {
    return this.#sealed.version >= this.#head.version ? this.#sealed : this.#head;
  }

  /** Non-pipelined stores: one commit at a time; a lost race (PostgreSQL) is judged again. */
  async #commitSerial(req: CommitRequest, onOutcome?: (o: CommitOutcome) => void): Promise<Head> {
    for (;;) {
      const c = this.#check(req, this.#base().version + 1);
      if (c.refusal !== undefined) {
        onOutcome?.(c.outcome);
        throw c.refusal;
      }
      const sealed = this.#sealCommit(req.payload_b3, c.signatures);
      const entry = sealed.entry;
      try {
        await this.#submit(sealed);
      } catch (err) {
        // Another replica appended this version first (PostgreSQL): we caught up, so judge the
        // commit again at the new head, exactly as a commit that lost the race on one node (a
        // signature over the old version no longer verifies: 422; a dev-signed commit is re-signed
        // and lands).
        if (err instanceof StoreConflictError && (await this.#catchUpNow()) > 0) continue;
        throw this.#commitFailed(err, entry.version, onOutcome);
      }
      onOutcome?.('ok');
      return headOf(entry);
    }
  }

  /**
   * Pipelining stores: checked, sealed and handed to the store now — synchronously, so commits are
   * sealed in call order — or, when signed for a version a little ahead, waiting in the reorder
   * window. Either way, every waiting commit whose turn came is sealed right after, in the same turn
   * (so in the same group commit).
   */
  #commitPipelined(req: CommitRequest, onOutcome?: (o: CommitOutcome) => void): Promise<Head> {
    const c = this.#check(req, this.#base().version + 1);
    if (c.refusal === undefined) {
      const done = this.#sealAndSubmit(req.payload_b3, c.signatures, onOutcome);
      this.#releaseWaiting();
      return done;
    }
    const ahead = c.outcome === 'bad_signature' ? this.#signedAhead(req) : undefined;
    if (ahead === undefined) {
      onOutcome?.(c.outcome);
      return Promise.reject(c.refusal);
    }
    return new Promise<Head>((resolve, reject) => {
      this.#window!.add({
        version: ahead,
        req,
        allow: this.#allow,
        refusal: c.refusal,
        outcome: c.outcome,
        onOutcome,
        resolve,
        reject,
      });
    });
  }

  /**
   * The version a little ahead of the pending head (base + 2 … base + depth, skipping versions a
   * commit already waits for) the commit is signed for, if it would be accepted there; undefined
   * when there is none, when it is signed for the version just taken (checked first: the loser of
   * a race for head + 1, the common stale commit, stops there), or when the window takes no more.
   * Each candidate costs one Ed25519 verify, paid from a budget that grows by TRIALS_PER_SEAL per
   * sealed commit (at most TRIALS_PER_SEAL × depth banked): however commits arrive — racing clients
   * all signing head + 1, garbage — these trials add a bounded number of verifies per commit sealed;
   * once the budget is spent a commit is refused at once, as without a window.
   */
  #signedAhead(req: CommitRequest): number | undefined {
    const w = this.#window;
    if (w === undefined || !w.accepts) return undefined;
    const base = this.#base().version;
    const candidates = function* (): Generator<number> {
      if (base > 0) yield base;
      for (let v = base + 2; v <= base + w.depth; v++) if (!w.has(v)) yield v;
    };
    const spend = (): boolean => {
      if (this.#trialBudget < 1) return false;
      this.#trialBudget--;
      return true;
    };
    const signers = this.#signers();
    const v = signedVersionAmong(signers, req, candidates(), spend);
    if (v === undefined || v <= base) return undefined;
    // Signed for v: it may wait only if it would be accepted there (its first signature was just
    // verified at v, under this same signer set).
    return checkCommit(signers, req, v, true).refusal === undefined ? v : undefined;
  }

  /**
   * Seals every waiting commit whose version is now pending head + 1, in version order, each on the
   * one before; then answers those whose version was taken meanwhile (a governed entry). Not while a
   * governed entry is in flight: it runs again once that was applied.
   */
  #releaseWaiting(): void {
    const w = this.#window;
    if (w === undefined || w.size === 0 || this.#gate !== undefined) return;
    for (;;) {
      const next = w.take(this.#base().version + 1);
      if (next === undefined) break;
      // The signer set changed while it waited: judge it again under the new one.
      const c = next.allow === this.#allow ? this.#writable() : this.#check(next.req, next.version);
      if (c.refusal !== undefined) {
        next.onOutcome?.(c.outcome);
        next.reject(c.refusal);
        break;
      }
      this.#onReorder?.('sealed');
      this.#sealAndSubmit(next.req.payload_b3, next.req.signatures, next.onOutcome).then(
        next.resolve,
        next.reject,
      );
    }
    w.expireUpTo(this.#base().version);
  }

  /** Answers a commit whose window ran out (or closed): the refusal it had when it arrived. */
  #expired(w: WaitingCommit): void {
    this.#onReorder?.('expired');
    w.onOutcome?.(w.outcome);
    w.reject(w.refusal);
  }

  /** Seals a checked commit on the pending head and hands it to the store; resolves once applied. */
  async #sealAndSubmit(
    payload_b3: string,
    signatures: Signature[],
    onOutcome?: (o: CommitOutcome) => void,
  ): Promise<Head> {
    const sealed = this.#sealCommit(payload_b3, signatures);
    const entry = sealed.entry;
    if (this.#window !== undefined)
      this.#trialBudget = Math.min(TRIALS_PER_SEAL * this.#window.depth, this.#trialBudget + TRIALS_PER_SEAL);
    try {
      await this.#submit(sealed);
    } catch (err) {
      throw this.#commitFailed(err, entry.version, onOutcome);
    }
    onOutcome?.('ok');
    return headOf(entry);
  }

  /** Writes refused (an audit or ingest fault): 503, else nothing to refuse. */
  #writable(): CommitCheck {
    try {
      this.assertWritable();
    } catch (err) {
      return { refusal: err as ApiError, outcome: 'store_error' };
    }
    return { refusal: undefined, signatures: [] };
  }

  /** Judges a commit as the one creating `version`: the signatures to seal it with, or its refusal. */
  #check(req: CommitRequest, version: number): CommitCheck {
    const w = this.#writable();
    return w.refusal !== undefined ? w : checkCommit(this.#signers(), req, version);
  }

  #signers(): CommitSigners {
    return {
      registryId: this.registryId,
      allow: this.#allow,
      threshold: this.#threshold,
      devKey: this.#allowUnsigned ? this.#devKey : undefined,
    };
  }

  /** Seals a checked commit onto the pending chain; the caller makes it durable before acknowledging. */
  #sealCommit(payload_b3: string, signatures: Signature[]): SealedEntry {
    const base = this.#base();
    return sealWithText({
      version: base.version + 1,
      op: 'commit',
      payload_b3,
      prev_b3: base.version === 0 ? ZERO_B3 : base.chain_b3,
      committed_at: this.#now().toISOString(),
      signatures,
    });
  }

  /** A commit's append failed: the registry is degraded and the client gets 503. */
  #commitFailed(err: unknown, version: number, onOutcome?: (o: CommitOutcome) => void): ApiError {
    this.#failed(err, version);
    onOutcome?.('store_error');
    return storeWriteError(
      err,
      'the store could not make the commit durable',
      'see the server log; the commit was not applied',
    );
  }

  /**
   * Hands a just-sealed entry to the store and resolves once it was applied (durable, head moved,
   * listeners run). Must be called right after sealing on #base(), with no await in between.
   */
  #submit({ entry, text }: SealedEntry): Promise<void> {
    const epoch = this.#epoch;
    this.#sealed = headOf(entry);
    // A pipelining store takes the append now (it applies appends in submission order); any other
    // store gets it once the previous entry settled. Either way with the text sealed: not encoded again.
    const stored = this.#pipelined ? settled(this.store.append(entry, text)) : undefined;
    const run = this.#last.then(async () => {
      if (epoch !== this.#epoch) {
        // An entry sealed below this one failed: this one chained onto it and cannot be applied.
        await stored;
        throw new SealedOnFailedAppend(entry.version);
      }
      const r = await (stored ?? settled(this.store.append(entry, text)));
      if (!r.ok) {
        this.#epoch++;
        this.#sealed = this.#head;
        throw r.err;
      }
      this.#degraded = false;
      this.#applied(entry);
    });
    this.#last = run.catch(() => undefined);
    return run;
  }

  /** An append failed: degraded until the next one succeeds. */
  #failed(err: unknown, version: number): void {
    this.#degraded = true;
    // The append below it was logged; this one only chained onto it.
    if (err instanceof SealedOnFailedAppend) return;
    this.#log?.error({ err, version, store: this.store.kind }, 'store append failed; registry degraded');
  }

  // --- governance hooks: additive ---------------------------------------------------

  /** Replaces the commit allow-list and threshold after an `op:"signers"` rotation. */
  useSigners(signers: readonly string[], threshold: number): void {
    this.#allow = new Set(signers);
    this.#threshold = threshold;
  }

  /**
   * Appends an already quorum-checked governance entry (publish/deprecate/signers) through
   * the same path, chain, store and listeners as commits. The caller verified signatures.
   * Governed entries change what commits and proposals are checked against (signer set,
   * descriptors): one is sealed only after every entry before it was applied, and commits that
   * arrive meanwhile wait until it was applied too.
   */
  appendGoverned(e: GovernedEntry): Promise<LogEntry> {
    if (!this.#pipelined) {
      const run = this.#tail.then(() => this.#governedNow(e));
      this.#tail = run.catch(() => undefined);
      return run;
    }
    const run = (this.#gate ?? Promise.resolve()).then(() => this.#last).then(() => this.#governedNow(e));
    const gate = run.then(
      () => undefined,
      () => undefined,
    );
    this.#gate = gate;
    void gate.then(() => {
      if (this.#gate === gate) this.#gate = undefined;
      // Commits that waited for a version behind the governed entry may go now.
      this.#releaseWaiting();
    });
    return run;
  }

  async #governedNow(e: GovernedEntry): Promise<LogEntry> {
    this.assertWritable();
    const base = this.#base();
    const sealed = sealWithText({
      version: base.version + 1,
      op: e.op,
      ...(e.descriptor_id !== undefined ? { descriptor_id: e.descriptor_id } : {}),
      payload_b3: e.payload_b3,
      body: e.body,
      prev_b3: base.version === 0 ? ZERO_B3 : base.chain_b3,
      committed_at: this.#now().toISOString(),
      signatures: e.signatures,
    });
    const entry = sealed.entry;
    try {
      await this.#submit(sealed);
    } catch (err) {
      if (!this.#pipelined && err instanceof StoreConflictError && (await this.#catchUpNow()) > 0) {
        throw new ApiError('Conflict', 'another replica appended to the log first; nothing was applied', {
          hint: 'retry: the proposal is judged again against the new head',
        });
      }
      this.#failed(err, entry.version);
      throw storeWriteError(
        err,
        'the store could not make the entry durable',
        'see the server log; nothing was applied',
      );
    }
    return entry;
  }
  // --- end governance hooks ----------------------------------------------------------------------

  /**
   * Ingests entries another replica appended to the shared store (PostgreSQL): each must extend our
   * head (version, prev_b3, entry_b3), then it takes the same path as a local append (#applied), so
   * the head, read cache, governance and stream listeners see every version once, in order.
   * Runs after every local write in flight settled; wake-ups while one is queued coalesce. Resolves
   * to the number of entries ingested (0 when the store is unreachable: the next wake-up retries).
   */
  catchUp(): Promise<number> {
    if (this.#catchUpQueued) return Promise.resolve(0);
    this.#catchUpQueued = true;
    const run = this.#tail
      .then(() => this.#gate)
      .then(() => this.#last)
      .then(() => {
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
        // Applied locally while the page was read (it was our own append).
        if (e.version <= this.#head.version) continue;
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

/** A governed entry as appendGoverned takes it: quorum already checked by the caller. */
export interface GovernedEntry {
  op: Exclude<LogEntry['op'], 'commit'>;
  descriptor_id?: string;
  payload_b3: string;
  body: unknown;
  signatures: Signature[];
}

/**
 * Reorder-window trial verifies earned per sealed commit (and banked up to this × depth). Commits
 * of a burst that arrive in random order need about six per commit to be placed, a late commit
 * followed by its successors in order two each, a racing loser signed for the version just taken
 * one; a burst in exactly reverse order of depth commits needs about depth² / 2.
 */
const TRIALS_PER_SEAL = 8;

/** A commit waiting in the reorder window for the versions below `version`. */
interface WaitingCommit {
  readonly version: number;
  readonly req: CommitRequest;
  /** The allow-list it was checked against (replaced by a signer rotation). */
  readonly allow: ReadonlySet<string>;
  /** What it gets if the gap does not fill in time: what it would have got at once. */
  readonly refusal: ApiError;
  readonly outcome: Exclude<CommitOutcome, 'ok'>;
  readonly onOutcome: ((o: CommitOutcome) => void) | undefined;
  readonly resolve: (h: Head) => void;
  readonly reject: (err: unknown) => void;
}

/** An entry sealed on top of an append that failed: it chained onto it and cannot be applied. */
class SealedOnFailedAppend extends Error {
  constructor(version: number) {
    super(`version ${version} was sealed on top of an append that failed`);
    this.name = 'SealedOnFailedAppend';
  }
}

/** A promise's outcome as a value (never rejects). */
function settled(p: Promise<void>): Promise<{ ok: true } | { ok: false; err: unknown }> {
  return p.then(
    () => ({ ok: true }) as const,
    (err: unknown) => ({ ok: false, err }) as const,
  );
}
