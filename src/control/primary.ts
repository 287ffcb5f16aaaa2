/**
 * The control plane: owns the config, the certificates and upstream health,
 * and keeps the data plane supplied — one worker per core, or, with
 * `workers: 0`, the data plane inside this process (same code, one process):
 * either way through a DataPlaneLink (data-plane-link.ts).
 */
import type { Logger } from '../log.js';
import type { UcgateConfig, ClusterConfig, NodeConfig } from '../config/types.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { ListenerAddress, PrimaryMessage, WireCertificate, WorkerMessage } from '../wire/messages.js';
import { openStorage } from '../store/create-storage.js';
import { isStoreUnavailable, type Storage } from '../store/storage.js';
import type { StoreStatus } from '../store/shared-store.js';
import { isSharedStore } from '../store/shared-store-check.js';
import { loadActiveCertificate } from '../certificates/certificate-store.js';
import type { StoreChange, StoreEvents } from '../store/store-events.js';
import { createIssuer } from '../issuers/create-issuer.js';
import { CertificateManager } from '../certificates/certificate-manager.js';
import type { StoredCertificate } from '../certificates/certificate-store.js';
import { newTicketKeys, rotateTicketKeys } from '../tls/ticket-keys.js';
import { createDataPlaneLink, type WorkerRef, type DataPlaneLink } from './data-plane-link.js';
import { HealthManager } from '../upstream/health-manager.js';
import { SrvDiscovery } from '../upstream/srv-discovery.js';
import { gatewaySelf } from '../net/self-target.js';
import { readClusterCa } from '../upstream/cluster-ca.js';
import { LearnedFiles } from '../tftp/learned-files.js';
import { ControlPlaneMetrics } from '../metrics/control-plane-metrics.js';
import type { AdminServer, AdminBackend, Readiness } from '../admin/admin-server.js';
import { loadConfigFile } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { problemPath } from '../config/locate.js';
import { planReload } from './reload.js';
import { createAdminBackend } from './admin-backend.js';
import { watchHealth } from './health-watch.js';
import { onWorkerReport, type ReportTargets } from './worker-reports.js';
import { NodeDrains } from './node-drains.js';
import { warnAtStart } from './startup-warnings.js';
import { ChallengeDistributor } from './challenge-distributor.js';
import { WorkerAcks, type AckReport } from '../lifecycle/worker-acks.js';
import { createRenewalService } from '../lifecycle/renewal-service.js';
import type { RenewalMaintenance } from '../lifecycle/maintenance.js';
import { gatewayReadiness } from './readiness.js';
import { createTrustPublisher, type TrustPublisher } from '../cucm-trust/trust-publisher.js';
import { startTrustMaintenance, type TrustMaintenance } from '../cucm-trust/trust-maintenance.js';
import { hasExpired } from '../certificates/renewal-policy.js';
import { HeapRelease, v8HeapReleaseProbe } from '../heap-release.js';
import { allocatorInUse } from '../allocator.js';

export interface PrimaryOptions {
  readonly config: UcgateConfig;
  readonly log: Logger;
  readonly clock?: Clock;
}

function toWire(certificates: readonly StoredCertificate[]): WireCertificate[] {
  return certificates.map((cert) => ({ keyType: cert.keyType, certPem: cert.certPem, keyPem: cert.keyPem }));
}

export interface ReloadResult {
  readonly ok: boolean;
  readonly problems?: readonly string[];
  readonly restartNeeded?: readonly string[];
}

export class Primary {
  /** Replaced whole by a reload; never mutated. */
  config: UcgateConfig;
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics = new ControlPlaneMetrics();
  readonly startedAt = Date.now();
  #certificates!: CertificateManager;
  readonly health: HealthManager;
  /** Jabber group configuration files the workers learned, per cluster (src/tftp/learned-files.ts): shown in status, handed to new workers. */
  readonly tftpFiles = new LearnedFiles();
  #srv: SrvDiscovery;
  readonly #clusterCas = new Map<string, string | undefined>();
  #ticketKeys = newTicketKeys();
  #rotation: { stop(): void } | undefined;
  #heapRelease: HeapRelease | undefined;
  #trustMaintenance: TrustMaintenance | undefined;
  /** certificates.cucmTrust: the activation gate, per-node status and `confirm-trust` (admin API). */
  trustPublisher: TrustPublisher | undefined;
  /** Node maintenance (src/control/node-drains.ts): drained nodes, kept in the store. */
  drains: NodeDrains | undefined;
  #link: DataPlaneLink | undefined;
  #admin: AdminServer | undefined;
  #stopping = false;
  #listeners: ListenerAddress[] = [];
  adminPort: number | undefined;
  #storage: Storage | undefined;
  #storeEvents: StoreEvents | undefined;
  #storeSync: Promise<unknown> | undefined;
  // ACME challenges and certificate swaps wait for every worker's ack (src/lifecycle/worker-acks.ts).
  readonly #acks = new WorkerAcks({ timeoutMs: 5_000 });
  /** What a worker's report may change (src/control/worker-reports.ts). */
  readonly #reportTargets: ReportTargets;
  #challenges: ChallengeDistributor | undefined;
  #renewals: RenewalMaintenance | undefined;
  #certificatesApplied: Promise<AckReport> = Promise.resolve({ expected: 0, acked: 0, timedOut: false, ms: 0 });

  constructor(options: PrimaryOptions) {
    this.config = options.config;
    this.log = options.log;
    this.clock = options.clock ?? systemClock;
    for (const cluster of options.config.clusters) this.#clusterCas.set(cluster.name, readClusterCa(cluster));
    this.health = new HealthManager({ clock: this.clock, log: this.log, caFor: (cluster) => this.#clusterCas.get(cluster.name) });
    const relay = (message: PrimaryMessage, except?: WorkerRef) => this.#link?.relay(message, except);
    this.#reportTargets = { config: () => this.config, health: this.health, tftpFiles: this.tftpFiles, acks: this.#acks, log: this.log, relay };
    this.#srv = new SrvDiscovery({ clusters: options.config.clusters, clock: this.clock, log: this.log, self: () => gatewaySelf(this.config, this.#listeners) });
  }

  get listeners(): readonly ListenerAddress[] {
    return this.#listeners;
  }

  get certificates(): CertificateManager {
    return this.#certificates;
  }

  async start(): Promise<readonly ListenerAddress[]> {
    const config = this.config;
    const storage = await openStorage(config, { mode: 'gateway', log: this.log });
    this.#storage = storage;
    this.drains = new NodeDrains({ health: this.health, storage, clock: this.clock, log: this.log });
    await this.drains.load();
    this.#challenges = new ChallengeDistributor({ storage, log: this.log, broadcast: (make) => this.#broadcastAcked(make) });
    const issuer = await createIssuer(config, storage, { challenges: this.#challenges, log: this.log, clock: this.clock });
    const publisher = createTrustPublisher({ config, storage, clock: this.clock, log: this.log, actor: 'gateway', registry: this.metrics.registry });
    this.trustPublisher = publisher;
    this.#certificates = new CertificateManager({ config, storage, issuer, clock: this.clock, log: this.log, ...(publisher && { gate: publisher }) });
    const served = await this.#ensureCertificates();
    for (const cert of served) {
      this.log.info(
        { event: 'certificate_loaded', keyType: cert.keyType, source: cert.source, serial: cert.info.serialNumber, notAfter: cert.info.notAfter },
        `serving ${cert.keyType} certificate for ${cert.info.commonName}`,
      );
    }
    this.metrics.recordGatewayCertificates(served);
    this.#certificates.on('change', (certs: readonly StoredCertificate[]) => {
      this.#admin?.setCertificates(toWire(certs));
      this.metrics.recordGatewayCertificates(certs);
      this.#certificatesApplied = this.#broadcastAcked((ackId) => ({ t: 'certificates', certificates: toWire(certs), ackId }));
    });
    this.#rotation = rotateTicketKeys(this.clock, config.tls.ticketKeyRotationMs, (keys) => {
      this.#ticketKeys = keys;
      this.#send({ t: 'ticket-keys', ticketKeys: keys.toString('base64') });
      this.log.info({ event: 'ticket_keys_rotated' }, 'session-ticket keys rotated');
    });

    watchHealth(this.health, this.metrics, this.log, (updates) => this.#send({ t: 'health', updates }));
    for (const cluster of config.clusters) if (!cluster.srv) this.health.setNodes(cluster, cluster.nodes);
    this.#srv.on('nodes', (name: string, nodes: NodeConfig[]) => this.#applyNodes(name, nodes));
    await this.#srv.start();
    this.health.start();

    // Before the data plane: worker threads started afterwards then find gc() too (heap-release.ts).
    this.#heapRelease = new HeapRelease({ clock: this.clock, log: this.log, probe: v8HeapReleaseProbe() });
    this.#heapRelease.start();
    this.#link = await createDataPlaneLink({
      config: () => this.config,
      log: this.log,
      init: () => ({ certificates: toWire(this.#certificates.served), ticketKeys: this.#ticketKeys }),
      catchUp: () => this.#catchUp(),
      onReport: (message: WorkerMessage, from?: WorkerRef) => this.#onReport(message, from),
    });
    this.#listeners = await this.#link.start();
    this.metrics.workers.set(config.workers);
    // Renewal starts once the listeners run: ACME challenges are answered by them.
    this.#renewals = createRenewalService({
      config,
      storage,
      manager: this.#certificates,
      clock: this.clock,
      log: this.log,
      registry: this.metrics.registry,
      renewals: this.metrics.renewals,
      serve: (cert) => {
        this.#certificates.replaceServed(cert);
        return this.#certificatesApplied;
      },
      ...(publisher && { gate: publisher }),
    });
    this.#renewals.start();
    if (publisher) this.#trustMaintenance = startTrustMaintenance({ publisher, manager: this.#certificates, storage, clock: this.clock, log: this.log });
    this.#watchStore();
    warnAtStart(config, this.#listeners, this.log);
    if (config.listen.admin) {
      // fastify and the dashboard load only where an admin listener is configured.
      const { startAdminServer } = await import('../admin/admin-server.js');
      const admin = await startAdminServer({
        config: config.listen.admin,
        certificates: toWire(served),
        backend: this.#adminBackend(),
        log: this.log,
        // Hosts it answers (issue 17, DNS rebinding): the running config's, so a reload's altNames count.
        gatewayNames: () => this.config,
      });
      this.#admin = admin;
      this.adminPort = admin.port;
    }
    this.log.info(
      { event: 'gateway_ready', listeners: this.#listeners, workers: config.workers, workerMode: this.#link.mode, allocator: allocatorInUse(), admin: this.adminPort === undefined ? undefined : { port: this.adminPort } },
      'ucgate ready',
    );
    void this.#heapRelease.releaseNow('started');
    return this.#listeners;
  }

  /** What a data plane that just started needs beyond init: node sets from SRV, and health. */
  #catchUp(): PrimaryMessage[] {
    const messages: PrimaryMessage[] = [];
    for (const cluster of this.config.clusters) {
      if (cluster.srv) messages.push({ t: 'nodes', cluster: cluster.name, nodes: this.#srv.nodes(cluster.name), health: this.health.effective() });
    }
    messages.push({ t: 'health', updates: this.health.effective() });
    for (const cluster of this.config.clusters) {
      const names = this.tftpFiles.list(cluster.name);
      if (names.length > 0) messages.push({ t: 'tftp-files', cluster: cluster.name, names });
    }
    messages.push(...(this.#challenges?.catchUp() ?? []));
    return messages;
  }

  #applyNodes(clusterName: string, nodes: readonly NodeConfig[]): void {
    const cluster = this.config.clusters.find((candidate) => candidate.name === clusterName) as ClusterConfig;
    this.health.setNodes(cluster, nodes);
    this.#send({ t: 'nodes', cluster: clusterName, nodes, health: this.health.effective() });
  }

  #onReport(message: WorkerMessage, from?: WorkerRef): void {
    onWorkerReport(this.#reportTargets, message, from);
  }

  /** Sends to every worker (or applies in process) and resolves when all acknowledged it. */
  #broadcastAcked(make: (ackId: number) => PrimaryMessage): Promise<AckReport> {
    const { id, done } = this.#acks.expect(this.#link?.ackers ?? 0);
    this.#send(make(id));
    return done;
  }

  #send(message: PrimaryMessage): void {
    this.#link?.send(message);
  }

  readiness(): Readiness {
    return gatewayReadiness({
      served: this.#certificates?.served ?? [],
      clusters: this.config.clusters,
      health: this.health.effective(),
      store: this.storeStatus(),
      now: this.clock.now(),
    });
  }

  /**
   * ensure(), except that with the shared store down a certificate that is
   * due (but still valid) is served from the local copy instead of failing
   * the start: ensure() would need the lock to renew it, and no renewal
   * happens without the lock. The renewal loop renews once Redis is back.
   */
  async #ensureCertificates(): Promise<readonly StoredCertificate[]> {
    try {
      return await this.#certificates.ensure();
    } catch (err) {
      const storage = this.#storage;
      if (!isSharedStore(storage) || !isStoreUnavailable(err)) throw err;
      for (const keyType of this.config.certificates.keyTypes) {
        const cert = await loadActiveCertificate(storage, keyType).catch(() => undefined);
        if (!cert || hasExpired(cert, this.clock.now())) throw err;
        this.#certificates.replaceServed(cert);
      }
      this.log.warn({ event: 'certificates_from_local_copy', err: (err as Error).message }, 'certificate store unreachable: serving the last good certificates, renewal waits for the store');
      return this.#certificates.served;
    }
  }

  /** The certificate store's state: always connected for the file store. */
  storeStatus(): StoreStatus {
    const storage = this.#storage;
    return isSharedStore(storage) ? storage.status() : { type: 'file', connected: true, degradedSince: null, lastError: null };
  }

  /**
   * A shared store: reload when another instance activates a certificate
   * (announcement, periodic check, reconnection), and keep ucgate_store_up.
   */
  #watchStore(): void {
    const storage = this.#storage;
    if (!isSharedStore(storage)) return;
    const up = () => this.metrics.storeUp.set({ type: 'redis' }, storage.connection.up ? 1 : 0);
    storage.on('up', up);
    storage.on('down', up);
    up();
    this.metrics.primeStoreReloads();
    this.#storeEvents = storage.watch({
      keyTypes: this.config.certificates.keyTypes,
      servedSerial: (keyType) => this.#certificates.served.find((cert) => cert.keyType === keyType)?.info.serialNumber,
      checkIntervalMs: this.config.certificates.store.checkIntervalMs,
      clock: this.clock,
      log: this.log,
    });
    this.#storeEvents.on('change', (change: StoreChange) => {
      this.log.info({ event: 'store_certificate_changed', ...change }, `${change.keyType} certificate ${change.serial} is active in the store: reloading`);
      this.metrics.storeReloads.inc({ via: change.via });
      // One reload at a time; the maintenance pass reloads from the store first (and joins a pass already running).
      this.#storeSync ??= (this.#renewals ? this.#renewals.tick() : this.#certificates.ensure())
        .catch((err: Error) => this.log.error({ event: 'store_reload_failed', err: err.message }, 'could not reload certificates from the store'))
        .finally(() => (this.#storeSync = undefined));
    });
  }

  async collectMetrics(): Promise<{ contentType: string; body: string }> {
    const snapshots = (await this.#link?.metrics()) ?? [];
    return this.metrics.render(snapshots as Parameters<ControlPlaneMetrics['render']>[0]);
  }

  #adminBackend(): AdminBackend {
    return createAdminBackend(this, this.#storage, () => this.#renewals);
  }

  /**
   * Reads the config file again and applies it without dropping a
   * connection. A config that does not validate changes nothing: the old one
   * keeps running and the problems are returned (and logged).
   */
  async reload(): Promise<ReloadResult> {
    const running = this.config;
    if (!running.configFile) return { ok: false, problems: ['config: this gateway was started without a config file'] };
    let next: UcgateConfig;
    try {
      next = await loadConfigFile(running.configFile);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [`config: ${(err as Error).message}`];
      // The reasons in the message itself (issue 18): a person reading the line sees which keys and why.
      const keys = [...new Set(problems.map((problem) => problemPath(problem)))];
      const located = err instanceof ConfigError ? err.located : problems;
      this.log.warn({ event: 'reload_rejected', keys, problems, located }, `reload refused, the running config stays: ${problems.join('; ')}`);
      return { ok: false, problems };
    }
    const plan = planReload(running, next);
    const config = plan.config;
    this.config = config;
    for (const cluster of config.clusters) this.#clusterCas.set(cluster.name, readClusterCa(cluster));
    for (const cluster of running.clusters) if (!config.clusters.some((c) => c.name === cluster.name)) this.health.removeCluster(cluster.name);
    this.tftpFiles.retain(config.clusters.map((cluster) => cluster.name));
    this.#srv.stop();
    this.#srv = new SrvDiscovery({ clusters: config.clusters, clock: this.clock, log: this.log, self: () => gatewaySelf(this.config, this.#listeners) });
    this.#srv.on('nodes', (name: string, nodes: NodeConfig[]) => this.#applyNodes(name, nodes));
    for (const cluster of config.clusters) if (!cluster.srv) this.health.setNodes(cluster, cluster.nodes);
    if (this.#link) this.#listeners = await this.#link.applyConfig(config);
    await this.#srv.start();
    for (const message of this.#catchUp()) this.#send(message);
    this.log.info(
      { event: 'reload_applied', listeners: this.#listeners, clusters: config.clusters.map((c) => c.name), routes: config.routes.length, restartNeeded: plan.restartNeeded },
      plan.restartNeeded.length > 0 ? `config reloaded; takes effect after a restart: ${plan.restartNeeded.join(', ')}` : 'config reloaded',
    );
    return { ok: true, restartNeeded: plan.restartNeeded };
  }

  /** SIGHUP: certificates imported or renewed from outside (CLI, another instance), and the admin token. */
  async reloadCertificates(): Promise<void> {
    this.#admin?.reloadToken();
    await this.#certificates.ensure();
  }

  /** Graceful stop: no new connections, in-flight requests finish within the grace period. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#rotation?.stop();
    this.#heapRelease?.stop();
    this.#trustMaintenance?.stop();
    this.#renewals?.stop();
    this.health.stop();
    this.#srv.stop();
    const graceMs = this.config.shutdown.graceMs;
    this.log.info({ event: 'shutdown', graceMs }, 'stopping: draining in-flight requests');
    this.#storeEvents?.stop();
    await Promise.all([this.#link?.stop(graceMs), this.#admin?.close()]);
    if (isSharedStore(this.#storage)) await this.#storage.close();
  }
}
