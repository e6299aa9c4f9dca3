// deploy/: the Prometheus alert rules, Grafana dashboards and systemd units operators copy.
// - `promtool check rules` + `promtool test rules` (each alert fires on a bad series, stays quiet on a
//   healthy one: deploy/prometheus/alerts.test.yml);
// - every metric name in an alert or dashboard query is one a started program really exports;
// - `systemd-analyze verify` accepts each unit without a warning.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnProgram, tempDir, type Program } from '@ron/testkit';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const deploy = (p: string): string => `${root}deploy/${p}`;
const bin = (pkg: string, name: string): string => `${root}packages/${pkg}/bin/${name}.js`;
const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'Inf', 'NaN']);

/** Metric names a PromQL expression selects (label matchers, ranges, strings and grouping stripped). */
export function metricNames(expr: string): string[] {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  s = s.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const out: string[] = [];
  for (const m of s.matchAll(/(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = s.slice(m.index + m[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(m[0])) continue;
    out.push(m[0]);
  }
  return out;
}

/** Every `expr:` of a Prometheus rules file (inline or `|` block). */
function ruleExprs(text: string): string[] {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i]!);
    if (!m) continue;
    if (m[2] !== '|' && m[2] !== '>') {
      out.push(m[2]!);
      continue;
    }
    const block: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || lines[i + 1]!.search(/\S/) > m[1]!.length))
      block.push(lines[++i]!);
    out.push(block.join('\n'));
  }
  return out;
}

interface Dashboard {
  title: string;
  panels: { title: string; targets: { expr: string }[] }[];
  templating: { list: { query?: string }[] };
}

const dashboards = readdirSync(deploy('grafana'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, d: JSON.parse(readFileSync(deploy(`grafana/${f}`), 'utf8')) as Dashboard }));

const started: Program[] = [];
const dirs: { remove(): void }[] = [];
const exported = new Set<string>();

before(async () => {
  const d = tempDir();
  dirs.push(d);
  const mn = await spawnProgram({
    bin: bin('micronode', 'micronode'),
    args: ['--bind', '127.0.0.1:0', '--amnesia'],
  });
  started.push(mn);
  const reg = await spawnProgram({
    bin: bin('registry', 'svc-registry'),
    args: ['--dev', '--amnesia', '--bind', '127.0.0.1:0', '--admin-bind', '127.0.0.1:0'],
  });
  started.push(reg);
  const node = await spawnProgram({
    bin: bin('macronode', 'macronode'),
    args: [
      'run',
      '--http-addr',
      '127.0.0.1:0',
      '--gateway-addr',
      '127.0.0.1:0',
      '--data-dir',
      d.path,
      '--amnesia',
    ],
    timeoutMs: 30_000,
  });
  started.push(node);
  const planes = node.ready.planes as Record<string, { url: string; admin_url?: string }>;
  const urls = [
    mn.url,
    String(reg.ready.admin_url),
    node.url,
    ...Object.values(planes).map((p) => p.admin_url ?? p.url),
  ];
  for (const u of urls) {
    const text = await (await fetch(`${u}/metrics`)).text();
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
      if (m) exported.add(m[1]!);
    }
  }
});

after(async () => {
  for (const p of started) await p.stop();
  for (const d of dirs) d.remove();
});

test('the PromQL name extractor finds selected metrics and ignores functions, labels and keywords', () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.95, sum by (job, le) (rate(request_latency_seconds_bucket{route="/x"}[5m]))) > 0.05',
    ),
    ['request_latency_seconds_bucket'],
  );
  assert.deepEqual(metricNames('increase(a_total[10m]) > 0 or increase(b_total{job=~"r.*"}[10m]) > 0'), [
    'a_total',
    'b_total',
  ]);
  assert.deepEqual(metricNames('sum(rate(x{s=~"5.."}[5m])) / sum(rate(x[5m])) > 1e-3'), ['x', 'x']);
});

test('promtool accepts alerts.yml and its unit tests pass (each alert fires on a bad series, not on a healthy one)', () => {
  assert.ok(hasPromtool, 'promtool not found: install the Debian package `prometheus` (.ci/run does)');
  const check = spawnSync('promtool', ['check', 'rules', deploy('prometheus/alerts.yml')], {
    encoding: 'utf8',
  });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const unit = spawnSync('promtool', ['test', 'rules', deploy('prometheus/alerts.test.yml')], {
    encoding: 'utf8',
  });
  assert.equal(unit.status, 0, unit.stdout + unit.stderr);
});

test('every alert has a unit test in alerts.test.yml', () => {
  const rules = readFileSync(deploy('prometheus/alerts.yml'), 'utf8');
  const tests = readFileSync(deploy('prometheus/alerts.test.yml'), 'utf8');
  const alerts = [...rules.matchAll(/^\s*- alert:\s*(\S+)/gm)].map((m) => m[1]!);
  assert.ok(alerts.length >= 10, `expected the runbook's alerts, found ${alerts.length}`);
  for (const a of alerts) assert.match(tests, new RegExp(`alertname: ${a}\\b`), `${a} has no unit test`);
});

test('every metric an alert rule uses is exported by a running program', () => {
  const exprs = ruleExprs(readFileSync(deploy('prometheus/alerts.yml'), 'utf8'));
  assert.ok(exprs.length >= 10);
  for (const e of exprs) {
    const names = metricNames(e);
    assert.ok(names.length > 0, `no metric found in ${e}`);
    for (const n of names)
      assert.ok(exported.has(n), `alert expression uses ${n}, which no program exports:\n${e}`);
  }
});

test('every dashboard panel query uses exported metric names', () => {
  assert.deepEqual(dashboards.map((x) => x.file).sort(), [
    'macronode.json',
    'micronode.json',
    'node-overview.json',
    'svc-registry.json',
  ]);
  for (const { file, d } of dashboards) {
    assert.ok(d.panels.length > 0, `${file} has no panels`);
    for (const p of d.panels) {
      assert.ok(p.targets.length > 0, `${file} panel ${p.title} has no query`);
      for (const t of p.targets)
        for (const n of metricNames(t.expr))
          assert.ok(exported.has(n), `${file} panel "${p.title}" uses ${n}, which no program exports`);
    }
    for (const v of d.templating.list) {
      const m = v.query === undefined ? null : /label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(v.query);
      if (m) assert.ok(exported.has(m[1]!), `${file} variable query uses ${m[1]}`);
    }
  }
});

test('systemd units pass systemd-analyze verify with the hardening options', () => {
  const units = readdirSync(deploy('systemd')).filter((f) => /\.(service|timer)$/.test(f));
  assert.ok(units.includes('macronode.service') && units.includes('svc-registry.service'));
  for (const u of units.filter((f) => f.endsWith('.service'))) {
    const text = readFileSync(deploy(`systemd/${u}`), 'utf8');
    for (const opt of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'LimitNOFILE='])
      assert.ok(text.includes(opt), `${u} lacks ${opt}`);
  }
  const analyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!analyze) {
    process.stderr.write('systemd-analyze not found: unit files checked for their hardening keys only\n');
    return;
  }
  for (const u of units) {
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', deploy(`systemd/${u}`)], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${u}: ${r.stderr}`);
    assert.equal(r.stderr.trim(), '', `${u}: systemd-analyze warned:\n${r.stderr}`);
  }
});
