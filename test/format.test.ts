import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount } from '../src/ui/format.js';

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
