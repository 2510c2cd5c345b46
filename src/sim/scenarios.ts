/**
 * The fault menu and the scenario runner: a 5-node (or N-node) cluster warms up, writes while
 * healthy, suffers a fault while every side keeps writing, heals, and is judged by the checker.
 * Measures what the product promises: detection time, throughput during the fault, heal time
 * and traffic, lost writes, convergence, and clock bytes per message.
 *
 * Why it stays one file past 600 lines: runScenario is one sequence (warm-up, healthy phase,
 * fault, heal, tail, check) whose phases share the clients, the history, the cut watchers and
 * the counters; split by phase they would hand a dozen locals to each other. The special
 * scenarios with their own runner live apart (hostile-scenario.ts).
 */
import type { EngramConfig } from '../core/config.js';
import type { HealReport } from '../core/heal.js';
import type { EngramNode } from '../core/node.js';
import { SeededRandom } from '../core/random.js';
import type { RecallQuery } from '../core/recall.js';
import type { Dot, NodeId, VersionVector } from '../core/types.js';
import { covers } from '../core/vector-clock.js';
import { checkReplicas, divergenceFromUnion, holds, type CheckReport } from '../check/checker.js';
import { SimCluster } from './cluster.js';
import { History } from '../check/history.js';

export const SCENARIOS = {
  none: 'no fault: a healthy cluster writing (the baseline)',
  halves: 'symmetric split into two halves (3|2 on 5 nodes)',
  isolate: 'one node cut off from all others',
  majority: 'a minority of floor(n/3) nodes, the first (seed) node among them, cut off from the majority',
  'three-way': 'symmetric split into three groups',
  bridge: 'two halves that cannot reach each other, and one node that reaches both',
  'one-way': 'the first half cannot send to the second; the other direction still flows',
  flapping: 'halves cut and healed again and again during the fault window',
  crash: 'halves split, and one node on each side crashes and restarts from storage mid-partition',
  'crash-restart': 'no split; one node crashes and later restarts from its storage',
  random: 'one of the above chosen by the seed, with random link loss up to 5%',
  failure: 'detection at scale: one node crashes; no workload (use with --nodes 1000)',
  'past-horizon':
    'one node cut off past the tombstone horizon while the others forget much of what it holds and collect the tombstones; it returns with the old versions',
  hostile: 'authenticated members send random well-formed lies of every message type while partitions come and go (hostile-scenario.ts); --nodes counts honest nodes, --attack-ms sets the length',
} as const;

/** Shapes `random` draws from: not the special-purpose ones, and only those it always had, so every seed replays as before. */
const RANDOM_SHAPES: readonly ScenarioName[] = ['none', 'halves', 'isolate', 'majority', 'three-way', 'bridge', 'one-way', 'flapping', 'crash', 'crash-restart'];

/**
 * past-horizon: the tombstone horizon it runs with, short so that a few virtual seconds pass it,
 * and wall clocks skewed by at most a second (a 2-minute skew would need minutes to pass it).
 */
export const PAST_HORIZON_CONFIG = { tombstoneHorizonMs: 2_000, tombstoneSweepMs: 500 } as const;
const PAST_HORIZON_SKEW_MS = 500;

export type ScenarioName = keyof typeof SCENARIOS;

export interface ScenarioOptions {
  readonly nodes: number;
  readonly scenario: ScenarioName;
  readonly seed: number;
  /** Writes to make (acknowledged) during the fault window. */
  readonly updates: number;
  readonly config?: Partial<EngramConfig>;
  /** Link loss probability. */
  readonly loss?: number;
  readonly warmupMs?: number;
  readonly healthyMs?: number;
  /** The fault lasts at least this long (and until `updates` writes were acknowledged). */
  readonly minFaultMs?: number;
  readonly healTimeoutMs?: number;
  /** Client think time between a write's ack and the next write. */
  readonly thinkMs?: number;
  /**
   * Once the heal has converged, the clients go on for this long (writing at a twentieth of the
   * rate, half the writes followed by a recall), then the cluster converges again before the check.
   * It gives the stale-read check reads at full visibility long enough after the heal to judge
   * (make it longer than the checker's staleAfterMs); heal figures and clock bytes leave it out.
   * 0 (default): none.
   */
  readonly tailMs?: number;
  /**
   * Members the cluster has had in the past: that many extra nodes join, each writes one memory,
   * and leave before the measured phases, so every node clock carries that many more entries.
   */
  readonly pastMembers?: number;
  /** Called with a line of progress (virtual time, phase) for long runs. */
  readonly progress?: (line: string) => void;
}

export interface HistogramStats {
  readonly median: number;
  readonly p99: number;
  readonly max: number;
  /** How many messages (or versions) the figures are over. */
  readonly messages: number;
}

export interface Percentiles {
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  readonly n: number;
}

export interface ScenarioResult {
  readonly scenario: ScenarioName;
  /** The shape actually run (differs from `scenario` for random). */
  readonly shape: ScenarioName;
  readonly nodes: number;
  readonly seed: number;
  readonly updates: number;
  readonly detectionMs: Percentiles & { readonly undetected: number };
  readonly throughputRatio: number | null;
  readonly writesPerSecond: { readonly healthy: number; readonly duringFault: number };
  readonly heal: {
    readonly ms: number | null;
    readonly divergentRecords: number;
    readonly recordsShipped: number;
    readonly bytesShipped: number;
    readonly sessions: number;
    readonly shippedPerDivergent: number | null;
  };
  readonly lostWrites: number;
  /** Forgotten memories that came back with no concurrent write to explain it. */
  readonly resurrected: number;
  readonly converged: boolean;
  readonly conflicts: { readonly total: number; readonly notSurfaced: number };
  /** Bytes of the vector clock each message carries (the link header: seq, ack, node-clock delta). */
  readonly clockBytes: HistogramStats;
  /** Bytes of causal metadata (dot + context) per replicated version. */
  readonly versionClockBytes: HistogramStats;
  readonly gistsIdentical: boolean;
  /** Writes learned in heals, by writer and generation, with the writer's visible set then. */
  readonly sides: readonly { writer: NodeId; generation: number; visible: readonly NodeId[] | null; versions: number }[];
  readonly check: CheckReport;
  /** Recalls the clients made (each judged by the checker: read-your-writes, monotonic, stale). */
  readonly recalls: number;
  /** Exceptions that escaped a timer or a message handler (scheduler.ts), as text: each one is a bug. */
  readonly escaped: readonly string[];
  readonly virtualMs: number;
  readonly realMs: number;
  /**
   * Forgetting (frontier.ts), summed over the live nodes: tombstones collected before the heal and
   * in all, versions refused or dropped as obsolete, tombstones still held at the end.
   */
  readonly forgetting: {
    /** Times a node showed a forgotten memory alive again after it had seen the forget (past-horizon only). */
    readonly cameBack: number;
    readonly collectedBeforeHeal: number; readonly collected: number; readonly refused: number; readonly dropped: number; readonly tombstonesLeft: number };
  /** failure scenario: probe periods until every node suspects / declares dead the crashed node. */
  readonly failure?: { readonly suspectedByAllMs: number | null; readonly deadByAllMs: number | null; readonly periodsToSuspect: number | null; readonly periodsToDead: number | null };
}

const WORDS = [
  'garden', 'tomato', 'recipe', 'meeting', 'project', 'deadline', 'travel', 'berlin', 'coffee', 'budget',
  'music', 'guitar', 'lesson', 'doctor', 'appointment', 'birthday', 'present', 'library', 'novel', 'train',
];

interface Cut {
  readonly at: number;
  readonly pending: Map<number, Set<number>>;
}

export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  if (options.scenario === 'hostile') throw new RangeError('the hostile scenario has its own runner and verdict: runHostileScenario (hostile-scenario.ts)');
  const started = Date.now();
  const picker = new SeededRandom(options.seed ^ 0x5bd1e995);
  let shape: ScenarioName = options.scenario;
  let loss = options.loss ?? 0;
  if (shape === 'random') {
    shape = RANDOM_SHAPES[picker.int(RANDOM_SHAPES.length)] as ScenarioName;
    loss = options.loss ?? Math.floor(picker.next() * 5) / 100;
  }
  const pastMembers = options.pastMembers ?? 0;
  const pastHorizon = shape === 'past-horizon';
  const cluster = await SimCluster.create({
    nodes: options.nodes + pastMembers,
    seed: options.seed,
    config: pastHorizon ? { ...PAST_HORIZON_CONFIG, ...options.config } : options.config,
    link: { loss },
    ...(pastHorizon ? { clockSkewMs: PAST_HORIZON_SKEW_MS } : {}),
  });
  const n = options.nodes;
  const all = [...Array(n).keys()];
  const history = new History();
  const live = () => cluster.liveIndexes().filter((i) => i < n).map((i) => cluster.node(i));
  const reports: HealReport[] = [];
  const cuts: Cut[] = [];
  const detectionSamples: number[] = [];
  let undetected = 0;
  let collectedBeforeHeal = 0;
  const failureWatch = { suspectedBy: new Set<number>(), deadBy: new Set<number>(), suspectedAt: null as number | null, deadAt: null as number | null, target: '' };

  // A forgotten memory coming back on a node that had seen the forget, at any moment (the checker
  // judges only the end): per node, the forgets it has seen, by memory id.
  const forgetsSeenBy = new Map<NodeId, Map<string, { dot: Dot; seen: VersionVector }[]>>();
  let cameBack = 0;
  const lookForReturns = async (node: EngramNode, id: string) => {
    const record = await node.get(id);
    const forgets = history.operations.filter((operation) => operation.kind === 'forget' && operation.outcome === 'ok' && operation.ackedId === id && operation.context);
    if (forgets.length === 0) return;
    const seenHere = forgetsSeenBy.get(node.id) ?? new Map<string, { dot: Dot; seen: VersionVector }[]>();
    forgetsSeenBy.set(node.id, seenHere);
    const seen = seenHere.get(id) ?? [];
    for (const forget of forgets) {
      const dot = forget.dot as Dot;
      if (seen.some((entry) => entry.dot.node === dot.node && entry.dot.counter === dot.counter)) continue;
      if (record && holds(record, dot)) seen.push({ dot, seen: { ...forget.context, [dot.node]: dot.counter } });
    }
    seenHere.set(id, seen);
    if (!record || seen.length === 0) return;
    const live = record.siblings.filter((sibling) => !sibling.deleted);
    if (live.length > 0 && seen.some((entry) => live.every((sibling) => covers(entry.seen, sibling.dot)))) cameBack++;
  };

  const watch = (index: number, node: EngramNode) => {
    node.on('heal', (report) => reports.push(report));
    if (pastHorizon) node.on('write', ({ id }) => void lookForReturns(node, id));
    node.on('membership', ({ member }) => {
      for (const cut of cuts) {
        const targets = cut.pending.get(index);
        if (!targets) continue;
        const down = [...targets].every((target) => {
          const state = node.members().find((m) => m.id === cluster.ids[target])?.state;
          return state !== undefined && state !== 'alive';
        });
        if (down) {
          detectionSamples.push(cluster.now - cut.at);
          cut.pending.delete(index);
        }
      }
      if (failureWatch.target && member.id === failureWatch.target) {
        if (member.state !== 'alive') failureWatch.suspectedBy.add(index);
        if (member.state === 'dead') failureWatch.deadBy.add(index);
      }
    });
  };
  cluster.nodes.forEach((node, i) => node && watch(i, node));
  cluster.onNodeOpened = watch;

  const startCut = (pairs: readonly (readonly [number, number])[]) => {
    const pending = new Map<number, Set<number>>();
    for (const [observer, target] of pairs) {
      if (!cluster.nodes[observer] || !cluster.nodes[target]) continue;
      let set = pending.get(observer);
      if (!set) pending.set(observer, (set = new Set()));
      set.add(target);
    }
    if (pending.size > 0) cuts.push({ at: cluster.now, pending });
  };
  const closeCuts = () => {
    for (const cut of cuts) undetected += cut.pending.size;
    cuts.length = 0;
  };

  // ---- warm up: everyone joins and sees everyone.
  await cluster.run(options.warmupMs ?? 3_000);
  const clockBaseline = new Map<number, number>();
  if (pastMembers > 0) {
    await cluster.settle(
      Promise.all(Array.from({ length: pastMembers }, (_, k) => cluster.node(n + k).remember({ content: `hello from past member ${k}` }))),
    );
    await cluster.run(1_000);
    await cluster.settle(Promise.all(Array.from({ length: pastMembers }, (_, k) => cluster.node(n + k).leave())));
    await cluster.run(2_000);
    for (const node of cluster.nodes.slice(0, n)) {
      for (const [bytes, count] of node?.stats().clockBytes ?? []) clockBaseline.set(bytes, (clockBaseline.get(bytes) ?? 0) + count);
    }
  }

  if (shape === 'failure') {
    // Membership must have converged first: every node knows every other one as alive.
    const joinedMs = await cluster.timeUntil(() => live().every((node) => node.visibility().visible === n), 300_000, 250);
    options.progress?.(`membership converged after ${joinedMs ?? 'never'} ms more`);
    const victim = 0;
    failureWatch.target = cluster.ids[victim] as NodeId;
    cluster.crash(victim);
    const others = n - 1;
    const suspected = await cluster.timeUntil(() => failureWatch.suspectedBy.size >= others, 120_000, 10);
    const dead = suspected === undefined ? undefined : await cluster.timeUntil(() => failureWatch.deadBy.size >= others, 600_000, 10);
    const probe = cluster.node(1).config.probeIntervalMs;
    const suspectedAt = suspected ?? null;
    const deadAt = suspected === undefined || dead === undefined ? null : suspected + dead;
    return finish({
      failure: {
        suspectedByAllMs: suspectedAt,
        deadByAllMs: deadAt,
        periodsToSuspect: suspectedAt === null ? null : Math.ceil(suspectedAt / probe),
        periodsToDead: deadAt === null ? null : Math.ceil(deadAt / probe),
      },
      healthyRate: 0,
      faultRate: 0,
      faultWrites: 0,
      healMs: null,
      divergent: 0,
      healStart: cluster.now,
      healEnd: cluster.now,
    });
  }

  // ---- workload: one closed-loop client per node; after each write, sometimes a recall.
  let thinkMs = options.thinkMs ?? 2;
  let recallShare = 0.1;
  // past-horizon: forgetting is what is being tested, so the clients forget five times as often.
  const forgetShare = pastHorizon ? 0.25 : 0.05;
  const clientEpoch = new Map<number, number>();
  let writing = true;
  /** Clients wait while set: quiet spells in which heals end with equal roots (and frontiers are learnt). */
  let paused = false;
  const sharedIds: string[] = [];
  const sleep = (ms: number) => new Promise<void>((resolve) => cluster.scheduler.setTimer(ms, resolve));
  const recallNow = (node: EngramNode, random: SeededRandom) => {
    // Everything, a word, or a tag; no limit that could cut a result off, so every miss is judged.
    const kind = random.next();
    const word = WORDS[random.int(WORDS.length)] as string;
    const query: RecallQuery = kind < 0.4 ? { limit: 1_000_000 } : kind < 0.7 ? { text: word, limit: 1_000_000 } : { tags: [word], limit: 1_000_000 };
    const operation = history.invokeRecall(node.id, cluster.now, query);
    history.recallOk(operation, cluster.now, node.recall(query));
  };
  const client = async (index: number, epoch: number) => {
    const random = new SeededRandom(options.seed * 31 + index * 7 + epoch);
    // Reads draw from their own stream, so the writes a seed makes are the same with or without them.
    const reads = new SeededRandom(options.seed * 37 + index * 11 + epoch * 3 + 1);
    const ownIds: string[] = [];
    while (writing && clientEpoch.get(index) === epoch) {
      const node = cluster.nodes[index];
      if (!node || node.isStopped) return;
      if (paused) {
        await sleep(100);
        continue;
      }
      const roll = random.next();
      const pool = random.next() < 0.6 ? ownIds : sharedIds;
      const existing = pool.length > 0 ? pool[random.int(pool.length)] : undefined;
      const content = `${WORDS[random.int(WORDS.length)]} ${WORDS[random.int(WORDS.length)]} ${random.int(1000)}`;
      if (roll < forgetShare && existing && node.recordCount > 0) {
        const operation = history.invoke('forget', node.id, cluster.now, existing);
        try {
          const result = await node.forget(existing);
          const tombstone = (await node.get(existing))?.siblings.find(
            (sibling) => sibling.dot.node === result.dot.node && sibling.dot.counter === result.dot.counter,
          );
          history.ok(operation, cluster.now, result.id, result.dot, tombstone?.context);
        } catch (error) {
          history.fail(operation, cluster.now, error);
        }
      } else {
        const id = roll < 0.35 ? existing : undefined;
        const tags = [WORDS[random.int(WORDS.length)] as string];
        const confidence = 0.5 + random.int(51) / 100;
        const operation = history.invoke('remember', node.id, cluster.now, id, content, tags);
        try {
          const result = await node.remember({ content, tags, confidence, ...(id ? { id } : {}) });
          const version = (await node.get(result.id))?.siblings.find(
            (sibling) => sibling.dot.node === result.dot.node && sibling.dot.counter === result.dot.counter,
          );
          history.ok(operation, cluster.now, result.id, result.dot, version?.context);
          if (!id) {
            ownIds.push(result.id);
            sharedIds.push(result.id);
          }
        } catch (error) {
          history.fail(operation, cluster.now, error);
        }
      }
      if (reads.next() < recallShare && !node.isStopped) recallNow(node, reads);
      await sleep(thinkMs);
    }
  };
  const startClient = (index: number) => {
    const epoch = (clientEpoch.get(index) ?? 0) + 1;
    clientEpoch.set(index, epoch);
    void client(index, epoch);
  };
  all.forEach(startClient);

  // ---- healthy phase: the throughput baseline.
  const healthyStart = cluster.now;
  await cluster.run(options.healthyMs ?? 2_000);
  const healthyEnd = cluster.now;
  const healthyRate = (history.acknowledgedBetween(healthyStart, healthyEnd) * 1000) / (healthyEnd - healthyStart);

  // ---- the fault.
  const half = Math.ceil(n / 2);
  const sideA = all.slice(0, half);
  const sideB = all.slice(half);
  const across = (a: readonly number[], b: readonly number[]) => {
    const pairs: [number, number][] = [];
    for (const x of a) for (const y of b) pairs.push([x, y], [y, x]);
    return pairs;
  };
  const crashed = new Set<number>();
  const applyFault = () => {
    switch (shape) {
      case 'none':
      case 'crash-restart':
        return;
      case 'halves':
      case 'flapping':
      case 'crash':
        cluster.partition([sideA, sideB]);
        return startCut(across(sideA, sideB));
      case 'isolate':
      case 'past-horizon': {
        const alone = [n - 1];
        cluster.partition([alone, all.slice(0, n - 1)]);
        return startCut(across(alone, all.slice(0, n - 1)));
      }
      case 'majority': {
        const minority = all.slice(0, Math.max(1, Math.floor(n / 3)));
        const majority = all.slice(minority.length);
        cluster.partition([minority, majority]);
        return startCut(across(minority, majority));
      }
      case 'three-way': {
        const size = Math.ceil(n / 3);
        const groups = [all.slice(0, size), all.slice(size, 2 * size), all.slice(2 * size)].filter((g) => g.length > 0);
        cluster.partition(groups);
        const pairs: [number, number][] = [];
        for (const [i, g] of groups.entries()) for (const [j, h] of groups.entries()) if (i < j) pairs.push(...across(g, h));
        return startCut(pairs);
      }
      case 'bridge': {
        const bridge = Math.floor(n / 2);
        const left = all.slice(0, bridge);
        const right = all.slice(bridge + 1);
        cluster.partition([left, right]);
        // No detection pairs: indirect probes through the bridge keep both sides alive to each other.
        return;
      }
      case 'one-way':
        cluster.cutOneWay(sideA, sideB);
        return startCut(across(sideA, sideB));
    }
  };
  if (pastHorizon) {
    // A quiet spell first: every node's frontier learns what the others wrote (frontier.ts).
    paused = true;
    await cluster.run(3_000);
    paused = false;
  }
  const faultStart = cluster.now;
  const ackedBefore = history.acknowledged().length;
  applyFault();
  // The nemesis goes into the history too: the stale-read check counts from the last heal.
  const splits = shape !== 'none' && shape !== 'crash-restart';
  if (splits) history.fault(cluster.now, shape, true);
  options.progress?.(`fault ${shape} at ${faultStart} ms`);
  const horizonMs = cluster.node(0).config.tombstoneHorizonMs;
  // past-horizon: long enough that tombstones written early in the fault are collected before it ends.
  const minFaultMs = pastHorizon ? Math.max(options.minFaultMs ?? 3_000, 4 * horizonMs) : (options.minFaultMs ?? 3_000);
  let flapCut = true;
  let lastFlap = faultStart;
  while (cluster.now - faultStart < minFaultMs || history.acknowledged().length - ackedBefore < options.updates) {
    await cluster.run(100);
    const elapsed = cluster.now - faultStart;
    // past-horizon: the sides write in spells of 1.5 s with 2.5 s of quiet, in which heals within a side end with equal roots.
    if (pastHorizon) paused = elapsed % 4_000 >= 1_500;
    if (shape === 'flapping' && cluster.now - lastFlap >= (flapCut ? 1_500 : 500)) {
      lastFlap = cluster.now;
      flapCut = !flapCut;
      if (flapCut) {
        cluster.partition([sideA, sideB]);
        startCut(across(sideA, sideB));
        history.fault(cluster.now, 'flap: cut', true);
      } else {
        closeCuts();
        cluster.heal();
        history.fault(cluster.now, 'flap: heal', false);
      }
    }
    if ((shape === 'crash' || shape === 'crash-restart') && elapsed >= 1_000 && crashed.size === 0) {
      const victims = shape === 'crash' ? [sideA[sideA.length - 1] as number, sideB[sideB.length - 1] as number] : [n - 1];
      for (const victim of victims) {
        cluster.crash(victim);
        crashed.add(victim);
      }
      history.fault(cluster.now, `crash ${victims.map((victim) => cluster.ids[victim]).join(' ')}`, true);
    }
    if (crashed.size > 0 && elapsed >= 2_500) {
      let restarted = false;
      for (const victim of crashed) {
        if (!cluster.nodes[victim]) {
          await cluster.restart(victim);
          startClient(victim);
          restarted = true;
        }
      }
      if (restarted) history.fault(cluster.now, 'restart', splits);
    }
    if (elapsed > 600_000) break;
  }
  const faultEnd = cluster.now;
  const faultRate = ((history.acknowledged().length - ackedBefore) * 1000) / (faultEnd - faultStart);

  // ---- heal: stop writing, let in-flight writes finish, reconnect everything.
  writing = false;
  paused = false;
  await cluster.run(20);
  for (const victim of crashed) if (!cluster.nodes[victim]) await cluster.restart(victim);
  closeCuts();
  const divergent = divergenceFromUnion(live());
  collectedBeforeHeal = live().reduce((sum, node) => sum + node.stats().tombstonesCollected, 0);
  const healStart = cluster.now;
  cluster.heal();
  history.fault(healStart, 'heal', false);
  options.progress?.(`heal at ${healStart} ms, ${divergent} divergent record copies`);
  const healMs = await cluster.timeUntil(() => cluster.converged(), options.healTimeoutMs ?? 60_000, 5);
  if (pastHorizon) {
    // Tombstones written just before the heal are collected a horizon later, by each node at its
    // own sweep: judge the cluster once they are all old and every node has had its turn.
    const { tombstoneHorizonMs, tombstoneSweepMs } = cluster.node(0).config;
    await cluster.run(tombstoneHorizonMs + PAST_HORIZON_SKEW_MS * 2 + tombstoneSweepMs * 3);
    await cluster.timeUntil(() => cluster.converged(), options.healTimeoutMs ?? 60_000, 5);
  }
  const faultWrites = history.acknowledged().length - ackedBefore;
  const settleMs = Math.max(3_000, cluster.node(0).config.healStepTimeoutMs + 500);
  const tailMs = options.tailMs ?? 0;
  if (tailMs === 0) {
    // Let the last heal sessions finish their handshakes so their reports count.
    await cluster.run(settleMs);
    return finish({ healthyRate, faultRate, faultWrites, healMs: healMs ?? null, divergent, healStart, healEnd: cluster.now });
  }

  // ---- tail: a healthy cluster writing and reading again, then converging once more. Heal
  // figures count the sessions started by the convergence (they finish during the tail's first
  // seconds) and the clock bytes sent until then.
  const convergedAt = cluster.now;
  const clocks = clockHistograms(live());
  // Fewer writes, more of them followed by a recall: the tail is there to be read, and stays cheap to simulate.
  thinkMs *= 20;
  recallShare = 0.5;
  writing = true;
  all.forEach(startClient);
  await cluster.run(Math.max(tailMs, settleMs));
  writing = false;
  await cluster.run(20);
  await cluster.timeUntil(() => cluster.converged(), options.healTimeoutMs ?? 60_000, 5);
  return finish({ healthyRate, faultRate, faultWrites, healMs: healMs ?? null, divergent, healStart, healEnd: cluster.now, startedBy: convergedAt, clocks });

  function finish(measured: {
    healthyRate: number;
    faultRate: number;
    /** Writes acknowledged from the fault until the heal. */
    faultWrites: number;
    healMs: number | null;
    divergent: number;
    healStart: number;
    /** Heal figures count reports finished by then... */
    healEnd: number;
    /** ...and started by then, if given (the tail's anti-entropy is not the heal's). */
    startedBy?: number;
    /** Clock bytes as they were when the tail began. */
    clocks?: { clock: Map<number, number>; versionClock: Map<number, number> };
    failure?: ScenarioResult['failure'];
  }): ScenarioResult {
    const replicas = live();
    const check = checkReplicas(history, replicas);
    const healReports = reports.filter(
      (report) => report.finishedAt >= measured.healStart && report.finishedAt <= measured.healEnd && report.startedAt <= (measured.startedBy ?? Infinity),
    );
    const { clock, versionClock } = measured.clocks ?? clockHistograms(replicas);
    // Only messages sent after the past members left count: the figure is for the cluster as it is now.
    for (const [bytes, count] of clockBaseline) clock.set(bytes, (clock.get(bytes) ?? 0) - count);
    const gists = replicas.map((node) => JSON.stringify(node.gists()));
    const sides = new Map<string, { writer: NodeId; generation: number; visible: readonly NodeId[] | null; versions: number }>();
    for (const report of healReports) {
      for (const side of report.sides) {
        const key = `${side.writer}/${side.generation}`;
        const entry = sides.get(key) ?? { writer: side.writer, generation: side.generation, visible: side.visible ?? null, versions: 0 };
        entry.versions += side.versions;
        sides.set(key, entry);
      }
    }
    const recordsShipped = healReports.reduce((sum, report) => sum + report.recordsSent, 0);
    const sum = (count: (node: EngramNode) => number) => replicas.reduce((total, node) => total + count(node), 0);
    const detection = percentiles(detectionSamples);
    return {
      scenario: options.scenario,
      shape,
      nodes: n,
      seed: options.seed,
      updates: measured.faultWrites,
      detectionMs: { ...detection, undetected },
      throughputRatio: measured.healthyRate > 0 ? round(measured.faultRate / measured.healthyRate, 4) : null,
      writesPerSecond: { healthy: round(measured.healthyRate, 1), duringFault: round(measured.faultRate, 1) },
      heal: {
        ms: measured.healMs,
        divergentRecords: measured.divergent,
        recordsShipped,
        bytesShipped: healReports.reduce((sum, report) => sum + report.bytesSent, 0),
        sessions: healReports.filter((report) => report.role === 'initiator' && report.outcome !== 'busy').length,
        shippedPerDivergent: measured.divergent > 0 ? round(recordsShipped / measured.divergent, 4) : null,
      },
      lostWrites: check.lostWrites,
      resurrected: check.resurrected,
      converged: check.converged,
      conflicts: { total: check.conflicts, notSurfaced: check.conflictsNotSurfaced },
      clockBytes: histogramStats(clock),
      versionClockBytes: histogramStats(versionClock),
      gistsIdentical: gists.every((gist) => gist === gists[0]),
      forgetting: {
        cameBack,
        collectedBeforeHeal,
        collected: sum((node) => node.stats().tombstonesCollected),
        refused: sum((node) => node.stats().obsoleteRefused),
        dropped: sum((node) => node.stats().obsoleteDropped),
        tombstonesLeft: sum((node) => node.tombstones),
      },
      sides: [...sides.values()].sort((a, b) => (a.writer < b.writer ? -1 : a.writer > b.writer ? 1 : a.generation - b.generation)),
      check,
      recalls: history.recalls.length,
      escaped: cluster.escaped.map(({ atMs, error }) => `${atMs} ms: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
      virtualMs: cluster.now,
      realMs: Date.now() - started,
      ...(measured.failure ? { failure: measured.failure } : {}),
    };
  }
}

/** Clock bytes per message and per replicated version, summed over the nodes, as histograms. */
function clockHistograms(nodes: readonly EngramNode[]): { clock: Map<number, number>; versionClock: Map<number, number> } {
  const clock = new Map<number, number>();
  const versionClock = new Map<number, number>();
  for (const node of nodes) {
    for (const [bytes, count] of node.stats().clockBytes) clock.set(bytes, (clock.get(bytes) ?? 0) + count);
    for (const [bytes, count] of node.stats().versionClockBytes) versionClock.set(bytes, (versionClock.get(bytes) ?? 0) + count);
  }
  return { clock, versionClock };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function percentiles(samples: readonly number[]): Percentiles {
  if (samples.length === 0) return { p50: null, p99: null, max: null, n: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  return { p50: round(at(0.5), 1), p99: round(at(0.99), 1), max: round(sorted[sorted.length - 1] as number, 1), n: sorted.length };
}

/** Median, p99 and max of a value → count histogram (clock bytes per message, for instance). */
export function histogramStats(histogram: ReadonlyMap<number, number>): HistogramStats {
  const entries = [...histogram.entries()].sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((sum, [, count]) => sum + count, 0);
  const quantile = (q: number) => {
    let seen = 0;
    for (const [bytes, count] of entries) {
      seen += count;
      if (seen >= q * total) return bytes;
    }
    return entries[entries.length - 1]?.[0] ?? 0;
  };
  return { median: quantile(0.5), p99: quantile(0.99), max: entries[entries.length - 1]?.[0] ?? 0, messages: total };
}
