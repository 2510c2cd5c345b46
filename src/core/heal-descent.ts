/**
 * The pure half of healing (heal.ts): comparing one side's Merkle tree (merkle.ts) with what the
 * peer sent of its own, one level at a time, and finally key by key inside the buckets that still
 * differ. No sessions, no sending, no timers: each function reads the tree and returns what to
 * answer, so a reader can check the descent without the protocol around it.
 */
import type { EngramConfig } from './config.js';
import { DIGEST_BYTES } from './digest.js';
import { hashBytes, healLevelFor, readUint32, type MerkleTree } from './merkle.js';
import { equalBytes } from './bytes.js';
import type { MemoryId } from './types.js';
import { KEY_HASH_BYTES, type HealBucketKeys } from './wire.js';

export interface LevelNode {
  readonly index: number;
  readonly hash: Uint8Array;
}

/** Wire bytes of one key in heal-keys (key hash and entry hash) and of one node in heal-level (index varint, ~2 bytes, and hash). */
const LISTED_KEY_BYTES = KEY_HASH_BYTES + DIGEST_BYTES;
const LEVEL_NODE_BYTES = 2 + DIGEST_BYTES;

/** The level at which both sides stop descending and list keys instead, for the larger of the two trees. */
export function stopLevelFor(config: EngramConfig, peerKeyCount: number, treeSize: number): number {
  const { merkleArity, merkleMaxDepth, merkleKeysPerBucket } = config;
  return healLevelFor(Math.max(peerKeyCount, treeSize), merkleArity, merkleMaxDepth, merkleKeysPerBucket);
}

/** The first level's hashes, which open the descent. */
export function firstLevel(tree: MerkleTree): LevelNode[] {
  return tree.childHashes(0, 0).map((hash, index) => ({ index, hash }));
}

/** Indices of the peer's `nodes` at `level` whose hashes differ from ours; undefined if one is out of the level's range. */
export function differingNodes(tree: MerkleTree, level: number, nodes: readonly LevelNode[]): number[] | undefined {
  const levelSize = tree.arity ** level;
  const differing: number[] = [];
  for (const node of nodes) {
    if (node.index >= levelSize) return undefined;
    if (!equalBytes(node.hash, tree.nodeHash(level, node.index))) differing.push(node.index);
  }
  return differing;
}

/** Our hashes one level below the `differing` nodes at `level`: the next step of the descent. */
export function nextLevel(tree: MerkleTree, level: number, differing: readonly number[]): LevelNode[] {
  const next: LevelNode[] = [];
  for (const index of differing) {
    tree.childHashes(level, index).forEach((hash, child) => next.push({ index: index * tree.arity + child, hash }));
  }
  return next;
}

/** Our keys under the `differing` nodes at `level`, as heal-keys lists them; each entry hash is noted in `listed`, to answer heal-want. */
export function listBuckets(tree: MerkleTree, level: number, differing: readonly number[], listed: Map<string, MemoryId>): HealBucketKeys[] {
  return differing.map((index) => {
    const keys: { keyHash: Uint8Array; entryHash: Uint8Array }[] = [];
    tree.forEachUnder(level, index, (id, position, hashHi, hashLo) => {
      listed.set(hashKey(hashHi, hashLo), id);
      keys.push({ keyHash: uint32Bytes(position), entryHash: hashBytes(hashHi, hashLo) });
    });
    return { index, keys };
  });
}

/**
 * Whether listing our keys under the `differing` nodes now takes fewer bytes than the next
 * level's hashes alone would. The stop level is chosen for sparse divergence, where a level
 * deeper leaves most keys behind in equal nodes. After a long split, writes touch nearly every
 * node: with 32K keys and 10K of them changed, the finest level's 65,536 hashes (~700 KB, and
 * ~1 s of a loaded tab's time) pruned almost nothing the key lists would have carried anyway.
 */
export function listingIsCheaper(tree: MerkleTree, level: number, differing: readonly number[]): boolean {
  let keys = 0;
  for (const index of differing) keys += tree.countUnder(level, index);
  return keys * LISTED_KEY_BYTES <= differing.length * tree.arity * LEVEL_NODE_BYTES;
}

export interface BucketComparison {
  /** Keys the peer lacks altogether. */
  readonly toShip: MemoryId[];
  /** Entry hashes the peer listed whose keys we hold in another version. */
  readonly want: Uint8Array[];
  /** Entry hashes the peer listed whose keys we lack altogether. */
  readonly missing: Uint8Array[];
}

/**
 * Compares the peer's listed keys with ours in the same buckets. Keys both hold in different
 * versions are added to `contested`. Undefined if a bucket is out of the level's range.
 */
export function compareBuckets(tree: MerkleTree, level: number, buckets: readonly HealBucketKeys[], contested: Set<MemoryId>): BucketComparison | undefined {
  const toShip: MemoryId[] = [];
  const want: Uint8Array[] = [];
  const missing: Uint8Array[] = [];
  // One set each over all listed buckets: an entry hash names one (id, digest), and a key hash
  // (the key's tree position) fixes its bucket, so nothing from two buckets can be confused.
  const theirEntries = new Set<string>();
  const theirKeys = new Set<number>();
  for (const bucket of buckets) {
    if (bucket.index >= tree.arity ** level) return undefined;
    for (const key of bucket.keys) {
      theirEntries.add(hashKeyOfBytes(key.entryHash));
      theirKeys.add(readUint32(key.keyHash, 0));
    }
  }
  const mine = new Set<string>();
  const myKeys = new Set<number>();
  for (const bucket of buckets) {
    tree.forEachUnder(level, bucket.index, (id, position, hashHi, hashLo) => {
      const entry = hashKey(hashHi, hashLo);
      mine.add(entry);
      myKeys.add(position);
      if (theirEntries.has(entry)) return;
      if (theirKeys.has(position)) contested.add(id);
      else toShip.push(id);
    });
  }
  for (const bucket of buckets) {
    for (const key of bucket.keys) {
      if (mine.has(hashKeyOfBytes(key.entryHash))) continue;
      (myKeys.has(readUint32(key.keyHash, 0)) ? want : missing).push(key.entryHash);
    }
  }
  return { toShip, want, missing };
}

/**
 * The key hash of a listed key: its tree position, i.e. the first 4 bytes of sha256(utf8(id)),
 * which the tree already holds. Lets two sides tell "same key, other version" from "key you lack".
 */
function uint32Bytes(value: number): Uint8Array {
  const out = new Uint8Array(KEY_HASH_BYTES);
  out[0] = value >>> 24;
  out[1] = value >>> 16;
  out[2] = value >>> 8;
  out[3] = value;
  return out;
}

/**
 * A map key for an 8-byte hash given as big-endian (hi, lo) halves: its four 16-bit units as a
 * string. Hex cost ~0.35 s of a 10K heal's CPU across five tabs (profile-heal); this is a few ns.
 */
function hashKey(hi: number, lo: number): string {
  return String.fromCharCode(hi >>> 16, hi & 0xffff, lo >>> 16, lo & 0xffff);
}

/** hashKey of an 8-byte hash's bytes. */
export function hashKeyOfBytes(bytes: Uint8Array): string {
  return hashKey(readUint32(bytes, 0), readUint32(bytes, 4));
}
