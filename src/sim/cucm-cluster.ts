/**
 * A whole simulated CUCM cluster: one private CA, one Tomcat leaf per node
 * (SANs: its FQDN and 127.0.0.1), and the nodes themselves sharing one
 * server list and one publisher. What `ucgate demo` and the tests start.
 */
import { createCa, issueLeaf, type KeyAndCertificate } from '../pki/x509.js';
import type { KeyType } from '../config/types.js';
import { startCucmNode, type CucmNode, type CucmNodeOptions, type SimDatabase } from './cucm-node.js';
import { createSimDatabase, DEFAULT_PAB } from './sim-database.js';
import { nodeNames } from './node-names.js';
import { MIXED_SERVER_NAMES, serverName, type ServerNameForm } from './uds-names.js';

export interface CucmClusterNodeSpec {
  readonly name: string;
  readonly hostname: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  /** See `CucmNodeOptions.ip` and `shortName`. */
  readonly ip?: string;
  readonly shortName?: string;
  /** How System > Server defines this node (see `CucmNodeOptions.serverName`). Default: per `serverNames`. */
  readonly serverName?: string;
}

export interface CucmClusterOptions {
  /**
   * The nodes, publisher first. Default: `pub` (cucm-pub.<domain>) and
   * `sub1` (cucm-sub1.<domain>); a number asks for the publisher plus N-1
   * subscribers named the same way.
   */
  readonly nodes?: number | readonly CucmClusterNodeSpec[];
  /** Default `example.test`. */
  readonly domain?: string;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Key type of the node certificates; CUCM's Tomcat certificate is RSA. Default `rsa-2048`. */
  readonly keyType?: KeyType;
  readonly version?: string;
  readonly users?: Readonly<Record<string, string>>;
  readonly emPins?: Readonly<Record<string, string>>;
  /**
   * The publisher FQDN that `clusterUser` names as the users' home cluster.
   * Default: this cluster's publisher; another cluster's, for users homed there.
   */
  readonly homeCluster?: string;
  /** Every node also runs the TFTP-over-HTTP service (CUCM's 6970/6972), on ports of its own. */
  readonly tftp?: boolean;
  /** Passed to every node; see `CucmNodeOptions`. */
  readonly actionDelayMs?: number;
  /** Service parameters are per server in CUCM; the simulated cluster sets the same on every node. */
  readonly em?: CucmNodeOptions['em'];
  readonly registeredDevices?: CucmNodeOptions['registeredDevices'];
  readonly personalAddressBook?: CucmNodeOptions['personalAddressBook'];
  readonly urlSessionIds?: boolean;
  /**
   * How System > Server defines the nodes: all by short upper-case name,
   * FQDN or IP address, or `mixed` (publisher by short name, then IP, then
   * FQDN, repeating), as real clusters often are. A node spec's `serverName`
   * wins. Default `mixed`.
   */
  readonly serverNames?: 'mixed' | ServerNameForm;
  /** See `CucmNodeOptions.tftpServers`. Default: the publisher. */
  readonly tftpServers?: readonly string[];
  readonly serviceProfile?: CucmNodeOptions['serviceProfile'];
  readonly ciscoSupportField?: CucmNodeOptions['ciscoSupportField'];
}

export interface CucmCluster {
  /** The CA that signed every node certificate: trust this to verify the nodes. */
  readonly caPem: string;
  /** CA certificate and key, for tests that need more certificates from the same CA. */
  readonly ca: KeyAndCertificate;
  /** Publisher first. */
  readonly nodes: readonly CucmNode[];
  readonly publisher: CucmNode;
  /** The database every node reads and writes, as one replicated CUCM database. */
  readonly database: SimDatabase;
  /** The node with this short name; throws if there is none. */
  node(name: string): CucmNode;
  /** Closes every node; never hangs. */
  close(): Promise<void>;
}

function nodeSpecs(nodes: CucmClusterOptions['nodes'], domain: string): readonly CucmClusterNodeSpec[] {
  if (typeof nodes === 'object') return nodes;
  const count = nodes ?? 2;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`a cluster needs at least one node, not ${count}`);
  return Array.from({ length: count }, (_, i) => {
    const name = i === 0 ? 'pub' : `sub${i}`;
    return { name, hostname: `cucm-${name}.${domain}` };
  });
}

/** Generates the certificates and starts every node of a simulated cluster. */
export async function startCucmCluster(options: CucmClusterOptions = {}): Promise<CucmCluster> {
  const specs = nodeSpecs(options.nodes, options.domain ?? 'example.test');
  if (specs.length === 0) throw new RangeError('a cluster needs at least one node');
  const ca = await createCa({ commonName: 'ucgate simulated CUCM CA' });
  const leaves = await Promise.all(
    specs.map((spec) =>
      issueLeaf({
        issuer: ca,
        commonName: spec.hostname,
        subjectAltNames: [spec.hostname, '127.0.0.1'],
        keyType: options.keyType ?? 'rsa-2048',
      }),
    ),
  );
  const clusterNodes = specs.map((spec) => spec.hostname);
  const forms = options.serverNames ?? 'mixed';
  const clusterServers = specs.map(
    (spec, i) =>
      spec.serverName ??
      serverName(nodeNames(spec.hostname, options.host ?? '127.0.0.1', spec.ip, spec.shortName), forms === 'mixed' ? MIXED_SERVER_NAMES[i % MIXED_SERVER_NAMES.length]! : forms),
  );
  const database = createSimDatabase({
    emPins: options.emPins ?? { jdoe: '12345' },
    personalAddressBook: options.personalAddressBook ?? DEFAULT_PAB,
  });
  const nodes: CucmNode[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.close()));
  };
  try {
    for (const [i, spec] of specs.entries()) {
      const nodeOptions: CucmNodeOptions = {
        name: spec.name,
        hostname: spec.hostname,
        clusterNodes,
        homeCluster: options.homeCluster ?? clusterNodes[0]!,
        certPem: leaves[i]!.certPem,
        keyPem: leaves[i]!.keyPem,
        ...(options.host !== undefined && { host: options.host }),
        ...(spec.port !== undefined && { port: spec.port }),
        ...(options.version !== undefined && { version: options.version }),
        ...(options.users !== undefined && { users: options.users }),
        ...(options.emPins !== undefined && { emPins: options.emPins }),
        ...(options.tftp === true && { tftp: true }),
        ...(spec.ip !== undefined && { ip: spec.ip }),
        ...(spec.shortName !== undefined && { shortName: spec.shortName }),
        ...(options.actionDelayMs !== undefined && { actionDelayMs: options.actionDelayMs }),
        ...(options.em !== undefined && { em: options.em }),
        ...(options.registeredDevices !== undefined && { registeredDevices: options.registeredDevices }),
        ...(options.urlSessionIds !== undefined && { urlSessionIds: options.urlSessionIds }),
        serverName: clusterServers[i]!,
        clusterServers,
        ...(options.tftpServers !== undefined && { tftpServers: options.tftpServers }),
        ...(options.serviceProfile !== undefined && { serviceProfile: options.serviceProfile }),
        ...(options.ciscoSupportField !== undefined && { ciscoSupportField: options.ciscoSupportField }),
        database,
      };
      nodes.push(await startCucmNode(nodeOptions));
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  return {
    caPem: ca.certPem,
    ca,
    nodes,
    publisher: nodes[0]!,
    database,
    node(name) {
      const found = nodes.find((node) => node.name === name);
      if (!found) throw new RangeError(`no node named ${name} in this cluster (${nodes.map((n) => n.name).join(', ')})`);
      return found;
    },
    close: closeAll,
  };
}
