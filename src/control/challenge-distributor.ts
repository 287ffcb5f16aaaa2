/**
 * The primary's ChallengePublisher: a challenge response goes to the store
 * (for other processes and late workers) and to every data-plane worker by
 * IPC, and publish() resolves only when every worker has acknowledged it —
 * the CA is told to validate after that, so no validator request can reach a
 * worker that does not know the answer yet. Workers started later get the
 * current challenges with their catch-up messages.
 */
import type { Logger } from '../log.js';
import type { PrimaryMessage, WireChallenge } from '../wire/messages.js';
import type { Storage } from '../store/storage.js';
import { type ChallengePublisher, challengeKey, deleteChallenge, storeChallenge } from '../challenges/challenge-store.js';
import type { AckReport } from '../lifecycle/worker-acks.js';
import { AcmeError } from '../acme/acme-errors.js';

export interface ChallengeDistributorOptions {
  readonly storage: Storage;
  readonly log: Logger;
  /** Sends to every worker; resolves when they acknowledged (or the wait timed out). */
  readonly broadcast: (message: (ackId: number) => PrimaryMessage) => Promise<AckReport>;
}

export class ChallengeDistributor implements ChallengePublisher {
  readonly #options: ChallengeDistributorOptions;
  readonly #current = new Map<string, WireChallenge>();

  constructor(options: ChallengeDistributorOptions) {
    this.#options = options;
  }

  async publish(challenge: WireChallenge): Promise<void> {
    const { storage, log, broadcast } = this.#options;
    this.#current.set(challengeKey(challenge), challenge);
    let stored = true;
    await storeChallenge(storage, challenge).catch((err: Error) => {
      stored = false;
      log.warn({ event: 'acme_challenge_store_failed', type: challenge.type, err: err.message }, 'could not keep the challenge in the store');
    });
    const report = await broadcast((id) => ({ t: 'acme-challenge', id, op: 'add', challenge }));
    if (report.acked < report.expected) {
      // A worker that has not acknowledged can still answer from the store; without the store it cannot.
      log.warn({ event: 'acme_challenge_unacknowledged', type: challenge.type, ...report }, 'not every worker acknowledged the challenge');
      if (!stored) throw new AcmeError('challenge-failed', `only ${report.acked} of ${report.expected} workers took the ${challenge.type} challenge, and the store could not hold it`);
    }
  }

  async withdraw(challenge: WireChallenge): Promise<void> {
    const { storage, log, broadcast } = this.#options;
    this.#current.delete(challengeKey(challenge));
    await Promise.all([
      broadcast((id) => ({ t: 'acme-challenge', id, op: 'remove', challenge })),
      deleteChallenge(storage, challenge).catch((err: Error) =>
        log.warn({ event: 'acme_challenge_cleanup_failed', type: challenge.type, err: err.message }, 'could not remove the challenge from the store'),
      ),
    ]);
  }

  /** For a worker that just started: the challenges being validated now. The ids are not awaited. */
  catchUp(): PrimaryMessage[] {
    return [...this.#current.values()].map((challenge) => ({ t: 'acme-challenge', id: 0, op: 'add', challenge }) as const);
  }
}
