import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

// Headless Chromium for the console tests: Debian's `chromium` package driven by playwright-core.
// Never a downloaded browser; never a skip: a missing browser fails the run and names the package.

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where the tests leave their screenshots (repo root, git-ignored). */
export const SCREENSHOTS = fileURLToPath(new URL('../../../../test-output/console/', import.meta.url));

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} not found: the console tests need Debian's chromium package (apt-get install -y chromium; .ci/run installs it)`,
    );
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}

export function screenshotPath(name: string): string {
  return join(SCREENSHOTS, `${name}.png`);
}

/**
 * Collects uncaught page errors and console errors (CSP violations included) so a test can assert
 * there were none. Refused requests (a 401 on purpose, the event stream of a stopped node) are not
 * page errors: the page reports those itself.
 */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|net::ERR_/.test(m.text()))
      errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** Bound for every wait on the page (a loaded 2-core machine is slow, never unbounded). */
export const WAIT = { timeout: 30_000 };

// A browser test does more than most (a node, a page, a crash and a recovery): on a loaded 2-core
// machine it needs more than the runner's default budget. Each is still bounded.
export const SLOW = { timeout: 110_000 };

/** Start-up budget for a node in these tests (the default 20 s is tight next to a browser). */
export const START_MS = 45_000;

/** Opens the console at a view in a fresh browser context and waits for the live event stream. */
export async function openConsole(
  browser: Browser,
  admin: string,
  view = 'overview',
  width = 1280,
  height = 800,
): Promise<{ page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ viewport: { width, height } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(WAIT.timeout);
  const errors = watchErrors(page);
  await page.goto(`${admin}/ui/#${view}`);
  await page.waitForSelector('#live-badge.ok', WAIT);
  return { page, errors };
}

/** A plane's card on the overview, and one of its fields. */
export const card = (plane: string): string => `#planes [data-plane="${plane}"]`;
export const field = (plane: string, f: string): string => `${card(plane)} [data-field="${f}"]`;
