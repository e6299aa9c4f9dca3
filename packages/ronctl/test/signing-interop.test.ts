// Interop: signatures made outside our code must verify, and ours must verify outside. OpenSSL 3
// (`pkeyutl -rawin`) is the independent implementation; the vectors and the shell recipe are the
// ones published in docs/signing.md, so the document is tested as written.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@ron/testkit';
import {
  governanceSignedBytes,
  signedBytes,
  verifySignature,
  type Signature,
  type SignedFields,
} from '@ron/registry';
import { proposalSubject } from '../src/index.js';
import { RONCTL, ronctl, startRegistryBin } from './helpers.js';

const DOC = fileURLToPath(new URL('../../../../docs/signing.md', import.meta.url));
const FIXTURE = fileURLToPath(
  new URL('../../../registry/test/fixtures/registry-signing.json', import.meta.url),
);

interface DocVectors {
  signers: { signer_id: string; seed_b64u: string }[];
  cases: {
    fields?: SignedFields;
    proposal?: unknown;
    registry?: string;
    jcs: string;
    signatures: Signature[];
  }[];
}

function docVectors(): DocVectors {
  const text = readFileSync(DOC, 'utf8');
  const m = /<!-- vectors:begin -->\s*```json\n([\s\S]*?)```\s*<!-- vectors:end -->/.exec(text);
  assert.ok(m, 'docs/signing.md has a vectors block');
  return JSON.parse(m[1]!) as DocVectors;
}

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** OpenSSL signs `msg` with the raw seed; returns base64url of the signature. */
function opensslSign(dir: string, seedB64u: string, msg: Buffer): string {
  const der = join(dir, 'k.der');
  writeFileSync(der, Buffer.concat([PKCS8_PREFIX, Buffer.from(seedB64u, 'base64url')]));
  writeFileSync(join(dir, 'msg.bin'), msg);
  execFileSync('openssl', ['pkey', '-inform', 'DER', '-in', der, '-out', join(dir, 'k.pem')]);
  execFileSync('openssl', [
    'pkeyutl',
    '-sign',
    '-inkey',
    join(dir, 'k.pem'),
    '-rawin',
    '-in',
    join(dir, 'msg.bin'),
    '-out',
    join(dir, 'sig.bin'),
  ]);
  return readFileSync(join(dir, 'sig.bin')).toString('base64url');
}

/** OpenSSL verifies a signature with the public key named by the signer id alone. */
function opensslVerify(dir: string, s: Signature, msg: Buffer): boolean {
  const raw = Buffer.from(s.signer_id.slice('ed25519:'.length), 'base64url');
  writeFileSync(join(dir, 'p.der'), Buffer.concat([SPKI_PREFIX, raw]));
  execFileSync('openssl', [
    'pkey',
    '-pubin',
    '-inform',
    'DER',
    '-in',
    join(dir, 'p.der'),
    '-out',
    join(dir, 'p.pem'),
  ]);
  writeFileSync(join(dir, 'm.bin'), msg);
  writeFileSync(join(dir, 's.bin'), Buffer.from(s.sig, 'base64url'));
  const r = spawnSync('openssl', [
    'pkeyutl',
    '-verify',
    '-pubin',
    '-inkey',
    join(dir, 'p.pem'),
    '-rawin',
    '-in',
    join(dir, 'm.bin'),
    '-sigfile',
    join(dir, 's.bin'),
  ]);
  return r.status === 0;
}

function bytesOf(c: DocVectors['cases'][number]): Buffer {
  if (c.fields !== undefined) return signedBytes(c.fields);
  return governanceSignedBytes(c.registry ?? 'default', proposalSubject(c.proposal).subject);
}

test('docs/signing.md vectors: our JCS text, OpenSSL signs identically, OpenSSL and we verify', () => {
  const dir = tempDir('ronctl-interop-');
  try {
    const V = docVectors();
    const seed = new Map(V.signers.map((s) => [s.signer_id, s.seed_b64u]));
    assert.ok(V.cases.length >= 4);
    const ops = new Set<string>();
    for (const c of V.cases) {
      const msg = bytesOf(c);
      assert.equal(msg.toString('utf8'), c.jcs);
      ops.add((JSON.parse(c.jcs) as { op: string }).op);
      for (const s of c.signatures) {
        assert.equal(
          opensslSign(dir.path, seed.get(s.signer_id)!, msg),
          s.sig,
          `OpenSSL signature for ${s.signer_id}`,
        );
        assert.ok(opensslVerify(dir.path, s, msg));
        assert.ok(verifySignature(s, msg));
      }
    }
    assert.deepEqual([...ops].sort(), ['commit', 'deprecate', 'publish', 'signers']);
    // The documented replay fails in both implementations.
    const replay = signedBytes({ ...V.cases[0]!.fields!, version: 2 });
    assert.equal(opensslVerify(dir.path, V.cases[0]!.signatures[0]!, replay), false);
    assert.equal(verifySignature(V.cases[0]!.signatures[0]!, replay), false);
  } finally {
    dir.remove();
  }
});

test('shared vectors (Python cryptography): OpenSSL reproduces every signature; the replay fails', () => {
  const dir = tempDir('ronctl-interop-');
  try {
    const V = JSON.parse(readFileSync(FIXTURE, 'utf8')) as {
      signers: { signer_id: string; seed_b64u: string }[];
      cases: { jcs: string; signatures: Signature[] }[];
      negative: { message: Record<string, unknown>; signature: Signature }[];
    };
    const seed = new Map(V.signers.map((s) => [s.signer_id, s.seed_b64u]));
    for (const c of V.cases) {
      const msg = Buffer.from(c.jcs, 'utf8');
      for (const s of c.signatures) assert.equal(opensslSign(dir.path, seed.get(s.signer_id)!, msg), s.sig);
    }
    for (const n of V.negative) {
      const { domain: _d, ...fields } = n.message;
      assert.equal(
        opensslVerify(dir.path, n.signature, signedBytes(fields as unknown as SignedFields)),
        false,
      );
    }
  } finally {
    dir.remove();
  }
});

test('the documented OpenSSL recipe, run as written, signs a proposal the registry accepts', async () => {
  const dir = tempDir('ronctl-recipe-');
  const cwd = dir.path;
  const bin = join(cwd, 'bin');
  execFileSync('mkdir', ['-p', bin]);
  writeFileSync(join(bin, 'ronctl'), `#!/bin/sh\nexec "${process.execPath}" "${RONCTL}" "$@"\n`);
  chmodSync(join(bin, 'ronctl'), 0o755);
  const a = (await ronctl(['keygen', '--out', 'a.key'], {}, cwd)).stdout.trim();
  const desc = {
    id: 'svc-interop@eu-west-1',
    kind: 'service',
    version: 1,
    body: { region: 'eu-west-1', addr: 'interop.example:443', tls: true },
  };
  writeFileSync(join(cwd, 'proposal.json'), JSON.stringify({ op: 'publish', descriptor: desc }));
  const recipe = /<!-- interop:openssl -->\s*```sh\n([\s\S]*?)```/.exec(readFileSync(DOC, 'utf8'));
  assert.ok(recipe, 'docs/signing.md has the OpenSSL recipe');
  const run = spawnSync('bash', ['-euo', 'pipefail', '-c', recipe[1]!], {
    cwd,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout + run.stderr, /Signature Verified Successfully/);
  const sig = JSON.parse(readFileSync(join(cwd, 'sig.json'), 'utf8')) as Signature;
  // Same bytes as ronctl's own signature (Ed25519 is deterministic).
  const ours = JSON.parse(
    (await ronctl(['sign', '--key', 'a.key', 'proposal.json'], {}, cwd)).stdout,
  ) as Signature;
  assert.deepEqual(sig, ours);
  const reg = await startRegistryBin([a], 1);
  try {
    writeFileSync(
      join(cwd, 'signed.json'),
      JSON.stringify({ op: 'publish', descriptor: desc, signatures: [sig] }),
    );
    const p = await ronctl(
      ['--json', 'registry', 'propose', '--file', 'signed.json'],
      { RON_REGISTRY_URL: reg.url },
      cwd,
    );
    assert.equal(p.code, 0, p.stderr);
    const status = JSON.parse(p.stdout) as { proposal_id: string; state: string };
    assert.equal(status.state, 'ready');
    const ap = await ronctl(['registry', 'apply', status.proposal_id], { RON_REGISTRY_URL: reg.url }, cwd);
    assert.equal(ap.code, 0, ap.stderr);
  } finally {
    await reg.stop();
    dir.remove();
  }
});
