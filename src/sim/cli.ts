/**
 * `npm run sim -- --nodes 5 --scenario halves --updates 10000 --seed 1 --json`
 * Runs one seeded scenario in the deterministic simulator and prints what it measured.
 */
import { parseArgs } from 'node:util';
import { describeHostile, runHostileScenario } from './hostile-scenario.js';
import { runScenario, SCENARIOS, type ScenarioName, type ScenarioResult } from './scenarios.js';

const HELP = `Usage: npm run sim -- [options]

Runs a seeded, deterministic cluster simulation: warm-up, healthy writes, a fault while every
side keeps writing, heal, and a check of the history (lost writes, convergence, conflicts).

Options:
  --nodes N         cluster size (default 5)
  --scenario NAME   fault shape (default halves), one of:
${Object.entries(SCENARIOS)
  .map(([name, text]) => `                      ${name.padEnd(14)} ${text}`)
  .join('\n')}
  --updates N       writes to acknowledge during the fault (default 10000)
  --seed N          random seed (default 1); the same seed replays the same run
  --loss P          link loss probability, 0..1 (default 0)
  --past-members N  extra nodes that join, write once and leave before the measured phases,
                    so the cluster "has had" nodes + N distinct members (clock-size figures)
  --runs N          run seeds seed..seed+N-1 and print one line each (default 1)
  --attack-ms N     hostile: how long the attack lasts, virtual ms (default 300000)
  --hostile N       hostile: how many hostile members (default 1)
  --open-lies 0|1   hostile: tell the lies no defence stops yet (default 1; hostile.ts openLies)
  --json            print the result as one JSON object
  --help            this text
`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${HELP}`);
  process.exit(2);
}

function integer(value: string | undefined, fallback: number, name: string, min = 0): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) fail(`--${name} must be an integer >= ${min}, got ${value}`);
  return parsed;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        nodes: { type: 'string' },
        scenario: { type: 'string' },
        updates: { type: 'string' },
        seed: { type: 'string' },
        loss: { type: 'string' },
        runs: { type: 'string' },
        'past-members': { type: 'string' },
        'attack-ms': { type: 'string' },
        hostile: { type: 'string' },
        'open-lies': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const scenario = (values.scenario ?? 'halves') as ScenarioName;
  if (!(scenario in SCENARIOS)) fail(`unknown scenario ${scenario}`);
  const nodes = integer(values.nodes, 5, 'nodes', 1);
  const updates = integer(values.updates, 10_000, 'updates');
  const seed = integer(values.seed, 1, 'seed');
  const runs = integer(values.runs, 1, 'runs', 1);
  const pastMembers = integer(values['past-members'], 0, 'past-members');
  const loss = values.loss === undefined ? undefined : Number(values.loss);
  if (loss !== undefined && !(loss >= 0 && loss <= 1)) fail(`--loss must be in [0, 1], got ${values.loss}`);
  const quiet = values.json === true;
  if (scenario === 'hostile') {
    const attackMs = integer(values['attack-ms'], 300_000, 'attack-ms', 1);
    const hostile = integer(values.hostile, 1, 'hostile', 1);
    const openLies = integer(values['open-lies'], 1, 'open-lies') !== 0;
    for (let run = 0; run < runs; run++) {
      const verdict = await runHostileScenario({
        seed: seed + run,
        honest: values.nodes === undefined ? 4 : nodes,
        hostile,
        attackMs,
        openLies,
        progress: quiet ? undefined : (line) => process.stderr.write(`  [seed ${seed + run}] ${line}\n`),
      });
      process.stdout.write(`${quiet ? JSON.stringify(verdict) : describeHostile(verdict)}\n`);
      if (!verdict.passed) process.exitCode = 1;
    }
    return;
  }
  for (let run = 0; run < runs; run++) {
    const result = await runScenario({
      nodes,
      scenario,
      updates,
      pastMembers,
      seed: seed + run,
      ...(loss === undefined ? {} : { loss }),
      progress: quiet ? undefined : (line) => process.stderr.write(`  [seed ${seed + run}] ${line}\n`),
    });
    if (quiet) {
      const { check: _check, ...summary } = result;
      process.stdout.write(`${JSON.stringify({ ...summary, check: { ...result.check, lost: result.check.lost.slice(0, 5) } })}\n`);
    } else {
      process.stdout.write(`${describe(result)}\n`);
    }
    if (failedCheck(result)) process.exitCode = 1;
  }
}

/** Anything the history checker calls a bug: the run fails (exit code 1). */
function failedCheck(result: ScenarioResult): boolean {
  const check = result.check;
  return (
    result.lostWrites > 0 ||
    result.escaped.length > 0 ||
    !result.converged ||
    check.resurrected > 0 ||
    check.conflictsNotSurfaced > 0 ||
    check.readYourWritesViolations > 0 ||
    check.monotonicReadViolations > 0 ||
    check.staleReads > 0
  );
}

function describe(result: ScenarioResult): string {
  const lines = [
    `seed ${result.seed}: ${result.shape} on ${result.nodes} nodes, ${result.updates} writes during the fault (${result.realMs} ms real, ${result.virtualMs} ms virtual)`,
    `  detection   p50 ${result.detectionMs.p50} ms, p99 ${result.detectionMs.p99} ms over ${result.detectionMs.n} observers (${result.detectionMs.undetected} undetected)`,
    `  throughput  ${result.writesPerSecond.duringFault}/s during the fault vs ${result.writesPerSecond.healthy}/s healthy: ratio ${result.throughputRatio}`,
    `  heal        ${result.heal.ms} ms; ${result.heal.recordsShipped} records shipped for ${result.heal.divergentRecords} divergent (${result.heal.shippedPerDivergent}x), ${result.heal.bytesShipped} bytes, ${result.heal.sessions} sessions`,
    `  outcome     lost writes ${result.lostWrites}, converged ${result.converged}, conflicts ${result.conflicts.total} (${result.conflicts.notSurfaced} not surfaced), gists identical ${result.gistsIdentical}`,
    `  forgetting  ${result.forgetting.collected} tombstones collected (${result.forgetting.collectedBeforeHeal} before the heal), ${result.forgetting.refused} versions refused and ${result.forgetting.dropped} dropped as obsolete, ${result.forgetting.tombstonesLeft} left; ${result.forgetting.cameBack} came back`,
    `  reads       ${result.check.readYourWritesViolations} read-your-writes, ${result.check.monotonicReadViolations} monotonic and ${result.check.staleReads} stale violations (stale bound ${result.check.staleAfterMs} ms; judged ${result.check.readsJudged.readYourWrites} / ${result.check.readsJudged.monotonic} / ${result.check.readsJudged.stale}), ${result.check.resurrected} resurrected`,
    `  exceptions  ${result.escaped.length} escaped a timer or a message handler${result.escaped.length > 0 ? `: ${result.escaped[0]}` : ''}`,
    `  clock bytes median ${result.clockBytes.median}, p99 ${result.clockBytes.p99} per message over ${result.clockBytes.messages} messages; per replicated version median ${result.versionClockBytes.median}, p99 ${result.versionClockBytes.p99}`,
  ];
  if (result.failure) {
    lines.push(
      `  failure     suspected by all after ${result.failure.suspectedByAllMs} ms (${result.failure.periodsToSuspect} periods), dead for all after ${result.failure.deadByAllMs} ms (${result.failure.periodsToDead} periods)`,
    );
  }
  return lines.join('\n');
}

await main();
