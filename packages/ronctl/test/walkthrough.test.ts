// Runs the walk-through at the top of docs/governance.md as written (bash), on free ports.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, tempDir } from '@ron/testkit';
import { RONCTL } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const DOC = join(ROOT, 'docs/governance.md');

test('docs/governance.md walk-through runs as written', async () => {
  const m = /<!-- walkthrough:begin -->\s*```sh\n([\s\S]*?)```/.exec(readFileSync(DOC, 'utf8'));
  assert.ok(m, 'the walk-through block exists');
  const dir = tempDir('ronctl-walk-');
  // `npx ronctl` resolves through the workspace; a shim on PATH keeps the test fast and offline.
  const bin = join(dir.path, 'bin');
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'npx'),
    `#!/bin/sh\nif [ "$1" = ronctl ]; then shift; exec "${process.execPath}" "${RONCTL}" "$@"; fi\necho "unexpected npx $*" >&2; exit 2\n`,
  );
  chmodSync(join(bin, 'npx'), 0o755);
  const [api, admin] = [await freePort(), await freePort()];
  // Whatever happens, background jobs (the registry, the watcher) end with the script.
  const script = `trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n${m[1]!}`;
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: ROOT,
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        REGISTRY_ADDR: `127.0.0.1:${api}`,
        METRICS_ADDR: `127.0.0.1:${admin}`,
        RON_REGISTRY_URL: `http://127.0.0.1:${api}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 90_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
  try {
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
    assert.match(out.stdout, /applied publish \(version 1\) at log version 1/);
    assert.match(out.stdout, /"us-east-1":\{"services":\[\{"id":"svc-storage@us-east-1"/);
    assert.match(out.stdout, /applied signers \(version 2\) at log version 2/);
    assert.match(out.stdout, /^v1 {2}publish {2}svc-storage@us-east-1/m);
    assert.match(out.stdout, /^v2 {2}signers/m);
    assert.match(out.stdout, /ok: 2 entries verified up to head 2; chain b3:[0-9a-f]{64}; 2 signer set\(s\)/);
  } finally {
    dir.remove();
  }
});

test('README.md carries the same walk-through block as docs/governance.md (the one run above)', () => {
  const block = (text: string): string | undefined =>
    /<!-- walkthrough:begin -->[\s\S]*?<!-- walkthrough:end -->/.exec(text)?.[0];
  const doc = block(readFileSync(DOC, 'utf8'));
  const readme = block(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  assert.ok(doc !== undefined && readme !== undefined, 'both files have the walk-through markers');
  assert.equal(readme, doc, 'README.md walk-through drifted from docs/governance.md; copy it over');
});
