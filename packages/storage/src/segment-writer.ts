import { open, type FileHandle } from 'node:fs/promises';

/** Writes in flight per segment: enough to keep the disk busy while the next chunks are hashed. */
const MAX_PENDING = 8;
/** Flush written data in the background every this many bytes, so the final sync has little left. */
const SYNC_EVERY = 8 * 1024 * 1024;

/**
 * Appends chunks to one segment file without waiting for each write: up to MAX_PENDING positional
 * writes run in the thread pool while the request keeps streaming, and a background `fdatasync`
 * every SYNC_EVERY bytes overlaps the disk flush with the upload. `finish()` waits for every write
 * and one last sync: only then are the bytes durable.
 */
export class SegmentWriter {
  readonly #path: string;
  #fh: Promise<FileHandle> | undefined;
  readonly #pending = new Set<Promise<void>>();
  #bytes = 0;
  #sinceSync = 0;
  #sync: Promise<void> | undefined;
  #err: Error | undefined;

  constructor(path: string) {
    this.#path = path;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Queues `buf` (which must not be reused by the caller) and returns its offset. */
  async append(buf: Buffer): Promise<number> {
    this.#throwIfFailed();
    const fh = (this.#fh ??= open(this.#path, 'wx'));
    const off = this.#bytes;
    this.#bytes += buf.length;
    const p: Promise<void> = fh
      .then((h) => writeAll(h, buf, off))
      .catch((err: unknown) => {
        this.#err ??= err instanceof Error ? err : new Error(String(err));
      })
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
    this.#sinceSync += buf.length;
    if (this.#sinceSync >= SYNC_EVERY && this.#sync === undefined) {
      this.#sinceSync = 0;
      this.#sync = fh
        .then((h) => h.datasync())
        .catch((err: unknown) => {
          this.#err ??= err instanceof Error ? err : new Error(String(err));
        })
        .finally(() => (this.#sync = undefined));
    }
    if (this.#pending.size >= MAX_PENDING) await Promise.race(this.#pending);
    this.#throwIfFailed();
    return off;
  }

  /** True once anything was appended (the file exists). */
  get opened(): boolean {
    return this.#fh !== undefined;
  }

  /** Waits for every write, syncs, closes. Throws the first write error. */
  async finish(): Promise<void> {
    if (this.#fh === undefined) return;
    await Promise.all(this.#pending);
    await this.#sync;
    this.#throwIfFailed();
    const h = await this.#fh;
    await h.datasync();
    await this.close();
  }

  /** Closes without syncing (after a failure). */
  async close(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    if (fh === undefined) return;
    await Promise.allSettled([...this.#pending, this.#sync]);
    await fh.then((h) => h.close()).catch(() => undefined);
  }

  #throwIfFailed(): void {
    if (this.#err !== undefined) throw this.#err;
  }
}

async function writeAll(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
