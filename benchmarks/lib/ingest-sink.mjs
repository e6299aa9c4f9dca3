// The floors under svc-storage's ingest (benchmarks/storage.mjs): a bare node:http server that takes
// a POST body and
//   /discard  reads it and throws it away                      (the HTTP receive floor)
//   /hash     hashes it like an upload: BLAKE3 of the whole body and of every 64 KiB chunk, with the
//             same hasher (@napi-rs/blake-hash), writing nothing     (receive + hashing floor)
// and answers the object's address. Pinned to the server core like svc-storage.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Resolved from the storage package, which owns the dependency.
const require = createRequire(join(fileURLToPath(new URL('../../packages/storage/', import.meta.url)), 'package.json'));
const { Blake3Hasher, blake3 } = require('@napi-rs/blake-hash');
const CHUNK = 64 * 1024;

const server = createServer((req, res) => {
  const hashing = req.url === '/hash';
  const h = hashing ? new Blake3Hasher() : undefined;
  let buf = Buffer.allocUnsafe(CHUNK);
  let fill = 0;
  req.on('data', (piece) => {
    if (!hashing) return;
    h.update(piece);
    let pos = 0;
    while (pos < piece.length) {
      const n = Math.min(CHUNK - fill, piece.length - pos);
      piece.copy(buf, fill, pos, pos + n);
      fill += n;
      pos += n;
      if (fill === CHUNK) {
        blake3(buf);
        buf = Buffer.allocUnsafe(CHUNK);
        fill = 0;
      }
    }
  });
  req.on('end', () => {
    if (hashing && fill > 0) blake3(buf.subarray(0, fill));
    const body = JSON.stringify({ addr: hashing ? `b3:${h.digestBuffer().toString('hex')}` : null });
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ event: 'ready', url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
