/**
 * The one timeout and signal of a `Dialer#resolve` through service records: the SRV/HTTPS query (a whole
 * AliasMode chain) and then each bucket's A/AAAA run one after another, and together they must end within
 * `timeoutMs` — as a dial does, where the service query runs under the dial's one timer. A query still out
 * at the deadline is cancelled and the resolve fails with ETIMEDOUT naming it; an abort cancels it too.
 * The shell around the resolve steps: the clock's one timer and the signal's one listener per wait,
 * removed when the wait ends.
 */
import type { Clock } from '../clock.js';
import {
  AbortError,
  type AttemptError,
  DialError,
  formatDuration,
  isAbortError,
  isDialError,
} from '../errors.js';
import type { DialConfig } from '../options.js';
import type { QueryReport } from '../report.js';

/** A query (or lookup) in flight that can be cancelled. */
interface Pending<T> {
  promise: Promise<T>;
  cancel(): void;
}

export class ResolveBound {
  readonly #what: string;
  readonly #host: string;
  readonly #port: number;
  readonly #cfg: DialConfig;
  readonly #clock: Clock;
  readonly #t0: number;
  readonly #deadlineMs: number;

  /** `what` names the resolve in messages (`resolve WHAT timed out…`); `t0` is when it began. */
  constructor(what: string, host: string, port: number, cfg: DialConfig, clock: Clock, t0: number) {
    this.#what = what;
    this.#host = host;
    this.#port = port;
    this.#cfg = cfg;
    this.#clock = clock;
    this.#t0 = t0;
    this.#deadlineMs = t0 + cfg.timeoutMs;
  }

  /**
   * Waits for `pending` until the deadline or the signal: then cancels it and rejects — with a DialError
   * ETIMEDOUT naming the queries of `queries` that had no answer yet, or an AbortError.
   */
  wait<T>(pending: Pending<T>, queries: readonly QueryReport[]): Promise<T> {
    const signal = this.#cfg.signal;
    if (signal?.aborted) {
      pending.cancel();
      return Promise.reject(new AbortError(signal.reason, `resolve ${this.#what}`));
    }
    return new Promise<T>((resolve, reject) => {
      let timer: unknown;
      const settle = () => {
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        settle();
        pending.cancel();
        reject(new AbortError(signal?.reason, `resolve ${this.#what}`));
      };
      if (Number.isFinite(this.#cfg.timeoutMs)) {
        timer = this.#clock.setTimeout(
          () => {
            timer = undefined;
            settle();
            pending.cancel();
            reject(this.#timedOut(queries.filter((q) => q.endMs === undefined)));
          },
          Math.max(0, this.#deadlineMs - this.#clock.now()),
        );
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      pending.promise.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }

  /** The options for the next step: what is left of the timeout (at least 1 ms) as its own timeout. */
  remaining(): DialConfig {
    if (!Number.isFinite(this.#cfg.timeoutMs)) return this.#cfg;
    return { ...this.#cfg, timeoutMs: Math.max(1, this.#deadlineMs - this.#clock.now()) };
  }

  /**
   * A step's error that ends the whole resolve: an abort as it is; a step's timeout (resolveName's
   * ETIMEDOUT, only ever from its timer) as the resolve's, naming the queries it was waiting for.
   */
  rethrowTimeoutOrAbort(error: unknown): void {
    if (isAbortError(error)) throw error;
    if (isDialError(error) && error.code === 'ETIMEDOUT') {
      throw this.#timedOut(
        error.attempts.filter((a) => a.code === 'ETIMEOUT'),
        error,
      );
    }
  }

  #timedOut(waiting: ReadonlyArray<QueryReport | AttemptError>, cause?: unknown): DialError {
    const elapsedMs = this.#cfg.timeoutMs;
    const attempts: AttemptError[] = waiting.map((w) =>
      'phase' in w
        ? w
        : {
            address: w.name,
            // A service query has no address family; the dial's SRV failure names it the same way.
            family: w.type === 'AAAA' ? 6 : 4,
            port: w.type === 'A' || w.type === 'AAAA' ? this.#port : 0,
            phase: 'dns',
            code: 'ETIMEOUT',
            message: 'no answer before the timeout',
            startMs: w.startMs,
            durationMs: this.#clock.now() - this.#t0 - w.startMs,
          },
    );
    const what = waiting
      .map((w) => ('phase' in w ? `${w.family === 6 ? 'AAAA' : 'A'} ${w.address}` : `${w.type} ${w.name}`))
      .join(', ');
    return new DialError({
      host: this.#host,
      port: this.#port,
      code: 'ETIMEDOUT',
      message: `resolve ${this.#what} timed out after ${formatDuration(elapsedMs)}${what === '' ? '' : `: no answer to ${what}`}`,
      attempts,
      elapsedMs,
      ...(cause === undefined ? {} : { cause }),
    });
  }
}
