// HTTP to the registry and the macronode admin plane; non-2xx envelopes become CliErrors.
import { CliError, type Ctx } from './context.js';

interface Envelope {
  error?: { code?: string; message?: string; hint?: string };
}

/** A non-2xx answer: the HTTP status and the envelope's stable `code`, for callers that branch on them. */
export class HttpError extends CliError {
  constructor(
    message: string,
    hint: string | undefined,
    readonly status: number,
    readonly errorCode: string | undefined,
  ) {
    super(message, hint);
    this.name = 'HttpError';
  }
}

/** Which program a call goes to: says which flag and variable point ronctl at it when it is not there. */
export type Target = 'registry' | 'admin';

const UNREACHABLE_HINT: Record<Target, string> = {
  registry: 'is svc-registry running there? point ronctl at it with --registry URL or RON_REGISTRY_URL',
  admin:
    'is macronode running there (macronode run)? point ronctl at its admin plane with --admin URL or RON_ADMIN_URL',
};

/** Calls `url`; resolves the parsed JSON body of a 2xx, throws CliError otherwise. */
export async function callJson<T>(
  ctx: Ctx,
  method: string,
  url: string,
  body?: unknown,
  target: Target = 'registry',
): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (ctx.token !== undefined && method !== 'GET') headers.authorization = `Bearer ${ctx.token}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new CliError(`cannot reach ${new URL(url).origin}: ${cause}`, UNREACHABLE_HINT[target]);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new CliError(`${method} ${url} answered ${res.status} with a non-JSON body`);
  }
  if (!res.ok) {
    const e = (parsed as Envelope).error;
    const hint =
      res.status === 401
        ? (e?.hint ?? 'pass a capability: --token <macaroon> or RON_REGISTRY_TOKEN (ronctl cap mint)')
        : res.status === 403
          ? (e?.hint ?? 'mint a capability with the needed --scope')
          : e?.hint;
    throw new HttpError(
      `${e?.code ?? res.status}: ${e?.message ?? `${method} ${url} failed with ${res.status}`}`,
      hint,
      res.status,
      e?.code,
    );
  }
  return parsed as T;
}
