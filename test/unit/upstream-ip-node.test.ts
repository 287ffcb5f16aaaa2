/**
 * A CUCM node configured by address (`url: https://10.1.1.10:8443`, common
 * where DNS is not trusted): RFC 6066 allows no address in server_name, and
 * Node warns (DEP0123) on every connection that sets one. The data plane's pool
 * and the health check send no SNI then, and still check the node's
 * certificate against the address: an IP SAN passes, a certificate naming only
 * a host name does not.
 */
import t, { type Test } from 'tap';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createCa, issueLeaf, type KeyAndCertificate } from '../../src/pki/x509.js';
import { UpstreamNode } from '../../src/upstream/upstream-node.js';
import { probeNode } from '../../src/upstream/health-probe.js';
import { tlsNameOptions } from '../../src/net/tls-name.js';
import type { ClusterConfig, NodeConfig } from '../../src/config/types.js';

const ca = await createCa({ commonName: 'test CUCM CA', keyType: 'ecdsa-p256' });
const byAddress = await issueLeaf({ issuer: ca, commonName: '127.0.0.1', subjectAltNames: ['127.0.0.1'], keyType: 'ecdsa-p256' });
const byName = await issueLeaf({ issuer: ca, commonName: 'cucm-pub.example.test', subjectAltNames: ['cucm-pub.example.test'], keyType: 'ecdsa-p256' });

/** A node that answers each request with the SNI its connection carried (false: none). */
async function startNode(t: Test, cert: KeyAndCertificate): Promise<number> {
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    res.end(JSON.stringify({ servername: (req.socket as TLSSocket).servername }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

const cluster = { name: 'c1', tls: { verify: true }, timeouts: { connectMs: 1000, firstByteMs: 5000 } } as unknown as ClusterConfig;
const CHECK = { path: '/', intervalMs: 1000, timeoutMs: 2000, fall: 1, rise: 1, expectStatus: 200 };

const warnings: string[] = [];
const onWarning = (warning: Error & { code?: string }) => warnings.push(warning.code ?? warning.name);
process.on('warning', onWarning);
t.teardown(() => process.off('warning', onWarning));

t.test('a node whose certificate names its address: no SNI, verified, no warning', async (t) => {
  const port = await startNode(t, byAddress);
  const node = new UpstreamNode(cluster, { name: 'pub', url: `https://127.0.0.1:${port}`, priority: 1, weight: 1, aliases: [] } as unknown as NodeConfig, ca.certPem, 16_384);
  t.teardown(() => node.pool.destroy());
  const res = await node.pool.request({ method: 'GET', path: '/', headers: { host: node.hostHeader } });
  t.equal(res.statusCode, 200);
  t.same(await res.body.json(), { servername: false }, 'the pool sent no server_name');

  const probe = await probeNode({ host: '127.0.0.1', port, hostHeader: `127.0.0.1:${port}`, servername: '127.0.0.1', ca: ca.certPem, verify: true }, CHECK);
  t.match(probe, { ok: true, status: 200 }, 'the health check passes');
  // Warnings are emitted on the next tick.
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(warnings.includes('DEP0123'), 'Node did not warn about an address in SNI');
});

t.test('a node whose certificate names only a host name fails the check against its address', async (t) => {
  const port = await startNode(t, byName);
  const node = new UpstreamNode(cluster, { name: 'pub', url: `https://127.0.0.1:${port}`, priority: 1, weight: 1, aliases: [] } as unknown as NodeConfig, ca.certPem, 16_384);
  t.teardown(() => node.pool.destroy());
  await t.rejects(node.pool.request({ method: 'GET', path: '/', headers: { host: node.hostHeader } }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, 'the pool refuses it');
  const probe = await probeNode({ host: '127.0.0.1', port, hostHeader: `127.0.0.1:${port}`, servername: '127.0.0.1', ca: ca.certPem, verify: true }, CHECK);
  t.match(probe, { ok: false, layer: 'tls', reason: /ERR_TLS_CERT_ALTNAME_INVALID/ }, 'the health check fails at the TLS layer');
});

t.test('a node named by host name still gets its SNI', async (t) => {
  const port = await startNode(t, byName);
  const node = new UpstreamNode(
    cluster,
    { name: 'pub', url: `https://cucm-pub.example.test:${port}`, address: '127.0.0.1', priority: 1, weight: 1, aliases: [] } as unknown as NodeConfig,
    ca.certPem,
    16_384,
  );
  t.teardown(() => node.pool.destroy());
  const res = await node.pool.request({ method: 'GET', path: '/', headers: { host: node.hostHeader } });
  t.same(await res.body.json(), { servername: 'cucm-pub.example.test' });
});

t.test('tlsNameOptions: no SNI for an IPv4 or a bracketed IPv6 address, the host name otherwise', async (t) => {
  t.notOk('servername' in tlsNameOptions('10.1.1.10'));
  t.notOk('servername' in tlsNameOptions('[2001:db8::10]'));
  t.equal(tlsNameOptions('cucm-pub.example.test').servername, 'cucm-pub.example.test');
});
