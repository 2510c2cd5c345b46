/**
 * Which node this browser tab is. The id lives in sessionStorage, so a reload keeps it (and with
 * it the tab's database and dot counter). But a duplicated tab starts with a copy of that
 * sessionStorage, and two live tabs running as one node would issue the same dots for different
 * writes. So a tab runs as an id only while it holds the Web Lock named after it; a tab that
 * finds the lock taken by a live tab takes a fresh id.
 *
 * BroadcastChannel makes that fast and covers browsers without Web Locks: the holder of an id
 * answers probes for it. Every browser facility comes in through IdentityEnvironment, so tests
 * run on fakes and virtual time.
 */
import { EngramError } from '../core/errors.js';
import type { Scheduler } from '../core/ports.js';
import type { NodeId } from '../core/types.js';

/**
 * The ids this module accepts: safe as a signaling peerId (/^[A-Za-z0-9_.:-]{1,128}$/), in a URL
 * and in a database name. '-' is excluded so the last '-' of `engram-<room>-<nodeId>` always
 * separates the room from the node.
 */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_.:]{1,128}$/;

export function isNodeId(value: string): boolean {
  return NODE_ID_PATTERN.test(value);
}

/** RFC 4648 base32, lowercased: 32 symbols, so each is exactly 5 random bits. */
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** 20 symbols = 100 random bits: no collision among the tabs that ever join a room. */
const ID_LENGTH = 20;

/** A fresh random node id. */
export function newNodeId(getRandomValues: (bytes: Uint8Array) => Uint8Array): NodeId {
  const bytes = getRandomValues(new Uint8Array(ID_LENGTH));
  // 256 is a multiple of 32, so the low 5 bits of a uniform byte are uniform.
  return Array.from(bytes, (byte) => ID_ALPHABET[byte & 31]).join('');
}

export const SESSION_KEY = 'engram-mesh:node-id';
export const CHANNEL_NAME = 'engram-mesh:node-ids';
export const lockName = (nodeId: NodeId): string => `engram-mesh:node:${nodeId}`;

/** The part of `window.sessionStorage` used here. */
export interface SessionStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The part of `navigator.locks` used here. */
export interface LockService {
  request(
    name: string,
    options: { ifAvailable?: boolean; signal?: AbortSignal },
    callback: (lock: object | null) => Promise<void>,
  ): Promise<unknown>;
}

/** A BroadcastChannel as used here: messages reach every other channel of the same name. */
export interface IdentityChannel {
  postMessage(message: unknown): void;
  /** Sets the one receiver of the data of incoming messages. */
  listen(receive: (data: unknown) => void): void;
  close(): void;
}

/** Everything the browser provides; absent facilities are `undefined` and their guard is skipped. */
export interface IdentityEnvironment {
  readonly session: SessionStore | undefined;
  readonly locks: LockService | undefined;
  readonly openChannel: ((name: string) => IdentityChannel) | undefined;
  /** crypto.getRandomValues. */
  readonly getRandomValues: (bytes: Uint8Array) => Uint8Array;
  readonly setTimer: Scheduler['setTimer'];
}

export interface IdentityTimings {
  /**
   * How long to wait for a lock that no live tab claims to hold: the old document of a reloaded
   * tab may release it late (WebKit kept it until the page left the back/forward cache, WebKit
   * PR #47797). A live holder answers its probe long before this, so only a frozen one costs it.
   */
  readonly lockWaitMs: number;
  /**
   * Without Web Locks, how long a probe waits for a holder's answer: a live tab answers within
   * one turn of its event loop; this leaves room for a busy main thread without slowing startup.
   */
  readonly probeReplyMs: number;
}

export const IDENTITY_TIMINGS: IdentityTimings = {
  lockWaitMs: 1_000, // Covers a late release on reload; a duplicate tab is told sooner by its probe.
  probeReplyMs: 250, // Several event-loop turns of a busy tab; short enough not to be felt at startup.
};

/** Why the tab runs under this id. */
export type IdentityOrigin = 'restored' | 'new' | 'duplicate-tab';

/** What keeps another tab of this browser from running under the same id. */
export type IdentityGuard = 'web-locks' | 'broadcast-channel' | 'none';

export interface NodeIdentity {
  readonly nodeId: NodeId;
  readonly origin: IdentityOrigin;
  readonly guard: IdentityGuard;
  /** Whether sessionStorage took the id; if not (storage disabled), a reload gets a new one. */
  readonly persisted: boolean;
  /** Gives the id up: releases its lock and stops answering probes. Idempotent. */
  release(): void;
}

export type ProbeMessage = { readonly type: 'engram-id-probe'; readonly nodeId: NodeId };
export type HeldMessage = { readonly type: 'engram-id-held'; readonly nodeId: NodeId };

export function isMessage<T extends ProbeMessage | HeldMessage>(data: unknown, type: T['type']): data is T {
  return (
    typeof data === 'object' &&
    data !== null &&
    (data as { type?: unknown }).type === type &&
    typeof (data as { nodeId?: unknown }).nodeId === 'string'
  );
}

/** The browser's facilities, each only if this context offers it (Web Locks need a secure context). */
export function browserIdentityEnvironment(): IdentityEnvironment {
  let session: SessionStore | undefined;
  try {
    session = globalThis.sessionStorage;
  } catch {
    // Reading the property throws a SecurityError when site storage is disabled: go without.
    session = undefined;
  }
  const locks: LockService | undefined = globalThis.navigator?.locks;
  return {
    session,
    locks,
    openChannel: typeof BroadcastChannel === 'function' ? openBroadcastChannel : undefined,
    getRandomValues: (bytes) => globalThis.crypto.getRandomValues(bytes),
    setTimer: (delayMs, fn) => {
      const handle = setTimeout(fn, delayMs);
      return { cancel: () => clearTimeout(handle) };
    },
  };
}

function openBroadcastChannel(name: string): IdentityChannel {
  const channel = new BroadcastChannel(name);
  return {
    postMessage: (message) => channel.postMessage(message),
    listen: (receive) => {
      channel.onmessage = (event) => receive(event.data);
    },
    close: () => channel.close(),
  };
}

/** A fresh id is uncontended; failing this often means the lock service itself is broken. */
const MAX_FRESH_ATTEMPTS = 3;

/**
 * Decides which node this tab is: the id stored in sessionStorage if no other live tab runs as
 * it, a fresh one otherwise; stores it and holds it until `release()` or the tab goes away.
 */
export async function claimNodeId(
  environment: IdentityEnvironment = browserIdentityEnvironment(),
  timings: IdentityTimings = IDENTITY_TIMINGS,
): Promise<NodeIdentity> {
  const stored = readStoredId(environment.session);
  if (stored !== undefined) {
    const held = await claim(stored, environment, timings);
    if (held) return identity(stored, 'restored', held, environment);
  }
  const origin: IdentityOrigin = stored === undefined ? 'new' : 'duplicate-tab';
  for (let attempt = 0; attempt < MAX_FRESH_ATTEMPTS; attempt += 1) {
    const fresh = newNodeId(environment.getRandomValues);
    const held = await claimFresh(fresh, environment);
    if (held) return identity(fresh, origin, held, environment);
  }
  throw new EngramError(
    'not-started',
    'Could not claim a node id for this tab: the browser refused the lock of every fresh id. Reload the tab.',
  );
}

export function readStoredId(session: SessionStore | undefined): NodeId | undefined {
  let value: string | null = null;
  try {
    value = session?.getItem(SESSION_KEY) ?? null;
  } catch {
    // Storage disabled or unavailable: this tab simply has no remembered id.
    return undefined;
  }
  // Anything else was not written by this module (or was tampered with): start afresh.
  return value !== null && isNodeId(value) ? value : undefined;
}

export function storeId(session: SessionStore | undefined, nodeId: NodeId): boolean {
  if (!session) return false;
  try {
    session.setItem(SESSION_KEY, nodeId);
    return true;
  } catch {
    // Quota or disabled storage: reported to the caller through `persisted`.
    return false;
  }
}

/** A claim on an id that this tab now holds. */
export interface Held {
  readonly guard: IdentityGuard;
  release(): void;
}

function identity(nodeId: NodeId, origin: IdentityOrigin, held: Held, environment: IdentityEnvironment): NodeIdentity {
  const persisted = storeId(environment.session, nodeId);
  const answering = answerProbes(nodeId, environment);
  let released = false;
  return {
    nodeId,
    origin,
    guard: held.guard,
    persisted,
    release: () => {
      if (released) return;
      released = true;
      answering?.close();
      held.release();
    },
  };
}

/** Tells every tab that probes for `nodeId` that this tab runs as it. */
export function answerProbes(nodeId: NodeId, environment: IdentityEnvironment): IdentityChannel | undefined {
  const channel = environment.openChannel?.(CHANNEL_NAME);
  if (!channel) return undefined;
  channel.listen((data) => {
    if (isMessage<ProbeMessage>(data, 'engram-id-probe') && data.nodeId === nodeId) {
      channel.postMessage({ type: 'engram-id-held', nodeId } satisfies HeldMessage);
    }
  });
  return channel;
}

/**
 * Takes a just-drawn id. No other tab can be running as it, so there is nothing to probe or wait
 * for; the lock is taken only so that later duplicates of this tab find it held.
 */
export async function claimFresh(nodeId: NodeId, environment: IdentityEnvironment): Promise<Held | undefined> {
  if (environment.locks) return acquireLock(environment.locks, nodeId, { ifAvailable: true });
  return { guard: environment.openChannel ? 'broadcast-channel' : 'none', release: () => undefined };
}

/** Takes the stored `nodeId` for this tab, or returns undefined if a live tab runs as it. */
export async function claim(nodeId: NodeId, environment: IdentityEnvironment, timings: IdentityTimings): Promise<Held | undefined> {
  const { locks } = environment;
  if (locks) {
    const immediate = await acquireLock(locks, nodeId, { ifAvailable: true });
    if (immediate) return immediate;
    // Taken: by a live duplicate (whose answer to the probe ends the wait at once) or by a
    // document that is going away (whose lock is granted to us when it is released).
    const stopWaiting = new AbortController();
    const timer = environment.setTimer(timings.lockWaitMs, () => stopWaiting.abort());
    const probe = probeForHolder(nodeId, environment, () => stopWaiting.abort());
    try {
      return await acquireLock(locks, nodeId, { signal: stopWaiting.signal });
    } finally {
      timer.cancel();
      probe?.close();
    }
  }
  if (!environment.openChannel) return { guard: 'none', release: () => undefined };
  const answered = await new Promise<boolean>((resolve) => {
    const timer = environment.setTimer(timings.probeReplyMs, () => {
      probe?.close();
      resolve(false);
    });
    const probe = probeForHolder(nodeId, environment, () => {
      timer.cancel();
      probe?.close();
      resolve(true);
    });
  });
  return answered ? undefined : { guard: 'broadcast-channel', release: () => undefined };
}

/** Asks the other tabs whether one runs as `nodeId`; `onHeld` runs when one says so. */
function probeForHolder(nodeId: NodeId, environment: IdentityEnvironment, onHeld: () => void): IdentityChannel | undefined {
  const channel = environment.openChannel?.(CHANNEL_NAME);
  if (!channel) return undefined;
  channel.listen((data) => {
    if (isMessage<HeldMessage>(data, 'engram-id-held') && data.nodeId === nodeId) onHeld();
  });
  channel.postMessage({ type: 'engram-id-probe', nodeId } satisfies ProbeMessage);
  return channel;
}

/**
 * Requests the lock of `nodeId` and keeps it until `release()`: the Web Locks API holds a lock
 * as long as the callback's promise is pending. Undefined when it is not available
 * (`ifAvailable`) or the wait was aborted.
 */
export function acquireLock(
  locks: LockService,
  nodeId: NodeId,
  options: { ifAvailable?: boolean; signal?: AbortSignal },
): Promise<Held | undefined> {
  return new Promise((resolve, reject) => {
    let release: () => void = () => undefined;
    const holding = new Promise<void>((done) => {
      release = done;
    });
    locks
      .request(lockName(nodeId), options, async (lock) => {
        if (lock === null) {
          resolve(undefined);
          return;
        }
        resolve({ guard: 'web-locks', release });
        await holding;
      })
      .catch((error: unknown) => {
        // An aborted wait rejects with the signal's reason; anything else is a real failure.
        if (options.signal?.aborted) resolve(undefined);
        else reject(new EngramError('not-started', 'Could not claim a node id for this tab: the Web Locks API failed.', { cause: error }));
      });
  });
}
