// Issue 9 #22/#23 over HTTP against a real in-process registry: one validation for every write body
// (unknown fields 400, descriptor versions < 1 are 400, a non-ed25519 alg is 422 on every route),
// an apply with no body or `{}`, commits gated by scope registry:commit, `bearer` in any case.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger } from '@ron/kernel';
import { tempDir } from '@ron/testkit';
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
import { body, ids, keys, publish, sig, svc } from './governance-helpers.js';

const REGISTRY = 'write-bodies';
const dir = tempDir('ron-registry-bodies-');
const rootText = generateRootKey();
const root = parseRootKey(rootText);
const keyFile = join(dir.path, 'root.key');
writeFileSync(keyFile, rootText, { mode: 0o600 });

async function start(ks: KeyFile[], env: Record<string, string> = {}): Promise<RunningRegistry> {
  const { config } = loadRegistryConfig({
    env: {
      REGISTRY_ADDR: '127.0.0.1:0',
      METRICS_ADDR: '127.0.0.1:0',
      AMNESIA: '1',
      REGISTRY_ID: REGISTRY,
      SIGNER_ALLOWLIST: ids(ks).join(','),
      SIG_THRESHOLD: '1',
      ...env,
    },
  });
  return startRegistry({ config, logger: createLogger('svc-registry', 'silent'), defaultCollectors: false });
}

async function call(
  r: RunningRegistry,
  path: string,
  b?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; code?: string; body: Record<string, unknown> }> {
  const init: RequestInit = { method: 'POST', headers: { 'content-type': 'application/json', ...headers } };
  if (b !== undefined) init.body = typeof b === 'string' ? b : JSON.stringify(b);
  const res = await fetch(`${r.apiUrl}${path}`, init);
  const text = await res.text();
  const parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  const code = (parsed.error as { code?: string } | undefined)?.code;
  return { status: res.status, ...(code !== undefined ? { code } : {}), body: parsed };
}

const ks = keys(1);
const k = ks[0]!;
let reg: RunningRegistry;
before(async () => {
  reg = await start(ks);
});
after(async () => {
  await reg.close(1000);
  dir.remove();
});

async function readyProposal(id: string): Promise<string> {
  const subj = publish(svc(id, 1));
  const p = await call(reg, '/v1/registry/proposals', body(subj, [sig(k, subj, REGISTRY)]));
  assert.equal(p.status, 202);
  return String(p.body.proposal_id);
}

test('apply: unknown body fields are 400 and nothing is applied; no body, an empty body or {} apply', async () => {
  const pid = await readyProposal('svc-apply-body');
  const head0 = reg.registry.head.version;
  for (const bad of [{ force: true }, { version: 1 }, [], '"x"', 'null', '1']) {
    const res = await call(reg, `/v1/registry/apply/${pid}`, bad);
    assert.equal(res.status, 400, JSON.stringify(bad));
    assert.equal(res.code, 'BadRequest');
  }
  assert.equal(reg.registry.head.version, head0);
  const noBody = await fetch(`${reg.apiUrl}/v1/registry/apply/${pid}`, { method: 'POST' });
  assert.equal(noBody.status, 200);
  // Idempotent re-applies with an empty JSON body and with {}.
  assert.equal((await call(reg, `/v1/registry/apply/${pid}`, '')).status, 200);
  assert.equal((await call(reg, `/v1/registry/apply/${pid}`, {})).status, 200);
  assert.equal(reg.registry.head.version, head0 + 1);
});

test('descriptor version 0 or -1 is 400 BadRequest (not 409 StaleVersion) on publish, deprecate and signer sets', async () => {
  for (const v of [0, -1]) {
    for (const op of ['publish', 'deprecate'] as const) {
      const res = await call(reg, '/v1/registry/proposals', {
        op,
        descriptor: svc('svc-v', v),
        signatures: [],
      });
      assert.equal(res.status, 400, `${op} ${v}`);
      assert.equal(res.code, 'BadRequest');
    }
    const rot = await call(reg, '/v1/registry/proposals', {
      op: 'signers',
      version: v,
      signers: { signers: [k.signer_id], threshold: 1 },
    });
    assert.equal(rot.status, 400, `signers ${v}`);
  }
});

test('a non-ed25519 alg is 422 BadSignature on commit, proposals and approvals alike; a malformed signature is 400 on each', async () => {
  const rsa = { signer_id: k.signer_id, alg: 'rsa', sig: 'AAAA' };
  const subj = publish(svc('svc-alg', 1));
  const commit = await call(reg, '/registry/commit', { payload_b3: 'b3:alg', signatures: [rsa] });
  const propose = await call(reg, '/v1/registry/proposals', body(subj, [rsa as never]));
  const pid = await readyProposal('svc-alg-2');
  const approve = await call(reg, `/v1/registry/proposals/${pid}/approvals`, { signature: rsa });
  for (const [route, res] of [
    ['commit', commit],
    ['proposals', propose],
    ['approvals', approve],
  ] as const) {
    assert.equal(res.status, 422, route);
    assert.equal(res.code, 'BadSignature', route);
    assert.match(
      String((res.body.error as { message: string }).message),
      /alg "rsa" is not supported/,
      route,
    );
  }
  const shapeless = { signer_id: k.signer_id, alg: 'ed25519', sig: 1 };
  assert.equal(
    (await call(reg, '/registry/commit', { payload_b3: 'b3:alg', signatures: [shapeless] })).status,
    400,
  );
  assert.equal((await call(reg, '/v1/registry/proposals', body(subj, [shapeless as never]))).status, 400);
  assert.equal(
    (await call(reg, `/v1/registry/proposals/${pid}/approvals`, { signature: shapeless })).status,
    400,
  );
});

test('POST /registry/commit needs scope registry:commit with a capability root key (401 / 403); the scheme is case-insensitive', async () => {
  const r = await start(ks, { REGISTRY_CAPABILITY_KEY_FILE: keyFile });
  try {
    const hour = new Date(Date.now() + 3600_000);
    const commitCap = mintCapability({ rootKey: root, scopes: ['registry:commit'], expiresAt: hour });
    const proposeCap = mintCapability({
      rootKey: root,
      scopes: ['registry:propose', 'registry:apply'],
      expiresAt: hour,
    });
    const signed = (payload: string): unknown => ({
      payload_b3: payload,
      signatures: [
        signBytes(
          k,
          signedBytes({
            registry: REGISTRY,
            op: 'commit',
            payload_b3: payload,
            version: r.registry.head.version + 1,
          }),
        ),
      ],
    });
    const none = await call(r, '/registry/commit', signed('b3:c1'));
    assert.equal(none.status, 401);
    assert.equal(none.code, 'Unauthorized');
    assert.equal(
      (await call(r, '/registry/commit', signed('b3:c1'), { authorization: 'Bearer AAAA' })).status,
      401,
    );
    const wrong = await call(r, '/registry/commit', signed('b3:c1'), {
      authorization: `Bearer ${proposeCap}`,
    });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.code, 'Forbidden');
    assert.equal(r.registry.head.version, 0);
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const ok = await call(r, '/registry/commit', signed(`b3:${scheme}`), {
        authorization: `${scheme} ${commitCap}`,
      });
      assert.equal(ok.status, 200, scheme);
    }
    assert.equal(r.registry.head.version, 3);
    // The lower-case scheme works on governance writes too.
    const subj = publish(svc('svc-bearer', 1));
    const p = await call(r, '/v1/registry/proposals', body(subj, [sig(k, subj, REGISTRY)]), {
      authorization: `bearer ${proposeCap}`,
    });
    assert.equal(p.status, 202);
    const text = await (await fetch(`${r.adminUrl}/metrics`)).text();
    assert.match(text, /^rejected_total\{reason="unauthorized"\} 2$/m);
    assert.match(text, /^rejected_total\{reason="forbidden"\} 1$/m);
  } finally {
    await r.close(1000);
  }
  // Without a root key commits stay open (the signatures are the authority).
  assert.equal(
    (
      await call(reg, '/registry/commit', {
        payload_b3: 'b3:open',
        signatures: [
          signBytes(
            k,
            signedBytes({
              registry: REGISTRY,
              op: 'commit',
              payload_b3: 'b3:open',
              version: reg.registry.head.version + 1,
            }),
          ),
        ],
      })
    ).status,
    200,
  );
});
