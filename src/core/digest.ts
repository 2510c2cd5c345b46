/**
 * Content digests: what Merkle trees compare and what convergence checks compare.
 * SHA-256 (from @noble/hashes, audited and dependency-free) truncated to 64 bits: a chance
 * collision between two of 10^6 records is ~3e-8, and eight bytes keep heal messages small.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ByteWriter } from './bytes.js';
import type { MemoryRecord, Version } from './types.js';

export const DIGEST_BYTES = 8;

export function digestBytes(bytes: Uint8Array): Uint8Array {
  return sha256(bytes).subarray(0, DIGEST_BYTES);
}

/** Canonical bytes of a version: every field, in a fixed order, context entries sorted by node id. */
export function writeVersionCanonical(w: ByteWriter, version: Version): void {
  w.string(version.dot.node).varint(version.dot.counter);
  const nodes = Object.keys(version.context).sort();
  w.varint(nodes.length);
  for (const node of nodes) w.string(node).varint(version.context[node] as number);
  w.string(version.content);
  w.varint(version.tags.length);
  for (const tag of version.tags) w.string(tag);
  w.f64(version.confidence).bool(version.deleted);
  w.f64(version.createdAt).string(version.author).f64(version.writtenAt).varint(version.generation);
}

export function versionDigest(version: Version): Uint8Array {
  const w = new ByteWriter(128);
  writeVersionCanonical(w, version);
  return digestBytes(w.finish());
}

/** Digest of a record's whole sibling set; equal on two replicas exactly when they hold the same versions. */
export function recordDigest(record: MemoryRecord): Uint8Array {
  const w = new ByteWriter(256);
  w.string(record.id).varint(record.siblings.length);
  for (const sibling of record.siblings) writeVersionCanonical(w, sibling);
  return digestBytes(w.finish());
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}
