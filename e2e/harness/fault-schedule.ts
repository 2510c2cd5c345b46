/**
 * Seeded random fault schedules for a BrowserCluster, and the runner that plays one against five
 * real browsers while a seeded client workload writes, forgets and recalls on every live node,
 * then heals and has the history checker judge what the clients saw (src/check/checker.ts).
 *
 * `faultSchedule(seed, options)` is pure: the same seed and options give the same steps, so a
 * failing schedule is replayed with `ENGRAM_FAULT_SEED=<seed>`. Each client's choices (what to
 * write, forget or recall, and its think times) come from the seed too; the interleaving of real
 * browsers does not, so a replay runs the same schedule and workload, not the same timing.
 */
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { SeededRandom } from '../../src/core/random.js';
import type { RecallQuery } from '../../src/core/recall.js';
import type { MemoryId } from '../../src/core/types.js';
import { checkSnapshots, staleAfterMsFor, type CheckReport, type ReplicaSnapshot } from '../../src/check/checker.js';
import type { History } from '../../src/check/history.js';
import { RecordedClient } from '../../src/testing/engram-page.js';
import { waitForConvergence, waitForVisibility } from '../cluster.js';
import type { BrowserCluster } from './cluster-harness.js';

/** One step of a schedule. Fault steps replace (partition, isolate, bridge) or add to (one-way) the cuts in force. */
export type FaultStep =
  | { readonly kind: 'partition'; readonly groups: readonly (readonly number[])[] }
  | { readonly kind: 'isolate'; readonly node: number }
  | { readonly kind: 'bridge'; readonly left: readonly number[]; readonly right: readonly number[]; readonly bridge: number }
  | { readonly kind: 'one-way'; readonly from: readonly number[]; readonly to: readonly number[] }
  | { readonly kind: 'heal' }
  | { readonly kind: 'crash-restart'; readonly node: number; readonly downMs: number }
  | { readonly kind: 'hold'; readonly ms: number };

export interface FaultScheduleOptions {
  readonly nodes: number;
  /** Faults to inject (each followed by a hold; heals in between do not count). */
  readonly steps: number;
  /** How long each fault is held, [min, max] ms. */
  readonly holdMs?: readonly [number, number];
  /**
   * No pair stays cut longer than about this: a heal is inserted once the cuts have lasted it.
   * ICE declares a silent connection failed after ~17 s and then needs new connections; the
   * default stays well below, so a short schedule tests the protocol rather than ICE restarts.
   */
  readonly maxCutMs?: number;
  /** One-way cuts need hard partitions; leave them out in soft mode. Default true. */
  readonly oneWay?: boolean;
  /** Crash-and-restart steps at most (a restart costs a browser launch). Default 1. */
  readonly crashes?: number;
  /** How long a crashed node stays down, [min, max] ms. */
  readonly downMs?: readonly [number, number];
}

export interface FaultSchedule {
  readonly seed: number;
  readonly nodes: number;
  readonly steps: readonly FaultStep[];
}

const FAULT_KINDS = ['partition', 'isolate', 'bridge', 'one-way', 'crash-restart'] as const;

/** The schedule for `seed`: `steps` faults in a seeded order and shape, each held for a while, with heals in between. */
export function faultSchedule(seed: number, options: FaultScheduleOptions): FaultSchedule {
  const { nodes } = options;
  if (!Number.isInteger(nodes) || nodes < 3) throw new RangeError(`a fault schedule needs at least 3 nodes, got ${nodes}`);
  const random = new SeededRandom(seed);
  const [holdMin, holdMax] = options.holdMs ?? [1_500, 3_500];
  const [downMin, downMax] = options.downMs ?? [1_000, 2_500];
  const maxCutMs = options.maxCutMs ?? 8_000;
  let crashesLeft = options.crashes ?? 1;
  const between = (min: number, max: number) => min + random.int(Math.max(1, max - min + 1));
  const everyone = [...Array(nodes).keys()];

  const steps: FaultStep[] = [];
  /** How long some pair has been cut without a heal (conservatively: any cuts at all). */
  let cutForMs = 0;
  let cutsInForce = false;
  for (let fault = 0; fault < options.steps; fault++) {
    const kinds = FAULT_KINDS.filter((kind) => (kind !== 'one-way' || options.oneWay !== false) && (kind !== 'crash-restart' || crashesLeft > 0));
    const kind = kinds[random.int(kinds.length)] as (typeof FAULT_KINDS)[number];
    switch (kind) {
      case 'partition': {
        // Two or three groups, every node in one, none empty.
        const count = 2 + random.int(Math.min(2, nodes - 1));
        const order = shuffle(everyone, random);
        const groups: number[][] = Array.from({ length: count }, (_, g) => [order[g] as number]);
        for (const node of order.slice(count)) (groups[random.int(count)] as number[]).push(node);
        steps.push({ kind, groups: groups.map((group) => group.sort((a, b) => a - b)) });
        break;
      }
      case 'isolate':
        steps.push({ kind, node: random.int(nodes) });
        break;
      case 'bridge': {
        const [bridge, ...rest] = shuffle(everyone, random) as [number, ...number[]];
        const leftSize = 1 + random.int(rest.length - 1);
        steps.push({ kind, left: rest.slice(0, leftSize).sort((a, b) => a - b), right: rest.slice(leftSize).sort((a, b) => a - b), bridge });
        break;
      }
      case 'one-way': {
        const order = shuffle(everyone, random);
        const fromSize = 1 + random.int(nodes - 1);
        const toSize = 1 + random.int(nodes - fromSize);
        steps.push({ kind, from: order.slice(0, fromSize).sort((a, b) => a - b), to: order.slice(fromSize, fromSize + toSize).sort((a, b) => a - b) });
        break;
      }
      case 'crash-restart': {
        crashesLeft--;
        const downMs = between(downMin, downMax);
        steps.push({ kind, node: random.int(nodes), downMs });
        if (cutsInForce) cutForMs += downMs;
        break;
      }
    }
    // A crash leaves the cuts as they were; every other fault puts cuts in force.
    cutsInForce ||= kind !== 'crash-restart';
    const holdMs = between(holdMin, holdMax);
    steps.push({ kind: 'hold', ms: holdMs });
    if (cutsInForce) cutForMs += holdMs;
    if (cutsInForce && (cutForMs + holdMax > maxCutMs || random.next() < 0.35)) {
      steps.push({ kind: 'heal' }, { kind: 'hold', ms: between(holdMin, holdMax) });
      cutForMs = 0;
      cutsInForce = false;
    }
  }
  return { seed, nodes, steps };
}

function shuffle(items: readonly number[], random: SeededRandom): number[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [out[i], out[j]] = [out[j] as number, out[i] as number];
  }
  return out;
}

export function describeStep(step: FaultStep): string {
  switch (step.kind) {
    case 'partition':
      return `partition ${JSON.stringify(step.groups)}`;
    case 'isolate':
      return `isolate node ${step.node}`;
    case 'bridge':
      return `bridge ${JSON.stringify(step.left)} <-${step.bridge}-> ${JSON.stringify(step.right)}`;
    case 'one-way':
      return `one-way cut ${JSON.stringify(step.from)} -> ${JSON.stringify(step.to)}`;
    case 'heal':
      return 'heal';
    case 'crash-restart':
      return `crash node ${step.node}, restart it after ${step.downMs} ms`;
    case 'hold':
      return `hold ${step.ms} ms`;
  }
}

/** The schedule as numbered lines, with the command that replays it. */
export function describeSchedule(schedule: FaultSchedule): string {
  const lines = schedule.steps.map((step, i) => `  ${String(i + 1).padStart(2)}. ${describeStep(step)}`);
  return [`fault schedule, seed ${schedule.seed}, ${schedule.nodes} nodes (replay: ENGRAM_FAULT_SEED=${schedule.seed}):`, ...lines].join('\n');
}

// ---------------------------------------------------------------- the runner

export interface RunScheduleOptions {
  /** Seeds the client workload (default: the schedule's seed). */
  readonly workloadSeed?: number;
  /** Client think time between two operations, [min, max] ms. */
  readonly thinkMs?: readonly [number, number];
  /** The stale-read bound the checker applies (default: staleAfterMsFor(DEFAULT_CONFIG)). */
  readonly staleAfterMs?: number;
  /** How long to wait for 5/5 visibility and for convergence after the final heal. */
  readonly healTimeoutMs?: number;
}

export interface ScheduleRun {
  readonly history: History;
  readonly report: CheckReport;
  /** Milliseconds (cluster.elapsedMs) from the final heal until every node saw everyone, and until the replicas converged. */
  readonly visibleAfterHealMs: number;
  readonly convergedAfterHealMs: number;
  readonly operations: { readonly writes: number; readonly acknowledged: number; readonly failed: number; readonly recalls: number };
}

const WORDS = ['garden', 'tomato', 'recipe', 'meeting', 'project', 'deadline', 'travel', 'berlin', 'coffee', 'budget', 'music', 'lesson'];

/**
 * Plays `schedule` on a started cluster whose nodes already see each other, with one seeded
 * client per node writing, forgetting and recalling throughout; then stops the clients, heals,
 * waits for full visibility and convergence, lets the stale-read bound pass, recalls everything
 * on every node once more, and checks the history against every replica.
 */
export async function runFaultSchedule(cluster: BrowserCluster, schedule: FaultSchedule, options: RunScheduleOptions = {}): Promise<ScheduleRun> {
  const now = () => cluster.elapsedMs();
  const staleAfterMs = options.staleAfterMs ?? staleAfterMsFor(DEFAULT_CONFIG);
  const [thinkMin, thinkMax] = options.thinkMs ?? [100, 300];
  const down = new Set<number>();
  const acknowledgedIds: MemoryId[] = [];
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  let running = true;

  // One implementation of the recorded calls: the package's RecordedClient, on this cluster's clock.
  const recorded = new RecordedClient(now);
  const history = recorded.history;
  const remember = async (index: number, content: string, tags: string[], id: MemoryId | undefined) => {
    const written = await recorded.remember(cluster.nodes[index]!, { content, tags, ...(id ? { id } : {}) });
    if (written && !id) acknowledgedIds.push(written);
    return written;
  };
  const forget = (index: number, id: MemoryId) => recorded.forget(cluster.nodes[index]!, id);
  const recall = (index: number, query: RecallQuery) => recorded.recall(cluster.nodes[index]!, query);

  const client = async (index: number) => {
    const random = new SeededRandom((options.workloadSeed ?? schedule.seed) * 7_919 + index);
    const ownIds: MemoryId[] = [];
    let count = 0;
    while (running) {
      const roll = random.next();
      const word = WORDS[random.int(WORDS.length)] as string;
      const other = WORDS[random.int(WORDS.length)] as string;
      const think = thinkMin + random.int(thinkMax - thinkMin + 1);
      const pool = random.next() < 0.5 ? ownIds : acknowledgedIds;
      const existing = pool.length > 0 ? pool[random.int(pool.length)] : undefined;
      if (down.has(index) || !cluster.nodes[index]!.up) {
        await sleep(think);
        continue;
      }
      count++;
      if (roll < 0.3) {
        // Everything, a word or a tag; no limit can cut the answer short, so every miss is judged.
        const query: RecallQuery = roll < 0.12 ? { limit: 100_000 } : roll < 0.21 ? { text: word, limit: 100_000 } : { tags: [word], limit: 100_000 };
        await recall(index, query);
      } else if (roll < 0.35 && ownIds.length > 0) {
        await forget(index, ownIds[random.int(ownIds.length)] as MemoryId);
      } else if (roll < 0.55 && existing) {
        await remember(index, `${word} ${other} revised on node ${index} #${count}`, [other], existing);
      } else {
        const id = await remember(index, `${word} ${other} from node ${index} #${count}`, [other], undefined);
        if (id) ownIds.push(id);
      }
      await sleep(think);
    }
  };

  const faulted = () => cluster.cuts().length > 0 || down.size > 0;
  const apply = async (step: FaultStep) => {
    switch (step.kind) {
      case 'hold':
        return sleep(step.ms);
      case 'heal':
        await cluster.heal();
        return history.fault(now(), 'heal', faulted());
      case 'crash-restart':
        down.add(step.node);
        history.fault(now(), describeStep(step), true);
        await cluster.crash(step.node);
        await sleep(step.downMs);
        await cluster.restart(step.node);
        down.delete(step.node);
        return history.fault(now(), `restart node ${step.node}`, faulted());
    }
    // A cut is logged before it is made: reads from that moment on are not judged for staleness.
    history.fault(now(), describeStep(step), true);
    switch (step.kind) {
      case 'partition':
        return cluster.partition(step.groups);
      case 'isolate':
        return cluster.isolate(step.node);
      case 'bridge':
        return cluster.bridge(step.left, step.right, step.bridge);
      case 'one-way':
        return cluster.cutOneWay(step.from, step.to);
    }
  };

  const clients = cluster.nodes.map((node) => client(node.index));
  try {
    for (const [i, step] of schedule.steps.entries()) {
      cluster.log(`step ${i + 1}/${schedule.steps.length}: ${describeStep(step)}`);
      await apply(step);
    }
  } finally {
    running = false;
    await Promise.all(clients);
  }

  await cluster.heal();
  const healAt = now();
  history.fault(healAt, 'final heal', false);
  const healTimeoutMs = options.healTimeoutMs ?? 60_000;
  for (const node of cluster.nodes) await waitForVisibility(node, cluster.nodes.length, cluster.nodes.length, Math.max(1_000, healTimeoutMs - (now() - healAt)));
  const visibleAfterHealMs = now() - healAt;
  await waitForConvergence(cluster.nodes, Math.max(1_000, healTimeoutMs - (now() - healAt)));
  const convergedAfterHealMs = now() - healAt;
  cluster.log(`after the final heal: 5/5 in ${(visibleAfterHealMs / 1000).toFixed(1)} s, converged in ${(convergedAfterHealMs / 1000).toFixed(1)} s`);

  // Past the stale-read bound, every node's answer to "everything" must hold every live acknowledged memory.
  await sleep(Math.max(0, healAt + staleAfterMs + 250 - now()));
  for (const node of cluster.nodes) await recall(node.index, { limit: 100_000 });

  const snapshots: ReplicaSnapshot[] = await Promise.all(cluster.nodes.map((node) => node.page.evaluate(() => window.engram!.snapshot())));
  const report = checkSnapshots(history, snapshots, DEFAULT_CONFIG.conflictConfidenceMargin, { staleAfterMs });
  const writes = history.operations.length;
  return {
    history,
    report,
    visibleAfterHealMs,
    convergedAfterHealMs,
    operations: {
      writes,
      acknowledged: history.acknowledged().length,
      failed: history.operations.filter((operation) => operation.outcome === 'fail').length,
      recalls: history.recalls.length,
    },
  };
}
