// The hash chain (SPEC §2.1): entry_b3 = BLAKE3(UTF-8(prev_b3) ‖ UTF-8(JCS(entry without entry_b3))).
import { createBLAKE3, type IHasher } from 'hash-wasm';
import { canonicalJson } from './canonical.js';
import { ChainError } from './errors.js';
import { ZERO_B3, type LogEntry, type UnhashedEntry } from './log-entry.js';

let hasher: IHasher | undefined;

/** Loads the BLAKE3 wasm once; hashing is synchronous afterwards. */
export async function initChain(): Promise<void> {
  hasher ??= await createBLAKE3();
}

function h(): IHasher {
  if (hasher === undefined) throw new Error('initChain() has not been awaited');
  return hasher;
}

/** `b3:<hex>` of arbitrary bytes (e.g. a payload). */
export function b3(data: Uint8Array | string): string {
  const x = h();
  x.init();
  x.update(data);
  return `b3:${x.digest('hex')}`;
}

/** entry_b3 of an entry (any entry_b3 field on the input is ignored). */
export function entryHash(e: UnhashedEntry | LogEntry): string {
  const { entry_b3: _ignored, ...rest } = e as LogEntry;
  const x = h();
  x.init();
  x.update(rest.prev_b3);
  x.update(canonicalJson(rest));
  return `b3:${x.digest('hex')}`;
}

/** Seals an entry: computes and attaches entry_b3. */
export function seal(e: UnhashedEntry): LogEntry {
  return { ...e, entry_b3: entryHash(e) };
}

/**
 * Incremental verifier: feed entries in order; throws ChainError naming the first bad version.
 * @example const v = new ChainVerifier(); for (const e of entries) v.push(e);
 */
export class ChainVerifier {
  #version: number;
  #prev: string;

  constructor(after = 0, prev = ZERO_B3) {
    this.#version = after;
    this.#prev = prev;
  }

  get version(): number {
    return this.#version;
  }

  get prev(): string {
    return this.#prev;
  }

  push(e: LogEntry): void {
    const want = this.#version + 1;
    if (e.version !== want) throw new ChainError(want, `expected version ${want}, found ${e.version}`);
    if (e.prev_b3 !== this.#prev)
      throw new ChainError(e.version, 'prev_b3 does not match the previous entry_b3');
    if (entryHash(e) !== e.entry_b3)
      throw new ChainError(e.version, 'entry_b3 does not match the entry content');
    this.#version = e.version;
    this.#prev = e.entry_b3;
  }
}
