// Property: GC racing uploads of objects that share chunks loses nothing. Random groups of
// concurrent puts, deletes and GC steps, with GC steps and deletes also run in the middle of an
// upload's body; afterwards every object the store lists reads back verified with its bytes, and a
// full GC leaves exactly the chunks the listed objects need.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { CasStore } from '../../src/cas-store.js';
import { CHUNK_SIZE, ObjectHasher } from '../../src/hash.js';
import { VerifiedReader } from '../../src/verified-reader.js';
import { bytes, fresh, removeDirs } from '../helpers.js';

after(removeDirs);

const POOL = Array.from({ length: 6 }, (_, i) => bytes(CHUNK_SIZE, 7000 + i));

type Op =
  | { kind: 'put'; parts: number[]; tail: number; midAt: number; midDelete: number | null; midGc: boolean }
  | { kind: 'delete'; target: number }
  | { kind: 'gc' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('put' as const),
    parts: fc.array(fc.nat(POOL.length - 1), { minLength: 1, maxLength: 4 }),
    tail: fc.nat(3),
    midAt: fc.nat(4),
    midDelete: fc.option(fc.nat(20)),
    midGc: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('delete' as const), target: fc.nat(20) }),
  fc.record({ kind: fc.constant('gc' as const) }),
);

function addressOf(data: Buffer): string {
  const h = new ObjectHasher();
  h.update(data);
  return h.address();
}

async function readAll(store: CasStore, addr: string, size: number): Promise<Buffer> {
  const s = await new VerifiedReader(store, addr, { start: 0, end: size - 1 }, () =>
    assert.fail(`corrupt chunk in ${addr}`),
  ).open();
  const parts: Buffer[] = [];
  for await (const b of s) parts.push(b as Buffer);
  return Buffer.concat(parts);
}

test('GC racing uploads that share chunks never frees a chunk a live or in-progress object needs', async () => {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }),
      async (groups) => {
        const store = new CasStore({
          dir: `${fresh()}/run-${run++}`,
          maxObjectBytes: 1 << 20,
          maxBytes: 0,
          gcBatch: 2,
        });
        const known = new Map<string, Buffer>();
        const history: string[] = [];
        const del = async (i: number): Promise<void> => {
          if (history.length > 0) await store.delete(history[i % history.length]!);
        };
        try {
          for (const group of groups) {
            await Promise.all(
              group.map(async (op) => {
                if (op.kind === 'gc') return void (await store.gcStep());
                if (op.kind === 'delete') return del(op.target);
                const data = Buffer.concat([
                  ...op.parts.map((i) => POOL[i]!),
                  POOL[op.tail]!.subarray(0, 1000 * op.tail),
                ]);
                const addr = addressOf(data);
                known.set(addr, data);
                const mid = op;
                async function* body(): AsyncGenerator<Buffer> {
                  for (let off = 0, k = 0; off < data.length; off += CHUNK_SIZE, k++) {
                    if (k === mid.midAt) {
                      if (mid.midDelete !== null) await del(mid.midDelete);
                      if (mid.midGc) await store.gcStep();
                    }
                    yield data.subarray(off, off + CHUNK_SIZE);
                  }
                }
                const r = await store.put(body(), data.length);
                assert.equal(r.addr, addr);
                history.push(addr);
                // Just acknowledged: it must read back whatever the GC did meanwhile.
                if (store.get(addr) !== undefined)
                  assert.ok((await readAll(store, addr, data.length)).equals(data));
              }),
            );
          }
          for (;;) {
            const r = await store.gcStep();
            if (r.chunks === 0 && r.segments === 0) break;
          }
          const listed = store.list({ after: '', limit: 1000 });
          const need = new Map<string, number>();
          for (const o of listed) {
            const data = known.get(o.addr)!;
            assert.ok((await readAll(store, o.addr, o.size)).equals(data), 'a listed object reads back');
            for (let off = 0; off < data.length; off += CHUNK_SIZE) {
              const c = data.subarray(off, off + CHUNK_SIZE);
              need.set(addressOf(c), c.length);
            }
          }
          const t = store.totals();
          assert.equal(t.objects, listed.length);
          assert.equal(t.chunks, need.size, 'the GC left exactly the needed chunks');
          assert.equal(
            t.stored_bytes,
            [...need.values()].reduce((a, b) => a + b, 0),
          );
        } finally {
          store.close();
        }
      },
    ),
    { numRuns: 30 },
  );
});
