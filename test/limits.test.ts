/**
 * One source of truth for limits (issue 10, item 1): whatever `remember` accepts, the wire can
 * carry to every receiver unchanged; whatever it cannot carry, `remember` refuses with a typed error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PeerClockCodec } from '../src/core/clock-codec.js';
import { EngramError } from '../src/core/errors.js';
import { LIMITS } from '../src/core/limits.js';
import type { MemoryRecord } from '../src/core/types.js';
import { decodeMessage, encodeMessage } from '../src/core/wire.js';
import { SimCluster } from '../src/sim/cluster.js';

/** Encodes a record as a peer would send it, and decodes it as the receiver would. */
function throughTheWire(record: MemoryRecord): { sent: Uint8Array; received: MemoryRecord; resent: Uint8Array } {
  const sent = encodeMessage(new PeerClockCodec(), {}, { type: 'replicate', records: [record] }).bytes;
  const decoded = decodeMessage(new PeerClockCodec(), sent).message;
  if (decoded.type !== 'replicate') throw new Error(`decoded a ${decoded.type}`);
  const received = decoded.records[0] as MemoryRecord;
  const resent = encodeMessage(new PeerClockCodec(), {}, { type: 'replicate', records: [received] }).bytes;
  return { sent, received, resent };
}

/** Random Unicode: astral and combining sequences, plus lone surrogates spliced in. */
const loneSurrogate = fc.constantFrom('\uD800', '\uDBFF', '\uDC00', '\uDFFF');
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme-composite', maxLength: 60 }),
  fc.string({ unit: fc.constantFrom('界', '😀', 'e\u0301', 'ﷺ', ' ', 'a'), maxLength: 70 }),
  fc.tuple(fc.string({ unit: 'grapheme', maxLength: 20 }), loneSurrogate, fc.string({ unit: 'grapheme', maxLength: 20 })).map(([a, s, b]) => a + s + b),
  fc.string({ unit: fc.oneof(fc.constantFrom('\uD83D', '\uDE00', 'x'), fc.string({ unit: 'binary', maxLength: 1 })), maxLength: 40 }),
);

async function oneNode(): Promise<SimCluster> {
  const sim = await SimCluster.create({ nodes: 1, seed: 7 });
  await sim.run(100);
  return sim;
}

describe('limits at the edge', () => {
  it('anything remember accepts round-trips through the wire byte for byte; anything else is refused as invalid-argument', async () => {
    const sim = await oneNode();
    const node = sim.node(0);
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(anyText, fc.array(anyText, { maxLength: 4 }), async (content, tags) => {
        let written: { id: string } | undefined;
        try {
          written = await sim.settle(node.remember({ content, tags }));
        } catch (error) {
          expect(error).toBeInstanceOf(EngramError);
          expect((error as EngramError).code).toBe('invalid-argument');
          refused++;
          return;
        }
        accepted++;
        const record = (await node.get(written.id)) as MemoryRecord;
        const version = record.siblings[0]!;
        expect(version.content).toBe(content);
        const { sent, received, resent } = throughTheWire(record);
        expect(received).toEqual(record);
        expect(received.siblings[0]!.content).toBe(content);
        expect(resent).toEqual(sent);
      }),
      { numRuns: 300, seed: 10 },
    );
    // Both outcomes occur, so the property is not vacuous on either side.
    expect(accepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });

  it('a tag of 60 CJK characters (180 bytes of UTF-8) is refused at remember, in the unit the wire reads', async () => {
    const sim = await oneNode();
    const tag = '界'.repeat(60);
    await expect(sim.settle(sim.node(0).remember({ content: 'x', tags: [tag] }))).rejects.toMatchObject({ code: 'invalid-argument' });
    // 42 of them (126 bytes) fit the wire's LIMITS.tagBytes and are accepted.
    const ok = await sim.settle(sim.node(0).remember({ content: 'x', tags: ['界'.repeat(42)] }));
    expect(LIMITS.tagBytes).toBe(128);
    expect(throughTheWire((await sim.node(0).get(ok.id))!).received.siblings[0]!.tags).toEqual(['界'.repeat(42)]);
  });

  it('content with a lone surrogate is refused with invalid-argument, never stored as something else', async () => {
    const sim = await oneNode();
    await expect(sim.settle(sim.node(0).remember({ content: 'x\uD800y' }))).rejects.toMatchObject({ code: 'invalid-argument' });
    expect(sim.node(0).recordCount).toBe(0);
  });

  it('4,000 emoji (16,000 bytes) are accepted and arrive identical', async () => {
    const sim = await oneNode();
    const content = '😀'.repeat(4_000);
    const { id } = await sim.settle(sim.node(0).remember({ content }));
    expect(throughTheWire((await sim.node(0).get(id))!).received.siblings[0]!.content).toBe(content);
  });

  it('a resolution is held to the same limits as a write', async () => {
    const sim = await oneNode();
    const { id } = await sim.settle(sim.node(0).remember({ content: 'x' }));
    await expect(sim.settle(sim.node(0).resolve(id, { content: 'y', tags: ['界'.repeat(43)] }))).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(sim.settle(sim.node(0).resolve(id, { content: '\uDFFFy' }))).rejects.toMatchObject({ code: 'invalid-argument' });
  });
});
