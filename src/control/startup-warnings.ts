/**
 * What an administrator must hear about at every start: settings that weaken
 * or do not take effect. `start` logs them; `ucgate check` prints the same ones
 * (configWarnings, certificateWarnings) as `path.to.key: message` lines.
 */
import type { UcgateConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { ListenerAddress } from '../wire/messages.js';
import { dscpSupported } from '../net/dscp.js';
import { systemClock } from '../clock.js';
import { CertificateManager, requiredNames } from '../certificates/certificate-manager.js';
import { loadActiveCertificate, type StoredCertificate } from '../certificates/certificate-store.js';
import type { Storage, Locker } from '../store/storage.js';
import type { Issuer } from '../issuers/issuer.js';
import { createLogger } from '../log.js';

export function warnAtStart(config: UcgateConfig, listeners: readonly ListenerAddress[], log: Logger): void {
  const tftp = config.tftp ? [...config.tftp.listen.http, ...config.tftp.listen.https] : [];
  const wantsDscp = [...config.listen.https, ...config.listen.http, ...tftp, ...config.clusters].some((item) => item.dscp !== undefined);
  if (wantsDscp && !dscpSupported) {
    log.warn(
      { event: 'dscp_unavailable', runtime: process.version },
      `dscp is configured but Node ${process.version} cannot mark sockets (socket.setTypeOfService needs Node 24+): traffic goes unmarked`,
    );
  }
  for (const listener of listeners) {
    if (listener.profile === 'legacy') {
      log.warn(
        { event: 'legacy_tls_listener', listener: listener.name, port: listener.port },
        `listener ${listener.name} accepts TLS 1.0/1.1 with RSA key exchange and CBC ciphers (profile: legacy) for old phones: keep it off the open network`,
      );
    }
  }
}

const LEGACY = 'accepts TLS 1.0/1.1 with RSA key exchange and CBC ciphers (profile: legacy) for old phones: keep it off the open network';

/** The start warnings the config alone decides (legacy TLS listeners, DSCP this runtime cannot set), for `ucgate check`. */
export function configWarnings(config: UcgateConfig): string[] {
  const out: string[] = [];
  const tftp = config.tftp ? [...config.tftp.listen.http, ...config.tftp.listen.https] : [];
  const wantsDscp = [...config.listen.https, ...config.listen.http, ...tftp, ...config.clusters].some((item) => item.dscp !== undefined);
  if (wantsDscp && !dscpSupported) {
    out.push(`dscp: is configured but Node ${process.version} cannot mark sockets (socket.setTypeOfService needs Node 24+): traffic goes unmarked`);
  }
  config.listen.https.forEach((listener, i) => {
    if ((listener.profile ?? config.tls.profile) !== 'legacy') return;
    const at = listener.profile === 'legacy' ? `listen.https[${i}].profile` : 'tls.profile';
    out.push(`${at}: the listener on port ${listener.port} ${LEGACY}`);
  });
  const tftpHttps = config.tftp?.listen.https ?? [];
  tftpHttps.forEach((listener, i) => {
    const profile = listener.profile;
    if ((profile ?? config.tls.profile) !== 'legacy') return;
    out.push(`${profile === 'legacy' ? `tftp.listen.https[${i}].profile` : 'tls.profile'}: the TFTP listener on port ${listener.port} ${LEGACY}`);
  });
  return out;
}

/** Where a name the certificate must carry comes from in the config. */
function nameKey(config: UcgateConfig, name: string): string {
  if (config.gateway.fqdn.toLowerCase() === name) return 'gateway.fqdn';
  const alt = config.gateway.altNames.findIndex((n) => n.toLowerCase() === name);
  if (alt >= 0) return `gateway.altNames[${alt}]`;
  const cluster = config.clusters.findIndex((c) => c.publicName?.toLowerCase() === name);
  return cluster >= 0 ? `clusters[${cluster}].publicName` : 'gateway';
}

/**
 * What start would say about the certificates in the store (issue 18, `ucgate check` like
 * `nginx -t`): a served certificate near or past its expiry (the marks start logs, see
 * CertificateManager.expiryWarnings), and a name the config asks for that the certificate
 * lacks (a cluster's `publicName`, an altName). Reads the file store only; nothing is
 * issued or changed. With a Redis store these are left to start.
 */
export async function certificateWarnings(config: UcgateConfig, storage: Storage, nowMs: number = Date.now()): Promise<string[]> {
  const served: StoredCertificate[] = [];
  for (const keyType of config.certificates.keyTypes) {
    const cert = await loadActiveCertificate(storage, keyType);
    if (cert) served.push(cert);
  }
  if (served.length === 0) return [];
  const out: string[] = [];
  const issuer = config.certificates.issuer.type;
  for (const cert of served) {
    const sans = new Set(cert.info.subjectAltNames.map((name) => name.toLowerCase()));
    for (const name of requiredNames(config).filter((n) => !sans.has(n))) {
      const what = `the ${cert.keyType} certificate in the store (serial ${cert.info.serialNumber}, ${cert.source}) does not cover ${name}`;
      out.push(
        issuer === 'manual'
          ? `${nameKey(config, name)}: ${what}: start serves it anyway and clients sent to that name fail; import one that covers it (ucgate cert import)`
          : `${nameKey(config, name)}: ${what}: start replaces it with a new one from the ${issuer} issuer`,
      );
    }
  }
  // The manager only as the keeper of the expiry rule: nothing here issues (issuer never called).
  const manager = new CertificateManager({
    config,
    storage: storage as Storage & Locker,
    issuer: { type: issuer } as unknown as Issuer,
    clock: { ...systemClock, now: () => nowMs },
    log: createLogger({ level: 'silent' }),
  });
  for (const cert of served) manager.replaceServed(cert);
  for (const warning of manager.expiryWarnings(nowMs)) out.push(`certificates: ${warning.message}`);
  return out;
}
