// issue 9 items 6 and 13 on a real macronode: a reloaded log_level reaches every plane (child
// processes) and the host live, and no log line repeats a key (`plane` and `listener` are two facts).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir, waitFor } from '@ron/testkit';
import { startNode } from './helpers.js';

/** The keys of every object in a JSON text that appear twice in that object (JSON.parse hides them). */
function duplicateKeys(text: string): string[] {
  const dups: string[] = [];
  let i = 0;
  const ws = (): void => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const str = (): string => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        const k = str();
        if (seen.has(k)) dups.push(k);
        seen.add(k);
        ws();
        i++; // :
        value();
        ws();
        if (text[i++] === '}') return;
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i++] === ']') return;
      }
    } else if (c === '"') str();
    else while (i < text.length && !/[,}\]\s]/.test(text[i]!)) i++;
  };
  value();
  return dups;
}

test('a reloaded log_level reaches every plane and the host live (debug lines counted before and after)', async () => {
  const dir = tempDir('macronode-loglevel-');
  const file = join(dir.path, 'macronode.toml');
  writeFileSync(file, 'log_level = "info"\n');
  const n = await startNode({
    args: ['--config', file, '--amnesia'],
    env: { LOG_LEVEL: undefined, RON_LOG: undefined },
  });
  const debugOf = (plane: string | undefined): number =>
    n.prog.lines.filter((l) => l.level === 'debug' && l.plane === plane).length;
  // A missing key: the kv plane logs its 404 at debug. A gzip body on the admin plane: the host's
  // guard logs the 415 at debug.
  const poke = async (): Promise<void> => {
    assert.equal((await fetch(`${n.gateway}/v1/kv/demo/missing`)).status, 404);
    assert.equal(
      (await fetch(`${n.admin}/healthz`, { headers: { 'content-encoding': 'gzip' } })).status,
      415,
    );
  };
  try {
    await poke();
    assert.equal(debugOf('kv'), 0);
    assert.equal(debugOf(undefined), 0);

    writeFileSync(file, 'log_level = "debug"\n');
    const r = await fetch(`${n.admin}/api/v1/reload`, { method: 'POST' });
    assert.equal(r.status, 200);
    assert.deepEqual(((await r.json()) as { applied: string[] }).applied, ['log_level']);
    // The plane hears of the new level over IPC; poke until its debug lines show up.
    await waitFor(
      async () => {
        await poke();
        return debugOf('kv') > 0 && debugOf(undefined) > 0;
      },
      60_000,
      200,
    );
    const kvLine = n.prog.lines.find((l) => l.level === 'debug' && l.plane === 'kv');
    assert.match(String(kvLine?.msg), /no key 'missing'/);
  } finally {
    await n.stop();
    dir.remove();
  }
});

test('no log line has a duplicate key; the registry plane names its listener apart from its plane', async () => {
  const n = await startNode({
    args: ['--amnesia', '--log-level', 'debug'],
    env: { LOG_LEVEL: undefined, RON_LOG: undefined },
  });
  try {
    // A 404 from the registry's API listener (logged at debug) and one from the kv plane.
    await fetch(`${n.gateway}/v1/registry/descriptors/no-such-id`);
    await fetch(`${n.gateway}/v1/kv/demo/missing`);
    await n.prog.waitForLine((l) => l.plane === 'registry' && l.listener !== undefined, 30_000);
  } finally {
    await n.stop();
  }
  assert.ok(n.prog.rawLines.length > 10);
  for (const raw of n.prog.rawLines) {
    if (!raw.startsWith('{')) continue;
    assert.deepEqual(duplicateKeys(raw), [], raw);
  }
  const reg = n.prog.lines.find((l) => l.plane === 'registry' && l.listener !== undefined)!;
  assert.ok(reg.listener === 'api' || reg.listener === 'admin', JSON.stringify(reg));
});
