/**
 * The `hostile` entry of the fault menu (issue 10, item 4): honest nodes write while one or more
 * authenticated members send random well-formed lies of every message type (hostile.ts) and
 * partitions come and go, for as many virtual minutes as asked. At the end the attack stops, the
 * network heals, and the checker judges the honest nodes only:
 *  - no acknowledged honest write lost (checker.ts checkHonestReplicas, provenance.ts for what a
 *    hostile version may legitimately overwrite);
 *  - the honest replicas converge (equal Merkle roots, equal records);
 *  - no honest member is held dead (or suspect, left, sleeping) by an honest node for good;
 *  - no exception escaped a timer or a message handler on any node (scheduler.ts records them).
 * One seed replays the whole run: `npm run sim -- --scenario hostile --seed N`.
 */
import type { EngramNode } from '../core/node.js';
import { SeededRandom } from '../core/random.js';
import type { NodeId } from '../core/types.js';
import { checkHonestReplicas, snapshotOf, type HonestReport } from '../check/checker.js';
import { History } from '../check/history.js';
import { Provenance } from '../check/provenance.js';
import { SIM_EPOCH_MS, SimCluster } from './cluster.js';
import { HostileFuzzer, type HostileStats } from './hostile.js';

export interface HostileScenarioOptions {
  readonly seed: number;
  /** Honest nodes (default 4). */
  readonly honest?: number;
  /** Hostile members (default 1). */
  readonly hostile?: number;
  /** How long the attack lasts, virtual ms (default 5 min). */
  readonly attackMs?: number;
  /** Client think time between writes, virtual ms (default 40). */
  readonly thinkMs?: number;
  /** How long the honest nodes get to converge after the last heal, virtual ms (default 60 s). */
  readonly healTimeoutMs?: number;
  /** Whether the fuzzers tell the lies no defence stops yet (hostile.ts; default true). */
  readonly openLies?: boolean;
  readonly progress?: (line: string) => void;
}

export interface HostileVerdict {
  readonly seed: number;
  readonly honest: number;
  readonly hostile: number;
  readonly attackMs: number;
  /** Partitions made and healed during the attack. */
  readonly cuts: number;
  readonly check: HonestReport;
  /** Honest members some honest node did not see alive once the cluster had healed: [observer, member, state]. */
  readonly heldDown: readonly (readonly [NodeId, NodeId, string])[];
  /** Exceptions that escaped a timer or a message handler, as text (the first few). */
  readonly escaped: readonly string[];
  readonly escapedCount: number;
  /** Honest nodes' counts: versions refused and held, decode errors. */
  readonly honestStats: { readonly refusedVersions: number; readonly heldVersions: number; readonly decodeErrors: number };
  readonly fuzz: HostileStats;
  /** `error` events on honest nodes by kind, most frequent first. */
  readonly errorKinds: readonly (readonly [string, number])[];
  /** The first lost write, if any: its memory's history and each honest replica's record of it. */
  readonly lostDetail?: unknown;
  /** The first record the honest replicas disagree on, if any, as each holds it. */
  readonly divergentDetail?: unknown;
  readonly healMs: number | null;
  readonly virtualMs: number;
  readonly realMs: number;
  /** Everything above that must hold did. */
  readonly passed: boolean;
}

const WORDS = ['garden', 'tomato', 'recipe', 'meeting', 'project', 'coffee', 'budget', 'music', 'novel', 'train'];

export async function runHostileScenario(options: HostileScenarioOptions): Promise<HostileVerdict> {
  const started = Date.now();
  const honestCount = options.honest ?? 4;
  const hostileCount = options.hostile ?? 1;
  const attackMs = options.attackMs ?? 5 * 60_000;
  const total = honestCount + hostileCount;
  const ids = Array.from({ length: total }, (_, i) => `n${i}`);
  const honestIds = ids.slice(0, honestCount);
  const honestSet = new Set<NodeId>(honestIds);
  let attacking = true;
  // The fuzzers and the provenance need the cluster's clock and nodes, and the cluster needs the fuzzers.
  const built: { cluster?: SimCluster } = {};
  const now = () => built.cluster?.now ?? 0;
  const provenance = new Provenance(now);
  const fuzzers = new Map<number, HostileFuzzer>();
  for (let i = honestCount; i < total; i++) {
    const index = i;
    fuzzers.set(
      index,
      new HostileFuzzer({
        self: ids[index] as NodeId,
        honest: honestIds,
        random: new SeededRandom(options.seed * 7919 + index),
        node: () => built.cluster?.nodes[index],
        now,
        active: () => attacking,
        onVersion: (id, version, atMs) => provenance.invented(id, version, atMs),
        wallNow: () => SIM_EPOCH_MS + now(),
        ...(options.openLies === undefined ? {} : { openLies: options.openLies }),
      }),
    );
  }
  const sim = await SimCluster.create({ nodes: total, seed: options.seed, outgoing: (index) => fuzzers.get(index)?.rewrite });
  built.cluster = sim;
  /** What the honest nodes reported as `error` events, by kind (numbers and details blanked): which defences fired. */
  const errorKinds = new Map<string, number>();
  const follow = (index: number, node: EngramNode) => {
    provenance.follow(node);
    if (index >= honestCount) return;
    node.on('error', ({ error, from }) => {
      const key = `${from === undefined ? '' : honestSet.has(from) ? 'from honest: ' : 'from hostile: '}${error.message.replace(/[0-9]+/g, '#').replace(/, e\.g\..*/, '').slice(0, 90)}`;
      errorKinds.set(key, (errorKinds.get(key) ?? 0) + 1);
    });
  };
  sim.nodes.forEach((node, i) => node && follow(i, node));
  sim.onNodeOpened = follow;

  await sim.run(2_000);

  // ---- honest clients: closed loops that create memories and edit their own and each other's.
  const history = new History();
  const thinkMs = options.thinkMs ?? 40;
  const shared: string[] = [];
  let writing = true;
  const sleep = (ms: number) => new Promise<void>((resolve) => sim.scheduler.setTimer(ms, resolve));
  const client = async (index: number) => {
    const random = new SeededRandom(options.seed * 31 + index);
    while (writing) {
      const node = sim.nodes[index];
      if (!node || node.isStopped) return;
      const existing = shared.length > 0 && random.next() < 0.6 ? shared[random.int(shared.length)] : undefined;
      const forget = existing !== undefined && random.next() < 0.05;
      const content = `${WORDS[random.int(WORDS.length)]} ${random.int(1000)}`;
      const operation = forget ? history.invoke('forget', node.id, sim.now, existing) : history.invoke('remember', node.id, sim.now, existing, content, ['honest']);
      try {
        const result = forget ? await node.forget(existing) : await node.remember({ content, tags: ['honest'], ...(existing ? { id: existing } : {}) });
        history.ok(operation, sim.now, result.id, result.dot);
        if (!existing) shared.push(result.id);
      } catch (error) {
        history.fail(operation, sim.now, error);
      }
      await sleep(thinkMs + random.int(thinkMs));
    }
  };
  for (let i = 0; i < honestCount; i++) void client(i);

  // ---- the attack, while partitions come and go (the hostile members land on random sides).
  const nemesis = new SeededRandom(options.seed ^ 0x6b43a9b5);
  const attackStart = sim.now;
  let cuts = 0;
  while (sim.now - attackStart < attackMs) {
    await sim.run(500 + nemesis.int(2_500));
    if (nemesis.next() < 0.5) {
      sim.heal();
      history.fault(sim.now, 'heal', false);
    } else {
      const groups: number[][] = [[], []];
      for (let i = 0; i < total; i++) (groups[nemesis.int(2)] as number[]).push(i);
      sim.heal();
      sim.partition(groups);
      cuts++;
      history.fault(sim.now, `cut ${JSON.stringify(groups)}`, true);
    }
    options.progress?.(`${sim.now} ms: ${history.acknowledged().length} writes acknowledged, ${cuts} cuts`);
  }

  // ---- the last heal: writes stop, the lies stop, the network heals, the honest nodes converge.
  writing = false;
  await sim.run(200);
  attacking = false;
  sim.heal();
  history.fault(sim.now, 'last heal', false);
  const honestNodes = () => honestIds.map((_, i) => sim.nodes[i]).filter((node): node is EngramNode => node !== undefined);
  const roots = () => new Set(honestNodes().map((node) => node.merkleRoot())).size <= 1;
  const down = (): [NodeId, NodeId, string][] => {
    const out: [NodeId, NodeId, string][] = [];
    for (const node of honestNodes()) {
      for (const member of honestIds) {
        if (member === node.id) continue;
        const state = node.members().find((m) => m.id === member)?.state ?? 'unknown';
        if (state !== 'alive') out.push([node.id, member, state]);
      }
    }
    return out;
  };
  const healTimeoutMs = options.healTimeoutMs ?? 60_000;
  const healMs = (await sim.timeUntil(() => roots() && down().length === 0, healTimeoutMs, 50)) ?? null;
  // A little longer: a convergence that does not hold (a lie still bouncing around) shows here.
  await sim.run(3_000);
  const check = checkHonestReplicas(history, honestNodes().map(snapshotOf), provenance);
  const heldDown = down();
  // The first record the honest replicas disagree on, as each holds it.
  let divergentDetail: Record<string, unknown> | undefined;
  if (!check.converged) {
    const digests = new Map<string, Set<string>>();
    for (const node of honestNodes()) for (const [id, digest] of node.recordDigests()) digests.set(id, (digests.get(id) ?? new Set()).add(digest));
    const ids = new Set([...digests.keys()].filter((id) => (digests.get(id) as Set<string>).size > 1 || honestNodes().some((node) => node.record(id) === undefined)));
    const first = [...ids][0];
    if (first !== undefined) divergentDetail = { id: first, records: Object.fromEntries(honestNodes().map((node) => [node.id, node.record(first)?.siblings ?? null])) };
  }
  // The first lost write's story, to start a diagnosis from: its history and every honest replica's record.
  const firstLost = check.lost[0];
  const lostDetail = firstLost && {
    history: history.operations.filter((op) => (op.ackedId ?? op.id) === firstLost.id).map((op) => ({ node: op.node, kind: op.kind, dot: op.dot, invokedAt: op.invokedAt, ackedAt: op.ackedAt, content: op.content })),
    replicas: Object.fromEntries(honestNodes().map((node) => [node.id, node.record(firstLost.id)?.siblings ?? []])),
    genuine: provenance.explain(firstLost.id),
  };
  const escaped = sim.escaped.map(({ atMs, error }) => `${atMs} ms: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  const stats = honestNodes().map((node) => node.stats());
  const fuzz: HostileStats = { replaced: 0, added: 0, byShape: {} };
  for (const fuzzer of fuzzers.values()) {
    fuzz.replaced += fuzzer.stats.replaced;
    fuzz.added += fuzzer.stats.added;
    for (const [shape, count] of Object.entries(fuzzer.stats.byShape)) fuzz.byShape[shape] = (fuzz.byShape[shape] ?? 0) + count;
  }
  return {
    seed: options.seed,
    honest: honestCount,
    hostile: hostileCount,
    attackMs,
    cuts,
    check,
    heldDown,
    escaped: escaped.slice(0, 5),
    escapedCount: escaped.length,
    honestStats: {
      refusedVersions: stats.reduce((sum, s) => sum + s.refusedVersions, 0),
      heldVersions: 0,
      decodeErrors: stats.reduce((sum, s) => sum + s.decodeErrors, 0),
    },
    fuzz,
    errorKinds: [...errorKinds].sort((a, b) => b[1] - a[1]).slice(0, 12),
    ...(lostDetail ? { lostDetail } : {}),
    ...(divergentDetail ? { divergentDetail } : {}),
    healMs,
    virtualMs: sim.now,
    realMs: Date.now() - started,
    passed: check.lostWrites === 0 && check.converged && heldDown.length === 0 && escaped.length === 0 && check.acknowledged > 0,
  };
}

/** The verdict in a few lines, for the CLI. */
export function describeHostile(verdict: HostileVerdict): string {
  const { check } = verdict;
  const lines = [
    `seed ${verdict.seed}: hostile, ${verdict.honest} honest + ${verdict.hostile} hostile nodes, ${verdict.attackMs} ms of attack with ${verdict.cuts} cuts (${verdict.realMs} ms real, ${verdict.virtualMs} ms virtual)`,
    `  verdict     ${verdict.passed ? 'PASS' : 'FAIL'}`,
    `  writes      ${check.acknowledged} acknowledged, ${check.lostWrites} lost (${check.lostEverywhere} everywhere)${check.lost.length > 0 ? `: ${JSON.stringify(check.lost.slice(0, 3))}` : ''}`,
    `  converged   ${check.converged} (${check.distinctRoots} roots, ${check.divergentRecords} divergent records) after ${verdict.healMs ?? 'never'} ms`,
    `  members     ${verdict.heldDown.length === 0 ? 'every honest member alive everywhere' : `held down: ${JSON.stringify(verdict.heldDown)}`}`,
    `  exceptions  ${verdict.escapedCount} escaped${verdict.escaped.length > 0 ? `\n${verdict.escaped.join('\n')}` : ''}`,
    `  honest      ${verdict.honestStats.refusedVersions} versions refused, ${verdict.honestStats.heldVersions} held, ${verdict.honestStats.decodeErrors} decode errors`,
    `  defences    ${verdict.errorKinds.map(([kind, count]) => `${count} x ${kind}`).join('; ')}`,
    `  fuzz        ${verdict.fuzz.added} lies added, ${verdict.fuzz.replaced} real messages replaced: ${JSON.stringify(verdict.fuzz.byShape)}`,
  ];
  if (verdict.lostDetail) lines.push(`  first lost  ${JSON.stringify(verdict.lostDetail)}`);
  if (verdict.divergentDetail) lines.push(`  divergent   ${JSON.stringify(verdict.divergentDetail)}`);
  return lines.join('\n');
}
