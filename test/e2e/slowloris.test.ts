/**
 * Slowloris (issue 10): slowhttptest holds 200 connections open by sending a
 * header line every 5 s and never ending the head, while an independent
 * probe makes a fresh-connection request every 500 ms. The gateway must keep
 * serving the probe (judged by the probe, not by slowhttptest's own
 * "service available" flag, which is unreliable), and must cut connections
 * whose head never completes within about ten seconds.
 *
 * How long slow connections survive is measured twice: by slowhttptest itself
 * (it stops early, "No open connections left", once the gateway has cut them
 * all; its per-second CSV lags and only shows the attack was real), and by
 * raw connections of our own: a slowloris one trickling a header line every
 * 2 s, one that finishes TLS and sends nothing, one that opens TCP and never
 * starts TLS.
 */
import t from 'tap';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBrokenUpstream } from '../helpers/broken-upstream.js';
import { httpsRequest } from '../helpers/net.js';
import { rawConnect, type RawClosed } from '../helpers/raw-client.js';
import { startGatewayProcess, TEST_ROUTES, FQDN } from '../helpers/gateway.js';

/** slowhttptest's test length (-l), seconds: it bounds the whole attack. */
const ATTACK_SECONDS = 20;
/** What "cut within ~10 s" allows: the 10 s header timeout, its 1 s check interval, and scheduling slack. */
const CUT_WITHIN_MS = 12_000;

interface Probe {
  readonly at: number;
  readonly status: number;
  readonly ms: number;
  readonly error: string | undefined;
}

t.setTimeout(120_000);

t.test('slowloris: the probe keeps getting answers; slow heads are cut', async (t) => {
  const dir = t.testdir();
  const upstream = await startBrokenUpstream({ name: 'pub', hostname: 'cucm-pub.example.test' });
  t.teardown(() => upstream.close());
  const caFile = join(dir, 'upstream-ca.pem');
  writeFileSync(caFile, upstream.caPem);
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: upstream.url, address: '127.0.0.1' }], tls: { caFile } }],
    routes: TEST_ROUTES,
    log: { access: false },
  });
  const ca = await gw.trustPem();
  const first = await httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/version', ca, servername: FQDN });
  t.equal(first.status, 200, 'the gateway answers before the attack');

  // Our own slow connections, opened as the attack starts.
  const started = Date.now();
  const slowHead = await rawConnect({ port: gw.port, ca, servername: FQDN });
  await slowHead.write(`GET /cucm-uds/version HTTP/1.1\r\nHost: ${FQDN}\r\n`);
  const trickle = setInterval(() => void slowHead.write(`X-Slow-${Date.now() % 100000}: ${'a'.repeat(10)}\r\n`), 2_000);
  const silent = await rawConnect({ port: gw.port, ca, servername: FQDN });
  const noTls = net.connect({ host: '127.0.0.1', port: gw.port });
  noTls.on('error', () => {});
  const noTlsClosed = new Promise<RawClosed>((resolve) => {
    const openedAt = Date.now();
    noTls.once('close', (hadError) => resolve({ kind: hadError ? 'reset' : 'end', afterMs: Date.now() - openedAt, code: undefined }));
  });
  const bounded = (closed: Promise<RawClosed>, destroy: () => void): Promise<RawClosed | undefined> =>
    Promise.race<RawClosed | undefined>([closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), (ATTACK_SECONDS + 5) * 1000))]).finally(destroy);
  const slowHeadCut = bounded(slowHead.whenClosed, () => slowHead.destroy()).finally(() => clearInterval(trickle));
  const silentCut = bounded(silent.whenClosed, () => silent.destroy());
  const noTlsCut = bounded(noTlsClosed, () => noTls.destroy());

  // The attack.
  const csvPrefix = join(dir, 'slowloris');
  const attack = new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(
      'slowhttptest',
      ['-H', '-c', '200', '-r', '100', '-i', '5', '-x', '24', '-l', String(ATTACK_SECONDS), '-p', '3', '-g', '-o', csvPrefix, '-u', `https://127.0.0.1:${gw.port}/cucm-uds/version`],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), (ATTACK_SECONDS + 30) * 1000);
    t.teardown(() => {
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });

  // The independent probe: a new TLS connection every 500 ms, for as long as the attack runs.
  const probes: Probe[] = [];
  let attacking = true;
  const probing = (async () => {
    while (attacking) {
      const at = Date.now();
      const next = new Promise((resolve) => setTimeout(resolve, 500));
      try {
        const res = await httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/version', ca, servername: FQDN, agent: false, timeoutMs: 5_000 });
        probes.push({ at: at - started, status: res.status, ms: Date.now() - at, error: undefined });
      } catch (err) {
        probes.push({ at: at - started, status: 0, ms: Date.now() - at, error: `${(err as { code?: string }).code ?? ''} ${(err as Error).message}` });
      }
      await next;
    }
  })();

  const result = await attack;
  attacking = false;
  await probing;

  // --- the probe
  const failed = probes.filter((p) => p.status !== 200);
  const slowest = probes.reduce((max, p) => Math.max(max, p.ms), 0);
  t.ok(probes.length >= 10, `the probe ran throughout the attack (${probes.length} requests)`);
  t.same(
    failed.map((p) => `+${p.at} ms: ${p.status || p.error}`),
    [],
    `every probe request was answered 200 (${probes.length - failed.length}/${probes.length}, slowest ${slowest} ms)`,
  );

  // --- the attack was real: slowhttptest's per-second statistics
  const csvFile = `${csvPrefix}.csv`;
  t.ok(existsSync(csvFile), `slowhttptest wrote its statistics (exit ${result.code})`);
  const rows = existsSync(csvFile)
    ? readFileSync(csvFile, 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.split(',').map((cell) => cell.trim()))
        .map(([seconds, closed, pending, connected]) => ({ seconds: Number(seconds), closed: Number(closed), pending: Number(pending), connected: Number(connected) }))
    : [];
  const peak = rows.reduce((max, r) => Math.max(max, r.connected), 0);
  const allOpenAt = rows.find((r) => r.connected + r.closed >= peak)?.seconds ?? 0;
  t.ok(peak >= 150, `slowhttptest held at least 150 connections at once (peak ${peak}, all open by ${allOpenAt} s)`);
  // Its CSV lags (it notices a close only when it next writes), so the verdict is its summary: it stops
  // early with "No open connections left" once the gateway has cut them all, or runs into -l.
  const output = result.output.replace(/\x1b\[[0-9;]*m/g, '');
  const endedAt = Number(/Test ended on (\d+)\w* second/.exec(output)?.[1] ?? NaN);
  const exitStatus = /Exit status:\s*(.+)/.exec(output)?.[1]?.trim() ?? '(none)';
  t.comment(`slowhttptest: peak ${peak} connected, all open by ${allOpenAt} s; first closes seen at ${rows.find((r) => r.closed > 0)?.seconds ?? '-'} s; ended at ${endedAt} s: ${exitStatus}`);
  t.match(exitStatus, /No open connections left/, `the gateway cut every slowhttptest connection before the ${ATTACK_SECONDS} s limit (${exitStatus})`);
  const deadline = allOpenAt + Math.ceil(CUT_WITHIN_MS / 1000) + 2;
  t.ok(endedAt <= deadline, `within ~${CUT_WITHIN_MS / 1000} s of the last one opening: ended at ${endedAt} s, all open by ${allOpenAt} s (limit ${deadline} s)`);

  // --- our own slow connections
  const [slowHeadClosed, silentClosed, noTlsEnd] = await Promise.all([slowHeadCut, silentCut, noTlsCut]);
  const describe = (c: RawClosed | undefined) => (c ? `closed (${c.kind}) after ${c.afterMs} ms` : `still open after ${ATTACK_SECONDS + 5} s`);
  t.comment(`slow head: ${describe(slowHeadClosed)}; TLS but silent: ${describe(silentClosed)}; TCP without TLS: ${describe(noTlsEnd)}`);
  t.ok(slowHeadClosed && slowHeadClosed.afterMs <= CUT_WITHIN_MS, `a head trickled a line every 2 s is cut within ${CUT_WITHIN_MS} ms (${describe(slowHeadClosed)})`);
  t.match(slowHead.received().toString('latin1'), /^(HTTP\/1\.1 408 |$)/, 'with a 408 or nothing at all, never a proxied answer');
  t.ok(silentClosed && silentClosed.afterMs <= CUT_WITHIN_MS, `a TLS connection that never sends a request is cut within ${CUT_WITHIN_MS} ms (${describe(silentClosed)})`);
  t.ok(noTlsEnd && noTlsEnd.afterMs <= CUT_WITHIN_MS, `a TCP connection that never starts TLS is cut within ${CUT_WITHIN_MS} ms (${describe(noTlsEnd)})`);

  t.equal(upstream.proxied().filter((r) => r.rawHead.includes('X-Slow-')).length, 0, 'no slow head reached the upstream');
  const after = await httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/version', ca, servername: FQDN });
  t.equal(after.status, 200, 'the gateway answers after the attack');
  t.equal(gw.proc.exitCode, null, 'and is still running');
});
