import { readFileSync } from 'node:fs';

export interface BuildInfo {
  version: string;
  commit: string;
  built_at: string;
  built_at_unix: number | null;
}

let cached: BuildInfo | undefined;

/** Build info stamped by `scripts/stamp-build.mjs` at build time; "unknown" when absent. */
export function buildInfo(): BuildInfo {
  if (cached) return cached;
  let raw: Partial<BuildInfo> = {};
  try {
    raw = JSON.parse(
      readFileSync(new URL('../build-info.json', import.meta.url), 'utf8'),
    ) as Partial<BuildInfo>;
  } catch {
    // Not stamped (e.g. built without git): fall through to "unknown".
  }
  const builtAt = raw.built_at ?? 'unknown';
  const unix = Date.parse(builtAt);
  cached = Object.freeze({
    version: raw.version ?? 'unknown',
    commit: raw.commit ?? 'unknown',
    built_at: builtAt,
    built_at_unix: Number.isNaN(unix) ? null : Math.floor(unix / 1000),
  });
  return cached;
}

/** The `<program> version` line: name, version, commit, build time and the Node version. */
export function versionLine(program: string): string {
  const b = buildInfo();
  return `${program} ${b.version} (commit ${b.commit}, built ${b.built_at}) node ${process.version}\n`;
}
