/**
 * `npx tsx bench/probe-reconnect.ts [--ages 100,300,...] [--hold-ms N] [--trials N]` — how long
 * after a cut heals does a WebRTC data channel carry data again, as a function of when its
 * connection attempt started? Two namespaced browsers and raw RTCPeerConnections (not the app's
 * transport), so the answer is Chromium's, not ours: it is what the transport's reconnection
 * schedule is designed around (see webrtc-transport.ts).
 *
 * For each age A: cut; at hold - A start a fresh connection (offer/answer relayed by this script,
 * so signaling is never cut); at hold heal; report heal → ICE connected and heal → channel open.
 * Also reported: a connection opened before the cut, as heal → first message delivered.
 *
 * A development tool, not a measurement for the table.
 */
import { parseArgs } from 'node:util';
import type { Page } from '@playwright/test';
import { BrowserCluster } from '../e2e/harness/cluster-harness.js';

interface Probe {
  pcs: Map<string, RTCPeerConnection>;
  log: Map<string, Record<string, number>>;
}

async function install(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as { probe: Probe }).probe = { pcs: new Map(), log: new Map() };
  });
}

/** Opens connection `name` from `a` (offerer) to `b`, non-trickle; resolves once both descriptions are set. */
async function connect(a: Page, b: Page, name: string): Promise<void> {
  const offer = await a.evaluate(async (label) => {
    const probe = (window as unknown as { probe: Probe }).probe;
    const pc = new RTCPeerConnection();
    const log: Record<string, number> = { created: Date.now() };
    probe.pcs.set(label, pc);
    probe.log.set(label, log);
    pc.oniceconnectionstatechange = () => {
      log[`ice:${pc.iceConnectionState}`] ??= Date.now();
    };
    const channel = pc.createDataChannel('x');
    channel.onopen = () => {
      log.open = Date.now();
    };
    channel.onmessage = (event) => {
      log[`got:${String(event.data)}`] ??= Date.now();
    };
    (pc as unknown as { channel: RTCDataChannel }).channel = channel;
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
    });
    return pc.localDescription!.toJSON();
  }, name);
  const answer = await b.evaluate(
    async ([label, remote]) => {
      const probe = (window as unknown as { probe: Probe }).probe;
      const pc = new RTCPeerConnection();
      const log: Record<string, number> = { created: Date.now() };
      probe.pcs.set(label, pc);
      probe.log.set(label, log);
      pc.oniceconnectionstatechange = () => {
        log[`ice:${pc.iceConnectionState}`] ??= Date.now();
      };
      pc.ondatachannel = (event) => {
        const channel = event.channel;
        (pc as unknown as { channel: RTCDataChannel }).channel = channel;
        log.open = Date.now();
        channel.onmessage = (message) => {
          log[`got:${String(message.data)}`] ??= Date.now();
        };
      };
      await pc.setRemoteDescription(remote);
      await pc.setLocalDescription(await pc.createAnswer());
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') resolve();
        pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
      });
      return pc.localDescription!.toJSON();
    },
    [name, offer] as const,
  );
  await a.evaluate(
    async ([label, remote]) => {
      await (window as unknown as { probe: Probe }).probe.pcs.get(label)!.setRemoteDescription(remote);
    },
    [name, answer] as const,
  );
}

async function logOf(page: Page, name: string): Promise<Record<string, number>> {
  return page.evaluate((label) => (window as unknown as { probe: Probe }).probe.log.get(label) ?? {}, name);
}

/** Sends `tag` every 50 ms on connection `name` from this page until stopped. */
async function chatter(page: Page, name: string, tag: string): Promise<void> {
  await page.evaluate(
    ([label, text]) => {
      const pc = (window as unknown as { probe: Probe }).probe.pcs.get(label)! as unknown as { channel: RTCDataChannel; timer?: number };
      pc.timer = window.setInterval(() => {
        if (pc.channel.readyState === 'open') pc.channel.send(text);
      }, 50);
    },
    [name, tag] as const,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { ages: { type: 'string' }, 'hold-ms': { type: 'string' }, trials: { type: 'string' } } });
  const ages = (values.ages ?? '50,200,500,1000,2000,4000,8000').split(',').map(Number);
  const holdMs = Number(values['hold-ms'] ?? Math.max(...ages) + 500);
  const trials = Number(values.trials ?? 1);
  const cluster = new BrowserCluster({ log: (line) => process.stderr.write(`${line}\n`) });
  try {
    await cluster.start({ nodes: 2 });
    const [a, b] = cluster.nodes.map((node) => node.page) as [Page, Page];
    await install(a);
    await install(b);
    for (let trial = 0; trial < trials; trial++) {
      const old = `old-${trial}`;
      await connect(a, b, old);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await chatter(a, old, `t${trial}`);
      await cluster.partition([[0], [1]]);
      const cutAt = Date.now();
      const started: string[] = [];
      for (const age of [...ages].sort((x, y) => y - x)) {
        const waitMs = cutAt + holdMs - age - Date.now();
        if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
        const name = `fresh-${trial}-${age}`;
        await connect(a, b, name);
        await chatter(a, name, `f${age}`);
        started.push(name);
      }
      const remaining = cutAt + holdMs - Date.now();
      if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
      await cluster.heal();
      const healAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      const oldLog = await logOf(b, old);
      const delivered = Object.entries(oldLog).filter(([key, at]) => key.startsWith('got:') && at > healAt);
      process.stdout.write(`trial ${trial}: cut held ${healAt - cutAt} ms\n`);
      process.stdout.write(`  old connection: first message after heal at +${delivered.length ? Math.min(...delivered.map(([, at]) => at)) - healAt : 'never'} ms; ice ${JSON.stringify(Object.fromEntries(Object.entries(await logOf(a, old)).filter(([k]) => k.startsWith('ice:')).map(([k, v]) => [k, v - cutAt])))} (ms from cut)\n`);
      for (const name of started) {
        const offerer = await logOf(a, name);
        const answerer = await logOf(b, name);
        const age = healAt - (offerer.created ?? 0);
        const rel = (at: number | undefined) => (at === undefined ? 'never' : `${at - healAt}`);
        const got = Object.entries(answerer).filter(([key]) => key.startsWith('got:')).map(([, at]) => at);
        process.stdout.write(
          `  attempt ${String(age).padStart(6)} ms old at heal: ice connected ${rel(offerer['ice:connected'])}, open ${rel(offerer.open)}, first message ${rel(got.length ? Math.min(...got) : undefined)} (ms from heal); states ${Object.keys(offerer).filter((k) => k.startsWith('ice:')).join(' ')}\n`,
        );
      }
      await a.evaluate(() => {
        for (const pc of (window as unknown as { probe: Probe }).probe.pcs.values()) pc.close();
      });
      await b.evaluate(() => {
        for (const pc of (window as unknown as { probe: Probe }).probe.pcs.values()) pc.close();
      });
    }
  } finally {
    await cluster.close();
  }
}

await main();
