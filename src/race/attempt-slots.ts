/**
 * A Dialer-wide bound on connection attempts in flight, across all its dials (each dial has its own
 * `maxConcurrentAttempts` too). An attempt over the bound waits in line and starts when a slot frees,
 * so a burst of dials cannot exhaust file descriptors or ephemeral ports.
 */
export class AttemptSlots {
  readonly #limit: number;
  #inUse = 0;
  readonly #waiting = new Set<() => void>();

  /** `limit`: attempts in flight at most (>= 1). */
  constructor(limit: number) {
    this.#limit = limit;
  }

  get inUse(): number {
    return this.#inUse;
  }

  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Takes a slot if one is free (true), without waiting in line: the caller, which then owns the slot,
   * starts at once — the usual case, with no callback to make. False: call `acquire` to wait for one.
   */
  tryAcquire(): boolean {
    if (this.#inUse >= this.#limit) return false;
    this.#inUse++;
    return true;
  }

  /**
   * Runs `start` now if a slot is free (returns undefined), or later when one frees (returns a function
   * that withdraws the request). Whoever gets a slot must `release()` it exactly once.
   */
  acquire(start: () => void): (() => void) | undefined {
    if (this.#inUse < this.#limit) {
      this.#inUse++;
      start();
      return undefined;
    }
    this.#waiting.add(start);
    return () => {
      this.#waiting.delete(start);
    };
  }

  release(): void {
    this.#inUse--;
    if (this.#waiting.size === 0) return;
    const next = this.#waiting.values().next();
    if (next.done) return;
    this.#waiting.delete(next.value);
    this.#inUse++;
    next.value();
  }
}
