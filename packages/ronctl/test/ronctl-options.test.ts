// issue 9 item 15: a subcommand's options are never taken by a program flag, and every program spells
// its version flag the same way. Real processes: the ronctl bin against the svc-registry bin.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runProgram, tempDir } from '@ron/testkit';
import { REGISTRY_BIN, RONCTL, ronctl, startRegistryBin } from './helpers.js';

const bin = (p: string): string => fileURLToPath(new URL(`../../../${p}`, import.meta.url));

test('registry get <id> --version N shows descriptor version N, not ronctl’s version; program options work before and after the command', async () => {
  const dir = tempDir('ronctl-opts-');
  const cwd = dir.path;
  const a = (await ronctl(['keygen', '--out', 'a.key'], {}, cwd)).stdout.trim();
  const reg = await startRegistryBin([a], 1);
  try {
    for (const [version, addr] of [
      [1, '10.0.0.1:9000'],
      [2, '10.0.0.2:9000'],
    ] as const) {
      writeFileSync(
        join(cwd, `v${version}.json`),
        JSON.stringify({
          op: 'publish',
          descriptor: { id: 'svc-opt', kind: 'service', version, body: { region: 'eu', addr } },
        }),
      );
      const r = await ronctl(
        ['--registry', reg.url, 'registry', 'publish', '--file', `v${version}.json`, '--key', 'a.key'],
        {},
        cwd,
      );
      assert.equal(r.code, 0, r.stderr);
    }
    // The form README and `get --help` show: --version after the command is the descriptor version.
    const old = await ronctl(
      ['registry', 'get', 'svc-opt', '--version', '1'],
      { RON_REGISTRY_URL: reg.url },
      cwd,
    );
    assert.equal(old.code, 0, old.stderr);
    assert.match(old.stdout, /^svc-opt {2}service {2}v1 {2}published/);
    assert.match(old.stdout, /10\.0\.0\.1:9000/);
    assert.doesNotMatch(old.stdout, /^0\.1\.0$/m);
    // Program options after the command (and before it) still apply; the nearest one wins.
    const json = await ronctl(
      ['registry', 'get', 'svc-opt', '--version', '1', '--json', '--registry', reg.url],
      { RON_REGISTRY_URL: 'http://127.0.0.1:9' },
      cwd,
    );
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { version: number }).version, 1);
    const before = await ronctl(
      ['--json', '--registry', 'http://127.0.0.1:9', 'registry', 'get', 'svc-opt', '--registry', reg.url],
      {},
      cwd,
    );
    assert.equal(before.code, 0, before.stderr);
    assert.equal((JSON.parse(before.stdout) as { version: number }).version, 2);
    // The program's own version flag: before any command only.
    for (const flag of ['-V', '--version']) {
      const v = await ronctl([flag]);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout.trim(), /^\d+\.\d+\.\d+/);
    }
    // An option the command does not have is a usage error (64), not a silent program flag.
    const typo = await ronctl(['registry', 'head', '--verison', '1'], { RON_REGISTRY_URL: reg.url });
    assert.equal(typo.code, 64);
    assert.match(typo.stderr, /unknown option '--verison'/);
  } finally {
    await reg.stop();
    dir.remove();
  }
});

test('every program spells its version flag -V, --version, and a subcommand’s --version stays its own', async () => {
  const programs = [
    RONCTL,
    REGISTRY_BIN,
    bin('micronode/bin/micronode.js'),
    bin('macronode/bin/macronode.js'),
  ];
  const outputs = new Set<string>();
  for (const p of programs) {
    for (const flag of ['-V', '--version']) {
      const r = await runProgram(p, [flag], { timeoutMs: 15_000 });
      assert.equal(r.code, 0, `${p} ${flag}: ${r.stderr}`);
      outputs.add(r.stdout.trim());
    }
    const help = await runProgram(p, ['--help'], { timeoutMs: 15_000 });
    assert.match(help.stdout, /-V, --version/, `${p} --help lists -V, --version`);
  }
  assert.equal(outputs.size, 1, `one version string: ${[...outputs].join(' | ')}`);
  // svc-registry sign has its own --version (the version the commit creates).
  const dir = tempDir('ronctl-vflag-');
  try {
    const key = join(dir.path, 'k.key');
    assert.equal((await runProgram(REGISTRY_BIN, ['keygen', '--out', key])).code, 0);
    const s = await runProgram(REGISTRY_BIN, [
      'sign',
      '--key',
      key,
      '--payload-b3',
      'b3:cli',
      '--version',
      '1',
    ]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /"alg":"ed25519"/);
  } finally {
    dir.remove();
  }
});
