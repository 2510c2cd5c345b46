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
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes, utf8 } from './bytes.js';
import { DIGEST_BYTES, toHex } from './digest.js';
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
/** Measured in V8 (Node 20): a Map<number, slot> entry plus its three cells costs ~37 bytes per occupied node. */
const SPARSE_BYTES_PER_NODE = 36;
/** hi, lo, count as three uint32 cells. */
const DENSE_BYTES_PER_NODE = 12;
/** A dense level is never larger than this (12 MB); bigger levels stay sparse however full they get. */
const MAX_DENSE_NODES = 1 << 20;
const CELLS_PER_NODE = 3;
const HASH_BYTES = 8;

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The hashes and key counts of one level's nodes. Starts sparse (a Map from node index to a slot
 * in a small cell array) because most trees hold few keys and a finest-but-one level of 4,096
 * nodes would cost 48 KB per tree dense; switches to a flat Uint32Array once that is cheaper.
 * Never switches back: a level that was once that full is likely to be again, and switching on
 * every crossing would flap.
 */
class LevelNodes {
  /** Node index to slot while sparse; undefined once dense (then slot = node index). */
  private slots: Map<number, number> | undefined = new Map();
  /** hi, lo, count per slot. */
  private cells = new Uint32Array(CELLS_PER_NODE * 4);
  private freeSlots: number[] = [];
  private nextSlot = 0;

  constructor(private readonly nodeCount: number) {}

  /** XORs (hi, lo) into node `index` and adds `countDelta` to its key count. */
  apply(index: number, hi: number, lo: number, countDelta: number): void {
    const slots = this.slots;
    if (slots === undefined) {
      this.applyAt(index * CELLS_PER_NODE, hi, lo, countDelta);
      return;
    }
    let slot = slots.get(index);
    if (slot === undefined) {
      slot = this.allocateSlot();
      slots.set(index, slot);
    }
    const offset = slot * CELLS_PER_NODE;
    this.applyAt(offset, hi, lo, countDelta);
    if (this.cells[offset + 2] === 0) {
      // No keys left: the hash is zero by construction, so the node can be forgotten.
      slots.delete(index);
      this.freeSlots.push(slot);
      // Mostly empty (a store that forgot most of what it held): renumber into a table sized for what is left.
      if (this.nextSlot > 64 && slots.size * 4 < this.nextSlot) this.compactSparse(slots);
    } else if (
      slots.size * SPARSE_BYTES_PER_NODE > this.nodeCount * DENSE_BYTES_PER_NODE &&
      this.nodeCount <= MAX_DENSE_NODES
    ) {
      this.becomeDense(slots);
    }
  }

  count(index: number): number {
    const offset = this.offsetOf(index);
    return offset < 0 ? 0 : (this.cells[offset + 2] as number);
  }

  /** Writes node `index`'s hash (big-endian hi then lo) into `out`. */
  writeHash(index: number, out: Uint8Array): void {
    const offset = this.offsetOf(index);
    if (offset < 0) return;
    writeHashBytes(out, this.cells[offset] as number, this.cells[offset + 1] as number);
  }

  private offsetOf(index: number): number {
    if (this.slots === undefined) return index * CELLS_PER_NODE;
    const slot = this.slots.get(index);
    return slot === undefined ? -1 : slot * CELLS_PER_NODE;
  }

  private applyAt(offset: number, hi: number, lo: number, countDelta: number): void {
    const cells = this.cells;
    cells[offset] = (cells[offset] as number) ^ hi;
    cells[offset + 1] = (cells[offset + 1] as number) ^ lo;
    cells[offset + 2] = (cells[offset + 2] as number) + countDelta;
  }

  private allocateSlot(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused; // freed slots were left all zero
    const slot = this.nextSlot++;
    if ((slot + 1) * CELLS_PER_NODE > this.cells.length) {
      const grown = new Uint32Array(this.cells.length * 2);
      grown.set(this.cells);
      this.cells = grown;
    }
    return slot;
  }

  private compactSparse(slots: Map<number, number>): void {
    const cells = new Uint32Array(Math.max(CELLS_PER_NODE * 4, slots.size * 2 * CELLS_PER_NODE));
    let next = 0;
    for (const [index, slot] of slots) {
      cells.set(this.cells.subarray(slot * CELLS_PER_NODE, (slot + 1) * CELLS_PER_NODE), next * CELLS_PER_NODE);
      slots.set(index, next++);
    }
    this.cells = cells;
    this.nextSlot = next;
    this.freeSlots = [];
  }

  private becomeDense(slots: Map<number, number>): void {
    const dense = new Uint32Array(this.nodeCount * CELLS_PER_NODE);
    for (const [index, slot] of slots) {
      const from = slot * CELLS_PER_NODE;
      dense.set(this.cells.subarray(from, from + CELLS_PER_NODE), index * CELLS_PER_NODE);
    }
    this.cells = dense;
    this.slots = undefined;
    this.freeSlots.length = 0;
  }
}

/** Fields of one key's slot in KeyTable.cells. */
const DIGEST_HI = 0;
const DIGEST_LO = 1;
const HASH_HI = 2;
const HASH_LO = 3;
/** The key's position (first 32 bits of sha256(id)), kept so updates and removals need not re-hash the id. */
const POSITION = 4;
/** Next slot + 1 in the same finest bucket; 0 ends the bucket's list. */
const NEXT_IN_BUCKET = 5;
const CELLS_PER_KEY = 6;

/**
 * Every key of a tree, columnar: an id-to-slot Map plus six uint32 cells per slot, the keys of one
 * finest bucket chained through NEXT_IN_BUCKET. Measured in V8 (Node 20) with 10K keys: ~170 bytes
 * per key, id strings and levels included; the obvious Map<bucket, Map<id, {digest, hash}>> took
 * ~390, which a 1,000-node simulation multiplies by every key it holds. Buckets hold ~1 key, so
 * walking a chain is cheap.
 */
class KeyTable {
  private readonly slotOf = new Map<MemoryId, number>();
  private idOf: (MemoryId | undefined)[] = [];
  private cells = new Uint32Array(0);
  /** Finest bucket index to its first slot + 1. */
  private readonly bucketHeads = new Map<number, number>();
  private freeSlots: number[] = [];

  get size(): number {
    return this.slotOf.size;
  }

  get occupiedBuckets(): number {
    return this.bucketHeads.size;
  }

  find(id: MemoryId): number | undefined {
    return this.slotOf.get(id);
  }

  id(slot: number): MemoryId {
    return this.idOf[slot] as MemoryId;
  }

  get(slot: number, field: number): number {
    return this.cells[slot * CELLS_PER_KEY + field] as number;
  }

  setDigestAndHash(slot: number, digestHi: number, digestLo: number, hashHi: number, hashLo: number): void {
    const offset = slot * CELLS_PER_KEY;
    this.cells[offset + DIGEST_HI] = digestHi;
    this.cells[offset + DIGEST_LO] = digestLo;
    this.cells[offset + HASH_HI] = hashHi;
    this.cells[offset + HASH_LO] = hashLo;
  }

  /** Adds a key not in the table, at the head of its bucket's chain; returns its slot. */
  insert(id: MemoryId, position: number, bucket: number): number {
    const slot = this.freeSlots.pop() ?? this.idOf.length;
    if ((slot + 1) * CELLS_PER_KEY > this.cells.length) {
      const grown = new Uint32Array(Math.max(CELLS_PER_KEY * 4, this.cells.length * 2));
      grown.set(this.cells);
      this.cells = grown;
    }
    this.slotOf.set(id, slot);
    this.idOf[slot] = id;
    const offset = slot * CELLS_PER_KEY;
    this.cells[offset + POSITION] = position;
    this.cells[offset + NEXT_IN_BUCKET] = this.bucketHeads.get(bucket) ?? 0;
    this.bucketHeads.set(bucket, slot + 1);
    return slot;
  }

  remove(slot: number, bucket: number): void {
    const next = this.get(slot, NEXT_IN_BUCKET);
    const head = this.bucketHeads.get(bucket);
    if (head === slot + 1) {
      if (next === 0) this.bucketHeads.delete(bucket);
      else this.bucketHeads.set(bucket, next);
    } else {
      let previous = (head as number) - 1;
      while (this.get(previous, NEXT_IN_BUCKET) !== slot + 1) previous = this.get(previous, NEXT_IN_BUCKET) - 1;
      this.cells[previous * CELLS_PER_KEY + NEXT_IN_BUCKET] = next;
    }
    this.slotOf.delete(this.id(slot));
    this.idOf[slot] = undefined;
    this.cells.fill(0, slot * CELLS_PER_KEY, (slot + 1) * CELLS_PER_KEY);
    this.freeSlots.push(slot);
    if (this.idOf.length > 64 && this.slotOf.size * 4 < this.idOf.length) this.compact();
  }

  /**
   * Renumbers the live slots densely into tables sized for them. Without it a store that forgot
   * most of its memories kept tables sized for its peak: 10K memories forgotten and collected
   * left ~650 KB of slot arrays in the tab's heap (bench/forget-space.ts). Runs when three
   * quarters of the slots are free, so its O(n) is paid once per halving.
   */
  private compact(): void {
    const size = this.slotOf.size;
    const cells = new Uint32Array(Math.max(CELLS_PER_KEY * 4, size * 2 * CELLS_PER_KEY));
    const idOf: (MemoryId | undefined)[] = [];
    for (const [bucket, head] of this.bucketHeads) {
      let previous = -1;
      for (let link = head; link !== 0; link = this.get(link - 1, NEXT_IN_BUCKET)) {
        const old = link - 1;
        const slot = idOf.length;
        const id = this.id(old);
        idOf.push(id);
        this.slotOf.set(id, slot);
        cells.set(this.cells.subarray(old * CELLS_PER_KEY, (old + 1) * CELLS_PER_KEY), slot * CELLS_PER_KEY);
        cells[slot * CELLS_PER_KEY + NEXT_IN_BUCKET] = 0;
        if (previous < 0) this.bucketHeads.set(bucket, slot + 1);
        else cells[previous * CELLS_PER_KEY + NEXT_IN_BUCKET] = slot + 1;
        previous = slot;
      }
    }
    this.cells = cells;
    this.idOf = idOf;
    this.freeSlots = [];
  }

  /** The head of one finest bucket's chain of slots: slot + 1, or 0 when empty. Walk it with nextInBucket. */
  headOf(bucket: number): number {
    return this.bucketHeads.get(bucket) ?? 0;
  }

  /** The link after `slot` in its bucket's chain (slot + 1, or 0 at the end). A loop, not a generator: heals walk every key. */
  nextInBucket(slot: number): number {
    return this.cells[slot * CELLS_PER_KEY + NEXT_IN_BUCKET] as number;
  }

  occupiedBucketIndexes(): IterableIterator<number> {
    return this.bucketHeads.keys();
  }
}

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

function writeHashBytes(out: Uint8Array, hi: number, lo: number): void {
  out[0] = hi >>> 24;
  out[1] = hi >>> 16;
  out[2] = hi >>> 8;
  out[3] = hi;
  out[4] = lo >>> 24;
  out[5] = lo >>> 16;
  out[6] = lo >>> 8;
  out[7] = lo;
}

/** An 8-byte hash from its big-endian (hi, lo) halves, as the tree keeps them. */
export function hashBytes(hi: number, lo: number): Uint8Array {
  const out = new Uint8Array(HASH_BYTES);
  writeHashBytes(out, hi, lo);
  return out;
}

