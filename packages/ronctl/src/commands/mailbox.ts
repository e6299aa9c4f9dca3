// ronctl mailbox send|receive|ack|stats: the mailbox plane through the gateway (SPEC §4.5.3, §5).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, action, ctxOf } from '../context.js';
import { gatewayCall, gatewayOf } from '../gateway-http.js';
import { table } from './status.js';

interface Msg {
  id: string;
  receipt: string;
  body: string;
  attempts: number;
  enqueued_at: string;
}

interface Stats {
  topic: string;
  visible: number;
  in_flight: number;
  delayed: number;
  dlq: number;
  oldest_age_s: number;
}

const enc = encodeURIComponent;

/** Printable UTF-8 as is; anything else as base64. */
function show(b64: string): string {
  const buf = Buffer.from(b64, 'base64');
  const s = buf.toString('utf8');
  return Buffer.from(s, 'utf8').equals(buf) && !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(s)
    ? s
    : `base64:${b64}`;
}

export function mailbox(program: Command): void {
  const mb = program
    .command('mailbox')
    .description('mailbox plane through the gateway: send, receive, ack, stats')
    .option('--gateway <url>', 'macronode gateway URL (env RON_GATEWAY_URL; default http://127.0.0.1:8090)');

  mb.command('send')
    .description('enqueue a message (the argument, --file, or stdin when neither)')
    .argument('<topic>')
    .argument('[message]')
    .option('--file <path>', 'message body from a file')
    .option(
      '--key <idempotency-key>',
      'Idempotency-Key: a retry within the dedup window returns the first id',
    )
    .action(
      action(
        async (
          topic: string,
          message: string | undefined,
          o: { file?: string; key?: string },
          cmd: Command,
        ) => {
          const ctx = ctxOf(cmd);
          const raw =
            message !== undefined
              ? Buffer.from(message)
              : o.file !== undefined
                ? readFileSync(o.file)
                : readFileSync(0);
          const r = await gatewayCall<{ id: string }>('POST', `${gatewayOf(cmd)}/v1/mailbox/${enc(topic)}`, {
            raw,
            ...(o.key !== undefined ? { headers: { 'idempotency-key': o.key } } : {}),
          });
          if (ctx.json) return ctx.out(JSON.stringify({ ...r.body, duplicate: r.status === 200 }));
          ctx.out(r.status === 200 ? `${r.body.id} (duplicate: already enqueued)` : r.body.id);
        },
      ),
    );

  mb.command('receive')
    .description('lease messages; prints id, attempts, receipt and body (ack with the receipt)')
    .argument('<topic>')
    .option('--max <n>', 'messages to lease (1–100)', '1')
    .option('--visibility <duration>', 'lease length, e.g. 30s (≤ 12h)')
    .option('--wait <duration>', 'long-poll up to this long when nothing is visible (≤ 20s)')
    .action(
      action(async (topic: string, o: { max: string; visibility?: string; wait?: string }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const q = new URLSearchParams({ max: o.max });
        if (o.visibility !== undefined) q.set('visibility', o.visibility);
        if (o.wait !== undefined) q.set('wait', o.wait);
        const r = await gatewayCall<{ messages: Msg[] }>(
          'POST',
          `${gatewayOf(cmd)}/v1/mailbox/${enc(topic)}/receive?${q.toString()}`,
        );
        if (ctx.json) return ctx.out(JSON.stringify(r.body));
        if (r.body.messages.length === 0) return ctx.err('(no messages)');
        for (const m of r.body.messages)
          ctx.out(`${m.id}\tattempt ${m.attempts}\treceipt ${m.receipt}\t${show(m.body)}`);
      }),
    );

  mb.command('ack')
    .description('acknowledge (delete) leased messages by receipt')
    .argument('<topic>')
    .argument('<receipts...>')
    .action(
      action(async (topic: string, receipts: string[], _o: unknown, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const r = await gatewayCall<{ acked: number }>(
          'POST',
          `${gatewayOf(cmd)}/v1/mailbox/${enc(topic)}/ack`,
          { json: { receipts } },
        );
        ctx.out(ctx.json ? JSON.stringify(r.body) : `acked ${r.body.acked}`);
      }),
    );

  mb.command('stats')
    .description(
      'per-topic counts: visible, in flight, delayed, dead-lettered, oldest age (all topics without an argument)',
    )
    .argument('[topic]')
    .action(
      action(async (topic: string | undefined, _o: unknown, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const base = `${gatewayOf(cmd)}/v1/mailbox`;
        const topics =
          topic === undefined
            ? (await gatewayCall<{ topics: Stats[] }>('GET', base)).body.topics
            : [(await gatewayCall<Stats>('GET', `${base}/${enc(topic)}`)).body];
        if (ctx.json) return ctx.out(JSON.stringify({ topics }));
        if (topics.length === 0)
          throw new CliError('no topics yet', 'send a message first: ronctl mailbox send TOPIC MESSAGE');
        const rows = [['TOPIC', 'VISIBLE', 'IN_FLIGHT', 'DELAYED', 'DLQ', 'OLDEST_AGE_S']];
        for (const t of topics)
          rows.push([
            t.topic,
            String(t.visible),
            String(t.in_flight),
            String(t.delayed),
            String(t.dlq),
            String(t.oldest_age_s),
          ]);
        for (const l of table(rows)) ctx.out(l);
      }),
    );
}
