/**
 * The one place netdial touches real time. Decision code takes `nowMs` as an argument; the shells read
 * it here and set their single timer here.
 */

export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(fn: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
  /**
   * A timer set here stops (`unref`) or starts again (`ref`) holding the process open. Optional: a clock
   * without them has its idle timers cleared instead (see race/wakeups.ts).
   */
  unref?(handle: unknown): void;
  ref?(handle: unknown): void;
}

export const realClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, delayMs: number) => setTimeout(fn, delayMs),
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
  unref: (handle: unknown) => {
    (handle as NodeJS.Timeout).unref();
  },
  ref: (handle: unknown) => {
    (handle as NodeJS.Timeout).ref();
  },
});
