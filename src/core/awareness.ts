/**
 * Lifeguard's local health awareness (memberlist's awareness.go): a small score that rises when
 * this node has evidence that it is the slow one (failed probes that helpers did not confirm,
 * having to refute a suspicion of itself) and falls with every successful probe. A node with a
 * high score probes more slowly and waits longer for acks, so a starved tab stops accusing
 * healthy peers instead of flooding the cluster with false suspicions.
 */

export class Awareness {
  private current = 0;

  /** The score stays in [0, maxMultiplier]: timeouts scale up to (1 + maxMultiplier) times. */
  constructor(private readonly maxMultiplier: number) {}

  /** 0 means healthy. */
  get score(): number {
    return this.current;
  }

  applyDelta(delta: number): void {
    this.current = Math.min(this.maxMultiplier, Math.max(0, this.current + delta));
  }

  /** The timeout stretched by the current score: `timeoutMs * (score + 1)`. */
  scaleTimeout(timeoutMs: number): number {
    return timeoutMs * (this.current + 1);
  }
}
