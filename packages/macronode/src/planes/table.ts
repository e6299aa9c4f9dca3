import { gatewayPlane } from './gateway.js';
import { indexPlane } from './index-plane.js';
import { kvPlane } from './kv.js';
import { mailboxPlane } from './mailbox.js';
import type { PlaneModule } from './plane.js';
import { registryPlane } from './registry.js';
import { storagePlane } from './storage.js';

/** Every plane module by name (the one table to extend when a plane is added). */
export const PLANES: Readonly<Record<string, PlaneModule>> = Object.freeze({
  registry: registryPlane,
  kv: kvPlane,
  storage: storagePlane,
  index: indexPlane,
  mailbox: mailboxPlane,
  gateway: gatewayPlane,
});
