import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { CasStore, ChunkLocation, CorruptChunk } from './cas-store.js';
import { CHUNK_SIZE, chunkHash } from './hash.js';
import { StoreError } from './errors.js';

/**
 * Chunks read with one positional read when they lie back to back in one segment (the usual case:
 * an upload writes its new chunks in order): 16 × 64 KiB = 1 MiB per thread-pool round trip instead
 * of one per chunk. Every chunk of a group is verified before any byte of the group is handed out.
 */
const GROUP_CHUNKS = 16;

export interface ReadRange {
  /** First byte (inclusive). */
  start: number;
  /** Last byte (inclusive); start > end for an empty object. */
  end: number;
}

/**
 * Reads a byte range of an object, verifying each chunk's BLAKE3 against its record before any of
 * its bytes are handed out: corrupted bytes never leave the process. `open()` reads and verifies the
 * first chunk, so corruption there is found before the answer's headers (500 Corrupt); later, the
 * stream errors and the caller aborts the connection (a short body, never wrong bytes).
 */
export class VerifiedReader {
  readonly #store: CasStore;
  readonly #addr: string;
  readonly #range: ReadRange;
  readonly #onCorrupt: (c: CorruptChunk) => void;
  readonly #files = new Map<string, Promise<FileHandle>>();
  #locs: ChunkLocation[] = [];
  #next = 0;

  constructor(store: CasStore, addr: string, range: ReadRange, onCorrupt: (c: CorruptChunk) => void) {
    this.#store = store;
    this.#addr = addr;
    this.#range = range;
    this.#onCorrupt = onCorrupt;
  }

  /** Verifies the first chunk, then returns the stream of the whole range. Throws StoreError('corrupt'). */
  async open(): Promise<Readable> {
    const { start, end } = this.#range;
    if (end < start) return Readable.from([]);
    const first = Math.floor(start / CHUNK_SIZE);
    const last = Math.floor(end / CHUNK_SIZE);
    this.#locs = this.#store.locate(this.#addr, first, last);
    if (this.#locs.length !== last - first + 1) {
      throw new StoreError('corrupt', `object ${this.#addr} is missing chunk records`);
    }
    let head: Buffer;
    try {
      // The first chunk alone: the answer's headers wait for one chunk's check, not a group's.
      head = await this.#read(1);
    } catch (err) {
      await this.close();
      throw err;
    }
    let pending: Buffer | undefined = head;
    const stream = new Readable({
      highWaterMark: GROUP_CHUNKS * CHUNK_SIZE,
      read: () => {
        if (pending !== undefined) {
          const b = pending;
          pending = undefined;
          stream.push(b);
          if (this.#next >= this.#locs.length) stream.push(null);
          return;
        }
        if (this.#next >= this.#locs.length) {
          stream.push(null);
          return;
        }
        this.#read().then(
          (b) => {
            stream.push(b);
            if (this.#next >= this.#locs.length) stream.push(null);
          },
          (err: unknown) => stream.destroy(err as Error),
        );
      },
      destroy: (err, cb) => {
        this.close().then(
          () => cb(err),
          () => cb(err),
        );
      },
    });
    stream.once('end', () => void this.close());
    return stream;
  }

  /**
   * Reads and verifies the next chunk, or the next run of chunks stored back to back in one segment
   * (up to `max`); returns the part of them inside the range.
   */
  async #read(max = GROUP_CHUNKS): Promise<Buffer> {
    const first = this.#locs[this.#next]!;
    let n = 1;
    let len = first.len;
    while (n < max && this.#next + n < this.#locs.length) {
      const l = this.#locs[this.#next + n]!;
      if (l.segment !== first.segment || l.off !== first.off + len || l.idx !== first.idx + n) break;
      len += l.len;
      n++;
    }
    const group = this.#locs.slice(this.#next, this.#next + n);
    this.#next += n;
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    try {
      const fh = await this.#file(first.segment);
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, first.off + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    let at = 0;
    for (const loc of group) {
      const ok = at + loc.len <= got && chunkHash(buf.subarray(at, at + loc.len)).equals(loc.hash);
      if (!ok) {
        const c: CorruptChunk = { addr: this.#addr, idx: loc.idx, hash: loc.hash.toString('hex') };
        this.#onCorrupt(c);
        throw new StoreError('corrupt', `chunk ${c.idx} of ${this.#addr} failed its BLAKE3 check`);
      }
      at += loc.len;
    }
    const base = first.idx * CHUNK_SIZE;
    const from = Math.max(this.#range.start - base, 0);
    const to = Math.min(this.#range.end + 1 - base, len);
    return from === 0 && to === len ? buf : buf.subarray(from, to);
  }

  #file(segment: string): Promise<FileHandle> {
    let f = this.#files.get(segment);
    if (f === undefined) {
      f = open(this.#store.segmentPath(segment), 'r');
      this.#files.set(segment, f);
    }
    return f;
  }

  async close(): Promise<void> {
    const files = [...this.#files.values()];
    this.#files.clear();
    await Promise.all(files.map((f) => f.then((h) => h.close()).catch(() => undefined)));
  }
}
