/**
 * certificates.cucmTrust per CUCM server, end to end (issue 16): a real
 * gateway process, a three-node simulated cluster whose platform APIs one
 * simulated certmgr server plays with a trust store per node (answering its
 * listings in both shapes), and a client that keeps opening TLS connections
 * to see which leaf is served at every moment.
 *
 * Shown: at first start and on a renewal, every node received the new leaf
 * and listed it (read back by the gateway) a switch delay before it was first
 * served; status, metrics and logs report per node. And a CUCM 12.5-style
 * cluster (the API answers 404) does not fail: the gateway waits for
 * `ucgate cert confirm-trust` — through the store when no gateway listens
 * yet, through the admin API when one runs — and then serves the leaf the
 * administrator uploaded, after the switch delay.
 */
import t, { type Test } from 'tap';
import tls from 'node:tls';
import net from 'node:net';
import { writeFileSync, chmodSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startCucmCluster, type CucmCluster } from '../../src/sim/cucm-cluster.js';
import { startCertmgrServer, type CertmgrServer } from '../../src/sim/certmgr-server.js';
import { issueLeaf } from '../../src/pki/x509.js';
import { waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, runCli, adminPortOf, scrapeMetric, TEST_ROUTES, FQDN, TEST_ADMIN_TOKEN, type GatewayProcess } from '../helpers/gateway.js';

const SWITCH_MS = 2_500;
const TOKEN = TEST_ADMIN_TOKEN;

t.setTimeout(240_000);

interface Sighting {
  readonly at: number;
  readonly doneAt: number;
  readonly fingerprint: string;
}

/** A platform API per node of `cucm`, on one port, each node by its own host name; credentials and CA files in `dir`. */
async function platformFor(t: Test, cucm: CucmCluster, dir: string): Promise<CertmgrServer> {
  const names = cucm.nodes.map((node) => node.hostname);
  const tomcat = await issueLeaf({ issuer: cucm.ca, commonName: names[0]!, subjectAltNames: names });
  const platform = await startCertmgrServer({ certPem: tomcat.certPem, keyPem: tomcat.keyPem, username: 'ccmadmin', password: 'Pl4tform!', nodes: names });
  t.teardown(() => platform.close());
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  writeFileSync(join(dir, 'platform.cred'), 'ccmadmin:Pl4tform!\n');
  chmodSync(join(dir, 'platform.cred'), 0o600);
  writeFileSync(join(dir, 'admin.token'), TOKEN + '\n');
  chmodSync(join(dir, 'admin.token'), 0o600);
  return platform;
}

function config(cucm: CucmCluster, platform: CertmgrServer, dir: string, adminPort = 0): Record<string, unknown> {
  return {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: adminPort, tls: false, tokenFile: 'admin.token' } },
    certificates: {
      issuer: { type: 'self-signed' },
      cucmTrust: {
        credentialsFile: 'platform.cred',
        switchDelayMs: SWITCH_MS,
        removeAfterMs: 600_000,
        // Each node's platform API: on a real cluster each server's own Tomcat; here one simulated server, by name.
        clusters: [{ cluster: 'cucm', nodes: cucm.nodes.map((node) => ({ name: node.name, url: `https://${node.hostname}:${platform.port}`, address: '127.0.0.1' })) }],
      },
    },
    clusters: [clusterConfig(cucm, join(dir, 'cucm-ca.pem'))],
    routes: TEST_ROUTES,
  };
}

/** Fresh TLS handshakes every few tens of milliseconds for the rest of the test: which leaf is served when. */
function watchHandshakes(t: Test, port: () => number | undefined): { sightings: Sighting[]; handshake: () => Promise<string> } {
  const sightings: Sighting[] = [];
  const handshake = () =>
    new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: port()!, servername: FQDN, rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.destroy();
      });
      socket.setTimeout(5_000, () => socket.destroy(new Error('handshake timed out')));
      socket.on('error', reject);
    });
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      if (port() !== undefined) {
        const at = Date.now();
        const fingerprint = await handshake().catch(() => undefined);
        if (fingerprint) sightings.push({ at, doneAt: Date.now(), fingerprint });
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  t.teardown(async () => {
    watching = false;
    await watcher;
  });
  return { sightings, handshake };
}

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;
const admin = (gw: GatewayProcess, path: string, init: RequestInit = {}) =>
  fetch(`http://127.0.0.1:${adminPortOf(gw)}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init.body ? { 'content-type': 'application/json' } : {}) } });

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

t.test('three nodes: the leaf is on every node and listed there before it is served', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster({ nodes: 3 });
  t.teardown(() => cucm.close());
  const platform = await platformFor(t, cucm, dir);
  // Listings come back in both shapes: an array on sub1, an object holding one on the others.
  platform.setShape('array', cucm.node('sub1').hostname);
  const gw = await startGatewayProcess(t, dir, config(cucm, platform, dir));
  const readyAt = Date.now();
  const { sightings, handshake } = watchHandshakes(t, () => gw.port);
  const first = await waitFor(() => sightings[0], { timeoutMs: 10_000, message: 'a first handshake' });
  const listedBefore = (node: string, fingerprint: string, before: number) => {
    const received = platform.received.filter((e) => e.node === node && e.fingerprint === fingerprint);
    const reads = platform.calls.filter((c) => c.node === node && c.method === 'GET' && c.status === 200 && c.time >= Math.min(...received.map((e) => e.receivedAt)));
    return { received, reads: reads.filter((c) => c.time < before) };
  };

  await t.test('first start: every node got it in Phone-trust and tomcat-trust, and listed it, a switch delay before the listeners opened', async (t) => {
    for (const node of cucm.nodes) {
      const { received, reads } = listedBefore(node.hostname, first.fingerprint, readyAt);
      t.same(received.map((e) => e.service).sort(), ['Phone', 'tomcat'], `${node.name}: both trust stores`);
      t.ok(received[0]!.receivedAt + SWITCH_MS <= readyAt, `${node.name}: received ${readyAt - received[0]!.receivedAt} ms before the gateway was ready`);
      t.same(reads.map((c) => new URL(c.url, 'https://x').searchParams.get('service')).sort(), ['Phone', 'tomcat'], `${node.name}: both stores read back before serving`);
    }
    const published = gw.logs.filter((l) => l.event === 'cucm_trust_published');
    t.same(published.map((l) => l.node).sort(), ['pub', 'sub1', 'sub2'], 'one log line per node');
  });

  await t.test('a renewal from the admin API: on every node and listed before the switch; the old leaf served meanwhile', async (t) => {
    const before = platform.received.length;
    const answer = (await (await admin(gw, '/api/v1/certificates/renew', { method: 'POST' })).json()) as { results: { ok: boolean; error?: string }[] };
    t.ok(answer.results.every((r) => r.ok), JSON.stringify(answer.results));
    const renewed = platform.received[before]!.fingerprint;
    t.not(renewed, first.fingerprint);
    const servedAt = await waitFor(() => sightings.find((s) => s.fingerprint === renewed)?.doneAt, { timeoutMs: 10_000, message: 'the renewed leaf served' });
    for (const node of cucm.nodes) {
      const { received, reads } = listedBefore(node.hostname, renewed, servedAt);
      t.equal(received.length, 2, `${node.name}: received in both stores`);
      t.ok(servedAt >= Math.max(...received.map((e) => e.receivedAt)) + SWITCH_MS, `${node.name}: served ${servedAt - received[0]!.receivedAt} ms after it got there`);
      t.equal(reads.length, 2, `${node.name}: listed in both stores before it was served`);
    }
    const lastArrival = Math.max(...platform.received.slice(before).map((e) => e.receivedAt));
    const during = sightings.filter((s) => s.at > lastArrival && s.doneAt < lastArrival + SWITCH_MS);
    t.ok(during.length > 0 && during.every((s) => s.fingerprint === first.fingerprint), `the old leaf during the delay (${during.length} handshakes)`);
    t.equal(await handshake(), renewed);

    const status = (await (await admin(gw, '/api/v1/status')).json()) as { cucmTrust: { leaves: { fingerprint: string; state: string; nodes: { node: string; state: string; verifiedAt?: string }[] }[]; nodes: { node: string; lastError: unknown }[] } };
    const current = status.cucmTrust.leaves.find((l) => l.fingerprint === renewed)!;
    t.equal(current.state, 'current');
    t.same(current.nodes.map((n) => [n.node, n.state, typeof n.verifiedAt]), [['pub', 'listed', 'string'], ['sub1', 'listed', 'string'], ['sub2', 'listed', 'string']], 'status: listed on each node');
    t.same(status.cucmTrust.nodes.map((n) => [n.node, n.lastError]), [['pub', null], ['sub1', null], ['sub2', null]]);
    for (const node of ['pub', 'sub1', 'sub2']) {
      t.equal(await scrapeMetric(gw, 'ucgate_cucm_trust_publications_total', `node="${node}",result="listed"`), 2, `metric: two publications listed on ${node}`);
      t.equal(await scrapeMetric(gw, 'ucgate_cucm_trust_node_listed', `node="${node}"`), 1);
    }
  });

  await t.test('one node refusing: the renewal fails naming it, the served leaf stays', async (t) => {
    const served = await handshake();
    platform.failWith({ status: 503, body: 'Certificate Management service is starting' }, cucm.node('sub2').hostname);
    t.teardown(() => platform.failWith(undefined));
    const answer = (await (await admin(gw, '/api/v1/certificates/renew', { method: 'POST' })).json()) as { results: { ok: boolean; error?: string }[] };
    t.notOk(answer.results[0]!.ok);
    t.match(answer.results[0]!.error, /publishing it to CUCM failed: cluster cucm node sub2 .*HTTP 503/);
    t.equal(await handshake(), served);
    t.equal(await scrapeMetric(gw, 'ucgate_cucm_trust_node_listed', 'node="sub2"'), 0, 'metric: sub2 does not hold the last leaf');
    const status = (await (await admin(gw, '/api/v1/status')).json()) as { cucmTrust: { nodes: { node: string; lastError: { message: string } | null }[] } };
    t.match(status.cucmTrust.nodes.find((n) => n.node === 'sub2')!.lastError?.message, /HTTP 503/);
  });
});

t.test('a CUCM 12.5-style cluster (no API: 404) waits for confirm-trust, then serves what was uploaded', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster({ nodes: 2 });
  t.teardown(() => cucm.close());
  const platform = await platformFor(t, cucm, dir);
  platform.noApi(true);
  const adminPort = await freePort();
  const configFile = join(dir, 'ucgate.yaml');
  const ledgerFile = join(dir, 'certs', 'cucm-trust', 'published.json');
  const awaiting = () => {
    if (!existsSync(ledgerFile)) return undefined;
    const leaves = (JSON.parse(readFileSync(ledgerFile, 'utf8')) as { leaves: { serial: string; awaiting?: { node: string }[] }[] }).leaves;
    return leaves.find((l) => (l.awaiting?.length ?? 0) > 0);
  };
  const uploadByHand = (pem: string) => {
    for (const node of cucm.nodes) platform.addByHand(pem, ['Phone', 'tomcat'], node.hostname);
  };

  // First start: no certificate yet, and the cluster has no API: the gateway waits before it listens.
  const starting = startGatewayProcess(t, dir, config(cucm, platform, dir, adminPort));
  starting.catch(() => undefined);
  const pending = await waitFor(awaiting, { timeoutMs: 30_000, message: 'a leaf waiting for confirmation' });
  t.same(pending.awaiting!.map((a) => a.node), ['pub', 'sub1']);
  const list = await runCli(['cert', 'confirm-trust', '--list', '--out', join(dir, 'upload.pem'), '--config', configFile], { cwd: dir });
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, new RegExp(`rsa-2048 serial ${pending.serial}[\\s\\S]*upload to Phone-trust and tomcat-trust on: cucm/pub .*cucm/sub1`));
  const uploaded = readFileSync(join(dir, 'upload.pem'), 'utf8');
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  t.notOk(await Promise.race([starting.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 10))]), 'still not listening while nobody confirmed');
  uploadByHand(uploaded);
  const confirmedAt = Date.now();
  const confirm = await runCli(['cert', 'confirm-trust', '--config', configFile], { cwd: dir });
  t.equal(confirm.code, 0, confirm.stderr);
  t.match(confirm.stdout, /confirmed rsa-2048 serial \S+ on cucm\/pub, cucm\/sub1 \(in the certificate store\)/);
  const gw = await starting;
  t.ok(Date.now() - confirmedAt >= SWITCH_MS, 'ready a switch delay after the confirmation');
  const { sightings, handshake } = watchHandshakes(t, () => gw.port);
  t.equal(await handshake(), fingerprintOf(uploaded), 'serving exactly the leaf the administrator uploaded');
  t.ok(gw.logs.some((l) => l.event === 'cucm_trust_no_api'), 'the gateway said which servers have no API');
  t.notOk(platform.calls.some((c) => c.status !== 404), 'nothing but 404s from a server without the API');

  // A renewal through the admin API waits too; the old leaf is served meanwhile.
  const renewal = admin(gw, '/api/v1/certificates/renew', { method: 'POST' }).then((res) => res.json() as Promise<{ results: { ok: boolean; serial?: string }[] }>);
  const next = await waitFor(() => (awaiting()?.serial !== pending.serial ? awaiting() : undefined), { timeoutMs: 30_000, message: 'the renewed leaf waiting' });
  const trust = (await (await admin(gw, '/api/v1/cucm-trust')).json()) as { pending: { serial: string; awaiting: { node: string }[] }[] };
  t.same(trust.pending.map((p) => [p.serial, p.awaiting.map((a) => a.node)]), [[next.serial, ['pub', 'sub1']]], 'admin API: what waits where');
  t.equal(await scrapeMetric(gw, 'ucgate_cucm_trust_awaiting_confirmation', 'node="sub1"'), 1);
  const status = (await (await admin(gw, '/api/v1/status')).json()) as { cucmTrust: { leaves: { serial: string; state: string }[] } };
  t.equal(status.cucmTrust.leaves.find((l) => l.serial === next.serial)?.state, 'awaiting-confirmation');
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  t.equal(await handshake(), fingerprintOf(uploaded), 'the current leaf is served while the renewal waits');

  const out = join(dir, 'upload-2.pem');
  t.equal((await runCli(['cert', 'confirm-trust', '--list', '--out', out, '--config', configFile], { cwd: dir })).code, 0);
  const renewedPem = readFileSync(out, 'utf8');
  uploadByHand(renewedPem);
  const confirmed2At = Date.now();
  const byApi = await runCli(['cert', 'confirm-trust', '--serial', next.serial, '--config', configFile], { cwd: dir });
  t.equal(byApi.code, 0, byApi.stderr);
  t.match(byApi.stdout, /confirmed rsa-2048 serial \S+ on cucm\/pub, cucm\/sub1 \(through the running gateway\)/);
  const answer = await renewal;
  t.ok(answer.results.every((r) => r.ok), JSON.stringify(answer.results));
  const servedAt = await waitFor(() => sightings.find((s) => s.fingerprint === fingerprintOf(renewedPem))?.doneAt, { timeoutMs: 10_000, message: 'the renewed leaf served' });
  t.ok(servedAt >= confirmed2At + SWITCH_MS, `served ${servedAt - confirmed2At} ms after the confirmation started (switch delay ${SWITCH_MS} ms)`);
  t.equal(await scrapeMetric(gw, 'ucgate_cucm_trust_awaiting_confirmation', 'node="sub1"'), 0);

  const nothing = await runCli(['cert', 'confirm-trust', '--config', configFile], { cwd: dir });
  t.equal(nothing.code, 2, 'nothing waits any more: exit 2');
  t.match(nothing.stderr, /no leaf waits for confirmation/);
  const audit = readFileSync(join(dir, 'certs', 'audit', 'audit.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { action: string; actor: string; detail?: string });
  const confirmations = audit.filter((l) => l.action === 'published');
  t.same(confirmations.map((l) => l.actor), ['cli', 'cli', 'api', 'api'], 'one audit line per node and confirmation: the store (cli), then the admin API');
  t.ok(confirmations.every((l) => /uploaded by hand, confirmed/.test(l.detail ?? '')));
});
