/**
 * Hard partitions between five real browsers: each in its own network namespace, cut with
 * iptables, so the data channels really go quiet (soft partitions leave them up). Every test here
 * claims real cuts, so where the machine cannot make them (not root, no iptables) each is skipped
 * with the reason, and under ENGRAM_PARTITIONS=hard (CI) it fails: never green on soft faults.
 * `ENGRAM_IP_PATH=/nonexistent npm run test:partition` shows that on a machine that can cut.
 */
import { skipUnlessHardPartitions, type ClusterNode } from './harness/cluster-harness.js';
import { expect, test } from './harness/fixture.js';
import { waitForConvergence, waitForVisibility } from './cluster.js';

const WARNING = 'Partial cluster visibility - may be incomplete';
const SIDE_A = [0, 1, 2];
const SIDE_B = [3, 4];
/** Longer than ICE takes to declare a silent connection 'failed' (~17 s measured here). */
const LONG_CUT_MS = 20_000;

test.describe.configure({ timeout: 150_000 });

test.beforeEach(async () => {
  const reason = await skipUnlessHardPartitions();
  test.skip(reason !== undefined, reason);
});

async function remember(node: ClusterNode, content: string): Promise<string> {
  return node.page.evaluate(async (text) => (await window.engram!.remember({ content: text })).id, content);
}

async function missingOn(node: ClusterNode, ids: readonly string[]): Promise<string[]> {
  return node.page.evaluate(async (wanted) => {
    const missing: string[] = [];
    for (const id of wanted) if (!(await window.engram!.get(id))) missing.push(id);
    return missing;
  }, ids);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a 3|2 partition silences the data channels across it, both sides keep writing, and after the heal all five converge with nothing lost', async ({ cluster }) => {
  await cluster.start({ nodes: 5, partitions: 'hard' });
  const nodes = cluster.nodes;
  const sideOf = (index: number) => (SIDE_A.includes(index) ? SIDE_A : SIDE_B);
  for (const node of nodes) await waitForVisibility(node, 5, 5);
  cluster.log('all five see 5/5');

  const acked = [await remember(nodes[0]!, 'tomatoes need staking in june')];
  await expect.poll(async () => (await Promise.all(nodes.map((node) => missingOn(node, acked)))).flat()).toEqual([]);

  await cluster.partition([SIDE_A, SIDE_B]);
  const cutAtMs = cluster.elapsedMs();
  // Watched from the moment of the cut, alongside the traffic check, to log detection time.
  const detectedAtMs = Promise.all(
    nodes.map((node) => waitForVisibility(node, sideOf(node.index).length, 5, 30_000).then(() => cluster.elapsedMs())),
  );
  // Awaited below; this only keeps a failure of an earlier step from also reporting it as unhandled.
  detectedAtMs.catch(() => undefined);

  await test.step('the data channels across the cut go quiet while those on each side keep talking', async () => {
    // Messages already taken in by the network stack may still be delivered just after the cut.
    await sleep(500);
    const traffic = await cluster.measureTraffic(3_000);
    let crossBytesOut = 0;
    for (const node of nodes) {
      let sameSideBytesIn = 0;
      for (const peer of nodes) {
        if (peer === node) continue;
        if (sideOf(peer.index) === sideOf(node.index)) {
          sameSideBytesIn += traffic.received[node.index]![peer.index]!;
        } else {
          expect(traffic.received[node.index]![peer.index], `bytes node ${node.index} got from node ${peer.index}`).toBe(0);
          crossBytesOut += traffic.sent[node.index]![peer.index]!;
        }
      }
      expect(sameSideBytesIn, `bytes node ${node.index} got from its own side`).toBeGreaterThan(0);
    }
    // The senders keep handing probes to their channels: the silence is the network's, not the app's.
    expect(crossBytesOut, 'bytes sent across the cut').toBeGreaterThan(0);
    cluster.log(`across the cut in 3 s: 0 bytes in, ${crossBytesOut} bytes out`);
  });

  await test.step('each side sees itself as 3/5 or 2/5 and recall says so', async () => {
    const detectionMs = (await detectedAtMs).map((atMs) => Math.round(atMs - cutAtMs));
    cluster.log(`3/5 and 2/5 reached per node ${detectionMs.join(', ')} ms after the cut`);
    for (const node of nodes) {
      const result = await node.page.evaluate(() => window.engram!.recall({ text: 'staking' }));
      expect(result.warning).toBe(WARNING);
    }
  });

  await test.step('both sides accept writes during the partition', async () => {
    for (const node of nodes) for (let k = 0; k < 10; k++) acked.push(await remember(node, `written on node ${node.index} during the cut, #${k}`));
  });

  await test.step('after the heal every node sees 5/5, the replicas converge and hold every acknowledged write', async () => {
    await cluster.heal();
    const healAtMs = cluster.elapsedMs();
    for (const node of nodes) await waitForVisibility(node, 5, 5);
    cluster.log(`5/5 again ${((cluster.elapsedMs() - healAtMs) / 1000).toFixed(1)} s after the heal`);
    await waitForConvergence(nodes);
    cluster.log(`converged ${((cluster.elapsedMs() - healAtMs) / 1000).toFixed(1)} s after the heal`);
    for (const node of nodes) expect(await missingOn(node, acked), `acknowledged writes missing on node ${node.index}`).toEqual([]);
  });
});

test('a cut that outlasts ICE failure is healed over new peer connections and the cluster converges', async ({ cluster }) => {
  await cluster.start({ nodes: 5, partitions: 'hard' });
  const nodes = cluster.nodes;
  for (const node of nodes) await waitForVisibility(node, 5, 5);
  const reconnectsBefore = await Promise.all(nodes.map((node) => node.page.evaluate(() => window.engram!.stats().transport.reconnects)));

  await cluster.partition([SIDE_A, SIDE_B]);
  const cutAtMs = cluster.elapsedMs();
  const acked: string[] = [];
  for (const node of nodes) for (let k = 0; k < 5; k++) acked.push(await remember(node, `long cut write ${node.index}-${k}`));

  const crossPeers = (node: ClusterNode) => nodes.filter((peer) => SIDE_A.includes(peer.index) !== SIDE_A.includes(node.index)).map((peer) => peer.id);

  await test.step('every connection across the cut fails and is dropped', async () => {
    // ICE gives up after ~17 s without packets; the transport then replaces the connection,
    // whose new attempts cannot connect while the cut lasts.
    for (const node of nodes) {
      await expect
        .poll(
          async () => {
            const links = await node.page.evaluate(() => window.engram!.links());
            return links.filter((link) => crossPeers(node).includes(link.peer) && link.state === 'open').map((link) => link.peer);
          },
          { timeout: 45_000, intervals: [500] },
        )
        .toEqual([]);
    }
    cluster.log(`no open link across the cut ${((cluster.elapsedMs() - cutAtMs) / 1000).toFixed(1)} s after it`);
    // Past ICE 'failed' (~17 s) on every connection, not just the first to go.
    await sleep(Math.max(0, LONG_CUT_MS - (cluster.elapsedMs() - cutAtMs)));
  });

  await test.step('after the heal the links are re-established and all five converge with every write', async () => {
    await cluster.heal();
    const healAtMs = cluster.elapsedMs();
    for (const node of nodes) await waitForVisibility(node, 5, 5, 90_000);
    cluster.log(`5/5 again ${((cluster.elapsedMs() - healAtMs) / 1000).toFixed(1)} s after the heal (cut lasted ${((healAtMs - cutAtMs) / 1000).toFixed(1)} s)`);
    await waitForConvergence(nodes);
    cluster.log(`converged ${((cluster.elapsedMs() - healAtMs) / 1000).toFixed(1)} s after the heal`);
    for (const node of nodes) {
      const links = await node.page.evaluate(() => window.engram!.links());
      expect(links.filter((link) => link.state === 'open').length, `open links of node ${node.index}`).toBe(4);
      expect(await missingOn(node, acked), `acknowledged writes missing on node ${node.index}`).toEqual([]);
    }
    const reconnectsAfter = await Promise.all(nodes.map((node) => node.page.evaluate(() => window.engram!.stats().transport.reconnects)));
    for (const node of nodes) {
      // Each node made new connections to (at least) the peers across the cut.
      expect(reconnectsAfter[node.index]! - reconnectsBefore[node.index]!, `new connections of node ${node.index}`).toBeGreaterThanOrEqual(crossPeers(node).length);
    }
  });
});

test('a one-way cut silences one direction only, a bridge node still hears both sides, and a crashed node restarts as itself with its store', async ({ cluster }) => {
  await cluster.start({ nodes: 5, partitions: 'hard' });
  const nodes = cluster.nodes;
  for (const node of nodes) await waitForVisibility(node, 5, 5);

  await test.step('a one-way cut from node 3 to node 0: 0 stops hearing 3 while 3 still hears 0', async () => {
    await cluster.cutOneWay([3], [0]);
    await sleep(500);
    const traffic = await cluster.measureTraffic(2_000);
    expect(traffic.received[0]![3], 'bytes node 0 got from node 3').toBe(0);
    expect(traffic.sent[3]![0], 'bytes node 3 sent to node 0').toBeGreaterThan(0);
    expect(traffic.received[3]![0], 'bytes node 3 got from node 0').toBeGreaterThan(0);
  });

  await test.step('a bridge: nodes 0,1 and 3,4 cannot reach each other, node 2 hears all four', async () => {
    await cluster.bridge([0, 1], [3, 4], 2);
    expect(cluster.cuts()).toHaveLength(8);
    await sleep(500);
    const traffic = await cluster.measureTraffic(2_000);
    for (const [left, right] of [[0, 3], [0, 4], [1, 3], [1, 4]] as const) {
      expect(traffic.received[left]![right], `bytes node ${left} got from node ${right}`).toBe(0);
      expect(traffic.received[right]![left], `bytes node ${right} got from node ${left}`).toBe(0);
    }
    for (const other of [0, 1, 3, 4]) expect(traffic.received[2]![other], `bytes the bridge got from node ${other}`).toBeGreaterThan(0);
    await cluster.heal();
    for (const node of nodes) await waitForVisibility(node, 5, 5);
  });

  await test.step('node 4 is killed, the others see it gone, and it restarts under the same id with its writes', async () => {
    const written = await remember(nodes[4]!, 'written just before the crash');
    const id = nodes[4]!.id;
    await cluster.crash(4);
    for (const index of [0, 1, 2, 3]) await waitForVisibility(nodes[index]!, 4, 5, 30_000);
    await cluster.restart(4);
    expect(nodes[4]!.id).toBe(id);
    expect(await missingOn(nodes[4]!, [written]), 'the restarted node lost its own write').toEqual([]);
    for (const node of nodes) await waitForVisibility(node, 5, 5);
    await waitForConvergence(nodes);
    for (const node of nodes) expect(await missingOn(node, [written]), `missing on node ${node.index}`).toEqual([]);
  });
});
