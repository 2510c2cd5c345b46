import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { sha256 } from '@noble/hashes/sha2.js';
import { DEFAULT_CONFIG } from '../src/core/config.js';
import { digestBytes, toHex } from '../src/core/digest.js';
import { MerkleTree, buildTree, diffTrees, healLevelFor } from '../src/core/merkle.js';
import type { MerkleOptions } from '../src/core/merkle.js';
import type { MemoryId } from '../src/core/types.js';

const utf8 = new TextEncoder();
const DEFAULT_SHAPE: MerkleOptions = { arity: DEFAULT_CONFIG.merkleArity, maxDepth: DEFAULT_CONFIG.merkleMaxDepth };
/** Small enough to visit every node; includes the 1-level and the full 32-bit edge cases. */
const SMALL_SHAPE: MerkleOptions = { arity: 4, maxDepth: 3 };
const shapes = fc.constantFrom<MerkleOptions>(
  SMALL_SHAPE,
  DEFAULT_SHAPE,
  { arity: 2, maxDepth: 1 },
  { arity: 2, maxDepth: 32 },
  { arity: 16, maxDepth: 8 },
);

function digestOfText(text: string): Uint8Array {
  return digestBytes(utf8.encode(text));
}

/** Ids from a small pool (so updates and removals hit existing keys) or arbitrary Unicode. */
const ids = fc.oneof(
  fc.nat(40).map((n) => `m${n}`),
  fc.string({ unit: 'grapheme', maxLength: 5 }),
);
/** Digests from a small pool (so equal digests recur) or arbitrary bytes. */
const digests = fc.oneof(
  fc.nat(3).map((n) => digestOfText(`d${n}`)),
  fc.uint8Array({ minLength: 8, maxLength: 8 }),
);
const keySets = fc.array(fc.tuple(ids, digests), { maxLength: 60 }).map((pairs) => new Map(pairs));
const operations = fc.array(fc.record({ id: ids, digest: fc.option(digests, { nil: undefined }) }), {
  maxLength: 120,
});

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((byte, i) => byte ^ (b[i] as number));
}

/** The entry hash as the design states it, computed independently of merkle.ts. */
function expectedEntryHash(id: MemoryId, digest: Uint8Array): Uint8Array {
  const idBytes = utf8.encode(id);
  return sha256(new Uint8Array([...idBytes, 0, ...digest])).subarray(0, 8);
}

/** The finest bucket as the design states it: the first maxDepth * log2(arity) bits of sha256(id). */
function expectedFinestBucket(id: MemoryId, shape: MerkleOptions): number {
  const pathBits = shape.maxDepth * Math.log2(shape.arity);
  const first32 = Number.parseInt(toHex(sha256(utf8.encode(id)).subarray(0, 4)), 16);
  return Math.floor(first32 / 2 ** (32 - pathBits));
}

/** Every (level, index) on the path of any of `keys`, the root included. */
function pathNodes(tree: MerkleTree, keys: Iterable<MemoryId>): Array<[number, number]> {
  const nodes = new Map<string, [number, number]>();
  for (const id of keys) {
    for (let level = 0; level <= tree.maxDepth; level++) {
      const index = tree.bucketOf(id, level);
      nodes.set(`${level}:${index}`, [level, index]);
    }
  }
  nodes.set('0:0', [0, 0]);
  return [...nodes.values()];
}

/** Asserts that two trees agree on every node hash and key count along the paths of `keys`. */
function expectSameNodes(actual: MerkleTree, expected: MerkleTree, keys: Iterable<MemoryId>): void {
  for (const [level, index] of pathNodes(expected, keys)) {
    expect(toHex(actual.nodeHash(level, index)), `hash of node ${level}:${index}`).toBe(
      toHex(expected.nodeHash(level, index)),
    );
    expect(actual.countUnder(level, index), `count of node ${level}:${index}`).toBe(
      expected.countUnder(level, index),
    );
  }
}

function bruteForceDiff(a: Map<MemoryId, Uint8Array>, b: Map<MemoryId, Uint8Array>): MemoryId[] {
  const differing = new Set<MemoryId>();
  for (const [id, digest] of a) {
    const other = b.get(id);
    if (other === undefined || toHex(other) !== toHex(digest)) differing.add(id);
  }
  for (const id of b.keys()) if (!a.has(id)) differing.add(id);
  return [...differing].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

describe('Merkle tree shape', () => {
  it('rejects an arity that is not a power of two of at least 2', () => {
    for (const arity of [0, 1, 3, 6, 2.5, -4, Number.NaN]) {
      expect(() => new MerkleTree({ arity, maxDepth: 2 }), `arity ${arity}`).toThrow(RangeError);
    }
  });

  it('rejects a depth below 1 and paths longer than the 32 bits a position has', () => {
    expect(() => new MerkleTree({ arity: 16, maxDepth: 0 })).toThrow(RangeError);
    expect(() => new MerkleTree({ arity: 16, maxDepth: 1.5 })).toThrow(RangeError);
    expect(() => new MerkleTree({ arity: 16, maxDepth: 9 })).toThrow(RangeError);
    expect(() => new MerkleTree({ arity: 16, maxDepth: 8 })).not.toThrow();
    expect(() => new MerkleTree({ arity: 2, maxDepth: 32 })).not.toThrow();
  });

  it('places a key at the first maxDepth * log2(arity) bits of sha256(id), and at their prefix on coarser levels', () => {
    fc.assert(
      fc.property(shapes, ids, (shape, id) => {
        const tree = new MerkleTree(shape);
        const finest = expectedFinestBucket(id, shape);
        expect(tree.bucketOf(id, shape.maxDepth)).toBe(finest);
        for (let level = 0; level <= shape.maxDepth; level++) {
          expect(tree.bucketOf(id, level)).toBe(Math.floor(finest / shape.arity ** (shape.maxDepth - level)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rejects levels and indexes outside the tree with a RangeError', () => {
    const tree = buildTree([['a', digestOfText('a')]], SMALL_SHAPE);
    expect(() => tree.nodeHash(-1, 0)).toThrow(RangeError);
    expect(() => tree.nodeHash(4, 0)).toThrow(RangeError);
    expect(() => tree.nodeHash(1.5, 0)).toThrow(RangeError);
    expect(() => tree.nodeHash(1, 4)).toThrow(RangeError);
    expect(() => tree.nodeHash(1, -1)).toThrow(RangeError);
    expect(() => tree.nodeHash(3, 63)).not.toThrow();
    expect(() => tree.childHashes(3, 0)).toThrow(RangeError);
    expect(() => tree.entriesUnder(2, 16)).toThrow(RangeError);
    expect(() => tree.countUnder(0, 1)).toThrow(RangeError);
    expect(() => tree.bucketOf('a', 4)).toThrow(RangeError);
  });
});

describe('Merkle tree contents', () => {
  it('is empty at first: size 0, root all zeros, nothing under the root', () => {
    const tree = new MerkleTree(DEFAULT_SHAPE);
    expect(tree.size).toBe(0);
    expect(tree.root()).toEqual(new Uint8Array(8));
    expect(tree.rootHex()).toBe('0000000000000000');
    expect(tree.countUnder(0, 0)).toBe(0);
    expect(tree.entriesUnder(0, 0)).toEqual([]);
  });

  it('hashes a lone key to its entry hash: the first 8 bytes of sha256(utf8(id) || 0x00 || digest)', () => {
    const digest = digestOfText('content');
    const tree = buildTree([['mémoire-1', digest]], DEFAULT_SHAPE);
    const entryHash = expectedEntryHash('mémoire-1', digest);
    expect(toHex(tree.root())).toBe(toHex(entryHash));
    expect(tree.entriesUnder(0, 0)).toEqual([{ id: 'mémoire-1', digest, entryHash }]);
  });

  it('returns the digest that was set, and undefined for a removed or unknown key', () => {
    const tree = new MerkleTree(SMALL_SHAPE);
    tree.set('a', digestOfText('1'));
    tree.set('a', digestOfText('2'));
    tree.set('b', digestOfText('3'));
    tree.set('b', undefined);
    tree.set('never', undefined);
    expect(tree.digestOf('a')).toEqual(digestOfText('2'));
    expect(tree.digestOf('b')).toBeUndefined();
    expect(tree.digestOf('c')).toBeUndefined();
    expect(tree.size).toBe(1);
  });

  it('changes the root when a digest changes in any one byte, and not when it is set to the same value', () => {
    const digest = digestOfText('v1');
    const tree = buildTree([['a', digest]], DEFAULT_SHAPE);
    const original = tree.rootHex();
    tree.set('a', digest.slice());
    expect(tree.rootHex()).toBe(original);
    for (let byte = 0; byte < 8; byte++) {
      const changed = digest.slice();
      changed[byte] = (changed[byte] as number) ^ 1;
      tree.set('a', changed);
      expect(tree.rootHex(), `byte ${byte}`).toBe(buildTree([['a', changed]], DEFAULT_SHAPE).rootHex());
      expect(tree.rootHex(), `byte ${byte}`).not.toBe(original);
      tree.set('a', digest);
      expect(tree.rootHex()).toBe(original);
    }
  });

  it('keeps its own copy of digests: mutating the caller’s bytes or the returned ones changes nothing', () => {
    const digest = digestOfText('x');
    const tree = buildTree([['a', digest]], SMALL_SHAPE);
    const rootBefore = tree.rootHex();
    digest.fill(0);
    tree.digestOf('a')?.fill(0);
    tree.entriesUnder(0, 0)[0]?.digest.fill(0);
    expect(tree.rootHex()).toBe(rootBefore);
    expect(tree.digestOf('a')).toEqual(digestOfText('x'));
  });

  it('rejects digests that are not 8 bytes and ids that are not well-formed UTF-16', () => {
    const tree = new MerkleTree(SMALL_SHAPE);
    expect(() => tree.set('a', new Uint8Array(7))).toThrow(RangeError);
    expect(() => tree.set('a', new Uint8Array(32))).toThrow(RangeError);
    // Both encode to the same UTF-8 (U+FFFD), so they would cancel out of the root.
    expect(() => tree.set('\uD800', digestOfText('x'))).toThrow(RangeError);
    expect(() => tree.set('x\uDFFF', digestOfText('x'))).toThrow(RangeError);
    expect(() => tree.set('\uD83D\uDE00', digestOfText('x'))).not.toThrow();
    expect(tree.size).toBe(1);
  });
});

describe('Merkle root laws', () => {
  it('after any sequence of sets, updates and removals, equals the tree built from the final key set', () => {
    fc.assert(
      fc.property(shapes, operations, (shape, ops) => {
        const tree = new MerkleTree(shape);
        const finalSet = new Map<MemoryId, Uint8Array>();
        for (const { id, digest } of ops) {
          tree.set(id, digest);
          if (digest === undefined) finalSet.delete(id);
          else finalSet.set(id, digest);
        }
        const rebuilt = buildTree(finalSet, shape);
        expect(tree.rootHex()).toBe(rebuilt.rootHex());
        expect(tree.size).toBe(finalSet.size);
        expectSameNodes(tree, rebuilt, ops.map((op) => op.id));
        for (const [id, digest] of finalSet) expect(tree.digestOf(id)).toEqual(digest);
      }),
      { numRuns: 300 },
    );
  });

  it('shrinks its tables when most keys are removed (a store that forgot most of its memories) and stays exactly the tree of the keys left', () => {
    fc.assert(
      fc.property(shapes, fc.integer({ min: 100, max: 1_500 }), fc.double({ min: 0.5, max: 1, noNaN: true }), (shape, count, share) => {
        const tree = new MerkleTree(shape);
        const kept = new Map<MemoryId, Uint8Array>();
        for (let i = 0; i < count; i++) tree.set(`k${i}`, digestOfText(`v${i}`));
        for (let i = 0; i < count; i++) {
          if (i / count < share) tree.set(`k${i}`, undefined);
          else kept.set(`k${i}`, digestOfText(`v${i}`));
        }
        // Still a working tree after the renumbering: updates, removals and inserts land where they should.
        for (const id of [...kept.keys()].slice(0, 5)) {
          tree.set(id, digestOfText(`${id} again`));
          kept.set(id, digestOfText(`${id} again`));
        }
        tree.set('late', digestOfText('late'));
        kept.set('late', digestOfText('late'));
        const rebuilt = buildTree(kept, shape);
        expect(tree.rootHex()).toBe(rebuilt.rootHex());
        expect(tree.size).toBe(kept.size);
        expectSameNodes(tree, rebuilt, [...kept.keys()]);
        for (const [id, digest] of kept) expect(tree.digestOf(id)).toEqual(digest);
      }),
      { numRuns: 40 },
    );
  });

  it('does not depend on insertion order', () => {
    fc.assert(
      fc.property(
        shapes,
        keySets.chain((set) => fc.tuple(fc.constant(set), fc.shuffledSubarray([...set], { minLength: set.size }))),
        (shape, [set, shuffled]) => {
          expect(buildTree(shuffled, shape).rootHex()).toBe(buildTree(set, shape).rootHex());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is equal for two trees exactly when their key/digest sets are equal', () => {
    const setPairs = keySets.chain((base) =>
      fc.tuple(
        fc.constant(base),
        // Often the same set, otherwise one key added, removed or re-digested.
        fc.oneof(
          fc.constant(new Map(base)),
          fc.tuple(ids, digests).map(([id, digest]) => new Map(base).set(id, digest)),
          fc.nat().map((n) => {
            const copy = new Map(base);
            const victim = [...base.keys()][n % Math.max(1, base.size)];
            if (victim !== undefined) copy.delete(victim);
            return copy;
          }),
        ),
      ),
    );
    fc.assert(
      fc.property(shapes, setPairs, (shape, [a, b]) => {
        const setsEqual = bruteForceDiff(a, b).length === 0;
        expect(buildTree(a, shape).rootHex() === buildTree(b, shape).rootHex()).toBe(setsEqual);
      }),
      { numRuns: 400 },
    );
  });
});

describe('Merkle node structure', () => {
  it('gives every internal node the XOR of its children’s hashes and the sum of their counts', () => {
    fc.assert(
      fc.property(keySets, (set) => {
        const tree = buildTree(set, SMALL_SHAPE);
        for (let level = 0; level < SMALL_SHAPE.maxDepth; level++) {
          for (let index = 0; index < SMALL_SHAPE.arity ** level; index++) {
            const children = tree.childHashes(level, index);
            expect(children).toHaveLength(SMALL_SHAPE.arity);
            expect(children.reduce(xor, new Uint8Array(8))).toEqual(tree.nodeHash(level, index));
            let childCount = 0;
            for (let child = 0; child < SMALL_SHAPE.arity; child++) {
              childCount += tree.countUnder(level + 1, index * SMALL_SHAPE.arity + child);
            }
            expect(childCount).toBe(tree.countUnder(level, index));
          }
        }
        // A finest bucket's hash is the XOR of its entries' hashes.
        for (let index = 0; index < SMALL_SHAPE.arity ** SMALL_SHAPE.maxDepth; index++) {
          const entries = tree.entriesUnder(SMALL_SHAPE.maxDepth, index);
          expect(entries.map((e) => e.entryHash).reduce(xor, new Uint8Array(8))).toEqual(
            tree.nodeHash(SMALL_SHAPE.maxDepth, index),
          );
        }
      }),
      { numRuns: 200 },
    );
  });

  it('lists under the nodes of each level a partition of the keys, each sorted by id and in its own bucket', () => {
    fc.assert(
      fc.property(keySets, (set) => {
        const tree = buildTree(set, SMALL_SHAPE);
        const allIds = [...set.keys()].sort();
        for (let level = 0; level <= SMALL_SHAPE.maxDepth; level++) {
          const seen: MemoryId[] = [];
          for (let index = 0; index < SMALL_SHAPE.arity ** level; index++) {
            const entries = tree.entriesUnder(level, index);
            const listed = entries.map((e) => e.id);
            expect(listed).toEqual([...listed].sort());
            expect(entries).toHaveLength(tree.countUnder(level, index));
            for (const entry of entries) {
              expect(tree.bucketOf(entry.id, level)).toBe(index);
              expect(entry.digest).toEqual(set.get(entry.id));
              expect(entry.entryHash).toEqual(expectedEntryHash(entry.id, entry.digest));
            }
            seen.push(...listed);
          }
          expect(seen.sort()).toEqual(allIds);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('visits under each node exactly the entries it lists, with the position as the first 32 bits of sha256(id)', () => {
    const hi = (bytes: Uint8Array, offset: number) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(offset);
    fc.assert(
      fc.property(keySets, (set) => {
        const tree = buildTree(set, SMALL_SHAPE);
        for (let level = 0; level <= SMALL_SHAPE.maxDepth; level++) {
          for (let index = 0; index < SMALL_SHAPE.arity ** level; index++) {
            const visited: [MemoryId, number, number, number, number, number][] = [];
            tree.forEachUnder(level, index, (...args) => void visited.push(args));
            const expected = tree.entriesUnder(level, index).map((entry): [MemoryId, number, number, number, number, number] => [
              entry.id,
              hi(sha256(utf8.encode(entry.id)), 0),
              hi(entry.entryHash, 0),
              hi(entry.entryHash, 4),
              hi(entry.digest, 0),
              hi(entry.digest, 4),
            ]);
            expect(visited.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))).toEqual(expected);
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it('partitions 2,000 keys at every level of the default 16^4 tree', () => {
    const set = new Map<MemoryId, Uint8Array>();
    for (let i = 0; i < 2_000; i++) set.set(`key-${i}`, digestOfText(`v${i}`));
    const tree = buildTree(set, DEFAULT_SHAPE);
    for (let level = 0; level <= DEFAULT_SHAPE.maxDepth; level++) {
      let listed = 0;
      const distinct = new Set<MemoryId>();
      for (let index = 0; index < DEFAULT_SHAPE.arity ** level; index++) {
        for (const entry of tree.entriesUnder(level, index)) {
          distinct.add(entry.id);
          listed++;
        }
      }
      expect(listed, `level ${level}`).toBe(set.size);
      expect(distinct.size, `level ${level}`).toBe(set.size);
    }
  });

  it('keeps hashes and counts when a level switches from sparse to dense storage and keys are removed again', () => {
    // 3,000 keys fill more than a third of level 2 (256 nodes) and of level 3 (4,096): both go dense.
    // Removing all but 20 leaves a tree whose rebuilt twin holds those 20 in sparse levels.
    const tree = new MerkleTree(DEFAULT_SHAPE);
    for (let i = 0; i < 3_000; i++) tree.set(`k${i}`, digestOfText(`v${i}`));
    const kept = new Map<MemoryId, Uint8Array>();
    for (let i = 0; i < 3_000; i++) {
      if (i % 150 === 0) kept.set(`k${i}`, digestOfText(`v${i}`));
      else tree.set(`k${i}`, undefined);
    }
    const rebuilt = buildTree(kept, DEFAULT_SHAPE);
    expect(tree.rootHex()).toBe(rebuilt.rootHex());
    expectSameNodes(tree, rebuilt, [...kept.keys(), 'k1', 'k2', 'k3']);
    expect(tree.countUnder(0, 0)).toBe(20);
  });
});

describe('diffTrees', () => {
  it('finds exactly the ids whose digests differ or that only one side has, at any stop level', () => {
    const pairs = fc.tuple(shapes, keySets, keySets, fc.nat());
    fc.assert(
      fc.property(pairs, ([shape, shared, extra, stopSeed]) => {
        // b is a plus some changes, so the trees share most keys as in a real heal.
        const a = new Map(shared);
        const b = new Map([...shared, ...extra]);
        const stopLevel = stopSeed % (shape.maxDepth + 1);
        const diff = diffTrees(buildTree(a, shape), buildTree(b, shape), stopLevel);
        expect(diff.ids).toEqual(bruteForceDiff(a, b));
      }),
      { numRuns: 300 },
    );
  });

  it('compares only the root of two equal trees', () => {
    const set = new Map([...Array(500).keys()].map((i) => [`k${i}`, digestOfText(`${i}`)] as const));
    const diff = diffTrees(buildTree(set, DEFAULT_SHAPE), buildTree(set, DEFAULT_SHAPE), 4);
    expect(diff).toEqual({ ids: [], nodesCompared: 1, bucketsCompared: 0 });
  });

  it('descends only into differing nodes: one changed key costs one path of arity-wide comparisons', () => {
    const set = new Map([...Array(2_000).keys()].map((i) => [`k${i}`, digestOfText(`${i}`)] as const));
    const changed = new Map(set).set('k7', digestOfText('changed'));
    for (let stopLevel = 0; stopLevel <= DEFAULT_SHAPE.maxDepth; stopLevel++) {
      const diff = diffTrees(buildTree(set, DEFAULT_SHAPE), buildTree(changed, DEFAULT_SHAPE), stopLevel);
      expect(diff.ids).toEqual(['k7']);
      expect(diff.nodesCompared).toBe(1 + DEFAULT_SHAPE.arity * stopLevel);
      expect(diff.bucketsCompared).toBe(1);
    }
  });

  it('refuses trees of different shapes and stop levels outside the tree', () => {
    const a = new MerkleTree({ arity: 16, maxDepth: 4 });
    expect(() => diffTrees(a, new MerkleTree({ arity: 16, maxDepth: 3 }), 2)).toThrow(RangeError);
    expect(() => diffTrees(a, new MerkleTree({ arity: 4, maxDepth: 4 }), 2)).toThrow(RangeError);
    expect(() => diffTrees(a, new MerkleTree(DEFAULT_SHAPE), 5)).toThrow(RangeError);
    expect(() => diffTrees(a, new MerkleTree(DEFAULT_SHAPE), -1)).toThrow(RangeError);
  });
});

describe('healLevelFor', () => {
  it('picks the shallowest level whose buckets would hold at most keysPerBucket keys on average', () => {
    expect(healLevelFor(10_000, 16, 4, 4)).toBe(3); // 16^2*4 = 1,024 < 10,000 <= 16^3*4 = 16,384
    expect(healLevelFor(0, 16, 4, 4)).toBe(1);
    expect(healLevelFor(64, 16, 4, 4)).toBe(1);
    expect(healLevelFor(65, 16, 4, 4)).toBe(2);
    expect(healLevelFor(16_385, 16, 4, 4)).toBe(4);
    expect(healLevelFor(10_000_000, 16, 4, 4)).toBe(4); // more keys than the tree resolves: stop at the finest level
    expect(healLevelFor(10, 16, 4, 0)).toBe(4); // no keys per bucket wanted: descend all the way
  });

  it('rejects nonsensical arguments', () => {
    expect(() => healLevelFor(-1, 16, 4, 4)).toThrow(RangeError);
    expect(() => healLevelFor(10, 1, 4, 4)).toThrow(RangeError);
    expect(() => healLevelFor(10, 16, 0, 4)).toThrow(RangeError);
    expect(() => healLevelFor(10, 16, 4, Number.NaN)).toThrow(RangeError);
  });
});

describe('sizing', () => {
  const KEY_COUNT = 10_000;
  const CHANGED = 100;
  const ours = new Map<MemoryId, Uint8Array>();
  for (let i = 0; i < KEY_COUNT; i++) ours.set(`memory-${i}`, digestOfText(`content ${i}`));
  const theirs = new Map(ours);
  const changedIds: MemoryId[] = [];
  for (let i = 0; i < CHANGED; i++) {
    const id = `memory-${i * 97}`; // spread over the id space
    theirs.set(id, digestOfText(`concurrent edit ${i}`));
    changedIds.push(id);
  }

  /** Keys both sides list in the buckets where the descent stops: what the heal's key lists carry. */
  function keysListedAt(stopLevel: number): { ids: MemoryId[]; bucketsCompared: number; keysListed: number } {
    const a = buildTree(ours, DEFAULT_SHAPE);
    const b = buildTree(theirs, DEFAULT_SHAPE);
    const diff = diffTrees(a, b, stopLevel);
    let keysListed = 0;
    const differingBuckets = new Set(changedIds.map((id) => a.bucketOf(id, stopLevel)));
    for (const bucket of differingBuckets) keysListed += a.countUnder(stopLevel, bucket);
    expect(differingBuckets.size).toBe(diff.bucketsCompared);
    return { ids: diff.ids, bucketsCompared: diff.bucketsCompared, keysListed };
  }

  it('heals 100 changed keys out of 10,000 by listing about 3.2 keys per changed key at the configured heal level', () => {
    const stopLevel = healLevelFor(KEY_COUNT, 16, 4, DEFAULT_CONFIG.merkleKeysPerBucket);
    expect(stopLevel).toBe(3);
    const { ids, bucketsCompared, keysListed } = keysListedAt(stopLevel);
    expect(ids).toEqual([...changedIds].sort());
    // Deterministic (sha256 of fixed ids): 98 differing buckets of 4,096 listing 319 keys. Buckets
    // at level 3 hold ~2.4 keys, so each changed key drags ~2.2 unchanged ones into the key list.
    // test/heal.test.ts checks that a Healer heal sends exactly these lists and ships only the 100.
    expect(bucketsCompared).toBe(98);
    expect(keysListed).toBe(319);
  });

  it('lists 109 keys (1.09 per changed key) when the descent goes to the finest level', () => {
    const { ids, keysListed } = keysListedAt(DEFAULT_SHAPE.maxDepth);
    expect(ids).toEqual([...changedIds].sort());
    // Deterministic: 109 keys listed. Finest buckets hold ~0.15 keys, so few unchanged keys ride along.
    expect(keysListed).toBe(109);
  });
});
