import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { envelopeText, type ErrorFields } from './errors.js';

/** Sends an ApiError (or {@link apiProblem}) in the shared envelope with its headers. */
export function sendError(req: FastifyRequest, reply: FastifyReply, err: ErrorFields): FastifyReply {
  for (const k in err.headers) reply.header(k, err.headers[k]);
  // A string with its content type set is sent as-is: no serializer pass over the envelope.
  return reply
    .code(err.status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(envelopeText(err, req.id));
}

/**
 * The same answer written on a raw node response (for handlers that run before Fastify, e.g. a
 * server's `fastPath`): status, the error's headers, `x-request-id`, the envelope. `close` asks the
 * client to reconnect (a rejected body too long to discard).
 */
export function sendRawError(res: ServerResponse, requestId: string, err: ErrorFields, close = false): void {
  const body = envelopeText(err, requestId);
  // A flat [name, value, ...] list: node takes it as is (no per-call object shapes to build).
  const headers: string[] = [];
  for (const k in err.headers) headers.push(k, err.headers[k]!);
  headers.push(
    'x-request-id',
    requestId,
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
  );
  if (close) headers.push('connection', 'close');
  res.writeHead(err.status, headers);
  res.end(body);
}
