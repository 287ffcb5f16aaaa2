/**
 * The dashboard's only script, inlined under the page's CSP nonce. Every two
 * seconds it fetches the server-rendered sections and swaps in each one
 * whose markup changed, so a node turns red within a poll of the health
 * change, while unchanged sections (and any text selected in them) stay.
 * It never builds markup from data itself: escaping stays on the server.
 *
 * Actions (drain/undrain a node, renew now, roll back) are buttons the server
 * renders with `data-url` and `data-confirm`: a click opens the confirmation
 * dialog; Confirm posts to the admin API with the session's CSRF token (and
 * the page's Origin), and the answer is shown in words. The audit filter hides
 * rows whose text does not contain what is typed, and survives a refresh.
 */
/** The refresh script, inlined in a `<script nonce>` element; contains no data, only code. */
export const DASHBOARD_SCRIPT = `
(() => {
  'use strict';
  const INTERVAL_MS = 2000;
  const indicator = document.getElementById('live-state');
  const seen = new Map();
  for (const el of document.querySelectorAll('[data-section]')) seen.set(el.dataset.section, el.outerHTML);
  let timer = 0;
  let busy = false;
  let stopped = false;

  function show(state, text) {
    indicator.dataset.state = state;
    indicator.textContent = text;
  }

  function schedule() {
    clearTimeout(timer);
    if (stopped) return;
    if (document.hidden) show('paused', 'Paused while hidden');
    else timer = setTimeout(refresh, INTERVAL_MS);
  }

  async function refresh() {
    if (busy || stopped) return;
    busy = true;
    try {
      const res = await fetch('/dashboard/sections', { credentials: 'same-origin', cache: 'no-store', headers: { accept: 'text/html' } });
      if (res.status === 401) {
        // A session that ended (expired, or the token changed): reloading shows the login form.
        // A page fetched with a bearer token has no session to poll with: stop rather than loop.
        if (document.querySelector('meta[name="csrf-token"]')) return location.reload();
        stopped = true;
        return show('stale', 'Sign in to refresh');
      }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      for (const fresh of doc.querySelectorAll('[data-section]')) {
        const name = fresh.dataset.section;
        const markup = fresh.outerHTML;
        if (seen.get(name) === markup) continue;
        const current = document.querySelector('[data-section="' + CSS.escape(name) + '"]');
        if (!current) continue;
        const filter = current.querySelector('#audit-filter');
        const focused = filter !== null && document.activeElement === filter;
        const node = document.importNode(fresh, true);
        current.replaceWith(node);
        const next = node.querySelector('#audit-filter');
        if (filter && next) {
          next.value = filter.value;
          if (focused) next.focus();
        }
        seen.set(name, markup);
      }
      applyFilter();
      show('live', 'Live · updated ' + new Date().toLocaleTimeString());
    } catch (err) {
      show('stale', 'Connection lost · retrying');
    } finally {
      busy = false;
      schedule();
    }
  }

  function applyFilter() {
    const input = document.getElementById('audit-filter');
    const query = input ? input.value.trim().toLowerCase() : '';
    for (const row of document.querySelectorAll('table.audit tbody tr')) row.hidden = query !== '' && !row.textContent.toLowerCase().includes(query);
  }
  document.addEventListener('input', (event) => {
    if (event.target && event.target.id === 'audit-filter') applyFilter();
  });

  const dialog = document.getElementById('confirm');
  const result = document.getElementById('action-result');
  const csrf = document.querySelector('meta[name="csrf-token"]');

  function report(ok, text) {
    result.hidden = false;
    result.dataset.ok = ok ? 'true' : 'false';
    result.textContent = text;
  }

  function ask(button) {
    return new Promise((resolve) => {
      document.getElementById('confirm-text').textContent = button.dataset.confirm;
      const drain = button.dataset.action === 'drain';
      const reason = document.getElementById('confirm-reason');
      reason.hidden = !drain;
      document.getElementById('confirm-reason-label').hidden = !drain;
      reason.value = '';
      dialog.returnValue = '';
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok' ? { reason: reason.value.trim() } : null), { once: true });
      dialog.showModal();
      document.getElementById(drain ? 'confirm-reason' : 'confirm-ok').focus();
    });
  }

  async function act(button) {
    const answer = await ask(button);
    if (!answer) return;
    const body = JSON.parse(button.dataset.body || '{}');
    if (answer.reason) body.reason = answer.reason;
    const what = button.textContent + (button.dataset.target ? ' ' + button.dataset.target : '');
    button.disabled = true;
    report(true, what + ': working…');
    try {
      const res = await fetch(button.dataset.url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(csrf ? { 'x-csrf-token': csrf.content } : {}) },
        body: JSON.stringify(body),
      });
      const json = await res.json().catch(() => ({}));
      if (res.ok && json.ok !== false) report(true, what + ': done.');
      else report(false, what + ' failed (HTTP ' + res.status + '): ' + (json.message || (json.results && json.results.map((r) => r.error).filter(Boolean).join('; ')) || 'no detail'));
    } catch (err) {
      report(false, what + ' failed: the gateway did not answer');
    } finally {
      button.disabled = false;
      refresh();
    }
  }

  document.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button[data-url]') : null;
    if (button) void act(button);
  });

  applyFilter();
  document.addEventListener('visibilitychange', () => (document.hidden ? schedule() : refresh()));
  show('live', 'Live · every 2 s');
  schedule();
})();
`;
