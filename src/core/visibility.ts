/**
 * The visibility penalty: a node that sees only part of the cluster may be missing writes made
 * on the other side, so the confidence it reports for what it reads is scaled down, gently for
 * the first few members lost and steeply as it approaches being alone.
 */
import type { Member, Visibility } from './types.js';

export const PARTIAL_VISIBILITY_WARNING = 'Partial cluster visibility - may be incomplete';

/**
 * Monotone factor in [floor, 1], 1 at ratio 1: floor + (1 - floor) * (1 - (1 - ratio)^2). Losing the first few members costs little (4/5 → 0.97 at floor 0.25), being nearly alone costs much (1/5 → 0.52).
 *
 * Both arguments are computed locally (a member count and a config value), so one outside [0, 1]
 * or NaN is a bug: it throws RangeError rather than being clamped into a plausible-looking factor.
 */
export function penaltyFactor(ratio: number, floor: number): number {
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`visibility ratio must be in [0, 1], got ${ratio}`);
  if (!(floor >= 0 && floor <= 1)) throw new RangeError(`penalty floor must be in [0, 1], got ${floor}`);
  const missing = 1 - ratio;
  return floor + (1 - floor) * (1 - missing * missing);
}

/** visible = alive members (self included); total = alive + suspect + dead (left and sleeping excluded; reaped ones are not in the list). */
export function computeVisibility(members: readonly Member[], generation: number, floor: number): Visibility {
  let visible = 0;
  let total = 0;
  for (const member of members) {
    if (member.state === 'left' || member.state === 'sleeping') continue;
    total++;
    if (member.state === 'alive') visible++;
  }
  // The list always holds this node: an empty one is a caller bug, not "sees everything".
  if (total === 0) throw new RangeError('members must include this node');
  const ratio = visible / total;
  return { visible, total, ratio, penalty: penaltyFactor(ratio, floor), generation };
}

/**
 * The confidence to report for a read at this visibility. Confidences are replicated data, so one
 * out of [0, 1] (a buggy or hostile writer) is clamped, NaN to 0, rather than failing the read.
 */
export function adjustConfidence(confidence: number, visibility: Visibility): number {
  const clamped = Number.isNaN(confidence) ? 0 : Math.min(1, Math.max(0, confidence));
  return clamped * visibility.penalty;
}

/** The warning when ratio < 1. */
export function visibilityWarning(visibility: Visibility): string | undefined {
  return visibility.ratio < 1 ? PARTIAL_VISIBILITY_WARNING : undefined;
}
