import { randomBytes } from 'node:crypto';

const VALID = /^[A-Za-z0-9._:-]{1,128}$/;
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** True when a client-supplied id may be echoed as-is (SPEC §1.3). */
export function isValidRequestId(v: unknown): v is string {
  return typeof v === 'string' && VALID.test(v);
}

// Random bytes are drawn in blocks: one syscall per 512 ids instead of one per id.
let pool = Buffer.alloc(0);
let poolAt = 0;

/** A ULID: 48-bit millisecond time + 80 random bits, Crockford base32, 26 chars. */
export function ulid(now = Date.now()): string {
  if (poolAt + 10 > pool.length) {
    pool = randomBytes(5120);
    poolAt = 0;
  }
  let out = '';
  let t = now;
  const time: string[] = new Array<string>(10);
  for (let i = 9; i >= 0; i--) {
    time[i] = CROCKFORD[t % 32]!;
    t = Math.floor(t / 32);
  }
  out = time.join('');
  // 80 bits = 16 base32 chars, 5 bits each from the 10 random bytes.
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | pool[poolAt + i]!;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += CROCKFORD[(acc >> bits) & 31]!;
    }
    acc &= (1 << bits) - 1;
  }
  poolAt += 10;
  return out;
}
