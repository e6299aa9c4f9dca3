import type { PlaneOptions } from '../planes/plane.js';

/** Supervisor → plane child. */
export type ParentMessage =
  | { type: 'start'; plane: string; options: PlaneOptions; logLevel: string; heartbeatMs: number; fault?: string | undefined }
  | { type: 'stop'; graceMs: number }
  | { type: 'log_level'; level: string };

/** Plane child → supervisor. */
export type ChildMessage =
  | { type: 'ready'; url: string; info: Record<string, unknown> }
  | { type: 'hb' }
  | { type: 'error'; message: string };
