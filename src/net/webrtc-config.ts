/**
 * The WebRTC transport's tunables, the figures it reports, and the names of link states and
 * errors: the vocabulary that every part of the transport (webrtc-transport.ts, link-table.ts,
 * connection-lifecycle.ts, outbox.ts) and its callers share. Leans on peer-auth.ts only, for the
 * error a failed handshake carries.
 */
import type SimplePeer from 'simple-peer';
import type { PeerAuthError } from './peer-auth.js';

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

/** The live, mutable form of TransportStats that the transport's parts count into. */
export interface TransportCounters {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  reconnects: number;
  authFailures: number;
  silentReplacements: number;
  dropped: Record<DropReason, number>;
}

export function newTransportCounters(): TransportCounters {
  return {
    bytesIn: 0,
    bytesOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    reconnects: 0,
    authFailures: 0,
    silentReplacements: 0,
    dropped: { 'no-link': 0, 'too-large': 0, 'queue-full': 0, 'link-lost': 0, malformed: 0, 'no-handler': 0, 'handler-threw': 0 },
  };
}

/** For lastError: whatever a failed call threw, as text a person can read. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
