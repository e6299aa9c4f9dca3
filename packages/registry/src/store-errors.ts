// The HTTP answer for a write the store could not make durable. Only light imports (`@ron/kernel/core`):
// the proposals module, which the @ron/registry/protocol entry reaches, uses it.
import { ApiError, durableWriteError } from '@ron/kernel/core';

/**
 * The answer for a write the store could not make durable: 507 InsufficientStorage when the disk
 * under it is full (the operator's next step is to free space), else 503 StoreUnavailable with
 * `message` and `hint`. Either way nothing was applied.
 */
export function storeWriteError(err: unknown, message: string, hint: string): ApiError {
  const mapped = durableWriteError(err);
  if (mapped?.code === 'InsufficientStorage') return mapped;
  return new ApiError('StoreUnavailable', message, { hint });
}
