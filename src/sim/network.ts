/**
 * The simulated network: per-link latency, jitter, loss and bandwidth, and the fault menu's
 * cuts (symmetric and one-way), all on virtual time and seeded randomness.
 *
 * A crashed node's in-flight messages are dropped, as a closed connection's would be; a message
 * in flight when a cut is made is dropped too, as iptables drops packets not yet delivered.
 */
import type { Random, Scheduler, Transport } from '../core/ports.js';
import type { NodeId } from '../core/types.js';

export interface LinkProfile {
  readonly latencyMs: number;
  readonly jitterMs: number;
  /** Probability that a message is lost. */
  readonly loss: number;
  /** Serialization rate; messages on one directed link queue behind each other. */
  readonly bandwidthBytesPerMs: number;
}

export const DEFAULT_LINK: LinkProfile = Object.freeze({
  latencyMs: 2, // Two tabs on one machine or a LAN: ~1-3 ms one way.
  jitterMs: 1,
  loss: 0,
  bandwidthBytesPerMs: 12_500, // 100 Mbit/s: a data channel between tabs does better; a LAN does about this.
});

interface Endpoint {
  readonly epoch: number;
  handler: ((from: NodeId, bytes: Uint8Array) => void) | undefined;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  droppedByCut: number;
  droppedByLoss: number;
  droppedByCrash: number;
  bytes: number;
}

export class SimNetwork {
  private readonly endpoints = new Map<NodeId, Endpoint>();
  private readonly blocked = new Set<string>();
  private readonly linkFreeAt = new Map<string, number>();
  private readonly overrides = new Map<string, LinkProfile>();
  private epochs = 0;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, droppedByCut: 0, droppedByLoss: 0, droppedByCrash: 0, bytes: 0 };
  /** Called for every delivered message (used to measure traffic across a cut). */
  onDeliver: ((from: NodeId, to: NodeId, bytes: Uint8Array) => void) | undefined;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: Random,
    private readonly defaults: LinkProfile = DEFAULT_LINK,
  ) {}

  /** A new process for `id`: messages to or from its earlier life are dropped from now on. */
  attach(id: NodeId): Transport {
    const endpoint: Endpoint = { epoch: ++this.epochs, handler: undefined };
    this.endpoints.set(id, endpoint);
    return {
      send: (to, bytes) => this.send(id, endpoint.epoch, to, bytes),
      onMessage: (handler) => {
        endpoint.handler = handler;
      },
    };
  }

  detach(id: NodeId): void {
    this.endpoints.delete(id);
  }

  setLink(from: NodeId, to: NodeId, profile: Partial<LinkProfile>): void {
    this.overrides.set(key(from, to), { ...this.profile(from, to), ...profile });
  }

  /** Drops everything from `from` to `to` (one way). */
  cut(from: NodeId, to: NodeId): void {
    this.blocked.add(key(from, to));
  }

  /** Symmetric partition: nodes in different groups cannot reach each other; nodes in no group reach everyone. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const [i, group] of groups.entries()) {
      for (const [j, other] of groups.entries()) {
        if (i === j) continue;
        for (const a of group) for (const b of other) this.cut(a, b);
      }
    }
  }

  healAll(): void {
    this.blocked.clear();
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(key(from, to));
  }

  private profile(from: NodeId, to: NodeId): LinkProfile {
    return this.overrides.get(key(from, to)) ?? this.defaults;
  }

  private send(from: NodeId, fromEpoch: number, to: NodeId, bytes: Uint8Array): void {
    this.stats.sent += 1;
    const sender = this.endpoints.get(from);
    if (!sender || sender.epoch !== fromEpoch) {
      this.stats.droppedByCrash += 1;
      return;
    }
    if (this.blocked.has(key(from, to))) {
      this.stats.droppedByCut += 1;
      return;
    }
    const profile = this.profile(from, to);
    if (profile.loss > 0 && this.random.next() < profile.loss) {
      this.stats.droppedByLoss += 1;
      return;
    }
    const receiverEpoch = this.endpoints.get(to)?.epoch;
    const now = this.scheduler.now();
    const linkKey = key(from, to);
    const start = Math.max(now, this.linkFreeAt.get(linkKey) ?? 0);
    const doneSending = start + bytes.length / profile.bandwidthBytesPerMs;
    this.linkFreeAt.set(linkKey, doneSending);
    const delay = doneSending - now + profile.latencyMs + this.random.next() * profile.jitterMs;
    // Copy: the receiver must not see later mutations of the sender's buffer.
    const payload = bytes.slice();
    this.scheduler.setTimer(delay, () => {
      const receiver = this.endpoints.get(to);
      const stillSender = this.endpoints.get(from)?.epoch === fromEpoch;
      if (!receiver || receiver.epoch !== receiverEpoch || !stillSender) {
        this.stats.droppedByCrash += 1;
        return;
      }
      if (this.blocked.has(linkKey)) {
        this.stats.droppedByCut += 1;
        return;
      }
      this.stats.delivered += 1;
      this.stats.bytes += payload.length;
      this.onDeliver?.(from, to, payload);
      receiver.handler?.(from, payload);
    });
  }
}

function key(from: NodeId, to: NodeId): string {
  return `${from}\u0000${to}`;
}
