/**
 * A Jepsen-style history: every client operation with what the client saw and when, judged
 * afterwards by the checker (checker.ts). Only writes the client saw acknowledged count as
 * promises the cluster must keep.
 */
import type { Dot, MemoryId, NodeId, VersionVector } from '../core/types.js';

export type OperationKind = 'remember' | 'forget';

export interface Operation {
  readonly kind: OperationKind;
  readonly node: NodeId;
  readonly id: MemoryId | undefined;
  readonly content: string | undefined;
  readonly invokedAt: number;
  outcome: 'pending' | 'ok' | 'fail';
  ackedAt: number | undefined;
  /** The version the write created (its dot), once acknowledged. */
  dot: Dot | undefined;
  /** Memory id the write went to, once acknowledged (new memories get theirs from the node). */
  ackedId: MemoryId | undefined;
  /** For a forget: what the tombstone had seen of the memory (its causal context). */
  context: VersionVector | undefined;
  error: string | undefined;
}

export class History {
  readonly operations: Operation[] = [];

  invoke(kind: OperationKind, node: NodeId, at: number, id?: MemoryId, content?: string): Operation {
    const operation: Operation = {
      kind,
      node,
      id,
      content,
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
    operation.error = error instanceof Error ? error.message : String(error);
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
