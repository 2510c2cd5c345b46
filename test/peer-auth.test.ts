import { beforeAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { decodeFrame, encodeFrame } from '../src/net/framing.js';
import {
  PeerAuthError,
  PeerHandshake,
  createProof,
  deriveRoomKey,
  dtlsFingerprints,
  transcriptBytes,
  verifyProof,
  type AuthFrame,
  type AuthTranscript,
  type PeerAuthErrorCode,
  type RoomKey,
} from '../src/net/peer-auth.js';
import { availableRoomKeyImplementation, constantTimeEqual, roomKeyFromBytes, type RoomKeyImplementation } from '../src/net/room-key.js';

const FP_A = ['sha-256 AA:AA:AA:AA'];
const FP_B = ['sha-256 BB:BB:BB:BB'];
const FP_MITM_1 = ['sha-256 11:11:11:11'];
const FP_MITM_2 = ['sha-256 22:22:22:22'];

let roomKey: RoomKey;
let otherSecretKey: RoomKey;
let otherRoomKey: RoomKey;
let noSecretKey: RoomKey;

beforeAll(async () => {
  [roomKey, otherSecretKey, otherRoomKey, noSecretKey] = await Promise.all([
    deriveRoomKey('room', 'correct horse'),
    deriveRoomKey('room', 'battery staple'),
    deriveRoomKey('other-room', 'correct horse'),
    deriveRoomKey('room', undefined),
  ]);
});

/**
 * Work a handshake may still finish later: HMAC operations under way and frames on their way.
 * A check that something did *not* happen waits until none is left (settled), not for a while.
 */
const pending = new Set<Promise<unknown>>();
function track<T>(promise: Promise<T>): Promise<T> {
  pending.add(promise);
  const done = () => void pending.delete(promise);
  promise.then(done, done);
  return promise;
}
async function settled(): Promise<void> {
  for (;;) {
    // After the macrotask, every continuation of what settled has run (and tracked what it started).
    await new Promise((resolve) => setImmediate(resolve));
    if (pending.size === 0) return;
    await Promise.allSettled([...pending]);
  }
}
beforeAll(() => {
  const subtle = globalThis.crypto.subtle;
  const sign = subtle.sign.bind(subtle);
  const verify = subtle.verify.bind(subtle);
  vi.spyOn(subtle, 'sign').mockImplementation(((...args: Parameters<typeof sign>) => track(sign(...args))) as typeof sign);
  vi.spyOn(subtle, 'verify').mockImplementation(((...args: Parameters<typeof verify>) => track(verify(...args))) as typeof verify);
});

type Outcome = 'open' | PeerAuthErrorCode;

interface Side {
  readonly handshake: PeerHandshake;
  readonly outcomes: Outcome[];
}

/** A handshake whose frames go through the real codec to `deliver`, one network hop later, in order. */
function side(selfId: string, peerId: string, key: Promise<RoomKey>, deliver: (frame: AuthFrame) => void): Side {
  const outcomes: Outcome[] = [];
  const handshake = new PeerHandshake({
    key,
    selfId,
    peerId,
    send: (frame) => {
      const wire = encodeFrame(frame);
      track(new Promise<void>((resolve) => setTimeout(() => resolve(deliver(decodeFrame(wire) as AuthFrame)), 0)));
    },
    onOpen: () => outcomes.push('open'),
    onFailure: (error) => outcomes.push(error.code),
  });
  return { handshake, outcomes };
}

/** Whichever side checks first says 'bad-proof' and rejects; the other hears the reject or reaches the same verdict. */
function refused(outcomes: readonly Outcome[]): boolean {
  return outcomes.length === 1 && (outcomes[0] === 'bad-proof' || outcomes[0] === 'rejected');
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Two peers shake hands; each sees its own and the other's fingerprints as given. */
async function shakeHands(options: {
  keyA: RoomKey;
  keyB: RoomKey;
  aSeesB?: readonly string[];
  bSeesA?: readonly string[];
  /** b starts, and its hello reaches a, before a starts. */
  bStartsFirst?: boolean;
}): Promise<{ a: Outcome[]; b: Outcome[] }> {
  const sides: { a?: Side; b?: Side } = {};
  const a = side('alice', 'bob', Promise.resolve(options.keyA), (frame) => sides.b?.handshake.receive(frame));
  const b = side('bob', 'alice', Promise.resolve(options.keyB), (frame) => sides.a?.handshake.receive(frame));
  Object.assign(sides, { a, b });
  b.handshake.start(FP_B, options.bSeesA ?? FP_A);
  if (options.bStartsFirst === true) await settled();
  a.handshake.start(FP_A, options.aSeesB ?? FP_B);
  await until(() => a.outcomes.length > 0 && b.outcomes.length > 0);
  // Every late frame landed and every check under way finished: a second outcome would be here.
  await settled();
  return { a: a.outcomes, b: b.outcomes };
}

describe('DTLS fingerprints from an SDP', () => {
  it('collects session- and media-level lines, normalised, de-duplicated and sorted', () => {
    const sdp = [
      'v=0',
      'a=fingerprint:SHA-256 ab:cd:EF:01',
      'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
      'a=fingerprint:sha-256 AB:CD:EF:01',
      'a=fingerprint:sha-1 12:34',
      'a=setup:actpass',
      '',
    ].join('\r\n');
    expect(dtlsFingerprints(sdp)).toEqual(['sha-1 12:34', 'sha-256 AB:CD:EF:01']);
  });

  it('finds none in an SDP without fingerprints or with malformed ones', () => {
    expect(dtlsFingerprints('v=0\r\na=setup:active\r\n')).toEqual([]);
    expect(dtlsFingerprints('a=fingerprint:sha-256 not-hex\n')).toEqual([]);
  });
});

describe('the proof', () => {
  const transcript: AuthTranscript = {
    proverId: 'alice',
    verifierId: 'bob',
    proverNonce: new Uint8Array(32).fill(1),
    verifierNonce: new Uint8Array(32).fill(2),
    proverFingerprints: FP_A,
    verifierFingerprints: FP_B,
  };

  it('verifies under the key it was made with', async () => {
    expect(await verifyProof(roomKey, transcript, await createProof(roomKey, transcript))).toBe(true);
  });

  it('does not verify under another secret, or the same secret in another room', async () => {
    const proof = await createProof(roomKey, transcript);
    expect(await verifyProof(otherSecretKey, transcript, proof)).toBe(false);
    expect(await verifyProof(otherRoomKey, transcript, proof)).toBe(false);
    expect(await verifyProof(noSecretKey, transcript, proof)).toBe(false);
  });

  it('is bound to every field of the transcript, the prover\'s role included', async () => {
    const proof = await createProof(roomKey, transcript);
    const variants: AuthTranscript[] = [
      { ...transcript, proverId: 'bob', verifierId: 'alice' },
      { ...transcript, proverNonce: transcript.verifierNonce, verifierNonce: transcript.proverNonce },
      { ...transcript, verifierNonce: new Uint8Array(32).fill(3) },
      { ...transcript, verifierFingerprints: FP_MITM_1 },
      { ...transcript, proverFingerprints: FP_MITM_2 },
    ];
    for (const variant of variants) expect(await verifyProof(roomKey, variant, proof)).toBe(false);
  });

  it('encodes different transcripts to different bytes (no field can bleed into the next)', () => {
    const text = fc.string({ maxLength: 6 });
    const fields = fc.record({
      proverId: text,
      verifierId: text,
      proverNonce: fc.uint8Array({ maxLength: 3 }),
      verifierNonce: fc.uint8Array({ maxLength: 3 }),
      proverFingerprints: fc.array(text, { maxLength: 2 }),
      verifierFingerprints: fc.array(text, { maxLength: 2 }),
    });
    fc.assert(
      fc.property(fields, fields, (first, second) => {
        fc.pre(JSON.stringify({ ...first, proverNonce: [...first.proverNonce], verifierNonce: [...first.verifierNonce] }) !==
          JSON.stringify({ ...second, proverNonce: [...second.proverNonce], verifierNonce: [...second.verifierNonce] }));
        expect(Buffer.compare(transcriptBytes(first), transcriptBytes(second))).not.toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});

describe('the handshake between two peers', () => {
  it('opens on both sides when both know the secret', async () => {
    expect(await shakeHands({ keyA: roomKey, keyB: roomKey })).toEqual({ a: ['open'], b: ['open'] });
  });

  it('fails on both sides, once, when the secrets differ', async () => {
    const { a, b } = await shakeHands({ keyA: roomKey, keyB: otherSecretKey });
    expect(refused(a) && refused(b)).toBe(true);
    expect([a[0], b[0]]).toContain('bad-proof');
  });

  it('fails when a peer without a secret meets one with a secret', async () => {
    const { a, b } = await shakeHands({ keyA: roomKey, keyB: noSecretKey });
    expect(refused(a) && refused(b)).toBe(true);
  });

  it('opens between two peers without a secret (it proves nothing then, but the framing is the same)', async () => {
    expect(await shakeHands({ keyA: noSecretKey, keyB: noSecretKey })).toEqual({ a: ['open'], b: ['open'] });
  });

  it('fails when someone in the middle substituted the DTLS certificates, even with the right secret', async () => {
    const { a, b } = await shakeHands({ keyA: roomKey, keyB: roomKey, aSeesB: FP_MITM_1, bSeesA: FP_MITM_2 });
    expect(refused(a) && refused(b)).toBe(true);
  });

  it('holds a hello that arrives before its own start, and still opens', async () => {
    expect(await shakeHands({ keyA: roomKey, keyB: roomKey, bStartsFirst: true })).toEqual({ a: ['open'], b: ['open'] });
  });

  it('refuses a peer that reflects our own frames back at us', async () => {
    // The mirror knows no key: it echoes alice's hello and proof as its own.
    const mirror: { alice?: Side } = {};
    const alice = side('alice', 'mirror', Promise.resolve(roomKey), (frame) => {
      if (frame.kind !== 'accept') setTimeout(() => mirror.alice?.handshake.receive(frame), 0);
    });
    mirror.alice = alice;
    alice.handshake.start(FP_A, FP_A);
    const outcomes = alice.outcomes;
    await until(() => outcomes.length > 0);
    expect(outcomes).toEqual(['bad-proof']);
  });
});

describe('the room key where WebCrypto is missing (a page on plain http)', () => {
  const implementations: readonly RoomKeyImplementation[] = ['webcrypto', 'noble'];
  const transcript: AuthTranscript = {
    proverId: 'alice',
    verifierId: 'bob',
    proverNonce: new Uint8Array(32).fill(1),
    verifierNonce: new Uint8Array(32).fill(2),
    proverFingerprints: FP_A,
    verifierFingerprints: FP_B,
  };
  const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

  it('derives, in both implementations, the keys of the protocol as WebCrypto alone did before (pinned proofs)', async () => {
    // Computed with the WebCrypto-only implementation this module replaced: the wire is unchanged.
    const pinned: [string, string | undefined, string][] = [
      ['room', 'correct horse', 'ce7e0177222be17e75a0276b75babda06ba30f6c948e5dc4ffb43cf3aca995cf'],
      ['room', undefined, '7edfe005b8b590844378eb820f692d58f71fb9445ea890af2893573aafb6f1f8'],
      ['garden', 'pässwörd 🔑', 'dd072646d4455400420a85f214fd2a28260f9a7b28e9cdc8a974e25a090b10e0'],
    ];
    for (const implementation of implementations) {
      for (const [room, secret, proof] of pinned) {
        const key = await deriveRoomKey(room, secret, implementation);
        expect(key.implementation).toBe(implementation);
        expect(hex(await createProof(key, transcript))).toBe(proof);
      }
    }
  });

  it('signs the same bytes in both implementations, and each verifies the other\'s MAC (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), async (raw, message) => {
        const [webCrypto, noble] = await Promise.all(implementations.map((implementation) => roomKeyFromBytes(raw, implementation)));
        if (webCrypto === undefined || noble === undefined) throw new Error('no key');
        const [macOfWebCrypto, macOfNoble] = await Promise.all([webCrypto.sign(message), noble.sign(message)]);
        expect(hex(macOfNoble)).toBe(hex(macOfWebCrypto));
        expect(await noble.verify(message, macOfWebCrypto)).toBe(true);
        expect(await webCrypto.verify(message, macOfNoble)).toBe(true);
        const forged = macOfNoble.slice();
        const flipped = message.length % forged.length;
        forged[flipped] = (forged[flipped] ?? 0) ^ 1;
        expect(await noble.verify(message, forged)).toBe(false);
        expect(await webCrypto.verify(message, forged)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('derives the same key from any room name and secret in both implementations (property)', async () => {
    // Each run is a 100k-iteration PBKDF2 twice (~0.2 s): few runs, unicode included.
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 12, unit: 'grapheme' }), fc.option(fc.string({ maxLength: 24, unit: 'grapheme' }), { nil: undefined }), async (room, secret) => {
        const [webCrypto, noble] = await Promise.all(implementations.map((implementation) => deriveRoomKey(room, secret, implementation)));
        if (webCrypto === undefined || noble === undefined) throw new Error('no key');
        expect(hex(await createProof(noble, transcript))).toBe(hex(await createProof(webCrypto, transcript)));
      }),
      { numRuns: 6 },
    );
  });

  it('lets a tab with WebCrypto and one without open a link, and refuse each other on different secrets', async () => {
    const [nobleRoomKey, nobleOtherSecretKey] = await Promise.all([
      deriveRoomKey('room', 'correct horse', 'noble'),
      deriveRoomKey('room', 'battery staple', 'noble'),
    ]);
    expect(await shakeHands({ keyA: roomKey, keyB: nobleRoomKey })).toEqual({ a: ['open'], b: ['open'] });
    expect(await shakeHands({ keyA: nobleRoomKey, keyB: roomKey })).toEqual({ a: ['open'], b: ['open'] });
    const { a, b } = await shakeHands({ keyA: roomKey, keyB: nobleOtherSecretKey });
    expect(refused(a) && refused(b)).toBe(true);
  });

  it('uses the pure-JS implementation, and completes a handshake, when crypto.subtle is undefined', async () => {
    const getRandomValues = globalThis.crypto.getRandomValues.bind(globalThis.crypto);
    vi.stubGlobal('crypto', { getRandomValues });
    try {
      expect(globalThis.crypto.subtle).toBeUndefined();
      expect(availableRoomKeyImplementation()).toBe('noble');
      const key = await deriveRoomKey('room', 'correct horse');
      expect(key.implementation).toBe('noble');
      expect(await shakeHands({ keyA: key, keyB: key })).toEqual({ a: ['open'], b: ['open'] });
    } finally {
      vi.unstubAllGlobals();
    }
    expect(availableRoomKeyImplementation()).toBe('webcrypto');
  });

  it('compares MACs by content and length', () => {
    const mac = new Uint8Array(32).map((_, index) => index);
    expect(constantTimeEqual(mac, mac.slice())).toBe(true);
    expect(constantTimeEqual(mac, mac.slice(0, 31))).toBe(false);
    for (let index = 0; index < mac.length; index++) {
      const changed = mac.slice();
      changed[index] = (changed[index] ?? 0) ^ 0x80;
      expect(constantTimeEqual(mac, changed)).toBe(false);
    }
  });
});

describe('handshake frame order', () => {
  function lone(key: Promise<RoomKey> = Promise.resolve(roomKey)): Side & { sent: AuthFrame[] } {
    const outcomes: Outcome[] = [];
    const sent: AuthFrame[] = [];
    const handshake = new PeerHandshake({
      key,
      selfId: 'alice',
      peerId: 'bob',
      send: (frame) => sent.push(frame),
      onOpen: () => outcomes.push('open'),
      onFailure: (error) => outcomes.push(error.code),
      nonce: new Uint8Array(32).fill(9),
    });
    return { handshake, outcomes, sent };
  }
  const hello: AuthFrame = { kind: 'hello', nonce: new Uint8Array(32).fill(7) };
  const proof: AuthFrame = { kind: 'proof', proof: new Uint8Array(32) };

  it('starts by sending its nonce, then its proof once it has the peer\'s nonce', async () => {
    const alice = lone();
    alice.handshake.start(FP_A, FP_B);
    expect(alice.sent).toEqual([{ kind: 'hello', nonce: new Uint8Array(32).fill(9) }]);
    alice.handshake.receive(hello);
    await until(() => alice.sent.length === 2);
    expect(alice.sent[1]?.kind).toBe('proof');
  });

  it('fails on a proof before the hello, and tells the peer with a reject', () => {
    const alice = lone();
    alice.handshake.start(FP_A, FP_B);
    alice.handshake.receive(proof);
    expect(alice.outcomes).toEqual(['unexpected-frame']);
    expect(alice.sent.map((frame) => frame.kind)).toEqual(['hello', 'reject']);
  });

  it('fails with rejected, sending nothing back, when the peer rejects us', () => {
    const alice = lone();
    alice.handshake.start(FP_A, FP_B);
    alice.handshake.receive({ kind: 'reject' });
    expect(alice.outcomes).toEqual(['rejected']);
    expect(alice.sent.map((frame) => frame.kind)).toEqual(['hello']);
  });

  it('can be aborted by its owner, which rejects the peer', () => {
    const alice = lone();
    alice.handshake.start(FP_A, FP_B);
    alice.handshake.abort(new PeerAuthError('unexpected-frame', 'data before the handshake'));
    expect(alice.outcomes).toEqual(['unexpected-frame']);
    expect(alice.sent.map((frame) => frame.kind)).toEqual(['hello', 'reject']);
  });

  it('fails on anything but a hello before its own start', () => {
    const alice = lone();
    alice.handshake.receive({ kind: 'accept' });
    expect(alice.outcomes).toEqual(['unexpected-frame']);
  });

  it('fails on an accept before it has sent its proof', () => {
    const alice = lone();
    alice.handshake.start(FP_A, FP_B);
    alice.handshake.receive({ kind: 'accept' });
    expect(alice.outcomes).toEqual(['unexpected-frame']);
  });

  it('fails on a second hello', () => {
    const alice = lone();
    alice.handshake.start(FP_A, FP_B);
    alice.handshake.receive(hello);
    alice.handshake.receive(hello);
    expect(alice.outcomes).toEqual(['unexpected-frame']);
  });

  it('fails, sending only a reject, when an SDP had no fingerprint', () => {
    const alice = lone();
    alice.handshake.start(FP_A, []);
    expect(alice.outcomes).toEqual(['no-fingerprint']);
    expect(alice.sent).toEqual([{ kind: 'reject' }]);
  });

  it('fails with crypto-failed when the key cannot be had', async () => {
    const rejected = Promise.reject(new Error('no WebCrypto here'));
    rejected.catch(() => undefined);
    const alice = lone(rejected);
    alice.handshake.start(FP_A, FP_B);
    alice.handshake.receive(hello);
    await until(() => alice.outcomes.length > 0);
    expect(alice.outcomes).toEqual(['crypto-failed']);
  });

  it('reports nothing after dispose', async () => {
    const alice = lone();
    alice.handshake.start(FP_A, FP_B);
    alice.handshake.receive(hello);
    alice.handshake.dispose();
    alice.handshake.receive(proof);
    await settled();
    expect(alice.outcomes).toEqual([]);
    expect(alice.sent.map((frame) => frame.kind)).toEqual(['hello']);
  });
});
