/**
 * Virtual time for the simulator: a priority queue of timers ordered by (time, insertion order),
 * so that two runs with the same seed fire the same callbacks in the same order.
 */
import type { Scheduler, TimerHandle } from '../core/ports.js';

interface Entry {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** An exception that escaped a timer callback (and so a message handler: deliveries are timers). */
export interface EscapedError {
  readonly atMs: number;
  readonly error: unknown;
}

export class VirtualScheduler implements Scheduler {
  /**
   * Exceptions thrown out of timers. In a browser they would vanish into the console while the
   * node carried on in whatever state the throw left; here they are recorded (and the run goes
   * on, as it would there), and the scenario's verdict fails on any (issue 10).
   */
  readonly escaped: EscapedError[] = [];
  private time = 0;
  private seq = 0;
  private heap: Entry[] = [];

  now(): number {
    return this.time;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const entry: Entry = { at: this.time + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Time of the next pending timer, or undefined when idle. */
  peekTime(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.at;
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Fires the next timer (advancing time to it); false when there is none. */
  step(): boolean {
    this.dropCancelled();
    const entry = this.pop();
    if (!entry) return false;
    this.time = entry.at;
    try {
      entry.fn();
    } catch (error) {
      this.escaped.push({ atMs: this.time, error });
    }
    return true;
  }

  /** Fires every timer due up to `until` (inclusive) and leaves time at `until`. Synchronous: no microtask draining. */
  runUntil(until: number): void {
    for (;;) {
      const next = this.peekTime();
      if (next === undefined || next > until) break;
      this.step();
    }
    this.time = Math.max(this.time, until);
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && (this.heap[0] as Entry).cancelled) this.pop();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i] as Entry, heap[parent] as Entry)) break;
      [heap[i], heap[parent]] = [heap[parent] as Entry, heap[i] as Entry];
      i = parent;
    }
  }

  private pop(): Entry | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0] as Entry;
    const last = heap.pop() as Entry;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && this.less(heap[left] as Entry, heap[smallest] as Entry)) smallest = left;
        if (right < heap.length && this.less(heap[right] as Entry, heap[smallest] as Entry)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest] as Entry, heap[i] as Entry];
        i = smallest;
      }
    }
    return top;
  }
}
