/**
 * External account binding against a pebble that requires it, through
 * `ucgate cert renew` with no gateway running: the CLI binds the http-01
 * listener itself. No EAB and a wrong HMAC key each fail with a clear,
 * classified error and change nothing served; the right key issues. `cert
 * status` shows the certificate and every attempt.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeConfig, runCli, FQDN } from '../helpers/gateway.js';
import { startPebble, startChallTestSrv, freePort, acmeGatewayConfig } from '../helpers/pebble.js';

t.setTimeout(180_000);

t.test('EAB: required by the CA, refused with a wrong key, works with the right one', async (t) => {
  const dir = t.testdir();
  const dns = await startChallTestSrv(t);
  const httpsPort = await freePort();
  const httpPort = await freePort();
  const macKey = randomBytes(32).toString('base64url');
  const pebble = await startPebble(t, dir, { httpPort, tlsPort: httpsPort, dnsServer: dns.dnsServer, eab: { 'kid-1': macKey } });
  const hmacKeyFile = join(dir, 'eab.key');
  const config = (eab: boolean) => ({
    gateway: { fqdn: FQDN },
    ...acmeGatewayConfig({
      httpsPort,
      httpPort,
      acme: { directoryUrl: pebble.directoryUrl, caFile: pebble.tlsCaFile, challenge: 'http-01', ...(eab && { eab: { kid: 'kid-1', hmacKeyFile } }) },
    }),
    clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }] }],
  });
  const renew = (file: string) => runCli(['cert', 'renew', '--force', '--config', file], { timeoutMs: 60_000 });

  t.test('without EAB: the CA says it requires it, and the CLI says how to fix it', async (t) => {
    const result = await renew(writeConfig(dir, config(false), 'no-eab.yaml'));
    t.equal(result.code, 1, result.stderr);
    t.match(result.stdout, /rsa-2048: FAILED \(rejected\) UCGATE_ERR_ACME_REJECTED: the CA requires external account binding: set certificates\.issuer\.acme\.eab/);
  });

  t.test('a wrong HMAC key: refused, named, nothing activated', async (t) => {
    writeFileSync(hmacKeyFile, randomBytes(32).toString('base64url') + '\n', { mode: 0o600 });
    const result = await renew(writeConfig(dir, config(true), 'ucgate.yaml'));
    t.equal(result.code, 1, result.stderr);
    t.match(result.stdout, /FAILED \(rejected\) UCGATE_ERR_ACME_REJECTED: the CA refused the account with external account binding \(kid kid-1\)/);
    t.notOk(existsSync(join(dir, 'certs', 'certificates', 'rsa-2048', 'active')), 'no certificate activated');
  });

  t.test('the right key: issued through the CLI, which answered http-01 itself', async (t) => {
    writeFileSync(hmacKeyFile, macKey + '\n', { mode: 0o600 });
    const file = join(dir, 'ucgate.yaml');
    const result = await renew(file);
    t.equal(result.code, 0, result.stdout + result.stderr);
    t.match(result.stdout, /rsa-2048: renewed, serial [0-9a-f]+, valid until /);
    const status = await runCli(['cert', 'status', '--config', file]);
    t.equal(status.code, 0, status.stderr);
    t.match(status.stdout, /source\s+acme/);
    t.match(status.stdout, /renewal history \(latest last\)[\s\S]*rsa-2048\s+cli\s+failure\s+rejected: [\s\S]*rsa-2048\s+cli\s+success\s+serial /);
    const json = JSON.parse((await runCli(['cert', 'status', '--json', '--config', file])).stdout) as { renewals: { result: string; reason?: string }[] };
    t.same(
      json.renewals.map((r) => [r.result, r.reason]),
      [
        ['failure', 'rejected'],
        ['failure', 'rejected'],
        ['success', undefined],
      ],
      'every attempt is in the history',
    );
    const notDue = await runCli(['cert', 'renew', '--config', file]);
    t.equal(notDue.code, 0);
    t.match(notDue.stdout, /rsa-2048: not due until .* \(--force renews now\)/, 'without --force a fresh certificate is left alone');
  });
});
