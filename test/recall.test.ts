import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shownVersion } from '../src/core/merge.js';
import { recall } from '../src/core/recall.js';
import { RecallIndex } from '../src/core/recall-index.js';
import type { MemoryRecord, Version, Visibility } from '../src/core/types.js';
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

describe('the recall index', () => {
  // Words that contain one another ("to" in "tomato" in "tomatoes"), tags that differ only in
  // case, and numbered tokens so one query word ("n1") lies inside more tokens than the index looks
  // up posting by posting.
  const word = fc.oneof(fc.constantFrom('tomato', 'tomatoes', 'to', 'Berlin', 'trip', 'mat', 'o'), fc.integer({ min: 0, max: 40 }).map((n) => `n${n}`));
  // Mostly short texts (so a rewrite often keeps the text and changes only the tags), some long
  // ones full of numbered tokens.
  const content = fc.oneof(fc.array(word, { maxLength: 2 }), fc.array(word, { maxLength: 2 }), fc.array(word, { minLength: 16, maxLength: 30 })).chain((words) => fc.constantFrom(words.join(' '), words.join('  '), `\t${words.join('\n')} `));
  const version = fc.record({
    content,
    tags: fc.subarray(['garden', 'Garden', 'travel', 'food', 'n1']),
    confidence: fc.constantFrom(0, 0.3, 0.5, 1, 1.5),
    writtenAt: fc.constantFrom(5, 1.7e12, 1.7e12 + 1),
    writer: fc.constantFrom('a', 'b', 'c'),
    counter: fc.integer({ min: 1, max: 4 }),
    deleted: fc.boolean(),
  });
  const toVersion = (v: typeof version extends fc.Arbitrary<infer T> ? T : never): Version => ({
    dot: { node: v.writer, counter: v.counter }, context: {}, content: v.content, tags: v.tags, confidence: v.confidence, deleted: v.deleted, createdAt: 0, writtenAt: v.writtenAt, author: v.writer, generation: 0,
  });
  // An update replaces a record (a local write or forget: one version, maybe a tombstone), merges
  // in a concurrent sibling (a peer's write: the shown version may or may not change), or drops it.
  const update = fc.record({
    id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'),
    kind: fc.constantFrom('write', 'write', 'merge', 'forget', 'drop'),
    version,
  });
  const query = fc.record({
    text: fc.constantFrom('', 'to', 'TOMATO', 'tomatoes', 'mat o', 'n1', 'n', 'berlin trip', 'garden', 'o  to', 'n1 n', 'to n', 'absent'),
    tags: fc.subarray(['garden', 'GARDEN', 'food', 'n1', 'absent'], { maxLength: 2 }),
    limit: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant(100)),
  });

  it('returns exactly what the scan returns (results, order, matched) over random writes, forgets, merges with siblings and queries', () => {
    fc.assert(
      fc.property(fc.array(update, { maxLength: 60 }), fc.array(query, { minLength: 1, maxLength: 6 }), (updates, queries) => {
        const store = new Map<string, MemoryRecord>();
        const index = new RecallIndex();
        const inConflict = (record: MemoryRecord) => record.siblings.length > 1;
        updates.forEach((change, step) => {
          const current = store.get(change.id);
          const incoming = { ...toVersion(change.version), dot: { node: change.version.writer, counter: step + 1 } };
          if (change.kind === 'drop') {
            store.delete(change.id);
            index.delete(change.id);
            return;
          }
          const siblings = change.kind === 'merge' && current ? [...current.siblings.slice(-2), incoming] : [change.kind === 'forget' ? { ...incoming, deleted: true } : incoming];
          const record: MemoryRecord = { id: change.id, siblings };
          store.set(change.id, record);
          index.set(record);
          for (const q of queries) expect(index.recall(q, visibility, inConflict)).toEqual(recall(store.values(), q, visibility, inConflict));
        });
        expect(index.size).toBe([...store.values()].filter((record) => !shownVersion(record).deleted).length);
      }),
      { numRuns: 400 },
    );
  });

  it('still returns exactly what the scan returns after most memories were forgotten and the index renumbered what is left', () => {
    fc.assert(
      fc.property(fc.integer({ min: 70, max: 400 }), fc.double({ min: 0.6, max: 1, noNaN: true }), fc.array(query, { minLength: 1, maxLength: 4 }), (count, share, queries) => {
        const store = new Map<string, MemoryRecord>();
        const index = new RecallIndex();
        const inConflict = () => false;
        const words = ['tomato', 'to', 'Berlin', 'trip', 'n1', 'n12', 'garden'];
        for (let i = 0; i < count; i++) {
          const record: MemoryRecord = { id: `m${i}`, siblings: [{ ...toVersion({ content: `${words[i % 7]} ${words[(i * 3) % 7]} n${i % 40}`, tags: i % 2 ? ['garden'] : ['food'], confidence: 0.5, writtenAt: 1.7e12 + i, writer: 'a', counter: i + 1, deleted: false }) }] };
          store.set(record.id, record);
          index.set(record);
        }
        for (let i = 0; i < count * share; i++) {
          const record = store.get(`m${i}`) as MemoryRecord;
          index.set({ id: record.id, siblings: [{ ...(record.siblings[0] as Version), deleted: true, dot: { node: 'b', counter: i + 1 } }] });
          store.delete(record.id);
        }
        // A memory written after the renumbering lands in the renumbered index like any other.
        const late: MemoryRecord = { id: 'late', siblings: [toVersion({ content: 'tomato late', tags: ['garden'], confidence: 1, writtenAt: 1.8e12, writer: 'c', counter: 1, deleted: false })] };
        index.set(late);
        store.set(late.id, late);
        for (const q of queries) expect(index.recall(q, visibility, inConflict)).toEqual(recall(store.values(), q, visibility, inConflict));
        expect(index.size).toBe(store.size);
      }),
      { numRuns: 60 },
    );
  });

  it('finds a word inside a longer token and in a tag, ignoring case, and only live memories', () => {
    const index = new RecallIndex();
    const at = (id: string, content: string, tags: string[], deleted = false): MemoryRecord => ({
      id,
      siblings: [{ dot: { node: 'w', counter: 1 }, context: {}, content, tags, confidence: 1, deleted, createdAt: 0, writtenAt: id.charCodeAt(0), author: 'w', generation: 0 }],
    });
    index.set(at('a', 'Buy TOMATOES', ['garden']));
    index.set(at('b', 'berlin trip', ['Travel']));
    index.set(at('c', 'tomato sauce', []));
    expect(index.recall({ text: 'tomato' }, visibility, () => false)).toMatchObject({ matched: 2, results: [{ id: 'c' }, { id: 'a' }] });
    expect(index.recall({ text: 'travel' }, visibility, () => false)).toMatchObject({ matched: 1, results: [{ id: 'b' }] });
    expect(index.recall({ tags: ['TRAVEL'], text: 'trip' }, visibility, () => false)).toMatchObject({ matched: 1, results: [{ id: 'b' }] });
    index.set(at('c', 'tomato sauce', [], true));
    expect(index.recall({ text: 'tomato' }, visibility, () => false)).toMatchObject({ matched: 1, results: [{ id: 'a' }] });
    index.set(at('a', 'buy peppers', ['garden']));
    expect(index.recall({ text: 'tomato' }, visibility, () => false)).toMatchObject({ matched: 0, results: [] });
    expect(index.recall({ text: 'pepper', tags: ['garden'] }, visibility, () => false)).toMatchObject({ matched: 1, results: [{ id: 'a' }] });
  });
});
