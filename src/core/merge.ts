/**
 * Conservative merge of one memory's replicas. A record is a dotted-version-vector sibling set:
 * a version leaves the set only when another version's context covers its dot, i.e. when a writer
 * had seen it and wrote over it. Concurrent writes (a forget concurrent with an edit included) stay
 * side by side until someone resolves them by writing after seeing them. The join is the canonical
 * sibling set of the union, which makes it commutative, associative and idempotent, so replicas
 * that received the same versions in any order hold structurally equal records.
 */
import { versionDigest } from './digest.js';
import type { MemoryId, MemoryRecord, Version, VersionVector } from './types.js';
import { EMPTY_CLOCK, compareDots, covers, merge as mergeClocks, withDot } from './vector-clock.js';

/**
 * Whether `a` supersedes `b`: a's writer had seen b. Mutual coverage cannot arise from honest
 * writers (b would have to have seen a write made after it); requiring coverage to be one-sided
 * means forged contexts can never make two versions erase each other.
 */
function supersedes(a: Version, b: Version): boolean {
  return covers(a.context, b.dot) && !covers(b.context, a.dot);
}

function sameDot(a: Version, b: Version): boolean {
  return a.dot.node === b.dot.node && a.dot.counter === b.dot.counter;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const difference = (a[i] as number) - (b[i] as number);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

/**
 * Whether `challenger` displaces `holder` under their shared dot. Dots are unique for honest
 * writers, so two different versions under one dot come from a bug or a hostile peer; the smaller
 * digest wins so every replica makes the same choice whatever order the two arrived in.
 */
function winsSameDot(challenger: Version, holder: Version): boolean {
  if (versionsEqual(challenger, holder)) return false;
  return compareBytes(versionDigest(challenger), versionDigest(holder)) < 0;
}

/** Canonical sibling set: drop every version some other version supersedes; one version per dot (if two differ under the same dot — only a bug or a hostile peer can cause it — keep the one whose versionDigest is smaller, so merge stays deterministic); sorted by compareDots. */
export function canonicalSiblings(versions: readonly Version[]): Version[] {
  const byDot = versions.slice().sort((a, b) => compareDots(a.dot, b.dot));
  const onePerDot: Version[] = [];
  for (const version of byDot) {
    const previous = onePerDot[onePerDot.length - 1];
    if (previous !== undefined && sameDot(previous, version)) {
      if (winsSameDot(version, previous)) onePerDot[onePerDot.length - 1] = version;
    } else {
      onePerDot.push(version);
    }
  }
  // Quadratic, but a record holds a handful of siblings: concurrent writes to one memory are rare.
  return onePerDot.filter((candidate) => !onePerDot.some((other) => supersedes(other, candidate)));
}

/** The join of two replicas of one record (same id; else throw RangeError). Commutative, associative, idempotent. */
export function mergeRecords(a: MemoryRecord, b: MemoryRecord): MemoryRecord {
  if (a.id !== b.id) throw new RangeError(`cannot merge records of different memories: ${a.id} and ${b.id}`);
  return { id: a.id, siblings: canonicalSiblings([...a.siblings, ...b.siblings]) };
}

/** Adds one version (a local write or one received). */
export function addVersion(record: MemoryRecord | undefined, id: MemoryId, version: Version): MemoryRecord {
  if (record === undefined) return { id, siblings: [version] };
  return mergeRecords(record, { id, siblings: [version] });
}

/** Everything this record has seen: union of all siblings' contexts and dots. A new local write uses it as its context, so it supersedes every current sibling. */
export function recordContext(record: MemoryRecord | undefined): VersionVector {
  if (record === undefined) return EMPTY_CLOCK;
  let context: VersionVector = EMPTY_CLOCK;
  for (const sibling of record.siblings) context = withDot(mergeClocks(context, sibling.context), sibling.dot);
  return context;
}

/** The version to show: highest confidence, then the total order on dots (greatest dot wins). Tombstones take part like any version. */
export function shownVersion(record: MemoryRecord): Version {
  let shown = record.siblings[0];
  if (shown === undefined) throw new RangeError(`record ${record.id} has no versions`);
  for (const sibling of record.siblings) {
    if (
      sibling.confidence > shown.confidence ||
      (sibling.confidence === shown.confidence && compareDots(sibling.dot, shown.dot) > 0)
    ) {
      shown = sibling;
    }
  }
  return shown;
}

/**
 * True when `b` adds nothing to `a` (merge(a,b) equals a): lets a receiver skip writes.
 * Checked without building the merge: each of b's versions must already be in `a`, lose the
 * same-dot tie-break to a's version, or be superseded by one of a's siblings. Exact for canonical
 * `a` (every record this module returns) and histories honest writers produce.
 */
export function includes(a: MemoryRecord | undefined, b: MemoryRecord): boolean {
  if (a === undefined) return b.siblings.length === 0;
  if (a.id !== b.id) throw new RangeError(`cannot compare records of different memories: ${a.id} and ${b.id}`);
  return b.siblings.every((incoming) => {
    const held = a.siblings.find((sibling) => sameDot(sibling, incoming));
    if (held !== undefined) return !winsSameDot(incoming, held);
    return a.siblings.some((sibling) => supersedes(sibling, incoming));
  });
}

function contextsEqual(a: VersionVector, b: VersionVector): boolean {
  const aNodes = Object.keys(a);
  if (aNodes.length !== Object.keys(b).length) return false;
  return aNodes.every((node) => Object.hasOwn(b, node) && a[node] === b[node]);
}

function arraysEqual(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

/**
 * Field-by-field equality with exactly the distinctions versionDigest makes (tag order, explicit
 * zero context entries, -0 vs 0), so recordsEqual and recordDigest never disagree.
 */
export function versionsEqual(a: Version, b: Version): boolean {
  return (
    a === b ||
    (sameDot(a, b) &&
      contextsEqual(a.context, b.context) &&
      a.content === b.content &&
      arraysEqual(a.tags, b.tags) &&
      Object.is(a.confidence, b.confidence) &&
      a.deleted === b.deleted &&
      Object.is(a.createdAt, b.createdAt) &&
      a.author === b.author &&
      Object.is(a.writtenAt, b.writtenAt) &&
      a.generation === b.generation)
  );
}

export function recordsEqual(a: MemoryRecord, b: MemoryRecord): boolean {
  return (
    a.id === b.id &&
    a.siblings.length === b.siblings.length &&
    a.siblings.every((sibling, i) => versionsEqual(sibling, b.siblings[i] as Version))
  );
}

export interface Conflict {
  readonly id: MemoryId;
  /** The siblings in contention (the shown one included), in canonical order. */
  readonly siblings: readonly Version[];
  readonly shown: Version;
}

/**
 * Slack on the margin so that figures written in decimal behave as written: 0.8 - 0.7 is
 * 0.10000000000000009 in binary and must still count as within a margin of 0.1.
 */
const MARGIN_TOLERANCE = 1e-9;

/** What a person would see as different. Two forgets agree whatever text they still carry. */
function userContentDiffers(a: Version, b: Version): boolean {
  if (a.deleted !== b.deleted) return true;
  if (a.deleted) return false;
  if (a.content !== b.content) return true;
  const aTags = [...new Set(a.tags)].sort();
  const bTags = [...new Set(b.tags)].sort();
  return !arraysEqual(aTags, bTags);
}

/** A true conflict: >= 2 siblings whose user content differs (content, tags as a set, deleted flag) and whose confidences are within `margin` of the shown one's. Siblings further apart are resolved by confidence (still kept). Deterministic. */
export function conflictOf(record: MemoryRecord, margin: number): Conflict | undefined {
  if (!(margin >= 0)) throw new RangeError(`conflict margin must be a non-negative number, got ${margin}`);
  if (record.siblings.length < 2) return undefined;
  const shown = shownVersion(record);
  const contenders = record.siblings.filter(
    (sibling) => shown.confidence - sibling.confidence <= margin + MARGIN_TOLERANCE,
  );
  // The shown version is the most confident, so contenders include it; any two that differ
  // means at least one differs from it.
  if (!contenders.some((sibling) => userContentDiffers(sibling, shown))) return undefined;
  return { id: record.id, siblings: contenders, shown };
}
