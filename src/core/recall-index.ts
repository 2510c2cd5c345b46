/**
 * The recall index: answers recall.ts's queries without reading every record. A scan of 100K
 * records took 48 ms for a text query and 62 ms for a tag query (issue 15); the index reads only
 * the records that hold the rarest of the query's terms.
 *
 * It is kept in step with the node's records, one `set` per installed record (write, merge, heal,
 * forget all install), and it must return exactly what the scan in recall.ts returns: the same
 * matches, order and `matched` count (test/recall.test.ts checks this against the scan). Two facts
 * make that exact rather than approximate:
 *  - a query word never holds whitespace, so it occurs in recall's haystack (content and tags,
 *    joined by a space) if and only if it occurs inside one of the haystack's whitespace-separated
 *    tokens: the index keeps each record's distinct tokens, and a word matches the records of
 *    every token that contains it;
 *  - ranking goes through recall.ts's one `Ranking`, a total order, so the order the index visits
 *    records in cannot change the results.
 * Records are numbered densely (numbers of forgotten ones are reused) so postings are small-integer
 * sets, the cheapest set V8 keeps.
 */
import { shownVersion } from './merge.js';
import { parseQuery, Ranking, type RecallQuery, type RecallResult } from './recall.js';
import type { MemoryId, MemoryRecord, Version, Visibility } from './types.js';

/** A word that occurs in more distinct tokens than this is checked against the record's text, not looked up in that many postings. */
const MAX_TOKEN_SETS_PER_WORD = 16;

export class RecallIndex {
  private readonly numberOf = new Map<MemoryId, number>();
  /** By record number: the record and the version it shows (undefined for a free number). */
  private records: (MemoryRecord | undefined)[] = [];
  private shown: (Version | undefined)[] = [];
  private free: number[] = [];
  private readonly byToken = new Map<string, Set<number>>();
  private readonly byTag = new Map<string, Set<number>>();

  /** How many live (not forgotten) memories are indexed. */
  get size(): number {
    return this.numberOf.size;
  }

  /** Indexes a record as it now is, replacing what was indexed for its id; a forgotten one leaves the index. */
  set(record: MemoryRecord): void {
    const shown = shownVersion(record);
    if (shown.deleted) {
      this.delete(record.id);
      return;
    }
    const number = this.numberOf.get(record.id);
    if (number === undefined) {
      const fresh = this.free.pop() ?? this.records.length;
      this.numberOf.set(record.id, fresh);
      this.records[fresh] = record;
      this.shown[fresh] = shown;
      for (const token of tokensOf(shown)) add(this.byToken, token, fresh);
      for (const tag of tagsOf(shown)) add(this.byTag, tag, fresh);
      return;
    }
    const before = this.shown[number] as Version;
    this.records[number] = record;
    this.shown[number] = shown;
    // A merge that adds a sibling which does not show, or a new confidence, leaves the text alone.
    if (before.content === shown.content && sameTags(before.tags, shown.tags)) return;
    const oldTokens = tokensOf(before);
    const newTokens = tokensOf(shown);
    for (const token of oldTokens) if (!newTokens.has(token)) remove(this.byToken, token, number);
    for (const token of newTokens) if (!oldTokens.has(token)) add(this.byToken, token, number);
    const oldTags = tagsOf(before);
    const newTags = tagsOf(shown);
    for (const tag of oldTags) if (!newTags.has(tag)) remove(this.byTag, tag, number);
    for (const tag of newTags) if (!oldTags.has(tag)) add(this.byTag, tag, number);
  }

  /** Drops a record from the index (forgotten, or gone from the store). */
  delete(id: MemoryId): void {
    const number = this.numberOf.get(id);
    if (number === undefined) return;
    const shown = this.shown[number] as Version;
    for (const token of tokensOf(shown)) remove(this.byToken, token, number);
    for (const tag of tagsOf(shown)) remove(this.byTag, tag, number);
    this.numberOf.delete(id);
    this.records[number] = undefined;
    this.shown[number] = undefined;
    this.free.push(number);
    if (this.records.length > 64 && this.numberOf.size * 4 < this.records.length) this.renumber();
  }

  /**
   * Numbers the records left densely again, in tables sized for them: a store that forgot most
   * of its memories otherwise kept three arrays sized for its peak (~240 KB for 10K, measured in
   * bench/forget-space.ts). Runs when three quarters of the numbers are free: O(n) per halving.
   */
  private renumber(): void {
    const live = this.records.filter((record): record is MemoryRecord => record !== undefined);
    this.numberOf.clear();
    this.byToken.clear();
    this.byTag.clear();
    this.records = [];
    this.shown = [];
    this.free = [];
    for (const record of live) this.set(record);
  }

  /** What recall.ts's `recall` returns over the indexed records. */
  recall(query: RecallQuery, visibility: Visibility, inConflict: (record: MemoryRecord) => boolean): RecallResult {
    const { words, wantedTags, limit } = parseQuery(query);
    const ranking = new Ranking(limit, visibility, inConflict);
    const constraints: Constraint[] = [];
    for (const tag of wantedTags) {
      const holders = this.byTag.get(tag);
      if (holders === undefined) return ranking.result();
      constraints.push({ sets: [holders], estimate: holders.size });
    }
    for (const word of words) {
      const sets: Set<number>[] = [];
      let estimate = 0;
      for (const [token, holders] of this.byToken) {
        if (!token.includes(word)) continue;
        sets.push(holders);
        estimate += holders.size;
      }
      if (sets.length === 0) return ranking.result();
      constraints.push(sets.length > MAX_TOKEN_SETS_PER_WORD ? { sets, estimate, word } : { sets, estimate });
    }
    const visit = (number: number): void => {
      const shown = this.shown[number] as Version;
      if (ranking.countIfOutranked(shown.confidence)) return;
      ranking.offer(this.records[number] as MemoryRecord, shown);
    };
    if (constraints.length === 0) {
      for (let number = 0; number < this.shown.length; number++) if (this.shown[number] !== undefined) visit(number);
      return ranking.result();
    }
    // Drive from the rarest term; every other term is a membership check.
    constraints.sort((a, b) => a.estimate - b.estimate);
    const [driver, ...checks] = constraints as [Constraint, ...Constraint[]];
    const seen = driver.sets.length > 1 ? new Set<number>() : undefined;
    for (const holders of driver.sets) {
      for (const number of holders) {
        if (seen !== undefined) {
          if (seen.has(number)) continue;
          seen.add(number);
        }
        if (checks.every((check) => this.satisfies(check, number))) visit(number);
      }
    }
    return ranking.result();
  }

  private satisfies(check: Constraint, number: number): boolean {
    if (check.word !== undefined) {
      for (const token of tokensOf(this.shown[number] as Version)) if (token.includes(check.word)) return true;
      return false;
    }
    for (const holders of check.sets) if (holders.has(number)) return true;
    return false;
  }
}

/** One query term: the records it admits are the union of `sets`; a very common word is checked against the text instead (`word`). */
interface Constraint {
  readonly sets: readonly Set<number>[];
  readonly estimate: number;
  readonly word?: string;
}

/** The distinct whitespace-separated tokens of recall's haystack for this version. */
function tokensOf(shown: Version): Set<string> {
  const tokens = new Set<string>();
  const haystack = `${shown.content.toLowerCase()} ${shown.tags.map((tag) => tag.toLowerCase()).join(' ')}`;
  for (const token of haystack.split(/\s+/)) if (token.length > 0) tokens.add(token);
  return tokens;
}

function tagsOf(shown: Version): Set<string> {
  return new Set(shown.tags.map((tag) => tag.toLowerCase()));
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((tag, index) => tag === b[index]);
}

function add(postings: Map<string, Set<number>>, key: string, number: number): void {
  const holders = postings.get(key);
  if (holders === undefined) postings.set(key, new Set([number]));
  else holders.add(number);
}

function remove(postings: Map<string, Set<number>>, key: string, number: number): void {
  const holders = postings.get(key);
  if (holders === undefined) return;
  holders.delete(number);
  if (holders.size === 0) postings.delete(key);
}
