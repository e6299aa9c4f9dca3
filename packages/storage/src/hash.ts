// BLAKE3 for the store. Chosen by measurement on this machine (docs/storage.md, "Hashing"):
// @napi-rs/blake-hash (Rust `blake3` crate, SIMD) hashes a 64 KiB chunk at 1.9–2.8 GiB/s and streams a
// 64 MiB object through its incremental hasher at 1.3–1.9 GiB/s; hash-wasm reaches 0.29–0.46 GiB/s
// and 0.22–0.36 GiB/s on the same inputs. hash-wasm stays faster only for tiny inputs (256 B:
// 111–131 vs 23–41 MiB/s, the per-call N-API cost), which the store never hashes.
import { Blake3Hasher, blake3 } from '@napi-rs/blake-hash';

/** Bytes per stored chunk (SPEC §4.5.1). */
export const CHUNK_SIZE = 64 * 1024;

/** BLAKE3 of one buffer (32 bytes). */
export function chunkHash(buf: Uint8Array): Buffer {
  return blake3(buf);
}

/** An incremental BLAKE3 of a whole object, fed as bytes arrive. */
export class ObjectHasher {
  readonly #h = new Blake3Hasher();
  update(buf: Uint8Array): void {
    this.#h.update(buf);
  }
  /** `b3:<64 hex>`, identical to `b3sum` output. */
  address(): string {
    return `b3:${this.#h.digestBuffer().toString('hex')}`;
  }
}

const ADDR = /^b3:[0-9a-f]{64}$/;

/** True for a well-formed content address (`b3:` and 64 lowercase hex digits). */
export function isAddress(s: string): boolean {
  return ADDR.test(s);
}
