#!/usr/bin/env node
// Stamps build info (version, git sha, build time) next to the kernel's compiled code.
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

let commit = 'unknown';
try {
  commit = execSync('git rev-parse --short=12 HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || 'unknown';
} catch {
  // Not a git checkout: stays "unknown".
}
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
mkdirSync('packages/kernel/dist', { recursive: true });
const info = { version, commit, built_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
writeFileSync('packages/kernel/dist/build-info.json', `${JSON.stringify(info)}\n`);
