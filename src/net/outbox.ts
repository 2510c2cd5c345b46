/**
 * A connection's outbox and backpressure: unsent frames queued per lane ('control' ahead of
 * 'bulk'), fed to the data channel only while its bufferedAmount is under the high-water marks,
 * and resumed on the channel's drain event (or by polling where there is none).
 *
 * Leans on connection-lifecycle.ts for the Connection it feeds (and to end one whose channel
 * closed under a send), on link-table.ts for the link whose byte count it keeps, and on
 * webrtc-config.ts for the marks and counters.
 */
import type { Scheduler } from '../core/ports.js';
import type { Connection } from './connection-lifecycle.js';
import type { LinkEntry } from './link-table.js';
import { errorMessage, type TransportCounters, type WebRtcTransportConfig } from './webrtc-config.js';

/** A connection's unsent frames, one outbox per lane. */
export interface Lanes {
  readonly control: Outbox;
  readonly bulk: Outbox;
}

/** The part of RTCDataChannel used for drain events (simple-peer keeps it in `_channel`). */
interface DrainableChannel {
  bufferedAmountLowThreshold?: unknown;
  addEventListener?: (type: 'bufferedamountlow', listener: () => void) => void;
  removeEventListener?: (type: 'bufferedamountlow', listener: () => void) => void;
}

/** Feeds the frames queued on connections to their channels, as fast as each channel drains. */
export class ChannelFeeder {
  constructor(
    private readonly config: WebRtcTransportConfig,
    private readonly scheduler: Scheduler,
    private readonly counters: TransportCounters,
    /** A send threw: the channel closed under us, and the connection is over. */
    private readonly onChannelClosed: (link: LinkEntry, connection: Connection) => void,
  ) {}

  /**
   * Feeds queued frames to the channel while its buffer is under the high-water mark: first the
   * rest of a message already started, then control messages, then bulk ones while the buffer
   * is under the bulk mark.
   */
  pump(link: LinkEntry, connection: Connection): void {
    const { control, bulk } = connection.outbox;
    while (connection.phase === 'open' && !(control.empty && bulk.empty)) {
      const buffered = connection.peer.bufferSize;
      const lane = control.started ? control : bulk.started ? bulk : !control.empty ? control : buffered < this.config.bulkHighWaterBytes ? bulk : undefined;
      if (lane === undefined || buffered >= this.config.highWaterBytes) {
        this.awaitDrain(link, connection);
        return;
      }
      const { frame, endsMessage } = lane.take();
      if (!this.putOnChannel(link, connection, frame)) {
        this.onChannelClosed(link, connection);
        return;
      }
      if (endsMessage) this.counters.messagesOut++;
    }
  }

  putOnChannel(link: LinkEntry, connection: Connection, frame: Uint8Array): boolean {
    try {
      connection.peer.send(frame);
    } catch (error) {
      // The channel closed under us (its close event is queued): the connection is over.
      connection.lastError = errorMessage(error);
      return false;
    }
    this.counters.bytesOut += frame.length;
    link.bytesOut += frame.length;
    connection.lastSentAtMs = this.scheduler.now();
    return true;
  }

  /**
   * simple-peer has no drain event of its own for direct sends, so we listen on its channel.
   * Browsers fire 'bufferedamountlow'; node's wrtc has no bufferedAmountLowThreshold, and there
   * we poll bufferedAmount instead (simple-peer does the same).
   */
  watchDrain(link: LinkEntry, connection: Connection): void {
    const channel = (connection.peer as unknown as { _channel?: DrainableChannel | null })._channel;
    if (
      channel === undefined ||
      channel === null ||
      typeof channel.bufferedAmountLowThreshold !== 'number' ||
      channel.addEventListener === undefined ||
      channel.removeEventListener === undefined
    ) {
      return;
    }
    channel.bufferedAmountLowThreshold = this.config.lowWaterBytes;
    const onLow = (): void => this.pump(link, connection);
    channel.addEventListener('bufferedamountlow', onLow);
    const remove = channel.removeEventListener.bind(channel);
    connection.stopDrainEvents = () => remove('bufferedamountlow', onLow);
  }

  private awaitDrain(link: LinkEntry, connection: Connection): void {
    if (connection.stopDrainEvents !== undefined || connection.drainTimer !== undefined) return;
    connection.drainTimer = this.scheduler.setTimer(this.config.drainPollMs, () => {
      connection.drainTimer = undefined;
      this.pump(link, connection);
    });
  }
}

/**
 * Unsent frames of one connection, grouped by message.
 *
 * When a new message does not fit, the OLDEST whole messages not yet started are dropped first
 * (then, if it still does not fit, the new one): in a gossip protocol the newest message carries
 * the freshest state, and a queued ping whose timeout has passed is worth nothing. A message
 * partly on the channel is never cut, since its receiver would only discard the rest.
 */
export class Outbox {
  /** `unsentBytes` shrinks as frames of the head message are taken. */
  private readonly messages: { frames: Uint8Array[]; next: number; unsentBytes: number }[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get empty(): boolean {
    return this.messages.length === 0;
  }

  get queuedBytes(): number {
    return this.bytes;
  }

  /** True while the head message is partly on the channel: its remaining frames must go next. */
  get started(): boolean {
    const head = this.messages[0];
    return head !== undefined && head.next > 0;
  }

  /** Queues the frames of one message; returns how many messages were dropped to make room (this one included). */
  push(frames: Uint8Array[]): number {
    const size = frames.reduce((sum, frame) => sum + frame.length, 0);
    const head = this.messages[0];
    const pinnedBytes = head !== undefined && head.next > 0 ? head.unsentBytes : 0;
    // Dropping older messages would not make room: lose only this one.
    if (pinnedBytes + size > this.maxBytes) return 1;
    let dropped = 0;
    const firstDroppable = pinnedBytes > 0 ? 1 : 0;
    while (this.bytes + size > this.maxBytes) {
      const [oldest] = this.messages.splice(firstDroppable, 1);
      if (oldest === undefined) break;
      this.bytes -= oldest.unsentBytes;
      dropped++;
    }
    this.messages.push({ frames, next: 0, unsentBytes: size });
    this.bytes += size;
    return dropped;
  }

  /** The next frame to send; only call when not empty. */
  take(): { frame: Uint8Array; endsMessage: boolean } {
    const head = this.messages[0];
    const frame = head?.frames[head.next];
    if (head === undefined || frame === undefined) throw new Error('Outbox.take on an empty outbox');
    head.next++;
    head.unsentBytes -= frame.length;
    this.bytes -= frame.length;
    const endsMessage = head.next === head.frames.length;
    if (endsMessage) this.messages.shift();
    return { frame, endsMessage };
  }

  /** Drops everything; returns how many messages were dropped. */
  clear(): number {
    const count = this.messages.length;
    this.messages.length = 0;
    this.bytes = 0;
    return count;
  }
}
