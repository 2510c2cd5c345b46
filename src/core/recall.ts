/**
 * Recall: which live memories match a query, and with what confidence this node can vouch for
 * them at its current visibility. Pure, so the node and any stand-in (the UI preview) agree.
 */
import { shownVersion } from './merge.js';
import type { MemoryId, MemoryRecord, NodeId, Visibility } from './types.js';
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
  readonly createdAt: number;
  readonly writtenAt: number;
  readonly siblings: number;
  readonly conflict: boolean;
}

export interface RecallResult {
  readonly results: readonly RecallItem[];
  readonly visibility: Visibility;
  readonly warning?: string;
}

/** Matches, best first: adjusted confidence, then most recent, then id (a total order, so replicas agree). */
export function recall(
  records: Iterable<MemoryRecord>,
  query: RecallQuery,
  visibility: Visibility,
  inConflict: (record: MemoryRecord) => boolean,
): RecallResult {
  const words = (query.text ?? '').toLowerCase().split(/\s+/).filter((word) => word.length > 0);
  const wantedTags = (query.tags ?? []).map((tag) => tag.toLowerCase());
  const matches: RecallItem[] = [];
  for (const record of records) {
    const shown = shownVersion(record);
    if (shown.deleted) continue;
    const tags = shown.tags.map((tag) => tag.toLowerCase());
    if (!wantedTags.every((tag) => tags.includes(tag))) continue;
    const haystack = `${shown.content.toLowerCase()} ${tags.join(' ')}`;
    if (!words.every((word) => haystack.includes(word))) continue;
    matches.push({
      id: record.id,
      content: shown.content,
      tags: shown.tags,
      confidence: shown.confidence,
      adjustedConfidence: adjustConfidence(shown.confidence, visibility),
      author: shown.author,
      createdAt: shown.createdAt,
      writtenAt: shown.writtenAt,
      siblings: record.siblings.length,
      conflict: inConflict(record),
    });
  }
  matches.sort((a, b) => b.adjustedConfidence - a.adjustedConfidence || b.writtenAt - a.writtenAt || (a.id < b.id ? -1 : 1));
  const results = matches.slice(0, Math.max(0, query.limit ?? 20));
  const warning = visibilityWarning(visibility);
  return warning ? { results, visibility, warning } : { results, visibility };
}
