// ronctl index set|get|ls: the index plane through the gateway (SPEC §4.5.2, §5).
import type { Command } from 'commander';
import { CliError, action, ctxOf } from '../context.js';
import { gatewayCall, gatewayOf } from '../gateway-http.js';
import { table } from './status.js';

interface Binding {
  name: string;
  addr: string;
  meta: unknown;
  version: number;
  updated_at?: string;
}

export function indexNames(program: Command): void {
  const ix = program
    .command('index')
    .description('index plane through the gateway: names → content addresses')
    .option('--gateway <url>', 'macronode gateway URL (env RON_GATEWAY_URL; default http://127.0.0.1:8090)');

  ix.command('set')
    .description('bind NAME to ADDR (b3:<hex>); --if-match / --if-none-match for compare-and-set')
    .argument('<name>')
    .argument('<addr>')
    .option('--meta <json>', 'a JSON object stored with the binding')
    .option('--if-match <version>', 'only if the current version is this one')
    .option('--if-none-match', 'only if the name is not bound yet')
    .action(
      action(
        async (
          name: string,
          addr: string,
          o: { meta?: string; ifMatch?: string; ifNoneMatch?: boolean },
          cmd: Command,
        ) => {
          const ctx = ctxOf(cmd);
          let meta: unknown;
          if (o.meta !== undefined) {
            try {
              meta = JSON.parse(o.meta);
            } catch {
              throw new CliError('--meta is not valid JSON', 'e.g. --meta \'{"type":"text/html"}\'');
            }
          }
          const headers: Record<string, string> = {};
          if (o.ifMatch !== undefined) headers['if-match'] = `"${o.ifMatch}"`;
          if (o.ifNoneMatch === true) headers['if-none-match'] = '*';
          const r = await gatewayCall<Binding>('PUT', `${gatewayOf(cmd)}/v1/index/${name}`, {
            json: meta === undefined ? { addr } : { addr, meta },
            headers,
          });
          ctx.out(
            ctx.json
              ? JSON.stringify(r.body)
              : `${r.status === 201 ? 'created' : 'updated'} ${name} → ${addr} (version ${r.body.version})`,
          );
        },
      ),
    );

  ix.command('get')
    .description('the binding of NAME')
    .argument('<name>')
    .action(
      action(async (name: string, _o: unknown, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const r = await gatewayCall<Binding>('GET', `${gatewayOf(cmd)}/v1/index/${name}`);
        if (ctx.json) return ctx.out(JSON.stringify(r.body));
        ctx.out(
          `${r.body.name} → ${r.body.addr} (version ${r.body.version}${r.body.updated_at ? `, ${r.body.updated_at}` : ''})`,
        );
        if (r.body.meta !== null && r.body.meta !== undefined) ctx.out(`meta ${JSON.stringify(r.body.meta)}`);
      }),
    );

  ix.command('ls')
    .description('names in order, optionally under a prefix (follows cursors)')
    .option('--prefix <prefix>', 'only names starting with this')
    .option('--limit <n>', 'at most this many names', '1000')
    .action(
      action(async (o: { prefix?: string; limit: string }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const max = Number(o.limit);
        if (!Number.isInteger(max) || max < 1) throw new CliError('--limit must be a positive integer');
        const names: Binding[] = [];
        let cursor: string | null = '';
        while (cursor !== null && names.length < max) {
          const q = new URLSearchParams({ limit: String(Math.min(1000, max - names.length)), cursor });
          if (o.prefix !== undefined) q.set('prefix', o.prefix);
          const page: { names: Binding[]; next_cursor: string | null } = (
            await gatewayCall<{ names: Binding[]; next_cursor: string | null }>(
              'GET',
              `${gatewayOf(cmd)}/v1/index?${q.toString()}`,
            )
          ).body;
          names.push(...page.names);
          cursor = page.next_cursor;
        }
        if (ctx.json) return ctx.out(JSON.stringify({ names }));
        const rows = [['NAME', 'ADDR', 'VERSION']];
        for (const n of names) rows.push([n.name, n.addr, String(n.version)]);
        for (const l of table(rows)) ctx.out(l);
      }),
    );
}
