/**
 * The primary's side of CUCM trust publishing: removes replaced leaves once
 * their grace period is over, and publishes a served leaf that CUCM does not
 * hold yet (cucmTrust added to a running deployment). The ledger lives in the
 * store, where a CLI import may change it: `poke()` after every certificate
 * change, and a bounded poll besides, keep the timer honest.
 */
import type { Clock, ClockTimer } from '../clock.js';
import type { Logger } from '../log.js';
import type { Storage } from '../store/storage.js';
import type { StoredCertificate } from '../certificates/certificate-store.js';
import type { CertificateManager } from '../certificates/certificate-manager.js';
import { leafOf, loadActiveCertificate } from '../certificates/certificate-store.js';
import { isPlaceholder } from '../lifecycle/placeholder.js';
import type { TrustPublisher } from './trust-publisher.js';
import { targetKey } from './trust-ledger.js';

/** Re-read the ledger at least this often. */
const POLL_MS = 60_000;
/** A failure is retried after this. */
const RETRY_MS = 30_000;

export interface TrustMaintenanceOptions {
  readonly publisher: TrustPublisher;
  readonly clock: Clock;
  readonly log: Logger;
  /** What is served now (placeholders excluded). */
  readonly served: () => readonly StoredCertificate[];
  /** Fingerprints active in the store now, which may be ahead of what this process serves. */
  readonly active: () => Promise<ReadonlySet<string>>;
}

export class TrustMaintenance {
  readonly #options: TrustMaintenanceOptions;
  #timer: ClockTimer | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = true;

  constructor(options: TrustMaintenanceOptions) {
    this.#options = options;
  }

  start(): void {
    this.#stopped = false;
    this.poke();
  }

  stop(): void {
    this.#stopped = true;
    // An activation waiting for `ucgate cert confirm-trust` ends too: the current leaf stays served.
    this.#options.publisher.stop();
    if (this.#timer) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Runs a pass now (or right after the one running). */
  poke(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = this.#pass().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.poke();
      }
    });
  }

  async #pass(): Promise<void> {
    const { publisher, clock, log } = this.#options;
    let delay = POLL_MS;
    try {
      await this.#publishServed();
      const active = new Set(await this.#options.active());
      for (const cert of this.#options.served()) active.add(cert.info.fingerprintSha256);
      const due = await publisher.removeDue(active);
      if (due !== undefined) delay = Math.min(delay, Math.max(due - clock.now(), 1_000));
    } catch (err) {
      log.warn({ event: 'cucm_trust_maintenance_failed', err: (err as Error).message }, 'CUCM trust maintenance failed; retrying');
      delay = RETRY_MS;
    }
    if (!this.#stopped) this.#timer = clock.setTimeout(() => this.poke(), delay);
  }

  /** A leaf served without ever being published (cucmTrust newly configured) gets published late rather than never. */
  async #publishServed(): Promise<void> {
    const { publisher, log } = this.#options;
    const ledger = await publisher.ledger();
    for (const cert of this.#options.served()) {
      const entry = ledger.find((leaf) => leaf.fingerprint === cert.info.fingerprintSha256 && leaf.removedAt === undefined);
      // Per server; one waiting for an administrator (no certificate API) is not asked again.
      const held = new Set([...(entry?.targets ?? []), ...(entry?.awaiting ?? [])].map((t) => targetKey(t)));
      if (publisher.targets.every((t) => held.has(targetKey(t)))) continue;
      log.warn(
        { event: 'cucm_trust_late_publish', keyType: cert.keyType, serial: cert.info.serialNumber },
        'the served leaf is not in every CUCM server\'s trust stores yet (cucmTrust newly configured, or a server added?): publishing it now',
      );
      await publisher.publish({ keyType: cert.keyType, leafPem: leafOf(cert.certPem), info: cert.info });
    }
  }
}


/** The primary's loop: what the manager serves, what the store has active, a pass after every change. */
export function startTrustMaintenance(options: {
  readonly publisher: TrustPublisher;
  readonly manager: CertificateManager;
  readonly storage: Storage;
  readonly clock: Clock;
  readonly log: Logger;
}): TrustMaintenance {
  const { manager, storage } = options;
  const maintenance = new TrustMaintenance({
    ...options,
    served: () => manager.served.filter((cert) => !isPlaceholder(cert)),
    active: async () => {
      const keyTypes = new Set(manager.served.map((cert) => cert.keyType));
      const active = await Promise.all([...keyTypes].map((keyType) => loadActiveCertificate(storage, keyType)));
      return new Set(active.flatMap((cert) => (cert ? [cert.info.fingerprintSha256] : [])));
    },
  });
  manager.on('change', () => maintenance.poke());
  maintenance.start();
  return maintenance;
}
