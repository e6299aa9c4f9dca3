import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { card, field, launchChromium, openConsole, screenshotPath, SLOW, START_MS, WAIT } from './browser.js';
import { planeStatus, startNode } from './helpers.js';

// The operator console end to end (issue 15, docs/console.md): a real macronode, the page in
// headless Chromium. Every wait is for a condition on the page, bounded by a timeout; nothing
// sleeps. One browser test per file: each file has the runner's whole-file time budget.

describe('operator console in headless Chromium: live plane cards', () => {
  // Chromium starts while the node does (both are slow on a loaded machine); awaited in the test.
  const launching = launchChromium();
  launching.catch(() => undefined);
  after(async () => {
    await (await launching).close();
  });

  test(
    'every plane running; kill -9 a plane: its card goes restarting then running with the restart count +1, live, without a reload or a status poll',
    SLOW,
    async () => {
      const [n, browser] = await Promise.all([
        startNode({
          timeoutMs: START_MS,
          env: { RON_SUPERVISOR__BACKOFF_MIN: '1500ms', RON_SUPERVISOR__BACKOFF_MAX: '3s' },
        }),
        launching,
      ]);
      const { page, errors } = await openConsole(browser, n.admin);
      try {
        for (const p of ['registry', 'kv', 'gateway'])
          await page.waitForSelector(`${card(p)}[data-state="running"]`, WAIT);
        assert.equal(await page.textContent('#ready-badge'), 'ready');
        assert.equal(await page.textContent(field('kv', 'restarts')), '0');
        const before = await planeStatus(n.admin, 'kv');
        assert.equal(await page.textContent(field('kv', 'pid')), String(before.pid));
        assert.match((await page.textContent(field('kv', 'window'))) ?? '', /^0 \/ 5 in 1m 0s$/);
        await page.screenshot({ path: screenshotPath('overview-1280x800') });

        // Same document throughout: a marker set now must survive; no GET /api/v1/status after load.
        await page.evaluate('window.__marker = 42');
        const statusGets: string[] = [];
        page.on('request', (r) => {
          if (r.url().endsWith('/api/v1/status')) statusGets.push(r.url());
        });

        process.kill(before.pid!, 'SIGKILL');
        await page.waitForSelector(`${card('kv')}[data-state="restarting"]`, WAIT);
        assert.match((await page.textContent(field('kv', 'backoff'))) ?? '', /^in \d+\.\d s$/);
        assert.match(
          (await page.textContent(field('kv', 'reason'))) ?? '',
          /crashed \(killed by SIGKILL\); restarting in/,
        );
        assert.match((await page.textContent(field('kv', 'last_exit'))) ?? '', /signal SIGKILL/);
        assert.match((await page.textContent(field('kv', 'window'))) ?? '', /^1 \/ 5/);
        assert.equal(await page.textContent('#ready-badge'), 'not ready');
        assert.match(
          (await page.textContent('#failing')) ?? '',
          /kv: restarting in \d+ ms after: killed by SIGKILL/,
        );
        await page.screenshot({ path: screenshotPath('overview-restarting') });

        await page.waitForSelector(`${card('kv')}[data-state="running"]`, WAIT);
        assert.equal(await page.textContent(field('kv', 'restarts')), '1');
        const after = await planeStatus(n.admin, 'kv');
        assert.equal(await page.textContent(field('kv', 'pid')), String(after.pid));
        assert.notEqual(after.pid, before.pid);
        await page.waitForSelector('#ready-badge.ok', WAIT);
        assert.equal(await page.evaluate('window.__marker'), 42, 'the page was not reloaded');
        assert.deepEqual(
          statusGets,
          [],
          'the card was updated from the event stream, not by polling /api/v1/status',
        );

        // The events feed saw the crash and the recovery; filters narrow it.
        await page.click('nav a[data-view="events"]');
        await page.waitForSelector('#events-list li[data-type="ServiceCrashed"][data-service="kv"]', WAIT);
        assert.match(
          (await page.textContent('#events-list li[data-type="ServiceCrashed"]')) ?? '',
          /kv crashed: killed by SIGKILL; restart in \d+ ms/,
        );
        await page.uncheck('#event-filters input[value="Health"]');
        assert.equal(await page.locator('#events-list li[data-type="Health"]').count(), 0);
        assert.ok((await page.locator('#events-list li[data-type="ServiceCrashed"]').count()) >= 1);
        await page.selectOption('#event-plane', 'registry');
        assert.equal(await page.locator('#events-list li').count(), 0);
        await page.screenshot({ path: screenshotPath('events') });

        // Registry view: head, chain hash, descriptors; phone width stays readable.
        await page.click('nav a[data-view="registry"]');
        await page.waitForSelector('#registry-head [data-field="head-version"]', WAIT);
        assert.match((await page.textContent('#registry-head')) ?? '', /Chain hashb3:/);
        await page.waitForSelector('#registry-stream-state >> text=live', WAIT);
        await page.setViewportSize({ width: 390, height: 844 });
        await page.click('nav a[data-view="overview"]');
        await page.waitForSelector(`${card('kv')}[data-state="running"]`, WAIT);
        const overflow = await page.evaluate<number>(
          'document.documentElement.scrollWidth - document.documentElement.clientWidth',
        );
        assert.ok(overflow <= 0, `no horizontal scrolling at phone width (overflow ${overflow}px)`);
        await page.screenshot({ path: screenshotPath('overview-phone'), fullPage: true });
        assert.deepEqual(errors, []);
      } finally {
        await page.context().close();
        await n.stop();
      }
    },
  );
});
