/**
 * Where each version came from, for judging honest replicas when hostile members are about
 * (issue 10): which versions honest nodes really wrote, which a hostile member invented and when,
 * and which acknowledged honest writes each version may legitimately stand for.
 *
 * Why this is needed: with honest writers only, "W is kept" means some replica holds W or a
 * version whose context covers W's dot (checker.ts holds), because a writer's context is exactly
 * what it had seen. A hostile member's context says whatever it likes, and its forged dots can
 * carry an honest node's name, so coverage proves nothing by itself. The sound rule used here:
 *
 *   A version S *preserves* the honest write W (same memory) when
 *   - S is W itself, byte for byte (a forgery under W's dot is not W); or
 *   - S is genuine (a node's replica wrote exactly S: a client's write or a re-assertion) and its
 *     writer, when it wrote S, held some version that preserved W, and S's context covers W's
 *     dot: an overwrite of what the writer really saw (the chain may run through any number of
 *     versions). A hostile member's own replica counts too: it runs the honest code, and what it
 *     writes there (its re-assertions) is an edit of what it held, which is a member's right; or
 *   - S is genuine and covers the dot of a hostile version H made before S that preserves W:
 *     a hostile version has no claim to be kept, so whatever writes over it (having seen it or
 *     not) stands for what it stood for, and W was gone to H's edit already; or
 *   - S is hostile (invented by the fuzzer at time t) and covers the dot of a version issued by
 *     t that preserves W (W itself, or an honest overwrite of it), or of a hostile version made
 *     before t that preserves W (the same reasoning as for genuine S above). An authenticated member may overwrite what it has seen, and no receiver can tell
 *     whether it saw W or guessed its dot once W existed (both are the member's right to edit),
 *     so that counts as an overwrite; but a context that covers a dot *not yet issued* when it
 *     was made is a lie no edit can explain, and if it overrules W, W is lost.
 *   Versions of unknown origin preserve nothing.
 *
 * "Held" is observed on every write event of every replica (local writes, merges of remote
 * data, re-assertions), so what the tracker believes a writer saw is what its replica held.
 */
import { versionsEqual } from '../core/merge.js';
import type { EngramNode } from '../core/node.js';
import type { Dot, MemoryId, MemoryRecord, NodeId, Version } from '../core/types.js';
import { covers, dotKey } from '../core/vector-clock.js';

interface Genuine {
  readonly version: Version;
  /** Dot keys of the honest writes this version preserves. */
  readonly preserves: ReadonlySet<string>;
}

export class Provenance {
  /** Versions honest nodes wrote, by dot. */
  private readonly genuine = new Map<string, Genuine>();
  /** Per memory, each honest dot and when it was issued (first seen in its writer's replica), virtual ms. */
  private readonly issued = new Map<MemoryId, { readonly key: string; readonly dot: Dot; readonly atMs: number }[]>();
  /** Hostile versions by canonical text, with the time each was first made. */
  private readonly hostile = new Map<string, number>();
  /** Hostile versions per memory, in the order they were made. */
  private readonly hostileOf = new Map<MemoryId, { readonly version: Version; readonly atMs: number }[]>();
  private readonly hostilePreserves = new WeakMap<Version, ReadonlySet<string>>();
  /** Per node and memory, the writes it has held a preserving version of. */
  private readonly held = new Map<NodeId, Map<MemoryId, Set<string>>>();

  constructor(private readonly now: () => number) {}

  /** Follows a node's replica (call for every node, honest or not, and every instance: first start and each restart). */
  follow(node: EngramNode): void {
    node.on('write', ({ id }) => {
      const record = node.record(id);
      if (record) this.observe(node.id, record);
    });
  }

  /** A version of memory `id` the fuzzer invented at `atMs`. */
  invented(id: MemoryId, version: Version, atMs: number): void {
    const key = canonical(version);
    if (this.hostile.has(key)) return;
    this.hostile.set(key, atMs);
    let list = this.hostileOf.get(id);
    if (!list) this.hostileOf.set(id, (list = []));
    list.push({ version, atMs });
  }

  /** Node `holder` now holds `record`: register its own new versions, then what it has seen. */
  observe(holder: NodeId, record: MemoryRecord): void {
    let byMemory = this.held.get(holder);
    if (!byMemory) this.held.set(holder, (byMemory = new Map()));
    let seen = byMemory.get(record.id);
    if (!seen) byMemory.set(record.id, (seen = new Set()));
    for (const version of record.siblings) {
      if (version.dot.node !== holder) continue;
      const key = dotKey(version.dot);
      if (this.genuine.has(key)) continue;
      // A version under this node's own dot in its own replica is its own: admission never lets in a forgery of it (admission.ts).
      const preserves = new Set<string>([key]);
      for (const earlier of seen) if (covers(version.context, parseDot(earlier))) preserves.add(earlier);
      for (const lie of this.hostileOf.get(record.id) ?? []) {
        if (covers(version.context, lie.version.dot)) for (const key of this.preservedBy(record.id, lie.version)) preserves.add(key);
      }
      this.genuine.set(key, { version, preserves });
      let dots = this.issued.get(record.id);
      if (!dots) this.issued.set(record.id, (dots = []));
      dots.push({ key, dot: version.dot, atMs: this.now() });
    }
    for (const version of record.siblings) for (const key of this.preservedBy(record.id, version)) seen.add(key);
  }

  /** The honest writes (dot keys) that `version`, a version of memory `id`, stands for. */
  preservedBy(id: MemoryId, version: Version): ReadonlySet<string> {
    const genuine = this.genuine.get(dotKey(version.dot));
    if (genuine && versionsEqual(genuine.version, version)) return genuine.preserves;
    const cached = this.hostilePreserves.get(version);
    if (cached) return cached;
    const madeAt = this.hostile.get(canonical(version));
    // Cached only once made: until then an equal version may still be invented (and the answer would change).
    if (madeAt === undefined) return EMPTY;
    const out = new Set<string>();
    // Only dots already issued when the lie was made count as overwritten (see the module comment).
    // An honest version it overwrote takes what that one stood for along with it.
    for (const { key, dot, atMs } of this.issued.get(id) ?? []) {
      if (atMs <= madeAt && covers(version.context, dot)) for (const preserved of (this.genuine.get(key) as Genuine).preserves) out.add(preserved);
    }
    // Cached before the recursion: only lies made strictly earlier are followed, so it ends.
    this.hostilePreserves.set(version, out);
    for (const lie of this.hostileOf.get(id) ?? []) {
      if (lie.atMs >= madeAt) break;
      if (covers(version.context, lie.version.dot)) for (const key of this.preservedBy(id, lie.version)) out.add(key);
    }
    return out;
  }

  /** The genuine versions of memory `id` in issue order, each with the writes it preserves: where a lost write's chain broke. */
  explain(id: MemoryId): { dot: string; atMs: number; context: Version['context']; preserves: string[] }[] {
    return (this.issued.get(id) ?? []).map(({ key, atMs }) => {
      const genuine = this.genuine.get(key) as Genuine;
      return { dot: key, atMs, context: genuine.version.context, preserves: [...genuine.preserves] };
    });
  }

  /** Whether `record` (an honest replica's) holds a version that preserves the honest write `dot`. */
  keeps(record: MemoryRecord | undefined, dot: Dot): boolean {
    if (!record) return false;
    const key = dotKey(dot);
    return record.siblings.some((version) => this.preservedBy(record.id, version).has(key));
  }
}

const EMPTY: ReadonlySet<string> = new Set();

function canonical(version: Version): string {
  const context = Object.keys(version.context)
    .sort()
    .map((node) => [node, version.context[node]]);
  return JSON.stringify([version.dot.node, version.dot.counter, context, version.content, version.tags, version.confidence, version.deleted, version.createdAt, version.author, version.writtenAt, version.generation]);
}

function parseDot(key: string): Dot {
  const at = key.lastIndexOf(':');
  return { node: key.slice(0, at), counter: Number(key.slice(at + 1)) };
}
