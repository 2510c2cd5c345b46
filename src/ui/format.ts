/** How figures read on screen: one place, so every panel writes bytes, times and ratios alike. */

/** "0.4 s ago", "12 s ago", "3 min ago"; "never" when nothing was heard. */
export function formatAgo(thenMs: number | undefined, nowMs: number): string {
  if (thenMs === undefined) return 'never';
  const elapsedSeconds = Math.max(0, nowMs - thenMs) / 1000;
  if (elapsedSeconds < 10) return `${elapsedSeconds.toFixed(1)} s ago`;
  if (elapsedSeconds < 120) return `${Math.round(elapsedSeconds)} s ago`;
  if (elapsedSeconds < 7200) return `${Math.round(elapsedSeconds / 60)} min ago`;
  return `${Math.round(elapsedSeconds / 3600)} h ago`;
}

export function formatDuration(durationMs: number): string {
  if (durationMs < 1000) return `${Math.round(durationMs)} ms`;
  if (durationMs < 120_000) return `${(durationMs / 1000).toFixed(1)} s`;
  return `${Math.round(durationMs / 60_000)} min`;
}

/** Binary units, because the figures are compared with buffer and message limits set in KiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  // Site quotas are often tens of GiB (Chromium grants a share of the disk).
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(1)} GiB`;
}

/** One formatter for every call: toLocaleString builds a new Intl.NumberFormat each time, which showed in heal profiles. */
const COUNT_FORMAT = new Intl.NumberFormat('en-US');

export function formatCount(count: number): string {
  return COUNT_FORMAT.format(count);
}

/** "1 version", "2 versions", "1,024 records": the count with its noun in the right number. */
export function countOf(count: number, singular: string, plural = `${singular}s`): string {
  return `${formatCount(count)} ${count === 1 ? singular : plural}`;
}

/** Confidences and factors in [0, 1], to two places: finer differences mean nothing to a reader. */
export function formatFactor(value: number): string {
  return value.toFixed(2);
}

export function formatPercent(ratio: number): string {
  return `${Math.round(ratio * 100)}%`;
}

/** Splits "a, b ,,c" into ["a", "b", "c"]. */
export function parseTags(text: string): string[] {
  return text
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag.length > 0);
}

/** The message to show for a rejected promise: EngramError and friends carry one a person understands. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Below this a timestamp cannot be wall-clock epoch ms (it would be before 2001): it is a
 * performance.now() reading, which the node's versions and heal reports carried before they were
 * made wall-clock. One rule here, so the UI reads both until every writer has moved.
 */
const EPOCH_MS_MIN = 1_000_000_000_000;

/** A store or node timestamp as wall-clock epoch ms: epoch values as they are, performance.now() ones offset by the page's time origin. */
export function toEpochMs(timestamp: number, timeOrigin: number = performance.timeOrigin): number {
  return timestamp >= EPOCH_MS_MIN ? timestamp : timeOrigin + timestamp;
}

/** "just now", "45 s ago", "2 min ago", "3 h ago", "4 days ago"; a time ahead of the clock (another device's) reads "just now". */
export function formatRelativeTime(epochMs: number, nowEpochMs: number): string {
  const seconds = Math.round((nowEpochMs - epochMs) / 1000);
  if (seconds < 10) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

const FULL_TIME_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** The full local date and time, for a tooltip beside a relative time. */
export function formatFullTime(epochMs: number): string {
  return FULL_TIME_FORMAT.format(epochMs);
}

/**
 * The topology header: open links, and apart from them the open ones whose member does not
 * answer. In a soft partition (faults.block) the data channels stay open while the member is
 * dead to this tab; "2 open links" beside a dead member read as if it were reachable.
 */
export function linkSummary(links: readonly { readonly peer: string; readonly state: string }[], members: readonly { readonly id: string; readonly state: string }[]): string {
  const stateOf = new Map(members.map((member) => [member.id, member.state] as const));
  const open = links.filter((link) => link.state === 'open');
  const silent = open.filter((link) => {
    const state = stateOf.get(link.peer);
    return state !== undefined && state !== 'alive';
  }).length;
  const answering = countOf(open.length - silent, 'open link');
  if (silent === 0) return answering;
  return `${answering} · ${countOf(silent, 'open link')} to ${silent === 1 ? 'a member' : 'members'} not answering`;
}
