/**
 * Partition generations as this node tells and hears them: its own log (generation.ts) and the
 * recent entries of its peers' logs, which heal sessions exchange (heal.ts) so that a replica can
 * tell which partition a version was written in. Bounded: the last 8 entries go out per node, at
 * most LIMITS.generationNodes nodes per message, and the last 32 are kept per peer.
 */
import type { GenerationTracker } from './generation.js';
import { LIMITS } from './limits.js';
import type { GenerationEntry, NodeId } from './types.js';
import type { GenerationLog } from './wire.js';

export class GenerationGossip {
  private readonly knownGenerations = new Map<NodeId, readonly GenerationEntry[]>();

  constructor(
    private readonly self: NodeId,
    private readonly generations: GenerationTracker,
  ) {}

  logs(): GenerationLog[] {
    const logs: GenerationLog[] = [{ node: this.self, entries: this.generations.log.slice(-8) }];
    for (const [node, entries] of this.knownGenerations) {
      if (node !== this.self && logs.length < LIMITS.generationNodes) logs.push({ node, entries: entries.slice(-8) });
    }
    return logs;
  }

  learn(logs: readonly GenerationLog[]): void {
    for (const log of logs) {
      if (log.node === this.self) continue;
      const known = this.knownGenerations.get(log.node) ?? [];
      const byGeneration = new Map(known.map((entry) => [entry.generation, entry]));
      for (const entry of log.entries) byGeneration.set(entry.generation, entry);
      const merged = [...byGeneration.values()].sort((a, b) => a.generation - b.generation).slice(-32);
      this.knownGenerations.set(log.node, merged);
    }
  }

  entry(node: NodeId, generation: number): GenerationEntry | undefined {
    if (node === this.self) return this.generations.entry(generation);
    return this.knownGenerations.get(node)?.find((entry) => entry.generation === generation);
  }

  /** A reaped member's log is dropped with it. */
  forget(node: NodeId): void {
    this.knownGenerations.delete(node);
  }
}
