/**
 * Writes a node's answer to the client, keeping clients on the gateway: node
 * names in Location / Content-Location / Refresh / Set-Cookie Domain and in
 * XML bodies become the gateway's name and the client's listener port; to a
 * client on a plain-HTTP listener, Set-Cookie loses `Secure` (see
 * rewrite/headers.ts `dropSecure`: the rewrite target knows the listener's scheme).
 *
 * Framing stays correct either way: a body that came with Content-Length and
 * fits in 256 KiB is rewritten whole and sent with its new exact length; a
 * larger or chunked one streams through the rewriter (bounded memory) and
 * goes out chunked. Bodies that cannot carry names (not XML, HEAD, 204, 304,
 * 206) are piped untouched, byte for byte.
 */
import type { ServerResponse } from 'node:http';
import type { UpstreamResponse } from './upstream-response.js';
import type { RewriteTarget } from '../rewrite/index.js';
import { planBody } from '../rewrite/body.js';
import { filterResponseHeaders } from './hop-by-hop.js';

const REWRITTEN_HEADERS = new Set(['location', 'content-location', 'refresh', 'set-cookie']);
const MAX_BUFFERED_BYTES = 256 * 1024;

export interface ResponseRewrite {
  readonly target: RewriteTarget;
  readonly extraMediaTypes: ReadonlySet<string>;
  /**
   * Called with the node's own (not yet rewritten) body when it was buffered;
   * may return a target that knows more names (learned from this very body).
   */
  readonly inspect?: (body: Buffer) => RewriteTarget | undefined;
}

function headerIndex(headers: string[], name: string): number {
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === name) return i;
  return -1;
}

function dropHeader(headers: string[], name: string): void {
  const i = headerIndex(headers, name);
  if (i >= 0) headers.splice(i, 2);
}

/** A rewritten body no longer matches a strong validator. */
function weakenValidators(headers: string[]): void {
  const etag = headerIndex(headers, 'etag');
  if (etag >= 0 && !headers[etag + 1]!.startsWith('W/')) headers[etag + 1] = `W/${headers[etag + 1]}`;
  dropHeader(headers, 'content-md5');
}

export function writeProxiedResponse(
  proxyRes: UpstreamResponse,
  res: ServerResponse,
  head: boolean,
  rewrite: ResponseRewrite | undefined,
  countBytes: (n: number) => void,
): void {
  const status = proxyRes.statusCode ?? 502;
  const headers = filterResponseHeaders(proxyRes.rawHeaders);
  if (rewrite) {
    for (let i = 0; i < headers.length; i += 2) {
      if (REWRITTEN_HEADERS.has(headers[i]!.toLowerCase())) headers[i + 1] = rewrite.target.rewriteHeader(headers[i]!, headers[i + 1]!);
    }
  }
  const noBody = head || status === 204 || status === 304 || status === 206 || status < 200;
  const coding = { contentType: proxyRes.headers['content-type'], contentEncoding: proxyRes.headers['content-encoding'] };
  const plan = rewrite && !noBody ? planBody(coding, rewrite.extraMediaTypes) : undefined;
  proxyRes.on('data', (chunk: Buffer) => countBytes(chunk.length));
  if (!rewrite || plan === undefined) {
    res.writeHead(status, proxyRes.statusMessage, headers);
    proxyRes.pipe(res);
    return;
  }
  const declared = proxyRes.headers['content-length'];
  if (declared !== undefined && Number(declared) <= MAX_BUFFERED_BYTES) {
    const chunks: Buffer[] = [];
    proxyRes.on('data', (chunk: Buffer) => chunks.push(chunk));
    proxyRes.on('end', () => {
      const body = Buffer.concat(chunks);
      const target = rewrite.inspect?.(body) ?? rewrite.target;
      target.rewriteBody(body, coding).then(
        (out) => {
          if (out !== body) {
            weakenValidators(headers);
            headers[headerIndex(headers, 'content-length') + 1] = String(out.length);
          }
          res.writeHead(status, proxyRes.statusMessage, headers);
          res.end(out);
        },
        () => res.destroy(),
      );
    });
    return;
  }
  const transform = rewrite.target.createBodyRewriter(coding);
  if (!transform) {
    res.writeHead(status, proxyRes.statusMessage, headers);
    proxyRes.pipe(res);
    return;
  }
  dropHeader(headers, 'content-length');
  weakenValidators(headers);
  res.writeHead(status, proxyRes.statusMessage, headers);
  // A corrupt compressed body surfaces here mid-stream: the client gets a cut response, never a wrong one.
  transform.on('error', () => res.destroy());
  proxyRes.pipe(transform).pipe(res);
}
