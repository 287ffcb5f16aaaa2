/**
 * A simulated CUCM platform certificate API (`/platformcom/api/v1/certmgr/`),
 * the part ucgate calls to put its leaf into a cluster's trust stores. It is
 * its own HTTPS server (on a real publisher the same Tomcat serves it) so a
 * test can stand up, break and inspect it apart from the UDS nodes.
 *
 * It keeps one list per trust service, checks HTTP Basic against one
 * platform administrator, and records every call with the time it arrived,
 * so a test can prove a leaf was received before the gateway served it.
 *
 *   POST   .../config/trust/certificates  {"service":["tomcat"],"certificates":[PEM],"description":"..."}
 *   GET    .../config/trust/certificate?service=tomcat
 *   DELETE .../config/trust/certificate?service=tomcat&serialNumber=<hex>
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { X509Certificate } from 'node:crypto';

export const CERTMGR_BASE = '/platformcom/api/v1/certmgr/config/trust';

export interface TrustEntry {
  readonly service: string;
  readonly pem: string;
  /** Lowercase hex, no leading zeros (as ucgate's store names versions). */
  readonly serial: string;
  /** Colon hex, as node prints it. */
  readonly fingerprint: string;
  readonly description: string;
  /** Date.now() when it arrived. */
  readonly receivedAt: number;
}

export interface CertmgrCall {
  readonly method: string;
  readonly url: string;
  readonly time: number;
  readonly status: number;
  /** The user the Basic header named, if it parsed (never the password). */
  readonly user: string | undefined;
}

export interface CertmgrServerOptions {
  readonly certPem: string;
  readonly keyPem: string;
  readonly username: string;
  readonly password: string;
  readonly host?: string;
}

/** Answers every call with this status instead (a publisher down for maintenance, say). */
export type CertmgrFailure = { readonly status: number; readonly body?: string } | undefined;

export interface CertmgrServer {
  readonly url: string;
  readonly port: number;
  /** Current content, per service. */
  entries(service?: string): TrustEntry[];
  readonly calls: readonly CertmgrCall[];
  /** Every entry ever received, removed ones included, in arrival order. */
  readonly received: readonly TrustEntry[];
  failWith(failure: CertmgrFailure): void;
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json';

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

export async function startCertmgrServer(options: CertmgrServerOptions): Promise<CertmgrServer> {
  const trust = new Map<string, TrustEntry[]>();
  const calls: CertmgrCall[] = [];
  const received: TrustEntry[] = [];
  const sockets = new Set<Socket>();
  let failure: CertmgrFailure;

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer): number => {
    if (failure) {
      send(res, failure.status, { message: failure.body ?? 'failure injected by the test' });
      return failure.status;
    }
    const creds = basicCredentials(req);
    if (!creds || creds.user !== options.username || creds.password !== options.password) {
      res.setHeader('www-authenticate', 'Basic realm="Cisco Platform"');
      send(res, 401, { message: 'Unauthorized' });
      return 401;
    }
    const url = new URL(req.url ?? '/', 'https://certmgr.invalid');
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
      const now = Date.now();
      for (const service of services as string[]) {
        const list = trust.get(service) ?? [];
        certs.forEach((cert, i) => {
          const entry: TrustEntry = {
            service,
            pem: pems[i] as string,
            serial: serialOf(cert),
            fingerprint: cert.fingerprint256,
            description: typeof parsed.description === 'string' ? parsed.description : '',
            receivedAt: now,
          };
          // Uploading the same certificate again replaces it, as CUCM does.
          const kept = list.filter((e) => e.fingerprint !== entry.fingerprint);
          kept.push(entry);
          list.splice(0, list.length, ...kept);
          received.push(entry);
        });
        trust.set(service, list);
      }
      send(res, 200, { message: 'Successfully uploaded the certificate(s)', service: services, count: certs.length });
      return 200;
    }
    if (url.pathname === `${CERTMGR_BASE}/certificate` && (req.method === 'GET' || req.method === 'DELETE')) {
      const service = url.searchParams.get('service');
      if (!service) {
        send(res, 400, { message: 'service is required' });
        return 400;
      }
      const list = trust.get(service) ?? [];
      if (req.method === 'GET') {
        send(res, 200, { certificates: list.map((e) => ({ serialNumber: e.serial, fingerprint: e.fingerprint, description: e.description, certificate: e.pem })) });
        return 200;
      }
      const serial = (url.searchParams.get('serialNumber') ?? '').toLowerCase().replace(/^0+(?=.)/, '');
      const kept = list.filter((e) => e.serial !== serial);
      if (kept.length === list.length) {
        send(res, 404, { message: `no certificate with serial ${serial} in ${service}-trust` });
        return 404;
      }
      trust.set(service, kept);
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
      const status = handle(req, res, Buffer.concat(chunks));
      calls.push({ method: req.method ?? '', url: req.url ?? '', time, status, user: basicCredentials(req)?.user });
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
    entries: (service) => (service ? [...(trust.get(service) ?? [])] : [...trust.values()].flat()),
    calls,
    received,
    failWith: (next) => {
      failure = next;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
