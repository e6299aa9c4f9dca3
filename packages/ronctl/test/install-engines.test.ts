// issue 9 item 25: `npm ci` on the Node version the README promises prints no EBADENGINE. Every
// package the lockfile installs must accept this Node; light-my-request (fastify's inject()) runs on
// the cookie version pinned for it in package.json "overrides".
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const requireFromKernel = createRequire(join(ROOT, 'packages/kernel/package.json'));

interface LockEntry {
  version?: string;
  engines?: { node?: string } | string[];
  optional?: boolean;
  dev?: boolean;
}

test('every package in package-lock.json accepts the running Node (no EBADENGINE on npm ci)', () => {
  const semver = requireFromKernel('semver') as {
    satisfies(v: string, range: string, o?: { includePrerelease?: boolean }): boolean;
  };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const refused: string[] = [];
  for (const [path, p] of Object.entries(lock.packages)) {
    const range = Array.isArray(p.engines) ? undefined : p.engines?.node;
    if (range === undefined || p.optional === true) continue;
    if (!semver.satisfies(process.version, range, { includePrerelease: true }))
      refused.push(`${path}@${p.version ?? '?'} requires node ${range}`);
  }
  assert.deepEqual(refused, [], `on ${process.version}`);
});

test('fastify inject() (light-my-request) works with the pinned cookie, cookies included', async () => {
  const Fastify = requireFromKernel('fastify') as (o?: object) => {
    get(path: string, h: (req: { headers: Record<string, string | undefined> }) => unknown): void;
    inject(o: {
      url: string;
      cookies: Record<string, string>;
    }): Promise<{ statusCode: number; body: string }>;
    close(): Promise<void>;
  };
  const app = Fastify();
  app.get('/c', (req) => ({ cookie: req.headers.cookie }));
  try {
    const r = await app.inject({ url: '/c', cookies: { a: '1', b: 'x y' } });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(JSON.parse(r.body), { cookie: 'a=1; b=x%20y' });
  } finally {
    await app.close();
  }
});
