import {
  apiProblem,
  sendRawError,
  type ErrorFields,
  type InflightCounter,
  type Logger,
  type RouteMetrics,
} from '@ron/kernel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { connectionTokens, forwardedFor, forwardsRequestHeader, forwardsResponseHeader } from './headers.js';
import type { PlanePools } from './pools.js';
import { routeOf, unavailable, type RouteTable } from './routes.js';

export interface FastPathContext {
  log: Logger;
  routes: () => RouteTable;
  pools: PlanePools;
  /** The edge guard's in-flight counter: both paths count against one budget. */
  inflight: InflightCounter;
  maxInflight: number;
  /** Route metrics under the same templates as the Fastify routes. */
  metricsFor(method: string, template: string): RouteMetrics;
}

/**
 * The proxy's hot path, before Fastify (the kernel server's `fastPath` hook): bodiless GET, HEAD and
 * DELETE requests to a running plane. What it skips is Fastify's routing and reply objects, never a
 * guard: it takes only requests no edge guard could refuse (no body so no body cap, no
 * Content-Encoding) and declines (returns false) when the in-flight budget is spent, so the edge
 * guard on the Fastify route answers 429 exactly as for any other request. Event streams, bodies,
 * unknown paths and planes that are down also take the Fastify routes (proxy.ts). The answer streams
 * back as it arrives (one write for a one-chunk answer). `gateway-parity.test.ts` proves both paths
 * answer alike.
 */
export function createFastPath(
  ctx: FastPathContext,
): (req: IncomingMessage, res: ServerResponse, id: string) => boolean {
  const { log } = ctx;
  return (req, res, id) => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') return false;
    const h = req.headers;
    if (
      h['content-length'] !== undefined ||
      h['transfer-encoding'] !== undefined ||
      h['content-encoding'] !== undefined
    ) {
      return false;
    }
    const url = req.url ?? '/';
    if (url.includes('/stream') || (h.accept !== undefined && h.accept.includes('text/event-stream')))
      return false;
    const table = ctx.routes();
    const q = url.indexOf('?');
    const route = routeOf(table, q === -1 ? url : url.slice(0, q));
    if (route === undefined) return false;
    const { plane, template } = route;
    const entry = table.planes[plane];
    if (entry === undefined || entry.state !== 'running' || entry.url === null) return false;
    if (ctx.maxInflight > 0 && ctx.inflight.n >= ctx.maxInflight) return false;

    const started = performance.now();
    const rm = ctx.metricsFor(method, template);
    ctx.inflight.n++;
    let abort: ((err?: Error) => void) | undefined;
    let resume: (() => void) | undefined;
    let done = false;
    res.once('close', () => {
      ctx.inflight.n--;
      rm.status(res.statusCode).inc();
      rm.latency.observe((performance.now() - started) / 1000);
      // The client went away before the answer was complete: stop the upstream request too.
      if (!done) abort?.();
    });

    const headers: string[] = [];
    const raw = req.rawHeaders;
    const named = connectionTokens(h.connection);
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (forwardsRequestHeader(raw[i]!.toLowerCase(), named)) headers.push(raw[i]!, raw[i + 1]!);
    }
    headers.push(
      'x-request-id',
      id,
      'x-forwarded-for',
      forwardedFor(h['x-forwarded-for'], req.socket.remoteAddress ?? ''),
    );

    // A one-chunk answer is held back and sent with the headers by res.end (one write).
    let held: Buffer | undefined;
    let flowing = false;
    const timeout = table.limits.write_timeout;
    const failWith = (p: ErrorFields): void => {
      if (!res.headersSent && !res.writableEnded) sendRawError(res, id, p);
    };
    const handler: Dispatcher.DispatchHandler = {
      onConnect(a) {
        abort = a;
      },
      onHeaders(status, rawRes, resumeFn) {
        resume = resumeFn;
        // One pass over the raw list; names the answer's Connection header declares go afterwards.
        const out: string[] = [];
        let namedRes: Set<string> | undefined;
        for (let i = 0; i + 1 < rawRes.length; i += 2) {
          const k = rawRes[i]!.toString('latin1');
          const lk = k.toLowerCase();
          if (lk === 'connection') namedRes = connectionTokens(rawRes[i + 1]!.toString('latin1'));
          if (forwardsResponseHeader(lk, undefined)) out.push(k, rawRes[i + 1]!.toString('latin1'));
        }
        if (namedRes !== undefined) {
          for (let i = out.length - 2; i >= 0; i -= 2)
            if (namedRes.has(out[i]!.toLowerCase())) out.splice(i, 2);
        }
        out.push('x-request-id', id);
        // SPEC §1.3a: a 408 always closes the connection (the plane's own `Connection: close` is hop-by-hop).
        if (status === 408) out.push('connection', 'close');
        try {
          res.writeHead(status, out);
        } catch (err) {
          // An upstream header node refuses to forward: answer 502 rather than crash.
          log.warn({ plane, request_id: id, err: (err as Error).message }, 'upstream answer not forwardable');
          failWith(apiProblem('BadGateway', `plane ${plane} sent an answer that cannot be forwarded`));
          abort?.();
          return false;
        }
        return true;
      },
      onData(chunk) {
        if (!flowing && held === undefined) {
          held = chunk;
          return true;
        }
        flowing = true;
        if (held !== undefined) {
          res.write(held);
          held = undefined;
        }
        if (res.write(chunk)) return true;
        res.once('drain', () => resume?.());
        return false;
      },
      onComplete() {
        done = true;
        if (!res.writableEnded) res.end(held);
      },
      onError(err) {
        done = true;
        log.warn({ plane, request_id: id, err: err.message }, 'upstream plane unreachable');
        if (res.headersSent) {
          res.destroy(err);
          return;
        }
        failWith(unavailable(plane, ctx.routes().planes[plane]));
      },
    };
    ctx.pools
      .get(entry.url)
      .dispatch({ path: url, method, headers, headersTimeout: timeout, bodyTimeout: timeout }, handler);
    return true;
  };
}
