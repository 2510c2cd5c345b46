/**
 * Partition generations: a number that advances whenever this node's view enters, changes
 * inside, or leaves a partition, with the member set it saw. Every write is stamped with the
 * writer's generation, so after a heal the merge can say which writes were made on which side.
 */
import type { GenerationEntry, NodeId } from './types.js';

/** How many past generations a node keeps (and ships in heal handshakes). */
export const GENERATION_LOG_LENGTH = 16;

export class GenerationTracker {
  private generationNumber: number;
  private entries: GenerationEntry[];

  constructor(initial: { generation: number; generations: readonly GenerationEntry[] }) {
    this.generationNumber = initial.generation;
    this.entries = initial.generations.slice(-GENERATION_LOG_LENGTH);
  }

  get current(): number {
    return this.generationNumber;
  }

  get log(): readonly GenerationEntry[] {
    return this.entries;
  }

  /**
   * Tells the tracker what the node sees now. Returns 'advanced' when the generation advanced:
   * the visible set changed while the view was (or becomes) partial. A new member joining a
   * fully visible cluster is not a partition event, so it does not advance the generation; the
   * log's member set widens ('widened'), which is still worth keeping: a restarted node counts
   * those members as unseen until they answer (see EngramNode).
   */
  observe(visible: readonly NodeId[], total: number, now: number): 'advanced' | 'widened' | 'unchanged' {
    const sorted = [...visible].sort();
    const last = this.entries[this.entries.length - 1];
    const partialNow = sorted.length < total;
    if (!last) {
      this.entries.push({ generation: this.generationNumber, since: now, visible: sorted });
      return 'widened';
    }
    if (sameSet(last.visible, sorted)) return 'unchanged';
    const wasPartial = last.partial ?? false;
    if (!partialNow && !wasPartial) {
      // Same generation, wider membership: keep the log's member set current without advancing.
      this.entries[this.entries.length - 1] = { ...last, visible: sorted, partial: false };
      return 'widened';
    }
    this.generationNumber += 1;
    this.entries.push({ generation: this.generationNumber, since: now, visible: sorted, partial: partialNow });
    if (this.entries.length > GENERATION_LOG_LENGTH) this.entries.splice(0, this.entries.length - GENERATION_LOG_LENGTH);
    return 'advanced';
  }

  /** The entry for `generation`, if still in the log. */
  entry(generation: number): GenerationEntry | undefined {
    return this.entries.find((candidate) => candidate.generation === generation);
  }
}

function sameSet(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
