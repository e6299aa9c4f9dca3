import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '@ron/testkit';
import { startNode } from './helpers.js';

// A real non-loopback socket: a network namespace joined to the host by a veth pair on a private
// /30 that exists only on that pair. macronode binds the host side; requests come from inside the
// namespace, so the admin plane sees a non-loopback *socket* address. A non-loopback admin listener
// must have TLS or a token (SPEC §4.7), so this one serves HTTPS with a throwaway certificate and no
// token: POST routes must refuse every non-loopback caller.

const tag = `${process.pid % 100000}`;
const NS = `mnode${tag}`;
const HOST_IF = `mnh${tag}`;
const NS_IF = `mnn${tag}`;
const octet = (process.pid % 200) + 20;
const HOST_IP = `10.254.${octet}.1`;
const NS_IP = `10.254.${octet}.2`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });
}

function cleanup(): void {
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore', timeout: 10_000 });
  spawnSync('ip', ['link', 'del', HOST_IF], { stdio: 'ignore', timeout: 10_000 });
}

/** Sets up the namespace; returns a reason string if the kernel (or permissions) refuse it. */
function setup(): string | undefined {
  try {
    cleanup();
    ip('netns', 'add', NS);
    ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF);
    ip('link', 'set', NS_IF, 'netns', NS);
    ip('addr', 'add', `${HOST_IP}/30`, 'dev', HOST_IF);
    ip('link', 'set', HOST_IF, 'up');
    ip('netns', 'exec', NS, 'ip', 'addr', 'add', `${NS_IP}/30`, 'dev', NS_IF);
    ip('netns', 'exec', NS, 'ip', 'link', 'set', NS_IF, 'up');
    ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');
    return undefined;
  } catch (err) {
    cleanup();
    const e = err as { stderr?: Buffer; message: string };
    return (e.stderr?.toString().trim() || e.message).split('\n')[0];
  }
}

/** Runs fetch inside the namespace; returns {status, body, headers}. */
function fetchFromNs(
  url: string,
  init: { method: string; headers?: Record<string, string> },
  ca: string,
): { status: number; body: string } {
  const script = `fetch(${JSON.stringify(url)}, ${JSON.stringify(init)}).then(async (r) => { process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })); }, (e) => { process.stdout.write(JSON.stringify({ status: -1, body: String(e && e.cause || e) })); });`;
  const r = spawnSync('ip', ['netns', 'exec', NS, process.execPath, '-e', script], {
    encoding: 'utf8',
    timeout: 15_000,
    env: { ...process.env, NODE_EXTRA_CA_CERTS: ca },
  });
  if (r.status !== 0) throw new Error(`netns fetch failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { status: number; body: string };
}

test('admin POST from a non-loopback socket without a token is refused (403), even with a spoofed X-Forwarded-For', async () => {
  const refused = setup();
  if (refused !== undefined) {
    // Never a silent skip: this test needs root and iproute2 (.ci/run installs it).
    assert.fail(`the kernel refused a network namespace (${refused}): run as root with iproute2 (ip netns)`);
  }
  let n: Awaited<ReturnType<typeof startNode>> | undefined;
  const dir = tempDir('macronode-netns-');
  try {
    const cert = join(dir.path, 'admin.crt');
    const key = join(dir.path, 'admin.key');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=macronode-test',
        '-addext',
        `subjectAltName=IP:${HOST_IP}`,
      ],
      { stdio: 'pipe', timeout: 20_000 },
    );
    n = await startNode({
      httpAddr: `${HOST_IP}:0`,
      env: { RON_TLS__ADMIN__CERT: cert, RON_TLS__ADMIN__KEY: key },
    });
    assert.ok(n.admin.startsWith(`https://${HOST_IP}:`));
    // GET stays open to probes from anywhere.
    assert.equal(fetchFromNs(`${n.admin}/readyz`, { method: 'GET' }, cert).status, 200);
    for (const route of ['/api/v1/reload', '/api/v1/shutdown', '/api/v1/services/kv/reset']) {
      const r = fetchFromNs(
        `${n.admin}${route}`,
        { method: 'POST', headers: { 'x-forwarded-for': '127.0.0.1' } },
        cert,
      );
      assert.equal(r.status, 403, `${route}: ${r.body}`);
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'Forbidden');
    }
    // The same request from the host's side of the pair is also non-loopback.
    const ca = readFileSync(cert);
    const status = (method: string, path: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request(`${n!.admin}${path}`, { method, ca, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await status('POST', '/api/v1/reload'), 403);
    // The node is still running (the shutdown POST was refused).
    assert.equal(await status('GET', '/readyz'), 200);
  } finally {
    if (n) await n.stop();
    cleanup();
    dir.remove();
  }
});
