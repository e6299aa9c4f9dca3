// One server for benchmarks/kernel-variants.mjs: VARIANT picks how much of the kernel is in play,
// ROUTES how many plain JSON routes are declared (the first is /healthz, the one under load).
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(fileURLToPath(new URL('../../packages/kernel/package.json', import.meta.url)));
const Fastify = require('fastify');
const kernelDist = process.env.KDIST ?? fileURLToPath(new URL('../../packages/kernel/dist/src/index.js', import.meta.url));
const { createServer, HttpMetrics, createLogger } = await import(kernelDist);
// The kernel's child-logger factory is internal (not on the package entry): load its module file.
const { LazyChildLogger } = await import(new URL('logger.js', pathToFileURL(kernelDist)).href);

const variant = process.env.VARIANT ?? 'kernel';
const routes = Number(process.env.ROUTES ?? 1);
const logger = createLogger('variant', 'info');
let app;
if (variant === 'kernel') {
  app = createServer({ logger, metrics: new HttpMetrics({ requestsName: 'v_http_requests_total', latencyName: 'v_latency_seconds', rejectionsName: 'v_rejections_total' }) });
} else {
  // 'fastify': Fastify with the kernel's logger setup; 'fastify+404': plus a custom not-found handler.
  app = Fastify({
    loggerInstance: logger,
    logController: new Fastify.LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    forceCloseConnections: 'idle',
    return503OnClosing: false,
  });
  app.setChildLoggerFactory((l, b, o) => new LazyChildLogger(l, b, o));
  if (variant === 'fastify+404') app.setNotFoundHandler((_req, reply) => { reply.code(404).send({}); });
}
for (let i = 0; i < routes; i++) app.get(i === 0 ? '/healthz' : `/r${i}`, (_req, reply) => { reply.send({ ok: true }); });
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ event: 'ready', url: `http://127.0.0.1:${app.server.address().port}` })}\n`);
process.on('SIGTERM', () => process.exit(0));
