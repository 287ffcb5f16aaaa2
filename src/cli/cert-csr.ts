/**
 * `ucgate cert csr [--out DIR] [--client-auth] [--key-type TYPE]`: a new key
 * per configured key type, kept in the store (0600) until `cert import`
 * brings its certificate, and a PKCS#10 CSR for gateway.fqdn + altNames to
 * hand to the enterprise CA. Paths of the CSRs on stdout, notes on stderr.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve, join } from 'node:path';
import type { KeyType } from '../config/types.js';
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';
import { openStorage } from '../store/create-storage.js';
import { requiredNames } from '../certificates/certificate-manager.js';
import { storePendingKey } from '../certificates/certificate-store.js';
import { appendAudit, auditTime } from '../certificates/audit-log.js';
import { createCsr } from '../pki/csr.js';
import { UcgateError, ErrorCodes } from '../errors.js';

export interface CertCsrOptions {
  readonly config?: string;
  /** Folder for the CSR files; default the working directory. */
  readonly out?: string;
  readonly clientAuth?: boolean;
  /** Only this key type (default: every configured one). */
  readonly keyType?: string;
}

/** The file name a CSR gets in the --out folder. */
export function csrFileName(keyType: KeyType): string {
  return `ucgate-${keyType}.csr`;
}

export async function certCsrCommand(options: CertCsrOptions): Promise<number> {
  try {
    const config = await loadCliConfig(options.config);
    const keyTypes = config.certificates.keyTypes.filter((type) => options.keyType === undefined || type === options.keyType);
    if (keyTypes.length === 0) {
      throw new UcgateError(ErrorCodes.USAGE, `--key-type ${options.keyType} is not in certificates.keyTypes (${config.certificates.keyTypes.join(', ')})`, {
        exitCode: 2,
      });
    }
    const out = resolve(options.out ?? '.');
    // Fail on an unusable --out before any key is replaced.
    await mkdir(out, { recursive: true }).catch((err: Error) => {
      throw new UcgateError(ErrorCodes.USAGE, `--out ${out}: ${err.message}`, { exitCode: 2, cause: err });
    });
    const storage = await openStorage(config);
    for (const keyType of keyTypes) {
      const csr = await createCsr({
        commonName: config.gateway.fqdn,
        subjectAltNames: requiredNames(config),
        keyType,
        clientAuth: options.clientAuth === true,
      });
      const file = join(out, csrFileName(keyType));
      const replaced = await storePendingKey(storage, keyType, csr.keyPem, csr.csrPem);
      await writeFile(file, csr.csrPem);
      await appendAudit(storage, {
        time: auditTime(Date.now()),
        action: 'csr-created',
        actor: 'cli',
        keyType,
        subject: `CN=${config.gateway.fqdn}`,
        detail: `public key sha256 ${csr.publicKeySha256}`,
      });
      if (replaced) process.stderr.write(`ucgate: replaced the pending ${keyType} key from an earlier \`cert csr\`: certificates for its CSR can no longer be imported without --key\n`);
      process.stdout.write(`${file}\n`);
    }
    process.stderr.write(
      `send the CSR${keyTypes.length > 1 ? 's' : ''} to your CA, then: ucgate cert import --cert CERT.pem [--chain CHAIN.pem]  (the key stays in the store)\n`,
    );
    return 0;
  } catch (err) {
    return printProblems(err);
  }
}
