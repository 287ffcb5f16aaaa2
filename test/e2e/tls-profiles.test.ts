/**
 * TLS profiles per listener, checked with real clients: OpenSSL's s_client
 * (what an auditor would use) and Node's TLS client.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, TEST_ROUTES, FQDN } from '../helpers/gateway.js';

/** `openssl s_client` with the given flags; resolves with the negotiated protocol and cipher (or NONE). */
function sClient(port: number, flags: string[]): Promise<{ protocol: string; cipher: string }> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', FQDN, ...flags], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk));
    child.stdin.end('Q\n');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.on('close', () => {
      clearTimeout(timer);
      const cipher = /Cipher is (\S+)/.exec(out)?.[1] ?? 'NONE';
      // "New, TLSv1.3, Cipher is ..." comes right after the handshake; the session block's "Protocol :" line
      // only once a TLS 1.3 ticket arrives, which s_client may not wait for before quitting.
      const protocol = /Protocol\s*:\s*(\S+)/.exec(out)?.[1] ?? /^New, (TLSv1\.[23]), Cipher/m.exec(out)?.[1] ?? 'NONE';
      resolve({ protocol, cipher: cipher === '(NONE)' ? 'NONE' : cipher });
    });
  });
}

t.test('TLS profiles per listener', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: {
      https: [
        { host: '127.0.0.1', port: 0 },
        { host: '127.0.0.1', port: 0, profile: 'compatible' },
        { host: '127.0.0.1', port: 0, profile: 'legacy' },
      ],
    },
    clusters: [clusterConfig(cucm, join(dir, 'cucm-ca.pem'))],
    routes: TEST_ROUTES,
  });
  const [modern, compatible, legacy] = gw.ports as [number, number, number];
  const ca = await gw.trustPem();

  const oldPhone = ['-tls1', '-cipher', 'AES128-SHA:@SECLEVEL=0'];
  t.match(await sClient(legacy, oldPhone), { cipher: 'AES128-SHA' }, 'legacy accepts TLS 1.0 with AES128-SHA (79xx/99xx phones)');
  t.match(await sClient(modern, oldPhone), { cipher: 'NONE' }, 'modern refuses it');
  t.match(await sClient(compatible, oldPhone), { cipher: 'NONE' }, 'compatible refuses TLS 1.0 too');

  const staticRsaCbc = ['-tls1_2', '-cipher', 'AES128-SHA256'];
  t.match(await sClient(compatible, staticRsaCbc), { cipher: 'AES128-SHA256' }, 'compatible accepts the wider TLS 1.2 list older 7800/8800 firmware offers');
  t.match(await sClient(modern, staticRsaCbc), { cipher: 'NONE' }, 'modern refuses static RSA and CBC');
  t.match(await sClient(modern, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-SHA']), { cipher: 'NONE' }, 'modern refuses ECDHE with CBC');
  t.match(await sClient(modern, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']), { cipher: 'ECDHE-RSA-AES128-GCM-SHA256' }, 'modern: TLS 1.2 ECDHE + AEAD');
  t.match(await sClient(modern, ['-tls1_3']), { protocol: 'TLSv1.3' }, 'modern: TLS 1.3');

  const viaLegacy = await httpsRequest({
    host: '127.0.0.1',
    port: legacy,
    path: '/cucm-uds/version',
    ca,
    servername: FQDN,
    minVersion: 'TLSv1',
    maxVersion: 'TLSv1',
    ciphers: 'AES128-SHA:@SECLEVEL=0',
  });
  t.equal(viaLegacy.status, 200, 'an old phone gets its answer over the legacy listener');
  t.equal(viaLegacy.socket.protocol, 'TLSv1');

  const warning = await gw.waitForLog((line) => line.event === 'legacy_tls_listener');
  t.equal(warning.level, 'warn', 'a legacy listener is announced with a warning at start');
  t.equal(warning.port, legacy);
});
