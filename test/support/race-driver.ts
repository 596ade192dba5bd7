/**
 * Driving the pure race core (src/race/race.ts) on a virtual clock, for its tests: candidates, the
 * default configuration, and a Driver that follows the race's wake-ups and logs every action with its
 * time ("250 start #1 203.0.113.1"), so a scenario's expectation is a list of lines.
 */
import {
  Race,
  type RaceAction,
  type RaceCandidate,
  type RaceConfig,
  type RaceStep,
} from '../../src/race/race.js';

export const v6 = (n: number): RaceCandidate => ({ address: `2001:db8::${n}`, family: 6 });
export const v4 = (n: number): RaceCandidate => ({ address: `203.0.113.${n}`, family: 4 });

/** Interleaves families starting with IPv6 (what the real sort does for these addresses). */
export function interleave(known: readonly RaceCandidate[]): RaceCandidate[] {
  const a = known.filter((c) => c.family === 6);
  const b = known.filter((c) => c.family === 4);
  const out: RaceCandidate[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i]) out.push(a[i]!);
    if (b[i]) out.push(b[i]!);
  }
  return out;
}

/** RFC 8305's defaults (250 ms attempt delay, 50 ms resolution delay), 6 at once, a 10 s deadline. */
export function raceConfig<C extends RaceCandidate>(
  order: RaceConfig<C>['order'],
  over: Partial<RaceConfig<C>> = {},
): RaceConfig<C> {
  return {
    families: [6, 4],
    attemptDelayMs: 250,
    resolutionDelayMs: 50,
    maxConcurrentAttempts: 6,
    deadlineMs: 10_000,
    order,
    ...over,
  };
}

/** One action as a log word: `start #0 ADDRESS`, `cancel #0`, `won #0`, `fail REASON`. */
export function describeAction<C extends RaceCandidate>(
  a: RaceAction<C>,
  name: (c: C) => string = (c) => c.address,
): string {
  switch (a.type) {
    case 'start':
      return `start #${a.id} ${name(a.candidate)}`;
    case 'cancel':
      return `cancel #${a.id}`;
    case 'won':
      return `won #${a.id}`;
    case 'fail':
      return `fail ${a.reason}`;
  }
}

/** Drives a race on a virtual clock, following its wake-ups, and logs every action with its time. */
export class RaceDriver<C extends RaceCandidate = RaceCandidate> {
  readonly race: Race<C>;
  now = 0;
  wakeAt: number | undefined;
  readonly log: string[] = [];
  /** The race's end: `won #N` or `fail REASON`, once it ended. */
  result: string | undefined;
  readonly #name: ((c: C) => string) | undefined;

  /** `name`: how a started candidate is written in the log (default: its address). */
  constructor(cfg: RaceConfig<C>, name?: (c: C) => string) {
    this.#name = name;
    this.race = new Race(cfg, 0);
    this.apply(this.race.start(0));
  }

  apply(step: RaceStep<C>): void {
    for (const a of step.actions) {
      const text = describeAction(a, this.#name);
      this.log.push(`${this.now} ${text}`);
      if (a.type === 'won' || a.type === 'fail') this.result = text;
    }
    this.wakeAt = step.wakeAtMs;
  }

  /** Advances the virtual clock to `t`, firing every timer due on the way. */
  advanceTo(t: number): void {
    while (this.wakeAt !== undefined && this.wakeAt <= t) {
      this.now = this.wakeAt;
      this.apply(this.race.tick(this.now));
    }
    this.now = t;
  }

  /** At `t` (timers before it fired first), feeds the race `event`. */
  at(t: number, event: (r: Race<C>, now: number) => RaceStep<C>): void {
    this.advanceTo(t);
    this.apply(event(this.race, t));
  }

  /** The log's start lines. */
  starts(): string[] {
    return this.log.filter((l) => l.includes(' start '));
  }
}
