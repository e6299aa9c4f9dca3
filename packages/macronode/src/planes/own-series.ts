/**
 * Keeps only the series of a plane's Prometheus text whose names start with `prefix` (e.g.
 * `mailbox_`): the host merges plane series into its own /metrics, where a second copy of the
 * process_* / nodejs_* collectors would be a duplicate family.
 */
export function ownSeries(text: string, prefix: string): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const name = line.startsWith('# ') ? (line.split(' ')[2] ?? '') : line;
    if (name.startsWith(prefix)) out.push(line);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
