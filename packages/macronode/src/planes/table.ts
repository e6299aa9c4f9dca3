import { gatewayPlane } from './gateway/plane.js';
import { indexPlane } from './index/plane.js';
import { kvPlane } from './kv/plane.js';
import { mailboxPlane } from './mailbox/plane.js';
import type { PlaneModule } from './plane.js';
import { registryPlane } from './registry/plane.js';
import { storagePlane } from './storage/plane.js';

/**
 * Every plane this build knows, in start order (the reverse is the stop order). Adding a plane: one
 * folder under planes/ and one entry here; its config section, `services` name, child spec, routes,
 * doctor check and backup store all derive from its module. The gateway always runs and starts last.
 */
export const PLANES = {
  registry: registryPlane,
  kv: kvPlane,
  storage: storagePlane,
  index: indexPlane,
  mailbox: mailboxPlane,
  gateway: gatewayPlane,
};

/** The optional planes (what `services` may name), in start order. */
export const PLANE_NAMES: readonly string[] = Object.freeze(
  Object.values(PLANES)
    .filter((m) => m.alwaysOn !== true)
    .map((m) => m.name),
);

/** A plane module by name, or undefined for an unknown one. */
export function planeModule(name: string): PlaneModule | undefined {
  return Object.hasOwn(PLANES, name) ? (PLANES as Record<string, PlaneModule>)[name] : undefined;
}
