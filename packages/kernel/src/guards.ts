import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { apiProblem, type ErrorFields } from './errors.js';
import type { HttpMetrics } from './metrics.js';
import { sendError } from './reply.js';

export interface RateLimitOptions {
  /** Tokens added per second. */
  rps: number;
  /** Bucket size. */
  burst: number;
  /** Delay before answering a rejected request (slows abusive clients); 0 = none. */
  tarpitMs?: number;
}

export interface GuardOptions {
  /** Reject any Content-Encoding but identity (415). Default true. */
  decode?: boolean;
  /**
   * Refuse a `Transfer-Encoding` (chunked) body (411). Default true. A request with neither
   * `Content-Length` nor `Transfer-Encoding` has an empty body (RFC 9112 §6.3) and passes.
   */
  lengthRequired?: boolean;
  /** Maximum declared body size in bytes (413); 0 = no cap. */
  bodyCap?: number;
  /** The 413's hint: the setting that raises the cap, e.g. `raise --max-body-bytes / MICRONODE_MAX_BODY_BYTES`. */
  bodyCapHint?: string;
  /** In-flight budget for this route (429 Busy past it); 0 = unlimited. */
  concurrency?: number;
  /** Token bucket for this route (429 RateLimited); undefined = none. */
  rateLimit?: RateLimitOptions | TokenBucket | undefined;
  /** Handler budget (408); 0 = none. */
  timeoutMs?: number;
  /** Called with +1 / -1 as requests enter and leave (e.g. an in-flight gauge shared by routes). */
  onInflight?: (delta: 1 | -1) => void;
  /** The count the concurrency budget is checked against; share one to share a budget. */
  inflight?: InflightCounter;
}

/** Requests in flight against one concurrency budget (shared by guards, or a guard and a fast path). */
export class InflightCounter {
  n = 0;
}

/** A token bucket; shareable between routes that should share one budget. */
export class TokenBucket {
  readonly rps: number;
  readonly burst: number;
  readonly tarpitMs: number;
  #tokens: number;
  #last: number;
  readonly policy: string;

  constructor(opts: RateLimitOptions) {
    this.rps = opts.rps;
    this.burst = Math.max(1, opts.burst);
    this.tarpitMs = opts.tarpitMs ?? 0;
    this.#tokens = this.burst;
    this.#last = performance.now();
    this.policy = `${this.burst};w=${Math.max(1, Math.ceil(this.burst / Math.max(this.rps, 1e-9)))}`;
  }

  /** Takes a token; returns 0 on success, else whole seconds until one is available (ceiling). */
  take(): number {
    const now = performance.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.rps);
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.rps));
  }

  get remaining(): number {
    return Math.floor(this.#tokens);
  }
}

interface Deadline {
  at: number;
  req: FastifyRequest;
  reply: FastifyReply;
}

/**
 * Request deadlines checked by one sweep timer per guard instead of a timer per request (a
 * setTimeout/clearTimeout pair costs more than the rest of a guarded read). A request times out
 * between `ms` and `ms + ms/4` (at least 5 ms) after it entered.
 */
class Deadlines {
  readonly #entries = new Set<Deadline>();
  readonly #ms: number;
  readonly #every: number;
  readonly #expire: (req: FastifyRequest, reply: FastifyReply) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number, expire: (req: FastifyRequest, reply: FastifyReply) => void) {
    this.#ms = ms;
    this.#every = Math.max(5, Math.ceil(ms / 4));
    this.#expire = expire;
  }

  add(req: FastifyRequest, reply: FastifyReply): Deadline {
    const d = { at: performance.now() + this.#ms, req, reply };
    this.#entries.add(d);
    // Ref'd on purpose: it only runs while requests are in flight.
    this.#timer ??= setInterval(() => this.#sweep(), this.#every);
    return d;
  }

  delete(d: Deadline): void {
    this.#entries.delete(d);
  }

  #sweep(): void {
    const now = performance.now();
    for (const d of this.#entries) {
      // Entries share one budget and are added in time order: the first live one ends the sweep.
      if (d.at > now) break;
      this.#entries.delete(d);
      if (!d.reply.sent) this.#expire(d.req, d.reply);
    }
    if (this.#entries.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
/**
 * A rejected request whose unread body is at most this long keeps its connection: node discards
 * (never decodes) the remaining bytes after the answer. Longer, unknown or chunked bodies close it.
 */
const DRAIN_MAX = 64 * 1024;

/**
 * The decode guard's verdict on a request's headers (SPEC §1.4, first check): undefined to pass, or
 * the rejection reason and the 415 answer. Shared by the guard hook and by programs that apply the
 * same check before routing (a hot reject that skips the framework).
 */
export function decodeVerdict(
  h: IncomingHttpHeaders,
): { reason: 'decode' | 'stacked_encoding'; problem: ErrorFields } | undefined {
  const ce = h['content-encoding'];
  if (ce === undefined || ce === 'identity' || ce.trim().toLowerCase() === 'identity') return undefined;
  return {
    reason: ce.includes(',') ? 'stacked_encoding' : 'decode',
    problem: apiProblem(
      'UnsupportedEncoding',
      `Content-Encoding '${ce.slice(0, 64)}' is not accepted; send the body uncompressed`,
      {
        'accept-encoding': 'identity',
      },
    ),
  };
}

/** True when a rejected request's unread body is too long (or unknown) to keep its connection. */
export function mustClose(h: IncomingHttpHeaders): boolean {
  if (h['transfer-encoding'] !== undefined) return true;
  const cl = h['content-length'];
  if (cl === undefined) return false;
  const n = Number(cl);
  return !(n >= 0 && n <= DRAIN_MAX);
}

/**
 * The ingress guards of SPEC §1.4 as one `onRequest` hook, cheapest check first, all before any body
 * byte is read. Each rejection counts `<prefix>_rejections_total{reason}` and logs at debug.
 *
 * @example
 * app.put('/v1/kv/:bucket/:key', { onRequest: guards(metrics, { bodyCap: 1 << 20, concurrency: 64 }) }, h)
 */
export function guards(metrics: HttpMetrics, opts: GuardOptions = {}): onRequestHookHandler {
  const decode = opts.decode ?? true;
  const lengthRequired = opts.lengthRequired ?? true;
  const bodyCap = opts.bodyCap ?? 0;
  const maxInflight = opts.concurrency ?? 0;
  const timeoutMs = opts.timeoutMs ?? 0;
  const bucket =
    opts.rateLimit === undefined
      ? undefined
      : opts.rateLimit instanceof TokenBucket
        ? opts.rateLimit
        : new TokenBucket(opts.rateLimit);
  const onInflight = opts.onInflight;
  const deadlines =
    timeoutMs > 0
      ? new Deadlines(timeoutMs, (req, reply) =>
          reject(
            req,
            reply,
            'timeout',
            apiProblem('RequestTimeout', `request not completed within ${timeoutMs} ms`),
            true,
          ),
        )
      : undefined;
  const needsTracking = maxInflight > 0 || timeoutMs > 0 || onInflight !== undefined;
  const inflight = opts.inflight ?? new InflightCounter();

  const reject = (
    req: FastifyRequest,
    reply: FastifyReply,
    reason: string,
    problem: ErrorFields,
    close = false,
  ): void => {
    metrics.rejection(reason).inc();
    req.log.debug({ reason }, 'request rejected by guard');
    if (close) reply.header('connection', 'close');
    sendError(req, reply, problem);
  };

  return function guard(req, reply, done) {
    const h = req.headers;
    // 1. Decode guard: nothing is ever decompressed.
    if (decode) {
      const v = decodeVerdict(h);
      if (v !== undefined) return reject(req, reply, v.reason, v.problem, mustClose(h));
    }
    // 2. Length required: a chunked body is refused before reading. No Content-Length and no
    //    Transfer-Encoding is an empty body, answered by the route like `Content-Length: 0`.
    if (lengthRequired && h['transfer-encoding'] !== undefined) {
      const problem = apiProblem(
        'LengthRequired',
        'chunked bodies are not accepted; send the body with a Content-Length header',
      );
      return reject(req, reply, 'length_required', problem, true);
    }
    // 3. Body cap on the declared length: 413 without reading a byte.
    if (bodyCap > 0 && BODY_METHODS.has(req.method)) {
      const declared = Number(h['content-length']);
      if (declared > bodyCap) {
        const problem = apiProblem(
          'PayloadTooLarge',
          `body of ${declared} bytes exceeds the ${bodyCap}-byte limit`,
          undefined,
          opts.bodyCapHint,
        );
        return reject(req, reply, 'body_cap', problem, true);
      }
    }
    // 4. Concurrency: never queue.
    if (maxInflight > 0 && inflight.n >= maxInflight) {
      const problem = apiProblem('Busy', `route is at its in-flight limit of ${maxInflight}`, {
        'retry-after': '1',
      });
      return reject(req, reply, 'concurrency', problem);
    }
    // 5. Rate limit (token bucket, optional tarpit before the answer).
    if (bucket !== undefined) {
      const wait = bucket.take();
      if (wait > 0) {
        const problem = apiProblem('RateLimited', 'rate limit exceeded', {
          'retry-after': String(wait),
          'ratelimit-policy': bucket.policy,
          ratelimit: `limit=${bucket.burst}, remaining=0, reset=${wait}`,
        });
        if (bucket.tarpitMs > 0) {
          setTimeout(() => {
            if (!reply.sent) reject(req, reply, 'rate_limit', problem);
          }, bucket.tarpitMs).unref();
          return;
        }
        return reject(req, reply, 'rate_limit', problem);
      }
    }
    if (needsTracking) {
      inflight.n++;
      onInflight?.(1);
      // 6. Timeout: covers a slow body upload as well as a slow handler.
      const entry = deadlines?.add(req, reply);
      reply.raw.once('close', () => {
        if (entry !== undefined) deadlines!.delete(entry);
        inflight.n--;
        onInflight?.(-1);
      });
    }
    done();
  };
}
