// ronctl registry head: the registry's head.
import type { Command } from 'commander';
import type { Head } from '@ron/registry/protocol';
import { ctxOf, action } from '../context.js';
import { callJson } from '../http.js';

export function registryHead(registry: Command): void {
  registry
    .command('head')
    .description('show the head: version, chain hash, last commit time')
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const h = await callJson<Head>(ctx, 'GET', `${ctx.registryUrl}/registry/head`);
        if (ctx.json) return ctx.out(JSON.stringify(h));
        ctx.out(`version     ${h.version}`);
        ctx.out(`chain_b3    ${h.chain_b3}`);
        ctx.out(`payload_b3  ${h.payload_b3}`);
        ctx.out(`committed   ${h.committed_at ?? '-'}`);
      }),
    );
}
