/**
 * The UI preview (FakeEngramHandle) writes through the node's own rules (src/core/local-write.ts):
 * a resolution is stamped from the version the queue showed, and arguments fail as a live tab's do.
 */
import { describe, expect, it } from 'vitest';
import { addVersion } from '../src/core/merge.js';
import type { MemoryRecord, Version } from '../src/core/types.js';
import { FakeEngramHandle } from '../src/ui/fake-handle.js';

const EPOCH_MS = 1_764_000_000_000;

function version(node: string, confidence: number, createdAgoMs: number, content: string): Version {
  return {
    dot: { node, counter: 1 },
    context: {},
    content,
    tags: [node.slice(0, 1)],
    confidence,
    deleted: false,
    createdAt: EPOCH_MS - createdAgoMs,
    author: node,
    writtenAt: EPOCH_MS - createdAgoMs,
    generation: 1,
  };
}

/** Two concurrent versions: the first in sibling order (a-node) is not the one shown (b-node, higher confidence). */
function conflicted(): MemoryRecord {
  const low = version('a-node-0000', 0.4, 60_000, 'the low-confidence edit');
  const high = version('b-node-0000', 0.9, 30_000, 'the high-confidence edit');
  return addVersion(addVersion(undefined, 'm-1', low), 'm-1', high);
}

function handle(records: readonly MemoryRecord[]): FakeEngramHandle {
  return new FakeEngramHandle({ id: 'self-node-0', room: 'r', generation: 2, members: [{ id: 'self-node-0', state: 'alive', incarnation: 0, lastHeardAt: undefined, stateChangedAt: EPOCH_MS }], records, now: () => EPOCH_MS, wallNow: () => EPOCH_MS });
}

describe('the UI preview writes as the node does', () => {
  it('a conflict resolved with new content keeps the shown version’s author, creation time, tags and confidence', async () => {
    const record = conflicted();
    expect(record.siblings.map((sibling) => sibling.author)).toEqual(['a-node-0000', 'b-node-0000']);
    const fake = handle([record]);
    await fake.resolve('m-1', { content: 'merged by hand' });
    const { results } = await fake.recall({});
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({
      id: 'm-1',
      content: 'merged by hand',
      author: 'b-node-0000',
      createdAt: EPOCH_MS - 30_000,
      writtenAt: EPOCH_MS,
      tags: ['b'],
      confidence: 0.9,
      siblings: 1,
      conflict: false,
    });
  });

  it('forget and resolve check the id first, as the node does', async () => {
    const fake = handle([conflicted()]);
    await expect(fake.forget('')).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(fake.resolve('', { content: 'x' })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(fake.forget('m-unknown')).rejects.toMatchObject({ code: 'not-found' });
  });
});
