/**
 * The records half of a heal session (heal.ts): shipping the records the peer lacks in batches,
 * one batch per task, and taking in the peer's batches, handed to the node at once and kept in
 * order by its group commit. While received records are still being committed, the peer is kept
 * from giving up on this side (keepBusyAlive).
 */
import { recordDigest } from './digest.js';
import { hashKeyOfBytes } from './heal-descent.js';
import type { HealHost, HealMessage, HealOutcome, Session } from './heal-session.js';
import { canonicalSiblings } from './merge.js';
import type { MemoryId, MemoryRecord } from './types.js';

/** What shipping needs from the healer that runs the session. */
export interface ShippingHooks {
  isLive(session: Session): boolean;
  send(session: Session, message: HealMessage): void;
  report(session: Session): void;
  /** Both directions may now be done: see whether the session can exchange roots. */
  maybeComplete(session: Session): void;
  finish(session: Session, outcome: HealOutcome): void;
}

export class HealShipping {
  constructor(
    private readonly host: HealHost,
    private readonly hooks: ShippingHooks,
  ) {}

  /** K side, once the peer's versions of the contested keys are merged: push back what the peer still lacks. */
  shipContested(session: Session): void {
    const ids: MemoryId[] = [];
    for (const id of session.contested) {
      const local = this.host.record(id);
      if (local && hashKeyOfBytes(recordDigest(local)) !== session.receivedDigests.get(id)) ids.push(id);
    }
    session.contested.clear();
    this.shipRecords(session, ids, true);
  }

  /**
   * The peer asked for the records behind `want` and `missing` (entry hashes we listed; it lacks
   * the latter's keys altogether) and will send `sending` records itself.
   */
  onWant(session: Session, want: readonly Uint8Array[], missing: readonly Uint8Array[], sending: number): void {
    session.phase = 'records';
    session.recordsExpected = sending;
    const ids = (hashes: readonly Uint8Array[]): MemoryId[] => {
      const out: MemoryId[] = [];
      for (const hash of hashes) {
        const id = session.listed.get(hashKeyOfBytes(hash));
        if (id !== undefined) out.push(id);
      }
      return out;
    };
    this.shipRecords(session, [...ids(want), ...this.host.shipOrDrop(ids(missing), session.peerFrontier)], true);
  }

  /** Queues records for the peer in batches (the last one marked final if `final`), sent by shipNext. */
  shipRecords(session: Session, ids: readonly MemoryId[], final: boolean): void {
    const batchSize = Math.max(1, this.host.config.maxRecordsPerMessage);
    const records = ids.map((id) => this.host.record(id)).filter((record): record is MemoryRecord => record !== undefined);
    for (let start = 0; start < records.length || (start === 0 && final); start += batchSize) {
      const last = final && start + batchSize >= records.length;
      session.outgoing.push({ records: records.slice(start, start + batchSize), final: last });
      if (last) break;
    }
    if (final) session.finalQueued = true;
    if (!session.shipping) this.shipNext(session);
  }

  /**
   * Sends one queued batch per task, not all at once: encoding thousands of records in one go
   * held a tab's main thread for hundreds of ms on a loaded machine, long enough for its peers to
   * take it for dead while it was busiest serving them.
   */
  private shipNext(session: Session): void {
    if (!this.hooks.isLive(session)) return;
    const next = session.outgoing.shift();
    if (next === undefined) {
      session.shipping = false;
      this.hooks.report(session);
      this.hooks.maybeComplete(session);
      return;
    }
    session.shipping = true;
    this.hooks.send(session, { type: 'heal-records', session: session.id, records: next.records, final: next.final });
    session.recordsSent += next.records.length;
    if (next.final) session.sentFinal = true;
    this.hooks.report(session);
    this.host.scheduler.setTimer(0, () => this.shipNext(session));
  }

  onRecords(session: Session, records: readonly MemoryRecord[], final: boolean): void {
    // Empty and not final: the peer is still committing (keepBusyAlive); hearing it was the point.
    if (records.length === 0 && !final) return;
    // Serving takes nothing: a peer that sends anyway is not following the protocol.
    if (session.oneWay && session.role === 'responder' && records.length > 0) return this.hooks.finish(session, 'aborted');
    session.recordsReceived += records.length;
    for (const record of records) {
      if (session.contested.has(record.id)) {
        session.receivedDigests.set(record.id, hashKeyOfBytes(recordDigest({ id: record.id, siblings: canonicalSiblings(record.siblings) })));
      }
    }
    if (final) session.receivedFinal = true;
    // Handed to the node at once, not after the previous batch is durable: the node's group commit
    // keeps them in order and puts every batch that arrived during one commit into the next. (Chained,
    // a heal paid one storage commit per 256-record batch: ~4 s for 10K records in the browsers.)
    const applied = this.host.apply(records, session.peer, session.peerFrontier);
    session.pendingApplies += 1;
    this.keepBusyAlive(session);
    const settled = () => void (session.pendingApplies -= 1);
    // Handling both outcomes here also keeps a rejection from going unhandled when an earlier batch
    // failed first and the chain below never reaches this one.
    applied.then(settled, settled);
    session.applying = session.applying
      .then(() => applied)
      .then((learned) => {
        for (const version of learned) {
          const key = `${version.dot.node}\u0000${version.generation}`;
          const entry = session.learned.get(key) ?? { writer: version.dot.node, generation: version.generation, versions: 0 };
          entry.versions += 1;
          session.learned.set(key, entry);
        }
      });
    this.hooks.report(session);
    this.hooks.maybeComplete(session);
  }

  /**
   * While received records are still being committed here, the peer hears from us every half
   * step: an empty, non-final heal-records, which re-arms its step timer and changes nothing.
   * Committing thousands of records on a loaded machine can take longer than a step, and a peer
   * that gave up then would throw the whole session away; a peer that is really gone still
   * times out, since its silence is not covered by ours.
   */
  private keepBusyAlive(session: Session): void {
    if (session.busyTimer !== undefined) return;
    session.busyTimer = this.host.scheduler.setTimer(this.host.config.healStepTimeoutMs / 2, () => {
      session.busyTimer = undefined;
      if (!this.hooks.isLive(session) || session.pendingApplies === 0) return;
      this.hooks.send(session, { type: 'heal-records', session: session.id, records: [], final: false });
      this.keepBusyAlive(session);
    });
  }
}
