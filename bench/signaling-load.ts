/**
 * Load test of the signaling server, loopback only, bounded in count and time:
 *   npx tsx bench/signaling-load.ts [--connections 4000] [--peers-per-room 4] [--addresses 80] [--released 20000]
 * The server runs in a child process (so its memory is its own) with the default limits. The
 * test opens `connections` WebSockets from `addresses` loopback addresses (127.0.1.x: Linux
 * routes all of 127/8 to lo), joins them with tokens into rooms of `peers-per-room`, and reads
 * the server's RSS and heap; then it has one address try to open 10,000 rooms and checks that
 * another address can still open one; then it leaves `released` peer ids behind (bindings kept
 * for the retention) and reads the memory again. Prints one JSON report; figures go to
 * docs/SIGNALING.md by hand.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { newPeerToken } from '../src/net/signaling-client.js';
import { DEFAULT_SIGNALING_LIMITS, startServer, type ServerStats } from '../signaling/server.js';

const DEADLINE_MS = 180_000; // The whole run, on a busy 2-core machine; beyond it the run fails.

interface ServerReport {
  readonly stats: ServerStats;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
}

if (process.argv.includes('--serve')) {
  // Child: the server, answering 'report' with its stats and memory after a full GC.
  const server = await startServer({ port: 0, host: '127.0.0.1', log: { info: () => undefined, warn: () => undefined } });
  process.on('message', (message) => {
    if (message === 'report') {
      (globalThis as { gc?: () => void }).gc?.();
      const memory = process.memoryUsage();
      process.send?.({ stats: server.stats(), rssBytes: memory.rss, heapUsedBytes: memory.heapUsed } satisfies ServerReport);
    } else if (message === 'stop') {
      void server.close().then(() => process.exit(0));
    }
  });
  process.send?.({ port: server.port });
} else {
  await main();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '4000' },
      'peers-per-room': { type: 'string', default: '4' },
      addresses: { type: 'string', default: '80' },
      released: { type: 'string', default: '20000' },
    },
  });
  const connections = Math.min(15_000, Number(values.connections));
  const peersPerRoom = Number(values['peers-per-room']);
  const addresses = Math.min(250, Number(values.addresses));
  const released = Math.min(100_000, Number(values.released));
  const perAddress = Math.ceil(connections / addresses);
  if (perAddress > DEFAULT_SIGNALING_LIMITS.maxConnectionsPerAddress) throw new Error(`${perAddress} connections per address is over the default cap; use more --addresses`);
  const deadline = setTimeout(() => {
    console.error(`signaling-load: over ${DEADLINE_MS / 1000} s, giving up`);
    process.exit(1);
  }, DEADLINE_MS);

  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: ['--import', 'tsx', '--expose-gc'] });
  const port = await nextMessage<{ port: number }>(child).then((message) => message.port);
  const url = `ws://127.0.0.1:${port}/signal`;
  const report = async (): Promise<ServerReport> => {
    child.send('report');
    return nextMessage<ServerReport>(child);
  };
  const address = (index: number): string => `127.0.1.${1 + index}`;
  const idle = await report();

  const startedMs = performance.now();
  const sockets: WebSocket[] = [];
  for (let i = 0; i < connections; i += 200) {
    const batch = Array.from({ length: Math.min(200, connections - i) }, (_, j) => {
      const index = i + j;
      return joinAs(url, address(Math.floor(index / perAddress)), `room-${Math.floor(index / peersPerRoom)}`, `peer-${index}`, newPeerToken());
    });
    for (const outcome of await Promise.all(batch)) {
      if (outcome.code !== 'joined') throw new Error(`a join was refused: ${outcome.code}`);
      sockets.push(outcome.socket);
    }
  }
  const joinSeconds = (performance.now() - startedMs) / 1000;
  const loaded = await report();

  // One address tries to open 10,000 rooms: one room per connection, as many connections as it may.
  const hostile: WebSocket[] = [];
  const refusals = new Map<string, number>();
  let hostileRooms = 0;
  for (let attempt = 0; attempt < 10_000 && (refusals.get('too-many-connections') ?? 0) < 50; attempt++) {
    const outcome = await joinAs(url, '127.0.2.1', `spam-${attempt}`, 'spammer', newPeerToken());
    if (outcome.code === 'joined') hostileRooms++;
    else refusals.set(outcome.code, (refusals.get(outcome.code) ?? 0) + 1);
    hostile.push(outcome.socket);
  }
  const honest = await joinAs(url, '127.0.2.2', 'honest-new-room', 'newcomer', newPeerToken());
  for (const socket of [...hostile, honest.socket]) socket.terminate();

  // Peer ids left behind: each address joins and leaves ids until `released` bindings are retained.
  const releasedPerAddress = Math.ceil(released / addresses);
  await Promise.all(
    Array.from({ length: addresses }, async (_, a) => {
      const socket = await open(url, address(a));
      sockets.push(socket);
      for (let i = 0; i < releasedPerAddress; i++) {
        socket.send(JSON.stringify({ type: 'join', room: `left-${a}`, peerId: `gone-${i}`, token: newPeerToken() }));
        socket.send(JSON.stringify({ type: 'leave' }));
        // Two frames per 45 ms: 44/s, under the server's 50 messages/s per connection.
        await new Promise((resolve) => setTimeout(resolve, 45));
      }
    }),
  );
  await waitUntil(async () => (await report()).stats.claims >= connections + Math.min(released, addresses * releasedPerAddress) * 0.99, 120_000);
  const withReleased = await report();

  for (const socket of sockets) socket.terminate();
  child.send('stop');
  clearTimeout(deadline);
  const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
  console.log(
    JSON.stringify(
      {
        connections,
        rooms: loaded.stats.rooms,
        addresses: loaded.stats.addresses,
        joinSeconds: Math.round(joinSeconds * 10) / 10,
        idle: { rssMB: mb(idle.rssBytes), heapMB: mb(idle.heapUsedBytes) },
        loaded: { rssMB: mb(loaded.rssBytes), heapMB: mb(loaded.heapUsedBytes) },
        heapBytesPerConnection: Math.round((loaded.heapUsedBytes - idle.heapUsedBytes) / connections),
        hostileAddress: { roomsOpened: hostileRooms, refusals: Object.fromEntries(refusals) },
        otherAddressCouldOpenARoom: honest.code === 'joined',
        releasedClaims: withReleased.stats.claims - withReleased.stats.peers,
        withReleased: { rssMB: mb(withReleased.rssBytes), heapMB: mb(withReleased.heapUsedBytes) },
        heapBytesPerReleasedClaim: Math.round((withReleased.heapUsedBytes - loaded.heapUsedBytes) / Math.max(1, withReleased.stats.claims - withReleased.stats.peers)),
      },
      null,
      2,
    ),
  );
  // The sockets of the last phase hold the event loop open; the report is out, so leave.
  process.exit(0);
}

function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve) => child.once('message', (message) => resolve(message as T)));
}

function open(url: string, localAddress: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { localAddress });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Opens a socket from `localAddress` and joins; resolves with 'joined' or the refusal's code. */
function joinAs(url: string, localAddress: string, room: string, peerId: string, token: string): Promise<{ code: string; socket: WebSocket }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { localAddress });
    socket.on('error', () => undefined);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'join', room, peerId, token })));
    socket.once('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: string; code?: string };
      resolve({ code: message.type === 'joined' ? 'joined' : (message.code ?? message.type), socket });
    });
    socket.once('close', () => reject(new Error('closed before an answer')));
  });
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
