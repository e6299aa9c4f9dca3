import { parseAddr } from '@ron/kernel';
import { accessSync, constants, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { loadMacronodeConfig, type LoadInput, type MacronodeConfig } from './config.js';
import { ownConfig, type DoctorCheck } from './planes/plane.js';
import { sqliteStoreCheck } from './planes/store-check.js';
import { PLANE_NAMES, planeModule } from './planes/table.js';

type Check = DoctorCheck;

function portFree(addr: string): Promise<Check> {
  const t = parseAddr(addr);
  if (t === undefined || t.kind !== 'tcp')
    return Promise.resolve({ name: `port ${addr}`, verdict: 'fail', detail: 'not HOST:PORT' });
  if (t.port === 0) return Promise.resolve({ name: `port ${addr}`, verdict: 'ok', detail: 'ephemeral port' });
  return new Promise((res) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) =>
      res({ name: `port ${addr}`, verdict: 'fail', detail: `cannot bind: ${e.code ?? e.message}` }),
    );
    s.listen(t.port, t.host, () =>
      s.close(() => res({ name: `port ${addr}`, verdict: 'ok', detail: 'free' })),
    );
  });
}

function dataDir(c: MacronodeConfig): Check[] {
  if (c.amnesia) return [{ name: 'data dir', verdict: 'ok', detail: 'amnesia: nothing is written' }];
  const dir = resolve(c.data_dir);
  try {
    mkdirSync(dir, { recursive: true });
    const probe = join(dir, `.doctor-${process.pid}`);
    writeFileSync(probe, 'ok');
    rmSync(probe);
  } catch (err) {
    return [{ name: 'data dir', verdict: 'fail', detail: `${dir} not writable: ${(err as Error).message}` }];
  }
  return [{ name: 'data dir', verdict: 'ok', detail: `${dir} writable` }];
}

/** Each enabled plane's own checks, else its SQLite store opens (created if missing, as the plane would). */
async function planeChecks(c: MacronodeConfig): Promise<Check[]> {
  if (c.amnesia) return [];
  const out: Check[] = [];
  for (const name of PLANE_NAMES) {
    if (!c.services.includes(name)) continue;
    const mod = planeModule(name)!;
    if (mod.doctor !== undefined) out.push(...(await mod.doctor(ownConfig(mod, c), c)));
    else if (mod.store !== undefined)
      out.push(await sqliteStoreCheck(name, join(resolve(c.data_dir), mod.store.file)));
  }
  return out;
}

function tls(c: MacronodeConfig): Check[] {
  const out: Check[] = [];
  for (const k of [
    'tls.admin.cert',
    'tls.admin.key',
    'tls.admin.client_ca',
    'tls.gateway.cert',
    'tls.gateway.key',
    'tls.gateway.client_ca',
  ] as const) {
    const p = c[k];
    if (p === '') continue;
    try {
      accessSync(p, constants.R_OK);
      readFileSync(p);
      out.push({ name: k, verdict: 'ok', detail: `${p} readable` });
    } catch (err) {
      out.push({ name: k, verdict: 'fail', detail: (err as Error).message });
    }
  }
  if (out.length === 0)
    out.push({ name: 'tls', verdict: 'ok', detail: 'not configured (plain HTTP on loopback)' });
  return out;
}

/** `macronode doctor`: one line per check, exit 1 if any check fails. */
export async function runDoctor(
  input: LoadInput,
  write: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const checks: Check[] = [];
  let c: MacronodeConfig | undefined;
  try {
    c = loadMacronodeConfig(input).config;
    checks.push({ name: 'config', verdict: 'ok', detail: 'valid' });
  } catch (err) {
    checks.push({ name: 'config', verdict: 'fail', detail: (err as Error).message.replaceAll('\n', ' ') });
  }
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({
    name: 'node version',
    verdict: major >= 20 ? 'ok' : 'fail',
    detail: `${process.version} (need ≥ 20)`,
  });
  const now = Date.now();
  const clockSane = now > Date.UTC(2024, 0, 1) && now < Date.UTC(2100, 0, 1);
  checks.push({ name: 'clock', verdict: clockSane ? 'ok' : 'warn', detail: new Date(now).toISOString() });
  if (c) {
    checks.push(...dataDir(c));
    checks.push(...(await planeChecks(c)));
    checks.push(await portFree(c.http_addr), await portFree(c.gateway_addr));
    if (c.metrics_addr !== '') checks.push(await portFree(c.metrics_addr));
    checks.push(...tls(c));
  }
  for (const k of checks) write(`${k.verdict.padEnd(4)} ${k.name}: ${k.detail}\n`);
  const fails = checks.filter((k) => k.verdict === 'fail').length;
  write(fails === 0 ? 'doctor: all checks passed\n' : `doctor: ${fails} check(s) failed\n`);
  return fails === 0 ? 0 : 1;
}
