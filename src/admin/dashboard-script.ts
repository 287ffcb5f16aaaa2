/**
 * The dashboard's only script, inlined under the page's CSP nonce. Every two
 * seconds it fetches the server-rendered sections and swaps in each one
 * whose markup changed, so a node turns red within a poll of the health
 * change, while unchanged sections (and any text selected in them) stay.
 * It never builds markup from data itself: escaping stays on the server.
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
        current.replaceWith(document.importNode(fresh, true));
        seen.set(name, markup);
      }
      show('live', 'Live · updated ' + new Date().toLocaleTimeString());
    } catch (err) {
      show('stale', 'Connection lost · retrying');
    } finally {
      busy = false;
      schedule();
    }
  }

  document.addEventListener('visibilitychange', () => (document.hidden ? schedule() : refresh()));
  show('live', 'Live · every 2 s');
  schedule();
})();
`;
