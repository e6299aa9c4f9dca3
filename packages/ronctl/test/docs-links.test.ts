// Every relative link and #anchor in README.md and docs/*.md resolves (issue 9 item 24: a README link
// to docs/registry.md#config pointed at no heading).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runProgram, spawnProgram, tempDir } from '@ron/testkit';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const MACRONODE = join(ROOT, 'packages/macronode/bin/macronode.js');

/** Markdown text without fenced code blocks and inline code spans (links there are not links). */
function prose(md: string): string {
  return md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(md).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const text = m[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, '');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of md.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]!);
  return out;
}

function markdownFiles(): string[] {
  const docs = join(ROOT, 'docs');
  return [
    join(ROOT, 'README.md'),
    ...readdirSync(docs)
      .filter((f) => f.endsWith('.md'))
      .map((f) => join(docs, f)),
  ];
}

test('every relative link and #anchor in README.md and docs/*.md resolves', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of markdownFiles()) {
    const md = readFileSync(file, 'utf8');
    for (const m of prose(md).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      checked++;
      const [path = '', anchor] = target.split('#', 2);
      const dest = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      const where = `${relative(ROOT, file)}: (${target})`;
      if (!existsSync(dest)) {
        broken.push(`${where} — no such file`);
        continue;
      }
      if (anchor !== undefined && anchor !== '') {
        if (statSync(dest).isDirectory() || !dest.endsWith('.md')) {
          broken.push(`${where} — an anchor into a file that is not markdown`);
          continue;
        }
        if (!anchorsOf(readFileSync(dest, 'utf8')).has(decodeURIComponent(anchor)))
          broken.push(`${where} — no heading #${anchor}`);
      }
    }
  }
  assert.ok(checked > 10, `found the links (${checked})`);
  assert.deepEqual(broken, []);
});

test('heading ids follow GitHub’s rules', () => {
  const ids = anchorsOf(
    '# RON\n## Quickstart (Node ≥ 20)\n## macronode: run, inspect, break, reload\n## Config\n## Config\n```sh\n# not a heading\n```\n',
  );
  assert.deepEqual(
    [...ids],
    ['ron', 'quickstart-node--20', 'macronode-run-inspect-break-reload', 'config', 'config-1'],
  );
});

test('README starts macronode with examples/ron.toml, which is valid, and shows what a no-change reload answers', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.match(readme, /npx macronode run --config examples\/ron\.toml/);
  assert.doesNotMatch(readme, /--config ron\.toml/);
  const v = await runProgram(MACRONODE, ['config', 'validate', 'examples/ron.toml'], {
    cwd: ROOT,
    env: { RON_CONFIG: undefined },
    timeoutMs: 15_000,
  });
  assert.equal(v.code, 0, v.stdout + v.stderr);
  // The file runs as written (listeners moved to free ports, data in a temp dir).
  const dir = tempDir('ron-example-');
  const node = await spawnProgram({
    bin: MACRONODE,
    args: [
      'run',
      '--config',
      join(ROOT, 'examples/ron.toml'),
      '--http-addr',
      '127.0.0.1:0',
      '--gateway-addr',
      '127.0.0.1:0',
      '--data-dir',
      dir.path,
    ],
    env: { RON_CONFIG: undefined, RON_ADMIN_TOKEN: undefined },
    timeoutMs: 20_000,
  });
  try {
    const r = await fetch(`${node.url}/api/v1/reload`, { method: 'POST' });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { version: number; applied: string[] };
    assert.equal(body.version, 1);
    assert.deepEqual(body.applied, []);
    const claim = /api\/v1\/reload +# nothing changed: (\{[^}]*\})/.exec(readme);
    assert.ok(claim, 'README shows the no-change reload answer');
    assert.deepEqual(JSON.parse(claim[1]!), body);
  } finally {
    await node.stop('SIGTERM');
    dir.remove();
  }
});
