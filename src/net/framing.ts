/**
 * The wire format of one peer-to-peer data channel: the authentication handshake frames and
 * the chunks that carry transport messages.
 *
 * Every frame is [version byte][kind byte][body] and at most MAX_FRAME_BYTES long, because
 * 16 KiB is the largest data-channel message every browser delivers intact (larger ones are
 * split or refused depending on the SCTP implementation). Messages above that are cut into
 * chunks and put back together by a Reassembler.
 *
 * Pure: no I/O, no timers. The decoder and the reassembler fail with a DecodeError (never a
 * RangeError, never an allocation sized by the sender) on anything they cannot accept.
 */
import { ByteReader, ByteWriter } from '../core/bytes.js';
import { DecodeError } from '../core/errors.js';

export const FRAME_VERSION = 1;

/** Largest frame put on a data channel. */
export const MAX_FRAME_BYTES = 16 * 1024;

/** Room kept in each chunk frame for its header: 2 bytes + three varints (at most 5 + 4 + 4). */
export const CHUNK_HEADER_MAX_BYTES = 16;

/** Payload bytes carried by one chunk frame. */
export const CHUNK_PAYLOAD_BYTES = MAX_FRAME_BYTES - CHUNK_HEADER_MAX_BYTES;

/** Message ids wrap here: they only need to tell consecutive messages of one connection apart. */
export const MESSAGE_ID_LIMIT = 2 ** 32;

/** Upper bound on chunks per message, so a count read from the wire fits a 4-byte varint. */
export const MAX_CHUNKS_PER_MESSAGE = 2 ** 21;

/** Nonce and proof sizes of the authentication handshake (see peer-auth.ts). */
export const AUTH_NONCE_BYTES = 32;
export const AUTH_PROOF_BYTES = 32;

const KIND_HELLO = 1;
const KIND_PROOF = 2;
const KIND_ACCEPT = 3;
const KIND_CHUNK = 4;
const KIND_REJECT = 5;
const KIND_KEEPALIVE = 6;

export type ChannelFrame =
  /** Opens the handshake: the sender's fresh nonce. */
  | { readonly kind: 'hello'; readonly nonce: Uint8Array }
  /** The sender's proof that it knows the room key (HMAC over the handshake transcript). */
  | { readonly kind: 'proof'; readonly proof: Uint8Array }
  /** The sender has verified the receiver's proof; data may flow once both sides have sent it. */
  | { readonly kind: 'accept' }
  /** The sender refuses the receiver (bad proof, broken handshake) and is about to close. */
  | { readonly kind: 'reject' }
  /** Nothing to say: sent on an idle open channel so the receiver can tell idle from cut off. */
  | { readonly kind: 'keepalive' }
  /** Part `index` of `count` of message `messageId`. */
  | {
      readonly kind: 'chunk';
      readonly messageId: number;
      readonly index: number;
      readonly count: number;
      readonly payload: Uint8Array;
    };

export type ChunkFrame = Extract<ChannelFrame, { kind: 'chunk' }>;

export function encodeFrame(frame: ChannelFrame): Uint8Array {
  switch (frame.kind) {
    case 'hello':
      if (frame.nonce.length !== AUTH_NONCE_BYTES) throw new RangeError(`nonce must be ${AUTH_NONCE_BYTES} bytes`);
      return new ByteWriter(2 + AUTH_NONCE_BYTES).u8(FRAME_VERSION).u8(KIND_HELLO).raw(frame.nonce).finish();
    case 'proof':
      if (frame.proof.length !== AUTH_PROOF_BYTES) throw new RangeError(`proof must be ${AUTH_PROOF_BYTES} bytes`);
      return new ByteWriter(2 + AUTH_PROOF_BYTES).u8(FRAME_VERSION).u8(KIND_PROOF).raw(frame.proof).finish();
    case 'accept':
      return new ByteWriter(2).u8(FRAME_VERSION).u8(KIND_ACCEPT).finish();
    case 'reject':
      return new ByteWriter(2).u8(FRAME_VERSION).u8(KIND_REJECT).finish();
    case 'keepalive':
      return new ByteWriter(2).u8(FRAME_VERSION).u8(KIND_KEEPALIVE).finish();
    case 'chunk':
      return encodeChunk(frame.messageId, frame.index, frame.count, frame.payload);
  }
}

function encodeChunk(messageId: number, index: number, count: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(messageId) || messageId < 0 || messageId >= MESSAGE_ID_LIMIT) {
    throw new RangeError(`message id out of range: ${messageId}`);
  }
  if (!Number.isInteger(count) || count < 1 || count > MAX_CHUNKS_PER_MESSAGE) {
    throw new RangeError(`chunk count out of range: ${count}`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`chunk index out of range: ${index}`);
  if (payload.length > CHUNK_PAYLOAD_BYTES) throw new RangeError(`chunk payload of ${payload.length} bytes is too large`);
  return new ByteWriter(CHUNK_HEADER_MAX_BYTES + payload.length)
    .u8(FRAME_VERSION)
    .u8(KIND_CHUNK)
    .varint(messageId)
    .varint(index)
    .varint(count)
    .raw(payload)
    .finish();
}

/** Reads one frame; throws DecodeError on anything malformed. The payload is a view into `bytes`. */
export function decodeFrame(bytes: Uint8Array): ChannelFrame {
  if (bytes.length > MAX_FRAME_BYTES) {
    throw new DecodeError('oversized', `frame of ${bytes.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  }
  const reader = new ByteReader(bytes);
  const version = reader.u8('the frame version');
  if (version !== FRAME_VERSION) throw new DecodeError('bad-version', `frame version ${version}, expected ${FRAME_VERSION}`);
  const kind = reader.u8('the frame kind');
  switch (kind) {
    case KIND_HELLO: {
      const nonce = reader.raw(AUTH_NONCE_BYTES, 'the hello nonce');
      reader.end();
      return { kind: 'hello', nonce };
    }
    case KIND_PROOF: {
      const proof = reader.raw(AUTH_PROOF_BYTES, 'the proof');
      reader.end();
      return { kind: 'proof', proof };
    }
    case KIND_ACCEPT:
      reader.end();
      return { kind: 'accept' };
    case KIND_REJECT:
      reader.end();
      return { kind: 'reject' };
    case KIND_KEEPALIVE:
      reader.end();
      return { kind: 'keepalive' };
    case KIND_CHUNK: {
      const messageId = reader.boundedVarint(MESSAGE_ID_LIMIT - 1, 'the message id');
      const index = reader.varint('the chunk index');
      const count = reader.boundedVarint(MAX_CHUNKS_PER_MESSAGE, 'the chunk count');
      if (count < 1) throw new DecodeError('bad-value', 'a message has at least one chunk');
      if (index >= count) throw new DecodeError('bad-value', `chunk index ${index} is not below the count ${count}`);
      const payload = reader.raw(reader.remaining, 'the chunk payload');
      if (payload.length > CHUNK_PAYLOAD_BYTES) {
        throw new DecodeError('oversized', `chunk payload of ${payload.length} bytes exceeds ${CHUNK_PAYLOAD_BYTES}`);
      }
      return { kind: 'chunk', messageId, index, count, payload };
    }
    default:
      throw new DecodeError('unknown-type', `unknown frame kind ${kind}`);
  }
}

/** Cuts one message into encoded chunk frames (an empty message is one empty chunk). */
export function chunkMessage(
  messageId: number,
  message: Uint8Array,
  chunkPayloadBytes: number = CHUNK_PAYLOAD_BYTES,
): Uint8Array[] {
  if (!Number.isInteger(chunkPayloadBytes) || chunkPayloadBytes < 1 || chunkPayloadBytes > CHUNK_PAYLOAD_BYTES) {
    throw new RangeError(`chunk payload size out of range: ${chunkPayloadBytes}`);
  }
  const count = Math.max(1, Math.ceil(message.length / chunkPayloadBytes));
  const frames: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const start = index * chunkPayloadBytes;
    frames.push(encodeChunk(messageId, index, count, message.subarray(start, start + chunkPayloadBytes)));
  }
  return frames;
}

/**
 * Puts chunked messages back together for one connection.
 *
 * The sender puts the chunks of one message on the channel back to back and the channel is
 * reliable and ordered, so exactly one message is ever in progress: a chunk that does not
 * continue it (other message id, skipped index, different count) means the stream is broken,
 * and the partial message is dropped rather than guessed at. Memory held is bounded by
 * `maxMessageBytes`. One reassembler lives as long as one connection, so a reconnect starts
 * clean and never completes a message with chunks from two connections.
 */
export class Reassembler {
  private messageId = -1;
  private count = 0;
  private parts: Uint8Array[] = [];
  private receivedBytes = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes held for the message in progress. */
  get bufferedBytes(): number {
    return this.receivedBytes;
  }

  /**
   * Takes the next chunk; returns the whole message when this chunk completes it.
   * Throws DecodeError (having dropped the partial message) when the chunk cannot be accepted.
   */
  accept(chunk: ChunkFrame): Uint8Array | undefined {
    if (this.parts.length === 0) {
      if (chunk.index !== 0) {
        throw new DecodeError('bad-value', `message ${chunk.messageId} starts at chunk ${chunk.index}, not 0`);
      }
      if (chunk.count > Math.max(1, Math.ceil(this.maxMessageBytes / CHUNK_PAYLOAD_BYTES))) {
        throw new DecodeError('oversized', `message of ${chunk.count} chunks exceeds ${this.maxMessageBytes} bytes`);
      }
      this.messageId = chunk.messageId;
      this.count = chunk.count;
    } else if (chunk.messageId !== this.messageId || chunk.count !== this.count || chunk.index !== this.parts.length) {
      const expected = `chunk ${this.parts.length}/${this.count} of message ${this.messageId}`;
      this.reset();
      throw new DecodeError('bad-value', `expected ${expected}, got chunk ${chunk.index}/${chunk.count} of message ${chunk.messageId}`);
    }
    if (this.receivedBytes + chunk.payload.length > this.maxMessageBytes) {
      this.reset();
      throw new DecodeError('oversized', `message exceeds ${this.maxMessageBytes} bytes`);
    }
    this.parts.push(chunk.payload);
    this.receivedBytes += chunk.payload.length;
    if (this.parts.length < this.count) return undefined;
    const message = concat(this.parts, this.receivedBytes);
    this.reset();
    return message;
  }

  /** Drops the message in progress. */
  reset(): void {
    this.messageId = -1;
    this.count = 0;
    this.parts = [];
    this.receivedBytes = 0;
  }
}

function concat(parts: readonly Uint8Array[], totalBytes: number): Uint8Array {
  const out = new Uint8Array(totalBytes);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
