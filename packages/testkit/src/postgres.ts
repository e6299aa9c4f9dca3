// A throwaway PostgreSQL cluster for tests and benchmarks (SPEC §2.5): Debian's server binaries,
// `initdb` into a temp dir, `pg_ctl` on a free loopback port, run as the unprivileged `postgres`
// user when the caller is root (the server refuses to run as root). Stopped by PID. Nothing is
// mocked; without the binaries the caller gets an error naming the package to install — tests never
// skip silently.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

export interface PgCluster {
  /** `postgres://ron@127.0.0.1:<port>/<db>` for the default database (`ron`). */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The postmaster's PID while it runs (undefined when stopped). */
  pid(): number | undefined;
  /** A URL for another database on this cluster, created if needed. */
  database(name: string): Promise<string>;
  /** Stops the server (fast shutdown), keeping its data; `start()` brings it back on the same port. */
  stopServer(mode?: 'fast' | 'immediate'): void;
  startServer(): void;
  /** Runs SQL as the superuser through psql (e.g. `SELECT pg_terminate_backend(...)`). */
  sql(text: string, db?: string): string;
  /** Stops the server and removes the cluster. */
  destroy(): void;
}

export interface PgClusterOptions {
  /** fsync on (benchmarks: the durability users run with); tests default to off for speed. */
  fsync?: boolean;
}

/** Directory of the newest installed PostgreSQL server binaries, or a clear error. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      'PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): install the Debian package `postgresql` ' +
        '(apt-get install -y postgresql; .ci/run does this)',
    );
  }
  return join(root, versions[0]!, 'bin');
}

function asPostgresUser(): string[] {
  if (process.getuid?.() !== 0) return [];
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(
      'running as root but there is no `postgres` user to run the server as (the Debian package creates it)',
    );
  return ['runuser', '-u', 'postgres', '--'];
}

/** Starts a fresh cluster; call `destroy()` when done (an `after()` hook). */
export async function startPostgres(opts: PgClusterOptions = {}): Promise<PgCluster> {
  const bin = postgresBinDir();
  const wrap = asPostgresUser();
  const base = mkdtempSync(join(tmpdir(), 'ron-pg-'));
  const dataDir = join(base, 'data');
  const sockDir = base;
  if (wrap.length > 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(base, uid, gid);
    chmodSync(base, 0o755);
  }
  const run = (cmd: string, args: string[]): string => {
    const full = [...wrap, join(bin, cmd), ...args];
    const r = spawnSync(full[0]!, full.slice(1), { encoding: 'utf8', cwd: base });
    if (r.status !== 0)
      throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  run('initdb', ['-D', dataDir, '-U', 'ron', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await freePort();
  const log = join(base, 'server.log');
  const serverOpts = [
    `-p ${port}`,
    `-k ${sockDir}`,
    '-c listen_addresses=127.0.0.1',
    `-c fsync=${opts.fsync === true ? 'on' : 'off'}`,
    `-c synchronous_commit=${opts.fsync === true ? 'on' : 'off'}`,
    '-c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ');
  const pidFile = join(dataDir, 'postmaster.pid');
  const pidNow = (): number | undefined => {
    try {
      const n = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  };
  const startServer = (): void => {
    run('pg_ctl', ['-D', dataDir, '-o', serverOpts, '-l', log, '-w', '-t', '30', 'start']);
  };
  const stopServer = (mode: 'fast' | 'immediate' = 'fast'): void => {
    const pid = pidNow();
    if (pid === undefined) return;
    // By PID: SIGINT = fast shutdown, SIGQUIT = immediate (crash-like; recovery on next start).
    process.kill(pid, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      spawnSync('sleep', ['0.05']);
    }
    process.kill(pid, 'SIGKILL');
  };
  startServer();
  const psql = join(bin, 'psql');
  const sql = (text: string, db = 'postgres'): string => {
    const r = spawnSync(
      psql,
      ['-h', '127.0.0.1', '-p', String(port), '-U', 'ron', '-d', db, '-v', 'ON_ERROR_STOP=1', '-Atc', text],
      {
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
    return r.stdout.trim();
  };
  const created = new Set<string>(['postgres']);
  const database = (name: string): Promise<string> => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
    if (!created.has(name)) {
      sql(`CREATE DATABASE ${name}`);
      created.add(name);
    }
    return Promise.resolve(`postgres://ron@127.0.0.1:${port}/${name}`);
  };
  const url = await database('ron');
  return {
    url,
    port,
    dataDir,
    pid: pidNow,
    database,
    stopServer,
    startServer,
    sql,
    destroy() {
      stopServer('fast');
      rmSync(base, { recursive: true, force: true });
    },
  };
}
