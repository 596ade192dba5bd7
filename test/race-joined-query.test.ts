/**
 * The race core on a virtual clock, for a dial that joins a query already in flight (RFC 8305 §3): the
 * Resolution Delay runs from the later of the answer's arrival and the joined query's sending, not from the
 * dial's start; a query the dial sent itself, or an answer that came from DNS now, waits the whole delay.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Race, type RaceCandidate, type RaceConfig } from '../src/race/race.js';

const v4: RaceCandidate = { address: '203.0.113.1', family: 4 };

function race(startMs: number): Race {
  const cfg: RaceConfig = {
    families: [6, 4],
    attemptDelayMs: 250,
    resolutionDelayMs: 50,
    maxConcurrentAttempts: 6,
    deadlineMs: startMs + 10_000,
    order: (known) => [...known],
  };
  return new Race(cfg, startMs);
}

const starts = (step: { actions: readonly { type: string }[] }) =>
  step.actions.filter((a) => a.type === 'start').length;

test('an answer from memory and an AAAA query joined 30 ms before the dial: the delay ends 20 ms in', () => {
  const r = race(1000);
  r.start(1000);
  r.querySent(6, 970);
  const step = r.answer(4, [v4], 1000, { arrivedAtMs: Number.NEGATIVE_INFINITY });
  assert.equal(starts(step), 0);
  assert.equal(step.wakeAtMs, 1020, 'the Resolution Delay from the joined query (970 + 50)');
  assert.equal(starts(r.tick(1020)), 1);
});

test('a joined query out longer than the delay: an answer from memory starts the race at once', () => {
  const r = race(1000);
  r.start(1000);
  r.querySent(6, 400);
  assert.equal(starts(r.answer(4, [v4], 1000, { arrivedAtMs: Number.NEGATIVE_INFINITY })), 1);
});

test('the later of the two counts: an answer that arrives now waits the whole delay, joined query or not', () => {
  const r = race(1000);
  r.start(1000);
  r.querySent(6, 400);
  const step = r.answer(4, [v4], 1003);
  assert.equal(starts(step), 0);
  assert.equal(step.wakeAtMs, 1053);
});

test('a query this dial sent (no querySent): an answer from memory waits the whole delay', () => {
  const r = race(1000);
  r.start(1000);
  const step = r.answer(4, [v4], 1000, { arrivedAtMs: Number.NEGATIVE_INFINITY });
  assert.equal(starts(step), 0);
  assert.equal(step.wakeAtMs, 1050);
});
