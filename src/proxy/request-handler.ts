/**
 * The per-request path of the data plane: admit (admission.ts), wait for a
 * place where the route has a concurrency ceiling (concurrency-gate.ts), then
 * hand the request to an Exchange (exchange.ts), which decides under the
 * route's replay policy which node each try goes to, whether a slow try is
 * hedged and whether a failed one is sent again. This file is what the
 * exchange's decisions mean in practice: tries on the nodes' keep-alive pools
 * (upstream-try.ts), logs, metrics and passive health for failures, the
 * client's answer, and node affinity for sessions CUCM keeps on one node.
 *
 * Hedging (`timeouts.hedgeMs`, routes with `replay: hedge`): a node that loses
 * a hedge race after waiting the whole hedge delay is kept away from by this
 * worker until the active checks can have decided, as after a failed try: a
 * hung node then costs one hedge delay instead of a first-byte timeout per
 * request. The primary is not told — a slow answer is not a failed one.
 * Hedges are budgeted (hedge-budget.ts), so an overloaded gateway does not
 * double its load.
 *
 * Affinity: CUCM's Tomcat sessions (JSESSIONID, also as a `;jsessionid=` path
 * parameter) live on the node that issued them, so a client carrying one goes
 * back to that node while it is available, on every route unless the route
 * says `affinity: none`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UpstreamResponse } from './upstream-response.js';
import type { Logger } from '../log.js';
import type { ClusterRuntime, ProxyState } from './proxy-state.js';
import type { UpstreamNode } from '../upstream/upstream-node.js';
import type { DataPlaneMetrics } from '../metrics/data-plane-metrics.js';
import type { RouteConfig } from '../config/types.js';
import { systemClock } from '../clock.js';
import { classifyUpstreamError, FIRST_BYTE_TIMEOUT, SLOW_NODE, type UpstreamFailure } from '../http/upstream-failure.js';
import { loggableTarget } from './loggable-target.js';
import { upstreamHeaders } from './upstream-headers.js';
import { UpstreamTry } from './upstream-try.js';
import { HedgeBudget } from './hedge-budget.js';
import { writeProxiedResponse } from './response-writer.js';
import { rewriteFor } from './cluster-rewrite.js';
import { hasRequestBody, requestBody } from './request-body.js';
import { respondStatus, accessLog, type ListenerInfo } from './local-answer.js';
import { retryAfterMs } from '../http/retry-after.js';
import type { Attempt, CredentialGuard } from './credential-guard.js';
import { BODY_TOO_LARGE, BODY_TOO_SLOW, type LimitVerdict } from './request-limits.js';
import { createAdmission } from './admission.js';
import { Exchange, type ExchangeEvents, type ExchangeTry, type NodePicker, type TryHooks } from './exchange.js';
import { ConcurrencyGate, type GateTicket } from './concurrency-gate.js';
import { affinityCookieOf, issuedSessions, requestSession } from './session-affinity.js';
import { expectsContinue, rateGuard, readWhole, readsWhole, type BodyLimits } from './body-reader.js';

export type { ListenerInfo } from './local-answer.js';

/** What the data plane tells the control plane about upstream outcomes. */
export interface UpstreamObserver {
  failure(node: UpstreamNode, failure: UpstreamFailure): void;
  /** A 5xx answer from the node; `retryAfterMs` when it said how long it is busy. */
  serverError(node: UpstreamNode, status: number, retryAfterMs: number | undefined): void;
  /** A node issued a new upstream session (affinity); the primary shares it with every worker. */
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

interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly listener: ListenerInfo;
  readonly cluster: ClusterRuntime;
  readonly route: RouteConfig;
  readonly target: string;
  readonly method: string;
  readonly hasBody: boolean;
  /** The cookie that carries the client's upstream session, unless affinity is off. */
  readonly affinityCookie: string | undefined;
  sessionId: string | undefined;
  /** The body, read whole before a node was chosen (body-reader.ts): it can be sent again, and its form may name the session. */
  bufferedBody: Buffer | undefined;
  /** A passive failure was reported to the primary for this request (at most one is). */
  reported: boolean;
  /** Set when the body streams: its minimum rate (body-reader.ts). */
  bodyLimits: BodyLimits | undefined;
  credentials: { readonly guard: CredentialGuard; readonly attempt: Attempt } | undefined;
  /** The client's headers as the nodes get them, less `Host` (each node's own). */
  readonly headers: string[];
  readonly maxBodyBytes: number;
  exchange: Exchange<UpstreamNode, UpstreamResponse> | undefined;
  winnerRes: UpstreamResponse | undefined;
  bodyTooLarge: boolean;
  bytes: number;
  ticket: GateTicket | undefined;
}

export function createRequestHandler(options: RequestHandlerOptions): GatewayRequestHandler {
  const { log, observer, metrics } = options;
  const admission = createAdmission({ log, metrics, connectionVerdict: options.connectionVerdict });

  // Per cluster runtime: a reload starts a fresh budget with the new nodes.
  const budgets = new WeakMap<ClusterRuntime, HedgeBudget>();
  const budgetOf = (cluster: ClusterRuntime): HedgeBudget => {
    let budget = budgets.get(cluster);
    if (!budget) budgets.set(cluster, (budget = new HedgeBudget()));
    return budget;
  };
  // Per route object: a reload brings new routes, and so new gates; requests in flight leave the old ones.
  const gates = new WeakMap<RouteConfig, ConcurrencyGate>();
  const gateOf = (route: RouteConfig, workers: number): ConcurrencyGate | undefined => {
    if (route.maxConcurrent === undefined) return undefined;
    let gate = gates.get(route);
    if (!gate) gates.set(route, (gate = new ConcurrencyGate({ maxConcurrent: route.maxConcurrent, maxQueued: route.maxQueued, queueTimeoutMs: route.queueTimeoutMs }, workers, systemClock)));
    return gate;
  };

  /** A try on `node`'s pool, its outcomes counted here and decided by the exchange. */
  const startTry = (ctx: RequestContext, node: UpstreamNode, hooks: TryHooks<UpstreamResponse>): ExchangeTry<UpstreamNode> => {
    const timeouts = ctx.cluster.config.timeouts;
    const headers = ['Host', node.hostHeader];
    for (let i = 0; i < ctx.headers.length; i++) headers.push(ctx.headers[i]!);
    return new UpstreamTry(
      node,
      {
        method: ctx.method,
        path: ctx.target,
        headers,
        body: ctx.bufferedBody ?? (ctx.hasBody ? requestBody(ctx.req, ctx.maxBodyBytes, () => (ctx.bodyTooLarge = true), streamed(ctx)) : null),
        connectMs: timeouts.connectMs,
        firstByteMs: timeouts.firstByteMs,
        onConnected: () => hooks.connected(),
        onResponse: (_t, proxyRes) => {
          const status = proxyRes.statusCode ?? 502;
          metrics.countUpstream(node, status);
          if (ctx.credentials) ctx.credentials.guard.answered(ctx.credentials.attempt, status, Date.now());
          let busyMs: number | undefined;
          if (status >= 500) {
            busyMs = status === 503 ? retryAfterMs(proxyRes.headers['retry-after']) : undefined;
            observer?.serverError(node, status, busyMs);
            if (busyMs !== undefined) node.coolDown(busyMs);
          }
          hooks.response(proxyRes, status, busyMs);
        },
        onError: (t, err) => hooks.failed(err, t.answered),
      },
      Date.now(),
    );
  };

  const events = (ctx: RequestContext): ExchangeEvents<UpstreamNode, UpstreamResponse> => ({
    answer: (attempt, proxyRes, hedged, failover) => answer(ctx, attempt.node, proxyRes, hedged, failover),
    giveUp: (status) => {
      ctx.ticket?.leave();
      if (ctx.bodyTooLarge) admission.reject(ctx.res, BODY_TOO_LARGE);
      else respondStatus(ctx.res, status);
    },
    tryFailed: (attempt, err, answered) => tryFailed(ctx, attempt, err, answered),
    slow: (node, winner) => slowNode(ctx, node, winner),
    discard: (proxyRes) => proxyRes.resume(),
  });

  const answer = (ctx: RequestContext, node: UpstreamNode, proxyRes: UpstreamResponse, hedged: boolean, failover: boolean): void => {
    const cluster = ctx.cluster.config;
    ctx.winnerRes = proxyRes;
    if (hedged) metrics.hedgedRequests.inc({ cluster: cluster.name, winner: failover ? 'hedge' : 'first' });
    if (failover) metrics.failovers.inc({ cluster: cluster.name });
    for (const session of issuedSessions(proxyRes, ctx.route, ctx.affinityCookie, ctx.sessionId)) {
      ctx.cluster.sticky.set(cluster.name, session, node.name, Date.now());
      observer?.session(cluster.name, session, node.name);
    }
    const res = ctx.res;
    // A node that dies mid-body: nothing can be fixed any more; cut the client short rather than crash.
    proxyRes.on('error', () => res.destroy());
    // The ceiling counts requests CUCM is working on: once the answer is complete, the place is free.
    if (ctx.ticket) proxyRes.once('end', () => ctx.ticket?.leave());
    writeProxiedResponse(proxyRes, res, ctx.method === 'HEAD', rewriteFor(options.state(), ctx.cluster, ctx.listener, ctx.target, ctx.req.headers.host, options), (n) => (ctx.bytes += n));
  };

  /**
   * `node` lost a hedge race after waiting the whole delay: this worker keeps away from it until
   * the active checks can have reached a verdict (`fall` checks, the last one timing out). Back
   * after a single interval, every worker would pay the hedge delay again each interval until then.
   * A verdict from the primary (up or down) ends the wait sooner.
   */
  const slowNode = (ctx: RequestContext, node: UpstreamNode, answeredBy: UpstreamNode): void => {
    const hedgeMs = ctx.cluster.config.timeouts.hedgeMs;
    log.warn(
      { event: 'upstream_error', cluster: node.cluster, node: node.name, class: 'timeout', code: SLOW_NODE, reason: `no response head within ${hedgeMs} ms; ${answeredBy.name} answered first` },
      `upstream ${node.cluster}/${node.name} failed: timeout ${SLOW_NODE}`,
    );
    metrics.upstreamFailures.inc({ cluster: node.cluster, node: node.name, layer: 'timeout' });
    const service = ctx.route.service;
    const check = (service !== undefined ? ctx.cluster.config.serviceChecks?.[service] : undefined) ?? ctx.cluster.config.healthCheck;
    node.eject(check.fall * check.intervalMs + check.timeoutMs);
  };

  const tryFailed = (ctx: RequestContext, attempt: ExchangeTry<UpstreamNode>, err: Error, answered: boolean): void => {
    // The client's own body broke the limit: not the node's failure.
    if (ctx.bodyTooLarge) return;
    const { node } = attempt;
    const failure = classifyUpstreamError(err);
    log.warn(
      { event: 'upstream_error', cluster: node.cluster, node: node.name, class: failure.class, code: failure.code, reason: failure.message },
      `upstream ${node.cluster}/${node.name} failed: ${failure.class} ${failure.code}`,
    );
    metrics.upstreamFailures.inc({ cluster: node.cluster, node: node.name, layer: failure.class });
    // Slow is not dead: a node that took the request and had no answer within firstByteMs may be
    // working on a slow request (an LDAP-backed login, a large directory). The active checks, with
    // their own timeout, decide whether it hangs; a request must not take a node out by being slow.
    if (failure.code === FIRST_BYTE_TIMEOUT) {
      if (answered && ctx.exchange?.winner === attempt) ctx.res.destroy();
      return;
    }
    // This worker stops choosing the node at once; the primary's verdict (rise/fall) follows.
    if (failure.class !== 'reset' || !answered) node.eject(ctx.cluster.config.healthCheck.intervalMs);
    // Once per request: a request that fails on every node it tries says as much about itself as about them.
    if (!ctx.reported) {
      ctx.reported = true;
      observer?.failure(node, failure);
    }
    // Mid-body: the head is out, nothing can be fixed any more; cut the client short.
    if (answered && ctx.exchange?.winner === attempt) ctx.res.destroy();
  };

  /** A streaming body's bytes, fed to its minimum-rate watchdog (started with the first try that pulls it). */
  const streamed = (ctx: RequestContext): ((bytes: number) => void) | undefined => {
    const limits = ctx.bodyLimits;
    if (limits === undefined || limits.minBodyBytesPerSecond === 0) return undefined;
    let guard: ReturnType<typeof rateGuard> | undefined;
    return (bytes) => {
      if (guard === undefined) {
        guard = rateGuard(limits, systemClock, () => tooSlow(ctx));
        const stop = guard.stop;
        ctx.req.once('end', stop);
        ctx.res.once('close', stop);
      }
      guard.received(bytes);
    };
  };

  /** A body streaming below the minimum rate: the node's connection is freed and the client told, on a closing connection. */
  const tooSlow = (ctx: RequestContext): void => {
    ctx.exchange?.cancel();
    ctx.exchange?.winner?.abort();
    if (ctx.res.headersSent) ctx.res.destroy();
    else admission.reject(ctx.res, BODY_TOO_SLOW);
  };

  /** Builds the request's exchange and starts it: the route's policy, the cluster's timeouts and nodes. */
  const proxy = (ctx: RequestContext): void => {
    const { cluster, route } = ctx;
    const timeouts = cluster.config.timeouts;
    const preferredName = ctx.sessionId === undefined ? undefined : cluster.sticky.get(cluster.config.name, ctx.sessionId, Date.now());
    const preferred = preferredName === undefined ? undefined : cluster.nodesByName.get(preferredName);
    let nodes: NodePicker<UpstreamNode> = {
      pick: (exclude, prefer) => cluster.balancer.pick(exclude, prefer, route.service),
      pickAvailable: (exclude) => cluster.balancer.pickAvailable(exclude, route.service),
    };
    if (route.affinityMode === 'strict' && preferredName !== undefined) {
      // The session lives on one node: there, or nowhere. Another node could only refuse it (or worse, start over).
      if (preferred === undefined || !preferred.available(Date.now(), route.service)) {
        ctx.ticket?.leave();
        ctx.credentials?.guard.unsent(ctx.credentials.attempt, Date.now());
        respondStatus(ctx.res, 503, 'The server holding this session is unavailable. Sign in again.');
        return;
      }
      nodes = { pick: (exclude) => (exclude.has(preferred) ? undefined : preferred), pickAvailable: () => undefined };
    }
    const exchange = new Exchange<UpstreamNode, UpstreamResponse>({
      // A guess hedged to a second node would be two guesses under one place.
      replay: ctx.credentials && route.replay === 'hedge' ? 'before-send' : route.replay,
      hedgeMs: timeouts.hedgeMs,
      retries: cluster.config.retries,
      totalMs: timeouts.totalMs,
      // A body read whole can be sent again; one that streams cannot.
      hasBody: ctx.hasBody && ctx.bufferedBody === undefined,
      preferred,
      clock: systemClock,
      // The route's service check decides which nodes may serve it (a node can be up for UDS and down for EM).
      nodes,
      budget: budgetOf(cluster),
      startTry: (node, hooks) => startTry(ctx, node, hooks),
      statusOf: (err) => classifyUpstreamError(err).status,
      events: events(ctx),
    });
    ctx.exchange = exchange;
    if (exchange.hedging) budgetOf(cluster).earn();
    exchange.start();
  };

  /** Waits for a place under the route's ceiling; the excess is told to come back shortly. */
  const queueThenProxy = (ctx: RequestContext, gate: ConcurrencyGate): void => {
    const { route, cluster } = ctx;
    const go = () => {
      if (!ctx.res.destroyed && !ctx.res.writableEnded) proxy(ctx);
      else ctx.ticket?.leave();
    };
    let admittedAtOnce = false;
    ctx.ticket = gate.enter({
      // A free place admits within enter(): start once the ticket is held, so a quick failure can hand the place back.
      admitted: () => (ctx.ticket === undefined ? (admittedAtOnce = true) : go()),
      refused: (why) => {
        // Never sent: the guess gives its places back.
        ctx.credentials?.guard.unsent(ctx.credentials.attempt, Date.now());
        metrics.rejectedRequests.inc({ reason: why === 'full' ? 'route-queue-full' : 'route-queue-timeout' });
        log.warn({ event: 'route_queue_refused', cluster: cluster.config.name, route: route.pathPrefix, why }, `too many requests in flight for ${route.pathPrefix}`);
        ctx.res.setHeader('retry-after', String(Math.max(1, Math.ceil(route.queueTimeoutMs / 1000))));
        respondStatus(ctx.res, 503, 'This service is busy.');
      },
    });
    if (admittedAtOnce) go();
  };

  return (req, res, listener) => {
    const startNs = process.hrtime.bigint();
    const state = options.state();
    const admitted = admission.admit(req, res, listener, state, startNs);
    if (!admitted) return;
    const { decision, maxBodyBytes } = admitted;
    const cluster = state.clusters.get(decision.cluster)!;
    const affinityCookie = affinityCookieOf(decision.route, cluster);
    const ctx: RequestContext = {
      req,
      res,
      listener,
      cluster,
      route: decision.route,
      target: decision.forwardPath,
      method: req.method ?? 'GET',
      hasBody: hasRequestBody(req),
      affinityCookie,
      sessionId: undefined,
      credentials: undefined,
      headers: upstreamHeaders(req, listener.protocol),
      maxBodyBytes,
      exchange: undefined,
      winnerRes: undefined,
      bodyTooLarge: false,
      bytes: 0,
      ticket: undefined,
      bufferedBody: undefined,
      bodyLimits: undefined,
      reported: false,
    };
    req.url = decision.forwardPath;
    const logAccess = state.config.log.access;
    res.once('close', () => {
      ctx.ticket?.leave();
      // An attempt no node answered counts (the guard settles each attempt once).
      ctx.credentials?.guard.ended(ctx.credentials.attempt, Date.now());
      const exchange = ctx.exchange;
      // The client left before its answer was complete: whatever is still on its way from a node is cut, not pooled.
      if (exchange && !res.writableFinished) {
        exchange.cancel();
        if (exchange.winner && ctx.winnerRes && !ctx.winnerRes.complete) exchange.winner.abort();
      }
      metrics.countRequest(listener.name, res.writableFinished ? res.statusCode : 0);
      metrics.observeDuration(cluster.config.name, Number(process.hrtime.bigint() - startNs) / 1e9);
      if (logAccess) {
        accessLog(log, req, res, listener, { startNs, cluster: cluster.config.name, node: exchange?.node?.name, bytes: ctx.bytes, path: loggableTarget(ctx.target), tries: exchange?.tries ?? 0 });
      }
    });
    const gate = gateOf(decision.route, state.config.workers);
    const go = () => {
      // Counted with the body in hand (Tomcat reads credentials from a form body too), before any queue or node.
      const checked = admission.checkCredentials(req, res, state, decision, ctx.bufferedBody);
      if (!checked) return;
      if (checked.attempt) ctx.credentials = { guard: state.guard, attempt: checked.attempt };
      ctx.sessionId = requestSession(req, decision.route, affinityCookie, decision, ctx.bufferedBody);
      if (gate) queueThenProxy(ctx, gate);
      else proxy(ctx);
    };
    if (!ctx.hasBody) return go();
    const http = state.config.limits.http;
    const limits: BodyLimits = { bufferBodyBytes: http.bufferBodyBytes, maxBodyBytes, bodyTimeoutMs: http.bodyTimeoutMs, minBodyBytesPerSecond: http.minBodyBytesPerSecond };
    ctx.bodyLimits = limits;
    // The head passed every limit: only now is the body asked for (checkContinue in data-plane.ts).
    if (expectsContinue(req)) res.writeContinue();
    if (!readsWhole(req, limits)) return go();
    readWhole(req, limits, systemClock).then((outcome) => {
      if (outcome.kind === 'whole') {
        ctx.bufferedBody = outcome.body;
        go();
      } else if (outcome.kind === 'too-large') admission.reject(res, BODY_TOO_LARGE);
      else if (outcome.kind === 'too-slow') admission.reject(res, BODY_TOO_SLOW);
      else res.destroy();
    });
  };
}
