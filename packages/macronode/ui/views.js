// Rendering. Cards and rows are keyed and updated in place, so a live update never steals focus
// from a button the operator is on.

import { dateTime, duration, fill, h, jsonView, setText, show, time } from './dom.js';

const PLANE_FIELDS = [
  ['pid', 'PID'],
  ['uptime', 'Uptime'],
  ['restarts', 'Restarts'],
  ['window', 'In window'],
  ['backoff', 'Next restart'],
  ['last_exit', 'Last exit'],
  ['reason', 'Why not ready'],
  ['policy', 'Policy'],
];

/** Local clock helpers: a status received at `at` (Date.now()) ages without asking the server. */
function uptimeOf(st, now) {
  return st.state === 'running' ? st.uptime_seconds + (now - st._at) / 1000 : null;
}
function countdownOf(st, now) {
  return st.next_restart_in_ms === null || st.next_restart_in_ms === undefined
    ? null
    : Math.max(0, st.next_restart_in_ms - (now - st._at));
}

export function renderNode(el, status, now, actions) {
  if (el.childElementCount === 0) {
    fill(
      el,
      h(
        'dl',
        { class: 'kv node-facts' },
        [
          ['version', 'Version'],
          ['pid', 'PID'],
          ['uptime', 'Uptime'],
          ['readiness', 'Readiness'],
          ['config', 'Config'],
          ['log', 'Log level'],
          ['admin', 'Admin'],
          ['gateway', 'Gateway'],
          ['data', 'Data dir'],
        ].flatMap(([k, label]) => [h('dt', {}, label), h('dd', { dataset: { node: k } })]),
      ),
      h('div', { class: 'failing', id: 'failing' }),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', id: 'reload-btn1', on: { click: actions.reload } }, 'Reload config…'),
        h(
          'button',
          { type: 'button', id: 'shutdown-btn', class: 'danger', on: { click: actions.shutdown } },
          'Shut down node…',
        ),
      ),
    );
  }
  const set = (k, v) => setText(el.querySelector(`[data-node="${k}"]`), v);
  set('version', status.version);
  set('pid', status.pid);
  set('uptime', duration(status.uptime_seconds + (now - status._at) / 1000));
  set(
    'readiness',
    `${status.readiness.ready ? 'ready' : 'not ready'} (${status.readiness.mode ?? 'truthful'})`,
  );
  set(
    'config',
    `v${status.config_version}${status.last_reload ? ` · last reload ${time(status.last_reload.at)} ${status.last_reload.ok ? 'ok' : 'rejected'}` : ''}`,
  );
  set('log', status.log_level);
  set('admin', status.addresses.admin ?? '—');
  set('gateway', status.addresses.gateway ?? '—');
  set('data', status.amnesia ? '(amnesia: nothing on disk)' : status.data_dir);
  // A restarting plane's reason names its backoff: age it like the card's countdown.
  const failing = Object.entries(status.readiness.failing ?? {}).map(([k, r]) => {
    const st = status.services[k];
    const cd = st && st.state === 'restarting' ? countdownOf(st, now) : null;
    return [k, cd === null ? r : r.replace(/^restarting in \d+ ms/, `restarting in ${Math.round(cd)} ms`)];
  });
  const f = el.querySelector('#failing');
  const key = JSON.stringify(failing);
  if (f.dataset.key !== key) {
    f.dataset.key = key;
    fill(
      f,
      failing.length === 0
        ? h('p', { class: 'ok' }, 'Every readiness probe holds.')
        : [
            h('p', { class: 'bad' }, 'Failing probes:'),
            h(
              'ul',
              {},
              failing.map(([k, r]) => h('li', { dataset: { probe: k } }, h('strong', {}, k), `: ${r}`)),
            ),
          ],
    );
  }
}

/** One card per plane; `onReset(name)` is the Reset button's action. */
export function renderPlanes(el, services, now, onReset) {
  const names = Object.keys(services);
  for (const card of [...el.children]) if (!names.includes(card.dataset.plane)) card.remove();
  for (const name of names) {
    let card = el.querySelector(`[data-plane="${name}"]`);
    if (!card) {
      card = h(
        'article',
        { class: 'card plane', dataset: { plane: name }, 'aria-labelledby': `plane-${name}` },
        h(
          'header',
          {},
          h('h3', { id: `plane-${name}` }, name),
          h('span', { class: 'badge state', dataset: { field: 'state' } }),
        ),
        h(
          'dl',
          { class: 'kv' },
          PLANE_FIELDS.flatMap(([k, label]) => [
            h('dt', { dataset: { label: k } }, label),
            h('dd', { dataset: { field: k } }),
          ]),
        ),
        h(
          'div',
          { class: 'actions' },
          h(
            'button',
            { type: 'button', dataset: { action: 'reset' }, on: { click: () => onReset(name) } },
            `Reset ${name}`,
          ),
        ),
      );
      el.append(card);
    }
    updatePlane(card, services[name], now);
  }
}

function updatePlane(card, st, now) {
  const f = (k) => card.querySelector(`[data-field="${k}"]`);
  card.dataset.state = st.state;
  setText(f('state'), st.state);
  setText(f('pid'), st.pid ?? '—');
  setText(f('uptime'), st.state === 'running' ? duration(uptimeOf(st, now)) : '—');
  setText(f('restarts'), st.restarts);
  const w = f('window');
  setText(
    w,
    st.max_restarts !== undefined
      ? `${st.restarts_in_window} / ${st.max_restarts} in ${duration(st.window_ms / 1000)}`
      : '—',
  );
  w.classList.toggle('bad', st.max_restarts !== undefined && st.restarts_in_window >= st.max_restarts);
  const cd = countdownOf(st, now);
  setText(
    f('backoff'),
    st.state === 'restarting' && cd !== null
      ? `in ${(cd / 1000).toFixed(1)} s`
      : st.state === 'failed'
        ? 'never (failed: reset it)'
        : '—',
  );
  const ex = st.last_exit;
  setText(
    f('last_exit'),
    ex
      ? `${ex.signal ? `signal ${ex.signal}` : `code ${ex.code}`} at ${time(ex.at)}${st.last_error ? ` — ${st.last_error}` : ''}`
      : (st.last_error ?? '—'),
  );
  setText(f('reason'), st.state === 'running' ? '—' : whyNotReady(st, cd));
  setText(f('policy'), `${st.restart}${st.critical ? ', critical' : ''}`);
  const reset = card.querySelector('[data-action="reset"]');
  reset.disabled = !['failed', 'stopped', 'restarting'].includes(st.state);
}

function whyNotReady(st, cd) {
  switch (st.state) {
    case 'restarting':
      return `crashed (${st.last_error ?? 'unknown'}); restarting in ${((cd ?? 0) / 1000).toFixed(1)} s`;
    case 'failed':
      return `restart intensity exceeded (${st.max_restarts} restarts within ${duration(st.window_ms / 1000)}): ${st.last_error ?? 'crash'}`;
    case 'starting':
      return 'starting: waiting for the plane to report ready';
    default:
      return st.state;
  }
}

/** One line of the event feed. */
export function eventSummary(e) {
  switch (e.type) {
    case 'Health':
      return `${e.service} ${e.ok ? 'is healthy' : 'is not healthy'}${e.state ? ` (${e.state})` : ''}`;
    case 'ServiceCrashed':
      return `${e.service} crashed: ${e.reason}${e.restart_in_ms !== null && e.restart_in_ms !== undefined ? `; restart in ${e.restart_in_ms} ms` : '; no restart'}`;
    case 'ConfigUpdated':
      return `config v${e.version} applied`;
    case 'Shutdown':
      return 'node shutting down';
    default:
      return e.message ?? e.type;
  }
}

export function renderEvents(list, events, filter) {
  const shown = events.filter(
    (e) =>
      filter.types.has(e.type) &&
      (filter.plane === '' || e.service === filter.plane) &&
      (filter.q === '' || `${e.type} ${eventSummary(e)}`.toLowerCase().includes(filter.q.toLowerCase())),
  );
  fill(
    list,
    shown.map((e) =>
      h(
        'li',
        { class: `ev ev-${e.type}`, dataset: { type: e.type, service: e.service ?? '' } },
        h('time', { datetime: e.ts }, time(e.ts)),
        h('span', { class: 'badge' }, e.type),
        h('span', { class: 'ev-text' }, eventSummary(e)),
      ),
    ),
  );
  return shown.length;
}

export function renderRegistry(el, data) {
  const v = data.views;
  const stats = v.stats ?? {};
  const head = stats.head;
  const parts = [];
  if (stats.error || !head) {
    parts.push(h('p', { class: 'bad' }, `registry not answering: ${show(stats.error ?? stats)}`));
  } else {
    parts.push(
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'Head'),
        h('dl', { class: 'kv', id: 'registry-head' }, [
          h('dt', {}, 'Version'),
          h('dd', { dataset: { field: 'head-version' } }, head.version),
          h('dt', {}, 'Chain hash'),
          h('dd', { class: 'hash' }, head.chain_b3),
          h('dt', {}, 'Payload hash'),
          h('dd', { class: 'hash' }, head.payload_b3),
          h('dt', {}, 'Committed'),
          h('dd', {}, dateTime(head.committed_at)),
          h('dt', {}, 'Descriptors'),
          h(
            'dd',
            {},
            `${stats.descriptors?.published ?? 0} published, ${stats.descriptors?.deprecated ?? 0} deprecated`,
          ),
          h('dt', {}, 'Signers'),
          h('dd', {}, `threshold ${stats.signers?.threshold} of ${stats.signers?.count}`),
          h('dt', {}, 'Store'),
          h('dd', {}, `${stats.store?.kind}${stats.store?.degraded ? ' (degraded: read-only)' : ''}`),
          h('dt', {}, 'Stream clients'),
          h('dd', {}, stats.stream_clients),
        ]),
      ),
    );
  }
  const props = v.proposals;
  parts.push(h('h2', {}, 'Pending proposals'));
  if (props && Array.isArray(props.items)) {
    parts.push(
      props.items.length === 0
        ? h('p', { class: 'muted' }, 'No pending proposals.')
        : table(
            ['Proposal', 'Op', 'Subject', 'Signatures', 'Expires'],
            props.items.map((p) => [
              p.proposal_id,
              p.op,
              p.descriptor?.id ?? `v${p.version}`,
              `${p.have} / ${p.need}`,
              dateTime(p.expires_at),
            ]),
          ),
    );
  } else {
    parts.push(
      h(
        'p',
        { class: 'muted' },
        `${stats.pending_proposals ?? 0} pending (this registry does not list them).`,
      ),
    );
  }
  parts.push(h('h2', {}, 'Descriptors'));
  const items = v.descriptors?.items;
  if (Array.isArray(items)) {
    parts.push(
      items.length === 0
        ? h('p', { class: 'muted' }, 'No descriptors yet.')
        : table(
            ['Id', 'Kind', 'Version', 'State', 'Log version', 'Committed'],
            items.map((d) => [d.id, d.kind, d.version, d.state, d.log_version, dateTime(d.committed_at)]),
          ),
    );
  } else parts.push(jsonView(v.descriptors));
  fill(el, parts);
}

function table(cols, rows) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          cols.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((r) =>
          h(
            'tr',
            {},
            r.map((c) => h('td', {}, show(c))),
          ),
        ),
      ),
    ),
  );
}

export function renderPlaneView(el, data) {
  fill(
    el,
    Object.entries(data.views).map(([k, v]) => h('div', { class: 'card' }, h('h2', {}, k), jsonView(v))),
    Object.keys(data.views).length === 0 ? h('p', { class: 'muted' }, 'No views for this plane.') : null,
  );
}

export function renderConfig(tbody, rows, q) {
  const needle = q.toLowerCase();
  fill(
    tbody,
    rows
      .filter((r) => needle === '' || r.key.includes(needle) || r.doc.toLowerCase().includes(needle))
      .map((r) =>
        h(
          'tr',
          { dataset: { key: r.key } },
          h('th', { scope: 'row' }, h('code', {}, r.key)),
          h('td', { class: r.secret ? 'secret' : '' }, h('code', {}, show(r.value))),
          h('td', { class: r.source.startsWith('default') ? 'muted' : 'src' }, r.source),
          h('td', {}, r.doc),
        ),
      ),
  );
}

/** The dry-run answer of POST /api/v1/reload?dry_run=1, as the confirmation dialog's body. */
export function reloadDiff(d) {
  const list = (title, xs, cls) =>
    h(
      'div',
      { class: `plan ${cls}`, dataset: { plan: cls } },
      h('h3', {}, title),
      xs.length === 0
        ? h('p', { class: 'muted' }, 'none')
        : h(
            'ul',
            {},
            xs.map((x) => h('li', {}, h('code', {}, x))),
          ),
    );
  const changes = Array.isArray(d.changes) ? d.changes : null;
  return h(
    'div',
    { class: 'diff', id: 'reload-diff' },
    changes === null
      ? null
      : changes.length === 0
        ? h(
            'p',
            { class: 'muted' },
            'The config on disk, env and flags load to the config that is running: nothing would change.',
          )
        : table(
            ['Key', 'Running', 'After reload', 'From'],
            changes.map((c) => [c.key, c.from, c.to, c.source]),
          ),
    list('Applied live', d.applied, 'applied'),
    list('Planes restarted', d.restarted, 'restarted'),
    list('Need a process restart (not applied)', d.restart_required, 'restart_required'),
  );
}

export function planeStateBadge(el, ready) {
  setText(el, ready ? 'ready' : 'not ready');
  el.className = `badge ${ready ? 'ok' : 'bad'}`;
}
