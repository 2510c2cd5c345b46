/**
 * The Merkle tree that anti-entropy healing compares: after a partition heals, two replicas
 * exchange roots, descend only into subtrees whose hashes differ, and ship only the records
 * whose digests differ. It is updated on every write in O(maxDepth), never rebuilt.
 *
 * Shape: an `arity`-ary tree of fixed depth over the bits of sha256(id). Level 0 is the root,
 * level L has arity^L nodes, and a key's node at level L is the first L * log2(arity) bits of
 * sha256(utf8(id)). Keys live in the finest buckets (level maxDepth); a key's position never
 * changes, only its digest does.
 *
 * Node hash = XOR of the entry hashes of every key under the node, where
 * entry hash = first 8 bytes of sha256(utf8(id) || 0x00 || digest).
 * Why XOR: it is order-free (the hash depends on the set, not on the order of writes, so two
 * replicas that hold the same records agree without sorting anything) and incremental (a write
 * XORs the old entry hash out of and the new one into each node on the path: O(maxDepth)).
 * Limits: XOR is linear, so someone who chooses ids or digests can make different sets hash
 * alike (Wagner's generalised birthday attack); that is acceptable because peers are the
 * authenticated tabs of one mesh, not adversaries. By chance, two different sets under one node
 * hash alike with probability 2^-64 per comparison; such a miss heals at the next write under it.
 *
 * How levels and keys are stored (flat typed arrays that shrink again) is merkle-tables.ts.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes, utf8 } from './bytes.js';
import { DIGEST_BYTES, toHex } from './digest.js';
import { DIGEST_HI, DIGEST_LO, HASH_HI, HASH_LO, KeyTable, LevelNodes, POSITION, writeHashBytes } from './merkle-tables.js';
import type { MemoryId } from './types.js';

/** Shape of a tree; both sides of a heal must use the same one (EngramConfig.merkleArity / merkleMaxDepth). */
export interface MerkleOptions {
  arity: number;
  maxDepth: number;
}

/** One key as a heal lists it: the record digest, and the entry hash the node hashes are built from. */
export interface MerkleEntry {
  readonly id: MemoryId;
  readonly digest: Uint8Array;
  /** 8-byte entry hash */
  readonly entryHash: Uint8Array;
}

/** Positions come from the first 32 bits of sha256(id), so a tree can use at most 32 bits of path. */
const MAX_PATH_BITS = 32;
const HASH_BYTES = 8;

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Read by every tree that has never held a key; never written (only insert writes, and it replaces it first). */
const EMPTY_KEY_TABLE = new KeyTable();

/**
 * One replica's Merkle tree over (memory id, record digest) pairs. An empty tree allocates no
 * storage of its own (~100 bytes in all, measured); key and level storage appear with the first key.
 */
export class MerkleTree {
  readonly arity: number;
  readonly maxDepth: number;
  private readonly bitsPerLevel: number;
  /** Levels 0 .. maxDepth-1. The finest level's hashes are XORed from its bucket on demand: buckets hold ~1 key. */
  private levels: (LevelNodes | undefined)[] | undefined;
  /** The shared empty table until the first key arrives: an empty tree allocates nothing of its own. */
  private keys: KeyTable = EMPTY_KEY_TABLE;

  constructor(options: MerkleOptions) {
    const { arity, maxDepth } = options;
    if (!Number.isInteger(arity) || arity < 2 || (arity & (arity - 1)) !== 0) {
      throw new RangeError(`Merkle arity must be a power of two >= 2, got ${String(arity)}`);
    }
    if (!Number.isInteger(maxDepth) || maxDepth < 1) {
      throw new RangeError(`Merkle maxDepth must be an integer >= 1, got ${String(maxDepth)}`);
    }
    const bitsPerLevel = Math.log2(arity);
    if (bitsPerLevel * maxDepth > MAX_PATH_BITS) {
      throw new RangeError(
        `Merkle arity^maxDepth must be at most 2^${MAX_PATH_BITS}, got ${arity}^${maxDepth}`,
      );
    }
    this.arity = arity;
    this.maxDepth = maxDepth;
    this.bitsPerLevel = bitsPerLevel;
  }

  /** Sets the digest of `id` (undefined removes it). O(maxDepth). */
  set(id: MemoryId, digest: Uint8Array | undefined): void {
    if (digest !== undefined && digest.length !== DIGEST_BYTES) {
      // The entry hash input is id || 0x00 || digest; a fixed digest length keeps it unambiguous.
      throw new RangeError(`A record digest has ${DIGEST_BYTES} bytes, got ${digest.length}`);
    }
    const slot = this.keys.find(id);
    if (slot === undefined) {
      if (digest !== undefined) this.insert(id, digest);
      return;
    }
    const position = this.keys.get(slot, POSITION);
    const oldHashHi = this.keys.get(slot, HASH_HI);
    const oldHashLo = this.keys.get(slot, HASH_LO);
    if (digest === undefined) {
      this.keys.remove(slot, this.prefix(position, this.maxDepth));
      this.applyAlongPath(position, oldHashHi, oldHashLo, -1);
      return;
    }
    const digestHi = readUint32(digest, 0);
    const digestLo = readUint32(digest, 4);
    if (digestHi === this.keys.get(slot, DIGEST_HI) && digestLo === this.keys.get(slot, DIGEST_LO)) return;
    const hash = entryHashOf(id, digest);
    const hashHi = readUint32(hash, 0);
    const hashLo = readUint32(hash, 4);
    this.keys.setDigestAndHash(slot, digestHi, digestLo, hashHi, hashLo);
    this.applyAlongPath(position, oldHashHi ^ hashHi, oldHashLo ^ hashLo, 0);
  }

  digestOf(id: MemoryId): Uint8Array | undefined {
    const slot = this.keys.find(id);
    if (slot === undefined) return undefined;
    return hashBytes(this.keys.get(slot, DIGEST_HI), this.keys.get(slot, DIGEST_LO));
  }

  get size(): number {
    return this.keys.size;
  }

  /** 8-byte root hash (all zeros when empty). */
  root(): Uint8Array {
    return this.nodeHash(0, 0);
  }

  rootHex(): string {
    return toHex(this.root());
  }

  /** 8-byte hash of node `index` at `level` (0 = root). */
  nodeHash(level: number, index: number): Uint8Array {
    this.checkNode(level, index);
    const out = new Uint8Array(HASH_BYTES);
    if (level === this.maxDepth) {
      let hi = 0;
      let lo = 0;
      const keys = this.keys;
      for (let link = keys.headOf(index); link !== 0; link = keys.nextInBucket(link - 1)) {
        hi ^= keys.get(link - 1, HASH_HI);
        lo ^= keys.get(link - 1, HASH_LO);
      }
      writeHashBytes(out, hi, lo);
    } else {
      this.levels?.[level]?.writeHash(index, out);
    }
    return out;
  }

  /** Hashes of the `arity` children of (level, index), in order. */
  childHashes(level: number, index: number): Uint8Array[] {
    this.checkNode(level, index);
    if (level === this.maxDepth) {
      throw new RangeError(`Level ${level} is the finest level of this tree: its nodes have no children`);
    }
    const hashes: Uint8Array[] = [];
    for (let child = 0; child < this.arity; child++) {
      hashes.push(this.nodeHash(level + 1, index * this.arity + child));
    }
    return hashes;
  }

  /** Every entry whose position at `level` is `index`, sorted by id. */
  entriesUnder(level: number, index: number): MerkleEntry[] {
    const entries: MerkleEntry[] = [];
    this.forEachUnder(level, index, (id, _position, hashHi, hashLo, digestHi, digestLo) => {
      entries.push({ id, digest: hashBytes(digestHi, digestLo), entryHash: hashBytes(hashHi, hashLo) });
    });
    return entries.sort((a, b) => compareIds(a.id, b.id));
  }

  /**
   * Calls `visit` with every key whose position at `level` is `index`, in no set order, as
   * numbers: its position (the first 32 bits of sha256(id)), entry hash and digest as (hi, lo)
   * halves. What a heal lists and compares (tens of thousands of keys after a long split),
   * without an allocation or a sort per key.
   */
  forEachUnder(level: number, index: number, visit: (id: MemoryId, position: number, hashHi: number, hashLo: number, digestHi: number, digestLo: number) => void): void {
    this.checkNode(level, index);
    const bucketsPerNode = this.nodesAt(this.maxDepth - level);
    const firstBucket = index * bucketsPerNode;
    const keys = this.keys;
    const collect = (bucket: number): void => {
      for (let link = keys.headOf(bucket); link !== 0; link = keys.nextInBucket(link - 1)) {
        const slot = link - 1;
        visit(keys.id(slot), keys.get(slot, POSITION), keys.get(slot, HASH_HI), keys.get(slot, HASH_LO), keys.get(slot, DIGEST_HI), keys.get(slot, DIGEST_LO));
      }
    };
    // Walk whichever is shorter: the node's bucket range or the occupied buckets.
    if (bucketsPerNode <= keys.occupiedBuckets) {
      for (let bucket = firstBucket; bucket < firstBucket + bucketsPerNode; bucket++) collect(bucket);
    } else {
      for (const bucket of keys.occupiedBucketIndexes()) {
        if (bucket >= firstBucket && bucket < firstBucket + bucketsPerNode) collect(bucket);
      }
    }
  }

  /** The index of `id`'s bucket at `level`. */
  bucketOf(id: MemoryId, level: number): number {
    this.checkLevel(level);
    return this.prefix(positionOf(id), level);
  }

  /** Number of keys under (level, index): lets a heal decide when to stop descending. */
  countUnder(level: number, index: number): number {
    this.checkNode(level, index);
    if (level === this.maxDepth) {
      let count = 0;
      for (let link = this.keys.headOf(index); link !== 0; link = this.keys.nextInBucket(link - 1)) count++;
      return count;
    }
    return this.levels?.[level]?.count(index) ?? 0;
  }

  private insert(id: MemoryId, digest: Uint8Array): void {
    if (LONE_SURROGATE.test(id)) {
      // UTF-8 encodes every lone surrogate as U+FFFD, so two such ids would share an entry hash
      // and cancel out of every XOR: different sets would give equal roots.
      throw new RangeError(`A memory id must be well-formed UTF-16: ${JSON.stringify(id)}`);
    }
    const position = positionOf(id);
    const hash = entryHashOf(id, digest);
    const hashHi = readUint32(hash, 0);
    const hashLo = readUint32(hash, 4);
    if (this.keys === EMPTY_KEY_TABLE) this.keys = new KeyTable();
    const slot = this.keys.insert(id, position, this.prefix(position, this.maxDepth));
    this.keys.setDigestAndHash(slot, readUint32(digest, 0), readUint32(digest, 4), hashHi, hashLo);
    this.applyAlongPath(position, hashHi, hashLo, 1);
  }

  private applyAlongPath(position: number, hi: number, lo: number, countDelta: number): void {
    const levels = (this.levels ??= new Array<LevelNodes | undefined>(this.maxDepth).fill(undefined));
    for (let level = 0; level < this.maxDepth; level++) {
      let nodes = levels[level];
      if (nodes === undefined) {
        nodes = new LevelNodes(this.nodesAt(level));
        levels[level] = nodes;
      }
      nodes.apply(this.prefix(position, level), hi, lo, countDelta);
    }
  }

  /** The node index at `level`: the first level * log2(arity) bits of the position. */
  private prefix(position: number, level: number): number {
    const bits = level * this.bitsPerLevel;
    return bits === 0 ? 0 : position >>> (MAX_PATH_BITS - bits);
  }

  private nodesAt(level: number): number {
    return 2 ** (level * this.bitsPerLevel);
  }

  private checkLevel(level: number): void {
    if (!Number.isInteger(level) || level < 0 || level > this.maxDepth) {
      throw new RangeError(`Merkle level must be an integer in [0, ${this.maxDepth}], got ${String(level)}`);
    }
  }

  private checkNode(level: number, index: number): void {
    this.checkLevel(level);
    const nodes = this.nodesAt(level);
    if (!Number.isInteger(index) || index < 0 || index >= nodes) {
      throw new RangeError(
        `Merkle node index at level ${level} must be an integer in [0, ${nodes}), got ${String(index)}`,
      );
    }
  }
}

/**
 * The level at which a heal stops descending and compares keys: the smallest level L
 * (1..maxDepth) with arity^L * keysPerBucket >= keyCount (maxDepth if none).
 */
export function healLevelFor(keyCount: number, arity: number, maxDepth: number, keysPerBucket: number): number {
  if (!Number.isInteger(maxDepth) || maxDepth < 1) {
    throw new RangeError(`maxDepth must be an integer >= 1, got ${String(maxDepth)}`);
  }
  if (!Number.isInteger(arity) || arity < 2) {
    throw new RangeError(`arity must be an integer >= 2, got ${String(arity)}`);
  }
  if (!(keyCount >= 0) || !(keysPerBucket >= 0)) {
    throw new RangeError(`keyCount and keysPerBucket must be >= 0, got ${keyCount} and ${keysPerBucket}`);
  }
  for (let level = 1; level <= maxDepth; level++) {
    if (arity ** level * keysPerBucket >= keyCount) return level;
  }
  return maxDepth;
}

/** Convenience for tests and the simulator: a tree from (id, digest) pairs. */
export function buildTree(
  entries: Iterable<readonly [MemoryId, Uint8Array]>,
  options: MerkleOptions,
): MerkleTree {
  const tree = new MerkleTree(options);
  for (const [id, digest] of entries) tree.set(id, digest);
  return tree;
}

/**
 * Pure reference diff of two trees (for tests and for the simulator's checker): ids whose digests
 * differ or that only one side has, found by descending only into differing nodes; also reports
 * how many node hashes were compared. `ids` is sorted; `bucketsCompared` counts the differing
 * nodes at `stopLevel` whose key lists were compared.
 */
export function diffTrees(
  a: MerkleTree,
  b: MerkleTree,
  stopLevel: number,
): { ids: MemoryId[]; nodesCompared: number; bucketsCompared: number } {
  if (a.arity !== b.arity || a.maxDepth !== b.maxDepth) {
    throw new RangeError(
      `Trees of different shapes cannot be compared: ${a.arity}^${a.maxDepth} vs ${b.arity}^${b.maxDepth}`,
    );
  }
  if (!Number.isInteger(stopLevel) || stopLevel < 0 || stopLevel > a.maxDepth) {
    throw new RangeError(`stopLevel must be an integer in [0, ${a.maxDepth}], got ${String(stopLevel)}`);
  }
  const ids: MemoryId[] = [];
  let nodesCompared = 0;
  let bucketsCompared = 0;
  const descend = (level: number, index: number): void => {
    nodesCompared++;
    if (equalBytes(a.nodeHash(level, index), b.nodeHash(level, index))) return;
    if (level < stopLevel) {
      for (let child = 0; child < a.arity; child++) descend(level + 1, index * a.arity + child);
      return;
    }
    bucketsCompared++;
    const theirs = new Map(b.entriesUnder(level, index).map((entry) => [entry.id, entry.digest]));
    for (const { id, digest } of a.entriesUnder(level, index)) {
      const other = theirs.get(id);
      if (other === undefined || !equalBytes(digest, other)) ids.push(id);
      theirs.delete(id);
    }
    ids.push(...theirs.keys()); // only b has them
  };
  descend(0, 0);
  return { ids: ids.sort(compareIds), nodesCompared, bucketsCompared };
}

/** Code-unit order, not locale order: every replica must sort alike. */
function compareIds(a: MemoryId, b: MemoryId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The first 32 bits of sha256(utf8(id)): the key's path, level by level. */
function positionOf(id: MemoryId): number {
  return readUint32(sha256(utf8(id)), 0);
}

function entryHashOf(id: MemoryId, digest: Uint8Array): Uint8Array {
  const idBytes = utf8(id);
  const input = new Uint8Array(idBytes.length + 1 + digest.length);
  input.set(idBytes, 0);
  input.set(digest, idBytes.length + 1); // the 0x00 separator is already there
  return sha256(input);
}

/** The big-endian uint32 at `offset`: how positions and hash halves are read from bytes. */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    (((bytes[offset] as number) << 24) |
      ((bytes[offset + 1] as number) << 16) |
      ((bytes[offset + 2] as number) << 8) |
      (bytes[offset + 3] as number)) >>>
    0
  );
}

/** An 8-byte hash from its big-endian (hi, lo) halves, as the tree keeps them. */
export function hashBytes(hi: number, lo: number): Uint8Array {
  const out = new Uint8Array(HASH_BYTES);
  writeHashBytes(out, hi, lo);
  return out;
}

