import type { FastifyReply, FastifyRequest } from 'fastify';
import { envelope, type ApiError } from './errors.js';

/** Sends an ApiError in the shared envelope with its headers. */
export function sendError(req: FastifyRequest, reply: FastifyReply, err: ApiError): FastifyReply {
  for (const k in err.headers) reply.header(k, err.headers[k]);
  return reply.code(err.status).type('application/json').send(envelope(err, req.id));
}
