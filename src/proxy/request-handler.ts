/**
 * The per-request path of the data plane: admit (admission.ts), pick a
 * node, send the request there (on the node's keep-alive pool, see
 * upstream-try.ts), and on an upstream failure move to the next node when
 * that is safe — the client sees only the answer that worked.
 *
 * When a retry is safe: no response has been passed to the client, and either
 * the method is idempotent, or none of the request body has left for the
 * failed node. A body is read only once the upstream TLS session is up, so a
 * refused or failed connection leaves it unread and replayable. A 503 with
 * Retry-After (UDS saying it is busy) is also replayed elsewhere.
 *
 * Hedging (`timeouts.hedgeMs`): an idempotent request without a body that has
 * no response head after that long is sent to the next available node as
 * well, and the first head wins; the other try is aborted (its socket
 * destroyed, never pooled half-used). A node that loses such a race after
 * waiting the whole hedge delay is kept away from by this worker for one
 * health-check interval, as after a failed try: a hung node then costs one
 * hedge delay per interval instead of a first-byte timeout per request.
 * The primary is not told — a slow answer is not a failed one; its checks
 * (with their own timeout) decide whether the node is down. Hedges are
 * budgeted (hedge-budget.ts), so an overloaded gateway does not double its load.
 *
 * Responses are written here, so that a busy answer can be swallowed and
 * retried, and so later passes (rewriting) have one place.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UpstreamResponse } from './upstream-response.js';
import type { Logger } from '../log.js';
import type { ClusterRuntime, ProxyState } from './proxy-state.js';
import type { UpstreamNode } from '../upstream/upstream-node.js';
import type { DataPlaneMetrics } from '../metrics/data-plane-metrics.js';
import { classifyUpstreamError, SLOW_NODE, type UpstreamFailure } from './upstream-failure.js';
import { loggableTarget } from './loggable-target.js';
import { upstreamHeaders } from './upstream-headers.js';
import { UpstreamTry, type TryOptions } from './upstream-try.js';
import { HedgeBudget } from './hedge-budget.js';
import { writeProxiedResponse } from './response-writer.js';
import { rewriteFor } from './cluster-rewrite.js';
import { hasRequestBody, requestBody } from './request-body.js';
import { respondStatus, accessLog, type ListenerInfo } from './local-answer.js';
import { requestSessionId, responseSessionId } from '../upstream/sticky-sessions.js';
import { retryAfterMs } from './retry-after.js';
import type { Attempt, CredentialGuard } from './credential-guard.js';
import { BODY_TOO_LARGE, type LimitVerdict } from './request-limits.js';
import { createAdmission } from './admission.js';

export type { ListenerInfo } from './local-answer.js';

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

interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly listener: ListenerInfo;
  readonly startNs: bigint;
  readonly cluster: ClusterRuntime;
  readonly target: string;
  readonly method: string;
  readonly idempotent: boolean;
  readonly hasBody: boolean;
  readonly hedgeMs: number;
  readonly sessionId: string | undefined;
  readonly credentials: { readonly guard: CredentialGuard; readonly attempt: Attempt } | undefined;
  /** The client's headers as the nodes get them, less `Host` (each node's own). */
  readonly headers: string[];
  readonly tried: Set<UpstreamNode>;
  /** Tries still waiting for a response head (two while a hedge runs). */
  live: UpstreamTry[];
  first: UpstreamNode | undefined;
  winner: UpstreamTry | undefined;
  winnerRes: UpstreamResponse | undefined;
  hedged: boolean;
  lastFailureStatus: number | undefined;
  /** The node of the answer (or of the last try): for the access log. */
  node: UpstreamNode | undefined;
  bodyStarted: boolean;
  /** Whether any node's connection came up, so that it got the request head. */
  sent: boolean;
  bodyTooLarge: boolean;
  readonly maxBodyBytes: number;
  responseStarted: boolean;
  hedgeTimer: NodeJS.Timeout | undefined;
  totalTimer: NodeJS.Timeout | undefined;
  bytes: number;
  done: boolean;
}

export function createRequestHandler(options: RequestHandlerOptions): GatewayRequestHandler {
  const { log, observer, metrics } = options;

  const tryOptions = (ctx: RequestContext, node: UpstreamNode): TryOptions => {
    const timeouts = ctx.cluster.config.timeouts;
    const headers = ['Host', node.hostHeader];
    for (let i = 0; i < ctx.headers.length; i++) headers.push(ctx.headers[i]!);
    return {
      method: ctx.method,
      path: ctx.target,
      headers,
      body: ctx.hasBody ? requestBody(ctx.req, ctx.maxBodyBytes, () => (ctx.bodyTooLarge = true)) : null,
      connectMs: timeouts.connectMs,
      firstByteMs: timeouts.firstByteMs,
      onConnected: (t) => startBody(ctx, t),
      onResponse: (t, proxyRes) => onResponse(ctx, t, proxyRes),
      onError: (t, err) => onError(ctx, t, err),
    };
  };

  const startTry = (ctx: RequestContext, node: UpstreamNode): void => {
    ctx.tried.add(node);
    ctx.first ??= node;
    ctx.node = node;
    const attempt = new UpstreamTry(node, tryOptions(ctx, node), Date.now());
    ctx.live.push(attempt);
    if (ctx.hedgeMs > 0) {
      clearTimeout(ctx.hedgeTimer);
      ctx.hedgeTimer = setTimeout(() => hedge(ctx), ctx.hedgeMs);
    }
  };

  const forward = (ctx: RequestContext): void => {
    const preferred = ctx.sessionId ? ctx.cluster.nodesByName.get(ctx.cluster.sticky.get(ctx.cluster.config.name, ctx.sessionId, Date.now()) ?? '') : undefined;
    const node = ctx.cluster.balancer.pick(ctx.tried, preferred);
    if (!node) {
      settle(ctx);
      respondStatus(ctx.res, ctx.lastFailureStatus ?? 503);
      return;
    }
    startTry(ctx, node);
  };

  // Per cluster runtime: a reload starts a fresh budget with the new nodes.
  const budgets = new WeakMap<ClusterRuntime, HedgeBudget>();
  const budgetOf = (cluster: ClusterRuntime): HedgeBudget => {
    let budget = budgets.get(cluster);
    if (!budget) budgets.set(cluster, (budget = new HedgeBudget()));
    return budget;
  };

  /** No head yet after hedgeMs: the same request to the next available node too; the first head wins. */
  const hedge = (ctx: RequestContext): void => {
    ctx.hedgeTimer = undefined;
    if (ctx.done || ctx.responseStarted || ctx.live.length === 0 || ctx.tried.size > ctx.cluster.config.retries) return;
    const node = ctx.cluster.balancer.pickAvailable(ctx.tried);
    if (!node || !budgetOf(ctx.cluster).spend()) return;
    ctx.hedged = true;
    startTry(ctx, node);
  };

  /** The request is answered (or given up): no more hedges or deadlines. */
  const settle = (ctx: RequestContext): void => {
    clearTimeout(ctx.hedgeTimer);
    clearTimeout(ctx.totalTimer);
    ctx.hedgeTimer = undefined;
    ctx.totalTimer = undefined;
  };

  const drop = (ctx: RequestContext, attempt: UpstreamTry): void => {
    const i = ctx.live.indexOf(attempt);
    if (i >= 0) ctx.live.splice(i, 1);
  };

  const onResponse = (ctx: RequestContext, attempt: UpstreamTry, proxyRes: UpstreamResponse): void => {
    drop(ctx, attempt);
    if (ctx.done || ctx.responseStarted) {
      proxyRes.resume();
      return;
    }
    const { node } = attempt;
    const res = ctx.res;
    const status = proxyRes.statusCode ?? 502;
    const cluster = ctx.cluster.config;
    metrics.countUpstream(node, status);
    if (ctx.credentials) ctx.credentials.guard.answered(ctx.credentials.attempt, status, Date.now());
    if (status >= 500) {
      const busyMs = status === 503 ? retryAfterMs(proxyRes.headers['retry-after']) : undefined;
      observer?.serverError(node, status, busyMs);
      if (busyMs !== undefined) node.coolDown(busyMs);
      // A busy node's refusal (it did not act on the request) is replayed elsewhere while the body can still be read.
      if (status === 503 && !ctx.bodyStarted && (ctx.live.length > 0 || ctx.cluster.balancer.pick(ctx.tried))) {
        proxyRes.resume();
        ctx.lastFailureStatus = 503;
        if (ctx.live.length === 0) forward(ctx);
        return;
      }
    }
    ctx.responseStarted = true;
    ctx.winner = attempt;
    ctx.winnerRes = proxyRes;
    ctx.node = node;
    settle(ctx);
    if (ctx.live.length > 0) {
      const now = Date.now();
      for (const loser of ctx.live) {
        if (now - loser.startedAt >= ctx.hedgeMs) slowNode(ctx, loser.node, node);
        loser.abort();
      }
      ctx.live = [];
    }
    if (ctx.hedged) metrics.hedgedRequests.inc({ cluster: cluster.name, winner: node === ctx.first ? 'first' : 'hedge' });
    if (node !== ctx.first) metrics.failovers.inc({ cluster: cluster.name });
    if (cluster.sticky) {
      const issued = responseSessionId(proxyRes.headers['set-cookie'], cluster.sticky.cookie);
      if (issued && issued !== ctx.sessionId) {
        ctx.cluster.sticky.set(cluster.name, issued, node.name, Date.now());
        observer?.session(cluster.name, issued, node.name);
      }
    }
    // A node that dies mid-body: nothing can be fixed any more; cut the client short rather than crash.
    proxyRes.on('error', () => res.destroy());
    writeProxiedResponse(proxyRes, res, ctx.method === 'HEAD', rewriteFor(ctx.cluster, ctx.listener, ctx.target), (n) => (ctx.bytes += n));
  };

  /**
   * `node` lost a hedge race after waiting the whole delay: this worker keeps away from it until
   * the active checks can have reached a verdict (`fall` checks, the last one timing out). Back
   * after a single interval, every worker would pay the hedge delay again each interval until then.
   * A verdict from the primary (up or down) ends the wait sooner.
   */
  const slowNode = (ctx: RequestContext, node: UpstreamNode, answeredBy: UpstreamNode): void => {
    log.warn(
      { event: 'upstream_error', cluster: node.cluster, node: node.name, class: 'timeout', code: SLOW_NODE, reason: `no response head within ${ctx.hedgeMs} ms; ${answeredBy.name} answered first` },
      `upstream ${node.cluster}/${node.name} failed: timeout ${SLOW_NODE}`,
    );
    metrics.upstreamFailures.inc({ cluster: node.cluster, node: node.name, layer: 'timeout' });
    const check = ctx.cluster.config.healthCheck;
    node.eject(check.fall * check.intervalMs + check.timeoutMs);
  };

  const onError = (ctx: RequestContext, attempt: UpstreamTry, err: Error): void => {
    drop(ctx, attempt);
    if (ctx.done) return;
    const { node } = attempt;
    const res = ctx.res;
    if (ctx.bodyTooLarge) {
      settle(ctx);
      admission.reject(res, BODY_TOO_LARGE);
      return;
    }
    const failure = classifyUpstreamError(err);
    const answered = attempt.answered;
    if (!answered) ctx.lastFailureStatus = failure.status;
    log.warn(
      { event: 'upstream_error', cluster: node.cluster, node: node.name, class: failure.class, code: failure.code, reason: failure.message },
      `upstream ${node.cluster}/${node.name} failed: ${failure.class} ${failure.code}`,
    );
    metrics.upstreamFailures.inc({ cluster: node.cluster, node: node.name, layer: failure.class });
    // This worker stops choosing the node at once; the primary's verdict (rise/fall) follows.
    if (failure.class !== 'reset' || !answered) node.eject(ctx.cluster.config.healthCheck.intervalMs);
    observer?.failure(node, failure);
    // Mid-body: the head is out, nothing can be fixed any more; cut the client short. A drained 503 only reports.
    if (answered) {
      if (ctx.winner === attempt) res.destroy();
      return;
    }
    if (ctx.responseStarted || res.headersSent) return;
    // A hedge still running may yet answer.
    if (ctx.live.length > 0) return;
    if (canRetry(ctx) && ctx.tried.size <= ctx.cluster.config.retries) forward(ctx);
    else {
      settle(ctx);
      respondStatus(res, failure.status);
    }
  };

  /** `timeouts.totalMs`: every try together has had its time. */
  const expire = (ctx: RequestContext): void => {
    ctx.totalTimer = undefined;
    if (ctx.done || ctx.responseStarted) return;
    const tries = ctx.live;
    ctx.live = [];
    for (const attempt of tries) attempt.abort();
    settle(ctx);
    log.warn(
      { event: 'upstream_timeout', cluster: ctx.cluster.config.name, tries: ctx.tried.size, totalMs: ctx.cluster.config.timeouts.totalMs },
      `no answer from cluster ${ctx.cluster.config.name} within ${ctx.cluster.config.timeouts.totalMs} ms`,
    );
    respondStatus(ctx.res, 504);
  };

  const admission = createAdmission({ log, metrics, connectionVerdict: options.connectionVerdict });

  return (req, res, listener) => {
    const startNs = process.hrtime.bigint();
    const state = options.state();
    const admitted = admission.admit(req, res, listener, state, startNs);
    if (!admitted) return;
    const { decision, attempt, maxBodyBytes } = admitted;
    const method = req.method ?? 'GET';
    const logAccess = state.config.log.access;
    const cluster = state.clusters.get(decision.cluster)!;
    const sticky = cluster.config.sticky;
    const idempotent = IDEMPOTENT.has(method);
    const hasBody = hasRequestBody(req);
    const ctx: RequestContext = {
      req,
      res,
      listener,
      startNs,
      cluster,
      target: decision.forwardPath,
      method,
      idempotent,
      hasBody,
      hedgeMs: idempotent && !hasBody ? cluster.config.timeouts.hedgeMs : 0,
      sessionId: sticky ? requestSessionId(req.headers.cookie, decision.forwardPath, sticky.cookie) : undefined,
      credentials: attempt ? { guard: state.guard, attempt } : undefined,
      headers: upstreamHeaders(req, listener.protocol),
      tried: new Set(),
      live: [],
      first: undefined,
      winner: undefined,
      winnerRes: undefined,
      hedged: false,
      lastFailureStatus: undefined,
      node: undefined,
      bodyStarted: false,
      sent: false,
      bodyTooLarge: false,
      maxBodyBytes,
      responseStarted: false,
      hedgeTimer: undefined,
      totalTimer: undefined,
      bytes: 0,
      done: false,
    };
    req.url = decision.forwardPath;
    res.once('close', () => {
      ctx.done = true;
      settle(ctx);
      // The client left before its answer was complete: whatever is still on its way from a node is cut, not pooled.
      if (!res.writableFinished) {
        for (const pending of ctx.live) pending.abort();
        ctx.live = [];
        if (ctx.winner && ctx.winnerRes && !ctx.winnerRes.complete) ctx.winner.abort();
      }
      metrics.countRequest(listener.name, res.writableFinished ? res.statusCode : 0);
      metrics.observeDuration(cluster.config.name, Number(process.hrtime.bigint() - startNs) / 1e9);
      if (logAccess) accessLog(log, req, res, listener, { startNs, cluster: cluster.config.name, node: ctx.node?.name, bytes: ctx.bytes, path: loggableTarget(ctx.target), tries: ctx.tried.size });
    });
    if (ctx.hedgeMs > 0) budgetOf(cluster).earn();
    const totalMs = cluster.config.timeouts.totalMs;
    if (totalMs > 0) ctx.totalTimer = setTimeout(() => expire(ctx), totalMs);
    forward(ctx);
  };
}

/**
 * Idempotent: again elsewhere unless its body is already gone (it cannot be
 * read twice). Otherwise only while no node has received a byte of it.
 */
function canRetry(ctx: RequestContext): boolean {
  return !ctx.responseStarted && (ctx.idempotent ? !ctx.bodyStarted : !ctx.sent);
}

/** The node's connection is up and the request head is leaving (see the header). */
function startBody(ctx: RequestContext, attempt: UpstreamTry): void {
  ctx.sent = true;
  if (!ctx.hasBody || ctx.bodyStarted) return;
  ctx.bodyStarted = true;
  attempt.bodyStarted = true;
}
