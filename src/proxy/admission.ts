/**
 * What a request must pass before it is proxied: the connection's and the
 * head's limits, a route, a target naming us, the login-attempt guard, and a
 * declared body within the route's limit. A request turned away here is
 * answered, counted when its response closes, and access-logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { DataPlaneMetrics } from '../metrics/data-plane-metrics.js';
import type { ProxyState } from './proxy-state.js';
import type { ProxyDecision } from './router.js';
import type { Attempt } from './credential-guard.js';
import { loggableTarget } from './loggable-target.js';
import { respondStatus, accessLog, type ListenerInfo } from './local-answer.js';
import { checkRequestHead, checkDeclaredBody, type LimitVerdict } from './request-limits.js';
import { isRefusedMethod, PROXIED_METHODS_ALLOW } from './deny-list.js';

const FOREIGN_TARGET: LimitVerdict = { status: 400, limit: 'absolute-form-host', close: true };

export interface Admitted {
  readonly decision: ProxyDecision;
  readonly maxBodyBytes: number;
}

export interface AdmissionOptions {
  readonly log: Logger;
  readonly metrics: DataPlaneMetrics;
  /** Whether the request's connection is over a connection limit. */
  readonly connectionVerdict?: ((req: IncomingMessage) => LimitVerdict | undefined) | undefined;
}

export interface Admission {
  /** The request's route and limits, or undefined once it has been answered here. */
  admit(req: IncomingMessage, res: ServerResponse, listener: ListenerInfo, state: ProxyState, startNs: bigint): Admitted | undefined;
  /** Refuses the request for a limit: counted under `ucgate_rejected_requests_total{reason}`. */
  reject(res: ServerResponse, verdict: LimitVerdict): void;
  /**
   * The login-attempt guard, once the body is read (`body`: the whole body, if it was read): the
   * attempt the request makes, which holds its places until the guard settles it; or undefined once
   * the request has been answered here (429, or 411/413/415 for a credential form body it cannot check).
   */
  checkCredentials(req: IncomingMessage, res: ServerResponse, state: ProxyState, decision: ProxyDecision, body: Buffer | undefined): { readonly attempt: Attempt | undefined } | undefined;
}

export function createAdmission({ log, metrics, connectionVerdict }: AdmissionOptions): Admission {
  const reject = (res: ServerResponse, verdict: LimitVerdict) => {
    metrics.rejectedRequests.inc({ reason: verdict.limit });
    if (verdict.close) res.shouldKeepAlive = false;
    respondStatus(res, verdict.status);
  };

  /** A request answered here: counted when its response closes, and access-logged under `path` when given. */
  const turnedAway = (req: IncomingMessage, res: ServerResponse, listener: ListenerInfo, state: ProxyState, startNs: bigint, path?: string, cluster?: string) =>
    res.once('close', () => {
      metrics.countRequest(listener.name, res.statusCode);
      if (state.config.log.access && path !== undefined) accessLog(log, req, res, listener, { startNs, cluster, bytes: 0, path, tries: 0 });
    });

  const admit = (req: IncomingMessage, res: ServerResponse, listener: ListenerInfo, state: ProxyState, startNs: bigint): Admitted | undefined => {
    const limits = state.config.limits.http;
    const refused = connectionVerdict?.(req) ?? checkRequestHead(req, limits);
    if (refused) {
      reject(res, refused);
      turnedAway(req, res, listener, state, startNs, `[${refused.limit}]`);
      return undefined;
    }
    if (isRefusedMethod(req.method)) {
      // TRACE reflects headers (cookies, Authorization) back; TRACK and CONNECT have no place at a reverse proxy.
      res.setHeader('allow', PROXIED_METHODS_ALLOW);
      respondStatus(res, 405);
      turnedAway(req, res, listener, state, startNs, loggableTarget(req.url ?? '/'));
      return undefined;
    }
    const decision = state.router.route(req.method ?? 'GET', req.url ?? '/', req.headers.host);
    if (decision.kind === 'proxy' && decision.targetHost !== undefined && !state.ownNames.has(decision.targetHost)) {
      // An absolute-form target naming someone else: we are not a forward proxy, and which host counts is ambiguous.
      reject(res, FOREIGN_TARGET);
      turnedAway(req, res, listener, state, startNs);
      return undefined;
    }
    if (decision.kind !== 'proxy') {
      if (decision.kind === 'method-not-allowed') res.setHeader('allow', decision.allow.join(', '));
      respondStatus(res, decision.status);
      turnedAway(req, res, listener, state, startNs, loggableTarget(req.url ?? '/'));
      return undefined;
    }
    const maxBodyBytes = decision.route.maxBodyBytes ?? limits.maxBodyBytes;
    const declaredTooLarge = checkDeclaredBody(req, maxBodyBytes);
    if (declaredTooLarge) {
      reject(res, declaredTooLarge);
      turnedAway(req, res, listener, state, startNs);
      return undefined;
    }
    return { decision, maxBodyBytes };
  };

  const checkCredentials = (req: IncomingMessage, res: ServerResponse, state: ProxyState, decision: ProxyDecision, body: Buffer | undefined): { readonly attempt: Attempt | undefined } | undefined => {
    const attempt = state.guard.attemptOf(req, decision.matchPath, decision.forwardPath, body);
    const verdict = attempt && state.guard.check(attempt, Date.now());
    if (!verdict) return { attempt };
    metrics.loginAttemptsLimited.inc({ kind: verdict.kind, scope: verdict.scope });
    log.warn({ event: 'login_attempts_limited', kind: verdict.kind, scope: verdict.scope, client: req.socket.remoteAddress }, 'too many login attempts');
    if (verdict.status === 429) res.setHeader('retry-after', String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000))));
    respondStatus(res, verdict.status, verdict.status === 429 ? 'Too many login attempts.' : undefined);
    return undefined;
  };

  return { admit, reject, checkCredentials };
}
