// Small DOM and formatting helpers for the console (no framework: plain ES modules).

/**
 * Creates an element: h('td', { class: 'num', dataset: { field: 'pid' } }, 'text', child).
 * Text is always set as text (never parsed as HTML).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

/** Sets text only when it changed (keeps selections and screen readers calm). */
export function setText(el, text) {
  const t = String(text);
  if (el.textContent !== t) el.textContent = t;
}

export function $(sel, root = document) {
  return root.querySelector(sel);
}

export function $$(sel, root = document) {
  return [...root.querySelectorAll(sel)];
}

/** 3725 → "1h 2m 5s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  let s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hh = Math.floor(s / 3600);
  s -= hh * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) return `${d}d ${hh}h ${m}m`;
  if (hh > 0) return `${hh}h ${m}m ${s}s`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString([], { hour12: false });
}

export function dateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString([], { hour12: false });
}

/** A value for a table cell: strings as they are, everything else as JSON. */
export function show(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v === '' ? '""' : v;
  return JSON.stringify(v);
}

/** Renders any JSON value as nested key/value tables (for plane views whose shape we do not know). */
export function jsonView(v) {
  if (Array.isArray(v)) {
    if (v.length === 0) return h('p', { class: 'muted' }, 'none');
    const objs = v.every((x) => x !== null && typeof x === 'object' && !Array.isArray(x));
    if (!objs)
      return h(
        'ul',
        {},
        v.map((x) => h('li', {}, show(x))),
      );
    const cols = [...new Set(v.flatMap((x) => Object.keys(x)))].slice(0, 8);
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
          v.map((x) =>
            h(
              'tr',
              {},
              cols.map((c) => h('td', {}, show(x[c]))),
            ),
          ),
        ),
      ),
    );
  }
  if (v !== null && typeof v === 'object') {
    return h(
      'dl',
      { class: 'kv' },
      Object.entries(v).flatMap(([k, x]) => [
        h('dt', {}, k),
        h('dd', {}, x !== null && typeof x === 'object' ? jsonView(x) : show(x)),
      ]),
    );
  }
  return h('span', {}, show(v));
}
