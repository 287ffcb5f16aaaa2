/**
 * One active health check of one node: a fresh TLS connection (so the
 * handshake and the node's certificate are checked every time, and the
 * certificate is captured for the inventory), then `GET healthCheck.path`
 * with the node's Host, an expected status and an optional body match.
 * Each failure is classified by the layer that failed.
 */
import { request, type IncomingMessage } from 'node:http';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { tlsNameOptions } from '../net/tls-name.js';
import { connectMarked } from '../net/dscp.js';
import type { X509Certificate } from 'node:crypto';
import type { HealthCheckConfig, UpstreamKeyType } from '../config/types.js';
import type { FailureLayer } from './node-health.js';
import { classifyUpstreamError } from '../http/upstream-failure.js';
import { retryAfterMs } from '../http/retry-after.js';
import { offerKey, offerMemory, offerRefused, upstreamTlsOptions } from './tls-offer.js';

export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  readonly hostHeader: string;
  readonly servername: string;
  readonly ca: string | undefined;
  readonly verify: boolean;
  /** The node certificate asked for, as the data plane asks (clusters[].tls.keyType); absent: rsa. */
  readonly keyType?: UpstreamKeyType;
  /** The cluster's DSCP code point (clusters[].dscp), where the runtime can mark: checks travel as requests do. */
  readonly codePoint?: number;
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly layer?: FailureLayer;
  readonly reason?: string;
  readonly status?: number;
  readonly durationMs: number;
  /** A 503 with Retry-After: the node is busy for this long, not broken. */
  readonly busyMs?: number;
  /** The certificate the node presented, when the handshake got that far. */
  readonly peerCertificate?: X509Certificate;
}

// Enough of a UDS version answer to find the marker; a node that streams more is not healthier for it.
const MAX_BODY_BYTES = 64 * 1024;

export function probeNode(target: ProbeTarget, check: HealthCheckConfig): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let peer: X509Certificate | undefined;
    const finish = (result: Omit<ProbeResult, 'durationMs' | 'peerCertificate'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...result, durationMs: performance.now() - started, ...(peer ? { peerCertificate: peer } : {}) });
    };
    const failed = (err: Error) => {
      const failure = classifyUpstreamError(err);
      finish({ ok: false, layer: failure.class === 'protocol' ? 'connect' : failure.class, reason: `${failure.code}: ${failure.message}` });
    };
    // TLS first, verified by hand: Node rejecting the handshake itself would lose the certificate the
    // node presented (the inventory wants it), and no request is ever sent to a node that is not trusted.
    // The same offers as the data plane's (clusters[].tls.keyType, then the fallback for a node that has
    // no certificate of that type), so the check sees the certificate requests will get.
    const memoryKey = offerKey(target.host, target.port, target.servername, target.keyType);
    const open = (fallback: boolean): TLSSocket => {
      const raw = target.codePoint === undefined ? undefined : connectMarked(target.host, target.port, target.codePoint);
      const next = connectTls({
        host: target.host,
        port: target.port,
        ...(raw && { socket: raw }),
        ...tlsNameOptions(target.servername),
        rejectUnauthorized: false,
        ...upstreamTlsOptions(target.keyType, fallback),
        ...(target.ca ? { ca: target.ca } : {}),
      });
      next.on('error', (err) => {
        if (fallback || !offerRefused(err) || settled) return failed(err);
        offerMemory.refused(memoryKey);
        socket = open(true);
      });
      next.once('secureConnect', () => secured(next));
      return next;
    };
    const secured = (tlsSocket: TLSSocket) => {
      peer = tlsSocket.getPeerX509Certificate?.();
      if (target.verify && !tlsSocket.authorized) {
        const code = String(tlsSocket.authorizationError ?? 'UNTRUSTED');
        finish({ ok: false, layer: 'tls', reason: `${code}: the node's certificate is not trusted for ${target.servername}` });
        return;
      }
      const req = request({
        // No `agent` at all: with `agent: false` Node would make an agent of its own and ignore createConnection.
        createConnection: () => tlsSocket,
        path: check.path,
        method: 'GET',
        headers: { host: target.hostHeader, 'user-agent': 'ucgate-health-check', accept: '*/*', connection: 'close' },
      });
      req.on('error', failed);
      req.on('response', (res) => readAnswer(res, check, finish));
      req.end();
    };
    let socket = open(offerMemory.fallbackFirst(memoryKey));
    const timer = setTimeout(() => finish({ ok: false, layer: 'timeout', reason: `no answer within ${check.timeoutMs} ms` }), check.timeoutMs);
  });
}

function readAnswer(res: IncomingMessage, check: HealthCheckConfig, finish: (result: Omit<ProbeResult, 'durationMs' | 'peerCertificate'>) => void): void {
  if (res.statusCode !== check.expectStatus) {
    const busyMs = res.statusCode === 503 ? retryAfterMs(res.headers['retry-after']) : undefined;
    finish({
      ok: false,
      layer: 'status',
      status: res.statusCode,
      reason: `status ${res.statusCode}, expected ${check.expectStatus}`,
      ...(busyMs === undefined ? {} : { busyMs }),
    });
    return;
  }
  if (check.expectBody === undefined) {
    finish({ ok: true, status: res.statusCode });
    return;
  }
  const expected = check.expectBody;
  const missing = () => finish({ ok: false, layer: 'body', status: res.statusCode, reason: `body does not contain ${JSON.stringify(expected)}` });
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    body += chunk;
    if (body.includes(expected)) finish({ ok: true, status: res.statusCode });
    else if (body.length > MAX_BODY_BYTES) missing();
  });
  res.on('end', missing);
  res.on('error', (err) => finish({ ok: false, layer: 'body', reason: err.message }));
}
