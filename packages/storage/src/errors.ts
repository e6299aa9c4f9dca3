import { ApiError } from '@ron/kernel';

/** Why a store operation failed; each kind maps to one envelope code (docs/errors.md). */
export type StoreErrorKind = 'too_large' | 'quota' | 'length' | 'corrupt' | 'internal';

const API: Record<StoreErrorKind, ConstructorParameters<typeof ApiError>[0]> = {
  too_large: 'PayloadTooLarge',
  quota: 'InsufficientStorage',
  length: 'BadRequest',
  corrupt: 'Corrupt',
  internal: 'Internal',
};

const HINT: Partial<Record<StoreErrorKind, string>> = {
  quota: 'delete objects (the GC frees their chunks) or raise storage.max_bytes; see the runbook',
  corrupt:
    'the object is listed by GET /v1/cas?state=corrupt; upload it again after deleting it (see the runbook)',
};

/** A failure inside the store, matched on `kind` (never on the message). */
export class StoreError extends Error {
  constructor(
    readonly kind: StoreErrorKind,
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
    this.name = 'StoreError';
  }

  toApiError(): ApiError {
    const hint = HINT[this.kind];
    return new ApiError(
      API[this.kind],
      this.kind === 'internal' ? 'internal error' : this.message,
      hint === undefined ? {} : { hint },
    );
  }
}
