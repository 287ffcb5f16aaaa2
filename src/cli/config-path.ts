import { resolve } from 'node:path';
import { loadConfigFile } from '../config/load.js';
import type { UcgateConfig } from '../config/types.js';

/** `--config FILE`, else $UCGATE_CONFIG, else config/ucgate.yaml under the working directory. */
export function configPath(flag: string | undefined): string {
  return resolve(flag ?? process.env.UCGATE_CONFIG ?? 'config/ucgate.yaml');
}

export function loadCliConfig(flag: string | undefined): Promise<UcgateConfig> {
  return loadConfigFile(configPath(flag));
}
