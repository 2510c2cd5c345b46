/** A timestamp as people read it: "2 min ago" in a <time> element with the full time on hover. */
import { html } from 'lit';
import { formatFullTime, formatRelativeTime, toEpochMs } from './format.js';

/** `timestamp` is a store or node time (epoch ms, or performance.now() until every writer is wall-clock). */
export function timeAgo(timestamp: number, nowEpochMs: number = Date.now()) {
  const epochMs = toEpochMs(timestamp);
  return html`<time datetime=${new Date(epochMs).toISOString()} title=${formatFullTime(epochMs)}>${formatRelativeTime(epochMs, nowEpochMs)}</time>`;
}
