/**
 * A Jepsen-style history: every client operation with what the client saw and when, judged
 * afterwards by the checker (checker.ts). Only writes the client saw acknowledged count as
 * promises the cluster must keep; a write that failed or never answered may or may not have
 * happened (Jepsen's `:info`), so the read checks treat it as possibly visible.
 *
 * Times are whatever one clock the caller uses for every entry (virtual ms in the simulator, the
 * test process's ms for browsers). Stamp invocations before sending and completions after the
 * answer came back: the real event then lies inside [invokedAt, completedAt], which is what
 * makes the checker's real-time reasoning sound.
 */
import type { RecallQuery } from '../core/recall.js';
import type { Dot, MemoryId, NodeId, VersionVector } from '../core/types.js';

export type OperationKind = 'remember' | 'forget';

export interface Operation {
  readonly kind: OperationKind;
  readonly node: NodeId;
  readonly id: MemoryId | undefined;
  readonly content: string | undefined;
  /** The tags a remember wrote (recall matches on them too). */
  readonly tags: readonly string[];
  readonly invokedAt: number;
  outcome: 'pending' | 'ok' | 'fail';
  ackedAt: number | undefined;
  /** The version the write created (its dot), once acknowledged. */
  dot: Dot | undefined;
  /** Memory id the write went to, once acknowledged (new memories get theirs from the node). */
  ackedId: MemoryId | undefined;
  /** What the new version had seen of the memory (its causal context), if the client read it back. */
  context: VersionVector | undefined;
  error: string | undefined;
}

/** One recall: the query, and what came back (the ids in order, and the visibility it reported). */
export interface RecallOperation {
  readonly node: NodeId;
  readonly query: RecallQuery;
  readonly invokedAt: number;
  outcome: 'pending' | 'ok' | 'fail';
  completedAt: number | undefined;
  ids: readonly MemoryId[] | undefined;
  visibility: { readonly visible: number; readonly total: number } | undefined;
  warning: string | undefined;
  error: string | undefined;
}

/** What a recall answered, as `window.engram.recall` and `EngramNode.recall` return it. */
export interface RecallAnswer {
  readonly results: readonly { readonly id: MemoryId }[];
  readonly visibility: { readonly visible: number; readonly total: number };
  readonly warning?: string | undefined;
}

/**
 * The nemesis's entries (Jepsen logs them in the history too): what was done to the cluster and
 * whether any fault (a cut, a node down) is in force after it. The stale-read check measures
 * staleness from the last moment the cluster became whole again.
 */
export interface FaultEvent {
  readonly at: number;
  readonly description: string;
  readonly faulted: boolean;
}

export class History {
  readonly operations: Operation[] = [];
  readonly recalls: RecallOperation[] = [];
  readonly faults: FaultEvent[] = [];

  invoke(kind: OperationKind, node: NodeId, at: number, id?: MemoryId, content?: string, tags: readonly string[] = []): Operation {
    const operation: Operation = {
      kind,
      node,
      id,
      content,
      tags: [...tags],
      invokedAt: at,
      outcome: 'pending',
      ackedAt: undefined,
      dot: undefined,
      ackedId: undefined,
      context: undefined,
      error: undefined,
    };
    this.operations.push(operation);
    return operation;
  }

  ok(operation: Operation, at: number, id: MemoryId, dot: Dot, context?: VersionVector): void {
    operation.outcome = 'ok';
    operation.ackedAt = at;
    operation.ackedId = id;
    operation.dot = dot;
    operation.context = context;
  }

  fail(operation: Operation, at: number, error: unknown): void {
    operation.outcome = 'fail';
    operation.ackedAt = at;
    operation.error = messageOf(error);
  }

  invokeRecall(node: NodeId, at: number, query: RecallQuery): RecallOperation {
    const recall: RecallOperation = {
      node,
      query: { ...query, ...(query.tags ? { tags: [...query.tags] } : {}) },
      invokedAt: at,
      outcome: 'pending',
      completedAt: undefined,
      ids: undefined,
      visibility: undefined,
      warning: undefined,
      error: undefined,
    };
    this.recalls.push(recall);
    return recall;
  }

  recallOk(recall: RecallOperation, at: number, answer: RecallAnswer): void {
    recall.outcome = 'ok';
    recall.completedAt = at;
    recall.ids = answer.results.map((result) => result.id);
    recall.visibility = { visible: answer.visibility.visible, total: answer.visibility.total };
    recall.warning = answer.warning;
  }

  recallFailed(recall: RecallOperation, at: number, error: unknown): void {
    recall.outcome = 'fail';
    recall.completedAt = at;
    recall.error = messageOf(error);
  }

  /** Logs a nemesis action; `faulted` says whether any cut or crashed node remains after it. */
  fault(at: number, description: string, faulted: boolean): void {
    this.faults.push({ at, description, faulted });
  }

  acknowledged(): Operation[] {
    return this.operations.filter((operation) => operation.outcome === 'ok');
  }

  /** Acknowledged operations whose ack time lies in [from, to). */
  acknowledgedBetween(from: number, to: number): number {
    let count = 0;
    for (const operation of this.operations) {
      if (operation.outcome === 'ok' && (operation.ackedAt as number) >= from && (operation.ackedAt as number) < to) count++;
    }
    return count;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
