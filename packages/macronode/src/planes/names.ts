// The optional planes this build knows, in start order (`services`). The gateway plane always runs
// and starts last. Adding a plane: one module in planes/ and one entry here and in planes/table.ts.
export const PLANE_NAMES: readonly string[] = Object.freeze([
  'registry',
  'kv',
  'storage',
  'index',
  'mailbox',
]);
