// A partition test of an app that is not Engram Mesh's own: the notes app in ../package-consumer,
// built to APP_DIR. Run with `npx playwright test` in a project that installed engram-mesh and
// @playwright/test.
import { engramReady, expect, RecordedClient, test, waitForConvergence, waitForVisibility } from 'engram-mesh/testing';

const appDir = process.env.APP_DIR ?? 'dist';

test('two tabs of the notes app keep writing through a partition and converge after the heal', async ({ cluster }) => {
  await cluster.start({ nodes: 2, app: { staticDir: appDir, path: '/?room=partition-test' }, ready: engramReady });
  const [left, right] = cluster.nodes;
  for (const node of cluster.nodes) await waitForVisibility(node, 2, 2);

  await cluster.partition([[0], [1]]);
  for (const node of cluster.nodes) await waitForVisibility(node, 1, 2);
  const client = new RecordedClient(() => cluster.elapsedMs());
  const fromLeft = await client.remember(left!, { content: 'written on the left during the cut' });
  const fromRight = await client.remember(right!, { content: 'written on the right during the cut' });
  expect(await client.recall(left!, { text: 'right' })).toEqual([]);

  await cluster.heal();
  for (const node of cluster.nodes) await waitForVisibility(node, 2, 2);
  await waitForConvergence(cluster.nodes);
  expect(await client.recall(left!, { text: 'right' })).toEqual([fromRight]);
  expect(await client.recall(right!, { text: 'left' })).toEqual([fromLeft]);
  const report = await client.check(cluster.nodes);
  expect({ acknowledged: report.acknowledged, lostWrites: report.lostWrites, resurrected: report.resurrected, converged: report.converged, readViolations: report.readViolations }).toEqual({
    acknowledged: 2,
    lostWrites: 0,
    resurrected: 0,
    converged: true,
    readViolations: [],
  });
  console.log(`partition mode: ${cluster.mode}`);
});
