// ronctl's key and signing commands load no server code: `@ron/registry/protocol` and
// `@ron/kernel/core` are the only RON entry points ronctl imports, so keygen and sign never load
// Fastify, pino, prom-client, the SQLite addon or the PostgreSQL client (they used to, through
// `@ron/registry`'s main entry point: ~1 s of start-up to sign a file).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tempDir } from '@ron/testkit';
import { RONCTL } from './helpers.js';

const SERVER_PACKAGES = ['fastify', 'pino', 'prom-client', 'better-sqlite3', 'pg', 'undici'];
const dir = tempDir('ronctl-imports-');
after(() => dir.remove());

// Preloaded into ronctl: at exit, prints the npm packages whose CommonJS modules were loaded
// (every server package above is CommonJS, so it would be listed).
const PRELOAD = `process.on('exit', () => {
  const names = new Set();
  for (const k of Object.keys(require.cache)) {
    const i = k.lastIndexOf('node_modules/');
    if (i < 0) continue;
    const parts = k.slice(i + 13).split('/');
    names.add(parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0]);
  }
  process.stderr.write('LOADED ' + JSON.stringify([...names]) + '\\n');
});
`;

function loadedBy(args: string[]): string[] {
  const preload = join(dir.path, 'report.cjs');
  writeFileSync(preload, PRELOAD);
  const r = spawnSync(process.execPath, ['-r', preload, RONCTL, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ronctl ${args.join(' ')}: ${r.stderr}`);
  const line = /^LOADED (.*)$/m.exec(r.stderr);
  assert.ok(line, `no LOADED line in: ${r.stderr}`);
  return JSON.parse(line[1]!) as string[];
}

test('ronctl keygen and sign load no server package (no Fastify, pino, prom-client, SQLite, pg)', () => {
  const key = join(dir.path, 'k.key');
  const proposal = join(dir.path, 'proposal.json');
  writeFileSync(
    proposal,
    JSON.stringify({
      op: 'publish',
      descriptor: {
        id: 'svc-demo@local',
        kind: 'service',
        version: 1,
        body: { region: 'local', addr: '127.0.0.1:9000', tls: false, weight: 1 },
      },
    }),
  );
  const keygen = loadedBy(['keygen', '--out', key]);
  assert.ok(keygen.includes('commander'), `the report works: ${keygen.join(' ')}`);
  for (const args of [
    ['keygen', '--out', join(dir.path, 'k2.key')],
    ['sign', '--key', key, proposal],
    ['--help'],
  ]) {
    const got = args[0] === 'keygen' ? keygen : loadedBy(args);
    const server = got.filter((p) => SERVER_PACKAGES.includes(p));
    assert.deepEqual(server, [], `ronctl ${args[0]} loaded server packages: ${server.join(', ')}`);
  }
});
