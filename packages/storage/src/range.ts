// One byte range (RFC 9110 §14.1.2), the only kind the store serves.

const SPEC = /^(\d*)-(\d*)$/;

/**
 * The range a `Range` header asks for within `size` bytes: undefined to serve the whole object (no
 * header, another unit, or several ranges — RFC 9110 lets a server ignore those), 'unsatisfiable' for
 * a malformed or unsatisfiable byte range (416), else the inclusive byte bounds.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const eq = header.indexOf('=');
  if (eq === -1) return 'unsatisfiable';
  if (header.slice(0, eq).trim().toLowerCase() !== 'bytes') return undefined;
  const spec = header.slice(eq + 1).trim();
  if (spec.includes(',')) return undefined;
  const m = SPEC.exec(spec);
  if (m === null || (m[1] === '' && m[2] === '')) return 'unsatisfiable';
  if (m[1] === '') {
    // Suffix: the last n bytes.
    const n = Number(m[2]);
    if (!Number.isSafeInteger(n) || n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(size - n, 0), end: size - 1 };
  }
  const start = Number(m[1]);
  if (!Number.isSafeInteger(start) || start >= size) return 'unsatisfiable';
  if (m[2] === '') return { start, end: size - 1 };
  const last = Number(m[2]);
  if (!Number.isSafeInteger(last) && !/^\d+$/.test(m[2]!)) return 'unsatisfiable';
  if (last < start) return 'unsatisfiable';
  return { start, end: Math.min(last, size - 1) };
}
