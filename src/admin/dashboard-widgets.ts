/**
 * Small pieces of dashboard markup shared by its sections: state badges,
 * relative times, and action buttons. An action button carries everything the
 * page's script needs as data attributes (which endpoint, what to ask before,
 * an optional JSON body); the script confirms, then posts with the session's
 * CSRF token. Every value goes through `html`, so it stays text.
 */
import { html, type SafeHtml } from './html.js';
import { formatAgo, formatUtc } from './dashboard-format.js';

export function badge(state: string, text: string): SafeHtml {
  return html`<span class="badge" data-state="${state}"><span class="dot" aria-hidden="true"></span>${text}</span>`;
}

export function timeCell(iso: string | null | undefined, now: number): SafeHtml {
  if (!iso) return html`<span class="muted">never</span>`;
  return html`<time datetime="${iso}" title="${formatUtc(iso)}">${formatAgo(iso, now)}</time>`;
}

export interface ActionButton {
  /** What the button does, for tests and styling: drain, undrain, renew, rollback. */
  readonly action: string;
  readonly label: string;
  /** The admin API endpoint it posts to. */
  readonly url: string;
  /** The question the confirmation dialog asks, saying what will happen. */
  readonly confirm: string;
  readonly body?: object;
  /** Draws it as the dangerous kind (red outline). */
  readonly danger?: boolean;
  readonly target?: string;
}

/** A button the page's script turns into a confirmed, CSRF-checked POST. */
export function actionButton(button: ActionButton): SafeHtml {
  return html`<button type="button" class="action${button.danger ? ' danger' : ''}" data-action="${button.action}" data-url="${button.url}" data-confirm="${button.confirm}" data-body="${JSON.stringify(button.body ?? {})}"${
    button.target ? html` data-target="${button.target}"` : ''
  }>${button.label}</button>`;
}
