// The gateway plane's proxy path alone (no supervisor), in front of UPSTREAM (a URL): for
// benchmarks/gateway-variants.mjs. Prints the ready line the harness waits for.
const root = new URL('../../packages/', import.meta.url);
const { createGateway } = await import(new URL('macronode/dist/src/planes/gateway/proxy.js', root));
const { HttpMetrics, createLogger } = await import(new URL('kernel/dist/src/index.js', root));
const upstream = process.env.UPSTREAM;
const metrics = new HttpMetrics({ requestsName: 'gateway_http_requests_total', latencyName: 'gateway_request_latency_seconds', rejectionsName: 'gateway_rejections_total', defaultCollectors: false });
const table = {
  planes: { kv: { url: upstream, state: 'running', retry_at: null } },
  prefixes: { '/v1/kv': 'kv' },
  limits: { max_body_bytes: 1 << 20, write_timeout: 5000 },
};
const gw = createGateway({ logger: createLogger('gateway', 'info'), metrics, routes: () => table, idleTimeoutMs: 60000, readTimeoutMs: 30000, maxInflight: 512 });
await gw.app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ event: 'ready', url: `http://127.0.0.1:${gw.app.server.address().port}` })}\n`);
process.on('SIGTERM', () => process.exit(0));
