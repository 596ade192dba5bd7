/**
 * The one place netdial touches real time. Decision code takes `nowMs` as an argument; the shells read
 * it here and set their single timer here.
 */
import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(fn: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, delayMs: number) => setTimeout(fn, delayMs),
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
});
