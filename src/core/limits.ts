/**
 * The one source of truth for every bound on data: what the wire decoder (wire.ts) reads and
 * what the node's public calls accept (node.ts, and the UI preview's stand-in) come from LIMITS,
 * in the same unit. So anything a node accepts it can also send, and every receiver decodes it to
 * the identical value. (Bounds on what merges of remote records and SWIM rumours admit beyond
 * what the decoder reads are issue 10's next step.)
 *
 * Before this module, `remember` allowed a tag of 64 UTF-16 units while the decoder read at most
 * 128 UTF-8 bytes: a tag of 43 CJK characters was acknowledged, then every receiver rejected the
 * whole message and healing between those tabs aborted for good (issue 10).
 *
 * Text: a lone surrogate (an unpaired UTF-16 half, e.g. 'x\uD800y') has no UTF-8 encoding;
 * TextEncoder writes U+FFFD for it, so the writer held one text and every receiver another. We
 * refuse such text with a typed `invalid-argument` error instead of replacing it: the person (or
 * program) calling `remember` learns at once that its text is broken, and nothing is acknowledged
 * that differs from what was asked. Replacing would acknowledge a text the caller never wrote.
 */
import { utf8 } from './bytes.js';
import { EngramError } from './errors.js';

export const LIMITS = Object.freeze({
  /** A whole message; a heal batch of 256 records of 64 KiB fits. */
  messageBytes: 16 * 1024 * 1024,
  /** Node and memory ids, in UTF-8 bytes. */
  idBytes: 256,
  /** A memory's content, in UTF-8 bytes (4,000 emoji are 16,000 bytes). */
  contentBytes: 64 * 1024,
  /** Tags per version. */
  tags: 64,
  /** One tag, in UTF-8 bytes (the unit the wire reads), after trimming. */
  tagBytes: 128,
  /**
   * Concurrent siblings of one record; a local write supersedes them all, so honest records stay far below.
   * Policy at the bound (node.ts applyRemote, admission.ts): refuse-and-retry, which loses nothing.
   * A merge that would pass it is refused (counted, `error` event); the newcomer is still held by
   * its writer and offered by every heal, and arrives as soon as a resolve (a local write, which
   * supersedes every sibling) brings the record below the bound. No version is ever dropped to
   * make room, and no record is held that a decoder could not read.
   */
  siblings: 64,
  /** Entries of one version's causal context (writers of one memory). */
  contextEntries: 4096,
  records: 4096,
  rumours: 256,
  members: 65536,
  hashes: 1 << 20,
  generationNodes: 256,
  generationEntries: 64,
  /**
   * Dot counters, context entries and incarnations. 2^48 writes is a tab writing 1,000 a second
   * for 8,900 years; far enough below 2^53 that `counter + 1` is always exact and encodable. A
   * decoder refuses anything above it, so a hostile peer cannot push a counter to where the
   * encoder would throw (an incarnation of 2^53−1 made its victim refute with 2^53: 197
   * RangeErrors in 30 s, and the victim dead for everyone for good).
   */
  counter: 2 ** 48,
  /**
   * How far past what a replica knows of a node a remote version may claim that node's counter
   * to be (admission.ts). What it knows of a node it has a link to is that node's own word (its
   * link header); of one it never linked to, its highest dot or context entry. 2^32 writes are
   * more than any tab makes between two contacts, so honest versions never reach it. (Counting
   * admitted claims as knowledge let a liar ratchet a linked writer to `counter` in minutes.)
   */
  counterLeap: 2 ** 32,
  /**
   * How far past the incarnation a node knows of a member (0 for one it does not know) a received
   * rumour or digest may claim it to be (swim.ts). Only the member issues its incarnations, one
   * step per refutation or restart, so honest claims move by a handful between two contacts; a
   * claim further out is ignored (counted). Without it one rumour at LIMITS.counter − 1 took its
   * victim to the top incarnation, where the next honest suspicion could never be refuted: after
   * a partition every member was dead to every other for good (hostile fuzz, seed 1). A liar must
   * now ratchet 2^28 times to push a member to the top.
   */
  incarnationLeap: 2 ** 20,
  /**
   * How far ahead of a receiver's wall clock a remote version's timestamps (createdAt, writtenAt)
   * may be (admission.ts). Every node's hybrid clock moves past each timestamp it admits (hlc.ts),
   * so one version stamped Number.MAX_VALUE made every later local timestamp Infinity, which no
   * decoder reads: all replication stopped (hostile fuzz, seed 1). A day is far past any honest
   * skew (the simulator uses ±2 min), so honest versions never meet it; a version beyond it is
   * refused now and admitted by a later heal once the receiver's clock is within a day of it.
   */
  clockAheadMs: 24 * 3_600_000,
});

function invalid(message: string): never {
  throw new EngramError('invalid-argument', message);
}

/** UTF-8 bytes of a string (the unit of every text limit). */
export function utf8Bytes(value: string): number {
  return utf8(value).length;
}

/** Text that UTF-8 can carry exactly: no lone surrogates. */
export function isWellFormedText(value: string): boolean {
  // String.prototype.isWellFormed is ES2024 (Node 20, Chromium 111+); TS's ES2022 lib lacks it.
  const native = (value as { isWellFormed?: () => boolean }).isWellFormed;
  if (native) return native.call(value);
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value);
}

function text(value: unknown, what: string, maxBytes: number): string {
  if (typeof value !== 'string') invalid(`${what} must be a string`);
  if (!isWellFormedText(value)) invalid(`${what} contains a lone surrogate (broken UTF-16), which cannot be stored or sent`);
  if (utf8Bytes(value) > maxBytes) invalid(`${what} is longer than ${maxBytes} bytes of UTF-8`);
  return value;
}

/** A memory's content as the node stores and sends it. */
export function validateContent(content: unknown): string {
  const value = text(content, 'content', LIMITS.contentBytes);
  // A blank memory recalls as nothing and could only be told from a forget by its flag.
  if (value.trim().length === 0) invalid('content must not be empty');
  return value;
}

/** Tags as stored: trimmed, distinct, sorted; each at most LIMITS.tagBytes of UTF-8. */
export function validateTags(tags: unknown): string[] {
  if (!Array.isArray(tags)) invalid('tags must be an array of strings');
  if (tags.length > LIMITS.tags) invalid(`at most ${LIMITS.tags} tags`);
  const out = new Set<string>();
  for (const tag of tags) {
    const trimmed = text(tag, 'a tag', Number.POSITIVE_INFINITY).trim();
    if (trimmed.length === 0) invalid('a tag must not be empty');
    if (utf8Bytes(trimmed) > LIMITS.tagBytes) invalid(`a tag is longer than ${LIMITS.tagBytes} bytes of UTF-8`);
    out.add(trimmed);
  }
  return [...out].sort();
}

export function validateConfidence(confidence: unknown): number {
  if (typeof confidence !== 'number' || !(confidence >= 0 && confidence <= 1)) invalid('confidence must be a number in [0, 1]');
  // -0 encodes as a distinct double; store the one every replica compares equal.
  return confidence === 0 ? 0 : confidence;
}

/** A memory id or a node id: non-empty, well-formed, at most LIMITS.idBytes of UTF-8. */
export function validateId(id: unknown, what = 'memory id'): string {
  if (typeof id !== 'string' || id.length === 0) invalid(`${what} must be a non-empty string of at most ${LIMITS.idBytes} bytes`);
  return text(id, what, LIMITS.idBytes);
}
