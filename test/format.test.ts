import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatRelativeTime, linkSummary, toEpochMs } from '../src/ui/format.js';

describe('UI number formats', () => {
  it('counts get thousands separators, whatever the page locale', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(24_000)).toBe('24,000');
    expect(formatCount(1_234_567)).toBe('1,234,567');
  });

  it('bytes use binary units with one decimal', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(2_875_878)).toBe('2.7 MiB');
  });
});

describe('the topology header', () => {
  const members = [
    { id: 'b', state: 'alive' },
    { id: 'c', state: 'dead' },
    { id: 'd', state: 'suspect' },
  ];

  it('counts open links, and apart from them the open ones whose member does not answer (a soft partition)', () => {
    expect(linkSummary([{ peer: 'b', state: 'open' }], members)).toBe('1 open link');
    expect(linkSummary([{ peer: 'b', state: 'open' }, { peer: 'c', state: 'open' }], members)).toBe('1 open link · 1 open link to a member not answering');
    expect(linkSummary([{ peer: 'c', state: 'open' }, { peer: 'd', state: 'open' }, { peer: 'b', state: 'failed' }], members)).toBe('0 open links · 2 open links to members not answering');
    // A link to a peer not yet a member counts as open: nothing says it does not answer.
    expect(linkSummary([{ peer: 'e', state: 'open' }, { peer: 'b', state: 'connecting' }], members)).toBe('1 open link');
  });
});

describe('UI times', () => {
  const origin = 1_764_662_400_000; // 2025-12-02T08:00:00Z, a page's performance.timeOrigin

  it('a wall-clock timestamp is kept as it is; a performance.now() one is offset by the time origin', () => {
    expect(toEpochMs(1_764_662_512_345, origin)).toBe(1_764_662_512_345);
    expect(toEpochMs(12_345.5, origin)).toBe(origin + 12_345.5);
    expect(toEpochMs(0, origin)).toBe(origin);
  });

  it('relative times read in the unit a person would say', () => {
    const now = origin + 10 * 86_400_000;
    expect(formatRelativeTime(now - 3_000, now)).toBe('just now');
    expect(formatRelativeTime(now + 60_000, now)).toBe('just now');
    expect(formatRelativeTime(now - 45_000, now)).toBe('45 s ago');
    expect(formatRelativeTime(now - 2 * 60_000, now)).toBe('2 min ago');
    expect(formatRelativeTime(now - 3 * 3_600_000, now)).toBe('3 h ago');
    expect(formatRelativeTime(now - 4 * 86_400_000, now)).toBe('4 days ago');
  });
});
