import {
  compareUtf8,
  conditionHolds,
  type DeleteResult,
  type KvCondition,
  type KvEntry,
  type KvMeta,
  type KvStore,
  type ListPage,
  type PutResult,
} from './kv-store.js';

/** In-memory engine (also what amnesia uses): nothing touches disk. */
export class MemStore implements KvStore {
  readonly engine = 'mem' as const;
  readonly #buckets = new Map<string, Map<string, KvEntry>>();
  /** Sorted key cache per bucket, dropped on any create/delete. */
  readonly #sorted = new Map<string, string[]>();
  #open = true;

  isOpen(): boolean {
    return this.#open;
  }

  get(bucket: string, key: string): KvEntry | undefined {
    return this.#buckets.get(bucket)?.get(key);
  }

  head(bucket: string, key: string): KvMeta | undefined {
    const e = this.get(bucket, key);
    return e && { etag: e.etag, size: e.value.length };
  }

  put(bucket: string, key: string, value: Buffer, etag: string, cond: KvCondition): PutResult {
    let b = this.#buckets.get(bucket);
    const cur = b?.get(key);
    if (!conditionHolds(cur?.etag, cond)) return 'precondition_failed';
    if (!b) {
      b = new Map();
      this.#buckets.set(bucket, b);
    }
    // Copy: the request buffer may be a slice of a larger pooled allocation.
    b.set(key, { value: Buffer.from(value), etag });
    if (!cur) this.#sorted.delete(bucket);
    return cur ? 'replaced' : 'created';
  }

  delete(bucket: string, key: string, cond: KvCondition): DeleteResult {
    const b = this.#buckets.get(bucket);
    const cur = b?.get(key);
    if (!cur) return 'not_found';
    if (!conditionHolds(cur.etag, cond)) return 'precondition_failed';
    b!.delete(key);
    this.#sorted.delete(bucket);
    return 'deleted';
  }

  list(bucket: string, prefix: string, limit: number, after: string | undefined): ListPage {
    const b = this.#buckets.get(bucket);
    if (!b) return { keys: [], last: undefined };
    let sorted = this.#sorted.get(bucket);
    if (!sorted) {
      sorted = [...b.keys()].sort(compareUtf8);
      this.#sorted.set(bucket, sorted);
    }
    const keys: string[] = [];
    let more = false;
    for (const k of sorted) {
      if (after !== undefined && compareUtf8(k, after) <= 0) continue;
      if (!k.startsWith(prefix)) {
        if (compareUtf8(k, prefix) > 0 && keys.length > 0) break;
        continue;
      }
      if (keys.length === limit) {
        more = true;
        break;
      }
      keys.push(k);
    }
    return { keys, last: more ? keys[keys.length - 1] : undefined };
  }

  close(): void {
    this.#open = false;
  }
}
