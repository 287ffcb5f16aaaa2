/**
 * `ucgate healthcheck`, the Dockerfile's HEALTHCHECK command (issue 18): it
 * passes against a running gateway with the default admin settings (HTTPS
 * with the gateway's own self-signed certificate, verified), and fails with
 * exit 1 and one line on stderr, within its timeout, against a frozen
 * gateway (every process of it SIGSTOPped: the kernel still accepts the
 * connection, nothing answers), against none, and against a listener on the
 * admin port that is not this gateway. Plain HTTP when `listen.admin.tls: false`.
 */
import t from 'tap';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { startGatewayProcess, clusterConfig, runCli, writeConfig, writeTokenFile, FQDN } from '../helpers/gateway.js';
import { freePort } from '../helpers/pebble.js';
import { processTree } from '../helpers/process-tree.js';
import { createOpensslCa } from '../helpers/openssl-ca.js';

const TIMEOUT_MS = 1500;
/** Node's own start-up and the config load come on top of the probe's timeout; generous for a loaded CI machine. */
const SLACK_MS = 5000;

async function healthcheck(configFile: string, timeoutMs = TIMEOUT_MS) {
  const started = Date.now();
  const result = await runCli(['healthcheck', '--config', configFile, '--timeout', String(timeoutMs)], { timeoutMs: 30_000 });
  return { ...result, ms: Date.now() - started };
}

t.test('healthcheck against the default TLS admin listener, frozen, and gone', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  const adminPort = await freePort();
  const config = {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { port: adminPort, tokenFile: writeTokenFile(dir) } },
    clusters: [clusterConfig(cucm, join(dir, 'cucm-ca.pem'))],
    workers: 1,
  };
  const gw = await startGatewayProcess(t, dir, config);

  const ok = await healthcheck(gw.configFile);
  t.equal(ok.code, 0, `healthy: exit 0 (stderr: ${ok.stderr})`);
  t.equal(ok.stdout, '', 'nothing on stdout');
  t.equal(ok.stderr, '', 'nothing on stderr');

  const pids = processTree(gw.proc.pid!);
  // One process with worker threads, or a primary and worker processes: all of them are frozen.
    t.ok(pids.length >= 1, `the gateway's processes (${pids.join(', ')})`);
  const thaw = () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone already
      }
    }
  };
  t.teardown(thaw);
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  let frozen;
  try {
    frozen = await healthcheck(gw.configFile);
  } finally {
    thaw();
  }
  t.equal(frozen.code, 1, 'frozen: exit 1');
  t.ok(frozen.ms < TIMEOUT_MS + SLACK_MS, `within the timeout (${frozen.ms} ms for --timeout ${TIMEOUT_MS})`);
  t.ok(frozen.ms >= TIMEOUT_MS, 'and only once the timeout ran out');
  t.match(frozen.stderr, new RegExp(`^ucgate healthcheck: https://127\\.0\\.0\\.1:${adminPort}/healthz: no answer within ${TIMEOUT_MS} ms\\n$`), 'one line saying what it asked and why it failed');

  const thawed = await healthcheck(gw.configFile);
  t.equal(thawed.code, 0, `thawed: healthy again (stderr: ${thawed.stderr})`);

  t.same(await gw.stop(), { code: 0, signal: null }, 'the gateway stops cleanly');
  const none = await healthcheck(gw.configFile);
  t.equal(none.code, 1, 'no gateway: exit 1');
  t.ok(none.ms < TIMEOUT_MS + SLACK_MS, `at once (${none.ms} ms)`);
  t.match(none.stderr, /^ucgate healthcheck: https:\/\/127\.0\.0\.1:\d+\/healthz: ECONNREFUSED .*\n$/, 'one line: connection refused');

  // Something else answering on the admin port (another service, an old instance with other keys) is not this gateway.
  const other = createOpensslCa(join(dir, 'other-ca'), 'Other');
  const request = other.request('impostor', { cn: FQDN, sans: [FQDN] });
  const certPem = other.sign({ csrFile: request.csrFile, out: join(dir, 'other-ca', 'impostor.pem') });
  const impostor = https.createServer({ cert: certPem, key: readFileSync(request.keyFile) }, (_req, res) => res.end('{"status":"ok"}'));
  await new Promise<void>((resolve) => impostor.listen(adminPort, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => impostor.close(resolve)));
  const foreign = await healthcheck(gw.configFile);
  t.equal(foreign.code, 1, 'a listener with a certificate the store does not vouch for: exit 1');
  t.match(foreign.stderr, /^ucgate healthcheck: .*certificate the store does not vouch for.*\n$/, 'one line saying so');
});

t.test('healthcheck over plain HTTP (listen.admin.tls: false), and without an admin listener', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  const adminPort = await freePort();
  const base = {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: adminPort, tls: false, tokenFile: writeTokenFile(dir) } },
    clusters: [clusterConfig(cucm, join(dir, 'cucm-ca.pem'))],
    workers: 0,
  };
  const gw = await startGatewayProcess(t, dir, base);
  const ok = await healthcheck(gw.configFile);
  t.equal(ok.code, 0, `plain HTTP: exit 0 (stderr: ${ok.stderr})`);

  const noAdmin = writeConfig(dir, { ...base, listen: { https: base.listen.https } }, 'no-admin.yaml');
  const missing = await healthcheck(noAdmin);
  t.equal(missing.code, 1, 'no listen.admin: exit 1');
  t.match(missing.stderr, /^ucgate healthcheck: listen\.admin is not configured.*\n$/, 'one line saying what to add');

  const bad = await runCli(['healthcheck', '--config', gw.configFile, '--timeout', 'soon']);
  t.equal(bad.code, 2, 'a --timeout that is not milliseconds is bad input');
});
