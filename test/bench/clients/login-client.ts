/**
 * Load generator of the login storm (workloads/login-storm.ts), in its own
 * process (see driver.ts for how it is started and run; argv[2] is JSON, see
 * Options). Why: when a site's Jabber clients all log in at once (the
 * morning, a WAN link back up), the gateway pays a full handshake and a few
 * UDS questions per client, which neither wrk nor one GET per connection
 * shows. Each login is what Jabber asks on its way in: a NEW TLS connection
 * with a full handshake (no session offered, proven with isSessionReused()),
 * and on it, keep-alive and one after another,
 *
 *   GET /cucm-uds/clusterUser?username=userNNNN
 *   GET /cucm-uds/servers
 *   GET /cucm-uds/user/userNNNN/devices      Basic auth, Connection: close
 *
 * then close. A login counts when all three answer 200 with the body they
 * should (its root element); its latency runs from connect to the last byte
 * of the third answer. Each login names the next user (lib/bench-users.ts),
 * starting from `firstUser`, so the processes do not repeat each other.
 */
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { LOGIN_PASSWORD, loginUser } from '../lib/bench-users.js';
import { connectTo, loadTarget, serveRuns, type Tally, type TargetOptions } from './driver.js';
import { ResponseReader, type HttpResponse } from './http-response.js';

interface Options extends TargetOptions {
  readonly firstUser: number;
}

interface Step {
  readonly name: string;
  readonly path: (user: string) => string;
  /** What the body must hold: the root element of the answer. */
  readonly root: string;
}

const STEPS: readonly Step[] = [
  { name: 'clusterUser', path: (user) => `/cucm-uds/clusterUser?username=${user}`, root: '<clusterUser ' },
  { name: 'servers', path: () => '/cucm-uds/servers', root: '<servers ' },
  { name: 'devices', path: (user) => `/cucm-uds/user/${user}/devices`, root: '<devices ' },
];

const { opts, secureContext } = loadTarget<Options>();
let nextUser = opts.firstUser;

function request(step: number, user: string): string {
  const last = step === STEPS.length - 1;
  const auth = last ? `Authorization: Basic ${Buffer.from(`${user}:${LOGIN_PASSWORD}`).toString('base64')}\r\n` : '';
  return (
    `GET ${STEPS[step]!.path(user)} HTTP/1.1\r\nHost: ${opts.servername}:${opts.port}\r\nUser-Agent: ucgate-bench\r\nAccept: */*\r\n` +
    `${auth}${last ? 'Connection: close\r\n' : ''}\r\n`
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
      tally.status(response.status);
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
