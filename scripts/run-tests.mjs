#!/usr/bin/env node
// Runs every compiled test file under node's built-in runner, with c8 line coverage of src/.
// Usage: node scripts/run-tests.mjs [substring filter...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir, out = []) {
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = readdirSync('packages')
  .flatMap((p) => walk(join('packages', p, 'dist', 'test')))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files found (did tsc -b run?)');
  process.exit(1);
}
const c8 = [
  'node_modules/c8/bin/c8.js',
  '--reporter=text-summary',
  '--reporter=text',
  '--include=packages/*/dist/src/**',
  '--exclude-after-remap',
  '--include=packages/*/src/**',
];
// STYLE.md: coverage reported, ≥ 90 % lines (the seed's bar); a drop fails the full run.
if (filters.length === 0) c8.push('--check-coverage', '--lines=90');
const args = [...c8, process.execPath, '--test', '--test-concurrency=2', '--test-timeout=300000', ...files];
const r = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } });
process.exit(r.status ?? 1);
