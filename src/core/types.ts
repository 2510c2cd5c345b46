/**
 * The data model shared by every part of the core: memories, their versions with causal
 * metadata, and the records that hold concurrent siblings.
 */

/** A node's identity. Stable across reloads of one tab; never reused by another node. */
export type NodeId = string;
export type MemoryId = string;

/**
 * A version vector: for each node, the highest of that node's event counters that is causally
 * included. An absent entry means 0. Kept as a plain object so it survives structured clone
 * (IndexedDB) and JSON unchanged.
 */
export type VersionVector = Readonly<Record<NodeId, number>>;

/** One event: the `counter`-th write made by `node`. Unique cluster-wide because counters are persisted. */
export interface Dot {
  readonly node: NodeId;
  readonly counter: number;
}

/** What a person wrote: the user-visible part of a memory version. */
export interface MemoryContent {
  readonly content: string;
  readonly tags: readonly string[];
  /** How sure the writer was, in [0, 1]. */
  readonly confidence: number;
  /** Tombstone: the memory was forgotten. Kept as a version so a forget replicates and merges like any write. */
  readonly deleted: boolean;
}

/**
 * One version of a memory with its causal metadata (a dotted version vector):
 * `dot` names this write, `context` is everything of this record the writer had seen when it wrote.
 * Version A supersedes version B exactly when A.context covers B.dot.
 */
export interface Version extends MemoryContent {
  readonly dot: Dot;
  readonly context: VersionVector;
  /**
   * When the memory was first created: the author's hybrid timestamp (hlc.ts: epoch ms, the
   * fraction a logical counter); carried unchanged into later versions. Records of older stores
   * hold a performance.now() reading here (below WALL_CLOCK_EPOCH_MS).
   */
  readonly createdAt: number;
  /** The node that first created the memory; carried unchanged into later versions. */
  readonly author: NodeId;
  /**
   * When this version was written: the writer's hybrid timestamp (hlc.ts), greater than that of
   * every version the writer had seen, so "written after seeing" means "larger", whatever the skew.
   */
  readonly writtenAt: number;
  /** The writer's partition generation when it wrote this version (see generation.ts). */
  readonly generation: number;
}

/**
 * A memory as a replica holds it: every version no other version supersedes. More than one sibling
 * means concurrent writes; none of them is dropped until a later write covers it.
 * Siblings are kept in canonical order (by dot) so equal records are equal structurally.
 */
export interface MemoryRecord {
  readonly id: MemoryId;
  readonly siblings: readonly Version[];
}

/**
 * 'sleeping': the member said it is being suspended (a frozen browser tab) and will say when it
 * is back; it is not probed, not counted as failed, and is reaped like a dead one if it never is.
 */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left' | 'sleeping';

/** What this node believes about one member of the cluster. */
export interface Member {
  readonly id: NodeId;
  readonly state: MemberState;
  readonly incarnation: number;
  /** Scheduler time of the last message received from this member, if any. */
  readonly lastHeardAt: number | undefined;
  /** Scheduler time at which `state` last changed. */
  readonly stateChangedAt: number;
}

/** How much of the cluster this node can see right now. */
export interface Visibility {
  /** Alive members, this node included. */
  readonly visible: number;
  /** Current members (alive, suspect, dead), this node included; left, sleeping and reaped ones excluded. */
  readonly total: number;
  /** visible / total. */
  readonly ratio: number;
  /** The confidence multiplier for reads at this ratio (visibility.ts). */
  readonly penalty: number;
  /** This node's partition generation. */
  readonly generation: number;
  /**
   * Members that said they are suspended (frozen tabs), when there are any. They are outside
   * `total`: a frozen tab writes nothing while it sleeps, so its absence hides no writes, and it
   * heals what it missed when it wakes.
   */
  readonly sleeping?: number;
}

/** One entry of a node's generation log: from `since` on, it saw exactly `visible`. */
export interface GenerationEntry {
  readonly generation: number;
  readonly since: number;
  readonly visible: readonly NodeId[];
  /** Whether the node saw fewer members than it knew of (a partition) during this generation. */
  readonly partial?: boolean;
}

/** What a node persists besides its records, committed atomically with the writes that change it. */
export interface NodeState {
  readonly nodeId: NodeId;
  /** Highest dot counter this node has issued; never reused, so dots stay unique across restarts. */
  readonly counter: number;
  /** Highest SWIM incarnation this node has used; a restart continues above it. */
  readonly incarnation: number;
  readonly generation: number;
  readonly generations: readonly GenerationEntry[];
  /**
   * What this node has seen of each other writer, held or written over (frontier.ts); absent in
   * older stores. Its own entry is `counter`.
   */
  readonly frontier?: VersionVector;
}
