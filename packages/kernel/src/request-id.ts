import { randomBytes } from 'node:crypto';

const VALID = /^[A-Za-z0-9._:-]{1,128}$/;
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** True when a client-supplied id may be echoed as-is (SPEC §1.3). */
export function isValidRequestId(v: unknown): v is string {
  return typeof v === 'string' && VALID.test(v);
}

// Random bytes are drawn in blocks: one syscall per 320 ids instead of one per id.
let pool = Buffer.alloc(0);
let poolAt = 0;
let lastMs = -1;
let lastTime = '';

/** A ULID: 48-bit millisecond time + 80 random bits, Crockford base32, 26 chars. */
export function ulid(now = Date.now()): string {
  // The 10 time characters change once per millisecond: compute them once per millisecond.
  if (now !== lastMs) {
    let t = now;
    let time = '';
    for (let i = 0; i < 10; i++) {
      time = CROCKFORD[t % 32]! + time;
      t = Math.floor(t / 32);
    }
    lastMs = now;
    lastTime = time;
  }
  if (poolAt + 16 > pool.length) {
    pool = randomBytes(5120);
    poolAt = 0;
  }
  // 80 random bits: 16 characters of 5 uniform bits each (the low 5 bits of a random byte).
  let out = lastTime;
  for (let i = 0; i < 16; i++) out += CROCKFORD[pool[poolAt + i]! & 31]!;
  poolAt += 16;
  return out;
}
