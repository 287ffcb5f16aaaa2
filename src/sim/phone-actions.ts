/**
 * The record of what a simulated node actually did: every state-changing
 * phone action (EM login/logout, PIN change, Personal Directory edit,
 * authenticate.jsp) is logged when it starts and again when it completes,
 * so a test can count executions and prove that a request was not run
 * twice, or that a node killed mid-way left its action half-done.
 *
 * An action takes `delayMs` and is not tied to its HTTP response: a servlet
 * keeps running when its client goes away, so a client that gives up does
 * not undo the change. Only the node stopping cuts an action short.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { NodeAction, NodeActionKind, RefusedAction } from './cucm-node-api.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Where a request comes from, as the node sees it. */
export interface RequestSource {
  /** The TCP peer (IPv4-mapped IPv6 written as plain IPv4). */
  readonly source: string;
  readonly forwardedFor: string | undefined;
  /** A `Via` header is present: EM's test for "through proxy" (see em-endpoints.ts). */
  readonly viaProxy: boolean;
}

export interface ActionOutcome {
  readonly result: 'ok' | 'failed';
  readonly detail: string;
}

export function requestSource(req: IncomingMessage): RequestSource {
  const peer = req.socket.remoteAddress ?? '';
  const forwarded = req.headers['x-forwarded-for'];
  return {
    source: peer.startsWith('::ffff:') ? peer.slice(7) : peer,
    forwardedFor: Array.isArray(forwarded) ? forwarded.join(', ') : forwarded,
    viaProxy: req.headers.via !== undefined,
  };
}

export class ActionLog {
  readonly actions: NodeAction[] = [];
  readonly refused: RefusedAction[] = [];
  readonly #events: EventEmitter;
  readonly #delayMs: number;
  readonly #schedule: (fn: () => void, ms: number) => void;
  readonly #running = new Set<NodeAction>();

  /** `schedule` runs a callback later unless the node stops first (never cancelled by a response closing). */
  constructor(events: EventEmitter, delayMs: number, schedule: (fn: () => void, ms: number) => void) {
    this.#events = events;
    this.#delayMs = delayMs;
    this.#schedule = schedule;
  }

  /** EM logins and logouts in progress: what "Maximum Concurrent Requests" limits. */
  get emInProgress(): number {
    let count = 0;
    for (const action of this.#running) if (action.kind === 'em-login' || action.kind === 'em-logout') count++;
    return count;
  }

  refuse(kind: RefusedAction['kind'], user: string | undefined, device: string | undefined, from: RequestSource, code: RefusedAction['code']): void {
    const refusal: RefusedAction = { kind, user, device, source: from.source, forwardedFor: from.forwardedFor, time: Date.now(), code };
    this.refused.push(refusal);
    this.#events.emit('action-refused', refusal);
  }

  /**
   * Starts an action now; after the delay, `complete` makes the change (or
   * decides against it) and `respond` answers the phone. Neither runs if the
   * node stops first.
   */
  run(
    kind: NodeActionKind,
    user: string | undefined,
    device: string | undefined,
    from: RequestSource,
    complete: () => ActionOutcome,
    respond: (outcome: ActionOutcome) => void,
  ): void {
    const action: Mutable<NodeAction> = {
      kind,
      user,
      device,
      source: from.source,
      forwardedFor: from.forwardedFor,
      viaProxy: from.viaProxy,
      startedAt: Date.now(),
      completedAt: undefined,
      result: undefined,
      detail: undefined,
    };
    this.actions.push(action);
    this.#running.add(action);
    this.#events.emit('action-started', action);
    this.#schedule(() => {
      this.#running.delete(action);
      const outcome = complete();
      action.completedAt = Date.now();
      action.result = outcome.result;
      action.detail = outcome.detail;
      this.#events.emit('action', action);
      respond(outcome);
    }, this.#delayMs);
  }

  /** The node stopped: what was running stays recorded as started, never completed. */
  abortRunning(): void {
    this.#running.clear();
  }

  clear(): void {
    this.actions.length = 0;
    this.refused.length = 0;
  }
}
