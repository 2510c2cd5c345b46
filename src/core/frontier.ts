/**
 * Forgetting frees space (issue 9): when a tombstone may be dropped for good, and what keeps a
 * replica that still holds the forgotten memory from bringing it back.
 *
 * A replica's **frontier** F says, for each writer w, that every dot (w, 1..F[w]) is either held
 * here or obsolete (superseded by a version that exists, or existed, somewhere). This is the one
 * invariant everything below rests on. It holds because F grows only two ways:
 *  - F[self] is the replica's own counter: it wrote each of its dots and holds it or wrote over it.
 *  - After a heal in which both roots were equal, a replica may take the peer's frontier (as the
 *    peer sent it no later than its root): the peer's dots up to F_peer were held or obsolete
 *    there, the two held the same records, and a replica only ever drops obsolete versions. This
 *    is the only way F learns from others. (An earlier attempt also learned from heals that ended
 *    diverged: 5 acknowledged writes lost on simulator seed 4. Equal roots are what make it sound.)
 *
 * With F, a replica can tell "a version I never saw" from "a version I saw and wrote over":
 *  - **Collection.** A record whose siblings are all tombstones may be deleted once F covers every
 *    sibling's dot and context (so anything it superseded would be recognised as obsolete), and
 *    its newest tombstone is older than the horizon.
 *  - **Refusal.** A remote version this replica does not hold, whose dot F covers, is obsolete:
 *    it is skipped, never merged. A replica that comes back after the horizon with old versions
 *    resurrects nothing here.
 *  - **Dropping.** In a heal, a record this replica holds that the peer lacks altogether, each of
 *    whose siblings the peer's frontier covers, is obsolete: the peer saw it and holds nothing of
 *    it, so a tombstone over it was collected there. The returning replica drops it, and the two
 *    converge instead of shipping it back and forth forever.
 *
 * Hostile members: a peer's frontier is a claim. Claims are capped at what this replica has
 * itself seen of each writer, and only versions older than the horizon are ever refused or
 * dropped on a peer's word, so a lie cannot make anyone lose a fresh write; what it can do to
 * older ones is what a member may do anyway by forgetting them (docs/THREAT-MODEL.md).
 */
import type { MemoryRecord, NodeId, Version, VersionVector } from './types.js';

/** A frontier with this replica's own entry filled in (its counter). */
export function withOwnEntry(frontier: VersionVector, self: NodeId, counter: number): VersionVector {
  return (frontier[self] ?? 0) >= counter ? frontier : { ...frontier, [self]: counter };
}

/**
 * What this replica may learn from a peer whose root equalled its own: the peer's entries, each
 * capped at the highest counter of that writer this replica knows of (`known`), its own entry left
 * out (its counter says it exactly). Returns undefined when nothing grows.
 */
export function learnFrontier(
  mine: VersionVector,
  peers: VersionVector,
  self: NodeId,
  known: (node: NodeId) => number,
): VersionVector | undefined {
  let learned: Record<NodeId, number> | undefined;
  for (const node of Object.keys(peers)) {
    if (node === self) continue;
    const claim = Math.min(peers[node] as number, known(node));
    if (claim > (mine[node] ?? 0)) (learned ??= { ...mine })[node] = claim;
  }
  return learned;
}

function covered(frontier: VersionVector, node: NodeId, counter: number): boolean {
  return counter <= (frontier[node] ?? 0);
}

/** Whether a version's dot is under the frontier and it is older than the cutoff (epoch ms). */
export function obsolete(version: Version, frontier: VersionVector, cutoff: number): boolean {
  return covered(frontier, version.dot.node, version.dot.counter) && version.writtenAt < cutoff;
}

/** Whether every sibling of `record` is obsolete by the peer's frontier: a record the peer lacks may then be dropped. */
export function droppable(record: MemoryRecord, peerFrontier: VersionVector, cutoff: number): boolean {
  return record.siblings.every((version) => obsolete(version, peerFrontier, cutoff));
}

/**
 * Whether `record` is a forgotten memory that may be deleted: every sibling a tombstone older than
 * the cutoff, and the frontier covering each one's dot and context, so that every version it
 * superseded would be refused as obsolete if it ever came back.
 */
export function collectable(record: MemoryRecord, frontier: VersionVector, cutoff: number): boolean {
  return record.siblings.every(
    (version) =>
      version.deleted &&
      obsolete(version, frontier, cutoff) &&
      Object.keys(version.context).every((node) => covered(frontier, node, version.context[node] as number)),
  );
}
