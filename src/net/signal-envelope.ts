/**
 * Signal envelopes: what one transport says to another through the signaling server, which is
 * untrusted input. Pure: validates envelopes and names sessions; webrtc-transport.ts and
 * connection-lifecycle.ts send them, and lean on parseEnvelope for everything they receive.
 */
import type SimplePeer from 'simple-peer';
import type { Random } from '../core/ports.js';

/** What travels through the signaler: simple-peer's signals tagged with their connection. */
export type SignalEnvelope =
  /** `session` names one connection attempt, so late candidates of a replaced connection are ignored. */
  | { readonly v: 1; readonly kind: 'signal'; readonly session: string; readonly signal: SimplePeer.SignalData }
  /** From the non-initiator: "please (re)connect"; `session` is the connection it has given up on. */
  | { readonly v: 1; readonly kind: 'connect-request'; readonly session?: string };

const MAX_SESSION_ID_LENGTH = 64;

/** Validates what the signaling server relayed: it is untrusted input. */
export function parseEnvelope(data: unknown): SignalEnvelope | undefined {
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

/** Names one connection attempt: random enough that two attempts to one peer never share it. */
export function newSessionId(random: Random): string {
  return `${random.int(2 ** 30).toString(36)}${random.int(2 ** 30).toString(36)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_SESSION_ID_LENGTH;
}
