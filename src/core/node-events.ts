/**
 * The events an Engram node reports to its embedder (UI, simulator, checker), and the small
 * listener table that delivers them. Every mechanism of the node (membership-view.ts,
 * remote-apply.ts, sync-schedule.ts, node.ts) reports through the one `emit`.
 */
import type { HealProgress, HealReport } from './heal.js';
import type { Conflict } from './merge.js';
import type { Member, MemoryId, NodeId, Visibility } from './types.js';

export interface EngramEvents {
  membership: { member: Member; previous: Member | undefined; reaped: boolean };
  visibility: Visibility;
  conflict: { id: MemoryId; conflict: Conflict | undefined };
  write: { id: MemoryId; local: boolean };
  /** Records deleted for good: collected tombstones, or versions a peer showed to be obsolete (frontier.ts). */
  collected: { ids: readonly MemoryId[] };
  'heal-progress': HealProgress;
  heal: HealReport;
  error: { error: Error; from?: NodeId };
}

export type Listener<T> = (event: T) => void;

export type Emit = <K extends keyof EngramEvents>(event: K, payload: EngramEvents[K]) => void;

export class NodeEvents {
  private readonly listeners = new Map<keyof EngramEvents, Set<Listener<never>>>();

  on<K extends keyof EngramEvents>(event: K, listener: Listener<EngramEvents[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  emit<K extends keyof EngramEvents>(event: K, payload: EngramEvents[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of set) (listener as Listener<EngramEvents[K]>)(payload);
  }
}
