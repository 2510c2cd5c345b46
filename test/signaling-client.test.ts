/**
 * The browser's signaling client as a specification: against the real server in Node (with the
 * `ws` package's WebSocket) for joining, relaying and surviving a server restart; against a
 * scripted fake socket with fake timers for the exact backoff schedule and dead-connection
 * detection, which real time could only check loosely.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer, type SignalingLimits, type SignalingLogger } from '../signaling/server.js';
import {
  DEFAULT_SIGNALING_CLIENT_TIMING,
  newPeerToken,
  SignalingClient,
  signalingUrl,
  storedPeerToken,
  type SignalingClientOptions,
  type SignalingStatus,
  type WebSocketLike,
} from '../src/net/signaling-client.js';
import { PEER_TOKEN_PATTERN } from '../src/net/signaling-protocol.js';
import type { ClientMessage, ServerMessage, SignalingError } from '../src/net/signaling-protocol.js';

const QUIET: SignalingLogger = { info: () => undefined, warn: () => undefined };

/** A client plus the history of everything it reported, to judge afterwards. */
interface Observed {
  readonly client: SignalingClient;
  readonly events: string[];
  readonly signals: { from: string; data: unknown }[];
  readonly errors: SignalingError[];
  /** The peers this client currently believes are in the room, from 'peers', 'peer-joined', 'peer-left'. */
  readonly peers: Set<string>;
}

function observe(options: SignalingClientOptions): Observed {
  const errors: SignalingError[] = [];
  const client = new SignalingClient({ ...options, onError: (error) => errors.push(error) });
  const observed: Observed = { client, events: [], signals: [], errors, peers: new Set() };
  client.on('status', (connected) => observed.events.push(connected ? 'up' : 'down'));
  client.on('peers', (peerIds) => {
    observed.events.push(`peers:${peerIds.join(',')}`);
    observed.peers.clear();
    for (const peerId of peerIds) observed.peers.add(peerId);
  });
  client.on('peer-joined', (peerId) => {
    observed.events.push(`joined:${peerId}`);
    observed.peers.add(peerId);
  });
  client.on('peer-left', (peerId) => {
    observed.events.push(`left:${peerId}`);
    observed.peers.delete(peerId);
  });
  client.on('signal', (from, data) => observed.signals.push({ from, data }));
  return observed;
}

async function eventually(check: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// Fast reconnection so that a restart test takes a fraction of a second.
const FAST = { reconnectMinDelayMs: 20, reconnectMaxDelayMs: 100 };

describe('signalingUrl', () => {
  it('uses wss behind https and ws otherwise, on the host that served the page', () => {
    expect(signalingUrl({ protocol: 'https:', host: 'mesh.example:8443' })).toBe('wss://mesh.example:8443/signal');
    expect(signalingUrl({ protocol: 'http:', host: 'localhost:8787' })).toBe('ws://localhost:8787/signal');
  });
});

describe('signaling client against the real server', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function serve(port = 0, limits: Partial<SignalingLimits> = {}): Promise<RunningServer> {
    const server = await startServer({ port, host: '127.0.0.1', log: QUIET, limits });
    cleanups.push(() => server.close());
    return server;
  }

  function connect(server: RunningServer, room: string, peerId: string, extra: Partial<SignalingClientOptions> = {}): Observed {
    const observed = observe({ url: signalingUrl({ protocol: 'http:', host: `127.0.0.1:${server.port}` }), room, peerId, WebSocket, timing: FAST, ...extra });
    cleanups.push(() => observed.client.close());
    return observed;
  }

  it('two clients of one room see each other and relay a signal', async () => {
    const server = await serve();
    const a = connect(server, 'pair', 'a');
    await eventually(() => a.events.includes('peers:'), 'a to join');
    const b = connect(server, 'pair', 'b');
    await eventually(() => b.peers.has('a') && a.peers.has('b'), 'a and b to see each other');
    expect(a.events).toEqual(['up', 'peers:', 'joined:b']);
    expect(b.events).toEqual(['up', 'peers:a']);
    a.client.send('b', { type: 'offer', sdp: 'v=0' });
    await eventually(() => b.signals.length === 1, 'the signal');
    expect(b.signals).toEqual([{ from: 'a', data: { type: 'offer', sdp: 'v=0' } }]);
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it('reconnects and re-joins by itself when the server restarts on the same port', async () => {
    const first = await startServer({ port: 0, host: '127.0.0.1', log: QUIET });
    const a = connect(first, 'restart', 'a');
    const b = connect(first, 'restart', 'b');
    await eventually(() => a.peers.has('b') && b.peers.has('a'), 'a and b to see each other');
    const failedAttempts = { a: 0, b: 0 };
    a.client.onStatusChange((status) => void (status.state === 'unreachable' && failedAttempts.a++));
    b.client.onStatusChange((status) => void (status.state === 'unreachable' && failedAttempts.b++));
    await first.close();
    await eventually(() => a.events.at(-1) === 'down' && b.events.at(-1) === 'down', 'both to notice the server is gone');
    // Both fail a few reconnection attempts against the closed port (counted, not waited for).
    await eventually(() => failedAttempts.a >= 3 && failedAttempts.b >= 3, 'three failed reconnection attempts each');
    a.peers.clear();
    b.peers.clear();
    const second = await serve(first.port);
    await eventually(() => a.peers.has('b') && b.peers.has('a'), 'a and b to find each other again', 5_000);
    expect(a.events.filter((event) => event === 'up')).toHaveLength(2);
    b.client.send('a', { candidate: 'after restart' });
    await eventually(() => a.signals.length === 1, 'a signal through the new server');
    expect(a.signals[0]).toEqual({ from: 'b', data: { candidate: 'after restart' } });
    expect(second.stats()).toMatchObject({ rooms: 1, peers: 2 });
  });

  it('is refused an id bound to another client (peer-id-taken), and keeps retrying until the binding expires after its holder left', async () => {
    const server = await serve(0, { claimRetentionMs: 300 });
    const holder = connect(server, 'dup', 'same');
    await eventually(() => holder.events.includes('up'), 'the holder to join');
    const second = connect(server, 'dup', 'same'); // its own fresh token
    await eventually(() => second.errors.some((error) => error.code === 'peer-id-taken'), 'peer-id-taken to be surfaced');
    expect(second.client.status()).toMatchObject({ state: 'refused', code: 'peer-id-taken' });
    expect(second.client.status().message).toContain('belongs to another client');
    expect(second.events).toEqual([]);
    holder.client.close();
    const leftAtMs = performance.now();
    await eventually(() => second.events.includes('up'), 'the second client to get the id once the binding expired', 5_000);
    expect(performance.now() - leftAtMs).toBeGreaterThanOrEqual(300);
    expect(second.client.status()).toEqual({ state: 'connected' });
  });

  it("keeps a reloading tab's id from a raw client that knows the room and the id: refused during the reload and after it, while offers reach only the tab", async () => {
    const server = await serve();
    const url = signalUrlOf(server);
    const token = newPeerToken();
    const tab = connect(server, 'home', 'victim', { token });
    const peer = connect(server, 'home', 'b');
    await eventually(() => tab.peers.has('b') && peer.peers.has('victim'), 'the tab and its peer to see each other');

    // The reload: pagehide closes the client (a leave, then the socket), the new page starts another with the stored token.
    tab.client.close();
    await eventually(() => peer.events.includes('left:victim'), 'the peer to see the tab go');
    const impostor = await rawJoin(url, 'home', 'victim');
    expect(impostor.refusal).toBe('peer-id-taken');

    const reloaded = connect(server, 'home', 'victim', { token });
    await eventually(() => reloaded.client.status().state === 'connected' && peer.events.filter((e) => e === 'joined:victim').length === 1, 'the reloaded tab to be back');
    expect(reloaded.events).toEqual(['up', 'peers:b']);
    const after = await rawJoin(url, 'home', 'victim');
    expect(after.refusal).toBe('peer-id-taken');

    peer.client.send('victim', { type: 'offer', sdp: 'meant for the tab' });
    await eventually(() => reloaded.signals.length === 1, 'the offer to reach the reloaded tab');
    expect(reloaded.signals).toEqual([{ from: 'b', data: { type: 'offer', sdp: 'meant for the tab' } }]);
    // In order on the impostor's socket: an offer relayed to it would precede this pong.
    expect(await after.pingThenReceived()).toEqual(['error', 'pong']);
    expect([...reloaded.errors, ...peer.errors]).toEqual([]);
  });

  it('reports connecting, then connected, and on a refusal the reason code and message the server gave', async () => {
    const server = await serve(0, { maxRoomsPerAddress: 1 });
    const statuses: SignalingStatus[] = [];
    const first = connect(server, 'one', 'a');
    expect(first.client.status()).toEqual({ state: 'connecting' });
    first.client.onStatusChange((status) => statuses.push(status));
    await eventually(() => first.client.status().state === 'connected', 'the first client to join');
    expect(statuses).toEqual([{ state: 'connected' }]);
    const second = connect(server, 'two', 'b');
    await eventually(() => second.client.status().state === 'refused', 'the second client to be refused');
    expect(second.client.status()).toEqual({ state: 'refused', code: 'too-many-rooms', message: 'connections from your address are in 1 room, the limit per address' });
    first.client.close();
    await eventually(() => second.client.status().state === 'connected', 'the second client to join once the address has a room free');
  });

  it('reports origin-not-allowed to a page of a foreign origin, which the browser could not tell from an HTTP status', async () => {
    const server = await serve();
    class ForeignPageSocket extends WebSocket {
      constructor(url: string) {
        super(url, { headers: { Origin: 'https://evil.example' } });
      }
    }
    const foreign = connect(server, 'r', 'p', { WebSocket: ForeignPageSocket });
    await eventually(() => foreign.client.status().state === 'refused', 'the refusal');
    expect(foreign.client.status()).toMatchObject({ state: 'refused', code: 'origin-not-allowed' });
    expect(foreign.client.status().message).toContain('https://evil.example');
  });

  it('reports unreachable, with the URL, when nothing answers', async () => {
    const server = await serve();
    const port = server.port;
    await server.close();
    const lonely = observe({ url: `ws://127.0.0.1:${port}/signal`, room: 'r', peerId: 'p', WebSocket, timing: FAST });
    cleanups.push(() => lonely.client.close());
    await eventually(() => lonely.client.status().state === 'unreachable', 'unreachable');
    expect(lonely.client.status().message).toContain(`ws://127.0.0.1:${port}/signal`);
  });

  it('leaves the room on close and never comes back', async () => {
    const server = await serve();
    const a = connect(server, 'bye', 'a');
    const b = connect(server, 'bye', 'b');
    await eventually(() => a.peers.has('b') && b.peers.has('a'), 'a and b to see each other');
    a.client.close();
    await eventually(() => b.events.includes('left:a'), 'b to see a leave');
    expect(a.events.at(-1)).toBe('down');
    await eventually(() => server.stats().connections === 1, 'the server to drop the closed connection');
    expect(server.stats()).toMatchObject({ connections: 1, peers: 1 });
    // That it never comes back: a closed client has no timer left (the fake-time test below).
  });

  it('can be closed while still connecting, and then never joins', async () => {
    const server = await serve();
    const early = connect(server, 'early', 'x');
    early.client.close();
    // A client that joins after it is told who is in the room: not the closed one. (That nothing
    // is left to join later: the fake-time test below.)
    const later = connect(server, 'early', 'y');
    await eventually(() => later.events.includes('up'), 'a later client to join');
    expect(later.events).toEqual(['up', 'peers:']);
    expect(early.events).toEqual([]);
    expect(server.stats()).toMatchObject({ peers: 1 });
  });

  it('drops signals it cannot send instead of sending garbage, and says why', async () => {
    const server = await serve();
    const a = connect(server, 'drop', 'a');
    a.client.send('b', { early: true }); // not joined yet: best effort, dropped silently
    await eventually(() => a.events.includes('up'), 'a to join');
    a.client.send('not a peer id', {});
    a.client.send('b', 'x'.repeat(70_000));
    expect(a.errors.map((error) => error.code)).toEqual(['bad-message', 'too-large']);
    a.client.send('b', {});
    await eventually(() => a.errors.length === 3, 'the server to answer the signal to an absent peer');
    expect(a.errors[2]?.code).toBe('unknown-peer');
  });
});

function signalUrlOf(server: RunningServer): string {
  return signalingUrl({ protocol: 'http:', host: `127.0.0.1:${server.port}` });
}

/** A raw `ws` client that knows a room and a peer id (no token): its join's refusal code, and a way to see what else it got. */
async function rawJoin(url: string, room: string, peerId: string): Promise<{ refusal: string; pingThenReceived: () => Promise<string[]> }> {
  const socket = new WebSocket(url);
  const received: ServerMessage[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (data: Buffer) => {
    received.push(JSON.parse(data.toString()) as ServerMessage);
    for (const waiter of [...waiters]) waiter();
  });
  const next = (count: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(received)}`)), 3_000);
      const check = (): void => {
        if (received.length < count) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: 'join', room, peerId }));
  await next(1);
  const first = received[0];
  return {
    refusal: first?.type === 'error' ? first.code : (first?.type ?? 'nothing'),
    pingThenReceived: async () => {
      const before = received.length;
      socket.send(JSON.stringify({ type: 'ping' }));
      await next(before + 1);
      socket.close();
      return received.map((message) => message.type);
    },
  };
}

describe('peer tokens', () => {
  it('are 256 random bits in base64url, fresh each time', () => {
    const token = newPeerToken();
    expect(token).toMatch(PEER_TOKEN_PATTERN);
    expect(token).toHaveLength(43);
    expect(newPeerToken()).not.toBe(token);
    const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 8 + 3);
    expect(newPeerToken((out) => (out.set(bytes), out))).toBe(Buffer.from(bytes).toString('base64url'));
  });

  it('are kept per node id in the store, so whichever tab runs that node later finds it; a store that throws costs only persistence', () => {
    const items = new Map<string, string>();
    const store = { getItem: (key: string) => items.get(key) ?? null, setItem: (key: string, value: string) => void items.set(key, value) };
    const first = storedPeerToken('node1', store);
    expect(storedPeerToken('node1', store)).toBe(first);
    expect(storedPeerToken('node2', store)).not.toBe(first);
    expect([...items.keys()].sort()).toEqual(['engram-mesh:signaling-token:node1', 'engram-mesh:signaling-token:node2']);
    items.set('engram-mesh:signaling-token:node1', 'not a token');
    expect(storedPeerToken('node1', store)).toMatch(PEER_TOKEN_PATTERN);
    const broken = { getItem: (): string | null => { throw new Error('SecurityError'); }, setItem: () => undefined };
    expect(storedPeerToken('node1', broken)).toMatch(PEER_TOKEN_PATTERN);
    expect(storedPeerToken('node1', undefined)).toMatch(PEER_TOKEN_PATTERN);
  });

  it('must look like one: the client refuses a token the server would refuse, before connecting', () => {
    const { WebSocket, sockets } = fakeSockets({ answerPings: true });
    expect(() => new SignalingClient({ url: 'ws://x/signal', room: 'r', peerId: 'p', token: 'short', WebSocket })).toThrow(/token/);
    expect(sockets).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Scripted sockets and fake time: the exact schedule.
// ---------------------------------------------------------------------------------------------

interface FakeSocket extends WebSocketLike {
  readonly createdAtMs: number;
  readonly sent: ClientMessage[];
  open(): void;
  receive(message: ServerMessage): void;
  /** The connection fails (refused, reset): 'close' without the client asking. */
  fail(): void;
}

function fakeSockets(options: { answerPings: boolean }): { WebSocket: new (url: string) => FakeSocket; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = [];
  class Scripted implements FakeSocket {
    readyState = 0;
    readonly createdAtMs = Date.now();
    readonly sent: ClientMessage[] = [];
    private readonly listeners = new Map<string, ((event: { readonly data: unknown }) => void)[]>();
    constructor(readonly url: string) {
      sockets.push(this);
    }
    addEventListener(type: string, listener: (event: { readonly data: unknown }) => void): void {
      this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
    }
    send(data: string): void {
      const message = JSON.parse(data) as ClientMessage;
      this.sent.push(message);
      if (message.type === 'ping' && options.answerPings) this.receive({ type: 'pong' });
    }
    close(): void {
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.fire('close', undefined);
    }
    open(): void {
      this.readyState = 1;
      this.fire('open', undefined);
    }
    receive(message: ServerMessage): void {
      this.fire('message', JSON.stringify(message));
    }
    fail(): void {
      this.readyState = 3;
      this.fire('error', undefined);
      this.fire('close', undefined);
    }
    private fire(type: string, data: unknown): void {
      for (const listener of this.listeners.get(type) ?? []) listener({ data });
    }
  }
  return { WebSocket: Scripted, sockets };
}

describe('signaling client timing (scripted sockets, fake time)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function fakeTime(): void {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
  }

  /** Fails every connection attempt at once and returns the delays between attempts. */
  function backoffDelays(random: number, attempts: number): number[] {
    const { WebSocket, sockets } = fakeSockets({ answerPings: true });
    const client = new SignalingClient({ url: 'ws://x/signal', room: 'r', peerId: 'p', WebSocket, random: () => random });
    for (let i = 0; i < attempts; i++) {
      sockets[i]?.fail();
      vi.advanceTimersToNextTimer();
    }
    client.close();
    return sockets.slice(1).map((socket, i) => socket.createdAtMs - (sockets[i]?.createdAtMs ?? 0));
  }

  it('backs off exponentially from 0.5 s to 10 s, with at most 25% jitter either way', () => {
    fakeTime();
    expect(backoffDelays(0.5, 8)).toEqual([500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
    expect(backoffDelays(0, 6)).toEqual([375, 750, 1_500, 3_000, 6_000, 7_500]);
    // Timers run at whole milliseconds: 624.9995 ms fires at 624.
    const highest = backoffDelays(0.999_999, 6);
    [625, 1_250, 2_500, 5_000, 10_000, 10_000].forEach((expectedMs, i) => expect(Math.abs((highest[i] ?? 0) - expectedMs)).toBeLessThanOrEqual(1));
  });

  it('starts the backoff over after a successful join, and re-joins on every new connection', () => {
    fakeTime();
    const { WebSocket, sockets } = fakeSockets({ answerPings: true });
    const statuses: boolean[] = [];
    const token = 'T'.repeat(22);
    const client = new SignalingClient({ url: 'ws://x/signal', room: 'r', peerId: 'p', token, WebSocket, random: () => 0.5 });
    client.on('status', (connected) => statuses.push(connected));
    for (let i = 0; i < 3; i++) {
      sockets[i]?.fail();
      vi.advanceTimersToNextTimer();
    }
    const fourth = sockets[3];
    fourth?.open();
    expect(fourth?.sent).toEqual([{ type: 'join', room: 'r', peerId: 'p', token }]);
    fourth?.receive({ type: 'joined', room: 'r', peerId: 'p', peers: [] });
    fourth?.fail();
    vi.advanceTimersToNextTimer();
    expect((sockets[4]?.createdAtMs ?? 0) - (fourth?.createdAtMs ?? 0)).toBe(500);
    sockets[4]?.open();
    expect(sockets[4]?.sent).toEqual([{ type: 'join', room: 'r', peerId: 'p', token }]);
    expect(statuses).toEqual([true, false]);
    client.close();
  });

  it('pings every 10 s and keeps a connection that answers', () => {
    fakeTime();
    const { WebSocket, sockets } = fakeSockets({ answerPings: true });
    const client = new SignalingClient({ url: 'ws://x/signal', room: 'r', peerId: 'p', WebSocket });
    sockets[0]?.open();
    sockets[0]?.receive({ type: 'joined', room: 'r', peerId: 'p', peers: [] });
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(sockets[0]?.sent.filter((message) => message.type === 'ping')).toHaveLength(6);
    client.close();
    expect(sockets[0]?.sent.at(-1)).toEqual({ type: 'leave' });
  });

  it('abandons a connection that has gone silent for 25 s, and ignores whatever the abandoned socket says later', () => {
    fakeTime();
    const { WebSocket, sockets } = fakeSockets({ answerPings: false });
    const events: string[] = [];
    const client = new SignalingClient({ url: 'ws://x/signal', room: 'r', peerId: 'p', WebSocket, random: () => 0.5 });
    client.on('status', (connected) => events.push(connected ? 'up' : 'down'));
    client.on('peer-joined', (peerId) => events.push(`joined:${peerId}`));
    const stale = sockets[0];
    stale?.open();
    stale?.receive({ type: 'joined', room: 'r', peerId: 'p', peers: [] });
    vi.advanceTimersByTime(29_999);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1); // the 30 s tick is the first to find 25 s of silence
    expect(stale?.readyState).toBe(3);
    expect(events).toEqual(['up', 'down']);
    vi.advanceTimersByTime(500);
    expect(sockets).toHaveLength(2);
    stale?.receive({ type: 'joined', room: 'r', peerId: 'p', peers: ['ghost'] });
    stale?.receive({ type: 'peer-joined', peerId: 'ghost' });
    expect(events).toEqual(['up', 'down']);
    client.close();
  });

  it('abandons a connection attempt that never opens', () => {
    fakeTime();
    const { WebSocket, sockets } = fakeSockets({ answerPings: true });
    const client = new SignalingClient({ url: 'ws://x/signal', room: 'r', peerId: 'p', WebSocket, random: () => 0.5 });
    vi.advanceTimersByTime(30_000 + 500);
    expect(sockets).toHaveLength(2);
    expect(sockets[0]?.readyState).toBe(3);
    client.close();
  });

  it('once closed, joined or still connecting, keeps no timer and opens no socket again, however long it waits', () => {
    fakeTime();
    for (const joinedFirst of [true, false]) {
      const { WebSocket, sockets } = fakeSockets({ answerPings: true });
      const events: string[] = [];
      const client = new SignalingClient({ url: 'ws://x/signal', room: 'r', peerId: 'p', WebSocket, random: () => 0.5 });
      client.on('status', (connected) => events.push(connected ? 'up' : 'down'));
      if (joinedFirst) {
        sockets[0]?.open();
        sockets[0]?.receive({ type: 'joined', room: 'r', peerId: 'p', peers: [] });
      }
      client.close();
      expect(vi.getTimerCount(), `joined first: ${joinedFirst}`).toBe(0);
      vi.advanceTimersByTime(10 * DEFAULT_SIGNALING_CLIENT_TIMING.reconnectMaxDelayMs);
      expect(sockets, `joined first: ${joinedFirst}`).toHaveLength(1);
      expect(events, `joined first: ${joinedFirst}`).toEqual(joinedFirst ? ['up', 'down'] : []);
    }
  });

  it('stops for good once a newer client with its token took its id (peer-id-replaced), and retries other refusals', () => {
    fakeTime();
    const { WebSocket, sockets } = fakeSockets({ answerPings: true });
    const client = new SignalingClient({ url: 'ws://x/signal', room: 'r', peerId: 'p', WebSocket, random: () => 0.5 });
    sockets[0]?.open();
    sockets[0]?.receive({ type: 'error', code: 'server-full', message: 'full' });
    expect(client.status()).toEqual({ state: 'refused', code: 'server-full', message: 'full' });
    vi.advanceTimersByTime(500);
    expect(sockets).toHaveLength(2);
    sockets[1]?.open();
    sockets[1]?.receive({ type: 'joined', room: 'r', peerId: 'p', peers: [] });
    expect(client.status()).toEqual({ state: 'connected' });
    sockets[1]?.receive({ type: 'error', code: 'peer-id-replaced', message: 'a newer connection took it' });
    expect(client.status()).toEqual({ state: 'refused', code: 'peer-id-replaced', message: 'a newer connection took it' });
    expect(sockets[1]?.readyState).toBe(3);
    vi.advanceTimersByTime(120_000);
    expect(sockets).toHaveLength(2);
    // It sent no leave: the id is not its own any more.
    expect(sockets[1]?.sent.map((message) => message.type)).toEqual(['join']);
    client.close();
  });

  it('says unreachable after a failed attempt, not refused, and connecting again after losing a joined connection', () => {
    fakeTime();
    const { WebSocket, sockets } = fakeSockets({ answerPings: true });
    const client = new SignalingClient({ url: 'ws://x/signal', room: 'r', peerId: 'p', WebSocket, random: () => 0.5 });
    sockets[0]?.fail();
    expect(client.status()).toMatchObject({ state: 'unreachable' });
    vi.advanceTimersByTime(500);
    sockets[1]?.open();
    sockets[1]?.receive({ type: 'error', code: 'rate-limited', message: 'slow down' }); // refuses a frame, not the client
    expect(client.status()).toMatchObject({ state: 'unreachable' });
    sockets[1]?.receive({ type: 'joined', room: 'r', peerId: 'p', peers: [] });
    expect(client.status()).toEqual({ state: 'connected' });
    sockets[1]?.fail();
    expect(client.status()).toMatchObject({ state: 'unreachable', message: expect.stringContaining('ws://x/signal') });
    client.close();
    expect(client.status()).toMatchObject({ state: 'unreachable', message: 'this signaling client was closed' });
  });

  it('refuses a room or peer id the server would refuse, before connecting', () => {
    const { WebSocket, sockets } = fakeSockets({ answerPings: true });
    expect(() => new SignalingClient({ url: 'ws://x/signal', room: 'no spaces', peerId: 'p', WebSocket })).toThrow(/room/);
    expect(() => new SignalingClient({ url: 'ws://x/signal', room: 'r', peerId: '', WebSocket })).toThrow(/peer id/);
    expect(sockets).toEqual([]);
  });
});
