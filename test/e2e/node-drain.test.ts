/**
 * Node maintenance through a real gateway in front of a simulated cluster
 * whose two nodes share one priority: `ucgate node drain cucm/pub` (the CLI,
 * through the admin API of the running gateway), then no new request and no
 * new session reaches the publisher while a Personal Directory session it
 * issued (JSESSIONID) still goes there; the state shows in the status, the
 * metrics and the audit log, survives a SIGHUP reload and a restart, and
 * `node undrain` gives the publisher new requests again.
 */
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster, type CucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor, type HttpsResponse } from '../helpers/net.js';
import { freePort } from '../helpers/pebble.js';
import { startGatewayProcess, clusterConfig, runCli, writeTokenFile, clientRequests, FQDN, TEST_ADMIN_TOKEN, type GatewayProcess } from '../helpers/gateway.js';

function jsessionid(res: HttpsResponse): string | undefined {
  for (const cookie of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
    const m = /^JSESSIONID=([^;]+)/.exec(cookie);
    if (m) return m[1];
  }
  return undefined;
}

interface Rig {
  readonly cucm: CucmCluster;
  readonly dir: string;
  readonly adminPort: number;
  readonly config: Record<string, unknown>;
}

async function rig(t: Test): Promise<Rig> {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const dir = t.testdir();
  const caFile = join(dir, 'cucm-ca.pem');
  writeFileSync(caFile, cucm.caPem);
  const tokenFile = writeTokenFile(dir);
  // A fixed admin port: the CLI finds the running gateway from the config.
  const adminPort = await freePort();
  const config = {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: adminPort, tls: false, tokenFile } },
    // Equal priority: both nodes share new requests until one is drained. The built-in routes (Personal Directory included).
    clusters: [clusterConfig(cucm, caFile, { nodes: cucm.nodes.map((node) => ({ name: node.name, url: `https://${node.hostname}:${node.port}`, address: '127.0.0.1', priority: 1 })) })],
    log: { access: false },
  };
  return { cucm, dir, adminPort, config };
}

async function api(rig: Rig, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${rig.adminPort}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(init.body !== undefined && { 'content-type': 'application/json' }) },
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
  });
  return { status: res.status, body: await res.json() };
}

async function metric(rig: Rig, name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${rig.adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

const nodeStatus = async (rig: Rig, name: string) => (await api(rig, '/api/v1/status')).body.clusters[0].nodes.find((node: { name: string }) => node.name === name);

t.test('a drained node receives no new request while its sticky session finishes; the drain survives SIGHUP and a restart', async (t) => {
  const r = await rig(t);
  const { cucm } = r;
  const pub = cucm.node('pub');
  let gw: GatewayProcess = await startGatewayProcess(t, r.dir, r.config);
  const ca = await gw.trustPem();
  let device = 0;
  const get = (path: string, headers: Record<string, string> = {}) =>
    httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca, servername: FQDN, headers, timeoutMs: 10_000 });
  const newSession = () => get(`/ccmpd/pdCheckLogin.do?name=SEP${String(++device).padStart(12, '0')}`);

  // A Personal Directory session on the publisher (equal priority: round robin reaches it within a few tries).
  let onPub: string | undefined;
  for (let i = 0; i < 6 && onPub === undefined; i++) {
    const res = await newSession();
    if (res.headers['x-cucm-node'] === 'pub') onPub = jsessionid(res);
  }
  t.ok(onPub, 'a session issued by the publisher');
  const cookie = { cookie: `JSESSIONID=${onPub}` };

  const drained = await runCli(['node', 'drain', 'cucm/pub', '--reason', 'CUCM 15 SU2 upgrade', '--config', gw.configFile]);
  t.equal(drained.code, 0, `ucgate node drain: ${drained.stderr}`);
  t.match(drained.stdout, /cucm\/pub drained/);

  /** New requests and sessions go to the subscriber only; the publisher's session still reaches the publisher. */
  const checkDrained = async (when: string) => {
    const before = clientRequests(pub);
    const answered = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const res = await newSession();
      t.equal(res.status, 200);
      answered.add(String(res.headers['x-cucm-node']));
    }
    t.same([...answered], ['sub1'], `${when}: 8 new sessions, all on the subscriber`);
    t.equal(clientRequests(pub), before, `${when}: the drained publisher received no new request`);
    for (let i = 0; i < 3; i++) {
      const res = await get(`/ccmpd/pdCheckLogin.do?name=SEP000000000999`, cookie);
      t.equal(res.headers['x-cucm-node'], 'pub', `${when}: a request of the publisher's session still goes there`);
    }
    t.equal(clientRequests(pub), before + 3, `${when}: exactly the session's requests reached the publisher`);
  };
  await checkDrained('drained');

  const status = await nodeStatus(r, 'pub');
  t.equal(status.draining, true, 'status: draining');
  t.equal(status.drain.reason, 'CUCM 15 SU2 upgrade', 'with the reason');
  t.equal(status.drain.actor, 'cli', 'and who asked');
  t.type(status.inFlight, 'number', `in flight on the publisher: ${status.inFlight}`);
  t.equal((await nodeStatus(r, 'sub1')).draining, false);
  t.equal(await metric(r, 'ucgate_upstream_node_draining', 'node="pub"'), 1, 'ucgate_upstream_node_draining 1 for the publisher');
  t.equal(await metric(r, 'ucgate_upstream_node_draining', 'node="sub1"'), 0, 'and 0 for the subscriber');
  const audit = (await api(r, '/api/v1/audit')).body.entries as Record<string, string>[];
  t.match(audit.at(-1), { action: 'node-drained', actor: 'cli', subject: 'cucm/pub', detail: 'CUCM 15 SU2 upgrade' }, 'written to the audit log');

  const list = await runCli(['node', 'list', '--config', gw.configFile]);
  t.equal(list.code, 0);
  t.match(list.stdout, /cucm\/pub\s+up, draining/, 'ucgate node list shows it');

  const reloads = gw.logs.filter((line) => line.event === 'reload_applied').length;
  gw.proc.kill('SIGHUP');
  await gw.waitForLog((line) => line.event === 'reload_applied' && gw.logs.filter((l) => l.event === 'reload_applied').length > reloads);
  await checkDrained('after SIGHUP');
  t.equal((await nodeStatus(r, 'pub')).draining, true, 'still draining after the reload');

  t.same(await gw.stop(), { code: 0, signal: null });
  gw = await startGatewayProcess(t, r.dir, r.config);
  t.ok(gw.logs.some((line) => line.event === 'nodes_drained_at_start'), 'the restarted gateway read the drain from the store');
  t.equal((await nodeStatus(r, 'pub')).draining, true, 'still draining after a restart');
  // The sticky table is per process: after a restart the session is unknown, so only new requests are checked.
  const before = clientRequests(pub);
  for (let i = 0; i < 6; i++) t.equal((await newSession()).headers['x-cucm-node'], 'sub1');
  t.equal(clientRequests(pub), before, 'after the restart: no new request on the publisher');

  const undrained = await runCli(['node', 'undrain', 'pub', '--config', gw.configFile]);
  t.equal(undrained.code, 0, `ucgate node undrain (the name alone): ${undrained.stderr}`);
  t.equal((await nodeStatus(r, 'pub')).draining, false);
  t.equal(await metric(r, 'ucgate_upstream_node_draining', 'node="pub"'), 0);
  const answered = new Set<string>();
  for (let i = 0; i < 6; i++) answered.add(String((await newSession()).headers['x-cucm-node']));
  t.same([...answered].sort(), ['pub', 'sub1'], 'undrained: new sessions on both nodes again');
  const entries = (await api(r, '/api/v1/audit')).body.entries as Record<string, string>[];
  t.match(entries.at(-1), { action: 'node-undrained', actor: 'cli', subject: 'cucm/pub' });

  const unknown = await runCli(['node', 'drain', 'cucm/nope', '--config', gw.configFile]);
  t.equal(unknown.code, 2, 'an unknown node: exit 2');
  t.match(unknown.stderr, /no node nope|unknown_node|no node/);
  const viaApi = await api(r, '/api/v1/nodes/cucm/nope/drain', { method: 'POST', body: {} });
  t.equal(viaApi.status, 404, 'the API answers 404 for an unknown node');
  const noAuth = await fetch(`http://127.0.0.1:${r.adminPort}/api/v1/nodes/cucm/pub/drain`, { method: 'POST' });
  t.equal(noAuth.status, 401, 'no token, no drain');
  await waitFor(async () => (await nodeStatus(r, 'pub')).draining === false, { timeoutMs: 2000 });
});
