/**
 * The `/ucgate-test/` endpoints of the simulated CUCM node: deterministic
 * payloads, an echo, header reflection, slowness and a redirect, so the
 * gateway's tests can prove it passes bytes and headers through untouched.
 * Also the endpoint plumbing (`Endpoint`, `sendBody`) the node shares.
 */
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from 'node:http';

/** What a handler may use besides the request and response. */
export interface EndpointContext {
  readonly hostname: string;
  /** The request target parsed against the node's own origin. */
  readonly url: URL;
  /** The `;jsessionid=` path parameter of the target, if any (Tomcat takes the session from it when no cookie names one). */
  readonly pathSessionId: string | undefined;
  /** The whole request body, already read. */
  readonly body: Buffer;
  /** Runs `fn` after `ms` unless the response or the node closes first. */
  later(fn: () => void, ms: number): void;
}

export type Endpoint = (req: IncomingMessage, res: ServerResponse, ctx: EndpointContext) => void;

/** The largest payload the byte endpoints produce: enough for throughput runs, bounded for safety. */
export const MAX_TEST_BYTES = 1024 ** 3;
const MAX_SLOW_MS = 600_000;
const STREAM_CHUNK_BYTES = 64 * 1024;

export function sendBody(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: OutgoingHttpHeaders = {},
): void {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': bytes.length });
  res.end(bytes);
}

function mix32(index: number): number {
  // A counter-based hash (murmur3's finaliser) rather than a stream PRNG, so any
  // offset can be produced on its own and a test can check any slice.
  let x = (index ^ 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function generate(offset: number, length: number): Buffer {
  const skip = offset % 4;
  const firstWord = (offset - skip) / 4;
  const words = new Uint32Array(Math.ceil((length + skip) / 4));
  for (let i = 0; i < words.length; i++) words[i] = mix32(firstWord + i);
  const buffer = Buffer.from(words.buffer);
  // Uint32Array stores in host order; the sequence is defined little-endian.
  if (!LITTLE_ENDIAN) buffer.swap32();
  return buffer.subarray(skip, skip + length);
}

const LITTLE_ENDIAN = endianness() === 'LE';
/** Served as zero-copy slices: the sizes tests and benchmarks ask for cost no CPU. */
const PREFIX_BYTES = 4 * 1024 * 1024;
let prefix: Buffer | undefined;

/**
 * Bytes `offset .. offset+length` of the endless deterministic sequence the
 * `bytes` and `chunked` endpoints serve. `simulatedBytes(0, n)` is what
 * `GET /ucgate-test/bytes?n=N` returns. The result may share memory with a
 * cache: do not write to it.
 */
export function simulatedBytes(offset: number, length: number): Buffer {
  if (offset + length <= PREFIX_BYTES) {
    prefix ??= generate(0, PREFIX_BYTES);
    return prefix.subarray(offset, offset + length);
  }
  return generate(offset, length);
}

function intParam(url: URL, name: string, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || !/^\d+$/.test(raw)) return undefined;
  const value = Number(raw);
  return value <= max ? value : undefined;
}

function badRequest(res: ServerResponse, message: string): void {
  sendBody(res, 400, 'text/plain; charset=utf-8', `${message}\n`);
}

/** Writes `n` deterministic bytes in writes of `chunkBytes`, honouring backpressure. */
function streamBytes(res: ServerResponse, n: number, chunkBytes: number): void {
  let offset = 0;
  const pump = (): void => {
    while (offset < n) {
      const length = Math.min(chunkBytes, n - offset);
      const chunk = simulatedBytes(offset, length);
      offset += length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

const bytes: Endpoint = (_req, res, ctx) => {
  const n = intParam(ctx.url, 'n', MAX_TEST_BYTES);
  if (n === undefined) return badRequest(res, `n must be an integer from 0 to ${MAX_TEST_BYTES}`);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
  streamBytes(res, n, STREAM_CHUNK_BYTES);
};

const chunked: Endpoint = (_req, res, ctx) => {
  const n = intParam(ctx.url, 'n', MAX_TEST_BYTES);
  const chunks = intParam(ctx.url, 'chunks', 1_000_000) ?? 1;
  if (n === undefined || chunks < 1) return badRequest(res, 'n must be an integer and chunks at least 1');
  // No content-length: node frames each write as one HTTP/1.1 chunk.
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  streamBytes(res, n, Math.max(1, Math.ceil(n / chunks)));
};

const echo: Endpoint = (req, res, ctx) => {
  if (req.method !== 'POST' && req.method !== 'PUT') {
    return sendBody(res, 405, 'text/plain; charset=utf-8', 'POST or PUT\n', { allow: 'POST, PUT' });
  }
  sendBody(res, 200, req.headers['content-type'] ?? 'application/octet-stream', ctx.body, {
    'x-body-sha256': createHash('sha256').update(ctx.body).digest('hex'),
    'x-body-length': String(ctx.body.length),
  });
};

const headers: Endpoint = (req, res) => {
  const tls = req.socket as { servername?: string | false };
  const body = JSON.stringify({
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    servername: tls.servername || null,
  });
  sendBody(res, 200, 'application/json', body);
};

const slow: Endpoint = (_req, res, ctx) => {
  const ms = intParam(ctx.url, 'ms', MAX_SLOW_MS);
  if (ms === undefined) return badRequest(res, `ms must be an integer from 0 to ${MAX_SLOW_MS}`);
  ctx.later(() => sendBody(res, 200, 'text/plain; charset=utf-8', `slept ${ms} ms\n`), ms);
};

const redirect: Endpoint = (_req, res, ctx) => {
  sendBody(res, 302, 'text/plain; charset=utf-8', 'Found\n', {
    location: `https://${ctx.hostname}:8443/cucm-uds/version`,
  });
};

const refresh: Endpoint = (_req, res, ctx) => {
  sendBody(res, 200, 'text/plain; charset=utf-8', 'Refreshing\n', {
    refresh: `0; url=http://${ctx.hostname}:8080/ccmcip/xmldirectory.jsp`,
  });
};

/** Path → handler for everything under `/ucgate-test/`. */
export const TEST_ENDPOINTS: ReadonlyMap<string, Endpoint> = new Map([
  ['/ucgate-test/bytes', bytes],
  ['/ucgate-test/chunked', chunked],
  ['/ucgate-test/echo', echo],
  ['/ucgate-test/headers', headers],
  ['/ucgate-test/slow', slow],
  ['/ucgate-test/redirect', redirect],
  ['/ucgate-test/refresh', refresh],
]);
