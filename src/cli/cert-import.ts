/**
 * `ucgate cert import --cert FILE [--chain FILE] [--key FILE]` or
 * `--pfx FILE [--passphrase-file FILE]`: validate, then activate atomically.
 * Any problem: exit 2 and one `ucgate: <reason>` line, the store untouched.
 * Warnings go to stderr; a one-line summary to stdout, then what serves it
 * (a running gateway that answers on listen.admin, at once; else the next
 * start) and what renews it: nothing — an imported certificate is never
 * renewed or replaced by ucgate (src/certificates/certificate-source.ts), so
 * the line names the date to import again by.
 */
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';
import { openStorage } from '../store/create-storage.js';
import { importCertificate, type ImportInput } from '../certificates/import-certificate.js';
import { daysLeft } from '../pki/certificate-info.js';
import { importAgainBy } from '../certificates/renewal-policy.js';
import { cliTrustGate } from './trust-gate.js';
import { UcgateError, ErrorCodes } from '../errors.js';
import { reloadRunningGateway } from './gateway-reload.js';

export interface CertImportOptions {
  readonly config?: string;
  readonly cert?: string;
  readonly chain?: string;
  readonly key?: string;
  readonly pfx?: string;
  readonly passphraseFile?: string;
}

function inputFrom(options: CertImportOptions): ImportInput {
  const usage = (message: string) => new UcgateError(ErrorCodes.USAGE, message, { exitCode: 2 });
  if (options.pfx !== undefined) {
    if (options.cert !== undefined || options.chain !== undefined || options.key !== undefined) {
      throw usage('--pfx comes alone (with --passphrase-file); --cert, --chain and --key are for PEM files');
    }
    return { pfxFile: options.pfx, ...(options.passphraseFile !== undefined && { passphraseFile: options.passphraseFile }) };
  }
  if (options.cert === undefined) throw usage('cert import needs --cert FILE (PEM) or --pfx FILE (PKCS#12)');
  return {
    certFile: options.cert,
    ...(options.chain !== undefined && { chainFile: options.chain }),
    ...(options.key !== undefined && { keyFile: options.key }),
    ...(options.passphraseFile !== undefined && { passphraseFile: options.passphraseFile }),
  };
}

export async function certImportCommand(options: CertImportOptions): Promise<number> {
  try {
    const input = inputFrom(options);
    const config = await loadCliConfig(options.config);
    const storage = await openStorage(config);
    const gate = cliTrustGate(config, storage);
    const result = await importCertificate({ config, storage, input, ...(gate && { gate }) });
    for (const warning of result.warnings) process.stderr.write(`ucgate: warning: ${warning}\n`);
    const { info, keyType } = result.certificate;
    if (result.unchanged) {
      process.stdout.write(`${keyType} certificate serial ${info.serialNumber} is already active; nothing changed\n`);
      return 0;
    }
    const issuerType = config.certificates.issuer.type;
    // Import again before the window opens (renewal-policy.ts: renewBeforeDays ahead of expiry for an import).
    const importByText = new Date(importAgainBy(result.certificate, config.certificates.renewBeforeDays, Date.now())).toISOString().slice(0, 10);
    const renewal =
      `renewed by: nothing — ucgate never renews or replaces an imported certificate; import a new one before ${importByText}` +
      (issuerType === 'manual'
        ? ''
        : ` (the configured ${issuerType} issuer leaves it alone; to hand it over on purpose: ucgate cert renew --force --issuer ${issuerType})`);
    process.stdout.write(
      `imported ${keyType} certificate ${info.subject} serial ${info.serialNumber} from ${info.issuer}, ` +
        `valid until ${info.notAfter} (${daysLeft(info, Date.now())} days), sha256 ${info.fingerprintSha256}` +
        (result.replaced ? `; previous serial ${result.replaced.info.serialNumber} kept for \`ucgate cert rollback\`` : '') +
        `\n${renewal}\n`,
    );
    const reload = await reloadRunningGateway(config, storage);
    process.stdout.write(`${reload.message}\n`);
    return 0;
  } catch (err) {
    return printProblems(err);
  }
}
