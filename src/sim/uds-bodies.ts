/**
 * XML bodies of the system-level Cisco User Data Services (UDS) resources
 * the simulated CUCM node serves (`version`, `servers`, `clusterUser`), and
 * what every UDS body shares. The user-level resources are in
 * uds-user-bodies.ts.
 *
 * Shapes follow the "Cisco User Data Services (UDS) API Reference"
 * (developer.cisco.com/site/user-data-services/develop-and-test/api-reference,
 * "System-level Resources") and the UDS Developer Guide's "New and Changed"
 * pages; where a public capture of a real answer differs from a reference
 * example, the capture wins and the comment says so. Host names follow
 * uds-names.ts: links built for the request carry the answering node's FQDN,
 * names taken from the database carry System > Server names.
 */
import { createHash } from 'node:crypto';
import { hostLink, versionAtLeast } from './uds-names.js';

/** Who is answering. */
export interface UdsContext {
  /** The answering node's FQDN: the host of links built for the request. */
  readonly hostname: string;
  /** Full CUCM version, e.g. `14.0.1.13900-155`. */
  readonly version: string;
  /**
   * The answering node as System > Server defines it (see uds-names.ts).
   * Default: the first label of `hostname`, upper-cased.
   */
  readonly serverName?: string;
}

// "Using Cisco Collaboration Single Sign-On with User Data Services", Sample REST Response: a real answer's prolog.
export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>';

/** Escapes text for use in XML character data and double-quoted attributes. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The `version` attribute of a UDS answer: the release, major.minor.mr
 * (`user ... version="12.5.1"` in the API Reference's 12.5 example,
 * `version="10.5.1"` in the SSO guide's capture), not the full build.
 */
export function udsApiVersion(version: string): string {
  return version.split('.').slice(0, 3).join('.');
}

/**
 * A stable UUID for a named database object. Every node of a cluster reads
 * the same database, so the id must not depend on which node answers.
 */
export function simulatedUuid(kind: string, name: string): string {
  const hex = createHash('sha1').update(`${kind}:${name}`).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The answering node's System > Server name. */
export function answeringServer(ctx: UdsContext): string {
  return ctx.serverName ?? ctx.hostname.split('.')[0]!.toUpperCase();
}

/** `https://<hostname>[:8443]/cucm-uds<path>`, escaped for an attribute. */
export function udsUri(ctx: UdsContext, path: string, withPort = true): string {
  return escapeXml(hostLink('https', ctx.hostname, withPort ? 8443 : undefined, `/cucm-uds${path}`));
}

/**
 * version: "Returns the currently installed Cisco Unified CM product name and
 * version (x.x.x)" (API Reference, version). The root's `version` is the UDS
 * schema's, "10.0.0" on every release; `<capabilities>` came with 11.5(1)
 * ("New and Changed Information in Cisco Unified CM Release 11.5(1)": `uri=
 * "https://{host}/cucm-uds/version" version="10.0.0"`, `<version>11.5.1</version>`,
 * `<usersResourceAuthEnabled>`). The `uri` has no port in both examples.
 * `usersResourceAuthEnabled` says whether contact search needs credentials;
 * the simulator has no user search and leaves it off.
 */
export function versionBody(ctx: UdsContext): string {
  const capabilities = versionAtLeast(ctx.version, 11, 5)
    ? '<capabilities><usersResourceAuthEnabled>false</usersResourceAuthEnabled></capabilities>'
    : '';
  return (
    `${XML_DECLARATION}<versionInformation uri="${udsUri(ctx, '/version', false)}" version="10.0.0">` +
    `<version>${escapeXml(udsApiVersion(ctx.version))}</version>${capabilities}</versionInformation>`
  );
}

/**
 * servers: "a list of all the Cisco Unified CM nodes within that cluster ...
 * used to load balance requests" (API Reference, servers), one `<server>` per
 * node: the System > Server names, publisher first. Example: `<servers
 * version="{version}" uri="https:://{host}:8443/cucm-uds/servers">`.
 */
export function serversBody(ctx: UdsContext, servers: readonly string[]): string {
  const items = servers.map((server) => `<server>${escapeXml(server)}</server>`).join('');
  return `${XML_DECLARATION}<servers version="${escapeXml(udsApiVersion(ctx.version))}" uri="${udsUri(ctx, '/servers')}">${items}</servers>`;
}

/**
 * clusterUser: no authentication, "The response contains the publisher of the
 * home cluster for that end user" (API Reference, clusterUser). Found:
 * `<result found="true" uri="https://{host}:8443/cucm-uds/user/{userId}"
 * version=.../>`, `<homeCluster serversUri="https://{host}:8443/cucm-uds/servers">
 * {host}</homeCluster>`, `<homeClusterDetails>`; not found: `<result
 * found="false"/>` alone. The root `uri` has no port and echoes the query.
 * `homeCluster` is the home publisher's FQDN, as the option gives it.
 */
export function clusterUserBody(ctx: UdsContext, username: string, found: boolean, homeCluster: string, query = `username=${encodeURIComponent(username)}`): string {
  const version = escapeXml(udsApiVersion(ctx.version));
  const root = `<clusterUser version="${version}" uri="${udsUri(ctx, `/clusterUser?${query}`, false)}">`;
  if (!found) return `${XML_DECLARATION}${root}<result found="false"/></clusterUser>`;
  const home = { hostname: homeCluster, version: ctx.version };
  return (
    `${XML_DECLARATION}${root}` +
    `<result found="true" uri="${udsUri(home, `/user/${encodeURIComponent(username)}`)}" version="${version}"/>` +
    `<homeCluster serversUri="${udsUri(home, '/servers')}">${escapeXml(homeCluster)}</homeCluster>` +
    '<homeClusterDetails><selfProvisioningSecureMode>true</selfProvisioningSecureMode>' +
    '<adminProvisionMode>false</adminProvisionMode></homeClusterDetails>' +
    '</clusterUser>'
  );
}
