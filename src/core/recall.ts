/**
 * Recall: which live memories match a query, and with what confidence this node can vouch for
 * them at its current visibility. Pure, so the node and any stand-in (the UI preview) agree.
 */
import { wallClockMs } from './hlc.js';
import { shownVersion } from './merge.js';
import type { Dot, MemoryId, MemoryRecord, NodeId, Version, Visibility } from './types.js';
import { compareDots } from './vector-clock.js';
import { adjustConfidence, visibilityWarning } from './visibility.js';

export interface RecallQuery {
  /** Every word must appear in the content or the tags (case-insensitive). */
  readonly text?: string;
  /** Every tag must be present. */
  readonly tags?: readonly string[];
  readonly limit?: number;
}

export interface RecallItem {
  readonly id: MemoryId;
  readonly content: string;
  readonly tags: readonly string[];
  /** The confidence the writer gave. */
  readonly confidence: number;
  /** `confidence` times the visibility penalty: what this node can vouch for right now. */
  readonly adjustedConfidence: number;
  readonly author: NodeId;
  /** When the memory was first written, wall-clock epoch ms; null for a memory an older store wrote (it kept no wall time). */
  readonly createdAt: number | null;
  /** When the shown version was written, wall-clock epoch ms (the writer's hybrid clock); null as for createdAt. */
  readonly writtenAt: number | null;
  /** The shown version's dot: the version `get` lists under this id. */
  readonly dot: Dot;
  readonly siblings: number;
  readonly conflict: boolean;
}

export interface RecallResult {
  /** The best `limit` matches, best first. */
  readonly results: readonly RecallItem[];
  /** How many live memories match in all, however many `limit` let through: counted in the same scan. */
  readonly matched: number;
  readonly visibility: Visibility;
  readonly warning?: string;
}

/**
 * Matches, best first: adjusted confidence, then most recent (hybrid timestamp, then dot), then id
 * (a total order, so replicas agree). This is the scan: it reads every record. The node answers
 * from recall-index.ts instead, which must return exactly what this returns (test/recall.test.ts).
 */
export function recall(
  records: Iterable<MemoryRecord>,
  query: RecallQuery,
  visibility: Visibility,
  inConflict: (record: MemoryRecord) => boolean,
): RecallResult {
  const { words, wantedTags, limit } = parseQuery(query);
  const ranking = new Ranking(limit, visibility, inConflict);
  for (const record of records) {
    const shown = shownVersion(record);
    if (shown.deleted) continue;
    if (wantedTags.length > 0 || words.length > 0) {
      const tags = shown.tags.map((tag) => tag.toLowerCase());
      if (!wantedTags.every((tag) => tags.includes(tag))) continue;
      const haystack = `${shown.content.toLowerCase()} ${tags.join(' ')}`;
      if (!words.every((word) => haystack.includes(word))) continue;
    }
    ranking.offer(record, shown);
  }
  return ranking.result();
}

/** A query as recall reads it: lower-cased words and tags, and the limit with its default. */
export interface ParsedQuery {
  readonly words: readonly string[];
  readonly wantedTags: readonly string[];
  readonly limit: number;
}

export function parseQuery(query: RecallQuery): ParsedQuery {
  return {
    words: (query.text ?? '').toLowerCase().split(/\s+/).filter((word) => word.length > 0),
    wantedTags: (query.tags ?? []).map((tag) => tag.toLowerCase()),
    limit: Math.max(0, query.limit ?? 20),
  };
}

/**
 * Collects matches in rank order and counts them: the one ranking both the scan and the index
 * use, so they cannot disagree on order. For the usual small limit only the best `limit` are
 * kept, in order, as they are found: a UI refreshing its list during a 10K-record heal then pays
 * O(n · limit) cheap comparisons per refresh instead of a sort of every memory. A large limit
 * collects and sorts once.
 */
export class Ranking {
  private readonly topK: boolean;
  private readonly best: Ranked[] = [];
  private matched = 0;

  constructor(
    private readonly limit: number,
    private readonly visibility: Visibility,
    private readonly inConflict: (record: MemoryRecord) => boolean,
  ) {
    this.topK = limit <= TOP_K_MAX;
  }

  /** Counts a match without ranking it: true when it could not enter the results (its adjusted confidence is below the worst kept). */
  countIfOutranked(confidence: number): boolean {
    if (this.limit > 0 && !(this.topK && this.best.length === this.limit)) return false;
    const worst = this.best[this.best.length - 1];
    if (this.limit > 0 && worst !== undefined && adjustConfidence(confidence, this.visibility) >= worst.item.adjustedConfidence) return false;
    this.matched++;
    return true;
  }

  /** A live record that matches the query, with the version it shows. */
  offer(record: MemoryRecord, shown: Version): void {
    this.matched++;
    const { limit, best } = this;
    if (limit === 0) return;
    const adjustedConfidence = adjustConfidence(shown.confidence, this.visibility);
    const worst = best[best.length - 1];
    if (this.topK && best.length === limit && worst !== undefined && !ranksBefore(adjustedConfidence, shown, record.id, worst)) return;
    const item: RecallItem = {
      id: record.id,
      content: shown.content,
      tags: shown.tags,
      confidence: shown.confidence,
      adjustedConfidence,
      author: shown.author,
      createdAt: wallClockMs(shown.createdAt) ?? null,
      writtenAt: wallClockMs(shown.writtenAt) ?? null,
      dot: shown.dot,
      siblings: record.siblings.length,
      conflict: this.inConflict(record),
    };
    const ranked: Ranked = { item, version: shown };
    if (!this.topK) {
      best.push(ranked);
      return;
    }
    let at = best.length;
    while (at > 0 && ranksBefore(adjustedConfidence, shown, record.id, best[at - 1] as Ranked)) at--;
    best.splice(at, 0, ranked);
    if (best.length > limit) best.pop();
  }

  result(): RecallResult {
    const { best, limit, matched, visibility } = this;
    if (!this.topK) best.sort((a, b) => (ranksBefore(a.item.adjustedConfidence, a.version, a.item.id, b) ? -1 : 1));
    const results = (this.topK ? best : best.slice(0, limit)).map((ranked) => ranked.item);
    const warning = visibilityWarning(visibility);
    return warning ? { results, matched, visibility, warning } : { results, matched, visibility };
  }
}

/** Limits up to this keep a sorted top list while scanning; larger ones sort all matches once. */
const TOP_K_MAX = 64;

/** A match with the version it shows: ranking uses the raw hybrid timestamp, finer than the item's wall-clock ms. */
interface Ranked {
  readonly item: RecallItem;
  readonly version: Version;
}

/**
 * The ranking: adjusted confidence, then most recent by hybrid timestamp (real write time across
 * tabs and reloads; an older store's monotone readings rank below all of them), then the greater
 * dot (two writers in the same logical instant), then id (a total order, so replicas agree).
 */
function ranksBefore(adjustedConfidence: number, shown: Version, id: string, other: Ranked): boolean {
  if (adjustedConfidence !== other.item.adjustedConfidence) return adjustedConfidence > other.item.adjustedConfidence;
  if (shown.writtenAt !== other.version.writtenAt) return shown.writtenAt > other.version.writtenAt;
  const byDot = compareDots(shown.dot, other.version.dot);
  if (byDot !== 0) return byDot > 0;
  return id < other.item.id;
}
