/**
 * The Dialer's one timer (src/race/wakeups.ts) on a virtual clock: every sleeper woken once, never before
 * its time, from at most one armed timer; the timer does not hold the process while nothing waits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Clock } from '../src/clock.js';
import { type Sleeper, Wakeups } from '../src/race/wakeups.js';

interface FakeTimer {
  atMs: number;
  fn: () => void;
  refed: boolean;
  cleared: boolean;
}

/** A virtual clock whose timers fire when `advanceTo` passes their time. */
class FakeClock implements Clock {
  nowMs = 0;
  readonly timers: FakeTimer[] = [];
  set = 0;
  constructor(readonly withRef = true) {
    if (!withRef) {
      // A clock that cannot unref: the queue must clear its idle timer instead.
      this.ref = undefined;
      this.unref = undefined;
    }
  }
  now(): number {
    return this.nowMs;
  }
  setTimeout(fn: () => void, delayMs: number): unknown {
    assert.ok(Number.isInteger(delayMs) && delayMs >= 0, `whole, non-negative delay: ${delayMs}`);
    const t: FakeTimer = { atMs: this.nowMs + delayMs, fn, refed: true, cleared: false };
    this.timers.push(t);
    this.set++;
    return t;
  }
  clearTimeout(handle: unknown): void {
    (handle as FakeTimer).cleared = true;
  }
  unref?: (handle: unknown) => void = (handle) => {
    (handle as FakeTimer).refed = false;
  };
  ref?: (handle: unknown) => void = (handle) => {
    (handle as FakeTimer).refed = true;
  };
  /** Timers set and neither cleared nor fired. */
  live(): FakeTimer[] {
    return this.timers.filter((t) => !t.cleared);
  }
  advanceTo(t: number): void {
    for (;;) {
      const due = this.live()
        .filter((x) => x.atMs <= t)
        .sort((a, b) => a.atMs - b.atMs)[0];
      if (due === undefined) break;
      this.nowMs = Math.max(this.nowMs, due.atMs);
      due.cleared = true; // fired
      due.fn();
    }
    this.nowMs = t;
  }
}

class TestSleeper implements Sleeper {
  wakeAtMs = 0;
  wakeIndex = -1;
  readonly woken: number[] = [];
  constructor(
    readonly name: string,
    readonly clock: FakeClock,
    readonly log: string[],
  ) {}
  wake(): void {
    this.woken.push(this.clock.nowMs);
    this.log.push(this.name);
  }
}

/** Deterministic numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('Wakeups: one timer for every dial of a Dialer', () => {
  test('many sleepers: each woken once, at or after its time, in time order, from one armed timer', () => {
    const clock = new FakeClock();
    const wakeups = new Wakeups(clock);
    const log: string[] = [];
    const next = random(7);
    const sleepers: Array<{ s: TestSleeper; atMs: number }> = [];
    for (let i = 0; i < 200; i++) {
      const s = new TestSleeper(`s${i}`, clock, log);
      const atMs = Math.round(next() * 10_000) / 10; // fractional times, as performance.now() gives
      wakeups.schedule(s, atMs);
      sleepers.push({ s, atMs });
      assert.ok(clock.live().length <= 1, 'at most one timer armed');
    }
    assert.equal(wakeups.size, 200);
    for (let t = 0; t <= 1_001; t += 37) {
      clock.advanceTo(t);
      assert.ok(clock.live().length <= 1, `at most one timer armed at ${t}`);
    }
    for (const { s, atMs } of sleepers) {
      assert.equal(s.woken.length, 1, `${s.name} woken once`);
      assert.ok(s.woken[0]! >= atMs, `${s.name} not woken before ${atMs} (at ${s.woken[0]})`);
      // Late by less than a millisecond of rounding: the timer is armed for the earliest sleeper.
      assert.ok(s.woken[0]! < atMs + 1, `${s.name} woken on time (${atMs} -> ${s.woken[0]})`);
      assert.equal(s.wakeIndex, -1);
    }
    const expected = [...sleepers].sort((a, b) => a.atMs - b.atMs).map(({ s }) => s.name);
    const times = new Map(sleepers.map(({ s, atMs }) => [s.name, atMs]));
    // Sleepers woken by one firing may come in any order among themselves; across firings, in time order.
    assert.deepEqual(
      log.map((n) => times.get(n)),
      expected.map((n) => times.get(n)).sort((a, b) => a! - b!),
    );
    assert.equal(wakeups.size, 0);
    assert.equal(wakeups.armed, false, 'nothing left to wake: no timer');
  });

  test('random schedules, moves and cancels keep the heap exact (against a plain list)', () => {
    const clock = new FakeClock();
    const wakeups = new Wakeups(clock);
    const log: string[] = [];
    const next = random(42);
    const all = Array.from({ length: 64 }, (_, i) => new TestSleeper(`s${i}`, clock, log));
    const due = new Map<TestSleeper, number>();
    for (let step = 0; step < 5_000; step++) {
      const s = all[Math.floor(next() * all.length)]!;
      const r = next();
      if (r < 0.6) {
        const atMs = clock.nowMs + next() * 500;
        wakeups.schedule(s, atMs);
        due.set(s, atMs);
      } else if (r < 0.85) {
        wakeups.cancel(s);
        due.delete(s);
      } else {
        const t = clock.nowMs + next() * 100;
        const from = log.length;
        clock.advanceTo(t);
        const woken = new Set(log.slice(from));
        for (const [x, at] of [...due]) {
          // Never before its time; late by less than the millisecond the timer is rounded up to.
          if (woken.has(x.name)) {
            assert.ok(at <= t, `step ${step}: ${x.name} woken before ${at}`);
            due.delete(x);
          } else assert.ok(at > t - 1, `step ${step}: ${x.name} due at ${at}, not woken by ${t}`);
        }
        assert.equal(woken.size, from === log.length ? 0 : log.length - from, 'each woken once');
      }
      assert.equal(wakeups.size, due.size, `step ${step}: size`);
      for (const [x, at] of due) {
        assert.ok(x.wakeIndex >= 0 && x.wakeAtMs === at, `step ${step}: ${x.name} scheduled at ${at}`);
      }
      assert.ok(clock.live().filter((t) => t.refed).length <= 1, 'at most one timer holds the process');
    }
  });

  test('an earlier sleeper re-arms the timer; a later one does not set another', () => {
    const clock = new FakeClock();
    const wakeups = new Wakeups(clock);
    const log: string[] = [];
    const a = new TestSleeper('a', clock, log);
    const b = new TestSleeper('b', clock, log);
    const c = new TestSleeper('c', clock, log);
    wakeups.schedule(a, 10_000);
    assert.equal(clock.set, 1);
    wakeups.schedule(b, 20_000);
    assert.equal(clock.set, 1, 'a later deadline rides on the armed timer');
    wakeups.schedule(c, 250.5);
    assert.equal(clock.set, 2, 'an earlier one arms it earlier');
    assert.equal(clock.live().length, 1, 'the old timer is cleared');
    assert.equal(clock.live()[0]!.atMs, 251, 'rounded up: never early');
    clock.advanceTo(251);
    assert.deepEqual(log, ['c']);
    assert.equal(clock.live()[0]!.atMs, 10_000, 'armed again for the next one');
  });

  test('with nothing to wake the timer stops holding the process, and fires into nothing', () => {
    const clock = new FakeClock();
    const wakeups = new Wakeups(clock);
    const log: string[] = [];
    const a = new TestSleeper('a', clock, log);
    wakeups.schedule(a, 10_000);
    assert.equal(wakeups.holdsProcess, true);
    wakeups.cancel(a);
    assert.equal(wakeups.holdsProcess, false, "unref'd once nothing waits");
    assert.equal(clock.live()[0]!.refed, false);
    // The next dial, due later than the armed timer: ref'd again, no new timer.
    wakeups.schedule(a, 10_500);
    assert.equal(clock.set, 1);
    assert.equal(clock.live()[0]!.refed, true);
    wakeups.cancel(a);
    clock.advanceTo(10_000);
    assert.deepEqual(log, [], 'a cancelled sleeper is never woken');
    assert.equal(wakeups.armed, false, 'fired with nothing due: not armed again');
    assert.equal(clock.live().length, 0);
  });

  test('a clock that cannot unref has its idle timer cleared', () => {
    const clock = new FakeClock(false);
    const wakeups = new Wakeups(clock);
    const a = new TestSleeper('a', clock, []);
    wakeups.schedule(a, 100);
    wakeups.cancel(a);
    assert.equal(clock.live().length, 0);
    assert.equal(wakeups.armed, false);
  });

  test('a sleeper that schedules itself again while woken waits for the next timer', () => {
    const clock = new FakeClock();
    const wakeups = new Wakeups(clock);
    let wakes = 0;
    const s: Sleeper = {
      wakeAtMs: 0,
      wakeIndex: -1,
      wake() {
        wakes++;
        // Due again at once (as a race whose next step is now): not in the same firing.
        if (wakes < 3) wakeups.schedule(s, clock.nowMs);
      },
    };
    wakeups.schedule(s, 5);
    clock.advanceTo(5);
    assert.equal(wakes, 3, 'woken again by later timers');
    assert.ok(clock.set >= 3, 'one timer per wake-up');
  });

  test('a wake-up that throws does not cost the others theirs, nor the timer; the error is rethrown', () => {
    const clock = new FakeClock();
    const wakeups = new Wakeups(clock);
    const log: string[] = [];
    const a = new TestSleeper('a', clock, log);
    const bad: Sleeper = {
      wakeAtMs: 0,
      wakeIndex: -1,
      wake() {
        log.push('bad');
        throw new Error('bug in a wake-up');
      },
    };
    const b = new TestSleeper('b', clock, log);
    const later = new TestSleeper('later', clock, log);
    wakeups.schedule(bad, 10);
    wakeups.schedule(a, 10);
    wakeups.schedule(b, 10);
    wakeups.schedule(later, 50);
    assert.throws(() => clock.advanceTo(10), /bug in a wake-up/);
    assert.deepEqual([...log].sort(), ['a', 'b', 'bad']);
    assert.ok(wakeups.armed && wakeups.holdsProcess, 'armed again for the later sleeper');
    clock.advanceTo(50);
    assert.deepEqual(later.woken, [50]);
  });
});
