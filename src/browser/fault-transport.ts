/**
 * Soft fault injection for tests of a live cluster: wraps a Transport and drops (or delays)
 * messages to and from chosen peers inside this node. The data channels stay up, so this is a
 * "soft" partition; cutting real packets needs the harness's network namespaces.
 */
import type { Lane, Scheduler, Transport } from '../core/ports.js';
import type { NodeId } from '../core/types.js';

export interface FaultStats {
  readonly droppedOut: number;
  readonly droppedIn: number;
}

export class FaultTransport implements Transport {
  private readonly blocked = new Set<NodeId>();
  private delayMs = 0;
  private lossRate = 0;
  private handler: ((from: NodeId, bytes: Uint8Array) => void) | undefined;
  private droppedOut = 0;
  private droppedIn = 0;

  constructor(
    private readonly inner: Transport,
    private readonly scheduler: Scheduler,
    private readonly random: () => number = Math.random,
  ) {
    inner.onMessage((from, bytes) => {
      if (this.drops(from)) {
        this.droppedIn += 1;
        return;
      }
      this.deliverLater(() => this.handler?.(from, bytes));
    });
  }

  send(to: NodeId, bytes: Uint8Array, lane?: Lane): void {
    if (this.drops(to)) {
      this.droppedOut += 1;
      return;
    }
    this.deliverLater(() => this.inner.send(to, bytes, lane));
  }

  onMessage(handler: (from: NodeId, bytes: Uint8Array) => void): void {
    this.handler = handler;
  }

  /** Drop every message to and from these peers (adds to the blocked set). */
  block(peers: readonly NodeId[]): void {
    for (const peer of peers) this.blocked.add(peer);
  }

  /** Remove every fault: nothing blocked, no loss, no delay. */
  heal(): void {
    this.blocked.clear();
    this.lossRate = 0;
    this.delayMs = 0;
  }

  /** Extra one-way latency on every message this node sends and receives. */
  setDelay(delayMs: number): void {
    if (!(delayMs >= 0)) throw new RangeError('delay must be a non-negative number of ms');
    this.delayMs = delayMs;
  }

  /** Probability of dropping any one message, in [0, 1]. */
  setLoss(lossRate: number): void {
    if (!(lossRate >= 0 && lossRate <= 1)) throw new RangeError('loss must be in [0, 1]');
    this.lossRate = lossRate;
  }

  blockedPeers(): NodeId[] {
    return [...this.blocked].sort();
  }

  stats(): FaultStats {
    return { droppedOut: this.droppedOut, droppedIn: this.droppedIn };
  }

  private drops(peer: NodeId): boolean {
    return this.blocked.has(peer) || (this.lossRate > 0 && this.random() < this.lossRate);
  }

  private deliverLater(fn: () => void): void {
    if (this.delayMs > 0) this.scheduler.setTimer(this.delayMs, fn);
    else fn();
  }
}
