/**
 * Session-ticket renewal and a grace period for the previous ticket key.
 *
 * Node's TLS server never asks OpenSSL to renew a ticket, so after a resumed
 * TLS 1.3 handshake it sends no NewSessionTicket: a client that uses each
 * ticket once (browsers, OpenSSL) does a full handshake on every other
 * reconnect. And `setTicketKeys` holds one key, so every rotation costs every
 * client a full handshake.
 *
 * Node has an internal hook for OpenSSL's ticket-key callback
 * (SSL_CTX_set_tlsext_ticket_key_cb): `SecureContext#enableTicketKeyCallback()`
 * makes OpenSSL call `SecureContext#onticketkeycallback(name, iv, enc)`, which
 * answers `[code, hmacKey, aesKey, name?, iv?]` (Node's own regression test
 * test/parallel/test-https-resume-after-renew.js uses it). Here it encrypts
 * with the newest key, decrypts with the newest or the previous one (as nginx
 * and HAProxy do), and answers 2 ("renew") on every decryption, so every
 * resumption carries a fresh ticket.
 *
 * Tickets are byte-compatible with Node's default callback: the 48-byte key
 * the primary distributes is split the same way (name | HMAC | AES, AES-128-CBC
 * and HMAC-SHA256), so a worker that fell back to `setTicketKeys` and one that
 * renews read each other's tickets.
 *
 * The hook is internal, so it is used only after a behavioural probe on this
 * process (a real loopback handshake, a resumption and a renewed ticket);
 * until then, and if anything differs, the server keeps `setTicketKeys` and
 * one warning is emitted.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { TICKET_KEY_BYTES } from './ticket-keys.js';

/** Return codes of OpenSSL's ticket-key callback, passed through by Node. */
const TICKET_UNKNOWN = 0; // not our ticket: full handshake
const TICKET_OK = 1;
const TICKET_RENEW = 2; // decrypted: issue a fresh ticket too
const PART = 16;
const PROBE_TIMEOUT_MS = 5_000;

type TicketKeyCallback = (name: Buffer, iv: Buffer, enc: boolean) => unknown[];

/** The part of Node's internal SecureContext binding used here. */
interface InternalSecureContext {
  enableTicketKeyCallback(): void;
  setTicketKeys(keys: Buffer): void;
  getTicketKeys(): Buffer;
  onticketkeycallback?: TicketKeyCallback;
}

interface KeyParts {
  readonly keys: Buffer;
  readonly name: Buffer;
  readonly hmac: Buffer;
  readonly aes: Buffer;
}

function split(keys: Buffer): KeyParts {
  if (keys.length !== TICKET_KEY_BYTES) throw new RangeError(`session ticket keys must be ${TICKET_KEY_BYTES} bytes`);
  const copy = Buffer.from(keys);
  return { keys: copy, name: copy.subarray(0, PART), hmac: copy.subarray(PART, 2 * PART), aes: copy.subarray(2 * PART, 3 * PART) };
}

/**
 * The internal context of the server's current secure context, or why it is
 * not usable. Checks the shape only; `ticketRenewalProbe` checks behaviour.
 */
export function internalContext(server: TlsServer): InternalSecureContext | string {
  const creds = (server as unknown as { _sharedCreds?: unknown })._sharedCreds;
  if (typeof creds !== 'object' || creds === null) return 'server._sharedCreds is missing';
  const context = (creds as { context?: unknown }).context;
  if (typeof context !== 'object' || context === null) return 'server._sharedCreds.context is missing';
  const c = context as Record<string, unknown>;
  for (const method of ['enableTicketKeyCallback', 'setTicketKeys', 'getTicketKeys'] as const) {
    if (typeof c[method] !== 'function') return `SecureContext#${method} is missing`;
  }
  const existing = c.onticketkeycallback;
  if (existing !== undefined && !OWN_CALLBACKS.has(existing as TicketKeyCallback)) return 'SecureContext#onticketkeycallback is already set by Node';
  if (!Object.isExtensible(context)) return 'SecureContext is not extensible';
  return context as unknown as InternalSecureContext;
}

const OWN_CALLBACKS = new WeakSet<TicketKeyCallback>();

export interface TicketStats {
  /** Tickets sealed (new and renewed). */
  issued: number;
  /** Tickets opened with the newest key. */
  resumedCurrent: number;
  /** Tickets opened with the previous key (after a rotation). */
  resumedPrevious: number;
  /** Tickets under neither key: full handshake. */
  unknown: number;
}

/** Newest and previous key, and the callback that uses them. */
class TicketKeyRing {
  #current: KeyParts;
  #previous: KeyParts | undefined;
  readonly stats: TicketStats = { issued: 0, resumedCurrent: 0, resumedPrevious: 0, unknown: 0 };

  constructor(keys: Buffer) {
    this.#current = split(keys);
  }

  get current(): Buffer {
    return this.#current.keys;
  }

  /** The newest key seals from now on; the one it replaces still opens tickets. */
  rotate(keys: Buffer): void {
    const next = split(keys);
    if (next.keys.equals(this.#current.keys)) return;
    this.#previous = this.#current;
    this.#current = next;
  }

  // Never throws: an exception in here would surface as an uncaught error from inside OpenSSL.
  readonly callback: TicketKeyCallback = (name, _iv, enc) => {
    const current = this.#current;
    if (enc) {
      this.stats.issued++;
      return [TICKET_OK, current.hmac, current.aes, current.name, randomBytes(PART)];
    }
    if (Buffer.isBuffer(name) && name.equals(current.name)) {
      this.stats.resumedCurrent++;
      return [TICKET_RENEW, current.hmac, current.aes];
    }
    const previous = this.#previous;
    if (previous && Buffer.isBuffer(name) && name.equals(previous.name)) {
      this.stats.resumedPrevious++;
      return [TICKET_RENEW, previous.hmac, previous.aes];
    }
    this.stats.unknown++;
    // Node reads the keys whatever the code: a well-formed answer, and 0 means "not ours".
    return [TICKET_UNKNOWN, current.hmac, current.aes];
  };
}

function install(context: InternalSecureContext, callback: TicketKeyCallback): void {
  OWN_CALLBACKS.add(callback);
  // The handler first, then the switch: no handshake can find the callback on without it.
  context.onticketkeycallback = callback;
  context.enableTicketKeyCallback();
}

let warned = false;
let warn: (message: string) => void = (message) => process.emitWarning(message, { code: 'UCGATE_TICKET_RENEWAL' });

/** Tests replace the sink; returns the previous one. Resets the once-per-process latch. */
export function setTicketRenewalWarning(sink: (message: string) => void): (message: string) => void {
  const previous = warn;
  warn = sink;
  warned = false;
  return previous;
}

function warnOnce(reason: string): void {
  if (warned) return;
  warned = true;
  warn(`session-ticket renewal unavailable (${reason}): using setTicketKeys; TLS 1.3 resumptions will not get a fresh ticket and a key rotation forces full handshakes`);
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly reason?: string;
}

let probe: Promise<ProbeResult> | undefined;

/**
 * Once per process: does the internal hook do what this module expects on the
 * running Node? A loopback TLS 1.3 server with the hook installed; a first
 * connection must get a ticket sealed by the callback, a second must resume
 * with it (opened by the callback) and get a fresh ticket.
 */
export function ticketRenewalProbe(identity: SecureContextOptions): Promise<ProbeResult> {
  probe ??= runProbe(identity).catch((err: unknown) => ({ ok: false, reason: `probe failed: ${err instanceof Error ? err.message : String(err)}` }));
  return probe;
}

/** Tests only: forget the memoized probe. */
export function resetTicketRenewalProbe(): void {
  probe = undefined;
}

async function runProbe(identity: SecureContextOptions): Promise<ProbeResult> {
  const server = createServer({ ...identity, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }, (socket) => {
    socket.on('error', () => undefined);
    socket.end('x');
  });
  server.on('tlsClientError', () => undefined);
  const context = internalContext(server);
  if (typeof context === 'string') return { ok: false, reason: context };
  const ring = new TicketKeyRing(randomBytes(TICKET_KEY_BYTES));
  install(context, ring.callback);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const timer = setTimeout(() => server.close(), PROBE_TIMEOUT_MS);
  timer.unref();
  try {
    const { port } = server.address() as AddressInfo;
    const first = await probeConnect(port, undefined);
    if (!first.ticket) return { ok: false, reason: 'no ticket after a full handshake' };
    if (ring.stats.issued === 0) return { ok: false, reason: 'the ticket-key callback was not called to seal a ticket' };
    const second = await probeConnect(port, first.ticket);
    if (!second.reused) return { ok: false, reason: 'a ticket sealed by the callback did not resume' };
    if (ring.stats.resumedCurrent === 0) return { ok: false, reason: 'the ticket-key callback was not called to open a ticket' };
    if (!second.ticket) return { ok: false, reason: 'no fresh ticket after a renewed resumption' };
    return { ok: true };
  } finally {
    clearTimeout(timer);
    server.close();
  }
}

function probeConnect(port: number, session: Buffer | undefined): Promise<{ reused: boolean; ticket: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    const socket: TLSSocket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.3', session });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('probe connection timed out'));
    }, PROBE_TIMEOUT_MS);
    let reused = false;
    // Asked on 'secureConnect': after 'close' the handle is gone and Node answers null.
    socket.on('secureConnect', () => (reused = socket.isSessionReused()));
    socket.on('session', (s: Buffer) => (ticket = s));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.resume();
    // The server's tickets precede its data and its close: all seen by 'close'.
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ reused, ticket });
    });
  });
}

/** pending: setTicketKeys while the probe runs (or until a certificate comes). */
/** pending: `setTicketKeys` while the probe runs (or until a certificate comes). */
export type TicketMode = 'pending' | 'renewing' | 'fallback';

/**
 * Session tickets for one TLS server: renewal and the previous-key grace when
 * the probe passes, plain `setTicketKeys` until then and otherwise.
 */
export class SessionTickets {
  readonly #server: TlsServer;
  readonly #ring: TicketKeyRing;
  #mode: TicketMode = 'pending';
  #probing = false;

  /**
   * `identity` (the key and certificate options the server has) is used for the
   * once-per-process probe. Without one (no certificate yet) the server stays on
   * `setTicketKeys` until `refresh` brings one.
   */
  constructor(server: TlsServer, keys: Buffer, identity?: SecureContextOptions) {
    this.#server = server;
    this.#ring = new TicketKeyRing(keys);
    server.setTicketKeys(this.#ring.current);
    if (identity) this.#probe(identity);
  }

  #probe(identity: SecureContextOptions): void {
    if (this.#probing) return;
    this.#probing = true;
    void ticketRenewalProbe(identity).then((result) => {
      if (this.#mode !== 'pending') return;
      if (!result.ok) {
        this.#mode = 'fallback';
        warnOnce(result.reason ?? 'probe failed');
        return;
      }
      this.#mode = 'renewing';
      this.refresh();
    });
  }

  get mode(): TicketMode {
    return this.#mode;
  }

  get stats(): Readonly<TicketStats> {
    return this.#ring.stats;
  }

  /** A rotation: the newest key seals; the one before still opens (while renewing). */
  setKeys(keys: Buffer): void {
    this.#ring.rotate(keys);
    this.#server.setTicketKeys(this.#ring.current);
  }

  /** After `server.setSecureContext()`: the new context gets the keys and the callback. */
  refresh(identity?: SecureContextOptions): void {
    this.#server.setTicketKeys(this.#ring.current);
    if (this.#mode === 'pending' && identity) this.#probe(identity);
    if (this.#mode !== 'renewing') return;
    const context = internalContext(this.#server);
    if (typeof context === 'string') {
      this.#mode = 'fallback';
      warnOnce(context);
      return;
    }
    install(context, this.#ring.callback);
  }
}
