/**
 * The benchmark's comparison peer: the same cuts and the same workload as our heal measurement,
 * run against Yjs + y-webrtc on the same five namespaced browsers.
 *
 * measurePeer() takes over the cluster's existing tabs (so call it after our own measurements):
 * it builds the Yjs page (bench/yjs/), serves it on the bridge address, runs y-webrtc's own
 * signaling server (its bin/server.js) beside it, and points every tab at a fresh room. Each cut
 * is then: partition 3|2, every node writes its share of the updates, keep the cut for its
 * length, heal, and time until all five maps hold every entry with equal digests.
 *
 * Alone, for development: `npx tsx bench/peer-yjs.ts [--quick] [--updates N] [--long-cut-ms N]`
 * starts its own cluster of five and prints the result as JSON.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Page } from '@playwright/test';
import { BrowserCluster } from '../e2e/harness/cluster-harness.js';
import { sendText, serveStatic } from '../signaling/static-files.js';
import { YJS_PAGE_DIR } from './yjs/vite.config.js';
import type { YjsBench } from './yjs/main.js';
import { repeated, type Repeated } from './stats.js';

export interface PeerOptions {
  /** Updates written during each cut, shared evenly by the nodes (as in our heal measurement). */
  readonly updates: number;
  /** How long the short cut lasts, from the partition (longer if the writes take longer). */
  readonly shortCutMs: number;
  /** How long the long cut lasts; 0 skips it. */
  readonly longCutMs: number;
  /** Each cut is measured this many times (short and long interleaved), each from a fresh room. */
  readonly repetitions: number;
  /** How long to wait for convergence after a heal before calling it never healed. */
  readonly healTimeoutMs?: number;
  readonly log: (line: string) => void;
}

/** One cut of the comparison, as measured. */
export interface PeerCut {
  /** From removing the partition until every map holds every entry with equal digests; null if not within the timeout. */
  readonly healMs: number | null;
  /** From the partition to the heal: the asked length, or longer when the writes took longer. */
  readonly cutLastedMs: number;
  /** How long the writes took, all nodes in parallel. */
  readonly writeMs: number;
  /** Entries per node when the heal began: the cut was real if each side held only its own. */
  readonly sizesAtHeal: readonly number[];
  /** Open WebRTC connections per node when the heal began, and when the wait ended. */
  readonly peersAtHeal: readonly number[];
  readonly peersAtEnd: readonly number[];
  /** Entries per node when the wait ended (all equal to `updates` when it healed). */
  readonly sizesAtEnd: readonly number[];
}

/** One cut length, measured `repetitions` times: every run, and the median with min and max. */
export interface PeerCutSeries {
  readonly askedMs: number;
  readonly runs: readonly PeerCut[];
  /** A run that never healed within healTimeoutMs counts as +∞ ('missed'). */
  readonly ms: Repeated;
  readonly cutLastedMs: Repeated;
}

export interface PeerResult {
  readonly name: 'Yjs + y-webrtc';
  readonly versions: { readonly yjs: string; readonly 'y-webrtc': string };
  /** Entries written during each cut, all nodes together. */
  readonly updates: number;
  readonly entriesPerTransaction: number;
  readonly healTimeoutMs: number;
  readonly pollIntervalMs: number;
  readonly repetitions: number;
  readonly short: PeerCutSeries;
  /** Null when no long cut was asked for. */
  readonly long: PeerCutSeries | null;
}

export type PeerBenchErrorCode = 'needs-hard-partitions' | 'server-failed' | 'peers-not-connected';

export class PeerBenchError extends Error {
  constructor(
    readonly code: PeerBenchErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PeerBenchError';
  }
}

const DEFAULT_HEAL_TIMEOUT_MS = 60_000; // The bound: y-webrtc did not heal a 25 s cut within 60 s when first measured.
const CONNECT_TIMEOUT_MS = 60_000; // Five browsers on two cores set up 10 peer connections in a few seconds; a minute means something is wrong.
/** How often convergence is checked, for both stores alike (bench/run.ts uses it too). */
export const POLL_INTERVAL_MS = 100; // Heal times are seconds; 100 ms keeps the error small without loading two cores.
const ENTRIES_PER_TRANSACTION = 50; // Must match bench/yjs/main.ts; reported with the result.

/** Runs the comparison on the cluster's tabs, which afterwards show the Yjs page, not the app. */
export async function measurePeer(cluster: BrowserCluster, options: PeerOptions): Promise<PeerResult> {
  if (cluster.mode !== 'hard') {
    throw new PeerBenchError('needs-hard-partitions', "soft partitions are faults injected into our own transport; they cannot cut y-webrtc's connections");
  }
  const host = cluster.hostAddress ?? '127.0.0.1';
  const healTimeoutMs = options.healTimeoutMs ?? DEFAULT_HEAL_TIMEOUT_MS;
  const pages = cluster.nodes.map((node) => node.page);
  execFileSync('npx', ['vite', 'build', '--config', 'bench/yjs/vite.config.ts', '--logLevel', 'warn'], { stdio: 'inherit' });
  const pageServer = await servePage(host);
  const signaling = await startSignaling(host, options.log);
  try {
    const pageUrl = `http://${host}:${(pageServer.address() as AddressInfo).port}/`;
    const signalingUrl = `ws://${host}:${signaling.port}`;
    const runId = Date.now().toString(36);
    const perNode = Math.ceil(options.updates / pages.length);
    const cutOnce = async (cutMs: number, label: string): Promise<PeerCut> => {
      await openRoom(pages, `${pageUrl}?signaling=${encodeURIComponent(signalingUrl)}&room=yjs-bench-${runId}-${label}`);
      return measureCut(cluster, pages, { perNode, cutMs, label, healTimeoutMs, log: options.log });
    };
    // Each run in a fresh room (so a fresh Y.Doc in every tab): every cut starts from empty maps.
    // Short and long interleaved, as for ours.
    const shortRuns: PeerCut[] = [];
    const longRuns: PeerCut[] = [];
    for (let repetition = 1; repetition <= options.repetitions; repetition++) {
      shortRuns.push(await cutOnce(options.shortCutMs, `short${repetition}`));
      if (options.longCutMs > 0) longRuns.push(await cutOnce(options.longCutMs, `long${repetition}`));
    }
    const series = (askedMs: number, runs: readonly PeerCut[]): PeerCutSeries => ({
      askedMs,
      runs,
      ms: repeated(runs.map((run) => run.healMs)),
      cutLastedMs: repeated(runs.map((run) => run.cutLastedMs)),
    });
    return {
      name: 'Yjs + y-webrtc',
      versions: { yjs: packageVersion('yjs'), 'y-webrtc': packageVersion('y-webrtc') },
      updates: perNode * pages.length,
      entriesPerTransaction: ENTRIES_PER_TRANSACTION,
      healTimeoutMs,
      pollIntervalMs: POLL_INTERVAL_MS,
      repetitions: options.repetitions,
      short: series(options.shortCutMs, shortRuns),
      long: options.longCutMs > 0 ? series(options.longCutMs, longRuns) : null,
    };
  } finally {
    // The tabs still hold keep-alive connections to it: close those too, or close() waits on them.
    pageServer.closeAllConnections();
    await new Promise((resolve) => pageServer.close(resolve));
    signaling.stop();
  }
}

/** Points every tab at the Yjs page in one room and waits until each has a WebRTC connection to every other. */
async function openRoom(pages: readonly Page[], url: string): Promise<void> {
  await Promise.all(pages.map((page) => page.goto(url)));
  await Promise.all(pages.map((page) => page.waitForFunction(() => window.yjsBench?.ready === true, undefined, { timeout: CONNECT_TIMEOUT_MS, polling: POLL_INTERVAL_MS })));
  const others = pages.length - 1;
  try {
    await Promise.all(pages.map((page) => page.waitForFunction((wanted) => window.yjsBench!.peers() === wanted, others, { timeout: CONNECT_TIMEOUT_MS, polling: POLL_INTERVAL_MS })));
  } catch {
    const peers = await Promise.all(pages.map((page) => page.evaluate(() => window.yjsBench!.peers())));
    throw new PeerBenchError('peers-not-connected', `y-webrtc did not connect every pair within ${CONNECT_TIMEOUT_MS} ms: open connections per node ${peers.join(', ')}`);
  }
}

async function measureCut(
  cluster: BrowserCluster,
  pages: readonly Page[],
  cut: { perNode: number; cutMs: number; label: string; healTimeoutMs: number; log: (line: string) => void },
): Promise<PeerCut> {
  const half = Math.ceil(pages.length / 2);
  const indices = pages.map((_, index) => index);
  await cluster.partition([indices.slice(0, half), indices.slice(half)]);
  const cutStart = Date.now();
  const written = await Promise.all(
    pages.map((page, index) => page.evaluate(([count, label]) => window.yjsBench!.write(count, label), [cut.perNode, `${cut.label}-n${index}`] as const)),
  );
  const writeMs = Date.now() - cutStart;
  const total = written.reduce((sum, count) => sum + count, 0);
  const remaining = cut.cutMs - (Date.now() - cutStart);
  if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
  const atHeal = await readReplicas(pages, total);
  const healStart = Date.now();
  const cutLastedMs = healStart - cutStart;
  await cluster.heal();
  let healMs: number | null = null;
  let atEnd = atHeal;
  for (;;) {
    atEnd = await readReplicas(pages, total);
    if (atEnd.every((replica) => replica.digest !== null && replica.digest === atEnd[0]!.digest)) {
      healMs = Date.now() - healStart;
      break;
    }
    if (Date.now() - healStart > cut.healTimeoutMs) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  const sizes = (replicas: readonly Replica[]) => replicas.map((replica) => replica.size);
  const peers = (replicas: readonly Replica[]) => replicas.map((replica) => replica.peers);
  cut.log(
    `yjs ${cut.label} cut: ${total} entries written in ${writeMs} ms, cut lasted ${cutLastedMs} ms (sizes ${sizes(atHeal).join('/')}, ` +
      `peers ${peers(atHeal).join('/')} at heal); ` +
      (healMs === null ? `not healed within ${cut.healTimeoutMs} ms (sizes ${sizes(atEnd).join('/')}, peers ${peers(atEnd).join('/')})` : `healed in ${healMs} ms`),
  );
  return { healMs, cutLastedMs, writeMs, sizesAtHeal: sizes(atHeal), peersAtHeal: peers(atHeal), peersAtEnd: peers(atEnd), sizesAtEnd: sizes(atEnd) };
}

interface Replica {
  readonly size: number;
  /** Only computed when the size is already right: no point hashing a replica still missing entries. */
  readonly digest: string | null;
  readonly peers: number;
}

function readReplicas(pages: readonly Page[], expectedSize: number): Promise<Replica[]> {
  return Promise.all(
    pages.map((page) =>
      page.evaluate((expected) => {
        const bench: YjsBench = window.yjsBench!;
        const size = bench.size();
        return { size, digest: size === expected ? bench.digest() : null, peers: bench.peers() };
      }, expectedSize),
    ),
  );
}

/** Serves the built Yjs page (a different origin from the app: it needs no secure context, having no password). */
async function servePage(host: string): Promise<Server> {
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://page');
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendText(response, 405, 'method not allowed');
    void serveStatic(request, response, YJS_PAGE_DIR, url.pathname);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return server;
}

/** y-webrtc's own signaling server (the package's bin/server.js), as a child process on a free port. */
async function startSignaling(host: string, log: (line: string) => void): Promise<{ port: number; stop: () => void }> {
  // The script reads its port from PORT and listens on every interface, the bridge's included.
  const port = await freePort();
  const script = join(packageDir('y-webrtc'), 'bin', 'server.js');
  const child: ChildProcess = spawn(process.execPath, [script], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new PeerBenchError('server-failed', `y-webrtc signaling server did not start within 10 s: ${output}`)), 10_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Signaling server running')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new PeerBenchError('server-failed', `y-webrtc signaling server exited with ${code}: ${output}`));
      });
    });
  } catch (error) {
    stop();
    throw error;
  }
  log(`y-webrtc signaling server (pid ${child.pid}) on ws://${host}:${port}`);
  return { port, stop };
}

/** A port free on every interface, as the signaling script will bind it. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, resolve);
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The installed package's directory, found from its entry point (neither package exports its package.json). */
function packageDir(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.resolve(name)));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json of ${name} above its entry point`);
    dir = parent;
  }
}

function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(join(packageDir(name), 'package.json'), 'utf8')) as { version: string }).version;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, updates: { type: 'string' }, 'long-cut-ms': { type: 'string' } } });
  const quick = values.quick === true;
  const log = (line: string) => process.stderr.write(`[peer] ${line}\n`);
  // The cluster's tabs open the app first (the harness waits for it to run): build it if it never was.
  if (!existsSync('dist/index.html')) execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { stdio: 'inherit' });
  const cluster = new BrowserCluster({ log });
  try {
    await cluster.start({ nodes: 5, partitions: 'hard' });
    const result = await measurePeer(cluster, {
      updates: values.updates ? Number(values.updates) : quick ? 1_000 : 10_000,
      shortCutMs: 3_000,
      longCutMs: values['long-cut-ms'] ? Number(values['long-cut-ms']) : quick ? 0 : 30_000,
      repetitions: quick ? 1 : 3,
      log,
    });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await cluster.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
