// Admin API calls. GET routes are open; POST routes follow the node's auth rule: with an
// admin_token set the page asks for it and keeps it in this module's memory only (never
// localStorage or a cookie), so it is gone when the tab closes or reloads.

import { $, setText } from './dom.js';

let token = '';
/** 'token' | 'loopback' | 'insecure', from GET /api/v1/ui/config. */
let authMode = 'loopback';

export function setAuthMode(mode) {
  authMode = mode;
  renderAuth();
}

export function hasToken() {
  return token !== '';
}

export function forgetToken() {
  token = '';
  renderAuth();
}

function renderAuth() {
  const btn = $('#auth-btn');
  if (!btn) return;
  btn.hidden = authMode !== 'token';
  setText(btn, token === '' ? 'Enter admin token' : 'Forget admin token');
}

/** An error from the admin API, with the envelope's code and message (SPEC §1.2). */
export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function failure(r) {
  let code = `HTTP ${r.status}`;
  let message = r.statusText;
  try {
    const body = await r.json();
    if (body && body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
    }
  } catch {
    // not an envelope
  }
  return new ApiFailure(r.status, code, message);
}

export async function getJson(path) {
  const r = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  if (!r.ok) throw await failure(r);
  return r.json();
}

/**
 * POSTs to an admin route. With token auth and no token yet, asks for one first; a 401 clears
 * it, tells the operator the token was refused, and asks again.
 */
export async function post(path) {
  for (;;) {
    if (authMode === 'token' && token === '') {
      const t = await askToken();
      if (t === null) throw new ApiFailure(0, 'Cancelled', 'no admin token given');
      token = t;
      renderAuth();
    }
    const headers = { accept: 'application/json' };
    if (token !== '') headers.authorization = `Bearer ${token}`;
    const r = await fetch(path, { method: 'POST', headers, cache: 'no-store' });
    if (r.status === 401) {
      token = '';
      renderAuth();
      authMode = 'token';
      const f = await failure(r);
      tokenError = `Wrong admin token: the node answered 401 Unauthorized (${f.message}).`;
      continue;
    }
    if (!r.ok) throw await failure(r);
    return r.json();
  }
}

let tokenError = '';

/** Shows the token dialog; resolves with the token, or null when cancelled. */
export function askToken() {
  const dlg = $('#token-dialog');
  const form = $('#token-form');
  const input = $('#token-input');
  const err = $('#token-error');
  setText(err, tokenError);
  err.hidden = tokenError === '';
  tokenError = '';
  input.value = '';
  return new Promise((resolve) => {
    const done = (v) => {
      form.removeEventListener('submit', onSubmit);
      dlg.removeEventListener('close', onClose);
      if (dlg.open) dlg.close();
      resolve(v);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const v = input.value.trim();
      if (v === '') {
        setText(err, 'Enter the node’s admin token.');
        err.hidden = false;
        return;
      }
      done(v);
    };
    const onClose = () => done(null);
    form.addEventListener('submit', onSubmit);
    dlg.addEventListener('close', onClose);
    dlg.showModal();
    input.focus();
  });
}

/** Token button in the header: enter one ahead of time, or forget it. */
export async function toggleToken() {
  if (token !== '') return forgetToken();
  const t = await askToken();
  if (t !== null) {
    token = t;
    renderAuth();
  }
}

/**
 * A confirmation dialog. `body` is a node shown above the buttons. Resolves true on confirm.
 */
export function confirmDialog({ title, body, confirm = 'Confirm', danger = false }) {
  const dlg = $('#confirm-dialog');
  setText($('#confirm-title'), title);
  $('#confirm-body').replaceChildren(body);
  const ok = $('#confirm-ok');
  setText(ok, confirm);
  ok.classList.toggle('danger', danger);
  return new Promise((resolve) => {
    const form = $('#confirm-form');
    const done = (v) => {
      form.removeEventListener('submit', onSubmit);
      dlg.removeEventListener('close', onClose);
      if (dlg.open) dlg.close();
      resolve(v);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      done(true);
    };
    const onClose = () => done(false);
    form.addEventListener('submit', onSubmit);
    dlg.addEventListener('close', onClose);
    dlg.showModal();
    $('#confirm-cancel').focus();
  });
}
