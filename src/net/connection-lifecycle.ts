/**
 * A connection's lifecycle: one simple-peer connection to a peer from its creation to its end.
 * It is set up through signals, opens its channel, proves the room secret (peer-auth.ts) before
 * anything else passes, then delivers reassembled messages (framing.ts) while a watchdog sends
 * keepalives and replaces it once the peer has gone silent. When it ends, its link either waits
 * to retry or closes for good.
 *
 * Leans on link-table.ts for the link it belongs to (state, retries, refused peers), on outbox.ts
 * for its queues and backpressure, on signal-envelope.ts for what it sends through the signaler,
 * and on webrtc-config.ts for timeouts and counters. webrtc-transport.ts decides when to open one.
 */
import type SimplePeer from 'simple-peer';
import { DecodeError } from '../core/errors.js';
import type { Scheduler, TimerHandle } from '../core/ports.js';
import type { NodeId } from '../core/types.js';
import { Reassembler, decodeFrame, encodeFrame, type ChannelFrame } from './framing.js';
import type { LinkEntry, LinkTable } from './link-table.js';
import { ChannelFeeder, Outbox, type Lanes } from './outbox.js';
import { PeerAuthError, PeerHandshake, dtlsFingerprints, type RoomKey } from './peer-auth.js';
import type { SignalEnvelope } from './signal-envelope.js';
import type { Signaler } from './signaler.js';
import {
  errorMessage,
  linkErrorCodeOf,
  type LinkErrorCode,
  type SimplePeerConstructor,
  type TransportCounters,
  type WebRtcImplementation,
  type WebRtcTransportConfig,
} from './webrtc-config.js';

const KEEPALIVE_FRAME = encodeFrame({ kind: 'keepalive' });

type ConnectionPhase = 'connecting' | 'authenticating' | 'open' | 'ended';
export type EndReason = 'closed' | 'timeout' | 'auth-failed' | 'replaced' | 'left' | 'shutdown' | 'silent';

/** One connection attempt to a peer: a simple-peer instance, its handshake, queues and timers. */
export interface Connection {
  readonly session: string;
  readonly peer: SimplePeer.Instance;
  readonly handshake: PeerHandshake;
  readonly reassembler: Reassembler;
  /** Unsent frames, by lane. */
  readonly outbox: Lanes;
  phase: ConnectionPhase;
  localSdp: string | undefined;
  remoteSdp: string | undefined;
  nextMessageId: number;
  setupTimer: TimerHandle | undefined;
  drainTimer: TimerHandle | undefined;
  watchdogTimer: TimerHandle | undefined;
  /** Scheduler times of the last frame received and sent on this connection. */
  lastHeardAtMs: number;
  lastSentAtMs: number;
  /** Set once the channel's native 'bufferedamountlow' event drives the queue. */
  stopDrainEvents: (() => void) | undefined;
  /** We told the peer it is refused: close only once that has had time to arrive. */
  rejectSent: boolean;
  lastError: string | undefined;
  lastErrorCode: LinkErrorCode | undefined;
}

export interface ConnectionLifecycleOptions {
  readonly config: WebRtcTransportConfig;
  readonly scheduler: Scheduler;
  readonly counters: TransportCounters;
  readonly key: Promise<RoomKey>;
  readonly signaler: Signaler;
  readonly table: LinkTable;
  readonly SimplePeer: SimplePeerConstructor;
  readonly wrtc?: WebRtcImplementation;
  readonly iceServers?: RTCIceServer[];
  /** The transport is closed: nothing is sent, retried or answered any more. */
  readonly isClosed: () => boolean;
  /** Where reassembled messages go; undefined until the node registers. */
  readonly handler: () => ((from: NodeId, bytes: Uint8Array) => void) | undefined;
  /** A peer failed the handshake (already blocked in the link table). */
  readonly onAuthFailed: (peerId: string, error: PeerAuthError) => void;
  /** The peer said it is suspended (a frozen tab): its silence is sleep, so its link is kept. */
  readonly isHeldThroughSilence: (peerId: string) => boolean;
}

/** Opens, runs and ends the connections of every link of one transport. */
export class ConnectionLifecycle {
  readonly feeder: ChannelFeeder;
  private readonly config: WebRtcTransportConfig;
  private readonly scheduler: Scheduler;
  private readonly counters: TransportCounters;
  private readonly key: Promise<RoomKey>;
  private readonly signaler: Signaler;
  private readonly table: LinkTable;
  /** Ended connections kept open for rejectLingerMs so a reject frame can reach the peer. */
  private readonly lingering = new Map<SimplePeer.Instance, TimerHandle>();

  constructor(private readonly options: ConnectionLifecycleOptions) {
    this.config = options.config;
    this.scheduler = options.scheduler;
    this.counters = options.counters;
    this.key = options.key;
    this.signaler = options.signaler;
    this.table = options.table;
    this.feeder = new ChannelFeeder(options.config, options.scheduler, options.counters, (link, connection) =>
      this.end(link, connection, 'closed'),
    );
  }

  private get selfId(): string {
    return this.signaler.selfId;
  }

  private get closed(): boolean {
    return this.options.isClosed();
  }

  private get handler(): ((from: NodeId, bytes: Uint8Array) => void) | undefined {
    return this.options.handler();
  }

  /** Destroys the connections still lingering after a reject: the transport is closing. */
  closeLingering(): void {
    for (const [peer, timer] of this.lingering) {
      timer.cancel();
      peer.destroy();
    }
    this.lingering.clear();
  }

  open(link: LinkEntry, session: string, offer: SimplePeer.SignalData | undefined): void {
    this.table.cancelRetry(link);
    let peer: SimplePeer.Instance;
    try {
      peer = new this.options.SimplePeer({
        initiator: link.weInitiate,
        trickle: true,
        config: { iceServers: this.options.iceServers ?? [] },
        ...(this.options.wrtc === undefined ? {} : { wrtc: this.options.wrtc }),
      });
    } catch (error) {
      // No WebRTC in this environment: retrying will not help, but the backoff keeps it cheap.
      link.lastError = errorMessage(error);
      link.lastErrorCode = 'no-webrtc';
      this.table.setState(link, 'failed');
      this.table.scheduleAttempt(link, this.table.retryDelayMs(link.failedAttempts));
      link.failedAttempts++;
      return;
    }
    const connection: Connection = {
      session,
      peer,
      handshake: new PeerHandshake({
        key: this.key,
        selfId: this.selfId,
        peerId: link.peerId,
        send: (frame) => this.sendHandshakeFrame(link, connection, frame),
        onOpen: () => this.onAuthenticated(link, connection),
        onFailure: (error) => this.onAuthFailed(link, connection, error),
      }),
      reassembler: new Reassembler(this.config.maxMessageBytes),
      outbox: { control: new Outbox(this.config.maxQueuedBytes), bulk: new Outbox(this.config.maxQueuedBytes) },
      phase: 'connecting',
      localSdp: undefined,
      remoteSdp: undefined,
      nextMessageId: 0,
      setupTimer: undefined,
      drainTimer: undefined,
      watchdogTimer: undefined,
      lastHeardAtMs: 0,
      lastSentAtMs: 0,
      stopDrainEvents: undefined,
      rejectSent: false,
      lastError: undefined,
      lastErrorCode: undefined,
    };
    link.connection = connection;
    link.connectionsMade++;
    if (link.connectionsMade > 1) this.counters.reconnects++;
    this.table.setState(link, 'connecting');
    connection.setupTimer = this.scheduler.setTimer(this.config.connectTimeoutMs, () =>
      this.end(link, connection, 'timeout'),
    );
    peer.on('signal', (data: SimplePeer.SignalData) => this.onLocalSignal(link, connection, data));
    peer.on('connect', () => this.onChannelOpen(link, connection));
    peer.on('data', (data: unknown) => this.onFrame(link, connection, data));
    // simple-peer emits 'error' just before 'close'; without a listener it would be thrown.
    peer.on('error', (error: Error) => {
      connection.lastError = error.message;
    });
    peer.on('close', () => this.end(link, connection, 'closed'));
    if (offer !== undefined) this.signalPeer(link, connection, offer);
  }

  /**
   * Ends one connection. Unless it was replaced or the transport is closing, the link then
   * either waits to retry (peer still in the room) or closes for good.
   */
  end(link: LinkEntry, connection: Connection, reason: EndReason): void {
    if (connection.phase === 'ended') return;
    connection.phase = 'ended';
    connection.setupTimer?.cancel();
    connection.drainTimer?.cancel();
    connection.watchdogTimer?.cancel();
    connection.stopDrainEvents?.();
    connection.handshake.dispose();
    connection.reassembler.reset();
    this.counters.dropped['link-lost'] += connection.outbox.control.clear() + connection.outbox.bulk.clear();
    if (connection.rejectSent && !this.closed) {
      const peer = connection.peer;
      this.lingering.set(
        peer,
        this.scheduler.setTimer(this.config.rejectLingerMs, () => {
          this.lingering.delete(peer);
          peer.destroy();
        }),
      );
    } else {
      connection.peer.destroy();
    }
    if (link.connection !== connection) return;
    link.connection = undefined;
    link.lastSession = connection.session;
    link.lastError =
      reason === 'timeout' ? 'the connection did not open in time' : reason === 'silent' ? `nothing heard for ${this.config.silentReplaceMs} ms: replaced` : connection.lastError;
    link.lastErrorCode =
      reason === 'timeout' || reason === 'silent' ? 'network' : connection.lastErrorCode ?? (connection.lastError === undefined ? undefined : 'network');
    if (reason === 'silent') this.counters.silentReplacements++;
    if (reason === 'replaced' || reason === 'shutdown' || this.closed) return;
    if (!link.inRoom) {
      this.table.closeLink(link);
      return;
    }
    this.table.setState(link, 'failed');
    const blockedForMs = this.table.authBlockedForMs(link.peerId);
    if (blockedForMs > 0) {
      this.table.scheduleAttempt(link, blockedForMs);
    } else {
      this.table.scheduleAttempt(link, this.table.retryDelayMs(link.failedAttempts));
      link.failedAttempts++;
    }
  }

  // ---- Signaling ----

  private onLocalSignal(link: LinkEntry, connection: Connection, signal: SimplePeer.SignalData): void {
    if (connection.phase === 'ended' || this.closed) return;
    if ('sdp' in signal && typeof signal.sdp === 'string' && connection.localSdp === undefined) {
      connection.localSdp = signal.sdp;
    }
    const envelope: SignalEnvelope = { v: 1, kind: 'signal', session: connection.session, signal };
    this.signaler.send(link.peerId, envelope);
  }

  signalPeer(link: LinkEntry, connection: Connection, signal: SimplePeer.SignalData): void {
    if ('sdp' in signal && typeof signal.sdp === 'string' && connection.remoteSdp === undefined) {
      connection.remoteSdp = signal.sdp;
    }
    try {
      connection.peer.signal(signal);
    } catch (error) {
      // Signalling a destroyed peer throws; its 'close' is on the way.
      connection.lastError = errorMessage(error);
      this.end(link, connection, 'closed');
    }
  }

  // ---- The channel ----

  private onChannelOpen(link: LinkEntry, connection: Connection): void {
    if (connection.phase !== 'connecting') return;
    connection.phase = 'authenticating';
    this.table.setState(link, 'authenticating');
    this.feeder.watchDrain(link, connection);
    connection.handshake.start(dtlsFingerprints(connection.localSdp ?? ''), dtlsFingerprints(connection.remoteSdp ?? ''));
  }

  private sendHandshakeFrame(link: LinkEntry, connection: Connection, frame: ChannelFrame): void {
    if (connection.phase === 'ended') return;
    // A failed send needs no handling here: the channel's close event is on its way.
    if (this.feeder.putOnChannel(link, connection, encodeFrame(frame)) && frame.kind === 'reject') connection.rejectSent = true;
  }

  private onAuthenticated(link: LinkEntry, connection: Connection): void {
    if (connection.phase !== 'authenticating') return;
    connection.phase = 'open';
    connection.setupTimer?.cancel();
    connection.setupTimer = undefined;
    link.failedAttempts = 0;
    connection.lastHeardAtMs = this.scheduler.now();
    this.armWatchdog(link, connection, this.scheduler.now());
    this.table.setState(link, 'open');
  }

  /**
   * Every keepaliveIntervalMs on an open connection: send a keepalive if we have been quiet, and
   * replace the connection if the peer has been for silentReplaceMs. A tick that fires late means
   * this thread was held up and frames may be waiting unread behind it: no verdict on that tick.
   */
  private armWatchdog(link: LinkEntry, connection: Connection, dueAtMs: number): void {
    const interval = this.config.keepaliveIntervalMs;
    const nextDueMs = dueAtMs + interval;
    connection.watchdogTimer = this.scheduler.setTimer(Math.max(0, nextDueMs - this.scheduler.now()), () => {
      if (connection.phase !== 'open') return;
      const now = this.scheduler.now();
      const late = now - nextDueMs > interval / 2;
      if (!late && !this.options.isHeldThroughSilence(link.peerId) && now - connection.lastHeardAtMs >= this.config.silentReplaceMs) {
        this.end(link, connection, 'silent');
        return;
      }
      const { control, bulk } = connection.outbox;
      if (now - connection.lastSentAtMs >= interval && control.empty && !bulk.started) {
        this.feeder.putOnChannel(link, connection, KEEPALIVE_FRAME);
      }
      this.armWatchdog(link, connection, late ? now : nextDueMs);
    });
  }

  private onAuthFailed(link: LinkEntry, connection: Connection, error: PeerAuthError): void {
    if (connection.phase === 'ended') return;
    this.counters.authFailures++;
    connection.lastError = `authentication failed: ${error.message}`;
    connection.lastErrorCode = linkErrorCodeOf(error);
    this.table.blockAuth(link.peerId);
    this.options.onAuthFailed(link.peerId, error);
    this.end(link, connection, 'auth-failed');
  }

  private onFrame(link: LinkEntry, connection: Connection, data: unknown): void {
    if (connection.phase === 'ended') return;
    const bytes = data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : undefined;
    if (bytes === undefined) {
      this.counters.dropped.malformed++;
      return;
    }
    this.counters.bytesIn += bytes.length;
    link.bytesIn += bytes.length;
    connection.lastHeardAtMs = this.scheduler.now();
    let frame: ChannelFrame;
    try {
      frame = decodeFrame(bytes);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      this.onMalformed(connection, error);
      return;
    }
    if (frame.kind === 'keepalive') return; // Its arrival was the point.
    if (frame.kind !== 'chunk') {
      // Once open, a handshake frame is a stray the handshake no longer wants.
      if (connection.phase === 'open') this.counters.dropped.malformed++;
      else connection.handshake.receive(frame);
      return;
    }
    if (connection.phase !== 'open') {
      // A peer only sends data after our accept: this one skipped the handshake.
      connection.handshake.abort(new PeerAuthError('unexpected-frame', 'data before the handshake completed'));
      return;
    }
    let message: Uint8Array | undefined;
    try {
      message = connection.reassembler.accept(frame);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      this.counters.dropped.malformed++;
      return;
    }
    if (message === undefined) return;
    if (this.handler === undefined) {
      this.counters.dropped['no-handler']++;
      return;
    }
    this.counters.messagesIn++;
    try {
      this.handler(link.peerId, message);
    } catch (error) {
      // The handler's bug, not the peer's: thrown out of the channel's event it would surface as
      // an uncaught error and could leave this connection's state half-updated. Keep it visible.
      this.counters.dropped['handler-threw']++;
      link.lastError = `the message handler threw: ${errorMessage(error)}`;
      link.lastErrorCode = 'handler-threw';
    }
  }

  /** Garbage during the handshake fails it; garbage from an authenticated peer is dropped (best effort). */
  private onMalformed(connection: Connection, error: DecodeError): void {
    if (connection.phase === 'open') {
      this.counters.dropped.malformed++;
    } else {
      connection.handshake.abort(new PeerAuthError('unexpected-frame', error.message, { cause: error }));
    }
  }
}
