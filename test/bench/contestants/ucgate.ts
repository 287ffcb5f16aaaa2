/**
 * ucgate as built (`node dist/main.js start`, on the bench's proxy runtime), two workers, configured like
 * the peers: the bench's front certificate (imported into its file store, as
 * `issuer: manual` expects), nodes by FQDN with `address: 127.0.0.1`, upstream
 * verified against the node CA, connect 1 s / first byte 5 s, health checks
 * every second with fall 2 / rise 2, access log off so logging is not measured.
 * It binds port 0 itself and names the port in its `gateway_ready` log line,
 * so there is no port race here.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeFileSync } from 'node:fs';
import { FileStorage } from '../../../src/store/file-storage.js';
import { activateCertificate } from '../../../src/certificates/certificate-store.js';
import { FQDN, NODES, type BenchPki } from '../lib/pki.js';
import { launch, waitForLine } from '../lib/proc.js';
import { waitUntilServing } from '../lib/probe.js';
import { RSA_ONLY_SIGALGS, servedLeaf } from '../lib/leaf-probe.js';
import type { UpstreamSet } from '../lib/types.js';
import { frontEndpoint, legNotes, ProcessContestant } from './common.js';

export class UcgateContestant extends ProcessContestant {
  readonly name: string;
  readonly #repo: string;
  readonly #workers: number;
  readonly #nodeArgs: readonly string[];

  /**
   * `nodeArgs` go before the script (e.g. `--cpu-prof`); node:cluster passes them on to the workers.
   * `name` other than ucgate: another build of it (`--compare DIR`), side by side in one run.
   */
  constructor(
    repo: string,
    workers = 2,
    nodeArgs: readonly string[] = [],
    name = 'ucgate',
    env: NodeJS.ProcessEnv = {},
    execPath = process.execPath,
    tlsAlpn = false,
    dual = false,
    processes = false,
  ) {
    super();
    this.#execPath = execPath;
    this.#repo = repo;
    this.#workers = workers;
    this.#nodeArgs = nodeArgs;
    this.name = name;
    this.#env = env;
    this.#tlsAlpn = tlsAlpn;
    this.#dual = dual;
    this.#processes = processes;
  }

  /**
   * With issuer acme and challenge tls-alpn-01 (`--alpn`), serving the same imported certificate:
   * the listener answers acme-tls/1, so every handshake pays whatever that costs. The directory is
   * never reached (the imported certificate is manual, never due), and no validator calls.
   */
  readonly #tlsAlpn: boolean;

  withTlsAlpn(): UcgateContestant {
    return new UcgateContestant(this.#repo, this.#workers, this.#nodeArgs, `${this.name}-alpn`, this.#env, this.#execPath, true, this.#dual, this.#processes);
  }

  /**
   * With the dual certificate (`--dual`): `keyTypes: [rsa-2048, ecdsa-p256]`, the bench's RSA leaf and
   * an ECDSA P-256 leaf for the same name, so a client offering ECDSA (the bench's Node clients, as
   * Jabber and browsers) gets the ECDSA leaf and one offering RSA only (phones) the RSA one. Its
   * notes say which leaf each kind of client was served.
   */
  readonly #dual: boolean;

  withDualCertificate(): UcgateContestant {
    return new UcgateContestant(this.#repo, this.#workers, this.#nodeArgs, `${this.name}-dual`, this.#env, this.#execPath, this.#tlsAlpn, true, this.#processes);
  }

  /**
   * With `workerMode: process` (`--processes`): the workers as processes under node:cluster, as
   * before worker threads (and as on runtimes without reusePort), for the two side by side.
   */
  readonly #processes: boolean;

  withProcessWorkers(): UcgateContestant {
    return new UcgateContestant(this.#repo, this.#workers, this.#nodeArgs, `${this.name}-processes`, this.#env, this.#execPath, this.#tlsAlpn, this.#dual, true);
  }

  /** The node binary it runs on (the bench's proxy runtime, lib/runtime.ts). */
  readonly #execPath: string;

  /** Extra environment (inherited by the workers): deployment settings such as NODE_OPTIONS, compared with `--variant`. */
  readonly #env: NodeJS.ProcessEnv;

  config(upstream: UpstreamSet, pki: BenchPki, certDir: string): Record<string, unknown> {
    return {
      gateway: { fqdn: FQDN, altNames: ['127.0.0.1'] },
      listen: { https: [{ host: '127.0.0.1', port: 0 }] },
      certificates: {
        dir: certDir,
        keyTypes: this.#dual ? ['rsa-2048', 'ecdsa-p256'] : ['rsa-2048'],
        issuer: this.#tlsAlpn ? { type: 'acme', acme: { directoryUrl: 'https://127.0.0.1:9/directory', challenge: 'tls-alpn-01' } } : { type: 'manual' },
      },
      clusters: [
        {
          name: 'cucm',
          nodes: upstream.nodes.map((node, i) => ({
            name: node.name,
            url: `https://${NODES[i]!.hostname}:${node.port}`,
            address: '127.0.0.1',
            priority: i + 1,
          })),
          tls: { caFile: pki.nodeCaFile, verify: true },
          healthCheck: { path: '/cucm-uds/version', intervalMs: 1000, timeoutMs: 1000, fall: 2, rise: 2, expectStatus: 200, expectBody: '<versionInformation' },
          timeouts: { connectMs: 1000, firstByteMs: 5000 },
          retries: 2,
        },
      ],
      workers: this.#workers,
      // Only when asked for: a --compare build from before workerMode would refuse the key.
      ...(this.#processes && { workerMode: 'process' }),
      log: { level: 'info', access: false },
      // Every bench client comes from 127.0.0.1: the per-address limit (500) would refuse the idle-memory workload's 1,000.
      limits: { http: { maxConnectionsPerClient: 100_000 } },
      shutdown: { graceMs: 1000 },
    };
  }

  async start(upstream: UpstreamSet, pki: BenchPki, workDir: string): Promise<void> {
    const main = join(this.#repo, 'dist', 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
    const dir = this.dir(workDir);
    const certDir = join(dir, 'certs');
    // A fresh store per start: the front certificate is the only one it may serve.
    rmSync(certDir, { recursive: true, force: true });
    const storage = await new FileStorage(certDir).open();
    await activateCertificate(storage, { certPem: pki.frontCertPem, chainPem: '', keyPem: pki.frontKeyPem, keyType: 'rsa-2048', source: 'manual' });
    if (this.#dual) {
      await activateCertificate(storage, { certPem: pki.frontEcdsaCertPem, chainPem: '', keyPem: pki.frontEcdsaKeyPem, keyType: 'ecdsa-p256', source: 'manual' });
    }
    const configFile = join(dir, 'ucgate.yaml');
    writeFileSync(configFile, stringify(this.config(upstream, pki, certDir)));

    const child = launch(this.name, this.#execPath, [...this.#nodeArgs, main, 'start', '--config', configFile], { cwd: dir, env: this.#env });
    this.#seen = 0;
    try {
      const port = await waitForLine(
        child,
        (line) => {
          if (!line.includes('gateway_ready')) return undefined;
          const ready = JSON.parse(line) as { listeners: { port: number }[] };
          return ready.listeners[0]!.port;
        },
        30_000,
      );
      const ep = frontEndpoint(port, pki);
      this.facts = legNotes(this.name, await waitUntilServing(ep, 15_000, child.alive));
      // Which leaf the bench's clients get (Node's default signature algorithms, ECDSA first) and which a phone would.
      this.facts.push(`${this.name}: leaf served to the bench's Node clients ${await servedLeaf(ep)}, to an RSA-only client ${await servedLeaf(ep, RSA_ONLY_SIGALGS)}`);
      this.child = child;
      this.ep = ep;
    } catch (err) {
      await child.stop(2000);
      throw err;
    }
  }

  #seen = 0;

  /** Its warn/error log lines since the last call (most frequent first), for the notes. */
  complaints(): string[] {
    const counts = new Map<string, number>();
    const lines = this.child?.lines ?? [];
    const fresh = lines.slice(this.#seen);
    this.#seen = lines.length;
    for (const line of fresh) {
      if (!/"level":"(warn|error|fatal)"/.test(line)) continue;
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        const key = `${String(entry.level)} ${String(entry.event ?? '')} ${String(entry.msg ?? '')} ${String(entry.reason ?? entry.err ?? entry.code ?? '')}`.trim();
        counts.set(key, (counts.get(key) ?? 0) + 1);
      } catch {
        counts.set(line.slice(0, 200), (counts.get(line.slice(0, 200)) ?? 0) + 1);
      }
    }
    return [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, n]) => `ucgate log: ${k} (×${n})`);
  }
}
