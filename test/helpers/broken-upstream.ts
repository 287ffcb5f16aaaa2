/**
 * An HTTPS upstream that misbehaves on demand, for the gateway's
 * broken-upstream, smuggling and soak tests. It speaks HTTP/1.1 by hand over
 * TLS (no node:http server in the way), so it can write exactly the wrong
 * bytes a failing or hostile CUCM might: a reset mid-body, garbage, headers
 * of 100 KB, one byte every 200 ms, an HTTP/0.9 answer, or a certificate
 * that is expired or names someone else.
 *
 * Every request head is recorded the moment it arrives — before its body —
 * so "the upstream never saw it" is checked strictly: a head forwarded and
 * then abandoned still counts as seen.
 *
 * Certificates come from a CA made with src/pki/x509.ts (`createTestCa`);
 * several upstreams can share one CA so one `caFile` trusts them all.
 */
import net from 'node:net';
import tls from 'node:tls';
import { createCa, issueLeaf, type KeyAndCertificate } from '../../src/pki/x509.js';

/**
 * Request-level behaviours (applied per request):
 * - `normal`: a well-formed keep-alive answer (UDS version XML on
 *   `/cucm-uds/version`, a short text elsewhere).
 * - `reset`: read the request head, then a TCP reset before any answer.
 * - `reset-mid-body`: a 200 head announcing 20 000 bytes, half of them, then a TCP reset.
 * - `reset-mid-chunked`: a chunked 200, three chunks, then a TCP reset (no last chunk).
 * - `garbage`: bytes that are not HTTP, then close.
 * - `oversized-headers`: a 200 whose header block is ~100 KB.
 * - `trickle`: a valid answer, one byte every `trickleMs` (head included).
 * - `http09`: an HTTP/0.9 answer: the body without any status line, then close.
 * - `cl-te-response`: a 200 framed two ways at once (Content-Length 5 and chunked): a
 *   proxy that forwards it can desynchronise its client connection.
 * - `chunked-identity-response`: a 200 with `Transfer-Encoding: chunked, identity` and a
 *   chunked body, then close. chunked is not the final coding, so by RFC 9112 §6.3 the
 *   body runs to the close (Node's parser does that, chunk sizes and all); nginx and
 *   HAProxy refuse such a response with 502 instead.
 *
 * Connection-level behaviours (applied per TLS handshake):
 * - `expired-cert`: a certificate from the right CA for the right name, expired.
 * - `wrong-name-cert`: a valid certificate from the right CA for another name.
 */
export type BrokenBehaviour =
  | 'normal'
  | 'reset'
  | 'reset-mid-body'
  | 'reset-mid-chunked'
  | 'garbage'
  | 'oversized-headers'
  | 'trickle'
  | 'http09'
  | 'cl-te-response'
  | 'chunked-identity-response'
  | 'expired-cert'
  | 'wrong-name-cert';

export const REQUEST_BEHAVIOURS = ['reset', 'reset-mid-body', 'reset-mid-chunked', 'garbage', 'oversized-headers', 'trickle', 'http09', 'cl-te-response', 'chunked-identity-response'] as const;
export const CERTIFICATE_BEHAVIOURS = ['expired-cert', 'wrong-name-cert'] as const;

/** One request head as it reached the upstream. */
export interface UpstreamRequest {
  readonly method: string;
  readonly url: string;
  /** Lowercased names; a repeated header keeps every value, joined by `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** The head exactly as received (latin1), request line included. */
  readonly rawHead: string;
  readonly time: number;
  /** What this request was answered with. */
  readonly behaviour: BrokenBehaviour;
  /** Sent by the gateway's own health checker (user-agent `ucgate-health-check`). */
  readonly healthCheck: boolean;
  /** True once the whole body (as framed by the head) arrived; a head abandoned mid-body stays false. */
  readonly bodyComplete: boolean;
}

export interface BrokenUpstreamOptions {
  /** Short node name; also sent back in `x-cucm-node`. */
  readonly name: string;
  /** The name its good certificate is for. Default `<name>.example.test`. */
  readonly hostname?: string;
  /** Share one CA between several upstreams; default a new one. */
  readonly ca?: KeyAndCertificate;
  /**
   * One behaviour, or several taken in turn (request behaviours per request,
   * certificate ones per connection). Setting a certificate behaviour closes
   * every open connection, so the next request needs a new handshake.
   */
  readonly behaviour?: BrokenBehaviour | readonly BrokenBehaviour[];
  /** Default 200. */
  readonly trickleMs?: number;
  /** Default 100 KiB. */
  readonly oversizedHeaderBytes?: number;
}

export interface BrokenUpstream {
  readonly name: string;
  readonly hostname: string;
  readonly port: number;
  /** `https://<hostname>:<port>`: what goes in the gateway's node `url` (with `address: 127.0.0.1`). */
  readonly url: string;
  /** The CA every certificate of this upstream comes from. */
  readonly ca: KeyAndCertificate;
  readonly caPem: string;
  /** Every request head since start or `clearRequests()`, health checks included. */
  readonly requests: readonly UpstreamRequest[];
  /** Requests other than the gateway's health checks. */
  proxied(since?: number): UpstreamRequest[];
  /** TCP connections accepted. */
  readonly connectionCount: number;
  /** TLS handshakes that resumed an earlier session (no certificate sent or checked). */
  readonly resumedCount: number;
  setBehaviour(behaviour: BrokenBehaviour | readonly BrokenBehaviour[]): void;
  clearRequests(): void;
  /** Stops listening and destroys every connection and timer. Never hangs. */
  close(): Promise<void>;
}

/** A CA for test upstreams (ECDSA: cheap handshakes for the soak). */
export function createTestCa(commonName = 'ucgate broken-upstream test CA'): Promise<KeyAndCertificate> {
  return createCa({ commonName, keyType: 'ecdsa-p256' });
}

const DAY_MS = 86_400_000;
const VERSION_XML =
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><versionInformation uri="https://broken.example.test:8443/cucm-uds/version" version="14.0.1"><version>14.0.1.13900-155</version><capabilities><usersResourceAuthEnabled>false</usersResourceAuthEnabled></capabilities></versionInformation>';
const MAX_HEAD_BYTES = 64 * 1024;

interface ParsedHead {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly rawHead: string;
  readonly headBytes: number;
}

function parseHead(buffer: Buffer): ParsedHead | undefined | 'bad' {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return buffer.length > MAX_HEAD_BYTES ? 'bad' : undefined;
  const rawHead = buffer.subarray(0, end).toString('latin1');
  const lines = rawHead.split('\r\n');
  const requestLine = /^(\S+) (\S+) HTTP\/1\.[01]$/.exec(lines[0]!);
  if (!requestLine) return 'bad';
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return 'bad';
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { method: requestLine[1]!, url: requestLine[2]!, headers, rawHead, headBytes: end + 4 };
}

/**
 * How many bytes of `buffer` (which starts after the head) the body takes:
 * a number once it is all there, undefined while more is needed, 'bad' if unframeable.
 */
function bodyLength(buffer: Buffer, headers: Record<string, string>): number | undefined | 'bad' {
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    let cursor = 0;
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', cursor);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buffer.subarray(cursor, lineEnd).toString('latin1').split(';')[0]!, 16);
      if (Number.isNaN(size) || size < 0) return 'bad';
      if (size === 0) {
        const end = buffer.indexOf('\r\n\r\n', lineEnd);
        return end < 0 ? undefined : end + 4;
      }
      cursor = lineEnd + 2 + size + 2;
      if (cursor > buffer.length) return undefined;
    }
  }
  const length = headers['content-length'];
  if (length === undefined) return 0;
  if (!/^\d+$/.test(length)) return 'bad';
  const n = Number(length);
  return buffer.length >= n ? n : undefined;
}

class BrokenUpstreamServer implements BrokenUpstream {
  readonly name: string;
  readonly hostname: string;
  readonly ca: KeyAndCertificate;
  readonly #requests: UpstreamRequest[] = [];
  readonly #sockets = new Set<net.Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #trickleMs: number;
  readonly #oversizedHeaderBytes: number;
  #contexts!: Record<'good' | 'expired' | 'wrongName', tls.SecureContext>;
  #behaviours: readonly BrokenBehaviour[] = ['normal'];
  #requestTurn = 0;
  #connectionTurn = 0;
  #connectionCount = 0;
  #resumedCount = 0;
  #server: net.Server | undefined;
  #port = 0;

  constructor(options: BrokenUpstreamOptions, ca: KeyAndCertificate) {
    this.name = options.name;
    this.hostname = options.hostname ?? `${options.name}.example.test`;
    this.ca = ca;
    this.#trickleMs = options.trickleMs ?? 200;
    this.#oversizedHeaderBytes = options.oversizedHeaderBytes ?? 100 * 1024;
    if (options.behaviour !== undefined) this.setBehaviour(options.behaviour);
  }

  get port(): number {
    return this.#port;
  }
  get url(): string {
    return `https://${this.hostname}:${this.#port}`;
  }
  get caPem(): string {
    return this.ca.certPem;
  }
  get requests(): readonly UpstreamRequest[] {
    return this.#requests;
  }
  get connectionCount(): number {
    return this.#connectionCount;
  }
  get resumedCount(): number {
    return this.#resumedCount;
  }

  proxied(since = 0): UpstreamRequest[] {
    return this.#requests.filter((r) => !r.healthCheck && r.time >= since);
  }

  setBehaviour(behaviour: BrokenBehaviour | readonly BrokenBehaviour[]): void {
    const list = typeof behaviour === 'string' ? [behaviour] : [...behaviour];
    if (list.length === 0) throw new RangeError('at least one behaviour');
    this.#behaviours = list;
    this.#requestTurn = 0;
    this.#connectionTurn = 0;
    // A certificate applies at the handshake: drop open connections, as a node restarted with a new certificate would.
    if (list.some((b) => b === 'expired-cert' || b === 'wrong-name-cert')) for (const socket of this.#sockets) socket.destroy();
  }

  clearRequests(): void {
    this.#requests.length = 0;
  }

  async start(): Promise<void> {
    const now = Date.now();
    const [good, expired, wrongName] = await Promise.all([
      issueLeaf({ issuer: this.ca, commonName: this.hostname, subjectAltNames: [this.hostname, '127.0.0.1'], keyType: 'ecdsa-p256' }),
      issueLeaf({
        issuer: this.ca,
        commonName: this.hostname,
        subjectAltNames: [this.hostname, '127.0.0.1'],
        keyType: 'ecdsa-p256',
        notBefore: new Date(now - 400 * DAY_MS),
        notAfter: new Date(now - 35 * DAY_MS),
      }),
      issueLeaf({ issuer: this.ca, commonName: 'someone-else.example.test', subjectAltNames: ['someone-else.example.test'], keyType: 'ecdsa-p256' }),
    ]);
    // The leaf alone: the client holds the CA (the gateway's `tls.caFile`), as with CUCM's own Tomcat certificates.
    const context = (leaf: KeyAndCertificate) => tls.createSecureContext({ cert: leaf.certPem, key: leaf.keyPem });
    this.#contexts = { good: context(good), expired: context(expired), wrongName: context(wrongName) };
    const server = net.createServer((socket) => this.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.#port = (server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #later(fn: () => void, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  #accept(raw: net.Socket): void {
    this.#connectionCount++;
    this.#sockets.add(raw);
    raw.on('error', () => {});
    raw.once('close', () => this.#sockets.delete(raw));
    const connectionBehaviour = this.#behaviours[this.#connectionTurn++ % this.#behaviours.length]!;
    const secureContext =
      connectionBehaviour === 'expired-cert' ? this.#contexts.expired : connectionBehaviour === 'wrong-name-cert' ? this.#contexts.wrongName : this.#contexts.good;
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] });
    socket.on('error', () => raw.destroy());
    socket.once('secure', () => {
      if (socket.isSessionReused()) this.#resumedCount++;
    });
    let buffer = Buffer.alloc(0);
    let busy = false;
    // The request whose head has arrived (and is recorded) while its body may still be coming.
    let current: { head: ParsedHead; behaviour: BrokenBehaviour; record: { bodyComplete: boolean } } | undefined;
    const refuse = (): void => {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    };
    const pump = (): void => {
      while (!busy && !socket.destroyed) {
        if (!current) {
          const head = parseHead(buffer);
          if (head === undefined) return;
          if (head === 'bad') return refuse();
          buffer = buffer.subarray(head.headBytes);
          const behaviour = this.#nextRequestBehaviour();
          const record = {
            method: head.method,
            url: head.url,
            headers: head.headers,
            rawHead: head.rawHead,
            time: Date.now(),
            behaviour,
            healthCheck: head.headers['user-agent'] === 'ucgate-health-check',
            bodyComplete: false,
          };
          current = { head, behaviour, record };
          this.#requests.push(record);
          if (current.behaviour === 'reset') return this.#reset(raw, socket);
        }
        const length = bodyLength(buffer, current.head.headers);
        if (length === 'bad') return refuse();
        if (length === undefined) return;
        buffer = buffer.subarray(length);
        current.record.bodyComplete = true;
        const { head, behaviour } = current;
        current = undefined;
        busy = true;
        this.#answer(raw, socket, head, behaviour, () => {
          busy = false;
          pump();
        });
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      pump();
    });
  }

  #nextRequestBehaviour(): BrokenBehaviour {
    // Certificate behaviours act at the handshake; once past it, a request is answered normally.
    const b = this.#behaviours[this.#requestTurn++ % this.#behaviours.length]!;
    return b === 'expired-cert' || b === 'wrong-name-cert' ? 'normal' : b;
  }

  #reset(raw: net.Socket, socket: tls.TLSSocket): void {
    try {
      raw.resetAndDestroy();
    } catch {
      raw.destroy();
    }
    socket.destroy();
  }

  #answer(raw: net.Socket, socket: tls.TLSSocket, head: ParsedHead, behaviour: BrokenBehaviour, done: () => void): void {
    const keepAlive = (head.headers.connection ?? '').toLowerCase() !== 'close';
    const isVersion = head.url.split('?')[0] === '/cucm-uds/version';
    const body = Buffer.from(isVersion ? VERSION_XML : `ok ${head.method} ${head.url}\n`, 'utf8');
    const contentType = isVersion ? 'application/xml' : 'text/plain; charset=utf-8';
    const normalHead = (length: number) =>
      `HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\nContent-Length: ${length}\r\nX-Cucm-Node: ${this.name}\r\n` +
      `Connection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`;
    switch (behaviour) {
      case 'normal':
      case 'expired-cert':
      case 'wrong-name-cert': {
        socket.write(Buffer.concat([Buffer.from(normalHead(body.length), 'latin1'), body]));
        if (keepAlive) done();
        else socket.end();
        return;
      }
      case 'reset-mid-body': {
        const full = 20_000;
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${full}\r\nX-Cucm-Node: ${this.name}\r\n\r\n`,
          'latin1',
        );
        // Let the head and half the body reach the peer before the reset takes everything down.
        socket.write(Buffer.alloc(full / 2, 0x61), () => this.#later(() => this.#reset(raw, socket), 50));
        return;
      }
      case 'reset-mid-chunked': {
        const chunk = `${(4096).toString(16)}\r\n${'b'.repeat(4096)}\r\n`;
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\nX-Cucm-Node: ${this.name}\r\n\r\n${chunk}${chunk}${chunk}`,
          'latin1',
          () => this.#later(() => this.#reset(raw, socket), 50),
        );
        return;
      }
      case 'garbage': {
        const garbage = Buffer.concat([Buffer.from('\x00\xff\x1b[31mTHIS IS NOT HTTP\r\n\r\n', 'latin1'), Buffer.alloc(512, 0xfe)]);
        socket.end(garbage);
        return;
      }
      case 'oversized-headers': {
        const lines: string[] = [];
        let size = 0;
        for (let i = 0; size < this.#oversizedHeaderBytes; i++) {
          const line = `X-Filler-${i}: ${'x'.repeat(1000)}\r\n`;
          lines.push(line);
          size += line.length;
        }
        socket.write(`HTTP/1.1 200 OK\r\n${lines.join('')}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`, 'latin1');
        socket.end(body);
        return;
      }
      case 'trickle': {
        const bytes = Buffer.concat([Buffer.from(normalHead(body.length), 'latin1'), body]);
        let i = 0;
        const step = () => {
          if (socket.destroyed || !socket.writable) return;
          socket.write(bytes.subarray(i, i + 1));
          i++;
          if (i < bytes.length) this.#later(step, this.#trickleMs);
          else if (keepAlive) done();
          else socket.end();
        };
        step();
        return;
      }
      case 'cl-te-response': {
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-Cucm-Node: ${this.name}\r\n\r\n` +
            'c\r\nhello world!\r\n0\r\n\r\n',
          'latin1',
        );
        done();
        return;
      }
      case 'chunked-identity-response': {
        socket.end(
          `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked, identity\r\nX-Cucm-Node: ${this.name}\r\n\r\n` +
            'c\r\nhello world!\r\n0\r\n\r\n',
          'latin1',
        );
        return;
      }
      case 'http09': {
        socket.end(body);
        return;
      }
      case 'reset':
        this.#reset(raw, socket);
        return;
    }
  }
}

/** Starts a misbehaving upstream on 127.0.0.1 (any free port); `normal` until told otherwise. */
export async function startBrokenUpstream(options: BrokenUpstreamOptions): Promise<BrokenUpstream> {
  const server = new BrokenUpstreamServer(options, options.ca ?? (await createTestCa()));
  await server.start();
  return server;
}
