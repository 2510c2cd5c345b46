/**
 * The storage behind a Merkle tree (merkle.ts): the hashes and key counts of each level's nodes
 * (LevelNodes) and every key's slot (KeyTable), both in flat Uint32Arrays, both shrinking again
 * when most of what they held is gone. The tree's shape and hashing rules live in merkle.ts.
 */
import type { MemoryId } from './types.js';

/** Measured in V8 (Node 20): a Map<number, slot> entry plus its three cells costs ~37 bytes per occupied node. */
const SPARSE_BYTES_PER_NODE = 36;
/** hi, lo, count as three uint32 cells. */
const DENSE_BYTES_PER_NODE = 12;
/** A dense level is never larger than this (12 MB); bigger levels stay sparse however full they get. */
const MAX_DENSE_NODES = 1 << 20;
const CELLS_PER_NODE = 3;

/**
 * The hashes and key counts of one level's nodes. Starts sparse (a Map from node index to a slot
 * in a small cell array) because most trees hold few keys and a finest-but-one level of 4,096
 * nodes would cost 48 KB per tree dense; switches to a flat Uint32Array once that is cheaper.
 * Never switches back: a level that was once that full is likely to be again, and switching on
 * every crossing would flap.
 */
export class LevelNodes {
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
export const DIGEST_HI = 0;
export const DIGEST_LO = 1;
export const HASH_HI = 2;
export const HASH_LO = 3;
/** The key's position (first 32 bits of sha256(id)), kept so updates and removals need not re-hash the id. */
export const POSITION = 4;
/** Next slot + 1 in the same finest bucket; 0 ends the bucket's list. */
export const NEXT_IN_BUCKET = 5;
export const CELLS_PER_KEY = 6;

/**
 * Every key of a tree, columnar: an id-to-slot Map plus six uint32 cells per slot, the keys of one
 * finest bucket chained through NEXT_IN_BUCKET. Measured in V8 (Node 20) with 10K keys: ~170 bytes
 * per key, id strings and levels included; the obvious Map<bucket, Map<id, {digest, hash}>> took
 * ~390, which a 1,000-node simulation multiplies by every key it holds. Buckets hold ~1 key, so
 * walking a chain is cheap.
 */
export class KeyTable {
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



export function writeHashBytes(out: Uint8Array, hi: number, lo: number): void {
  out[0] = hi >>> 24;
  out[1] = hi >>> 16;
  out[2] = hi >>> 8;
  out[3] = hi;
  out[4] = lo >>> 24;
  out[5] = lo >>> 16;
  out[6] = lo >>> 8;
  out[7] = lo;
}
