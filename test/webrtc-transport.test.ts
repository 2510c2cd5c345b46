/**
 * The WebRTC transport over real data channels (node's @roamhq/wrtc), with peers found through
 * an in-memory signaling hub.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import SimplePeer from 'simple-peer';
import { MemorySignalingHub, type MemorySignaler } from '../src/net/memory-signaler.js';
import {
  Outbox,
  WebRtcTransport,
  type LinkState,
  type SimplePeerConstructor,
  type WebRtcImplementation,
  type WebRtcTransportConfig,
} from '../src/net/webrtc-transport.js';
import type { PeerAuthError } from '../src/net/peer-auth.js';
import type { Scheduler } from '../src/core/ports.js';
import { MAX_FRAME_BYTES } from '../src/net/framing.js';

const require = createRequire(import.meta.url);
const wrtc = require('@roamhq/wrtc') as WebRtcImplementation;

const KiB = 1024;
const MiB = 1024 * KiB;

/** Quick retries so recovery shows within a test; long auth blocks so a refused peer stays refused. */
const TEST_CONFIG: Partial<WebRtcTransportConfig> = {
  retryBaseMs: 200,
  retryMaxMs: 2_000,
  connectTimeoutMs: 10_000,
  authFailureBackoffMs: 60_000,
};

interface TestPeer {
  readonly id: string;
  readonly transport: WebRtcTransport;
  readonly signaler: MemorySignaler;
  /** Every simple-peer instance this transport created, with the options it was given. */
  readonly connections: { peer: SimplePeer.Instance; initiator: boolean }[];
  readonly inbox: { from: string; bytes: Uint8Array }[];
  readonly linkEvents: { peerId: string; state: LinkState }[];
  readonly authFailures: { peerId: string; error: PeerAuthError }[];
  /** The transport's timers: a check that something will not happen waits on these, not on a sleep. */
  readonly timers: { pending(): number; fired(): number };
}

/** Real time, counting the transport's timers: how many are still set (what could yet happen), and how many have run. */
function watchedScheduler(): { scheduler: Scheduler; pending(): number; fired(): number } {
  let pending = 0;
  let fired = 0;
  const scheduler: Scheduler = {
    now: () => performance.now(),
    setTimer(delayMs, fn) {
      let settled = false;
      pending++;
      const id = setTimeout(() => {
        settled = true;
        pending--;
        fired++;
        fn();
      }, delayMs);
      return {
        cancel: () => {
          if (settled) return;
          settled = true;
          pending--;
          clearTimeout(id);
        },
      };
    },
  };
  return { scheduler, pending: () => pending, fired: () => fired };
}

const created: TestPeer[] = [];

afterEach(async () => {
  for (const peer of created.splice(0)) {
    peer.transport.close();
    peer.signaler.close();
    for (const { peer: connection } of peer.connections) connection.destroy();
  }
  // Let the channel and connection close events run before the next test.
  await sleep(50);
});

function join(
  hub: MemorySignalingHub,
  id: string,
  options: {
    room?: string;
    hubRoom?: string;
    secret?: string;
    config?: Partial<WebRtcTransportConfig>;
    SimplePeer?: SimplePeerConstructor;
  } = {},
): TestPeer {
  const connections: TestPeer['connections'] = [];
  const Base = options.SimplePeer ?? (SimplePeer as unknown as SimplePeerConstructor);
  const Recording = class extends Base {
    constructor(peerOptions?: SimplePeer.Options) {
      super(peerOptions);
      connections.push({ peer: this, initiator: peerOptions?.initiator === true });
    }
  };
  const room = options.room ?? 'room';
  const signaler = hub.join(options.hubRoom ?? room, id);
  const timers = watchedScheduler();
  const transport = new WebRtcTransport({
    scheduler: timers.scheduler,
    signaler,
    room,
    secret: options.secret ?? 'shared secret',
    SimplePeer: Recording,
    wrtc,
    config: { ...TEST_CONFIG, ...options.config },
  });
  const peer: TestPeer = { id, transport, signaler, connections, inbox: [], linkEvents: [], authFailures: [], timers };
  transport.onMessage((from, bytes) => peer.inbox.push({ from, bytes }));
  transport.on('link', (peerId, state) => peer.linkEvents.push({ peerId, state }));
  transport.on('auth-failed', (peerId, error) => peer.authFailures.push({ peerId, error }));
  created.push(peer);
  return peer;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function linkState(peer: TestPeer, otherId: string): LinkState | undefined {
  return peer.transport.links().find((link) => link.peerId === otherId)?.state;
}

async function allOpen(peers: readonly TestPeer[]): Promise<void> {
  for (const peer of peers) {
    for (const other of peers) {
      if (other !== peer) await waitFor(() => linkState(peer, other.id) === 'open', `${peer.id} -> ${other.id} open`);
    }
  }
}

function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function textOf(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

function destroyPeerConnection(connection: SimplePeer.Instance): void {
  // What a network failure ends in: the RTCPeerConnection is gone for good.
  (connection as unknown as { _pc: RTCPeerConnection })._pc.close();
}

describe('a WebRTC mesh', () => {
  it('two peers connect, authenticate and exchange binary messages both ways', async () => {
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice');
    const bob = join(hub, 'bob');
    await allOpen([alice, bob]);

    alice.transport.send('bob', Uint8Array.of(0, 1, 2, 255));
    bob.transport.send('alice', bytesOf('hello alice'));
    await waitFor(() => alice.inbox.length === 1 && bob.inbox.length === 1, 'both messages');

    expect(bob.inbox[0]?.from).toBe('alice');
    expect([...(bob.inbox[0]?.bytes ?? [])]).toEqual([0, 1, 2, 255]);
    expect(alice.inbox[0]?.from).toBe('bob');
    expect(textOf(alice.inbox[0]?.bytes ?? new Uint8Array())).toBe('hello alice');
    // The link went through its states in order.
    expect(alice.linkEvents.map((event) => event.state)).toEqual(['connecting', 'authenticating', 'open']);
    expect(bob.transport.stats().messagesIn).toBe(1);
    expect(alice.transport.stats().messagesOut).toBe(1);
  });

  it('only the peer with the smaller id ever makes offers', async () => {
    const hub = new MemorySignalingHub();
    const bob = join(hub, 'bob');
    const alice = join(hub, 'alice');
    await allOpen([alice, bob]);
    expect(alice.connections.map((connection) => connection.initiator)).toEqual([true]);
    expect(bob.connections.map((connection) => connection.initiator)).toEqual([false]);
  });

  it('three peers form a full mesh, the last one joining after the others are linked', async () => {
    const hub = new MemorySignalingHub();
    const a = join(hub, 'a');
    const b = join(hub, 'b');
    await allOpen([a, b]);
    const c = join(hub, 'c');
    await allOpen([a, b, c]);

    for (const from of [a, b, c]) {
      for (const to of [a, b, c]) if (from !== to) from.transport.send(to.id, bytesOf(`${from.id}->${to.id}`));
    }
    await waitFor(() => [a, b, c].every((peer) => peer.inbox.length === 2), 'six messages');
    for (const peer of [a, b, c]) {
      const received = peer.inbox.map((message) => `${message.from}:${textOf(message.bytes)}`).sort();
      const senders = [a, b, c].filter((other) => other !== peer).map((other) => `${other.id}:${other.id}->${peer.id}`);
      expect(received).toEqual(senders.sort());
    }
  });

  it('works without a room secret too (the handshake then proves nothing)', async () => {
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice', { secret: '' });
    const bob = join(hub, 'bob', { secret: '' });
    await allOpen([alice, bob]);
    alice.transport.send('bob', bytesOf('no secret'));
    await waitFor(() => bob.inbox.length === 1, 'the message');
  });
});

describe('messages larger than a frame, and many of them', () => {
  it('a 1 MiB message arrives intact', async () => {
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice');
    const bob = join(hub, 'bob');
    await allOpen([alice, bob]);

    const message = new Uint8Array(MiB);
    for (let i = 0; i < message.length; i++) message[i] = (i * 31 + (i >> 8)) & 0xff;
    alice.transport.send('bob', message);
    await waitFor(() => bob.inbox.length === 1, 'the large message');

    const received = bob.inbox[0]?.bytes ?? new Uint8Array();
    expect(received.length).toBe(MiB);
    expect(Buffer.compare(received, message)).toBe(0);
    expect(alice.transport.stats().bytesOut).toBeGreaterThan(MiB);
  });

  it('1000 messages sent in one burst all arrive, in order, while the channel buffer stays under the high-water mark', async () => {
    const config = { highWaterBytes: 256 * KiB, bulkHighWaterBytes: 128 * KiB, lowWaterBytes: 64 * KiB };
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice', { config });
    const bob = join(hub, 'bob', { config });
    await allOpen([alice, bob]);
    const channel = alice.connections[0]?.peer;
    if (channel === undefined) throw new Error('no connection');

    // 8 MiB in all: far more than the window, so without backpressure the buffer would hold it all.
    const messageBytes = 8 * KiB;
    let largestBufferBytes = 0;
    const sample = setInterval(() => (largestBufferBytes = Math.max(largestBufferBytes, channel.bufferSize)), 1);
    for (let i = 0; i < 1000; i++) {
      const message = new Uint8Array(messageBytes);
      new DataView(message.buffer).setUint32(0, i);
      alice.transport.send('bob', message);
    }
    largestBufferBytes = Math.max(largestBufferBytes, channel.bufferSize);
    try {
      await waitFor(() => bob.inbox.length === 1000, '1000 messages', 40_000);
    } finally {
      clearInterval(sample);
    }

    const order = bob.inbox.map((message) => new DataView(message.bytes.buffer, message.bytes.byteOffset).getUint32(0));
    expect(order).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    // wrtc's SCTP stack swallows a few MiB (more on a busy machine) before bufferedAmount moves,
    // so only the bound is asserted here; the fake-channel tests below pin the mechanism down.
    expect(largestBufferBytes).toBeLessThan(config.highWaterBytes + MAX_FRAME_BYTES);
    expect(alice.transport.stats().dropped['queue-full']).toBe(0);
  });
});

describe('recovery', () => {
  it.each([
    ['the initiator', 'alice'],
    ['the answerer', 'bob'],
  ])('when %s loses its connection, a new connection replaces it and messages flow again', async (_role, victimId) => {
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice');
    const bob = join(hub, 'bob');
    await allOpen([alice, bob]);
    const victim = victimId === 'alice' ? alice : bob;
    destroyPeerConnection(victim.connections[0]?.peer as SimplePeer.Instance);

    await waitFor(() => alice.connections.length === 2 && bob.connections.length === 2, 'new connections on both sides');
    await allOpen([alice, bob]);
    alice.transport.send('bob', bytesOf('again'));
    bob.transport.send('alice', bytesOf('again'));
    await waitFor(() => alice.inbox.length === 1 && bob.inbox.length === 1, 'messages over the new connection');

    for (const peer of [alice, bob]) {
      expect(peer.transport.stats().reconnects).toBe(1);
      expect(peer.transport.links()[0]?.reconnects).toBe(1);
      expect(peer.linkEvents.map((event) => event.state)).toContain('failed');
    }
  });

  it('a message sent while the link is down is dropped and counted, not queued', async () => {
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice');
    const bob = join(hub, 'bob');
    await allOpen([alice, bob]);
    destroyPeerConnection(alice.connections[0]?.peer as SimplePeer.Instance);
    await waitFor(() => linkState(alice, 'bob') !== 'open', 'the link to go down');

    alice.transport.send('bob', bytesOf('lost'));
    expect(alice.transport.stats().dropped['no-link']).toBe(1);
    await allOpen([alice, bob]);
    alice.transport.send('bob', bytesOf('kept'));
    await waitFor(() => bob.inbox.length === 1, 'the message after recovery');
    expect(textOf(bob.inbox[0]?.bytes ?? new Uint8Array())).toBe('kept');
  });

  it('the answerer asks the initiator to reconnect when the initiator would wait too long', async () => {
    const hub = new MemorySignalingHub();
    // Alice (the initiator) would wait at least 30 s before retrying on her own.
    const alice = join(hub, 'alice', { config: { retryBaseMs: 60_000, retryMaxMs: 60_000 } });
    const bob = join(hub, 'bob');
    await allOpen([alice, bob]);
    destroyPeerConnection(bob.connections[0]?.peer as SimplePeer.Instance);

    await waitFor(() => alice.connections.length === 2, 'alice to reconnect at bob\'s request', 10_000);
    await allOpen([alice, bob]);
    expect(alice.connections.map((connection) => connection.initiator)).toEqual([true, true]);
    expect(bob.connections.map((connection) => connection.initiator)).toEqual([false, false]);
  });

  it.each([
    ['leaves the room, then closes', true],
    ['closes, then leaves the room', false],
  ])('when a peer %s, its link closes and nobody tries to reach it again', async (_order, leavesFirst) => {
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice');
    const bob = join(hub, 'bob');
    await allOpen([alice, bob]);

    if (leavesFirst) {
      const aliceHeardBobLeave = new Promise<void>((resolve) => alice.signaler.on('peer-left', (peerId) => peerId === 'bob' && resolve()));
      bob.signaler.close();
      await aliceHeardBobLeave;
      // The data channel does not depend on the signaling server: an open link outlives peer-left.
      expect(linkState(alice, 'bob')).toBe('open');
      bob.transport.close();
    } else {
      bob.transport.close();
      bob.signaler.close();
    }
    await waitFor(() => linkState(alice, 'bob') === undefined, 'alice to forget bob');
    const connectionsBefore = alice.connections.length;
    const signalsBefore = hub.signalsSentBy('alice');
    // Nothing is left that could try again: no retry, setup or watchdog timer of alice's is set.
    await waitFor(() => alice.timers.pending() === 0, 'alice to hold no timer');

    expect(alice.connections.length).toBe(connectionsBefore);
    expect(hub.signalsSentBy('alice')).toBe(signalsBefore);
    expect(alice.linkEvents.at(-1)).toEqual({ peerId: 'bob', state: 'closed' });
    expect(alice.transport.links()).toEqual([]);
  });
});

describe('the room secret', () => {
  it('two peers with different secrets never deliver a message, report auth-failed, and stop trying', async () => {
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice', { secret: 'one secret' });
    const bob = join(hub, 'bob', { secret: 'another secret' });
    await waitFor(() => alice.authFailures.length > 0 && bob.authFailures.length > 0, 'auth-failed on both sides');

    // Both keep sending; nothing may get through: each send is refused on the spot, nothing is queued to go later.
    const refusedBefore = [alice.transport.stats().dropped['no-link'], bob.transport.stats().dropped['no-link']];
    for (let i = 0; i < 20; i++) {
      alice.transport.send('bob', bytesOf('secret stuff'));
      bob.transport.send('alice', bytesOf('secret stuff'));
    }
    expect([alice.transport.stats().dropped['no-link'] - refusedBefore[0]!, bob.transport.stats().dropped['no-link'] - refusedBefore[1]!]).toEqual([20, 20]);
    // Stopped trying: the refused connections are gone and only the auth backoff's retry is set on each side.
    await waitFor(() => alice.timers.pending() === 1 && bob.timers.pending() === 1, 'each side to keep only its auth-backoff timer');
    expect(alice.inbox).toEqual([]);
    expect(bob.inbox).toEqual([]);
    // Whoever checks first says bad-proof and rejects; the other may hear that reject first.
    for (const [peer, otherId] of [[alice, 'bob'], [bob, 'alice']] as const) {
      expect(peer.authFailures.map((failure) => failure.peerId)).toEqual([otherId]);
      expect(['bad-proof', 'rejected']).toContain(peer.authFailures[0]?.error.code);
      // Either way the link tells the person why, in a form a UI can act on.
      expect(peer.transport.links().find((link) => link.peerId === otherId)?.lastErrorCode).toBe('wrong-secret');
    }
    expect(linkState(alice, 'bob')).toBe('failed');
    expect(alice.transport.stats().authFailures).toBe(1);
    expect(alice.transport.stats().dropped['no-link']).toBe(20);
    // One second is five retry periods, but a refused peer is left alone for a minute.
    expect(alice.connections).toHaveLength(1);
    expect(bob.connections).toHaveLength(1);
    expect(alice.linkEvents.map((event) => event.state)).not.toContain('open');
  });

  it('the same secret under another room name does not pass (the room salts the key)', async () => {
    // Both are in one signaling room, but their transports were told different room names.
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice', { room: 'room-one', hubRoom: 'shared', secret: 'same' });
    const bob = join(hub, 'bob', { room: 'room-two', hubRoom: 'shared', secret: 'same' });
    await waitFor(() => alice.authFailures.length > 0 && bob.authFailures.length > 0, 'auth-failed on both sides');
    expect(alice.linkEvents.map((event) => event.state)).not.toContain('open');
  });
});

describe('sending without a link', () => {
  it('drops and counts a message to an unknown peer, and one above the size limit', async () => {
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice', { config: { maxMessageBytes: 1 * KiB } });
    alice.transport.send('nobody', Uint8Array.of(1));
    expect(alice.transport.stats().dropped['no-link']).toBe(1);

    const bob = join(hub, 'bob', { config: { maxMessageBytes: 1 * KiB } });
    await allOpen([alice, bob]);
    alice.transport.send('bob', new Uint8Array(KiB + 1));
    expect(alice.transport.stats().dropped['too-large']).toBe(1);
  });
});

/**
 * An in-process stand-in for simple-peer whose channel buffer the test controls: what is sent
 * is delivered at once, but counts in bufferSize until the test calls drain().
 */
class FakeSimplePeer extends EventEmitter {
  static readonly byToken = new Map<string, FakeSimplePeer>();
  static nextToken = 0;
  /** Whether channels fire 'bufferedamountlow' (browsers) or not (node's wrtc). */
  static nativeDrainEvents = true;
  /** A network cut: every frame sent is lost, and the channels stay "open" (as they do for ~17 s). */
  static cut = false;

  readonly token = String(FakeSimplePeer.nextToken++);
  readonly _channel: EventTarget & { bufferedAmountLowThreshold?: number };
  bufferSize = 0;
  private remote: FakeSimplePeer | undefined;
  private destroyed = false;

  constructor(options?: SimplePeer.Options) {
    super();
    this._channel = FakeSimplePeer.nativeDrainEvents
      ? Object.assign(new EventTarget(), { bufferedAmountLowThreshold: 0 })
      : new EventTarget();
    FakeSimplePeer.byToken.set(this.token, this);
    if (options?.initiator === true) setTimeout(() => this.emit('signal', { type: 'offer', sdp: this.sdp() }), 0);
  }

  signal(data: SimplePeer.SignalData): void {
    if (this.destroyed) throw new Error('cannot signal after peer is destroyed');
    if (!('sdp' in data) || data.sdp === undefined) return;
    const remoteToken = /a=x-token:(\d+)/.exec(data.sdp)?.[1] ?? '';
    this.remote = FakeSimplePeer.byToken.get(remoteToken);
    if (data.type === 'offer') {
      setTimeout(() => this.emit('signal', { type: 'answer', sdp: this.sdp() }), 0);
    } else {
      setTimeout(() => {
        this.emit('connect');
        this.remote?.emit('connect');
      }, 0);
    }
  }

  send(data: Uint8Array): void {
    if (this.destroyed) throw new Error('cannot send after peer is destroyed');
    this.bufferSize += data.length;
    const copy = Buffer.from(data);
    if (FakeSimplePeer.cut) return;
    setTimeout(() => this.remote?.emit('data', copy), 0);
  }

  /** The network caught up: the buffer is empty. */
  drain(): void {
    this.bufferSize = 0;
    if (FakeSimplePeer.nativeDrainEvents) this._channel.dispatchEvent(new Event('bufferedamountlow'));
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    FakeSimplePeer.byToken.delete(this.token);
    setTimeout(() => {
      this.emit('close');
      this.remote?.destroy();
    }, 0);
  }

  private sdp(): string {
    const hex = this.token.padStart(4, '0');
    return `v=0\r\na=fingerprint:sha-256 ${hex.slice(0, 2)}:${hex.slice(2, 4)}\r\na=x-token:${this.token}\r\n`;
  }
}

describe('a message handler that throws', () => {
  it('is counted and reported on the link, and later messages still arrive', async () => {
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice', { SimplePeer: FakeSimplePeer as unknown as SimplePeerConstructor });
    const bob = join(hub, 'bob', { SimplePeer: FakeSimplePeer as unknown as SimplePeerConstructor });
    await allOpen([alice, bob]);
    const received: string[] = [];
    bob.transport.onMessage((_from, bytes) => {
      const text = textOf(bytes);
      if (text === 'poison') throw new Error('handler bug');
      received.push(text);
    });
    alice.transport.send('bob', bytesOf('poison'));
    alice.transport.send('bob', bytesOf('after'));
    await waitFor(() => received.includes('after'), 'the message after the one that threw');
    expect(bob.transport.stats().dropped['handler-threw']).toBe(1);
    expect(bob.transport.links().find((link) => link.peerId === 'alice')?.lastError).toMatch(/handler threw: handler bug/);
    expect(linkState(bob, 'alice')).toBe('open');
  });
});

describe('the silence watchdog', () => {
  const config = { keepaliveIntervalMs: 50, silentReplaceMs: 300 };
  const Fake = FakeSimplePeer as unknown as SimplePeerConstructor;

  afterEach(() => {
    FakeSimplePeer.cut = false;
  });

  it('keeps an idle connection: keepalives say the peer is there', async () => {
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice', { config, SimplePeer: Fake });
    const bob = join(hub, 'bob', { config, SimplePeer: Fake });
    await allOpen([alice, bob]);
    const connectionsBefore = alice.connections.length;
    // With nothing to send, until both watchdogs have run 20 times (over three times silentReplaceMs of 50 ms periods).
    const firedBefore = [alice.timers.fired(), bob.timers.fired()];
    await waitFor(() => alice.timers.fired() - firedBefore[0]! >= 20 && bob.timers.fired() - firedBefore[1]! >= 20, 'twenty watchdog runs on each side');
    expect(alice.transport.stats().silentReplacements).toBe(0);
    expect(bob.transport.stats().silentReplacements).toBe(0);
    expect(alice.connections.length).toBe(connectionsBefore);
    expect(linkState(alice, 'bob')).toBe('open');
  });

  it('replaces a connection the peer has gone silent on, and the new one carries messages once the cut heals', async () => {
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice', { config, SimplePeer: Fake });
    const bob = join(hub, 'bob', { config, SimplePeer: Fake });
    await allOpen([alice, bob]);
    const connectionsBefore = alice.connections.length;
    FakeSimplePeer.cut = true;
    // Whichever side's watchdog fires first replaces it (the fake then closes the other end too).
    const replaced = () => alice.transport.stats().silentReplacements + bob.transport.stats().silentReplacements;
    await waitFor(() => replaced() >= 1, 'the silent connection replaced', 2_000);
    const replacer = alice.transport.stats().silentReplacements > 0 ? alice : bob;
    expect(replacer.transport.links()[0]?.lastError).toMatch(/nothing heard/);
    FakeSimplePeer.cut = false;
    await allOpen([alice, bob]);
    expect(alice.connections.length).toBeGreaterThan(connectionsBefore);
    alice.transport.send('bob', bytesOf('after the cut'));
    await waitFor(() => bob.inbox.some((message) => textOf(message.bytes) === 'after the cut'), 'the message over the new connection');
  });
  it('keeps the connection to a peer held as sleeping (a frozen tab) through its silence, and replaces it once released', async () => {
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice', { config, SimplePeer: Fake });
    const bob = join(hub, 'bob', { config, SimplePeer: Fake });
    await allOpen([alice, bob]);
    alice.transport.holdSilentPeer('bob', true);
    bob.transport.holdSilentPeer('alice', true);
    FakeSimplePeer.cut = true;
    // Twenty watchdog runs on each side: over three times silentReplaceMs of silence.
    const firedBefore = [alice.timers.fired(), bob.timers.fired()];
    await waitFor(() => alice.timers.fired() - firedBefore[0]! >= 20 && bob.timers.fired() - firedBefore[1]! >= 20, 'twenty watchdog runs on each side');
    expect(alice.transport.stats().silentReplacements + bob.transport.stats().silentReplacements).toBe(0);
    expect(linkState(alice, 'bob')).toBe('open');
    alice.transport.holdSilentPeer('bob', false);
    await waitFor(() => alice.transport.stats().silentReplacements >= 1, 'the released silent connection replaced', 2_000);
  });
});

describe('backpressure on a channel whose buffer the test controls', () => {
  const config = { highWaterBytes: 64 * KiB, bulkHighWaterBytes: 32 * KiB, lowWaterBytes: 16 * KiB, drainPollMs: 5 };
  const Fake = FakeSimplePeer as unknown as SimplePeerConstructor;

  afterEach(() => {
    FakeSimplePeer.nativeDrainEvents = true;
  });

  async function burst(drainsByEvent: boolean): Promise<void> {
    FakeSimplePeer.nativeDrainEvents = drainsByEvent;
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice', { config, SimplePeer: Fake });
    const bob = join(hub, 'bob', { config, SimplePeer: Fake });
    await allOpen([alice, bob]);
    const channel = alice.connections[0]?.peer as unknown as FakeSimplePeer;
    if (drainsByEvent) expect(channel._channel.bufferedAmountLowThreshold).toBe(config.lowWaterBytes);

    for (let i = 0; i < 100; i++) {
      const message = new Uint8Array(8 * KiB);
      new DataView(message.buffer).setUint32(0, i);
      alice.transport.send('bob', message);
    }
    // The transport filled the channel to the high-water mark and kept the rest.
    expect(channel.bufferSize).toBeGreaterThanOrEqual(config.highWaterBytes);
    expect(channel.bufferSize).toBeLessThan(config.highWaterBytes + MAX_FRAME_BYTES);
    // Everything alice handed to the channel has arrived; the rest is still hers.
    await waitFor(() => bob.inbox.length === alice.transport.stats().messagesOut, 'what was on the channel to arrive');
    expect(bob.inbox.length).toBeLessThan(100);

    for (let drains = 0; bob.inbox.length < 100; drains++) {
      if (drains > 100) throw new Error('the queue stopped moving');
      channel.drain();
      await sleep(10);
      expect(channel.bufferSize).toBeLessThan(config.highWaterBytes + MAX_FRAME_BYTES);
    }
    const order = bob.inbox.map((message) => new DataView(message.bytes.buffer, message.bytes.byteOffset).getUint32(0));
    expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(alice.transport.stats().dropped['queue-full']).toBe(0);
  }

  it('a peer that cannot keep up loses the oldest queued messages, keeps the newest, and counts the loss', async () => {
    const smallQueue = { ...config, highWaterBytes: 16 * KiB, bulkHighWaterBytes: 8 * KiB, lowWaterBytes: 4 * KiB, maxQueuedBytes: 64 * KiB };
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice', { config: smallQueue, SimplePeer: Fake });
    const bob = join(hub, 'bob', { config: smallQueue, SimplePeer: Fake });
    await allOpen([alice, bob]);
    const channel = alice.connections[0]?.peer as unknown as FakeSimplePeer;

    for (let i = 0; i < 100; i++) {
      const message = new Uint8Array(4 * KiB);
      message[0] = i;
      alice.transport.send('bob', message);
    }
    // 16 KiB went to the channel and 64 KiB wait in the queue: about 20 of 100 messages survive.
    const dropped = alice.transport.stats().dropped['queue-full'];
    expect(dropped).toBeGreaterThan(70);
    for (let drains = 0; bob.inbox.length < 100 - dropped; drains++) {
      if (drains > 100) throw new Error('the queue stopped moving');
      channel.drain();
      await sleep(10);
    }
    // Nothing more is on its way: alice has handed over exactly what arrived.
    expect(alice.transport.stats().messagesOut).toBe(100 - dropped);

    const received = bob.inbox.map((message) => message.bytes[0] ?? -1);
    expect(received).toHaveLength(100 - dropped);
    // The first messages were already on the channel; of the rest, the newest were kept.
    expect(received.slice(-3)).toEqual([97, 98, 99]);
    expect([...received].sort((x, y) => x - y)).toEqual(received);
  });

  it('a control message overtakes queued bulk ones, and bulk only fills the channel to its own mark', async () => {
    const hub = new MemorySignalingHub();
    const alice = join(hub, 'alice', { config, SimplePeer: Fake });
    const bob = join(hub, 'bob', { config, SimplePeer: Fake });
    await allOpen([alice, bob]);
    const channel = alice.connections[0]?.peer as unknown as FakeSimplePeer;
    for (let i = 0; i < 40; i++) alice.transport.send('bob', new Uint8Array(8 * KiB).fill(1), 'bulk');
    expect(channel.bufferSize).toBeGreaterThanOrEqual(config.bulkHighWaterBytes);
    expect(channel.bufferSize).toBeLessThan(config.bulkHighWaterBytes + 8 * KiB + MAX_FRAME_BYTES);
    // The channel is past the bulk mark but under the control one: a probe goes straight on.
    const before = channel.bufferSize;
    alice.transport.send('bob', new Uint8Array([2, 2, 2]), 'control');
    expect(channel.bufferSize).toBeGreaterThan(before);
    for (let drains = 0; bob.inbox.length < 41; drains++) {
      if (drains > 100) throw new Error('the queue stopped moving');
      channel.drain();
      await sleep(10);
    }
    const probeAt = bob.inbox.findIndex((message) => message.bytes[0] === 2);
    // Only what was already on the channel arrives before it; the 30-odd queued bulk messages after.
    expect(probeAt).toBeLessThanOrEqual(Math.ceil(before / (8 * KiB)));
    expect(probeAt).toBeLessThan(10);
  });

  it('stops feeding a channel at the high-water mark and resumes on bufferedamountlow (browsers)', async () => {
    await burst(true);
  });

  it('polls the buffer instead where the channel has no bufferedamountlow event (node\'s wrtc)', async () => {
    await burst(false);
  });
});

describe('the outbox (per-connection send queue)', () => {
  const frame = (bytes: number, tag: number): Uint8Array => new Uint8Array(bytes).fill(tag);

  it('hands out frames first in, first out, marking the end of each message', () => {
    const outbox = new Outbox(1000);
    outbox.push([frame(10, 1), frame(10, 2)]);
    outbox.push([frame(10, 3)]);
    const taken = [outbox.take(), outbox.take(), outbox.take()];
    expect(taken.map(({ frame: f, endsMessage }) => [f[0], endsMessage])).toEqual([
      [1, false],
      [2, true],
      [3, true],
    ]);
    expect(outbox.empty).toBe(true);
    expect(outbox.queuedBytes).toBe(0);
  });

  it('when full, drops the oldest whole messages to make room for the newest', () => {
    const outbox = new Outbox(30);
    outbox.push([frame(10, 1)]);
    outbox.push([frame(10, 2)]);
    outbox.push([frame(10, 3)]);
    expect(outbox.push([frame(20, 4)])).toBe(2);
    expect([outbox.take().frame[0], outbox.take().frame[0]]).toEqual([3, 4]);
    expect(outbox.queuedBytes).toBe(0);
  });

  it('never cuts a message that is partly on the channel', () => {
    const outbox = new Outbox(30);
    outbox.push([frame(10, 1), frame(10, 1)]);
    outbox.take();
    outbox.push([frame(10, 2)]);
    expect(outbox.push([frame(20, 3)])).toBe(1);
    expect([outbox.take().frame[0], outbox.take().frame[0]]).toEqual([1, 3]);
  });

  it('drops only the new message when no amount of dropping would make room for it', () => {
    const outbox = new Outbox(30);
    outbox.push([frame(10, 1)]);
    expect(outbox.push([frame(40, 2)])).toBe(1);
    outbox.push([frame(10, 3), frame(10, 3)]);
    outbox.take();
    outbox.take();
    outbox.push([frame(5, 4)]);
    expect(outbox.push([frame(25, 5)])).toBe(1);
    expect(outbox.queuedBytes).toBe(15);
    expect([outbox.take().frame[0], outbox.take().frame[0]]).toEqual([3, 4]);
  });
});
