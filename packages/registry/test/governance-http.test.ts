// Governance over HTTP against a real in-process svc-registry (ephemeral ports): the v1 routes,
// attacks with the right 4xx and envelope, counters moving, capabilities, rotation and the stream.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger } from '@ron/kernel';
import { sseConnect, tempDir } from '@ron/testkit';
import {
  generateRootKey,
  loadRegistryConfig,
  signBytes,
  signedBytes,
  startRegistry,
  type KeyFile,
  type RunningRegistry,
} from '../src/index.js';
import { mintCapability, parseRootKey } from '../src/governance/capabilities.js';
import { type Subject } from '../src/governance/quorum.js';
import { body, ids, keys, publish, rotation, sig, svc } from './governance-helpers.js';

const REGISTRY = 'gov-http';

interface Started extends RunningRegistry {
  ks: KeyFile[];
}

async function start(env: Record<string, string> = {}, n = 3, t = 2, ks = keys(n)): Promise<Started> {
  const { config } = loadRegistryConfig({
    env: {
      REGISTRY_ADDR: '127.0.0.1:0',
      METRICS_ADDR: '127.0.0.1:0',
      AMNESIA: '1',
      REGISTRY_ID: REGISTRY,
      SIGNER_ALLOWLIST: ids(ks).join(','),
      SIG_THRESHOLD: String(t),
      ...env,
    },
  });
  const r = await startRegistry({
    config,
    logger: createLogger('svc-registry', 'silent'),
    defaultCollectors: false,
  });
  return Object.assign(r, { ks });
}

const s = (k: KeyFile, subj: Subject): ReturnType<typeof sig> => sig(k, subj, REGISTRY);

async function call(
  r: RunningRegistry,
  method: string,
  path: string,
  b?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const init: RequestInit = {
    method,
    headers: { ...(b !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
  };
  if (b !== undefined) init.body = typeof b === 'string' ? b : JSON.stringify(b);
  const res = await fetch(`${r.apiUrl}${path}`, init);
  const text = await res.text();
  return {
    status: res.status,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    headers: res.headers,
  };
}

async function metric(r: RunningRegistry, name: string, label: string): Promise<number> {
  const text = await (await fetch(`${r.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${label}}`));
  assert.ok(line !== undefined, `${name}{${label}} is exported`);
  return Number(line.split(' ').at(-1));
}

function code(res: { body: Record<string, unknown> }): string {
  return (res.body.error as { code: string }).code;
}

let reg: Started;
before(async () => {
  reg = await start();
});
after(async () => {
  await reg.close(1000);
});

test('publish over HTTP: 202 proposal, approvals over time, 200 apply, idempotent, readable everywhere', async () => {
  const stream = await sseConnect(`${reg.apiUrl}/registry/stream?from=0`);
  try {
    const subj = publish(svc('svc-storage@us-east-1', 1, { tls: true, weight: 3 }));
    const p = await call(reg, 'POST', '/v1/registry/proposals', body(subj, [s(reg.ks[0]!, subj)]));
    assert.equal(p.status, 202);
    assert.deepEqual([p.body.have, p.body.need], [1, 2]);
    assert.match(String(p.body.expires_at), /^\d{4}-\d\d-\d\dT/);
    const pid = String(p.body.proposal_id);
    const early = await call(reg, 'POST', `/v1/registry/apply/${pid}`);
    assert.equal(early.status, 412);
    assert.equal(code(early), 'NoQuorum');
    const ap = await call(reg, 'POST', `/v1/registry/proposals/${pid}/approvals`, {
      signature: s(reg.ks[2]!, subj),
    });
    assert.equal(ap.status, 200);
    assert.deepEqual([ap.body.have, ap.body.need], [2, 2]);
    assert.equal((await call(reg, 'GET', `/v1/registry/proposals/${pid}`)).body.state, 'ready');
    const a1 = await call(reg, 'POST', `/v1/registry/apply/${pid}`);
    const a2 = await call(reg, 'POST', `/v1/registry/apply/${pid}`);
    assert.equal(a1.status, 200);
    assert.deepEqual(a2.body, a1.body);
    const version = Number(a1.body.version);
    assert.equal(version, reg.registry.head.version);
    const d = await call(reg, 'GET', '/v1/registry/descriptors/svc-storage@us-east-1');
    assert.equal(d.status, 200);
    assert.deepEqual([d.body.state, d.body.version, d.body.log_version], ['published', 1, version]);
    assert.equal(
      (await call(reg, 'GET', '/v1/registry/descriptors/svc-storage@us-east-1?version=1')).status,
      200,
    );
    assert.equal(
      (await call(reg, 'GET', '/v1/registry/descriptors/svc-storage@us-east-1?version=2')).status,
      404,
    );
    assert.equal((await call(reg, 'GET', '/v1/registry/descriptors/nope')).status, 404);
    assert.equal((await call(reg, 'GET', '/v1/registry/descriptors/Bad%20Id')).status, 400);
    const list = await call(reg, 'GET', '/v1/registry/descriptors?kind=service&region=us-east-1&limit=10');
    assert.ok((list.body.items as { id: string }[]).some((x) => x.id === 'svc-storage@us-east-1'));
    assert.equal((await call(reg, 'GET', '/v1/registry/descriptors?kind=queue')).status, 400);
    assert.equal((await call(reg, 'GET', '/v1/registry/descriptors?limit=0')).status, 400);
    const map = await call(reg, 'GET', '/v1/registry/regions/map');
    assert.deepEqual((map.body.regions as Record<string, unknown>)['us-east-1'], {
      services: [{ id: 'svc-storage@us-east-1', addr: '10.0.0.5:9000', tls: true, weight: 3 }],
    });
    assert.ok((await metric(reg, 'registry_descriptors_total', 'state="published"')) >= 1);
    assert.ok((await metric(reg, 'registry_update_total', 'result="applied"')) >= 1);
    const stats = await call(reg, 'GET', '/registry/stats');
    assert.ok((stats.body.descriptors as { published: number }).published >= 1);
    // Same log, chain and stream as commits.
    const ev = await stream.next((e) => e.event === 'commit' && e.id === String(version));
    assert.equal(JSON.parse(ev.data).op, 'publish');
    const entry = await call(reg, 'GET', `/registry/${version}`);
    assert.equal(entry.body.op, 'publish');
    assert.deepEqual(entry.body.body, subj.descriptor);
  } finally {
    stream.close();
  }
});

test('attacks over HTTP: right 4xx with the envelope, nothing applied, counters move', async () => {
  const head0 = reg.registry.head.version;
  const invalid0 = await metric(reg, 'registry_update_total', 'result="invalid_sig"');
  const rejected0 = await metric(reg, 'registry_update_total', 'result="rejected"');
  const stale0 = await metric(reg, 'rejected_total', 'reason="stale_version"');
  const [stranger] = keys(1);
  const subj = publish(svc('svc-x', 1));
  const cases: [string, unknown, number, string][] = [
    ['duplicate signer', body(subj, [s(reg.ks[0]!, subj), s(reg.ks[0]!, subj)]), 422, 'BadSignature'],
    ['not allow-listed', body(subj, [s(stranger!, subj)]), 422, 'BadSignature'],
    ['replay: other registry', body(subj, [sig(reg.ks[0]!, subj, 'default')]), 422, 'BadSignature'],
    ['replay: other version', body(subj, [s(reg.ks[0]!, publish(svc('svc-x', 2)))]), 422, 'BadSignature'],
    [
      'replay: other op',
      body(subj, [s(reg.ks[0]!, { op: 'deprecate', descriptor: svc('svc-x', 1) })]),
      422,
      'BadSignature',
    ],
    [
      'tampered body',
      body(publish(svc('svc-x', 1, { addr: '6.6.6.6:1' })), [s(reg.ks[0]!, subj)]),
      422,
      'BadSignature',
    ],
    ['rollback / skip', body(publish(svc('svc-storage@us-east-1', 1)), []), 409, 'StaleVersion'],
    ['unknown top-level field', { ...body(subj, []), admin: true }, 400, 'BadRequest'],
    ['unknown body field', body(publish(svc('svc-x', 1, { evil: 1 })), []), 400, 'BadRequest'],
    ['bad kind', { op: 'publish', descriptor: { ...svc('svc-x', 1), kind: 'x' } }, 400, 'BadRequest'],
    ['duplicate JSON keys', '{"op":"publish","op":"deprecate"}', 400, 'BadRequest'],
    ['malformed JSON', '{"op":', 400, 'BadRequest'],
  ];
  for (const [why, b, status, c] of cases) {
    const res = await call(reg, 'POST', '/v1/registry/proposals', b);
    assert.equal(res.status, status, why);
    assert.equal(code(res), c, why);
    assert.equal(typeof (res.body.error as { request_id: string }).request_id, 'string');
  }
  const ct = await call(reg, 'POST', '/v1/registry/proposals', 'op=publish', {
    'content-type': 'text/plain',
  });
  assert.equal(ct.status, 415);
  assert.equal(reg.registry.head.version, head0);
  assert.equal(await metric(reg, 'registry_update_total', 'result="invalid_sig"'), invalid0 + 6);
  assert.ok((await metric(reg, 'registry_update_total', 'result="rejected"')) >= rejected0 + 4);
  assert.equal(await metric(reg, 'rejected_total', 'reason="stale_version"'), stale0 + 1);
  assert.equal((await call(reg, 'POST', '/v1/registry/apply/01NOPE')).status, 404);
  const wrong = await call(reg, 'DELETE', '/v1/registry/descriptors/svc-x');
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get('allow'), 'GET, HEAD, OPTIONS');
  assert.equal((await call(reg, 'GET', '/v1/registry/apply/01NOPE')).status, 405);
  assert.equal((await call(reg, 'GET', '/v1/registry/proposals/01NOPE')).status, 404);
});

test('rotation over HTTP: old-only and new-only refused; both applied; commits follow the new set', async () => {
  const r = await start({}, 2, 2);
  try {
    const fresh = keys(2);
    const rot = rotation(2, fresh, 2);
    const sr = (k: KeyFile): ReturnType<typeof sig> => s(k, rot);
    const oldOnly = await call(r, 'POST', '/v1/registry/proposals', body(rot, r.ks.map(sr)));
    assert.equal(oldOnly.status, 202);
    assert.equal(
      code(await call(r, 'POST', `/v1/registry/apply/${String(oldOnly.body.proposal_id)}`)),
      'NoQuorum',
    );
    const newOnly = await call(r, 'POST', '/v1/registry/proposals', body(rot, fresh.map(sr)));
    assert.equal(
      code(await call(r, 'POST', `/v1/registry/apply/${String(newOnly.body.proposal_id)}`)),
      'NoQuorum',
    );
    assert.equal(r.registry.head.version, 0);
    const both = await call(r, 'POST', '/v1/registry/proposals', body(rot, [...r.ks, ...fresh].map(sr)));
    const applied = await call(r, 'POST', `/v1/registry/apply/${String(both.body.proposal_id)}`);
    assert.equal(applied.status, 200);
    const signers = await call(r, 'GET', '/v1/registry/signers');
    assert.deepEqual((signers.body.current as { signers: string[] }).signers, ids(fresh));
    // A commit signed by the old set is now refused; the new set commits.
    const v = r.registry.head.version + 1;
    const bytes = signedBytes({ registry: REGISTRY, op: 'commit', payload_b3: 'b3:AA', version: v });
    const post = (sigs: unknown): Promise<Response> =>
      fetch(`${r.apiUrl}/registry/commit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payload_b3: 'b3:AA', signatures: sigs }),
      });
    assert.equal((await post(r.ks.map((k) => signBytes(k, bytes)))).status, 422);
    assert.equal((await post(fresh.map((k) => signBytes(k, bytes)))).status, 200);
  } finally {
    await r.close(1000);
  }
});

test('capabilities: 401 with WWW-Authenticate when missing/invalid/expired, 403 for a wrong scope', async () => {
  const dir = tempDir();
  const rootText = generateRootKey();
  const keyFile = join(dir.path, 'root.key');
  writeFileSync(keyFile, rootText, { mode: 0o600 });
  const r = await start({ REGISTRY_CAPABILITY_KEY_FILE: keyFile }, 1, 1);
  try {
    const root = parseRootKey(rootText);
    const subj = publish(svc('svc-cap', 1));
    const b = body(subj, [s(r.ks[0]!, subj)]);
    const hour = new Date(Date.now() + 3600_000);
    const propose = mintCapability({ rootKey: root, scopes: ['registry:propose'], expiresAt: hour });
    const apply = mintCapability({ rootKey: root, scopes: ['registry:apply'], expiresAt: hour });
    const expired = mintCapability({
      rootKey: root,
      scopes: ['registry:propose'],
      expiresAt: new Date(Date.now() - 1000),
    });
    const none = await call(r, 'POST', '/v1/registry/proposals', b);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(
      (await call(r, 'POST', '/v1/registry/proposals', b, { authorization: `Bearer ${expired}` })).status,
      401,
    );
    assert.equal(
      (await call(r, 'POST', '/v1/registry/proposals', b, { authorization: 'Bearer AAAA' })).status,
      401,
    );
    assert.equal(
      (await call(r, 'POST', '/v1/registry/proposals', b, { authorization: `Bearer ${apply}` })).status,
      403,
    );
    const ok = await call(r, 'POST', '/v1/registry/proposals', b, { authorization: `Bearer ${propose}` });
    assert.equal(ok.status, 202);
    const pid = String(ok.body.proposal_id);
    assert.equal(
      (await call(r, 'POST', `/v1/registry/apply/${pid}`, undefined, { authorization: `Bearer ${propose}` }))
        .status,
      403,
    );
    assert.equal(
      (await call(r, 'POST', `/v1/registry/apply/${pid}`, undefined, { authorization: `Bearer ${apply}` }))
        .status,
      200,
    );
    assert.equal(await metric(r, 'rejected_total', 'reason="unauthorized"'), 3);
    assert.equal(await metric(r, 'rejected_total', 'reason="forbidden"'), 2);
    // Reads stay open.
    assert.equal((await call(r, 'GET', '/v1/registry/descriptors/svc-cap')).status, 200);
  } finally {
    await r.close(1000);
    dir.remove();
  }
});

test('read-only: governance writes are shed with 503 ReadOnly, reads continue', async () => {
  const r = await start({ REGISTRY_READ_ONLY: '1' }, 1, 1);
  try {
    const subj = publish(svc('svc-ro', 1));
    const res = await call(r, 'POST', '/v1/registry/proposals', body(subj, [s(r.ks[0]!, subj)]));
    assert.equal(res.status, 503);
    assert.equal(code(res), 'ReadOnly');
    assert.equal(await metric(r, 'rejected_total', 'reason="read_only"'), 1);
    assert.equal((await call(r, 'GET', '/v1/registry/regions/map')).status, 200);
  } finally {
    await r.close(1000);
  }
});

test('stream ?snapshot=1: current descriptors, then synced {head}, then only live entries', async () => {
  const r = await start({}, 1, 1);
  try {
    const pub = async (id: string, v: number): Promise<void> => {
      const subj = publish(svc(id, v));
      const p = await call(r, 'POST', '/v1/registry/proposals', body(subj, [s(r.ks[0]!, subj)]));
      assert.equal((await call(r, 'POST', `/v1/registry/apply/${String(p.body.proposal_id)}`)).status, 200);
    };
    await pub('svc-b', 1);
    await pub('svc-a', 1);
    await pub('svc-a', 2);
    const head = r.registry.head.version;
    const c = await sseConnect(`${r.apiUrl}/registry/stream?snapshot=1`);
    try {
      const synced = await c.next((e) => e.event === 'synced');
      assert.deepEqual(JSON.parse(synced.data), { head });
      const before = c.events.slice(0, c.events.indexOf(synced));
      assert.deepEqual(
        before
          .filter((e) => e.event === 'descriptor')
          .map((e) => {
            const d = JSON.parse(e.data) as { id: string; version: number };
            return [d.id, d.version];
          }),
        [
          ['svc-a', 2],
          ['svc-b', 1],
        ],
      );
      assert.equal(before.filter((e) => e.event === 'commit').length, 0);
      await pub('svc-c', 1);
      const live = await c.next((e) => e.event === 'commit');
      assert.equal(live.id, String(head + 1));
      assert.equal(c.events.filter((e) => e.event === 'commit').length, 1);
    } finally {
      c.close();
    }
  } finally {
    await r.close(1000);
  }
});

test('dev mode (loopback): an unsigned proposal is signed by the process-held key', async () => {
  const r = await start({ REGISTRY_DEV: '1' }, 1, 1);
  try {
    const subj = publish(svc('svc-dev', 1));
    const p = await call(r, 'POST', '/v1/registry/proposals', body(subj, []));
    assert.equal(p.status, 202);
    assert.equal(p.body.state, 'ready');
    assert.equal((p.body.signatures as { signer_id: string }[])[0]!.signer_id, r.devKey!.signer_id);
    assert.equal((await call(r, 'POST', `/v1/registry/apply/${String(p.body.proposal_id)}`)).status, 200);
  } finally {
    await r.close(1000);
  }
});
