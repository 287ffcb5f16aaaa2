/** What a simulated CUCM node (cucm-node.ts) offers the tests and `ucgate demo`: its options, its failure modes, what it records. */
import type { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { SimOAuthState } from './oauth-store.js';

export interface CucmNodeOptions {
  /** Short name, sent back in `x-cucm-node` (e.g. `pub`, `sub1`). */
  readonly name: string;
  /** The node's FQDN; it appears in every URI the node writes into a body. */
  readonly hostname: string;
  /**
   * FQDNs of every node of the cluster, publisher first: the call-manager
   * group of device configurations (`/cucm-uds/servers` lists `clusterServers`).
   * Default: `[hostname]`.
   */
  readonly clusterNodes?: readonly string[];
  /** Publisher FQDN that `clusterUser` names as the home cluster. Default: `hostname`. */
  readonly homeCluster?: string;
  /** The node's Tomcat certificate (PEM; may carry the chain after the leaf). */
  readonly certPem: string;
  readonly keyPem: string;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 0: any free port, kept across `stop()`/`restart()`. */
  readonly port?: number;
  /** Default `14.0.1.13900-155`. */
  readonly version?: string;
  /** End users, user id → password (UDS HTTP Basic, authenticate.jsp). Default `{ jdoe: 'secret' }`. */
  readonly users?: Readonly<Record<string, string>>;
  /** PINs (EM, Change Credential, Personal Directory), user id → PIN; seeds the database. Default `{ jdoe: '12345' }`. */
  readonly emPins?: Readonly<Record<string, string>>;
  /**
   * Also run CUCM's TFTP-over-HTTP service (see tftp-endpoints.ts): over TLS
   * on `tftpPort` (CUCM's 6972) and plain on `tftpHttpPort` (6970). Both
   * default to 0 (any free port, kept across `stop()`/`restart()`).
   */
  readonly tftp?: boolean | { readonly port?: number; readonly httpPort?: number };
  /**
   * The node's IP address as CUCM writes it into phone XML (`https://<ip>:8443/...`).
   * Default: the listening address (`127.0.0.1` for a wildcard one).
   */
  readonly ip?: string;
  /** The node's server name as CUCM writes it (`https://CUCM-PUB:8443/...`). Default: the first label of `hostname`, upper-cased. */
  readonly shortName?: string;
  /**
   * How long an action (EM login/logout, PIN change, Personal Directory edit,
   * authenticate.jsp) takes before the node answers: real ones write CUCM's
   * database or bind to LDAP. Default 1500 ms.
   */
  readonly actionDelayMs?: number;
  /** Extension Mobility service parameters; see `EmServiceParameters`. */
  readonly em?: EmServiceParameters;
  /**
   * Registered phones, device name → IP address. EM's "Validate IP Address"
   * accepts a request from "a registered device". Default: none.
   */
  readonly registeredDevices?: Readonly<Record<string, string>>;
  /** Personal Address Book entries per user id (the cluster database's initial content). Default: one entry for `jdoe`. */
  readonly personalAddressBook?: Readonly<Record<string, readonly PabEntryInit[]>>;
  /**
   * Write `;jsessionid=` into the links of pages that hold a Tomcat session
   * when the request did not present the session cookie (Tomcat's
   * `encodeURL`). Default false: no source shows which CUCM pages do this.
   */
  readonly urlSessionIds?: boolean;
  /**
   * The node as CUCM's System > Server page defines it ("Fully Qualified
   * Domain Name/IP Address": a host name, an FQDN or an IP address). UDS
   * writes it where it names the node from the database: `/servers`, the
   * `speedDials`, `subscribedServices` and `userLocale` links of `user`, and
   * service-profile URIs when the node is the TFTP server (uds-names.ts).
   * Default: `shortName`.
   */
  readonly serverName?: string;
  /** Every node's System > Server name, publisher first, for `/cucm-uds/servers`. Default: `[serverName]`. */
  readonly clusterServers?: readonly string[];
  /**
   * The cluster's TFTP servers as System > Server names them, first one
   * first: the host of the `serviceProfile` and `jabberProfile` URIs in UDS
   * `user` answers, and the TFTP server list of the service profile file.
   * Default: `[clusterServers[0]]` (the publisher).
   */
  readonly tftpServers?: readonly string[];
  /**
   * The UC service profile every user is assigned (User Management > User
   * Settings > Service Profile), by name: its file is `SP<pkid>.cnf.xml`
   * and, from 12.5, its Jabber client configuration `JAB_<pkid>.cnf.xml`.
   * `null`: the system default profile (`SPDefault.cnf.xml`). Default `'Jabber'`.
   */
  readonly serviceProfile?: string | null;
  /**
   * The "Cisco Support Field" (Product Specific Configuration > Desktop
   * Client Settings) of each user's Jabber devices (CSF, BOT, TCT), user id
   * → the field's text, e.g. `configurationFile=SalesGroup.xml`. The TFTP
   * service serves the group configuration file the field names. Default:
   * `{ jdoe: 'configurationFile=SalesGroup.xml' }`.
   */
  readonly ciscoSupportField?: Readonly<Record<string, string>>;
  /**
   * The cluster's database, shared by every node of a simulated cluster
   * (`startCucmCluster` passes one). Default: a database of the node's own,
   * built from `emPins`, `users` and `personalAddressBook`.
   */
  readonly database?: SimDatabase;
}

/**
 * The Cisco Extension Mobility service parameters the node honours, named as
 * in the Feature Configuration Guide for Cisco Unified Communications
 * Manager, "Extension Mobility Service Parameters". The guide states no
 * default for the three source checks; the simulator leaves them off.
 */
export interface EmServiceParameters {
  /** "Validate IP Address". Default false (not validated). */
  readonly validateIpAddress?: boolean;
  /** "Trusted List of IPs": addresses (compared literally, not resolved), as a list or CUCM's semicolon-separated text. */
  readonly trustedListOfIps?: readonly string[] | string;
  /** "Allow Proxy": takes effect only if Validate IP Address is true. Default false. */
  readonly allowProxy?: boolean;
  /** "Maximum Concurrent Requests": login/logout operations at once. Default 5. */
  readonly maximumConcurrentRequests?: number;
}

/** One Personal Address Book entry as given in the options. */
export interface PabEntryInit {
  readonly nickname: string;
  readonly homeNumber?: string;
  readonly workNumber?: string;
  readonly mobileNumber?: string;
}

/** The part of CUCM's database the phone flows read and write; see sim-database.ts. */
export interface SimDatabase {
  /** Extension Mobility PINs, user id → PIN (a PIN change writes here). */
  readonly pins: Map<string, string>;
  /** Who is logged in on which device (EM): device name → user id. */
  readonly emLogins: Map<string, string>;
  /** Personal Address Book: user id → entries by pkid. */
  readonly pab: Map<string, Map<string, PabEntryInit>>;
  /** Next pkid to hand out. */
  nextPkid(): string;
  /** OAuth (AuthZ): enterprise parameters, clients, keys and refresh tokens, cluster-wide; see oauth-store.ts. */
  readonly oauth: SimOAuthState;
}

/**
 * What a phone flow changes; see `NodeAction`. The OAuth kinds (oauth-endpoints.ts): `oauth-authorize`, a
 * sign-in's credentials (or SAML assertion) checked and a code issued; `oauth-token`, a token grant; `oauth-revoke`.
 */
export type NodeActionKind = 'em-login' | 'em-logout' | 'pin-change' | 'pd-edit' | 'authenticate' | 'oauth-authorize' | 'oauth-token' | 'oauth-revoke';

/**
 * One action the node started: it ran for `actionDelayMs` and then changed
 * (or, on bad credentials, did not change) the database. An action whose
 * node stopped before it finished keeps `completedAt` and `result`
 * undefined, and changed nothing.
 */
export interface NodeAction {
  readonly kind: NodeActionKind;
  /** The user the action is for (for an EM logout: the user logged in on the device, if any). */
  readonly user: string | undefined;
  readonly device: string | undefined;
  /** The address the node judged the request to come from: the TCP peer, as EM validates it. */
  readonly source: string;
  /** The `X-Forwarded-For` header as received, for tests; the node does not judge by it. */
  readonly forwardedFor: string | undefined;
  /** Whether a `Via` header marked the request as coming through a proxy. */
  readonly viaProxy: boolean;
  /** `Date.now()` when the action started and when it completed. */
  readonly startedAt: number;
  readonly completedAt: number | undefined;
  /** `ok`: the change was made (or the credentials accepted); `failed`: refused after checking. */
  readonly result: 'ok' | 'failed' | undefined;
  /** What the phone was shown, e.g. `Please try to login again (201)`; for `pd-edit`: `add`, `edit` or `delete` first. */
  readonly detail: string | undefined;
}

/** An EM login/logout the node refused before starting it (EM error 26, 28 or 30). */
export interface RefusedAction {
  readonly kind: 'em-login' | 'em-logout';
  readonly user: string | undefined;
  readonly device: string | undefined;
  readonly source: string;
  readonly forwardedFor: string | undefined;
  readonly time: number;
  /** 26 busy (Maximum Concurrent Requests), 28 untrusted IP, 30 proxy not allowed. */
  readonly code: 26 | 28 | 30;
}

/**
 * What a UDS write changed: `device-token` (push registration, 12.0+),
 * `remote-destination` (Single Number Reach, Dial via Office), and the
 * self-service writes `user`, `device`, `credentials`, `speed-dials`,
 * `conferencing`.
 */
export type UdsWriteKind = 'device-token' | 'remote-destination' | 'user' | 'device' | 'credentials' | 'speed-dials' | 'conferencing';

/** One UDS write the node carried out (or refused after authenticating the caller); see uds-writes.ts. */
export interface UdsWrite {
  readonly kind: UdsWriteKind;
  /** `PUT`, `POST` or `DELETE`. */
  readonly method: string;
  /** The user the resource belongs to (the authenticated caller: UDS lets users write only their own). */
  readonly user: string;
  /** The device pkid (`device-token`, `device`) or remote destination pkid, when the path names one. */
  readonly resource: string | undefined;
  /** The request path without the query, as received. */
  readonly path: string;
  /** Reached through `/cucm-uds/private/`. */
  readonly private: boolean;
  /** The answer's status: 200/201/204 when the database changed, 404/405/409/415 when it did not. */
  readonly status: number;
  /** `Date.now()` when it was answered. */
  readonly time: number;
  readonly source: string;
  readonly forwardedFor: string | undefined;
}

/** Which of the node's services a request reached. */
export type NodeService = 'uds' | 'tftp';

/** The fixed answer of the 'status' behaviour. */
export interface StatusAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

/**
 * - `normal`: answer.
 * - `hang`: complete TLS, read the request, never answer.
 * - `status`: answer every request with one fixed status (e.g. 503 + Retry-After).
 * - `reset`: read the request head, then reset the TCP connection (RST).
 * - `blackhole`: accept TCP, never start TLS (a connect that "succeeds" into nothing).
 *
 * A behaviour applies to requests (or, for `blackhole`, connections) that
 * arrive after it is set; a hung request stays hung.
 */
export type CucmBehaviour = 'normal' | 'hang' | 'reset' | 'blackhole' | ({ readonly kind?: 'status' } & StatusAnswer);

/** One request as it reached the node. */
export interface RecordedRequest {
  readonly method: string;
  /** The request target exactly as received (no normalisation). */
  readonly url: string;
  /** A copy of the parsed headers. */
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  /** Bytes of request body received (complete by the time 'request' is emitted). */
  readonly bodyLength: number;
  /** `Date.now()` when the request head arrived. */
  readonly time: number;
  readonly remotePort: number | undefined;
  /** SNI the client sent, if any. */
  readonly servername: string | undefined;
  /** Status of the answer once it is sent; undefined while pending or if none was sent. */
  readonly status: number | undefined;
  /** `uds`: the HTTPS port (UDS, phone services, test endpoints); `tftp`: a TFTP port. */
  readonly service: NodeService;
}

export interface CucmNode {
  readonly name: string;
  readonly hostname: string;
  /** `https://<host>:<port>`; `host` is the listening address, not the FQDN. */
  readonly url: string;
  readonly port: number;
  /** The TFTP-over-HTTPS port (CUCM's 6972), when the node runs TFTP. */
  readonly tftpPort: number | undefined;
  /** The plain TFTP-over-HTTP port (CUCM's 6970), when the node runs TFTP. */
  readonly tftpHttpPort: number | undefined;
  readonly listening: boolean;
  /** Every request received since start (or the last `clearRequests()`), in arrival order. */
  readonly requests: readonly RecordedRequest[];
  readonly requestCount: number;
  /** TCP connections accepted since start. */
  readonly connectionCount: number;
  /** JSESSIONIDs this node has issued. */
  readonly sessions: ReadonlySet<string>;
  /** Every action started since start (or the last `clearActions()`), in start order; see `NodeAction`. */
  readonly actions: readonly NodeAction[];
  /** EM logins/logouts refused before they started. */
  readonly refusedActions: readonly RefusedAction[];
  /** UDS writes carried out since start (or the last `clearActions()`), in answer order; see `UdsWrite`. */
  readonly udsWrites: readonly UdsWrite[];
  /** The database this node reads and writes (shared by a simulated cluster's nodes). */
  readonly database: SimDatabase;
  readonly behaviour: CucmBehaviour;
  /**
   * 'connection' (remotePort) per accepted TCP connection; 'request'
   * (RecordedRequest) once a request's body is read, before any answer;
   * 'response' (RecordedRequest) once an answer is fully sent;
   * 'action-started' (NodeAction) when an action starts, 'action'
   * (NodeAction) when it completes; 'action-refused' (RefusedAction);
   * 'uds-write' (UdsWrite) once a UDS write is answered.
   */
  readonly events: EventEmitter;
  setBehaviour(behaviour: CucmBehaviour): void;
  setBehaviour(behaviour: 'status', answer: StatusAnswer): void;
  clearRequests(): void;
  /** Forgets recorded actions, refusals and UDS writes (not the database). */
  clearActions(): void;
  /**
   * Stops listening and destroys every open connection and pending timer.
   * Actions in progress stop where they are: started, never completed. Never hangs.
   */
  close(): Promise<void>;
  /** Same as close(): the port refuses connections until restart(). */
  stop(): Promise<void>;
  /** Listens again on the same port; a no-op while listening. Keeps the behaviour. */
  restart(): Promise<void>;
}
