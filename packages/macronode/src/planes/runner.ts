import { createLogger, setLogLevel, type Logger } from '@ron/kernel';
import { existsSync } from 'node:fs';
import type { RunningPlane } from './plane.js';
import { planeModule } from './table.js';
import type { ChildMessage, ParentMessage } from '../supervisor/ipc.js';

// The plane runner: the entry point of every plane's child process. The supervisor forks it with an
// IPC channel; it starts one plane, reports `ready` with its URL (like sd_notify READY=1) and
// heartbeats until told to stop (IPC `stop` or SIGTERM).

function send(m: ChildMessage): void {
  if (process.connected) process.send?.(m);
}

/** Test-only fault knob `<plane>:<crash|hang>:<marker file>`, active while the marker file exists. */
function faultFor(plane: string, fault: string | undefined): 'crash' | 'hang' | undefined {
  if (fault === undefined || fault === '') return undefined;
  const [p, kind, marker] = fault.split(':');
  if (p !== plane || marker === undefined || !existsSync(marker)) return undefined;
  return kind === 'crash' || kind === 'hang' ? kind : undefined;
}

let running: RunningPlane | undefined;
let log: Logger | undefined;
let heartbeat: NodeJS.Timeout | undefined;
let stopping = false;
let stopGraceMs = 5000;
const planeHandlers: ((m: unknown) => void)[] = [];
// Plane messages that arrive before the plane registered its handler (e.g. while it loads modules).
let early: unknown[] = [];

async function stop(graceMs: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (heartbeat) clearInterval(heartbeat);
  try {
    await running?.close(graceMs);
    log?.info({ event: 'plane_closed' }, 'plane closed');
    process.exit(0);
  } catch (err) {
    log?.error({ err }, 'plane close failed');
    process.exit(1);
  }
}

async function start(m: Extract<ParentMessage, { type: 'start' }>): Promise<void> {
  const mod = planeModule(m.plane);
  // The plane writes its own JSON lines to the inherited stdout. Its ready line is renamed
  // `plane_ready`: only the host's `event:"ready"` marks the whole node ready.
  log = createLogger('macronode', m.logLevel).child(
    { plane: m.plane },
    {
      formatters: {
        log: (o: object) =>
          (o as { event?: unknown }).event === 'ready' ? { ...o, event: 'plane_ready' } : o,
      },
    },
  );
  if (mod === undefined) {
    log.fatal(`unknown plane ${m.plane}`);
    process.exit(2);
  }
  const fault = faultFor(m.plane, m.fault);
  if (fault === 'crash') {
    log.error({ fault }, 'test fault: crashing at start (RON_TEST_FAULT)');
    process.exit(1);
  }
  stopGraceMs = m.stopGraceMs;
  const onMessage = (fn: (m: unknown) => void): void => {
    planeHandlers.push(fn);
    const queued = early;
    early = [];
    for (const q of queued) fn(q);
  };
  running = await mod.start(m.options, log, { onMessage });
  send({ type: 'ready', url: running.url, info: running.info ?? {} });
  if (fault === 'hang') {
    log.warn({ fault }, 'test fault: not heartbeating (RON_TEST_FAULT)');
    return;
  }
  heartbeat = setInterval(() => send({ type: 'hb' }), m.heartbeatMs);
}

process.on('message', (raw: unknown) => {
  const m = raw as ParentMessage;
  if (m.type === 'start') {
    start(m).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      log?.fatal({ err }, 'plane failed to start');
      send({ type: 'error', message: message.split('\n')[0] ?? message });
      process.exitCode = 1;
      setTimeout(() => process.exit(1), 50).unref();
    });
  } else if (m.type === 'stop') {
    void stop(m.graceMs);
  } else if (m.type === 'log_level') {
    // Every logger of the plane (its listeners' and components' children too), not just the root.
    if (log) setLogLevel(log, m.level);
  } else if (m.type === 'metrics_req') {
    const id = m.id;
    (running?.metrics?.() ?? Promise.resolve(''))
      .then((text) => send({ type: 'metrics', id, text }))
      .catch(() => send({ type: 'metrics', id, text: '' }));
  } else if (planeHandlers.length === 0) {
    early.push(m);
  } else {
    for (const h of planeHandlers) h(m);
  }
});
process.once('SIGTERM', () => void stop(stopGraceMs));
// SIGINT is ignored: interactive interrupts go to the host, which stops planes in order.
process.on('SIGINT', () => undefined);
// The host is gone: a plane never outlives its supervisor.
process.on('disconnect', () => void stop(1000));
