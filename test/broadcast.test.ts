import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BroadcastQueue, retransmitLimit } from '../src/core/broadcast.js';

describe('retransmit limit', () => {
  it('is retransmitMult * ceil(log10(n + 1))', () => {
    expect(retransmitLimit(4, 1)).toBe(4);
    expect(retransmitLimit(4, 5)).toBe(4);
    expect(retransmitLimit(4, 9)).toBe(4);
    expect(retransmitLimit(4, 10)).toBe(8);
    expect(retransmitLimit(4, 200)).toBe(12);
    expect(retransmitLimit(4, 1_000)).toBe(16);
  });
});

describe('piggyback queue', () => {
  it('hands out at most the requested number of items per message', () => {
    const queue = new BroadcastQueue<string>();
    for (let i = 0; i < 20; i++) queue.enqueue(`n${i}`, `r${i}`);
    expect(queue.take(8, 4)).toHaveLength(8);
    expect(queue.take(0, 4)).toEqual([]);
  });

  it('sends the least transmitted items first, oldest first among equals', () => {
    const queue = new BroadcastQueue<string>();
    queue.enqueue('a', 'A');
    queue.enqueue('b', 'B');
    expect(queue.take(1, 4)).toEqual(['A']);
    queue.enqueue('c', 'C');
    // B and C have never been sent; A has once.
    expect(queue.take(2, 4)).toEqual(['B', 'C']);
    expect(queue.take(3, 4)).toEqual(['A', 'B', 'C']);
  });

  it('sends each item at most `limit` times and then forgets it', () => {
    const queue = new BroadcastQueue<string>();
    queue.enqueue('a', 'A');
    const sent = [];
    for (let i = 0; i < 10; i++) sent.push(...queue.take(8, 3));
    expect(sent).toEqual(['A', 'A', 'A']);
    expect(queue.size).toBe(0);
  });

  it('replaces a queued item by a newer one about the same key, with a fresh count', () => {
    const queue = new BroadcastQueue<string>();
    queue.enqueue('a', 'suspect a');
    queue.take(8, 3);
    queue.take(8, 3);
    queue.enqueue('a', 'dead a');
    expect(queue.size).toBe(1);
    const sent = [];
    for (let i = 0; i < 10; i++) sent.push(...queue.take(8, 3));
    expect(sent).toEqual(['dead a', 'dead a', 'dead a']);
  });

  it('sends urgent items before all others, whatever their counts', () => {
    const queue = new BroadcastQueue<string>();
    for (let i = 0; i < 10; i++) queue.enqueue(`n${i}`, `r${i}`);
    queue.enqueue('me', 'refutation', true);
    queue.take(1, 5);
    expect(queue.take(1, 5)).toEqual(['refutation']);
    expect(queue.take(2, 5)).toEqual(['refutation', 'r0']);
  });

  it('drops items already sent as often as a smaller cluster needs', () => {
    const queue = new BroadcastQueue<string>();
    queue.enqueue('a', 'A');
    queue.take(8, 12);
    queue.take(8, 12);
    expect(queue.take(8, 2)).toEqual([]);
    expect(queue.size).toBe(0);
  });

  it('never sends an item more than the limit, never holds more than one item per key, and sends every item it holds', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('enqueue' as const), key: fc.integer({ min: 0, max: 6 }), urgent: fc.boolean() }),
      fc.record({ kind: fc.constant('take' as const), max: fc.integer({ min: 0, max: 4 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 80 }), (limit, ops) => {
        const queue = new BroadcastQueue<number>();
        const sentCount = new Map<number, number>();
        const keyOf = new Map<number, number>();
        let version = 0;
        for (const o of ops) {
          if (o.kind === 'enqueue') {
            keyOf.set(version, o.key);
            queue.enqueue(String(o.key), version++, o.urgent);
          } else {
            const items = queue.take(o.max, limit);
            expect(items.length).toBeLessThanOrEqual(o.max);
            expect(new Set(items.map((v) => keyOf.get(v))).size).toBe(items.length);
            for (const item of items) sentCount.set(item, (sentCount.get(item) ?? 0) + 1);
          }
          expect(queue.size).toBeLessThanOrEqual(new Set(keyOf.values()).size);
        }
        for (const count of sentCount.values()) expect(count).toBeLessThanOrEqual(limit);
        // Drained, every item still held goes out before the queue is empty.
        while (queue.size > 0) {
          const items = queue.take(3, limit);
          expect(items.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 400 },
    );
  });
});
