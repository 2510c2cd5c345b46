/**
 * Remote data arriving at a node (a push, a heal batch, or records absorbed from this browser):
 * each version is admitted first (admission.ts), then merged (merge.ts) and committed durably
 * through group commit (group-commit.ts). What admission refuses is counted, reported and
 * skipped, and a forgery of this node's own dots or contexts is answered: re-asserted over, or
 * made harmless by leaping this node's counter past it.
 */
import { reassertionFloor, refusalOf, type AdmissionView, type Refusal } from './admission.js';
import { EngramError } from './errors.js';
import { obsolete } from './frontier.js';
import type { GroupCommit } from './group-commit.js';
import type { HybridClock } from './hlc.js';
import { LIMITS } from './limits.js';
import { addVersion, canonicalSiblings, includes, mergeRecords, recordContext, shownVersion } from './merge.js';
import type { Emit } from './node-events.js';
import type { Stage } from './group-commit.js';
import type { Dot, MemoryId, MemoryRecord, NodeId, Version, VersionVector } from './types.js';
import { dotKey, withDot } from './vector-clock.js';

export interface RemoteApplyOptions {
  readonly self: NodeId;
  readonly changes: GroupCommit;
  /** Timestamps of the versions this node writes (hlc.ts): it observes every version it admits. */
  readonly hlc: HybridClock;
  /** Highest counter seen per node in any dot or context entry this node admitted. */
  readonly knownCounter: (node: NodeId) => number;
  /** The node's wall clock, epoch ms (admission.ts bounds remote timestamps by it). */
  readonly wallNowMs: () => number;
  /** A committed record. */
  readonly record: (id: MemoryId) => MemoryRecord | undefined;
  readonly generation: () => number;
  /** Pushes a durable record to the peers, like a local write (sync-schedule.ts). */
  readonly push: (id: MemoryId, record: MemoryRecord) => void;
  /** This node's frontier (frontier.ts), its own entry included. */
  readonly frontier: () => VersionVector;
  /** Epoch ms before which a version is older than the horizon (frontier.ts). */
  readonly cutoff: () => number;
  readonly counters: { refusedVersions: number; reassertions: number; obsoleteRefused: number; obsoleteDropped: number };
  readonly stopped: () => boolean;
  readonly emit: Emit;
}

interface RefusedVersion {
  readonly id: MemoryId;
  readonly version: Version;
  readonly reason: Refusal | 'too-many-siblings' | 'unmergeable';
  readonly error?: unknown;
}

export class RemoteApply {
  constructor(private readonly options: RemoteApplyOptions) {}

  /**
   * Merges records from a peer durably; resolves with the versions that were new here. Each
   * version is admitted first (admission.ts) unless it comes from this browser (absorb); one that
   * is refused, or a record that cannot be merged, is counted, reported as an `error` event and
   * skipped, and the rest of the batch is applied: a bad record is isolated, not contagious.
   */
  /**
   * With `peerFrontier` (a heal: the peer's frontier, sent before these records), versions held
   * here that the peer's record lacks and its frontier makes obsolete are dropped (frontier.ts).
   */
  apply(incoming: readonly MemoryRecord[], from: NodeId, peerFrontier?: VersionVector): Promise<Version[]> {
    const { self, hlc } = this.options;
    const screened = from !== self;
    return this.options.changes.submit({
      plan: (stage) => {
        const learned: Version[] = [];
        const changed = new Set<MemoryId>();
        const refused: RefusedVersion[] = [];
        if (this.options.stopped()) return { learned, changed, refused };
        const view: AdmissionView = { self, issued: stage.counter, known: this.options.knownCounter, wallNowMs: this.options.wallNowMs() };
        const frontier = this.options.frontier();
        const cutoff = this.options.cutoff();
        for (const raw of incoming) {
          try {
            const held = stage.record(raw.id);
            const current = peerFrontier ? this.dropObsoleteIn(stage, raw.id, peerFrontier, cutoff, raw.siblings) : held;
            if (current !== held && current !== undefined) changed.add(raw.id);
            // Seen here and written over (its superseder maybe collected since): never merged back.
            const unseen = screened ? raw.siblings.filter((version) => !this.skipObsolete(version, current, frontier, cutoff)) : raw.siblings;
            const admitted = screened
              ? unseen.filter((version) => {
                  const reason = refusalOf(version, current, view);
                  if (reason !== undefined) refused.push({ id: raw.id, version, reason });
                  return reason === undefined;
                })
              : raw.siblings;
            if (admitted.length === 0) continue;
            const record: MemoryRecord = { id: raw.id, siblings: canonicalSiblings(admitted) };
            if (includes(current, record)) continue;
            const merged = current ? mergeRecords(current, record) : record;
            if (merged.siblings.length > LIMITS.siblings) {
              // Held, it could not be sent to anyone (decoders read LIMITS.siblings): refuse the newcomers instead.
              for (const version of record.siblings) refused.push({ id: raw.id, version, reason: 'too-many-siblings' });
              continue;
            }
            const before = new Set(current?.siblings.map((sibling) => dotKey(sibling.dot)) ?? []);
            for (const sibling of merged.siblings) {
              if (before.has(dotKey(sibling.dot))) continue;
              learned.push(sibling);
              // Before any local write planned after this one: that write has seen this version.
              hlc.observe(sibling.writtenAt);
            }
            changed.add(record.id);
            stage.put(merged);
          } catch (error) {
            // A record no rule foresaw (a merge that throws): skip it, keep the batch.
            for (const version of raw.siblings) refused.push({ id: raw.id, version, reason: 'unmergeable', error });
          }
        }
        return { learned, changed, refused };
      },
      after: ({ changed, refused }) => {
        for (const id of changed) this.options.emit('write', { id, local: false });
        if (refused.length > 0) this.onRefused(refused, from);
      },
    }).then(({ learned }) => learned);
  }

  /** Of records a peer lacks altogether, drops the versions its frontier makes obsolete (frontier.ts); resolves once durable. */
  dropObsolete(ids: readonly MemoryId[], peerFrontier: VersionVector): Promise<void> {
    return this.options.changes.submit({
      plan: (stage) => {
        if (this.options.stopped()) return;
        const cutoff = this.options.cutoff();
        for (const id of ids) this.dropObsoleteIn(stage, id, peerFrontier, cutoff, []);
      },
    });
  }

  /**
   * Drops from the staged record `id` the versions the peer does not hold (`theirs`: its siblings
   * of that record) and its frontier makes obsolete; returns what is left of the record.
   */
  private dropObsoleteIn(stage: Stage, id: MemoryId, peerFrontier: VersionVector, cutoff: number, theirs: readonly Version[]): MemoryRecord | undefined {
    const current = stage.record(id);
    if (current === undefined) return undefined;
    const held = new Set(theirs.map((version) => dotKey(version.dot)));
    const kept = current.siblings.filter((version) => held.has(dotKey(version.dot)) || !obsolete(version, peerFrontier, cutoff));
    if (kept.length === current.siblings.length) return current;
    this.options.counters.obsoleteDropped += current.siblings.length - kept.length;
    if (kept.length === 0) {
      stage.remove(id);
      return undefined;
    }
    // A subset of a canonical sibling set is canonical: still sorted, still no version superseding another.
    const record: MemoryRecord = { id, siblings: kept };
    stage.put(record);
    return record;
  }

  /** Whether `version` is obsolete here: not held, its dot under this node's frontier, older than the horizon. */
  private skipObsolete(version: Version, current: MemoryRecord | undefined, frontier: VersionVector, cutoff: number): boolean {
    if (current?.siblings.some((sibling) => sibling.dot.node === version.dot.node && sibling.dot.counter === version.dot.counter)) return false;
    if (!obsolete(version, frontier, cutoff)) return false;
    this.options.counters.obsoleteRefused += 1;
    return true;
  }

  /**
   * Counts and reports refused versions, and re-asserts over forged versions of this node's own
   * dots: third parties cannot tell them from real ones, so this node writes a version of that
   * record whose context covers the forgery and whose dot is past everything it claims (its
   * counter jumps there if needed, at most LIMITS.counterLeap at a time). The new version
   * supersedes the forgery everywhere and carries this node's shown content (a tombstone if it
   * holds no such record), so replicas converge and this node's writes are never overruled.
   * Contexts that claim too much of this node are made harmless instead (leapPast).
   */
  private onRefused(refused: readonly RefusedVersion[], from: NodeId): void {
    this.options.counters.refusedVersions += refused.length;
    const reasons = [...new Set(refused.map((entry) => entry.reason))].join(', ');
    const first = refused[0] as RefusedVersion;
    this.options.emit('error', {
      error: new EngramError('refused', `refused ${refused.length} version(s) from ${from} (${reasons}), e.g. ${first.id} ${dotKey(first.version.dot)}`, { cause: first.error }),
      from,
    });
    const forged = new Map<MemoryId, Version[]>();
    const ahead: MemoryRecord[] = [];
    for (const entry of refused) {
      if (entry.reason === 'forged-context') ahead.push({ id: entry.id, siblings: [entry.version] });
      if (entry.reason !== 'forged-dot') continue;
      const list = forged.get(entry.id);
      if (list) list.push(entry.version);
      else forged.set(entry.id, [entry.version]);
    }
    for (const [id, versions] of forged) void this.reassert(id, versions).catch(() => undefined);
    if (ahead.length > 0) void this.leapPast(ahead, from).catch(() => undefined);
  }

  /**
   * A context that claims more of this node's writes than it issued would cover its future dots
   * on every replica that admitted it, so this node's next writes to that memory would vanish
   * there. Moving this node's counter past the claim (at most LIMITS.counterLeap at a time) makes
   * the claim true and harmless: the version is then admitted like any other, and this node's
   * next writes have dots no context covers. Claims further out are refused by every replica.
   */
  private async leapPast(records: readonly MemoryRecord[], from: NodeId): Promise<void> {
    const { self } = this.options;
    const leapt = await this.options.changes.submit({
      persist: true,
      plan: (stage) => {
        let floor = stage.counter;
        for (const record of records) for (const version of record.siblings) floor = Math.max(floor, version.context[self] ?? 0);
        if (floor === stage.counter || floor - stage.counter > LIMITS.counterLeap || floor + 1 > LIMITS.counter) return false;
        stage.counter = floor;
        return true;
      },
    });
    if (leapt) await this.apply(records, from);
  }

  private reassert(id: MemoryId, forgeries: readonly Version[]): Promise<void> {
    const { self, hlc } = this.options;
    return this.options.changes.submit({
      plan: (stage) => {
        if (this.options.stopped()) return;
        const current = stage.record(id);
        let context = recordContext(current);
        // Already written over (an earlier re-assertion of the same forgery)? Then nothing to do.
        const view: AdmissionView = { self, issued: stage.counter, known: () => Number.POSITIVE_INFINITY, wallNowMs: Number.POSITIVE_INFINITY };
        const pending = forgeries.filter((version) => refusalOf(version, current, view) !== undefined || !includes(current, { id, siblings: [version] }));
        if (pending.length === 0) return;
        let floor = stage.counter;
        for (const version of pending) {
          floor = Math.max(floor, reassertionFloor(version, self));
          context = withDot(context, version.dot);
        }
        // Past the leap (or the bound) the forgery is refused by every replica anyway (admission.ts): nothing to write over.
        if (floor - stage.counter > LIMITS.counterLeap || floor + 1 > LIMITS.counter) return;
        for (const version of pending) hlc.observe(version.writtenAt);
        const shown = current ? shownVersion(current) : undefined;
        const now = hlc.now();
        const dot: Dot = { node: self, counter: floor + 1 };
        stage.put(
          addVersion(current, id, {
            content: shown?.content ?? '',
            tags: [...(shown?.tags ?? [])],
            confidence: shown?.confidence ?? 1,
            deleted: shown?.deleted ?? true,
            dot,
            context,
            createdAt: shown?.createdAt ?? now,
            author: shown?.author ?? self,
            writtenAt: now,
            generation: this.options.generation(),
          }),
        );
        stage.counter = dot.counter;
        this.options.counters.reassertions += 1;
      },
      after: () => {
        // Pushed when durable, like a local write (the commit's durability hook flushes the push queue).
        const record = this.options.record(id);
        if (!record) return;
        this.options.push(id, record);
        // A write of this node's like any other: the UI (and a checker following writes) sees it.
        this.options.emit('write', { id, local: true });
      },
    });
  }
}
