import { describe, expect, it } from 'vitest';
import type { HealReport } from '../src/core/heal.js';
import type { Member, Visibility } from '../src/core/types.js';
import type { LinkInfo } from '../src/ui/engram-handle.js';
import { describeStatus, linkProblem, type StatusInput } from '../src/ui/status.js';

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
});
