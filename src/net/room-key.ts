/**
 * The HMAC key of a room, for the peer handshake (peer-auth.ts): PBKDF2-HMAC-SHA256 of the room
 * secret salted with the room name, then HMAC-SHA256 over a transcript.
 *
 * Two implementations with the same bytes: WebCrypto where the page has it, and @noble/hashes
 * (audited, pure JS, already used for the Merkle digests) where it does not. A page served over
 * plain http from a LAN address is not a secure context, and there `crypto.subtle` is undefined:
 * without the fallback such a tab could authenticate with no one. `crypto.getRandomValues`, the
 * only other primitive the handshake needs, exists in every context.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { pbkdf2Async } from '@noble/hashes/pbkdf2.js';
import { sha256 } from '@noble/hashes/sha2.js';

const KEY_SALT_PREFIX = 'engram-room-key-v1\u0000';
/**
 * OWASP's 2023 figure for PBKDF2-HMAC-SHA256 is 600k; 100k (~20 ms with WebCrypto, ~140 ms in
 * pure JS, once per page load) keeps start-up quick while making an offline guess of a weak
 * secret from an intercepted handshake 100,000 times dearer. Part of the protocol: both sides
 * must use the same number.
 */
const PBKDF2_ITERATIONS = 100_000;
/** HMAC-SHA256 keys of the hash's output size (RFC 2104 §3: no gain beyond it). */
const KEY_BYTES = 32;
/** The pure-JS derivation yields to the page this often, so a page load is not one 140 ms task. */
const PBKDF2_ASYNC_TICK_MS = 10;

const textEncoder = new TextEncoder();

export type RoomKeyImplementation = 'webcrypto' | 'noble';

/** Signs and verifies handshake transcripts under one room's key. */
export interface RoomKey {
  readonly implementation: RoomKeyImplementation;
  /** HMAC-SHA256(key, message): 32 bytes. */
  sign(message: Uint8Array): Promise<Uint8Array>;
  /** Whether `mac` is the HMAC of `message`, compared in constant time. */
  verify(message: Uint8Array, mac: Uint8Array): Promise<boolean>;
}

/** WebCrypto when this context has it (secure contexts), else the pure-JS implementation. */
export function availableRoomKeyImplementation(): RoomKeyImplementation {
  return globalThis.crypto?.subtle === undefined ? 'noble' : 'webcrypto';
}

/** The key of `room` with `secret` (none: the key is derived from the room name alone). */
export async function deriveRoomKey(
  room: string,
  secret: string | undefined,
  implementation: RoomKeyImplementation = availableRoomKeyImplementation(),
): Promise<RoomKey> {
  const password = textEncoder.encode(secret ?? '');
  const salt = textEncoder.encode(KEY_SALT_PREFIX + room);
  if (implementation === 'noble') {
    const raw = await pbkdf2Async(sha256, password, salt, { c: PBKDF2_ITERATIONS, dkLen: KEY_BYTES, asyncTick: PBKDF2_ASYNC_TICK_MS });
    return nobleRoomKey(raw);
  }
  const subtle = globalThis.crypto.subtle;
  const base = await subtle.importKey('raw', password, 'PBKDF2', false, ['deriveKey']);
  const key = await subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: PBKDF2_ITERATIONS },
    base,
    { name: 'HMAC', hash: 'SHA-256', length: KEY_BYTES * 8 },
    false,
    ['sign', 'verify'],
  );
  return webCryptoRoomKey(key);
}

/** A room key from its raw bytes (the PBKDF2 output), for tests that compare the implementations. */
export async function roomKeyFromBytes(raw: Uint8Array, implementation: RoomKeyImplementation): Promise<RoomKey> {
  if (implementation === 'noble') return nobleRoomKey(raw.slice());
  const key = await globalThis.crypto.subtle.importKey('raw', new Uint8Array(raw), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  return webCryptoRoomKey(key);
}

function webCryptoRoomKey(key: CryptoKey): RoomKey {
  const subtle = globalThis.crypto.subtle;
  return {
    implementation: 'webcrypto',
    sign: async (message) => new Uint8Array(await subtle.sign('HMAC', key, new Uint8Array(message))),
    verify: (message, mac) => subtle.verify('HMAC', key, new Uint8Array(mac), new Uint8Array(message)),
  };
}

function nobleRoomKey(raw: Uint8Array): RoomKey {
  return {
    implementation: 'noble',
    sign: (message) => Promise.resolve(hmac(sha256, raw, message)),
    verify: (message, mac) => Promise.resolve(constantTimeEqual(hmac(sha256, raw, message), mac)),
  };
}

/**
 * Equal bytes, in time that depends only on the lengths: an early exit would tell a forger, one
 * attempt at a time, how many leading bytes of its guess are right. (WebCrypto's verify does the
 * same; @noble/hashes has no exported equivalent.)
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index++) difference |= (a[index] ?? 0) ^ (b[index] ?? 0);
  return difference === 0;
}
