/**
 * The core's Transport over a WebRTC mesh: one simple-peer data channel per pair of peers in a
 * room, found and set up through a Signaler.
 *
 * What it adds to raw data channels:
 * - connection management: the peer with the smaller id always initiates, so two peers never
 *   offer to each other at once (no glare); the other side may only ask it to (re)connect. A
 *   failed RTCPeerConnection never recovers, so a connection that closes, fails or does not
 *   open in time is replaced by a new one, after an exponential backoff with jitter, for as long
 *   as the peer is in the room. So is an open one that has gone silent (see the watchdog below):
 *   after a network cut, SCTP retransmits on a backed-off timer (up to 3 s in Chrome) and ICE
 *   takes ~17 s to call the connection failed, while a fresh connection, already trying its ICE
 *   checks when the cut heals, opens within about a second of it;
 * - authentication (peer-auth.ts): nothing is delivered from, or sent to, a peer before it has
 *   proven knowledge of the room secret over its own channel;
 * - framing (framing.ts): messages are cut into 16 KiB frames and put back together;
 * - backpressure: bounded queues per connection that feed the channel only while its
 *   bufferedAmount is under a high-water mark;
 * - two lanes: 'control' messages (probes, heal steps) go ahead of queued 'bulk' ones (records),
 *   and bulk is only fed while the channel's buffer is short, so a probe never waits behind
 *   more than ~bulkHighWaterBytes of records. Frames of one message are never interleaved with
 *   another's (the receiver reassembles one message at a time), so lanes switch between messages.
 *
 * Contract (the Transport port's): best effort. A message to a peer without an open,
 * authenticated link is dropped; a message that does not fit the queue makes room by dropping
 * older ones. Every drop is counted in `stats()`.
 *
 *
 * Peer ids are the signaling peer ids, which the app makes equal to the node ids.
 *
 * This file is the facade the rest of the app imports: it follows room membership and the
 * signals relayed by the signaler, and decides which connections to make. The mechanisms live
 * beside it: link-table.ts (one entry per peer, retries, refused peers), connection-lifecycle.ts
 * (one connection's setup, handshake, delivery and watchdog), outbox.ts (lanes and
 * backpressure), signal-envelope.ts (what goes through the signaler), webrtc-config.ts (tunables,
 * stats and state names).
 */
import type { Lane, Random, Scheduler, Transport } from '../core/ports.js';
import type { NodeId } from '../core/types.js';
import { MESSAGE_ID_LIMIT, chunkMessage } from './framing.js';
import { ConnectionLifecycle } from './connection-lifecycle.js';
import { LinkTable, type LinkEntry } from './link-table.js';
import { deriveRoomKey, type PeerAuthError, type RoomKey } from './peer-auth.js';
import { newSessionId, parseEnvelope, type SignalEnvelope } from './signal-envelope.js';
import type { Signaler } from './signaler.js';
import {
  DEFAULT_WEBRTC_CONFIG,
  newTransportCounters,
  type LinkInfo,
  type LinkState,
  type SimplePeerConstructor,
  type TransportStats,
  type WebRtcImplementation,
  type WebRtcTransportConfig,
} from './webrtc-config.js';

// What callers imported from this file before the split still comes from here.
export { Outbox } from './outbox.js';
export { DEFAULT_WEBRTC_CONFIG, linkErrorCodeOf, type DropReason, type LinkErrorCode } from './webrtc-config.js';
export type { LinkInfo, LinkState, SimplePeerConstructor, TransportStats, WebRtcImplementation, WebRtcTransportConfig } from './webrtc-config.js';

export interface WebRtcTransportEvents {
  /** A link changed state. 'closed' is final: the peer left the room, or the transport was closed. */
  link: (peerId: string, state: LinkState) => void;
  /** A peer failed the room-secret handshake; it is left alone for authFailureBackoffMs. */
  'auth-failed': (peerId: string, error: PeerAuthError) => void;
}

export interface WebRtcTransportOptions {
  readonly signaler: Signaler;
  /** The room name: salts the key, so one secret gives different keys in different rooms. */
  readonly room: string;
  /** The room secret from the URL fragment; none (or empty) means the handshake proves nothing. */
  readonly secret?: string;
  /** simple-peer's constructor: `simple-peer` in Node, `simple-peer/simplepeer.min.js` in the browser. */
  readonly SimplePeer: SimplePeerConstructor;
  /** A WebRTC implementation for Node (@roamhq/wrtc); the browser's own is used when absent. */
  readonly wrtc?: WebRtcImplementation;
  /** STUN/TURN servers; none are needed between tabs of one host. */
  readonly iceServers?: RTCIceServer[];
  readonly config?: Partial<WebRtcTransportConfig>;
  readonly scheduler?: Scheduler;
  readonly random?: Random;
}

export class WebRtcTransport implements Transport {
  private readonly config: WebRtcTransportConfig;
  private readonly signaler: Signaler;
  private readonly scheduler: Scheduler;
  /** Peers that said they are suspended (frozen tabs): their silence is sleep, their link is kept for their wake-up. */
  private readonly sleepingPeers = new Set<string>();
  private readonly random: Random;
  private readonly key: Promise<RoomKey>;
  private readonly table: LinkTable;
  private readonly connections: ConnectionLifecycle;
  private readonly unsubscribe: (() => void)[];
  private readonly listeners: { [K in keyof WebRtcTransportEvents]: Set<WebRtcTransportEvents[K]> } = {
    link: new Set(),
    'auth-failed': new Set(),
  };
  private handler: ((from: NodeId, bytes: Uint8Array) => void) | undefined;
  private closed = false;
  private readonly counters = newTransportCounters();

  constructor(private readonly options: WebRtcTransportOptions) {
    this.config = { ...DEFAULT_WEBRTC_CONFIG, ...options.config };
    if (this.config.lowWaterBytes > this.config.bulkHighWaterBytes || this.config.bulkHighWaterBytes > this.config.highWaterBytes) {
      throw new RangeError('lowWaterBytes <= bulkHighWaterBytes <= highWaterBytes must hold');
    }
    this.signaler = options.signaler;
    this.scheduler = options.scheduler ?? realTimeScheduler;
    this.random = options.random ?? mathRandom;
    this.key = deriveRoomKey(options.room, options.secret === '' ? undefined : options.secret);
    // A failed derivation surfaces in every handshake as 'crypto-failed'; this only marks it handled.
    this.key.catch(() => undefined);
    this.table = new LinkTable({
      config: this.config,
      scheduler: this.scheduler,
      random: this.random,
      selfId: () => this.selfId,
      onState: (peerId, state) => this.emitLink(peerId, state),
      onRetryDue: (link) => this.attempt(link),
    });
    this.connections = new ConnectionLifecycle({
      config: this.config,
      scheduler: this.scheduler,
      counters: this.counters,
      key: this.key,
      signaler: this.signaler,
      table: this.table,
      SimplePeer: options.SimplePeer,
      ...(options.wrtc === undefined ? {} : { wrtc: options.wrtc }),
      ...(options.iceServers === undefined ? {} : { iceServers: options.iceServers }),
      isClosed: () => this.closed,
      handler: () => this.handler,
      onAuthFailed: (peerId, error) => {
        for (const listener of [...this.listeners['auth-failed']]) listener(peerId, error);
      },
      isHeldThroughSilence: (peerId) => this.sleepingPeers.has(peerId),
    });
    this.unsubscribe = [
      this.signaler.on('peers', (peerIds) => this.onPeerList(peerIds)),
      this.signaler.on('peer-joined', (peerId) => this.onPeerPresent(peerId)),
      this.signaler.on('peer-left', (peerId) => this.onPeerLeft(peerId)),
      this.signaler.on('signal', (from, data) => this.onRemoteSignal(from, data)),
    ];
  }

  get selfId(): string {
    return this.signaler.selfId;
  }

  // ---- Transport port ----

  send(to: NodeId, bytes: Uint8Array, lane: Lane = 'control'): void {
    const link = this.table.get(to);
    const connection = link?.connection;
    if (link === undefined || connection === undefined || connection.phase !== 'open') {
      this.counters.dropped['no-link']++;
      return;
    }
    if (bytes.length > this.config.maxMessageBytes) {
      this.counters.dropped['too-large']++;
      return;
    }
    const frames = chunkMessage(connection.nextMessageId, bytes);
    connection.nextMessageId = (connection.nextMessageId + 1) % MESSAGE_ID_LIMIT;
    this.counters.dropped['queue-full'] += connection.outbox[lane].push(frames);
    this.connections.feeder.pump(link, connection);
  }

  onMessage(handler: (from: NodeId, bytes: Uint8Array) => void): void {
    this.handler = handler;
  }

  // ---- For the UI ----

  on<K extends keyof WebRtcTransportEvents>(event: K, listener: WebRtcTransportEvents[K]): () => void {
    const set = this.listeners[event] as Set<WebRtcTransportEvents[K]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Keeps (or stops keeping) an open connection to `peer` through its silence: a frozen tab
   * answers nothing, and replacing its link after silentReplaceMs would make it reconnect
   * through signaling when it wakes instead of carrying on at once.
   */
  holdSilentPeer(peer: string, hold: boolean): void {
    if (hold) this.sleepingPeers.add(peer);
    else this.sleepingPeers.delete(peer);
  }

  links(): LinkInfo[] {
    return this.table.infos();
  }

  stats(): TransportStats {
    return { ...this.counters, dropped: { ...this.counters.dropped } };
  }

  /** Ends every connection and stops listening to the signaler (which the caller owns and closes). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.unsubscribe) stop();
    for (const link of this.table.all()) {
      if (link.connection !== undefined) this.connections.end(link, link.connection, 'shutdown');
      this.table.closeLink(link);
    }
    this.connections.closeLingering();
  }

  // ---- Room membership (from the signaler) ----

  private onPeerList(peerIds: readonly string[]): void {
    const present = new Set(peerIds);
    for (const link of this.table.all()) {
      if (!present.has(link.peerId)) this.onPeerLeft(link.peerId);
    }
    for (const peerId of peerIds) this.onPeerPresent(peerId);
  }

  private onPeerPresent(peerId: string): void {
    if (this.closed || peerId === this.selfId) return;
    const link = this.table.linkFor(peerId);
    link.inRoom = true;
    if (link.connection !== undefined) return;
    // Fresh news of the peer: whatever backoff was running, try now.
    this.table.cancelRetry(link);
    if (link.weInitiate) {
      this.attempt(link);
    } else {
      // The initiator has heard the same news and will offer; ask only if it does not.
      this.table.setState(link, 'connecting');
      this.table.scheduleAttempt(link, this.table.retryDelayMs(0));
    }
  }

  /**
   * The peer left the signaling room: stop trying to reach it. An open link is left alone — the
   * data channel does not depend on the signaling server — and is not replaced when it ends.
   */
  private onPeerLeft(peerId: string): void {
    const link = this.table.get(peerId);
    if (link === undefined) return;
    link.inRoom = false;
    const connection = link.connection;
    if (connection !== undefined && connection.phase !== 'open') this.connections.end(link, connection, 'left');
    if (link.connection === undefined) this.table.closeLink(link);
  }

  // ---- Connection attempts ----

  private attempt(link: LinkEntry): void {
    this.table.cancelRetry(link);
    if (this.closed || !link.inRoom || link.connection !== undefined) return;
    const blockedForMs = this.table.authBlockedForMs(link.peerId);
    if (blockedForMs > 0) {
      this.table.scheduleAttempt(link, blockedForMs);
      return;
    }
    if (link.weInitiate) {
      this.connections.open(link, newSessionId(this.random), undefined);
      return;
    }
    const request: SignalEnvelope =
      link.lastSession === undefined ? { v: 1, kind: 'connect-request' } : { v: 1, kind: 'connect-request', session: link.lastSession };
    this.signaler.send(link.peerId, request);
    this.table.setState(link, 'connecting');
    this.table.scheduleAttempt(link, this.table.retryDelayMs(link.failedAttempts));
    link.failedAttempts++;
  }

  // ---- Signals from other transports ----

  private onRemoteSignal(from: string, data: unknown): void {
    if (this.closed || from === this.selfId) return;
    const envelope = parseEnvelope(data);
    // A peer that failed authentication is not answered until its block expires.
    if (envelope === undefined || this.table.authBlockedForMs(from) > 0) return;
    if (envelope.kind === 'connect-request') {
      this.onConnectRequest(from, envelope.session);
      return;
    }
    const link = this.table.get(from);
    const connection = link?.connection;
    const theyInitiate = from < this.selfId;
    if (link !== undefined && connection !== undefined && connection.session === envelope.session) {
      // Offers go from the initiator, answers to it, and each connection is negotiated once.
      const type = envelope.signal.type;
      if (type === 'offer' || (type === 'answer' && theyInitiate)) return;
      this.connections.signalPeer(link, connection, envelope.signal);
      return;
    }
    // Only an offer starts a connection, and only the initiator (smaller id) makes offers.
    if (envelope.signal.type !== 'offer' || !theyInitiate) return;
    const answering = this.table.linkFor(from);
    // Signals are relayed only within the room, so an offer proves the peer is in it.
    answering.inRoom = true;
    if (answering.connection !== undefined) this.connections.end(answering, answering.connection, 'replaced');
    this.connections.open(answering, envelope.session, envelope.signal);
  }

  /** The non-initiator asks us for a connection. Ignored while a connection other than the one it gave up on exists. */
  private onConnectRequest(from: string, deadSession: string | undefined): void {
    if (!(this.selfId < from)) return;
    const link = this.table.linkFor(from);
    link.inRoom = true;
    const connection = link.connection;
    if (connection !== undefined) {
      if (connection.session !== deadSession) return;
      this.connections.end(link, connection, 'replaced');
    }
    this.attempt(link);
  }

  private emitLink(peerId: string, state: LinkState): void {
    for (const listener of [...this.listeners.link]) listener(peerId, state);
  }
}

const realTimeScheduler: Scheduler = {
  now: () => performance.now(),
  setTimer(delayMs, fn) {
    const id = setTimeout(fn, delayMs);
    return { cancel: () => clearTimeout(id) };
  },
};

const mathRandom: Random = {
  next: () => Math.random(),
  int: (maxExclusive) => Math.floor(Math.random() * maxExclusive),
};
