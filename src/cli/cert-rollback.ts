/**
 * `ucgate cert rollback [--key-type TYPE]`: serve the previous certificate
 * again (swap `active` and `previous`; a second rollback undoes the first).
 */
import type { KeyType } from '../config/types.js';
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';
import { openStorage } from '../store/create-storage.js';
import { rollbackCertificate } from '../certificates/rollback.js';
import { cliTrustGate } from './trust-gate.js';
import { reloadRunningGateway } from './gateway-reload.js';

export async function certRollbackCommand(options: { config?: string; keyType?: string }): Promise<number> {
  try {
    const config = await loadCliConfig(options.config);
    const storage = await openStorage(config);
    const gate = cliTrustGate(config, storage);
    const result = await rollbackCertificate({
      storage,
      ...(gate && { gate }),
      keyTypes: config.certificates.keyTypes,
      ...(options.keyType !== undefined && { keyType: options.keyType as KeyType }),
    });
    const { restored, replaced } = result;
    process.stdout.write(
      `rolled back ${result.keyType}: now serving serial ${restored.info.serialNumber} (${restored.info.subject}, until ${restored.info.notAfter})` +
        (replaced ? `; serial ${replaced.info.serialNumber} kept as previous` : '') +
        '\n',
    );
    // Served at once by a running gateway that answers on listen.admin; else at its next start (or SIGHUP).
    process.stdout.write(`${(await reloadRunningGateway(config, storage)).message}\n`);
    return 0;
  } catch (err) {
    return printProblems(err);
  }
}
