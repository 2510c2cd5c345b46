import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { consolidate } from '../src/core/consolidation.js';
import type { MemoryContent, MemoryRecord, Version } from '../src/core/types.js';

function version(node: string, content: Partial<MemoryContent>): Version {
  return {
    dot: { node, counter: 1 },
    context: {},
    content: content.content ?? '',
    tags: content.tags ?? [],
    confidence: content.confidence ?? 0.5,
    deleted: content.deleted ?? false,
    createdAt: 0,
    author: node,
    writtenAt: 0,
    generation: 0,
  };
}

function memory(id: string, content: Partial<MemoryContent>): MemoryRecord {
  return { id, siblings: [version('a', content)] };
}

const keysOf = (records: MemoryRecord[]): string[] => consolidate(records).map((gist) => gist.key).sort();

describe('consolidate: grouping', () => {
  it('groups memories that share a tag, whatever its case', () => {
    const gists = consolidate([
      memory('m1', { tags: ['Garden'] }),
      memory('m2', { tags: ['garden', 'spring'] }),
      memory('m3', { tags: ['kitchen'] }),
    ]);
    expect(gists.map((gist) => [gist.key, gist.memoryIds])).toEqual([['tag:garden', ['m1', 'm2']]]);
  });

  it('groups memories that share a salient term and ignores terms only one memory has', () => {
    const records = [
      memory('m1', { content: 'Tomatoes need water daily' }),
      memory('m2', { content: 'the tomatoes are ripe' }),
      memory('m3', { content: 'water the basil' }),
    ];
    expect(keysOf(records)).toEqual(['term:tomatoes', 'term:water']);
  });

  it('does not group by words shorter than four letters or by stopwords', () => {
    const records = [
      memory('m1', { content: 'the cat sat with them there' }),
      memory('m2', { content: 'The cat ran with them there' }),
    ];
    expect(consolidate(records)).toEqual([]);
  });

  it('counts non-English letters as letters', () => {
    const records = [memory('m1', { content: 'Café über alles' }), memory('m2', { content: 'ein Café' })];
    expect(keysOf(records)).toEqual(['term:café']);
  });

  it('leaves out forgotten memories', () => {
    const records = [
      memory('m1', { tags: ['garden'] }),
      memory('m2', { tags: ['garden'] }),
      memory('m3', { tags: ['garden'], deleted: true }),
    ];
    expect(consolidate(records)[0]?.memoryIds).toEqual(['m1', 'm2']);
  });

  it('judges a memory by its shown version: a less confident concurrent forget leaves it live', () => {
    const contested: MemoryRecord = {
      id: 'm2',
      siblings: [version('a', { tags: ['garden'], confidence: 0.9 }), version('b', { deleted: true, confidence: 0.4 })],
    };
    const forgotten: MemoryRecord = {
      id: 'm3',
      siblings: [version('a', { tags: ['garden'], confidence: 0.4 }), version('b', { deleted: true, confidence: 0.9 })],
    };
    const gists = consolidate([memory('m1', { tags: ['garden'] }), contested, forgotten]);
    expect(gists[0]?.memoryIds).toEqual(['m1', 'm2']);
  });

  it('joins two entries for one memory instead of counting it twice', () => {
    const older = memory('m1', { tags: ['garden'] });
    const newer: MemoryRecord = {
      id: 'm1',
      siblings: [{ ...version('a', { tags: ['garden'] }), dot: { node: 'a', counter: 2 }, context: { a: 1 } }],
    };
    expect(consolidate([older, newer])).toEqual([]);
  });

  it('merges two entries for one memory, so the more confident concurrent version decides in either order', () => {
    const sure: MemoryRecord = { id: 'm1', siblings: [version('a', { tags: ['garden'], confidence: 0.9 })] };
    const unsure: MemoryRecord = { id: 'm1', siblings: [version('b', { tags: ['kitchen'], confidence: 0.5 })] };
    const other = memory('m2', { tags: ['garden', 'kitchen'] });
    expect(keysOf([sure, unsure, other])).toEqual(['tag:garden']);
    expect(keysOf([unsure, sure, other])).toEqual(['tag:garden']);
  });
});

describe('consolidate: strength, summary and order', () => {
  it('gives each gist the noisy-or of its members confidences', () => {
    const gists = consolidate([
      memory('m1', { tags: ['x'], confidence: 0.5 }),
      memory('m2', { tags: ['x', 'y'], confidence: 0.8 }),
      memory('m3', { tags: ['x', 'y'], confidence: 0.9 }),
    ]);
    expect(gists.map((gist) => gist.key)).toEqual(['tag:x', 'tag:y']);
    expect(gists[0]?.strength).toBeCloseTo(1 - 0.5 * 0.2 * 0.1, 12);
    expect(gists[1]?.strength).toBeCloseTo(1 - 0.2 * 0.1, 12);
  });

  it('keeps a strength in [0, 1] even when a replicated confidence is out of range', () => {
    const gists = consolidate([memory('m1', { tags: ['x'], confidence: 1.5 }), memory('m2', { tags: ['x'], confidence: -3 })]);
    expect(gists[0]?.strength).toBe(1);
    const none = consolidate([memory('m1', { tags: ['x'], confidence: Number.NaN }), memory('m2', { tags: ['x'], confidence: 0 })]);
    expect(none[0]?.strength).toBe(0);
  });

  it('sorts by strength, strongest first, then by key', () => {
    const gists = consolidate([
      memory('m1', { tags: ['weak', 'beta', 'alpha'], confidence: 0.1 }),
      memory('m2', { tags: ['weak', 'beta', 'alpha'], confidence: 0.1 }),
      memory('m3', { tags: ['strong'], confidence: 0.9 }),
      memory('m4', { tags: ['strong'], confidence: 0.9 }),
    ]);
    expect(gists.map((gist) => gist.key)).toEqual(['tag:strong', 'tag:alpha', 'tag:beta', 'tag:weak']);
  });

  it('summarises a gist by its most frequent terms, ties in alphabetical order, at most three', () => {
    const gists = consolidate([
      memory('m1', { tags: ['trip'], content: 'Lisbon trams and pastries' }),
      memory('m2', { tags: ['trip'], content: 'Lisbon pastries at Belem' }),
      memory('m3', { tags: ['trip'], content: 'Lisbon river walk' }),
    ]);
    const trip = gists.find((gist) => gist.key === 'tag:trip');
    expect(trip?.summary).toBe('lisbon, pastries, belem');
  });

  it('summarises a group with no terms by what it shares', () => {
    const gists = consolidate([memory('m1', { tags: ['misc'], content: 'ok' }), memory('m2', { tags: ['misc'] })]);
    expect(gists[0]?.summary).toBe('misc');
  });

  it('keeps only the strongest maxGists and refuses a bad maxGists', () => {
    const records = [
      memory('m1', { tags: ['a', 'b'], confidence: 0.9 }),
      memory('m2', { tags: ['a', 'b'], confidence: 0.9 }),
      memory('m3', { tags: ['b'], confidence: 0.9 }),
    ];
    expect(consolidate(records, { maxGists: 1 }).map((gist) => gist.key)).toEqual(['tag:b']);
    expect(consolidate(records, { maxGists: 0 })).toEqual([]);
    expect(() => consolidate(records, { maxGists: -1 })).toThrow(RangeError);
    expect(() => consolidate(records, { maxGists: 1.5 })).toThrow(RangeError);
  });
});

describe('consolidate: determinism', () => {
  it('gives bit-identical strengths whatever order the records come in', () => {
    // In floating point (1 - 0.1)(1 - 0.2)(1 - 0.85) rounds differently depending on the order
    // of the factors (0.892 vs 0.8919999999999999), so an unsorted product would disagree.
    const records = [
      memory('m1', { tags: ['x'], confidence: 0.1 }),
      memory('m2', { tags: ['x'], confidence: 0.2 }),
      memory('m3', { tags: ['x'], confidence: 0.85 }),
    ];
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    const strengths = new Set(orders.map((order) => consolidate(order.map((i) => records[i]!))[0]?.strength));
    expect(strengths.size).toBe(1);
    expect([...strengths][0]).toBeCloseTo(0.892, 12);
  });

  it('gives a strength that depends only on the confidences, not on which memories hold them', () => {
    const holding = (confidences: number[]): number | undefined =>
      consolidate(confidences.map((confidence, i) => memory(`m${i}`, { tags: ['x'], confidence })))[0]?.strength;
    const strengths = new Set([holding([0.1, 0.2, 0.85]), holding([0.85, 0.1, 0.2]), holding([0.2, 0.85, 0.1])]);
    expect(strengths.size).toBe(1);
  });

  it('gives deep-equal output for the same records in any order (property)', () => {
    const words = ['garden', 'tomato', 'water', 'basil', 'kitchen', 'lisbon', 'trip', 'with', 'cat'];
    const recordArb = fc.record({
      content: fc.array(fc.constantFrom(...words), { maxLength: 6 }).map((chosen) => chosen.join(' ')),
      tags: fc.array(fc.constantFrom('home', 'Home', 'work', 'todo'), { maxLength: 2 }),
      confidence: fc.double({ min: 0, max: 1, noNaN: true }),
      deleted: fc.boolean(),
    });
    const arb = fc
      .uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 4 }), recordArb), {
        selector: ([id]) => id,
        maxLength: 12,
      })
      .map((entries) => entries.map(([id, content]) => memory(id, content)))
      .chain((records) => fc.tuple(fc.constant(records), fc.shuffledSubarray(records, { minLength: records.length })));
    fc.assert(
      fc.property(arb, ([records, reordered]) => {
        expect(consolidate(reordered)).toEqual(consolidate(records));
      }),
      { numRuns: 300 },
    );
  });
});
