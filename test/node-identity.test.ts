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
