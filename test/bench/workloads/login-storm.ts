/**
 * Issue 11's login storm, with issue 16's OAuth token step: Jabber clients
 * all logging in at once (the morning, a WAN link back up, a gateway
 * restart) on a cluster with "OAuth with Refresh Login Flow" (CUCM 12.5+,
 * what Cisco's Preferred Architecture for CUCM 14 recommends). Each login is
 * a new TLS connection with a FULL handshake and four requests on it,
 * keep-alive: GET clusterUser, GET servers, POST /ssosp/oauth/token (the
 * authorization code grant: a small form body with a code new each login,
 * client Basic auth), then GET the user's devices with Basic auth and
 * `Connection: close` (clients/login-client.ts; users from
 * lib/bench-users.ts, a different one each login). Why not the
 * handshake-full figures: a login is four answers to route, rewrite and
 * forward per handshake, one of them a POST whose body ucgate reads before
 * it picks a node (the token route's affinity by `code`), and the whole
 * login's latency is what a user waits. Reported: logins/s, latency of a
 * whole login, errors, proxy CPU per login, and resumed % (0: no session is
 * ever offered). ucgate's credential guard counts Basic-auth failures (401)
 * only, so these 200s pass it freely. The static upstream answers every
 * token request with the same 200 JSON (upstream/static-bodies.ts); the
 * simulated nodes redeem only codes they issued, so with `--upstream sim`
 * the token step answers 400 and no login counts.
 */
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { JABBER_CLIENT, LOGIN_USERS, loginUser } from '../lib/bench-users.js';
import { CLIENT_PROCESSES, CONCURRENCY_PER_PROCESS, measureWithClients } from '../lib/client-processes.js';
import { probe } from '../lib/probe.js';
import { describeCounts } from '../lib/stats.js';
import type { Endpoint, Workload, WorkloadContext, WorkloadResult } from '../lib/types.js';
import { namesNote } from '../contestants/common.js';
import { clientMetrics, clientNotes, commonColumn, RESUMED_COLUMN } from './throughput.js';

/** One clusterUser answer before the storm: what became of the node names in it (a login's first answer names the home cluster). */
async function clusterUserNote(ctx: WorkloadContext): Promise<string> {
  const answer = await probe(ctx.contestant.endpoint, `/cucm-uds/clusterUser?username=${loginUser(0)}`, 5000);
  return `${ctx.contestant.name}: clusterUser answers ${answer.status}, ${namesNote(answer.body)}`;
}

/** One token request before the storm, like the client's: what came back (status, type, caching, size). */
function tokenProbe(endpoint: Endpoint): Promise<string> {
  const body = `grant_type=authorization_code&code=${'0'.repeat(40)}&redirect_uri=${encodeURIComponent(JABBER_CLIENT.redirectUri)}`;
  return new Promise((resolve) => {
    const req = https.request(
      {
        method: 'POST',
        host: endpoint.host,
        port: endpoint.port,
        path: '/ssosp/oauth/token',
        servername: endpoint.servername,
        ca: readFileSync(endpoint.caFile),
        agent: false,
        timeout: 5000,
        headers: {
          host: `${endpoint.servername}:${endpoint.port}`,
          authorization: `Basic ${Buffer.from(`${JABBER_CLIENT.clientId}:${JABBER_CLIENT.clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          accept: 'application/json',
        },
      },
      (res) => {
        let size = 0;
        res.on('data', (chunk: Buffer) => (size += chunk.length));
        res.on('end', () =>
          resolve(`token answers ${res.statusCode}, ${String(res.headers['content-type'] ?? 'no type')}, cache-control ${String(res.headers['cache-control'] ?? 'none')}, ${size} bytes`),
        );
        res.on('error', (err) => resolve(`token: ${err.message}`));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 5000 ms')));
    req.on('error', (err) => resolve(`token: ${err.message}`));
    req.end(body);
  });
}

export const loginStormWorkload: Workload = {
  id: 'login-storm',
  title:
    `Login storm: new TLS connection with FULL handshake, then GET clusterUser, servers, POST OAuth token (form, client Basic auth), ` +
    `GET user devices (Basic auth) keep-alive: 4 requests per login ` +
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
    const note = `${await clusterUserNote(ctx)}; ${await tokenProbe(ctx.contestant.endpoint)}`;
    // Each process starts at its own share of the users.
    const measured = await measureWithClients(ctx, 'login-client.ts', (i) => ({ firstUser: i * Math.floor(LOGIN_USERS / CLIENT_PROCESSES) }));
    const notes = [note, ...clientNotes(ctx.contestant.name, measured.report)];
    // Counted per step by the client (`token 200`): any request of the four that answered otherwise, and which.
    const otherStatuses = Object.fromEntries(Object.entries(measured.report.statuses).filter(([key]) => !key.endsWith(' 200')));
    if (Object.keys(otherStatuses).length > 0) notes.push(`${ctx.contestant.name}: answers other than 200: ${describeCounts(otherStatuses)}`);
    return { metrics: clientMetrics(measured), notes };
  },
};
