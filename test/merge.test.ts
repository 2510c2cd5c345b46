import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recordDigest, toHex, versionDigest } from '../src/core/digest.js';
import {
  addVersion,
  canonicalSiblings,
  conflictOf,
  includes,
  mergeRecords,
  recordContext,
  recordsEqual,
  shownVersion,
} from '../src/core/merge.js';
import type { MemoryContent, MemoryRecord, Version, VersionVector } from '../src/core/types.js';
import { covers, dotKey } from '../src/core/vector-clock.js';

const ID = 'memory-1';

function write(
  node: string,
  counter: number,
  context: VersionVector,
  content: Partial<MemoryContent> = {},
): Version {
  return {
    dot: { node, counter },
    context,
    content: content.content ?? `text from ${node}:${counter}`,
    tags: content.tags ?? [],
    confidence: content.confidence ?? 0.8,
    deleted: content.deleted ?? false,
    createdAt: 1_000,
    author: 'a',
    writtenAt: 1_000 + counter,
    generation: 0,
  };
}

function recordOf(...versions: Version[]): MemoryRecord {
  let record: MemoryRecord | undefined;
  for (const version of versions) record = addVersion(record, ID, version);
  if (record === undefined) throw new Error('recordOf needs a version');
  return record;
}

const dotsOf = (record: MemoryRecord): string[] => record.siblings.map((sibling) => dotKey(sibling.dot));

describe('merge: specification by example', () => {
  it('a later write by a writer who saw the earlier one supersedes it', () => {
    const first = write('a', 1, {});
    const second = write('b', 1, recordContext(recordOf(first)));
    expect(dotsOf(recordOf(first, second))).toEqual(['b:1']);
    expect(dotsOf(recordOf(second, first))).toEqual(['b:1']);
  });

  it('two concurrent edits are both kept, in dot order', () => {
    const base = recordOf(write('a', 1, {}));
    const fromB = write('b', 1, recordContext(base), { content: 'B says' });
    const fromA = write('a', 2, recordContext(base), { content: 'A says' });
    expect(dotsOf(mergeRecords(recordOf(fromB), recordOf(fromA)))).toEqual(['a:2', 'b:1']);
  });

  it('a write made after seeing both concurrent edits supersedes both (resolution)', () => {
    const fromA = write('a', 1, {});
    const fromB = write('b', 1, {});
    const both = recordOf(fromA, fromB);
    const resolution = write('c', 1, recordContext(both), { content: 'resolved' });
    expect(recordContext(both)).toEqual({ a: 1, b: 1 });
    expect(addVersion(both, ID, resolution).siblings).toEqual([resolution]);
  });

  it('an edit concurrent with a forget is kept beside the tombstone, never dropped', () => {
    const base = recordOf(write('a', 1, {}));
    const forget = write('a', 2, recordContext(base), { deleted: true, content: '' });
    const edit = write('b', 1, recordContext(base), { content: 'edited' });
    const merged = mergeRecords(addVersion(base, ID, forget), addVersion(base, ID, edit));
    expect(merged.siblings).toEqual([forget, edit]);
    expect(conflictOf(merged, 0.1)?.siblings).toEqual([forget, edit]);
  });

  it('a forget made after seeing the edit replaces it', () => {
    const edit = write('b', 1, {});
    const forget = write('a', 1, recordContext(recordOf(edit)), { deleted: true });
    expect(recordOf(edit, forget).siblings).toEqual([forget]);
  });

  it('a version delivered late that is already superseded changes nothing', () => {
    const first = write('a', 1, {});
    const second = write('a', 2, { a: 1 });
    const record = recordOf(second);
    expect(includes(record, recordOf(first))).toBe(true);
    expect(addVersion(record, ID, first)).toEqual(record);
  });

  it('refuses to merge replicas of different memories', () => {
    const other: MemoryRecord = { id: 'memory-2', siblings: [write('a', 1, {})] };
    expect(() => mergeRecords(recordOf(write('a', 1, {})), other)).toThrow(RangeError);
    expect(() => addVersion(other, ID, write('b', 1, {}))).toThrow(RangeError);
    expect(() => includes(recordOf(write('a', 1, {})), other)).toThrow(RangeError);
  });

  it('nothing is included in a record that does not exist yet, and its context is empty', () => {
    expect(includes(undefined, recordOf(write('a', 1, {})))).toBe(false);
    expect(recordContext(undefined)).toEqual({});
  });

  it('a record context covers every sibling, their contexts included', () => {
    const record = recordOf(write('a', 3, { c: 2 }), write('b', 1, { a: 1, c: 4 }));
    expect(recordContext(record)).toEqual({ a: 3, b: 1, c: 4 });
  });
});

describe('merge: two versions under one dot (a bug or a hostile peer)', () => {
  const honest = write('a', 1, {}, { content: 'honest' });
  const forged = write('a', 1, {}, { content: 'forged', confidence: 1 });
  const smaller = toHex(versionDigest(honest)) < toHex(versionDigest(forged)) ? honest : forged;

  it('keeps the one with the smaller digest, whatever the arrival order', () => {
    expect(canonicalSiblings([honest, forged])).toEqual([smaller]);
    expect(canonicalSiblings([forged, honest])).toEqual([smaller]);
    expect(mergeRecords(recordOf(honest), recordOf(forged))).toEqual(mergeRecords(recordOf(forged), recordOf(honest)));
  });

  it('includes() says the loser adds nothing and the winner does', () => {
    const loser = smaller === honest ? forged : honest;
    expect(includes(recordOf(smaller), recordOf(loser))).toBe(true);
    expect(includes(recordOf(loser), recordOf(smaller))).toBe(false);
  });
});

describe('merge: forged contexts cannot erase a record', () => {
  it('two versions that each claim to have seen the other both stay', () => {
    const x = write('a', 1, { b: 1 });
    const y = write('b', 1, { a: 1 });
    expect(canonicalSiblings([x, y])).toEqual([x, y]);
  });
});

describe('shownVersion', () => {
  it('shows the most confident sibling', () => {
    const sure = write('a', 1, {}, { confidence: 0.9 });
    const unsure = write('b', 1, {}, { confidence: 0.5 });
    expect(shownVersion(recordOf(unsure, sure))).toBe(sure);
  });

  it('breaks a confidence tie by the greatest dot', () => {
    const fromA = write('a', 7, {}, { confidence: 0.6 });
    const fromB = write('b', 1, {}, { confidence: 0.6 });
    expect(shownVersion(recordOf(fromB, fromA))).toBe(fromB);
  });

  it('shows a tombstone like any version when it is the most confident', () => {
    const forget = write('a', 1, {}, { confidence: 0.95, deleted: true });
    expect(shownVersion(recordOf(write('b', 1, {}, { confidence: 0.9 }), forget))).toBe(forget);
  });

  it('refuses a record with no versions', () => {
    expect(() => shownVersion({ id: ID, siblings: [] })).toThrow(RangeError);
  });
});

describe('conflictOf', () => {
  const pair = (left: Partial<MemoryContent>, right: Partial<MemoryContent>): MemoryRecord =>
    recordOf(write('a', 1, {}, left), write('b', 1, {}, right));

  it('reports differing siblings within the margin: 0.8 vs 0.75 is a conflict', () => {
    const conflict = conflictOf(pair({ content: 'x', confidence: 0.8 }, { content: 'y', confidence: 0.75 }), 0.1);
    expect(conflict?.shown.content).toBe('x');
    expect(conflict?.siblings.map((sibling) => sibling.content)).toEqual(['x', 'y']);
  });

  it('resolves siblings further apart by confidence but keeps both: 0.9 vs 0.5 shows 0.9', () => {
    const record = pair({ content: 'x', confidence: 0.5 }, { content: 'y', confidence: 0.9 });
    expect(conflictOf(record, 0.1)).toBeUndefined();
    expect(shownVersion(record).confidence).toBe(0.9);
    expect(record.siblings).toHaveLength(2);
  });

  it('counts a difference written exactly at the margin as within it (0.8 vs 0.7 at 0.1)', () => {
    expect(conflictOf(pair({ content: 'x', confidence: 0.8 }, { content: 'y', confidence: 0.7 }), 0.1)).toBeDefined();
    expect(conflictOf(pair({ content: 'x', confidence: 0.8 }, { content: 'y', confidence: 0.69 }), 0.1)).toBeUndefined();
  });

  it('leaves out of the conflict the siblings beyond the margin', () => {
    const record = recordOf(
      write('a', 1, {}, { content: 'x', confidence: 0.8 }),
      write('b', 1, {}, { content: 'y', confidence: 0.75 }),
      write('c', 1, {}, { content: 'z', confidence: 0.2 }),
    );
    expect(conflictOf(record, 0.1)?.siblings.map((sibling) => sibling.content)).toEqual(['x', 'y']);
  });

  it('is no conflict when concurrent siblings say the same thing, tags in any order', () => {
    const same = pair({ content: 'x', tags: ['p', 'q'] }, { content: 'x', tags: ['q', 'p', 'q'] });
    expect(conflictOf(same, 0.1)).toBeUndefined();
    expect(conflictOf(pair({ content: 'x', tags: ['p'] }, { content: 'x', tags: ['q'] }), 0.1)).toBeDefined();
  });

  it('is no conflict when two nodes forgot the memory concurrently', () => {
    const forgets = pair({ deleted: true, content: 'old' }, { deleted: true, content: '' });
    expect(conflictOf(forgets, 0.1)).toBeUndefined();
  });

  it('is no conflict for a single version', () => {
    expect(conflictOf(recordOf(write('a', 1, {})), 0.1)).toBeUndefined();
  });

  it('refuses a negative or NaN margin', () => {
    const record = pair({ content: 'x' }, { content: 'y' });
    expect(() => conflictOf(record, -0.1)).toThrow(RangeError);
    expect(() => conflictOf(record, Number.NaN)).toThrow(RangeError);
  });
});

// ---- Random causal histories -------------------------------------------------------------------

const NODES = ['a', 'b', 'c', 'd'] as const;
const CONTENTS = ['buy milk', 'buy oat milk', 'call Ada', ''] as const;
const TAGS = ['home', 'work', 'todo'] as const;
const CONFIDENCES = [0.5, 0.7, 0.75, 0.8, 0.9, 1] as const;

type Step =
  | { kind: 'write'; node: number; content: number; tags: number[]; confidence: number; deleted: boolean }
  | { kind: 'sync'; from: number; to: number }
  | { kind: 'deliver'; version: number; to: number }
  | { kind: 'forge'; version: number; content: number; confidence: number };

interface History {
  /** Every version ever written (or forged), in order. */
  readonly log: readonly Version[];
  /** Each node's replica at the end; undefined for a node that never saw the record. */
  readonly nodeStates: readonly MemoryRecord[];
}

function stepArb(nodeCount: number, forgeries: boolean): fc.Arbitrary<Step> {
  const node = fc.nat({ max: nodeCount - 1 });
  const steps: fc.Arbitrary<Step>[] = [
    fc.record({
      kind: fc.constant('write' as const),
      node,
      content: fc.nat({ max: CONTENTS.length - 1 }),
      tags: fc.uniqueArray(fc.nat({ max: TAGS.length - 1 }), { maxLength: 2 }),
      confidence: fc.constantFrom(...CONFIDENCES),
      deleted: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('sync' as const), from: node, to: node }),
    fc.record({ kind: fc.constant('deliver' as const), version: fc.nat(), to: node }),
  ];
  if (forgeries) {
    steps.push(
      fc.record({
        kind: fc.constant('forge' as const),
        version: fc.nat(),
        content: fc.nat({ max: CONTENTS.length - 1 }),
        confidence: fc.constantFrom(...CONFIDENCES),
      }),
    );
  }
  return fc.oneof(...steps);
}

/**
 * Replays steps on 2-4 nodes: each write's context is what its node has seen (recordContext), as
 * a real node does, so dots are unique and consistent; deliveries and syncs move versions between
 * nodes in any order. A forge copies a logged version's dot and context with other content.
 */
function replay(nodeCount: number, steps: readonly Step[]): History {
  const states: (MemoryRecord | undefined)[] = Array.from({ length: nodeCount }, () => undefined);
  const counters = Array.from({ length: nodeCount }, () => 0);
  const log: Version[] = [];
  steps.forEach((step, index) => {
    switch (step.kind) {
      case 'write': {
        const counter = (counters[step.node] ?? 0) + 1;
        counters[step.node] = counter;
        const version: Version = {
          dot: { node: NODES[step.node] as string, counter },
          context: recordContext(states[step.node]),
          content: CONTENTS[step.content] as string,
          tags: step.tags.map((tag) => TAGS[tag] as string),
          confidence: step.confidence,
          deleted: step.deleted,
          createdAt: 0,
          author: 'a',
          writtenAt: index,
          generation: 0,
        };
        states[step.node] = addVersion(states[step.node], ID, version);
        log.push(version);
        break;
      }
      case 'sync': {
        const sent = states[step.from];
        const held = states[step.to];
        if (sent !== undefined) states[step.to] = held === undefined ? sent : mergeRecords(held, sent);
        break;
      }
      case 'deliver': {
        const version = log[step.version % Math.max(1, log.length)];
        if (version !== undefined) states[step.to] = addVersion(states[step.to], ID, version);
        break;
      }
      case 'forge': {
        const original = log[step.version % Math.max(1, log.length)];
        if (original !== undefined) {
          log.push({
            ...original,
            content: `forged ${CONTENTS[step.content] as string}`,
            confidence: step.confidence,
          });
        }
        break;
      }
    }
  });
  return { log, nodeStates: states.filter((state): state is MemoryRecord => state !== undefined) };
}

function historyArb(forgeries = false): fc.Arbitrary<History> {
  return fc.integer({ min: 2, max: 4 }).chain((nodeCount) => {
    const firstWrite = stepArb(nodeCount, false).filter((step) => step.kind === 'write');
    return fc
      .tuple(firstWrite, fc.array(stepArb(nodeCount, forgeries), { maxLength: 30 }))
      .map(([first, rest]) => replay(nodeCount, [first, ...rest]));
  });
}

/** A replica some node could hold: a node's final state, or any subset of the log received in any order. */
function replicaArb(history: History): fc.Arbitrary<MemoryRecord> {
  return fc.oneof(
    fc.constantFrom(...history.nodeStates),
    fc
      .shuffledSubarray(history.log as Version[], { minLength: 1 })
      .map((versions) => recordOf(...versions)),
  );
}

function replicasArb(count: number, forgeries = false): fc.Arbitrary<MemoryRecord[]> {
  return historyArb(forgeries).chain((history) =>
    fc.array(replicaArb(history), { minLength: count, maxLength: count }),
  );
}

/** Merge-then-compare, written independently of the module, for checking its laws. */
function expectSameRecord(actual: MemoryRecord, expected: MemoryRecord): void {
  expect(recordsEqual(actual, expected)).toBe(true);
  expect(actual).toEqual(expected);
}

const RUNS = { numRuns: 300 };

describe('merge laws over random causal histories on 2-4 nodes', () => {
  it('merge is commutative', () => {
    fc.assert(
      fc.property(replicasArb(2), ([a, b]) => {
        expectSameRecord(mergeRecords(a!, b!), mergeRecords(b!, a!));
      }),
      RUNS,
    );
  });

  it('merge is associative', () => {
    fc.assert(
      fc.property(replicasArb(3), ([a, b, c]) => {
        expectSameRecord(mergeRecords(mergeRecords(a!, b!), c!), mergeRecords(a!, mergeRecords(b!, c!)));
      }),
      RUNS,
    );
  });

  it('merge is idempotent', () => {
    fc.assert(
      fc.property(replicasArb(1), ([a]) => {
        expectSameRecord(mergeRecords(a!, a!), a!);
      }),
      RUNS,
    );
  });

  it('nothing is silently dropped: a version leaves only when a sibling of the result supersedes it', () => {
    fc.assert(
      fc.property(replicasArb(2), ([a, b]) => {
        const merged = mergeRecords(a!, b!);
        for (const version of [...a!.siblings, ...b!.siblings]) {
          const kept = merged.siblings.some((sibling) => isDeepStrictEqual(sibling, version));
          const superseded = merged.siblings.some((sibling) => covers(sibling.context, version.dot));
          expect(kept || superseded).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('no sibling of a merge supersedes another, and dots are unique and sorted', () => {
    fc.assert(
      fc.property(replicasArb(2), ([a, b]) => {
        const { siblings } = mergeRecords(a!, b!);
        for (const x of siblings) {
          for (const y of siblings) if (x !== y) expect(covers(x.context, y.dot)).toBe(false);
        }
        const keys = siblings.map((sibling) => [sibling.dot.node, sibling.dot.counter] as const);
        const sorted = keys.slice().sort(([na, ca], [nb, cb]) => (na < nb ? -1 : na > nb ? 1 : ca - cb));
        expect(keys).toEqual(sorted);
        expect(new Set(siblings.map((sibling) => dotKey(sibling.dot))).size).toBe(siblings.length);
      }),
      RUNS,
    );
  });

  it('includes(a, b) holds exactly when merging b into a leaves a unchanged', () => {
    const seen = { included: 0, notIncluded: 0 };
    fc.assert(
      fc.property(replicasArb(2), ([a, b]) => {
        const unchanged = recordsEqual(mergeRecords(a!, b!), a!);
        expect(includes(a!, b!)).toBe(unchanged);
        seen[unchanged ? 'included' : 'notIncluded']++;
      }),
      RUNS,
    );
    // Both answers must actually be exercised, or the agreement says little.
    expect(seen.included).toBeGreaterThan(10);
    expect(seen.notIncluded).toBeGreaterThan(10);
  });

  it('merging all replicas in any order gives the same record', () => {
    const arb = fc.integer({ min: 2, max: 5 }).chain((count) =>
      replicasArb(count).chain((replicas) =>
        fc.tuple(fc.constant(replicas), fc.shuffledSubarray(replicas, { minLength: count, maxLength: count })),
      ),
    );
    fc.assert(
      fc.property(arb, ([replicas, reordered]) => {
        const fold = (records: MemoryRecord[]): MemoryRecord => records.reduce((acc, record) => mergeRecords(acc, record));
        expectSameRecord(fold(reordered), fold(replicas));
      }),
      RUNS,
    );
  });

  it('a write whose context is the record context supersedes every sibling', () => {
    fc.assert(
      fc.property(replicasArb(1), ([record]) => {
        const next = write('z', 1, recordContext(record!));
        expect(addVersion(record!, ID, next).siblings).toEqual([next]);
      }),
      RUNS,
    );
  });

  it('equal records show the same version and report the same conflict, however they were built', () => {
    // Rebuilt from cloned versions with context keys in reverse order: equal, but no shared objects.
    const rebuilt = (record: MemoryRecord): MemoryRecord =>
      recordOf(
        ...record.siblings
          .slice()
          .reverse()
          .map((sibling) => ({
            ...structuredClone(sibling),
            context: Object.fromEntries(Object.entries(sibling.context).reverse()),
          })),
      );
    fc.assert(
      fc.property(replicasArb(2), fc.constantFrom(0, 0.05, 0.1, 0.3), ([a, b], margin) => {
        const one = mergeRecords(a!, b!);
        const other = rebuilt(mergeRecords(b!, a!));
        expect(recordsEqual(one, other)).toBe(true);
        expect(shownVersion(other)).toEqual(shownVersion(one));
        expect(conflictOf(other, margin)).toEqual(conflictOf(one, margin));
      }),
      RUNS,
    );
  });

  it('recordsEqual agrees with recordDigest', () => {
    fc.assert(
      fc.property(replicasArb(2), ([a, b]) => {
        expect(recordsEqual(a!, b!)).toBe(toHex(recordDigest(a!)) === toHex(recordDigest(b!)));
      }),
      RUNS,
    );
  });
});

describe('merge laws when a hostile peer forges versions under existing dots', () => {
  it('merge stays commutative, associative and idempotent, and includes() stays exact', () => {
    fc.assert(
      fc.property(replicasArb(3, true), ([a, b, c]) => {
        expectSameRecord(mergeRecords(a!, b!), mergeRecords(b!, a!));
        expectSameRecord(mergeRecords(mergeRecords(a!, b!), c!), mergeRecords(a!, mergeRecords(b!, c!)));
        expectSameRecord(mergeRecords(a!, a!), a!);
        expect(includes(a!, b!)).toBe(recordsEqual(mergeRecords(a!, b!), a!));
      }),
      RUNS,
    );
  });
});
