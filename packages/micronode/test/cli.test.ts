// The real bin as a CLI: config layering and `config print`, exit 78 for bad config (every error at
// once), exit 69 when the store cannot open, `version`.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { runProgram, spawnProgram, tempDir } from '@ron/testkit';
import { BIN } from './helpers.js';

const dir = tempDir();
after(() => dir.remove());

// A clean env: nothing from the developer's shell leaks into the layers under test.
function cleanEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const k of Object.keys(process.env))
    if (k.startsWith('MICRONODE_') || k === 'LOG_LEVEL' || k === 'RUST_LOG' || k === 'BIND_ADDR')
      env[k] = undefined;
  return { ...env, ...extra };
}

function printLine(out: string, key: string): string {
  const line = out.split('\n').find((l) => l.startsWith(`${key} `));
  assert.ok(line, `config print shows ${key}:\n${out}`);
  return line;
}

describe('config layering and `config print`', () => {
  const toml = `${dir.path}/micronode.toml`;
  const json = `${dir.path}/micronode.json`;
  writeFileSync(
    toml,
    'dev_routes = true\n[storage]\npath = "/from/file.db"\n[limits]\nmax_body_bytes = "64KiB"\nrequest_timeout = "250ms"\n',
  );
  writeFileSync(
    json,
    JSON.stringify({
      storage: { path: '/from/json.db' },
      limits: { request_timeout: '1m' },
      rate_limit: { rps: 5 },
    }),
  );

  test('defaults only: every key reports source default', async () => {
    const r = await runProgram(BIN, ['config', 'print'], { env: cleanEnv() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(printLine(r.stdout, 'storage.path'), /"\.\/_data\/micronode\.db"\s+# default$/);
    assert.match(printLine(r.stdout, 'bind'), /"127\.0\.0\.1:5310"\s+# default$/);
  });

  for (const file of [toml, json]) {
    const ext = file.endsWith('.toml') ? 'TOML' : 'JSON';
    test(`${ext} file < env < flag for one key; config print names each source`, async () => {
      const fromFile = await runProgram(BIN, ['config', 'print', '--config', file], { env: cleanEnv() });
      assert.equal(fromFile.code, 0, fromFile.stderr);
      assert.match(
        printLine(fromFile.stdout, 'storage.path'),
        new RegExp(`"/from/${ext === 'TOML' ? 'file' : 'json'}\\.db"\\s+# file \\(${file}\\)$`),
      );

      const fromEnv = await runProgram(BIN, ['config', 'print', '--config', file], {
        env: cleanEnv({ MICRONODE_STORAGE_PATH: '/from/env.db' }),
      });
      assert.match(
        printLine(fromEnv.stdout, 'storage.path'),
        /"\/from\/env\.db"\s+# env \(MICRONODE_STORAGE_PATH\)$/,
      );

      const fromFlag = await runProgram(
        BIN,
        ['config', 'print', '--config', file, '--storage-path', '/from/flag.db'],
        {
          env: cleanEnv({ MICRONODE_STORAGE_PATH: '/from/env.db' }),
        },
      );
      assert.equal(fromFlag.code, 0, fromFlag.stderr);
      assert.match(
        printLine(fromFlag.stdout, 'storage.path'),
        /"\/from\/flag\.db"\s+# flag \(--storage-path\)$/,
      );
    });
  }

  test('the file can come from MICRONODE_CONFIG; units parse ("64KiB", "250ms", "1m")', async () => {
    const r = await runProgram(BIN, ['config', 'print', '--json'], {
      env: cleanEnv({ MICRONODE_CONFIG: toml }),
    });
    assert.equal(r.code, 0, r.stderr);
    const cfg = JSON.parse(r.stdout) as Record<string, { value: unknown; source: string }>;
    assert.equal(cfg['limits.max_body_bytes']!.value, 64 * 1024);
    assert.equal(cfg['limits.request_timeout']!.value, 250);
    assert.equal(cfg.dev_routes!.value, true);
    assert.equal(cfg['storage.path']!.source, `file (${toml})`);
    const j = await runProgram(BIN, ['config', 'print', '--json', '--config', json], {
      env: cleanEnv({ MICRONODE_MAX_BODY_BYTES: '1MiB' }),
    });
    const cj = JSON.parse(j.stdout) as Record<string, { value: unknown; source: string }>;
    assert.equal(cj['limits.request_timeout']!.value, 60_000);
    assert.equal(cj['limits.max_body_bytes']!.value, 1024 * 1024);
    assert.equal(cj['rate_limit.rps']!.value, 5);
  });

  test('env aliases: LOG_LEVEL and RUST_LOG-style levels', async () => {
    const r = await runProgram(BIN, ['config', 'print', '--json'], {
      env: cleanEnv({ RUST_LOG: 'micronode=debug,warn' }),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as Record<string, { value: unknown }>).log_level!.value, 'warn');
  });
});

describe('bad config → exit 78 (EX_CONFIG) with every error listed', () => {
  test('two bad env values: both keys, their env names and rules appear at once', async () => {
    const r = await runProgram(BIN, ['run', '--bind', '127.0.0.1:0'], {
      env: cleanEnv({
        MICRONODE_READY_MAX_INFLIGHT: 'lots',
        MICRONODE_MAX_BODY_BYTES: '12 parsecs',
        MICRONODE_STORAGE_ENGINE: 'mem',
      }),
    });
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /2 errors/);
    assert.match(
      r.stderr,
      /limits\.max_inflight: must be an integer \(got "lots" from env MICRONODE_READY_MAX_INFLIGHT\)/,
    );
    assert.match(r.stderr, /limits\.max_body_bytes: must be a size .* from env MICRONODE_MAX_BODY_BYTES/);
    assert.equal(r.stdout, '');
  });

  test('bad flag, bad file value and an unknown file key are all reported together', async () => {
    const f = `${dir.path}/bad.toml`;
    writeFileSync(f, 'bogus_key = 1\n[limits]\nrequest_timeout = "soon"\n');
    const r = await runProgram(
      BIN,
      ['run', '--config', f, '--bind', 'not-an-address', '--storage-engine', 'floppy'],
      { env: cleanEnv() },
    );
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /bogus_key: unknown key \(got 1 from file/);
    assert.match(r.stderr, /limits\.request_timeout: must be a duration/);
    assert.match(
      r.stderr,
      /storage\.engine: must be one of mem, sqlite \(got "floppy" from flag --storage-engine\)/,
    );
    // Cross-field rules run only once the values themselves are valid: the four above are listed.
    assert.match(r.stderr, /3 errors/);
  });

  test('a cross-field rule names the key and layer: bind', async () => {
    const r = await runProgram(BIN, ['run', '--bind', 'nope'], { env: cleanEnv() });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /bind: must be HOST:PORT .*from flag --bind/);
  });

  test('an unreadable config file → 78 naming the file', async () => {
    const r = await runProgram(BIN, ['run', '--config', `${dir.path}/missing.toml`], { env: cleanEnv() });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /missing\.toml/);
    const bad = `${dir.path}/broken.json`;
    writeFileSync(bad, '{"storage": ');
    const j = await runProgram(BIN, ['config', 'print', '--config', bad], { env: cleanEnv() });
    assert.equal(j.code, 78);
    assert.match(j.stderr, /broken\.json: invalid JSON/);
  });

  test('sqlite + amnesia set explicitly → 78', async () => {
    const r = await runProgram(BIN, ['run', '--bind', '127.0.0.1:0'], {
      env: cleanEnv({ MICRONODE_AMNESIA: '1', MICRONODE_STORAGE_ENGINE: 'sqlite' }),
    });
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /storage\.engine: sqlite cannot be combined with amnesia/);
  });
});

describe('store that cannot open → exit 69', () => {
  test('a path under a regular file fails start-up with exit 69 and a one-line reason', async () => {
    const file = `${dir.path}/regular-file`;
    writeFileSync(file, 'not a directory');
    const r = await runProgram(BIN, ['run', '--bind', '127.0.0.1:0'], {
      env: cleanEnv({ MICRONODE_STORAGE_ENGINE: 'sqlite', MICRONODE_STORAGE_PATH: `${file}/kv.db` }),
    });
    assert.equal(r.code, 69, r.stderr);
    assert.match(r.stderr, /store .* cannot open/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  test('a SQLite file already owned by a running micronode → exit 69 naming the path; the owner keeps serving', async () => {
    const db = `${dir.path}/owned/kv.db`;
    const env = cleanEnv({ MICRONODE_STORAGE_ENGINE: 'sqlite', MICRONODE_STORAGE_PATH: db });
    const owner = await spawnProgram({ bin: BIN, args: ['run', '--bind', '127.0.0.1:0'], env });
    try {
      assert.equal((await fetch(`${owner.url}/v1/kv/b/k`, { method: 'PUT', body: 'v1' })).status, 201);
      const r = await runProgram(BIN, ['run', '--bind', '127.0.0.1:0'], { env });
      assert.equal(r.code, 69, r.stderr);
      assert.ok(r.stderr.includes(db), r.stderr);
      assert.match(r.stderr, /in use by another process/);
      // The owner's data and service are untouched.
      const got = await fetch(`${owner.url}/v1/kv/b/k`);
      assert.equal(got.status, 200);
      assert.equal(await got.text(), 'v1');
    } finally {
      await owner.stop();
    }
    // Once the owner is gone the file opens again, data intact.
    const again = await spawnProgram({ bin: BIN, args: ['run', '--bind', '127.0.0.1:0'], env });
    try {
      assert.equal(await (await fetch(`${again.url}/v1/kv/b/k`)).text(), 'v1');
    } finally {
      await again.stop();
    }
  });

  test('/dev/null/x.db → exit 69', async () => {
    const r = await runProgram(
      BIN,
      ['--bind', '127.0.0.1:0', '--storage-engine', 'sqlite', '--storage-path', '/dev/null/x.db'],
      {
        env: cleanEnv(),
      },
    );
    assert.equal(r.code, 69, r.stderr);
  });
});

test('`micronode version` prints build info', async () => {
  const r = await runProgram(BIN, ['version'], { env: cleanEnv() });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^micronode \S+ \(commit \S+, built \S+\) node v\d+/);
});
