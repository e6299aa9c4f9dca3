import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { get, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { sseConnect, tempDir } from '@ron/testkit';
import { planeStatus, startNode, type TestNode } from './helpers.js';

// The console's server side over plain HTTP (the browser tests are in console.test.ts).

function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('operator console routes (real process)', () => {
  let n: TestNode;
  const dir = tempDir('macronode-console-');
  const file = join(dir.path, 'macronode.toml');
  before(async () => {
    writeFileSync(file, 'log_level = "info"\nadmin_token = "s3cret-token"\n');
    n = await startNode({ timeoutMs: 45_000, args: ['--config', file], env: { LOG_LEVEL: undefined } });
  });
  after(async () => {
    await n.stop();
    dir.remove();
  });

  test('the start-up log prints the console link', () => {
    assert.equal(n.prog.ready.console_url, `${n.admin}/ui/`);
    assert.match(String(n.prog.ready.msg), new RegExp(`console  ${n.admin}/ui/`));
  });

  test('GET /ui/ serves the page with content types, a strict CSP, ETag/304 and gzip', async () => {
    const r = await fetch(`${n.admin}/ui/`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    const html = await r.text();
    assert.match(html, /<script type="module" src="app.js"><\/script>/);
    // No inline script or style anywhere in the page.
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
    assert.doesNotMatch(html, /\sstyle=|<style/);
    const etag = r.headers.get('etag');
    assert.match(etag ?? '', /^"[A-Za-z0-9_-]{22}"$/);
    const again = await fetch(`${n.admin}/ui/`, { headers: { 'if-none-match': etag! } });
    assert.equal(again.status, 304);

    for (const [name, type] of [
      ['app.js', 'text/javascript; charset=utf-8'],
      ['style.css', 'text/css; charset=utf-8'],
      ['icon.svg', 'image/svg+xml'],
    ] as const) {
      const a = await fetch(`${n.admin}/ui/${name}`);
      assert.equal(a.status, 200, name);
      assert.equal(a.headers.get('content-type'), type);
    }
    // gzip when asked: the raw bytes (node:http does not decode) gunzip to the identity body.
    const plain = await (
      await fetch(`${n.admin}/ui/app.js`, { headers: { 'accept-encoding': 'identity' } })
    ).text();
    const gz = await rawGet(`${n.admin}/ui/app.js`, { 'accept-encoding': 'gzip, br' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers.vary, 'accept-encoding');
    assert.equal(gunzipSync(gz.body).toString('utf8'), plain);
    assert.ok(gz.body.length < plain.length / 2);

    const redirect = await fetch(`${n.admin}/ui`, { redirect: 'manual' });
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get('location'), '/ui/');
    assert.equal((await fetch(`${n.admin}/ui/nope.js`)).status, 404);
    assert.equal((await fetch(`${n.admin}/ui/..%2Fpackage.json`)).status, 404);
    const post = await fetch(`${n.admin}/ui/`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET');
  });

  test('the shipped console stays small: under 32 KiB gzipped in all (docs/console.md states the size)', async () => {
    let total = 0;
    for (const f of ['index.html', 'app.js', 'api.js', 'views.js', 'dom.js', 'style.css', 'icon.svg']) {
      const r = await rawGet(`${n.admin}/ui/${f}`, { 'accept-encoding': 'gzip' });
      assert.equal(r.headers['content-encoding'], 'gzip', f);
      total += r.body.length;
    }
    assert.ok(total < 32 * 1024, `console is ${total} bytes gzipped`);
  });

  test('GET /api/v1/ui/config: every key with its source, secrets redacted, auth mode', async () => {
    const c = (await (await fetch(`${n.admin}/api/v1/ui/config`)).json()) as {
      auth: string;
      file: string;
      rows: { key: string; value: unknown; source: string; secret: boolean }[];
    };
    assert.equal(c.auth, 'token');
    assert.equal(c.file, file);
    const row = (k: string): { value: unknown; source: string; secret: boolean } =>
      c.rows.find((r) => r.key === k)!;
    assert.deepEqual(row('admin_token'), { ...row('admin_token'), value: '***', secret: true });
    assert.match(row('admin_token').source, /^file/);
    assert.equal(row('log_level').value, 'info');
    assert.match(row('http_addr').source, /^flag/);
    assert.equal(row('supervisor.max_restarts').source, 'default');
    assert.doesNotMatch(JSON.stringify(c), /s3cret-token/);
  });

  test('GET /api/v1/ui/planes/registry aggregates the registry; unknown planes 404', async () => {
    const r = (await (await fetch(`${n.admin}/api/v1/ui/planes/registry`)).json()) as {
      state: string;
      views: { stats: { head: { version: number; chain_b3: string } }; descriptors: { items: unknown[] } };
    };
    assert.equal(r.state, 'running');
    assert.equal(r.views.stats.head.version, 0);
    assert.match(r.views.stats.head.chain_b3, /^b3:/);
    assert.deepEqual(r.views.descriptors.items, []);
    assert.equal((await fetch(`${n.admin}/api/v1/ui/planes/nope`)).status, 404);
    // A proposal without signatures stays pending (0 of 1) and is listed with its expiry.
    const prop = await fetch(`${n.gateway}/v1/registry/proposals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        op: 'publish',
        descriptor: { id: 'eu-west', kind: 'region', version: 1, body: { region: 'eu-west' } },
      }),
    });
    assert.equal(prop.status, 202, await prop.clone().text());
    const pid = ((await prop.json()) as { proposal_id: string }).proposal_id;
    const agg = (await (await fetch(`${n.admin}/api/v1/ui/planes/registry`)).json()) as {
      views: {
        proposals: {
          pending: number;
          items: { proposal_id: string; have: number; need: number; expires_at: string }[];
        };
      };
    };
    assert.equal(agg.views.proposals.pending, 1);
    assert.deepEqual(
      agg.views.proposals.items.map((p) => [p.proposal_id, p.have, p.need, typeof p.expires_at]),
      [[pid, 0, 1, 'string']],
    );
    const s = await sseConnect(`${n.admin}/api/v1/ui/planes/registry/stream`);
    try {
      assert.equal(s.status, 200);
      const hb = await s.next((e) => e.event === 'heartbeat', 10_000);
      assert.match(hb.data, /"head":0/);
    } finally {
      s.close();
    }
  });

  test('POST /api/v1/reload?dry_run=1 answers the diff with the reload shape and applies nothing; auth as for a reload', async () => {
    writeFileSync(file, 'log_level = "debug"\nadmin_token = "s3cret-token"\n');
    const unauth = await fetch(`${n.admin}/api/v1/reload?dry_run=1`, { method: 'POST' });
    assert.equal(unauth.status, 401);
    const auth = { authorization: 'Bearer s3cret-token' };
    const r = await fetch(`${n.admin}/api/v1/reload?dry_run=1`, { method: 'POST', headers: auth });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {
      version: 2,
      applied: ['log_level'],
      restarted: [],
      restart_required: [],
      dry_run: true,
      changes: [{ key: 'log_level', from: 'info', to: 'debug', source: `file (${file})` }],
    });
    const st = (await (await fetch(`${n.admin}/api/v1/status`)).json()) as {
      log_level: string;
      config_version: number;
    };
    assert.equal(st.log_level, 'info');
    assert.equal(st.config_version, 1);
    // An invalid file: 400 like a reload, nothing changes.
    writeFileSync(file, 'log_level = "loud"\n');
    const bad = await fetch(`${n.admin}/api/v1/reload?dry_run=1`, { method: 'POST', headers: auth });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /log_level/);
    writeFileSync(file, 'log_level = "info"\nadmin_token = "s3cret-token"\n');
  });

  test('node events carry the plane status and the readiness the console renders from', async () => {
    const sse = await sseConnect(`${n.admin}/api/v1/events`);
    try {
      const before = await planeStatus(n.admin, 'kv');
      process.kill(before.pid!, 'SIGKILL');
      const crashed = JSON.parse((await sse.next((e) => e.event === 'ServiceCrashed', 10_000)).data) as {
        service: string;
        plane: {
          state: string;
          restarts_in_window: number;
          max_restarts: number;
          next_restart_in_ms: number;
        };
        readiness: { ready: boolean; failing: Record<string, string> };
      };
      assert.equal(crashed.service, 'kv');
      assert.equal(crashed.plane.state, 'restarting');
      assert.equal(crashed.plane.restarts_in_window, 1);
      assert.equal(crashed.plane.max_restarts, 5);
      assert.ok(crashed.plane.next_restart_in_ms >= 0);
      assert.equal(crashed.readiness.ready, false);
      assert.match(crashed.readiness.failing.kv ?? '', /^restarting in \d+ ms after: killed by SIGKILL$/);
      const up = await sse.next(
        (e) => e.event === 'Health' && (JSON.parse(e.data) as { ok: boolean }).ok,
        15_000,
      );
      const h = JSON.parse(up.data) as {
        plane: { state: string; restarts: number; pid: number };
        readiness: { ready: boolean };
      };
      assert.equal(h.plane.state, 'running');
      assert.equal(h.plane.restarts, 1);
      assert.notEqual(h.plane.pid, before.pid);
      assert.equal(h.readiness.ready, true);
    } finally {
      sse.close();
    }
  });
});
