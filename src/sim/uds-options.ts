/**
 * A simulated node's UDS and TFTP settings, resolved once from its options:
 * how System > Server names it and its cluster, which TFTP servers and
 * service profile its users get, and what each user's Jabber devices carry
 * in the "Cisco Support Field".
 */
import type { CucmNodeOptions } from './cucm-node-api.js';
import type { NodeNames } from './node-names.js';
import { simulatedUuid } from './uds-bodies.js';

export interface UdsSettings {
  readonly serverName: string;
  readonly clusterServers: readonly string[];
  readonly tftpServers: readonly string[];
  /** The assigned service profile's pkid; undefined for the system default profile. */
  readonly serviceProfileId: string | undefined;
  readonly serviceProfileName: string;
  readonly ciscoSupportField: Readonly<Record<string, string>>;
}

/** The group configuration file of the default user: an arbitrary name, as administrators choose them. */
export const DEFAULT_CISCO_SUPPORT_FIELD: Readonly<Record<string, string>> = { jdoe: 'configurationFile=SalesGroup.xml' };

/** The options that shape UDS and TFTP answers. */
export type UdsOptions = Pick<CucmNodeOptions, 'serverName' | 'clusterServers' | 'tftpServers' | 'serviceProfile' | 'ciscoSupportField'>;

export function resolveUdsSettings(options: UdsOptions, names: NodeNames): UdsSettings {
  const serverName = options.serverName ?? names.shortName;
  const clusterServers = options.clusterServers ?? [serverName];
  const profile = options.serviceProfile === undefined ? 'Jabber' : options.serviceProfile;
  return {
    serverName,
    clusterServers,
    tftpServers: options.tftpServers ?? clusterServers.slice(0, 1),
    serviceProfileId: profile === null ? undefined : simulatedUuid('ucserviceprofile', profile),
    serviceProfileName: profile ?? 'Default',
    ciscoSupportField: options.ciscoSupportField ?? DEFAULT_CISCO_SUPPORT_FIELD,
  };
}

/**
 * The group configuration file a "Cisco Support Field" names: "In the Cisco
 * Support Field field, enter configurationfile=group_configuration_file_name.xml
 * ... The client uses only the first group configuration" ("Cloud and Hybrid
 * Deployments for Cisco Jabber 12.5", Configure the Clients, "Create Group
 * Configurations"; the on-premises guide has the same section); TAC document 213406,
 * "Test Directory Attribute Mapping for Jabber in Isolation", writes
 * `ConfigurationFile=jabber-config-test.xml` (and shows Jabber's log
 * "Detected that the "Cisco Support Field" has the following content:
 * ConfigurationFile=..."), so the key is matched without regard to case. A path names a file in a TFTP
 * folder ("configurationfile=/customFolder/groupa-config.xml"); the leading
 * slash is dropped.
 */
export function groupConfigurationFile(field: string): string | undefined {
  for (const entry of field.split(';')) {
    const match = /^\s*configurationfile\s*=\s*(\S+)\s*$/i.exec(entry);
    if (match) return match[1]!.replace(/^\/+/, '');
  }
  return undefined;
}
