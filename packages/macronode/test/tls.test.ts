import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { test } from 'node:test';
import { tempDir, waitFor } from '@ron/testkit';
import { startNode } from './helpers.js';

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
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
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'pipe', timeout: 20_000 },
  );
  return { cert, key };
}

function get(
  url: string,
  ca: Buffer,
  agent: Agent | false,
  method = 'GET',
): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent, method }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

function peerFingerprint(url: string, ca: Buffer): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect({ host: u.hostname, port: Number(u.port), ca }, () => {
      const fp = s.getPeerX509Certificate()?.fingerprint256 ?? '';
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

test('TLS: admin and gateway serve HTTPS; certificates swap on reload without dropping open connections', async () => {
  const dir = tempDir('macronode-tls-');
  const a = selfSigned(dir.path, 'one');
  const n = await startNode({
    env: {
      RON_TLS__ADMIN__CERT: a.cert,
      RON_TLS__ADMIN__KEY: a.key,
      RON_TLS__GATEWAY__CERT: a.cert,
      RON_TLS__GATEWAY__KEY: a.key,
    },
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    assert.match(n.admin, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(n.gateway, /^https:\/\//);
    const caA = readFileSync(a.cert);
    assert.equal((await get(`${n.admin}/readyz`, caA, agent)).status, 200);
    const ping = await get(`${n.gateway}/ingress/ping`, caA, false);
    assert.deepEqual(JSON.parse(ping.body), { ok: true, service: 'svc-gateway', profile: 'macronode' });
    const fpA = new X509Certificate(caA).fingerprint256;
    assert.equal(await peerFingerprint(n.admin, caA), fpA);

    // Rotate in place (same paths), reload: new handshakes get the new cert…
    const b = selfSigned(dir.path, 'one');
    const caB = readFileSync(b.cert);
    const reload = await get(`${n.admin}/api/v1/reload`, caA, agent, 'POST');
    assert.equal(reload.status, 200, reload.body);
    assert.equal(reload.reused, true);
    assert.deepEqual((JSON.parse(reload.body) as { applied: string[] }).applied, [
      'tls.admin',
      'tls.gateway',
    ]);
    assert.equal(await peerFingerprint(n.admin, caB), new X509Certificate(caB).fingerprint256);
    // The gateway plane swaps in its own process right after the reload answer.
    await waitFor(
      async () =>
        (await peerFingerprint(n.gateway, caB).catch(() => '')) === new X509Certificate(caB).fingerprint256,
      5000,
    );
    // …while the connection opened under the old cert keeps working.
    const again = await get(`${n.admin}/readyz`, caA, agent);
    assert.equal(again.status, 200);
    assert.equal(again.reused, true);
  } finally {
    agent.destroy();
    await n.stop();
    dir.remove();
  }
});
