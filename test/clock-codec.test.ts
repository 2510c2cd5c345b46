import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter } from '../src/core/bytes.js';
import { HEADER_PAGE_ENTRIES, MAX_HEADER_ENTRIES, MAX_NODE_ID_BYTES, MAX_NODE_INDEX, PeerClockCodec } from '../src/core/clock-codec.js';
import { DecodeError } from '../src/core/errors.js';
import { SeededRandom } from '../src/core/random.js';
import type { NodeId, VersionVector } from '../src/core/types.js';
import { compare } from '../src/core/vector-clock.js';

// ---------------------------------------------------------------- harness

/** One encoded message as the transport carries it, with what the sender meant to say. */
interface Frame {
  readonly bytes: Uint8Array;
  readonly bodyIds: readonly NodeId[];
  readonly clockBytes: number;
}

/** Encodes a message whose body is a list of node ids, written the way wire.ts writes them. */
function encode(link: PeerClockCodec, clock: VersionVector, bodyIds: readonly NodeId[] = []): Frame {
  const w = new ByteWriter();
  const frame = link.beginOutbound(clock);
  frame.writeHeader(w);
  w.varint(bodyIds.length);
  for (const id of bodyIds) frame.writeNodeRef(w, id);
  frame.commit();
  return { bytes: w.finish(), bodyIds, clockBytes: frame.clockBytes };
}

type Outcome =
  | { readonly ok: true; readonly bodyIds: NodeId[]; readonly delta: VersionVector; readonly seq: number }
  | { readonly ok: false; readonly error: DecodeError };

/** Decodes like node.ts does: commit only a fully valid message; an unknown ref asks the peer to reset. */
function deliver(link: PeerClockCodec, bytes: Uint8Array): Outcome {
  const r = new ByteReader(bytes);
  const frame = link.beginInbound();
  try {
    frame.readHeader(r);
    const count = r.boundedVarint(64, 'body length');
    const bodyIds = Array.from({ length: count }, () => frame.readNodeRef(r));
    r.end();
    frame.commit();
    return { ok: true, bodyIds, delta: frame.clockDelta, seq: frame.seq };
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
    if (error.code === 'unknown-node-ref') link.requestReset();
    return { ok: false, error };
  }
}

function deliverOk(link: PeerClockCodec, frame: Frame): Extract<Outcome, { ok: true }> {
  const outcome = deliver(link, frame.bytes);
  if (!outcome.ok) throw new Error(`expected a clean decode, got ${outcome.error.code}: ${outcome.error.message}`);
  expect(outcome.bodyIds).toEqual(frame.bodyIds);
  return outcome;
}

/** A node at one end of a link: its link object and its (growing) node clock. */
class End {
  link: PeerClockCodec;
  clock: Record<NodeId, number> = {};

  constructor(
    clock: Record<NodeId, number> = {},
    private readonly pageEntries?: number,
  ) {
    this.clock = { ...clock };
    this.link = this.newLink();
  }

  private newLink(): PeerClockCodec {
    return this.pageEntries === undefined ? new PeerClockCodec() : new PeerClockCodec({ headerPageEntries: this.pageEntries });
  }

  send(bodyIds: readonly NodeId[] = []): Frame {
    return encode(this.link, this.clock, bodyIds);
  }

  bump(node: NodeId, by = 1): void {
    this.clock = { ...this.clock, [node]: (this.clock[node] ?? 0) + by };
  }

  /** The process restarts: a new PeerClockCodec; the clock survives unless `clock` says otherwise. */
  restart(clock: Record<NodeId, number> = this.clock): void {
    this.link = this.newLink();
    this.clock = { ...clock };
  }
}

/** Lossless round trips: a sends to b, then b sends to a. */
function roundTrips(a: End, b: End, count: number): void {
  for (let i = 0; i < count; i++) {
    deliverOk(b.link, a.send());
    deliverOk(a.link, b.send());
  }
}

/** Two links with identical histories, so one can be fed garbage and compared with the other. */
function twins(): { a: End; b1: End; b2: End } {
  const a = new End({ x: 3, y: 4 });
  const b1 = new End({ z: 1 });
  const b2 = new End({ z: 1 });
  for (let i = 0; i < 3; i++) {
    const toB = a.send(['p', 'q']);
    deliverOk(b1.link, toB);
    deliverOk(b2.link, toB);
    const fromB = b1.send(['r']);
    expect(b2.send(['r']).bytes).toEqual(fromB.bytes);
    deliverOk(a.link, fromB);
  }
  return { a, b1, b2 };
}

const atMost = (view: VersionVector, truth: VersionVector) => ['before', 'equal'].includes(compare(view, truth));
const utf8 = (s: string) => new TextEncoder().encode(s);
const containsBytes = (haystack: Uint8Array, needle: Uint8Array) =>
  Buffer.from(haystack).indexOf(Buffer.from(needle)) !== -1;

// ---------------------------------------------------------------- the delta

describe('clock deltas', () => {
  it('the very first message carries the full clock, every id spelled out', () => {
    const a = new End({ 'tab-alpha': 4, 'tab-bravo': 9, 'tab-charlie': 1 });
    const b = new End();
    const first = a.send();
    for (const id of Object.keys(a.clock)) expect(containsBytes(first.bytes, utf8(id))).toBe(true);
    const received = deliverOk(b.link, first);
    expect(received.delta).toEqual(a.clock);
    expect(b.link.peerClock()).toEqual(a.clock);
  });

  it('keeps sending the full clock until the peer has acknowledged one', () => {
    const a = new End({ x: 1, y: 2 });
    const b = new End();
    deliverOk(b.link, a.send()); // b has it, but a has not heard back
    expect(deliverOk(b.link, a.send()).delta).toEqual({ x: 1, y: 2 });
  });

  it('after acknowledged round trips, a message carries only the entries that grew', () => {
    const a = new End({ x: 1, y: 2, z: 3 });
    const b = new End({ w: 5 });
    roundTrips(a, b, 3);
    a.bump('y', 4);
    a.bump('new-node', 1);
    expect(deliverOk(b.link, a.send()).delta).toEqual({ y: 6, 'new-node': 1 });
    expect(b.link.peerClock()).toEqual({ x: 1, y: 6, z: 3, 'new-node': 1 });
    expect(a.link.peerClock()).toEqual({ w: 5 });
  });

  it('a header with nothing changed is at most 4 bytes', () => {
    const a = new End({ x: 100, y: 2000, z: 30000 });
    const b = new End({ x: 7 });
    roundTrips(a, b, 3);
    const quiet = a.send();
    expect(deliverOk(b.link, quiet).delta).toEqual({});
    expect(quiet.clockBytes).toBeLessThanOrEqual(4);
    expect(quiet.clockBytes).toBe(quiet.bytes.length - 1); // everything but the body's length byte
  });

  it('sends entries as absolute values: a lost delta is repaired by the next one carrying that entry', () => {
    const a = new End({ x: 1 });
    const b = new End();
    roundTrips(a, b, 3);
    a.bump('x');
    a.send(); // lost
    a.bump('x');
    expect(deliverOk(b.link, a.send()).delta).toEqual({ x: 3 });
    expect(b.link.peerClock()).toEqual({ x: 3 });
  });

  it('an unacknowledged delta is repeated: growth since the acknowledged baseline travels until acked', () => {
    const a = new End({ x: 1, y: 1 });
    const b = new End();
    roundTrips(a, b, 3);
    a.bump('x');
    a.send(); // lost
    a.bump('y');
    // b never acked the frame carrying x: 2, so the next delta still carries it.
    expect(deliverOk(b.link, a.send()).delta).toEqual({ x: 2, y: 2 });
  });

  it('ignores an ack for a frame that fell out of the snapshot window: no snapshot, no baseline', () => {
    const withTwoSnapshots = () => {
      const end = new End({ x: 1, y: 1 });
      end.link = new PeerClockCodec({ maxSnapshots: 2 });
      return end;
    };
    // Control: the ack arrives while the snapshot is still kept, so the next header is a delta.
    const c = withTwoSnapshots();
    const d = new End();
    roundTrips(c, d, 1);
    deliverOk(d.link, c.send());
    deliverOk(c.link, d.send());
    c.bump('x');
    expect(deliverOk(d.link, c.send()).delta).toEqual({ x: 2 });
    // Same, but two more frames go out before the ack arrives: its snapshot is gone.
    const e = withTwoSnapshots();
    const f = new End();
    roundTrips(e, f, 1);
    deliverOk(f.link, e.send());
    e.send();
    e.send();
    deliverOk(e.link, f.send());
    e.bump('x');
    expect(deliverOk(f.link, e.send()).delta).toEqual({ x: 2, y: 1 });
  });

  it('never moves the baseline backwards: an old ack arriving late changes nothing', () => {
    const a = new End({ x: 1 });
    const b = new End();
    roundTrips(a, b, 3);
    a.bump('x');
    deliverOk(b.link, a.send());
    const oldAck = b.send(); // acks a's frame carrying x: 2
    a.bump('x');
    deliverOk(b.link, a.send());
    deliverOk(a.link, b.send()); // acks a's frame carrying x: 3
    deliverOk(a.link, oldAck); // late
    a.bump('y');
    expect(deliverOk(b.link, a.send()).delta).toEqual({ y: 1 });
  });
});

// ---------------------------------------------------------------- loss, reordering, duplication

describe('frames lost, reordered or duplicated', () => {
  it('a reordered older RESET frame does not move the view backwards', () => {
    const a = new End({ x: 1 });
    const b = new End();
    const older = a.send();
    a.bump('x', 5);
    const newer = a.send();
    deliverOk(b.link, newer);
    deliverOk(b.link, older);
    expect(b.link.peerClock()).toEqual({ x: 6 });
  });

  it('a duplicated frame changes nothing the first copy did not', () => {
    const { a, b1, b2 } = twins();
    a.bump('x');
    const frame = a.send(['someone']);
    deliverOk(b1.link, frame);
    deliverOk(b2.link, frame);
    deliverOk(b2.link, frame);
    expect(b2.link.peerClock()).toEqual(b1.link.peerClock());
    expect(b2.send().bytes).toEqual(b1.send().bytes);
  });

  it('an ack of a later frame that did not carry a definition does not confirm it', () => {
    const a = new End({ x: 1 });
    const b = new End();
    roundTrips(a, b, 3);
    a.send(['carol']); // defines carol: lost
    deliverOk(b.link, a.send()); // carries no definition of carol
    deliverOk(a.link, b.send()); // acks that later frame
    // If a took the ack as confirming carol, this would reach b without a definition.
    expect(deliverOk(b.link, a.send(['carol'])).bodyIds).toEqual(['carol']);
  });

  it('a definition stops travelling once the peer acknowledged a frame that carried it', () => {
    const a = new End({ x: 1 });
    const b = new End();
    roundTrips(a, b, 3);
    const id = 'tab-3f9a1c77e2d04b18';
    deliverOk(b.link, a.send([id, id]));
    const second = a.send([id]); // not acknowledged yet: still spelled out
    expect(containsBytes(second.bytes, utf8(id))).toBe(true);
    deliverOk(b.link, second);
    deliverOk(a.link, b.send()); // acknowledges `second`, which carried it
    const later = a.send([id]);
    expect(containsBytes(later.bytes, utf8(id))).toBe(false);
    expect(deliverOk(b.link, later).bodyIds).toEqual([id]);
  });

  it('one definition per frame: later uses of the same id in that frame refer back to it', () => {
    const a = new End();
    const b = new End();
    const frame = a.send(['dora', 'dora', 'dora']);
    const occurrences = Buffer.from(frame.bytes).toString('latin1').split('dora').length - 1;
    expect(occurrences).toBe(1);
    expect(deliverOk(b.link, frame).bodyIds).toEqual(['dora', 'dora', 'dora']);
  });

  it('a stale copy of an old reset request does not reset a healthy stream', () => {
    const a = new End({ x: 1, y: 1 });
    const b = new End();
    roundTrips(a, b, 3);
    b.link.requestReset();
    const request = b.send();
    deliverOk(a.link, request);
    roundTrips(a, b, 3);
    deliverOk(a.link, request); // duplicate, long after
    a.bump('x');
    expect(deliverOk(b.link, a.send()).delta).toEqual({ x: 2 });
  });
});

// ---------------------------------------------------------------- malformed input

describe('malformed input', () => {
  function headerBytes(build: (w: ByteWriter) => void): Uint8Array {
    const w = new ByteWriter();
    build(w);
    return w.finish();
  }

  /** The header's first varint for `count` entries and no flags (entryCount << 3 | flags). */
  const entries = (count: number) => count * 8;

  const cases: Array<[string, DecodeError['code'], Uint8Array]> = [
    ['an empty message', 'truncated', new Uint8Array()],
    ['a header cut after the flags', 'truncated', headerBytes((w) => w.varint(entries(1)))],
    ['seq 0', 'bad-value', headerBytes((w) => w.varint(0).varint(0).varint(0))],
    ['more entries than the limit', 'oversized', headerBytes((w) => w.varint(entries(MAX_HEADER_ENTRIES + 1)).varint(1).varint(0))],
    [
      'an id longer than the limit',
      'oversized',
      headerBytes((w) => w.varint(entries(1)).varint(9).varint(0).varint(1).string('x'.repeat(MAX_NODE_ID_BYTES + 1)).varint(1)),
    ],
    ['a ref index beyond the limit', 'oversized', headerBytes((w) => w.varint(entries(1)).varint(9).varint(0).varint((MAX_NODE_INDEX + 1) * 2 + 1).string('x').varint(1))],
    ['a ref to an index never defined', 'unknown-node-ref', headerBytes((w) => w.varint(entries(1)).varint(9).varint(0).varint(77 * 2).varint(1))],
    ['a zero counter', 'bad-value', headerBytes((w) => w.varint(entries(1)).varint(9).varint(0).varint(1).string('x').varint(0))],
    [
      'the same node twice',
      'bad-value',
      headerBytes((w) => w.varint(entries(2)).varint(9).varint(0).varint(1).string('x').varint(1).varint(0).varint(2)),
    ],
    [
      'one index defined as two ids',
      'bad-value',
      headerBytes((w) => w.varint(entries(2)).varint(9).varint(0).varint(1).string('x').varint(1).varint(1).string('y').varint(2)),
    ],
    ['an echo before seq 0', 'bad-value', headerBytes((w) => w.varint(0).varint(3).varint(1).varint(7 * 2))],
    ['a varint longer than 8 bytes', 'bad-value', Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])],
  ];

  it.each(cases)('rejects %s with DecodeError(%s)', (_name, code, bytes) => {
    const b = new End();
    const frame = b.link.beginInbound();
    let thrown: unknown;
    try {
      frame.readHeader(new ByteReader(bytes));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DecodeError);
    expect((thrown as DecodeError).code).toBe(code);
  });

  it('garbage leaves the link exactly as it was: the next valid frame is handled as if the garbage never came', () => {
    const { a, b1, b2 } = twins();
    // Decoded without the harness's reaction to unknown refs (requestReset), which is a deliberate change.
    const feed = (bytes: Uint8Array) => {
      const frame = b1.link.beginInbound();
      const r = new ByteReader(bytes);
      try {
        frame.readHeader(r);
        frame.readNodeRef(r);
      } catch (error) {
        expect(error).toBeInstanceOf(DecodeError);
      }
    };
    for (const [, , bytes] of cases) feed(bytes);
    const random = new SeededRandom(11);
    for (let i = 0; i < 300; i++) feed(Uint8Array.from({ length: random.int(40) }, () => random.int(256)));
    // A valid frame read but never committed changes nothing either.
    const uncommitted = b1.link.beginInbound();
    uncommitted.readHeader(new ByteReader(a.send(['s']).bytes));
    uncommitted.readNodeRef(new ByteReader(Uint8Array.from([0])));

    a.bump('x', 2);
    const valid = a.send(['p', 't']);
    expect(deliverOk(b1.link, valid).delta).toEqual(deliverOk(b2.link, valid).delta);
    expect(b1.link.peerClock()).toEqual(b2.link.peerClock());
    expect(b1.link.peerClock()).toEqual({ x: 5, y: 4 });
    expect(b1.send(['r']).bytes).toEqual(b2.send(['r']).bytes);
  });

  it('random bytes only ever raise DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const link = new PeerClockCodec();
        const frame = link.beginInbound();
        try {
          frame.readHeader(new ByteReader(bytes));
          frame.readNodeRef(new ByteReader(bytes));
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
        expect(link.peerClock()).toEqual({});
      }),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------- resets and restarts

describe('resets and restarts', () => {
  it('an unknown node ref leads to a reset request, after which the peer re-sends definitions', () => {
    const a = new End({ x: 2 });
    const b = new End();
    roundTrips(a, b, 2);
    deliverOk(b.link, a.send(['erin']));
    deliverOk(a.link, b.send()); // erin confirmed
    b.restart(); // b's new link knows no indices
    const outcome = deliver(b.link, a.send(['erin']).bytes);
    expect(outcome.ok === false && outcome.error.code).toBe('unknown-node-ref');
    deliverOk(a.link, b.send()); // carries the request
    expect(deliverOk(b.link, a.send(['erin'])).bodyIds).toEqual(['erin']);
    roundTrips(a, b, 3);
    expect(b.link.peerClock()).toEqual(a.clock);
  });

  it('a reset ends only with the ack of a RESET frame sent after the request it answers', () => {
    const a = new End({ x: 1, y: 1 });
    const b = new End();
    deliverOk(b.link, a.send()); // RESET (a new link)
    deliverOk(a.link, b.send());
    deliverOk(b.link, a.send()); // RESET, which b commits
    const heldAck = b.send(); // acks it, but is delayed
    b.link.requestReset();
    deliverOk(a.link, b.send()); // b asks again, after that RESET frame
    deliverOk(a.link, heldAck);
    a.bump('x');
    expect(deliverOk(b.link, a.send()).delta).toEqual({ x: 2, y: 1 });
    roundTrips(a, b, 2);
    a.bump('y');
    expect(deliverOk(b.link, a.send()).delta).toEqual({ y: 2 });
  });

  it('a peer that restarted with a smaller clock (storage lost) is no longer overestimated', () => {
    const a = new End({ x: 1 });
    const b = new End({ p: 10, q: 5 });
    roundTrips(a, b, 3);
    expect(a.link.peerClock()).toEqual({ p: 10, q: 5 });
    b.restart({ p: 3 });
    roundTrips(a, b, 3);
    expect(a.link.peerClock()).toEqual({ p: 3 });
    expect(b.link.peerClock()).toEqual(a.clock);
  });

  it("a restarted peer's reused seqs and indices are never confused with its previous incarnation's", () => {
    const a = new End();
    const b = new End();
    roundTrips(a, b, 3);
    deliverOk(a.link, b.send(['xavier'])); // old incarnation: index 0 = xavier, a now acks its seq 4
    b.restart();
    deliverOk(a.link, b.send()); // the new incarnation's first frame (seq 1) asks a to reset
    deliverOk(b.link, a.send()); // a's RESET frame, still acking the OLD incarnation's seq 4
    // The new incarnation gives index 0 to a different id; its frames up to seq 4 are all lost.
    for (let seq = 2; seq <= 4; seq++) b.send(['yolanda']);
    // a's header acks "seq 4" again. Taken for the new frame 4, it would confirm yolanda...
    deliverOk(b.link, a.send());
    // ...and this would reach a as a bare index 0, which a knows as xavier.
    expect(deliverOk(a.link, b.send(['yolanda'])).bodyIds).toEqual(['yolanda']);
    roundTrips(a, b, 3);
    expect(deliverOk(a.link, b.send(['yolanda', 'xavier'])).bodyIds).toEqual(['yolanda', 'xavier']);
  });

  it('a late copy of the frame that said the peer restarted does not restart the stream again', () => {
    const a = new End();
    const b = new End({ y: 1 });
    roundTrips(a, b, 10); // a acks b's seq 10
    b.restart();
    deliverOk(b.link, a.send()); // acks seq 10, which the new b has not sent: b flags its acks as foreign
    const earlier = b.send();
    b.bump('y', 5);
    const later = b.send();
    deliverOk(a.link, later); // a follows the new numbering from here
    deliverOk(a.link, earlier); // same signal, older frame: must not rewind the stream
    expect(a.link.peerClock()).toEqual({ y: 6 });
    roundTrips(a, b, 3);
    b.bump('y');
    expect(deliverOk(a.link, b.send()).delta).toEqual({ y: 7 });
  });

  it('when both ends restart in turn, an ack meant for the earlier incarnation of a frame is not taken for the later one', () => {
    const a = new End();
    const b = new End();
    roundTrips(a, b, 3); // a acks b's seq 3
    b.restart();
    deliverOk(a.link, b.send()); // b' asks for a reset
    // a's RESET frame (seq 4) still acks the OLD b's seq 3 and gives index 0 to xavier.
    deliverOk(b.link, a.send(['xavier']));
    a.restart();
    for (let i = 0; i < 3; i++) a.send(); // a' frames 1-3: lost
    deliverOk(a.link, b.send());
    deliverOk(a.link, b.send()); // a' has b's seq 3 now
    a.send(['yolanda']); // a' frame 4 acks b's seq 3 and gives index 0 to yolanda: lost
    // b acks "4, which carried ack 3": true of the old a's frame 4 and, by coincidence, of a' frame 4.
    deliverOk(a.link, b.send());
    // Taken at face value, a' would think yolanda's definition arrived and send a bare index 0,
    // which b knows as xavier.
    expect(deliverOk(b.link, a.send(['yolanda'])).bodyIds).toEqual(['yolanda']);
    roundTrips(a, b, 3);
    expect(deliverOk(b.link, a.send(['yolanda', 'zed'])).bodyIds).toEqual(['yolanda', 'zed']);
  });

  it('the new incarnation of a peer gets acks for its own frames (restart detection), not only once its seq passes the old one', () => {
    const a = new End({ x: 1 });
    const b = new End({ y: 1 });
    for (let i = 0; i < 40; i++) roundTrips(a, b, 1); // the old incarnation reached seq ~40
    b.restart();
    roundTrips(a, b, 3);
    b.bump('y');
    // A delta (not the full clock) proves b' got a verified ack within three round trips.
    b.bump('z');
    expect(deliverOk(a.link, b.send()).delta).toEqual({ y: 2, z: 1 });
    expect(a.link.peerClock()).toEqual(b.clock);
  });
});

// ---------------------------------------------------------------- paging

describe('paging: no ceiling on clock entries', () => {
  it('a clock of 5,000 entries never throws: it travels in pages of HEADER_PAGE_ENTRIES, one per acknowledged round trip', () => {
    const big = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`past-tab-${i}`, 1 + (i % 7)]));
    const a = new End(big);
    const b = new End({ mine: 1 });
    const carried: number[] = [];
    for (let round = 0; round < 7; round++) {
      carried.push(Object.keys(deliverOk(b.link, a.send()).delta).length);
      deliverOk(a.link, b.send());
    }
    expect(HEADER_PAGE_ENTRIES).toBe(1_024);
    // The first frame carries ack 0, so it cannot be acknowledged (see the module comment): page 1 goes twice.
    expect(carried).toEqual([1_024, 1_024, 1_024, 1_024, 1_024, 904, 0]);
    expect(b.link.peerClock()).toEqual(big);
  });

  it('an unacknowledged page is repeated, and a lost one costs a round trip, not an entry', () => {
    const a = new End({ p: 1, q: 2, r: 3, s: 4, t: 5 }, 2);
    const b = new End({}, 2);
    roundTrips(a, b, 1); // a's first frame carries ack 0 and cannot be acknowledged
    expect(deliverOk(b.link, a.send()).delta).toEqual({ p: 1, q: 2 });
    expect(deliverOk(b.link, a.send()).delta).toEqual({ p: 1, q: 2 }); // not acked yet: the same page
    deliverOk(a.link, b.send());
    a.send(); // lost: the next page is sent again
    expect(deliverOk(b.link, a.send()).delta).toEqual({ r: 3, s: 4 });
    deliverOk(a.link, b.send());
    expect(deliverOk(b.link, a.send()).delta).toEqual({ t: 5 });
    deliverOk(a.link, b.send());
    expect(deliverOk(b.link, a.send()).delta).toEqual({});
    expect(b.link.peerClock()).toEqual(a.clock);
  });

  it('pinned: the first paged frame is an ordinary RESET header with fewer entries (page of 2)', () => {
    const a = new End({ a: 1, b: 2, c: 3 }, 2);
    // count 2 << 3 | RESET_REQUEST | RESET, seq 1, ack 0, (ref 0 + def "a", 1), (ref 1 + def "b", 2), body length 0
    expect([...a.send().bytes]).toEqual([19, 1, 0, 1, 1, 97, 1, 3, 1, 98, 2, 0]);
  });

  it('a page size outside [1, MAX_HEADER_ENTRIES] is refused', () => {
    expect(() => new PeerClockCodec({ headerPageEntries: 0 })).toThrow(/headerPageEntries/);
    expect(() => new PeerClockCodec({ headerPageEntries: MAX_HEADER_ENTRIES + 1 })).toThrow(/headerPageEntries/);
  });
});

// ---------------------------------------------------------------- size target

describe('size', () => {
  it('keeps the median clock header at or under 16 bytes on a link that has seen 100 members', () => {
    const random = new SeededRandom(2024);
    const members = Array.from({ length: 100 }, (_, i) => `tab-${i.toString(16).padStart(2, '0')}-${(random.int(2 ** 30) + 2 ** 30).toString(16)}`);
    const history = () => Object.fromEntries(members.map((id) => [id, 1 + random.int(5000)]));
    const ends = [new End(history()), new End(history())] as const;
    const sizes: number[] = [];
    for (let i = 0; i < 400; i++) {
      const sender = ends[i % 2] as End;
      const receiver = ends[(i + 1) % 2] as End;
      const changed = 1 + random.int(3);
      for (let k = 0; k < changed; k++) sender.bump(members[random.int(members.length)] as NodeId, 1 + random.int(3));
      const frame = sender.send();
      sizes.push(frame.clockBytes);
      if (random.next() < 0.1) continue; // 10% loss
      deliverOk(receiver.link, frame);
    }
    expect(sizes[0]).toBeGreaterThan(100 * 16); // the first header is the full clock, ids included
    const sorted = [...sizes].sort((x, y) => x - y);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    expect(median).toBeLessThanOrEqual(16);
  });
});

// ---------------------------------------------------------------- properties

const UNIVERSE = Array.from({ length: 20 }, (_, i) => `node-${i.toString().padStart(2, '0')}-${'abcdefgh'.slice(i % 8)}`);
const side = fc.integer({ min: 0, max: 1 });
const member = fc.nat({ max: UNIVERSE.length - 1 });

type Op =
  | { readonly kind: 'grow'; readonly side: number; readonly node: number; readonly by: number }
  | { readonly kind: 'send'; readonly side: number; readonly body: readonly number[] }
  | { readonly kind: 'deliver'; readonly to: number; readonly pick: number; readonly duplicate: boolean }
  | { readonly kind: 'drop'; readonly to: number; readonly pick: number }
  | { readonly kind: 'restart'; readonly side: number };

const faultyOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('grow' as const), side, node: member, by: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('send' as const), side, body: fc.array(member, { maxLength: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('deliver' as const), to: side, pick: fc.nat(), duplicate: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), to: side, pick: fc.nat() }) },
);
const restartOp: fc.Arbitrary<Op> = fc.record({ kind: fc.constant('restart' as const), side });

/**
 * Runs a history of clock growth, sends and transport faults between two ends, checking after
 * every delivered frame that the receiver's view never exceeds what the sender had sent and that
 * every node ref decoded to the id written; then stops the faults and checks convergence.
 */
/** The entries of `theirs` above `own`: what a header must have told the owner of `own`. */
function beyond(theirs: VersionVector, own: VersionVector): VersionVector {
  const out: Record<NodeId, number> = {};
  for (const [node, counter] of Object.entries(theirs)) if (counter > (own[node] ?? 0)) out[node] = counter;
  return out;
}

/** The view has every entry the other end holds beyond the viewer's own clock, exactly, and nothing above the other end's clock. */
function expectInformed(view: VersionVector, theirs: VersionVector, own: VersionVector): void {
  expect(atMost(view, theirs)).toBe(true);
  const seen: Record<NodeId, number> = {};
  for (const node of Object.keys(beyond(theirs, own))) seen[node] = view[node] ?? 0;
  expect(seen).toEqual(beyond(theirs, own));
}

function runHistory(ops: readonly Op[], pageEntries?: number): void {
  const ends = [new End({}, pageEntries), new End({}, pageEntries)];
  const restarted = [false, false];
  const lastSent: VersionVector[] = [{}, {}];
  // inFlight[i]: frames on their way to end i.
  const inFlight: Frame[][] = [[], []];

  const receive = (to: number, frame: Frame): void => {
    const receiver = ends[to] as End;
    const outcome = deliver(receiver.link, frame.bytes);
    if (outcome.ok) {
      expect(outcome.bodyIds).toEqual(frame.bodyIds); // (3) refs decode to the ids written
    } else {
      // A definition is omitted only once the peer has it, so only a restarted end may lack one.
      expect(outcome.error.code).toBe('unknown-node-ref');
      expect(restarted[to]).toBe(true);
    }
    // (1) the view never runs ahead of the sender's clock at its latest send.
    expect(atMost(receiver.link.peerClock(), lastSent[1 - to] as VersionVector)).toBe(true);
  };
  const send = (from: number, body: readonly NodeId[]): Frame => {
    const sender = ends[from] as End;
    lastSent[from] = sender.clock;
    return sender.send(body);
  };

  for (const op of ops) {
    switch (op.kind) {
      case 'grow':
        (ends[op.side] as End).bump(UNIVERSE[op.node] as NodeId, op.by);
        break;
      case 'send':
        (inFlight[1 - op.side] as Frame[]).push(send(op.side, op.body.map((i) => UNIVERSE[i] as NodeId)));
        break;
      case 'deliver': {
        const queue = inFlight[op.to] as Frame[];
        if (queue.length === 0) break;
        const index = op.pick % queue.length;
        const frame = queue[index] as Frame;
        if (!op.duplicate) queue.splice(index, 1);
        receive(op.to, frame);
        break;
      }
      case 'drop': {
        const queue = inFlight[op.to] as Frame[];
        if (queue.length > 0) queue.splice(op.pick % queue.length, 1);
        break;
      }
      case 'restart':
        // The transport drops a crashed peer's in-flight frames (both directions: the connection is gone).
        (ends[op.side] as End).restart();
        restarted[op.side] = true;
        inFlight[0] = [];
        inFlight[1] = [];
        break;
    }
  }

  // Faults stop: whatever is still in flight arrives late, then the link runs losslessly.
  for (const to of [0, 1]) for (const frame of (inFlight[to] as Frame[]).splice(0)) receive(to, frame);
  // A paged clock needs one more acknowledged round trip per page.
  const rounds = 5 + (pageEntries === undefined ? 0 : Math.ceil(UNIVERSE.length / pageEntries));
  for (let round = 0; round < rounds; round++) {
    receive(1, send(0, [UNIVERSE[round % UNIVERSE.length] as NodeId]));
    receive(0, send(1, [UNIVERSE[(round + 1) % UNIVERSE.length] as NodeId]));
  }
  // (2) after lossless round trips each view holds exactly what the other end has beyond the
  // viewer's own clock (entries the viewer already covers are not restated)...
  const [a, b] = ends as [End, End];
  expectInformed(b.link.peerClock(), a.clock, b.clock);
  expectInformed(a.link.peerClock(), b.clock, a.clock);
  // ...and the link is back to deltas: one grown entry travels alone, if b lacks it.
  a.bump('node-00-abcdefgh', 1);
  const received = deliverOk(b.link, send(0, []));
  const grown = a.clock['node-00-abcdefgh'] as number;
  // Entries both ends hold equally may still travel once more (neither restates them to the other,
  // so neither knows the other has them until a baseline covers them); every entry is current, and
  // the grown one travels exactly when b lacks it.
  for (const [node, counter] of Object.entries(received.delta)) expect(counter).toBe(a.clock[node]);
  expect(received.delta['node-00-abcdefgh'] !== undefined).toBe(grown > (b.clock['node-00-abcdefgh'] ?? 0));
}

/**
 * Found by the restart property: b restarts twice, its new link commits frames from a's old link
 * that still acknowledge b's previous incarnation, then a restarts too. Echoing those acks as if
 * they were b's own made a's new link accept an ack meant for its predecessor's frame.
 */
const BOTH_ENDS_RESTART_IN_TURN: Op[] = [
  ...Array.from({ length: 4 }, (): Op => ({ kind: 'send', side: 1, body: [] })),
  { kind: 'send', side: 0, body: [] },
  { kind: 'send', side: 0, body: [] },
  { kind: 'send', side: 0, body: [] },
  { kind: 'deliver', to: 0, pick: 804225819, duplicate: false },
  { kind: 'grow', side: 0, node: 0, by: 1 },
  { kind: 'send', side: 0, body: [] },
  { kind: 'drop', to: 0, pick: 0 },
  { kind: 'restart', side: 1 },
  { kind: 'deliver', to: 0, pick: 0, duplicate: false },
  { kind: 'deliver', to: 0, pick: 0, duplicate: false },
  { kind: 'restart', side: 1 },
  { kind: 'send', side: 0, body: [] },
  { kind: 'grow', side: 0, node: 0, by: 1 },
  { kind: 'deliver', to: 1, pick: 0, duplicate: false },
  { kind: 'deliver', to: 0, pick: 0, duplicate: false },
  { kind: 'deliver', to: 0, pick: 0, duplicate: false },
  { kind: 'send', side: 0, body: [] },
  { kind: 'deliver', to: 1, pick: 0, duplicate: false },
  { kind: 'drop', to: 0, pick: 0 },
  { kind: 'drop', to: 0, pick: 0 },
  { kind: 'drop', to: 0, pick: 0 },
  { kind: 'grow', side: 0, node: 1, by: 1 },
  { kind: 'restart', side: 0 },
];

describe('properties under loss, reordering and duplication', () => {
  it('views never overshoot, refs always decode to the ids written, and views converge once faults stop', () => {
    fc.assert(fc.property(fc.array(faultyOp, { minLength: 20, maxLength: 120 }), (ops) => runHistory(ops)), { numRuns: 300 });
  });

  it('the same holds when either end restarts (new link, numbering from 1 again) at any point', () => {
    const withRestarts = fc.oneof({ weight: 12, arbitrary: faultyOp }, { weight: 1, arbitrary: restartOp });
    fc.assert(fc.property(fc.array(withRestarts, { minLength: 20, maxLength: 150 }), (ops) => runHistory(ops)), {
      numRuns: 300,
      examples: [[BOTH_ENDS_RESTART_IN_TURN]],
    });
  });

  it('the same holds, restarts included, when headers are paged (3 entries a page, 20 members)', () => {
    const withRestarts = fc.oneof({ weight: 12, arbitrary: faultyOp }, { weight: 1, arbitrary: restartOp });
    fc.assert(fc.property(fc.array(withRestarts, { minLength: 20, maxLength: 150 }), (ops) => runHistory(ops, 3)), {
      numRuns: 300,
      examples: [[BOTH_ENDS_RESTART_IN_TURN]],
    });
  });
});
