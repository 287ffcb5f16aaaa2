/**
 * ACME tls-alpn-01 (RFC 8737) on the HTTPS listeners, through Node's own TLS
 * hooks: nothing in JavaScript reads a ClientHello.
 *
 * The validator offers only the ALPN protocol `acme-tls/1` and expects the
 * self-signed certificate carrying the key authorization digest. In a TLS 1.3
 * handshake OpenSSL selects ALPN before it runs the certificate callback and
 * before it picks the certificate, so two hooks share the work:
 * - `ALPNCallback` sees every ALPN list. For `acme-tls/1` with an SNI name it
 *   selects that protocol and marks the socket; for anything else it answers
 *   as node:https's own `ALPNProtocols: ['http/1.1']` would.
 * - `SNICallback` (OpenSSL's certificate callback, which may wait) looks the
 *   challenge up only for a marked socket — in memory or in the store — and
 *   hands its certificate to the handshake; an unknown name fails it. Any
 *   other socket goes on at once with the listener's own certificates.
 * A client that does not offer acme-tls/1 (phones, Jabber, browsers) never
 * meets a challenge certificate, and pays at most two small native-to-JS
 * calls per handshake (ALPN when it offers some; the certificate callback on
 * full handshakes) instead of a ClientHello parse and a replay of its bytes.
 *
 * Node applies a certificate from `SNICallback` per key type: it replaces
 * the listener's certificate of the challenge key's type (ECDSA) and keeps
 * that slot's chain, so with an ECDSA gateway certificate the validator may
 * also receive the gateway's intermediates after the challenge leaf; RFC 8737
 * validators judge the leaf only. Server cipher preference (every profile)
 * puts ECDSA signature schemes first, so the ECDSA slot is the one used.
 *
 * TLS 1.2 validators are refused: there OpenSSL selects ALPN after the
 * certificate is already chosen, so acme-tls/1 could only be answered with the
 * wrong certificate. Validators in use (Let's Encrypt's, pebble) speak TLS 1.3,
 * which every profile offers.
 *
 * Both hooks rely on Node calling them with the TLS socket as `this` (Node
 * 20 to 24 do; the tests check it): should that change, acme-tls/1 is refused
 * and one warning is emitted, and normal clients are unaffected.
 */
import type { Server as TlsServer, SecureContext, TLSSocket, TlsOptions } from 'node:tls';
import { createServer as createTlsServer } from 'node:tls';

export const ACME_TLS_ALPN = 'acme-tls/1';

/** What node:https offers when it is given no ALPN option: the normal clients' choice stays the same. */
const HTTPS_ALPN: readonly string[] = ['http/1.1'];

export interface AlpnChallengeSource {
  alpnContext(servername: string): Promise<SecureContext | undefined>;
}

/** Set on a socket whose ALPN callback chose acme-tls/1: the certificate callback then looks up the challenge. */
const VALIDATION = Symbol('acme-tls/1 validation');
type MarkedSocket = TLSSocket & { [VALIDATION]?: string };

let warned = false;
function warnOnce(reason: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(`tls-alpn-01 unavailable (${reason}): acme-tls/1 handshakes are refused`, { code: 'UCGATE_TLS_ALPN' });
}

let supported: boolean | undefined;

/** True when this Node takes `ALPNCallback` (it refuses one together with ALPNProtocols; older ones ignore it). */
export function alpnCallbackSupported(): boolean {
  if (supported !== undefined) return supported;
  try {
    createTlsServer({ ALPNCallback: () => undefined, ALPNProtocols: ['x'] } as TlsOptions);
    supported = false;
  } catch (err) {
    supported = (err as { code?: string }).code === 'ERR_TLS_ALPN_CALLBACK_WITH_PROTOCOLS';
  }
  return supported;
}

type AlpnCallback = NonNullable<TlsOptions['ALPNCallback']>;
type SniCallback = NonNullable<TlsOptions['SNICallback']>;

/**
 * The server options that answer acme-tls/1 from `source`; spread them into
 * the options of tls/https `createServer` (no `ALPNProtocols` with them:
 * `normal` is what other clients may select, in the server's order).
 */
export function acmeTlsAlpnOptions(source: AlpnChallengeSource, normal: readonly string[] = HTTPS_ALPN): { ALPNCallback: AlpnCallback; SNICallback: SniCallback } {
  if (!alpnCallbackSupported()) throw new Error(`tls-alpn-01 needs Node's ALPNCallback server option (Node ${process.version} has none)`);
  // Regular functions: Node calls both with the TLS socket as `this`.
  const ALPNCallback = function (this: MarkedSocket | undefined, { servername, protocols }: { servername: string; protocols: string[] }) {
    if (servername && protocols.includes(ACME_TLS_ALPN)) {
      if (typeof this !== 'object' || this === null) warnOnce('Node no longer calls ALPNCallback with the socket');
      else if (this.getProtocol() === 'TLSv1.3') {
        this[VALIDATION] = servername;
        return ACME_TLS_ALPN;
      }
    }
    // Server order, as OpenSSL's own selection; none in common is a no_application_protocol alert, as Node's.
    for (const protocol of normal) if (protocols.includes(protocol)) return protocol;
    return undefined;
  } as AlpnCallback;
  const SNICallback = function (this: MarkedSocket | undefined, servername: string, callback: (err: Error | null, context?: SecureContext) => void) {
    const wanted = this?.[VALIDATION];
    if (wanted === undefined) return callback(null);
    source.alpnContext(wanted).then(
      (context) => (context ? callback(null, context) : callback(new Error(`no acme-tls/1 challenge for ${servername}`))),
      (err: Error) => callback(err),
    );
  } as SniCallback;
  return { ALPNCallback, SNICallback };
}

/**
 * A validation handshake is all there is (RFC 8737 §3: no application data
 * follows): closed as soon as it completes, ahead of the server's own
 * 'secureConnection' listener, so the HTTP layer never reads from it.
 */
export function closeValidations(server: TlsServer): void {
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === ACME_TLS_ALPN) socket.destroy();
  });
}

/** A bare listener for tls-alpn-01 only, for `ucgate cert renew` when no gateway holds the port. */
export function standaloneAlpnServer(source: AlpnChallengeSource): TlsServer {
  const server = createTlsServer(acmeTlsAlpnOptions(source, []));
  closeValidations(server);
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  return server;
}
