import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { launchChromium, openConsole, screenshotPath, SLOW, START_MS, WAIT } from './browser.js';
import { startNode } from './helpers.js';

// The operator console end to end (issue 15, docs/console.md): a real macronode, the page in
// headless Chromium. Every wait is for a condition on the page, bounded by a timeout; nothing
// sleeps. One browser test per file: each file has the runner's whole-file time budget.

describe('operator console in headless Chromium: admin token and shutdown', () => {
  // Chromium starts while the node does (both are slow on a loaded machine); awaited in the test.
  const launching = launchChromium();
  launching.catch(() => undefined);
  after(async () => {
    await (await launching).close();
  });

  test(
    'with admin_token set the page asks for the token, says when it is wrong (401), keeps it in memory only; shutdown with confirmation',
    SLOW,
    async () => {
      const [n, browser] = await Promise.all([
        startNode({ timeoutMs: START_MS, env: { RON_ADMIN_TOKEN: 'correct-horse' } }),
        launching,
      ]);
      const { page, errors } = await openConsole(browser, n.admin);
      try {
        await page.waitForSelector('#auth-btn:not([hidden])', WAIT);
        await page.click('#reload-btn1');
        await page.waitForSelector('#token-dialog[open]', WAIT);
        assert.equal(await page.isHidden('#token-error'), true);
        await page.fill('#token-input', 'wrong-token');
        await page.keyboard.press('Enter');
        // The node answered 401: the page says so and asks again.
        await page.waitForSelector('#token-dialog[open] #token-error:not([hidden])', WAIT);
        assert.match(
          (await page.textContent('#token-error')) ?? '',
          /Wrong admin token: the node answered 401 Unauthorized/,
        );
        await page.screenshot({ path: screenshotPath('token-wrong') });
        await page.fill('#token-input', 'correct-horse');
        await page.keyboard.press('Enter');
        await page.waitForSelector('#confirm-dialog[open] #reload-diff', WAIT);
        await page.click('#confirm-cancel');
        const stored = await page.evaluate(
          '({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie })',
        );
        assert.deepEqual(stored, { local: 0, session: 0, cookie: '' });
        assert.equal(await page.textContent('#auth-btn'), 'Forget admin token');

        // Shutdown: a confirmation, then the node stops (exit 0) and the page says so.
        await page.click('#shutdown-btn');
        await page.waitForSelector('#confirm-dialog[open] >> text=Shut down the node?', WAIT);
        await page.click('#confirm-ok');
        await page.waitForSelector('#banner >> text=shutting down', WAIT);
        const exit = await n.prog.exited;
        assert.equal(exit.code, 0);
        await page.waitForSelector('#live-badge.bad', WAIT);
        assert.deepEqual(errors, []);
      } finally {
        await page.context().close();
        await n.stop();
      }
    },
  );
});
