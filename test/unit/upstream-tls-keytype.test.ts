/**
 * clusters[].tls.keyType over real TLS: a node that holds an RSA and an ECDSA
 * certificate (CUCM with ECDSA HTTPS ciphers enabled: "tomcat" and
 * "tomcat-ECDSA") presents the RSA one to the gateway by default, and the
 * ECDSA one when the cluster asks for it — through the data plane's pool and
 * through the health check alike, over TLS 1.3 and TLS 1.2. A node with only
 * one certificate still answers whatever is asked.
 */
import t, { type Test } from 'tap';
import https from 'node:https';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { createCa, issueLeaf, type KeyAndCertificate } from '../../src/pki/x509.js';
import { UpstreamNode, upstreamTlsOptions } from '../../src/upstream/upstream-node.js';
import { probeNode } from '../../src/upstream/health-probe.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import type { ClusterConfig, NodeConfig, UpstreamKeyType } from '../../src/config/types.js';

const HOST = 'cucm-pub.example.test';
const ca = await createCa({ commonName: 'test CUCM CA' });
const rsa = await issueLeaf({ issuer: ca, commonName: HOST, subjectAltNames: [HOST], keyType: 'rsa-2048' });
const ecdsa = await issueLeaf({ issuer: ca, commonName: HOST, subjectAltNames: [HOST], keyType: 'ecdsa-p256' });
const fingerprint = (cert: KeyAndCertificate) => new X509Certificate(cert.certPem).fingerprint256;

/** A node answering every request with the fingerprint of the certificate it presented on that connection. */
async function startNode(t: Test, certs: readonly KeyAndCertificate[], maxVersion: tls.SecureVersion = 'TLSv1.3'): Promise<{ port: number; refused: () => number }> {
  const server = https.createServer({ cert: certs.map((c) => c.certPem), key: certs.map((c) => c.keyPem), maxVersion }, (req, res) => {
    const local = (req.socket as tls.TLSSocket).getCertificate() as tls.PeerCertificate;
    res.end(JSON.stringify({ fingerprint: local.fingerprint256, protocol: (req.socket as tls.TLSSocket).getProtocol() }));
  });
  let refused = 0;
  // A refused offer, not a client hanging up after its handshake.
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
    if (/NO_SUITABLE_SIGNATURE|NO_SHARED_CIPHER/.test(err.code ?? '')) refused++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, refused: () => refused };
}

function cluster(keyType?: UpstreamKeyType): ClusterConfig {
  return { name: 'c1', tls: { verify: true, ...(keyType && { keyType }) }, timeouts: { connectMs: 1000, firstByteMs: 5000 } } as unknown as ClusterConfig;
}

/** One request through the data plane's pool for the node: what the node says it presented. */
async function throughPool(t: Test, port: number, keyType?: UpstreamKeyType): Promise<{ fingerprint: string; protocol: string }> {
  const config = { name: 'pub', url: `https://${HOST}:${port}`, priority: 1, weight: 1, aliases: [], address: '127.0.0.1' } as NodeConfig;
  const node = new UpstreamNode(cluster(keyType), config, ca.certPem, 16_384);
  t.teardown(() => node.pool.destroy());
  const res = await node.pool.request({ method: 'GET', path: '/', headers: { host: node.hostHeader } });
  return (await res.body.json()) as { fingerprint: string; protocol: string };
}

async function throughProbe(port: number, keyType?: UpstreamKeyType): Promise<string | undefined> {
  const result = await probeNode(
    { host: '127.0.0.1', port, hostHeader: `${HOST}:${port}`, servername: HOST, ca: ca.certPem, verify: true, ...(keyType && { keyType }) },
    { path: '/', intervalMs: 1000, timeoutMs: 2000, fall: 1, rise: 1, expectStatus: 200 },
  );
  return result.peerCertificate?.fingerprint256;
}

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  t.test(`a node with RSA and ECDSA certificates, ${version}`, async (t) => {
    const { port, refused } = await startNode(t, [rsa, ecdsa], version);

    // What goes wrong without the offer: OpenSSL picks by its own preference, ECDSA, as CUCM may pick tomcat-ECDSA.
    const plain = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: HOST, ca: ca.certPem }, () => {
        resolve(socket.getPeerX509Certificate()!.fingerprint256);
        socket.destroy();
      });
      socket.on('error', reject);
    });
    if (version === 'TLSv1.3') t.equal(plain, fingerprint(ecdsa), 'a client with default options gets the ECDSA certificate');

    const byDefault = await throughPool(t, port);
    t.equal(byDefault.protocol, version);
    t.equal(byDefault.fingerprint, fingerprint(rsa), 'the data plane gets the RSA certificate by default');
    t.equal((await throughPool(t, port, 'rsa')).fingerprint, fingerprint(rsa), 'and with keyType: rsa');
    t.equal((await throughPool(t, port, 'ecdsa')).fingerprint, fingerprint(ecdsa), 'the ECDSA one with keyType: ecdsa');

    t.equal(await throughProbe(port), fingerprint(rsa), 'the health check sees the RSA certificate by default');
    t.equal(await throughProbe(port, 'ecdsa'), fingerprint(ecdsa), 'and the ECDSA one with keyType: ecdsa');
    t.equal(refused(), 0, 'no handshake refused: the node has both types');
  });
}

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  t.test(`a node with one certificate answers whatever the cluster asks for, ${version}`, async (t) => {
    const ecdsaOnly = await startNode(t, [ecdsa], version);
    t.equal((await throughPool(t, ecdsaOnly.port)).fingerprint, fingerprint(ecdsa), 'ECDSA-only node, rsa asked: the fallback offer');
    t.equal(ecdsaOnly.refused(), 1, 'after one refused handshake');
    t.equal((await throughPool(t, ecdsaOnly.port)).fingerprint, fingerprint(ecdsa), 'a new pool');
    t.equal(await throughProbe(ecdsaOnly.port), fingerprint(ecdsa), 'the health check');
    t.equal(ecdsaOnly.refused(), 1, 'both start from the fallback remembered: no refusal again');
    const rsaOnly = await startNode(t, [rsa], version);
    t.equal(await throughProbe(rsaOnly.port, 'ecdsa'), fingerprint(rsa), 'RSA-only node, ecdsa asked: the health check falls back');
    t.equal((await throughPool(t, rsaOnly.port, 'ecdsa')).fingerprint, fingerprint(rsa), 'and so does the pool');
    t.equal(rsaOnly.refused(), 1);
  });
}

t.test('the offers: the asked type alone first, then the other type first; TLS 1.3 suites kept', async (t) => {
  const rsaFirst = upstreamTlsOptions(undefined);
  t.same(upstreamTlsOptions('rsa'), rsaFirst, 'absent is rsa');
  t.notMatch(rsaFirst.sigalgs, /ecdsa/, 'the first offer names RSA signature algorithms only');
  t.match(rsaFirst.ciphers, /^TLS_AES_256_GCM_SHA384:.*:ECDHE-RSA-AES128-GCM-SHA256:/);
  t.notMatch(rsaFirst.ciphers, /ECDHE-ECDSA/);
  t.match(rsaFirst.ciphers, /:!aECDSA$/);
  const rsaFallback = upstreamTlsOptions('rsa', true);
  t.match(rsaFallback.sigalgs, /^ecdsa_secp256r1_sha256:.*:rsa_pss_rsae_sha256/);
  const ecdsaFirst = upstreamTlsOptions('ecdsa');
  t.notMatch(ecdsaFirst.sigalgs, /rsa/);
  t.match(ecdsaFirst.ciphers, /^TLS_AES_256_GCM_SHA384:.*ECDHE-ECDSA-AES128-GCM-SHA256/);
  t.notMatch(ecdsaFirst.ciphers, /ECDHE-RSA|DHE-RSA/);
  for (const offer of [rsaFirst, rsaFallback, ecdsaFirst, upstreamTlsOptions('ecdsa', true)]) {
    const suites = offer.ciphers.split(':');
    t.equal(new Set(suites).size, suites.length, 'no suite twice');
    t.ok(suites.includes('TLS_AES_128_GCM_SHA256'), 'TLS 1.3 stays on');
  }
});

t.test('config: keyType is rsa or ecdsa, absent by default', async (t) => {
  const parse = (tlsBlock: Record<string, unknown>) =>
    parseConfig({ gateway: { fqdn: 'ucgw.example.test' }, clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }], tls: tlsBlock }] }, { baseDir: '/', configFile: '' });
  t.equal(parse({}).clusters[0]!.tls.keyType, undefined, 'absent: the data plane asks for RSA');
  t.equal(parse({ keyType: 'ecdsa' }).clusters[0]!.tls.keyType, 'ecdsa');
  try {
    parse({ keyType: 'dsa' });
    t.fail('dsa accepted');
  } catch (err) {
    t.ok(err instanceof ConfigError);
    t.match((err as ConfigError).problems.join('\n'), /^clusters\[0\]\.tls\.keyType: must be /m);
  }
});
