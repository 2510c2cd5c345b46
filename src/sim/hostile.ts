/**
 * Hostile members for the simulator (issue 10, item 4): a real, authenticated cluster member whose
 * outgoing traffic is replaced or augmented with random *well-formed* messages of every type of
 * the wire union (wire.ts), with extreme but encodable values: counters and incarnations at and
 * around LIMITS.counter, forged dots and rumours naming honest nodes, contexts that claim the
 * future or everything, maximal sibling sets, tags and ids at their byte limits, heal messages for
 * sessions that do or do not exist. The lies go out through the member's own link codec
 * (EngramNode's `outgoing` seam), so they decode like its honest messages do; a few values sit
 * just past a decoder bound (2^53−1 incarnations) so the refusal path is exercised too.
 *
 * Every version it invents is reported to `onVersion` with the virtual time it was made, so the
 * checker (checker.ts checkHonestReplicas) can tell a hostile version from an honest one and know
 * which honest writes it could have seen. Randomness is one SeededRandom: a seed replays exactly.
 */
import { DIGEST_BYTES } from '../core/digest.js';
import { LIMITS } from '../core/limits.js';
import type { EngramNode } from '../core/node.js';
import type { Random } from '../core/ports.js';
import type { MemberDigest, Rumour, RumourKind, SwimMessage } from '../core/swim.js';
import type { MemberState, MemoryRecord, NodeId, Version } from '../core/types.js';
import { recordContext } from '../core/merge.js';
import { KEY_HASH_BYTES, type GenerationLog, type HealStatus, type Message, type MessageType } from '../core/wire.js';

/** Every message type of the wire union, with the SWIM subtypes spelled out: the fuzzer picks uniformly among them. */
const SHAPES = [
  'ping', 'ack', 'ping-req', 'nack', 'sync',
  'replicate', 'heal-open', 'heal-reply', 'heal-level', 'heal-keys', 'heal-want', 'heal-records', 'heal-done', 'heal-abort',
] as const;
type Shape = (typeof SHAPES)[number];
/** Compile-time check that SHAPES covers the union: a new message type fails to typecheck here until the fuzzer knows it. */
const COVERS_UNION: Record<Exclude<MessageType, 'swim'> | SwimMessage['type'], true> = Object.fromEntries(SHAPES.map((shape) => [shape, true])) as Record<Shape, true>;
void COVERS_UNION;

const RUMOUR_KINDS: readonly RumourKind[] = ['alive', 'suspect', 'dead', 'left', 'sleeping'];
const MEMBER_STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left', 'sleeping'];
const HEAL_STATUSES: readonly HealStatus[] = ['accept', 'busy', 'equal', 'serve'];
/** 2^53−1: encodable as a varint, refused by every decoder where a counter is read (limits.ts). */
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export interface HostileOptions {
  readonly self: NodeId;
  /** The honest members: the victims named in forged dots, contexts and rumours. */
  readonly honest: readonly NodeId[];
  readonly random: Random;
  /** The member's own replica, once open: real record ids and contexts make the lies land on real data. */
  readonly node: () => EngramNode | undefined;
  readonly now: () => number;
  /** Whether the attack is on (the scenario stops it at the last heal). */
  readonly active: () => boolean;
  /** Called with every version the fuzzer invents, the memory it is a version of, and the virtual time it was made. */
  readonly onVersion: (id: string, version: Version, atMs: number) => void;
  /** Wall-clock ms for timestamps that look honest. */
  readonly wallNow: () => number;
  /**
   * Whether to tell the lies no defence stops yet (default true): claims about an honest writer's
   * dots that the liar never saw and that some replica admits: a context claiming more of it
   * than it has issued (its future edits), or a dot of its own (forged, future or replayed with
   * other content). The victim answers such a lie when it sees it (re-assertion, leapPast,
   * admission.ts), but an honest node that writes over the lie first inherits the claim in its
   * context, and the victim's edits it covers are then overruled by an honest-looking overwrite
   * the victim cannot tell from a real one (issue 10, open; seeds 39, 80 and 84 of 100 at 3 s of attack).
   * Without them, dots of honest nodes are forged only at values every replica refuses, and
   * context claims only up to what the victim's own link header said it issued. The test of
   * record leaves them out so that it judges everything else; the CLI tells them (--open-lies).
   */
  readonly openLies?: boolean;
}

export interface HostileStats {
  replaced: number;
  added: number;
  byShape: Record<string, number>;
}

/** One hostile member's fuzzer: install `rewrite` as the member's `outgoing`. */
export class HostileFuzzer {
  readonly stats: HostileStats = { replaced: 0, added: 0, byShape: {} };

  constructor(private readonly options: HostileOptions) {}

  /** What the member sends instead of `message` to `to`: sometimes a lie instead, often lies besides. */
  readonly rewrite = (to: NodeId, message: Message): readonly Message[] => {
    if (!this.options.active()) return [message];
    const random = this.options.random;
    const out: Message[] = [];
    const roll = random.next();
    // A fifth of its real messages are dropped for a lie (its probes go unanswered, its heals break off).
    if (roll < 0.2) this.stats.replaced++;
    else out.push(message);
    const extra = roll < 0.2 ? 1 : random.next() < 0.5 ? 1 + random.int(2) : 0;
    for (let k = 0; k < extra; k++) {
      out.push(this.message(to));
      this.stats.added++;
    }
    return out;
  };

  /** A random well-formed message of a random type. */
  message(to: NodeId): Message {
    const random = this.options.random;
    const shape = SHAPES[random.int(SHAPES.length)] as Shape;
    this.stats.byShape[shape] = (this.stats.byShape[shape] ?? 0) + 1;
    switch (shape) {
      case 'ping':
      case 'ack':
      case 'nack':
        return { type: 'swim', swim: { type: shape, seq: this.seq(), rumours: this.rumours(to) } };
      case 'ping-req':
        return { type: 'swim', swim: { type: 'ping-req', seq: this.seq(), target: this.someNode(), rumours: this.rumours(to) } };
      case 'sync':
        return { type: 'swim', swim: { type: 'sync', reply: random.next() < 0.5, members: this.digests(to) } };
      case 'replicate':
        return { type: 'replicate', records: this.records() };
      case 'heal-open':
        return { type: 'heal-open', session: this.session(), root: this.bytes(DIGEST_BYTES), keyCount: this.count(), generations: this.generations(), frontier: this.frontier() };
      case 'heal-reply':
        return {
          type: 'heal-reply',
          session: this.session(),
          status: HEAL_STATUSES[random.int(HEAL_STATUSES.length)] as HealStatus,
          root: this.bytes(DIGEST_BYTES),
          keyCount: this.count(),
          generations: this.generations(),
          frontier: this.frontier(),
        };
      case 'heal-level':
        return {
          type: 'heal-level',
          session: this.session(),
          level: random.int(65),
          nodes: Array.from({ length: this.small(40) }, () => ({ index: this.count(), hash: this.bytes(DIGEST_BYTES) })),
        };
      case 'heal-keys':
        return {
          type: 'heal-keys',
          session: this.session(),
          level: random.int(65),
          buckets: Array.from({ length: this.small(8) }, () => ({
            index: this.count(),
            keys: Array.from({ length: this.small(8) }, () => ({ keyHash: this.bytes(KEY_HASH_BYTES), entryHash: this.bytes(DIGEST_BYTES) })),
          })),
        };
      case 'heal-want':
        return {
          type: 'heal-want',
          session: this.session(),
          sending: this.count(),
          want: Array.from({ length: this.small(16) }, () => this.bytes(DIGEST_BYTES)),
          missing: Array.from({ length: this.small(16) }, () => this.bytes(DIGEST_BYTES)),
        };
      case 'heal-records':
        return { type: 'heal-records', session: this.session(), final: random.next() < 0.5, records: this.records() };
      case 'heal-done':
        return { type: 'heal-done', session: this.session(), root: this.bytes(DIGEST_BYTES) };
      case 'heal-abort':
        return { type: 'heal-abort', session: this.session() };
    }
  }

  // ---------------------------------------------------------------- values

  /** Mostly small, sometimes large: a count for a list. */
  private small(max: number): number {
    const random = this.options.random;
    return random.next() < 0.9 ? random.int(Math.min(max, 4) + 1) : random.int(max + 1);
  }

  /** An unsigned value for a field the decoder reads as a plain varint: small, near a bound, or the top. */
  private count(): number {
    const random = this.options.random;
    const pick = random.int(5);
    return pick === 0 ? 0 : pick === 1 ? random.int(100) : pick === 2 ? 2 ** 32 + random.int(10) : pick === 3 ? LIMITS.counter : MAX_SAFE;
  }

  private seq(): number {
    // Small seqs collide with the probes in flight; the top one tests that nothing adds to it.
    return this.options.random.next() < 0.7 ? this.options.random.int(200) : this.count();
  }

  /** Session numbers: small ones collide with real sessions, others are for sessions that never were. */
  private session(): number {
    return this.options.random.next() < 0.6 ? this.options.random.int(8) : this.count();
  }

  private bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.options.random.int(256);
    return out;
  }

  /** A counter or incarnation: every value at and around the bounds, and a few just past them (refused by the decoder). */
  private counter(base: number): number {
    const random = this.options.random;
    switch (random.int(9)) {
      case 0:
        return 0;
      case 1:
        return base;
      case 2:
        return base + 1;
      case 3:
        return base + 1 + random.int(5);
      case 4:
        return Math.min(LIMITS.counter, base + LIMITS.counterLeap);
      case 5:
        return LIMITS.counter - 1;
      case 6:
        return LIMITS.counter;
      case 7:
        return random.next() < 0.2 ? MAX_SAFE : LIMITS.counter - random.int(3);
      default:
        return random.int(1_000);
    }
  }

  /** An honest victim mostly, sometimes the attacker itself or a node that never existed. */
  private someNode(): NodeId {
    const random = this.options.random;
    const { honest, self } = this.options;
    const roll = random.next();
    if (roll < 0.75) return honest[random.int(honest.length)] as NodeId;
    if (roll < 0.9) return self;
    return `ghost-${random.int(4)}`;
  }

  /** What the member knows of `node`'s counter: the base that "next dot" and "a little ahead" lies start from. */
  private known(node: NodeId): number {
    return this.options.node()?.nodeClock()[node] ?? 0;
  }

  /**
   * A frontier (core/frontier.ts) claiming to have seen anything from nothing to everything of
   * every honest writer. Receivers cap it at what they have seen and act on it only for versions
   * older than the tombstone horizon (a day by default, longer than any run): these lies must
   * change nothing, and the checker would count any write they made a replica drop.
   */
  private frontier(): Record<NodeId, number> {
    const random = this.options.random;
    const frontier: Record<NodeId, number> = {};
    switch (random.int(4)) {
      case 0:
        break;
      case 1:
        Object.assign(frontier, this.options.node()?.frontierNow() ?? {});
        break;
      case 2:
        for (const victim of this.options.honest) frontier[victim] = LIMITS.counter;
        break;
      default:
        for (const victim of this.options.honest) if (random.next() < 0.5) frontier[victim] = this.counter(this.known(victim));
    }
    for (const node of Object.keys(frontier)) if ((frontier[node] as number) < 1 || (frontier[node] as number) > LIMITS.counter) delete frontier[node];
    return frontier;
  }

  private rumours(to: NodeId): Rumour[] {
    const random = this.options.random;
    const length = random.next() < 0.05 ? LIMITS.rumours : this.small(10);
    return Array.from({ length }, () => {
      // Accusations of the receiver itself and of other honest members, at incarnations it must refute or ignore.
      const node = random.next() < 0.3 ? to : this.someNode();
      const incarnation = this.counter(this.options.node()?.members().find((member) => member.id === node)?.incarnation ?? 0);
      return { kind: RUMOUR_KINDS[random.int(RUMOUR_KINDS.length)] as RumourKind, node, incarnation, from: this.someNode() };
    });
  }

  private digests(to: NodeId): MemberDigest[] {
    const random = this.options.random;
    return Array.from({ length: this.small(24) }, () => {
      const node = random.next() < 0.3 ? to : this.someNode();
      const incarnation = this.counter(this.options.node()?.members().find((member) => member.id === node)?.incarnation ?? 0);
      return { node, state: MEMBER_STATES[random.int(MEMBER_STATES.length)] as MemberState, incarnation };
    });
  }

  private generations(): GenerationLog[] {
    const random = this.options.random;
    return Array.from({ length: this.small(LIMITS.generationNodes) }, () => ({
      node: this.someNode(),
      entries: Array.from({ length: this.small(LIMITS.generationEntries) }, () => ({
        generation: this.count(),
        since: this.timestamp(),
        partial: random.next() < 0.5,
        visible: Array.from({ length: this.small(8) }, () => this.someNode()),
      })),
    }));
  }

  // ---------------------------------------------------------------- records

  private records(): MemoryRecord[] {
    const random = this.options.random;
    const node = this.options.node();
    const held = node ? [...node.allRecords()] : [];
    return Array.from({ length: 1 + this.small(3) }, () => {
      const roll = random.next();
      // Real records most of the time: the lies then meet honest versions of the same memory.
      const target = roll < 0.7 && held.length > 0 ? (held[random.int(held.length)] as MemoryRecord) : undefined;
      const id = target?.id ?? (roll < 0.85 ? `hostile.${random.int(50)}` : this.maxLengthText(LIMITS.idBytes));
      const siblings = random.next() < 0.04 ? LIMITS.siblings : 1 + this.small(3);
      return { id, siblings: Array.from({ length: siblings }, () => this.version(id, target)) };
    });
  }

  private version(id: string, target: MemoryRecord | undefined): Version {
    const random = this.options.random;
    const now = this.options.now();
    const dotNode = random.next() < 0.5 ? this.options.self : this.someNode();
    let counter = Math.max(1, Math.min(LIMITS.counter, this.counter(this.known(dotNode))));
    // A forged dot of an honest node that some replica admits is open (see openLies): only the ones every replica refuses.
    if (this.options.openLies === false && this.options.honest.includes(dotNode)) counter = LIMITS.counter - this.options.random.int(2);
    const dot = { node: dotNode, counter };
    const context: Record<NodeId, number> = {};
    const real = recordContext(target);
    switch (random.int(6)) {
      case 0:
        break;
      case 1:
        // What the member really holds of this memory: an honest-looking edit.
        Object.assign(context, real);
        break;
      case 2: {
        // The known open attack: a victim's counter a little ahead of what anyone has seen.
        Object.assign(context, real);
        const victim = this.options.honest[random.int(this.options.honest.length)] as NodeId;
        context[victim] = this.known(victim) + 1 + random.int(5);
        break;
      }
      case 3:
        for (const victim of this.options.honest) context[victim] = LIMITS.counter;
        break;
      case 4:
        // A huge context: every entry a decoder reads, of nodes nobody knows.
        for (let k = 0; k < (random.next() < 0.2 ? LIMITS.contextEntries : 64); k++) context[`ghost-writer-${k}`] = 1 + random.int(1_000);
        break;
      default:
        for (const victim of this.options.honest) if (random.next() < 0.5) context[victim] = this.counter(this.known(victim));
    }
    if (this.options.openLies === false) {
      for (const victim of this.options.honest) {
        const claim = context[victim];
        // What the victim itself last said it issued (its link header): a claim up to there is true.
        const issued = this.options.node()?.peerClock(victim)[victim] ?? 0;
        // Short of that, or far enough out that every replica refuses it (admission.ts): not the open case.
        if (claim !== undefined && claim > issued && claim < LIMITS.counter - 2) context[victim] = issued;
      }
    }
    // The writer's own entry must stay below its dot (the wire refuses anything else), and every entry >= 1.
    delete context[dotNode];
    for (const node of Object.keys(context)) if ((context[node] as number) < 1 || (context[node] as number) > LIMITS.counter) delete context[node];
    const tags = random.next() < 0.1 ? Array.from({ length: LIMITS.tags }, (_, k) => `${k}-${this.maxLengthText(LIMITS.tagBytes - 4)}`) : ['hostile'];
    const content = random.next() < 0.03 ? this.maxLengthText(LIMITS.contentBytes) : `hostile ${random.int(1_000_000)}`;
    const version: Version = {
      dot,
      context,
      content,
      tags: [...new Set(tags)].sort(),
      confidence: [0, 1, random.next()][random.int(3)] as number,
      deleted: random.next() < 0.2,
      createdAt: this.timestamp(),
      author: random.next() < 0.5 ? this.options.self : this.someNode(),
      writtenAt: this.timestamp(),
      generation: this.count(),
    };
    this.options.onVersion(id, version, now);
    return version;
  }

  /** A timestamp: honest-looking, far in the past, far in the future, or the largest finite double. */
  private timestamp(): number {
    const random = this.options.random;
    const wall = this.options.wallNow();
    switch (random.int(6)) {
      case 0:
        return 0;
      case 1:
        return wall + 365 * 24 * 3_600_000;
      case 2:
        return -wall;
      case 3:
        return Number.MAX_VALUE;
      default:
        return wall;
    }
  }

  /** Text of exactly `maxBytes` UTF-8 bytes (three-byte CJK characters, padded with ASCII), well-formed. */
  private maxLengthText(maxBytes: number): string {
    const random = this.options.random;
    const cjk = Math.floor(maxBytes / 3);
    let out = '';
    for (let k = 0; k < cjk; k++) out += String.fromCharCode(0x4e00 + random.int(0x5000));
    return out + 'x'.repeat(maxBytes - cjk * 3);
  }
}
