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
 * Peer ids are the signaling peer ids, which the app makes equal to the node ids.
 */
import type SimplePeer from 'simple-peer';
import { DecodeError } from '../core/errors.js';
import type { Lane, Random, Scheduler, TimerHandle, Transport } from '../core/ports.js';
import type { NodeId } from '../core/types.js';
import { MESSAGE_ID_LIMIT, Reassembler, chunkMessage, decodeFrame, encodeFrame, type ChannelFrame } from './framing.js';
import { PeerAuthError, PeerHandshake, deriveRoomKey, dtlsFingerprints, type RoomKey } from './peer-auth.js';
import type { Signaler } from './signaler.js';

const KEEPALIVE_FRAME = encodeFrame({ kind: 'keepalive' });

export type SimplePeerConstructor = new (options?: SimplePeer.Options) => SimplePeer.Instance;
export type WebRtcImplementation = NonNullable<SimplePeer.Options['wrtc']>;

export type LinkState = 'connecting' | 'authenticating' | 'open' | 'failed' | 'closed';

export interface WebRtcTransportConfig {
  /** A connection that is not open and authenticated after this long is replaced. */
  connectTimeoutMs: number;
  /** First retry delay after a failed connection; doubles per failure, with jitter. */
  retryBaseMs: number;
  /** Ceiling of the retry delay. */
  retryMaxMs: number;
  /** After a failed authentication the peer is not tried again (nor answered) for this long. */
  authFailureBackoffMs: number;
  /** Largest message accepted by send() or reassembled from a peer. */
  maxMessageBytes: number;
  /** Bytes of unsent frames a connection may hold before older messages are dropped. */
  maxQueuedBytes: number;
  /** Stop handing frames to the channel while its bufferedAmount is at or above this. */
  highWaterBytes: number;
  /** Bulk messages are only started while bufferedAmount is under this. */
  bulkHighWaterBytes: number;
  /** Resume once bufferedAmount has fallen to this (the channel's bufferedAmountLowThreshold). */
  lowWaterBytes: number;
  /** Where the channel has no 'bufferedamountlow' event (node's wrtc), bufferedAmount is polled this often. */
  drainPollMs: number;
  /** After refusing a peer, its connection stays up this long so our reject frame reaches it before the close. */
  rejectLingerMs: number;
  /** An open channel we have sent nothing on for this long gets a keepalive frame; also the watchdog's period. */
  keepaliveIntervalMs: number;
  /** An open connection we have heard nothing on for this long is replaced. */
  silentReplaceMs: number;
}

export const DEFAULT_WEBRTC_CONFIG: Readonly<WebRtcTransportConfig> = Object.freeze({
  connectTimeoutMs: 15_000, // LAN setup takes < 1 s and TURN a few; 15 s is well past either.
  retryBaseMs: 500, // Both ends see a dead channel within ms; half a second lets the initiator move first.
  retryMaxMs: 30_000, // A peer behind a broken NAT is retried twice a minute, not hammered.
  authFailureBackoffMs: 60_000, // A wrong secret will not fix itself; retrying each minute costs little.
  maxMessageBytes: 16 * 1024 * 1024, // Far above any core message (~40 KB) yet bounds reassembly memory.
  maxQueuedBytes: 16 * 1024 * 1024, // One maximal message fits; beyond that the peer is not keeping up.
  highWaterBytes: 1024 * 1024, // Chrome closes a channel whose buffer passes 16 MiB; 1 MiB keeps a LAN busy.
  bulkHighWaterBytes: 256 * 1024, // A probe queued behind this much waits ~20 ms at 100 Mbit/s, well under its 80 ms timeout.
  lowWaterBytes: 128 * 1024, // Refill bulk while half of its window is still in flight: no idle gaps.
  drainPollMs: 10, // Only node's wrtc polls; 10 ms keeps a 1 MiB window moving at LAN speed.
  rejectLingerMs: 1_000, // Many round trips even over TURN; the refused peer closes first anyway.
  keepaliveIntervalMs: 500, // Five silent intervals before replacement: one lost or late keepalive is no reason.
  silentReplaceMs: 2_500, // Past SWIM's detection (~1 s) and a busy tab's stalls (~1 s seen under load), well before ICE's ~17 s.
});

export type DropReason =
  /** send() to a peer without an open, authenticated link. */
  | 'no-link'
  /** send() of a message above maxMessageBytes. */
  | 'too-large'
  /** A queued message pushed out by newer ones (see Outbox). */
  | 'queue-full'
  /** Queued messages of a connection that ended before they were sent. */
  | 'link-lost'
  /** An inbound frame or message that could not be decoded or reassembled. */
  | 'malformed'
  /** An inbound message that arrived before onMessage registered a handler. */
  | 'no-handler'
  /** An inbound message whose handler threw: counted, and the connection carries on. */
  | 'handler-threw';

export interface TransportStats {
  /** Data-channel bytes, framing and handshake included. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly messagesIn: number;
  /** Messages wholly handed to a channel. */
  readonly messagesOut: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** Connections made to a peer after the first one. */
  readonly reconnects: number;
  readonly authFailures: number;
  /** Open connections replaced because the peer went silent (see the watchdog). */
  readonly silentReplacements: number;
}

export interface LinkInfo {
  readonly peerId: string;
  readonly state: LinkState;
  readonly reconnects: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Why the last connection to this peer ended, when it ended on an error. */
  readonly lastError: string | undefined;
  /** The kind of that error, for a UI that says what to do about it. */
  readonly lastErrorCode: LinkErrorCode | undefined;
}

export type LinkErrorCode =
  /**
   * The peer's proof did not check out, or it refused ours: the two hold different room secrets
   * (or one has none), or someone in the middle substituted the DTLS certificates.
   */
  | 'wrong-secret'
  /** The handshake broke for another reason: frames out of order, an SDP without fingerprint, the crypto failed. */
  | 'auth-failed'
  /** The connection did not open in time, went silent, or its channel failed. */
  | 'network'
  /** This environment cannot make a WebRTC connection at all. */
  | 'no-webrtc'
  /** Our own message handler threw on a message from this peer. */
  | 'handler-threw';

/** What a failed handshake means to the person looking at the link. */
export function linkErrorCodeOf(error: PeerAuthError): LinkErrorCode {
  return error.code === 'bad-proof' || error.code === 'rejected' ? 'wrong-secret' : 'auth-failed';
}

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

/** What travels through the signaler: simple-peer's signals tagged with their connection. */
type SignalEnvelope =
  /** `session` names one connection attempt, so late candidates of a replaced connection are ignored. */
  | { readonly v: 1; readonly kind: 'signal'; readonly session: string; readonly signal: SimplePeer.SignalData }
  /** From the non-initiator: "please (re)connect"; `session` is the connection it has given up on. */
  | { readonly v: 1; readonly kind: 'connect-request'; readonly session?: string };

const MAX_SESSION_ID_LENGTH = 64;

type ConnectionPhase = 'connecting' | 'authenticating' | 'open' | 'ended';
type EndReason = 'closed' | 'timeout' | 'auth-failed' | 'replaced' | 'left' | 'shutdown' | 'silent';

/** The part of RTCDataChannel used for drain events (simple-peer keeps it in `_channel`). */
interface DrainableChannel {
  bufferedAmountLowThreshold?: unknown;
  addEventListener?: (type: 'bufferedamountlow', listener: () => void) => void;
  removeEventListener?: (type: 'bufferedamountlow', listener: () => void) => void;
}

interface Connection {
  readonly session: string;
  readonly peer: SimplePeer.Instance;
  readonly handshake: PeerHandshake;
  readonly reassembler: Reassembler;
  /** Unsent frames, by lane. */
  readonly outbox: { readonly control: Outbox; readonly bulk: Outbox };
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

interface PeerLink {
  readonly peerId: string;
  /** We make the offers to this peer (our id is the smaller). */
  readonly weInitiate: boolean;
  inRoom: boolean;
  state: LinkState;
  connection: Connection | undefined;
  /** The last connection that ended: a connect-request names it. */
  lastSession: string | undefined;
  failedAttempts: number;
  retryTimer: TimerHandle | undefined;
  connectionsMade: number;
  bytesIn: number;
  bytesOut: number;
  lastError: string | undefined;
  lastErrorCode: LinkErrorCode | undefined;
}

export class WebRtcTransport implements Transport {
  private readonly config: WebRtcTransportConfig;
  private readonly signaler: Signaler;
  private readonly scheduler: Scheduler;
  /** Peers that said they are suspended (frozen tabs): their silence is sleep, their link is kept for their wake-up. */
  private readonly sleepingPeers = new Set<string>();
  private readonly random: Random;
  private readonly key: Promise<RoomKey>;
  private readonly peerLinks = new Map<string, PeerLink>();
  /** Peers that failed authentication, with the time until which they are ignored. */
  private readonly authBlockedUntilMs = new Map<string, number>();
  /** Ended connections kept open for rejectLingerMs so a reject frame can reach the peer. */
  private readonly lingering = new Map<SimplePeer.Instance, TimerHandle>();
  private readonly unsubscribe: (() => void)[];
  private readonly listeners: { [K in keyof WebRtcTransportEvents]: Set<WebRtcTransportEvents[K]> } = {
    link: new Set(),
    'auth-failed': new Set(),
  };
  private handler: ((from: NodeId, bytes: Uint8Array) => void) | undefined;
  private closed = false;
  private counters = {
    bytesIn: 0,
    bytesOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    reconnects: 0,
    authFailures: 0,
    silentReplacements: 0,
    dropped: { 'no-link': 0, 'too-large': 0, 'queue-full': 0, 'link-lost': 0, malformed: 0, 'no-handler': 0, 'handler-threw': 0 },
  };

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
    const link = this.peerLinks.get(to);
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
    this.pump(link, connection);
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
    return [...this.peerLinks.values()].map((link) => ({
      peerId: link.peerId,
      state: link.state,
      reconnects: Math.max(0, link.connectionsMade - 1),
      bytesIn: link.bytesIn,
      bytesOut: link.bytesOut,
      lastError: link.lastError,
      lastErrorCode: link.lastErrorCode,
    }));
  }

  stats(): TransportStats {
    return { ...this.counters, dropped: { ...this.counters.dropped } };
  }

  /** Ends every connection and stops listening to the signaler (which the caller owns and closes). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.unsubscribe) stop();
    for (const link of [...this.peerLinks.values()]) {
      if (link.connection !== undefined) this.endConnection(link, link.connection, 'shutdown');
      this.closeLink(link);
    }
    for (const [peer, timer] of this.lingering) {
      timer.cancel();
      peer.destroy();
    }
    this.lingering.clear();
  }

  // ---- Room membership (from the signaler) ----

  private onPeerList(peerIds: readonly string[]): void {
    const present = new Set(peerIds);
    for (const link of [...this.peerLinks.values()]) {
      if (!present.has(link.peerId)) this.onPeerLeft(link.peerId);
    }
    for (const peerId of peerIds) this.onPeerPresent(peerId);
  }

  private onPeerPresent(peerId: string): void {
    if (this.closed || peerId === this.selfId) return;
    const link = this.linkFor(peerId);
    link.inRoom = true;
    if (link.connection !== undefined) return;
    // Fresh news of the peer: whatever backoff was running, try now.
    this.cancelRetry(link);
    if (link.weInitiate) {
      this.attempt(link);
    } else {
      // The initiator has heard the same news and will offer; ask only if it does not.
      this.setState(link, 'connecting');
      this.scheduleAttempt(link, this.retryDelayMs(0));
    }
  }

  /**
   * The peer left the signaling room: stop trying to reach it. An open link is left alone — the
   * data channel does not depend on the signaling server — and is not replaced when it ends.
   */
  private onPeerLeft(peerId: string): void {
    const link = this.peerLinks.get(peerId);
    if (link === undefined) return;
    link.inRoom = false;
    const connection = link.connection;
    if (connection !== undefined && connection.phase !== 'open') this.endConnection(link, connection, 'left');
    if (link.connection === undefined) this.closeLink(link);
  }

  // ---- Connection attempts ----

  private attempt(link: PeerLink): void {
    this.cancelRetry(link);
    if (this.closed || !link.inRoom || link.connection !== undefined) return;
    const blockedForMs = this.authBlockedForMs(link.peerId);
    if (blockedForMs > 0) {
      this.scheduleAttempt(link, blockedForMs);
      return;
    }
    if (link.weInitiate) {
      this.openConnection(link, this.newSessionId(), undefined);
      return;
    }
    const request: SignalEnvelope =
      link.lastSession === undefined ? { v: 1, kind: 'connect-request' } : { v: 1, kind: 'connect-request', session: link.lastSession };
    this.signaler.send(link.peerId, request);
    this.setState(link, 'connecting');
    this.scheduleAttempt(link, this.retryDelayMs(link.failedAttempts));
    link.failedAttempts++;
  }

  private scheduleAttempt(link: PeerLink, delayMs: number): void {
    this.cancelRetry(link);
    link.retryTimer = this.scheduler.setTimer(delayMs, () => this.attempt(link));
  }

  private cancelRetry(link: PeerLink): void {
    link.retryTimer?.cancel();
    link.retryTimer = undefined;
  }

  /** Exponential backoff with "equal jitter": half fixed, half random, so peers that failed together spread out. */
  private retryDelayMs(failures: number): number {
    const ceilingMs = Math.min(this.config.retryMaxMs, this.config.retryBaseMs * 2 ** Math.min(failures, 30));
    return ceilingMs / 2 + this.random.next() * (ceilingMs / 2);
  }

  private openConnection(link: PeerLink, session: string, offer: SimplePeer.SignalData | undefined): void {
    this.cancelRetry(link);
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
      this.setState(link, 'failed');
      this.scheduleAttempt(link, this.retryDelayMs(link.failedAttempts));
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
    this.setState(link, 'connecting');
    connection.setupTimer = this.scheduler.setTimer(this.config.connectTimeoutMs, () =>
      this.endConnection(link, connection, 'timeout'),
    );
    peer.on('signal', (data: SimplePeer.SignalData) => this.onLocalSignal(link, connection, data));
    peer.on('connect', () => this.onChannelOpen(link, connection));
    peer.on('data', (data: unknown) => this.onFrame(link, connection, data));
    // simple-peer emits 'error' just before 'close'; without a listener it would be thrown.
    peer.on('error', (error: Error) => {
      connection.lastError = error.message;
    });
    peer.on('close', () => this.endConnection(link, connection, 'closed'));
    if (offer !== undefined) this.signalPeer(link, connection, offer);
  }

  /**
   * Ends one connection. Unless it was replaced or the transport is closing, the link then
   * either waits to retry (peer still in the room) or closes for good.
   */
  private endConnection(link: PeerLink, connection: Connection, reason: EndReason): void {
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
      this.closeLink(link);
      return;
    }
    this.setState(link, 'failed');
    const blockedForMs = this.authBlockedForMs(link.peerId);
    if (blockedForMs > 0) {
      this.scheduleAttempt(link, blockedForMs);
    } else {
      this.scheduleAttempt(link, this.retryDelayMs(link.failedAttempts));
      link.failedAttempts++;
    }
  }

  private closeLink(link: PeerLink): void {
    this.cancelRetry(link);
    this.setState(link, 'closed');
    this.peerLinks.delete(link.peerId);
  }

  // ---- Signaling ----

  private onLocalSignal(link: PeerLink, connection: Connection, signal: SimplePeer.SignalData): void {
    if (connection.phase === 'ended' || this.closed) return;
    if ('sdp' in signal && typeof signal.sdp === 'string' && connection.localSdp === undefined) {
      connection.localSdp = signal.sdp;
    }
    const envelope: SignalEnvelope = { v: 1, kind: 'signal', session: connection.session, signal };
    this.signaler.send(link.peerId, envelope);
  }

  private onRemoteSignal(from: string, data: unknown): void {
    if (this.closed || from === this.selfId) return;
    const envelope = parseEnvelope(data);
    // A peer that failed authentication is not answered until its block expires.
    if (envelope === undefined || this.authBlockedForMs(from) > 0) return;
    if (envelope.kind === 'connect-request') {
      this.onConnectRequest(from, envelope.session);
      return;
    }
    const link = this.peerLinks.get(from);
    const connection = link?.connection;
    const theyInitiate = from < this.selfId;
    if (link !== undefined && connection !== undefined && connection.session === envelope.session) {
      // Offers go from the initiator, answers to it, and each connection is negotiated once.
      const type = envelope.signal.type;
      if (type === 'offer' || (type === 'answer' && theyInitiate)) return;
      this.signalPeer(link, connection, envelope.signal);
      return;
    }
    // Only an offer starts a connection, and only the initiator (smaller id) makes offers.
    if (envelope.signal.type !== 'offer' || !theyInitiate) return;
    const answering = this.linkFor(from);
    // Signals are relayed only within the room, so an offer proves the peer is in it.
    answering.inRoom = true;
    if (answering.connection !== undefined) this.endConnection(answering, answering.connection, 'replaced');
    this.openConnection(answering, envelope.session, envelope.signal);
  }

  /** The non-initiator asks us for a connection. Ignored while a connection other than the one it gave up on exists. */
  private onConnectRequest(from: string, deadSession: string | undefined): void {
    if (!(this.selfId < from)) return;
    const link = this.linkFor(from);
    link.inRoom = true;
    const connection = link.connection;
    if (connection !== undefined) {
      if (connection.session !== deadSession) return;
      this.endConnection(link, connection, 'replaced');
    }
    this.attempt(link);
  }

  private signalPeer(link: PeerLink, connection: Connection, signal: SimplePeer.SignalData): void {
    if ('sdp' in signal && typeof signal.sdp === 'string' && connection.remoteSdp === undefined) {
      connection.remoteSdp = signal.sdp;
    }
    try {
      connection.peer.signal(signal);
    } catch (error) {
      // Signalling a destroyed peer throws; its 'close' is on the way.
      connection.lastError = errorMessage(error);
      this.endConnection(link, connection, 'closed');
    }
  }

  // ---- The channel ----

  private onChannelOpen(link: PeerLink, connection: Connection): void {
    if (connection.phase !== 'connecting') return;
    connection.phase = 'authenticating';
    this.setState(link, 'authenticating');
    this.watchDrain(link, connection);
    connection.handshake.start(dtlsFingerprints(connection.localSdp ?? ''), dtlsFingerprints(connection.remoteSdp ?? ''));
  }

  private sendHandshakeFrame(link: PeerLink, connection: Connection, frame: ChannelFrame): void {
    if (connection.phase === 'ended') return;
    // A failed send needs no handling here: the channel's close event is on its way.
    if (this.putOnChannel(link, connection, encodeFrame(frame)) && frame.kind === 'reject') connection.rejectSent = true;
  }

  private onAuthenticated(link: PeerLink, connection: Connection): void {
    if (connection.phase !== 'authenticating') return;
    connection.phase = 'open';
    connection.setupTimer?.cancel();
    connection.setupTimer = undefined;
    link.failedAttempts = 0;
    connection.lastHeardAtMs = this.scheduler.now();
    this.armWatchdog(link, connection, this.scheduler.now());
    this.setState(link, 'open');
  }

  /**
   * Every keepaliveIntervalMs on an open connection: send a keepalive if we have been quiet, and
   * replace the connection if the peer has been for silentReplaceMs. A tick that fires late means
   * this thread was held up and frames may be waiting unread behind it: no verdict on that tick.
   */
  private armWatchdog(link: PeerLink, connection: Connection, dueAtMs: number): void {
    const interval = this.config.keepaliveIntervalMs;
    const nextDueMs = dueAtMs + interval;
    connection.watchdogTimer = this.scheduler.setTimer(Math.max(0, nextDueMs - this.scheduler.now()), () => {
      if (connection.phase !== 'open') return;
      const now = this.scheduler.now();
      const late = now - nextDueMs > interval / 2;
      if (!late && !this.sleepingPeers.has(link.peerId) && now - connection.lastHeardAtMs >= this.config.silentReplaceMs) {
        this.endConnection(link, connection, 'silent');
        return;
      }
      const { control, bulk } = connection.outbox;
      if (now - connection.lastSentAtMs >= interval && control.empty && !bulk.started) {
        this.putOnChannel(link, connection, KEEPALIVE_FRAME);
      }
      this.armWatchdog(link, connection, late ? now : nextDueMs);
    });
  }

  private onAuthFailed(link: PeerLink, connection: Connection, error: PeerAuthError): void {
    if (connection.phase === 'ended') return;
    this.counters.authFailures++;
    connection.lastError = `authentication failed: ${error.message}`;
    connection.lastErrorCode = linkErrorCodeOf(error);
    this.authBlockedUntilMs.set(link.peerId, this.scheduler.now() + this.config.authFailureBackoffMs);
    for (const listener of [...this.listeners['auth-failed']]) listener(link.peerId, error);
    this.endConnection(link, connection, 'auth-failed');
  }

  private onFrame(link: PeerLink, connection: Connection, data: unknown): void {
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

  // ---- Backpressure ----

  /**
   * Feeds queued frames to the channel while its buffer is under the high-water mark: first the
   * rest of a message already started, then control messages, then bulk ones while the buffer
   * is under the bulk mark.
   */
  private pump(link: PeerLink, connection: Connection): void {
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
        this.endConnection(link, connection, 'closed');
        return;
      }
      if (endsMessage) this.counters.messagesOut++;
    }
  }

  private putOnChannel(link: PeerLink, connection: Connection, frame: Uint8Array): boolean {
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
  private watchDrain(link: PeerLink, connection: Connection): void {
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

  private awaitDrain(link: PeerLink, connection: Connection): void {
    if (connection.stopDrainEvents !== undefined || connection.drainTimer !== undefined) return;
    connection.drainTimer = this.scheduler.setTimer(this.config.drainPollMs, () => {
      connection.drainTimer = undefined;
      this.pump(link, connection);
    });
  }

  // ---- Helpers ----

  private linkFor(peerId: string): PeerLink {
    let link = this.peerLinks.get(peerId);
    if (link === undefined) {
      link = {
        peerId,
        weInitiate: this.selfId < peerId,
        inRoom: false,
        state: 'connecting',
        connection: undefined,
        lastSession: undefined,
        failedAttempts: 0,
        retryTimer: undefined,
        connectionsMade: 0,
        bytesIn: 0,
        bytesOut: 0,
        lastError: undefined,
        lastErrorCode: undefined,
      };
      this.peerLinks.set(peerId, link);
      this.emitLink(peerId, 'connecting');
    }
    return link;
  }

  private setState(link: PeerLink, state: LinkState): void {
    if (link.state === state) return;
    link.state = state;
    this.emitLink(link.peerId, state);
  }

  private emitLink(peerId: string, state: LinkState): void {
    for (const listener of [...this.listeners.link]) listener(peerId, state);
  }

  private authBlockedForMs(peerId: string): number {
    const until = this.authBlockedUntilMs.get(peerId);
    if (until === undefined) return 0;
    const remainingMs = until - this.scheduler.now();
    if (remainingMs <= 0) this.authBlockedUntilMs.delete(peerId);
    return Math.max(0, remainingMs);
  }

  private newSessionId(): string {
    return `${this.random.int(2 ** 30).toString(36)}${this.random.int(2 ** 30).toString(36)}`;
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

/** Validates what the signaling server relayed: it is untrusted input. */
function parseEnvelope(data: unknown): SignalEnvelope | undefined {
  if (!isRecord(data) || data.v !== 1) return undefined;
  if (data.kind === 'connect-request') {
    if (data.session === undefined) return { v: 1, kind: 'connect-request' };
    return isSessionId(data.session) ? { v: 1, kind: 'connect-request', session: data.session } : undefined;
  }
  if (data.kind !== 'signal' || !isSessionId(data.session) || !isRecord(data.signal)) return undefined;
  const signal = data.signal;
  if ((signal.type === 'offer' || signal.type === 'answer') && typeof signal.sdp === 'string') {
    return { v: 1, kind: 'signal', session: data.session, signal: { type: signal.type, sdp: signal.sdp } };
  }
  if (signal.type === 'candidate' && isRecord(signal.candidate) && typeof signal.candidate.candidate === 'string') {
    const { candidate, sdpMLineIndex, sdpMid } = signal.candidate;
    const init: RTCIceCandidateInit = {
      candidate,
      ...(typeof sdpMLineIndex === 'number' ? { sdpMLineIndex } : {}),
      ...(typeof sdpMid === 'string' ? { sdpMid } : {}),
    };
    // @types/simple-peer says RTCIceCandidate, but simple-peer emits and accepts the plain init object.
    return { v: 1, kind: 'signal', session: data.session, signal: { type: 'candidate', candidate: init as RTCIceCandidate } };
  }
  // Renegotiation and transceiver requests are for media, which this transport never carries.
  return undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_SESSION_ID_LENGTH;
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
