// Descriptor model and validation (SPEC §2.1): kinds, id pattern, body schemas, unknown fields rejected.
import { ApiError } from '@ron/kernel/core';
import { rejectUnknown } from '../validation.js';

// Kept here too: governance modules and tests import it from the descriptor model.
export { rejectUnknown };

export const DESCRIPTOR_KINDS = ['node', 'service', 'region', 'policy_pin'] as const;
export type DescriptorKind = (typeof DESCRIPTOR_KINDS)[number];
export type DescriptorState = 'published' | 'deprecated';

export const DESCRIPTOR_ID_RE = /^[a-z0-9][a-z0-9._@:-]{0,127}$/;

export interface Descriptor {
  id: string;
  kind: DescriptorKind;
  /** Per-descriptor version: 1 for the first publish, exactly current+1 after. */
  version: number;
  body: Record<string, unknown>;
}

type FieldRule = (v: unknown, path: string) => string | undefined;

const str =
  (max: number, re?: RegExp): FieldRule =>
  (v, path) => {
    if (typeof v !== 'string' || v.length === 0 || v.length > max)
      return `${path} must be a string of 1-${max} characters`;
    if (re !== undefined && !re.test(v)) return `${path} must match ${re.source}`;
    return undefined;
  };
const bool: FieldRule = (v, path) => (typeof v === 'boolean' ? undefined : `${path} must be a boolean`);
const uint =
  (max: number): FieldRule =>
  (v, path) =>
    Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max
      ? undefined
      : `${path} must be an integer 0-${max}`;
const labels: FieldRule = (v, path) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${path} must be an object of strings`;
  const entries = Object.entries(v);
  if (entries.length > 64) return `${path} has more than 64 labels`;
  for (const [k, x] of entries) {
    if (!/^[A-Za-z0-9_.\-/]{1,63}$/.test(k)) return `${path}.${k}: label names are 1-63 of [A-Za-z0-9_.-/]`;
    if (typeof x !== 'string' || x.length > 256)
      return `${path}.${k} must be a string of at most 256 characters`;
  }
  return undefined;
};

const REGION_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
// host:port, [v6]:port or a URL-ish authority; the registry does not resolve it.
const ADDR_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}$/;
const B3_RE = /^b3:[A-Za-z0-9_+/=-]{1,128}$/;

interface BodySchema {
  required: Record<string, FieldRule>;
  optional: Record<string, FieldRule>;
}

/** Body schemas per kind. `region` and `policy_pin` are this project's choice (SPEC names only service/node). */
export const BODY_SCHEMAS: Record<DescriptorKind, BodySchema> = {
  service: {
    required: { region: str(64, REGION_RE), addr: str(262, ADDR_RE) },
    optional: { tls: bool, weight: uint(1_000_000), node: str(128, DESCRIPTOR_ID_RE) },
  },
  node: {
    required: { region: str(64, REGION_RE), addr: str(262, ADDR_RE) },
    optional: { pubkey: str(256), labels },
  },
  region: {
    required: { region: str(64, REGION_RE) },
    optional: { display_name: str(128), labels },
  },
  policy_pin: {
    required: { policy: str(128), digest: str(131, B3_RE) },
    optional: { labels },
  },
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a descriptor's shape (not its version against the registry).
 * @example parseDescriptor({ id: 'svc-a@eu', kind: 'service', version: 1, body: { region: 'eu', addr: '10.0.0.1:80' } })
 */
export function parseDescriptor(v: unknown, path = 'descriptor'): Descriptor {
  if (!isPlainObject(v)) throw new ApiError('BadRequest', `${path} must be an object`);
  rejectUnknown(v, ['id', 'kind', 'version', 'body'], path);
  const { id, kind, version, body } = v;
  if (typeof id !== 'string' || !DESCRIPTOR_ID_RE.test(id)) {
    throw new ApiError('BadRequest', `${path}.id must match ${DESCRIPTOR_ID_RE.source}`);
  }
  if (typeof kind !== 'string' || !(DESCRIPTOR_KINDS as readonly string[]).includes(kind)) {
    throw new ApiError('BadRequest', `${path}.kind must be one of ${DESCRIPTOR_KINDS.join(', ')}`);
  }
  if (!Number.isSafeInteger(version) || (version as number) < 1) {
    throw new ApiError('BadRequest', `${path}.version must be an integer ≥ 1`);
  }
  if (!isPlainObject(body)) throw new ApiError('BadRequest', `${path}.body must be an object`);
  const schema = BODY_SCHEMAS[kind as DescriptorKind];
  rejectUnknown(body, [...Object.keys(schema.required), ...Object.keys(schema.optional)], `${path}.body`);
  for (const [k, rule] of Object.entries(schema.required)) {
    if (!(k in body)) throw new ApiError('BadRequest', `${path}.body.${k} is required for kind ${kind}`);
    const e = rule(body[k], `${path}.body.${k}`);
    if (e !== undefined) throw new ApiError('BadRequest', e);
  }
  for (const [k, rule] of Object.entries(schema.optional)) {
    if (!(k in body)) continue;
    const e = rule(body[k], `${path}.body.${k}`);
    if (e !== undefined) throw new ApiError('BadRequest', e);
  }
  return { id, kind: kind as DescriptorKind, version: version as number, body };
}

/** The region a descriptor belongs to, when its body names one. */
export function regionOf(d: Descriptor): string | undefined {
  const r = d.body.region;
  return typeof r === 'string' ? r : undefined;
}
