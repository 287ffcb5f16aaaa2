/**
 * Credential endpoints under a guessing attack: past the limit, the gateway
 * answers 429 itself, CUCM never sees the attempt, and other clients (other
 * loopback source addresses) are untouched.
 */
import t from 'tap';
import https from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { startGatewayProcess, writeConfig, clusterConfig, TEST_ROUTES, FQDN, clientRequests } from '../helpers/gateway.js';

function request(port: number, ca: string, path: string, from: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, ca, servername: FQDN, localAddress: from, agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('login attempt limits', async (t) => {
  const dir = t.testdir();
  // Instant EM answers: a 1.5 s login would stretch the burst across the limiter's window buckets,
  // whose sliding estimate then lets a weighted share of the old bucket through (issue 17).
  const cucm = await startCucmCluster({ nodes: 1, actionDelayMs: 0 });
  t.teardown(() => cucm.close());
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  const gatewayConfig = {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    clusters: [clusterConfig(cucm, join(dir, 'cucm-ca.pem'))],
    routes: TEST_ROUTES,
    limits: { loginAttempts: { windowMs: 60_000, perClient: 10, perUser: 5 } },
  };
  const gw = await startGatewayProcess(t, dir, gatewayConfig);
  const ca = await gw.trustPem();
  const em = (user: string, pin: string) => `/emapp/EMAppServlet?device=SEP001122334455&userid=${user}&seq=${pin}`;

  const before = clientRequests(cucm.publisher);
  const burst: number[] = [];
  for (let i = 0; i < 25; i++) burst.push(await request(gw.port, ca, em(`user${i}`, '0000'), '127.0.0.1'));
  t.same(burst.slice(0, 10), Array(10).fill(200), 'the first attempts from one address reach CUCM');
  t.same(burst.slice(10), Array(15).fill(429), 'the rest of the burst gets 429');
  t.equal(clientRequests(cucm.publisher) - before, 10, 'CUCM saw only the attempts within the limit');

  t.equal(await request(gw.port, ca, em('jdoe', '12345'), '127.0.0.2'), 200, 'another client logs in undisturbed');
  t.equal(await request(gw.port, ca, '/cucm-uds/version', '127.0.0.1'), 200, 'the attacker address still gets non-credential requests');

  const perUser: number[] = [];
  for (let i = 0; i < 8; i++) perUser.push(await request(gw.port, ca, em('asmith', String(1000 + i)), `127.0.1.${i + 1}`));
  t.same(perUser, [200, 200, 200, 200, 200, 429, 429, 429], 'one user id guessed from many addresses is limited too');

  const wrong = `Basic ${Buffer.from('jdoe:guess').toString('base64')}`;
  const uds: number[] = [];
  for (let i = 0; i < 12; i++) uds.push(await request(gw.port, ca, '/cucm-uds/user/jdoe/devices', '127.0.2.1', { authorization: wrong }));
  t.same(uds.slice(0, 5), Array(5).fill(401), 'UDS Basic-auth failures pass through as 401');
  t.ok(uds.slice(5).every((status) => status === 429), 'then 429');
  const right = `Basic ${Buffer.from('jdoe:secret').toString('base64')}`;
  t.equal(await request(gw.port, ca, '/cucm-uds/user/jdoe/devices', '127.0.2.2', { authorization: `Basic ${Buffer.from('bob:x').toString('base64')}` }), 401, 'a failure for another user from another address still reaches CUCM');
  t.equal(
    await request(gw.port, ca, '/cucm-uds/user/jdoe/devices', '127.0.2.3', { authorization: right }),
    429,
    'the attacked user id stays locked for the window, even from a new address: the gateway locks before the directory does',
  );
  t.equal(await request(gw.port, ca, '/cucm-uds/version', '127.0.2.3'), 200, 'while anonymous UDS requests from that address pass');

  // A reload that leaves the limits as they were must not hand the guesser a fresh allowance.
  writeConfig(dir, { workers: 1, ...gatewayConfig, shutdown: { graceMs: 1000 } });
  gw.proc.kill('SIGHUP');
  await gw.waitForLog((line) => line.event === 'reload_applied');
  t.equal(await request(gw.port, ca, em('user99', '0000'), '127.0.0.1'), 429, 'after a config reload, the limited address is still limited');
  t.equal(await request(gw.port, ca, em('asmith', '2000'), '127.0.1.99'), 429, 'and so is the guessed user id');
  const limited = await gw.waitForLog((line) => line.event === 'login_attempts_limited');
  t.notOk(JSON.stringify(gw.logs).includes('0000'), 'no PIN in any log line');
  t.match(limited, { kind: 'em-login', scope: 'client' });
});
