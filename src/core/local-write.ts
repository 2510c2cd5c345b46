/**
 * The pure rules of a local write: which arguments remember, forget and resolve accept, what
 * content each writes, and how the new version is stamped so it supersedes every sibling. The
 * node (node.ts) and the UI preview (src/ui/fake-handle.ts) both call these, so the preview shows
 * the errors and versions a live tab would. Leans on limits.ts for argument checks and merge.ts
 * for the shown version and the causal context.
 */
import { EngramError } from './errors.js';
import { validateConfidence, validateContent, validateTags } from './limits.js';
import { recordContext, shownVersion } from './merge.js';
import type { Dot, MemoryId, MemoryRecord, NodeId, Version } from './types.js';
import { dotKey } from './vector-clock.js';

/** What a write decides; the rest of a Version is stamped by localVersion. */
export type VersionContent = Omit<Version, 'dot' | 'context' | 'createdAt' | 'author' | 'writtenAt' | 'generation'>;

/** How a conflict is resolved: keep one sibling (by its dot), or write new content. */
export type Resolution =
  | { readonly keep: Dot | string }
  | { readonly content: string; readonly tags?: readonly string[]; readonly confidence?: number };

/** remember(): checked content, tags (trimmed, deduplicated, sorted) and confidence. */
export function rememberedContent(input: { readonly content: string; readonly tags?: readonly string[]; readonly confidence?: number }): VersionContent {
  const content = validateContent(input.content);
  const tags = validateTags(input.tags ?? []);
  const confidence = validateConfidence(input.confidence ?? 1);
  return { content, tags, confidence, deleted: false };
}

/** forget(): a tombstone that keeps the shown version's confidence. */
export function forgottenContent(id: MemoryId, record: MemoryRecord | undefined): VersionContent {
  if (!record) throw new EngramError('not-found', `no memory with id ${id}`);
  const shown = shownVersion(record);
  return { content: '', tags: [], confidence: shown.confidence, deleted: true };
}

/** resolve(): the kept sibling's content, or new content with the shown version's tags and confidence unless given. */
export function resolvedContent(id: MemoryId, record: MemoryRecord | undefined, resolution: Resolution): VersionContent {
  if (!record) throw new EngramError('not-found', `no memory with id ${id}`);
  if ('keep' in resolution) {
    const key = typeof resolution.keep === 'string' ? resolution.keep : dotKey(resolution.keep);
    const kept = record.siblings.find((sibling) => dotKey(sibling.dot) === key);
    if (!kept) throw new EngramError('not-found', `memory ${id} has no version ${key}`);
    return { content: kept.content, tags: kept.tags, confidence: kept.confidence, deleted: kept.deleted };
  }
  const shown = shownVersion(record);
  return {
    content: validateContent(resolution.content),
    tags: validateTags(resolution.tags ?? shown.tags),
    confidence: validateConfidence(resolution.confidence ?? shown.confidence),
    deleted: false,
  };
}

/**
 * The version a local write adds to `current`: its context covers every current sibling, so it
 * supersedes them all; it keeps the shown version's creation time and author.
 */
export function localVersion(
  current: MemoryRecord | undefined,
  content: VersionContent,
  stamp: { readonly dot: Dot; readonly nowMs: number; readonly author: NodeId; readonly generation: number },
): Version {
  const shown = current ? shownVersion(current) : undefined;
  return {
    ...content,
    tags: [...content.tags],
    dot: stamp.dot,
    context: recordContext(current),
    createdAt: shown?.createdAt ?? stamp.nowMs,
    author: shown?.author ?? stamp.author,
    writtenAt: stamp.nowMs,
    generation: stamp.generation,
  };
}
