/**
 * `ucgate srv-records --domain DOMAIN [--address IP] [--ttl S]`: the zone-file
 * lines that make Jabber find the gateway (`_cisco-uds._tcp.<domain>`, the
 * record Jabber's service discovery asks for first) and the address records
 * for every name the gateway answers under: gateway.fqdn, its altNames, and
 * each cluster's publicName, which `clusterUser` answers send Jabber to when
 * a user is homed on that cluster (issue 9).
 */
import { isIP } from 'node:net';
import type { UcgateConfig } from '../config/types.js';
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';
import { UcgateError, ErrorCodes } from '../errors.js';

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

export function srvRecordLines(config: UcgateConfig, domain: string, options: { address?: string; ttl?: number } = {}): string[] {
  const ttl = options.ttl ?? 3600;
  const fqdn = (name: string) => (name.endsWith('.') ? name : `${name}.`);
  const listeners = config.listen.https.filter((listener) => (listener.profile ?? config.tls.profile) !== 'legacy');
  // Jabber asks UDS on 8443; prefer that listener when the gateway has several.
  const uds = listeners.find((listener) => listener.port === 8443) ?? listeners[0];
  const lines = [`; ucgate ${config.gateway.fqdn}: service discovery records for ${domain}`, `$TTL ${ttl}`];
  if (uds) {
    lines.push(`_cisco-uds._tcp.${fqdn(domain)} ${ttl} IN SRV 10 10 ${uds.port} ${fqdn(config.gateway.fqdn)}`);
  } else {
    lines.push('; no non-legacy HTTPS listener: Jabber cannot be pointed at this gateway');
  }
  const recordType = options.address && isIP(options.address) === 6 ? 'AAAA' : 'A';
  for (const [name, role] of publicNames(config)) {
    lines.push(`; ${role}`);
    lines.push(
      options.address
        ? `${fqdn(name)} ${ttl} IN ${recordType} ${options.address}`
        : `; ${fqdn(name)} ${ttl} IN A <the gateway's address>   (pass --address to fill it in)`,
    );
  }
  const tftp = config.tftp?.listen;
  if (tftp && tftp.http.length + tftp.https.length > 0) {
    const ports = [...tftp.http.map((l) => `${l.port} (http)`), ...tftp.https.map((l) => `${l.port} (https)`)].join(', ');
    lines.push(`; Jabber's configuration files (TFTP over HTTP): port ${ports} under each name above`);
  }
  lines.push(
    '; Phones: point service URLs (Device > Device Settings > Phone Services, and the enterprise',
    `; parameters for directories and authentication) at https://${config.gateway.fqdn}:${uds?.port ?? 8443}/...`,
  );
  return lines;
}

/** Every DNS name the gateway answers under, with what it is for; the certificate must carry each of them. */
function publicNames(config: UcgateConfig): Map<string, string> {
  const names = new Map<string, string>();
  const add = (name: string, role: string) => {
    const key = name.toLowerCase();
    names.set(key, names.has(key) ? `${names.get(key)}; ${role}` : role);
  };
  const defaults = config.clusters.filter((cluster) => !cluster.publicName).map((cluster) => cluster.name);
  add(config.gateway.fqdn, `gateway.fqdn${defaults.length > 0 ? ` (cluster ${defaults.join(', ')})` : ''}: the SRV target`);
  for (const name of config.gateway.altNames) if (!isIP(name)) add(name, 'gateway.altNames');
  for (const cluster of config.clusters) {
    if (!cluster.publicName) continue;
    const covered = [config.gateway.fqdn, ...config.gateway.altNames].some((name) => name.toLowerCase() === cluster.publicName!.toLowerCase());
    // Jabber checks the certificate against the name it was sent to: a publicName outside the SANs fails there.
    const warning = covered ? '' : ' -- NOT in gateway.altNames: add it, or the certificate will not name it';
    add(cluster.publicName, `cluster ${cluster.name} (publicName): Jabber users homed there are sent here${warning}`);
  }
  return names;
}

export async function srvRecordsCommand(options: { config?: string; domain?: string; address?: string; ttl?: string }): Promise<number> {
  try {
    if (!options.domain || !DNS_NAME.test(options.domain)) {
      throw new UcgateError(ErrorCodes.USAGE, '--domain: a DNS domain is required (the users\' domain Jabber looks up, e.g. example.com)', { exitCode: 2 });
    }
    if (options.address && !isIP(options.address)) throw new UcgateError(ErrorCodes.USAGE, '--address: must be an IP address', { exitCode: 2 });
    const ttl = options.ttl === undefined ? undefined : Number(options.ttl);
    if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0)) throw new UcgateError(ErrorCodes.USAGE, '--ttl: must be a whole number of seconds', { exitCode: 2 });
    const config = await loadCliConfig(options.config);
    const lines = srvRecordLines(config, options.domain, { ...(options.address ? { address: options.address } : {}), ...(ttl === undefined ? {} : { ttl }) });
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } catch (err) {
    return printProblems(err);
  }
}
