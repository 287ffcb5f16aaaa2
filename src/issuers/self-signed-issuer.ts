/**
 * A local CA made on first use and kept in the store, so that restarts keep
 * the same trust anchor (administrators upload it to CUCM and to Jabber
 * clients once). RSA throughout: Cisco endpoints expect RSA.
 */
import type { Issuer, CertificateRequest, IssuedCertificate } from './issuer.js';
import type { Storage, Locker } from '../store/storage.js';
import { loadText } from '../store/storage.js';
import { createCa, issueLeaf, type KeyAndCertificate } from '../pki/x509.js';
import { systemClock, type Clock } from '../clock.js';

const CA_CERT = 'ca/self-signed/ca.pem';
const CA_KEY = 'ca/self-signed/ca-key.pem';
const LEAF_LIFETIME_MS = 365 * 86_400_000;

export class SelfSignedIssuer implements Issuer {
  readonly type = 'self-signed' as const;
  readonly #storage: Storage & Locker;
  readonly #caName: string;
  readonly #clock: Clock;

  /** `clock`: the one the caller judges validity by, so a leaf it just got is never already due. */
  constructor(storage: Storage & Locker, caName: string, clock: Clock = systemClock) {
    this.#storage = storage;
    this.#caName = caName;
    this.#clock = clock;
  }

  async #ca(): Promise<KeyAndCertificate> {
    const certPem = await loadText(this.#storage, CA_CERT);
    const keyPem = await loadText(this.#storage, CA_KEY);
    if (certPem && keyPem) return { certPem, keyPem, keyType: 'rsa-2048' };
    const release = await this.#storage.lock('self-signed-ca');
    try {
      const again = await loadText(this.#storage, CA_CERT);
      const againKey = await loadText(this.#storage, CA_KEY);
      if (again && againKey) return { certPem: again, keyPem: againKey, keyType: 'rsa-2048' };
      const ca = await createCa({ commonName: `${this.#caName} ucgate local CA`, keyType: 'rsa-2048' });
      // Key first: a CA certificate without its key would be unusable after a crash.
      await this.#storage.store(CA_KEY, ca.keyPem, { secret: true });
      await this.#storage.store(CA_CERT, ca.certPem);
      return ca;
    } finally {
      await release();
    }
  }

  async issue(request: CertificateRequest): Promise<IssuedCertificate> {
    const ca = await this.#ca();
    const leaf = await issueLeaf({
      issuer: ca,
      commonName: request.commonName,
      subjectAltNames: request.subjectAltNames,
      keyType: request.keyType,
      notBefore: new Date(this.#clock.now() - 60_000),
      notAfter: new Date(this.#clock.now() + LEAF_LIFETIME_MS),
    });
    return { certPem: leaf.certPem, chainPem: '', keyPem: leaf.keyPem, keyType: request.keyType, source: 'self-signed' };
  }

  async trustAnchorPem(): Promise<string | undefined> {
    return loadText(this.#storage, CA_CERT);
  }
}
