/**
 * Whole pages of the admin listener: the dashboard shell around the live
 * sections, and the login form shown at `GET /` to a browser without a
 * session. One inline stylesheet and (on the dashboard) one inline script,
 * both under the response's CSP nonce; no external resources at all.
 */
import { html, trustedHtml, type SafeHtml } from './html.js';
import { DASHBOARD_CSS } from './dashboard-style.js';
import { DASHBOARD_SCRIPT } from './dashboard-script.js';

const css = trustedHtml(DASHBOARD_CSS);
const script = trustedHtml(DASHBOARD_SCRIPT);

function document(title: string, nonce: string, body: SafeHtml, head: SafeHtml | string = ''): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title}</title>
<link rel="icon" href="data:,">
${head}
<style nonce="${nonce}">${css}</style>
</head>
${body}
</html>
`.toString();
}

export interface DashboardPageOptions {
  readonly nonce: string;
  readonly fqdn: string;
  readonly version: string;
  /** The live sections, already rendered. */
  readonly sections: SafeHtml;
  /**
   * For cookie sessions: the session's CSRF token, published in a meta tag
   * for scripts that post without an Origin header; also shows Sign out.
   */
  readonly csrfToken?: string;
}

/** The dashboard page: header, the live sections, the refresh script. */
export function dashboardPage(options: DashboardPageOptions): string {
  const { nonce, fqdn } = options;
  return document(
    `ucgate · ${fqdn}`,
    nonce,
    html`<body>
<header class="top"><div class="bar">
  <div class="brand">ucgate<span>${fqdn}</span><span class="version">v${options.version}</span></div>
  <span id="live-state" class="live" data-state="paused" role="status">Auto-refresh off</span>
  ${options.csrfToken ? html`<form method="post" action="/logout"><button type="submit">Sign out</button></form>` : ''}
</div></header>
<main>
<p id="action-result" class="action-result" role="status" aria-live="polite" hidden></p>
${options.sections}
</main>
<dialog id="confirm" aria-labelledby="confirm-title">
  <form method="dialog">
    <h2 id="confirm-title">Please confirm</h2>
    <p id="confirm-text"></p>
    <label id="confirm-reason-label" for="confirm-reason" hidden>Reason (kept in the audit log, optional)</label>
    <input id="confirm-reason" maxlength="200" autocomplete="off" hidden>
    <div class="buttons"><button value="cancel" id="confirm-cancel">Cancel</button> <button value="ok" id="confirm-ok" class="primary">Confirm</button></div>
  </form>
</dialog>
<footer>Refreshes every 2 s. Times are UTC on the gateway's clock. JSON: <code>/api/v1/status</code> · metrics: <code>/metrics</code></footer>
<script nonce="${nonce}">${script}</script>
</body>`,
    options.csrfToken ? html`<meta name="csrf-token" content="${options.csrfToken}">` : '',
  );
}

export interface LoginPageOptions {
  readonly nonce: string;
  /** Why the form is shown again (wrong token, throttled, no token configured). */
  readonly message?: string;
}

/** The login form: takes the admin token and posts it to `/login`. */
export function loginPage(options: LoginPageOptions): string {
  return document(
    'ucgate admin · sign in',
    options.nonce,
    html`<body>
<main class="login">
  <form method="post" action="/login" autocomplete="off">
    <h1>ucgate admin</h1>
    <p class="muted small">Sign in with the admin token (the file named by <code>listen.admin.tokenFile</code>).</p>
    <label for="token">Admin token</label>
    <input id="token" name="token" type="password" required autofocus spellcheck="false">
    ${options.message ? html`<p class="message" role="alert">${options.message}</p>` : ''}
    <button type="submit">Sign in</button>
  </form>
</main>
</body>`,
  );
}
