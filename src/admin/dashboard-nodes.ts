/**
 * The dashboard's node sections, after HAProxy's stats page and Traefik's
 * dashboard: per node its state (up, down, busy, draining) and since when,
 * requests and errors per second, requests in flight, the last check and
 * error, and a drain/undrain button (confirmed, CSRF-checked, audited); then
 * the last state changes of every node.
 */
import type { GatewayStatus, ClusterStatusView, CheckStatusView, NodeStatusView } from './status-types.js';
import type { NodeTransition } from './status-types.js';
import { html, type SafeHtml } from './html.js';
import { formatUtc } from './dashboard-format.js';
import { actionButton, badge, timeCell } from './dashboard-widgets.js';

type NodeState = 'up' | 'down' | 'busy';

function nodeState(node: CheckStatusView): NodeState {
  if (!node.up) return 'down';
  return node.healthy ? 'up' : 'busy';
}

const STATE_TEXT: Readonly<Record<NodeState, string>> = { up: 'Up', down: 'Down', busy: 'Busy' };

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

const rate = (value: number | undefined) => (value === undefined ? '—' : value < 10 ? value.toFixed(1) : String(Math.round(value)));

/** Requests and errors per second, in flight: what HAProxy's "Sessions" and "Errors" columns say. */
function trafficCell(node: NodeStatusView): SafeHtml {
  const errors = node.errorsPerSecond ?? 0;
  return html`<div class="v traffic"><span title="answers per second over the last seconds">${rate(node.requestsPerSecond)} req/s</span>
    <span class="${errors > 0 ? 'bad' : 'muted'}" title="5xx answers and failed tries per second">${rate(node.errorsPerSecond)} err/s</span>
    <span class="muted" data-in-flight="${node.inFlight ?? ''}" title="requests on their way to or from the node now">${node.inFlight ?? '—'} in flight</span></div>`;
}

function drainButton(cluster: string, node: NodeStatusView): SafeHtml {
  const name = `${cluster}/${node.name}`;
  const url = `/api/v1/nodes/${encodeURIComponent(cluster)}/${encodeURIComponent(node.name)}/${node.draining ? 'undrain' : 'drain'}`;
  return node.draining
    ? actionButton({ action: 'undrain', label: 'Undrain', url, target: name, confirm: `Undrain ${name}? It takes new requests and sessions again.` })
    : actionButton({
        action: 'drain',
        label: 'Drain',
        url,
        target: name,
        danger: true,
        confirm: `Drain ${name}? New requests and sessions go to the other nodes; requests of its sticky sessions still go there until they end.`,
      });
}

function nodeRow(cluster: string, node: NodeStatusView, now: number): SafeHtml {
  const state = nodeState(node);
  const error = node.lastError;
  const check = node.lastCheck;
  const drain = node.drain;
  return html`<tr data-node="${cluster}/${node.name}" data-state="${state}"${node.draining ? html` data-draining="true"` : ''}>
    <td data-label="Node" class="node-cell"><div class="v"><strong>${node.name}</strong><div class="mono small muted">${node.url}</div></div></td>
    <td data-label="Priority / weight" class="num"><div class="v">${node.priority} / ${node.weight}</div></td>
    <td data-label="State"><div class="v">${badge(state, STATE_TEXT[state])}${node.draining ? html` ${badge('draining', 'Draining')}` : ''}${
      state === 'busy' ? html`<div class="small muted">back ${timeCell(node.coolingUntil, now)}</div>` : ''
    }${state === 'down' && node.changedAt ? html`<div class="small bad">down since ${timeCell(node.changedAt, now)}</div>` : ''}${
      drain ? html`<div class="small muted">drained ${timeCell(drain.since, now)} by ${drain.actor}${drain.reason ? html`: ${drain.reason}` : ''}</div>` : ''
    }${serviceBadges(node)}</div></td>
    <td data-label="Traffic">${trafficCell(node)}</td>
    <td data-label="Last check"><div class="v">${timeCell(check?.at, now)}${check?.ok === false ? html` <span class="chip bad">failed</span>` : ''}</div></td>
    <td data-label="Last error"><div class="v">${
      error
        ? html`<span class="chip" title="the layer that failed">${error.layer}</span> <span class="reason">${error.reason || 'no detail'}</span>
            <div class="small muted">${timeCell(error.at, now)} · from ${error.source === 'request' ? 'a proxied request' : 'a health check'}</div>`
        : html`<span class="muted">none</span>`
    }</div></td>
    <td data-label="Maintenance"><div class="v">${drainButton(cluster, node)}</div></td>
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
  const draining = cluster.nodes.filter((node) => node.draining).length;
  return html`<div class="cluster" data-cluster="${cluster.name}">
    <h3>${cluster.name} <span class="muted small">${cluster.source} · ${healthy} of ${cluster.nodes.length} healthy${draining > 0 ? ` · ${draining} draining` : ''}</span></h3>
    ${
      cluster.nodes.length === 0
        ? html`<p class="empty">No nodes known yet.</p>`
        : html`<table class="stack nodes">
      <thead><tr><th>Node</th><th>Priority / weight</th><th>State</th><th>Traffic</th><th>Last check</th><th>Last error</th><th>Maintenance</th></tr></thead>
      <tbody>${cluster.nodes.map((node) => nodeRow(cluster.name, node, now))}</tbody>
    </table>`
    }
    ${learnedTftpFiles(cluster)}
  </div>`;
}

export function nodesSection(status: GatewayStatus, now: number): SafeHtml {
  return html`<section class="card" data-section="nodes" aria-labelledby="h-nodes">
    <h2 id="h-nodes">Upstream nodes</h2>
    ${status.clusters.length ? status.clusters.map((cluster) => clusterBlock(cluster, now)) : html`<p class="empty">No clusters configured.</p>`}
  </section>`;
}

const TRANSITION_TEXT: Readonly<Record<string, string>> = { up: 'Up', down: 'Down', drained: 'Draining', 'drained-down': 'Draining, down' };
const TRANSITION_STATE: Readonly<Record<string, string>> = { up: 'up', down: 'down', drained: 'draining', 'drained-down': 'down' };

/** Shown on the page; the status API lists up to 50. */
const SHOWN_TRANSITIONS = 10;

/** The last changes of node state, newest first (absent from an older backend's status: nothing shown). */
export function transitionsSection(transitions: readonly NodeTransition[] | undefined, now: number): SafeHtml | string {
  if (transitions === undefined) return '';
  const rows = transitions.slice(0, SHOWN_TRANSITIONS);
  return html`<section class="card" data-section="transitions" aria-labelledby="h-transitions">
    <h2 id="h-transitions">Recent node changes <span class="muted small">newest first</span></h2>
    ${
      rows.length === 0
        ? html`<p class="empty">No change since the gateway started.</p>`
        : html`<table class="stack">
      <thead><tr><th>When</th><th>Node</th><th>From</th><th>To</th></tr></thead>
      <tbody>${rows.map(
        (row) => html`<tr data-transition="${row.cluster}/${row.node}">
        <td data-label="When" class="nowrap"><div class="v">${formatUtc(row.at)}<div class="small muted">${timeCell(row.at, now)}</div></div></td>
        <td data-label="Node" class="nowrap"><div class="v">${row.cluster}/${row.node}</div></td>
        <td data-label="From"><div class="v">${badge(TRANSITION_STATE[row.from] ?? 'busy', TRANSITION_TEXT[row.from] ?? row.from)}</div></td>
        <td data-label="To"><div class="v">${badge(TRANSITION_STATE[row.to] ?? 'busy', TRANSITION_TEXT[row.to] ?? row.to)}</div></td>
      </tr>`,
      )}</tbody>
    </table>`
    }
  </section>`;
}
