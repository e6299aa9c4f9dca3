import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from '@ron/kernel';
import type { NodeBus } from '../bus.js';
import type { MacronodeConfig } from '../config.js';
import type { MacronodeMetrics } from '../metrics.js';
import { childSpec, planeOptions, type ChildSpec } from '../planes/plane.js';
import { planeModule } from '../planes/table.js';
import { backoffDelay } from './backoff.js';
import { RunnerPool } from './runner-pool.js';
import type { ChildMessage, ParentMessage } from './ipc.js';

export type PlaneState = 'starting' | 'running' | 'restarting' | 'failed' | 'stopping' | 'stopped';

export interface PlaneStatus {
  state: PlaneState;
  pid: number | null;
  url: string | null;
  restarts: number;
  uptime_seconds: number;
  critical: boolean;
  restart: ChildSpec['restart'];
  last_error: string | null;
  last_exit: { code: number | null; signal: string | null; at: string } | null;
  next_restart_in_ms: number | null;
  /** Restarts inside the current intensity window, against `max_restarts` (the console shows both). */
  restarts_in_window: number;
  max_restarts: number;
  window_ms: number;
  info: Record<string, unknown>;
}

interface Child {
  readonly name: string;
  spec: ChildSpec;
  state: PlaneState;
  proc: ChildProcess | undefined;
  url: string | undefined;
  info: Record<string, unknown>;
  spawnedAt: number;
  readyAt: number | undefined;
  lastHb: number;
  restarts: number;
  /** Restart timestamps inside the intensity window. */
  window: number[];
  /** Backoff exponent (consecutive restarts without a stable run). */
  attempt: number;
  nextRestartAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
  killReason: string | undefined;
  lastError: string | undefined;
  lastExit: PlaneStatus['last_exit'];
  exited: Promise<void> | undefined;
}

export interface SupervisorOptions {
  config: () => MacronodeConfig;
  logger: Logger;
  bus: NodeBus;
  metrics: MacronodeMetrics;
  /** Path of the compiled plane runner. */
  runner: string;
  /** Test-only fault knob forwarded to children (RON_TEST_FAULT). */
  fault?: string | undefined;
  /** Called whenever any plane changes state (readiness, gateway routing). */
  onChange?: () => void;
  /** Called right after a plane's child is forked and sent its start message. */
  onSpawn?: (name: string) => void;
  /** Adjusts a plane's options before each start (e.g. pin the gateway's port across restarts). */
  adjust?: (name: string, options: Record<string, unknown>) => Record<string, unknown>;
}

/**
 * The supervisor of SPEC §4.4: one child process per plane, ready over IPC, heartbeats and hang
 * detection, capped exponential backoff with full jitter, OTP-style intensity (max_restarts within
 * window → failed until reset), ordered shutdown in reverse start order.
 */
export class Supervisor {
  readonly #o: SupervisorOptions;
  readonly #log: Logger;
  readonly #children = new Map<string, Child>();
  /** Start order (for reverse-order shutdown). */
  #order: string[] = [];
  readonly #watchdog: NodeJS.Timeout;
  #shuttingDown = false;
  readonly #readyWaiters = new Set<() => void>();
  readonly #metricsWaiters = new Map<number, (text: string) => void>();
  readonly #pool: RunnerPool;
  #metricsSeq = 0;

  constructor(o: SupervisorOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: 'supervisor' });
    this.#pool = new RunnerPool(o.runner);
    this.#watchdog = setInterval(
      () => this.#checkHeartbeats(),
      Math.max(50, Math.floor(this.#cfg['supervisor.heartbeat_interval'] / 2)),
    );
    this.#watchdog.unref();
  }

  get #cfg(): MacronodeConfig {
    return this.#o.config();
  }

  names(): string[] {
    return [...this.#order];
  }

  has(name: string): boolean {
    return this.#children.has(name);
  }

  /** Adds a plane and starts it. */
  add(name: string): void {
    if (this.#children.has(name)) return;
    const c: Child = {
      name,
      spec: childSpec(planeModule(name)!, this.#cfg),
      state: 'starting',
      proc: undefined,
      url: undefined,
      info: {},
      spawnedAt: 0,
      readyAt: undefined,
      lastHb: 0,
      restarts: 0,
      window: [],
      attempt: 0,
      nextRestartAt: undefined,
      timer: undefined,
      killReason: undefined,
      lastError: undefined,
      lastExit: null,
      exited: undefined,
    };
    this.#children.set(name, c);
    this.#order.push(name);
    this.#spawn(c);
  }

  /** Resolves once every critical plane is running, or rejects with the first failure reason. */
  waitCriticalReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const crit = [...this.#children.values()].filter((c) => c.spec.critical);
        const failed = crit.find((c) => c.state === 'failed');
        if (failed) {
          cleanup();
          reject(new Error(`plane ${failed.name} failed: ${failed.lastError ?? 'unknown'}`));
          return true;
        }
        if (crit.every((c) => c.state === 'running')) {
          cleanup();
          resolve();
          return true;
        }
        return false;
      };
      const w = (): void => void check();
      const t = setTimeout(() => {
        cleanup();
        reject(new Error(`critical planes not ready within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(t);
        this.#readyWaiters.delete(w);
      };
      if (!check()) this.#readyWaiters.add(w);
    });
  }

  #changed(): void {
    this.#o.onChange?.();
    for (const w of [...this.#readyWaiters]) w();
  }

  #setState(c: Child, s: PlaneState): void {
    c.state = s;
    this.#o.metrics.up.set({ service: c.name }, s === 'running' ? 1 : 0);
    this.#o.metrics.setState(c.name, s);
    this.#changed();
  }

  #spawn(c: Child): void {
    const cfg = this.#cfg;
    c.spec = childSpec(planeModule(c.name)!, cfg);
    c.url = undefined;
    c.readyAt = undefined;
    c.killReason = undefined;
    c.nextRestartAt = undefined;
    c.spawnedAt = Date.now();
    c.lastHb = Date.now();
    this.#setState(c, 'starting');
    const proc = this.#pool.take(c.name, () => this.warmSpare());
    c.proc = proc;
    this.#log.info(
      { event: 'plane_spawned', plane: c.name, plane_pid: proc.pid },
      `plane ${c.name} starting (pid ${proc.pid})`,
    );
    createInterface({ input: proc.stderr! }).on('line', (line) => {
      process.stderr.write(`[${c.name}] ${line}\n`);
      c.lastError = line.slice(0, 300);
    });
    proc.on('message', (raw: unknown) => this.#onMessage(c, proc, raw as ChildMessage));
    proc.on('error', (err) => {
      c.lastError = err.message;
      this.#log.error({ plane: c.name, err }, 'plane process error');
    });
    c.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.#onExit(c, proc, code, signal);
        resolve();
      });
    });
    const options = planeOptions(planeModule(c.name)!, cfg);
    const start: ParentMessage = {
      type: 'start',
      plane: c.name,
      options: this.#o.adjust ? this.#o.adjust(c.name, options) : options,
      logLevel: cfg.log_level,
      heartbeatMs: cfg['supervisor.heartbeat_interval'],
      stopGraceMs: Math.max(0, c.spec.shutdownMs - 200),
      fault: this.#o.fault,
    };
    proc.send(start);
    this.#o.onSpawn?.(c.name);
  }

  #onMessage(c: Child, proc: ChildProcess, m: ChildMessage): void {
    if (c.proc !== proc) return;
    switch (m.type) {
      case 'hb':
        c.lastHb = Date.now();
        return;
      case 'error':
        c.lastError = m.message;
        return;
      case 'metrics':
        this.#metricsWaiters.get(m.id)?.(m.text);
        return;
      case 'ready': {
        c.lastHb = Date.now();
        if (c.state !== 'starting') return;
        c.url = m.url;
        c.info = m.info;
        c.readyAt = Date.now();
        this.#setState(c, 'running');
        this.#log.info(
          { event: 'plane_up', plane: c.name, plane_pid: proc.pid, url: m.url, restarts: c.restarts },
          `plane ${c.name} ready on ${m.url}`,
        );
        this.#o.bus.publish({ type: 'Health', service: c.name, ok: true, state: 'running' });
      }
    }
  }

  /** Keeps one idle runner forked and warm for the next restart (`supervisor.warm_spare`). */
  warmSpare(): void {
    if (!this.#shuttingDown && this.#cfg['supervisor.warm_spare']) this.#pool.warm();
  }

  /** Stops pre-forked runners nobody adopted (fewer planes enabled than were forked). */
  releasePreforked(): void {
    this.#pool.releasePreforked();
  }

  get sparePid(): number | null {
    return this.#pool.sparePid;
  }

  #checkHeartbeats(): void {
    const cfg = this.#cfg;
    const now = Date.now();
    for (const c of this.#children.values()) {
      if (c.proc === undefined || c.killReason !== undefined) continue;
      if (c.state === 'running' && now - c.lastHb > cfg['supervisor.heartbeat_timeout']) {
        this.#kill(c, `hang: no heartbeat for ${now - c.lastHb} ms`);
      } else if (c.state === 'starting' && now - c.spawnedAt > cfg['supervisor.start_timeout']) {
        this.#kill(c, `start timeout: not ready within ${cfg['supervisor.start_timeout']} ms`);
      }
    }
  }

  #kill(c: Child, reason: string): void {
    c.killReason = reason;
    this.#log.error({ plane: c.name, plane_pid: c.proc?.pid, reason }, `killing plane ${c.name}: ${reason}`);
    c.proc?.kill('SIGKILL');
  }

  #onExit(c: Child, proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (c.proc !== proc) return;
    c.proc = undefined;
    c.lastExit = { code, signal, at: new Date().toISOString() };
    const wasReadyFor = c.readyAt !== undefined ? Date.now() - c.readyAt : 0;
    c.readyAt = undefined;
    c.url = undefined;
    if (c.state === 'stopping' || this.#shuttingDown) {
      this.#log.info({ event: 'plane_stopped', plane: c.name, code, signal }, `plane ${c.name} stopped`);
      this.#setState(c, 'stopped');
      return;
    }
    const reason = c.killReason ?? (signal !== null ? `killed by ${signal}` : `exited with code ${code}`);
    const abnormal = c.killReason !== undefined || signal !== null || code !== 0;
    c.lastError = reason === `exited with code ${code}` && c.lastError ? `${reason}: ${c.lastError}` : reason;
    const cfg = this.#cfg;
    // 1. Policy: temporary never restarts; transient only after an abnormal exit.
    const restart = c.spec.restart === 'permanent' || (c.spec.restart === 'transient' && abnormal);
    // 2. Intensity: restarts inside the window.
    const now = Date.now();
    c.window = c.window.filter((t) => now - t < cfg['supervisor.window']);
    let delay: number | null = null;
    if (!restart) {
      this.#setState(c, 'stopped');
    } else if (c.window.length >= cfg['supervisor.max_restarts']) {
      this.#setState(c, 'failed');
    } else {
      // 3. Backoff: reset after a stable run, else grow (capped, full jitter).
      if (wasReadyFor >= cfg['supervisor.backoff_reset']) c.attempt = 0;
      delay = backoffDelay(c.attempt, cfg['supervisor.backoff_min'], cfg['supervisor.backoff_max']);
      c.attempt++;
      c.window.push(now);
      c.nextRestartAt = now + delay;
      this.#setState(c, 'restarting');
      c.timer = setTimeout(() => {
        c.timer = undefined;
        if (c.state !== 'restarting') return;
        c.restarts++;
        this.#o.metrics.restarts.inc({ service: c.name });
        this.#spawn(c);
      }, delay);
    }
    this.#log.error(
      {
        event: 'plane_crashed',
        plane: c.name,
        plane_pid: proc.pid,
        code,
        signal,
        reason,
        state: c.state,
        restart_in_ms: delay,
      },
      `plane ${c.name} crashed (${reason}); ${c.state === 'restarting' ? `restarting in ${delay} ms` : `now ${c.state}`}`,
    );
    this.#o.bus.publish({
      type: 'ServiceCrashed',
      service: c.name,
      reason,
      restart_in_ms: delay,
      pid: proc.pid ?? null,
    });
    this.#o.bus.publish({ type: 'Health', service: c.name, ok: false, state: c.state });
    if (c.state === 'failed')
      this.#log.error(
        { event: 'plane_failed', plane: c.name },
        `plane ${c.name} failed: ${cfg['supervisor.max_restarts']} restarts within ${cfg['supervisor.window']} ms; POST /api/v1/services/${c.name}/reset to start it again`,
      );
  }

  /** Like `systemctl reset-failed` + start: clears the intensity history and starts the plane. */
  reset(name: string): PlaneState | undefined {
    const c = this.#children.get(name);
    if (c === undefined) return undefined;
    if (c.state === 'failed' || c.state === 'stopped' || c.state === 'restarting') {
      if (c.timer) clearTimeout(c.timer);
      c.timer = undefined;
      c.window = [];
      c.attempt = 0;
      this.#log.info({ event: 'plane_reset', plane: name }, `plane ${name} reset; starting`);
      this.#spawn(c);
    }
    return c.state;
  }

  /** Stops one plane: IPC stop + SIGTERM, SIGKILL after its shutdown_ms. */
  async stop(name: string): Promise<void> {
    const c = this.#children.get(name);
    if (c === undefined) return;
    if (c.timer) clearTimeout(c.timer);
    c.timer = undefined;
    const proc = c.proc;
    if (proc === undefined) {
      if (c.state !== 'stopped') {
        this.#log.info({ event: 'plane_stopped', plane: c.name }, `plane ${c.name} stopped`);
        this.#setState(c, 'stopped');
      }
      return;
    }
    this.#setState(c, 'stopping');
    this.#log.info({ event: 'plane_stopping', plane: name, plane_pid: proc.pid }, `stopping plane ${name}`);
    const grace = c.spec.shutdownMs;
    if (proc.connected)
      proc.send({ type: 'stop', graceMs: Math.max(0, grace - 200) } satisfies ParentMessage);
    proc.kill('SIGTERM');
    const kill = setTimeout(() => {
      this.#log.warn(
        { plane: name, plane_pid: proc.pid },
        `plane ${name} did not stop within ${grace} ms; SIGKILL`,
      );
      proc.kill('SIGKILL');
    }, grace);
    await c.exited;
    clearTimeout(kill);
  }

  /** Stops and forgets a plane (disabled on reload). */
  async remove(name: string): Promise<void> {
    await this.stop(name);
    this.#children.delete(name);
    this.#order = this.#order.filter((n) => n !== name);
    this.#changed();
  }

  /** Restarts a plane deliberately (its config changed): not a crash, not counted. */
  async restart(name: string): Promise<void> {
    const c = this.#children.get(name);
    if (c === undefined) return;
    await this.stop(name);
    c.window = [];
    c.attempt = 0;
    this.#spawn(c);
  }

  /** Ordered shutdown: reverse start order, one at a time. */
  async stopAll(): Promise<void> {
    this.#shuttingDown = true;
    clearInterval(this.#watchdog);
    this.#pool.close();
    // The gateway (ingress) always goes first, even if a plane was enabled after it on reload.
    const order = [...this.#order].reverse();
    order.sort((a, b) => (a === 'gateway' ? -1 : b === 'gateway' ? 1 : 0));
    for (const name of order) await this.stop(name);
  }

  /** Sends a message to one plane's child (dropped when it is not running). */
  send(name: string, m: ParentMessage): void {
    const proc = this.#children.get(name)?.proc;
    if (proc?.connected) proc.send(m);
  }

  /** Asks a plane for its own Prometheus text; '' when it is down or does not answer in time. */
  planeMetrics(name: string, timeoutMs = 1000): Promise<string> {
    const proc = this.#children.get(name)?.proc;
    if (!proc?.connected || this.state(name) !== 'running') return Promise.resolve('');
    const id = ++this.#metricsSeq;
    return new Promise((resolve) => {
      const t = setTimeout(() => done(''), timeoutMs);
      const done = (text: string): void => {
        clearTimeout(t);
        this.#metricsWaiters.delete(id);
        resolve(text);
      };
      this.#metricsWaiters.set(id, done);
      proc.send({ type: 'metrics_req', id } satisfies ParentMessage);
    });
  }

  broadcast(m: ParentMessage): void {
    for (const c of this.#children.values()) if (c.proc?.connected) c.proc.send(m);
  }

  state(name: string): PlaneState | undefined {
    return this.#children.get(name)?.state;
  }

  url(name: string): string | undefined {
    const c = this.#children.get(name);
    return c?.state === 'running' ? c.url : undefined;
  }

  critical(name: string): boolean {
    return this.#children.get(name)?.spec.critical ?? false;
  }

  /** Whole seconds until the next restart attempt (Retry-After), at least 1. */
  retryAfter(name: string): number {
    const c = this.#children.get(name);
    if (c?.nextRestartAt !== undefined) return Math.max(1, Math.ceil((c.nextRestartAt - Date.now()) / 1000));
    return c?.state === 'failed' ? 30 : 1;
  }

  uptime(name: string): number {
    const c = this.#children.get(name);
    return c?.readyAt !== undefined && c.state === 'running' ? (Date.now() - c.readyAt) / 1000 : 0;
  }

  status(name: string): PlaneStatus | undefined {
    const c = this.#children.get(name);
    if (c === undefined) return undefined;
    return {
      state: c.state,
      pid: c.proc?.pid ?? null,
      url: c.url ?? null,
      restarts: c.restarts,
      uptime_seconds: Math.round(this.uptime(name) * 10) / 10,
      critical: c.spec.critical,
      restart: c.spec.restart,
      last_error: c.lastError ?? null,
      last_exit: c.lastExit,
      next_restart_in_ms: c.nextRestartAt !== undefined ? Math.max(0, c.nextRestartAt - Date.now()) : null,
      restarts_in_window: c.window.filter((t) => Date.now() - t < this.#cfg['supervisor.window']).length,
      max_restarts: this.#cfg['supervisor.max_restarts'],
      window_ms: this.#cfg['supervisor.window'],
      info: c.info,
    };
  }

  /** Why a plane is not ready, for `/readyz?verbose`. */
  reason(name: string): string {
    const c = this.#children.get(name);
    if (c === undefined) return 'not enabled';
    switch (c.state) {
      case 'running':
        return 'ok';
      case 'restarting':
        return `restarting in ${Math.max(0, (c.nextRestartAt ?? Date.now()) - Date.now())} ms after: ${c.lastError ?? 'crash'}`;
      case 'failed':
        return `failed (restart intensity exceeded): ${c.lastError ?? 'crash'}; POST /api/v1/services/${name}/reset`;
      default:
        return c.state;
    }
  }
}
