// One error type for every non-2xx response (SPEC §1.2). Callers match on `code`, never on text.

export const ERROR_CODES = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  RequestTimeout: 408,
  StaleVersion: 409,
  Conflict: 409,
  StaleReceipt: 409,
  Gone: 410,
  LengthRequired: 411,
  NoQuorum: 412,
  PreconditionFailed: 412,
  PayloadTooLarge: 413,
  RangeNotSatisfiable: 416,
  HeadersTooLarge: 431,
  UnsupportedEncoding: 415,
  UnsupportedMediaType: 415,
  BadSignature: 422,
  Unprocessable: 422,
  RateLimited: 429,
  Busy: 429,
  Internal: 500,
  Corrupt: 500,
  BadGateway: 502,
  NotReady: 503,
  StoreUnavailable: 503,
  ReadOnly: 503,
  TooManyStreams: 503,
  InsufficientStorage: 507,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'RequestTimeout',
  'RateLimited',
  'Busy',
  'NotReady',
  'StoreUnavailable',
  'ReadOnly',
  'TooManyStreams',
  'BadGateway',
  'InsufficientStorage',
]);

export interface ApiErrorOptions {
  hint?: string;
  retryable?: boolean;
  /** Extra response headers, e.g. Retry-After or Allow. */
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly hint: string | undefined;
  readonly retryable: boolean;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, opts: ApiErrorOptions = {}) {
    // A 4xx/503 is expected control flow (guards answer thousands per second): capturing a stack
    // trace would be the most expensive part of the answer. 5xx keep theirs for the log.
    const limit = Error.stackTraceLimit;
    if (ERROR_CODES[code] < 500 || ERROR_CODES[code] === 503) Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_CODES[code];
    this.hint = opts.hint;
    this.retryable = opts.retryable ?? RETRYABLE.has(code);
    this.headers = opts.headers ?? {};
    if (this.status === 503 || this.status === 429) this.headers['retry-after'] ??= '5';
  }
}

export interface ErrorEnvelope {
  error: {
    code: ErrorCode;
    message: string;
    hint?: string;
    retryable: boolean;
    ts: string;
    request_id: string;
  };
}

// The envelope's `ts` has second precision: format it once per second.
let tsSecond = -1;
let tsText = '';
function nowTs(): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== tsSecond) {
    tsSecond = sec;
    tsText = new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  return tsText;
}

/** What an error answer needs: an {@link ApiError}, or a plain object for hot paths that skip the Error. */
export type ErrorFields = Pick<ApiError, 'code' | 'status' | 'message' | 'hint' | 'retryable' | 'headers'>;

/**
 * A 4xx answer built without an Error object (guards reject at line rate; an Error costs more
 * than the rest of the answer). Same fields and defaults as `new ApiError(code, message, opts)`.
 */
export function apiProblem(
  code: ErrorCode,
  message: string,
  headers?: Record<string, string>,
  hint?: string,
): ErrorFields {
  const status = ERROR_CODES[code];
  const h = headers ?? {};
  if (status === 503 || status === 429) h['retry-after'] ??= '5';
  return { code, status, message, hint, retryable: RETRYABLE.has(code), headers: h };
}

/**
 * The envelope as JSON text, byte-identical to `JSON.stringify(envelope(err, id))` but built by hand:
 * only the free-text fields go through JSON.stringify (codes, timestamps and request ids are
 * already JSON-safe: ids are validated or generated, SPEC §1.3).
 */
export function envelopeText(err: ErrorFields, requestId: string): string {
  const hint = err.hint === undefined ? '' : `,"hint":${jsonString(err.hint)}`;
  return (
    `{"error":{"code":"${err.code}","message":${jsonString(err.message)},"retryable":${err.retryable},` +
    `"ts":"${nowTs()}","request_id":${jsonString(requestId)}${hint}}}`
  );
}

// Characters JSON.stringify would escape (quote, backslash, C0 controls) and any surrogate (lone ones
// are escaped; pairs are rare enough in messages to take the slow path).
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify(s) for a string, skipping the escaper when nothing needs escaping. */
function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

export function envelope(err: ErrorFields, requestId: string): ErrorEnvelope {
  const body: ErrorEnvelope = {
    error: {
      code: err.code,
      message: err.message,
      retryable: err.retryable,
      ts: nowTs(),
      request_id: requestId,
    },
  };
  if (err.hint !== undefined) body.error.hint = err.hint;
  return body;
}

/** Picks the envelope code for a bare HTTP status (used for framework errors). */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'BadRequest';
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 404:
      return 'NotFound';
    case 405:
      return 'MethodNotAllowed';
    case 408:
      return 'RequestTimeout';
    case 409:
      return 'Conflict';
    case 410:
      return 'Gone';
    case 411:
      return 'LengthRequired';
    case 412:
      return 'PreconditionFailed';
    case 413:
      return 'PayloadTooLarge';
    case 415:
      return 'UnsupportedMediaType';
    case 416:
      return 'RangeNotSatisfiable';
    case 422:
      return 'Unprocessable';
    case 431:
      return 'HeadersTooLarge';
    case 429:
      return 'RateLimited';
    case 502:
      return 'BadGateway';
    case 503:
      return 'NotReady';
    case 507:
      return 'InsufficientStorage';
    default:
      return status >= 400 && status < 500 ? 'BadRequest' : 'Internal';
  }
}
