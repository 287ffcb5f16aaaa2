/**
 * A simulated CUCM platform certificate API (`/platformcom/api/v1/certmgr/`),
 * the part ucgate calls to put its leaf into trust stores. It is its own
 * HTTPS server (on a real CUCM each server's Tomcat serves it) so a test can
 * stand up, break and inspect it apart from the UDS nodes.
 *
 * Cisco documents the API per server, and each server keeps its own trust
 * stores: so does this one. With `nodes`, every name is a server of its own
 * (its own stores, failures, answer shape and API presence), told apart by
 * the Host header the call carries — point several ucgate targets at one
 * port under different names. Without, one server answers whatever the Host.
 *
 * It keeps one list per trust service per server, checks HTTP Basic against
 * one platform administrator, and records every call with the time it
 * arrived and the server it reached, so a test can prove a leaf was received
 * (and listed) on every server before the gateway served it.
 *
 *   POST   .../config/trust/certificates  {"service":["tomcat"],"certificates":[PEM],"description":"..."}
 *   GET    .../config/trust/certificate?service=tomcat
 *   DELETE .../config/trust/certificate?service=tomcat&serialNumber=<hex>
 *
 * The GET answer comes in either shape public clients of the API handle: an
 * array of certificate objects, or an object holding them (`certificates`).
 * A server set to `noApi` plays CUCM 12.5: every certmgr path is 404, and
 * an administrator's upload in OS Administration is `addByHand`.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { X509Certificate } from 'node:crypto';

export const CERTMGR_BASE = '/platformcom/api/v1/certmgr/config/trust';

export interface TrustEntry {
  /** The server that holds it. */
  readonly node: string;
  readonly service: string;
  readonly pem: string;
  /** Lowercase hex, no leading zeros (as ucgate's store names versions). */
  readonly serial: string;
  /** Colon hex, as node prints it. */
  readonly fingerprint: string;
  readonly description: string;
  /** Date.now() when it arrived. */
  readonly receivedAt: number;
  /** Put there by an administrator in OS Administration, not through the API. */
  readonly byHand?: true;
}

export interface CertmgrCall {
  /** The server the call reached. */
  readonly node: string;
  readonly method: string;
  readonly url: string;
  readonly time: number;
  readonly status: number;
  /** The user the Basic header named, if it parsed (never the password). */
  readonly user: string | undefined;
}

/** How a GET listing comes back: `[{...}]`, or `{"certificates": [{...}]}`. */
export type ListingShape = 'array' | 'object';

export interface CertmgrServerOptions {
  readonly certPem: string;
  readonly keyPem: string;
  readonly username: string;
  readonly password: string;
  readonly host?: string;
  /** Host names of the servers this one plays, each with its own stores (the certificate must name them all). */
  readonly nodes?: readonly string[];
  /** Default `object`. */
  readonly shape?: ListingShape;
}

/** Answers every call with this status instead (a server down for maintenance, say). */
export type CertmgrFailure = { readonly status: number; readonly body?: string } | undefined;

export interface CertmgrServer {
  readonly url: string;
  readonly port: number;
  /** The servers played: the `nodes` given, or `default`. */
  readonly nodes: readonly string[];
  /** Current content, per service, of one server (default: all servers). */
  entries(service?: string, node?: string): TrustEntry[];
  readonly calls: readonly CertmgrCall[];
  /** Every entry ever received, removed ones included, in arrival order. */
  readonly received: readonly TrustEntry[];
  /** For one server (default: all). */
  failWith(failure: CertmgrFailure, node?: string): void;
  setShape(shape: ListingShape, node?: string): void;
  /** The server has no certificate API (CUCM 12.5): every certmgr path answers 404 (default: all servers). */
  noApi(absent: boolean, node?: string): void;
  /** What an administrator does in OS Administration > Certificate Management on one server. */
  addByHand(pem: string, services: readonly string[], node?: string): void;
  close(): Promise<void>;
}

const DEFAULT_NODE = 'default';
const JSON_TYPE = 'application/json';
// What a Tomcat without the certmgr application answers.
const NOT_FOUND_PAGE = '<!doctype html><html lang="en"><head><title>HTTP Status 404 – Not Found</title></head><body><h1>HTTP Status 404 – Not Found</h1></body></html>';

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function basicCredentials(req: IncomingMessage): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function serialOf(cert: X509Certificate): string {
  return cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
}

/** One simulated server's state. */
interface NodeState {
  readonly trust: Map<string, TrustEntry[]>;
  failure: CertmgrFailure;
  shape: ListingShape;
  noApi: boolean;
}

export async function startCertmgrServer(options: CertmgrServerOptions): Promise<CertmgrServer> {
  const names = options.nodes && options.nodes.length > 0 ? options.nodes.map((n) => n.toLowerCase()) : [DEFAULT_NODE];
  const state = new Map<string, NodeState>(names.map((name) => [name, { trust: new Map(), failure: undefined, shape: options.shape ?? 'object', noApi: false }]));
  const calls: CertmgrCall[] = [];
  const received: TrustEntry[] = [];
  const sockets = new Set<Socket>();
  const pick = (node: string | undefined) => (node === undefined ? names : [node.toLowerCase()]).map((name) => {
    const found = state.get(name);
    if (!found) throw new Error(`no simulated server ${name} (have ${names.join(', ')})`);
    return found;
  });

  /** The server a call reached: by its Host header when several are played. */
  const nodeOf = (req: IncomingMessage): string | undefined => {
    if (names.length === 1 && names[0] === DEFAULT_NODE) return DEFAULT_NODE;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
    return state.has(host) ? host : undefined;
  };

  const store = (node: string, service: string, pem: string, cert: X509Certificate, description: string, byHand: boolean) => {
    const trust = state.get(node)!.trust;
    const list = trust.get(service) ?? [];
    const entry: TrustEntry = {
      node,
      service,
      pem,
      serial: serialOf(cert),
      fingerprint: cert.fingerprint256,
      description,
      receivedAt: Date.now(),
      ...(byHand && { byHand: true as const }),
    };
    // Uploading the same certificate again replaces it, as CUCM does.
    trust.set(service, [...list.filter((e) => e.fingerprint !== entry.fingerprint), entry]);
    received.push(entry);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer, node: string | undefined): number => {
    if (node === undefined) {
      send(res, 421, { message: `this server does not answer for ${req.headers.host ?? 'no Host'}` });
      return 421;
    }
    const server = state.get(node)!;
    const url = new URL(req.url ?? '/', 'https://certmgr.invalid');
    if (server.noApi && url.pathname.startsWith('/platformcom/')) {
      res.writeHead(404, { 'content-type': 'text/html;charset=utf-8', 'content-length': Buffer.byteLength(NOT_FOUND_PAGE) });
      res.end(NOT_FOUND_PAGE);
      return 404;
    }
    if (server.failure) {
      send(res, server.failure.status, { message: server.failure.body ?? 'failure injected by the test' });
      return server.failure.status;
    }
    const creds = basicCredentials(req);
    if (!creds || creds.user !== options.username || creds.password !== options.password) {
      res.setHeader('www-authenticate', 'Basic realm="Cisco Platform"');
      send(res, 401, { message: 'Unauthorized' });
      return 401;
    }
    if (req.method === 'POST' && url.pathname === `${CERTMGR_BASE}/certificates`) {
      let parsed: { service?: unknown; certificates?: unknown; description?: unknown };
      try {
        parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
      } catch {
        send(res, 400, { message: 'body is not JSON' });
        return 400;
      }
      const services = parsed.service;
      const pems = parsed.certificates;
      if (!Array.isArray(services) || services.length === 0 || !services.every((s) => typeof s === 'string')) {
        send(res, 400, { message: 'service must be a non-empty list of names' });
        return 400;
      }
      if (!Array.isArray(pems) || pems.length === 0 || !pems.every((p) => typeof p === 'string')) {
        send(res, 400, { message: 'certificates must be a non-empty list of PEM strings' });
        return 400;
      }
      let certs: X509Certificate[];
      try {
        certs = pems.map((pem) => new X509Certificate(pem));
      } catch {
        send(res, 400, { message: 'a certificate does not parse' });
        return 400;
      }
      const description = typeof parsed.description === 'string' ? parsed.description : '';
      for (const service of services as string[]) certs.forEach((cert, i) => store(node, service, pems[i] as string, cert, description, false));
      send(res, 200, { message: 'Successfully uploaded the certificate(s)', service: services, count: certs.length });
      return 200;
    }
    if (url.pathname === `${CERTMGR_BASE}/certificate` && (req.method === 'GET' || req.method === 'DELETE')) {
      const service = url.searchParams.get('service');
      if (!service) {
        send(res, 400, { message: 'service is required' });
        return 400;
      }
      const list = server.trust.get(service) ?? [];
      if (req.method === 'GET') {
        const certificates = list.map((e) => ({ serialNumber: e.serial, fingerprint: e.fingerprint, description: e.description, certificate: e.pem }));
        send(res, 200, server.shape === 'array' ? certificates : { certificates });
        return 200;
      }
      const serial = (url.searchParams.get('serialNumber') ?? '').toLowerCase().replace(/^0+(?=.)/, '');
      const kept = list.filter((e) => e.serial !== serial);
      if (kept.length === list.length) {
        send(res, 404, { message: `no certificate with serial ${serial} in ${service}-trust` });
        return 404;
      }
      server.trust.set(service, kept);
      send(res, 200, { message: 'Deleted' });
      return 200;
    }
    send(res, 404, { message: 'Not Found' });
    return 404;
  };

  const server = https.createServer({ cert: options.certPem, key: options.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const time = Date.now();
      const node = nodeOf(req);
      const status = handle(req, res, Buffer.concat(chunks), node);
      calls.push({ node: node ?? '?', method: req.method ?? '', url: req.url ?? '', time, status, user: basicCredentials(req)?.user });
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    nodes: names,
    entries: (service, node) =>
      pick(node).flatMap((s) => (service ? [...(s.trust.get(service) ?? [])] : [...s.trust.values()].flat())),
    calls,
    received,
    failWith: (next, node) => {
      for (const s of pick(node)) s.failure = next;
    },
    setShape: (shape, node) => {
      for (const s of pick(node)) s.shape = shape;
    },
    noApi: (absent, node) => {
      for (const s of pick(node)) s.noApi = absent;
    },
    addByHand: (pem, services, node) => {
      const cert = new X509Certificate(pem);
      for (const name of node === undefined ? names : [node.toLowerCase()]) {
        if (!state.has(name)) throw new Error(`no simulated server ${name}`);
        for (const service of services) store(name, service, pem, cert, 'uploaded in OS Administration', true);
      }
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
