/**
 * Client-facing listeners. Each HTTPS listener serves the gateway certificate
 * whatever SNI the client sends (or none: phones may not), with the TLS profile
 * it asks for. Several key types are offered together and OpenSSL picks the
 * one the client can use (RSA for phones, ECDSA for clients that offer it).
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpsListenerConfig, HttpListenerConfig, TlsProfileName, HttpLimits } from '../config/types.js';
import type { WireCertificate, ListenerAddress } from '../wire/messages.js';
import type { ListenerInfo } from '../proxy/request-handler.js';
import { tlsProfile } from '../tls/profiles.js';
import { SessionTickets } from '../tls/ticket-renewal.js';
import { acmeTlsAlpnOptions, closeValidations, type AlpnChallengeSource } from '../challenges/tls-alpn01-responder.js';
import { dscpToMark, markSocket } from '../net/dscp.js';

// Node checks headersTimeout and requestTimeout only this often (default 30 s): slowloris needs seconds, not half a minute.
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
// A client that opens TCP and never finishes the TLS handshake holds a socket; Node's default waits 120 s.
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Server options from `limits.http`. Phones reuse connections for menus: the idle timeout is longer than Node's 5 s. */
function serverOptions(limits: HttpLimits) {
  return {
    keepAliveTimeout: limits.idleTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
  };
}

/**
 * The limits a running server can take: at start, and again on a reload for a listener that
 * stays open (Node reads them per connection or per check, so new values apply without a restart).
 */
export function applyLimits(server: HttpsServer | HttpServer, limits: HttpLimits): void {
  // No maxHeadersCount: truncating the list can drop Host and turn "too many headers" into a
  // misleading 400. Node's own ceiling (2000) bounds memory; checkRequestHead answers 431 above the limit.
  server.maxRequestsPerSocket = limits.maxRequestsPerConnection === 0 ? null : limits.maxRequestsPerConnection;
  server.keepAliveTimeout = limits.idleTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  (server as { maxHeaderSize?: number }).maxHeaderSize = limits.maxHeaderBytes;
}

/** What the data plane attaches to every server it runs: limits, connection accounting, parse-error handling. */
export interface ServerSetup {
  readonly limits: HttpLimits;
  readonly prepare: (server: HttpsServer | HttpServer) => void;
  /** Worker threads: each binds the port itself (SO_REUSEPORT) and the kernel spreads connections. */
  readonly reusePort?: boolean;
}

export type ListenerHandler = (req: IncomingMessage, res: ServerResponse, listener: ListenerInfo) => void;

export interface Listener {
  readonly server: HttpsServer | HttpServer;
  readonly info: ListenerInfo;
  listen(): Promise<ListenerAddress>;
}

function secureOptions(profile: TlsProfileName, certificates: readonly WireCertificate[], ticketKeys: Buffer) {
  return {
    ...tlsProfile(profile).options,
    key: certificates.map((cert) => cert.keyPem),
    cert: certificates.map((cert) => cert.certPem),
    ticketKeys,
  };
}

export class HttpsListener implements Listener {
  readonly server: HttpsServer;
  readonly info: ListenerInfo;
  readonly profile: TlsProfileName;
  readonly #config: HttpsListenerConfig;
  readonly #reusePort: boolean;
  #ticketKeys: Buffer;
  #certificates: readonly WireCertificate[];
  /** Renews a ticket on every resumption and keeps the previous key's tickets good (fallback: setTicketKeys). */
  readonly tickets: SessionTickets;

  constructor(
    config: HttpsListenerConfig,
    name: string,
    defaultProfile: TlsProfileName,
    certificates: readonly WireCertificate[],
    ticketKeys: Buffer,
    handler: ListenerHandler,
    setup: ServerSetup,
    /** Only with issuer acme + tls-alpn-01: answer acme-tls/1 handshakes from these. */
    alpnChallenges?: AlpnChallengeSource,
  ) {
    this.#config = config;
    this.profile = config.profile ?? defaultProfile;
    this.#ticketKeys = ticketKeys;
    this.#certificates = certificates;
    this.info = { name, protocol: 'https', port: config.port };
    this.server = createHttpsServer(
      {
        ...secureOptions(this.profile, certificates, ticketKeys),
        ...serverOptions(setup.limits),
        handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
        ...(alpnChallenges && acmeTlsAlpnOptions(alpnChallenges)),
      },
      (req, res) => handler(req, res, this.info),
    );
    if (alpnChallenges) closeValidations(this.server);
    this.tickets = new SessionTickets(this.server, ticketKeys, certificates.length > 0 ? secureOptions(this.profile, certificates, ticketKeys) : undefined);
    this.#reusePort = setup.reusePort === true;
    applyLimits(this.server, setup.limits);
    setup.prepare(this.server);
    markConnections(this.server, config.dscp);
  }

  async listen(): Promise<ListenerAddress> {
    const address = await listenOn(this.server, this.#config.host, this.#config.port, this.#reusePort);
    (this.info as { port: number }).port = address.port;
    return { name: this.info.name, protocol: 'https', host: this.#config.host, port: address.port, profile: this.profile };
  }

  /** The next handshake uses these; connections already open keep theirs. */
  setCertificates(certificates: readonly WireCertificate[]): void {
    this.#certificates = certificates;
    this.server.setSecureContext(secureOptions(this.profile, certificates, this.#ticketKeys));
    this.tickets.refresh(certificates.length > 0 ? secureOptions(this.profile, certificates, this.#ticketKeys) : undefined);
  }

  setTicketKeys(ticketKeys: Buffer): void {
    this.#ticketKeys = ticketKeys;
    this.tickets.setKeys(ticketKeys);
  }

  get certificates(): readonly WireCertificate[] {
    return this.#certificates;
  }
}

export class HttpListener implements Listener {
  readonly server: HttpServer;
  readonly info: ListenerInfo;
  readonly #config: HttpListenerConfig;
  readonly #reusePort: boolean;

  constructor(config: HttpListenerConfig, name: string, handler: ListenerHandler, setup: ServerSetup) {
    this.#config = config;
    this.info = { name, protocol: 'http', port: config.port };
    this.server = createHttpServer(serverOptions(setup.limits), (req, res) => handler(req, res, this.info));
    this.#reusePort = setup.reusePort === true;
    applyLimits(this.server, setup.limits);
    setup.prepare(this.server);
    markConnections(this.server, config.dscp);
  }

  async listen(): Promise<ListenerAddress> {
    const address = await listenOn(this.server, this.#config.host, this.#config.port, this.#reusePort);
    (this.info as { port: number }).port = address.port;
    return { name: this.info.name, protocol: 'http', host: this.#config.host, port: address.port };
  }
}

/** Marks every accepted connection before its first byte (the TLS ServerHello included). */
function markConnections(server: HttpsServer | HttpServer, dscp: string | number | undefined): void {
  const codePoint = dscpToMark(dscp);
  if (codePoint === undefined) return;
  server.on('connection', (socket) => markSocket(socket, codePoint));
}

function listenOn(server: HttpsServer | HttpServer, host: string, port: number, reusePort: boolean): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ...(reusePort && { reusePort }) }, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
