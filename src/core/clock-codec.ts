/**
 * The per-link delta codec for vector clocks and node-id references.
 *
 * Every message carries the sender's node clock so the receiver learns what the sender has. With
 * 100+ members over a cluster's life a full clock is hundreds of bytes, so each peer link sends
 * only the entries that grew since a clock the peer ACKNOWLEDGED (its baseline), names nodes by
 * small per-link indices, and spells an id out only until the peer has acknowledged a message that
 * carried it. Target: a median of <= 16 bytes of clock data per message.
 *
 * The transport loses, reorders and duplicates frames, so everything here is idempotent:
 * entries are absolute counters (max-merge never overshoots), the ack is the highest seq committed
 * (monotone, piggybacked on every header), and a definition is trusted only once a frame that
 * actually carried it was acknowledged.
 *
 * Header layout (all varints):
 *   entryCount << 3 | FOREIGN_ACK << 2 | RESET_REQUEST << 1 | RESET
 *   seq                     this frame's number on the link, from 1
 *   ack                     highest seq committed from the receiver, 0 = none yet
 *   zigzag(seq - echo)      only when ack > 0: the ack that the acknowledged frame itself carried
 *   entryCount x (nodeRef, counter >= 1)
 * nodeRef := index << 1 | hasDefinition, then the id string when hasDefinition.
 *
 * Paging. There is no ceiling on the entries a clock may have: a header carries at most
 * HEADER_PAGE_ENTRIES of those it would send, and the snapshot recorded for the frame counts only
 * what it actually carried (a deferred entry keeps its baseline value, or is absent). When the peer
 * acknowledges the frame, that snapshot becomes the baseline, so the next frames carry the next
 * page as an ordinary delta. A RESET frame replaces the peer's view with its page; the rest
 * follows as deltas once the reset is acknowledged. Nothing changes on the wire: a paged header is
 * a header with fewer entries, and the common case (a few entries) is byte for byte what it was.
 *
 * Restarts. A restarted peer builds a new PeerClockCodec and numbers its frames from 1 again, so a bare
 * seq is ambiguous: our ack "7" may name the old incarnation's frame 7. We rely on the transport
 * dropping a crashed peer's in-flight frames (both directions: the connection is gone), and on:
 *  - Reset request. A new link has nothing, so its headers ask for a reset (drop the baseline,
 *    re-send definitions) until it receives a RESET frame. Acks riding on a request are ignored:
 *    the requester may have committed deltas against a baseline it never had.
 *  - Echo. An ack also carries the ack that the acknowledged frame carried. The sender accepts an
 *    ack only if that matches what it recorded for its frame, so a frame 7 of an earlier
 *    incarnation is not taken for this one's (they acknowledged different frames).
 *  - Foreign ack. When the frame we acknowledge carried an ack of a seq we have not sent yet, the
 *    peer is still acknowledging an earlier incarnation of us. We say so with FOREIGN_ACK: the peer
 *    takes it as "follow my new numbering" (restarting its inbound stream at this frame) and never
 *    uses such an ack for its baseline or definitions. Within one incarnation on each side this
 *    flag is never set, so a reordered old frame cannot restart a stream; when both ends restart
 *    in turn, it also stops a value from one incarnation from being echoed as if from another.
 */
import { utf8, type ByteReader, type ByteWriter } from './bytes.js';
import { DecodeError, EngramError } from './errors.js';
import type { NodeId, VersionVector } from './types.js';
import { deltaSince, merge } from './vector-clock.js';

/** Longest node id on the wire: ids are short tokens; anything longer is hostile or corrupt. */
export const MAX_NODE_ID_BYTES = 256;
/** Most clock entries a header we accept may carry: bounds what one frame makes us decode. */
export const MAX_HEADER_ENTRIES = 4096;
/**
 * Most clock entries a header we send carries. A clock with more entries to send (a new link in a
 * cluster whose past holds thousands of writers) goes out in pages of this many, one page per
 * acknowledged frame (see "Paging"). 1,024 entries with their ids spelled out are ~25 KB: under
 * the ~64 KB a WebRTC message may safely be, with room for the body.
 */
export const HEADER_PAGE_ENTRIES = 1024;
/** Highest node-ref index accepted: bounds the dictionary a hostile peer can make us hold. */
export const MAX_NODE_INDEX = 1 << 20;
/** Clock snapshots kept per link: an ack older than this many frames cannot become the baseline. */
const DEFAULT_MAX_SNAPSHOTS = 32;

const FLAG_RESET = 1;
const FLAG_RESET_REQUEST = 2;
const FLAG_FOREIGN_ACK = 4;
const FLAG_COUNT = 8;


/** The delta clock codec's state with one peer, both directions (what we sent and they acked, what they sent). One instance per peer, for the life of this process. */
export class PeerClockCodec {
  private readonly outbound: OutboundState;
  private readonly inbound = new InboundState();

  /** `headerPageEntries` (default HEADER_PAGE_ENTRIES, at most MAX_HEADER_ENTRIES): tests page small clocks with it. */
  constructor(options?: { maxSnapshots?: number; headerPageEntries?: number }) {
    const maxSnapshots = options?.maxSnapshots ?? DEFAULT_MAX_SNAPSHOTS;
    if (!Number.isInteger(maxSnapshots) || maxSnapshots < 1) {
      throw new EngramError('invalid-argument', `maxSnapshots must be a positive integer, got ${maxSnapshots}`);
    }
    const pageEntries = options?.headerPageEntries ?? HEADER_PAGE_ENTRIES;
    if (!Number.isInteger(pageEntries) || pageEntries < 1 || pageEntries > MAX_HEADER_ENTRIES) {
      throw new EngramError('invalid-argument', `headerPageEntries must be an integer in [1, ${MAX_HEADER_ENTRIES}], got ${pageEntries}`);
    }
    this.outbound = new OutboundState(maxSnapshots, pageEntries);
  }

  /** Start encoding one outbound message carrying `clock` (our current node clock). */
  beginOutbound(clock: VersionVector): OutboundFrame {
    return new PendingOutboundFrame(this.outbound, this.inbound, this.outbound.takeSeq(), { ...clock });
  }

  /** Start decoding one inbound message. Nothing in the link changes until frame.commit(). */
  beginInbound(): InboundFrame {
    return new PendingInboundFrame(this.outbound, this.inbound);
  }

  /** Our view of the peer's clock: entry-wise max of everything committed from it (a fresh RESET frame replaces it). */
  peerClock(): VersionVector {
    return this.inbound.view;
  }

  /** Called when an inbound message could not be decoded because of link state (unknown node ref): makes our next headers ask the peer to reset, until it sends a RESET frame. */
  requestReset(): void {
    this.inbound.resetRequested = true;
  }
}

export interface OutboundFrame {
  /** Writes the link header: flags, seq, ack (highest seq committed from the peer, 0 = please reset), clock delta against the baseline the peer acknowledged (all entries when no baseline). Call exactly once, first. */
  writeHeader(w: ByteWriter): void;
  /** Writes a node id as a small per-link index; the id string travels with it until the peer acks a message that carried it. Used for the header's entries AND by wire.ts for every node id in the message body. */
  writeNodeRef(w: ByteWriter, id: NodeId): void;
  /** Bytes written so far by writeHeader + writeNodeRef (the "clock bytes" the protocol reports). */
  readonly clockBytes: number;
  /** The message was fully encoded and is being sent: record its seq, its clock snapshot (for when the peer acks it) and which ids it defined. */
  commit(): void;
}

export interface InboundFrame {
  /** Reads the header. Throws DecodeError (from ../errors.js) on malformed input. */
  readHeader(r: ByteReader): void;
  /** Resolves an index using the link dictionary plus definitions staged earlier in this same message. Unknown index → DecodeError('unknown-node-ref'). */
  readNodeRef(r: ByteReader): NodeId;
  readonly seq: number;
  /** Entries the header carried. */
  readonly clockDelta: VersionVector;
  readonly clockBytes: number;
  /** The whole message decoded fine: apply staged definitions, the ack (advances our outbound baseline / confirms definitions, or resets on ack 0), the clock delta (max-merge into peerClock) and the seq. */
  commit(): void;
}

// ------------------------------------------------------------------ outbound direction

/** What we remember of a frame we sent, until it is acknowledged or falls out of the window. */
interface SentFrame {
  readonly clock: VersionVector;
  /** The ack this frame carried; a valid ack of this frame echoes it back. */
  readonly carriedAck: number;
  /** False when the frame carried ack 0: an echo of 0 could not tell our incarnations apart. */
  readonly ackable: boolean;
  readonly reset: boolean;
  readonly definedIds: readonly NodeId[];
  /** Our inbound stream when it was sent: a foreign-ack signal about an older stream is stale. */
  readonly inboundEpoch: number;
}

/** Our per-link name for one node id. */
interface OutboundRef {
  readonly index: number;
  /** The peer committed a frame that carried the definition: uses may omit the id string. */
  confirmed: boolean;
  /** Seqs of sent frames (still in the window) that carried the definition. */
  readonly carriers: Set<number>;
}

/** Our side of the stream towards the peer: numbering, snapshots, baseline, reset, id indices. */
class OutboundState {
  private nextSeq = 1;
  private readonly sent = new Map<number, SentFrame>();
  /** The newest snapshot the peer acknowledged: its view of our clock is at least this. */
  private baseline: { readonly seq: number; readonly clock: VersionVector } | undefined;
  /** Send full clocks flagged RESET until the peer acknowledges one (a new link starts this way). */
  resetting = true;
  /** First seq sent after the latest reset request: only the ack of a RESET frame from here on ends the reset. */
  private resetFromSeq = 1;
  private readonly refs = new Map<NodeId, OutboundRef>();
  private nextIndex = 0;

  constructor(
    private readonly maxSnapshots: number,
    /** Most entries one header carries; the rest wait for the next page. */
    readonly pageEntries: number,
  ) {}

  takeSeq(): number {
    return this.nextSeq++;
  }

  /**
   * The entries to send: everything (reset), or what grew since the acknowledged baseline; in both
   * cases minus what the peer's own clock already covers. The header tells the peer what we have
   * that it lacks (that is what it acts on: healing from us); restating its own entries is waste.
   * In a healthy mesh every node has every write within milliseconds, so this leaves the sender's
   * newest own entry at most: ~4 bytes of header whatever the number of past members.
   */
  entriesToSend(clock: VersionVector, peerHas: VersionVector): Array<[NodeId, number]> {
    const base = this.resetting ? undefined : this.baseline;
    const entries = base ? deltaSince(clock, base.clock) : clock;
    return Object.entries(entries).filter(([node, counter]) => counter > 0 && counter > (peerHas[node] ?? 0));
  }

  /** What the peer knows of `clock` once it has a frame that left `deferred` out: their baseline values (or nothing). */
  conveyed(clock: VersionVector, deferred: ReadonlyArray<readonly [NodeId, number]>): VersionVector {
    const base = this.resetting ? undefined : this.baseline;
    const out: Record<NodeId, number> = { ...clock };
    for (const [node] of deferred) {
      const known = base?.clock[node];
      if (known === undefined) delete out[node];
      else out[node] = known;
    }
    return out;
  }

  /** The id's index, assigned on first use and never reused for another id on this link. */
  refFor(id: NodeId): OutboundRef {
    const known = this.refs.get(id);
    if (known) return known;
    if (utf8(id).length > MAX_NODE_ID_BYTES) {
      throw new EngramError('invalid-argument', `node id longer than ${MAX_NODE_ID_BYTES} bytes cannot be sent`);
    }
    if (id === '__proto__') throw new EngramError('invalid-argument', 'node id "__proto__" cannot be a clock key');
    if (this.nextIndex > MAX_NODE_INDEX) {
      throw new EngramError('invalid-argument', `more than ${MAX_NODE_INDEX} distinct node ids on one link`);
    }
    const ref: OutboundRef = { index: this.nextIndex++, confirmed: false, carriers: new Set() };
    this.refs.set(id, ref);
    return ref;
  }

  recordSent(seq: number, frame: SentFrame): void {
    this.sent.set(seq, frame);
    for (const id of frame.definedIds) this.refs.get(id)?.carriers.add(seq);
    // Oldest first: Map iteration follows insertion (commit) order.
    for (const [oldSeq, oldFrame] of this.sent) {
      if (this.sent.size <= this.maxSnapshots) break;
      this.sent.delete(oldSeq);
      for (const id of oldFrame.definedIds) this.refs.get(id)?.carriers.delete(oldSeq);
    }
  }

  /** Our frame `ack`, if the echo matches what it carried (and so tells it from an earlier incarnation's namesake). */
  private verified(ack: number, echo: number): SentFrame | undefined {
    const frame = this.sent.get(ack);
    return frame && frame.ackable && frame.carriedAck === echo ? frame : undefined;
  }

  /**
   * Whether the peer's `ack` names a seq we have not sent yet: an earlier incarnation of us sent it.
   * (Once we have sent that many frames, the peer's next fresh frames overtake its old numbering
   * anyway, so this is the only case that needs a signal.)
   */
  isForeign(ack: number): boolean {
    return ack >= this.nextSeq;
  }

  /** The peer flags our frame `ack` as acking its previous incarnation: valid once per stream. */
  isForeignSignal(ack: number, echo: number, inboundEpoch: number): boolean {
    return this.verified(ack, echo)?.inboundEpoch === inboundEpoch;
  }

  /** The peer committed our frame `ack`, whose own ack was `echo`. */
  onAck(ack: number, echo: number): void {
    const frame = this.verified(ack, echo);
    // Unknown, ambiguous or mismatched: not provably ours, so it proves nothing.
    if (!frame) return;
    if (!this.baseline || ack > this.baseline.seq) this.baseline = { seq: ack, clock: frame.clock };
    if (frame.reset && ack >= this.resetFromSeq) this.resetting = false;
    for (const id of frame.definedIds) {
      const ref = this.refs.get(id);
      // Exact carrier only: an ack of a later frame says nothing about an earlier one that may be lost.
      if (ref?.carriers.has(ack)) ref.confirmed = true;
    }
  }

  /** The peer has nothing usable from us (new link, restart, or a ref it could not resolve). */
  onResetRequest(): void {
    // Answer the latest request: a RESET frame sent before it may not be what the peer lacked.
    this.resetFromSeq = this.nextSeq;
    this.resetting = true;
    this.baseline = undefined;
    // Earlier carriers do not count either: the definition travels again until a new carrier is acked.
    for (const ref of this.refs.values()) {
      ref.confirmed = false;
      ref.carriers.clear();
    }
  }
}

class PendingOutboundFrame implements OutboundFrame {
  private headerWritten = false;
  private committed = false;
  private bytes = 0;
  private carriedAck = 0;
  private ackable = false;
  private reset = false;
  private inboundEpoch = 0;
  /** Ids whose definition this frame carries: later uses in the same frame refer back to it. */
  private readonly definedHere = new Set<NodeId>();

  constructor(
    private readonly outbound: OutboundState,
    private readonly inbound: InboundState,
    private readonly seq: number,
    /** Our clock as the peer will know it from this frame (less than our clock when the header is paged). */
    private clock: VersionVector,
  ) {}

  get clockBytes(): number {
    return this.bytes;
  }

  writeHeader(w: ByteWriter): void {
    if (this.headerWritten || this.committed) misuse('writeHeader() was already called on this frame');
    const start = w.size;
    const wanted = this.outbound.entriesToSend(this.clock, this.inbound.view);
    const page = this.outbound.pageEntries;
    const entries = wanted.length > page ? wanted.slice(0, page) : wanted;
    if (entries.length < wanted.length) this.clock = this.outbound.conveyed(this.clock, wanted.slice(page));
    const ack = this.inbound.highestSeq;
    const requestReset = this.inbound.resetRequested || ack === 0;
    const foreignAck = ack > 0 && this.inbound.foreignOfHighest;
    this.reset = this.outbound.resetting;
    this.carriedAck = ack;
    this.ackable = ack > 0;
    this.inboundEpoch = this.inbound.epoch;
    w.varint(
      entries.length * FLAG_COUNT +
        (foreignAck ? FLAG_FOREIGN_ACK : 0) +
        (requestReset ? FLAG_RESET_REQUEST : 0) +
        (this.reset ? FLAG_RESET : 0),
    );
    w.varint(this.seq);
    w.varint(ack);
    if (ack > 0) w.varint(zigzag(this.seq - this.inbound.ackOfHighest));
    for (const [node, counter] of entries) {
      this.ref(w, node);
      w.varint(counter);
    }
    this.headerWritten = true;
    this.bytes += w.size - start;
  }

  writeNodeRef(w: ByteWriter, id: NodeId): void {
    if (!this.headerWritten) misuse('writeNodeRef() before writeHeader()');
    if (this.committed) misuse('writeNodeRef() after commit()');
    const start = w.size;
    this.ref(w, id);
    this.bytes += w.size - start;
  }

  private ref(w: ByteWriter, id: NodeId): void {
    const ref = this.outbound.refFor(id);
    const define = !ref.confirmed && !this.definedHere.has(id);
    w.varint(ref.index * 2 + (define ? 1 : 0));
    if (define) {
      w.string(id);
      this.definedHere.add(id);
    }
  }

  commit(): void {
    if (!this.headerWritten) misuse('commit() before writeHeader()');
    if (this.committed) misuse('commit() was already called on this frame');
    this.committed = true;
    this.outbound.recordSent(this.seq, {
      clock: this.clock,
      carriedAck: this.carriedAck,
      ackable: this.ackable,
      reset: this.reset,
      definedIds: [...this.definedHere],
      inboundEpoch: this.inboundEpoch,
    });
  }
}

// ------------------------------------------------------------------ inbound direction

/** Our side of the stream from the peer: what we committed, its ids, its clock. */
class InboundState {
  /** Highest seq committed from the peer: the ack we send. 0 = nothing yet. */
  highestSeq = 0;
  /** The ack carried by frame `highestSeq`: echoed with our ack (see the module comment). */
  ackOfHighest = 0;
  /** That ack names an earlier incarnation of us: our headers carry FOREIGN_ACK. */
  foreignOfHighest = false;
  /** Counts restarts of this stream (the peer's new incarnations we followed). */
  epoch = 0;
  readonly dictionary = new Map<number, NodeId>();
  view: VersionVector = {};
  /** Ask the peer to reset until it sends us a RESET frame; a new link has nothing, so it asks. */
  resetRequested = true;
}

interface ParsedHeader {
  readonly seq: number;
  readonly reset: boolean;
  readonly requestReset: boolean;
  readonly foreignAck: boolean;
  readonly ack: number;
  readonly echo: number;
  readonly delta: VersionVector;
}

class PendingInboundFrame implements InboundFrame {
  private header: ParsedHeader | undefined;
  private readingHeader = false;
  private committed = false;
  private bytes = 0;
  private readonly staged = new Map<number, NodeId>();

  constructor(
    private readonly outbound: OutboundState,
    private readonly inbound: InboundState,
  ) {}

  get seq(): number {
    return this.header?.seq ?? 0;
  }

  get clockDelta(): VersionVector {
    return this.header?.delta ?? {};
  }

  get clockBytes(): number {
    return this.bytes;
  }

  readHeader(r: ByteReader): void {
    if (this.header || this.readingHeader || this.committed) misuse('readHeader() was already called on this frame');
    this.readingHeader = true;
    const start = r.position;
    const first = r.boundedVarint(MAX_HEADER_ENTRIES * FLAG_COUNT + FLAG_COUNT - 1, 'clock header entry count');
    const entryCount = Math.floor(first / FLAG_COUNT);
    const seq = r.varint('frame seq');
    if (seq === 0) throw new DecodeError('bad-value', 'frame seq 0 is not valid (seqs start at 1)');
    const ack = r.varint('ack');
    let echo = 0;
    if (ack > 0) {
      echo = seq - unzigzag(r.varint('ack echo'));
      if (echo < 0 || echo > Number.MAX_SAFE_INTEGER) throw new DecodeError('bad-value', `ack echo ${echo} is not a seq`);
    }
    const delta: Record<NodeId, number> = {};
    for (let i = 0; i < entryCount; i++) {
      const node = this.ref(r);
      const counter = r.varint('clock counter');
      if (counter === 0) throw new DecodeError('bad-value', `clock entry for ${node} is 0 (absent entries are 0)`);
      if (Object.hasOwn(delta, node)) throw new DecodeError('bad-value', `clock entry for ${node} appears twice`);
      delta[node] = counter;
    }
    this.bytes += r.position - start;
    this.header = {
      seq,
      reset: (first & FLAG_RESET) !== 0,
      requestReset: (first & FLAG_RESET_REQUEST) !== 0,
      foreignAck: (first & FLAG_FOREIGN_ACK) !== 0,
      ack,
      echo,
      delta,
    };
  }

  readNodeRef(r: ByteReader): NodeId {
    if (!this.header) misuse('readNodeRef() before readHeader()');
    if (this.committed) misuse('readNodeRef() after commit()');
    const start = r.position;
    const id = this.ref(r);
    this.bytes += r.position - start;
    return id;
  }

  private ref(r: ByteReader): NodeId {
    const value = r.varint('node ref');
    const index = Math.floor(value / 2);
    if (index > MAX_NODE_INDEX) throw new DecodeError('oversized', `node ref ${index} exceeds the limit ${MAX_NODE_INDEX}`);
    if (value % 2 === 1) {
      const id = r.string(MAX_NODE_ID_BYTES, 'node id');
      if (id === '__proto__') throw new DecodeError('bad-value', 'node id "__proto__" cannot be a clock key');
      const earlier = this.staged.get(index);
      if (earlier !== undefined && earlier !== id) {
        throw new DecodeError('bad-value', `node ref ${index} is defined as both ${earlier} and ${id}`);
      }
      this.staged.set(index, id);
      return id;
    }
    const id = this.staged.get(index) ?? this.inbound.dictionary.get(index);
    if (id === undefined) throw new DecodeError('unknown-node-ref', `node ref ${index} was never defined on this link`);
    return id;
  }

  commit(): void {
    const header = this.header;
    if (!header) misuse('commit() without a successfully read header');
    if (this.committed) misuse('commit() was already called on this frame');
    this.committed = true;
    const inbound = this.inbound;
    // A definition overrides an older one at the same index: only a restarted peer reuses indices.
    for (const [index, id] of this.staged) inbound.dictionary.set(index, id);

    const outbound = this.outbound;
    const fresh = header.seq > inbound.highestSeq;
    // The peer is a new incarnation still being acked with our old stream's numbers: follow its
    // numbering from this frame, even if its seq looks stale. A late copy of the signal names a
    // frame of ours from before that restart and is ignored.
    const restarted = header.foreignAck && outbound.isForeignSignal(header.ack, header.echo, inbound.epoch);

    if (header.requestReset || header.ack === 0) {
      // A stale request is honoured only when it cannot be told from a restarted peer's (ack 0);
      // otherwise a duplicated old request would reset a healthy stream.
      if (fresh || restarted || header.ack === 0) outbound.onResetRequest();
    } else if (!header.foreignAck) {
      outbound.onAck(header.ack, header.echo);
    }

    if (fresh || restarted) {
      if (restarted) inbound.epoch += 1;
      inbound.highestSeq = header.seq;
      inbound.ackOfHighest = header.ack;
      inbound.foreignOfHighest = outbound.isForeign(header.ack);
      // A RESET frame carries the full clock: replace, so a peer that lost state is not overestimated.
      inbound.view = header.reset ? { ...header.delta } : merge(inbound.view, header.delta);
      if (header.reset) inbound.resetRequested = false;
    } else {
      // Never replace from a stale frame: a newer one already moved the view past it.
      inbound.view = merge(inbound.view, header.delta);
    }
  }
}

function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

function unzigzag(value: number): number {
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

function misuse(message: string): never {
  throw new EngramError('invalid-argument', message);
}
