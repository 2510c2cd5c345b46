/**
 * An EngramHandle with no network and no storage, for the preview page and DOM tests. Records
 * live in a Map, but merging, conflicts, visibility and the confidence penalty go through the
 * core's own functions, so what the UI shows is what a real node would report for the same state.
 * Membership, links and heal status are set from outside (setMembers, setLinks, setHeal…).
 */
import { DEFAULT_CONFIG } from '../core/config.js';
import { recordDigest, toHex } from '../core/digest.js';
import type { HealProgress, HealReport } from '../core/heal.js';
import { addVersion, conflictOf, type Conflict } from '../core/merge.js';
import { recall, type RecallResult } from '../core/recall.js';
import type { Dot, Member, MemoryId, MemoryRecord, NodeId, Version, Visibility } from '../core/types.js';
import { computeVisibility } from '../core/visibility.js';
import { validateId } from '../core/limits.js';
import { forgottenContent, localVersion, rememberedContent, resolvedContent, type VersionContent } from '../core/local-write.js';
import type { BackgroundProblem, EngramEvent, EngramEventKind, EngramHandle, HealStatus, LinkInfo, SignalingStatus, StorageStatus } from './engram-handle.js';

export interface FakeHandleOptions {
  readonly id: NodeId;
  readonly room: string;
  readonly generation: number;
  readonly members: readonly Member[];
  readonly links?: readonly LinkInfo[];
  readonly records?: readonly MemoryRecord[];
  readonly heal?: HealStatus;
  readonly signalingConnected?: boolean;
  /** The clock members' lastHeardAt is on. */
  readonly now?: () => number;
  /** The wall clock (epoch ms) versions are stamped with, as the node's hybrid clock does; Date.now by default. */
  readonly wallNow?: () => number;
  readonly storage?: StorageStatus;
  /** Overrides signalingConnected with a state and its reason (e.g. refused, 'origin-not-allowed'). */
  readonly signalingStatus?: SignalingStatus;
  /** window.isSecureContext of the page this handle stands for (default true). */
  readonly secureContext?: boolean;
}

export class FakeEngramHandle implements EngramHandle {
  readonly id: NodeId;
  readonly room: string;
  private generation: number;
  private memberList: Member[];
  private linkList: LinkInfo[];
  private readonly records = new Map<MemoryId, MemoryRecord>();
  private heal: HealStatus;
  private signaling: boolean;
  private counter = 0;
  private readonly listeners = new Set<(event: EngramEvent) => void>();
  private readonly clock: () => number;
  private readonly wallClock: () => number;
  private storage: StorageStatus;
  private problemList: BackgroundProblem[] = [];
  private signalingDetail: SignalingStatus | undefined;
  readonly secureContext: boolean;

  constructor(options: FakeHandleOptions) {
    this.id = options.id;
    this.storage = options.storage ?? { state: 'ok', persisted: true };
    this.signalingDetail = options.signalingStatus;
    this.secureContext = options.secureContext ?? true;
    this.room = options.room;
    this.generation = options.generation;
    this.memberList = [...options.members];
    this.linkList = [...(options.links ?? [])];
    this.heal = options.heal ?? { active: undefined, serving: [], last: undefined };
    this.signaling = options.signalingConnected ?? true;
    this.clock = options.now ?? (() => performance.now());
    this.wallClock = options.wallNow ?? (() => Date.now());
    for (const record of options.records ?? []) {
      this.records.set(record.id, record);
      for (const sibling of record.siblings) {
        if (sibling.dot.node === this.id) this.counter = Math.max(this.counter, sibling.dot.counter);
      }
    }
  }

  now(): number {
    return this.clock();
  }

  async remember(input: { content: string; tags?: string[]; confidence?: number; id?: MemoryId }): Promise<{ id: MemoryId }> {
    // The node's own argument checks (local-write.ts), so the form shows the errors a live tab would.
    const content = rememberedContent(input);
    const id = validateId(input.id ?? `m-${this.id.slice(0, 4)}-${this.counter + 1}`);
    this.write(id, content);
    return { id };
  }

  async recall(query: { text?: string; tags?: string[]; limit?: number }): Promise<RecallResult> {
    // The node's own recall, so the preview shows exactly what a node would.
    return recall(this.records.values(), query, this.visibility(), (record) => this.conflictOf(record) !== undefined);
  }

  async forget(id: MemoryId): Promise<void> {
    this.write(id, forgottenContent(validateId(id), this.records.get(id)));
  }

  members(): Member[] {
    return [...this.memberList];
  }

  visibility(): Visibility {
    return computeVisibility(this.memberList, this.generation, DEFAULT_CONFIG.visibilityPenaltyFloor);
  }

  async conflicts(): Promise<Conflict[]> {
    const out: Conflict[] = [];
    for (const id of [...this.records.keys()].sort()) {
      const conflict = this.conflictOf(this.records.get(id) as MemoryRecord);
      if (conflict) out.push(conflict);
    }
    return out;
  }

  async resolve(id: MemoryId, choice: { keep: Dot | string } | { content: string }): Promise<void> {
    // The node's own resolution (local-write.ts): the kept sibling, or new content on the shown version's tags.
    this.write(id, resolvedContent(validateId(id), this.records.get(id), choice));
  }

  links(): LinkInfo[] {
    return [...this.linkList];
  }

  async merkleRoot(): Promise<string> {
    // XOR of record digests, like the real tree's root: order-free, equal for equal record sets.
    const root = new Uint8Array(8);
    for (const record of this.records.values()) {
      const digest = recordDigest(record);
      for (let i = 0; i < root.length; i++) root[i] = (root[i] as number) ^ (digest[i] as number);
    }
    return toHex(root);
  }

  subscribe(listener: (event: EngramEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  healStatus(): HealStatus {
    return this.heal;
  }

  signalingConnected(): boolean {
    return this.signalingDetail ? this.signalingDetail.state === 'connected' : this.signaling;
  }

  signalingStatus(): SignalingStatus {
    return this.signalingDetail ?? { state: this.signaling ? 'connected' : 'unreachable' };
  }

  storageStatus(): StorageStatus {
    return this.storage;
  }

  problems(): readonly BackgroundProblem[] {
    return [...this.problemList];
  }

  // Scenario controls: each changes what the handle reports and tells subscribers, as a node would.

  setMembers(members: readonly Member[]): void {
    this.memberList = [...members];
    this.emit('membership');
    this.emit('visibility');
  }

  setLinks(links: readonly LinkInfo[]): void {
    this.linkList = [...links];
    this.emit('link');
  }

  setHealProgress(active: HealProgress | undefined): void {
    this.heal = { ...this.heal, active };
    this.emit('heal-progress', active);
  }

  finishHeal(report: HealReport): void {
    this.heal = { active: undefined, serving: [], last: report };
    this.emit('heal', report);
  }

  setSignalingConnected(connected: boolean): void {
    this.signaling = connected;
    this.signalingDetail = undefined;
    this.emit('signaling');
  }

  setSignalingStatus(status: SignalingStatus): void {
    this.signalingDetail = status;
    this.emit('signaling');
  }

  setStorageStatus(status: StorageStatus): void {
    this.storage = status;
    this.emit('storage');
  }

  /** A background failure, as PageHandle.reportProblem records one. */
  addProblem(problem: BackgroundProblem): void {
    this.problemList.push(problem);
    this.emit('problem', problem);
  }

  setGeneration(generation: number): void {
    this.generation = generation;
    this.emit('visibility');
  }

  /** A version arriving from another node (replication or heal). */
  receive(id: MemoryId, version: Version): void {
    const hadConflict = this.conflictOf(this.records.get(id)) !== undefined;
    this.records.set(id, addVersion(this.records.get(id), id, version));
    this.emit('write', { id, local: false });
    if (hadConflict || this.conflictOf(this.records.get(id)) !== undefined) this.emit('conflict', { id });
  }

  private write(id: MemoryId, content: VersionContent): void {
    const existing = this.records.get(id);
    this.counter += 1;
    // Stamped as the node stamps a local write: it supersedes every sibling, keeps the shown version's author.
    const version = localVersion(existing, content, { dot: { node: this.id, counter: this.counter }, nowMs: this.wallClock(), author: this.id, generation: this.generation });
    const hadConflict = this.conflictOf(existing) !== undefined;
    this.records.set(id, addVersion(existing, id, version));
    this.emit('write', { id, local: true });
    if (hadConflict) this.emit('conflict', { id });
  }

  private conflictOf(record: MemoryRecord | undefined): Conflict | undefined {
    return record && conflictOf(record, DEFAULT_CONFIG.conflictConfidenceMargin);
  }

  private emit(kind: EngramEventKind, detail?: unknown): void {
    for (const listener of [...this.listeners]) listener({ kind, detail });
  }
}

/** The nodes of the preview cluster: this tab and two peers on one side of a 3|2 split, two beyond it. */
export const PREVIEW_NODES = {
  self: 'hq4t2vbn7kx3mzr5wcpa',
  peerB: 'bj6fq7ydw2n4kts3xm5e',
  peerC: 'cz2r8pweg5m7vnk4dtqa',
  suspect: 'dn7x3kfa6qw2jtr5bzme',
  dead: 'ew5s4mdq7hz2cyn6kfra',
} as const;

interface SeedVersion {
  readonly node: NodeId;
  readonly counter: number;
  readonly content: string;
  readonly tags: readonly string[];
  readonly confidence: number;
  readonly generation: number;
  readonly agoMs: number;
}

function seedRecord(id: MemoryId, nowMs: number, versions: readonly SeedVersion[]): MemoryRecord {
  const first = versions[0];
  if (!first) throw new RangeError('a record needs a version');
  let record: MemoryRecord | undefined;
  for (const seed of versions) {
    // Every seed version is concurrent with the others: each one's context is empty.
    record = addVersion(record, id, {
      dot: { node: seed.node, counter: seed.counter },
      context: {},
      content: seed.content,
      tags: seed.tags,
      confidence: seed.confidence,
      deleted: false,
      createdAt: nowMs - first.agoMs,
      author: first.node,
      writtenAt: nowMs - seed.agoMs,
      generation: seed.generation,
    });
  }
  return record as MemoryRecord;
}

/**
 * A 5-node cluster in a 3|2 partition as this tab sees it: 3 of 5 visible (one peer suspect, one
 * dead), links open to its own side and failing to the other, a deploy-window memory edited on
 * both sides (a conflict with two siblings), and a heal with a peer of its own side under way.
 */
export function createPartitionedClusterHandle(now: () => number = () => performance.now(), wallNow: () => number = () => Date.now()): FakeEngramHandle {
  const nowMs = now();
  // Versions carry wall-clock times (the node's hybrid clock); members are heard on the scheduler clock.
  const wallMs = wallNow();
  const { self, peerB, peerC, suspect, dead } = PREVIEW_NODES;
  const member = (id: NodeId, state: Member['state'], incarnation: number, heardAgoMs: number | undefined, changedAgoMs: number): Member => ({
    id,
    state,
    incarnation,
    lastHeardAt: heardAgoMs === undefined ? undefined : nowMs - heardAgoMs,
    stateChangedAt: nowMs - changedAgoMs,
  });
  const records = [
    seedRecord('deploy-window', wallMs, [
      { node: self, counter: 41, content: 'Deploy window is 14:00–16:00 UTC on weekdays; no deploys on Fridays.', tags: ['ops', 'deploy'], confidence: 0.8, generation: 4, agoMs: 95_000 },
      { node: suspect, counter: 17, content: 'Deploy window moved to 09:00–11:00 UTC after the incident review.', tags: ['ops', 'deploy'], confidence: 0.75, generation: 3, agoMs: 71_000 },
    ]),
    seedRecord('db-failover', wallMs, [
      { node: peerB, counter: 12, content: 'Primary database failover takes about 40 s; clients retry writes for 60 s.', tags: ['db', 'ops'], confidence: 0.9, generation: 2, agoMs: 3_600_000 },
    ]),
    seedRecord('signaling-role', wallMs, [
      { node: self, counter: 3, content: 'The signaling server only introduces peers; memories travel tab to tab over WebRTC.', tags: ['architecture'], confidence: 0.95, generation: 1, agoMs: 7_200_000 },
    ]),
    seedRecord('export-job', wallMs, [
      { node: peerC, counter: 8, content: 'The customer export job runs nightly at 02:00 UTC and takes about 25 minutes.', tags: ['jobs'], confidence: 0.7, generation: 2, agoMs: 1_800_000 },
    ]),
    seedRecord('on-call-march', wallMs, [
      { node: peerB, counter: 19, content: 'Alice owns the on-call rota for March.', tags: ['people', 'on-call'], confidence: 0.6, generation: 3, agoMs: 600_000 },
      { node: dead, counter: 5, content: 'Bob owns the on-call rota for March.', tags: ['people', 'on-call'], confidence: 0.35, generation: 3, agoMs: 640_000 },
    ]),
  ];
  return new FakeEngramHandle({
    id: self,
    room: 'ops-team',
    generation: 4,
    now,
    wallNow,
    members: [
      member(self, 'alive', 2, undefined, 600_000),
      member(peerB, 'alive', 1, 400, 900_000),
      member(peerC, 'alive', 3, 1_200, 900_000),
      member(suspect, 'suspect', 1, 6_800, 3_500),
      member(dead, 'dead', 2, 23_000, 12_000),
    ],
    links: [
      { peer: peerB, state: 'open', bytesIn: 1_482_113, bytesOut: 96_204 },
      { peer: peerC, state: 'open', bytesIn: 210_554, bytesOut: 188_320 },
      { peer: suspect, state: 'connecting', bytesIn: 55_010, bytesOut: 61_876 },
      { peer: dead, state: 'failed', bytesIn: 40_312, bytesOut: 38_004 },
    ],
    records,
    heal: {
      active: {
        peer: peerB,
        session: 7,
        role: 'initiator',
        oneWay: false,
        phase: 'records',
        recordsSent: 112,
        recordsReceived: 0,
        recordsExpected: 10_000,
        bytesSent: 28_416,
        bytesReceived: 0,
      },
      serving: [
        {
          peer: peerC,
          session: 12,
          role: 'responder',
          oneWay: true,
          phase: 'records',
          recordsSent: 1_536,
          recordsReceived: 0,
          recordsExpected: 0,
          bytesSent: 389_120,
          bytesReceived: 0,
        },
      ],
      last: undefined,
    },
    signalingConnected: true,
  });
}
