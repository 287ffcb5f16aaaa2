/**
 * Issue 11's login storm: Jabber clients all logging in at once (the morning,
 * a WAN link back up, a gateway restart). Each login is a new TLS connection
 * with a FULL handshake and Jabber's three UDS questions on it, keep-alive:
 * clusterUser, servers, then the user's devices with Basic auth and
 * `Connection: close` (clients/login-client.ts; users from
 * lib/bench-users.ts, a different one each login). Why not the
 * handshake-full figures: a login is three answers to route, rewrite and
 * forward per handshake, and the whole login's latency is what a user waits.
 * Reported: logins/s, latency of a whole login, errors, proxy CPU per login,
 * and resumed % (0: no session is ever offered). ucgate's credential guard
 * counts Basic-auth failures (401) only, so these 200s pass it freely.
 */
import { LOGIN_USERS, loginUser } from '../lib/bench-users.js';
import { CLIENT_PROCESSES, CONCURRENCY_PER_PROCESS, measureWithClients } from '../lib/client-processes.js';
import { probe } from '../lib/probe.js';
import { describeCounts } from '../lib/stats.js';
import type { Workload, WorkloadContext, WorkloadResult } from '../lib/types.js';
import { namesNote } from '../contestants/common.js';
import { clientMetrics, clientNotes, commonColumn, RESUMED_COLUMN } from './throughput.js';

/** One clusterUser answer before the storm: what became of the node names in it (a login's first answer names the home cluster). */
async function clusterUserNote(ctx: WorkloadContext): Promise<string> {
  const answer = await probe(ctx.contestant.endpoint, `/cucm-uds/clusterUser?username=${loginUser(0)}`, 5000);
  return `${ctx.contestant.name}: clusterUser answers ${answer.status}, ${namesNote(answer.body)}`;
}

export const loginStormWorkload: Workload = {
  id: 'login-storm',
  title:
    `Login storm: new TLS connection with FULL handshake, then GET clusterUser, servers, user devices (Basic auth) keep-alive ` +
    `(Node client, ${CLIENT_PROCESSES}×${CONCURRENCY_PER_PROCESS} concurrent logins)`,
  needs: 'throughput',
  includeDirect: true,
  freshContestant: false,
  // clientMetrics names a success's rate `rps`: here it counts whole logins, not requests.
  ratioKey: 'rps',
  columns: [
    commonColumn('rps', 'logins/s'),
    ...['p50', 'p99', 'max', 'errors'].map((key) => commonColumn(key)),
    commonColumn('cpuUsPerReq', 'proxy CPU µs/login'),
    RESUMED_COLUMN,
  ],
  async run(ctx: WorkloadContext): Promise<WorkloadResult> {
    const note = await clusterUserNote(ctx);
    // Each process starts at its own share of the users.
    const measured = await measureWithClients(ctx, 'login-client.ts', (i) => ({ firstUser: i * Math.floor(LOGIN_USERS / CLIENT_PROCESSES) }));
    const notes = [note, ...clientNotes(ctx.contestant.name, measured.report)];
    const otherStatuses = Object.fromEntries(Object.entries(measured.report.statuses).filter(([status]) => status !== '200'));
    if (Object.keys(otherStatuses).length > 0) notes.push(`${ctx.contestant.name}: answers other than 200: ${describeCounts(otherStatuses)}`);
    return { metrics: clientMetrics(measured), notes };
  },
};
