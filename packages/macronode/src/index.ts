export { cli } from './main.js';
export { Macronode, type MacronodeOptions, type ReadyReport, type ReloadResult } from './node.js';
export {
  schema as macronodeSchema,
  loadMacronodeConfig,
  validate as validateMacronodeConfig,
  type MacronodeConfig,
} from './config.js';
export { isLoopbackAddress, authorize, tokenMatches } from './auth.js';
export { backoffDelay } from './supervisor/backoff.js';
export { planReload } from './reload.js';
export { PLANES } from './planes/table.js';
export { PLANE_NAMES } from './planes/names.js';
export type { PlaneModule, RunningPlane, ChildSpec } from './planes/plane.js';
