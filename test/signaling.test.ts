/**
 * The signaling server as a specification: the protocol's validator, the room registry and the
 * rate limiter as pure parts, then the real server on a free port with real `ws` clients, a
 * seeded fuzzer that judges every reply against a model of what the server must answer, and the
 * command line entry. Every fuzz failure names its seed; SIGNALING_FUZZ_SEED=<seed> replays it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SeededRandom } from '../src/core/random.js';
import {
  encodeSignalingMessage,
  MAX_FRAME_BYTES,
  MAX_SIGNAL_DATA_BYTES,
  parseClientMessage,
  parseServerMessage,
  utf8ByteLength,
  type ClientMessage,
  type ServerMessage,
} from '../src/net/signaling-protocol.js';
import { AddressQuota } from '../signaling/address-quota.js';
import { addressKey, clientAddress } from '../signaling/client-address.js';
import { hashPeerToken, PeerIdClaims } from '../signaling/peer-claims.js';
import { RoomRegistry } from '../signaling/rooms.js';
import { DEFAULT_SIGNALING_LIMITS, startServer, type RunningServer, type SignalingLogger } from '../signaling/server.js';
import { resolveStaticPath } from '../signaling/static-files.js';
import { TokenBucket } from '../signaling/token-bucket.js';

const RUNS = { numRuns: 300 };

// ---------------------------------------------------------------------------------------------
// Test plumbing: a recording logger and a probe client that records every frame it receives.
// ---------------------------------------------------------------------------------------------

function recordingLogger(): SignalingLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (line) => lines.push(line), warn: (line) => lines.push(line) };
}

type Of<K extends ServerMessage['type']> = Extract<ServerMessage, { type: K }>;

/** A raw `ws` client that keeps the history of what the server sent it, to judge afterwards. */
class Probe {
  readonly received: ServerMessage[] = [];
  /** Frames from the server that are not well-formed protocol messages (must stay empty). */
  readonly unreadable: string[] = [];
  closeCode: number | undefined;
  private readonly wakeups = new Set<() => void>();

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? '<binary>' : data.toString();
      const parsed = parseServerMessage(text);
      if (parsed.ok) this.received.push(parsed.message);
      else this.unreadable.push(text);
      this.wake();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      this.wake();
    });
    // The server may cut a fuzzing client mid-send; that is its right, not a test failure.
    socket.on('error', () => undefined);
  }

  static open(url: string, options: WebSocket.ClientOptions = {}): Promise<Probe> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { maxPayload: 16 * MAX_FRAME_BYTES, ...options });
      const probe = new Probe(socket);
      socket.once('open', () => resolve(probe));
      socket.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  sendFrame(data: string | Buffer, binary: boolean): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(data, { binary });
  }

  of<K extends ServerMessage['type']>(type: K): Of<K>[] {
    return this.received.filter((message): message is Of<K> => message.type === type);
  }

  /** Resolves with the first received `type` message (oldest first) that satisfies `matches`. */
  waitFor<K extends ServerMessage['type']>(type: K, matches: (message: Of<K>) => boolean = () => true, timeoutMs = 3_000): Promise<Of<K>> {
    return this.until(() => this.of(type).find(matches), `a ${type} message`, timeoutMs);
  }

  waitForClose(timeoutMs = 3_000): Promise<number> {
    return this.until(() => this.closeCode, 'the connection to close', timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closeCode !== undefined) return;
    this.socket.close();
    await this.waitForClose();
  }

  until<T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = (): boolean => {
        const value = check();
        if (value === undefined) return false;
        this.wakeups.delete(wakeup);
        clearTimeout(timer);
        resolve(value);
        return true;
      };
      const wakeup = (): void => void attempt();
      const timer = setTimeout(() => {
        this.wakeups.delete(wakeup);
        reject(new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.received).slice(0, 500)}`));
      }, timeoutMs);
      this.wakeups.add(wakeup);
      attempt();
    });
  }

  private wake(): void {
    for (const wakeup of [...this.wakeups]) wakeup();
  }
}

function signalUrl(server: RunningServer): string {
  return `${server.url.replace(/^http/, 'ws')}signal`;
}

async function eventually(check: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET with the request target sent exactly as written (fetch would normalise `..` away). */
function rawGet(port: number, target: string, method = 'GET'): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: target, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * What the server made of a new WebSocket: 'admitted' (it answers a ping), or the refusal the
 * page would see — the error frame's code and the close code, e.g. 'origin-not-allowed 1008'.
 */
async function admission(url: string, options: WebSocket.ClientOptions = {}): Promise<string> {
  const probe = await Probe.open(url, options);
  probe.send({ type: 'ping' });
  const outcome = await probe.until(
    () => (probe.of('pong').length > 0 ? 'admitted' : probe.closeCode !== undefined ? `${probe.of('error')[0]?.code ?? 'no-error'} ${probe.closeCode}` : undefined),
    'a pong or a close',
    3_000,
  );
  await probe.close();
  return outcome;
}

/** Two probes joined to `room` as `a` and `b`, each having seen the other. */
async function joinedPair(server: RunningServer, room: string): Promise<[Probe, Probe]> {
  const a = await Probe.open(signalUrl(server));
  a.send({ type: 'join', room, peerId: 'a' });
  await a.waitFor('joined');
  const b = await Probe.open(signalUrl(server));
  b.send({ type: 'join', room, peerId: 'b' });
  await b.waitFor('joined');
  await a.waitFor('peer-joined', (m) => m.peerId === 'b');
  return [a, b];
}

// ---------------------------------------------------------------------------------------------
// Pure parts
// ---------------------------------------------------------------------------------------------

const roomName = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const peerId = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/);
const clientMessage: fc.Arbitrary<ClientMessage> = fc.oneof(
  fc.record({ type: fc.constant('join' as const), room: roomName, peerId }),
  fc.record({ type: fc.constant('signal' as const), to: peerId, data: fc.jsonValue() }),
  fc.constant({ type: 'leave' as const }),
  fc.constant({ type: 'ping' as const }),
);

describe('signaling protocol validator', () => {
  it('reads back every well-formed client message exactly as it was encoded', () => {
    fc.assert(
      fc.property(clientMessage, (message) => {
        const parsed = parseClientMessage(encodeSignalingMessage(message));
        expect(parsed).toEqual({ ok: true, message: JSON.parse(JSON.stringify(message)) });
      }),
      RUNS,
    );
  });

  it('never throws: any text yields a message or a typed error with a known code', () => {
    const text = fc.oneof(fc.string({ maxLength: 200 }), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ type: 'signal', to: 'x', data: v })));
    fc.assert(
      fc.property(text, (frame) => {
        const parsed = parseClientMessage(frame);
        if (!parsed.ok) expect(['bad-json', 'bad-message', 'too-large']).toContain(parsed.error.code);
      }),
      RUNS,
    );
  });

  it('refuses room names and peer ids outside their alphabets and lengths', () => {
    const bad = ['', 'a b', 'a/b', 'ü', 'x'.repeat(65), '../x', 'a\nb'];
    for (const room of bad) {
      expect(parseClientMessage(JSON.stringify({ type: 'join', room, peerId: 'p' }))).toMatchObject({ ok: false, error: { code: 'bad-message' } });
    }
    for (const id of ['', 'a b', 'x'.repeat(129), '"', '<script>']) {
      expect(parseClientMessage(JSON.stringify({ type: 'join', room: 'r', peerId: id }))).toMatchObject({ ok: false, error: { code: 'bad-message' } });
      expect(parseClientMessage(JSON.stringify({ type: 'signal', to: id, data: 1 }))).toMatchObject({ ok: false, error: { code: 'bad-message' } });
    }
    expect(parseClientMessage(JSON.stringify({ type: 'join', room: 'x'.repeat(64), peerId: 'p'.repeat(128) })).ok).toBe(true);
  });

  it('drops unknown fields, so nothing but the protocol is relayed', () => {
    const parsed = parseClientMessage(JSON.stringify({ type: 'signal', to: 'b', data: { sdp: 'x' }, from: 'spoofed', extra: 1 }));
    expect(parsed).toEqual({ ok: true, message: { type: 'signal', to: 'b', data: { sdp: 'x' } } });
  });

  it('refuses a signal without data, with data over 64 KiB, or with data nested too deeply to re-encode', () => {
    expect(parseClientMessage('{"type":"signal","to":"b"}')).toMatchObject({ ok: false, error: { code: 'bad-message' } });
    const atLimit = 'x'.repeat(MAX_SIGNAL_DATA_BYTES - 2); // plus two quotes = exactly the limit
    expect(parseClientMessage(JSON.stringify({ type: 'signal', to: 'b', data: atLimit })).ok).toBe(true);
    expect(parseClientMessage(JSON.stringify({ type: 'signal', to: 'b', data: atLimit + 'x' }))).toMatchObject({ ok: false, error: { code: 'too-large' } });
    // Multi-byte characters count in UTF-8 bytes, not in string length.
    expect(parseClientMessage(JSON.stringify({ type: 'signal', to: 'b', data: 'é'.repeat(MAX_SIGNAL_DATA_BYTES / 2) }))).toMatchObject({ ok: false, error: { code: 'too-large' } });
    const deep = `{"type":"signal","to":"b","data":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    expect(parseClientMessage(deep)).toMatchObject({ ok: false, error: { code: 'bad-message' } });
  });

  it('tells bad JSON, non-objects and unknown types apart', () => {
    expect(parseClientMessage('{"type":')).toMatchObject({ ok: false, error: { code: 'bad-json' } });
    expect(parseClientMessage('')).toMatchObject({ ok: false, error: { code: 'bad-json' } });
    for (const text of ['null', '[]', '"join"', '42', '{"type":"nope"}', '{"type":7}', '{}']) {
      expect(parseClientMessage(text)).toMatchObject({ ok: false, error: { code: 'bad-message' } });
    }
    expect(parseClientMessage(' '.repeat(MAX_FRAME_BYTES + 1))).toMatchObject({ ok: false, error: { code: 'too-large' } });
  });

  it('measures UTF-8 length as the encoder does', () => {
    // Any code point, plus lone surrogate halves (which encoders replace by the 3-byte U+FFFD).
    const piece = fc.oneof(
      fc.integer({ min: 0, max: 0x10ffff }).map((codePoint) => String.fromCodePoint(codePoint)),
      fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
    );
    const text = fc.array(piece, { maxLength: 50 }).map((pieces) => pieces.join(''));
    fc.assert(fc.property(text, (sample) => utf8ByteLength(sample) === Buffer.byteLength(sample, 'utf8')), RUNS);
  });

  it('reads back every server message, and refuses unknown error codes', () => {
    const messages: ServerMessage[] = [
      { type: 'joined', room: 'r', peerId: 'a', peers: ['b', 'c'] },
      { type: 'peer-joined', peerId: 'b' },
      { type: 'peer-left', peerId: 'b' },
      { type: 'signal', from: 'b', data: { candidate: 'x' } },
      { type: 'pong' },
      { type: 'error', code: 'duplicate-peer', message: 'taken' },
    ];
    for (const message of messages) expect(parseServerMessage(encodeSignalingMessage(message))).toEqual({ ok: true, message });
    expect(parseServerMessage('{"type":"error","code":"made-up","message":"x"}').ok).toBe(false);
    expect(parseServerMessage('{"type":"joined","room":"r","peerId":"a","peers":[1]}').ok).toBe(false);
  });
});

describe('token bucket', () => {
  it('never accepts more than the burst plus the rate times the elapsed time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 300 }),
        (ratePerSecond, burstSize, gapsMs) => {
          const bucket = new TokenBucket(ratePerSecond, burstSize, 0);
          let nowMs = 0;
          let accepted = 0;
          for (const gapMs of gapsMs) {
            nowMs += gapMs;
            if (bucket.tryTake(nowMs)) accepted++;
            expect(accepted).toBeLessThanOrEqual(burstSize + (nowMs * ratePerSecond) / 1000 + 1e-9);
          }
        },
      ),
      RUNS,
    );
  });

  it('allows a full burst at once, then one message per 1/rate seconds', () => {
    const bucket = new TokenBucket(10, 5, 1_000);
    for (let i = 0; i < 5; i++) expect(bucket.tryTake(1_000)).toBe(true);
    expect(bucket.tryTake(1_000)).toBe(false);
    expect(bucket.tryTake(1_099)).toBe(false);
    expect(bucket.tryTake(1_100)).toBe(true);
    // An hour idle refills to the burst, not beyond.
    const later = 1_100 + 3_600_000;
    for (let i = 0; i < 5; i++) expect(bucket.tryTake(later)).toBe(true);
    expect(bucket.tryTake(later)).toBe(false);
  });

  it('mints no tokens when the clock steps back', () => {
    const bucket = new TokenBucket(1, 1, 10_000);
    expect(bucket.tryTake(10_000)).toBe(true);
    expect(bucket.tryTake(0)).toBe(false);
    expect(bucket.tryTake(10_500)).toBe(false);
    expect(bucket.tryTake(11_000)).toBe(true);
  });
});

describe('room registry', () => {
  const operation = fc.record({
    kind: fc.constantFrom('join', 'leave'),
    room: fc.constantFrom('r1', 'r2', 'r3', 'r4'),
    peer: fc.constantFrom('a', 'b', 'c', 'd'),
    member: fc.constantFrom(1, 2, 3),
  });

  it('agrees with a model of rooms as sets, within its limits, and keeps no empty room', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 80 }), (operations) => {
        const limits = { maxRooms: 3, maxPeersPerRoom: 3 };
        const registry = new RoomRegistry<number>(limits);
        const model = new Map<string, Map<string, number>>();
        for (const { kind, room, peer, member } of operations) {
          const members = model.get(room);
          if (kind === 'join') {
            const outcome = registry.join(room, peer, member);
            if (members === undefined && model.size >= limits.maxRooms) expect(outcome).toEqual({ ok: false, code: 'server-full' });
            else if (members?.has(peer)) expect(outcome).toEqual({ ok: false, code: 'duplicate-peer' });
            else if ((members?.size ?? 0) >= limits.maxPeersPerRoom) expect(outcome).toEqual({ ok: false, code: 'room-full' });
            else {
              expect(outcome).toEqual({ ok: true, others: [...(members?.keys() ?? [])] });
              model.set(room, (members ?? new Map()).set(peer, member));
            }
          } else {
            const holder = members?.get(peer);
            const notified = registry.leave(room, peer, member);
            if (members !== undefined && holder === member) {
              members.delete(peer);
              if (members.size === 0) model.delete(room);
              expect(notified).toEqual([...members.values()]);
            } else {
              // Leaving with a handle that does not hold the id changes nothing.
              expect(notified).toEqual([]);
            }
          }
          expect(registry.roomCount).toBe(model.size);
          for (const [name, members] of model) expect(registry.peersOf(name)).toEqual([...members.keys()]);
        }
      }),
      RUNS,
    );
  });
});

describe('peer id claims', () => {
  const limits = { claimRetentionMs: 1_000, maxReleasedClaims: 3, maxReleasedClaimsPerAddress: 2 };
  const mine = hashPeerToken('mine'.repeat(6));
  const theirs = hashPeerToken('theirs'.repeat(4));

  it('gives a bound id to its token only, while held and for the retention after release, then to anyone', () => {
    const claims = new PeerIdClaims<string>(limits);
    expect(claims.verdict('r', 'p', undefined, 0)).toBe('unbound');
    claims.bind('r', 'p', mine, '10.0.0.1', 'first socket');
    for (const token of [undefined, theirs]) expect(claims.verdict('r', 'p', token, 0)).toBe('taken');
    expect(claims.verdict('r', 'p', mine, 0)).toBe('owner');
    expect(claims.verdict('other-room', 'p', theirs, 0)).toBe('unbound');
    claims.release('r', 'p', 'a stale socket', 10); // not the holder: changes nothing
    expect(claims.holder('r', 'p')).toBe('first socket');
    claims.release('r', 'p', 'first socket', 10);
    expect(claims.holder('r', 'p')).toBeUndefined();
    expect(claims.verdict('r', 'p', theirs, 1_009)).toBe('taken');
    expect(claims.verdict('r', 'p', mine, 1_009)).toBe('owner');
    expect(claims.verdict('r', 'p', theirs, 1_010)).toBe('unbound');
    expect(claims.size).toBe(0);
  });

  it('keeps a re-taken binding past the retention of its earlier release', () => {
    const claims = new PeerIdClaims<string>(limits);
    claims.bind('r', 'p', mine, 'a', 's1');
    claims.release('r', 'p', 's1', 0);
    claims.bind('r', 'p', mine, 'a', 's2');
    claims.sweep(5_000);
    expect(claims.verdict('r', 'p', theirs, 5_000)).toBe('taken');
    expect(claims.releasedCount).toBe(0);
  });

  it('forgets the oldest released binding of an address past its share, and the oldest overall past the total', () => {
    const claims = new PeerIdClaims<string>(limits);
    const bindAndRelease = (peerId: string, address: string, atMs: number): void => {
      claims.bind('r', peerId, mine, address, peerId);
      claims.release('r', peerId, peerId, atMs);
    };
    claims.bind('r', 'held', mine, 'a', 'held'); // held bindings are never evicted
    bindAndRelease('a1', 'a', 1);
    bindAndRelease('a2', 'a', 2);
    bindAndRelease('a3', 'a', 3); // a's third: a1 goes
    expect(['a1', 'a2', 'a3'].map((peerId) => claims.verdict('r', peerId, theirs, 3))).toEqual(['unbound', 'taken', 'taken']);
    bindAndRelease('b1', 'b', 4);
    bindAndRelease('c1', 'c', 5); // fourth released in all: the oldest, a2, goes
    expect(['a2', 'a3', 'b1', 'c1', 'held'].map((peerId) => claims.verdict('r', peerId, theirs, 5))).toEqual(['unbound', 'taken', 'taken', 'taken', 'taken']);
    expect(claims.releasedCount).toBe(3);
    claims.sweep(1_004); // a3 (3) and b1 (4) are 1 s old
    expect(claims.releasedCount).toBe(1);
    expect(claims.size).toBe(2);
  });

  it('hashes tokens with SHA-256', () => {
    expect(hashPeerToken('abc').toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('client addresses and their shares', () => {
  it('ignores X-Forwarded-For unless proxies are trusted, then takes the entry the outermost trusted proxy wrote', () => {
    expect(clientAddress('10.0.0.9', '1.2.3.4', 0)).toBe('10.0.0.9');
    expect(clientAddress('10.0.0.9', 'spoofed, 1.2.3.4', 1)).toBe('1.2.3.4');
    expect(clientAddress('10.0.0.9', '6.6.6.6, 1.2.3.4, 10.0.0.8', 2)).toBe('1.2.3.4');
    expect(clientAddress('10.0.0.9', ['6.6.6.6', '1.2.3.4'], 1)).toBe('1.2.3.4');
    expect(clientAddress('10.0.0.9', '1.2.3.4', 3)).toBe('1.2.3.4');
    expect(clientAddress('10.0.0.9', 'not-an-address', 1)).toBe('10.0.0.9');
    expect(clientAddress('10.0.0.9', undefined, 1)).toBe('10.0.0.9');
    expect(clientAddress(undefined, undefined, 0)).toBe('?');
  });

  it('counts IPv4 addresses one by one and IPv6 addresses by /64', () => {
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('2001:db8:1:3::1')).not.toBe(addressKey('2001:db8:1:2::1'));
  });

  it('bounds each address to its connections and rooms, a room it is already in being always open to it', () => {
    const quota = new AddressQuota({ maxConnectionsPerAddress: 2, maxRoomsPerAddress: 1 });
    expect([quota.tryOpen('a'), quota.tryOpen('a'), quota.tryOpen('a'), quota.tryOpen('b')]).toEqual([true, true, false, true]);
    expect(quota.mayEnter('a', 'r1')).toBe(true);
    quota.enter('a', 'r1');
    expect([quota.mayEnter('a', 'r1'), quota.mayEnter('a', 'r2'), quota.mayEnter('b', 'r2')]).toEqual([true, false, true]);
    quota.enter('a', 'r1');
    quota.leave('a', 'r1');
    expect(quota.mayEnter('a', 'r2')).toBe(false); // one connection of a is still in r1
    quota.leave('a', 'r1');
    expect(quota.mayEnter('a', 'r2')).toBe(true);
    quota.close('a');
    quota.close('a');
    quota.close('b');
    expect(quota.addressCount).toBe(0);
  });
});

describe('static file resolution', () => {
  it('keeps every path, decoded or not, inside the root', () => {
    const root = '/srv/ui';
    for (const target of ['/../etc/passwd', '/%2e%2e/etc/passwd', '/..%2fetc/passwd', '/a/../../etc', '/%2E%2E%2F%2E%2E%2Fetc', '/..\\etc', '/%00', '/%zz']) {
      expect(resolveStaticPath(root, target), target).toBeUndefined();
    }
    expect(resolveStaticPath(root, '/')).toBe('/srv/ui');
    expect(resolveStaticPath(root, '/a/../app.js')).toBe('/srv/ui/app.js');
    expect(resolveStaticPath(root, '/assets/x%20y.js')).toBe('/srv/ui/assets/x y.js');
  });
});

// ---------------------------------------------------------------------------------------------
// The real server
// ---------------------------------------------------------------------------------------------

describe('signaling server', () => {
  let server: RunningServer;
  let log: ReturnType<typeof recordingLogger>;
  let workDir: string;
  let staticDir: string;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'engram-signaling-'));
    staticDir = join(workDir, 'dist');
    mkdirSync(join(staticDir, 'assets'), { recursive: true });
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Engram Mesh</title>');
    writeFileSync(join(staticDir, 'assets', 'app.js'), 'export const answer = 42;');
    writeFileSync(join(staticDir, 'assets', 'style.css'), 'body{}');
    writeFileSync(join(workDir, 'secret.txt'), 'TOP-SECRET');
    symlinkSync(join(workDir, 'secret.txt'), join(staticDir, 'escape.txt'));
    log = recordingLogger();
    server = await startServer({ port: 0, host: '127.0.0.1', staticDir, log });
  });

  afterAll(async () => {
    await server.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('introduces two peers of one room to each other', async () => {
    const a = await Probe.open(signalUrl(server));
    a.send({ type: 'join', room: 'intro', peerId: 'a' });
    expect(await a.waitFor('joined')).toEqual({ type: 'joined', room: 'intro', peerId: 'a', peers: [] });
    const b = await Probe.open(signalUrl(server));
    b.send({ type: 'join', room: 'intro', peerId: 'b' });
    expect(await b.waitFor('joined')).toEqual({ type: 'joined', room: 'intro', peerId: 'b', peers: ['a'] });
    expect(await a.waitFor('peer-joined')).toEqual({ type: 'peer-joined', peerId: 'b' });
    await Promise.all([a.close(), b.close()]);
  });

  it('relays a signal to its addressee in the same room only, stamped with the sender and nothing else', async () => {
    const [a, b] = await joinedPair(server, 'relay');
    const c = await Probe.open(signalUrl(server));
    c.send({ type: 'join', room: 'elsewhere', peerId: 'b' }); // same id, other room: a different peer
    await c.waitFor('joined');
    const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' };
    a.send({ type: 'signal', to: 'b', data: offer, from: 'mallory' });
    expect(await b.waitFor('signal')).toEqual({ type: 'signal', from: 'a', data: offer });
    b.send({ type: 'signal', to: 'a', data: { type: 'answer' } });
    expect(await a.waitFor('signal')).toEqual({ type: 'signal', from: 'b', data: { type: 'answer' } });
    // The server answers in order: had it sent c anything for those relays, it would precede this pong.
    c.send({ type: 'ping' });
    await c.waitFor('pong');
    expect(c.received.map((m) => m.type)).toEqual(['joined', 'pong']);
    expect(a.of('signal')).toHaveLength(1);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('tells the others when a peer leaves or its socket closes, and deletes the emptied room', async () => {
    const [a, b] = await joinedPair(server, 'leaving');
    const c = await Probe.open(signalUrl(server));
    c.send({ type: 'join', room: 'leaving', peerId: 'c' });
    await c.waitFor('joined');
    a.send({ type: 'leave' });
    expect(await b.waitFor('peer-left')).toEqual({ type: 'peer-left', peerId: 'a' });
    await c.waitFor('peer-left', (m) => m.peerId === 'a');
    b.socket.terminate(); // no close handshake: the server must notice the TCP close by itself
    await c.waitFor('peer-left', (m) => m.peerId === 'b');
    // After leaving, a is not in the room any more: signals from it are refused.
    a.send({ type: 'signal', to: 'c', data: 1 });
    expect((await a.waitFor('error')).code).toBe('not-joined');
    await c.close();
    await eventually(() => server.stats().rooms === 0 && server.stats().peers === 0, 'the room to be deleted');
    await a.close();
  });

  it('refuses a second join with a peer id already in the room, and lets the id be reused once freed', async () => {
    const [a, b] = await joinedPair(server, 'dup');
    const impostor = await Probe.open(signalUrl(server));
    impostor.send({ type: 'join', room: 'dup', peerId: 'a' });
    expect((await impostor.waitFor('error')).code).toBe('duplicate-peer');
    expect(impostor.of('joined')).toEqual([]);
    await a.close();
    await b.waitFor('peer-left');
    impostor.send({ type: 'join', room: 'dup', peerId: 'a' });
    expect(await impostor.waitFor('joined')).toMatchObject({ peers: ['b'] });
    await Promise.all([b.close(), impostor.close()]);
  });

  it('answers a signal to an absent peer with unknown-peer, a signal before joining with not-joined, and ping with pong', async () => {
    const lonely = await Probe.open(signalUrl(server));
    lonely.send({ type: 'signal', to: 'x', data: {} });
    expect((await lonely.waitFor('error')).code).toBe('not-joined');
    lonely.send({ type: 'join', room: 'lonely', peerId: 'me' });
    await lonely.waitFor('joined');
    lonely.send({ type: 'signal', to: 'nobody', data: {} });
    await lonely.waitFor('error', (m) => m.code === 'unknown-peer');
    lonely.send({ type: 'ping' });
    await lonely.waitFor('pong');
    await lonely.close();
  });

  it('moves a peer that joins another room out of its first one', async () => {
    const [a, b] = await joinedPair(server, 'first');
    a.send({ type: 'join', room: 'second', peerId: 'a' });
    await a.waitFor('joined', (m) => m.room === 'second');
    expect(await b.waitFor('peer-left')).toEqual({ type: 'peer-left', peerId: 'a' });
    await Promise.all([a.close(), b.close()]);
  });

  it('answers /healthz with 200 ok', async () => {
    const answer = await rawGet(server.port, '/healthz');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('ok');
  });

  it('serves the built UI with content types, and index.html for /', async () => {
    const index = await rawGet(server.port, '/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.body).toContain('Engram Mesh');
    const script = await rawGet(server.port, '/assets/app.js?v=1');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.body).toBe('export const answer = 42;');
    expect((await rawGet(server.port, '/assets/style.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    const head = await rawGet(server.port, '/assets/app.js', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect((await rawGet(server.port, '/missing.js')).status).toBe(404);
    expect((await rawGet(server.port, '/assets/app.js', 'POST')).status).toBe(405);
  });

  it('refuses every way of climbing out of the static directory', async () => {
    const attempts = [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E%2Fsecret.txt',
      '/..%2fsecret.txt',
      '/assets%2f..%2f..%2fsecret.txt',
      '/..\\secret.txt',
      '/%2e%2e%5csecret.txt',
      '/escape.txt', // a symlink inside the directory pointing out of it
      '/index.html%00.js',
      '//../secret.txt',
      'http://evil/../secret.txt',
    ];
    for (const target of attempts) {
      const answer = await rawGet(server.port, target);
      expect([400, 404], target).toContain(answer.status);
      expect(answer.body, target).not.toContain('TOP-SECRET');
    }
  });

  it('accepts WebSocket upgrades on /signal only', async () => {
    const refused = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}elsewhere`);
      socket.on('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        socket.terminate();
      });
      socket.on('error', () => undefined);
      socket.on('open', () => reject(new Error('upgrade on /elsewhere was accepted')));
    });
    expect(refused).toBe(404);
    expect((await rawGet(server.port, '/signal')).status).toBe(426);
  });

  it('lets a page of its own origin, a client without Origin and a listed origin signal, and tells a foreign page origin-not-allowed before closing (1008)', async () => {
    const listed = await startServer({ port: 0, host: '127.0.0.1', staticDir, log: recordingLogger(), allowedOrigins: ['https://app.example'] });
    const upgrade = (target: RunningServer, headers: Record<string, string>) => admission(signalUrl(target), { headers });
    try {
      const own = `http://127.0.0.1:${server.port}`;
      expect(await upgrade(server, { Origin: own })).toBe('admitted');
      expect(await upgrade(server, {})).toBe('admitted'); // ws sends no Origin unless told to
      expect(await upgrade(server, { Origin: 'https://evil.example' })).toBe('origin-not-allowed 1008');
      expect(await upgrade(server, { Origin: 'null' })).toBe('origin-not-allowed 1008');
      // Same host name, other port: another origin.
      expect(await upgrade(server, { Origin: `http://127.0.0.1:${server.port + 1}` })).toBe('origin-not-allowed 1008');
      expect(log.lines.some((line) => line.includes('origin "https://evil.example" is not allowed'))).toBe(true);
      expect(await upgrade(listed, { Origin: 'https://app.example' })).toBe('admitted');
      expect(await upgrade(listed, { Origin: 'https://other.example' })).toBe('origin-not-allowed 1008');
      // A refused socket is not counted as a connection.
      await eventually(() => server.stats().connections === 0, 'the probes to be released');
    } finally {
      await listed.close();
    }
  });

  it('refuses binary frames with an error frame and logs one line for each bad frame', async () => {
    const before = log.lines.length;
    const probe = await Probe.open(signalUrl(server));
    probe.sendFrame(Buffer.from([1, 2, 3]), true);
    probe.sendFrame('{nope', false);
    await probe.waitFor('error', (m) => m.code === 'bad-json');
    expect(probe.of('error').map((m) => m.code)).toEqual(['binary-frame', 'bad-json']);
    expect(log.lines.length - before).toBe(2);
    await probe.close();
  });
});

describe('signaling server: peer identity', () => {
  const TOKEN = 'owner-token-0123456789abcdef';
  const OTHER = 'impostor-token-0123456789ab';

  it('keeps a peer id for the client that joined with its token: a stranger is refused while it holds it, in the gap of a reload and after it, and offers reach only the owner', async () => {
    const server = await startServer({ port: 0, host: '127.0.0.1', log: recordingLogger() });
    try {
      const owner = await Probe.open(signalUrl(server));
      owner.send({ type: 'join', room: 'mine', peerId: 'victim', token: TOKEN });
      await owner.waitFor('joined');
      const peer = await Probe.open(signalUrl(server));
      peer.send({ type: 'join', room: 'mine', peerId: 'b' });
      await peer.waitFor('joined');
      const stranger = await Probe.open(signalUrl(server));
      let refusals = 0;
      /** Each attempt is proven refused by its own refusal message, never by a silence. */
      const attempt = async (token: string | undefined): Promise<void> => {
        stranger.send({ type: 'join', room: 'mine', peerId: 'victim', ...(token === undefined ? {} : { token }) });
        refusals++;
        await stranger.until(() => (stranger.of('error').length === refusals ? true : undefined), `refusal ${refusals}`, 3_000);
      };
      await attempt(undefined);
      await attempt(OTHER);

      // The reload: the owner's socket goes (after an explicit leave, as on pagehide), and the id is still its own.
      owner.send({ type: 'leave' });
      await owner.close();
      await peer.waitFor('peer-left', (m) => m.peerId === 'victim');
      await attempt(undefined);
      await attempt(OTHER);
      expect(server.stats()).toMatchObject({ peers: 1, claims: 1 });

      const reloaded = await Probe.open(signalUrl(server));
      reloaded.send({ type: 'join', room: 'mine', peerId: 'victim', token: TOKEN });
      expect(await reloaded.waitFor('joined')).toEqual({ type: 'joined', room: 'mine', peerId: 'victim', peers: ['b'] });
      await peer.waitFor('peer-joined', (m) => m.peerId === 'victim');
      await attempt(undefined);
      await attempt(OTHER);
      expect(stranger.of('error').map((m) => m.code)).toEqual(Array(6).fill('peer-id-taken'));
      expect(stranger.of('joined')).toEqual([]);

      peer.send({ type: 'signal', to: 'victim', data: { type: 'offer', sdp: 'for the owner' } });
      expect(await reloaded.waitFor('signal')).toEqual({ type: 'signal', from: 'b', data: { type: 'offer', sdp: 'for the owner' } });
      // Frames are answered in order: a relay to the stranger would precede this pong.
      stranger.send({ type: 'ping' });
      await stranger.waitFor('pong');
      expect(stranger.received.map((m) => m.type)).toEqual([...Array(6).fill('error'), 'pong']);
      await Promise.all([reloaded.close(), peer.close(), stranger.close()]);
    } finally {
      await server.close();
    }
  });

  it("replaces the owner's old connection that the server still holds with its new one, and tells the old one peer-id-replaced", async () => {
    const server = await startServer({ port: 0, host: '127.0.0.1', log: recordingLogger() });
    try {
      const old = await Probe.open(signalUrl(server));
      old.send({ type: 'join', room: 'moving', peerId: 'me', token: TOKEN });
      await old.waitFor('joined');
      const peer = await Probe.open(signalUrl(server));
      peer.send({ type: 'join', room: 'moving', peerId: 'b' });
      await peer.waitFor('joined');
      const fresh = await Probe.open(signalUrl(server));
      fresh.send({ type: 'join', room: 'moving', peerId: 'me', token: TOKEN });
      expect(await fresh.waitFor('joined')).toMatchObject({ peers: ['b'] });
      expect((await old.waitFor('error')).code).toBe('peer-id-replaced');
      expect(await old.waitForClose()).toBe(1008);
      await peer.waitFor('peer-joined', (m) => m.peerId === 'me');
      expect(peer.received.map((m) => (m.type === 'peer-left' || m.type === 'peer-joined' ? `${m.type}:${m.peerId}` : m.type))).toEqual(['joined', 'peer-left:me', 'peer-joined:me']);
      peer.send({ type: 'signal', to: 'me', data: 'to the new one' });
      expect((await fresh.waitFor('signal')).data).toBe('to the new one');
      expect(server.stats()).toMatchObject({ connections: 2, peers: 2, claims: 1 });
      await Promise.all([fresh.close(), peer.close()]);
    } finally {
      await server.close();
    }
  });

  it('does not let a tokened join displace a tokenless holder, nor a tokenless join a tokened one', async () => {
    const server = await startServer({ port: 0, host: '127.0.0.1', log: recordingLogger() });
    try {
      const plain = await Probe.open(signalUrl(server));
      plain.send({ type: 'join', room: 'mixed', peerId: 'plain' });
      await plain.waitFor('joined');
      const bound = await Probe.open(signalUrl(server));
      bound.send({ type: 'join', room: 'mixed', peerId: 'bound', token: TOKEN });
      await bound.waitFor('joined');
      const other = await Probe.open(signalUrl(server));
      other.send({ type: 'join', room: 'mixed', peerId: 'plain', token: OTHER });
      expect((await other.waitFor('error')).code).toBe('duplicate-peer');
      other.send({ type: 'join', room: 'mixed', peerId: 'bound' });
      expect((await other.waitFor('error', (m) => m.code !== 'duplicate-peer')).code).toBe('peer-id-taken');
      other.send({ type: 'join', room: 'mixed', peerId: 'bound', token: 'short' });
      expect((await other.waitFor('error', (m) => m.code === 'bad-message')).message).toContain('join.token');
      await Promise.all([plain.close(), bound.close(), other.close()]);
    } finally {
      await server.close();
    }
  });

  it('forgets a binding claimRetentionMs after its holder left, and not before', async () => {
    const server = await startServer({ port: 0, host: '127.0.0.1', log: recordingLogger(), limits: { claimRetentionMs: 200 } });
    try {
      const owner = await Probe.open(signalUrl(server));
      owner.send({ type: 'join', room: 'brief', peerId: 'p', token: TOKEN });
      await owner.waitFor('joined');
      const leftAtMs = performance.now();
      await owner.close();
      const later = await Probe.open(signalUrl(server));
      // Retried every 20 ms (within the rate limit) until it succeeds; each refusal before is peer-id-taken.
      let attempts = 0;
      const retry = (): void => {
        attempts++;
        later.send({ type: 'join', room: 'brief', peerId: 'p', token: OTHER });
      };
      retry();
      await later.until(() => {
        if (later.of('joined').length > 0) return true;
        if (later.received.length === attempts) setTimeout(retry, 20);
        return undefined;
      }, 'the id to be free', 3_000);
      expect(performance.now() - leftAtMs).toBeGreaterThanOrEqual(200);
      expect(later.of('error').every((m) => m.code === 'peer-id-taken')).toBe(true);
      expect(later.of('error').length).toBeGreaterThanOrEqual(1);
      await later.close();
    } finally {
      await server.close();
    }
  });
});

describe('signaling server: per-address shares', () => {
  /** A probe connecting from another loopback address (Linux routes all of 127/8 to lo). */
  const from = (localAddress: string) => ({ localAddress });

  it('refuses a connection past its address share with too-many-connections (1013) while another address still gets in', async () => {
    const server = await startServer({ port: 0, host: '127.0.0.1', log: recordingLogger(), limits: { maxConnectionsPerAddress: 2 } });
    try {
      const first = await Probe.open(signalUrl(server), from('127.0.0.2'));
      const second = await Probe.open(signalUrl(server), from('127.0.0.2'));
      expect(await admission(signalUrl(server), from('127.0.0.2'))).toBe('too-many-connections 1013');
      expect(await admission(signalUrl(server), from('127.0.0.3'))).toBe('admitted');
      await first.close();
      await eventually(() => server.stats().connections === 1, 'the first connection to be released');
      expect(await admission(signalUrl(server), from('127.0.0.2'))).toBe('admitted');
      await second.close();
    } finally {
      await server.close();
    }
  });

  it('refuses a room past its address share with too-many-rooms, lets it into a room it is in, and lets another address create rooms', async () => {
    const server = await startServer({ port: 0, host: '127.0.0.1', log: recordingLogger(), limits: { maxRoomsPerAddress: 2 } });
    try {
      const probes = await Promise.all([1, 2, 3].map(() => Probe.open(signalUrl(server), from('127.0.0.4'))));
      const [p1, p2, p3] = probes as [Probe, Probe, Probe];
      p1.send({ type: 'join', room: 'r1', peerId: 'p1' });
      p2.send({ type: 'join', room: 'r2', peerId: 'p2' });
      await Promise.all([p1.waitFor('joined'), p2.waitFor('joined')]);
      p3.send({ type: 'join', room: 'r3', peerId: 'p3' });
      const refusal = await p3.waitFor('error');
      expect(refusal.code).toBe('too-many-rooms');
      expect(refusal.message).toContain('2 rooms');
      p3.send({ type: 'join', room: 'r1', peerId: 'p3' });
      await p3.waitFor('joined');
      expect(await admission(signalUrl(server), from('127.0.0.5'))).toBe('admitted');
      const elsewhere = await Probe.open(signalUrl(server), from('127.0.0.5'));
      elsewhere.send({ type: 'join', room: 'r3', peerId: 'e' });
      await elsewhere.waitFor('joined');
      expect(server.stats()).toMatchObject({ rooms: 3, peers: 4, addresses: 2 });
      await Promise.all([...probes, elsewhere].map((probe) => probe.close()));
    } finally {
      await server.close();
    }
  });

  it('counts X-Forwarded-For addresses only behind trusted proxies', async () => {
    const headers = (address: string) => ({ headers: { 'X-Forwarded-For': `203.0.113.66, ${address}` } });
    const untrusting = await startServer({ port: 0, host: '127.0.0.1', log: recordingLogger(), limits: { maxConnectionsPerAddress: 1 } });
    const proxied = await startServer({ port: 0, host: '127.0.0.1', log: recordingLogger(), limits: { maxConnectionsPerAddress: 1 }, trustedProxies: 1 });
    try {
      const held = await Probe.open(signalUrl(untrusting), headers('198.51.100.1'));
      expect(await admission(signalUrl(untrusting), headers('198.51.100.2'))).toBe('too-many-connections 1013');
      const viaProxy = await Probe.open(signalUrl(proxied), headers('198.51.100.1'));
      expect(await admission(signalUrl(proxied), headers('198.51.100.2'))).toBe('admitted');
      // The client-written entry on the left is not what is counted.
      expect(await admission(signalUrl(proxied), { headers: { 'X-Forwarded-For': '198.51.100.9, 198.51.100.1' } })).toBe('too-many-connections 1013');
      await Promise.all([held.close(), viaProxy.close()]);
    } finally {
      await Promise.all([untrusting.close(), proxied.close()]);
    }
  });

  it('tells a connection past the global cap server-full (1013)', async () => {
    const server = await startServer({ port: 0, host: '127.0.0.1', log: recordingLogger(), limits: { maxConnections: 1 } });
    try {
      const only = await Probe.open(signalUrl(server), from('127.0.0.6'));
      expect(await admission(signalUrl(server), from('127.0.0.7'))).toBe('server-full 1013');
      await only.close();
    } finally {
      await server.close();
    }
  });
});

describe('signaling server limits', () => {
  it('drops a client that stops answering WebSocket pings, and keeps one that answers', async () => {
    const log = recordingLogger();
    const server = await startServer({ port: 0, host: '127.0.0.1', log, limits: { heartbeatIntervalMs: 40, heartbeatTimeoutMs: 150 } });
    try {
      const alive = await Probe.open(signalUrl(server));
      const silent = await Probe.open(signalUrl(server), { autoPong: false });
      alive.send({ type: 'join', room: 'heartbeat', peerId: 'alive' });
      await alive.waitFor('joined');
      // The server last hears from the silent client after this instant: it may not drop it sooner than 150 ms later.
      const lastSentMs = performance.now();
      silent.send({ type: 'join', room: 'heartbeat', peerId: 'silent' });
      await silent.waitFor('joined');
      await alive.waitFor('peer-left', (m) => m.peerId === 'silent', 2_000);
      expect(performance.now() - lastSentMs).toBeGreaterThanOrEqual(150);
      expect(silent.closeCode).toBe(1006); // terminated: no closing handshake with a dead peer
      expect(alive.closeCode).toBeUndefined();
      await alive.close();
    } finally {
      await server.close();
    }
  });

  it('bounds peers per room and rooms per server', async () => {
    const server = await startServer({ port: 0, host: '127.0.0.1', log: recordingLogger(), limits: { maxPeersPerRoom: 2, maxRooms: 2 } });
    try {
      const probes = await Promise.all([0, 1, 2, 3].map(() => Probe.open(signalUrl(server))));
      const [p0, p1, p2, p3] = probes as [Probe, Probe, Probe, Probe];
      p0.send({ type: 'join', room: 'r1', peerId: 'p0' });
      await p0.waitFor('joined');
      p1.send({ type: 'join', room: 'r1', peerId: 'p1' });
      await p1.waitFor('joined');
      p2.send({ type: 'join', room: 'r1', peerId: 'p2' });
      expect((await p2.waitFor('error')).code).toBe('room-full');
      p2.send({ type: 'join', room: 'r2', peerId: 'p2' });
      await p2.waitFor('joined');
      p3.send({ type: 'join', room: 'r3', peerId: 'p3' });
      expect((await p3.waitFor('error')).code).toBe('server-full');
      expect(server.stats()).toEqual({ connections: 4, rooms: 2, peers: 3, claims: 0, addresses: 1 });
      await Promise.all(probes.map((probe) => probe.close()));
    } finally {
      await server.close();
    }
  });

  it('closes clients with 1001 on shutdown and stops listening', async () => {
    const server = await startServer({ port: 0, host: '127.0.0.1', log: recordingLogger() });
    const probe = await Probe.open(signalUrl(server));
    await server.close();
    expect(await probe.waitForClose()).toBe(1001);
    await expect(rawGet(server.port, '/healthz')).rejects.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzz: garbage of every kind, judged frame by frame against a model of the server's answers.
// ---------------------------------------------------------------------------------------------

type Expectation = 'pong' | 'error' | 'counted-error' | 'close-1007' | 'close-1009';
interface FuzzFrame {
  readonly kind: string;
  readonly data: string | Buffer;
  readonly binary: boolean;
  readonly expect: Expectation;
}

/**
 * One frame of garbage (or a ping). Without `fatal`, no frame makes ws close the connection at
 * once (invalid UTF-8, over maxPayload), so that long runs reach the server's own error limit.
 */
function fuzzFrame(random: SeededRandom, fatal: boolean): FuzzFrame {
  const limits = DEFAULT_SIGNALING_LIMITS;
  const bytes = (length: number) => Buffer.from(Array.from({ length }, () => random.int(256)));
  const printable = (length: number) => Array.from({ length }, () => String.fromCharCode(32 + random.int(95))).join('');
  const pick = <T>(items: readonly T[]): T => items[random.int(items.length)] as T;
  const kind = fatal ? random.int(10) : pick([0, 1, 2, 4, 5, 6, 7, 8, 9]);
  switch (kind) {
    case 0: {
      // Without `fatal`, the bytes are made valid UTF-8 (invalid sequences become U+FFFD).
      const data = fatal ? bytes(random.int(300)) : Buffer.from(bytes(random.int(300)).toString('utf8'));
      // ws refuses text that is not UTF-8 outright (1007); otherwise it is bad JSON or a bad message.
      let utf8 = true;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(data);
      } catch {
        utf8 = false;
      }
      return { kind: 'random text bytes', data, binary: false, expect: utf8 ? 'counted-error' : 'close-1007' };
    }
    case 1:
      return { kind: 'binary frame', data: bytes(random.int(300)), binary: true, expect: 'counted-error' };
    case 2:
      return {
        kind: 'frame over the protocol cap',
        data: JSON.stringify({ type: 'signal', to: 'x', data: 'y'.repeat(limits.maxFrameBytes + random.int(limits.maxPayloadBytes - limits.maxFrameBytes - 100)) }),
        binary: false,
        expect: 'counted-error',
      };
    case 3:
      return { kind: 'frame over ws maxPayload', data: Buffer.alloc(limits.maxPayloadBytes + 1 + random.int(100_000), 0x20), binary: random.int(2) === 0, expect: 'close-1009' };
    case 4: {
      const valid = JSON.stringify({ type: 'join', room: 'r', peerId: 'p' });
      const data = random.int(2) === 0 ? valid.slice(0, random.int(valid.length)) : `{${printable(random.int(80))}`;
      return { kind: 'bad JSON', data, binary: false, expect: 'counted-error' };
    }
    case 5:
      return {
        kind: 'not a message',
        data: pick(['null', '[]', '42', '"ping"', 'true', '{}', '{"type":"pingg"}', '{"type":null}', '{"type":["join"]}', `{"type":"${printable(8).replace(/["\\]/g, '')}x"}`]),
        binary: false,
        expect: 'counted-error',
      };
    case 6:
      return {
        kind: 'wrong field types',
        data: JSON.stringify(
          pick([
            { type: 'join', room: 7, peerId: 'p' },
            { type: 'join', room: 'r' },
            { type: 'join', room: 'has space', peerId: 'p' },
            { type: 'join', room: 'x'.repeat(65), peerId: 'p' },
            { type: 'join', room: 'r', peerId: { id: 'p' } },
            { type: 'join', room: 'r', peerId: 'p'.repeat(129) },
            { type: 'signal', to: 5, data: {} },
            { type: 'signal', to: 'b' },
            { type: 'signal', data: {} },
            { type: 'signal', to: 'b', data: 'z'.repeat(MAX_SIGNAL_DATA_BYTES + 1) },
          ]),
        ),
        binary: false,
        expect: 'counted-error',
      };
    case 7:
      return { kind: 'deep nesting', data: `{"type":"signal","to":"b","data":${'['.repeat(30_000)}${']'.repeat(30_000)}}`, binary: false, expect: 'counted-error' };
    case 8:
      // Well-formed but out of order: the client is not in a room. An honest mistake, not counted.
      return { kind: 'signal before join', data: JSON.stringify(pick([{ type: 'signal', to: 'b', data: {} }, { type: 'leave' }])), binary: false, expect: 'error' };
    default:
      return { kind: 'ping', data: '{"type":"ping"}', binary: false, expect: 'pong' };
  }
}

/** What the server must answer to `frames`, in order: the model the fuzzer judges against. */
function predictAnswers(frames: readonly FuzzFrame[], maxProtocolErrors: number): { errors: number; pongs: number; closeCode: number | undefined } {
  let errors = 0;
  let pongs = 0;
  let counted = 0;
  for (const frame of frames) {
    if (frame.expect === 'close-1007') return { errors, pongs, closeCode: 1007 };
    if (frame.expect === 'close-1009') return { errors, pongs, closeCode: 1009 };
    if (frame.expect === 'pong') pongs++;
    else errors++;
    if (frame.expect === 'counted-error' && ++counted >= maxProtocolErrors) return { errors, pongs, closeCode: 1008 };
  }
  return { errors, pongs, closeCode: undefined };
}

describe('signaling server under fuzz', () => {
  it('answers every kind of garbage with error frames or a close, stays up, rate-limits floods, and still serves a well-formed pair', async () => {
    const seed = Number(process.env.SIGNALING_FUZZ_SEED ?? 0x5eed);
    const replay = `seed ${seed} (replay: SIGNALING_FUZZ_SEED=${seed} npx vitest run test/signaling.test.ts)`;
    const random = new SeededRandom(seed);
    const log = recordingLogger();
    const server = await startServer({ port: 0, host: '127.0.0.1', log });
    try {
      const seenKinds = new Set<string>();
      const closeCodes = new Set<number | undefined>();
      for (let connectionIndex = 0; connectionIndex < 60; connectionIndex++) {
        // Every other connection sends long runs of non-fatal garbage, to reach the error limit.
        const fatal = connectionIndex % 2 === 0;
        const frames = Array.from({ length: 1 + random.int(fatal ? 24 : 40) }, () => fuzzFrame(random, fatal));
        const probe = await Probe.open(signalUrl(server));
        for (const frame of frames) {
          seenKinds.add(frame.kind);
          probe.sendFrame(frame.data, frame.binary);
        }
        // A valid join after the garbage: its 'joined' proves every earlier frame was answered.
        probe.send({ type: 'join', room: `fuzz-${connectionIndex}`, peerId: 'fuzzer' });
        await probe.until(() => (probe.of('joined').length > 0 || probe.closeCode !== undefined ? true : undefined), 'joined or close', 5_000);
        if (probe.closeCode !== undefined) await probe.waitForClose();
        const predicted = predictAnswers(frames, DEFAULT_SIGNALING_LIMITS.maxProtocolErrors);
        const context = `${replay}, connection ${connectionIndex}: ${frames.map((f) => f.kind).join(', ')}`;
        expect(probe.unreadable, context).toEqual([]);
        expect(probe.closeCode, context).toBe(predicted.closeCode);
        expect(probe.of('error').length, context).toBe(predicted.errors);
        expect(probe.of('pong').length, context).toBe(predicted.pongs);
        if (predicted.closeCode === undefined) expect(probe.of('joined'), context).toHaveLength(1);
        closeCodes.add(probe.closeCode);
        await probe.close();
      }
      expect(seenKinds.size, replay).toBe(10);
      expect(closeCodes, replay).toEqual(new Set([undefined, 1007, 1008, 1009]));

      // A flood of pings: the first burst is answered, then the bucket's rate, the rest dropped.
      const flooder = await Probe.open(signalUrl(server));
      const floodStarted = performance.now();
      for (let i = 0; i < 3_000; i++) flooder.send({ type: 'ping' });
      await flooder.waitFor('error', (m) => m.code === 'rate-limited');
      await new Promise((resolve) => setTimeout(resolve, 300)); // the bucket refills ~15 tokens
      flooder.send({ type: 'join', room: 'flood', peerId: 'flooder' });
      await flooder.waitFor('joined');
      const floodSeconds = (performance.now() - floodStarted) / 1000;
      const pongs = flooder.of('pong').length;
      const { burstMessages, messagesPerSecond } = DEFAULT_SIGNALING_LIMITS;
      expect(pongs, replay).toBeGreaterThanOrEqual(burstMessages);
      expect(pongs, replay).toBeLessThanOrEqual(burstMessages + messagesPerSecond * floodSeconds + 1);
      expect(flooder.closeCode, 'rate limiting drops frames, not the connection').toBeUndefined();
      await flooder.close();

      await eventually(() => server.stats().connections === 0 && server.stats().rooms === 0, 'fuzz connections to be released');
      // Log lines are bounded: garbage is never echoed into the log.
      expect(log.lines.length).toBeGreaterThan(0);
      expect(Math.max(...log.lines.map((line) => line.length))).toBeLessThan(300);

      // The server is still fully useful.
      const [a, b] = await joinedPair(server, 'after-fuzz');
      a.send({ type: 'signal', to: 'b', data: { candidate: 'c' } });
      expect(await b.waitFor('signal')).toEqual({ type: 'signal', from: 'a', data: { candidate: 'c' } });
      expect((await rawGet(server.port, '/healthz')).status).toBe(200);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await server.close();
    }
    // Bounded by construction (60 connections of at most 40 frames, one flood); ~2 s when idle.
  }, 15_000);
});

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

describe('signaling/main.ts', () => {
  it('prints the URL to open, serves it, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'signaling/main.ts', '--port', '0', '--host', '127.0.0.1'], {
      cwd: join(import.meta.dirname, '..'),
      env: { ...process.env, PORT: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await eventually(() => /Engram Mesh running at http:\/\/127\.0\.0\.1:\d+\//.test(output), `the URL line; got ${output}`, 8_000);
      const port = Number(/:(\d+)\//.exec(output)?.[1]);
      expect(port).toBeGreaterThan(1); // --port wins over PORT
      const health = await rawGet(port, '/healthz');
      expect(health.body).toBe('ok');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses a port that is not a number with exit code 2 and the usage', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'signaling/main.ts'], {
      cwd: join(import.meta.dirname, '..'),
      env: { ...process.env, PORT: 'eighty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
    expect(code).toBe(2);
    expect(stderr).toContain('port must be an integer');
    expect(stderr).toContain('usage:');
  });

  it('refuses a limit that is not a positive integer with exit code 2, and documents every limit flag with its default', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'signaling/main.ts', '--port', '0', '--max-rooms-per-address', '0'], {
      cwd: join(import.meta.dirname, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
    expect(code).toBe(2);
    expect(stderr).toContain('--max-rooms-per-address must be a positive integer');
    expect(stderr).toContain('--max-connections-per-address N');
    expect(stderr).toContain(`(default: ${DEFAULT_SIGNALING_LIMITS.maxRoomsPerAddress})`);
    expect(stderr).toContain('--trusted-proxies N');
  });

  it('refuses an allowed origin that is not scheme://host[:port] with exit code 2', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'signaling/main.ts', '--port', '0', '--allow-origin', 'https://app.example/path'], {
      cwd: join(import.meta.dirname, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
    expect(code).toBe(2);
    expect(stderr).toContain('an allowed origin is scheme://host[:port]');
  });
});
