/**
 * Capped exponential backoff with full jitter and a floor: attempt n waits a uniform random time in
 * [min, min(max, min·2ⁿ)]. Jitter keeps many nodes restarting the same plane from stampeding.
 *
 * @example
 * backoffDelay(0, 100, 30_000) // 100
 * backoffDelay(3, 100, 30_000) // somewhere in [100, 800]
 */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(minMs + random() * Math.max(0, ceiling - minMs));
}
