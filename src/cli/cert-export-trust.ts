/**
 * `ucgate cert export-trust [--out FILE] [--leaf]`: what clients must trust.
 * By default the issuing CA (Jabber's operating-system store, and Node or curl
 * clients); with --leaf the exact leaf, which is what CUCM's Phone-trust and
 * tomcat-trust stores need, since the phones' Trust Verification Service does
 * not build chains.
 */
import { writeFile } from 'node:fs/promises';
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';
import { openStorage } from '../store/create-storage.js';
import { createIssuer } from '../issuers/create-issuer.js';
import { loadActiveCertificate } from '../certificates/certificate-store.js';
import { splitPemCertificates } from '../pki/certificate-info.js';
import { UcgateError, ErrorCodes } from '../errors.js';

export async function certExportTrustCommand(options: { config?: string; out?: string; leaf?: boolean }): Promise<number> {
  try {
    const config = await loadCliConfig(options.config);
    const storage = await openStorage(config);
    let pem: string | undefined;
    if (options.leaf) {
      const leaves: string[] = [];
      for (const keyType of config.certificates.keyTypes) {
        const cert = await loadActiveCertificate(storage, keyType);
        const leaf = cert && splitPemCertificates(cert.certPem)[0];
        if (leaf) leaves.push(leaf);
      }
      pem = leaves.join('') || undefined;
    } else {
      pem = await createIssuer(config, storage).trustAnchorPem();
      if (!pem) {
        // No CA of our own (manual or ACME): the top of the served chain is what clients anchor on.
        const cert = await loadActiveCertificate(storage, config.certificates.keyTypes[0]!);
        pem = cert ? splitPemCertificates(cert.certPem).at(-1) : undefined;
      }
    }
    if (!pem) throw new UcgateError(ErrorCodes.CERT_MISSING, 'no certificate stored yet: start the gateway once, or import one', { exitCode: 2 });
    if (options.out) {
      await writeFile(options.out, pem);
      process.stdout.write(`${options.out}\n`);
    } else process.stdout.write(pem);
    return 0;
  } catch (err) {
    return printProblems(err);
  }
}
