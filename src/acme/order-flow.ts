/**
 * One ACME order, RFC 8555 §7.4, in acme-client's manual steps (its auto()
 * pre-checks http-01 through the system resolver on port 80 and orders DNS
 * names only): new order (with ARI's `replaces`), present every challenge,
 * tell the CA to validate, wait for the authorizations, finalize with the
 * CSR, download the chain. Challenge responses are always withdrawn, in a
 * `finally`, whatever happened (acme-client auto.js does the same).
 */
import { isIP } from 'node:net';
import type { Client, Authorization, Order } from 'acme-client';
import type { Logger } from '../log.js';
import type { AcmeChallenge } from '../config/types.js';
import { AcmeError, challengeError, type ProblemResponse } from './acme-errors.js';

type Challenge = Authorization['challenges'][number];

/** Presents one challenge; resolves with the function that withdraws it. */
export interface ChallengeSolver {
  present(authz: Authorization, challenge: Challenge, keyAuthorization: string): Promise<() => Promise<void>>;
}

export interface OrderFlowOptions {
  readonly client: Client;
  /** DNS names and IP addresses (RFC 8738). */
  readonly identifiers: readonly string[];
  readonly challengeType: AcmeChallenge;
  readonly solver: ChallengeSolver;
  readonly csrPem: Buffer;
  /** ARI CertID of the certificate this order replaces (RFC 9773 §5). */
  readonly replaces?: string;
  /** The last error response the client saw, to tell a refused `replaces` from other failures. */
  readonly lastProblem: () => ProblemResponse | undefined;
  readonly log: Logger;
  /** Each step as it happens (order, challenge published, CA validating, finalizing), for the CLI. */
  readonly progress?: (line: string) => void;
  /** How long the CA may take to validate, and to issue after finalize. */
  readonly timeoutMs?: number;
}

const POLL_MIN_MS = 50;
const POLL_MAX_MS = 1_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value; `check` throws to fail. */
async function poll<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = POLL_MIN_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() + delay > deadline) throw new AcmeError('challenge-failed', `${what} did not finish within ${timeoutMs} ms`);
    await sleep(delay);
    delay = Math.min(POLL_MAX_MS, Math.round(delay * 1.5));
  }
}

async function createOrder(options: OrderFlowOptions): Promise<Order> {
  const identifiers = options.identifiers.map((value) => ({ type: isIP(value) ? 'ip' : 'dns', value }));
  const request = { identifiers, ...(options.replaces && { replaces: options.replaces }) } as Parameters<Client['createOrder']>[0];
  try {
    return await options.client.createOrder(request);
  } catch (err) {
    const problem = options.lastProblem();
    // RFC 9773 §5: an order the CA will not accept as a replacement (alreadyReplaced, an unknown CertID) is retried plain.
    if (!options.replaces || !problem || problem.status === 429 || problem.status >= 500) throw err;
    options.log.warn({ event: 'acme_replaces_refused', problem: problem.type, detail: problem.detail }, 'CA refused the replaces field; ordering without it');
    return options.client.createOrder({ identifiers } as Parameters<Client['createOrder']>[0]);
  }
}

async function waitForAuthorization(options: OrderFlowOptions, authz: Authorization, timeoutMs: number): Promise<void> {
  const identifier = authz.identifier.value;
  await poll(`validation of ${identifier}`, timeoutMs, async () => {
    const [current] = await options.client.getAuthorizations({ authorizations: [authz.url] } as Order);
    if (!current || current.status === 'pending') return undefined;
    if (current.status === 'valid') return true;
    const failed = current.challenges.find((challenge) => challenge.type === options.challengeType) ?? current.challenges.find((c) => c.error);
    throw challengeError(identifier, options.challengeType, failed?.error as { type?: string; detail?: string } | undefined);
  });
}

/** Runs the order to the end; resolves with the PEM chain the CA issued (leaf first). */
export async function runOrder(options: OrderFlowOptions): Promise<string> {
  const { client, log } = options;
  const timeoutMs = options.timeoutMs ?? 90_000;
  const order = await createOrder(options);
  log.info({ event: 'acme_order_created', identifiers: options.identifiers, replaces: options.replaces, order: order.url }, 'ACME order created');
  const progress = options.progress ?? (() => undefined);
  progress(`order: created for ${options.identifiers.join(', ')}${options.replaces ? ' (replacing the current certificate, ARI)' : ''}`);
  const authorizations = await client.getAuthorizations(order);
  const withdraws: (() => Promise<void>)[] = [];
  try {
    const pending: { authz: Authorization; challenge: Challenge }[] = [];
    for (const authz of authorizations) {
      if (authz.status === 'valid') continue;
      if (authz.status !== 'pending') throw challengeError(authz.identifier.value, options.challengeType, { detail: `authorization is ${authz.status}` });
      const challenge = authz.challenges.find((candidate) => candidate.type === options.challengeType);
      if (!challenge) {
        const offered = authz.challenges.map((candidate) => candidate.type).join(', ');
        throw new AcmeError('rejected', `the CA offers no ${options.challengeType} challenge for ${authz.identifier.value} (it offers ${offered})`);
      }
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      withdraws.push(await options.solver.present(authz, challenge, keyAuthorization));
      progress(`challenge published: ${options.challengeType} for ${authz.identifier.value}`);
      pending.push({ authz, challenge });
    }
    // Every response is in place everywhere before the CA is told to look at any of them.
    for (const { challenge } of pending) await client.completeChallenge(challenge);
    if (pending.length > 0) progress(`CA validating: ${pending.map(({ authz }) => authz.identifier.value).join(', ')}`);
    else progress('CA validating: every authorization already valid');
    await Promise.all(pending.map(({ authz }) => waitForAuthorization(options, authz, timeoutMs)));
    progress('CA validated the challenges');
    log.info({ event: 'acme_authorizations_valid', identifiers: options.identifiers, challenge: options.challengeType }, 'ACME challenges validated');
  } finally {
    for (const withdraw of withdraws.reverse()) await withdraw().catch(() => undefined);
  }
  progress('finalizing: CSR sent, waiting for the certificate');
  const finalized = await client.finalizeOrder(order, options.csrPem);
  const issued = await poll('issuance after finalize', timeoutMs, async () => {
    const current = finalized.status === 'valid' ? finalized : await client.getOrder(finalized);
    if (current.status === 'valid') return current;
    if (current.status === 'invalid') {
      const detail = (current.error as { detail?: string } | undefined)?.detail ?? 'order became invalid';
      throw new AcmeError('rejected', `the CA refused to issue: ${detail}`);
    }
    return undefined;
  });
  return client.getCertificate(issued);
}
