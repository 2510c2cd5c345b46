/**
 * Protocol messages are data: a discriminated union, encoded per peer link as
 *   [version byte][type byte][link header: seq, ack, node-clock delta][body]
 * Node ids anywhere in a message go through the link's dictionary (small integers once the peer
 * knows them), so clocks and membership rumours cost a few bytes.
 *
 * Decoding is two-phase: the whole message is read and validated first, and only then is the
 * link state committed, so bytes that fail to decode never change anything.
 */
import { ByteReader, ByteWriter } from './bytes.js';
import type { InboundFrame, OutboundFrame, PeerClockCodec } from './clock-codec.js';
import { DIGEST_BYTES } from './digest.js';
import { DecodeError } from './errors.js';
import { LIMITS } from './limits.js';
import type { MemberDigest, Rumour, RumourKind, SwimMessage } from './swim.js';
import type { GenerationEntry, MemberState, MemoryRecord, NodeId, Version, VersionVector } from './types.js';

export const WIRE_VERSION = 1;

/** Limits that keep a hostile or broken peer from making us allocate or loop without bound: the node's own (limits.ts). */
export const WIRE_LIMITS = LIMITS;

/** A node's recent generation log, carried in heal handshakes so the heal report can say who wrote on which side. */
export interface GenerationLog {
  readonly node: NodeId;
  readonly entries: readonly GenerationEntry[];
}

/**
 * A heal-open's answer: 'accept' (a two-way session), 'serve' (busy receiving from another peer,
 * but will send what the opener lacks and take nothing), 'busy' or 'equal' (roots already equal).
 */
export type HealStatus = 'accept' | 'busy' | 'equal' | 'serve';

/** One key in a heal-keys listing: a short hash of the memory id and the entry hash (id + record digest). */
export interface HealKey {
  readonly keyHash: Uint8Array;
  readonly entryHash: Uint8Array;
}

export const KEY_HASH_BYTES = 4;

export interface HealBucketKeys {
  readonly index: number;
  readonly keys: readonly HealKey[];
}

export type Message =
  | { readonly type: 'swim'; readonly swim: SwimMessage }
  | { readonly type: 'replicate'; readonly records: readonly MemoryRecord[] }
  | {
      readonly type: 'heal-open';
      readonly session: number;
      readonly root: Uint8Array;
      readonly keyCount: number;
      readonly generations: readonly GenerationLog[];
      /** The sender's frontier (frontier.ts) as of this message's root. */
      readonly frontier: VersionVector;
    }
  | {
      readonly type: 'heal-reply';
      readonly session: number;
      readonly status: HealStatus;
      readonly root: Uint8Array;
      readonly keyCount: number;
      readonly generations: readonly GenerationLog[];
      /** The sender's frontier as of this root (empty when busy). */
      readonly frontier: VersionVector;
    }
  | {
      readonly type: 'heal-level';
      readonly session: number;
      readonly level: number;
      readonly nodes: readonly { readonly index: number; readonly hash: Uint8Array }[];
    }
  | { readonly type: 'heal-keys'; readonly session: number; readonly level: number; readonly buckets: readonly HealBucketKeys[] }
  | {
      readonly type: 'heal-want';
      readonly session: number;
      /** Entry hashes of keys the sender holds in another version. */
      readonly want: readonly Uint8Array[];
      /** Entry hashes of keys the sender lacks altogether (the peer may find them obsolete: frontier.ts). */
      readonly missing: readonly Uint8Array[];
      readonly sending: number;
    }
  | { readonly type: 'heal-records'; readonly session: number; readonly records: readonly MemoryRecord[]; readonly final: boolean }
  | { readonly type: 'heal-done'; readonly session: number; readonly root: Uint8Array }
  | { readonly type: 'heal-abort'; readonly session: number };

export type MessageType = Message['type'];

const TYPE_CODES: Record<MessageType, number> = {
  swim: 1,
  replicate: 2,
  'heal-open': 10,
  'heal-reply': 11,
  'heal-level': 12,
  'heal-keys': 13,
  'heal-want': 14,
  'heal-records': 15,
  'heal-done': 16,
  'heal-abort': 17,
};
const TYPES_BY_CODE = new Map<number, MessageType>(
  Object.entries(TYPE_CODES).map(([type, code]) => [code, type as MessageType]),
);

const SWIM_TYPES = ['ping', 'ack', 'ping-req', 'nack', 'sync'] as const;
// Appended, never reordered: the index is the wire code. 'sleeping' (4) is the suspend notice.
const RUMOUR_KINDS: readonly RumourKind[] = ['alive', 'suspect', 'dead', 'left', 'sleeping'];
const MEMBER_STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left', 'sleeping'];
const HEAL_STATUSES: readonly HealStatus[] = ['accept', 'busy', 'equal', 'serve'];

export interface Encoded {
  readonly bytes: Uint8Array;
  /** The vector clock every message carries: the link header (seq, ack, node-clock delta). */
  readonly clockBytes: number;
  /** The causal metadata of each replicated version in the message (its dot and context), one entry per version. */
  readonly versionClockBytes: readonly number[];
}

export interface Decoded {
  readonly message: Message;
  /** Bytes of the link header (the message's vector clock). */
  readonly clockBytes: number;
  /** The sender's node-clock entries that this message carried. */
  readonly clockDelta: VersionVector;
}

/** Encodes `message` for the peer at the other end of `link`, advertising our node clock `clock`. */
export function encodeMessage(link: PeerClockCodec, clock: VersionVector, message: Message): Encoded {
  const w = new ByteWriter(256);
  const frame = link.beginOutbound(clock);
  w.u8(WIRE_VERSION).u8(TYPE_CODES[message.type]);
  const headerStart = w.size;
  frame.writeHeader(w);
  const clockBytes = w.size - headerStart;
  const body = new BodyWriter(w, frame);
  body.message(message);
  frame.commit();
  return { bytes: w.finish(), clockBytes, versionClockBytes: body.versionClockBytes };
}

/**
 * Decodes a message from the peer at the other end of `link`. Throws DecodeError for anything it
 * cannot read; the link is committed only when the whole message was valid.
 */
export function decodeMessage(link: PeerClockCodec, bytes: Uint8Array): Decoded {
  if (bytes.length > WIRE_LIMITS.messageBytes) {
    throw new DecodeError('oversized', `message of ${bytes.length} bytes exceeds ${WIRE_LIMITS.messageBytes}`);
  }
  const r = new ByteReader(bytes);
  const version = r.u8('the version byte');
  if (version !== WIRE_VERSION) {
    throw new DecodeError('bad-version', `wire version ${version} is not supported (this node speaks ${WIRE_VERSION})`);
  }
  const code = r.u8('the message type');
  const type = TYPES_BY_CODE.get(code);
  if (!type) throw new DecodeError('unknown-type', `unknown message type ${code}`);
  const frame = link.beginInbound();
  const headerStart = r.position;
  frame.readHeader(r);
  const clockBytes = r.position - headerStart;
  const body = new BodyReader(r, frame);
  const message = body.message(type);
  r.end();
  frame.commit();
  return { message, clockBytes, clockDelta: frame.clockDelta };
}

class BodyWriter {
  readonly versionClockBytes: number[] = [];

  constructor(
    private readonly w: ByteWriter,
    private readonly frame: OutboundFrame,
  ) {}

  private ref(id: NodeId): void {
    this.frame.writeNodeRef(this.w, id);
  }

  message(message: Message): void {
    const w = this.w;
    switch (message.type) {
      case 'swim':
        return this.swim(message.swim);
      case 'replicate':
        return this.records(message.records);
      case 'heal-open':
      case 'heal-reply':
        w.varint(message.session);
        if (message.type === 'heal-reply') w.u8(HEAL_STATUSES.indexOf(message.status));
        w.raw(message.root).varint(message.keyCount);
        this.generations(message.generations);
        return this.frontier(message.frontier);
      case 'heal-level':
        w.varint(message.session).varint(message.level).varint(message.nodes.length);
        for (const node of message.nodes) w.varint(node.index).raw(node.hash);
        return;
      case 'heal-keys':
        w.varint(message.session).varint(message.level).varint(message.buckets.length);
        for (const bucket of message.buckets) {
          w.varint(bucket.index).varint(bucket.keys.length);
          for (const key of bucket.keys) w.raw(key.keyHash).raw(key.entryHash);
        }
        return;
      case 'heal-want':
        w.varint(message.session).varint(message.sending).varint(message.want.length);
        for (const hash of message.want) w.raw(hash);
        w.varint(message.missing.length);
        for (const hash of message.missing) w.raw(hash);
        return;
      case 'heal-records':
        w.varint(message.session).bool(message.final);
        return this.records(message.records);
      case 'heal-done':
        w.varint(message.session).raw(message.root);
        return;
      case 'heal-abort':
        w.varint(message.session);
        return;
    }
  }

  private swim(message: SwimMessage): void {
    const w = this.w;
    w.u8(SWIM_TYPES.indexOf(message.type));
    if (message.type === 'sync') {
      w.bool(message.reply).varint(message.members.length);
      for (const member of message.members) {
        this.ref(member.node);
        w.u8(MEMBER_STATES.indexOf(member.state)).varint(member.incarnation);
      }
      return;
    }
    w.varint(message.seq);
    if (message.type === 'ping-req') this.ref(message.target);
    w.varint(message.rumours.length);
    for (const rumour of message.rumours) {
      w.u8(RUMOUR_KINDS.indexOf(rumour.kind));
      this.ref(rumour.node);
      w.varint(rumour.incarnation);
      this.ref(rumour.from);
    }
  }

  private records(records: readonly MemoryRecord[]): void {
    this.w.varint(records.length);
    for (const record of records) {
      this.w.string(record.id).varint(record.siblings.length);
      for (const version of record.siblings) this.version(version);
    }
  }

  private version(version: Version): void {
    const w = this.w;
    const before = w.size;
    this.ref(version.dot.node);
    w.varint(version.dot.counter);
    const nodes = Object.keys(version.context).sort();
    w.varint(nodes.length);
    for (const node of nodes) {
      this.ref(node);
      w.varint(version.context[node] as number);
    }
    this.versionClockBytes.push(w.size - before);
    w.string(version.content).varint(version.tags.length);
    for (const tag of version.tags) w.string(tag);
    w.f64(version.confidence).bool(version.deleted).f64(version.createdAt);
    this.ref(version.author);
    w.f64(version.writtenAt).varint(version.generation);
  }

  private frontier(frontier: VersionVector): void {
    const nodes = Object.keys(frontier).filter((node) => (frontier[node] as number) > 0);
    this.w.varint(nodes.length);
    for (const node of nodes) {
      this.ref(node);
      this.w.varint(frontier[node] as number);
    }
  }

  private generations(logs: readonly GenerationLog[]): void {
    const w = this.w;
    w.varint(logs.length);
    for (const log of logs) {
      this.ref(log.node);
      w.varint(log.entries.length);
      for (const entry of log.entries) {
        w.varint(entry.generation).f64(entry.since).bool(entry.partial ?? false).varint(entry.visible.length);
        for (const id of entry.visible) this.ref(id);
      }
    }
  }
}

class BodyReader {

  constructor(
    private readonly r: ByteReader,
    private readonly frame: InboundFrame,
  ) {}

  private ref(): NodeId {
    return this.frame.readNodeRef(this.r);
  }

  private hash(what: string): Uint8Array {
    return this.r.raw(DIGEST_BYTES, what).slice();
  }

  private count(max: number, what: string): number {
    return this.r.boundedVarint(max, what);
  }

  /** Counters and incarnations: bounded so that `+ 1` stays exact and encodable (limits.ts). */
  private counter(what: string): number {
    return this.r.boundedVarint(LIMITS.counter, what);
  }

  message(type: MessageType): Message {
    const r = this.r;
    switch (type) {
      case 'swim':
        return { type, swim: this.swim() };
      case 'replicate':
        return { type, records: this.records() };
      case 'heal-open': {
        const session = r.varint('session');
        const root = this.hash('root');
        const keyCount = r.varint('key count');
        const generations = this.generations();
        return { type, session, root, keyCount, generations, frontier: this.frontier() };
      }
      case 'heal-reply': {
        const session = r.varint('session');
        const status = pick(HEAL_STATUSES, r.u8('heal status'), 'heal status');
        const root = this.hash('root');
        const keyCount = r.varint('key count');
        const generations = this.generations();
        return { type, session, status, root, keyCount, generations, frontier: this.frontier() };
      }
      case 'heal-level': {
        const session = r.varint('session');
        const level = r.boundedVarint(64, 'level');
        const length = this.count(WIRE_LIMITS.hashes, 'node count');
        const nodes: { index: number; hash: Uint8Array }[] = [];
        for (let i = 0; i < length; i++) nodes.push({ index: r.varint('node index'), hash: this.hash('node hash') });
        return { type, session, level, nodes };
      }
      case 'heal-keys': {
        const session = r.varint('session');
        const level = r.boundedVarint(64, 'level');
        const length = this.count(WIRE_LIMITS.hashes, 'bucket count');
        const buckets: HealBucketKeys[] = [];
        let total = 0;
        for (let i = 0; i < length; i++) {
          const index = r.varint('bucket index');
          const keyCount = this.count(WIRE_LIMITS.hashes, 'key count');
          total += keyCount;
          if (total > WIRE_LIMITS.hashes) throw new DecodeError('oversized', 'too many keys');
          const keys: HealKey[] = [];
          for (let j = 0; j < keyCount; j++) {
            const keyHash = r.raw(KEY_HASH_BYTES, 'key hash').slice();
            keys.push({ keyHash, entryHash: this.hash('entry hash') });
          }
          buckets.push({ index, keys });
        }
        return { type, session, level, buckets };
      }
      case 'heal-want': {
        const session = r.varint('session');
        const sending = r.varint('sending count');
        const length = this.count(WIRE_LIMITS.hashes, 'want count');
        const want: Uint8Array[] = [];
        for (let i = 0; i < length; i++) want.push(this.hash('wanted entry hash'));
        const missingCount = this.count(WIRE_LIMITS.hashes - length, 'missing count');
        const missing: Uint8Array[] = [];
        for (let i = 0; i < missingCount; i++) missing.push(this.hash('missing entry hash'));
        return { type, session, want, missing, sending };
      }
      case 'heal-records': {
        const session = r.varint('session');
        const final = r.bool('final flag');
        return { type, session, final, records: this.records() };
      }
      case 'heal-done': {
        const session = r.varint('session');
        return { type, session, root: this.hash('root') };
      }
      case 'heal-abort':
        return { type, session: r.varint('session') };
    }
  }

  private swim(): SwimMessage {
    const r = this.r;
    const type = pick(SWIM_TYPES, r.u8('swim message type'), 'swim message type');
    if (type === 'sync') {
      const reply = r.bool('sync reply flag');
      const length = this.count(WIRE_LIMITS.members, 'member count');
      const members: MemberDigest[] = [];
      for (let i = 0; i < length; i++) {
        const node = this.ref();
        const state = pick(MEMBER_STATES, r.u8('member state'), 'member state');
        members.push({ node, state, incarnation: this.counter('incarnation') });
      }
      return { type, reply, members };
    }
    const seq = r.varint('probe seq');
    const target = type === 'ping-req' ? this.ref() : undefined;
    const length = this.count(WIRE_LIMITS.rumours, 'rumour count');
    const rumours: Rumour[] = [];
    for (let i = 0; i < length; i++) {
      const kind = pick(RUMOUR_KINDS, r.u8('rumour kind'), 'rumour kind');
      const node = this.ref();
      const incarnation = this.counter('incarnation');
      rumours.push({ kind, node, incarnation, from: this.ref() });
    }
    if (type === 'ping-req') return { type, seq, target: target as NodeId, rumours };
    return { type, seq, rumours };
  }

  private records(): MemoryRecord[] {
    const r = this.r;
    const length = this.count(WIRE_LIMITS.records, 'record count');
    const records: MemoryRecord[] = [];
    for (let i = 0; i < length; i++) {
      const id = r.string(WIRE_LIMITS.idBytes, 'memory id');
      if (id.length === 0) throw new DecodeError('bad-value', 'empty memory id');
      const siblingCount = this.count(WIRE_LIMITS.siblings, 'sibling count');
      if (siblingCount === 0) throw new DecodeError('bad-value', `record ${id} has no versions`);
      const siblings: Version[] = [];
      for (let j = 0; j < siblingCount; j++) siblings.push(this.version());
      records.push({ id, siblings });
    }
    return records;
  }

  private version(): Version {
    const r = this.r;
    const node = this.ref();
    const counter = this.counter('dot counter');
    if (counter < 1) throw new DecodeError('bad-value', 'dot counter must be at least 1');
    const entries = this.count(WIRE_LIMITS.contextEntries, 'context size');
    const context: Record<NodeId, number> = {};
    for (let i = 0; i < entries; i++) {
      const contextNode = this.ref();
      const value = this.counter('context counter');
      if (value < 1 || contextNode in context) throw new DecodeError('bad-value', 'malformed causal context');
      context[contextNode] = value;
    }
    const content = r.string(WIRE_LIMITS.contentBytes, 'content');
    const tagCount = this.count(WIRE_LIMITS.tags, 'tag count');
    const tags: string[] = [];
    for (let i = 0; i < tagCount; i++) tags.push(r.string(WIRE_LIMITS.tagBytes, 'tag'));
    const confidence = r.f64('confidence');
    if (!(confidence >= 0 && confidence <= 1)) throw new DecodeError('bad-value', `confidence ${confidence} is outside [0, 1]`);
    const deleted = r.bool('tombstone flag');
    const createdAt = finite(r.f64('created-at'), 'created-at');
    const author = this.ref();
    const writtenAt = finite(r.f64('written-at'), 'written-at');
    const generation = r.varint('generation');
    return { dot: { node, counter }, context, content, tags, confidence, deleted, createdAt, author, writtenAt, generation };
  }

  private frontier(): VersionVector {
    const length = this.count(WIRE_LIMITS.members, 'frontier size');
    const frontier: Record<NodeId, number> = {};
    for (let i = 0; i < length; i++) {
      const node = this.ref();
      const counter = this.counter('frontier counter');
      if (counter < 1 || Object.hasOwn(frontier, node)) throw new DecodeError('bad-value', 'malformed frontier');
      frontier[node] = counter;
    }
    return frontier;
  }

  private generations(): GenerationLog[] {
    const r = this.r;
    const length = this.count(WIRE_LIMITS.generationNodes, 'generation log count');
    const logs: GenerationLog[] = [];
    for (let i = 0; i < length; i++) {
      const node = this.ref();
      const entryCount = this.count(WIRE_LIMITS.generationEntries, 'generation entries');
      const entries: GenerationEntry[] = [];
      for (let j = 0; j < entryCount; j++) {
        const generation = r.varint('generation');
        const since = finite(r.f64('generation start'), 'generation start');
        const partial = r.bool('partial flag');
        const visibleCount = this.count(WIRE_LIMITS.members, 'visible member count');
        const visible: NodeId[] = [];
        for (let k = 0; k < visibleCount; k++) visible.push(this.ref());
        entries.push({ generation, since, partial, visible });
      }
      logs.push({ node, entries });
    }
    return logs;
  }
}

function pick<T>(values: readonly T[], code: number, what: string): T {
  const value = values[code];
  if (value === undefined) throw new DecodeError('bad-value', `${what} code ${code} is unknown`);
  return value;
}

function finite(value: number, what: string): number {
  if (!Number.isFinite(value)) throw new DecodeError('bad-value', `${what} is not a finite number`);
  return value;
}
