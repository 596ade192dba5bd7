/**
 * One timer for all the dials of a Dialer. Each dial's race says when it must be woken next (its
 * `wakeAtMs`: the deadline, the end of the Resolution Delay, the next staggered attempt); this queue keeps
 * those times in a binary min-heap and holds ONE clock timer, armed for the earliest. A dial that connects
 * before its deadline — nearly all of them — costs a heap insert and a removal, not a Node Timeout made and
 * cleared (about 1 KB allocated and two priority-queue operations per dial; issue 16).
 *
 * The decisions stay in the pure race: this only carries out "call tick() at this time", like the one timer
 * per dial did. A sleeper may be woken late (the timer is shared, not more precise), never early: it is
 * woken once the clock has reached its time.
 *
 * When no dial waits, the timer is not left holding the process: with a clock that can `unref` its timers
 * (the real one) the armed timer is unref'd — it fires once at its time, finds nothing due and is not armed
 * again — and ref'd again when a dial waits before it would fire; with a clock that cannot, it is cleared.
 */
import { asyncHooks } from '../builtins.js';
import type { Clock } from '../clock.js';

/**
 * The async scope the shared timer is armed in: made when this module loads, outside any caller's
 * context. A Node timer keeps the async context it was made in (AsyncLocalStorage stores included) until
 * it fires; armed from a dial's context, the idle timer would hold that caller's store — a whole request's
 * context — up to the dial's deadline, and again whenever it is re-armed from a wake-up. Each dial is woken
 * in its own context anyway (dial-session.ts takes an AsyncResource at its start).
 */
const TIMER_SCOPE = new asyncHooks.AsyncResource('netdial:wakeups');

/** Something the queue wakes: a dial session. The queue owns its two bookkeeping fields. */
export interface Sleeper {
  /** When it is due (clock ms); meaningful while `wakeIndex >= 0`. */
  wakeAtMs: number;
  /** Its place in the heap; -1 while not scheduled. Start it at -1. */
  wakeIndex: number;
  /** Called once its time has come (it is no longer scheduled then). */
  wake(): void;
}

export class Wakeups {
  readonly #clock: Clock;
  readonly #heap: Sleeper[] = [];
  /** The one clock timer, armed for #timerAtMs (undefined: none armed). */
  #timer: unknown;
  #timerAtMs = Number.POSITIVE_INFINITY;
  /** Whether the armed timer holds the process (it does not while nothing waits). */
  #refed = false;
  readonly #onTimer = (): void => this.#fire();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Sleepers waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Whether a clock timer is armed (ref'd or not). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Whether the armed timer keeps the process alive (only while a sleeper waits). */
  get holdsProcess(): boolean {
    return this.#timer !== undefined && this.#refed;
  }

  /** Wakes `s` at `atMs` (clock ms), instead of when it was due before, if it was scheduled. */
  schedule(s: Sleeper, atMs: number): void {
    if (s.wakeIndex >= 0) {
      const earlier = atMs < s.wakeAtMs;
      s.wakeAtMs = atMs;
      if (earlier) this.#up(s.wakeIndex);
      else this.#down(s.wakeIndex);
    } else {
      s.wakeAtMs = atMs;
      s.wakeIndex = this.#heap.length;
      this.#heap.push(s);
      this.#up(s.wakeIndex);
    }
    this.#arm();
  }

  /** `s` need not be woken (its dial is over, or has nothing to wait for). */
  cancel(s: Sleeper): void {
    if (s.wakeIndex < 0) return;
    this.#remove(s.wakeIndex);
    this.#arm();
  }

  #remove(i: number): void {
    const heap = this.#heap;
    const s = heap[i]!;
    const last = heap.pop()!;
    s.wakeIndex = -1;
    if (last === s) return;
    heap[i] = last;
    last.wakeIndex = i;
    this.#down(i);
    this.#up(last.wakeIndex);
  }

  /** The timer matches the earliest sleeper: armed no later than it, holding the process only while one waits. */
  #arm(): void {
    const top = this.#heap[0];
    const clock = this.#clock;
    if (top === undefined) {
      if (this.#timer === undefined || !this.#refed) return;
      if (clock.unref !== undefined) {
        clock.unref(this.#timer);
        this.#refed = false;
      } else {
        clock.clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#timerAtMs = Number.POSITIVE_INFINITY;
      }
      return;
    }
    if (this.#timer !== undefined && this.#timerAtMs <= top.wakeAtMs) {
      // It fires in time (early at worst: #fire arms it again for what is left).
      if (!this.#refed) {
        clock.ref?.(this.#timer);
        this.#refed = true;
      }
      return;
    }
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    // Timers have whole-millisecond resolution: round up so that the sleeper is due when it fires.
    this.#timerAtMs = top.wakeAtMs;
    this.#timer = TIMER_SCOPE.runInAsyncScope(
      clock.setTimeout,
      clock,
      this.#onTimer,
      Math.max(0, Math.ceil(top.wakeAtMs - clock.now())),
    );
    this.#refed = true;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAtMs = Number.POSITIVE_INFINITY;
    this.#refed = false;
    const heap = this.#heap;
    const now = this.#clock.now();
    // Those due now are taken out first, then woken: one that schedules itself again waits for the next
    // timer, as it would have with a timer of its own (and the loop is bounded by the heap's size).
    let due: Sleeper[] | undefined;
    while (heap.length > 0 && heap[0]!.wakeAtMs <= now) {
      const top = heap[0]!;
      this.#remove(0);
      if (due === undefined) due = [top];
      else due.push(top);
    }
    // Every due sleeper is woken and the timer armed again even if one wake-up throws (a bug: it is
    // rethrown after, as from a timer of its own).
    let thrown: { error: unknown } | undefined;
    if (due !== undefined) {
      for (const s of due) {
        try {
          s.wake();
        } catch (error) {
          thrown ??= { error };
        }
      }
    }
    this.#arm();
    if (thrown !== undefined) throw thrown.error;
  }

  #up(i: number): void {
    const heap = this.#heap;
    const s = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.wakeAtMs <= s.wakeAtMs) break;
      heap[i] = p;
      p.wakeIndex = i;
      i = parent;
    }
    heap[i] = s;
    s.wakeIndex = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const s = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && heap[right]!.wakeAtMs < heap[left]!.wakeAtMs ? right : left;
      const c = heap[child]!;
      if (c.wakeAtMs >= s.wakeAtMs) break;
      heap[i] = c;
      c.wakeIndex = i;
      i = child;
    }
    heap[i] = s;
    s.wakeIndex = i;
  }
}
