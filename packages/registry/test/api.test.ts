import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { json, startTestRegistry, type ErrorBody, type TestRegistry } from './helpers.js';

let r: TestRegistry;
before(async () => {
  r = await startTestRegistry({ REGISTRY_CORS__ALLOWED_ORIGINS: 'https://ok.example' });
});
after(() => r.close());

test('fresh head is version 0 with b3:0 and null committed_at; /v1 aliases agree', async () => {
  const h = await json(await fetch(`${r.apiUrl}/registry/head`));
  assert.deepEqual(h, { version: 0, payload_b3: 'b3:0', committed_at: null, chain_b3: 'b3:0' });
  assert.deepEqual(await json(await fetch(`${r.apiUrl}/v1/registry/head`)), h);
  assert.deepEqual(await json(await fetch(`${r.apiUrl}/v1/registry/version`)), { version: 0 });
});

test('a quorum-signed commit answers 200 with the new head (version +1) and the entry is readable and chained', async () => {
  const res = await r.commit('b3:SGVsbG8=');
  assert.equal(res.status, 200);
  const h = await json<{ version: number; payload_b3: string; chain_b3: string; committed_at: string }>(res);
  assert.equal(h.version, 1);
  assert.equal(h.payload_b3, 'b3:SGVsbG8=');
  assert.match(h.chain_b3, /^b3:[0-9a-f]{64}$/);
  const e = await json<{
    version: number;
    prev_b3: string;
    entry_b3: string;
    signatures: unknown[];
    op: string;
  }>(await fetch(`${r.apiUrl}/registry/1`));
  assert.equal(e.version, 1);
  assert.equal(e.op, 'commit');
  assert.equal(e.prev_b3, 'b3:0');
  assert.equal(e.entry_b3, h.chain_b3);
  assert.equal(e.signatures.length, 2);
  const res2 = await r.commit('b3:second');
  assert.equal(res2.status, 200);
  const e2 = await json<{ prev_b3: string }>(await fetch(`${r.apiUrl}/registry/2`));
  assert.equal(e2.prev_b3, h.chain_b3);
});

test('entries past head are 404 in the envelope; a non-numeric version is 400', async () => {
  const res = await fetch(`${r.apiUrl}/registry/999`);
  assert.equal(res.status, 404);
  assert.equal((await json<ErrorBody>(res)).error.code, 'NotFound');
  const res0 = await fetch(`${r.apiUrl}/registry/0`);
  assert.equal(res0.status, 404);
  const bad = await fetch(`${r.apiUrl}/registry/abc`);
  assert.equal(bad.status, 400);
  assert.equal((await json<ErrorBody>(bad)).error.code, 'BadRequest');
});

test('history returns entries in version order with paging and caps limit at 1000', async () => {
  for (let i = 0; i < 5; i++) assert.equal((await r.commit(`b3:h${i}`)).status, 200);
  const head = r.registry.head.version;
  const page = await json<{ entries: { version: number }[]; next: number | null; head: number }>(
    await fetch(`${r.apiUrl}/registry/history?from=2&limit=3`),
  );
  assert.deepEqual(
    page.entries.map((e) => e.version),
    [2, 3, 4],
  );
  assert.equal(page.next, 5);
  assert.equal(page.head, head);
  const all = await json<{ entries: { version: number }[]; next: number | null }>(
    await fetch(`${r.apiUrl}/registry/history`),
  );
  assert.deepEqual(
    all.entries.map((e) => e.version),
    Array.from({ length: head }, (_, i) => i + 1),
  );
  assert.equal(all.next, null);
  for (const q of ['limit=1001', 'limit=0', 'from=-1', 'from=x']) {
    const res = await fetch(`${r.apiUrl}/registry/history?${q}`);
    assert.equal(res.status, 400, q);
  }
});

test('stats report head, descriptor counts, proposals and stream clients', async () => {
  const s = await json<{
    head: { version: number };
    descriptors: object;
    pending_proposals: number;
    stream_clients: number;
  }>(await fetch(`${r.apiUrl}/registry/stats`));
  assert.equal(s.head.version, r.registry.head.version);
  assert.deepEqual(s.descriptors, { published: 0, deprecated: 0 });
  assert.equal(s.pending_proposals, 0);
  assert.equal(s.stream_clients, 0);
});

test('x-request-id and x-corr-id: valid ids echoed, invalid replaced, present in the envelope', async () => {
  const a = await fetch(`${r.apiUrl}/registry/head`, { headers: { 'x-request-id': 'abc-123' } });
  assert.equal(a.headers.get('x-request-id'), 'abc-123');
  assert.equal(a.headers.get('x-corr-id'), 'abc-123');
  const b = await fetch(`${r.apiUrl}/registry/head`, { headers: { 'x-corr-id': 'corr:9' } });
  assert.equal(b.headers.get('x-request-id'), 'corr:9');
  const c = await fetch(`${r.apiUrl}/registry/nope/deeper`, { headers: { 'x-request-id': 'bad id!' } });
  const id = c.headers.get('x-request-id');
  assert.ok(id !== null && id !== 'bad id!' && /^[0-9A-Z]{26}$/.test(id));
  assert.equal((await json<ErrorBody>(c)).error.request_id, id);
});

test('CORS: same-origin by default, configured origins allowed, preflight answered', async () => {
  const no = await fetch(`${r.apiUrl}/registry/head`, { headers: { origin: 'https://evil.example' } });
  assert.equal(no.headers.get('access-control-allow-origin'), null);
  const yes = await fetch(`${r.apiUrl}/registry/head`, { headers: { origin: 'https://ok.example' } });
  assert.equal(yes.headers.get('access-control-allow-origin'), 'https://ok.example');
  const pre = await fetch(`${r.apiUrl}/registry/commit`, {
    method: 'OPTIONS',
    headers: { origin: 'https://ok.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(pre.status, 204);
  assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
});

test('wrong method is 405 with Allow', async () => {
  const res = await fetch(`${r.apiUrl}/registry/head`, { method: 'DELETE' });
  assert.equal(res.status, 405);
  assert.match(res.headers.get('allow') ?? '', /GET/);
  assert.equal((await json<ErrorBody>(res)).error.code, 'MethodNotAllowed');
});

test('metrics: every SPEC §2.7 series is present, and commits move the counters and head gauge', async () => {
  const text = await (await fetch(`${r.adminUrl}/metrics`)).text();
  for (const name of [
    'requests_total{',
    'request_latency_seconds_bucket{',
    'registry_commits_total{result="ok"}',
    'registry_commits_total{result="no_quorum"}',
    'registry_commits_total{result="bad_signature"}',
    'registry_commit_latency_seconds_count',
    'registry_head_version',
    'registry_descriptors_total{state="published"}',
    'registry_descriptors_total{state="deprecated"}',
    'registry_update_total{result="applied"}',
    'registry_update_total{result="rejected"}',
    'registry_update_total{result="invalid_sig"}',
    'rejected_total{reason="body_cap"}',
    'rejected_total{reason="read_only"}',
    'registry_sse_clients',
    'registry_sse_clients_connected_total',
    'registry_sse_clients_disconnected_total',
    'registry_sse_dropped_total',
    'bus_lagged_total',
  ])
    assert.ok(text.includes(name), `missing ${name}`);
  assert.match(text, new RegExp(`^registry_head_version ${r.registry.head.version}$`, 'm'));
  const ok = Number(/^registry_commits_total\{result="ok"\} (\d+)/m.exec(text)?.[1]);
  assert.equal(ok, r.registry.head.version);
});

test('commit rejections move rejected_total{reason} like governance writes do (bad_request, bad_signature, no_quorum)', async () => {
  const r2 = await startTestRegistry();
  try {
    const count = async (reason: string): Promise<number> => {
      const text = await (await fetch(`${r2.adminUrl}/metrics`)).text();
      const m = new RegExp(`^rejected_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
      assert.ok(m, `rejected_total{reason="${reason}"} is not exposed`);
      return Number(m[1]);
    };
    for (const reason of ['bad_request', 'bad_signature', 'no_quorum'])
      assert.equal(await count(reason), 0, reason);
    assert.equal((await r2.post({ payload_b3: 'nope' })).status, 400);
    assert.equal((await r2.post('{"payload_b3":')).status, 400);
    assert.equal((await r2.commit('b3:one', 1)).status, 412);
    const v = r2.registry.head.version + 1;
    assert.equal(
      (
        await r2.post({
          payload_b3: 'b3:x',
          signatures: [r2.sign('b3:x', v + 1, r2.keys[0]!), r2.sign('b3:x', v, r2.keys[1]!)],
        })
      ).status,
      422,
    );
    assert.equal(await count('bad_request'), 2);
    assert.equal(await count('no_quorum'), 1);
    assert.equal(await count('bad_signature'), 1);
    // An accepted commit is not a rejection.
    assert.equal((await r2.commit('b3:ok')).status, 200);
    assert.equal(await count('no_quorum'), 1);
  } finally {
    await r2.close();
  }
});
