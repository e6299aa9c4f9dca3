// Both engines against one model (fast-check): random puts/deletes with CAS conditions, gets and
// paged listings with prefixes must agree with a plain Map, byte-ordered.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { tempDir } from '@ron/testkit';
import { initHasher, etagOf } from '../src/etag.js';
import { compareUtf8, conditionHolds, type KvStore } from '../src/kv-store.js';
import { MemStore } from '../src/mem-store.js';
import { SqliteStore } from '../src/sqlite-store.js';

const dir = tempDir();
after(() => dir.remove());

// A small alphabet with multi-byte characters makes prefixes and byte order interesting.
const keyArb = fc.string({
  unit: fc.constantFrom('a', 'b', 'c', '/', 'é', 'Z', '€', '𝄞'),
  minLength: 1,
  maxLength: 4,
});
const bucketArb = fc.constantFrom('b1', 'b2');
type Op =
  | { op: 'put'; b: string; k: string; v: number; im: 'match' | 'bad' | 'star' | undefined; inm: boolean }
  | { op: 'del'; b: string; k: string; im: 'match' | 'bad' | undefined }
  | { op: 'list'; b: string; prefix: string; limit: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('put' as const),
    b: bucketArb,
    k: keyArb,
    v: fc.nat(1000),
    im: fc.constantFrom<'match' | 'bad' | 'star' | undefined>(undefined, 'match', 'bad', 'star'),
    inm: fc.boolean(),
  }),
  fc.record({
    op: fc.constant('del' as const),
    b: bucketArb,
    k: keyArb,
    im: fc.constantFrom<'match' | 'bad' | undefined>(undefined, 'match', 'bad'),
  }),
  fc.record({
    op: fc.constant('list' as const),
    b: bucketArb,
    prefix: fc.oneof(fc.constant(''), keyArb),
    limit: fc.integer({ min: 1, max: 4 }),
  }),
);

function listAll(s: KvStore, b: string, prefix: string, limit: number): string[] {
  const out: string[] = [];
  let after: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = s.list(b, prefix, limit, after);
    assert.ok(page.keys.length <= limit);
    out.push(...page.keys);
    if (page.last === undefined) return out;
    assert.equal(page.last, page.keys[page.keys.length - 1]);
    after = page.last;
  }
  throw new Error('pagination did not terminate');
}

let n = 0;
test('mem and sqlite engines both behave like the model', async () => {
  await initHasher();
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
      const stores: KvStore[] = [new MemStore(), new SqliteStore(`${dir.path}/model-${n++}.db`)];
      const model = new Map<string, { value: Buffer; etag: string }>();
      try {
        for (const o of ops) {
          const id = o.op === 'list' ? '' : `${o.b}\u0000${o.k}`;
          if (o.op === 'put') {
            const value = Buffer.from(`v${o.v}`);
            const etag = etagOf(value);
            const cur = model.get(id)?.etag;
            const ifMatch =
              o.im === 'match'
                ? cur
                  ? [cur]
                  : ['b3:none']
                : o.im === 'bad'
                  ? ['b3:bad']
                  : o.im === 'star'
                    ? ('*' as const)
                    : undefined;
            const cond = { ifMatch, ifNoneMatch: o.inm ? ('*' as const) : undefined };
            const expected = !conditionHolds(cur, cond)
              ? 'precondition_failed'
              : cur === undefined
                ? 'created'
                : 'replaced';
            for (const s of stores)
              assert.equal(
                await s.put(o.b, o.k, value, etag, cond),
                expected,
                `${s.engine} put ${JSON.stringify(o)}`,
              );
            if (expected !== 'precondition_failed') model.set(id, { value, etag });
          } else if (o.op === 'del') {
            const cur = model.get(id)?.etag;
            const ifMatch =
              o.im === 'match' ? (cur ? [cur] : ['b3:none']) : o.im === 'bad' ? ['b3:bad'] : undefined;
            const expected =
              cur === undefined
                ? 'not_found'
                : conditionHolds(cur, { ifMatch })
                  ? 'deleted'
                  : 'precondition_failed';
            for (const s of stores)
              assert.equal(await s.delete(o.b, o.k, { ifMatch }), expected, `${s.engine} del`);
            if (expected === 'deleted') model.delete(id);
          } else {
            const want = [...model.keys()]
              .filter((id2) => id2.startsWith(`${o.b}\u0000`))
              .map((id2) => id2.slice(o.b.length + 1))
              .filter((k) => k.startsWith(o.prefix))
              .sort(compareUtf8);
            for (const s of stores)
              assert.deepEqual(
                listAll(s, o.b, o.prefix, o.limit),
                want,
                `${s.engine} list ${JSON.stringify(o)}`,
              );
          }
        }
        for (const [id, e] of model) {
          const [b, k] = id.split('\u0000') as [string, string];
          for (const s of stores) {
            assert.deepEqual(s.get(b, k), { value: e.value, etag: e.etag });
            assert.deepEqual(s.head(b, k), { etag: e.etag, size: e.value.length });
          }
        }
        for (const s of stores) assert.equal(s.get('b1', '\u0001missing'), undefined);
      } finally {
        for (const s of stores) s.close();
      }
      for (const s of stores) assert.equal(s.isOpen(), false);
    }),
    { numRuns: 150 },
  );
});

test('a stored value is a copy: mutating the caller buffer afterwards changes nothing', async () => {
  await initHasher();
  for (const s of [new MemStore(), new SqliteStore(`${dir.path}/copy.db`)] as KvStore[]) {
    const buf = Buffer.from('original');
    await s.put('b', 'k', buf, etagOf(buf), {});
    buf.write('XXXXXXXX');
    assert.equal(s.get('b', 'k')!.value.toString(), 'original', s.engine);
    s.close();
  }
});
