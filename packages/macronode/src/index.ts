export { cli } from './main.js';
export { Macronode, type MacronodeOptions } from './node.js';
export type { AdminHost, ReadyReport, ReloadResult } from './admin-host.js';
export {
  schema as macronodeSchema,
  loadMacronodeConfig,
  validate as validateMacronodeConfig,
  type MacronodeConfig,
} from './config.js';
export { isLoopbackAddress, authorize, tokenMatches } from './auth.js';
export { backoffDelay } from './supervisor/backoff.js';
export { planReload } from './reload.js';
export { PLANES, PLANE_NAMES } from './planes/table.js';
export type { PlaneModule, RunningPlane, ChildSpec } from './planes/plane.js';
