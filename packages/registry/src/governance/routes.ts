// v1 governance routes (SPEC §2.2): descriptors, regions map, proposals, approvals, apply.
import { ApiError, sendError } from '@ron/kernel';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { checkCapability, type CapabilityScope } from './capabilities.js';
import { DESCRIPTOR_ID_RE, DESCRIPTOR_KINDS, type DescriptorKind } from './descriptor.js';
import type { Governance } from './governance.js';
import type { DescriptorRecord } from './state.js';
import { parseEmptyBody } from '../validation.js';

export interface GovernanceRoutesOptions {
  /** Global head version (for `regions/map` and listings). */
  head: () => number;
  /** When set, write routes need `Authorization: Bearer <macaroon>` minted with this key. */
  capRootKey?: Uint8Array;
  /** True while writes are shed (`--read-only` or a degraded store) → 503 ReadOnly. */
  readOnly?: () => boolean;
  /** Throws 503 StoreUnavailable while the store refuses writes (an audit fault). */
  assertWritable?: () => void;
  /** Ingress guards (SPEC §1.4) for read and write routes. */
  readGuard?: onRequestHookHandler;
  writeGuard?: onRequestHookHandler;
  /** Body cap for write routes (bytes). */
  bodyLimit?: number;
  now?: () => number;
}

const MAX_LIMIT = 1000;

/** The public shape of one descriptor version. */
export function descriptorView(r: DescriptorRecord): Record<string, unknown> {
  return {
    id: r.id,
    kind: r.kind,
    version: r.version,
    body: r.body,
    state: r.state,
    signatures: r.signatures,
    log_version: r.log_version,
    committed_at: r.committed_at,
  };
}

function intParam(raw: unknown, name: string, min: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^\d{1,16}$/.test(raw))
    throw new ApiError('BadRequest', `${name} must be an integer ${min}-${max}`);
  const n = Number(raw);
  if (n < min || n > max) throw new ApiError('BadRequest', `${name} must be an integer ${min}-${max}`);
  return n;
}

/**
 * Registers the v1 governance routes on a registry app.
 * @example registerGovernanceRoutes(app, governance, { head: () => log.head().version })
 */
export function registerGovernanceRoutes(
  app: FastifyInstance,
  gov: Governance,
  o: GovernanceRoutesOptions,
): void {
  const read = o.readGuard !== undefined ? { onRequest: o.readGuard } : {};
  const write = {
    ...(o.writeGuard !== undefined ? { onRequest: o.writeGuard } : {}),
    ...(o.bodyLimit !== undefined ? { bodyLimit: o.bodyLimit } : {}),
  };
  const now = o.now ?? Date.now;

  // Capability and read-only checks precede any body interpretation; failures count as rejections.
  const gate = (req: FastifyRequest, scope: CapabilityScope): void => {
    try {
      if (o.readOnly?.() === true)
        throw new ApiError('ReadOnly', 'the registry is read-only; writes are shed', {
          hint: 'retry against a writable replica',
        });
      o.assertWritable?.();
      if (o.capRootKey !== undefined) checkCapability(req.headers.authorization, o.capRootKey, scope, now());
    } catch (err) {
      if (err instanceof ApiError) gov.countRejection(err);
      throw err;
    }
  };

  app.get('/v1/registry/descriptors/:id', read, (req, reply) => {
    const { id } = req.params as { id: string };
    const q = req.query as Record<string, unknown>;
    if (!DESCRIPTOR_ID_RE.test(id))
      throw new ApiError('BadRequest', `descriptor id must match ${DESCRIPTOR_ID_RE.source}`);
    const v = intParam(q.version, 'version', 1, Number.MAX_SAFE_INTEGER);
    const rec = v === undefined ? gov.state.current(id) : gov.state.at(id, v);
    if (rec === undefined)
      throw new ApiError(
        'NotFound',
        v === undefined ? `no descriptor ${id}` : `descriptor ${id} has no version ${v}`,
      );
    return reply.send(descriptorView(rec));
  });

  app.get('/v1/registry/descriptors', read, (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const limit = intParam(q.limit, 'limit', 1, MAX_LIMIT) ?? 100;
    let kind: DescriptorKind | undefined;
    if (q.kind !== undefined && q.kind !== '') {
      if (typeof q.kind !== 'string' || !(DESCRIPTOR_KINDS as readonly string[]).includes(q.kind)) {
        throw new ApiError('BadRequest', `kind must be one of ${DESCRIPTOR_KINDS.join(', ')}`);
      }
      kind = q.kind as DescriptorKind;
    }
    const region = typeof q.region === 'string' && q.region !== '' ? q.region : undefined;
    let after: string | undefined;
    if (typeof q.cursor === 'string' && q.cursor !== '') {
      after = Buffer.from(q.cursor, 'base64url').toString('utf8');
      if (!DESCRIPTOR_ID_RE.test(after))
        throw new ApiError('BadRequest', 'cursor is not one this registry issued');
    }
    const page = gov.state.list({
      limit,
      ...(kind ? { kind } : {}),
      ...(region ? { region } : {}),
      ...(after ? { after } : {}),
    });
    return reply.send({
      version: o.head(),
      items: page.items.map(descriptorView),
      next_cursor:
        page.next_cursor === null ? null : Buffer.from(page.next_cursor, 'utf8').toString('base64url'),
    });
  });

  // The derived view is rebuilt only when a service changes; its JSON text only when it or the head does.
  let mapCache: { regions: unknown; head: number; text: string } | undefined;
  app.get('/v1/registry/regions/map', read, (_req, reply) => {
    const regions = gov.state.regions();
    const head = o.head();
    if (mapCache === undefined || mapCache.regions !== regions || mapCache.head !== head) {
      mapCache = { regions, head, text: JSON.stringify({ version: head, regions }) };
    }
    return reply.type('application/json; charset=utf-8').send(mapCache.text);
  });

  app.get('/v1/registry/signers', read, (_req, reply) =>
    reply.send({ current: gov.state.signerSet(), history: gov.state.signerSets() }),
  );

  app.post('/v1/registry/proposals', write, async (req, reply) => {
    gate(req, 'registry:propose');
    const status = await gov.propose(req.body);
    return reply.code(202).send(status);
  });

  // Pending proposals (the operator console lists them with have/need and expiry).
  app.get('/v1/registry/proposals', read, (req, reply) => {
    const limit = intParam((req.query as Record<string, unknown>).limit, 'limit', 1, MAX_LIMIT) ?? 100;
    const items = gov.listPending(limit);
    return reply.send({ pending: gov.pendingProposals(), items });
  });

  app.get('/v1/registry/proposals/:id', read, async (req, reply) => {
    const { id } = req.params as { id: string };
    await gov.refresh(id);
    return reply.send(gov.get(id));
  });

  app.post('/v1/registry/proposals/:id/approvals', write, async (req, reply) => {
    gate(req, 'registry:propose');
    const { id } = req.params as { id: string };
    const s = await gov.approve(id, req.body);
    return reply.send({
      proposal_id: s.proposal_id,
      have: s.have,
      need: s.need,
      state: s.state,
      ...(s.detail ? { detail: s.detail } : {}),
    });
  });

  app.post('/v1/registry/apply/:proposal_id', write, async (req, reply) => {
    gate(req, 'registry:apply');
    parseEmptyBody(req.body, 'the apply body');
    const { proposal_id } = req.params as { proposal_id: string };
    return reply.send(await gov.apply(proposal_id));
  });

  // 405 with Allow for a wrong method on a known path (OPTIONS stays free for CORS preflight).
  const paths: [string, string[]][] = [
    ['/v1/registry/descriptors/:id', ['GET']],
    ['/v1/registry/descriptors', ['GET']],
    ['/v1/registry/regions/map', ['GET']],
    ['/v1/registry/signers', ['GET']],
    ['/v1/registry/proposals', ['GET', 'POST']],
    ['/v1/registry/proposals/:id', ['GET']],
    ['/v1/registry/proposals/:id/approvals', ['POST']],
    ['/v1/registry/apply/:proposal_id', ['POST']],
  ];
  for (const [url, allowed] of paths) {
    const allow = [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : []), 'OPTIONS'].join(', ');
    app.route({
      method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => !allowed.includes(m)),
      url,
      handler(req, reply) {
        sendError(
          req,
          reply,
          new ApiError('MethodNotAllowed', `${req.method} is not allowed on ${url}`, { headers: { allow } }),
        );
      },
    });
  }
}

/** Stream `?snapshot=1` frames: one `event: descriptor` per latest descriptor, in id order. */
export function governanceSnapshot(gov: Governance): () => Iterable<[string, string]> {
  return function* () {
    for (const r of gov.state.all()) yield ['descriptor', JSON.stringify(descriptorView(r))];
  };
}
