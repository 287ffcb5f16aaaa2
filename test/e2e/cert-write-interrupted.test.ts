/**
 * A certificate write that cannot finish (issue 10): `ucgate cert import`,
 * run as a process against the file store of a running gateway, meets a
 * store it cannot write, or is killed with SIGKILL in the middle of its
 * writes. Afterwards, every time:
 * - the running gateway still serves the certificate it served (TLS handshake
 *   fingerprint), and after a SIGHUP it serves what the store's `active`
 *   pointer names;
 * - `active` names a complete version: certificate and key both there, both
 *   parse, the key is the certificate's;
 * - the next import is not blocked by a lock its killed predecessor held;
 * - a restarted gateway loads and serves that certificate, and the store's
 *   temp files are gone.
 *
 * Unwritable, as root: tests run as root in CI and root ignores permission
 * bits, so `chmod 0500` proves nothing. What does stop root:
 * - a path taken by something of the wrong kind: a file where the new
 *   version's folder must go (mkdir fails, ENOTDIR/EEXIST), or a non-empty
 *   folder where a pointer file must be renamed to (EISDIR). This works on any
 *   filesystem, so it always runs;
 * - the immutable attribute (`chattr +i`): a read-only folder even for root,
 *   where the filesystem supports it (ext4, xfs, btrfs; not tmpfs or
 *   overlayfs). A tiny tmpfs for ENOSPC would need mount rights the test
 *   machines do not grant.
 *
 * Killed midway: the import holds the store's issue lock for exactly its
 * writes, so the lock file appearing marks their start. A calibration import
 * measures how long the lock is held; each killed import then gets its
 * SIGKILL at a different point spread across that span (and a little past it).
 */
import t, { type Test } from 'tap';
import tls from 'node:tls';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, watch, statSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { createCa, issueLeaf, type KeyAndCertificate } from '../../src/pki/x509.js';
import { waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, writeConfig, runCli, MAIN, TEST_ROUTES, FQDN, type GatewayProcess } from '../helpers/gateway.js';

const KEY_TYPE = 'ecdsa-p256';
const KILLS = Number(process.env.UCGATE_KILL_ATTEMPTS ?? 10);

t.setTimeout(300_000);

interface Leaf {
  readonly certFile: string;
  readonly keyFile: string;
  readonly serial: string;
  readonly fingerprint: string;
}

/** Every path under `root` (relative), folders included. */
function listTree(root: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    out.push(rel);
    if (entry.isDirectory()) out.push(...listTree(root, rel));
  }
  return out;
}

t.test('a certificate write interrupted leaves a complete certificate served and loadable', async (t) => {
  const dir = t.testdir();
  const store = join(dir, 'certs');
  const keyTypeDir = join(store, 'certificates', KEY_TYPE);
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  const cucmCa = join(dir, 'cucm-ca.pem');
  writeFileSync(cucmCa, cucm.caPem);
  const ca: KeyAndCertificate = await createCa({ commonName: 'Interrupted Writes Test CA', keyType: KEY_TYPE });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.certPem);
  const config = {
    workers: 1,
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    // manual: a gateway that finds no usable certificate refuses to start instead of issuing one itself.
    certificates: { keyTypes: [KEY_TYPE], issuer: { type: 'manual' } },
    clusters: [clusterConfig(cucm, cucmCa)],
    routes: TEST_ROUTES,
  };
  const configFile = writeConfig(dir, config);

  let leaves = 0;
  const newLeaf = async (): Promise<Leaf> => {
    const leaf = await issueLeaf({ issuer: ca, commonName: FQDN, subjectAltNames: [FQDN], keyType: KEY_TYPE });
    const n = ++leaves;
    const certFile = join(dir, `leaf-${n}.pem`);
    const keyFile = join(dir, `leaf-${n}.key`);
    writeFileSync(certFile, leaf.certPem);
    writeFileSync(keyFile, leaf.keyPem);
    const x509 = new X509Certificate(leaf.certPem);
    return { certFile, keyFile, serial: x509.serialNumber.toLowerCase(), fingerprint: x509.fingerprint256 };
  };
  const importArgs = (leaf: Leaf) => ['cert', 'import', '--cert', leaf.certFile, '--chain', caFile, '--key', leaf.keyFile, '--config', configFile];
  const importLeaf = (leaf: Leaf) => runCli(importArgs(leaf), { cwd: dir, timeoutMs: 90_000 });

  /** What the store's `active` pointer names, checked to be complete: certificate and key present, parseable, matching. */
  const activeInStore = (): string => {
    const serial = readFileSync(join(keyTypeDir, 'active'), 'utf8').trim();
    const version = join(keyTypeDir, 'versions', serial);
    const certPem = readFileSync(join(version, 'certificate.pem'), 'utf8');
    const cert = new X509Certificate(certPem);
    const key = createPrivateKey(readFileSync(join(version, 'private-key.pem')));
    if (!cert.checkPrivateKey(key)) throw new Error(`active version ${serial}: the key is not the certificate's`);
    if (cert.serialNumber.toLowerCase() !== serial) throw new Error(`active names ${serial}, its certificate has serial ${cert.serialNumber}`);
    return cert.fingerprint256;
  };
  const tempFiles = () => listTree(store).filter((path) => /\.tmp$/.test(path));

  /** The fingerprint of the certificate a new TLS connection is served, verified against the CA and the FQDN. */
  const served = (gw: GatewayProcess) =>
    new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: gw.port, servername: FQDN, ca: ca.certPem }, () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      });
      socket.setTimeout(10_000, () => socket.destroy(new Error('TLS handshake timed out')));
      socket.on('error', reject);
    });
  const reload = async (gw: GatewayProcess) => {
    const applied = () => gw.logs.filter((line) => line.event === 'certificates_applied').length;
    const before = applied();
    gw.proc.kill('SIGHUP');
    await waitFor(() => applied() > before, { timeoutMs: 20_000, message: 'certificates applied after SIGHUP' });
  };
  const restart = async (gw: GatewayProcess): Promise<GatewayProcess> => {
    const stopped = await gw.stop('SIGTERM');
    t.equal(stopped.code, 0, 'the gateway stops cleanly');
    return startGatewayProcess(t, dir, config);
  };

  const first = await newLeaf();
  const initial = await importLeaf(first);
  t.equal(initial.code, 0, initial.stderr);
  let gw = await startGatewayProcess(t, dir, config);
  t.equal(await served(gw), first.fingerprint, 'the first imported certificate is served');
  let expected = first.fingerprint;

  /** After a failed write: still served, the store unchanged where it counts, and a retry is not blocked. */
  const checkRefused = async (t: Test, result: { code: number | null; stderr: string }) => {
    t.equal(result.code, 1, 'a store that cannot be written is a runtime failure: exit 1');
    t.match(result.stderr, /^ucgate: .+\n$/, `one line saying why (${result.stderr.trim()})`);
    t.equal(await served(gw), expected, 'the running gateway still serves the old certificate');
    t.equal(activeInStore(), expected, '`active` still names the old version, complete');
    await reload(gw);
    t.equal(await served(gw), expected, 'and after a SIGHUP reload, too');
    t.notOk(existsSync(join(store, 'locks', `issue-${KEY_TYPE}.lock`)), 'the issue lock was released');
    t.same(tempFiles(), [], 'no temp file left behind');
  };

  await t.test('the new version folder cannot be made: a file stands in its place (ENOTDIR)', async (t) => {
    const leaf = await newLeaf();
    const blocker = join(keyTypeDir, 'versions', leaf.serial);
    writeFileSync(blocker, 'not a folder\n');
    await checkRefused(t, await importLeaf(leaf));
    rmSync(blocker);
    const retry = await importLeaf(leaf);
    t.equal(retry.code, 0, `once the path is free, the same import succeeds (${retry.stderr.trim()})`);
    expected = leaf.fingerprint;
    await reload(gw);
    t.equal(await served(gw), expected, 'and is served after SIGHUP');
  });

  await t.test('the pointer cannot be written: a folder stands where `previous` goes (EISDIR)', async (t) => {
    const leaf = await newLeaf();
    const blocker = join(keyTypeDir, 'previous');
    const old = existsSync(blocker) ? readFileSync(blocker) : undefined;
    rmSync(blocker, { force: true });
    mkdirSync(join(blocker, 'in-the-way'), { recursive: true });
    await checkRefused(t, await importLeaf(leaf));
    t.ok(existsSync(join(keyTypeDir, 'versions', leaf.serial, 'certificate.pem')), 'the new version was written before the pointer failed: the case is mid-activation');
    rmSync(blocker, { recursive: true });
    if (old) writeFileSync(blocker, old);
  });

  // Probed on a folder of its own, so an unsupported filesystem is said so, not mistaken for a failed import.
  const probeDir = join(dir, 'chattr-probe');
  mkdirSync(probeDir);
  const probe = spawnSync('chattr', ['+i', probeDir], { encoding: 'utf8' });
  spawnSync('chattr', ['-i', probeDir]);
  const noChattr = probe.error || probe.status !== 0 ? `chattr +i is not available here (${probe.error?.message ?? probe.stderr.trim()}); the ENOTDIR and EISDIR cases cover unwritable paths` : false;
  await t.test('the key-type folder is read-only even for root (chattr +i)', { skip: noChattr }, async (t) => {
    t.equal(spawnSync('chattr', ['+i', keyTypeDir]).status, 0, 'chattr +i on the key-type folder');
    t.teardown(() => void spawnSync('chattr', ['-i', keyTypeDir]));
    const leaf = await newLeaf();
    await checkRefused(t, await importLeaf(leaf));
    t.equal(spawnSync('chattr', ['-i', keyTypeDir]).status, 0, 'writable again');
  });

  const leftByKills = new Set<string>();
  await t.test(`${KILLS} imports killed (SIGKILL) at points spread across their writes`, async (t) => {
    const locksDir = join(store, 'locks');
    mkdirSync(locksDir, { recursive: true });
    const lockName = `issue-${KEY_TYPE}.lock`;

    /** Runs an import; `killAfterMs` after its lock file appears, SIGKILL. Resolves how it ended and how long it held the lock. */
    const runImport = (leaf: Leaf, killAfterMs: number | undefined) =>
      new Promise<{ signal: NodeJS.Signals | null; code: number | null; heldMs: number | undefined; stderr: string }>((resolve, reject) => {
        let lockedAt: number | undefined;
        let heldMs: number | undefined;
        let stderr = '';
        const child = spawn(process.execPath, [MAIN, ...importArgs(leaf)], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
        // inotify on the locks folder: the lock file's creation starts the writes, its removal ends them.
        const watcher = watch(locksDir, (event, name) => {
          if (event !== 'rename' || name !== lockName) return;
          const present = existsSync(join(locksDir, lockName));
          if (present && lockedAt === undefined) {
            lockedAt = performance.now();
            if (killAfterMs !== undefined) {
              if (killAfterMs === 0) child.kill('SIGKILL');
              else setTimeout(() => child.kill('SIGKILL'), killAfterMs);
            }
          } else if (!present && lockedAt !== undefined && heldMs === undefined) heldMs = performance.now() - lockedAt;
        });
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error('cert import did not finish within 90 s'));
        }, 90_000);
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          watcher.close();
          resolve({ code, signal, heldMs, stderr });
        });
      });

    const calibration = await newLeaf();
    const calibrated = await runImport(calibration, undefined);
    t.equal(calibrated.code, 0, `an import left alone succeeds (${calibrated.stderr.trim()})`);
    t.ok(calibrated.heldMs !== undefined, `its writes seen: lock held ${calibrated.heldMs?.toFixed(1)} ms`);
    expected = calibration.fingerprint;
    await reload(gw);
    t.equal(await served(gw), expected);
    const spanMs = Math.max(calibrated.heldMs ?? 20, 5);

    const outcomes: string[] = [];
    let killedHoldingLock = 0;
    for (let i = 0; i < KILLS; i++) {
      const leaf = await newLeaf();
      const old = expected;
      // 0 … 1.2 × the calibrated span: from the very first write to just past the last.
      const killAfterMs = (i / Math.max(1, KILLS - 1)) * spanMs * 1.2;
      const result = await runImport(leaf, killAfterMs);
      // The lock a killed predecessor left must not hold this one up (it would wait a minute, then fail).
      if (result.signal !== 'SIGKILL') t.equal(result.code, 0, `import ${i + 1}, finished before its kill, succeeded (${result.stderr.trim()})`);
      const lockLeft = existsSync(join(locksDir, lockName));
      if (result.signal === 'SIGKILL' && lockLeft) killedHoldingLock++;
      const versionDir = join(keyTypeDir, 'versions', leaf.serial);
      const now = activeInStore();
      t.ok(now === old || now === leaf.fingerprint, `kill ${i + 1} at ${killAfterMs.toFixed(1)} ms: \`active\` names a complete version, the old or the new`);
      const state = result.signal !== 'SIGKILL' ? 'finished' : now === leaf.fingerprint ? 'killed after the switch' : existsSync(versionDir) ? 'killed mid-version' : 'killed before the version';
      // Left for the next open of the store to sweep (the next import's, or a restart's).
      const temps = tempFiles();
      for (const temp of temps) leftByKills.add(temp);
      outcomes.push(`${killAfterMs.toFixed(1)} ms: ${state}${lockLeft ? ', lock left' : ''}${temps.length ? `, ${temps.length} temp file(s) left` : ''}`);
      t.equal(await served(gw), old, 'the running gateway still serves what it served');
      await reload(gw);
      t.equal(await served(gw), now, 'after SIGHUP it serves what `active` names');
      expected = now;
    }
    t.comment(`kills: ${outcomes.join('; ')}`);
    t.ok(killedHoldingLock >= 2, `kills landed during the writes, the lock still held (${killedHoldingLock} of ${KILLS})`);

    const next = await newLeaf();
    const started = Date.now();
    const after = await importLeaf(next);
    t.equal(after.code, 0, `an import after the kills succeeds (${after.stderr.trim()})`);
    t.ok(Date.now() - started < 30_000, `without waiting out the killed imports' lock (${Date.now() - started} ms)`);
    expected = next.fingerprint;
    t.equal(activeInStore(), expected);
  });

  await t.test('a restarted gateway loads and serves the active certificate; what the kills left is swept', async (t) => {
    gw = await restart(gw);
    t.equal(await served(gw), expected, 'served after the restart');
    // Only what the kills left: the live gateway may be in the middle of a write of its own (renewal state).
    const remaining = tempFiles().filter((temp) => leftByKills.has(temp));
    t.same(remaining, [], `the ${leftByKills.size} temp file(s) the kills left are swept by the next open of the store`);
    const inFlight = tempFiles().filter((temp) => !leftByKills.has(temp));
    if (inFlight.length > 0) t.comment(`temp files of writes in flight now: ${inFlight.join(', ')}`);
    t.ok(statSync(join(keyTypeDir, 'versions', readFileSync(join(keyTypeDir, 'active'), 'utf8').trim(), 'private-key.pem')).mode % 0o1000 === 0o600, 'the served key is 0600');
  });
});
