import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runProgram, tempDir, waitFor } from '@ron/testkit';
import { BIN, startNode, type TestNode } from './helpers.js';

// mTLS (SPEC §4.7): with tls.<listener>.client_ca set, the admin and gateway listeners accept only
// clients presenting a certificate issued by that CA; everyone else is cut off before any HTTP.

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe', timeout: 20_000 });
}

/** A self-signed CA; `subject` lets a rogue CA impersonate a trusted one by name. */
function makeCa(dir: string, name: string, subject = `/CN=${name}`): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    ...EC,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    subject,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

let serial = 1000;
/** A leaf certificate signed by `ca` with the given extensions (one per line). */
function makeLeaf(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  ext: string[],
): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, ['basicConstraints=CA:FALSE', ...ext, ''].join('\n'));
  openssl(['req', '-new', ...EC, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-set_serial',
    String(serial++),
    '-days',
    '1',
    '-out',
    cert,
    '-extfile',
    extFile,
  ]);
  return { cert, key };
}

interface Creds {
  cert: Buffer;
  key: Buffer;
}

const dir = tempDir('macronode-mtls-');
let serverCa: Buffer;
let server: { cert: string; key: string };
let clientCaFile: string;
let good: Creds;
let rogue: Creds;
let impostor: Creds;
let goodCaFile: string;
let rogueCaFile: string;

before(() => {
  const load = (c: { cert: string; key: string }): Creds => ({
    cert: readFileSync(c.cert),
    key: readFileSync(c.key),
  });
  const ca = makeCa(dir.path, 'ca', '/CN=ron test CA');
  server = makeLeaf(dir.path, 'server', ca, [
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    'extendedKeyUsage=serverAuth',
  ]);
  good = load(makeLeaf(dir.path, 'client', ca, ['extendedKeyUsage=clientAuth']));
  // A second CA with its own name, and one that copies the trusted CA's name (only the signature differs).
  const rogueCa = makeCa(dir.path, 'rogue-ca');
  rogue = load(makeLeaf(dir.path, 'rogue-client', rogueCa, ['extendedKeyUsage=clientAuth']));
  const impostorCa = makeCa(dir.path, 'impostor-ca', '/CN=ron test CA');
  impostor = load(makeLeaf(dir.path, 'impostor-client', impostorCa, ['extendedKeyUsage=clientAuth']));
  serverCa = readFileSync(ca.cert);
  goodCaFile = ca.cert;
  rogueCaFile = rogueCa.cert;
  // The node reads client_ca from its own path, so the reload test can rotate it in place.
  clientCaFile = join(dir.path, 'client-ca.pem');
  copyFileSync(goodCaFile, clientCaFile);
});
after(() => dir.remove());

/** One HTTPS GET on a fresh connection (no agent), trusting the test CA for the server. */
function get(url: string, client: Partial<Creds> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: serverCa, agent: false, ...client }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Asserts the request fails at the connection level (no HTTP response at all) with this code. */
async function assertRefused(url: string, client: Partial<Creds>, code: string, what: string): Promise<void> {
  await assert.rejects(get(url, client), (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, code, `${what}: ${err.code} ${err.message}`);
    return true;
  });
}

// No client certificate: OpenSSL itself fails the handshake (TLS 1.3 alert 116).
const NO_CERT = 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED';
// A certificate that does not verify: node's TLS server destroys the socket before any HTTP
// (in TLS 1.3 the client sees its side of the handshake finish first), so the client gets a hang-up.
const BAD_CERT = 'ECONNRESET';

function startMtlsNode(): Promise<TestNode> {
  return startNode({
    env: {
      RON_TLS__ADMIN__CERT: server.cert,
      RON_TLS__ADMIN__KEY: server.key,
      RON_TLS__ADMIN__CLIENT_CA: clientCaFile,
      RON_TLS__GATEWAY__CERT: server.cert,
      RON_TLS__GATEWAY__KEY: server.key,
      RON_TLS__GATEWAY__CLIENT_CA: clientCaFile,
    },
  });
}

test('mTLS: admin and gateway answer a client with a CA-issued certificate and refuse the rest at the handshake', async () => {
  copyFileSync(goodCaFile, clientCaFile);
  const n = await startMtlsNode();
  let stopped: { code: number | null };
  try {
    assert.match(n.admin, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(n.gateway, /^https:\/\/127\.0\.0\.1:\d+$/);
    const ping = await get(`${n.gateway}/ingress/ping`, good);
    assert.equal(ping.status, 200, ping.body);
    assert.deepEqual(JSON.parse(ping.body), { ok: true, service: 'svc-gateway', profile: 'macronode' });
    const health = await get(`${n.admin}/healthz`, good);
    assert.equal(health.status, 200, health.body);

    for (const [name, url] of [
      ['gateway', `${n.gateway}/ingress/ping`],
      ['admin', `${n.admin}/healthz`],
    ] as const) {
      await assertRefused(url, {}, NO_CERT, `${name}, no client certificate`);
      await assertRefused(url, rogue, BAD_CERT, `${name}, client certificate from a rogue CA`);
      await assertRefused(
        url,
        impostor,
        BAD_CERT,
        `${name}, client certificate from a CA that copies the trusted CA's name`,
      );
      // The server's own certificate is CA-issued but not for client auth (extendedKeyUsage=serverAuth).
      await assertRefused(
        url,
        { cert: readFileSync(server.cert), key: readFileSync(server.key) },
        BAD_CERT,
        `${name}, server-only certificate`,
      );
    }
    // The refusals cost nothing: the good client is still served on both listeners.
    assert.equal((await get(`${n.gateway}/ingress/ping`, good)).status, 200);
    assert.equal((await get(`${n.admin}/healthz`, good)).status, 200);
  } finally {
    stopped = await n.stop();
  }
  assert.equal(stopped.code, 0, n.prog.stderr.join('\n'));
});

test('mTLS: SIGHUP re-reads client_ca on both listeners; requirement for a client certificate stays', async () => {
  copyFileSync(goodCaFile, clientCaFile);
  const n = await startMtlsNode();
  let stopped: { code: number | null };
  try {
    assert.equal((await get(`${n.gateway}/ingress/ping`, good)).status, 200);
    await assertRefused(`${n.gateway}/ingress/ping`, rogue, BAD_CERT, 'gateway, rogue before the rotation');

    // Rotate the trusted client CA in place to the rogue CA, then SIGHUP.
    copyFileSync(rogueCaFile, clientCaFile);
    process.kill(n.prog.pid, 'SIGHUP');
    const applied = await n.prog.waitForLine((l) => l.event === 'reload_applied' && l.source === 'SIGHUP');
    assert.deepEqual(applied.applied, ['tls.admin', 'tls.gateway']);

    // Admin swaps before the reload is logged; the gateway plane swaps in its own process just after.
    assert.equal((await get(`${n.admin}/healthz`, rogue)).status, 200);
    await waitFor(
      async () => (await get(`${n.gateway}/ingress/ping`, rogue).catch(() => ({ status: 0 }))).status === 200,
      5000,
    );
    for (const [name, url] of [
      ['gateway', `${n.gateway}/ingress/ping`],
      ['admin', `${n.admin}/healthz`],
    ] as const) {
      await assertRefused(url, good, BAD_CERT, `${name}, client of the retired CA`);
      await assertRefused(url, {}, NO_CERT, `${name}, no client certificate after the reload`);
    }
  } finally {
    stopped = await n.stop();
  }
  assert.equal(stopped.code, 0, n.prog.stderr.join('\n'));
});

test('client_ca without cert/key exits 78 naming the key; an unreadable client_ca exits 78 naming key and file', async () => {
  const clean = {
    RON_CONFIG: undefined,
    RON_ADMIN_TOKEN: undefined,
    MACRO_HTTP_ADDR: undefined,
    LOG_LEVEL: undefined,
  };
  const args = ['run', '--http-addr', '127.0.0.1:0', '--gateway-addr', '127.0.0.1:0', '--amnesia'];
  for (const l of ['admin', 'gateway'] as const) {
    const L = l.toUpperCase();
    const r = await runProgram(BIN, args, { env: { ...clean, [`RON_TLS__${L}__CLIENT_CA`]: goodCaFile } });
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, new RegExp(`tls\\.${l}\\.client_ca: mTLS needs tls cert and key`));

    const missing = join(dir.path, `no-such-${l}-ca.pem`);
    const r2 = await runProgram(BIN, args, {
      env: {
        ...clean,
        [`RON_TLS__${L}__CERT`]: server.cert,
        [`RON_TLS__${L}__KEY`]: server.key,
        [`RON_TLS__${L}__CLIENT_CA`]: missing,
      },
    });
    assert.equal(r2.code, 78, r2.stderr);
    assert.ok(r2.stderr.includes(`tls.${l}.client_ca ${missing} cannot be read: ENOENT`), r2.stderr);
  }
});
