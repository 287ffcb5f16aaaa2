/**
 * The control plane: owns the config, the certificates and upstream health,
 * and keeps the data plane supplied — one worker per core, or, with
 * `workers: 0`, the data plane inside this process (same code, one process).
 */
import type { Worker } from 'node:cluster';
import type { Logger } from '../log.js';
import type { UcgateConfig, ClusterConfig, NodeConfig } from '../config/types.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { ListenerAddress, PrimaryMessage, WireCertificate, WorkerMessage } from './messages.js';
import { openStorage } from '../store/create-storage.js';
import { createIssuer } from '../issuers/create-issuer.js';
import { CertificateManager } from '../certificates/certificate-manager.js';
import type { StoredCertificate } from '../certificates/certificate-store.js';
import { newTicketKeys, rotateTicketKeys } from '../tls/ticket-keys.js';
import { DataPlane } from '../worker/data-plane.js';
import { WorkerPool } from './worker-pool.js';
import { HealthManager } from '../upstream/health-manager.js';
import { SrvDiscovery } from '../upstream/srv-discovery.js';
import { readClusterCa } from '../upstream/upstream-node.js';
import type { FailureLayer } from '../upstream/node-health.js';
import { ControlPlaneMetrics } from '../metrics/control-plane-metrics.js';
import { startAdminServer, type AdminBackend, type Readiness } from '../admin/admin-server.js';
import { buildStatus } from './status.js';

export interface PrimaryOptions {
  readonly config: UcgateConfig;
  readonly log: Logger;
  readonly clock?: Clock;
}

function toWire(certificates: readonly StoredCertificate[]): WireCertificate[] {
  return certificates.map((cert) => ({ keyType: cert.keyType, certPem: cert.certPem, keyPem: cert.keyPem }));
}

export class Primary {
  readonly config: UcgateConfig;
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics = new ControlPlaneMetrics();
  readonly startedAt = Date.now();
  #certificates!: CertificateManager;
  readonly health: HealthManager;
  readonly #srv: SrvDiscovery;
  #ticketKeys = newTicketKeys();
  #rotation: { stop(): void } | undefined;
  #pool: WorkerPool | undefined;
  #inProcess: DataPlane | undefined;
  #admin: { close(): Promise<unknown> } | undefined;
  #stopping = false;
  #listeners: ListenerAddress[] = [];
  adminPort: number | undefined;

  constructor(options: PrimaryOptions) {
    this.config = options.config;
    this.log = options.log;
    this.clock = options.clock ?? systemClock;
    const cas = new Map<string, string | undefined>(options.config.clusters.map((cluster) => [cluster.name, readClusterCa(cluster)]));
    this.health = new HealthManager({ clock: this.clock, log: this.log, caFor: (cluster) => cas.get(cluster.name) });
    this.#srv = new SrvDiscovery({ clusters: options.config.clusters, clock: this.clock, log: this.log });
  }

  get listeners(): readonly ListenerAddress[] {
    return this.#listeners;
  }

  get certificates(): CertificateManager {
    return this.#certificates;
  }

  async start(): Promise<readonly ListenerAddress[]> {
    const config = this.config;
    const storage = await openStorage(config);
    this.#certificates = new CertificateManager({ config, storage, issuer: createIssuer(config, storage), clock: this.clock, log: this.log });
    const served = await this.#certificates.ensure();
    for (const cert of served) {
      this.log.info(
        { event: 'certificate_loaded', keyType: cert.keyType, source: cert.source, serial: cert.info.serialNumber, notAfter: cert.info.notAfter },
        `serving ${cert.keyType} certificate for ${cert.info.commonName}`,
      );
    }
    this.#recordCertificateExpiry(served);
    this.#certificates.on('change', (certs: readonly StoredCertificate[]) => {
      this.#recordCertificateExpiry(certs);
      this.#send({ t: 'certificates', certificates: toWire(certs) });
    });
    this.#rotation = rotateTicketKeys(this.clock, config.tls.ticketKeyRotationMs, (keys) => {
      this.#ticketKeys = keys;
      this.#send({ t: 'ticket-keys', ticketKeys: keys.toString('base64') });
      this.log.info({ event: 'ticket_keys_rotated' }, 'session-ticket keys rotated');
    });

    this.#watchHealth();
    for (const cluster of config.clusters) if (!cluster.srv) this.health.setNodes(cluster, cluster.nodes);
    this.#srv.on('nodes', (name: string, nodes: NodeConfig[]) => this.#applyNodes(name, nodes));
    await this.#srv.start();
    this.health.start();

    if (config.workers === 0) {
      this.#inProcess = new DataPlane({ log: this.log, observer: this.#localObserver() });
      this.#listeners = await this.#inProcess.start({ config, certificates: toWire(served), ticketKeys: this.#ticketKeys });
      for (const message of this.#catchUp()) this.#send(message);
    } else {
      this.#pool = new WorkerPool({
        count: config.workers,
        log: this.log,
        logLevel: config.log.level,
        initMessage: () => ({ t: 'init', config, certificates: toWire(this.#certificates.served), ticketKeys: this.#ticketKeys.toString('base64') }),
        catchUp: () => this.#catchUp(),
      });
      this.#pool.on('report', (message: WorkerMessage, worker: Worker) => this.#onReport(message, worker));
      this.#listeners = await this.#pool.start();
    }
    this.metrics.workers.set(config.workers);
    if (config.listen.admin) {
      const admin = await startAdminServer({ config: config.listen.admin, certificates: toWire(served), backend: this.#adminBackend(), log: this.log });
      this.#admin = admin.app;
      this.adminPort = admin.port;
    }
    this.log.info(
      { event: 'gateway_ready', listeners: this.#listeners, workers: config.workers, admin: this.adminPort === undefined ? undefined : { port: this.adminPort } },
      'ucgate ready',
    );
    return this.#listeners;
  }

  /** What a data plane that just started needs beyond init: node sets from SRV, and health. */
  #catchUp(): PrimaryMessage[] {
    const messages: PrimaryMessage[] = [];
    for (const cluster of this.config.clusters) {
      if (cluster.srv) messages.push({ t: 'nodes', cluster: cluster.name, nodes: this.#srv.nodes(cluster.name), health: this.health.effective() });
    }
    messages.push({ t: 'health', updates: this.health.effective() });
    return messages;
  }

  #applyNodes(clusterName: string, nodes: readonly NodeConfig[]): void {
    const cluster = this.config.clusters.find((candidate) => candidate.name === clusterName) as ClusterConfig;
    this.health.setNodes(cluster, nodes);
    this.#send({ t: 'nodes', cluster: clusterName, nodes, health: this.health.effective() });
  }

  #watchHealth(): void {
    this.health.on('change', (updates) => {
      for (const update of updates) this.metrics.nodeUp.set({ cluster: update.cluster, node: update.node }, update.healthy ? 1 : 0);
      this.#send({ t: 'health', updates });
    });
    this.health.on('check', (cluster: string, node: string, result: { ok: boolean; layer?: string }) => {
      if (!result.ok) this.metrics.checkFailures.inc({ cluster, node, layer: result.layer ?? 'unknown' });
    });
  }

  /** With `workers: 0`, the data plane reports straight to the health manager. */
  #localObserver() {
    return {
      failure: (node: { cluster: string; name: string }, failure: { class: string; code: string; message: string }) =>
        this.#onReport({ t: 'upstream-failure', cluster: node.cluster, node: node.name, class: failure.class, code: failure.code, message: failure.message }),
      serverError: (node: { cluster: string; name: string }, status: number, retryAfterMs: number | undefined) =>
        this.#onReport({ t: 'upstream-status', cluster: node.cluster, node: node.name, status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }),
      session: () => undefined,
    };
  }

  #onReport(message: WorkerMessage, from?: Worker): void {
    switch (message.t) {
      case 'upstream-failure':
        this.health.observe(message.cluster, message.node, {
          ok: false,
          source: 'request',
          layer: message.class === 'protocol' ? 'connect' : (message.class as FailureLayer),
          reason: `${message.code}: ${message.message}`,
        });
        break;
      case 'upstream-status':
        if (message.retryAfterMs !== undefined) this.health.coolDown(message.cluster, message.node, message.retryAfterMs);
        else if (message.status === 502 || message.status === 503 || message.status === 504) {
          this.health.observe(message.cluster, message.node, { ok: false, source: 'request', layer: 'status', reason: `status ${message.status}` });
        }
        break;
      case 'sticky':
        this.#pool?.broadcast(message, from);
        break;
    }
  }

  #send(message: PrimaryMessage): void {
    const plane = this.#inProcess;
    if (!plane) {
      this.#pool?.broadcast(message);
      return;
    }
    switch (message.t) {
      case 'certificates':
        plane.setCertificates(message.certificates);
        break;
      case 'ticket-keys':
        plane.setTicketKeys(Buffer.from(message.ticketKeys, 'base64'));
        break;
      case 'health':
        plane.setHealth(message.updates);
        break;
      case 'nodes':
        plane.setNodes(message.cluster, message.nodes, message.health);
        break;
      default:
        break;
    }
  }

  #recordCertificateExpiry(certs: readonly StoredCertificate[]): void {
    for (const cert of certs) {
      this.metrics.certificateExpiry.set(
        { name: `gateway-${cert.keyType}`, key_type: cert.keyType, source: cert.source },
        Math.floor(Date.parse(cert.info.notAfter) / 1000),
      );
    }
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    const now = this.clock.now();
    const served = this.#certificates?.served ?? [];
    if (served.length === 0) reasons.push('no certificate loaded');
    for (const cert of served) if (Date.parse(cert.info.notAfter) <= now) reasons.push(`certificate ${cert.keyType} expired`);
    const health = this.health.effective();
    for (const cluster of this.config.clusters) {
      const nodes = health.filter((update) => update.cluster === cluster.name);
      if (nodes.length === 0) reasons.push(`cluster ${cluster.name}: no nodes known`);
      else if (!nodes.some((update) => update.healthy)) reasons.push(`cluster ${cluster.name}: no healthy node`);
    }
    return { ready: reasons.length === 0, reasons };
  }

  async collectMetrics(): Promise<{ contentType: string; body: string }> {
    const snapshots = this.#inProcess ? [await this.#inProcess.metrics.registry.getMetricsAsJSON()] : ((await this.#pool?.metrics()) ?? []);
    return this.metrics.render(snapshots as Parameters<ControlPlaneMetrics['render']>[0]);
  }

  #adminBackend(): AdminBackend {
    return {
      readiness: () => this.readiness(),
      metrics: () => this.collectMetrics(),
      status: async () => buildStatus(this),
    };
  }

  /** Graceful stop: no new connections, in-flight requests finish within the grace period. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#rotation?.stop();
    this.health.stop();
    this.#srv.stop();
    const graceMs = this.config.shutdown.graceMs;
    this.log.info({ event: 'shutdown', graceMs }, 'stopping: draining in-flight requests');
    await Promise.all([this.#inProcess?.drain(graceMs), this.#pool?.stop(graceMs), this.#admin?.close()]);
  }
}
