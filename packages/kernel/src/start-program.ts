import type { FastifyInstance } from 'fastify';
import { listen, parseAddr } from './listen.js';
import type { Logger } from './logger.js';
import { EX_DATAERR, EX_UNAVAILABLE, StartupError } from './main.js';
import type { Readiness } from './readiness.js';
import { installShutdown } from './shutdown.js';

// How every single-listener program starts (micronode, svc-storage, svc-index, svc-mailbox): signal
// handling first, then bind, then open the store, then one `event:"ready"` line. The listener is
// bound before the store opens so `/readyz` truthfully answers 503 during a slow open; a store that
// cannot open is a StartupError — 65 when SQLite says the file is corrupt, 69 otherwise (locked by
// another process, unreadable, a directory that is not writable).

/** What a program's app object offers the start-up sequence. */
export interface StartableNode {
  readonly app: FastifyInstance;
  readonly readiness: Readiness;
  markListening(): void;
  close(graceMs: number): Promise<void>;
}

export interface StartSequence<N extends StartableNode> {
  /** The program's name in the ready line, e.g. `svc-index`. */
  name: string;
  node: N;
  bind: string;
  graceMs: number;
  logger: Logger;
  /** Install SIGTERM/SIGINT handling (standalone program); a supervisor host handles signals itself. */
  installSignals?: boolean | undefined;
  /** Opens the store (after the listener is bound). */
  open(): unknown;
  /** The store as one phrase for errors, e.g. `the index store at /var/lib/ron/index.db`. */
  store: string;
  /** What to check when the store cannot open (one line). */
  hint: string;
  /** Facts for the fatal log line and the ready line (path, engine, limits…). */
  facts: Record<string, unknown>;
  /** The ready line's text after `<name> ready on <url>`, given the URL: `(path); try: curl …`. */
  readyText(url: string): string;
}

function exitCodeFor(err: unknown): number {
  const code = (err as { code?: unknown }).code;
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || /not a database|malformed/.test(msg))
    return EX_DATAERR;
  return EX_UNAVAILABLE;
}

/** Runs the start-up sequence; resolves with the bound URL once the ready line is logged. */
export async function startProgram<N extends StartableNode>(s: StartSequence<N>): Promise<string> {
  const { node, logger: log } = s;
  if (s.installSignals === true)
    installShutdown({
      logger: log,
      readiness: node.readiness,
      graceMs: s.graceMs,
      close: (g) => node.close(g),
    });
  const t0 = performance.now();
  const url = await listen(node.app, parseAddr(s.bind)!);
  node.markListening();
  try {
    await s.open();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log.fatal({ err, ...s.facts }, 'store cannot open');
    await node.app.close();
    throw new StartupError(`${s.store} cannot open: ${msg}\n  ${s.hint}`, exitCodeFor(err));
  }
  log.info(
    {
      event: 'ready',
      url,
      ...s.facts,
      mode: node.readiness.devForced ? 'dev-forced' : 'truthful',
      startup_ms: Math.round(performance.now() - t0),
    },
    `${s.name} ready on ${url} ${s.readyText(url)}`,
  );
  return url;
}
