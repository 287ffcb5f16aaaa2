/**
 * The per-request path of the data plane: route, pick a node, proxy through
 * http-proxy, and on an upstream failure move to the next node when that is
 * safe — the client sees only the answer that worked.
 *
 * When a retry is safe: no response has been passed to the client, and either
 * the method is idempotent, or none of the request body has left for the
 * failed node. A body is held back (the "gate") until the upstream TLS session
 * is up, so a refused or failed connection leaves it unread and replayable.
 * A 503 with Retry-After (UDS saying it is busy) is also replayed elsewhere.
 *
 * Responses are written here (selfHandleResponse) so that a busy answer can
 * be swallowed and retried, and so later passes (rewriting) have one place.
 */
import type { IncomingMessage, ServerResponse, ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Logger } from '../log.js';
import type { ClusterRuntime, ProxyState } from './proxy-state.js';
import type { UpstreamNode } from '../upstream/upstream-node.js';
import type { DataPlaneMetrics } from '../metrics/data-plane-metrics.js';
import { classifyUpstreamError, UpstreamTimeoutError, CONNECT_TIMEOUT, FIRST_BYTE_TIMEOUT, type UpstreamFailure } from './upstream-failure.js';
import { loggableTarget } from './loggable-target.js';
import { stripHopByHopRequest } from './hop-by-hop.js';
import { writeProxiedResponse, type ResponseRewrite } from './response-writer.js';
import { expandShortNames, parseUdsServers } from '../rewrite/index.js';
import { requestSessionId, responseSessionId } from '../upstream/sticky-sessions.js';
import { retryAfterMs } from './retry-after.js';
import type { CredentialGuard } from './credential-guard.js';
import { checkRequestHead, checkDeclaredBody, BODY_TOO_LARGE, type LimitVerdict } from './request-limits.js';

export interface ListenerInfo {
  readonly name: string;
  readonly protocol: 'https' | 'http';
  readonly port: number;
}

/** What the data plane tells the control plane about upstream outcomes. */
export interface UpstreamObserver {
  failure(node: UpstreamNode, failure: UpstreamFailure): void;
  /** A 5xx answer from the node; `retryAfterMs` when it said how long it is busy. */
  serverError(node: UpstreamNode, status: number, retryAfterMs: number | undefined): void;
  /** A node issued a new upstream session (sticky); the primary shares it with every worker. */
  session(cluster: string, sessionId: string, node: string): void;
}

export interface RequestHandlerOptions {
  readonly state: () => ProxyState;
  readonly log: Logger;
  readonly metrics: DataPlaneMetrics;
  readonly observer?: UpstreamObserver;
  /** Whether the request's connection is over a connection limit. */
  readonly connectionVerdict?: (req: IncomingMessage) => LimitVerdict | undefined;
}

export type GatewayRequestHandler = (req: IncomingMessage, res: ServerResponse, listener: ListenerInfo) => void;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);
const ADMIN_COOKIE = /^\s*(?:__Host-)?ucgate_session=/;
const SERVERS_PATH = /^\/cucm-uds\/servers(?:[/?;]|$)/i;
const FOREIGN_TARGET: LimitVerdict = { status: 400, limit: 'absolute-form-host', close: true };
const CONTEXT = Symbol('ucgate.request');
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  413: 'Content Too Large',
  414: 'URI Too Long',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

interface RequestContext {
  readonly listener: ListenerInfo;
  readonly startNs: bigint;
  readonly cluster: ClusterRuntime;
  readonly target: string;
  readonly idempotent: boolean;
  readonly hasBody: boolean;
  readonly sessionId: string | undefined;
  readonly upstreamMaxHeaderBytes: number;
  readonly credentials: { readonly guard: CredentialGuard; readonly attempt: NonNullable<ReturnType<CredentialGuard['attemptOf']>> } | undefined;
  readonly tried: Set<UpstreamNode>;
  lastFailureStatus: number | undefined;
  attempt: number;
  node: UpstreamNode | undefined;
  bodyStarted: boolean;
  bodyTooLarge: boolean;
  readonly maxBodyBytes: number;
  responseStarted: boolean;
  gate: PassThrough | undefined;
  timer: NodeJS.Timeout | undefined;
  bytes: number;
  done: boolean;
}

type ContextCarrier = IncomingMessage & { [CONTEXT]?: RequestContext };

export function createRequestHandler(options: RequestHandlerOptions): GatewayRequestHandler {
  const { log, observer, metrics } = options;
  const proxy = httpProxy.createProxyServer({ xfwd: false, ws: false, prependPath: false, selfHandleResponse: true });

  proxy.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) => {
    const ctx = (req as ContextCarrier)[CONTEXT];
    if (!ctx?.node) return;
    const node = ctx.node;
    stripHopByHopRequest(proxyReq, req);
    // The admin dashboard's session cookie is ours; a browser sends it to any port of the same host.
    const cookie = req.headers.cookie;
    if (cookie !== undefined && cookie.includes('ucgate_session=')) {
      const kept = cookie.split(';').filter((part) => !ADMIN_COOKIE.test(part)).join(';');
      if (kept.trim()) proxyReq.setHeader('cookie', kept);
      else proxyReq.removeHeader('cookie');
    }
    proxyReq.setHeader('host', node.hostHeader);
    proxyReq.setHeader('x-forwarded-for', req.socket.remoteAddress ?? '');
    proxyReq.setHeader('x-forwarded-proto', ctx.listener.protocol);
    if (req.headers.host) proxyReq.setHeader('x-forwarded-host', req.headers.host);
    else proxyReq.removeHeader('x-forwarded-host');
    const attempt = ctx.attempt;
    const timeouts = ctx.cluster.config.timeouts;
    // http-proxy emits proxyReq from inside the request's 'socket' event: the socket is already assigned.
    const socket = proxyReq.socket as Socket;
    const connected = () => {
      if (ctx.attempt !== attempt) return;
      clearTimeout(ctx.timer);
      ctx.timer = undefined;
      startBody(ctx, req, proxyReq);
      // The first-byte clock starts once the request is on its way.
      const armFirstByte = () => {
        if (ctx.attempt !== attempt || proxyReq.destroyed || ctx.responseStarted) return;
        ctx.timer = setTimeout(() => proxyReq.destroy(new UpstreamTimeoutError(FIRST_BYTE_TIMEOUT, timeouts.firstByteMs)), timeouts.firstByteMs);
      };
      if (proxyReq.writableFinished) armFirstByte();
      else proxyReq.once('finish', armFirstByte);
    };
    if (proxyReq.reusedSocket) connected();
    else {
      ctx.timer = setTimeout(() => proxyReq.destroy(new UpstreamTimeoutError(CONNECT_TIMEOUT, timeouts.connectMs)), timeouts.connectMs);
      socket.once('secureConnect', connected);
    }
  });

  proxy.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse) => {
    const ctx = (req as ContextCarrier)[CONTEXT];
    if (!ctx?.node || ctx.done) {
      proxyRes.resume();
      return;
    }
    clearTimeout(ctx.timer);
    ctx.timer = undefined;
    const node = ctx.node;
    const status = proxyRes.statusCode ?? 502;
    const cluster = ctx.cluster.config;
    metrics.upstreamRequests.inc({ cluster: cluster.name, node: node.name, code: status });
    ctx.credentials?.guard.answered(ctx.credentials.attempt, status, Date.now());
    if (status >= 500) {
      const busyMs = status === 503 ? retryAfterMs(proxyRes.headers['retry-after']) : undefined;
      observer?.serverError(node, status, busyMs);
      if (busyMs !== undefined) node.coolDown(busyMs);
      // A busy node's refusal is replayed elsewhere when that is safe, like a failed connection.
      if (status === 503 && canRetry(ctx) && ctx.cluster.balancer.pick(ctx.tried)) {
        proxyRes.resume();
        ctx.lastFailureStatus = 503;
        forward(req, res, ctx);
        return;
      }
    }
    ctx.responseStarted = true;
    if (ctx.tried.size > 1) metrics.failovers.inc({ cluster: cluster.name });
    if (cluster.sticky) {
      const issued = responseSessionId(proxyRes.headers['set-cookie'], cluster.sticky.cookie);
      if (issued && issued !== ctx.sessionId) {
        ctx.cluster.sticky.set(cluster.name, issued, node.name, Date.now());
        observer?.session(cluster.name, issued, node.name);
      }
    }
    // A node that dies mid-body: nothing can be fixed any more; cut the client short rather than crash.
    proxyRes.on('error', () => res.destroy());
    writeProxiedResponse(proxyRes, res, req.method === 'HEAD', rewriteFor(ctx), (n) => (ctx.bytes += n));
  });

  const forward = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void => {
    const preferred = ctx.sessionId ? ctx.cluster.nodesByName.get(ctx.cluster.sticky.get(ctx.cluster.config.name, ctx.sessionId, Date.now()) ?? '') : undefined;
    const node = ctx.cluster.balancer.pick(ctx.tried, preferred);
    if (!node) {
      respondStatus(res, ctx.lastFailureStatus ?? 503);
      return;
    }
    ctx.attempt++;
    ctx.node = node;
    ctx.tried.add(node);
    ctx.gate = ctx.hasBody ? new PassThrough() : undefined;
    const attempt = ctx.attempt;
    // http-proxy builds the upstream request on top of `ssl`, so a fresh object per try carries the header limit.
    const ssl = { maxHeaderSize: ctx.upstreamMaxHeaderBytes };
    proxy.web(req, res, { target: node.target, agent: node.agent, ssl, ...(ctx.gate ? { buffer: ctx.gate } : {}) }, (err: Error) => {
      if (ctx.attempt !== attempt || ctx.done) return;
      clearTimeout(ctx.timer);
      ctx.timer = undefined;
      if (ctx.bodyTooLarge) {
        reject(res, BODY_TOO_LARGE);
        return;
      }
      const failure = classifyUpstreamError(err);
      ctx.lastFailureStatus = failure.status;
      log.warn(
        { event: 'upstream_error', cluster: node.cluster, node: node.name, class: failure.class, code: failure.code, reason: failure.message },
        `upstream ${node.cluster}/${node.name} failed: ${failure.class} ${failure.code}`,
      );
      metrics.upstreamFailures.inc({ cluster: node.cluster, node: node.name, layer: failure.class });
      // This worker stops choosing the node at once; the primary's verdict (rise/fall) follows.
      if (failure.class !== 'reset' || !ctx.responseStarted) node.eject(ctx.cluster.config.healthCheck.intervalMs);
      observer?.failure(node, failure);
      if (ctx.responseStarted || res.headersSent) res.destroy();
      else if (canRetry(ctx) && ctx.tried.size <= ctx.cluster.config.retries) forward(req, res, ctx);
      else respondStatus(res, failure.status);
    });
  };

  const reject = (res: ServerResponse, verdict: LimitVerdict) => {
    metrics.rejectedRequests.inc({ reason: verdict.limit });
    if (verdict.close) res.shouldKeepAlive = false;
    respondStatus(res, verdict.status);
  };

  /** A request answered here, not proxied: counted when its response closes, and logged when `line` is given. */
  const countWhenClosed = (res: ServerResponse, listener: ListenerInfo, line?: () => void) =>
    res.once('close', () => {
      metrics.requests.inc({ listener: listener.name, code: res.statusCode });
      line?.();
    });

  return (req, res, listener) => {
    const startNs = process.hrtime.bigint();
    const state = options.state();
    const logAccess = state.config.log.access;
    const limits = state.config.limits.http;
    const refused = options.connectionVerdict?.(req) ?? checkRequestHead(req, limits);
    if (refused) {
      reject(res, refused);
      countWhenClosed(res, listener, logAccess ? () => accessLog(log, req, res, listener, startNs, undefined, undefined, 0, `[${refused.limit}]`, 0) : undefined);
      return;
    }
    const decision = state.router.route(req.method ?? 'GET', req.url ?? '/', req.headers.host);
    if (decision.kind === 'proxy' && decision.targetHost !== undefined && !state.ownNames.has(decision.targetHost)) {
      // An absolute-form target naming someone else: we are not a forward proxy, and which host counts is ambiguous.
      reject(res, FOREIGN_TARGET);
      countWhenClosed(res, listener);
      return;
    }
    if (decision.kind !== 'proxy') {
      if (decision.kind === 'method-not-allowed') res.setHeader('allow', decision.allow.join(', '));
      respondStatus(res, decision.status);
      countWhenClosed(res, listener, logAccess ? () => accessLog(log, req, res, listener, startNs, undefined, undefined, 0, loggableTarget(req.url ?? '/'), 0) : undefined);
      return;
    }
    const attempt = state.guard.attemptOf(req, decision.matchPath, decision.forwardPath);
    if (attempt) {
      const verdict = state.guard.check(attempt, Date.now());
      if (verdict) {
        metrics.loginAttemptsLimited.inc({ kind: verdict.kind, scope: verdict.scope });
        log.warn({ event: 'login_attempts_limited', kind: verdict.kind, scope: verdict.scope, client: req.socket.remoteAddress }, 'too many login attempts');
        res.setHeader('retry-after', String(Math.ceil(state.config.limits.loginAttempts.windowMs / 1000)));
        respondStatus(res, 429);
        countWhenClosed(
          res,
          listener,
          logAccess ? () => accessLog(log, req, res, listener, startNs, decision.cluster, undefined, 0, loggableTarget(decision.forwardPath), 0) : undefined,
        );
        return;
      }
    }
    const maxBodyBytes = decision.route.maxBodyBytes ?? limits.maxBodyBytes;
    const declaredTooLarge = checkDeclaredBody(req, maxBodyBytes);
    if (declaredTooLarge) {
      reject(res, declaredTooLarge);
      countWhenClosed(res, listener);
      return;
    }
    const cluster = state.clusters.get(decision.cluster)!;
    const method = req.method ?? 'GET';
    const sticky = cluster.config.sticky;
    const ctx: RequestContext = {
      listener,
      startNs,
      cluster,
      target: decision.forwardPath,
      idempotent: IDEMPOTENT.has(method),
      hasBody: hasRequestBody(req),
      sessionId: sticky ? requestSessionId(req.headers.cookie, decision.forwardPath, sticky.cookie) : undefined,
      credentials: attempt ? { guard: state.guard, attempt } : undefined,
      upstreamMaxHeaderBytes: limits.upstreamMaxHeaderBytes,
      tried: new Set(),
      lastFailureStatus: undefined,
      attempt: 0,
      node: undefined,
      bodyStarted: false,
      bodyTooLarge: false,
      maxBodyBytes,
      responseStarted: false,
      gate: undefined,
      timer: undefined,
      bytes: 0,
      done: false,
    };
    (req as ContextCarrier)[CONTEXT] = ctx;
    req.url = decision.forwardPath;
    res.once('close', () => {
      ctx.done = true;
      clearTimeout(ctx.timer);
      metrics.requests.inc({ listener: listener.name, code: res.writableFinished ? res.statusCode : 0 });
      metrics.requestDuration.observe({ cluster: cluster.config.name }, Number(process.hrtime.bigint() - startNs) / 1e9);
      if (logAccess) accessLog(log, req, res, listener, startNs, cluster.config.name, ctx.node?.name, ctx.bytes, loggableTarget(ctx.target), ctx.tried.size);
    });
    forward(req, res, ctx);
  };
}

/** How this response's node names become the gateway's: the cluster's public name and the client's listener. */
function rewriteFor(ctx: RequestContext): ResponseRewrite | undefined {
  const holder = ctx.cluster.rewrite;
  if (holder.rules.size === 0) return undefined;
  const spec = { host: ctx.cluster.publicHost, port: ctx.listener.port, scheme: ctx.listener.protocol };
  const target = holder.rules.forTarget(spec);
  if (!SERVERS_PATH.test(ctx.target)) return { target, extraMediaTypes: holder.rules.extraMediaTypes };
  return {
    target,
    extraMediaTypes: holder.rules.extraMediaTypes,
    // UDS lists every node of the cluster, including ones the config does not name: learn them first.
    inspect: (body) => {
      const learned = holder.rules.withNames(expandShortNames(parseUdsServers(body.toString('latin1'))));
      if (learned === holder.rules) return undefined;
      holder.rules = learned;
      return learned.forTarget(spec);
    },
  };
}

function canRetry(ctx: RequestContext): boolean {
  return !ctx.responseStarted && (ctx.idempotent || !ctx.bodyStarted);
}

function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function startBody(ctx: RequestContext, req: IncomingMessage, proxyReq: ClientRequest): void {
  if (!ctx.gate || ctx.bodyStarted) return;
  ctx.bodyStarted = true;
  if (req.headers['content-length'] === undefined) {
    // A chunked body has no declared size to check up front: count it as it flows.
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > ctx.maxBodyBytes && !ctx.bodyTooLarge) {
        ctx.bodyTooLarge = true;
        req.unpipe(ctx.gate);
        proxyReq.destroy(new Error('request body over the limit'));
      }
    });
  }
  req.pipe(ctx.gate);
}

function respondStatus(res: ServerResponse, status: number): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${status} ${STATUS_TEXT[status] ?? ''}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function accessLog(
  log: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  listener: ListenerInfo,
  startNs: bigint,
  cluster: string | undefined,
  node: string | undefined,
  bytes: number,
  path: string,
  tries: number,
): void {
  // Fields are named one by one: headers (Authorization, Cookie) are never copied into a log line.
  log.info({
    event: 'access',
    listener: listener.name,
    client: req.socket.remoteAddress,
    method: req.method,
    path,
    status: res.writableFinished ? res.statusCode : 0,
    cluster,
    node,
    tries,
    durationMs: Number(process.hrtime.bigint() - startNs) / 1e6,
    bytes,
  });
}
