// Governance domain: quorum, rollback, replay and rotation attacks (modelled on TUF's conformance
// scenarios) against a real Registry (memory store) with governance attached. No HTTP here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry, governanceSignedBytes, signBytes, signedBytes, type LogEntry } from '../src/index.js';
import { ChainVerifier } from '../src/chain.js';
import { attachGovernance } from '../src/governance/attach.js';
import { body, codeOf, ids, keys, publish, REG, rotation, setup, sig, svc } from './governance-helpers.js';

async function all(reg: Registry): Promise<LogEntry[]> {
  return reg.range(0, 10_000);
}

function chainOk(entries: LogEntry[]): void {
  const v = new ChainVerifier();
  for (const e of entries) v.push(e);
}

test('publish: 2-of-3 collected over time, applied once, re-apply returns the same version', async () => {
  const { reg, gov, ks, metrics } = await setup(3, 2);
  const s = publish(svc('svc-a@us-east-1', 1, { tls: true, weight: 3 }));
  const p = await gov.propose(body(s, [sig(ks[0]!, s)]));
  assert.deepEqual([p.have, p.need, p.state], [1, 2, 'pending']);
  assert.ok(Date.parse(p.expires_at) > 0);
  const a = await gov.approve(p.proposal_id, { signature: sig(ks[1]!, s) });
  assert.deepEqual([a.have, a.need, a.state], [2, 2, 'ready']);
  const r1 = await gov.apply(p.proposal_id);
  const r2 = await gov.apply(p.proposal_id);
  assert.equal(r1.version, 1);
  assert.deepEqual(r2, r1);
  assert.equal(reg.head.version, 1);
  const rec = gov.state.current('svc-a@us-east-1')!;
  assert.equal(rec.state, 'published');
  assert.equal(rec.log_version, 1);
  assert.equal(rec.signatures.length, 2);
  const [e] = await all(reg);
  assert.equal(e!.op, 'publish');
  assert.equal(e!.descriptor_id, 'svc-a@us-east-1');
  assert.deepEqual(e!.body, s.descriptor);
  chainOk(await all(reg));
  assert.equal(metrics.u('applied'), 1);
  assert.equal(metrics.lastCounts.published, 1);
  assert.equal(gov.get(p.proposal_id).state, 'applied');
});

test('attack: duplicate signatures from one signer count once → 422, nothing applied', async () => {
  const { reg, gov, ks, metrics } = await setup(3, 2);
  const s = publish(svc('svc-a', 1));
  assert.equal(await codeOf(gov.propose(body(s, [sig(ks[0]!, s), sig(ks[0]!, s)]))), 'BadSignature');
  // Same signer again through an approval.
  const p = await gov.propose(body(s, [sig(ks[0]!, s)]));
  assert.equal(await codeOf(gov.approve(p.proposal_id, { signature: sig(ks[0]!, s) })), 'BadSignature');
  assert.equal(gov.get(p.proposal_id).have, 1);
  assert.equal(await codeOf(gov.apply(p.proposal_id)), 'NoQuorum');
  assert.equal(reg.head.version, 0);
  assert.equal(metrics.u('invalid_sig'), 2);
  assert.equal(metrics.r('bad_signature'), 2);
  assert.equal(metrics.r('no_quorum'), 1);
});

test('attack: the same key under two ids (non-canonical base64url) is not a second signer', async () => {
  const { reg, gov, ks } = await setup(3, 2);
  const s = publish(svc('svc-a', 1));
  const good = sig(ks[0]!, s);
  // 32 bytes in 43 base64url chars leave 2 spare bits: flipping them names the same key differently.
  const x = good.signer_id.slice('ed25519:'.length);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(x.at(-1)!);
  const alias = 'ed25519:' + x.slice(0, -1) + alphabet[last ^ 1];
  assert.deepEqual(Buffer.from(alias.slice(8), 'base64url'), Buffer.from(x, 'base64url'));
  assert.equal(await codeOf(gov.propose(body(s, [good, { ...good, signer_id: alias }]))), 'BadSignature');
  assert.equal(
    await codeOf(gov.propose(body(s, [good, { ...good, signer_id: `${good.signer_id}=` }]))),
    'BadSignature',
  );
  assert.equal(reg.head.version, 0);
});

test('attack: a signer not on the allow-list → 422', async () => {
  const { reg, gov, ks } = await setup(3, 2);
  const [stranger] = keys(1);
  const s = publish(svc('svc-a', 1));
  assert.equal(await codeOf(gov.propose(body(s, [sig(ks[0]!, s), sig(stranger!, s)]))), 'BadSignature');
  const p = await gov.propose(body(s, []));
  assert.equal(p.have, 0);
  assert.equal(await codeOf(gov.approve(p.proposal_id, { signature: sig(stranger!, s) })), 'BadSignature');
  assert.equal(reg.head.version, 0);
});

test('attack: a signature over another op, id, version or registry does not replay', async () => {
  const { reg, gov, ks, metrics } = await setup(3, 1);
  const d = svc('svc-a', 1);
  const s = publish(d);
  const others = [
    sig(ks[0]!, { op: 'deprecate', descriptor: d }),
    sig(ks[0]!, publish(svc('svc-b', 1))),
    sig(ks[0]!, publish({ ...d, version: 2 })),
    sig(ks[0]!, s, 'other-registry'),
    signBytes(ks[0]!, governanceSignedBytes(REG, s).subarray(1)),
  ];
  for (const o of others) assert.equal(await codeOf(gov.propose(body(s, [o]))), 'BadSignature');
  assert.equal(reg.head.version, 0);
  assert.equal(metrics.u('invalid_sig'), others.length);
});

test('attack: tampered body after signing → 422; unknown fields → 400', async () => {
  const { reg, gov, ks } = await setup(3, 1);
  const s = publish(svc('svc-a', 1));
  const good = sig(ks[0]!, s);
  const tampered = publish(svc('svc-a', 1, { addr: '6.6.6.6:9000' }));
  assert.equal(await codeOf(gov.propose(body(tampered, [good]))), 'BadSignature');
  const bad = [
    { ...body(s, [good]), extra: 1 },
    body(publish({ ...svc('svc-a', 1), ...{ extra: true } }), [good]),
    body(publish(svc('svc-a', 1, { color: 'red' })), [good]),
    body(s, [{ ...good, note: 'x' } as never]),
    { op: 'publish', descriptor: { ...svc('svc-a', 1), kind: 'queue' } },
    { op: 'publish', descriptor: { ...svc('svc-a', 1), id: 'Upper' } },
    { op: 'publish', descriptor: { ...svc('svc-a', 1), version: 0 } },
    { op: 'publish', descriptor: svc('svc-a', 1, { addr: 'no-port' }) },
    { op: 'publish', descriptor: svc('svc-a', 1, { weight: -1 }) },
    {
      op: 'publish',
      descriptor: {
        id: 'n1',
        kind: 'node',
        version: 1,
        body: { region: 'eu', addr: 'h:1', labels: { a: 1 } },
      },
    },
    { op: 'delete', descriptor: svc('svc-a', 1) },
    { op: 'signers', version: 2, signers: { signers: ids(ks).reverse(), threshold: 1 } },
    { op: 'signers', version: 2, signers: { signers: ids(ks), threshold: 4 } },
    [],
    'x',
  ];
  for (const b of bad)
    assert.equal(await codeOf(gov.propose(b)), 'BadRequest', JSON.stringify(b).slice(0, 120));
  const p = await gov.propose(body(s, []));
  assert.equal(await codeOf(gov.approve(p.proposal_id, { signature: good, more: 1 })), 'BadRequest');
  assert.equal(reg.head.version, 0);
});

test('attack: rollback — an old or repeated version is 409 StaleVersion, at propose and at apply', async () => {
  const { reg, gov, ks, metrics } = await setup(3, 1);
  const v1 = publish(svc('svc-a', 1));
  const v2 = publish(svc('svc-a', 2, { weight: 9 }));
  const v2b = publish(svc('svc-a', 2, { weight: 1 }));
  assert.equal(await codeOf(gov.propose(body(v2, [sig(ks[0]!, v2)]))), 'StaleVersion'); // skip ahead
  await gov.apply((await gov.propose(body(v1, [sig(ks[0]!, v1)]))).proposal_id);
  const pa = await gov.propose(body(v2, [sig(ks[0]!, v2)]));
  const pb = await gov.propose(body(v2b, [sig(ks[0]!, v2b)]));
  await gov.apply(pa.proposal_id);
  assert.equal(await codeOf(gov.apply(pb.proposal_id)), 'StaleVersion'); // lost the race
  assert.equal(await codeOf(gov.propose(body(v1, [sig(ks[0]!, v1)]))), 'StaleVersion'); // re-publish old
  assert.equal(reg.head.version, 2);
  assert.equal(gov.state.current('svc-a')!.body.weight, 9);
  assert.equal(gov.state.at('svc-a', 1)!.version, 1);
  assert.equal(metrics.r('stale_version'), 3);
});

test('attack: threshold not met → 412 NoQuorum, nothing applied', async () => {
  const { reg, gov, ks, metrics } = await setup(5, 3);
  const s = publish(svc('svc-a', 1));
  const p = await gov.propose(body(s, [sig(ks[0]!, s), sig(ks[1]!, s)]));
  assert.equal(await codeOf(gov.apply(p.proposal_id)), 'NoQuorum');
  assert.equal(reg.head.version, 0);
  await gov.approve(p.proposal_id, { signature: sig(ks[4]!, s) });
  assert.equal((await gov.apply(p.proposal_id)).version, 1);
  assert.equal(metrics.u('rejected'), 1);
});

test('deprecate is additive: a new version in state deprecated, final, dropped from the regions map', async () => {
  const { gov, ks } = await setup(1, 1);
  const v1 = publish(svc('svc-a', 1));
  await gov.apply((await gov.propose(body(v1, [sig(ks[0]!, v1)]))).proposal_id);
  assert.equal(gov.state.regions()['us-east-1']!.services.length, 1);
  const dep = { op: 'deprecate' as const, descriptor: svc('svc-a', 2) };
  await gov.apply((await gov.propose(body(dep, [sig(ks[0]!, dep)]))).proposal_id);
  assert.equal(gov.state.current('svc-a')!.state, 'deprecated');
  assert.equal(gov.state.at('svc-a', 1)!.state, 'published');
  assert.deepEqual(gov.state.regions(), {});
  assert.deepEqual(gov.state.counts(), { published: 0, deprecated: 1 });
  const again = publish(svc('svc-a', 3));
  assert.equal(await codeOf(gov.propose(body(again, [sig(ks[0]!, again)]))), 'Conflict');
  const ghost = { op: 'deprecate' as const, descriptor: svc('svc-zzz', 1) };
  assert.equal(await codeOf(gov.propose(body(ghost, [sig(ks[0]!, ghost)]))), 'Conflict');
});

test('rotation: needs a threshold of the current set AND of the new set', async () => {
  const { reg, gov, ks, metrics } = await setup(3, 2);
  const fresh = keys(2);
  const rot = rotation(2, fresh, 2);
  // Only the old set (a stolen-minority-free but unconsented new set).
  const onlyOld = await gov.propose(body(rot, [sig(ks[0]!, rot), sig(ks[1]!, rot)]));
  assert.equal(await codeOf(gov.apply(onlyOld.proposal_id)), 'NoQuorum');
  // Only the new set (an attacker's keys cannot take over).
  const onlyNew = await gov.propose(body(rot, [sig(fresh[0]!, rot), sig(fresh[1]!, rot)]));
  assert.equal(await codeOf(gov.apply(onlyNew.proposal_id)), 'NoQuorum');
  // Old threshold met but one short of the new one.
  const partial = await gov.propose(body(rot, [sig(ks[0]!, rot), sig(ks[2]!, rot), sig(fresh[0]!, rot)]));
  assert.deepEqual(gov.get(partial.proposal_id).detail, {
    current: { have: 2, need: 2 },
    next: { have: 1, need: 2 },
  });
  assert.equal(await codeOf(gov.apply(partial.proposal_id)), 'NoQuorum');
  assert.equal(reg.head.version, 0);
  assert.equal(metrics.r('no_quorum'), 3);
  // Both: applied; the commit allow-list follows.
  await gov.approve(partial.proposal_id, { signature: sig(fresh[1]!, rot) });
  const r = await gov.apply(partial.proposal_id);
  assert.equal(r.subject_version, 2);
  assert.deepEqual(gov.state.signerSet(), rot.signers);
  assert.deepEqual([...reg.signers].sort(), ids(fresh));
  // The old keys no longer count; the new ones do.
  const s = publish(svc('svc-a', 1));
  assert.equal(await codeOf(gov.propose(body(s, [sig(ks[0]!, s)]))), 'BadSignature');
  const p = await gov.propose(body(s, [sig(fresh[0]!, s), sig(fresh[1]!, s)]));
  assert.equal((await gov.apply(p.proposal_id)).version, 2);
  // A stale rotation (version 2 again) is refused.
  const stale = rotation(2, ks, 1);
  assert.equal(await codeOf(gov.propose(body(stale, [sig(fresh[0]!, stale)]))), 'StaleVersion');
  // Proposals signed by a rotated-out signer lose that signature's weight.
  assert.equal(gov.get(onlyOld.proposal_id).have, 0);
});

test('rotation: thresholds below the set size; a lost key does not lock the registry', async () => {
  const { gov, ks } = await setup(3, 2);
  // ks[2] is lost: the two remaining old keys plus 2-of-3 new ones rotate it out.
  const next = [ks[0]!, ks[1]!, ...keys(1)];
  const rot = rotation(2, next, 2);
  const p = await gov.propose(body(rot, [sig(ks[0]!, rot), sig(ks[1]!, rot)]));
  assert.equal((await gov.apply(p.proposal_id)).subject_version, 2);
  assert.equal(gov.state.signerSet().threshold, 2);
});

test('expired proposal: 410 Gone for approve/apply/get, then 404; nothing applied', async () => {
  const { reg, gov, ks, clock, metrics } = await setup(3, 1, { ttlMs: 1000 });
  const s = publish(svc('svc-a', 1));
  const p = await gov.propose(body(s, []));
  clock.t += 1000;
  assert.equal(await codeOf(() => gov.get(p.proposal_id)), 'Gone');
  assert.equal(await codeOf(gov.approve(p.proposal_id, { signature: sig(ks[0]!, s) })), 'Gone');
  assert.equal(await codeOf(gov.apply(p.proposal_id)), 'Gone');
  clock.t += 1000;
  assert.equal(await codeOf(() => gov.get(p.proposal_id)), 'NotFound');
  assert.equal(await codeOf(gov.apply('01NOTAPROPOSAL')), 'NotFound');
  assert.equal(reg.head.version, 0);
  assert.equal(metrics.r('expired'), 2);
  assert.equal(gov.pendingProposals(), 0);
});

test('listing: id order, kind and region filters, cursor paging; regions map', async () => {
  const { gov, ks } = await setup(1, 1);
  const ds = [
    svc('svc-b@eu', 1, { region: 'eu-west-1' }),
    svc('svc-a@us', 1),
    svc('svc-c@us', 1, { tls: true, weight: 5 }),
    {
      id: 'node-1',
      kind: 'node' as const,
      version: 1,
      body: { region: 'us-east-1', addr: '[2001:db8::1]:7000', labels: { zone: 'b' } },
    },
    { id: 'region-us', kind: 'region' as const, version: 1, body: { region: 'us-east-1' } },
    { id: 'pin-1', kind: 'policy_pin' as const, version: 1, body: { policy: 'default', digest: 'b3:abc' } },
  ];
  for (const d of ds) {
    const s = publish(d);
    await gov.apply((await gov.propose(body(s, [sig(ks[0]!, s)]))).proposal_id);
  }
  const page1 = gov.state.list({ limit: 2 });
  assert.deepEqual(
    page1.items.map((d) => d.id),
    ['node-1', 'pin-1'],
  );
  const page2 = gov.state.list({ limit: 2, after: page1.next_cursor! });
  assert.deepEqual(
    page2.items.map((d) => d.id),
    ['region-us', 'svc-a@us'],
  );
  const page3 = gov.state.list({ limit: 2, after: page2.next_cursor! });
  assert.deepEqual(
    page3.items.map((d) => d.id),
    ['svc-b@eu', 'svc-c@us'],
  );
  assert.equal(page3.next_cursor, null);
  assert.deepEqual(
    gov.state.list({ limit: 10, kind: 'service', region: 'us-east-1' }).items.map((d) => d.id),
    ['svc-a@us', 'svc-c@us'],
  );
  assert.deepEqual(gov.state.regions(), {
    'eu-west-1': { services: [{ id: 'svc-b@eu', addr: '10.0.0.5:9000', tls: false, weight: 1 }] },
    'us-east-1': {
      services: [
        { id: 'svc-a@us', addr: '10.0.0.5:9000', tls: false, weight: 1 },
        { id: 'svc-c@us', addr: '10.0.0.5:9000', tls: true, weight: 5 },
      ],
    },
  });
});

test('replay: a reopened registry rebuilds descriptors and every signer set from the log', async () => {
  const a = await setup(2, 2);
  const s = publish(svc('svc-a', 1));
  await a.gov.apply(
    (
      await a.gov.propose(
        body(
          s,
          a.ks.map((k) => sig(k, s)),
        ),
      )
    ).proposal_id,
  );
  // An opaque commit in between shares the log and the chain.
  const cb = signedBytes({
    registry: REG,
    op: 'commit',
    payload_b3: 'b3:SGVsbG8=',
    version: a.reg.head.version + 1,
  });
  await a.reg.commit({ payload_b3: 'b3:SGVsbG8=', signatures: a.ks.map((k) => signBytes(k, cb)) });
  const fresh = keys(1);
  const rot = rotation(2, fresh, 1);
  await a.gov.apply(
    (await a.gov.propose(body(rot, [...a.ks.map((k) => sig(k, rot)), sig(fresh[0]!, rot)]))).proposal_id,
  );
  const s2 = publish(svc('svc-a', 2));
  await a.gov.apply((await a.gov.propose(body(s2, [sig(fresh[0]!, s2)]))).proposal_id);
  // Reopen with the original (genesis) config: governance folds the log read again, or (as
  // startRegistry does) the entries Registry.open replayed, commits left out.
  for (const fromReplay of [false, true]) {
    const replayed: LogEntry[] = [];
    const { registry } = await Registry.open(a.store, {
      registryId: REG,
      signers: ids(a.ks),
      threshold: 2,
      ...(fromReplay ? { onReplay: (e: LogEntry) => e.op !== 'commit' && replayed.push(e) } : {}),
    });
    const gov = await attachGovernance(registry, fromReplay ? { replayed } : {});
    if (fromReplay)
      assert.deepEqual(
        replayed.map((e) => e.version),
        [1, 3, 4],
      );
    assert.equal(gov.state.current('svc-a')!.version, 2);
    assert.deepEqual(gov.state.signerSet().signers, ids(fresh));
    assert.deepEqual(gov.state.signerSetFor(1).signers, ids(a.ks));
    assert.deepEqual(gov.state.signerSetFor(3).signers, ids(a.ks)); // the rotation itself is governed by the old set
    assert.deepEqual(gov.state.signerSetFor(4).signers, ids(fresh));
    assert.equal(registry.head.version, 4);
    assert.deepEqual([...registry.signers].sort(), ids(fresh));
    chainOk(await all(registry));
  }
});
