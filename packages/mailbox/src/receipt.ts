// A receipt names one lease of one message: `<message id>.<lease number>.<random token>`.
// The lease number orders a message's leases; the token makes a receipt unguessable from the id.

const RECEIPT = /^([0-9A-HJKMNP-TV-Z]{26})\.([1-9][0-9]{0,14})\.([A-Za-z0-9_-]{8})$/;

export function formatReceipt(id: string, lease: number, token: string): string {
  return `${id}.${lease}.${token}`;
}

/** The parts of a well-formed receipt, or undefined. */
export function parseReceipt(r: string): { id: string; lease: number; token: string } | undefined {
  const m = RECEIPT.exec(r);
  if (m === null) return undefined;
  return { id: m[1]!, lease: Number(m[2]), token: m[3]! };
}

/** True when the text has the shape of a receipt (malformed ones are a 400, not a 409). */
export function isReceipt(r: unknown): r is string {
  return typeof r === 'string' && RECEIPT.test(r);
}
