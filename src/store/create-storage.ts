import type { UcgateConfig } from '../config/types.js';
import type { Storage, Locker } from './storage.js';
import { FileStorage } from './file-storage.js';
import { UcgateError, ErrorCodes } from '../errors.js';

export async function openStorage(config: UcgateConfig): Promise<Storage & Locker> {
  if (config.certificates.store.type === 'redis') {
    throw new UcgateError(ErrorCodes.STORE_IO, 'certificates.store.type: redis is not available in this build yet', { exitCode: 2 });
  }
  return new FileStorage(config.certificates.dir).open();
}
