/**
 * The per-request path of the data plane: route, pick a node, proxy through
 * http-proxy, and on an upstream failure move to the next node when that is
 * safe — the client sees only the answer that worked.
 *
 * When a retry is safe: the response head has not reached the client, and
 * either the method is idempotent and the failure happened before the head
 * (connect, TLS, reset, first-byte timeout), or none of the request body has
 * left for the failed node. A body is held back (the "gate") until the
 * upstream TLS session is up, so a refused or failed connection leaves it
 * unread and replayable.
 */
import type { IncomingMessage, ServerResponse, ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Logger } from '../log.js';
import type { ClusterRuntime, ProxyState } from './proxy-state.js';
import type { UpstreamNode } from '../upstream/upstream-node.js';
import {
  classifyUpstreamError,
  UpstreamTimeoutError,
  CONNECT_TIMEOUT,
  FIRST_BYTE_TIMEOUT,
  type UpstreamFailure,
} from './upstream-failure.js';
import { loggableTarget } from './loggable-target.js';
import { stripHopByHop, stripHopByHopRequest } from './hop-by-hop.js';

export interface ListenerInfo {
  readonly name: string;
  readonly protocol: 'https' | 'http';
  readonly port: number;
}

/** What the data plane tells the rest of the system about upstream outcomes. */
export interface UpstreamObserver {
  failure(node: UpstreamNode, failure: UpstreamFailure): void;
  success(node: UpstreamNode, status: number): void;
  failover(cluster: string): void;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);
const CONTEXT = Symbol('ucgate.request');

interface RequestContext {
  readonly listener: ListenerInfo;
  readonly startNs: bigint;
  readonly cluster: ClusterRuntime;
  readonly target: string;
  readonly idempotent: boolean;
  readonly hasBody: boolean;
  readonly tried: Set<UpstreamNode>;
  readonly failures: UpstreamFailure[];
  attempt: number;
  node: UpstreamNode | undefined;
  bodyStarted: boolean;
  responseStarted: boolean;
  gate: PassThrough | undefined;
  timer: NodeJS.Timeout | undefined;
  bytes: number;
  done: boolean;
}

type ContextCarrier = IncomingMessage & { [CONTEXT]?: RequestContext };

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export interface RequestHandlerOptions {
  readonly state: () => ProxyState;
  readonly log: Logger;
  readonly observer?: UpstreamObserver;
}

export type GatewayRequestHandler = (req: IncomingMessage, res: ServerResponse, listener: ListenerInfo) => void;

export function createRequestHandler(options: RequestHandlerOptions): GatewayRequestHandler {
  const { log, observer } = options;
  const proxy = httpProxy.createProxyServer({ xfwd: false, ws: false, prependPath: false });

  proxy.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) => {
    const ctx = (req as ContextCarrier)[CONTEXT];
    if (!ctx || !ctx.node) return;
    const node = ctx.node;
    stripHopByHopRequest(proxyReq, req);
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
      startBody(ctx, req);
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
    if (!ctx) return;
    clearTimeout(ctx.timer);
    ctx.timer = undefined;
    ctx.responseStarted = true;
    stripHopByHop(proxyRes.headers);
    if (ctx.node) observer?.success(ctx.node, proxyRes.statusCode ?? 0);
    if (ctx.tried.size > 1) observer?.failover(ctx.cluster.config.name);
    proxyRes.on('data', (chunk: Buffer) => (ctx.bytes += chunk.length));
    // A node that dies mid-body: nothing can be fixed any more, cut the client short rather than crash.
    proxyRes.on('error', () => res.destroy());
  });

  const forward = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void => {
    const node = ctx.cluster.balancer.pick(ctx.tried);
    if (!node) {
      const last = ctx.failures.at(-1);
      respondStatus(res, last ? last.status : 503);
      return;
    }
    ctx.attempt++;
    ctx.node = node;
    ctx.tried.add(node);
    ctx.gate = ctx.hasBody ? new PassThrough() : undefined;
    const attempt = ctx.attempt;
    proxy.web(
      req,
      res,
      { target: node.target, agent: node.agent, ...(ctx.gate ? { buffer: ctx.gate } : {}) },
      (err: Error) => {
        if (ctx.attempt !== attempt || ctx.done) return;
        clearTimeout(ctx.timer);
        ctx.timer = undefined;
        const failure = classifyUpstreamError(err);
        ctx.failures.push(failure);
        log.warn(
          {
            event: 'upstream_error',
            cluster: node.cluster,
            node: node.name,
            class: failure.class,
            code: failure.code,
            reason: failure.message,
          },
          `upstream ${node.cluster}/${node.name} failed: ${failure.class} ${failure.code}`,
        );
        observer?.failure(node, failure);
        if (res.headersSent) {
          res.destroy();
          return;
        }
        // Once a response head has arrived, http-proxy has begun copying it onto `res`: never replay then.
        const retryable = !ctx.responseStarted && (ctx.idempotent || !ctx.bodyStarted);
        if (retryable && ctx.tried.size <= ctx.cluster.config.retries) forward(req, res, ctx);
        else respondStatus(res, failure.status);
      },
    );
  };

  return (req, res, listener) => {
    const startNs = process.hrtime.bigint();
    const state = options.state();
    const decision = state.router.route(req.method ?? 'GET', req.url ?? '/', req.headers.host);
    if (decision.kind !== 'proxy') {
      if (decision.kind === 'method-not-allowed') res.setHeader('allow', decision.allow.join(', '));
      respondStatus(res, decision.status);
      res.once('close', () => accessLog(log, req, res, listener, startNs, undefined, undefined, 0, loggableTarget(req.url ?? '/')));
      return;
    }
    const cluster = state.clusters.get(decision.cluster)!;
    const method = req.method ?? 'GET';
    const ctx: RequestContext = {
      listener,
      startNs,
      cluster,
      target: decision.forwardPath,
      idempotent: IDEMPOTENT.has(method),
      hasBody: hasRequestBody(req),
      tried: new Set(),
      failures: [],
      attempt: 0,
      node: undefined,
      bodyStarted: false,
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
      accessLog(log, req, res, listener, startNs, cluster.config.name, ctx.node?.name, ctx.bytes, loggableTarget(ctx.target), ctx.tried.size);
    });
    forward(req, res, ctx);
  };
}

function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function startBody(ctx: RequestContext, req: IncomingMessage): void {
  if (!ctx.gate || ctx.bodyStarted) return;
  ctx.bodyStarted = true;
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
  tries = 0,
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
