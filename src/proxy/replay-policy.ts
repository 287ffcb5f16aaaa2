/**
 * What may be sent to a node again, decided by the route, not the method.
 * Phones submit every CiscoIPPhoneInput form as GET (Cisco Unified IP Phone
 * Services Application Development Notes: "CiscoIPPhoneInput objects do not
 * use the HTTP POST method"), so an Extension Mobility login or a PIN change
 * is a GET that writes CUCM's database: RFC 9110's "GET is safe" does not
 * hold for CUCM's phone services, and the route must say what does.
 *
 * - `hedge`: a read with no side effect (UDS discovery). Sent to a second node
 *   when the first is slow, and sent again after any failure before an answer.
 * - `before-send`: sent again only while no node has received a byte of it
 *   (connect or TLS failure), or when a node refused it as busy (503 with
 *   Retry-After: RFC 9110 §15.6.4, the node did not act on it).
 * - `never`: sent again only after a failed connect; a node's 503 is the answer.
 *
 * A body already sent can never be sent again: it was read from the client once.
 */
import type { ReplayPolicy } from '../config/types.js';

export type { ReplayPolicy } from '../config/types.js';

/** Where a request stood when its try ended without an answer to pass on. */
export interface TryOutcome {
  /** A node's connection came up, so it got (some of) the request. */
  readonly sent: boolean;
  /** Some of the request body has left: it cannot be read again. */
  readonly bodyStarted: boolean;
  /** The node answered 503; `retryAfter` when it said for how long it is busy. */
  readonly busy?: { readonly retryAfter: boolean };
}

/** Whether the request may go to another node after `outcome`. */
export function mayReplay(policy: ReplayPolicy, outcome: TryOutcome): boolean {
  if (outcome.bodyStarted) return false;
  if (!outcome.sent) return true;
  if (policy === 'hedge') return true;
  if (policy === 'before-send') return outcome.busy?.retryAfter === true;
  return false;
}

/** Whether a slow request may also be sent to a second node while the first still has it. */
export function mayHedge(policy: ReplayPolicy, hedgeMs: number, hasBody: boolean): boolean {
  return policy === 'hedge' && hedgeMs > 0 && !hasBody;
}
