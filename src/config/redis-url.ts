/**
 * The four ways to name a Redis deployment in `certificates.store.url`,
 * parsed without touching the network (the config checker uses it too):
 *
 *   redis://[user:password@]host:port[/db]                  one server
 *   rediss://...                                            the same over TLS
 *   redis+sentinel://[user:password@]h1:p1,h2:p2/master[/db] Sentinel: ask the sentinels who the master is
 *   redis+cluster://[user:password@]h1:p1,h2:p2             Redis Cluster: any reachable seed nodes
 *
 * `rediss+sentinel://` and `rediss+cluster://` use TLS everywhere. Passwords
 * may instead come from `certificates.store.passwordFile`, which keeps them
 * out of a config file that is often world-readable. Credentials are for the
 * Redis servers; sentinels are asked without any.
 */

export type RedisTopology = 'standalone' | 'sentinel' | 'cluster';

export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface RedisTarget {
  readonly topology: RedisTopology;
  readonly tls: boolean;
  /** One entry for standalone; the sentinels or the cluster's seed nodes otherwise. */
  readonly endpoints: readonly RedisEndpoint[];
  readonly username?: string;
  readonly password?: string;
  /** Sentinel only: the name the sentinels know the master by. */
  readonly masterName?: string;
  /** Not for Cluster, which has only database 0. */
  readonly db: number;
}

const URL_FORM = /^(redis|rediss)(\+sentinel|\+cluster)?:\/\/(?:([^@/]*)@)?([^/?#]+)(?:\/([^?#]*))?$/;
const ENDPOINT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/;

/** The target a URL names, or a one-line reason it names none. */
export function parseRedisUrl(url: string): RedisTarget | { readonly error: string } {
  const match = URL_FORM.exec(url.trim());
  if (!match) return { error: 'must be a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL' };
  const [, scheme, variant, userinfo, hosts, path] = match;
  const topology: RedisTopology = variant === '+sentinel' ? 'sentinel' : variant === '+cluster' ? 'cluster' : 'standalone';
  const defaultPort = topology === 'sentinel' ? 26379 : 6379;
  const endpoints: RedisEndpoint[] = [];
  for (const item of hosts!.split(',')) {
    const endpoint = ENDPOINT.exec(item);
    const port = Number(endpoint?.[3] ?? defaultPort);
    if (!endpoint || port < 1 || port > 65535) return { error: `"${item}" is not host:port` };
    endpoints.push({ host: endpoint[1] ?? endpoint[2]!, port });
  }
  if (topology === 'standalone' && endpoints.length !== 1) return { error: 'names several hosts: use redis+sentinel:// or redis+cluster://' };
  const segments = (path ?? '').split('/').filter(Boolean);
  let masterName: string | undefined;
  if (topology === 'sentinel') {
    masterName = segments.shift();
    if (!masterName) return { error: 'redis+sentinel:// needs the master name as its path, e.g. redis+sentinel://h1:26379,h2:26379/mymaster' };
  }
  const dbText = segments.shift() ?? '0';
  const db = Number(dbText);
  if (!/^\d{1,2}$/.test(dbText) || segments.length > 0) return { error: `"/${path}" is not a database number` };
  if (topology === 'cluster' && db !== 0) return { error: 'Redis Cluster has database 0 only' };
  let username: string | undefined;
  let password: string | undefined;
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    username = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon)) || undefined;
    password = colon < 0 ? undefined : decodeURIComponent(userinfo.slice(colon + 1)) || undefined;
  }
  return {
    topology,
    tls: scheme === 'rediss',
    endpoints,
    db,
    ...(username !== undefined && { username }),
    ...(password !== undefined && { password }),
    ...(masterName !== undefined && { masterName }),
  };
}

export function isRedisTarget(value: RedisTarget | { readonly error: string }): value is RedisTarget {
  return !('error' in value);
}

/** The URL with any password replaced by `***`: safe for logs and status. */
export function redactRedisUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)([^@/]*)@/, (_all, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:***`}@`;
  });
}
