// issue 9 item 16: `registry show` presents a proposal before anyone signs it, `approve --help` no
// longer sends reviewers to a command that signs, and `approve` refuses a stale proposal.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '@ron/testkit';
import { ronctl, startRegistryBin } from './helpers.js';

interface Shown {
  proposal_id: string;
  op: string;
  have: number;
  need: number;
  stale: boolean;
  stale_reason?: string;
  signatures: { signer_id: string }[];
  descriptor: { id: string; version: number };
  expires_at: string;
}

test('registry show → approve; a proposal made stale by another is shown stale and approve refuses it', async () => {
  const dir = tempDir('ronctl-show-');
  const cwd = dir.path;
  const a = (await ronctl(['keygen', '--out', 'a.key'], {}, cwd)).stdout.trim();
  const b = (await ronctl(['keygen', '--out', 'b.key'], {}, cwd)).stdout.trim();
  const reg = await startRegistryBin([a, b], 2);
  try {
    const env = { RON_REGISTRY_URL: reg.url };
    const propose = async (addr: string): Promise<string> => {
      writeFileSync(
        join(cwd, 'p.json'),
        JSON.stringify({
          op: 'publish',
          descriptor: { id: 'svc-show', kind: 'service', version: 1, body: { region: 'eu', addr } },
        }),
      );
      const r = await ronctl(
        ['--json', 'registry', 'propose', '--file', 'p.json', '--key', 'a.key'],
        env,
        cwd,
      );
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { proposal_id: string }).proposal_id;
    };
    const older = await propose('10.0.0.1:9000');
    const newer = await propose('10.0.0.2:9000');

    // 1. show: everything a signer should read, and it signs nothing.
    const shown = await ronctl(['registry', 'show', older], env, cwd);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^proposal ${older}$`, 'm'));
    assert.match(shown.stdout, /^ {2}op {10}publish$/m);
    assert.match(shown.stdout, /^ {2}descriptor {2}svc-show {2}service {2}v1$/m);
    assert.match(shown.stdout, /addr {6}10\.0\.0\.1:9000/);
    assert.match(shown.stdout, /^ {2}signatures {2}1\/2$/m);
    assert.ok(shown.stdout.includes(`    ${a}`), 'lists who signed so far');
    assert.match(shown.stdout, /^ {2}expires {5}\d{4}-\d\d-\d\dT.*\(in \d+[mh]\)$/m);
    assert.match(shown.stdout, /^ {2}stale {7}no$/m);
    assert.match(shown.stdout, new RegExp(`^next: ronctl registry approve ${older} --key K`, 'm'));
    const js = JSON.parse((await ronctl(['--json', 'registry', 'show', older], env, cwd)).stdout) as Shown;
    assert.deepEqual([js.op, js.have, js.need, js.stale, js.descriptor.version], ['publish', 1, 2, false, 1]);
    assert.deepEqual(
      js.signatures.map((s) => s.signer_id),
      [a],
    );
    const still = (await (await fetch(`${reg.url}/v1/registry/proposals/${older}`)).json()) as {
      have: number;
    };
    assert.equal(still.have, 1, 'show signed nothing');

    // 2. Another proposal for the same descriptor version is approved and applied first.
    const ap = await ronctl(['registry', 'approve', newer, '--key', 'b.key'], env, cwd);
    assert.equal(ap.code, 0, ap.stderr);
    assert.match(ap.stdout, /2\/2 signatures/);
    assert.match(ap.stdout, new RegExp(`next: ronctl registry apply ${newer}`));
    assert.equal((await ronctl(['registry', 'apply', newer], env, cwd)).code, 0);

    // 3. The older one can never be applied: show says so, approve refuses instead of "ready, next: apply".
    const stale = await ronctl(['registry', 'show', older], env, cwd);
    assert.equal(stale.code, 0, stale.stderr);
    assert.match(
      stale.stdout,
      /^ {2}stale {7}yes: descriptor svc-show is already at version 1; this proposal would create version 1$/m,
    );
    assert.doesNotMatch(stale.stdout, /next: ronctl registry (approve|apply)/);
    const sj = JSON.parse((await ronctl(['registry', 'show', older, '--json'], env, cwd)).stdout) as Shown;
    assert.equal(sj.stale, true);
    const refused = await ronctl(['registry', 'approve', older, '--key', 'b.key'], env, cwd);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      new RegExp(`error: proposal ${older} is stale: descriptor svc-show is already at version 1`),
    );
    assert.match(refused.stderr, /hint: .*ronctl registry get svc-show.*version 2/);
    assert.doesNotMatch(refused.stdout + refused.stderr, /\bready\b|next: ronctl registry apply/);
    const after = (await (await fetch(`${reg.url}/v1/registry/proposals/${older}`)).json()) as {
      have: number;
    };
    assert.equal(after.have, 1, 'a stale proposal is not signed');
  } finally {
    await reg.stop();
    dir.remove();
  }
});

test('approve --help points at registry show and never at a command that signs', async () => {
  const h = await ronctl(['registry', 'approve', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /ronctl registry show <proposal_id>/);
  assert.doesNotMatch(h.stdout, /--json .*approve/);
  const top = await ronctl(['registry', '--help']);
  assert.match(top.stdout, /^ {2}show .*before you sign/m);
});

/** A registry stand-in speaking the proposal contract: a `stale` flag, and 409 StaleVersion on approvals. */
async function contractServer(
  proposal: Record<string, unknown>,
  approval: { status: number; body: unknown },
): Promise<{ url: string; posts: number; close(): void }> {
  const state = { posts: 0 };
  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/v1/registry/proposals/p1') return send(res, 200, proposal);
      if (req.method === 'GET' && req.url === '/v1/registry/descriptors/svc-c')
        return send(res, 404, { error: { code: 'NotFound', message: 'no descriptor svc-c' } });
      if (req.method === 'POST' && req.url === '/v1/registry/proposals/p1/approvals') {
        state.posts++;
        return send(res, approval.status, approval.body);
      }
      send(res, 404, { error: { code: 'NotFound', message: 'no route' } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    get posts() {
      return state.posts;
    },
    close: () => server.close(),
  };
}

test('approve honours the registry’s stale flag and a 409 StaleVersion on approval', async () => {
  const dir = tempDir('ronctl-stale-');
  const cwd = dir.path;
  await ronctl(['keygen', '--out', 'a.key'], {}, cwd);
  const base = {
    proposal_id: 'p1',
    op: 'publish',
    version: 1,
    descriptor: { id: 'svc-c', kind: 'service', version: 1, body: { region: 'eu', addr: 'h:1' } },
    have: 1,
    need: 2,
    state: 'pending',
    signatures: [],
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
  };
  const flagged = await contractServer(
    { ...base, stale: true },
    { status: 200, body: { have: 2, need: 2, state: 'ready' } },
  );
  const conflict = await contractServer(base, {
    status: 409,
    body: { error: { code: 'StaleVersion', message: 'proposal p1 is stale' } },
  });
  try {
    const show = await ronctl(['registry', 'show', 'p1', '--registry', flagged.url], {}, cwd);
    assert.match(show.stdout, /^ {2}stale {7}yes$/m);
    const r1 = await ronctl(
      ['registry', 'approve', 'p1', '--key', 'a.key', '--registry', flagged.url],
      {},
      cwd,
    );
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /error: proposal p1 is stale/);
    assert.equal(flagged.posts, 0, 'nothing is signed for a proposal the registry calls stale');
    const r2 = await ronctl(
      ['registry', 'approve', 'p1', '--key', 'a.key', '--registry', conflict.url],
      {},
      cwd,
    );
    assert.equal(r2.code, 1);
    assert.equal(conflict.posts, 1);
    assert.match(r2.stderr, /error: proposal p1 is stale/);
    assert.doesNotMatch(r2.stdout, /next: ronctl registry apply/);
  } finally {
    flagged.close();
    conflict.close();
    dir.remove();
  }
});
