// The RON operator console. One GET of /api/v1/status at start (and after a reconnect or a config
// change); everything else arrives on the /api/v1/events SSE stream, whose events carry the plane's
// status and the node's readiness. Timers only age what was received (uptime, backoff countdown);
// the page never polls the node.

import { $, $$, fill, h, setText } from './dom.js';
import { ApiFailure, confirmDialog, getJson, post, setAuthMode, toggleToken } from './api.js';
import {
  planeStateBadge,
  reloadDiff,
  renderConfig,
  renderEvents,
  renderNode,
  renderPlanes,
  renderPlaneView,
  renderRegistry,
} from './views.js';

const VIEWS = ['overview', 'events', 'registry', 'storage', 'index', 'mailbox', 'config'];
const PLANE_VIEWS = ['registry', 'storage', 'index', 'mailbox'];
const EVENT_TYPES = ['Health', 'ServiceCrashed', 'ConfigUpdated', 'Shutdown'];
const MAX_EVENTS = 500;

const state = {
  status: null,
  config: null,
  events: [],
  view: 'overview',
  connected: false,
  shuttingDown: false,
};

// ---- data --------------------------------------------------------------------------------

function failingOf(r) {
  const out = {};
  for (const [k, ok] of Object.entries(r.deps ?? {})) if (!ok) out[k] = r.reasons?.[k] ?? 'not ready';
  if (r.reasons?.shutdown) out.shutdown = r.reasons.shutdown;
  return out;
}

async function loadStatus() {
  const s = await getJson('/api/v1/status');
  s._at = Date.now();
  for (const p of Object.values(s.services)) p._at = s._at;
  s.readiness.failing = failingOf(s.readiness);
  state.status = s;
  render();
}

async function loadConfig() {
  state.config = await getJson('/api/v1/ui/config');
  setAuthMode(state.config.auth);
  renderConfigView();
}

async function resync() {
  try {
    await Promise.all([loadStatus(), loadConfig()]);
    if (PLANE_VIEWS.includes(state.view)) await loadPlaneView(state.view);
  } catch (err) {
    banner(`Could not read the node: ${err.message}`, 'bad');
  }
}

// ---- live events --------------------------------------------------------------------------

let everOpened = false;

function connectEvents() {
  const es = new EventSource('/api/v1/events');
  es.onopen = () => {
    live(true);
    // A reconnect may have missed events: read the state once again.
    if (everOpened) void resync();
    everOpened = true;
  };
  es.onerror = () => live(false);
  for (const t of EVENT_TYPES) es.addEventListener(t, (m) => onEvent(JSON.parse(m.data)));
  es.addEventListener('Lagged', () =>
    note('the event stream lagged; reconnecting and reading the state again'),
  );
}

function live(on) {
  state.connected = on;
  const b = $('#live-badge');
  setText(b, on ? 'live' : state.shuttingDown ? 'node stopped' : 'disconnected: reconnecting…');
  b.className = `badge ${on ? 'ok' : 'bad'}`;
}

function onEvent(e) {
  pushEvent(e);
  const s = state.status;
  if (s) {
    if (e.plane && e.service) {
      e.plane._at = Date.now();
      s.services[e.service] = e.plane;
    }
    if (e.readiness) {
      s.readiness.ready = e.readiness.ready;
      s.readiness.failing = e.readiness.failing;
    }
  }
  if (e.type === 'ConfigUpdated') void resync();
  if (e.type === 'Shutdown') {
    state.shuttingDown = true;
    banner(
      'The node is shutting down: planes stop in reverse start order, then the admin listener closes.',
      'bad',
    );
  }
  if (e.service && e.service === state.view && PLANE_VIEWS.includes(e.service)) void loadPlaneView(e.service);
  render();
}

function pushEvent(e) {
  state.events.unshift(e);
  if (state.events.length > MAX_EVENTS) state.events.length = MAX_EVENTS;
  renderEventsView();
}

/** A line in the feed for what the operator did from this page. */
function note(message) {
  pushEvent({ type: 'Console', message, ts: new Date().toISOString() });
}

// ---- rendering ----------------------------------------------------------------------------

const actions = { reload: () => void doReload(), shutdown: () => void doShutdown() };

function render() {
  const s = state.status;
  if (!s) return;
  const now = Date.now();
  setText($('#node-id'), `${s.addresses.admin ?? ''} · pid ${s.pid}`);
  planeStateBadge($('#ready-badge'), s.readiness.ready);
  renderNode($('#node-card'), s, now, actions);
  renderPlanes($('#planes'), s.services, now, (name) => void resetPlane(name));
  for (const p of PLANE_VIEWS) $(`nav a[data-view="${p}"]`).hidden = !(p in s.services);
  const sel = $('#event-plane');
  const names = Object.keys(s.services);
  if (sel.dataset.names !== names.join(',')) {
    sel.dataset.names = names.join(',');
    const cur = sel.value;
    fill(
      sel,
      h('option', { value: '' }, 'all'),
      names.map((n) => h('option', { value: n }, n)),
    );
    sel.value = names.includes(cur) ? cur : '';
  }
  if (PLANE_VIEWS.includes(state.view) && !(state.view in s.services)) location.hash = '#overview';
}

function eventFilter() {
  const form = $('#event-filters');
  return {
    types: new Set($$('input[name="type"]:checked', form).map((i) => i.value)),
    plane: $('#event-plane').value,
    q: $('#event-q').value.trim(),
  };
}

function renderEventsView() {
  const n = renderEvents($('#events-list'), state.events, eventFilter());
  setText($('#events-count'), `${n} of ${state.events.length} events since this page opened`);
}

function renderConfigView() {
  const c = state.config;
  if (!c) return;
  setText(
    $('#config-meta'),
    `config v${c.version}${c.file ? ` from ${c.file}` : ' (no file: defaults, env and flags)'} · admin actions: ${
      c.auth === 'token'
        ? 'admin token required'
        : c.auth === 'insecure'
          ? 'auth bypassed (MACRONODE_DEV_INSECURE)'
          : 'loopback callers only'
    }`,
  );
  renderConfig($('#config-table tbody'), c.rows, $('#config-q').value.trim());
}

function banner(message, kind = 'info') {
  const b = $('#banner');
  fill(
    b,
    h('span', {}, message),
    h(
      'button',
      { type: 'button', class: 'close', 'aria-label': 'Dismiss', on: { click: () => (b.hidden = true) } },
      '×',
    ),
  );
  b.className = `banner ${kind}`;
  b.hidden = false;
}

// ---- views: registry and the other planes -------------------------------------------------

async function loadPlaneView(p) {
  try {
    const d = await getJson(`/api/v1/ui/planes/${p}`);
    if (p === 'registry') renderRegistry($('#registry-body'), d);
    else renderPlaneView($(`[data-plane-body="${p}"]`), d);
  } catch (err) {
    const el = p === 'registry' ? $('#registry-body') : $(`[data-plane-body="${p}"]`);
    fill(el, h('p', { class: 'bad' }, `${p}: ${err.message}`));
  }
  if (p === 'registry') connectRegistryStream();
}

let registryStream = null;

function connectRegistryStream() {
  if (registryStream) return;
  const st = $('#registry-stream-state');
  const es = new EventSource('/api/v1/ui/planes/registry/stream');
  registryStream = es;
  es.onopen = () => setText(st, 'live: new commits appear here as they are applied');
  es.onerror = () => {
    setText(st, 'registry stream interrupted; reconnecting…');
    // A non-200 answer (plane down) closes an EventSource for good: reopen on the next view load.
    if (es.readyState === EventSource.CLOSED) registryStream = null;
  };
  es.addEventListener('commit', (m) => {
    const c = JSON.parse(m.data);
    const list = $('#registry-stream');
    list.prepend(
      h(
        'li',
        { class: 'ev', dataset: { version: c.version } },
        h('span', { class: 'badge' }, `v${c.version}`),
        h(
          'span',
          { class: 'ev-text' },
          `${c.op}${c.descriptor_id ? ` ${c.descriptor_id}` : ''} · entry ${c.entry_b3} · signed by ${(c.signers ?? []).join(', ') || '—'}`,
        ),
      ),
    );
    while (list.childElementCount > 200) list.lastElementChild.remove();
    if (state.view === 'registry') void loadPlaneView('registry');
  });
}

// ---- actions (admin POST routes) ----------------------------------------------------------

function actionFailed(what, err) {
  if (err instanceof ApiFailure && err.code === 'Cancelled') {
    note(`${what} cancelled: no admin token`);
    return;
  }
  const msg =
    err instanceof ApiFailure
      ? `${what} refused: ${err.code} (${err.status}) — ${err.message}`
      : `${what} failed: ${err.message}`;
  banner(msg, 'bad');
  note(msg);
}

async function doReload() {
  let d;
  try {
    d = await post('/api/v1/reload?dry_run=1');
  } catch (err) {
    return actionFailed('Reload (dry run)', err);
  }
  const ok = await confirmDialog({
    title: 'Reload config: what would change',
    body: reloadDiff(d),
    confirm: 'Apply reload',
  });
  if (!ok) {
    note('reload not applied (cancelled after the dry run)');
    return;
  }
  try {
    const r = await post('/api/v1/reload');
    const msg = `reload applied: config v${r.version}; applied [${r.applied.join(', ')}], restarted [${r.restarted.join(', ')}], restart required [${r.restart_required.join(', ')}]`;
    fill($('#reload-result'), h('p', { class: 'ok' }, msg));
    banner(msg, 'ok');
    note(msg);
    await resync();
  } catch (err) {
    actionFailed('Reload', err);
  }
}

async function resetPlane(name) {
  try {
    const r = await post(`/api/v1/services/${encodeURIComponent(name)}/reset`);
    note(`reset ${name}: now ${r.state}`);
    const st = state.status?.services[name];
    if (st && r.state !== st.state) {
      st.state = r.state;
      st.next_restart_in_ms = null;
      st.restarts_in_window = 0;
      render();
    }
  } catch (err) {
    actionFailed(`Reset ${name}`, err);
  }
}

async function doShutdown() {
  const ok = await confirmDialog({
    title: 'Shut down the node?',
    body: h(
      'p',
      {},
      'Every plane stops (gateway first), then the admin listener closes and this page loses its connection. Start the node again from its host.',
    ),
    confirm: 'Shut down',
    danger: true,
  });
  if (!ok) return;
  try {
    await post('/api/v1/shutdown');
    note('shutdown requested');
    // The Shutdown event may already have said so.
    if (!state.shuttingDown) banner('Shutdown accepted: the node is shutting down.', 'bad');
  } catch (err) {
    actionFailed('Shutdown', err);
  }
}

// ---- navigation ---------------------------------------------------------------------------

function showView() {
  const want = location.hash.replace(/^#/, '') || 'overview';
  const view = VIEWS.includes(want) ? want : 'overview';
  state.view = view;
  for (const sec of $$('main > section')) sec.hidden = sec.dataset.view !== view;
  for (const a of $$('nav.tabs a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (PLANE_VIEWS.includes(view)) void loadPlaneView(view);
  if (view === 'config')
    void loadConfig().catch((err) => banner(`Could not read the config: ${err.message}`, 'bad'));
  if (view === 'events') renderEventsView();
}

function wire() {
  window.addEventListener('hashchange', showView);
  $('#event-filters').addEventListener('input', renderEventsView);
  $('#event-filters').addEventListener('submit', (e) => e.preventDefault());
  $('#events-clear').addEventListener('click', () => {
    state.events = [];
    renderEventsView();
  });
  $('#config-q').addEventListener('input', renderConfigView);
  $('#reload-btn').addEventListener('click', actions.reload);
  $('#shutdown-btn2').addEventListener('click', actions.shutdown);
  $('#auth-btn').addEventListener('click', () => void toggleToken());
  $('#confirm-cancel').addEventListener('click', () => $('#confirm-dialog').close());
  $('#token-cancel').addEventListener('click', () => $('#token-dialog').close());
}

function start() {
  wire();
  showView();
  connectEvents();
  void resync();
  // Ages uptimes and backoff countdowns locally; no request leaves the page.
  setInterval(render, 250);
}

start();
