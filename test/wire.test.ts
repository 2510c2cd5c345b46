import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PeerClockCodec } from '../src/core/clock-codec.js';
import { DecodeError } from '../src/core/errors.js';
import { decodeMessage, encodeMessage, WIRE_VERSION, type Message } from '../src/core/wire.js';
import type { MemoryRecord } from '../src/core/types.js';

const record: MemoryRecord = {
  id: 'm-1',
  siblings: [
    {
      dot: { node: 'alice', counter: 3 },
      context: { alice: 2, bob: 7 },
      content: 'buy tomatoes',
      tags: ['garden', 'shopping'],
      confidence: 0.75,
      deleted: false,
      createdAt: 1000,
      author: 'bob',
      writtenAt: 2000,
      generation: 4,
    },
  ],
};

const hash = (seed: number) => Uint8Array.from({ length: 8 }, (_, i) => (seed * 31 + i) & 0xff);

const EVERY_MESSAGE: Message[] = [
  { type: 'swim', swim: { type: 'ping', seq: 5, rumours: [{ kind: 'suspect', node: 'carol', incarnation: 2, from: 'alice' }] } },
  { type: 'swim', swim: { type: 'ack', seq: 5, rumours: [] } },
  { type: 'swim', swim: { type: 'ping-req', seq: 9, target: 'carol', rumours: [{ kind: 'alive', node: 'bob', incarnation: 1, from: 'bob' }] } },
  { type: 'swim', swim: { type: 'nack', seq: 9, rumours: [] } },
  { type: 'swim', swim: { type: 'sync', reply: true, members: [{ node: 'dave', state: 'left', incarnation: 3 }] } },
  // The suspend notice a freezing tab sends (its own digest), and the rumour peers gossip on.
  { type: 'swim', swim: { type: 'sync', reply: true, members: [{ node: 'erin', state: 'sleeping', incarnation: 4 }] } },
  { type: 'swim', swim: { type: 'ping', seq: 6, rumours: [{ kind: 'sleeping', node: 'erin', incarnation: 4, from: 'erin' }] } },
  { type: 'replicate', records: [record] },
  {
    type: 'heal-open',
    session: 77,
    root: hash(1),
    keyCount: 10_000,
    generations: [{ node: 'alice', entries: [{ generation: 2, since: 1234, visible: ['alice', 'bob'], partial: true }] }],
    frontier: { alice: 12, bob: 2 ** 48 },
  },
  { type: 'heal-reply', session: 77, status: 'accept', root: hash(2), keyCount: 3, generations: [], frontier: { carol: 1 } },
  ...(['busy', 'equal', 'serve'] as const).map((status) => ({ type: 'heal-reply' as const, session: 78, status, root: hash(2), keyCount: 3, generations: [], frontier: {} })),
  { type: 'heal-level', session: 77, level: 2, nodes: [{ index: 17, hash: hash(3) }] },
  { type: 'heal-keys', session: 77, level: 3, buckets: [{ index: 4095, keys: [{ keyHash: hash(4).slice(0, 4), entryHash: hash(5) }] }] },
  { type: 'heal-want', session: 77, want: [hash(6)], missing: [hash(8), hash(9)], sending: 12 },
  { type: 'heal-records', session: 77, records: [record], final: true },
  { type: 'heal-done', session: 77, root: hash(7) },
  { type: 'heal-abort', session: 77 },
];

describe('wire format', () => {
  it('round-trips every message type through a pair of links', () => {
    const sender = new PeerClockCodec();
    const receiver = new PeerClockCodec();
    for (const message of EVERY_MESSAGE) {
      const encoded = encodeMessage(sender, { alice: 3 }, message);
      expect(encoded.bytes[0]).toBe(WIRE_VERSION);
      const decoded = decodeMessage(receiver, encoded.bytes);
      expect(decoded.message).toEqual(message);
    }
    expect(receiver.peerClock()).toEqual({ alice: 3 });
  });

  it('reports the link header as the message clock and each version dot and context separately', () => {
    const encoded = encodeMessage(new PeerClockCodec(), { alice: 3, bob: 9 }, { type: 'replicate', records: [record] });
    // The first header carries the full clock with the ids spelled out.
    expect(encoded.clockBytes).toBeGreaterThan('alice'.length + 'bob'.length);
    // One version: dot (alice, already defined in this message) + a two-entry context.
    expect(encoded.versionClockBytes).toHaveLength(1);
    expect(encoded.versionClockBytes[0]).toBeGreaterThanOrEqual(5);
    expect(encoded.clockBytes + (encoded.versionClockBytes[0] as number)).toBeLessThan(encoded.bytes.length);
  });

  it('encodes the suspend notice as state and rumour code 4, after the four codes older peers know', () => {
    const notice: Message = { type: 'swim', swim: { type: 'sync', reply: true, members: [{ node: 'erin', state: 'sleeping', incarnation: 4 }] } };
    const left: Message = { type: 'swim', swim: { type: 'sync', reply: true, members: [{ node: 'erin', state: 'left', incarnation: 4 }] } };
    const sleepingBytes = encodeMessage(new PeerClockCodec(), {}, notice).bytes;
    const leftBytes = encodeMessage(new PeerClockCodec(), {}, left).bytes;
    // The two differ in exactly one byte: the state code, 3 for left and 4 for sleeping.
    const differing = [...sleepingBytes].flatMap((byte, i) => (byte !== leftBytes[i] ? [[leftBytes[i], byte]] : []));
    expect(sleepingBytes.length).toBe(leftBytes.length);
    expect(differing).toEqual([[3, 4]]);
    const code5 = Uint8Array.from(sleepingBytes);
    code5[sleepingBytes.findIndex((byte, i) => byte !== leftBytes[i])] = 5;
    expect(() => decodeMessage(new PeerClockCodec(), code5)).toThrowError(expect.objectContaining({ name: 'DecodeError' }));
  });

  it('rejects a wrong version byte with a typed error', () => {
    const bytes = encodeMessage(new PeerClockCodec(), {}, EVERY_MESSAGE[0] as Message).bytes;
    bytes[0] = 99;
    expect(() => decodeMessage(new PeerClockCodec(), bytes)).toThrowError(expect.objectContaining({ code: 'bad-version' }));
  });

  it('rejects an unknown message type', () => {
    expect(() => decodeMessage(new PeerClockCodec(), Uint8Array.of(WIRE_VERSION, 250))).toThrowError(
      expect.objectContaining({ code: 'unknown-type' }),
    );
  });

  it('rejects every truncation of every message with a typed error', () => {
    for (const message of EVERY_MESSAGE) {
      const bytes = encodeMessage(new PeerClockCodec(), { alice: 1 }, message).bytes;
      for (let length = 0; length < bytes.length; length++) {
        expect(() => decodeMessage(new PeerClockCodec(), bytes.subarray(0, length))).toThrow(DecodeError);
      }
    }
  });

  it('rejects trailing bytes', () => {
    const bytes = encodeMessage(new PeerClockCodec(), {}, { type: 'heal-abort', session: 1 }).bytes;
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(() => decodeMessage(new PeerClockCodec(), longer)).toThrowError(expect.objectContaining({ code: 'trailing-bytes' }));
  });

  it('rejects an oversized message before reading it', () => {
    const huge = new Uint8Array(17 * 1024 * 1024);
    huge[0] = WIRE_VERSION;
    expect(() => decodeMessage(new PeerClockCodec(), huge)).toThrowError(expect.objectContaining({ code: 'oversized' }));
  });

  it('rejects a version whose confidence is outside [0, 1]', () => {
    const bad = { ...record, siblings: [{ ...record.siblings[0]!, confidence: 1.5 }] };
    const bytes = encodeMessage(new PeerClockCodec(), {}, { type: 'replicate', records: [bad] }).bytes;
    expect(() => decodeMessage(new PeerClockCodec(), bytes)).toThrowError(expect.objectContaining({ code: 'bad-value' }));
  });

  it('random bytes never throw anything but DecodeError and never change the link', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withVersion) => {
        const sender = new PeerClockCodec();
        const receiver = new PeerClockCodec();
        decodeMessage(receiver, encodeMessage(sender, { alice: 4 }, EVERY_MESSAGE[5] as Message).bytes);
        const before = receiver.peerClock();
        const input = withVersion && bytes.length > 0 ? Uint8Array.of(WIRE_VERSION, ...bytes) : bytes;
        try {
          decodeMessage(receiver, input);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
          expect(receiver.peerClock()).toEqual(before);
        }
        // The link still works after garbage.
        const next = decodeMessage(receiver, encodeMessage(sender, { alice: 5 }, EVERY_MESSAGE[1] as Message).bytes);
        expect(next.message).toEqual(EVERY_MESSAGE[1]);
        expect(receiver.peerClock().alice).toBe(5);
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid messages either decode to a message or fail with DecodeError', () => {
    const encodedMessages = EVERY_MESSAGE.map((message) => encodeMessage(new PeerClockCodec(), { alice: 1, bob: 2 }, message).bytes);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: encodedMessages.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (which, flips) => {
          const bytes = (encodedMessages[which] as Uint8Array).slice();
          for (const [position, value] of flips) bytes[position % bytes.length] = value;
          try {
            decodeMessage(new PeerClockCodec(), bytes);
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
