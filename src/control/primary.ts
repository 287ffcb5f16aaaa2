/**
 * The control plane: owns the config, the certificates and (later) health,
 * forks one data-plane worker per core and keeps them supplied. With
 * `workers: 0` the data plane runs in this process instead — same code, one
 * process, which is what small sites and many tests want.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import type { UcgateConfig } from '../config/types.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { ListenerAddress, PrimaryMessage, WireCertificate, WorkerMessage, NodeHealthUpdate } from './messages.js';
import { openStorage } from '../store/create-storage.js';
import { createIssuer } from '../issuers/create-issuer.js';
import { CertificateManager } from '../certificates/certificate-manager.js';
import type { StoredCertificate } from '../certificates/certificate-store.js';
import { newTicketKeys, rotateTicketKeys } from '../tls/ticket-keys.js';
import { DataPlane } from '../worker/data-plane.js';

const WORKER_START_TIMEOUT_MS = 30_000;
const RESTART_DELAY_MS = 500;

export interface PrimaryOptions {
  readonly config: UcgateConfig;
  readonly log: Logger;
  readonly clock?: Clock;
}

function toWire(certificates: readonly StoredCertificate[]): WireCertificate[] {
  return certificates.map((cert) => ({ keyType: cert.keyType, certPem: cert.certPem, keyPem: cert.keyPem }));
}

export class Primary {
  readonly #config: UcgateConfig;
  readonly #log: Logger;
  readonly #clock: Clock;
  #certificates!: CertificateManager;
  #ticketKeys = newTicketKeys();
  #rotation: { stop(): void } | undefined;
  #workers = new Set<Worker>();
  #inProcess: DataPlane | undefined;
  #stopping = false;
  #listeners: ListenerAddress[] = [];
  #health: NodeHealthUpdate[] = [];

  constructor(options: PrimaryOptions) {
    this.#config = options.config;
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
  }

  get listeners(): readonly ListenerAddress[] {
    return this.#listeners;
  }

  get certificates(): CertificateManager {
    return this.#certificates;
  }

  async start(): Promise<readonly ListenerAddress[]> {
    const config = this.#config;
    const storage = await openStorage(config);
    this.#certificates = new CertificateManager({ config, storage, issuer: createIssuer(config, storage), clock: this.#clock, log: this.#log });
    const served = await this.#certificates.ensure();
    for (const cert of served) {
      this.#log.info(
        { event: 'certificate_loaded', keyType: cert.keyType, source: cert.source, serial: cert.info.serialNumber, notAfter: cert.info.notAfter },
        `serving ${cert.keyType} certificate for ${cert.info.commonName}`,
      );
    }
    this.#certificates.on('change', (certs: readonly StoredCertificate[]) => this.#broadcast({ t: 'certificates', certificates: toWire(certs) }));
    this.#rotation = rotateTicketKeys(this.#clock, config.tls.ticketKeyRotationMs, (keys) => {
      this.#ticketKeys = keys;
      this.#broadcast({ t: 'ticket-keys', ticketKeys: keys.toString('base64') });
      this.#log.info({ event: 'ticket_keys_rotated' }, 'session-ticket keys rotated');
    });

    if (config.workers === 0) {
      this.#inProcess = new DataPlane({ log: this.#log });
      this.#listeners = await this.#inProcess.start({ config, certificates: toWire(served), ticketKeys: this.#ticketKeys });
    } else {
      // Workers run the same entry point as this process (main.ts under tsx in tests, main.js when built).
      const entry = new URL(import.meta.url.endsWith('.ts') ? '../main.ts' : '../main.js', import.meta.url);
      cluster.setupPrimary({ exec: fileURLToPath(entry) });
      const started = await Promise.all(Array.from({ length: config.workers }, () => this.#fork()));
      this.#listeners = started[0] ?? [];
    }
    this.#log.info({ event: 'gateway_ready', listeners: this.#listeners, workers: config.workers }, 'ucgate ready');
    return this.#listeners;
  }

  #initMessage(): PrimaryMessage {
    return {
      t: 'init',
      config: this.#config,
      certificates: toWire(this.#certificates.served),
      ticketKeys: this.#ticketKeys.toString('base64'),
    };
  }

  #fork(): Promise<ListenerAddress[]> {
    const worker = cluster.fork({ UCGATE_WORKER: '1', UCGATE_LOG_LEVEL: this.#config.log.level });
    this.#workers.add(worker);
    const ready = new Promise<ListenerAddress[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker did not start listening in time')), WORKER_START_TIMEOUT_MS);
      worker.on('message', (message: WorkerMessage) => {
        switch (message.t) {
          case 'hello':
            worker.send(this.#initMessage());
            break;
          case 'listening':
            clearTimeout(timer);
            if (this.#health.length > 0) worker.send({ t: 'health', updates: this.#health } satisfies PrimaryMessage);
            resolve([...message.listeners]);
            break;
          case 'start-failed':
            clearTimeout(timer);
            reject(new Error(message.message));
            break;
          default:
            this.#onWorkerReport(message);
        }
      });
      worker.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.#workers.delete(worker);
        if (this.#stopping) return;
        reject(new Error(`worker exited during start (code ${code})`));
        this.#log.error({ event: 'worker_exit', code, signal }, 'worker died; starting a replacement');
        setTimeout(() => {
          if (!this.#stopping) this.#fork().catch((err: Error) => this.#log.error({ event: 'worker_restart_failed', err: err.message }));
        }, RESTART_DELAY_MS).unref();
      });
    });
    return ready;
  }

  /** Upstream outcomes reported by workers; the health manager consumes these. */
  #onWorkerReport(message: WorkerMessage): void {
    this.#log.debug({ event: 'worker_report', report: message.t }, 'worker report');
  }

  #broadcast(message: PrimaryMessage): void {
    if (message.t === 'health') this.#health = [...message.updates];
    if (this.#inProcess) {
      if (message.t === 'certificates') this.#inProcess.setCertificates(message.certificates);
      else if (message.t === 'ticket-keys') this.#inProcess.setTicketKeys(Buffer.from(message.ticketKeys, 'base64'));
      else if (message.t === 'health') this.#inProcess.setHealth(message.updates);
      return;
    }
    for (const worker of this.#workers) if (worker.isConnected()) worker.send(message);
  }

  /** Graceful stop: no new connections, in-flight requests finish within the grace period. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#rotation?.stop();
    const graceMs = this.#config.shutdown.graceMs;
    this.#log.info({ event: 'shutdown', graceMs }, 'stopping: draining in-flight requests');
    if (this.#inProcess) {
      await this.#inProcess.drain(graceMs);
      return;
    }
    const exits = [...this.#workers].map(
      (worker) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          const killTimer = setTimeout(() => worker.process.kill('SIGKILL'), graceMs + 5_000);
          worker.once('exit', () => {
            clearTimeout(killTimer);
            resolve();
          });
          if (worker.isConnected()) worker.send({ t: 'shutdown', graceMs } satisfies PrimaryMessage);
          else worker.process.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
  }
}
