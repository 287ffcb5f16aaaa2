/**
 * How many hedges a cluster may send: gRPC's retry throttling in miniature.
 * Every request earns a fraction of a token, every hedge spends a whole one,
 * and the bucket is capped. A node that hangs now and then gets every
 * request hedged (the bucket starts full and refills as requests pass); a
 * gateway whose own CPU is saturated, where every answer is late, adds at
 * most `EARN` more upstream requests per request instead of doubling its load.
 */
const EARN = 0.2;
const CAP = 30;

export class HedgeBudget {
  #tokens = CAP;

  /** A request arrived that may be hedged. */
  earn(): void {
    if (this.#tokens < CAP) this.#tokens = Math.min(CAP, this.#tokens + EARN);
  }

  /** Takes a token for a hedge; false when the budget is spent. */
  spend(): boolean {
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
