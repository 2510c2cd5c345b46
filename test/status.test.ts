import { describe, expect, it } from 'vitest';
import type { HealReport } from '../src/core/heal.js';
import type { Member, Visibility } from '../src/core/types.js';
import type { LinkInfo } from '../src/ui/engram-handle.js';
import { describeStatus, isolation, linkProblem, type StatusInput } from '../src/ui/status.js';

function member(id: string, state: Member['state']): Member {
  return { id, state, incarnation: 0, lastHeardAt: 0, stateChangedAt: 0 };
}

function input(overrides: Partial<StatusInput>): StatusInput {
  const visibility: Visibility = { visible: 1, total: 1, ratio: 1, penalty: 1, generation: 1 };
  return {
    room: 'garden',
    signalingConnected: true,
    links: [],
    members: [member('me', 'alive')],
    visibility,
    heal: { active: undefined, serving: [], last: undefined },
    ...overrides,
  };
}

function link(peer: string, lastError: string | undefined, state: LinkInfo['state'] = 'failed', lastErrorCode?: LinkInfo['lastErrorCode']): LinkInfo {
  return { peer, state, bytesIn: 0, bytesOut: 0, ...(lastError ? { lastError } : {}), ...(lastErrorCode ? { lastErrorCode } : {}) };
}

const keys = (lines: ReturnType<typeof describeStatus>) => lines.map((line) => line.key);

describe('status lines', () => {
  it('the transport messages of a secret mismatch, either side, read as a wrong secret; other auth failures and network errors do not', () => {
    expect(linkProblem(link('a', 'authentication failed: peer a did not prove knowledge of the room key'))).toBe('wrong-secret');
    expect(linkProblem(link('a', 'authentication failed: peer a refused our proof or our handshake'))).toBe('wrong-secret');
    expect(linkProblem(link('a', 'authentication failed: an SDP of this connection has no DTLS fingerprint'))).toBe('auth-failed');
    expect(linkProblem(link('a', 'the connection did not open in time'))).toBe('network');
    expect(linkProblem(link('a', undefined, 'failed', 'wrong-secret'))).toBe('wrong-secret');
    expect(linkProblem(link('a', 'anything', 'open'))).toBeUndefined();
  });

  it('a tab whose peers refused its secret is told so, and not that it is merely the first in the room', () => {
    const lines = describeStatus(input({ links: [link('a', 'authentication failed: peer a did not prove knowledge of the room key'), link('b', 'authentication failed: peer b refused our proof or our handshake')] }));
    expect(keys(lines)).toEqual(['peers-wrong-secret', 'signaling-connected']);
    expect(lines[0]!.text).toContain('2 peers in room “garden” could not prove the same room secret as this tab, so this tab is alone');
  });

  it('a partition says how many members are visible and what it costs reads; an interrupted heal is a note, not a failure', () => {
    const report: HealReport = {
      peer: 'c', session: 1, role: 'initiator', oneWay: false, outcome: 'aborted', startedAt: 0, finishedAt: 10,
      recordsSent: 0, recordsReceived: 0, bytesSent: 0, bytesReceived: 0, sides: [],
    };
    const lines = describeStatus(input({
      visibility: { visible: 3, total: 5, ratio: 0.6, penalty: 0.88, generation: 2 },
      heal: { active: undefined, serving: [], last: report },
    }));
    expect(lines.map((line) => [line.key, line.tone])).toEqual([
      ['partition', 'warn'],
      ['heal-interrupted', 'info'],
      ['signaling-connected', 'good'],
    ]);
    expect(lines[0]!.text).toContain('You see 3 of 5 members: reads may be incomplete');
  });

  it('without the optional signaling status a disconnected tab reads as unreachable', () => {
    expect(keys(describeStatus(input({ signalingConnected: false })))).toEqual(['signaling-unreachable', 'alone']);
  });

  it('a plain-http page is told what that costs', () => {
    const lines = describeStatus(input({ secureContext: false }));
    expect(lines[0]!.key).toBe('insecure-context');
    expect(lines[0]!.text).toContain('can be altered in transit');
  });

  it('a full store gives the usage and quota figures and says reads and forgets still work', () => {
    const MiB = 1024 * 1024;
    const [line] = describeStatus(input({ storage: { state: 'full', persisted: false, usageBytes: 20 * MiB, quotaBytes: 20 * MiB } }));
    expect(line).toEqual({
      key: 'storage-full',
      tone: 'bad',
      text: 'The browser’s storage for this site is full (20.0 MiB of 20.0 MiB used): new memories are not saved. Everything stored can still be read and forgotten; forget memories you no longer need, or free space for this site in the browser’s settings.',
    });
  });

  it('a vanished database is said with its cause, and that recall is refused', () => {
    const message = 'This tab’s database is gone (site data was cleared): nothing is saved any more.';
    const withPeers = { visible: 3, total: 3, ratio: 1, penalty: 1, generation: 1 };
    const [line] = describeStatus(input({ storage: { state: 'lost', persisted: true, message }, visibility: withPeers }));
    expect(line!.key).toBe('storage-lost');
    expect(line!.tone).toBe('bad');
    expect(line!.text).toBe(`${message} Recall is refused rather than answered from what this tab still holds in memory; peers still hold what they had, and a reload brings it back from them.`);
  });

  it('a vanished database in a tab with no peer does not promise that a reload brings the memories back', () => {
    const message = 'This tab’s database is gone (site data was cleared): nothing is saved any more.';
    const [line] = describeStatus(input({ storage: { state: 'lost', persisted: true, message }, visibility: { visible: 1, total: 1, ratio: 1, penalty: 1, generation: 1 } }));
    expect(line!.text).toContain('no other tab of this room is connected, so memories written only here are gone');
    expect(line!.text).not.toContain('a reload brings it back');
  });

  it('whether persistent storage was granted is said either way, with the figures; unknown says nothing without figures', () => {
    const figures = { usageBytes: 3 * 1024 * 1024, quotaBytes: 2 * 1024 * 1024 * 1024 };
    const granted = describeStatus(input({ storage: { state: 'ok', persisted: true, ...figures } })).find((line) => line.key.startsWith('storage'));
    expect(granted).toEqual({ key: 'storage-persisted', tone: 'good', text: 'Memories are saved on this device (3.0 MiB of 2.0 GiB used), and the browser granted persistent storage: it will not evict them.' });
    const refused = describeStatus(input({ storage: { state: 'ok', persisted: false, ...figures } })).find((line) => line.key.startsWith('storage'));
    expect(refused?.key).toBe('storage-evictable');
    expect(refused?.text).toContain('did not grant persistent storage');
    expect(keys(describeStatus(input({ storage: { state: 'ok', persisted: undefined } })))).toEqual(['alone', 'signaling-connected']);
  });

  it('background problems are listed newest first with their counts, three at most, the rest counted', () => {
    const problems = [
      { source: 'replica-fold' as const, message: 'Could not fold the idle replica n-old into this tab: gone', count: 1, lastAt: 1 },
      { source: 'storage' as const, code: 'storage-failed', message: 'Could not compact the record log: aborted', count: 2, lastAt: 2 },
      { source: 'peer-message' as const, code: 'truncated', message: 'message ends early', peer: 'b', count: 5, lastAt: 3 },
      { source: 'node' as const, message: 'commit failed', count: 1, lastAt: 4 },
    ];
    const lines = describeStatus(input({ problems }));
    expect(lines.filter((line) => line.key.startsWith('problem')).map((line) => [line.tone, line.text])).toEqual([
      ['bad', 'Background work of the node failed: commit failed'],
      ['bad', 'Background storage work failed, 2 times: Could not compact the record log: aborted'],
      ['warn', 'A message from a peer could not be read (peer b), 5 times: message ends early'],
      ['warn', '1 other background problem happened before these.'],
    ]);
  });

  it('a tab alone because every peer failed authentication is isolated; one with an open link, or merely first, is not', () => {
    const alone: Visibility = { visible: 1, total: 1, ratio: 1, penalty: 1, generation: 1 };
    const wrong = link('a', undefined, 'failed', 'wrong-secret');
    expect(isolation(alone, [wrong, link('b', 'authentication failed: an SDP of this connection has no DTLS fingerprint')])).toEqual({ refusedPeers: 2, reason: 'wrong-secret' });
    expect(isolation(alone, [link('b', 'authentication failed: an SDP of this connection has no DTLS fingerprint')])).toEqual({ refusedPeers: 1, reason: 'auth-failed' });
    expect(isolation(alone, [])).toBeUndefined();
    expect(isolation(alone, [link('n', 'the connection did not open in time')])).toBeUndefined();
    expect(isolation(alone, [wrong, link('c', undefined, 'open')])).toBeUndefined();
    expect(isolation({ visible: 2, total: 2, ratio: 1, penalty: 1, generation: 2 }, [wrong])).toBeUndefined();
  });

  it('a heal that ended with the replicas still different, as happens while writes continue, is a note, not a warning', () => {
    const report: HealReport = {
      peer: 'c', session: 2, role: 'initiator', oneWay: false, outcome: 'diverged', startedAt: 0, finishedAt: 10,
      recordsSent: 1, recordsReceived: 0, bytesSent: 396, bytesReceived: 210, sides: [],
    };
    const lines = describeStatus(input({ heal: { active: undefined, serving: [], last: report } }));
    expect(lines.find((line) => line.key === 'heal-diverged')?.tone).toBe('info');
  });
});
