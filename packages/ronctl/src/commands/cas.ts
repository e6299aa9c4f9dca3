// ronctl cas put FILE | get ADDR [-o FILE]: the storage plane through the gateway (SPEC §4.5.1, §5).
import type { Command } from 'commander';
import { createBLAKE3 } from 'hash-wasm';
import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CliError, action, ctxOf, type Ctx } from '../context.js';

const ADDR = /^b3:[0-9a-f]{64}$/;

/** A progress line on stderr when it is a terminal (large transfers), nothing otherwise. */
function progress(total: number | undefined, label: string): Transform {
  const tty = process.stderr.isTTY && (total === undefined || total >= 1024 * 1024);
  let done = 0;
  let last = 0;
  const mib = (n: number): string => (n / 1024 / 1024).toFixed(1);
  const draw = (): void => {
    if (total === undefined) process.stderr.write(`\r${label} ${mib(done)} MiB`);
    else {
      const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
      const bar = '#'.repeat(Math.floor(pct / 4)).padEnd(25, '.');
      process.stderr.write(`\r${label} [${bar}] ${String(pct).padStart(3)}% ${mib(done)}/${mib(total)} MiB`);
    }
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      const now = Date.now();
      if (tty && now - last > 100) {
        last = now;
        draw();
      }
      cb(null, chunk);
    },
    flush(cb) {
      if (tty) {
        draw();
        process.stderr.write('\n');
      }
      cb();
    },
  });
}

function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
): { req: Writable; res: Promise<IncomingMessage> } {
  const fn = url.protocol === 'https:' ? httpsRequest : httpRequest;
  let req!: ReturnType<typeof httpRequest>;
  const res = new Promise<IncomingMessage>((resolve, reject) => {
    req = fn(url, { method, headers }, resolve);
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          `cannot reach ${url.origin}: ${err.code ?? err.message}`,
          'is macronode running? set --gateway URL or RON_GATEWAY_URL',
        ),
      ),
    );
  });
  return { req, res };
}

async function body(res: IncomingMessage): Promise<string> {
  let s = '';
  for await (const d of res) s += (d as Buffer).toString();
  return s;
}

async function failure(res: IncomingMessage, what: string): Promise<CliError> {
  const text = await body(res);
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string; hint?: string } }).error;
    return new CliError(`${e?.code ?? res.statusCode}: ${e?.message ?? what}`, e?.hint);
  } catch {
    return new CliError(`${what}: HTTP ${res.statusCode}`);
  }
}

async function put(ctx: Ctx, file: string): Promise<void> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new CliError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      'check the path',
    );
  }
  const { req, res } = send(new URL(`${ctx.gatewayUrl}/v1/cas`), 'POST', {
    'content-type': 'application/octet-stream',
    'content-length': String(size),
  });
  await Promise.all([pipeline(createReadStream(file), progress(size, 'put'), req), res]);
  const r = await res;
  if (r.statusCode !== 200 && r.statusCode !== 201) throw await failure(r, 'upload failed');
  const out = JSON.parse(await body(r)) as { addr: string; size: number; chunks: number };
  if (ctx.json) return ctx.out(JSON.stringify({ ...out, created: r.statusCode === 201 }));
  ctx.out(
    `${out.addr}  ${out.size} bytes, ${out.chunks} chunks${r.statusCode === 200 ? ' (already stored)' : ''}`,
  );
}

async function get(ctx: Ctx, addr: string, outFile: string | undefined): Promise<void> {
  if (!ADDR.test(addr))
    throw new CliError(`invalid address '${addr}'`, 'addresses look like b3:<64 lowercase hex digits>');
  const { req, res } = send(new URL(`${ctx.gatewayUrl}/v1/cas/${addr}`), 'GET', {});
  req.end();
  const r = await res;
  if (r.statusCode !== 200) throw await failure(r, 'download failed');
  const total = Number(r.headers['content-length'] ?? NaN);
  // Verified here too: the bytes must hash to the address, or nothing is kept.
  const hasher = await createBLAKE3();
  hasher.init();
  let got = 0;
  const verify = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hasher.update(chunk);
      got += chunk.length;
      cb(null, chunk);
    },
  });
  const part = outFile === undefined ? undefined : `${outFile}.part`;
  const sink = part === undefined ? process.stdout : createWriteStream(part);
  try {
    await pipeline(r, progress(Number.isFinite(total) ? total : undefined, 'get'), verify, sink, {
      end: part !== undefined,
    });
    if (!r.complete || got !== total)
      throw new CliError(
        `the download of ${addr} was cut short after ${got} bytes`,
        'the server aborts a read when a chunk fails verification: see its log',
      );
    if (`b3:${hasher.digest('hex')}` !== addr)
      throw new CliError(`the bytes received do not hash to ${addr}`);
  } catch (err) {
    if (part !== undefined) rmSync(part, { force: true });
    if (err instanceof CliError) throw err;
    throw new CliError(
      `the download of ${addr} failed after ${got} bytes: ${(err as Error).message}`,
      'the server aborts a read when a chunk fails verification: see its log',
    );
  }
  if (part !== undefined && outFile !== undefined) {
    renameSync(part, outFile);
    if (ctx.json) ctx.out(JSON.stringify({ addr, size: got, file: outFile }));
    else ctx.out(`${outFile}  ${got} bytes, verified`);
  }
}

export function cas(program: Command): void {
  const c = program.command('cas').description('storage plane: content-addressed blobs through the gateway');
  c.command('put')
    .argument('<file>', 'file to upload')
    .description('upload a file; prints its address (b3:…)')
    .action(action(async (file: string, _o: unknown, cmd: Command) => put(ctxOf(cmd), file)));
  c.command('get')
    .argument('<addr>', 'address b3:<64 hex>')
    .option('-o, --output <file>', 'write to FILE (kept only once verified) instead of stdout')
    .description('download an object, verifying it hashes to its address')
    .action(
      action(async (addr: string, o: { output?: string }, cmd: Command) => get(ctxOf(cmd), addr, o.output)),
    );
}
