import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { tempDir, waitFor } from '@ron/testkit';
import { launchChromium, openConsole, screenshotPath, SLOW, START_MS, WAIT } from './browser.js';
import { startNode } from './helpers.js';

// The operator console end to end (issue 15, docs/console.md): a real macronode, the page in
// headless Chromium. Every wait is for a condition on the page, bounded by a timeout; nothing
// sleeps. One browser test per file: each file has the runner's whole-file time budget.

describe('operator console in headless Chromium: reload with a dry run', () => {
  // Chromium starts while the node does (both are slow on a loaded machine); awaited in the test.
  const launching = launchChromium();
  launching.catch(() => undefined);
  after(async () => {
    await (await launching).close();
  });

  test(
    'reload from the page: the dry-run diff first (nothing applied), then apply on confirmation — by keyboard',
    SLOW,
    async () => {
      const dir = tempDir('macronode-console-');
      const file = join(dir.path, 'macronode.toml');
      writeFileSync(file, 'log_level = "info"\n');
      const [n, browser] = await Promise.all([
        startNode({
          timeoutMs: START_MS,
          args: ['--config', file],
          env: { LOG_LEVEL: undefined },
        }),
        launching,
      ]);
      const { page, errors } = await openConsole(browser, n.admin, 'config');
      try {
        await page.waitForSelector('#config-table tr[data-key="log_level"]', WAIT);
        assert.match(
          (await page.textContent('#config-table tr[data-key="log_level"]')) ?? '',
          /"?info"?.*file/,
        );
        writeFileSync(file, 'log_level = "debug"\n');

        await page.focus('#reload-btn');
        await page.keyboard.press('Enter');
        await page.waitForSelector('#confirm-dialog[open] #reload-diff', WAIT);
        const diff = (await page.textContent('#reload-diff')) ?? '';
        assert.match(diff, /log_level\s*info\s*debug/);
        assert.match((await page.textContent('#reload-diff [data-plan="applied"]')) ?? '', /log_level/);
        await page.screenshot({ path: screenshotPath('reload-dry-run') });
        // The dry run changed nothing.
        const st0 = (await (await fetch(`${n.admin}/api/v1/status`)).json()) as {
          log_level: string;
          config_version: number;
        };
        assert.deepEqual([st0.log_level, st0.config_version], ['info', 1]);

        // Focus starts on Cancel; Tab to "Apply reload" and press Enter.
        assert.equal(await page.evaluate('document.activeElement?.id'), 'confirm-cancel');
        await page.keyboard.press('Tab');
        assert.equal(await page.evaluate('document.activeElement?.id'), 'confirm-ok');
        await page.keyboard.press('Enter');
        await page.waitForSelector('#banner.ok >> text=reload applied: config v2', WAIT);
        await waitFor(
          async () =>
            ((await (await fetch(`${n.admin}/api/v1/status`)).json()) as { log_level: string }).log_level ===
            'debug',
          5000,
        );
        await page.waitForSelector('#config-table tr[data-key="log_level"] >> text=debug', WAIT);
        // ConfigUpdated arrived on the stream and is in the feed.
        await page.click('nav a[data-view="events"]');
        await page.waitForSelector(
          '#events-list li[data-type="ConfigUpdated"] >> text=config v2 applied',
          WAIT,
        );

        // Cancelling after a dry run applies nothing.
        writeFileSync(file, 'log_level = "warn"\n');
        await page.click('nav a[data-view="overview"]');
        await page.click('#reload-btn1');
        await page.waitForSelector('#confirm-dialog[open] #reload-diff', WAIT);
        await page.keyboard.press('Escape');
        await page.waitForSelector('#confirm-dialog', { ...WAIT, state: 'hidden' });
        const st1 = (await (await fetch(`${n.admin}/api/v1/status`)).json()) as {
          log_level: string;
          config_version: number;
        };
        assert.deepEqual([st1.log_level, st1.config_version], ['debug', 2]);
        assert.deepEqual(errors, []);
      } finally {
        await page.context().close();
        await n.stop();
        dir.remove();
      }
    },
  );
});
