import { webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../src/core/random.js';
import { VirtualScheduler } from '../src/sim/scheduler.js';
import {
  IDENTITY_TIMINGS,
  NODE_ID_PATTERN,
  claimNodeId,
  newNodeId,
} from '../src/store/node-identity.js';
import { claimReplica, REPLICA_TIMINGS, type FoldTarget, type Replica, type ReplicaEnvironment } from '../src/store/replica-claim.js';
import { readRegistry } from '../src/store/replica-registry.js';
import type { MemoryRecord } from '../src/core/types.js';
import type {
  IdentityChannel,
  IdentityEnvironment,
  LockService,
  NodeIdentity,
  SessionStore,
} from '../src/store/node-identity.js';

const SESSION_KEY = 'engram-mesh:node-id';
const PEER_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** One tab's sessionStorage; duplicating a tab copies it, as browsers do. */
class FakeSession implements SessionStore {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  copy(): FakeSession {
    const copy = new FakeSession();
    for (const [key, value] of this.items) copy.items.set(key, value);
    return copy;
  }
}

/** Site storage disabled: every access throws, as Safari and Firefox do then. */
const brokenSession: SessionStore = {
  getItem: () => {
    throw new DOMException('The operation is insecure.', 'SecurityError');
  },
  setItem: () => {
    throw new DOMException('The operation is insecure.', 'SecurityError');
  },
};

/** Exclusive Web Locks for one origin, with `ifAvailable` and aborting a wait by signal. */
class FakeLocks implements LockService {
  private readonly held = new Set<string>();
  private readonly queues = new Map<string, Array<() => void>>();

  async request(
    name: string,
    options: { ifAvailable?: boolean; signal?: AbortSignal },
    callback: (lock: object | null) => Promise<void>,
  ): Promise<unknown> {
    const { signal } = options;
    if (signal?.aborted) throw signal.reason;
    if (!this.held.has(name)) this.held.add(name);
    else if (options.ifAvailable) return callback(null);
    else await this.wait(name, signal);
    try {
      return await callback({ name });
    } finally {
      this.handOver(name);
    }
  }

  isHeld(name: string): boolean {
    return this.held.has(name);
  }

  /** A document holds `name` until the returned function is called (e.g. one still unloading). */
  hold(name: string): () => void {
    let release: () => void = () => undefined;
    void this.request(name, {}, () => new Promise<void>((done) => (release = done)));
    return () => release();
  }

  private wait(name: string, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((granted, aborted) => {
      const queue = this.queues.get(name) ?? [];
      this.queues.set(name, queue);
      const entry = () => granted();
      queue.push(entry);
      signal?.addEventListener('abort', () => {
        const index = queue.indexOf(entry);
        if (index < 0) return;
        queue.splice(index, 1);
        aborted(signal.reason);
      });
    });
  }

  private handOver(name: string): void {
    const next = this.queues.get(name)?.shift();
    if (next) next();
    else this.held.delete(name);
  }
}

/** BroadcastChannel: a message reaches every other open channel of the name, a little later. */
class FakeChannels {
  private readonly open = new Set<{ name: string; receive: (data: unknown) => void }>();
  posted = 0;

  readonly openChannel = (name: string): IdentityChannel => {
    const self = { name, receive: (_data: unknown) => undefined as void };
    this.open.add(self);
    return {
      postMessage: (message) => {
        this.posted += 1;
        const data = structuredClone(message);
        const others = [...this.open].filter((other) => other !== self && other.name === name);
        queueMicrotask(() => {
          for (const other of others) if (this.open.has(other)) other.receive(data);
        });
      },
      listen: (receive) => {
        self.receive = receive;
      },
      close: () => {
        this.open.delete(self);
      },
    };
  };
}

/** One browser profile: the origin's locks and channels, virtual time and seeded randomness. */
class Browser {
  readonly scheduler = new VirtualScheduler();
  readonly locks = new FakeLocks();
  readonly channels = new FakeChannels();
  private readonly random: SeededRandom;

  /** The origin's localStorage: shared by every tab, kept across restarts. */
  readonly local = new FakeSession();
  /** The origin's IndexedDB database names (indexedDB.databases()); undefined: the browser cannot list them. */
  databases: Set<string> | undefined = new Set();
  /** Wall-clock ms at virtual time 0. */
  wallClockAtStart = 1_800_000_000_000;

  constructor(
    seed = 1,
    private readonly facilities: { locks?: boolean; channels?: boolean } = {},
  ) {
    this.random = new SeededRandom(seed);
  }

  environment(session: SessionStore | undefined): IdentityEnvironment {
    return {
      session,
      locks: this.facilities.locks === false ? undefined : this.locks,
      openChannel: this.facilities.channels === false ? undefined : this.channels.openChannel,
      getRandomValues: (bytes) => bytes.map(() => this.random.int(256)),
      setTimer: (delayMs, fn) => this.scheduler.setTimer(delayMs, fn),
    };
  }

  replicaEnvironment(session: SessionStore | undefined): ReplicaEnvironment {
    return {
      ...this.environment(session),
      local: this.local,
      listDatabases: this.databases && (async () => [...(this.databases ?? [])]),
      now: () => this.wallClockAtStart + this.scheduler.now(),
    };
  }

  /** Opens a tab of `room` and waits until it knows which replica it runs as; the tab then opens (creates) its database. */
  async openReplicaTab(session: SessionStore, room = 'garden'): Promise<Replica> {
    const replica = await settle(this.scheduler, claimReplica(this.replicaEnvironment(session), room));
    this.databases?.add(replica.databaseName);
    return replica;
  }

  /** Opens a tab on `session` and waits, in virtual time, until it knows which node it is. */
  async openTab(session: SessionStore | undefined): Promise<NodeIdentity> {
    return settle(this.scheduler, claimNodeId(this.environment(session)));
  }
}

const flushTasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs microtasks and virtual timers alternately until `promise` settles. */
async function settle<T>(scheduler: VirtualScheduler, promise: Promise<T>): Promise<T> {
  let outcome: { value: T } | { error: unknown } | undefined;
  promise.then(
    (value) => (outcome = { value }),
    (error: unknown) => (outcome = { error }),
  );
  for (;;) {
    await flushTasks();
    if (outcome) break;
    if (!scheduler.step()) {
      await flushTasks();
      if (!outcome) throw new Error('claimNodeId never settled');
    }
  }
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}

const lockOf = (nodeId: string): string => `engram-mesh:node:${nodeId}`;

describe('node identity', () => {
  it('a first visit takes a fresh id, keeps it in sessionStorage and holds its lock', async () => {
    const browser = new Browser();
    const session = new FakeSession();
    const tab = await browser.openTab(session);
    expect(tab.origin).toBe('new');
    expect(tab.guard).toBe('web-locks');
    expect(tab.persisted).toBe(true);
    expect(session.getItem(SESSION_KEY)).toBe(tab.nodeId);
    expect(browser.locks.isHeld(lockOf(tab.nodeId))).toBe(true);
  });

  it('a reload keeps the id', async () => {
    const browser = new Browser();
    const session = new FakeSession();
    const before = await browser.openTab(session);
    before.release(); // the old document is unloaded
    const after = await browser.openTab(session);
    expect(after.nodeId).toBe(before.nodeId);
    expect(after.origin).toBe('restored');
  });

  it('a duplicated tab takes a new id and stores it; the original keeps its own', async () => {
    const browser = new Browser();
    const originalSession = new FakeSession();
    const original = await browser.openTab(originalSession);
    const duplicateSession = originalSession.copy();
    const duplicate = await browser.openTab(duplicateSession);
    expect(duplicate.nodeId).not.toBe(original.nodeId);
    expect(duplicate.origin).toBe('duplicate-tab');
    expect(duplicateSession.getItem(SESSION_KEY)).toBe(duplicate.nodeId);
    expect(originalSession.getItem(SESSION_KEY)).toBe(original.nodeId);
    expect(browser.locks.isHeld(lockOf(duplicate.nodeId))).toBe(true);
    // The original answered the probe: no waiting for the lock timeout.
    expect(browser.scheduler.now()).toBe(0);
    // A reload of the duplicate keeps its new id.
    duplicate.release();
    expect((await browser.openTab(duplicateSession)).nodeId).toBe(duplicate.nodeId);
  });

  it('without BroadcastChannel, a duplicate tab still takes a new id once the lock wait runs out', async () => {
    const browser = new Browser(1, { channels: false });
    const session = new FakeSession();
    const original = await browser.openTab(session);
    const duplicate = await browser.openTab(session.copy());
    expect(duplicate.nodeId).not.toBe(original.nodeId);
    expect(duplicate.origin).toBe('duplicate-tab');
    expect(browser.scheduler.now()).toBe(IDENTITY_TIMINGS.lockWaitMs);
  });

  it('a lock the reloaded document releases late is waited for, and the id kept', async () => {
    const browser = new Browser();
    const session = new FakeSession();
    const before = await browser.openTab(session);
    before.release();
    // Another live tab, running as another node, hears the probe and must not answer it.
    await browser.openTab(new FakeSession());
    const releaseLate = browser.locks.hold(lockOf(before.nodeId));
    browser.scheduler.setTimer(300, releaseLate);
    const after = await browser.openTab(session);
    expect(after.nodeId).toBe(before.nodeId);
    expect(after.origin).toBe('restored');
    expect(browser.scheduler.now()).toBe(300);
  });

  it('a lock held by a document that never answers and never releases costs the wait, then a new id', async () => {
    const browser = new Browser();
    const session = new FakeSession();
    const frozen = await browser.openTab(session);
    frozen.release();
    browser.locks.hold(lockOf(frozen.nodeId));
    const tab = await browser.openTab(session);
    expect(tab.nodeId).not.toBe(frozen.nodeId);
    expect(tab.origin).toBe('duplicate-tab');
    expect(browser.scheduler.now()).toBe(IDENTITY_TIMINGS.lockWaitMs);
    expect(browser.locks.isHeld(lockOf(tab.nodeId))).toBe(true);
  });

  it('without Web Locks, the holder’s answer on BroadcastChannel sends a duplicate to a new id', async () => {
    const browser = new Browser(1, { locks: false });
    const session = new FakeSession();
    const original = await browser.openTab(session);
    expect(original.guard).toBe('broadcast-channel');
    const duplicate = await browser.openTab(session.copy());
    expect(duplicate.nodeId).not.toBe(original.nodeId);
    expect(duplicate.origin).toBe('duplicate-tab');
    // The original answered the probe, and a fresh id needs no probe of its own.
    expect(browser.scheduler.now()).toBe(0);
  });

  it('without Web Locks, an id no tab answers for is kept after the probe window', async () => {
    const browser = new Browser(1, { locks: false });
    const session = new FakeSession();
    const before = await browser.openTab(session);
    before.release();
    const after = await browser.openTab(session);
    expect(after.nodeId).toBe(before.nodeId);
    expect(after.origin).toBe('restored');
    expect(browser.scheduler.now()).toBeGreaterThanOrEqual(IDENTITY_TIMINGS.probeReplyMs);
  });

  it('with neither Web Locks nor BroadcastChannel, the stored id is used unguarded', async () => {
    const browser = new Browser(1, { locks: false, channels: false });
    const session = new FakeSession();
    const first = await browser.openTab(session);
    const second = await browser.openTab(session);
    expect(second.nodeId).toBe(first.nodeId);
    expect(second.guard).toBe('none');
  });

  it('release gives the id up: a tab on the same session then takes it at once', async () => {
    const browser = new Browser();
    const session = new FakeSession();
    const original = await browser.openTab(session);
    original.release();
    original.release();
    await flushTasks();
    expect(browser.locks.isHeld(lockOf(original.nodeId))).toBe(false);
    const next = await browser.openTab(session.copy());
    expect(next.nodeId).toBe(original.nodeId);
    expect(browser.scheduler.now()).toBe(0);
  });

  it('a stored value that is not a node id is replaced by a fresh id', async () => {
    for (const stored of ['has spaces', 'has-a-hyphen', '', 'x'.repeat(129), 'ünïcode']) {
      const browser = new Browser();
      const session = new FakeSession();
      session.setItem(SESSION_KEY, stored);
      const tab = await browser.openTab(session);
      expect(tab.nodeId).not.toBe(stored);
      expect(tab.origin).toBe('new');
      expect(session.getItem(SESSION_KEY)).toBe(tab.nodeId);
    }
  });

  it('with site storage disabled the tab still gets an id, reported as not persisted', async () => {
    const browser = new Browser();
    const tab = await browser.openTab(brokenSession);
    expect(tab.nodeId).toMatch(NODE_ID_PATTERN);
    expect(tab.persisted).toBe(false);
    expect((await browser.openTab(undefined)).persisted).toBe(false);
  });

  it('ids are drawn from getRandomValues: the same bytes give the same id, and real randomness differs each time', () => {
    const bytes = Uint8Array.from({ length: 20 }, (_, i) => i * 13);
    const fixed = () => newNodeId((target) => (target.set(bytes.subarray(0, target.length)), target));
    expect(fixed()).toBe(fixed());
    const real = (target: Uint8Array) => webcrypto.getRandomValues(target);
    const ids = new Set(Array.from({ length: 1_000 }, () => newNodeId(real)));
    expect(ids.size).toBe(1_000);
  });

  it('law: every id is peerId-, URL- and database-name-safe and carries 100 random bits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), (bytes) => {
        const id = newNodeId((target) => (target.set(bytes), target));
        expect(id).toMatch(PEER_ID);
        expect(id).toMatch(NODE_ID_PATTERN);
        expect(encodeURIComponent(id)).toBe(id);
        // Each byte contributes its low 5 bits: changing one changes the id.
        const flipped = Uint8Array.from(bytes);
        flipped[0] = (flipped[0]! ^ 1) & 0xff;
        expect(newNodeId((target) => (target.set(flipped), target))).not.toBe(id);
      }),
      { numRuns: 300 },
    );
  });

  it('law: however tabs are opened, duplicated, reloaded and closed, no two live tabs share an id', async () => {
    type Step = { kind: 'open' } | { kind: 'duplicate' | 'reload' | 'close'; tab: number };
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      fc.constant<Step>({ kind: 'open' }),
      fc.record({ kind: fc.constantFrom('duplicate', 'reload', 'close'), tab: fc.nat(7) }) as fc.Arbitrary<Step>,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 1_000 }),
        async (steps, withChannels, seed) => {
          const browser = new Browser(seed, { channels: withChannels });
          const live: { session: FakeSession; identity: NodeIdentity }[] = [];
          for (const step of steps) {
            if (step.kind === 'open') {
              const session = new FakeSession();
              live.push({ session, identity: await browser.openTab(session) });
              continue;
            }
            const target = live[step.tab % Math.max(live.length, 1)];
            if (!target) continue;
            if (step.kind === 'duplicate') {
              const session = target.session.copy();
              live.push({ session, identity: await browser.openTab(session) });
            } else if (step.kind === 'reload') {
              const before = target.identity.nodeId;
              target.identity.release();
              target.identity = await browser.openTab(target.session);
              expect(target.identity.nodeId).toBe(before);
            } else {
              target.identity.release();
              live.splice(live.indexOf(target), 1);
            }
            const ids = live.map((tab) => tab.identity.nodeId);
            expect(new Set(ids).size).toBe(ids.length);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

/** A record as a replica's database holds it; only its id matters to folding. */
const storedRecord = (id: string): MemoryRecord => ({ id, siblings: [] });

/** The databases' contents and a node that absorbs what is folded into it. */
class FoldWorld implements FoldTarget {
  readonly contents = new Map<string, MemoryRecord[]>();
  readonly absorbed: string[] = [];
  failLoadOf: string | undefined;

  constructor(private readonly browser: Browser) {}

  async absorb(records: readonly MemoryRecord[]): Promise<unknown> {
    this.absorbed.push(...records.map((record) => record.id));
    return records.length;
  }

  async openStorage(databaseName: string): Promise<{ loadRecords(): Promise<MemoryRecord[]>; destroy(): Promise<void> }> {
    return {
      loadRecords: async () => {
        if (databaseName === this.failLoadOf) throw new Error('disk error');
        return this.contents.get(databaseName) ?? [];
      },
      destroy: async () => {
        this.contents.delete(databaseName);
        this.browser.databases?.delete(databaseName);
      },
    };
  }
}

describe('replicas outlive tabs', () => {
  it('a tab opened after every tab of the room closed adopts the replica the last one left', async () => {
    const browser = new Browser();
    const first = await browser.openReplicaTab(new FakeSession());
    expect(first.origin).toBe('new');
    first.release();
    const session = new FakeSession();
    const next = await browser.openReplicaTab(session);
    expect(next.nodeId).toBe(first.nodeId);
    expect(next.databaseName).toBe(`engram-garden-${first.nodeId}`);
    expect(next.origin).toBe('adopted');
    expect(next.adopted).toBe(true);
    expect(session.getItem(SESSION_KEY)).toBe(first.nodeId);
    expect(browser.locks.isHeld(lockOf(first.nodeId))).toBe(true);
    // Adopting never waits on a lock.
    expect(browser.scheduler.now()).toBe(0);
  });

  it('a reload keeps its own id although another idle replica was used more recently', async () => {
    const browser = new Browser();
    const session = new FakeSession();
    const own = await browser.openReplicaTab(session);
    const other = await browser.openReplicaTab(new FakeSession());
    own.release();
    browser.scheduler.runUntil(5_000);
    other.release();
    const reloaded = await browser.openReplicaTab(session);
    expect(reloaded.nodeId).toBe(own.nodeId);
    expect(reloaded.origin).toBe('restored');
  });

  it('two tabs open at once are two replicas; reopened one after the other they take both back, a third is new', async () => {
    const browser = new Browser();
    const a = await browser.openReplicaTab(new FakeSession());
    const b = await browser.openReplicaTab(new FakeSession());
    expect(b.nodeId).not.toBe(a.nodeId);
    expect(b.origin).toBe('new');
    b.release();
    browser.scheduler.runUntil(1_000);
    a.release();
    const first = await browser.openReplicaTab(new FakeSession());
    const second = await browser.openReplicaTab(new FakeSession());
    const third = await browser.openReplicaTab(new FakeSession());
    // The most recently used first.
    expect([first.nodeId, second.nodeId]).toEqual([a.nodeId, b.nodeId]);
    expect([first.origin, second.origin]).toEqual(['adopted', 'adopted']);
    expect(third.origin).toBe('new');
    expect(new Set([first.nodeId, second.nodeId, third.nodeId]).size).toBe(3);
    expect(readRegistry(browser.local, 'garden').map((entry) => entry.nodeId).sort()).toEqual([a.nodeId, b.nodeId, third.nodeId].sort());
  });

  it('a duplicated tab never runs as its original: it adopts an idle replica or takes a new one', async () => {
    const browser = new Browser();
    const idle = await browser.openReplicaTab(new FakeSession());
    idle.release();
    const originalSession = new FakeSession();
    const original = await browser.openReplicaTab(originalSession);
    expect(original.nodeId).toBe(idle.nodeId);
    const duplicate = await browser.openReplicaTab(originalSession.copy());
    expect(duplicate.nodeId).not.toBe(original.nodeId);
    expect(duplicate.origin).toBe('duplicate-tab');
  });

  it('replicas of another room are not adopted', async () => {
    const browser = new Browser();
    const other = await browser.openReplicaTab(new FakeSession(), 'kitchen');
    other.release();
    const tab = await browser.openReplicaTab(new FakeSession(), 'garden');
    expect(tab.nodeId).not.toBe(other.nodeId);
    expect(tab.origin).toBe('new');
  });

  it('a registered replica whose database is gone is not adopted (its dots could be reused)', async () => {
    const browser = new Browser();
    const lost = await browser.openReplicaTab(new FakeSession());
    lost.release();
    browser.databases?.delete(lost.databaseName);
    const tab = await browser.openReplicaTab(new FakeSession());
    expect(tab.nodeId).not.toBe(lost.nodeId);
    expect(tab.origin).toBe('new');
  });

  it('a reload whose database is gone runs as a new id, never as the old one at dot 0 (its peers still hold the old versions)', async () => {
    const browser = new Browser();
    const session = new FakeSession();
    const before = await browser.openReplicaTab(session);
    before.release();
    browser.databases?.delete(before.databaseName);
    const after = await browser.openReplicaTab(session);
    expect(after.nodeId).not.toBe(before.nodeId);
    expect(after.origin).toBe('new');
    expect(session.getItem(SESSION_KEY)).toBe(after.nodeId);
  });

  it('a database left on disk before the registry existed is found and adopted', async () => {
    const browser = new Browser();
    browser.databases?.add('engram-garden-olddatabaseofatab2345');
    browser.databases?.add('engram-garden-sub-room-notthisroom2345');
    const tab = await browser.openReplicaTab(new FakeSession());
    expect(tab.nodeId).toBe('olddatabaseofatab2345');
    expect(tab.origin).toBe('adopted');
  });

  it('without a database listing, the registry alone is trusted', async () => {
    const browser = new Browser();
    browser.databases = undefined;
    const first = await browser.openReplicaTab(new FakeSession());
    first.release();
    expect((await browser.openReplicaTab(new FakeSession())).nodeId).toBe(first.nodeId);
  });

  it('without Web Locks, a replica whose holder answers the probe is not adopted; an unanswered one is, after the probe window', async () => {
    const browser = new Browser(1, { locks: false });
    const live = await browser.openReplicaTab(new FakeSession());
    const closed = await browser.openReplicaTab(new FakeSession());
    closed.release();
    const startedAt = browser.scheduler.now();
    const tab = await browser.openReplicaTab(new FakeSession());
    expect(tab.nodeId).toBe(closed.nodeId);
    expect(tab.origin).toBe('adopted');
    expect(tab.guard).toBe('broadcast-channel');
    expect(browser.scheduler.now() - startedAt).toBe(IDENTITY_TIMINGS.probeReplyMs);
    const another = await browser.openReplicaTab(new FakeSession());
    expect([live.nodeId, tab.nodeId]).not.toContain(another.nodeId);
    expect(another.origin).toBe('new');
  });

  it('without Web Locks, two tabs starting at the same instant never both take the idle replica', async () => {
    const browser = new Browser(1, { locks: false });
    const closed = await browser.openReplicaTab(new FakeSession());
    closed.release();
    const [a, b] = await settle(
      browser.scheduler,
      Promise.all([claimReplica(browser.replicaEnvironment(new FakeSession()), 'garden'), claimReplica(browser.replicaEnvironment(new FakeSession()), 'garden')]),
    );
    expect(a.nodeId).not.toBe(b.nodeId);
    // The first to probe was not heard by the second (its channel was not open yet) and takes the
    // replica; the second's probe reached the first, which answered for it, so it passed on it.
    expect([a.origin, b.origin]).toEqual(['adopted', 'new']);
    expect(a.nodeId).toBe(closed.nodeId);
  });

  it('with neither Web Locks nor BroadcastChannel a tab cannot tell a live holder from a closed one, so it never adopts', async () => {
    const browser = new Browser(1, { locks: false, channels: false });
    const first = await browser.openReplicaTab(new FakeSession());
    first.release();
    const tab = await browser.openReplicaTab(new FakeSession());
    expect(tab.nodeId).not.toBe(first.nodeId);
  });

  it('release marks the replica used now, so the registry orders by real last use', async () => {
    const browser = new Browser();
    const tab = await browser.openReplicaTab(new FakeSession());
    browser.scheduler.runUntil(60_000);
    tab.release();
    expect(readRegistry(browser.local, 'garden')).toEqual([
      { nodeId: tab.nodeId, databaseName: tab.databaseName, lastUsedAt: browser.wallClockAtStart + 60_000 },
    ]);
  });

  it('law: however tabs are opened, duplicated, reloaded and closed, no two live tabs share a replica, and with Web Locks no more replicas exist than tabs were ever open at once', async () => {
    type Step = { kind: 'open' } | { kind: 'duplicate' | 'reload' | 'close'; tab: number };
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      fc.constant<Step>({ kind: 'open' }),
      fc.record({ kind: fc.constantFrom('duplicate', 'reload', 'close'), tab: fc.nat(7) }) as fc.Arbitrary<Step>,
    );
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 14 }), fc.boolean(), fc.integer({ min: 1, max: 1_000 }), async (steps, withLocks, seed) => {
        const browser = new Browser(seed, { locks: withLocks });
        const live: { session: FakeSession; replica: Replica }[] = [];
        const everUsed = new Set<string>();
        let mostAtOnce = 0;
        for (const step of steps) {
          const target = live[step.kind === 'open' ? -1 : (step as { tab: number }).tab % Math.max(live.length, 1)];
          if (step.kind === 'open' || step.kind === 'duplicate') {
            if (step.kind === 'duplicate' && !target) continue;
            const session = step.kind === 'open' ? new FakeSession() : (target as { session: FakeSession }).session.copy();
            live.push({ session, replica: await browser.openReplicaTab(session) });
          } else if (target && step.kind === 'reload') {
            const before = target.replica.nodeId;
            target.replica.release();
            target.replica = await browser.openReplicaTab(target.session);
            expect(target.replica.nodeId).toBe(before);
          } else if (target) {
            target.replica.release();
            live.splice(live.indexOf(target), 1);
          }
          const ids = live.map((tab) => tab.replica.nodeId);
          expect(new Set(ids).size).toBe(ids.length);
          for (const id of ids) everUsed.add(id);
          mostAtOnce = Math.max(mostAtOnce, live.length);
          if (withLocks) expect(everUsed.size).toBeLessThanOrEqual(mostAtOnce);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('folding idle replicas', () => {
  const horizon = REPLICA_TIMINGS.foldAfterMs;

  async function threeReplicasThenOneTab(): Promise<{ browser: Browser; world: FoldWorld; live: Replica; idle: Replica[] }> {
    const browser = new Browser();
    const world = new FoldWorld(browser);
    const tabs = [await browser.openReplicaTab(new FakeSession()), await browser.openReplicaTab(new FakeSession()), await browser.openReplicaTab(new FakeSession())];
    for (const [index, tab] of tabs.entries()) world.contents.set(tab.databaseName, [storedRecord(`m${index}a`), storedRecord(`m${index}b`)]);
    for (const tab of tabs) tab.release();
    const live = await browser.openReplicaTab(new FakeSession());
    return { browser, world, live, idle: tabs.filter((tab) => tab.nodeId !== live.nodeId) };
  }

  it('replicas nobody adopted within the horizon are merged into the live one and their databases deleted', async () => {
    const { browser, world, live, idle } = await threeReplicasThenOneTab();
    browser.scheduler.runUntil(horizon);
    const report = await settle(browser.scheduler, live.foldIdle(world));
    expect(report.folded.sort()).toEqual(idle.map((tab) => tab.nodeId).sort());
    expect(report.records).toBe(4);
    expect(report.failed).toEqual([]);
    expect(world.absorbed.sort()).toEqual(['m0a', 'm0b', 'm1a', 'm1b', 'm2a', 'm2b'].filter((id) => !world.contents.get(live.databaseName)?.some((r) => r.id === id)).sort());
    expect([...(browser.databases ?? [])]).toEqual([live.databaseName]);
    expect(readRegistry(browser.local, 'garden').map((entry) => entry.nodeId)).toEqual([live.nodeId]);
    // Their locks were given back.
    for (const tab of idle) expect(browser.locks.isHeld(lockOf(tab.nodeId))).toBe(false);
  });

  it('a replica idle for less than the horizon is kept', async () => {
    const { browser, world, live } = await threeReplicasThenOneTab();
    browser.scheduler.runUntil(horizon - 1);
    const report = await settle(browser.scheduler, live.foldIdle(world));
    expect(report.folded).toEqual([]);
    expect(world.absorbed).toEqual([]);
    expect(browser.databases?.size).toBe(3);
  });

  it('a replica a live tab holds is never folded, however old its entry', async () => {
    const { browser, world, live, idle } = await threeReplicasThenOneTab();
    const [held] = idle;
    const heldTab = await browser.openReplicaTab(new FakeSession());
    expect(heldTab.nodeId).toBe(held!.nodeId);
    browser.scheduler.runUntil(2 * horizon);
    const report = await settle(browser.scheduler, live.foldIdle(world));
    expect(report.folded).toEqual([idle[1]!.nodeId]);
    expect(browser.databases?.has(heldTab.databaseName)).toBe(true);
  });

  it('a replica whose records could not be read keeps its database and is reported', async () => {
    const { browser, world, live, idle } = await threeReplicasThenOneTab();
    world.failLoadOf = idle[0]!.databaseName;
    browser.scheduler.runUntil(horizon);
    const report = await settle(browser.scheduler, live.foldIdle(world));
    expect(report.failed.map((failure) => [failure.nodeId, failure.error.message])).toEqual([[idle[0]!.nodeId, 'disk error']]);
    expect(report.folded).toEqual([idle[1]!.nodeId]);
    expect(browser.databases?.has(idle[0]!.databaseName)).toBe(true);
    expect(readRegistry(browser.local, 'garden').map((entry) => entry.nodeId).sort()).toEqual([live.nodeId, idle[0]!.nodeId].sort());
  });

  it('without Web Locks, a replica whose holder answers is not folded; one nobody answers for is', async () => {
    const browser = new Browser(1, { locks: false });
    const world = new FoldWorld(browser);
    const answering = await browser.openReplicaTab(new FakeSession());
    const closed = await browser.openReplicaTab(new FakeSession());
    closed.release();
    const live = await browser.openReplicaTab(new FakeSession());
    expect(live.nodeId).toBe(closed.nodeId);
    const gone = await browser.openReplicaTab(new FakeSession());
    gone.release();
    browser.scheduler.runUntil(browser.scheduler.now() + horizon);
    const report = await settle(browser.scheduler, live.foldIdle(world));
    expect(report.folded).toEqual([gone.nodeId]);
    expect(browser.databases?.has(answering.databaseName)).toBe(true);
  });
});
