/**
 * `npx tsx bench/profile-heal.ts [--updates N] [--in-flight K] [--preload N] [--cuts N] [--write-at-cut] [--cut-ms N] [--no-profile] [--no-ui] [--ui-without TAGS] [--trace]` — where a heal's time goes in the
 * browser. Five namespaced browsers (the bench's setup), a 3|2 cut, N updates written on both
 * sides, then the heal, with a V8 CPU profile taken over the heal in every page. Prints per page
 * the heal time, storage commit count and time, and the functions with the most self time, so a
 * change to the heal path can be judged on where time went rather than on one total.
 *
 * A development tool, not a measurement for the table: profiling slows the pages down.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BrowserCluster } from '../e2e/harness/cluster-harness.js';
import { waitForConvergence, waitForVisibility } from '../e2e/cluster.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function (by name and source position), in ms, largest first. */
function selfTimes(profile: CpuProfile, top: number): [string, number][] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  for (const [index, sample] of profile.samples.entries()) {
    const node = byId.get(sample);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${url.split('/').pop() ?? ''}:${lineNumber + 1}`;
    totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
  }
  return [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
}

/** CPU seconds used so far by every Chromium process, by process type (browser, renderer, gpu-process, utility, ...). */
function chromiumCpuByType(): Map<string, number> {
  const ticksPerSecond = 100; // USER_HZ on Linux.
  const byType = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split(/[\0 ]/); // Zygote children rewrite theirs with spaces.
      if (!commandLine[0]?.includes('chromium')) continue;
      const typeArg = commandLine.find((arg) => arg.startsWith('--type='));
      const subtype = commandLine.find((arg) => arg.startsWith('--utility-sub-type='));
      const type = typeArg ? `${typeArg.slice(7)}${subtype ? `:${subtype.split('.').pop()}` : ''}` : 'browser';
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
      byType.set(type, (byType.get(type) ?? 0) + seconds);
      if (type !== 'renderer') continue;
      // And the renderers' threads by name (main, compositor, WebRTC's network and worker threads, ...).
      for (const task of readdirSync(`/proc/${entry}/task`)) {
        const name = readFileSync(`/proc/${entry}/task/${task}/comm`, 'utf8').trim().replace(/\d+$/, '');
        const taskFields = readFileSync(`/proc/${entry}/task/${task}/stat`, 'utf8').split(') ')[1]!.split(' ');
        const key = `  renderer thread ${name}`;
        byType.set(key, (byType.get(key) ?? 0) + (Number(taskFields[11]) + Number(taskFields[12])) / ticksPerSecond);
      }
    } catch {
      // Exited while we looked.
    }
  }
  return byType;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { updates: { type: 'string' }, 'in-flight': { type: 'string' }, preload: { type: 'string' }, cuts: { type: 'string' }, 'write-at-cut': { type: 'boolean' }, 'cut-ms': { type: 'string' }, 'no-profile': { type: 'boolean' }, 'no-ui': { type: 'boolean' }, 'ui-without': { type: 'string' }, trace: { type: 'boolean' } } });
  const profiling = values['no-profile'] !== true;
  const updates = Number(values.updates ?? 5_000);
  const preload = Number(values.preload ?? 0);
  const inFlight = Number(values['in-flight'] ?? 32);
  // Unminified, so the profile names our functions.
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn', '--minify', 'false'], { stdio: 'inherit' });
  const cluster = new BrowserCluster({ log: (line) => process.stderr.write(`${line}\n`) });
  try {
    await cluster.start({ nodes: 5 });
    const nodes = cluster.nodes;
    for (const node of nodes) await waitForVisibility(node, 5, 5);
    // --no-ui: take the Lit UI off the page, to see what rendering costs a heal.
    if (values['no-ui'] === true) for (const node of nodes) await node.page.evaluate(() => document.querySelector('engram-app')?.remove());
    // --ui-without a,b: take those parts of it off (e.g. engram-recall-box), to see which one costs.
    for (const part of values['ui-without']?.split(',') ?? []) {
      for (const node of nodes) await node.page.evaluate((tag) => document.querySelector('engram-app')?.shadowRoot?.querySelector(tag)?.remove(), part);
    }
    const write = (count: number, tag: string) =>
      Promise.all(
        nodes.map((node, index) =>
          node.page.evaluate(
            async ([perNode, label, parallel]) => {
              // No named functions in here: tsx would wrap them in a helper the page does not have.
              let next = 0;
              await Promise.all(
                Array.from({ length: parallel }, async () => {
                  while (next < perNode) {
                    const k = next++;
                    await window.engram!.remember({ content: `${label} ${k}`, tags: [label] });
                  }
                }),
              );
            },
            [Math.ceil(count / nodes.length), `${tag}${index}`, inFlight] as const,
          ),
        ),
      );
    // Cuts first, as the bench's detection runs make before its heal measurements.
    for (let cut = 0; cut < Number(values.cuts ?? 0); cut++) {
      await cluster.partition([[0, 1, 2], [3, 4]]);
      for (const node of nodes.slice(0, 3)) await waitForVisibility(node, 3, 5);
      await cluster.heal();
      for (const node of nodes) await waitForVisibility(node, 5, 5);
    }
    if (preload > 0) {
      // A cluster that already holds memories, as the bench's does by its heal measurements.
      const preloadStart = Date.now();
      await write(preload, 'pre');
      await waitForConvergence(nodes, 120_000);
      process.stderr.write(`preloaded ${preload} in ${Date.now() - preloadStart} ms (healthy, with replication)\n`);
    }
    await cluster.partition([[0, 1, 2], [3, 4]]);
    // --write-at-cut: as the bench, write from the moment of the cut, before anyone has noticed it.
    if (values['write-at-cut'] !== true) for (const node of nodes.slice(0, 3)) await waitForVisibility(node, 3, 5);
    const writeSession = await nodes[0]!.page.context().newCDPSession(nodes[0]!.page);
    await writeSession.send('Profiler.enable');
    await writeSession.send('Profiler.start');
    const writeStart = Date.now();
    await write(updates, 'p');
    const writeMs = Date.now() - writeStart;
    // --cut-ms: hold the cut this long in all (from the writes' start), e.g. past ICE failure.
    const holdMs = Number(values['cut-ms'] ?? 0) - writeMs;
    if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
    const { profile: writeProfile } = (await writeSession.send('Profiler.stop')) as unknown as { profile: CpuProfile };
    process.stdout.write(`\nnode 0 during the writes (${writeMs} ms):\n`);
    for (const [name, ms] of selfTimes(writeProfile, 25)) process.stdout.write(`  ${ms.toFixed(1).padStart(8)} ms  ${name}\n`);
    process.stderr.write(`wrote ${updates} in ${writeMs} ms (${Math.round((updates / writeMs) * 1000)}/s, ${inFlight} in flight per page)\n`);
    const sessions = await Promise.all(nodes.map((node) => node.page.context().newCDPSession(node.page)));
    for (const session of profiling ? sessions : []) {
      await session.send('Profiler.enable');
      await session.send('Profiler.setSamplingInterval', { interval: 200 });
      await session.send('Profiler.start');
    }
    // A timeline per page: heal sessions (who with, outcome, records, when), links and membership.
    await Promise.all(
      nodes.map((node) =>
        node.page.evaluate(() => {
          const log: string[] = [];
          (window as unknown as { healLog: string[] }).healLog = log;
          window.engram!.subscribe((event) => {
            const at = Date.now();
            if (event.kind === 'heal') {
              const r = event.detail as { peer: string; role: string; outcome: string; recordsSent: number; recordsReceived: number; startedAt: number; finishedAt: number };
              log.push(`${at} heal ${r.role} with ${r.peer}: ${r.outcome}, sent ${r.recordsSent} got ${r.recordsReceived}, took ${Math.round(r.finishedAt - r.startedAt)} ms`);
            } else if (event.kind === 'heal-progress') {
              const p = event.detail as { peer: string; phase: string; recordsSent: number; recordsReceived: number; recordsExpected?: number };
              log.push(`${at} progress with ${p.peer}: ${p.phase} sent ${p.recordsSent} got ${p.recordsReceived}/${p.recordsExpected ?? '?'}`);
            } else if (event.kind === 'link' || event.kind === 'membership') {
              log.push(`${at} ${event.kind} ${JSON.stringify(event.kind === 'link' ? event.detail : { id: (event.detail as { member: { id: string; state: string } }).member.id, state: (event.detail as { member: { state: string } }).member.state })}`);
            }
          });
        }),
      ),
    );
    // Time the page handle's reads (what the UI calls on each refresh) over the heal.
    await Promise.all(
      nodes.map((node) =>
        node.page.evaluate(() => {
          const handle = window.engram as unknown as Record<string, (...args: unknown[]) => unknown>;
          const spent: Record<string, { calls: number; ms: number }> = {};
          (window as unknown as { uiReads: typeof spent }).uiReads = spent;
          for (const name of ['recall', 'conflicts', 'merkleRoot', 'members', 'links', 'visibility', 'healStatus']) {
            const original = handle[name]!.bind(handle);
            handle[name] = (...args: unknown[]) => {
              const start = performance.now();
              try {
                return original(...args);
              } finally {
                const entry = (spent[name] ??= { calls: 0, ms: 0 });
                entry.calls++;
                entry.ms += performance.now() - start;
              }
            };
          }
        }),
      ),
    );
    // --trace: a Chromium timeline trace of every page over the heal, summed by event (layout, paint, ...).
    const traces = values.trace === true ? await Promise.all(sessions.map(async (session) => {
      const events: { name: string; ph: string; dur?: number; tdur?: number }[] = [];
      session.on('Tracing.dataCollected', (data) => void events.push(...(data.value as unknown as typeof events)));
      const done = new Promise<void>((resolve) => session.once('Tracing.tracingComplete', () => resolve()));
      await session.send('Tracing.start', { categories: 'devtools.timeline,v8.execute,blink,cc,gpu,renderer.scheduler', transferMode: 'ReportEvents' });
      return { events, done };
    })) : [];
    const before = await Promise.all(nodes.map((node) => node.page.evaluate(() => { const { commits, commitMs, messagesReceived, bytesReceived } = window.engram!.stats().node; return { commits, commitMs: Math.round(commitMs), messagesReceived, bytesReceived }; })));
    const cpuBefore = chromiumCpuByType();
    const healStart = Date.now();
    await cluster.heal();
    await waitForConvergence(nodes, 120_000);
    const healMs = Date.now() - healStart;
    const cpuAfter = chromiumCpuByType();
    process.stdout.write(`CPU seconds used by Chromium processes during the heal (${healMs} ms wall, 2 cores):\n`);
    for (const [type, seconds] of cpuAfter) process.stdout.write(`  ${type}: ${(seconds - (cpuBefore.get(type) ?? 0)).toFixed(2)} s\n`);
    const after = await Promise.all(nodes.map((node) => node.page.evaluate(() => { const { commits, commitMs, messagesReceived, bytesReceived } = window.engram!.stats().node; return { commits, commitMs: Math.round(commitMs), messagesReceived, bytesReceived }; })));
    process.stderr.write(`heal: converged in ${healMs} ms\n`);
    for (const [index, node] of nodes.entries()) {
      const log = await node.page.evaluate(() => (window as unknown as { healLog: string[] }).healLog);
      process.stdout.write(`\nnode ${index} (${node.id}) timeline, ms from the heal:\n`);
      for (const line of log) {
        const [at, ...rest] = line.split(' ');
        process.stdout.write(`  ${String(Number(at) - healStart).padStart(6)} ${rest.join(' ')}\n`);
      }
    }
    for (const [index, node] of nodes.entries()) {
      const reads = await node.page.evaluate(() => (window as unknown as { uiReads: Record<string, { calls: number; ms: number }> }).uiReads);
      process.stdout.write(`node ${index} UI reads during the heal: ${Object.entries(reads).map(([name, { calls, ms }]) => `${name} ${calls}× ${ms.toFixed(0)} ms`).join(', ')}\n`);
    }
    for (const [index, trace] of traces.entries()) {
      await sessions[index]!.send('Tracing.end');
      await trace.done;
      const byName = new Map<string, { n: number; ms: number }>();
      for (const event of trace.events) {
        if (event.ph !== 'X' || event.tdur === undefined) continue;
        const entry = byName.get(event.name) ?? { n: 0, ms: 0 };
        entry.n++;
        entry.ms += event.tdur / 1000;
        byName.set(event.name, entry);
      }
      process.stdout.write(`\nnode ${index} trace, thread time by event (nested events counted in their parents too):\n`);
      for (const [name, { n, ms }] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) process.stdout.write(`  ${ms.toFixed(1).padStart(8)} ms ${String(n).padStart(6)}×  ${name}\n`);
    }
    const summed = new Map<string, number>();
    for (const [index, session] of (profiling ? sessions : []).entries()) {
      const { profile } = (await session.send('Profiler.stop')) as unknown as { profile: CpuProfile };
      const busyMs = selfTimes(profile, 10_000).filter(([name]) => !name.startsWith('(idle)') && !name.startsWith('(program)')).reduce((sum, [, ms]) => sum + ms, 0);
      process.stdout.write(`\nnode ${index}: busy ${busyMs.toFixed(0)} ms of ${healMs} ms; stats before ${JSON.stringify(before[index])} after ${JSON.stringify(after[index])}\n`);
      for (const [name, ms] of selfTimes(profile, 30)) process.stdout.write(`  ${ms.toFixed(1).padStart(8)} ms  ${name}\n`);
      for (const [name, ms] of selfTimes(profile, 10_000)) summed.set(name.replace(/-[\w-]{8}\.js/, '.js'), (summed.get(name.replace(/-[\w-]{8}\.js/, '.js')) ?? 0) + ms);
    }
    if (summed.size > 0) {
      process.stdout.write(`\nall five pages, self time during the heal:\n`);
      for (const [name, ms] of [...summed].sort((x, y) => y[1] - x[1]).slice(0, 40)) process.stdout.write(`  ${ms.toFixed(1).padStart(8)} ms  ${name}\n`);
    }
  } finally {
    await cluster.close();
  }
}

await main();
