import { existsSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../config/load.js';
import type { UcgateConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';

/** `--config FILE`, else $UCGATE_CONFIG (when set and not empty), else config/ucgate.yaml under the working directory. */
export function configPath(flag: string | undefined): string {
  return resolve(flag ?? (process.env.UCGATE_CONFIG || 'config/ucgate.yaml'));
}

/** The example configuration shipped with the package (config/ucgate.example.yaml beside dist/ and src/). */
export const EXAMPLE_CONFIG = resolve(dirname(fileURLToPath(import.meta.url)), '../../config/ucgate.example.yaml');

/** A path as a person would type it here: relative to the working directory when under it. */
function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/** What to do when there is no config file: which path was tried, why that one, and how to make one. */
export function missingConfigHints(file: string, flag: string | undefined): string[] {
  const why =
    flag !== undefined ? 'from --config' : process.env.UCGATE_CONFIG ? 'from $UCGATE_CONFIG' : 'the default; --config FILE or $UCGATE_CONFIG name another';
  const target = shown(file);
  const folder = dirname(file);
  const copy = `cp ${shown(EXAMPLE_CONFIG)} ${target}`;
  return [
    `  tried ${target} (${why})`,
    `  to make one: ${existsSync(folder) ? copy : `mkdir -p ${shown(folder)} && ${copy}`}`,
    `  then set gateway.fqdn and clusters in it and run: ucgate check${flag !== undefined ? ` --config ${target}` : ''}`,
    '  to try ucgate without a config file: ucgate demo',
  ];
}

export async function loadCliConfig(flag: string | undefined): Promise<UcgateConfig> {
  const file = configPath(flag);
  try {
    return await loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError && !existsSync(file)) {
      const hints = missingConfigHints(file, flag);
      throw new ConfigError([...err.problems, ...hints], [...err.located, ...hints]);
    }
    throw err;
  }
}
