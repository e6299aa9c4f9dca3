import type { FastifyReply, FastifyRequest } from 'fastify';
import { envelopeText, type ErrorFields } from './errors.js';

/** Sends an ApiError (or {@link apiProblem}) in the shared envelope with its headers. */
export function sendError(req: FastifyRequest, reply: FastifyReply, err: ErrorFields): FastifyReply {
  for (const k in err.headers) reply.header(k, err.headers[k]);
  // A string with its content type set is sent as-is: no serializer pass over the envelope.
  return reply.code(err.status).header('content-type', 'application/json; charset=utf-8').send(envelopeText(err, req.id));
}
