/**
 * SWIM's data, shared by the mechanisms swim.ts is made of (swim-members.ts, rumours.ts,
 * probe-cycle.ts): the messages one node sends another about membership (encoded and decoded by
 * wire.ts), and the counters each mechanism keeps.
 */
import type { MemberState, NodeId } from './types.js';

export type RumourKind = 'alive' | 'suspect' | 'dead' | 'left' | 'sleeping';
/** A membership claim: `from` asserts that `node` is `kind` at `incarnation`. For suspect, distinct `from`s are independent confirmations. */
export interface Rumour {
  readonly kind: RumourKind;
  readonly node: NodeId;
  readonly incarnation: number;
  readonly from: NodeId;
}
/** One member as a push-pull sync lists it. */
export interface MemberDigest {
  readonly node: NodeId;
  readonly state: MemberState;
  readonly incarnation: number;
}
export type SwimMessage =
  | { readonly type: 'ping'; readonly seq: number; readonly rumours: readonly Rumour[] }
  | { readonly type: 'ack'; readonly seq: number; readonly rumours: readonly Rumour[] }
  | { readonly type: 'ping-req'; readonly seq: number; readonly target: NodeId; readonly rumours: readonly Rumour[] }
  | { readonly type: 'nack'; readonly seq: number; readonly rumours: readonly Rumour[] }
  | { readonly type: 'sync'; readonly reply: boolean; readonly members: readonly MemberDigest[] };

/** The counters Swim's `stats` exposes, for the simulator and the bench; each mechanism counts its own. */
export interface SwimStats {
  /** Direct pings of the probe round robin. */
  probes: number;
  /** Probes answered (directly or through a helper) before the end of their interval. */
  acks: number;
  nacks: number;
  /** ping-req messages sent to helpers. */
  indirectProbes: number;
  /** Probes that ended with no ack: each raises (or confirms) a suspicion. */
  failedProbes: number;
  /** Probe verdicts postponed because our own timer fired late (see ProbeCycle's tick). */
  lateProbeGraces: number;
  /** Members this node itself moved from alive to suspect. */
  suspicionsRaised: number;
  /** Suspicion timers that ran out here (a member declared dead by this node). */
  deathsDeclared: number;
  refutations: number;
  /** Accusations (suspect/dead/left) at the top incarnation, LIMITS.counter, ignored: that value is reserved for the member's own refutation. */
  accusationsAtBound: number;
  /** Rumours and digests ignored for claiming an incarnation more than LIMITS.incarnationLeap past what this node knows of the member. */
  implausibleIncarnations: number;
  reconnectProbes: number;
  syncs: number;
  messagesSent: number;
  rumoursSent: number;
}
