import type { PlaneOptions } from '../planes/plane.js';

/** Supervisor → plane child. */
export type ParentMessage =
  | {
      type: 'start';
      plane: string;
      options: PlaneOptions;
      logLevel: string;
      heartbeatMs: number;
      /** Grace used when stopped by SIGTERM (the IPC stop carries its own). */
      stopGraceMs: number;
      fault?: string | undefined;
    }
  | { type: 'metrics_req'; id: number }
  | { type: 'routes'; table: unknown }
  | { type: 'tls_reload' }
  | { type: 'stop'; graceMs: number }
  | { type: 'log_level'; level: string };

/** Plane child → supervisor. */
export type ChildMessage =
  | { type: 'ready'; url: string; info: Record<string, unknown> }
  | { type: 'hb' }
  | { type: 'error'; message: string }
  | { type: 'metrics'; id: number; text: string };
