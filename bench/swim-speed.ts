/**
 * `npx tsx bench/swim-speed.ts [--nodes 200] [--virtual-ms 20000] [--runs 3]` — how fast the
 * pure SWIM core runs in the simulator: N Swim instances on one virtual clock, a bus with 1-5 ms
 * latency, for a stretch of virtual time; the real milliseconds it took, per run.
 *
 * It moved here from test/swim.test.ts, whose "under 8 s of real time" bound depended on the
 * machine and on whatever else it ran: the test keeps what is deterministic (the cluster stays
 * healthy and everyone knows all 200), the bench measures the speed. Target: 20 virtual s of a
 * 200-node cluster in under 8 s real, so the simulator's seeded suites stay minutes, not hours.
 * Exits 1 when the median run misses it.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG } from '../src/core/config.js';
import { SeededRandom } from '../src/core/random.js';
import { Swim, type SwimMessage } from '../src/core/swim.js';
import type { NodeId } from '../src/core/types.js';
import { VirtualScheduler } from '../src/sim/scheduler.js';

const TARGET_REAL_MS = 8_000;

function run(nodes: number, virtualMs: number, seed: number): { realMs: number; knowsEveryone: number; notAliveSeen: number } {
  const startedMs = performance.now();
  const scheduler = new VirtualScheduler();
  const random = new SeededRandom(seed);
  const swims = new Map<NodeId, Swim>();
  let notAliveSeen = 0;
  const ids = Array.from({ length: nodes }, (_, i) => `n${String(i).padStart(2, '0')}`);
  const deliver = (from: NodeId, to: NodeId, message: SwimMessage) =>
    scheduler.setTimer(1 + random.int(5), () => swims.get(to)?.handle(from, message));
  for (const id of ids) {
    swims.set(
      id,
      new Swim({
        self: id,
        incarnation: 0,
        config: DEFAULT_CONFIG,
        scheduler,
        random: random.fork(),
        send: (to, message) => deliver(id, to, message),
        events: {
          onMemberChange: (member) => {
            if (member.state !== 'alive') notAliveSeen++;
          },
          onMemberReaped: () => {},
          onIncarnation: () => {},
        },
      }),
    );
  }
  for (const swim of swims.values()) swim.start([ids[0] as NodeId]);
  scheduler.runUntil(virtualMs);
  const knowsEveryone = [...swims.values()].filter((swim) => swim.members().length === nodes).length;
  return { realMs: performance.now() - startedMs, knowsEveryone, notAliveSeen };
}

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '200' },
    'virtual-ms': { type: 'string', default: '20000' },
    runs: { type: 'string', default: '3' },
  },
});
const nodes = Number(values.nodes);
const virtualMs = Number(values['virtual-ms']);
const runs = Number(values.runs);
const realMs: number[] = [];
for (let i = 0; i < runs; i++) {
  const result = run(nodes, virtualMs, 51 + i);
  realMs.push(result.realMs);
  console.log(
    `run ${i + 1}: ${nodes} nodes, ${virtualMs / 1000} virtual s in ${result.realMs.toFixed(0)} ms real; ` +
      `${result.knowsEveryone}/${nodes} know all ${nodes}; ${result.notAliveSeen} changes away from alive`,
  );
}
const median = [...realMs].sort((a, b) => a - b)[Math.floor(realMs.length / 2)] as number;
const met = median < TARGET_REAL_MS;
console.log(`median of ${runs}: ${median.toFixed(0)} ms real (target < ${TARGET_REAL_MS} ms): ${met ? 'met' : 'MISSED'}`);
process.exitCode = met ? 0 : 1;
