/** A timestamp as people read it: "2 min ago" in a <time> element with the full time on hover. */
import { html } from 'lit';
import { formatFullTime, formatRelativeTime, toEpochMs } from './format.js';

/**
 * `timestamp` is a store or node time (epoch ms, or performance.now() until every writer is
 * wall-clock); null is a version an older store wrote, whose clock restarted on every page load.
 */
export function timeAgo(timestamp: number | null, nowEpochMs: number = Date.now()) {
  if (timestamp === null) return html`<span title="Written by an older version of the store, which kept no wall-clock time">at an unknown time</span>`;
  const epochMs = toEpochMs(timestamp);
  return html`<time datetime=${new Date(epochMs).toISOString()} title=${formatFullTime(epochMs)}>${formatRelativeTime(epochMs, nowEpochMs)}</time>`;
}
