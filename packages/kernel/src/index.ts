export * from './errors.js';
export * from './request-id.js';
export * from './units.js';
export * from './metrics.js';
export * from './readiness.js';
export * from './build-info.js';
export * from './guards.js';
export * from './reply.js';
export * from './server.js';
export * from './config.js';
export * from './logger.js';
export * from './listen.js';
export * from './admin.js';
export { registerReadyGauge, READY_GAUGE_NAME } from './ready-gauge.js';
export {
  registerBackupRoute,
  registerBackupMetrics,
  BACKUP_METRICS,
  type BackupRouteOptions,
  type BackupMetrics,
} from './backup-route.js';
export * from './shutdown.js';
export * from './main.js';
export * from './cli.js';
export * from './sse.js';
export * from './group-commit.js';
export { programCli, schemaOptions, type ProgramCliOptions } from './program-cli.js';
export { startProgram, type StartSequence, type StartableNode } from './start-program.js';
