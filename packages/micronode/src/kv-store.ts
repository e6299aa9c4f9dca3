// One store interface, two engines (SPEC §3). Reads are synchronous. Writes are synchronous on the
// mem engine and a promise on sqlite, settled once the group commit holding the write is durable;
// either way a write's check-and-set runs in one synchronous step, never interleaved with another.

export interface KvEntry {
  value: Buffer;
  etag: string;
}

export interface KvMeta {
  etag: string;
  size: number;
}

/** Compare-and-set conditions from If-Match / If-None-Match. */
export interface KvCondition {
  ifMatch?: '*' | string[] | undefined;
  ifNoneMatch?: '*' | string[] | undefined;
}

export type PutResult = 'created' | 'replaced' | 'precondition_failed';
export type DeleteResult = 'deleted' | 'not_found' | 'precondition_failed';

export interface ListPage {
  keys: string[];
  /** Last key returned when more remain; undefined at the end. */
  last: string | undefined;
}

export interface KvStore {
  readonly engine: 'mem' | 'sqlite';
  isOpen(): boolean;
  get(bucket: string, key: string): KvEntry | undefined;
  head(bucket: string, key: string): KvMeta | undefined;
  put(
    bucket: string,
    key: string,
    value: Buffer,
    etag: string,
    cond: KvCondition,
  ): PutResult | Promise<PutResult>;
  delete(bucket: string, key: string, cond: KvCondition): DeleteResult | Promise<DeleteResult>;
  /** Keys in UTF-8 byte order, after `after` (exclusive), starting with `prefix`. */
  list(bucket: string, prefix: string, limit: number, after: string | undefined): ListPage;
  close(): void;
}

/** Evaluates CAS preconditions against the current etag (undefined = absent). */
export function conditionHolds(current: string | undefined, cond: KvCondition): boolean {
  const { ifMatch, ifNoneMatch } = cond;
  if (ifMatch !== undefined) {
    if (current === undefined) return false;
    if (ifMatch !== '*' && !ifMatch.includes(current)) return false;
  }
  if (ifNoneMatch !== undefined && current !== undefined) {
    if (ifNoneMatch === '*' || ifNoneMatch.includes(current)) return false;
  }
  return true;
}

/** UTF-8 byte order, the order SQLite's BINARY collation gives. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
