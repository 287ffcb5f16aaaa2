/**
 * The dashboard's live sections, rendered on the server from the status
 * document, the renewal history and the audit tail. The page embeds them at
 * first load; the page's script fetches them again every two seconds and
 * swaps in whichever section changed. Every value goes through `html`, so
 * a hostile node name or certificate subject stays text.
 */
import type { GatewayStatus, CertificateStatusView, RenewalStatusView } from './status-types.js';
import type { AuditRecord, RenewalRecord } from './admin-backend.js';
import { html, type SafeHtml } from './html.js';
import { formatAgo, formatDate, formatDuration, formatUtc, shortHex } from './dashboard-format.js';
import { actionButton, badge, timeCell } from './dashboard-widgets.js';
import { nodesSection, transitionsSection } from './dashboard-nodes.js';
import { alarmLevel, windowBeforeEndMs, type AlarmLevel } from '../certificates/renewal-policy.js';

/** The timeline's full width in days: a 90-day certificate fills it when new. */
export const TIMELINE_DAYS = 90;

/** A history source: the records, `absent` when the backend cannot provide them, or the error reading them. */
export type HistorySource<T> = readonly T[] | 'absent' | Error;

export interface DashboardData {
  readonly status: GatewayStatus;
  readonly renewals: HistorySource<RenewalRecord>;
  readonly audit: HistorySource<AuditRecord>;
}

/** The headline strip: readiness, version, uptime, node and certificate counts. */
function summary(status: GatewayStatus): SafeHtml {
  const nodes = status.clusters.flatMap((cluster) => cluster.nodes);
  const healthy = nodes.filter((node) => node.healthy).length;
  const own = status.certificates.filter((cert) => cert.source !== 'upstream');
  const soonest = Math.min(...own.map((cert) => cert.daysLeft));
  const ready = status.ready.ready;
  return html`<section class="summary" data-section="summary" aria-label="Summary">
    <div class="stat"><span class="label">Gateway</span>${badge(ready ? 'up' : 'down', ready ? 'Ready' : 'Not ready')}</div>
    <div class="stat"><span class="label">Nodes healthy</span><span class="value">${healthy} / ${nodes.length}</span></div>
    <div class="stat"><span class="label">Certificate expiry</span><span class="value">${own.length ? `${soonest} days left` : 'none'}</span></div>
    <div class="stat"><span class="label">Uptime</span><span class="value">${formatDuration(status.uptimeSeconds * 1000)}</span></div>
    ${ready ? '' : html`<ul class="reasons">${status.ready.reasons.map((reason) => html`<li>${reason}</li>`)}</ul>`}
  </section>`;
}

/** Where an own certificate's renewal window opens, in days before its end, and its alarm level: the one rule (renewal-policy.ts). */
function levelOf(cert: CertificateStatusView, renewBeforeDays: number): { readonly windowDays: number; readonly level: AlarmLevel } {
  const unmanaged = cert.unmanaged === true;
  const windowMs = cert.source === 'upstream' ? renewBeforeDays * 86_400_000 : windowBeforeEndMs(cert, unmanaged, renewBeforeDays);
  return { windowDays: windowMs / 86_400_000, level: cert.alarm ?? alarmLevel(cert.daysLeft, windowMs, unmanaged) };
}

/** Days left as a bar on a 0–90 day scale, with a mark where renewal starts. SVG: CSP forbids style attributes. */
function timeline(days: number, windowDays: number, level: AlarmLevel, source: string): SafeHtml {
  // Nothing renews an unmanaged (imported) certificate: inside its window it is red, not amber (alarmLevel).
  const width = Math.max(0, Math.min(days, TIMELINE_DAYS)) / TIMELINE_DAYS * 100;
  const mark = (Math.min(windowDays, TIMELINE_DAYS) / TIMELINE_DAYS) * 100;
  const label = days < 0 ? `expired ${-days} days ago` : `${days} days left`;
  return html`<div class="timeline" data-level="${level}">
    <span class="days">${label}</span>
    <svg viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="${label} on a ${TIMELINE_DAYS}-day scale">
      <rect class="track" x="0" y="0" width="100" height="10" rx="2"></rect>
      <rect class="fill" x="0" y="0" width="${width.toFixed(2)}" height="10" rx="2"></rect>
      ${source === 'upstream' ? '' : html`<line class="mark" x1="${mark.toFixed(2)}" x2="${mark.toFixed(2)}" y1="0" y2="10"></line>`}
    </svg>
  </div>`;
}

function sans(names: readonly string[]): string {
  if (names.length <= 4) return names.join(', ');
  return `${names.slice(0, 4).join(', ')} +${names.length - 4} more`;
}

/** Under an own certificate's bar: when it renews, or why renewal keeps failing. */
function renewalNote(renewal: RenewalStatusView | undefined, now: number): SafeHtml | string {
  if (!renewal) return '';
  if (renewal.renewing) return html`<div class="small muted">renewing now…</div>`;
  const failures = renewal.consecutiveFailures ?? 0;
  if (failures > 0) {
    const error = renewal.lastError;
    return html`<div class="small bad">${failures} failed attempt${failures === 1 ? '' : 's'}${
      renewal.retryAt ? html`, retry ${timeCell(renewal.retryAt, now)}` : ''
    }${error ? html`: ${error.reason}: ${error.message}` : ''}</div>`;
  }
  if (!renewal.dueAt || renewal.dueBy === 'never') return '';
  return html`<div class="small muted">renews ${formatDate(renewal.dueAt)}${renewal.dueBy ? ` (${renewal.dueBy})` : ''}</div>`;
}

/** Under an imported certificate's bar: nothing renews it; red once inside its window. */
function unmanagedNote(cert: CertificateStatusView, level: AlarmLevel): SafeHtml | string {
  if (!cert.unmanaged) return '';
  const near = level !== 'ok';
  return html`<div class="small ${near ? 'bad' : 'muted'}" data-unmanaged="${near ? 'expiring' : 'yes'}">not renewed by ucgate: import a new certificate before ${formatDate(cert.notAfter)}</div>`;
}

function certificateRow(cert: CertificateStatusView, renewBeforeDays: number, renewal: RenewalStatusView | undefined, now: number): SafeHtml {
  const { windowDays, level } = levelOf(cert, renewBeforeDays);
  const alarm = cert.unmanaged === true && level !== 'ok';
  return html`<tr data-cert="${cert.name}">
    <td data-label="Certificate"><div class="v"><strong>${cert.name}</strong> <span class="chip${alarm ? ' bad' : ''}">${cert.source}</span>${
      cert.unmanaged ? html` <span class="chip${alarm ? ' bad' : ''}">unmanaged</span>` : ''
    }</div></td>
    <td data-label="Subject"><div class="v"><span class="subject">${cert.subject}</span><div class="small muted">${sans(cert.subjectAltNames)}</div></div></td>
    <td data-label="Issuer" class="small"><div class="v">${cert.issuer}</div></td>
    <td data-label="Key" class="nowrap"><div class="v">${cert.keyType}</div></td>
    <td data-label="Expires"><div class="v"><span title="${formatUtc(cert.notAfter)}">${formatDate(cert.notAfter)}</span>
      <div class="small muted mono nowrap" title="serial ${cert.serialNumber}">${shortHex(cert.serialNumber)}</div></div></td>
    <td data-label="Days left" class="wide"><div class="v">${timeline(cert.daysLeft, windowDays, level, cert.source)}${unmanagedNote(cert, level)}${renewalNote(renewal, now)}</div></td>
  </tr>`;
}

function certificatesSection(status: GatewayStatus, now: number): SafeHtml {
  const certs = status.certificates;
  const renewalOf = (cert: CertificateStatusView) =>
    cert.source === 'upstream' ? undefined : status.renewal?.find((entry) => `gateway-${entry.keyType}` === cert.name);
  return html`<section class="card" data-section="certificates" aria-labelledby="h-certs">
    <h2 id="h-certs">Certificates <span class="actions">${actionButton({
      action: 'renew',
      label: 'Renew now',
      url: '/api/v1/certificates/renew',
      confirm: 'Renew every gateway certificate now with the configured issuer? The new one is served as soon as every worker has it; an imported certificate is kept.',
    })} ${actionButton({
      action: 'rollback',
      label: 'Roll back',
      url: '/api/v1/certificates/rollback',
      danger: true,
      confirm: 'Serve the previous certificate again? Clients get it on their next connection; a second rollback undoes this one.',
    })}</span></h2>
    <p class="legend small muted">Bars show days left on a ${TIMELINE_DAYS}-day scale; the tick marks where renewal starts (a third of the lifetime, or ${status.renewBeforeDays} days if earlier; ${status.renewBeforeDays} days for an imported certificate).</p>
    ${
      certs.length
        ? html`<table class="stack">
      <thead><tr><th>Certificate</th><th>Subject / SANs</th><th>Issuer</th><th>Key</th><th>Expires</th><th>Days left</th></tr></thead>
      <tbody>${certs.map((cert) => certificateRow(cert, status.renewBeforeDays, renewalOf(cert), now))}</tbody>
    </table>`
        : html`<p class="empty">No certificate loaded.</p>`
    }
  </section>`;
}

function unavailable<T>(source: HistorySource<T>, what: string): SafeHtml | undefined {
  if (source === 'absent') return html`<p class="empty">Not available: this gateway does not provide ${what} yet.</p>`;
  if (source instanceof Error) return html`<p class="empty bad">Could not read the ${what}: ${source.message}</p>`;
  if (source.length === 0) return html`<p class="empty">No entries yet.</p>`;
  return undefined;
}

function renewalsSection(renewals: HistorySource<RenewalRecord>, now: number): SafeHtml {
  const rows = Array.isArray(renewals) ? [...(renewals as readonly RenewalRecord[])].reverse() : [];
  return html`<section class="card" data-section="renewals" aria-labelledby="h-renewals">
    <h2 id="h-renewals">Renewal history</h2>
    ${
      unavailable(renewals, 'renewal history') ??
      html`<table class="stack">
      <thead><tr><th>When</th><th>Result</th><th>Key</th><th>What</th><th>Serial</th><th>Valid until / error</th></tr></thead>
      <tbody>${rows.map(
        (entry) => html`<tr data-result="${entry.result}">
        <td data-label="When" class="nowrap"><div class="v">${formatUtc(entry.time)}<div class="small muted">${formatAgo(entry.time, now)}</div></div></td>
        <td data-label="Result"><div class="v">${badge(entry.result === 'success' ? 'up' : 'down', entry.result === 'success' ? 'Success' : 'Failed')}</div></td>
        <td data-label="Key" class="nowrap"><div class="v">${entry.keyType ?? '—'}</div></td>
        <td data-label="What"><div class="v">${entry.action ?? 'renewal'}${entry.actor ? html` <span class="muted">by ${entry.actor}</span>` : ''}</div></td>
        <td data-label="Serial" class="mono small" title="${entry.serial ?? ''}"><div class="v">${shortHex(entry.serial)}</div></td>
        <td data-label="Valid until / error"><div class="v">${entry.error ? html`<span class="bad">${entry.error}</span>` : formatUtc(entry.notAfter)}</div></td>
      </tr>`,
      )}</tbody>
    </table>`
    }
  </section>`;
}

const text = (value: unknown): string => (value === undefined || value === null || value === '' ? '—' : String(value));

function auditSection(audit: HistorySource<AuditRecord>, now: number): SafeHtml {
  const rows = Array.isArray(audit) ? ([...audit] as Record<string, unknown>[]).reverse() : [];
  return html`<section class="card" data-section="audit" aria-labelledby="h-audit">
    <h2 id="h-audit">Audit log <span class="muted small">newest first</span>
      <input type="search" id="audit-filter" class="filter" placeholder="Filter: action, who, node, serial…" aria-label="Filter the audit log" autocomplete="off" spellcheck="false"></h2>
    ${
      unavailable(audit, 'audit log') ??
      html`<table class="stack audit">
      <thead><tr><th>When</th><th>Action</th><th>By</th><th>Key</th><th>Subject</th><th>Serial</th><th>Detail</th></tr></thead>
      <tbody>${rows.map(
        (entry) => html`<tr data-action="${text(entry.action)}">
        <td data-label="When" class="nowrap"><div class="v">${formatUtc(text(entry.time))}<div class="small muted">${formatAgo(text(entry.time), now)}</div></div></td>
        <td data-label="Action" class="nowrap"><div class="v"><span class="chip">${text(entry.action)}</span></div></td>
        <td data-label="By" class="nowrap"><div class="v">${text(entry.actor)}</div></td>
        <td data-label="Key" class="nowrap"><div class="v">${text(entry.keyType)}</div></td>
        <td data-label="Subject" class="subject"><div class="v">${text(entry.subject)}</div></td>
        <td data-label="Serial" class="mono small" title="${text(entry.serial)}"><div class="v">${shortHex(entry.serial === undefined ? undefined : String(entry.serial))}</div></td>
        <td data-label="Detail" class="small"><div class="v">${text(entry.detail)}</div></td>
      </tr>`,
      )}</tbody>
    </table>`
    }
  </section>`;
}

/**
 * Every live section, in page order. `now` is the status document's own
 * time, so ages agree with the gateway's clock, not the browser's.
 */
export function renderSections(data: DashboardData): SafeHtml {
  const now = Date.parse(data.status.generatedAt) || Date.now();
  return html`<div id="live" data-generated="${data.status.generatedAt}">
    ${summary(data.status)}
    ${nodesSection(data.status, now)}
    ${transitionsSection(data.status.transitions, now)}
    ${certificatesSection(data.status, now)}
    ${renewalsSection(data.renewals, now)}
    ${auditSection(data.audit, now)}
  </div>`;
}
