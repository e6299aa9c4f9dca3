// The planes this build knows, in start order (the gateway is hosted by the supervisor process and
// always runs). Adding a plane: one module in planes/ and one entry here and in planes/table.ts.
export const PLANE_NAMES: readonly string[] = Object.freeze(['registry', 'kv']);
