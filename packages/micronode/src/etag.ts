import { createBLAKE3, type IHasher } from 'hash-wasm';

let hasher: IHasher | undefined;

/** Loads the BLAKE3 wasm once; afterwards hashing is synchronous. */
export async function initHasher(): Promise<void> {
  hasher ??= await createBLAKE3();
}

/** `b3:<hex>` of a value (the ETag without quotes). */
export function etagOf(value: Uint8Array): string {
  if (!hasher) throw new Error('initHasher() not called');
  hasher.init();
  hasher.update(value);
  return `b3:${hasher.digest('hex')}`;
}

/** Parses an If-Match / If-None-Match header into tags (quotes and W/ removed) or '*'. */
export function parseTagList(h: string | undefined): '*' | string[] | undefined {
  if (h === undefined) return undefined;
  const t = h.trim();
  if (t === '*') return '*';
  return t
    .split(',')
    .map((s) =>
      s
        .trim()
        .replace(/^W\//, '')
        .replace(/^"(.*)"$/, '$1'),
    )
    .filter((s) => s !== '');
}
