/**
 * Session-ticket keys, made by the primary and handed to every worker, so a
 * session resumed on any worker succeeds. Each 48-byte key set seals new
 * tickets until the next rotation; ticket-renewal.ts keeps the one before it
 * good for opening tickets (and renews them), or, on Node's plain
 * `setTicketKeys` fallback, tickets under the old key get a full handshake once.
 */
import { randomBytes } from 'node:crypto';
import type { Clock, ClockTimer } from '../clock.js';

export const TICKET_KEY_BYTES = 48;

export function newTicketKeys(): Buffer {
  return randomBytes(TICKET_KEY_BYTES);
}

/** Calls `onRotate` with fresh keys every `intervalMs` until stopped. */
export function rotateTicketKeys(clock: Clock, intervalMs: number, onRotate: (keys: Buffer) => void): { stop(): void } {
  let timer: ClockTimer | undefined;
  let stopped = false;
  const schedule = () => {
    timer = clock.setTimeout(() => {
      if (stopped) return;
      onRotate(newTicketKeys());
      schedule();
    }, intervalMs);
    timer.unref?.();
  };
  schedule();
  return {
    stop() {
      stopped = true;
      if (timer) clock.clearTimeout(timer);
    },
  };
}
