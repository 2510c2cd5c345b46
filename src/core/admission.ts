/**
 * What a replica admits from its peers: the checks a remote version must pass before it is merged
 * (node.ts applyRemote). Merge (merge.ts) trusts causal metadata; an authenticated but hostile
 * member can send any metadata it likes, and two kinds of lie did real damage (issue 10):
 *
 *  - A forged dot (`dot.node` = the victim): the victim's own acknowledged edits were dropped on
 *    the victim right after `remember()` resolved. Rule: a version that claims one of this
 *    replica's own dots is admitted only if the replica holds exactly that version, or has seen
 *    it superseded (a sibling supersedes it, merge.ts). Only this node issues its dots, so it
 *    is the one replica that can tell; it then re-asserts (node.ts reassert) so that third
 *    parties, which cannot tell, converge on its version too.
 *  - An inflated context (2^53−1 for every node) superseded every later honest version, and each
 *    honest edit became one more sibling. Rules: a context may not claim more of this replica's
 *    own writes than it has issued (exact); may not claim its writer saw its own future
 *    (context[dot.node] >= dot.counter, which no honest writer produces); and may not claim any
 *    other node's counter beyond what this replica knows of that node + LIMITS.counterLeap
 *    (honest metadata never leaps that far). What a replica knows of a node it has a link to is
 *    that node's own word, its link header (node.ts knownCounter): admitted claims counted as
 *    knowledge let a liar ratchet it counterLeap at a time to the bound. Of a node it never
 *    linked to, it is the highest dot or context entry it admitted. A version refused for lack
 *    of knowledge is admitted by a later heal, once the writer has been heard.
 *  - A timestamp from the far future (Number.MAX_VALUE) dragged every hybrid clock that observed
 *    it there, and the next local timestamp was Infinity, which no decoder reads. Rule: createdAt
 *    and writtenAt may be at most LIMITS.clockAheadMs ahead of this replica's wall clock.
 *  - Siblings: a record keeps at most LIMITS.siblings, which every decoder reads; a version that
 *    would take it past that is refused here (counted and reported), never held in a record
 *    that could not be sent. Local writes supersede every sibling, so honest records stay at one
 *    version per concurrent writer.
 */
import { versionsEqual } from './merge.js';
import { LIMITS } from './limits.js';
import type { MemoryRecord, NodeId, Version } from './types.js';
import { covers } from './vector-clock.js';

export type Refusal = 'forged-dot' | 'forged-context' | 'impossible-context' | 'implausible-counter' | 'implausible-timestamp';

/** What the receiving replica knows: who it is, what it has issued, and what it has seen of others. */
export interface AdmissionView {
  readonly self: NodeId;
  /** The highest dot counter this replica has issued. */
  readonly issued: number;
  /** The highest counter of `node` this replica has seen in an admitted dot or context entry, or that `node` itself said it holds. */
  known(node: NodeId): number;
  /** This replica's wall clock, epoch ms (timestamps further ahead than LIMITS.clockAheadMs are refused). */
  readonly wallNowMs: number;
}

/** Why `version` (for the record `current` is this replica's copy of) must be refused, if it must. */
export function refusalOf(version: Version, current: MemoryRecord | undefined, view: AdmissionView): Refusal | undefined {
  const { dot, context } = version;
  if (Math.max(version.writtenAt, version.createdAt) > view.wallNowMs + LIMITS.clockAheadMs) return 'implausible-timestamp';
  if (dot.node === view.self) {
    const held = current?.siblings.find((sibling) => sibling.dot.counter === dot.counter && sibling.dot.node === dot.node);
    if (held !== undefined) return versionsEqual(held, version) ? undefined : 'forged-dot';
    // Admitted only if merging it would drop it: a sibling's *context* covers it (the record
    // context also counts sibling dots: a forgery below one's own newer dot was admitted and held
    // beside it, seed 1 at 5 min), and it does not claim to cover that sibling back (mutual
    // coverage supersedes neither, merge.ts: such a forgery stayed beside it, seed 2 at 5 min).
    const superseded = current?.siblings.some((sibling) => covers(sibling.context, dot) && !covers(context, sibling.dot));
    return superseded ? undefined : 'forged-dot';
  }
  if ((context[dot.node] ?? 0) >= dot.counter) return 'impossible-context';
  if ((context[view.self] ?? 0) > view.issued) return 'forged-context';
  if (dot.counter > view.known(dot.node) + LIMITS.counterLeap) return 'implausible-counter';
  for (const node of Object.keys(context)) {
    if (node !== view.self && (context[node] as number) > view.known(node) + LIMITS.counterLeap) return 'implausible-counter';
  }
  return undefined;
}

/** The counter this replica must pass (and the dot it must cover) to write over `version` in a re-assertion. */
export function reassertionFloor(version: Version, self: NodeId): number {
  return Math.max(version.dot.node === self ? version.dot.counter : 0, version.context[self] ?? 0);
}
