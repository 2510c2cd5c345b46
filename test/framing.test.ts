import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DecodeError } from '../src/core/errors.js';
import {
  AUTH_NONCE_BYTES,
  AUTH_PROOF_BYTES,
  CHUNK_PAYLOAD_BYTES,
  MAX_FRAME_BYTES,
  MESSAGE_ID_LIMIT,
  Reassembler,
  chunkMessage,
  decodeFrame,
  encodeFrame,
  type ChannelFrame,
  type ChunkFrame,
} from '../src/net/framing.js';

const MiB = 1024 * 1024;

function asChunk(frame: ChannelFrame): ChunkFrame {
  if (frame.kind !== 'chunk') throw new Error(`expected a chunk, got ${frame.kind}`);
  return frame;
}

function reassemble(frames: readonly Uint8Array[], maxMessageBytes = 16 * MiB): Uint8Array[] {
  const reassembler = new Reassembler(maxMessageBytes);
  const messages: Uint8Array[] = [];
  for (const frame of frames) {
    const message = reassembler.accept(asChunk(decodeFrame(frame)));
    if (message !== undefined) messages.push(message);
  }
  return messages;
}

/** Byte-wise equality: vitest's toEqual walks every index of a typed array and is far too slow for MiBs. */
function sameBytes(actual: Uint8Array | undefined, expected: Uint8Array): boolean {
  return actual !== undefined && Buffer.compare(actual, expected) === 0;
}

function decodeErrorCode(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof DecodeError) return error.code;
    throw error;
  }
  throw new Error('expected a DecodeError');
}

describe('chunking', () => {
  it('a message cut into chunks and put back together is the same message (any size, any chunk size)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 4000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 0, max: MESSAGE_ID_LIMIT - 1 }),
        (message, chunkBytes, messageId) => {
          const frames = chunkMessage(messageId, message, chunkBytes);
          expect(frames).toHaveLength(Math.max(1, Math.ceil(message.length / chunkBytes)));
          const messages = reassemble(frames);
          expect(messages).toHaveLength(1);
          expect(sameBytes(messages[0], message)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('every frame of a large message fits in 16 KiB, even with the widest header', () => {
    const message = new Uint8Array(3 * CHUNK_PAYLOAD_BYTES + 1).map((_, i) => i * 7);
    const frames = chunkMessage(MESSAGE_ID_LIMIT - 1, message);
    expect(frames).toHaveLength(4);
    for (const frame of frames) expect(frame.length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(frames[0]?.length).toBe(MAX_FRAME_BYTES - 16 + 2 + 5 + 1 + 1);
    const messages = reassemble(frames);
    expect(messages).toHaveLength(1);
    expect(sameBytes(messages[0], message)).toBe(true);
  });

  it('a 16 MiB message uses full 16 KiB frames and reassembles intact', () => {
    const message = new Uint8Array(16 * MiB);
    for (let i = 0; i < message.length; i += 4093) message[i] = i % 251;
    const frames = chunkMessage(7, message);
    expect(frames).toHaveLength(Math.ceil(message.length / CHUNK_PAYLOAD_BYTES));
    const messages = reassemble(frames, 16 * MiB);
    expect(messages).toHaveLength(1);
    expect(sameBytes(messages[0], message)).toBe(true);
  });

  it('an empty message travels as one empty chunk', () => {
    const frames = chunkMessage(1, new Uint8Array(0));
    expect(frames).toHaveLength(1);
    expect(reassemble(frames)).toEqual([new Uint8Array(0)]);
  });

  it('consecutive messages reassemble one after the other', () => {
    const first = new Uint8Array(50).fill(1);
    const second = new Uint8Array(120).fill(2);
    const frames = [...chunkMessage(1, first, 40), ...chunkMessage(2, second, 40)];
    expect(reassemble(frames)).toEqual([first, second]);
  });

  it('refuses chunk sizes that would overflow a frame', () => {
    expect(() => chunkMessage(0, new Uint8Array(10), CHUNK_PAYLOAD_BYTES + 1)).toThrow(RangeError);
    expect(() => chunkMessage(0, new Uint8Array(10), 0)).toThrow(RangeError);
    expect(() => chunkMessage(MESSAGE_ID_LIMIT, new Uint8Array(10))).toThrow(RangeError);
  });
});

describe('handshake frames', () => {
  it('hello, proof, accept and reject survive encoding', () => {
    const nonce = new Uint8Array(AUTH_NONCE_BYTES).map((_, i) => i);
    const proof = new Uint8Array(AUTH_PROOF_BYTES).map((_, i) => 255 - i);
    expect(decodeFrame(encodeFrame({ kind: 'hello', nonce }))).toEqual({ kind: 'hello', nonce });
    expect(decodeFrame(encodeFrame({ kind: 'proof', proof }))).toEqual({ kind: 'proof', proof });
    expect(decodeFrame(encodeFrame({ kind: 'accept' }))).toEqual({ kind: 'accept' });
    expect(decodeFrame(encodeFrame({ kind: 'reject' }))).toEqual({ kind: 'reject' });
    expect(decodeFrame(encodeFrame({ kind: 'keepalive' }))).toEqual({ kind: 'keepalive' });
  });

  it('refuses a nonce or proof of the wrong size on both ends', () => {
    expect(() => encodeFrame({ kind: 'hello', nonce: new Uint8Array(31) })).toThrow(RangeError);
    expect(() => encodeFrame({ kind: 'proof', proof: new Uint8Array(33) })).toThrow(RangeError);
    const longHello = new Uint8Array([1, 1, ...new Uint8Array(AUTH_NONCE_BYTES + 1)]);
    expect(decodeErrorCode(() => decodeFrame(longHello))).toBe('trailing-bytes');
    const shortProof = new Uint8Array([1, 2, ...new Uint8Array(AUTH_PROOF_BYTES - 1)]);
    expect(decodeErrorCode(() => decodeFrame(shortProof))).toBe('truncated');
  });
});

describe('the frame decoder on hostile input', () => {
  it('returns a frame or throws a DecodeError for any bytes, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (bytes, validPrefix) => {
        // Half the inputs start like a real frame, so the fuzzing reaches the body decoders.
        const input = validPrefix && bytes.length >= 2 ? Uint8Array.of(1, 1 + (bytes[1] ?? 0) % 6, ...bytes.subarray(2)) : bytes;
        try {
          const frame = decodeFrame(input);
          expect(['hello', 'proof', 'accept', 'reject', 'keepalive', 'chunk']).toContain(frame.kind);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('names what is wrong', () => {
    expect(decodeErrorCode(() => decodeFrame(new Uint8Array(0)))).toBe('truncated');
    expect(decodeErrorCode(() => decodeFrame(Uint8Array.of(2, 3)))).toBe('bad-version');
    expect(decodeErrorCode(() => decodeFrame(Uint8Array.of(1, 9)))).toBe('unknown-type');
    expect(decodeErrorCode(() => decodeFrame(Uint8Array.of(1, 5, 0)))).toBe('trailing-bytes');
    expect(decodeErrorCode(() => decodeFrame(Uint8Array.of(1, 3, 0)))).toBe('trailing-bytes');
    expect(decodeErrorCode(() => decodeFrame(new Uint8Array(MAX_FRAME_BYTES + 1)))).toBe('oversized');
    // Chunk 2 of 2 does not exist.
    expect(decodeErrorCode(() => decodeFrame(Uint8Array.of(1, 4, 0, 2, 2)))).toBe('bad-value');
    expect(decodeErrorCode(() => decodeFrame(Uint8Array.of(1, 4, 0, 0, 0)))).toBe('bad-value');
    // A message id of 2^32 is out of range.
    expect(decodeErrorCode(() => decodeFrame(Uint8Array.of(1, 4, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 1)))).toBe('oversized');
  });
});

describe('the reassembler', () => {
  it('never holds more than the message limit and fails only with DecodeError, whatever chunks arrive', () => {
    const maxMessageBytes = 3 * CHUNK_PAYLOAD_BYTES;
    const chunk = fc.record({
      messageId: fc.integer({ min: 0, max: 3 }),
      count: fc.integer({ min: 1, max: 6 }),
      indexSeed: fc.nat(),
      payloadBytes: fc.integer({ min: 0, max: CHUNK_PAYLOAD_BYTES }),
    });
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 40 }), (chunks) => {
        const reassembler = new Reassembler(maxMessageBytes);
        for (const { messageId, count, indexSeed, payloadBytes } of chunks) {
          const frame: ChunkFrame = { kind: 'chunk', messageId, count, index: indexSeed % count, payload: new Uint8Array(payloadBytes) };
          try {
            const message = reassembler.accept(frame);
            if (message !== undefined) expect(message.length).toBeLessThanOrEqual(maxMessageBytes);
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError);
            expect(reassembler.bufferedBytes).toBe(0);
          }
          expect(reassembler.bufferedBytes).toBeLessThanOrEqual(maxMessageBytes);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('drops a message whose chunks skip one, and the next message still arrives', () => {
    const reassembler = new Reassembler(MiB);
    const broken = chunkMessage(1, new Uint8Array(30).fill(1), 10).map(decodeFrame).map(asChunk);
    expect(reassembler.accept(broken[0] as ChunkFrame)).toBeUndefined();
    expect(decodeErrorCode(() => reassembler.accept(broken[2] as ChunkFrame))).toBe('bad-value');
    expect(reassembler.bufferedBytes).toBe(0);
    const next = new Uint8Array(15).fill(2);
    const messages = chunkMessage(2, next, 10).map(decodeFrame).map((frame) => reassembler.accept(asChunk(frame)));
    expect(messages).toEqual([undefined, next]);
  });

  it('drops a partial message interrupted by another message', () => {
    const reassembler = new Reassembler(MiB);
    const first = chunkMessage(1, new Uint8Array(30), 10).map(decodeFrame).map(asChunk);
    const second = chunkMessage(2, new Uint8Array(30), 10).map(decodeFrame).map(asChunk);
    reassembler.accept(first[0] as ChunkFrame);
    expect(decodeErrorCode(() => reassembler.accept(second[0] as ChunkFrame))).toBe('bad-value');
  });

  it('refuses a message that announces more chunks than the limit allows, before buffering anything', () => {
    const reassembler = new Reassembler(CHUNK_PAYLOAD_BYTES * 2);
    const claim: ChunkFrame = { kind: 'chunk', messageId: 0, index: 0, count: 3, payload: new Uint8Array(1) };
    expect(decodeErrorCode(() => reassembler.accept(claim))).toBe('oversized');
    expect(reassembler.bufferedBytes).toBe(0);
  });

  it('refuses a message whose chunks add up to more than the limit', () => {
    // Two chunks are allowed by count, but their bytes pass the limit.
    const reassembler = new Reassembler(CHUNK_PAYLOAD_BYTES + 10);
    const frames = chunkMessage(0, new Uint8Array(2 * CHUNK_PAYLOAD_BYTES)).map(decodeFrame).map(asChunk);
    expect(reassembler.accept(frames[0] as ChunkFrame)).toBeUndefined();
    expect(decodeErrorCode(() => reassembler.accept(frames[1] as ChunkFrame))).toBe('oversized');
    expect(reassembler.bufferedBytes).toBe(0);
  });

  it('a message must start at chunk 0', () => {
    const reassembler = new Reassembler(MiB);
    const frames = chunkMessage(0, new Uint8Array(30), 10).map(decodeFrame).map(asChunk);
    expect(decodeErrorCode(() => reassembler.accept(frames[1] as ChunkFrame))).toBe('bad-value');
  });

  it('reset drops the message in progress', () => {
    const reassembler = new Reassembler(MiB);
    const frames = chunkMessage(0, new Uint8Array(30), 10).map(decodeFrame).map(asChunk);
    reassembler.accept(frames[0] as ChunkFrame);
    expect(reassembler.bufferedBytes).toBe(10);
    reassembler.reset();
    expect(reassembler.bufferedBytes).toBe(0);
    expect(decodeErrorCode(() => reassembler.accept(frames[1] as ChunkFrame))).toBe('bad-value');
  });
});
