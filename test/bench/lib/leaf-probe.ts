/**
 * Which leaf a server hands a client, by the signature algorithms the client
 * offers: the proof, for the dual-certificate contestants, that a client
 * offering ECDSA (Node's default list, as Jabber's and browsers') gets the
 * ECDSA leaf and one offering RSA only (as phones) the RSA leaf. A figure
 * for "ECDSA handshakes" means nothing unless the handshakes used ECDSA.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { Endpoint } from './types.js';

/** Signature algorithms of a client that can verify RSA only (a phone's offer, in OpenSSL's names). */
export const RSA_ONLY_SIGALGS = 'rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:RSA+SHA256:RSA+SHA384:RSA+SHA512';

/** The served leaf's key type and size/curve, e.g. `ec P-256` or `rsa 2048`, for a client offering `sigalgs` (default: Node's). */
export function servedLeaf(endpoint: Endpoint, sigalgs?: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: endpoint.host,
      port: endpoint.port,
      servername: endpoint.servername,
      ca: readFileSync(endpoint.caFile),
      ...(sigalgs && { sigalgs }),
    });
    const timer = setTimeout(() => socket.destroy(new Error(`no handshake within ${timeoutMs} ms`)), timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const key = socket.getPeerX509Certificate()?.publicKey;
      const details = key?.asymmetricKeyDetails;
      const size = details?.namedCurve ?? (details?.modulusLength !== undefined ? String(details.modulusLength) : '?');
      resolve(key ? `${key.asymmetricKeyType ?? '?'} ${size} (${socket.getProtocol() ?? '?'})` : 'no certificate');
      socket.destroy();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      resolve(`handshake failed: ${err.message}`);
    });
  });
}
