// ronctl status: macronode /api/v1/status as a table.
import type { Command } from 'commander';
import { ctxOf, action } from '../context.js';
import { callJson } from '../http.js';

interface PlaneStatus {
  state?: string;
  pid?: number | null;
  restarts?: number;
  uptime_seconds?: number | null;
  last_error?: string | null;
}

function cell(v: unknown): string {
  if (v === undefined || v === null || v === '') return '-';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Renders rows as aligned columns. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

export function status(program: Command): void {
  program
    .command('status')
    .description('macronode status (GET <admin>/api/v1/status) as a table')
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const s = await callJson<Record<string, unknown>>(
          ctx,
          'GET',
          `${ctx.adminUrl}/api/v1/status`,
          undefined,
          'admin',
        );
        if (ctx.json) return ctx.out(JSON.stringify(s));
        for (const [k, v] of Object.entries(s)) {
          if (k === 'services' || (typeof v === 'object' && v !== null)) continue;
          ctx.out(`${k.padEnd(16)} ${cell(v)}`);
        }
        const services = (s.services ?? {}) as Record<string, PlaneStatus>;
        const rows = [['PLANE', 'STATE', 'PID', 'RESTARTS', 'UPTIME', 'LAST ERROR']];
        for (const [name, p] of Object.entries(services)) {
          rows.push([
            name,
            cell(p.state),
            cell(p.pid),
            cell(p.restarts),
            p.uptime_seconds == null ? '-' : `${Math.round(p.uptime_seconds)}s`,
            cell(p.last_error),
          ]);
        }
        if (rows.length > 1) {
          ctx.out('');
          for (const l of table(rows)) ctx.out(l);
        }
      }),
    );
}
