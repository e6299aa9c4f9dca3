// The reorder window for signed commits (docs/registry.md "Reorder window"). A commit signs the
// version it creates, so commits that concurrent clients signed for consecutive versions can reach
// the registry out of version order; without a window every one that arrives early is refused
// (422) even though the version below it is a few milliseconds away. A commit whose signatures
// verify at a version a little ahead of the pending head waits here instead, bounded in time
// (`windowMs`) and in count (`depth`), until the registry seals the version below it — or until its
// time is up, when it gets the refusal it would have had at once.

export interface ReorderWindowOptions {
  /** How long a commit may wait for the versions below it, in ms; 0 turns the window off. */
  windowMs: number;
  /** How far ahead of the pending head a commit may be, in versions; also the most that may wait. */
  depth: number;
}

/** One waiting item: the version it is for. */
export interface Waiter {
  readonly version: number;
}

/**
 * Waiting commits keyed by the version they are signed for, each with its own deadline. The window
 * only holds and times them; what a commit is and how it is sealed stays with the registry.
 *
 * @example
 * const w = new ReorderWindow({ windowMs: 25, depth: 16 }, (c) => c.reject(c.refusal));
 * if (w.accepts) w.add(commit); // later: w.take(head + 1) when the version below it was sealed
 */
export class ReorderWindow<W extends Waiter> {
  readonly windowMs: number;
  readonly depth: number;
  readonly #onExpire: (w: W) => void;
  readonly #waiting = new Map<number, { w: W; timer: NodeJS.Timeout }>();
  #closed = false;

  /** `onExpire` answers a commit whose time is up, or every one still waiting at close(). */
  constructor(opts: ReorderWindowOptions, onExpire: (w: W) => void) {
    this.windowMs = opts.windowMs;
    this.depth = opts.depth;
    this.#onExpire = onExpire;
  }

  /** True while a commit may start waiting: on, not closed, and fewer than `depth` waiting. */
  get accepts(): boolean {
    return !this.#closed && this.windowMs > 0 && this.#waiting.size < this.depth;
  }

  get size(): number {
    return this.#waiting.size;
  }

  /** True when a commit already waits for `version` (a second one for it is refused at once). */
  has(version: number): boolean {
    return this.#waiting.has(version);
  }

  /** Starts `w` waiting; onExpire(w) runs once windowMs passed unless take() removed it first. */
  add(w: W): void {
    // The deadline only takes effect after the next poll phase: timers run before it in an event
    // loop turn, so after a long synchronous stretch (a batch's fsync) the version below may be
    // sitting unread in a socket buffer when the timer fires. setImmediate runs after that poll.
    const timer = setTimeout(() => setImmediate(() => this.#expireIf(w)), this.windowMs);
    this.#waiting.set(w.version, { w, timer });
  }

  /** Removes and returns the commit waiting for `version`, if any (its turn came). */
  take(version: number): W | undefined {
    const slot = this.#waiting.get(version);
    if (slot === undefined) return undefined;
    clearTimeout(slot.timer);
    this.#waiting.delete(version);
    return slot.w;
  }

  /** Expires now every commit waiting for a version ≤ `version`: that version was taken. */
  expireUpTo(version: number): void {
    if (this.#waiting.size === 0) return;
    for (const v of [...this.#waiting.keys()]) if (v <= version) this.#expire(v);
  }

  /** Expires every waiting commit now and lets none wait from then on (shutdown). */
  close(): void {
    this.#closed = true;
    for (const v of [...this.#waiting.keys()]) this.#expire(v);
  }

  #expire(version: number): void {
    const w = this.take(version);
    if (w !== undefined) this.#onExpire(w);
  }

  /** Expires `w` if it is still the one waiting for its version. */
  #expireIf(w: W): void {
    if (this.#waiting.get(w.version)?.w === w) this.#expire(w.version);
  }
}
