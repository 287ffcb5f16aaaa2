/**
 * `ucgate check --print`: the effective configuration — what the gateway would
 * run, every default filled in, relative paths resolved — as YAML, with
 * secrets masked. Only the validated config is printed: files it names (token,
 * store key, passwords) are never opened, and a value under a key whose name
 * says secret, password, token or key material is replaced, as is the password
 * in a URL. Keys naming a file (`tokenFile`, `keyFile`, `passwordFile`...) hold a
 * path, not the secret, and are shown.
 */
import { stringify } from 'yaml';
import type { UcgateConfig } from './types.js';

export const MASK = '********';

/** Key names whose values are secrets (unless the key names a file or folder that holds one). */
const SECRET_KEY = /secret|passw(or)?d|passphrase|token|credential|hmac|private|apikey|(^|[a-z_])key$|^key/i;
const PATH_KEY = /(File|Files|Dir|Path)$|^keyTypes?$/;

export function isSecretKey(name: string): boolean {
  return SECRET_KEY.test(name) && !PATH_KEY.test(name);
}

/** `scheme://user:password@host` → `scheme://user:********@host`. */
export function maskUrlPassword(value: string): string {
  return value.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@:\s]*):[^/@\s]*@/, `$1:${MASK}@`);
}

function mask(value: unknown, key: string | undefined): unknown {
  if (key !== undefined && isSecretKey(key) && value !== undefined && value !== null) return MASK;
  if (typeof value === 'string') return maskUrlPassword(value);
  if (Array.isArray(value)) return value.map((item) => mask(item, undefined));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, k)]));
  }
  return value;
}

/** The effective configuration as a plain, masked object (the loader's bookkeeping left out). */
export function effectiveConfig(config: UcgateConfig): Record<string, unknown> {
  const { configFile: _file, routesBuiltIn: _builtIn, ...rest } = config as UcgateConfig & { routesBuiltIn?: boolean };
  const plain = JSON.parse(JSON.stringify(rest)) as Record<string, unknown>;
  // A cluster found by SRV has its nodes from DNS at run time; `nodes: []` beside `srv` would not load again.
  if (Array.isArray(plain.clusters)) {
    for (const cluster of plain.clusters as Record<string, unknown>[]) if (cluster.srv !== undefined) delete cluster.nodes;
  }
  return mask(plain, undefined) as Record<string, unknown>;
}

/** The YAML `ucgate check --print` writes on stdout. */
export function printConfig(config: UcgateConfig): string {
  const header = [
    `# effective configuration${config.configFile ? ` of ${config.configFile}` : ''}: every default filled in, paths resolved, secrets masked`,
    ...(config.routesBuiltIn ? ['# routes: the built-in UC allow-list (no routes in the file)'] : []),
    ...(config.log.format === undefined ? ['# log.format: not set — pretty on a terminal, json otherwise'] : []),
  ];
  return `${header.join('\n')}\n${stringify(effectiveConfig(config), { lineWidth: 0 })}`;
}
