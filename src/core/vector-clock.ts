/**
 * Version vectors and the causal order between them.
 */
import type { Dot, NodeId, VersionVector } from './types.js';

export type Ordering = 'equal' | 'before' | 'after' | 'concurrent';

export const EMPTY_CLOCK: VersionVector = Object.freeze({});

export function entry(clock: VersionVector, node: NodeId): number {
  return clock[node] ?? 0;
}

/** How `a` relates to `b`: before means every event of a is in b and b has more. */
export function compare(a: VersionVector, b: VersionVector): Ordering {
  let aHasMore = false;
  let bHasMore = false;
  for (const node of Object.keys(a)) {
    const av = a[node] as number;
    const bv = entry(b, node);
    if (av > bv) aHasMore = true;
    else if (av < bv) bHasMore = true;
  }
  for (const node of Object.keys(b)) {
    if (!(node in a) && (b[node] as number) > 0) bHasMore = true;
  }
  if (aHasMore && bHasMore) return 'concurrent';
  if (aHasMore) return 'after';
  if (bHasMore) return 'before';
  return 'equal';
}

/** The least upper bound: entry-wise maximum. */
export function merge(a: VersionVector, b: VersionVector): VersionVector {
  const out: Record<NodeId, number> = { ...a };
  for (const node of Object.keys(b)) {
    const bv = b[node] as number;
    if (bv > (out[node] ?? 0)) out[node] = bv;
  }
  return out;
}

/** Whether the clock includes the event `dot`. */
export function covers(clock: VersionVector, dot: Dot): boolean {
  return entry(clock, dot.node) >= dot.counter;
}

/** The clock with the event `dot` added. */
export function withDot(clock: VersionVector, dot: Dot): VersionVector {
  if (covers(clock, dot)) return clock;
  return { ...clock, [dot.node]: dot.counter };
}

/** Entries of `clock` that are greater than in `base`: what someone who knows `base` lacks. */
export function deltaSince(clock: VersionVector, base: VersionVector): VersionVector {
  const out: Record<NodeId, number> = {};
  for (const node of Object.keys(clock)) {
    const value = clock[node] as number;
    if (value > entry(base, node)) out[node] = value;
  }
  return out;
}

/** Total order on dots (node id, then counter): the deterministic tie-break everywhere. */
export function compareDots(a: Dot, b: Dot): number {
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return a.counter - b.counter;
}

export function dotKey(dot: Dot): string {
  return `${dot.node}:${dot.counter}`;
}
