// issue 9 item 7 (SPEC §4.6): a reload is judged against the listeners actually running — a file that
// `run` would refuse with them is refused, an empty file does not reset the node — and
// `POST /api/v1/reload?dry_run=1` answers the diff, changing nothing.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnProgram, tempDir } from '@ron/testkit';
import { BIN, startNode } from './helpers.js';

interface Status {
  config_version: number;
  log_level: string;
  last_reload: { ok: boolean } | null;
}

test('reload on a non-loopback admin: a partial file without admin_token is refused, dry_run answers the diff and changes nothing', async () => {
  const dir = tempDir('macronode-judge-');
  const file = join(dir.path, 'macronode.toml');
  // The admin address comes from the file (as in the field), so a partial file leaves it unset.
  const listen = 'http_addr = "0.0.0.0:0"\n';
  writeFileSync(file, `${listen}admin_token = "s3cret"\nlog_level = "info"\n`);
  const prog = await spawnProgram({
    bin: BIN,
    args: ['run', '--config', file, '--gateway-addr', '127.0.0.1:0', '--amnesia'],
    env: {
      LOG_LEVEL: undefined,
      RON_LOG: undefined,
      RON_CONFIG: undefined,
      RON_ADMIN_TOKEN: undefined,
      RON_HTTP_ADDR: undefined,
    },
    timeoutMs: 60_000,
  });
  const admin = prog.url.replace('0.0.0.0', '127.0.0.1');
  const auth = { authorization: 'Bearer s3cret' };
  const reload = (q = '', headers: Record<string, string> = auth): Promise<Response> =>
    fetch(`${admin}/api/v1/reload${q}`, { method: 'POST', headers });
  const status = async (): Promise<Status> =>
    (await (await fetch(`${admin}/api/v1/status`)).json()) as Status;
  try {
    // 1. A partial file: no admin_token, no http_addr. Alone it is valid (loopback default), but the
    // admin listening on 0.0.0.0 keeps running without TLS: run would refuse that; so does the reload,
    // and the token stays in force.
    writeFileSync(file, 'log_level = "debug"\n');
    let r = await reload();
    assert.equal(r.status, 400);
    assert.match(
      ((await r.json()) as { error: { message: string } }).error.message,
      /non-loopback admin listener needs TLS .* or admin_token/,
    );
    assert.equal((await reload('', {})).status, 401, 'the token is still required');
    assert.equal((await status()).log_level, 'info');

    // 2. The same file as a dry run: the same refusal, and nothing recorded.
    assert.equal((await reload('?dry_run=1')).status, 400);

    // 3. A good file as a dry run: the diff, nothing applied.
    writeFileSync(file, `${listen}admin_token = "n3w"\nlog_level = "debug"\n`);
    r = await reload('?dry_run=1');
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {
      dry_run: true,
      version: 2,
      applied: ['log_level', 'admin_token'],
      restarted: [],
      restart_required: [],
      changes: { log_level: { from: 'info', to: 'debug' }, admin_token: { from: '***', to: '***' } },
    });
    let s = await status();
    assert.equal(s.log_level, 'info');
    assert.equal(s.config_version, 1);
    assert.equal(
      (await reload('', { authorization: 'Bearer n3w' })).status,
      401,
      'the new token is not in force',
    );

    // 4. The good file, for real.
    writeFileSync(file, `${listen}admin_token = "n3w"\nlog_level = "debug"\n`);
    r = await reload();
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {
      version: 2,
      applied: ['log_level', 'admin_token'],
      restarted: [],
      restart_required: [],
    });
    s = await status();
    assert.equal(s.log_level, 'debug');
    assert.equal(s.config_version, 2);
    assert.equal(s.last_reload?.ok, true);
  } finally {
    await prog.stop('SIGTERM');
    dir.remove();
  }
});

test('reload on a loopback admin: a key dropped from the file is applied with a warning naming it; an empty file is refused', async () => {
  const dir = tempDir('macronode-judge-lo-');
  const file = join(dir.path, 'macronode.toml');
  writeFileSync(file, 'admin_token = "s3cret"\nlog_level = "info"\n');
  const n = await startNode({
    args: ['--config', file, '--amnesia'],
    env: { LOG_LEVEL: undefined, RON_LOG: undefined },
  });
  try {
    writeFileSync(file, 'log_level = "info"\n');
    const r = await fetch(`${n.admin}/api/v1/reload`, {
      method: 'POST',
      headers: { authorization: 'Bearer s3cret' },
    });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { applied: string[]; warnings?: string[] };
    assert.deepEqual(body.applied, ['admin_token']);
    assert.match(body.warnings?.[0] ?? '', /admin_token is no longer set in .*; back to its default/);
    // An empty (half-written) file does not reset every key to its default.
    writeFileSync(file, '');
    const e = await fetch(`${n.admin}/api/v1/reload`, { method: 'POST' });
    assert.equal(e.status, 400);
    assert.match(((await e.json()) as { error: { message: string } }).error.message, /sets no key/);
  } finally {
    await n.stop();
    dir.remove();
  }
});
