import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shownVersion } from '../src/core/merge.js';
import { recall } from '../src/core/recall.js';
import type { MemoryRecord, Visibility } from '../src/core/types.js';
import { compareDots } from '../src/core/vector-clock.js';
import { adjustConfidence } from '../src/core/visibility.js';

const visibility: Visibility = { visible: 3, total: 5, ratio: 0.6, penalty: 0.79, generation: 1 };

const records = fc.uniqueArray(
  fc.record({
    id: fc.stringMatching(/^[a-f0-9]{1,4}$/),
    content: fc.constantFrom('tomato seeds', 'berlin trip', 'tomato sauce recipe', 'call berlin office', ''),
    tags: fc.subarray(['garden', 'travel', 'Food']),
    confidence: fc.constantFrom(0, 0.25, 0.5, 0.8, 1),
    // Ties on purpose: an older store's monotone readings and hybrid timestamps one tick apart.
    writtenAt: fc.constantFrom(0, 5, 1.7e12, 1.7e12 + 1 / 1024, 1.7e12 + 1),
    writer: fc.constantFrom('a', 'b'),
    counter: fc.integer({ min: 1, max: 3 }),
    deleted: fc.boolean(),
  }),
  { selector: (r) => r.id, maxLength: 120 },
).map((items) =>
  items.map(
    (item): MemoryRecord => ({
      id: item.id,
      siblings: [{ dot: { node: item.writer, counter: item.counter }, context: {}, content: item.content, tags: item.tags, confidence: item.confidence, deleted: item.deleted, createdAt: 0, writtenAt: item.writtenAt, author: 'n', generation: 0 }],
    }),
  ),
);

/** What recall must return, written the obvious way: filter everything, sort everything, cut. */
function reference(all: readonly MemoryRecord[], text: string, tags: readonly string[], limit: number): string[] {
  const words = text.toLowerCase().split(/\s+/).filter((word) => word.length > 0);
  return all
    .map((record) => ({ record, shown: shownVersion(record) }))
    .filter(({ shown }) => !shown.deleted)
    .filter(({ shown }) => tags.every((tag) => shown.tags.map((t) => t.toLowerCase()).includes(tag.toLowerCase())))
    .filter(({ shown }) => words.every((word) => `${shown.content.toLowerCase()} ${shown.tags.join(' ').toLowerCase()}`.includes(word)))
    .map(({ record, shown }) => ({ id: record.id, adjusted: adjustConfidence(shown.confidence, visibility), writtenAt: shown.writtenAt, dot: shown.dot }))
    .sort((a, b) => b.adjusted - a.adjusted || b.writtenAt - a.writtenAt || compareDots(b.dot, a.dot) || (a.id < b.id ? -1 : 1))
    .slice(0, limit)
    .map((item) => item.id);
}

describe('recall', () => {
  it('returns exactly the best `limit` matches in rank order, for small and large limits alike', () => {
    fc.assert(
      fc.property(records, fc.constantFrom('', 'tomato', 'berlin', 'TOMATO sauce', 'garden'), fc.subarray(['garden', 'food']), fc.oneof(fc.integer({ min: 0, max: 70 }), fc.constant(1_000)), (all, text, tags, limit) => {
        const result = recall(all, { text, tags, limit }, visibility, () => false);
        expect(result.results.map((item) => item.id)).toEqual(reference(all, text, tags, limit));
      }),
      { numRuns: 500 },
    );
  });

  it('counts every match however small the limit, so a UI can say "N match" and page without reading them all', () => {
    fc.assert(
      fc.property(records, fc.constantFrom('', 'tomato', 'berlin'), fc.subarray(['garden', 'food']), fc.integer({ min: 0, max: 70 }), (all, text, tags, limit) => {
        expect(recall(all, { text, tags, limit }, visibility, () => false).matched).toBe(reference(all, text, tags, Number.MAX_SAFE_INTEGER).length);
      }),
      { numRuns: 300 },
    );
    const three: MemoryRecord[] = ['a', 'b', 'c'].map((id, index) => ({
      id,
      siblings: [{ dot: { node: 'w', counter: index + 1 }, context: {}, content: 'tomato', tags: [], confidence: 1, deleted: false, createdAt: 0, writtenAt: 1.7e12 + index, author: 'w', generation: 0 }],
    }));
    expect(recall(three, { limit: 1 }, visibility, () => false)).toMatchObject({ matched: 3, results: [{ id: 'c' }] });
    expect(recall(three, { text: 'pepper', limit: 1 }, visibility, () => false)).toMatchObject({ matched: 0, results: [] });
  });

  it('the order does not depend on the order the records are held in', () => {
    fc.assert(
      fc.property(records, fc.integer({ min: 1, max: 10 }), (all, limit) => {
        const forward = recall(all, { limit }, visibility, () => false).results.map((item) => item.id);
        const backward = recall([...all].reverse(), { limit }, visibility, () => false).results.map((item) => item.id);
        expect(backward).toEqual(forward);
      }),
    );
  });

  const memory = (id: string, writtenAt: number, dot = { node: 'n', counter: 1 }): MemoryRecord => ({
    id,
    siblings: [{ dot, context: {}, content: `memory ${id}`, tags: [], confidence: 1, deleted: false, createdAt: writtenAt, writtenAt, author: dot.node, generation: 0 }],
  });

  it('ranks by real write time across writers: a second ago in a fresh tab before minutes ago in an older one', () => {
    const freshTab = memory('fresh', Date.UTC(2026, 11, 2, 8, 30, 0), { node: 'tab-new', counter: 1 });
    const olderTab = memory('older', Date.UTC(2026, 11, 2, 8, 25, 0), { node: 'tab-old', counter: 900 });
    const legacy = memory('legacy', 123_456.789, { node: 'tab-old', counter: 5 });
    const result = recall([legacy, olderTab, freshTab], {}, visibility, () => false);
    expect(result.results.map((item) => item.id)).toEqual(['fresh', 'older', 'legacy']);
  });

  it('shows wall-clock epoch ms, and null for a time an older store kept as a monotone reading', () => {
    const written = Date.UTC(2026, 11, 2, 8, 30, 0) + 3 / 1024;
    const [fresh, legacy] = recall([memory('a', written), memory('b', 123_456.789)], {}, visibility, () => false).results;
    expect(fresh).toMatchObject({ id: 'a', createdAt: Date.UTC(2026, 11, 2, 8, 30, 0), writtenAt: Date.UTC(2026, 11, 2, 8, 30, 0), dot: { node: 'n', counter: 1 } });
    expect(legacy).toMatchObject({ id: 'b', createdAt: null, writtenAt: null });
  });

  it('breaks a tie in the same logical instant by the greater dot, not by id', () => {
    const at = Date.UTC(2026, 11, 2);
    const result = recall([memory('a', at, { node: 'x', counter: 1 }), memory('b', at, { node: 'y', counter: 1 })], {}, visibility, () => false);
    expect(result.results.map((item) => item.id)).toEqual(['b', 'a']);
  });
});
