/**
 * This node's view of the cluster's size and reach: how many members it can see out of how many
 * it counts, the confidence penalty that follows (visibility.ts), and the partition generation
 * log that a change in the visible set advances (generation.ts). It follows SWIM's member
 * changes (swim.ts) and keeps counts per state, so that a change costs O(1), not O(members).
 */
import type { GenerationTracker } from './generation.js';
import type { Emit } from './node-events.js';
import type { Scheduler, TimerHandle } from './ports.js';
import type { MemberState, NodeId, Visibility } from './types.js';
import { penaltyFactor } from './visibility.js';

export interface MembershipViewOptions {
  readonly generations: GenerationTracker;
  readonly scheduler: Scheduler;
  readonly visibilityPenaltyFloor: number;
  /** Members this node saw before it was (re)opened (the last generation's visible set, self excluded). */
  readonly remembered: Iterable<NodeId>;
  /** Records the generation log with the next round of changes. */
  readonly persistState: () => void;
  readonly emit: Emit;
}

export class MembershipView {
  /** Last known state of every member (self included), kept so visibility is O(1) per change, not O(members). */
  private readonly memberStates = new Map<NodeId, MemberState>();
  private visibleCount = 0;
  private countableCount = 0;
  private sleepingCount = 0;
  /**
   * Members this node saw before it was (re)opened that SWIM has not heard of yet: counted in the
   * total, never as visible. Without them a restarted tab read at full confidence (1 of 1) until
   * its peers answered, though it had just seen a cluster of five. Forgotten after reapAfterMs,
   * as a dead member would be.
   */
  private readonly remembered = new Set<NodeId>();
  private rememberedTimer: TimerHandle | undefined;
  private lastVisibility: Visibility | undefined;

  constructor(private readonly options: MembershipViewOptions) {
    for (const id of options.remembered) this.remembered.add(id);
  }

  /** The visibility last reported (the one settle() or refresh() computed). */
  get visibility(): Visibility {
    return this.lastVisibility as Visibility;
  }

  /** Takes the current counts as the baseline later changes are reported against (once SWIM's first members are tracked). */
  settle(): void {
    this.lastVisibility = this.current();
  }

  /** Starts forgetting the remembered members after `reapAfterMs`. */
  start(reapAfterMs: number): void {
    if (this.remembered.size > 0) {
      this.rememberedTimer = this.options.scheduler.setTimer(reapAfterMs, () => {
        this.remembered.clear();
        this.refresh();
      });
    }
  }

  stop(): void {
    this.rememberedTimer?.cancel();
  }

  track(id: NodeId, state: MemberState | undefined): void {
    // SWIM knows of it now (in whatever state): it is counted from there on.
    this.remembered.delete(id);
    const before = this.memberStates.get(id);
    if (before === state) return;
    if (before !== undefined && before !== 'left' && before !== 'sleeping') this.countableCount--;
    if (before === 'alive') this.visibleCount--;
    if (before === 'sleeping') this.sleepingCount--;
    if (state === undefined) this.memberStates.delete(id);
    else this.memberStates.set(id, state);
    if (state !== undefined && state !== 'left' && state !== 'sleeping') this.countableCount++;
    if (state === 'alive') this.visibleCount++;
    if (state === 'sleeping') this.sleepingCount++;
  }

  private current(): Visibility {
    const total = Math.max(1, this.countableCount + this.remembered.size);
    const visible = Math.min(total, Math.max(1, this.visibleCount));
    const ratio = visible / total;
    const penalty = penaltyFactor(ratio, this.options.visibilityPenaltyFloor);
    return { visible, total, ratio, penalty, generation: this.options.generations.current, ...(this.sleepingCount > 0 ? { sleeping: this.sleepingCount } : {}) };
  }

  refresh(): void {
    const { generations, scheduler } = this.options;
    const last = this.visibility;
    const countable = this.countableCount + this.remembered.size;
    const partial = this.visibleCount < countable;
    let logChange: 'advanced' | 'widened' | 'unchanged' = 'unchanged';
    // The visible set is only listed when it can matter to the generation log: a partial view, the
    // end of one, or a small cluster. A healthy 1,000-node cluster pays O(1) per membership change.
    if (partial || last.ratio < 1 || countable <= 64 || generations.log.length === 0) {
      const visible: NodeId[] = [];
      for (const [id, state] of this.memberStates) if (state === 'alive') visible.push(id);
      logChange = generations.observe(visible, countable, scheduler.now());
    }
    const next = this.current();
    this.lastVisibility = next;
    // A widened member set is kept too: it is what a restart counts as not yet seen.
    if (logChange !== 'unchanged') this.options.persistState();
    const advanced = logChange === 'advanced';
    if (advanced || next.visible !== last.visible || next.total !== last.total || next.sleeping !== last.sleeping) this.options.emit('visibility', next);
  }
}
