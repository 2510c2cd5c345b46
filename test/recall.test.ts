import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shownVersion } from '../src/core/merge.js';
import { recall } from '../src/core/recall.js';
import type { MemoryRecord, Visibility } from '../src/core/types.js';
import { adjustConfidence } from '../src/core/visibility.js';

const visibility: Visibility = { visible: 3, total: 5, ratio: 0.6, penalty: 0.79, generation: 1 };

const records = fc.uniqueArray(
  fc.record({
    id: fc.stringMatching(/^[a-f0-9]{1,4}$/),
    content: fc.constantFrom('tomato seeds', 'berlin trip', 'tomato sauce recipe', 'call berlin office', ''),
    tags: fc.subarray(['garden', 'travel', 'Food']),
    confidence: fc.constantFrom(0, 0.25, 0.5, 0.8, 1),
    writtenAt: fc.integer({ min: 0, max: 5 }),
    deleted: fc.boolean(),
  }),
  { selector: (r) => r.id, maxLength: 120 },
).map((items) =>
  items.map(
    (item): MemoryRecord => ({
      id: item.id,
      siblings: [{ dot: { node: 'n', counter: 1 }, context: {}, content: item.content, tags: item.tags, confidence: item.confidence, deleted: item.deleted, createdAt: 0, writtenAt: item.writtenAt, author: 'n', generation: 0 }],
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
    .map(({ record, shown }) => ({ id: record.id, adjusted: adjustConfidence(shown.confidence, visibility), writtenAt: shown.writtenAt }))
    .sort((a, b) => b.adjusted - a.adjusted || b.writtenAt - a.writtenAt || (a.id < b.id ? -1 : 1))
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

  it('the order does not depend on the order the records are held in', () => {
    fc.assert(
      fc.property(records, fc.integer({ min: 1, max: 10 }), (all, limit) => {
        const forward = recall(all, { limit }, visibility, () => false).results.map((item) => item.id);
        const backward = recall([...all].reverse(), { limit }, visibility, () => false).results.map((item) => item.id);
        expect(backward).toEqual(forward);
      }),
    );
  });
});
