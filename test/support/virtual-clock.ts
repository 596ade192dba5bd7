/**
 * A virtual clock for pure-core and adapter tests: `now()` is `t`, timers fire only from `advance(ms)`,
 * in due order, each at its own time. Starts at `t0` (an arbitrary reading, not zero, to catch code
 * that assumes zero).
 */
import type { Clock } from '../../src/clock.js';

export class VirtualClock implements Clock {
  t: number;
  readonly timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  constructor(t0 = 1_000_000) {
    this.t = t0;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, delayMs: number): unknown {
    const id = this.#next++;
    this.timers.set(id, { at: this.t + delayMs, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
}
