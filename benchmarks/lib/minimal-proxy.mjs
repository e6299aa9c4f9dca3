// The floor of a node:http + undici reverse proxy: no guards, no metrics, no request ids, no error
// envelope, a fixed upstream (UPSTREAM). benchmarks/macronode.mjs runs it in front of the same kv plane
// as the gateway, so the table shows how much of the gateway's cost is the second HTTP hop itself;
// benchmarks/storage.mjs runs it in front of svc-storage for 64 MiB uploads (request bodies stream
// through as undici reads them). Prints the ready line the harness waits for.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
const require = createRequire(new URL('../../packages/macronode/package.json', import.meta.url));
const { Pool } = require('undici');
const pool = new Pool(process.env.UPSTREAM, { connections: 128 });
const server = createServer((req, res) => {
  const headers = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i];
    if (k.length === 4 && k.toLowerCase() === 'host') continue;
    headers.push(k, raw[i + 1]);
  }
  headers.push('x-forwarded-for', req.socket.remoteAddress);
  const chunks = [];
  let status = 502, rh;
  const body = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined ? req : null;
  pool.dispatch({ path: req.url, method: req.method, headers, body }, {
    onConnect() {},
    onHeaders(s, h) { status = s; rh = h; return true; },
    onData(c) { chunks.push(c); return true; },
    onComplete() {
      const out = [];
      for (let i = 0; i < rh.length; i += 2) {
        const k = rh[i].toString('latin1');
        if (k.length === 10 && k.toLowerCase() === 'connection') continue;
        if (k.length === 10 && k.toLowerCase() === 'keep-alive') continue;
        out.push(k, rh[i + 1].toString('latin1'));
      }
      res.writeHead(status, out);
      res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    },
    onError(e) { res.writeHead(503); res.end(); },
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ event: 'ready', url: `http://127.0.0.1:${server.address().port}` })}\n`));
process.on('SIGTERM', () => process.exit(0));
