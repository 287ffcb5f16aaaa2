/**
 * Load generator of the login storm (workloads/login-storm.ts), in its own
 * process (see driver.ts for how it is started and run; argv[2] is JSON, see
 * Options). Why: when a site's Jabber clients all log in at once (the
 * morning, a WAN link back up), the gateway pays a full handshake and a few
 * UDS and OAuth requests per client, which neither wrk nor one GET per
 * connection shows. Each login is what Jabber sends on its way in on a
 * cluster with "OAuth with Refresh Login Flow" (CUCM 12.5+): a NEW TLS
 * connection with a full handshake (no session offered, proven with
 * isSessionReused()), and on it, keep-alive and one after another,
 *
 *   GET  /cucm-uds/clusterUser?username=userNNNN
 *   GET  /cucm-uds/servers
 *   POST /ssosp/oauth/token                  client Basic auth, form body
 *        grant_type=authorization_code&code=<fresh per login>&redirect_uri=...
 *   GET  /cucm-uds/user/userNNNN/devices     Basic auth, Connection: close
 *
 * then close. The token request is the authorization code grant (RFC 6749
 * section 4.1.3) as the simulated CUCM takes it (src/sim/oauth-token-endpoint.ts):
 * the client authenticates with HTTP Basic (the simulator's Jabber client id
 * and secret), the code is 40 hex digits like the simulator's, new for every
 * login. The authorize step before it (the embedded browser's sign-in page,
 * which hands out the code) is not sent: the static upstream answers every
 * token request with fixed bytes, and a gateway that never saw a code handed
 * out routes the token request as it would any other (ucgate reads the small
 * form body for `code` first, finds no node bound to it, and picks one as
 * usual). So with `--upstream sim`, whose nodes redeem only codes they
 * issued, the token step answers 400 invalid_grant.
 *
 * A login counts when all four answer 200 with the body they should (its
 * root element, or the token answer's first field); its latency runs from
 * connect to the last byte of the fourth answer. Each login names the next
 * user (lib/bench-users.ts), starting from `firstUser`, so the processes do
 * not repeat each other. Statuses are counted per step (`token 200`).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { JABBER_CLIENT, LOGIN_PASSWORD, loginUser } from '../lib/bench-users.js';
import { connectTo, loadTarget, serveRuns, type Tally, type TargetOptions } from './driver.js';
import { ResponseReader, type HttpResponse } from './http-response.js';

interface Options extends TargetOptions {
  readonly firstUser: number;
}

interface Step {
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly path: (user: string) => string;
  /** What the body must hold: the root element of the answer (the first field of a JSON one). */
  readonly root: string;
}

const STEPS: readonly Step[] = [
  { name: 'clusterUser', method: 'GET', path: (user) => `/cucm-uds/clusterUser?username=${user}`, root: '<clusterUser ' },
  { name: 'servers', method: 'GET', path: () => '/cucm-uds/servers', root: '<servers ' },
  { name: 'token', method: 'POST', path: () => '/ssosp/oauth/token', root: '{"access_token":"' },
  { name: 'devices', method: 'GET', path: (user) => `/cucm-uds/user/${user}/devices`, root: '<devices ' },
];

const { opts, secureContext } = loadTarget<Options>();
let nextUser = opts.firstUser;

/** Jabber's client credentials (RFC 6749 section 2.3.1: each form-encoded, then joined). */
const CLIENT_AUTH = `Authorization: Basic ${Buffer.from(
  `${encodeURIComponent(JABBER_CLIENT.clientId)}:${encodeURIComponent(JABBER_CLIENT.clientSecret)}`,
).toString('base64')}\r\n`;
const REDIRECT_URI = encodeURIComponent(JABBER_CLIENT.redirectUri);

function request(step: number, user: string): string {
  const { method, path } = STEPS[step]!;
  const last = step === STEPS.length - 1;
  let extra = '';
  let body = '';
  if (method === 'POST') {
    // A fresh authorization code per login: 20 random bytes in hex, as the simulated CUCM issues them.
    body = `grant_type=authorization_code&code=${randomBytes(20).toString('hex')}&redirect_uri=${REDIRECT_URI}`;
    extra = `${CLIENT_AUTH}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  } else if (last) {
    extra = `Authorization: Basic ${Buffer.from(`${user}:${LOGIN_PASSWORD}`).toString('base64')}\r\nConnection: close\r\n`;
  }
  return (
    `${method} ${path(user)} HTTP/1.1\r\nHost: ${opts.servername}:${opts.port}\r\nUser-Agent: ucgate-bench\r\n` +
    `Accept: ${method === 'POST' ? 'application/json' : '*/*'}\r\n${extra}\r\n${body}`
  );
}

/** One login on a fresh connection; resolves once the connection is closed, outcome in `tally`. */
function login(tally: Tally, user: string): Promise<void> {
  return new Promise((resolve) => {
    const start = performance.now();
    const reader = new ResponseReader();
    let step = 0;
    let doneAt: number | undefined;
    let problem: string | undefined;
    const { socket, failure } = connectTo(opts, secureContext, tally, undefined, (s) => s.write(request(0, user)));
    const fail = (key: string): void => {
      problem ??= `${STEPS[step]!.name}: ${key}`;
      socket.destroy();
    };
    const answered = (response: HttpResponse, s: TLSSocket): void => {
      tally.status(`${STEPS[step]!.name} ${response.status}`);
      if (response.status !== 200) return fail(`status ${response.status}`);
      if (response.body.indexOf(STEPS[step]!.root) < 0) return fail('unexpected body');
      if (++step < STEPS.length) {
        if (s.destroyed || s.writableEnded) return fail('closed early');
        s.write(request(step, user));
      } else {
        doneAt = performance.now();
        s.end();
      }
    };
    const take = (read: () => HttpResponse | undefined): void => {
      try {
        const response = read();
        if (response && doneAt === undefined) answered(response, socket);
      } catch (err) {
        fail((err as Error).message);
      }
    };
    socket.on('data', (chunk: Buffer) => take(() => reader.push(chunk)));
    socket.once('close', () => {
      // An answer without length or chunking ends with the connection.
      if (doneAt === undefined && problem === undefined) take(() => reader.end());
      if (doneAt !== undefined) tally.latencies.push(doneAt - start);
      else tally.error(problem ?? failure() ?? `${STEPS[step]!.name}: closed without answer`);
      resolve();
    });
  });
}

serveRuns('login-client', opts.concurrency, (_slot, tally) => login(tally, loginUser(nextUser++)));
