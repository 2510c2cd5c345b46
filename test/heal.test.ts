import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../src/core/config.js';
import type { EngramConfig } from '../src/core/config.js';
import { recordDigest } from '../src/core/digest.js';
import { Healer, type HealHost, type HealProgress, type HealReport } from '../src/core/heal.js';
import { mergeRecords } from '../src/core/merge.js';
import type { MemoryId, MemoryRecord, Version } from '../src/core/types.js';
import { healLevelFor, MerkleTree } from '../src/core/merkle.js';
import { SeededRandom } from '../src/core/random.js';
import { VirtualScheduler } from '../src/sim/scheduler.js';

/** A healer whose messages go nowhere: what a peer whose link is still reconnecting looks like. */
function unansweredHealer() {
  const scheduler = new VirtualScheduler();
  const finished: HealReport[] = [];
  const sent: string[] = [];
  const healer = new Healer({
    self: 'a',
    config: DEFAULT_CONFIG,
    scheduler,
    random: new SeededRandom(1),
    tree: new MerkleTree({ arity: DEFAULT_CONFIG.merkleArity, maxDepth: DEFAULT_CONFIG.merkleMaxDepth }),
    record: () => undefined,
    send: (_peer, message) => {
      sent.push(message.type);
      return 1;
    },
    apply: async () => [],
    frontier: () => ({}),
    learnFrontier: () => undefined,
    shipOrDrop: (ids) => [...ids],
    generationLogs: () => [],
    learnGenerations: () => undefined,
    generationEntry: () => undefined,
    progress: () => undefined,
    finished: (report) => void finished.push(report),
  });
  return { scheduler, healer, finished, sent };
}

describe('Healer timeouts', () => {
  it('gives up on an unanswered heal-open after healOpenTimeoutMs, not a whole step, and is free for the next peer', () => {
    const { scheduler, healer, finished, sent } = unansweredHealer();
    expect(healer.open('b')).toBe(true);
    expect(sent).toEqual(['heal-open']);
    scheduler.runUntil(DEFAULT_CONFIG.healOpenTimeoutMs - 1);
    expect(healer.busy).toBe(true);
    scheduler.runUntil(DEFAULT_CONFIG.healOpenTimeoutMs);
    expect(finished.map((report) => [report.peer, report.outcome, report.finishedAt - report.startedAt])).toEqual([['b', 'aborted', DEFAULT_CONFIG.healOpenTimeoutMs]]);
    expect(healer.busy).toBe(false);
    expect(healer.open('c')).toBe(true);
  });
});

const drainMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Replicas whose healers talk over an in-memory bus, 1 ms per message, merging what they receive. */
function replicas(contents: Record<string, MemoryRecord[]>, config: Partial<EngramConfig> = {}) {
  const scheduler = new VirtualScheduler();
  const reports: HealReport[] = [];
  const progress: (HealProgress & { self: string })[] = [];
  const sent: { from: string; to: string; message: Parameters<HealHost['send']>[1] }[] = [];
  const all = new Map<string, { healer: Healer; store: Map<MemoryId, MemoryRecord>; tree: MerkleTree; recordsIn: number }>();
  for (const [self, records] of Object.entries(contents)) {
    const store = new Map(records.map((record) => [record.id, record]));
    const tree = new MerkleTree({ arity: DEFAULT_CONFIG.merkleArity, maxDepth: DEFAULT_CONFIG.merkleMaxDepth });
    for (const record of records) tree.set(record.id, recordDigest(record));
    const replica = { store, tree, recordsIn: 0, healer: undefined as unknown as Healer };
    replica.healer = new Healer({
      self,
      config: { ...DEFAULT_CONFIG, ...config },
      scheduler,
      random: new SeededRandom(self.charCodeAt(0)),
      tree,
      record: (id) => store.get(id),
      send: (peer, message) => {
        sent.push({ from: self, to: peer, message });
        scheduler.setTimer(1, () => all.get(peer)?.healer.handle(self, message, 1));
        return 1;
      },
      apply: async (received) => {
        replica.recordsIn += received.length;
        for (const record of received) {
          const mine = store.get(record.id);
          const merged = mine ? mergeRecords(mine, record) : record;
          store.set(record.id, merged);
          tree.set(record.id, recordDigest(merged));
        }
        return [];
      },
      frontier: () => ({}),
      learnFrontier: () => undefined,
      shipOrDrop: (ids) => [...ids],
      generationLogs: () => [],
      learnGenerations: () => undefined,
      generationEntry: () => undefined,
      progress: (update) => void progress.push({ ...update, self }),
      finished: (report) => void reports.push({ ...report, self } as HealReport & { self: string }),
    });
    all.set(self, replica);
  }
  const of = (self: string) => all.get(self)!;
  const reportOf = (self: string, peer: string) => reports.find((report) => (report as HealReport & { self: string }).self === self && report.peer === peer);
  /** The scheduler's timers up to `until`, with the storage promises they set off settled between them. */
  const run = async (until: number) => {
    for (let next = scheduler.peekTime(); next !== undefined && next <= until; next = scheduler.peekTime()) {
      scheduler.step();
      await drainMicrotasks();
    }
    scheduler.runUntil(until);
  };
  const sessionOf = (self: string, peer: string) => progress.find((update) => update.self === self && update.peer === peer)?.session;
  return { run, of, reports, reportOf, sessionOf, sent };
}

function note(id: MemoryId, writer: string, counter: number, content = `${id} by ${writer}`): MemoryRecord {
  const version: Version = {
    content,
    tags: [],
    confidence: 0.9,
    deleted: false,
    dot: { node: writer, counter },
    context: { [writer]: counter },
    createdAt: 1,
    author: writer,
    writtenAt: 1,
    generation: 1,
  };
  return { id, siblings: [version] };
}

const notes = (writer: string, count: number, offset = 0) => Array.from({ length: count }, (_, k) => note(`${writer}-${k}`, writer, offset + k + 1));

describe('Healer serving one-way while it receives', async () => {
  // 30 keys: one level, so the server lists its keys and the opener answers; 300: two, the other way round.
  it.each([30, 300])('a node busy receiving from one peer serves another: the opener gets all it lacks, the server takes nothing (%i keys)', async (count) => {
    // b and c hold different versions of "shared" (a contested key), and each holds notes the other lacks.
    const { run, of, reportOf } = replicas({
      a: notes('a', count),
      b: [...notes('b', count), note('shared', 'b', count + 1, 'the meeting is at 11')],
      c: [...notes('c', count), note('shared', 'c', count + 1, 'the meeting is at 12')],
    });
    expect(of('a').healer.open('b')).toBe(true);
    await run(3); // b has accepted a: it is receiving.
    expect(of('b').healer.busy).toBe(true);
    expect(of('c').healer.open('b')).toBe(true);
    await run(5_000);
    expect(reportOf('c', 'b')).toMatchObject({ role: 'initiator', oneWay: true, outcome: 'pulled', recordsSent: 0 });
    expect(reportOf('b', 'c')).toMatchObject({ role: 'responder', oneWay: true, outcome: 'served', recordsReceived: 0 });
    expect(reportOf('a', 'b')).toMatchObject({ oneWay: false, outcome: 'converged' });
    // c pulled every one of b's notes and b's version of the contested key, which it merged with its own.
    for (const record of notes('b', count)) expect(of('c').store.has(record.id)).toBe(true);
    expect(of('c').store.get('shared')!.siblings.map((sibling) => sibling.content).sort()).toEqual(['the meeting is at 11', 'the meeting is at 12']);
    // b took nothing from c: none of c's notes, and its own version of the contested key only.
    expect([...of('b').store.keys()].some((id) => id.startsWith('c-'))).toBe(false);
    expect(of('b').store.get('shared')!.siblings.map((sibling) => sibling.content)).toEqual(['the meeting is at 11']);
    expect(of('b').recordsIn).toBe(count); // a's notes, from the two-way session
    expect(of('b').healer.servingPeers).toEqual([]);
  });

  it('serves at most healMaxServing peers at once; the next opener is told busy', async () => {
    const { run, of, reportOf } = replicas({ a: notes('a', 50), b: notes('b', 50), c: notes('c', 50), d: notes('d', 50) }, { healMaxServing: 1 });
    of('a').healer.open('b');
    await run(3);
    of('c').healer.open('b');
    await run(5);
    expect(of('b').healer.servingPeers).toEqual(['c']);
    of('d').healer.open('b');
    await run(5_000);
    expect(reportOf('d', 'b')?.outcome).toBe('busy');
    expect(reportOf('c', 'b')?.outcome).toBe('pulled');
  });

  it('a peer that sends records into a session it is being served in is cut off', async () => {
    const { run, of, reportOf, sessionOf } = replicas({ a: notes('a', 50), b: notes('b', 50), c: notes('c', 50) });
    of('a').healer.open('b');
    await run(3);
    of('c').healer.open('b');
    await run(5);
    expect(of('b').healer.servingPeers).toEqual(['c']);
    of('b').healer.handle('c', { type: 'heal-records', session: sessionOf('b', 'c')!, records: notes('c', 5), final: false }, 100);
    expect(reportOf('b', 'c')).toMatchObject({ outcome: 'aborted', oneWay: true });
    expect([...of('b').store.keys()].some((id) => id.startsWith('c-'))).toBe(false);
  });
});

describe('Healer descent', () => {
  const shared = notes('s', 5_000);
  const changed = (count: number) => shared.map((record, k) => (k < count ? note(record.id, 'b', k + 1, `changed ${k}`) : record));
  const keysLevel = (sent: { message: { type: string } }[]) =>
    sent.map(({ message }) => message).filter((message): message is { type: 'heal-keys'; level: number } & typeof message => message.type === 'heal-keys').map((message) => message.level);

  it('with few keys changed, descends to the stop level before listing keys', async () => {
    const { run, of, reportOf, sent } = replicas({ a: shared, b: changed(10) });
    of('a').healer.open('b');
    await run(5_000);
    expect(reportOf('a', 'b')?.outcome).toBe('converged');
    expect(healLevelFor(5_000, DEFAULT_CONFIG.merkleArity, DEFAULT_CONFIG.merkleMaxDepth, DEFAULT_CONFIG.merkleKeysPerBucket)).toBe(3);
    expect(keysLevel(sent)).toEqual([3]);
  });

  it('with most nodes differing, lists keys as soon as that is cheaper than another level of hashes', async () => {
    // Eight keys per finest bucket wanted: the stop level is the finest, 4. After 2,000 of 5,000 keys
    // changed, nearly every level-3 node differs and holds ~1.2 keys: their 12-byte listings are far
    // less than the 16 hashes per node a fourth level would send.
    const config = { merkleKeysPerBucket: 0.25 };
    expect(healLevelFor(5_000, DEFAULT_CONFIG.merkleArity, DEFAULT_CONFIG.merkleMaxDepth, config.merkleKeysPerBucket)).toBe(4);
    const { run, of, reportOf, sent } = replicas({ a: shared, b: changed(2_000) }, config);
    of('a').healer.open('b');
    await run(5_000);
    expect(reportOf('a', 'b')?.outcome).toBe('converged');
    expect(keysLevel(sent)).toEqual([3]);
    expect(sent.some(({ message }) => message.type === 'heal-level' && message.level === 4)).toBe(false);
    // Each of the 2,000 changed keys: the shared version by s and b's concurrent one, side by side; the rest: s's alone.
    for (const [k, record] of shared.entries()) {
      expect(of('a').store.get(record.id)?.siblings.map((version) => version.dot.node).sort(), record.id).toEqual(k < 2_000 ? ['b', 's'] : ['s']);
    }
    expect(of('a').tree.root()).toEqual(of('b').tree.root());
  });
});

describe('Healer sizing', () => {
  it('heals 100 changed keys of 10,000 by listing the 319 keys of the 98 differing level-3 buckets and shipping only the 100', async () => {
    // The figures test/merkle.test.ts derives from the tree alone (ids at fixed sha256 positions), here sent by a Healer.
    const ours = Array.from({ length: 10_000 }, (_, i) => note(`memory-${i}`, 's', i + 1));
    const changedIndexes = new Set(Array.from({ length: 100 }, (_, i) => i * 97));
    const theirs = ours.map((record, i) => (changedIndexes.has(i) ? note(record.id, 'b', i + 1, `concurrent edit ${i}`) : record));
    const { run, of, reportOf, sent } = replicas({ a: ours, b: theirs });
    of('a').healer.open('b');
    await run(10_000);
    expect(reportOf('a', 'b')?.outcome).toBe('converged');
    const listed = (from: string) =>
      sent.filter((entry) => entry.from === from).flatMap(({ message }) => (message.type === 'heal-keys' ? [{ level: message.level, buckets: message.buckets.length, keys: message.buckets.reduce((sum, bucket) => sum + bucket.keys.length, 0) }] : []));
    const shipped = (from: string) => sent.filter((entry) => entry.from === from).reduce((sum, { message }) => sum + (message.type === 'heal-records' ? message.records.length : 0), 0);
    // The responder lists its keys once, at the stop level; the opener answers with what it wants.
    expect(listed('a')).toEqual([]);
    expect(listed('b')).toEqual([{ level: 3, buckets: 98, keys: 319 }]);
    // Each side ships its version of each changed key, and nothing else.
    expect([shipped('a'), shipped('b'), of('a').recordsIn, of('b').recordsIn]).toEqual([100, 100, 100, 100]);
    expect(of('a').tree.root()).toEqual(of('b').tree.root());
  });
});
