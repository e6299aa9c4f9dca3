import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { CasStore, ChunkLocation, CorruptChunk } from './cas-store.js';
import { CHUNK_SIZE, chunkHash } from './hash.js';
import { StoreError } from './errors.js';

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
      head = await this.#read();
    } catch (err) {
      await this.close();
      throw err;
    }
    let pending: Buffer | undefined = head;
    const stream = new Readable({
      highWaterMark: 4 * CHUNK_SIZE,
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

  /** Reads and verifies the next chunk; returns the part of it inside the range. */
  async #read(): Promise<Buffer> {
    const loc = this.#locs[this.#next++]!;
    const buf = Buffer.allocUnsafe(loc.len);
    let got = 0;
    try {
      const fh = await this.#file(loc.segment);
      while (got < loc.len) {
        const { bytesRead } = await fh.read(buf, got, loc.len - got, loc.off + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (got !== loc.len || !chunkHash(buf).equals(loc.hash)) {
      const c: CorruptChunk = { addr: this.#addr, idx: loc.idx, hash: loc.hash.toString('hex') };
      this.#onCorrupt(c);
      throw new StoreError('corrupt', `chunk ${c.idx} of ${this.#addr} failed its BLAKE3 check`);
    }
    const base = loc.idx * CHUNK_SIZE;
    const from = Math.max(this.#range.start - base, 0);
    const to = Math.min(this.#range.end + 1 - base, loc.len);
    return from === 0 && to === loc.len ? buf : buf.subarray(from, to);
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
