/**
 * An in-process signaling service: rooms of Signalers that relay to each other without a
 * server, for tests and single-process demos of the WebRTC transport.
 *
 * It behaves like the real service where the transport can tell: every delivery is
 * asynchronous (a macrotask later, as a network hop would be), deliveries keep their order,
 * joining announces the room's other peers to the joiner and the joiner to them, and closing
 * a signaler reports peer-left to the rest of the room.
 */
import type { Signaler, SignalerEvents } from './signaler.js';

type EventArgs<K extends keyof SignalerEvents> = Parameters<SignalerEvents[K]>;

export class MemorySignalingHub {
  private readonly rooms = new Map<string, Map<string, MemorySignaler>>();
  private readonly sentBy = new Map<string, number>();

  /** Joins `peerId` to `room`; the returned signaler announces the room once listeners can be attached. */
  join(room: string, peerId: string): MemorySignaler {
    let members = this.rooms.get(room);
    if (members === undefined) {
      members = new Map();
      this.rooms.set(room, members);
    }
    if (members.has(peerId)) throw new Error(`peer ${peerId} is already in room ${room}`);
    const others = [...members.values()];
    const signaler = new MemorySignaler(peerId, this, room);
    members.set(peerId, signaler);
    deliver(() => {
      signaler.emit('status', true);
      signaler.emit('peers', others.filter((other) => !other.closed).map((other) => other.selfId));
    });
    for (const other of others) deliver(() => other.emit('peer-joined', peerId));
    return signaler;
  }

  /** Signals `peerId` has sent so far (relayed or not): lets a test assert that a peer went quiet. */
  signalsSentBy(peerId: string): number {
    return this.sentBy.get(peerId) ?? 0;
  }

  /** @internal */
  relay(room: string, from: string, to: string, data: unknown): void {
    this.sentBy.set(from, this.signalsSentBy(from) + 1);
    const target = this.rooms.get(room)?.get(to);
    // A copy, as JSON over a socket would make: the receiver cannot share objects with the sender.
    const copy: unknown = JSON.parse(JSON.stringify(data ?? null));
    if (target !== undefined) deliver(() => target.emit('signal', from, copy));
  }

  /** @internal */
  leave(room: string, peerId: string): void {
    const members = this.rooms.get(room);
    if (members === undefined || !members.delete(peerId)) return;
    for (const other of members.values()) deliver(() => other.emit('peer-left', peerId));
    if (members.size === 0) this.rooms.delete(room);
  }
}

export class MemorySignaler implements Signaler {
  private readonly listeners = new Map<keyof SignalerEvents, Set<SignalerEvents[keyof SignalerEvents]>>();
  private isClosed = false;

  constructor(
    readonly selfId: string,
    private readonly hub: MemorySignalingHub,
    private readonly room: string,
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  send(to: string, data: unknown): void {
    if (this.isClosed) return;
    this.hub.relay(this.room, this.selfId, to, data);
  }

  on<K extends keyof SignalerEvents>(event: K, listener: SignalerEvents[K]): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Leaves the room: the other peers hear peer-left, and this signaler goes silent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.hub.leave(this.room, this.selfId);
    this.emit('status', false);
  }

  /** @internal */
  emit<K extends keyof SignalerEvents>(event: K, ...args: EventArgs<K>): void {
    if (this.isClosed && event !== 'status') return;
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      (listener as unknown as (...values: EventArgs<K>) => void)(...args);
    }
  }
}

/** A network hop: later, and in order (Node and browsers run equal-delay timers first-in first-out). */
function deliver(fn: () => void): void {
  setTimeout(fn, 0);
}
