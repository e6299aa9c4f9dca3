// The bare node:http JSON baseline every benchmark compares against (SPEC §6).
import { createServer } from 'node:http';

const body = JSON.stringify({ ok: true });
const len = String(Buffer.byteLength(body));
// The minimal answer: node discards any unread request body itself, keeping the connection.
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': len });
  res.end(body);
});
server.keepAliveTimeout = 72_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`${JSON.stringify({ event: 'ready', url: `http://127.0.0.1:${a.port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
