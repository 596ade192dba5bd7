/**
 * One 'abort' listener per AbortSignal, however many dials (or resolutions) wait on it. An application
 * often passes one long-lived signal (its shutdown, a request's) to every dial it makes: a listener per
 * dial would make Node print MaxListenersExceededWarning past 10 dials in flight, and cost each dial a
 * closure. Here a signal carries one listener while anything waits on it; the listener aborts every
 * waiter at once and is removed when the last waiter is gone. Process-wide (a WeakMap keyed by the
 * signal): one signal shared by two Dialers still has one listener.
 */

/** What waits on a signal: told once, when it aborts (never after `unwatchAbort`). */
export interface AbortWaiter {
  onSignalAbort(): void;
}

/** The waiters on one signal: the first kept in a field (most signals have one), the rest in a Set. */
class Waiters {
  first: AbortWaiter | undefined;
  more: Set<AbortWaiter> | undefined = undefined;
  readonly signal: AbortSignal;
  readonly listener: () => void;

  constructor(signal: AbortSignal, first: AbortWaiter) {
    this.signal = signal;
    this.first = first;
    this.listener = () => this.#fire();
  }

  get empty(): boolean {
    return this.first === undefined && (this.more === undefined || this.more.size === 0);
  }

  /** The signal aborted: every waiter is told, in the order they came; the entry is gone first. */
  #fire(): void {
    if (watched.get(this.signal) === this) watched.delete(this.signal);
    const all: AbortWaiter[] = [];
    if (this.first !== undefined) all.push(this.first);
    if (this.more !== undefined) for (const w of this.more) all.push(w);
    this.first = undefined;
    this.more = undefined;
    for (const waiter of all) {
      try {
        waiter.onSignalAbort();
      } catch (err) {
        // As it would with a listener of its own: the error surfaces, the other waiters are still told.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

const watched = new WeakMap<AbortSignal, Waiters>();

/** Makes `waiter` hear `signal`'s abort (the signal's one listener is added when it is the first waiter). */
export function watchAbort(signal: AbortSignal, waiter: AbortWaiter): void {
  const waiters = watched.get(signal);
  if (waiters === undefined) {
    const made = new Waiters(signal, waiter);
    watched.set(signal, made);
    signal.addEventListener('abort', made.listener, { once: true });
    return;
  }
  if (waiters.first === waiter) return;
  // The field only while no other waits (so waiters are told in the order they came).
  if (waiters.empty) {
    waiters.first = waiter;
    return;
  }
  waiters.more ??= new Set();
  waiters.more.add(waiter);
}

/** `waiter` no longer waits on `signal`; the last one gone removes the signal's listener. */
export function unwatchAbort(signal: AbortSignal, waiter: AbortWaiter): void {
  const waiters = watched.get(signal);
  if (waiters === undefined) return;
  if (waiters.first === waiter) waiters.first = undefined;
  else waiters.more?.delete(waiter);
  if (!waiters.empty) return;
  watched.delete(signal);
  signal.removeEventListener('abort', waiters.listener);
}
