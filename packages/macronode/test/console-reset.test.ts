import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { tempDir } from '@ron/testkit';
import { card, field, launchChromium, openConsole, screenshotPath, SLOW, START_MS, WAIT } from './browser.js';
import { planeStatus, startNode } from './helpers.js';

// The operator console end to end (issue 15, docs/console.md): a real macronode, the page in
// headless Chromium. Every wait is for a condition on the page, bounded by a timeout; nothing
// sleeps. One browser test per file: each file has the runner's whole-file time budget.

describe('operator console in headless Chromium: reset a failed plane', () => {
  // Chromium starts while the node does (both are slow on a loaded machine); awaited in the test.
  const launching = launchChromium();
  launching.catch(() => undefined);
  after(async () => {
    await (await launching).close();
  });

  test('a failed plane (past max_restarts) shows why, and the page resets it', SLOW, async () => {
    const dir = tempDir('macronode-console-');
    const marker = join(dir.path, 'crash');
    const [n, browser] = await Promise.all([
      startNode({
        timeoutMs: START_MS,
        env: {
          RON_TEST_FAULT: `kv:crash:${marker}`,
          RON_SUPERVISOR__MAX_RESTARTS: '2',
          RON_SUPERVISOR__BACKOFF_MIN: '50ms',
          RON_SUPERVISOR__BACKOFF_MAX: '200ms',
        },
      }),
      launching,
    ]);
    const { page, errors } = await openConsole(browser, n.admin);
    try {
      await page.waitForSelector(`${card('kv')}[data-state="running"]`, WAIT);
      assert.equal(
        await page.isDisabled(`${card('kv')} [data-action="reset"]`),
        true,
        'nothing to reset while running',
      );
      writeFileSync(marker, '1');
      process.kill((await planeStatus(n.admin, 'kv')).pid!, 'SIGKILL');
      await page.waitForSelector(`${card('kv')}[data-state="failed"]`, WAIT);
      assert.match(
        (await page.textContent(field('kv', 'reason'))) ?? '',
        /restart intensity exceeded \(2 restarts within 1m 0s\)/,
      );
      assert.match((await page.textContent(field('kv', 'window'))) ?? '', /^2 \/ 2/);
      assert.equal(await page.textContent(field('kv', 'backoff')), 'never (failed: reset it)');
      assert.match((await page.textContent('#failing')) ?? '', /kv: failed \(restart intensity exceeded\)/);
      await page.screenshot({ path: screenshotPath('plane-failed') });

      rmSync(marker);
      await page.click(`${card('kv')} [data-action="reset"]`);
      await page.waitForSelector(`${card('kv')}[data-state="running"]`, WAIT);
      await page.waitForSelector('#ready-badge.ok', WAIT);
      assert.equal((await planeStatus(n.admin, 'kv')).state, 'running');
      assert.equal(await page.textContent(field('kv', 'window')).then((t) => t?.startsWith('0 / 2')), true);
      assert.deepEqual(errors, []);
    } finally {
      await page.context().close();
      await n.stop();
      dir.remove();
    }
  });
});
