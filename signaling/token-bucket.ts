/**
 * Per-connection rate limit: a token bucket. A connection may send `burstSize` messages at once
 * (a tab joining a room sends an offer and a few ICE candidates per peer in its first second) and
 * `ratePerSecond` sustained. Time comes in as an argument, so the bucket is pure and testable.
 */
export class TokenBucket {
  private tokens: number;
  private lastRefillMs: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burstSize: number,
    nowMs: number,
  ) {
    if (!(ratePerSecond > 0) || !(burstSize >= 1)) {
      throw new RangeError('a token bucket needs ratePerSecond > 0 and burstSize >= 1');
    }
    this.tokens = burstSize;
    this.lastRefillMs = nowMs;
  }

  /** Takes one token if there is one; false means the message must be dropped. */
  tryTake(nowMs: number): boolean {
    // A clock that steps back (it should not, but) must not mint tokens: only forward time refills.
    const elapsedMs = Math.max(0, nowMs - this.lastRefillMs);
    this.lastRefillMs = Math.max(this.lastRefillMs, nowMs);
    this.tokens = Math.min(this.burstSize, this.tokens + (elapsedMs * this.ratePerSecond) / 1000);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
