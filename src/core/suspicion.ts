/**
 * Lifeguard's suspicion timer (memberlist's suspicion.go): a suspected member is declared dead
 * when the timer runs out. It starts long and shrinks as independent members confirm the
 * suspicion, so a suspicion that only one (perhaps slow) node holds gives the member plenty of
 * time to refute, while one the whole cluster agrees on concludes quickly.
 */
import type { EngramConfig } from './config.js';
import type { Scheduler, TimerHandle } from './ports.js';
import type { NodeId } from './types.js';

export interface SuspicionBoundsMs {
  /** The timeout once every expected confirmation has arrived. */
  readonly minMs: number;
  /** The timeout with no confirmation. */
  readonly maxMs: number;
}

/**
 * memberlist's suspicionTimeout: suspicionMult * max(1, log10(n)) probe intervals at least, so
 * the time a rumour needs to reach everyone (which grows with log n) is always left for a refutation.
 */
export function suspicionBoundsMs(
  config: Pick<EngramConfig, 'suspicionMult' | 'suspicionMaxTimeoutMult' | 'probeIntervalMs'>,
  memberCount: number,
): SuspicionBoundsMs {
  const minMs = config.suspicionMult * Math.max(1, Math.log10(Math.max(1, memberCount))) * config.probeIntervalMs;
  return { minMs, maxMs: config.suspicionMaxTimeoutMult * minMs };
}

/**
 * The whole suspicion timeout after `confirmations` independent confirmations out of `expected`:
 * it falls logarithmically from maxMs to minMs, so the first confirmations count the most
 * (Lifeguard, section 4.2).
 */
export function suspicionTimeoutMs(confirmations: number, expected: number, minMs: number, maxMs: number): number {
  if (expected < 1) return minMs;
  const fraction = Math.log(confirmations + 1) / Math.log(expected + 1);
  return Math.max(minMs, maxMs - (maxMs - minMs) * fraction);
}

export interface SuspicionOptions {
  /** The first suspecter; it does not count as a confirmation. */
  readonly from: NodeId;
  /** Confirmations after which the timeout is minMs (Lifeguard's K). 0 means the timeout is minMs from the start. */
  readonly expectedConfirmations: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly scheduler: Scheduler;
  /** When the timer fires later than this past its deadline, the verdict waits this long once more (see fire). */
  readonly lateGraceMs?: number;
  /** Called once when the timer runs out, with the confirmations counted by then. */
  readonly onTimeout: (confirmations: number) => void;
}

/** One running suspicion of one member. */
export class Suspicion {
  readonly startedAt: number;
  private readonly suspecters = new Set<NodeId>();
  private count = 0;
  private timer: TimerHandle;
  private deadline: number;
  private graced = false;

  constructor(private readonly options: SuspicionOptions) {
    this.startedAt = options.scheduler.now();
    this.suspecters.add(options.from);
    this.deadline = this.startedAt + this.timeoutMs();
    this.timer = options.scheduler.setTimer(this.deadline - this.startedAt, this.fire);
  }

  /** Independent confirmations so far (distinct suspecters other than the first). */
  get confirmations(): number {
    return this.count;
  }

  /** Scheduler time at which the member will be declared dead unless the suspicion is cancelled. */
  get deadlineAt(): number {
    return this.deadline;
  }

  /**
   * Counts `from` as a confirmation and shortens the timer accordingly. Returns whether it was new
   * (a new confirmation is worth gossiping; a repeated one or one beyond K is not).
   */
  confirm(from: NodeId): boolean {
    if (this.count >= this.options.expectedConfirmations) return false;
    if (this.suspecters.has(from)) return false;
    this.suspecters.add(from);
    this.count++;
    this.timer.cancel();
    // Measured from the start of the suspicion, not from now: confirmations shorten it, never extend it.
    this.deadline = this.startedAt + this.timeoutMs();
    const scheduler = this.options.scheduler;
    this.timer = scheduler.setTimer(Math.max(0, this.deadline - scheduler.now()), this.fire);
    return true;
  }

  cancel(): void {
    this.timer.cancel();
  }

  private timeoutMs(): number {
    const { expectedConfirmations, minMs, maxMs } = this.options;
    return suspicionTimeoutMs(this.count, expectedConfirmations, minMs, maxMs);
  }

  private readonly fire = (): void => {
    // A timer that fires long after its deadline means this thread was held up (a long task):
    // a refutation may be waiting unread in our inbox. Give it one short grace to be read
    // before the verdict. Lateness never happens in the simulator, only on a busy real machine.
    const lateMs = this.options.scheduler.now() - this.deadline;
    const grace = this.options.lateGraceMs;
    if (grace !== undefined && !this.graced && lateMs > grace) {
      this.graced = true;
      this.timer = this.options.scheduler.setTimer(grace, this.fire);
      return;
    }
    this.options.onTimeout(this.count);
  };
}
