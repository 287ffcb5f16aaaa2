/**
 * Challenge responses kept in the store as well as pushed to the workers
 * (certmagic's cluster mode): any process that shares the store can answer
 * the CA's validator — a worker that started mid-validation, another gateway
 * instance, or the running gateway when `ucgate cert renew` orders from the
 * CLI.
 *
 *   acme/challenges/http-01/<token>                    the key authorization
 *   acme/challenges/tls-alpn-01/<identifier>.json      acme-tls/1 cert + key (secret)
 */
import type { UcgateConfig } from '../config/types.js';
import type { WireChallenge } from '../wire/messages.js';
import type { Storage } from '../store/storage.js';
import { loadText } from '../store/storage.js';
import { openStoreReader } from '../store/create-storage.js';

/** Publishes challenge responses where the CA's validator will find them. */
export interface ChallengePublisher {
  /** Resolves once every process that may receive the validator's request can answer it. */
  publish(challenge: WireChallenge): Promise<void>;
  /** Best effort: a leftover response is harmless (tokens are single-use), so this never throws. */
  withdraw(challenge: WireChallenge): Promise<void>;
}

/** RFC 8555 §8.3: tokens are base64url; anything else is not ours (and must not reach a storage key). */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,256}$/;

function identifierKey(identifier: string): string {
  return identifier.toLowerCase().replace(/[^a-z0-9.-]/g, '_');
}

export function challengeKey(challenge: WireChallenge): string {
  return challenge.type === 'http-01'
    ? `acme/challenges/http-01/${challenge.token}`
    : `acme/challenges/tls-alpn-01/${identifierKey(challenge.identifier)}.json`;
}

export async function storeChallenge(storage: Storage, challenge: WireChallenge): Promise<void> {
  if (challenge.type === 'http-01') await storage.store(challengeKey(challenge), challenge.keyAuthorization);
  else await storage.store(challengeKey(challenge), JSON.stringify({ certPem: challenge.certPem, keyPem: challenge.keyPem }), { secret: true });
}

export async function deleteChallenge(storage: Storage, challenge: WireChallenge): Promise<void> {
  await storage.delete(challengeKey(challenge));
}

export async function loadHttp01(storage: Storage, token: string): Promise<string | undefined> {
  if (!TOKEN_PATTERN.test(token)) return undefined;
  return loadText(storage, `acme/challenges/http-01/${token}`);
}

export async function loadTlsAlpn01(storage: Storage, identifier: string): Promise<{ certPem: string; keyPem: string } | undefined> {
  const text = await loadText(storage, `acme/challenges/tls-alpn-01/${identifierKey(identifier)}.json`);
  return text ? (JSON.parse(text) as { certPem: string; keyPem: string }) : undefined;
}

/** Publishes to the store only: the CLI, and any process without workers of its own. */
export class StoreChallengePublisher implements ChallengePublisher {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async publish(challenge: WireChallenge): Promise<void> {
    await storeChallenge(this.#storage, challenge);
  }

  async withdraw(challenge: WireChallenge): Promise<void> {
    await deleteChallenge(this.#storage, challenge).catch(() => undefined);
  }
}

/**
 * A read-only view of the store for the data plane, or undefined when the
 * store cannot be opened from a worker. Deliberately not `open()`ed: that
 * sweeps temp files, which would race the primary's writes.
 */
export function challengeStoreFor(config: UcgateConfig): Storage | undefined {
  // With a shared (redis) store, the CA's validator may reach an instance that did not place the
  // order: it answers from the store, opened lazily so workers that never need it never connect.
  return openStoreReader(config);
}
