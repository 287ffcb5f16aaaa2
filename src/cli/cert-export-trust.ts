/**
 * `ucgate cert export-trust [--out FILE] [--ca | --leaf]`: what clients must
 * trust, chosen explicitly because the two audiences need different things:
 * - `--ca` (the default): the issuing root, for Jabber's operating-system
 *   store and Node or curl clients, which build chains;
 * - `--leaf`: the exact leaf of every key type, which is what CUCM's
 *   Phone-trust and tomcat-trust stores need, since the phones' Trust
 *   Verification Service does not build chains.
 */
import { writeFile } from 'node:fs/promises';
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';
import { openStorage } from '../store/create-storage.js';
import { createIssuer } from '../issuers/create-issuer.js';
import { loadActiveCertificate, loadTrustAnchor } from '../certificates/certificate-store.js';
import { splitPemCertificates } from '../pki/certificate-info.js';
import { UcgateError, ErrorCodes } from '../errors.js';

/** `leaf: true` exports the leaves (CUCM); otherwise the issuing root (Jabber/OS), as `--ca` asks. */
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
      // Per key type, the root its served certificate chains to: an imported one's own root (kept at
      // import), else the issuer's CA, else the top of the served chain. Dual certificates may have two.
      const issuerAnchor = await (await createIssuer(config, storage)).trustAnchorPem();
      const anchors = new Set<string>();
      for (const keyType of config.certificates.keyTypes) {
        const cert = await loadActiveCertificate(storage, keyType);
        if (!cert) continue;
        const own = cert.source === 'manual' ? await loadTrustAnchor(storage, keyType) : issuerAnchor;
        const anchor = own ?? splitPemCertificates(cert.certPem).at(-1);
        if (anchor) anchors.add(anchor.trimEnd() + '\n');
      }
      if (anchors.size === 0 && issuerAnchor) anchors.add(issuerAnchor);
      pem = [...anchors].join('') || undefined;
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
