// The API plane routes (SPEC §2.2, minus descriptors/proposals which come with governance).
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ApiError, sendError } from '@ron/kernel';
import { parseStrictJson } from './canonical.js';
import { parseCommitBody } from './commit-body.js';
import { checkCapability } from './governance/capabilities.js';
import type { RegistryMetrics } from './metrics.js';
import type { CommitOutcome, Registry } from './registry.js';
import type { StreamHub } from './stream-hub.js';

export interface ApiRoutesOptions {
  registry: Registry;
  hub: StreamHub;
  metrics: RegistryMetrics;
  readOnly: boolean;
  bodyCap: number;
  /** The write routes' guards; the app passes the same hook to the governance writes (one budget). */
  writeGuard: onRequestHookHandler;
  /** The read routes' guards. */
  readGuard: onRequestHookHandler;
  corsHeaders: (origin: string | undefined) => Record<string, string>;
  /** When set, `POST /registry/commit` needs `Authorization: Bearer <macaroon>` with scope `registry:commit`. */
  capRootKey?: Uint8Array;
  /** descriptor counts and pending proposals for /registry/stats. */
  governance?: { state: { counts(): { published: number; deprecated: number } }; pendingProposals(): number };
}

const MAX_HISTORY = 1000;

/** The 413's hint on every write route: the setting that raises the cap. */
export const BODY_CAP_HINT =
  'raise [limits] max_request_bytes in the config file (env REGISTRY_LIMITS__MAX_REQUEST_BYTES)';

function versionParam(raw: string, what: string): number {
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw)))
    throw new ApiError(
      'BadRequest',
      `${what} ${JSON.stringify(raw.slice(0, 40))} is not a non-negative integer`,
    );
  return Number(raw);
}

function query(req: FastifyRequest): Record<string, unknown> {
  return (req.query ?? {}) as Record<string, unknown>;
}

function intQuery(req: FastifyRequest, name: string, def: number): number {
  const v = query(req)[name];
  if (v === undefined || v === '') return def;
  if (typeof v !== 'string') throw new ApiError('BadRequest', `query parameter ${name} given more than once`);
  return versionParam(v, name);
}

/** Registers the API routes on an app whose only body parser is strict JSON. */
export function apiRoutes(app: FastifyInstance, o: ApiRoutesOptions): void {
  const { registry: reg, metrics } = o;

  // Strict JSON is the only body type: anything else is 415, malformed or duplicate keys 400.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: o.bodyCap },
    (_req, body, done) => {
      // An empty body is no body (RFC 9112 §6.3): routes that need one answer 400, `apply` takes none.
      if (body === '') {
        done(null, undefined);
        return;
      }
      try {
        done(null, parseStrictJson(body as string));
      } catch (e) {
        done(new ApiError('BadRequest', `malformed JSON body: ${(e as Error).message}`), undefined);
      }
    },
  );

  const { writeGuard, readGuard } = o;
  const readOnly = (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    if (o.readOnly) {
      metrics.rejection('read_only').inc();
      metrics.commits.read_only.inc();
      sendError(
        req,
        reply,
        new ApiError('ReadOnly', 'this registry is read-only; writes are shed', {
          hint: 'send writes to a writable replica',
        }),
      );
      return;
    }
    done();
  };

  // Hot read routes: no guards (nothing to wait for), JSON serialized once per head change.
  let cachedFor = -1;
  let headJson = '';
  let versionJson = '';
  const refresh = (): void => {
    const h = reg.head;
    if (h.version === cachedFor) return;
    cachedFor = h.version;
    headJson = JSON.stringify(h);
    versionJson = `{"version":${h.version}}`;
  };
  const head = (_req: FastifyRequest, reply: FastifyReply): void => {
    refresh();
    void reply.type('application/json; charset=utf-8').send(headJson);
  };
  app.get('/registry/head', head);
  app.get('/v1/registry/head', head);
  app.get('/v1/registry/version', (_req, reply) => {
    refresh();
    void reply.type('application/json; charset=utf-8').send(versionJson);
  });

  // A refused commit counts in rejected_total{reason} with the reasons governance writes use. The
  // hook also sees bodies the JSON parser refused, which never reach the handler.
  const rejectBadRequest = metrics.rejection('bad_request');
  const rejectBadSignature = metrics.rejection('bad_signature');
  const rejectNoQuorum = metrics.rejection('no_quorum');
  const onCommitError = (_req: FastifyRequest, _reply: FastifyReply, err: Error, done: () => void): void => {
    if (err instanceof ApiError) {
      if (err.code === 'BadRequest') {
        metrics.commits.invalid.inc();
        metrics.updates.rejected.inc();
        rejectBadRequest.inc();
      } else if (err.code === 'BadSignature') rejectBadSignature.inc();
      else if (err.code === 'NoQuorum') rejectNoQuorum.inc();
    }
    done();
  };

  // SPEC §2.2: with a capability root key, commits need scope registry:commit (401/403), checked
  // before the body is read.
  const rejectUnauthorized = metrics.rejection('unauthorized');
  const rejectForbidden = metrics.rejection('forbidden');
  const capRootKey = o.capRootKey;
  const capability = (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    if (capRootKey === undefined) return done();
    try {
      checkCapability(req.headers.authorization, capRootKey, 'registry:commit');
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      metrics.updates.rejected.inc();
      (err.code === 'Forbidden' ? rejectForbidden : rejectUnauthorized).inc();
      sendError(req, reply, err);
      return;
    }
    done();
  };

  // One function for every commit (not a closure per request).
  const countOutcome = (outcome: CommitOutcome): void => {
    metrics.commits[outcome].inc();
    if (outcome === 'ok') metrics.updates.applied.inc();
    else if (outcome === 'bad_signature') metrics.updates.invalid_sig.inc();
    else metrics.updates.rejected.inc();
  };

  app.post(
    '/registry/commit',
    { onRequest: [writeGuard, readOnly, capability], onError: onCommitError },
    async (req) => {
      const commit = parseCommitBody(req.body);
      const end = metrics.commitLatency.startTimer();
      const newHead = await reg.commit(commit, countOutcome);
      end();
      metrics.headVersion.set(newHead.version);
      // debug, like every other durable write on the node: the chain and the change stream are the
      // record of commits, and a line per commit at info cost a fifth of the 16-client commit rate.
      req.log.debug({ version: newHead.version, payload_b3: newHead.payload_b3 }, 'commit applied');
      return newHead;
    },
  );

  // Commit answers 200 (not the 201 the kernel prewarms for POST).
  metrics.route('POST', '/registry/commit').status(200);

  app.get('/registry/history', { onRequest: readGuard }, async (req) => {
    const from = Math.max(1, intQuery(req, 'from', 1));
    const limit = intQuery(req, 'limit', 100);
    if (limit < 1 || limit > MAX_HISTORY)
      throw new ApiError('BadRequest', `limit must be 1–${MAX_HISTORY} (got ${limit})`);
    const floor = reg.floor();
    if (from < floor && from <= reg.head.version)
      throw new ApiError('Gone', `versions below ${floor} are no longer retained`, {
        hint: `start at from=${floor}`,
      });
    const entries = await reg.range(from - 1, limit);
    const last = entries.at(-1)?.version;
    const next = last !== undefined && last < reg.head.version ? last + 1 : null;
    return { head: reg.head.version, floor, entries, next };
  });

  app.get('/registry/stats', { onRequest: readGuard }, () => ({
    head: reg.head,
    floor: reg.floor(),
    descriptors: o.governance?.state.counts() ?? { published: 0, deprecated: 0 },
    pending_proposals: o.governance?.pendingProposals() ?? 0,
    stream_clients: o.hub.clients,
    store: { kind: reg.store.kind, degraded: reg.degraded },
    signers: { threshold: reg.threshold, count: reg.signers.length },
  }));

  const stream = (req: FastifyRequest, reply: FastifyReply): void => {
    o.hub.handle(req, reply, o.corsHeaders(req.headers.origin));
  };
  app.get('/registry/stream', stream);
  app.get('/v1/registry/stream', stream);

  app.get('/registry/:version', { onRequest: readGuard }, async (req) => {
    const v = versionParam((req.params as { version: string }).version, 'version');
    if (v < 1 || v > reg.head.version)
      throw new ApiError('NotFound', `no entry at version ${v} (head is ${reg.head.version})`);
    const e = await reg.entry(v);
    if (e === undefined)
      throw new ApiError('Gone', `version ${v} is below the retained floor ${reg.floor()}`);
    return e;
  });

  // 405 with Allow for the wrong method on a known path (OPTIONS stays free for CORS preflight).
  const paths: [string, string[]][] = [
    ['/registry/head', ['GET']],
    ['/registry/commit', ['POST']],
    ['/registry/history', ['GET']],
    ['/registry/stats', ['GET']],
    ['/registry/stream', ['GET']],
    ['/registry/:version', ['GET']],
    ['/v1/registry/head', ['GET']],
    ['/v1/registry/version', ['GET']],
    ['/v1/registry/stream', ['GET']],
  ];
  for (const [url, allowed] of paths) {
    const others = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => !allowed.includes(m));
    app.route({
      method: others,
      url,
      handler(req, reply) {
        sendError(
          req,
          reply,
          new ApiError('MethodNotAllowed', `${req.method} is not allowed on ${url}`, {
            headers: {
              allow: [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : []), 'OPTIONS'].join(', '),
            },
          }),
        );
      },
    });
  }
  app.options('*', (_req, reply) => {
    void reply.code(204).send();
  });
}
