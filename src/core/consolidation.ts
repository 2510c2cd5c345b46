/**
 * Local consolidation: groups a replica's live memories into gists by what they share (a tag or a
 * salient term), the way related memories are recalled together. It reads only the replica's own
 * records and is a pure function of them, so it runs during partitions too, and two replicas that
 * have healed to the same records produce identical gists whatever order they hold them in.
 */
import { mergeRecords, shownVersion } from './merge.js';
import type { MemoryId, MemoryRecord } from './types.js';

export interface Gist {
  /** 'tag:x' or 'term:y': what the group's memories share. */
  readonly key: string;
  /** Members, sorted. */
  readonly memoryIds: readonly MemoryId[];
  /** Noisy-or of the members' confidences: how sure we are at least one of them holds. */
  readonly strength: number;
  /** The group's most frequent terms, comma-separated. */
  readonly summary: string;
}

export interface ConsolidationOptions {
  /** Keep only the strongest this many gists; all of them when absent. */
  readonly maxGists?: number;
}

/** Shorter words are mostly function words and carry little topic. */
const MIN_TERM_LETTERS = 4;
/** A term or tag groups memories only when this many share it. */
const MIN_GROUP_SIZE = 2;
const SUMMARY_TERMS = 3;
/** Frequent English words of four letters or more that say nothing about a memory's topic. */
const STOPWORDS: ReadonlySet<string> = new Set([
  'about', 'after', 'again', 'also', 'because', 'been', 'before', 'being', 'both', 'could',
  'does', 'doing', 'each', 'from', 'have', 'having', 'here', 'into', 'just', 'like', 'more',
  'most', 'much', 'must', 'only', 'other', 'over', 'same', 'should', 'some', 'such', 'than',
  'that', 'their', 'them', 'then', 'there', 'these', 'they', 'this', 'those', 'under', 'until',
  'very', 'were', 'what', 'when', 'where', 'which', 'while', 'will', 'with', 'would', 'your',
]);

interface LiveMemory {
  readonly id: MemoryId;
  readonly confidence: number;
  /** Lowercased, trimmed, distinct. */
  readonly tags: readonly string[];
  /** Distinct candidate terms of the content. */
  readonly terms: readonly string[];
}

/** Code-unit order: unlike localeCompare it is the same on every machine. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function termsOf(content: string): string[] {
  // NFC so a composed and a decomposed "café" are one term; \p{L} so non-English words count.
  const words = content.normalize('NFC').toLowerCase().match(/\p{L}+/gu) ?? [];
  const terms = words.filter((word) => [...word].length >= MIN_TERM_LETTERS && !STOPWORDS.has(word));
  return [...new Set(terms)];
}

function tagsOf(tags: readonly string[]): string[] {
  const normalized = tags.map((tag) => tag.normalize('NFC').trim().toLowerCase()).filter((tag) => tag !== '');
  return [...new Set(normalized)];
}

/** Confidences are replicated data: one out of [0, 1] must not push a strength out of it. */
function probability(confidence: number): number {
  return Number.isNaN(confidence) ? 0 : Math.min(1, Math.max(0, confidence));
}

/**
 * 1 - Π(1 - c), factors sorted first: floating-point products round differently in different
 * orders ((1-0.1)(1-0.2)(1-0.85) gives 0.892 or 0.8919999999999999), and the strength must be a
 * function of the confidences alone, not of record order or of which memory holds which.
 */
function noisyOr(confidences: readonly number[]): number {
  const sorted = confidences.map(probability).sort((a, b) => a - b);
  let allWrong = 1;
  for (const confidence of sorted) allWrong *= 1 - confidence;
  return 1 - allWrong;
}

function summaryOf(members: readonly LiveMemory[], fallback: string): string {
  const counts = new Map<string, number>();
  for (const member of members) {
    for (const term of member.terms) counts.set(term, (counts.get(term) ?? 0) + 1);
  }
  const top = [...counts]
    .sort(([termA, countA], [termB, countB]) => countB - countA || byCodeUnits(termA, termB))
    .slice(0, SUMMARY_TERMS)
    .map(([term]) => term);
  return top.length > 0 ? top.join(', ') : fallback;
}

function liveMemories(records: Iterable<MemoryRecord>): LiveMemory[] {
  // Two entries for one id (say, the same memory from two sources) are joined, not double-counted.
  const byId = new Map<MemoryId, MemoryRecord>();
  for (const record of records) {
    const held = byId.get(record.id);
    byId.set(record.id, held === undefined ? record : mergeRecords(held, record));
  }
  const live: LiveMemory[] = [];
  for (const record of byId.values()) {
    if (record.siblings.length === 0) continue;
    const shown = shownVersion(record);
    if (shown.deleted) continue;
    live.push({ id: record.id, confidence: shown.confidence, tags: tagsOf(shown.tags), terms: termsOf(shown.content) });
  }
  return live.sort((a, b) => byCodeUnits(a.id, b.id));
}

/** Groups live memories (shown version not deleted) into gists by shared tags and shared salient terms (lowercased words of >= 4 letters, minus a small stopword list, appearing in >= 2 memories); strength = noisy-or of member confidences = 1 - Π(1 - c); summary = the most frequent terms of the group; sorted by strength desc then key. Same records (in any order) → deep-equal output. */
export function consolidate(records: Iterable<MemoryRecord>, options: ConsolidationOptions = {}): Gist[] {
  const { maxGists } = options;
  if (maxGists !== undefined && !(Number.isInteger(maxGists) && maxGists >= 0)) {
    throw new RangeError(`maxGists must be a non-negative integer, got ${maxGists}`);
  }
  const groups = new Map<string, LiveMemory[]>();
  const join = (key: string, memory: LiveMemory): void => {
    const members = groups.get(key);
    if (members === undefined) groups.set(key, [memory]);
    else members.push(memory);
  };
  // Members are pushed in id order because liveMemories sorts by id.
  for (const memory of liveMemories(records)) {
    for (const tag of memory.tags) join(`tag:${tag}`, memory);
    for (const term of memory.terms) join(`term:${term}`, memory);
  }
  const gists: Gist[] = [];
  for (const [key, members] of groups) {
    if (members.length < MIN_GROUP_SIZE) continue;
    gists.push({
      key,
      memoryIds: members.map((member) => member.id),
      strength: noisyOr(members.map((member) => member.confidence)),
      summary: summaryOf(members, key.slice(key.indexOf(':') + 1)),
    });
  }
  gists.sort((a, b) => b.strength - a.strength || byCodeUnits(a.key, b.key));
  return maxGists === undefined ? gists : gists.slice(0, maxGists);
}
