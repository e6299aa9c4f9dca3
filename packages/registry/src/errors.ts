// Registry error types. HTTP-facing errors are the kernel's ApiError (SPEC §1.2 codes); these are
// the internal ones that callers match by class and map onto an envelope code at the edge.
export { ApiError, type ErrorCode } from '@ron/kernel/core';

/** The stored log fails verification: a broken hash chain or a version gap. */
export class ChainError extends Error {
  constructor(
    readonly version: number,
    readonly reason: string,
  ) {
    super(`registry log is corrupt at version ${version}: ${reason}`);
    this.name = 'ChainError';
  }
}

/** An append did not extend the log by exactly one version (lost a race or a bug). */
export class StoreConflictError extends Error {
  constructor(
    readonly expected: number,
    readonly got: number,
  ) {
    super(`store expected version ${expected}, got ${got}`);
    this.name = 'StoreConflictError';
  }
}
