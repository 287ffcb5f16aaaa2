/**
 * ACME tls-alpn-01 (RFC 8737) on the HTTPS listeners. The validator opens a
 * TLS connection offering only the ALPN protocol `acme-tls/1` and expects a
 * self-signed certificate carrying the key authorization digest. Node picks a
 * certificate before it looks at ALPN, so the choice is made one step
 * earlier: the listener reads the first bytes of each connection, parses the
 * ClientHello, puts the bytes back, and hands the socket either to a small
 * TLS server that holds only challenge certificates, or to the normal HTTPS
 * server. Only a client that offers acme-tls/1 ever reaches the former, so
 * phones and browsers never see a challenge certificate.
 *
 * The HTTPS server keeps listening itself (its own 'connection' listeners are
 * re-invoked for normal sockets), so connection counting, close() and drain
 * behave exactly as without the peek.
 */
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type SecureContext } from 'node:tls';
import { parseClientHello, type ClientHelloResult } from '../tls/client-hello.js';

export const ACME_TLS_ALPN = 'acme-tls/1';

/** Gives up waiting for a ClientHello after this long and lets the HTTPS server deal with the socket. */
const PEEK_TIMEOUT_MS = 10_000;
/** Real ClientHellos arrive in one or two segments; a client dribbling bytes goes the normal way. */
const PEEK_MAX_READS = 32;
const PEEK_MAX_BYTES = 20_480;

export interface AlpnChallengeSource {
  alpnContext(servername: string): Promise<SecureContext | undefined>;
}

/** Reads until a ClientHello can be judged; resolves with the bytes read (still to be put back) and the verdict. */
function peekClientHello(socket: Socket): Promise<{ bytes: Buffer; hello: ClientHelloResult | undefined } | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let reads = 0;
    let size = 0;
    const finish = (value: { bytes: Buffer; hello: ClientHelloResult | undefined } | undefined) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onGone);
      socket.off('close', onGone);
      socket.pause();
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      reads++;
      size += chunk.length;
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const hello = parseClientHello(bytes);
      if (hello.status !== 'incomplete' || reads >= PEEK_MAX_READS || size >= PEEK_MAX_BYTES) finish({ bytes, hello });
    };
    const onGone = () => finish(undefined);
    const timer = setTimeout(() => finish({ bytes: Buffer.concat(chunks), hello: undefined }), PEEK_TIMEOUT_MS);
    timer.unref();
    socket.on('data', onData);
    socket.once('error', onGone);
    socket.once('close', onGone);
  });
}

/** True when the client asks for an acme-tls/1 validation handshake. */
export function offersAcmeTls(hello: ClientHelloResult | undefined): boolean {
  return hello?.status === 'complete' && hello.alpnProtocols.includes(ACME_TLS_ALPN);
}

/** The server that answers validators: a challenge certificate for a known identifier, else a failed handshake. */
function challengeServer(source: AlpnChallengeSource): TlsServer {
  const server = createTlsServer({
    ALPNProtocols: [ACME_TLS_ALPN],
    SNICallback: (servername, callback) => {
      source.alpnContext(servername).then(
        (context) => (context ? callback(null, context) : callback(new Error(`no acme-tls/1 challenge for ${servername}`))),
        (err: Error) => callback(err),
      );
    },
  });
  // The validator only reads the certificate; there is nothing to serve after the handshake.
  server.on('secureConnection', (socket) => socket.end());
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  return server;
}

/**
 * Makes `server` (an HTTPS server, not yet listening or already) route
 * acme-tls/1 handshakes to the challenge responses `source` holds.
 */
export function routeAcmeTlsAlpn(server: TlsServer, source: AlpnChallengeSource): void {
  const normal = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const validator = challengeServer(source);
  server.on('connection', (socket: Socket) => {
    void peekClientHello(socket).then((peeked) => {
      if (!peeked) return socket.destroy();
      if (peeked.bytes.length > 0) socket.unshift(peeked.bytes);
      if (offersAcmeTls(peeked.hello)) validator.emit('connection', socket);
      else for (const listener of normal) listener.call(server, socket);
    });
  });
}

/** A bare listener for tls-alpn-01 only, for `ucgate cert renew` when no gateway holds the port. */
export function standaloneAlpnServer(source: AlpnChallengeSource): TlsServer {
  return challengeServer(source);
}
