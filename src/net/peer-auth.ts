/**
 * Proof of room membership between two peers, run over their data channel before any message
 * is delivered.
 *
 * A room may have a secret (from the URL fragment, never sent to the signaling server). Each
 * side sends a fresh nonce ('hello'), then proves knowledge of the room key with
 * HMAC-SHA256(key, transcript) ('proof'), then tells the other its proof checked out ('accept').
 * A link is open once a side has both verified the other's proof and received its accept, so
 * no data frame is ever sent to, or delivered from, an unproven peer. A side that refuses the
 * other says so ('reject') before closing: otherwise the closing channel could overtake the
 * other side's own verdict, and it would see a dropped connection instead of a refusal.
 *
 * The transcript binds the prover's and the verifier's ids, both nonces and the DTLS
 * certificate fingerprints of both ends as each side saw them in the SDP. A signaling server
 * that man-in-the-middles the DTLS handshake (substituting its own certificates) gives the two
 * sides different fingerprint views, so it can neither relay one side's proof to the other
 * nor replay an old one (fresh nonces). Putting the prover first in the transcript stops a
 * peer from reflecting our own proof back at us.
 *
 * Without a secret the key is derived from the room name alone: the handshake still runs, so
 * the framing is the same, but it proves nothing — anyone who knows the room name (including
 * the signaling server) can complete it.
 *
 * The key and the HMAC come from room-key.ts: WebCrypto in a secure context, pure JS elsewhere
 * (a page on plain http), with the same bytes on the wire, so the two kinds of tab interoperate.
 */
import { ByteWriter } from '../core/bytes.js';
import { AUTH_NONCE_BYTES, AUTH_PROOF_BYTES, type ChannelFrame } from './framing.js';
import type { RoomKey } from './room-key.js';

export { deriveRoomKey, type RoomKey } from './room-key.js';

/** Domain separation: a proof for this protocol is never valid for anything else. */
const TRANSCRIPT_LABEL = 'engram-auth-v1';

export type AuthFrame = Extract<ChannelFrame, { kind: 'hello' | 'proof' | 'accept' | 'reject' }>;

export type PeerAuthErrorCode =
  /** The peer's proof does not match: it does not know the room secret, or someone is in the middle. */
  | 'bad-proof'
  /** The peer refused our proof (its secret differs from ours) or our handshake. */
  | 'rejected'
  /** A handshake frame arrived out of order or twice. */
  | 'unexpected-frame'
  /** An SDP carried no DTLS fingerprint, so there is nothing to bind the proof to. */
  | 'no-fingerprint'
  /** The key derivation or an HMAC failed (neither implementation of room-key.ts could run). */
  | 'crypto-failed';

export class PeerAuthError extends Error {
  override readonly name = 'PeerAuthError';
  constructor(
    readonly code: PeerAuthErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function newNonce(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(AUTH_NONCE_BYTES));
}

/**
 * The DTLS certificate fingerprints announced in an SDP (`a=fingerprint:` lines, session or
 * media level), normalised ("sha-256 AB:CD:…"), de-duplicated and sorted.
 */
export function dtlsFingerprints(sdp: string): string[] {
  const found = new Set<string>();
  for (const line of sdp.split(/\r?\n/)) {
    const match = /^a=fingerprint:(\S+)\s+([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+)\s*$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) {
      found.add(`${match[1].toLowerCase()} ${match[2].toUpperCase()}`);
    }
  }
  return [...found].sort();
}

/** What one side's proof covers. "Prover" is the side that computes the proof. */
export interface AuthTranscript {
  readonly proverId: string;
  readonly verifierId: string;
  readonly proverNonce: Uint8Array;
  readonly verifierNonce: Uint8Array;
  /** Fingerprints of the prover's own certificate (from its local SDP). */
  readonly proverFingerprints: readonly string[];
  /** Fingerprints of the verifier's certificate as the prover saw them (remote SDP). */
  readonly verifierFingerprints: readonly string[];
}

/** Length-prefixed fields, so no two different transcripts encode to the same bytes. */
export function transcriptBytes(transcript: AuthTranscript): Uint8Array<ArrayBuffer> {
  const writer = new ByteWriter(256)
    .string(TRANSCRIPT_LABEL)
    .string(transcript.proverId)
    .string(transcript.verifierId)
    .bytes(transcript.proverNonce)
    .bytes(transcript.verifierNonce);
  for (const fingerprints of [transcript.proverFingerprints, transcript.verifierFingerprints]) {
    writer.varint(fingerprints.length);
    for (const fingerprint of fingerprints) writer.string(fingerprint);
  }
  return new Uint8Array(writer.finish());
}

export function createProof(key: RoomKey, transcript: AuthTranscript): Promise<Uint8Array> {
  return key.sign(transcriptBytes(transcript));
}

/** Compared in constant time (see RoomKey.verify). */
export async function verifyProof(key: RoomKey, transcript: AuthTranscript, proof: Uint8Array): Promise<boolean> {
  if (proof.length !== AUTH_PROOF_BYTES) return false;
  return key.verify(transcriptBytes(transcript), proof);
}

export interface PeerHandshakeOptions {
  readonly key: Promise<RoomKey>;
  readonly selfId: string;
  readonly peerId: string;
  /** Puts one handshake frame on the channel, in call order. */
  readonly send: (frame: AuthFrame) => void;
  /** Both sides have proven themselves: data may flow. Called at most once. */
  readonly onOpen: () => void;
  /** The handshake cannot succeed (a reject has been sent, unless the peer rejected us). Called at most once, and never after onOpen. */
  readonly onFailure: (error: PeerAuthError) => void;
  /** Fixed nonce for tests; fresh random bytes otherwise. */
  readonly nonce?: Uint8Array;
}

export type HandshakeState = 'waiting' | 'running' | 'open' | 'failed';

/**
 * The handshake of one connection. The owner calls `start` once the channel is open and feeds
 * every handshake frame it receives to `receive`; frames may arrive before `start` (the other
 * side's channel can open first) and are held until then.
 */
export class PeerHandshake {
  private readonly nonce: Uint8Array;
  private currentState: HandshakeState = 'waiting';
  private fingerprints: { local: readonly string[]; remote: readonly string[] } | undefined;
  private remoteNonce: Uint8Array | undefined;
  private earlyHello: Uint8Array | undefined;
  private proofSent = false;
  private proofReceived = false;
  private remoteVerified = false;
  private acceptedByRemote = false;
  /** Crypto steps run one after another so our proof always goes out before our accept. */
  private steps: Promise<void> = Promise.resolve();

  constructor(private readonly options: PeerHandshakeOptions) {
    this.nonce = options.nonce ?? newNonce();
  }

  get state(): HandshakeState {
    return this.currentState;
  }

  /** Sends our hello; `local` and `remote` are the DTLS fingerprints of the two SDPs of this connection. */
  start(local: readonly string[], remote: readonly string[]): void {
    if (this.currentState !== 'waiting') return;
    this.currentState = 'running';
    if (local.length === 0 || remote.length === 0) {
      this.fail(new PeerAuthError('no-fingerprint', 'an SDP of this connection has no DTLS fingerprint'));
      return;
    }
    this.fingerprints = { local, remote };
    this.options.send({ kind: 'hello', nonce: this.nonce });
    if (this.earlyHello !== undefined) this.onHello(this.earlyHello);
  }

  receive(frame: AuthFrame): void {
    // After the outcome the owner no longer routes handshake frames here; stray ones change nothing.
    if (this.currentState === 'failed' || this.currentState === 'open') return;
    if (frame.kind === 'reject') {
      this.fail(new PeerAuthError('rejected', `peer ${this.options.peerId} refused our proof or our handshake`));
      return;
    }
    if (this.currentState === 'waiting') {
      // Only the peer's hello can precede our own: it sends its proof after reading our hello.
      if (frame.kind !== 'hello' || this.earlyHello !== undefined) {
        this.fail(new PeerAuthError('unexpected-frame', `${frame.kind} before our hello`));
      } else {
        this.earlyHello = frame.nonce.slice();
      }
      return;
    }
    switch (frame.kind) {
      case 'hello':
        this.onHello(frame.nonce.slice());
        return;
      case 'proof':
        this.onProof(frame.proof.slice());
        return;
      case 'accept':
        // The peer can only have checked our proof after we sent it.
        if (!this.proofSent || this.acceptedByRemote) {
          this.fail(new PeerAuthError('unexpected-frame', 'accept before our proof, or twice'));
          return;
        }
        this.acceptedByRemote = true;
        this.maybeOpen();
        return;
    }
  }

  /** Fails the handshake from outside (the owner saw a frame that breaks it), telling the peer. */
  abort(error: PeerAuthError): void {
    if (this.currentState === 'waiting' || this.currentState === 'running') this.fail(error);
  }

  /** Stops the handshake: no callback fires afterwards. */
  dispose(): void {
    if (this.currentState !== 'open') this.currentState = 'failed';
  }

  private onHello(remoteNonce: Uint8Array): void {
    if (this.remoteNonce !== undefined) {
      this.fail(new PeerAuthError('unexpected-frame', 'a second hello'));
      return;
    }
    this.remoteNonce = remoteNonce;
    this.step(async (key, fingerprints) => {
      const proof = await createProof(key, {
        proverId: this.options.selfId,
        verifierId: this.options.peerId,
        proverNonce: this.nonce,
        verifierNonce: remoteNonce,
        proverFingerprints: fingerprints.local,
        verifierFingerprints: fingerprints.remote,
      });
      if (this.currentState !== 'running') return;
      this.options.send({ kind: 'proof', proof });
      this.proofSent = true;
    });
  }

  private onProof(proof: Uint8Array): void {
    const remoteNonce = this.remoteNonce;
    if (remoteNonce === undefined || this.proofReceived) {
      this.fail(new PeerAuthError('unexpected-frame', 'a proof before the hello, or twice'));
      return;
    }
    this.proofReceived = true;
    this.step(async (key, fingerprints) => {
      const valid = await verifyProof(
        key,
        {
          proverId: this.options.peerId,
          verifierId: this.options.selfId,
          proverNonce: remoteNonce,
          verifierNonce: this.nonce,
          proverFingerprints: fingerprints.remote,
          verifierFingerprints: fingerprints.local,
        },
        proof,
      );
      if (this.currentState !== 'running') return;
      if (!valid) {
        this.fail(new PeerAuthError('bad-proof', `peer ${this.options.peerId} did not prove knowledge of the room key`));
        return;
      }
      this.remoteVerified = true;
      this.options.send({ kind: 'accept' });
      this.maybeOpen();
    });
  }

  private step(
    run: (key: RoomKey, fingerprints: { local: readonly string[]; remote: readonly string[] }) => Promise<void>,
  ): void {
    this.steps = this.steps.then(async () => {
      if (this.currentState !== 'running' || this.fingerprints === undefined) return;
      try {
        await run(await this.options.key, this.fingerprints);
      } catch (cause) {
        this.fail(new PeerAuthError('crypto-failed', 'the key derivation or HMAC failed during the handshake', { cause }));
      }
    });
  }

  private maybeOpen(): void {
    if (this.currentState !== 'running' || !this.remoteVerified || !this.acceptedByRemote) return;
    this.currentState = 'open';
    this.options.onOpen();
  }

  private fail(error: PeerAuthError): void {
    if (this.currentState === 'failed') return;
    this.currentState = 'failed';
    if (error.code !== 'rejected') this.options.send({ kind: 'reject' });
    this.options.onFailure(error);
  }
}
