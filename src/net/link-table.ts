/**
 * The link table: one entry per peer this transport knows of in the room, holding the link's
 * state, its current connection, its retry timer and backoff, and the peers refused for a failed
 * handshake. It decides nothing about signaling or channels; webrtc-transport.ts and
 * connection-lifecycle.ts consult and update it. Leans on webrtc-config.ts for the backoff
 * figures and on connection-lifecycle.ts for the Connection an entry holds.
 */
import type { Random, Scheduler, TimerHandle } from '../core/ports.js';
import type { Connection } from './connection-lifecycle.js';
import type { LinkErrorCode, LinkInfo, LinkState, WebRtcTransportConfig } from './webrtc-config.js';

/** One row of the link table: what this transport knows of its link to one peer, across connections. */
export interface LinkEntry {
  readonly peerId: string;
  /** We make the offers to this peer (our id is the smaller). */
  readonly weInitiate: boolean;
  inRoom: boolean;
  state: LinkState;
  connection: Connection | undefined;
  /** The last connection that ended: a connect-request names it. */
  lastSession: string | undefined;
  failedAttempts: number;
  retryTimer: TimerHandle | undefined;
  connectionsMade: number;
  bytesIn: number;
  bytesOut: number;
  lastError: string | undefined;
  lastErrorCode: LinkErrorCode | undefined;
}

export interface LinkTableOptions {
  readonly config: WebRtcTransportConfig;
  readonly scheduler: Scheduler;
  readonly random: Random;
  /** Our signaling peer id, which decides who initiates. */
  readonly selfId: () => string;
  /** A link changed state (or appeared, as 'connecting'). */
  readonly onState: (peerId: string, state: LinkState) => void;
  /** A scheduled attempt is due. */
  readonly onRetryDue: (link: LinkEntry) => void;
}

export class LinkTable {
  private readonly entries = new Map<string, LinkEntry>();
  /** Peers that failed authentication, with the time until which they are ignored. */
  private readonly authBlockedUntilMs = new Map<string, number>();

  constructor(private readonly options: LinkTableOptions) {}

  get(peerId: string): LinkEntry | undefined {
    return this.entries.get(peerId);
  }

  /** A copy, so callers may close links while they walk it. */
  all(): LinkEntry[] {
    return [...this.entries.values()];
  }

  infos(): LinkInfo[] {
    return [...this.entries.values()].map((link) => ({
      peerId: link.peerId,
      state: link.state,
      reconnects: Math.max(0, link.connectionsMade - 1),
      bytesIn: link.bytesIn,
      bytesOut: link.bytesOut,
      lastError: link.lastError,
      lastErrorCode: link.lastErrorCode,
    }));
  }

  linkFor(peerId: string): LinkEntry {
    let link = this.entries.get(peerId);
    if (link === undefined) {
      link = {
        peerId,
        weInitiate: this.options.selfId() < peerId,
        inRoom: false,
        state: 'connecting',
        connection: undefined,
        lastSession: undefined,
        failedAttempts: 0,
        retryTimer: undefined,
        connectionsMade: 0,
        bytesIn: 0,
        bytesOut: 0,
        lastError: undefined,
        lastErrorCode: undefined,
      };
      this.entries.set(peerId, link);
      this.options.onState(peerId, 'connecting');
    }
    return link;
  }

  setState(link: LinkEntry, state: LinkState): void {
    if (link.state === state) return;
    link.state = state;
    this.options.onState(link.peerId, state);
  }

  closeLink(link: LinkEntry): void {
    this.cancelRetry(link);
    this.setState(link, 'closed');
    this.entries.delete(link.peerId);
  }

  // ---- Retries ----

  scheduleAttempt(link: LinkEntry, delayMs: number): void {
    this.cancelRetry(link);
    link.retryTimer = this.options.scheduler.setTimer(delayMs, () => this.options.onRetryDue(link));
  }

  cancelRetry(link: LinkEntry): void {
    link.retryTimer?.cancel();
    link.retryTimer = undefined;
  }

  /** Exponential backoff with "equal jitter": half fixed, half random, so peers that failed together spread out. */
  retryDelayMs(failures: number): number {
    const { config, random } = this.options;
    const ceilingMs = Math.min(config.retryMaxMs, config.retryBaseMs * 2 ** Math.min(failures, 30));
    return ceilingMs / 2 + random.next() * (ceilingMs / 2);
  }

  // ---- Peers refused after a failed handshake ----

  blockAuth(peerId: string): void {
    this.authBlockedUntilMs.set(peerId, this.options.scheduler.now() + this.options.config.authFailureBackoffMs);
  }

  authBlockedForMs(peerId: string): number {
    const until = this.authBlockedUntilMs.get(peerId);
    if (until === undefined) return 0;
    const remainingMs = until - this.options.scheduler.now();
    if (remainingMs <= 0) this.authBlockedUntilMs.delete(peerId);
    return Math.max(0, remainingMs);
  }
}
