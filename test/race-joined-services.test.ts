/**
 * The race core on a virtual clock, for a dial that joins a service record query (HTTPS, SRV) already in
 * flight while its A and AAAA come from memory: the Resolution Delay a positive answer waits for the records
 * runs from the joined query's sending (as for a joined A/AAAA query, race-joined-query.test.ts), and a
 * cached answer the shell hands over right after another does not count as a query just sent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Race, type RaceCandidate, type RaceConfig } from '../src/race/race.js';

const v6: RaceCandidate = { address: '2001:db8::1', family: 6 };
const v4: RaceCandidate = { address: '203.0.113.1', family: 4 };
const FROM_MEMORY = { arrivedAtMs: Number.NEGATIVE_INFINITY };

function race(startMs: number): Race {
  const cfg: RaceConfig = {
    families: [6, 4],
    attemptDelayMs: 250,
    resolutionDelayMs: 50,
    maxConcurrentAttempts: 6,
    deadlineMs: startMs + 10_000,
    order: (known) => [...known],
    awaitServices: true,
  };
  return new Race(cfg, startMs);
}

const starts = (step: { actions: readonly { type: string }[] }) =>
  step.actions.filter((a) => a.type === 'start').length;

test('HTTPS query joined 30 ms before, AAAA and A from memory: the delay ends 20 ms in', () => {
  const r = race(1000);
  r.start(1000);
  r.servicesQuerySent(970);
  assert.equal(starts(r.answer(6, [v6], 1000, FROM_MEMORY)), 0, 'the AAAA waits for the records');
  const step = r.answer(4, [v4], 1000, FROM_MEMORY);
  assert.equal(starts(step), 0);
  assert.equal(step.wakeAtMs, 1020, 'the Resolution Delay from the joined query (970 + 50)');
  assert.equal(starts(r.tick(1019)), 0);
  assert.equal(starts(r.tick(1020)), 1);
});

test('the same with the A handed over first: the order of the cached answers does not matter', () => {
  const r = race(1000);
  r.start(1000);
  r.servicesQuerySent(970);
  r.answer(4, [v4], 1000, FROM_MEMORY);
  assert.equal(r.answer(6, [v6], 1000, FROM_MEMORY).wakeAtMs, 1020);
});

test('a joined query out longer than the delay: the cached answers start the race at once', () => {
  const r = race(1000);
  r.start(1000);
  r.servicesQuerySent(900);
  assert.equal(starts(r.answer(6, [v6], 1000, FROM_MEMORY)), 0);
  assert.equal(starts(r.answer(4, [v4], 1000, FROM_MEMORY)), 1);
});

test('a service query this dial sent (no servicesQuerySent): cached answers wait the whole delay', () => {
  const r = race(1000);
  r.start(1000);
  r.answer(6, [v6], 1000, FROM_MEMORY);
  assert.equal(r.answer(4, [v4], 1000, FROM_MEMORY).wakeAtMs, 1050);
});

test('a cached AAAA, then an A from DNS 10 ms later: from then on only the joined records are waited for', () => {
  const r = race(1000);
  r.start(1000);
  r.servicesQuerySent(970);
  // The A query counts as sent now (1000): the AAAA waits until 1050 for it and the records.
  assert.equal(r.answer(6, [v6], 1000, FROM_MEMORY).wakeAtMs, 1050);
  // The A is in at 1010: the AAAA (from memory) waits for the records from their sending, 970.
  const step = r.answer(4, [v4], 1010);
  assert.equal(starts(step), 0);
  assert.equal(step.wakeAtMs, 1020);
});

test('a later answer never lengthens the wait: an A from DNS 40 ms after a cached AAAA', () => {
  const r = race(1000);
  r.start(1000);
  r.servicesQuerySent(970);
  assert.equal(r.answer(6, [v6], 1000, FROM_MEMORY).wakeAtMs, 1050);
  // The records' wait (970 + 50) is over when the A comes: the race starts on it.
  assert.equal(starts(r.answer(4, [v4], 1040)), 1);
});

test("the A from memory first, then the AAAA's NODATA from memory: the delay ends 20 ms in", () => {
  const r = race(1000);
  r.start(1000);
  r.servicesQuerySent(970);
  assert.equal(r.answer(4, [v4], 1000, FROM_MEMORY).wakeAtMs, 1050, 'the AAAA counts as asked now');
  const step = r.answerFailed(6, 'ENODATA', 1000);
  assert.equal(starts(step), 0);
  assert.equal(step.wakeAtMs, 1020);
});

test("an A from DNS, then a failed AAAA: the delay still runs from the A's arrival, not from memory", () => {
  const r = race(1000);
  r.start(1000);
  r.servicesQuerySent(930);
  assert.equal(r.answer(4, [v4], 1010).wakeAtMs, 1060);
  assert.equal(r.answerFailed(6, 'ENODATA', 1020).wakeAtMs, 1060);
});
