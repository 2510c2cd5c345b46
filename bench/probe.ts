/**
 * The benchmark's counters, kept off the production handle: installed into a page by the bench
 * (never by the app), as `window.engramBench`, from nothing but the public `window.engram` handle
 * (its events and `stats()`). Counting starts when it is installed, so the bench installs it once
 * the page is ready and reads differences from then on.
 */
import type { Page } from '@playwright/test';

export interface HealTotals {
  readonly sessions: number;
  readonly recordsSent: number;
  readonly recordsReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

export interface BenchProbe {
  /** Totals over every heal session this node took part in (both roles) since the probe was installed. */
  healTotals(): HealTotals;
  /**
   * How many times this node saw a member go from alive to suspect or dead since `sinceMs`
   * (performance.now). Every such change counts, whether the member had failed or not: only in a
   * window where no member failed are these false suspicions.
   */
  aliveToDownSince(sinceMs: number): number;
  /** Histogram of link-header clock bytes per message sent since the node started, as [bytes, messages] pairs. */
  clockBytesHistogram(): [number, number][];
}

declare global {
  interface Window {
    engramBench?: BenchProbe;
  }
}

/**
 * Installs the probe in the page (idempotent). A function, not a string, for the type checker;
 * it uses no named closures (tsx would wrap those in a `__name` helper the page does not have).
 */
export async function installProbe(page: Page): Promise<void> {
  await page.evaluate(() => {
    if (window.engramBench !== undefined) return;
    const engram = window.engram;
    if (engram === undefined) throw new Error('the page has no window.engram to probe');
    const totals = { sessions: 0, recordsSent: 0, recordsReceived: 0, bytesSent: 0, bytesReceived: 0 };
    const downAt: number[] = [];
    engram.on('heal', (report) => {
      totals.sessions += 1;
      totals.recordsSent += report.recordsSent;
      totals.recordsReceived += report.recordsReceived;
      totals.bytesSent += report.bytesSent;
      totals.bytesReceived += report.bytesReceived;
    });
    engram.on('membership', ({ member, previous }) => {
      if (previous?.state === 'alive' && (member.state === 'suspect' || member.state === 'dead')) downAt.push(performance.now());
    });
    window.engramBench = {
      healTotals() {
        return { ...totals };
      },
      aliveToDownSince(sinceMs) {
        return downAt.filter((at) => at >= sinceMs).length;
      },
      clockBytesHistogram() {
        return [...engram.stats().node.clockBytes.entries()];
      },
    };
  });
}
