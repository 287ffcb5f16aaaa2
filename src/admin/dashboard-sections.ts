/**
 * The dashboard's live sections, rendered on the server from the status
 * document, the renewal history and the audit tail. The page embeds them at
 * first load; the page's script fetches them again every two seconds and
 * swaps in whichever section changed. Every value goes through `html`, so
 * a hostile node name or certificate subject stays text.
 */
import type { GatewayStatus, ClusterStatusView, CheckStatusView, NodeStatusView, CertificateStatusView, RenewalStatusView } from '../control/status.js';
import type { AuditRecord, RenewalRecord } from './admin-backend.js';
import { html, type SafeHtml } from './html.js';
import { formatAgo, formatDate, formatDuration, formatUtc, shortHex } from './dashboard-format.js';

/** The timeline's full width in days: a 90-day certificate fills it when new. */
export const TIMELINE_DAYS = 90;

/** A history source: the records, `absent` when the backend cannot provide them, or the error reading them. */
export type HistorySource<T> = readonly T[] | 'absent' | Error;

export interface DashboardData {
  readonly status: GatewayStatus;
  readonly renewals: HistorySource<RenewalRecord>;
  readonly audit: HistorySource<AuditRecord>;
}

type NodeState = 'up' | 'down' | 'busy';

function nodeState(node: CheckStatusView): NodeState {
  if (!node.up) return 'down';
  return node.healthy ? 'up' : 'busy';
}

const STATE_TEXT: Readonly<Record<NodeState, string>> = { up: 'Up', down: 'Down', busy: 'Busy' };

function badge(state: string, text: string): SafeHtml {
  return html`<span class="badge" data-state="${state}"><span class="dot" aria-hidden="true"></span>${text}</span>`;
}

function timeCell(iso: string | null | undefined, now: number): SafeHtml {
  if (!iso) return html`<span class="muted">never</span>`;
  return html`<time datetime="${iso}" title="${formatUtc(iso)}">${formatAgo(iso, now)}</time>`;
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

/** The service checks' verdicts (clusters[].serviceChecks), under the main one: each decides only for its routes. */
function serviceBadges(node: NodeStatusView): SafeHtml | string {
  if (!node.services?.length) return '';
  return html`<ul class="services">${node.services.map((service) => {
    const state = nodeState(service);
    const error = service.lastError;
    const title = `${service.name} check: ${service.path}${error ? ` · last error: ${error.layer} ${error.reason}` : ''}`;
    return html`<li data-service="${service.name}" data-state="${state}" title="${title}">${badge(state, `${service.name}: ${STATE_TEXT[state]}`)}</li>`;
  })}</ul>`;
}

function nodeRow(cluster: string, node: NodeStatusView, now: number): SafeHtml {
  const state = nodeState(node);
  const error = node.lastError;
  const check = node.lastCheck;
  return html`<tr data-node="${cluster}/${node.name}" data-state="${state}">
    <td data-label="Node" class="node-cell"><div class="v"><strong>${node.name}</strong><div class="mono small muted">${node.url}</div></div></td>
    <td data-label="Priority / weight" class="num"><div class="v">${node.priority} / ${node.weight}</div></td>
    <td data-label="State"><div class="v">${badge(state, STATE_TEXT[state])}${
      state === 'busy' ? html`<div class="small muted">back ${timeCell(node.coolingUntil, now)}</div>` : ''
    }${serviceBadges(node)}</div></td>
    <td data-label="Last check"><div class="v">${timeCell(check?.at, now)}${check?.ok === false ? html` <span class="chip bad">failed</span>` : ''}</div></td>
    <td data-label="Last error"><div class="v">${
      error
        ? html`<span class="chip" title="the layer that failed">${error.layer}</span> <span class="reason">${error.reason || 'no detail'}</span>
            <div class="small muted">${timeCell(error.at, now)} · from ${error.source === 'request' ? 'a proxied request' : 'a health check'}</div>`
        : html`<span class="muted">none</span>`
    }</div></td>
  </tr>`;
}

/** Newest learned group files shown per cluster; the status API lists them all. */
const SHOWN_TFTP_FILES = 50;

/** With `tftp` on: the group configuration files learned from device files (status `learnedTftpFiles`), newest first. */
function learnedTftpFiles(cluster: ClusterStatusView): SafeHtml | string {
  const files = cluster.learnedTftpFiles;
  if (files === undefined) return '';
  const newest = [...files].reverse().slice(0, SHOWN_TFTP_FILES);
  const more = files.length - newest.length;
  return html`<p class="small" data-tftp-files="${cluster.name}"><span class="muted">Jabber group configuration files learned from device files (${files.length} of at most ${cluster.learnedTftpFilesLimit ?? files.length}):</span> ${
    files.length === 0 ? html`<span class="muted">none yet</span>` : html`<span class="mono">${newest.join(', ')}</span>${more > 0 ? html` <span class="muted">and ${more} more</span>` : ''}`
  }</p>`;
}

function clusterBlock(cluster: ClusterStatusView, now: number): SafeHtml {
  const healthy = cluster.nodes.filter((node) => node.healthy).length;
  return html`<div class="cluster" data-cluster="${cluster.name}">
    <h3>${cluster.name} <span class="muted small">${cluster.source} · ${healthy} of ${cluster.nodes.length} healthy</span></h3>
    ${
      cluster.nodes.length === 0
        ? html`<p class="empty">No nodes known yet.</p>`
        : html`<table class="stack">
      <thead><tr><th>Node</th><th>Priority / weight</th><th>State</th><th>Last check</th><th>Last error</th></tr></thead>
      <tbody>${cluster.nodes.map((node) => nodeRow(cluster.name, node, now))}</tbody>
    </table>`
    }
    ${learnedTftpFiles(cluster)}
  </div>`;
}

function nodesSection(status: GatewayStatus, now: number): SafeHtml {
  return html`<section class="card" data-section="nodes" aria-labelledby="h-nodes">
    <h2 id="h-nodes">Upstream nodes</h2>
    ${status.clusters.length ? status.clusters.map((cluster) => clusterBlock(cluster, now)) : html`<p class="empty">No clusters configured.</p>`}
  </section>`;
}

/** Days left as a bar on a 0–90 day scale, with a mark where renewal starts. SVG: CSP forbids style attributes. */
function timeline(days: number, renewBeforeDays: number, source: string): SafeHtml {
  const level = days < 0 ? 'expired' : days <= 7 ? 'crit' : days <= renewBeforeDays ? 'warn' : 'ok';
  const width = Math.max(0, Math.min(days, TIMELINE_DAYS)) / TIMELINE_DAYS * 100;
  const mark = (Math.min(renewBeforeDays, TIMELINE_DAYS) / TIMELINE_DAYS) * 100;
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

function certificateRow(cert: CertificateStatusView, renewBeforeDays: number, renewal: RenewalStatusView | undefined, now: number): SafeHtml {
  return html`<tr data-cert="${cert.name}">
    <td data-label="Certificate"><div class="v"><strong>${cert.name}</strong> <span class="chip">${cert.source}</span></div></td>
    <td data-label="Subject"><div class="v"><span class="subject">${cert.subject}</span><div class="small muted">${sans(cert.subjectAltNames)}</div></div></td>
    <td data-label="Issuer" class="small"><div class="v">${cert.issuer}</div></td>
    <td data-label="Key" class="nowrap"><div class="v">${cert.keyType}</div></td>
    <td data-label="Expires"><div class="v"><span title="${formatUtc(cert.notAfter)}">${formatDate(cert.notAfter)}</span>
      <div class="small muted mono nowrap" title="serial ${cert.serialNumber}">${shortHex(cert.serialNumber)}</div></div></td>
    <td data-label="Days left" class="wide"><div class="v">${timeline(cert.daysLeft, renewBeforeDays, cert.source)}${renewalNote(renewal, now)}</div></td>
  </tr>`;
}

function certificatesSection(status: GatewayStatus, now: number): SafeHtml {
  const certs = status.certificates;
  const renewalOf = (cert: CertificateStatusView) =>
    cert.source === 'upstream' ? undefined : status.renewal?.find((entry) => `gateway-${entry.keyType}` === cert.name);
  return html`<section class="card" data-section="certificates" aria-labelledby="h-certs">
    <h2 id="h-certs">Certificates</h2>
    <p class="legend small muted">Bars show days left on a ${TIMELINE_DAYS}-day scale; the tick marks where renewal starts (${status.renewBeforeDays} days).</p>
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
    <h2 id="h-audit">Audit log <span class="muted small">newest first</span></h2>
    ${
      unavailable(audit, 'audit log') ??
      html`<table class="stack">
      <thead><tr><th>When</th><th>Action</th><th>By</th><th>Key</th><th>Subject</th><th>Serial</th><th>Detail</th></tr></thead>
      <tbody>${rows.map(
        (entry) => html`<tr>
        <td data-label="When" class="nowrap"><div class="v">${formatUtc(text(entry.time))}<div class="small muted">${formatAgo(text(entry.time), now)}</div></div></td>
        <td data-label="Action"><div class="v"><span class="chip">${text(entry.action)}</span></div></td>
        <td data-label="By"><div class="v">${text(entry.actor)}</div></td>
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
    ${certificatesSection(data.status, now)}
    ${renewalsSection(data.renewals, now)}
    ${auditSection(data.audit, now)}
  </div>`;
}
