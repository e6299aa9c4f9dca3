// Property: random interleavings of proposals, approvals, applies, rotations and commits keep
// per-descriptor and global versions strictly monotonic, the chain valid, every applied entry
// signed by a quorum of the set in force at its version, and the read model equal to a log replay.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ApiError } from '@ron/kernel';
import { Registry, governanceSignedBytes, signBytes, signedBytes, type KeyFile } from '../src/index.js';
import { ChainVerifier } from '../src/chain.js';
import { attachGovernance } from '../src/governance/attach.js';
import { governanceEntryOf, subjectOf } from '../src/governance/governance.js';
import { evaluateQuorum, quorumMet } from '../src/governance/quorum.js';
import { body, ids, keys, publish, REG, rotation, setup, sig, svc } from './governance-helpers.js';

type Cmd =
  | { t: 'propose'; id: number; delta: number; signers: number[]; deprecate: boolean }
  | { t: 'approve'; p: number; signer: number }
  | { t: 'apply'; p: number }
  | { t: 'rotate'; pick: number[]; threshold: number }
  | { t: 'commit' };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({
    t: fc.constant('propose' as const),
    id: fc.nat(3),
    delta: fc.integer({ min: -1, max: 1 }),
    signers: fc.array(fc.nat(5), { maxLength: 3 }),
    deprecate: fc.boolean(),
  }),
  fc.record({ t: fc.constant('approve' as const), p: fc.nat(20), signer: fc.nat(5) }),
  fc.record({ t: fc.constant('apply' as const), p: fc.nat(20) }),
  fc.record({
    t: fc.constant('rotate' as const),
    pick: fc.uniqueArray(fc.nat(5), { minLength: 1, maxLength: 4 }),
    threshold: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({ t: fc.constant('commit' as const) }),
);

const EXPECTED = new Set(['BadSignature', 'NoQuorum', 'StaleVersion', 'Conflict', 'BadRequest']);

test('property: interleavings keep versions monotonic and the chain and quorums valid', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 40 }), async (cmds) => {
      const pool: KeyFile[] = keys(6);
      const { reg, gov, store } = await setup(0, 2, { ks: pool.slice(0, 3) });
      const pids: string[] = [];
      let rotVersion = 1;
      const tolerate = async (p: Promise<unknown>): Promise<void> => {
        try {
          await p;
        } catch (err) {
          if (!(err instanceof ApiError) || !EXPECTED.has(err.code)) throw err;
        }
      };
      for (const c of cmds) {
        switch (c.t) {
          case 'propose': {
            const id = `svc-${c.id}`;
            const cur = gov.state.current(id)?.version ?? 0;
            const d = svc(id, Math.max(1, cur + 1 + c.delta));
            const s = c.deprecate ? { op: 'deprecate' as const, descriptor: d } : publish(d);
            const sigs = [...new Set(c.signers)].map((i) => sig(pool[i]!, s));
            try {
              pids.push((await gov.propose(body(s, sigs))).proposal_id);
            } catch (err) {
              if (!(err instanceof ApiError) || !EXPECTED.has(err.code)) throw err;
            }
            break;
          }
          case 'approve': {
            const pid = pids[c.p % Math.max(1, pids.length)];
            if (pid === undefined) break;
            const st = gov.get(pid);
            const subject =
              st.op === 'signers'
                ? { op: 'signers' as const, signers: st.signers! }
                : { op: st.op, descriptor: st.descriptor! };
            await tolerate(gov.approve(pid, { signature: sig(pool[c.signer]!, subject) }));
            break;
          }
          case 'apply': {
            const pid = pids[c.p % Math.max(1, pids.length)];
            if (pid !== undefined) await tolerate(gov.apply(pid));
            break;
          }
          case 'rotate': {
            const next = c.pick.map((i) => pool[i]!);
            const rot = rotation(rotVersion + 1, next, Math.min(c.threshold, next.length));
            const cur = gov.state.signerSet();
            const signers = pool.filter(
              (k) => cur.signers.includes(k.signer_id) || rot.signers.signers.includes(k.signer_id),
            );
            try {
              const p = await gov.propose(
                body(
                  rot,
                  signers.map((k) => sig(k, rot)),
                ),
              );
              await gov.apply(p.proposal_id);
              rotVersion++;
            } catch (err) {
              if (!(err instanceof ApiError) || !EXPECTED.has(err.code)) throw err;
            }
            break;
          }
          case 'commit': {
            const bytes = signedBytes({
              registry: REG,
              op: 'commit',
              payload_b3: 'b3:cA',
              version: reg.head.version + 1,
            });
            const set = gov.state.signerSet();
            const sigs = pool
              .filter((k) => set.signers.includes(k.signer_id))
              .map((k) => signBytes(k, bytes));
            await reg.commit({ payload_b3: 'b3:cA', signatures: sigs });
            break;
          }
        }
      }
      // Invariants over the whole log.
      const entries = await store.range(0, 100_000);
      const chain = new ChainVerifier();
      const perId = new Map<string, number>();
      let setVersion = 1;
      for (const e of entries) {
        chain.push(e); // contiguous global versions, valid links
        const g = governanceEntryOf(e);
        if (g === undefined) continue;
        const s = subjectOf(g);
        const inForce = gov.state.signerSetFor(e.version);
        const q = evaluateQuorum(
          e.signatures,
          governanceSignedBytes(REG, s),
          inForce,
          s.op === 'signers' ? s.signers : undefined,
        );
        assert.ok(quorumMet(q), `entry ${e.version} meets quorum of the set in force`);
        if (s.op === 'signers') {
          assert.equal(s.signers.version, ++setVersion);
        } else {
          const prev = perId.get(s.descriptor.id) ?? 0;
          assert.equal(s.descriptor.version, prev + 1, `descriptor ${s.descriptor.id} strictly +1`);
          perId.set(s.descriptor.id, s.descriptor.version);
        }
      }
      assert.equal(chain.version, reg.head.version);
      for (const [id, v] of perId) assert.equal(gov.state.current(id)!.version, v);
      // The read model equals a fresh replay of the log.
      const { registry: again } = await Registry.open(store, {
        registryId: REG,
        signers: ids(pool.slice(0, 3)),
        threshold: 2,
      });
      const g2 = await attachGovernance(again);
      assert.deepEqual([...g2.state.all()], [...gov.state.all()]);
      assert.deepEqual(g2.state.signerSet(), gov.state.signerSet());
    }),
    { numRuns: 60 },
  );
});
