/**
 * A listener that cannot bind, said the way an operator can act on it: which
 * configured listener (`listen.https[0]`), what is wrong with its address, how
 * to see who holds the port, and what to change. `start` and `demo` use it;
 * everything else about a failed start is left to printProblems.
 */
import { basename } from 'node:path';
import type { UcgateConfig } from '../config/types.js';

interface Bind {
  readonly code: 'EADDRINUSE' | 'EACCES' | 'EADDRNOTAVAIL';
  readonly host: string | undefined;
  readonly port: number;
}

/** The bind failure in `err`, from its code/address/port or, for a worker's error relayed as text, its message. */
export function bindFailure(err: unknown): Bind | undefined {
  const e = err as { code?: unknown; message?: unknown; address?: unknown; port?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const code = [e?.code, /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec(message)?.[1]].find(
    (c): c is Bind['code'] => c === 'EADDRINUSE' || c === 'EACCES' || c === 'EADDRNOTAVAIL',
  );
  if (code === undefined) return undefined;
  if (typeof e?.port === 'number') return { code, host: typeof e.address === 'string' ? e.address : undefined, port: e.port };
  const at = /(\S+):(\d+)\s*$/.exec(message);
  if (!at) return undefined;
  return { code, host: at[1]!.replace(/^\[|\]$/g, ''), port: Number(at[2]) };
}

/** The config keys of the listeners on `port`: `listen.https[0]`, `listen.admin`, `tftp.listen.http[0]`. */
export function listenersOn(config: UcgateConfig, port: number): string[] {
  const keys: string[] = [];
  config.listen.https.forEach((l, i) => l.port === port && keys.push(`listen.https[${i}]`));
  config.listen.http.forEach((l, i) => l.port === port && keys.push(`listen.http[${i}]`));
  if (config.listen.admin?.port === port) keys.push('listen.admin');
  config.tftp?.listen.https.forEach((l, i) => l.port === port && keys.push(`tftp.listen.https[${i}]`));
  config.tftp?.listen.http.forEach((l, i) => l.port === port && keys.push(`tftp.listen.http[${i}]`));
  return keys;
}

/**
 * Lines for stderr when `err` is a listener that could not bind, else undefined.
 * `change` says how to pick another port (default: the listener's key in the config file).
 */
export function describeBindFailure(err: unknown, config: UcgateConfig, change?: string): string[] | undefined {
  const bind = bindFailure(err);
  if (!bind) return undefined;
  const keys = listenersOn(config, bind.port);
  const key = keys[0];
  const address = `${bind.host?.includes(':') ? `[${bind.host}]` : (bind.host ?? '*')}:${bind.port}`;
  const who = key ? `${keys.join(', ')} (${address})` : address;
  const file = config.configFile ? ` in ${basename(config.configFile)}` : '';
  const other = change ?? (key ? `give ${key}.port another port${file}` : 'choose another port');
  switch (bind.code) {
    case 'EADDRINUSE':
      return [
        `ucgate: ${who}: the port is already in use by another process (a ucgate already running? another proxy?)`,
        `  see which: ss -ltnp 'sport = :${bind.port}'   (or: lsof -nP -iTCP:${bind.port} -sTCP:LISTEN)`,
        `  then stop it (systemctl stop ...), or ${other}`,
      ];
    case 'EACCES':
      return [
        `ucgate: ${who}: permission denied to listen there`,
        bind.port < 1024
          ? `  ports below 1024 need root or CAP_NET_BIND_SERVICE (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE), or ${other}`
          : `  a security policy (SELinux, AppArmor, a container) refuses the port: allow it, or ${other}`,
      ];
    case 'EADDRNOTAVAIL':
      return [
        `ucgate: ${who}: ${bind.host ?? 'the host'} is not an address of this machine`,
        `  use one it has (ip -brief address), or 0.0.0.0 for all${key ? `: ${key}.host${file}` : ''}`,
      ];
  }
}
