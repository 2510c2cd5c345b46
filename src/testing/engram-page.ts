/**
 * What a partition test can do with a page that exposes an Engram node as `window.engram` (the
 * handle `openBrowserNode` resolves to): wait for visibility and convergence, and run a client
 * workload whose every call is recorded in a History, judged afterwards by the simulator's
 * checker (lost and resurrected writes, convergence, conflicts surfaced, read-your-writes,
 * monotonic and stale reads).
 */
import type { Page } from '@playwright/test';
import type { BrowserNode } from '../browser/open-browser-node.js';
import { DEFAULT_CONFIG } from '../core/config.js';
import type { RecallQuery } from '../core/recall.js';
import type { Dot, MemoryId, VersionVector } from '../core/types.js';
import { checkSnapshots, staleAfterMsFor, type CheckReport, type ReplicaSnapshot } from '../check/checker.js';
import { History } from '../check/history.js';

/** The page's globals as an Engram app sets them. */
export interface EngramWindow {
  engram?: BrowserNode;
  engramError?: string;
}

/** Anything with a page: a ClusterNode, or your own. */
export interface HasPage {
  readonly page: Page;
  /** The node id, when known (a ClusterNode's): read from the page otherwise. */
  readonly id?: string | undefined;
}

/** `window.engram.id`, or undefined when the page exposes no Engram node. */
export async function engramIdOf(page: Page): Promise<string | undefined> {
  return page.evaluate(() => {
    const engram = (window as unknown as EngramWindow).engram;
    return typeof engram?.faults?.block === 'function' ? engram.id : undefined;
  });
}

/** A readiness predicate for PartitionCluster: resolves once the page has set `window.engram`. */
export async function engramReady(page: Page, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(
    () => {
      const globals = window as unknown as EngramWindow;
      return globals.engram !== undefined || globals.engramError !== undefined;
    },
    undefined,
    { timeout: timeoutMs },
  );
  const error = await page.evaluate(() => (window as unknown as EngramWindow).engramError);
  if (error) throw new Error(`the node failed to start: ${error}`);
}

/** Waits until the node sees exactly `visible` of `total` members. */
export async function waitForVisibility(node: HasPage, visible: number, total: number, timeoutMs = 60_000): Promise<void> {
  await node.page.waitForFunction(
    ([v, t]) => {
      const seen = (window as unknown as EngramWindow).engram?.visibility();
      return seen !== undefined && seen.visible === v && seen.total === t;
    },
    [visible, total] as const,
    { timeout: timeoutMs, polling: 100 },
  );
}

export function merkleRoots(nodes: readonly HasPage[]): Promise<string[]> {
  return Promise.all(nodes.map((node) => node.page.evaluate(() => (window as unknown as EngramWindow).engram!.merkleRoot())));
}

/** Resolves with the common Merkle root once every node has the same one; rejects after `timeoutMs`. */
export async function waitForConvergence(nodes: readonly HasPage[], timeoutMs = 60_000, pollMs = 200): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const roots = await merkleRoots(nodes);
    if (new Set(roots).size === 1) return roots[0] as string;
    if (Date.now() > deadline) throw new Error(`no convergence within ${timeoutMs} ms: roots ${roots.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Every record, the root and the conflict queue of each node: what the checker reads. */
export function snapshots(nodes: readonly HasPage[]): Promise<ReplicaSnapshot[]> {
  return Promise.all(nodes.map((node) => node.page.evaluate(() => (window as unknown as EngramWindow).engram!.snapshot())));
}

interface WriteAck {
  readonly id: MemoryId;
  readonly dot: Dot;
  readonly context: VersionVector | undefined;
}

/**
 * A client workload against Engram pages, recorded: each call is invoked and answered in the
 * history with the time on `now` (ms), whatever happens to it (a write to a crashed tab is a
 * failure, which the checker treats as "may have happened"). `check` judges it.
 */
export class RecordedClient {
  readonly history = new History();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Writes (or, with `id`, rewrites) a memory on `node`; the acknowledged id, or undefined if the call failed. */
  async remember(node: HasPage, input: { content: string; tags?: string[]; id?: MemoryId }): Promise<MemoryId | undefined> {
    const nodeId = await this.nodeId(node);
    const operation = this.history.invoke('remember', nodeId, this.now(), input.id, input.content, input.tags ?? []);
    try {
      const ack = await node.page.evaluate(async (wanted): Promise<WriteAck> => {
        const engram = (window as unknown as EngramWindow).engram!;
        const { id, dot } = await engram.remember(wanted);
        const version = (await engram.get(id))?.siblings.find((sibling) => sibling.dot.node === dot.node && sibling.dot.counter === dot.counter);
        return { id, dot, context: version?.context };
      }, input);
      this.history.ok(operation, this.now(), ack.id, ack.dot, ack.context);
      return ack.id;
    } catch (error) {
      this.history.fail(operation, this.now(), error);
      return undefined;
    }
  }

  async forget(node: HasPage, id: MemoryId): Promise<void> {
    const operation = this.history.invoke('forget', await this.nodeId(node), this.now(), id);
    try {
      const ack = await node.page.evaluate(async (target): Promise<WriteAck> => {
        const engram = (window as unknown as EngramWindow).engram!;
        await engram.forget(target);
        // forget() answers nothing: the tombstone is this node's newest deleted version of the memory.
        const tombstone = (await engram.get(target))?.siblings
          .filter((sibling) => sibling.deleted && sibling.dot.node === engram.id)
          .sort((a, b) => b.dot.counter - a.dot.counter)[0];
        if (!tombstone) throw new Error(`forgot ${target} but found no tombstone of this node`);
        return { id: target, dot: tombstone.dot, context: tombstone.context };
      }, id);
      this.history.ok(operation, this.now(), ack.id, ack.dot, ack.context);
    } catch (error) {
      this.history.fail(operation, this.now(), error);
    }
  }

  /** A recall on `node`; the ids it returned, or undefined if the call failed. */
  async recall(node: HasPage, query: RecallQuery): Promise<MemoryId[] | undefined> {
    const operation = this.history.invokeRecall(await this.nodeId(node), this.now(), query);
    try {
      const answer = await node.page.evaluate(async (wanted) => {
        const result = await (window as unknown as EngramWindow).engram!.recall(wanted);
        return { results: result.results.map((item) => ({ id: item.id })), visibility: { visible: result.visibility.visible, total: result.visibility.total }, warning: result.warning };
      }, query);
      this.history.recallOk(operation, this.now(), answer);
      return answer.results.map((item) => item.id);
    } catch (error) {
      this.history.recallFailed(operation, this.now(), error);
      return undefined;
    }
  }

  /**
   * Judges the history against the nodes' replicas, which should have healed and converged
   * first (waitForConvergence). Everything in the report's lists is a violation.
   */
  async check(nodes: readonly HasPage[]): Promise<CheckReport> {
    return checkSnapshots(this.history, await snapshots(nodes), DEFAULT_CONFIG.conflictConfidenceMargin, { staleAfterMs: staleAfterMsFor(DEFAULT_CONFIG) });
  }

  private async nodeId(node: HasPage): Promise<string> {
    const id = node.id ?? (await engramIdOf(node.page).catch(() => undefined));
    if (id === undefined) throw new Error('a recorded call needs a page that exposes an Engram node as window.engram');
    return id;
  }
}
