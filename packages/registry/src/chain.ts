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

const ENTRY_B3_MEMBER = ',"entry_b3":"';

/**
 * Checks entry_b3 on the exact text a store holds for an entry (the JCS text of the whole entry,
 * as it was appended); `e` must be that text parsed. BLAKE3(prev_b3 ‖ that text without its entry_b3 member) is a hash of the very
 * bytes the writer sealed, so boot replay need not canonicalize every entry again. True only when
 * the text's entry_b3 member names `e.entry_b3` and the hash matches — by BLAKE3's collision
 * resistance the text is then the sealed JCS, so `e` parsed from it is the sealed entry. A text
 * that is not canonical (or not this entry's) answers false: fall back to `entryHash(e)`.
 */
export function storedTextMatches(e: LogEntry, text: string): boolean {
  // Members after entry_b3 (op, payload_b3, prev_b3, signatures, version) hold no free-form
  // objects, while a body before it may: the top-level member is the last one.
  const i = text.lastIndexOf(ENTRY_B3_MEMBER);
  if (i < 0) return false;
  const start = i + ENTRY_B3_MEMBER.length;
  const end = text.indexOf('"', start);
  if (end < 0 || text.slice(start, end) !== e.entry_b3 || typeof e.prev_b3 !== 'string') return false;
  const x = h();
  x.init();
  x.update(e.prev_b3 + text.slice(0, i) + text.slice(end + 1));
  return `b3:${x.digest('hex')}` === e.entry_b3;
}

/** Seals an entry: computes and attaches entry_b3. */
export function seal(e: UnhashedEntry): LogEntry {
  return sealWithText(e).entry;
}

/** A sealed entry and its JCS text (what a store keeps, byte for byte). */
export interface SealedEntry {
  entry: LogEntry;
  text: string;
}

/**
 * Seals an entry and encodes it once: JCS sorts members by name, so the members before `entry_b3`
 * and those after it are encoded apart; joined they are the hashed text (entry_b3 left out), and
 * joined around the entry_b3 member they are the JCS text of the sealed entry.
 */
export function sealWithText(e: UnhashedEntry): SealedEntry {
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k !== 'entry_b3') (k < 'entry_b3' ? before : after)[k] = v;
  }
  // '{…' and '…}': a lone brace when that side has no member.
  const head = canonicalJson(before).slice(0, -1);
  const tail = canonicalJson(after).slice(1);
  const headSep = head.length > 1 ? ',' : '';
  const tailSep = tail.length > 1 ? ',' : '';
  const x = h();
  x.init();
  x.update(e.prev_b3);
  x.update(head + (headSep !== '' && tailSep !== '' ? ',' : '') + tail);
  const entry_b3 = `b3:${x.digest('hex')}`;
  return {
    entry: { ...e, entry_b3 },
    text: `${head}${headSep}"entry_b3":${JSON.stringify(entry_b3)}${tailSep}${tail}`,
  };
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

  /**
   * Verifies the next entry. `text`: the store's text of it, when it has one; a canonical text is
   * hashed as it is (`storedTextMatches`), anything else is checked by canonicalizing `e`.
   */
  push(e: LogEntry, text?: string): void {
    const want = this.#version + 1;
    if (e.version !== want) throw new ChainError(want, `expected version ${want}, found ${e.version}`);
    if (e.prev_b3 !== this.#prev)
      throw new ChainError(e.version, 'prev_b3 does not match the previous entry_b3');
    if (!(text !== undefined && storedTextMatches(e, text)) && entryHash(e) !== e.entry_b3)
      throw new ChainError(e.version, 'entry_b3 does not match the entry content');
    this.#version = e.version;
    this.#prev = e.entry_b3;
  }
}
