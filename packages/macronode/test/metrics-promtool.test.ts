// SPEC §1.1: every program's /metrics passes `promtool check metrics`. Real processes on port 0.
// CI installs promtool (Debian `prometheus`); without it this test falls back to a strict
// exposition-format check of our own and says so, so `npm test` still works on a bare machine.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnProgram, tempDir, type Program } from '@ron/testkit';

const bin = (pkg: string, name: string): string =>
  fileURLToPath(new URL(`../../../${pkg}/bin/${name}.js`, import.meta.url));
const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
const started: Program[] = [];
const dirs: { remove(): void }[] = [];

after(async () => {
  for (const p of started) await p.stop();
  for (const d of dirs) d.remove();
});

const SAMPLE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? [-+]?(\d+(\.\d+)?([eE][-+]?\d+)?|NaN|[-+]Inf)$/;

/** promtool when present; otherwise every line must be a HELP/TYPE comment or a valid sample. */
function check(name: string, text: string): void {
  if (hasPromtool) {
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, `${name}: promtool check metrics failed:\n${r.stdout}${r.stderr}`);
    return;
  }
  process.stderr.write('promtool not found: using the built-in exposition check (CI installs promtool)\n');
  const typed = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const t = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) {
      assert.ok(!typed.has(t[1]!), `${name}: duplicate TYPE for ${t[1]}`);
      typed.add(t[1]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    assert.match(line, SAMPLE, `${name}: bad exposition line`);
  }
}

async function scrape(url: string): Promise<string> {
  const r = await fetch(`${url}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return r.text();
}

test('micronode /metrics passes promtool, before and after traffic', async () => {
  const p = await spawnProgram({
    bin: bin('micronode', 'micronode'),
    args: ['--bind', '127.0.0.1:0', '--amnesia'],
  });
  started.push(p);
  check('micronode (boot)', await scrape(p.url));
  await fetch(`${p.url}/v1/kv/b/k`, { method: 'PUT', body: 'v' });
  await fetch(`${p.url}/v1/kv/b/k`, { method: 'PUT', body: 'v', headers: { 'content-encoding': 'gzip' } });
  await fetch(`${p.url}/nope`);
  check('micronode (after traffic)', await scrape(p.url));
});

test('svc-registry admin /metrics passes promtool', async () => {
  const p = await spawnProgram({
    bin: bin('registry', 'svc-registry'),
    args: ['--dev', '--amnesia', '--bind', '127.0.0.1:0', '--admin-bind', '127.0.0.1:0'],
  });
  started.push(p);
  const admin = String(p.ready.admin_url);
  check('svc-registry (boot)', await scrape(admin));
  await fetch(`${p.url}/registry/head`);
  await fetch(`${p.url}/registry/commit`, {
    method: 'POST',
    body: '{',
    headers: { 'content-type': 'application/json' },
  });
  check('svc-registry (after traffic)', await scrape(admin));
});

test('macronode admin and every plane /metrics pass promtool', async () => {
  const d = tempDir();
  dirs.push(d);
  const p = await spawnProgram({
    bin: bin('macronode', 'macronode'),
    args: [
      'run',
      '--http-addr',
      '127.0.0.1:0',
      '--gateway-addr',
      '127.0.0.1:0',
      '--data-dir',
      d.path,
      '--amnesia',
    ],
    timeoutMs: 30_000,
  });
  started.push(p);
  check('macronode admin', await scrape(p.url));
  const planes = p.ready.planes as Record<string, { url: string; admin_url?: string }>;
  assert.ok(Object.keys(planes).length >= 2, 'expected the registry and kv planes');
  for (const [name, info] of Object.entries(planes))
    check(`plane ${name}`, await scrape(info.admin_url ?? info.url));
});
