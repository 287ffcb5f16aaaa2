/**
 * Issue 18: `ucgate cert renew` prints each step on stderr as it happens,
 * with the time since it started, and `--json` keeps stdout to the final
 * JSON. Against a real pebble, no gateway running: the CLI binds the
 * challenge listener itself (http-01), for the first issuance and a renewal.
 */
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, writeConfig, FQDN, TEST_ROUTES } from '../helpers/gateway.js';
import { startPebble, startChallTestSrv, freePort, acmeGatewayConfig } from '../helpers/pebble.js';

t.setTimeout(180_000);

/**
 * The steps, in the order they must appear on stderr. Pebble reuses a valid
 * authorization now and then even with PEBBLE_AUTHZREUSE=0 (wfe.go creates a new
 * one only when rand.Intn(100) > the percentage: 1 order in 100 reuses), and
 * then the renewal rightly publishes no challenge: it says so instead.
 */
const STEPS = [
  /account: ready/,
  /order: created for ucgw\.example\.test/,
  /challenge published: http-01 for ucgw\.example\.test|CA validating: every authorization already valid/,
  /CA validat(ing|ed)/,
  /finalizing/,
  /issued:/,
  /activated: rsa-2048 serial [0-9a-f]+/,
];

t.test('cert renew prints each step on stderr, in order; --json stdout is only the JSON', async (t) => {
  const dir = t.testdir();
  const dns = await startChallTestSrv(t);
  const httpsPort = await freePort();
  const httpPort = await freePort();
  const pebble = await startPebble(t, dir, { httpPort, tlsPort: httpsPort, dnsServer: dns.dnsServer });
  writeFileSync(join(dir, 'cucm-ca.pem'), pebble.tlsCaPem);
  const configFile = writeConfig(dir, {
    gateway: { fqdn: FQDN },
    ...acmeGatewayConfig({ httpsPort, httpPort, acme: { directoryUrl: pebble.directoryUrl, caFile: pebble.tlsCaFile, challenge: 'http-01' } }),
    clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm.example.test:8443', address: '127.0.0.1' }], tls: { caFile: join(dir, 'cucm-ca.pem') } }],
    routes: TEST_ROUTES,
  });
  const renew = (...args: string[]) => runCli(['cert', 'renew', ...args, '--config', configFile], { cwd: dir, timeoutMs: 90_000 });

  const inOrder = (t: Test, stderr: string) => {
    const lines = stderr.split('\n').filter((line) => line.startsWith('ucgate: [+'));
    let at = -1;
    for (const step of STEPS) {
      const index = lines.findIndex((line, i) => i > at && step.test(line));
      t.ok(index > at, `step ${step} after the previous one`);
      if (index > at) at = index;
    }
    t.ok(lines.every((line) => /^ucgate: \[\+\d+\.\ds\] /.test(line)), 'each step carries the elapsed time');
  };

  await t.test('first issuance from the CLI, --json', async (t) => {
    const res = await renew('--json');
    t.equal(res.code, 0, res.stderr);
    t.comment(res.stderr.trimEnd());
    inOrder(t, res.stderr);
    t.match(res.stderr, /issuing the first certificate with the acme issuer/);
    const parsed = JSON.parse(res.stdout) as { via: string; results: { outcome: string }[] };
    t.match(parsed, { via: 'cli', results: [{ outcome: 'renewed' }] }, 'stdout parses as JSON, and nothing else is on it');
  });

  await t.test('a forced renewal, text output', async (t) => {
    const res = await renew('--force');
    t.equal(res.code, 0, res.stderr);
    inOrder(t, res.stderr);
    t.match(res.stderr, /renewing serial [0-9a-f]+ \(acme\)/);
    t.match(res.stdout, /^rsa-2048: renewed, serial/m);
    t.notMatch(res.stdout, /ucgate: \[\+/, 'steps stay off stdout');
  });
});
