/**
 * The race core on a virtual clock: exact millisecond expectations for RFC 8305's timing.
 * Each scenario drives the pure state machine with events and checks the actions it asks for.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RaceCandidate, RaceConfig } from '../src/race/race.js';
import type { Family } from '../src/types.js';
import { RaceDriver as Driver, interleave, raceConfig, v4, v6 } from './support/race-driver.js';

const config = (over: Partial<RaceConfig> = {}): RaceConfig => raceConfig(interleave, over);

describe('RFC 8305 §3 early start', () => {
  test('AAAA first: the race starts at once, A joins later in its sorted place', () => {
    const d = new Driver(config());
    d.at(5, (r, n) => r.answer(6, [v6(1), v6(2)], n));
    d.at(30, (r, n) => r.answer(4, [v4(1)], n));
    d.advanceTo(1000);
    assert.deepEqual(d.starts(), [
      '5 start #0 2001:db8::1',
      '255 start #1 203.0.113.1',
      '505 start #2 2001:db8::2',
    ]);
  });

  test('A first: waits the 50 ms Resolution Delay, then starts on IPv4 when AAAA is still out', () => {
    const d = new Driver(config());
    d.at(10, (r, n) => r.answer(4, [v4(1), v4(2)], n));
    d.advanceTo(59);
    assert.deepEqual(d.starts(), []);
    d.advanceTo(60);
    assert.deepEqual(d.starts(), ['60 start #0 203.0.113.1']);
  });

  test('A first, AAAA within the Resolution Delay: starts at once with IPv6 first', () => {
    const d = new Driver(config());
    d.at(10, (r, n) => r.answer(4, [v4(1)], n));
    d.at(40, (r, n) => r.answer(6, [v6(1)], n));
    d.advanceTo(300);
    assert.deepEqual(d.starts(), ['40 start #0 2001:db8::1', '290 start #1 203.0.113.1']);
  });

  test('late AAAA (1 s) does not hold back IPv4; it joins the race when it arrives', () => {
    const d = new Driver(config());
    d.at(2, (r, n) => r.answer(4, [v4(1), v4(2), v4(3), v4(4), v4(5)], n));
    d.at(1000, (r, n) => r.answer(6, [v6(1)], n));
    d.advanceTo(1400);
    assert.deepEqual(d.starts(), [
      '52 start #0 203.0.113.1',
      '302 start #1 203.0.113.2',
      '552 start #2 203.0.113.3',
      '802 start #3 203.0.113.4',
      '1052 start #4 2001:db8::1',
      '1302 start #5 203.0.113.5',
    ]);
  });

  test('AAAA first but every AAAA address demoted by history: waits the Resolution Delay for A', () => {
    const isDemoted = (c: RaceCandidate) => c.address === '2001:db8::1';
    // As the history order does: demoted endpoints after the others.
    const order = (k: readonly RaceCandidate[]) => [
      ...k.filter((c) => !isDemoted(c)),
      ...k.filter(isDemoted),
    ];
    const d = new Driver(config({ isDemoted, order }));
    d.at(5, (r, n) => r.answer(6, [v6(1)], n));
    assert.deepEqual(d.starts(), []);
    d.at(20, (r, n) => r.answer(4, [v4(1)], n));
    assert.deepEqual(d.starts(), ['20 start #0 203.0.113.1']);
  });

  test('AAAA first, all demoted, A never comes: starts on IPv6 after the Resolution Delay', () => {
    const d = new Driver(config({ isDemoted: () => true }));
    d.at(5, (r, n) => r.answer(6, [v6(1)], n));
    d.advanceTo(100);
    assert.deepEqual(d.starts(), ['55 start #0 2001:db8::1']);
  });

  test('AAAA fails while A is in the Resolution Delay: starts at once', () => {
    const d = new Driver(config());
    d.at(10, (r, n) => r.answer(4, [v4(1)], n));
    d.at(20, (r, n) => r.answerFailed(6, 'ESERVFAIL', n));
    assert.deepEqual(d.starts(), ['20 start #0 203.0.113.1']);
  });

  test('family 4 only: the A answer starts the race at once (no AAAA to wait for)', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(10, (r, n) => r.answer(4, [v4(1)], n));
    assert.deepEqual(d.starts(), ['10 start #0 203.0.113.1']);
  });

  test('both answers in either order with zero resolution delay give the same first attempt when AAAA is first', () => {
    for (const order of [
      [6, 4],
      [4, 6],
    ] as Family[][]) {
      const d = new Driver(config());
      for (const f of order) d.at(10, (r, n) => r.answer(f, f === 6 ? [v6(1)] : [v4(1)], n));
      assert.equal(d.starts()[0], '10 start #0 2001:db8::1', `order ${order}`);
    }
  });
});

describe('RFC 8305 §5 racing', () => {
  test('staggered by the attempt delay; earlier attempts keep running', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [v4(1), v4(2), v4(3)], n));
    d.advanceTo(600);
    assert.deepEqual(d.starts(), [
      '0 start #0 203.0.113.1',
      '250 start #1 203.0.113.2',
      '500 start #2 203.0.113.3',
    ]);
    assert.equal(d.log.filter((l) => l.includes('cancel')).length, 0);
  });

  test('a failure starts the next attempt at once, and the stagger restarts from it', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [v4(1), v4(2), v4(3)], n));
    d.at(40, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    d.advanceTo(300);
    assert.deepEqual(d.starts(), [
      '0 start #0 203.0.113.1',
      '40 start #1 203.0.113.2',
      '290 start #2 203.0.113.3',
    ]);
  });

  test('the first connection wins; every other attempt is cancelled', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [v4(1), v4(2), v4(3)], n));
    d.at(600, (r, n) => r.attemptConnected(1, n));
    assert.equal(d.result, 'won #1');
    assert.deepEqual(
      d.log.filter((l) => l.includes('cancel')),
      ['600 cancel #0', '600 cancel #2'],
    );
    assert.equal(d.wakeAt, undefined);
    // A connection that completes after the win changes nothing.
    assert.deepEqual(d.race.attemptConnected(0, 601).actions, []);
    assert.deepEqual(
      d.race.attempts.map((a) => a.outcome),
      ['cancelled', 'connected', 'cancelled'],
    );
  });

  test('maxConcurrentAttempts caps attempts in flight; a failure frees a slot', () => {
    const d = new Driver(config({ families: [4], maxConcurrentAttempts: 2 }));
    d.at(0, (r, n) => r.answer(4, [v4(1), v4(2), v4(3)], n));
    d.advanceTo(900);
    assert.deepEqual(d.starts(), ['0 start #0 203.0.113.1', '250 start #1 203.0.113.2']);
    d.at(1000, (r, n) => r.attemptFailed(0, 'ETIMEDOUT', n));
    assert.deepEqual(d.starts().at(-1), '1000 start #2 203.0.113.3');
  });

  test('every attempt fails: the race fails as exhausted once nothing is left', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [v4(1), v4(2)], n));
    d.at(5, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    assert.equal(d.result, undefined);
    d.at(9, (r, n) => r.attemptFailed(1, 'ECONNREFUSED', n));
    assert.equal(d.result, 'fail exhausted');
    assert.deepEqual(
      d.race.attempts.map((a) => [a.candidate.address, a.outcome, a.code, a.startMs, a.endMs, a.trigger]),
      [
        ['203.0.113.1', 'failed', 'ECONNREFUSED', 0, 5, 'first'],
        ['203.0.113.2', 'failed', 'ECONNREFUSED', 5, 9, 'failure'],
      ],
    );
  });

  test('all IPv4 failed while AAAA is still out: waits for it, then tries IPv6 at once', () => {
    const d = new Driver(config());
    d.at(0, (r, n) => r.answer(4, [v4(1)], n));
    d.at(60, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    assert.equal(d.result, undefined);
    d.at(700, (r, n) => r.answer(6, [v6(1)], n));
    assert.deepEqual(d.starts().at(-1), '700 start #1 2001:db8::1');
  });

  test('the deadline bounds the last attempt and cancels what is in flight', () => {
    const d = new Driver(config({ families: [4], deadlineMs: 3000 }));
    d.at(0, (r, n) => r.answer(4, [v4(1), v4(2)], n));
    d.advanceTo(5000);
    assert.equal(d.result, 'fail timeout');
    assert.deepEqual(d.log.slice(-3), ['3000 cancel #0', '3000 cancel #1', '3000 fail timeout']);
    assert.deepEqual(
      d.race.attempts.map((a) => [a.outcome, a.code, a.endMs]),
      [
        ['timeout', 'ETIMEDOUT', 3000],
        ['timeout', 'ETIMEDOUT', 3000],
      ],
    );
  });

  test('the deadline during resolution fails with the pending families logged', () => {
    const d = new Driver(config({ deadlineMs: 2000 }));
    d.advanceTo(2500);
    assert.equal(d.result, 'fail timeout');
    assert.deepEqual(
      d.race.answers.map((a) => [a.family, a.code]),
      [
        [6, 'ETIMEOUT'],
        [4, 'ETIMEOUT'],
      ],
    );
  });
});

describe('resolution failures and abort', () => {
  test('both families fail: the race fails as dns without any attempt', () => {
    const d = new Driver(config());
    d.at(3, (r, n) => r.answerFailed(4, 'ENOTFOUND', n));
    d.at(4, (r, n) => r.answerFailed(6, 'ENOTFOUND', n));
    assert.equal(d.result, 'fail dns');
    assert.equal(d.race.attempts.length, 0);
  });

  test('an empty answer counts as NODATA', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(3, (r, n) => r.answer(4, [], n));
    assert.equal(d.result, 'fail dns');
    assert.equal(d.race.answers[0]?.code, 'ENODATA');
  });

  for (const phase of ['resolving', 'resolution delay', 'racing'] as const) {
    test(`abort while ${phase}: everything in flight is cancelled, nothing else starts`, () => {
      const d = new Driver(config());
      if (phase !== 'resolving') d.at(1, (r, n) => r.answer(4, [v4(1), v4(2)], n));
      if (phase === 'racing') d.advanceTo(60);
      d.at(70, (r, n) => r.abort(n));
      assert.equal(d.result, 'fail aborted');
      assert.equal(d.wakeAt, undefined);
      const started = d.starts().length;
      assert.equal(d.log.filter((l) => l.includes('cancel')).length, started);
      d.advanceTo(10_000);
      assert.equal(d.starts().length, started);
      assert.deepEqual(d.race.answer(6, [v6(1)], 80).actions, []);
    });
  }

  test('a second answer for a family (refresh behind a stale answer) adds only its new addresses', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [v4(1)], n));
    d.at(100, (r, n) => r.answer(4, [v4(1), v4(2)], n));
    d.advanceTo(1000);
    assert.deepEqual(d.starts(), ['0 start #0 203.0.113.1', '250 start #1 203.0.113.2']);
  });

  test('an answer for a family that was never asked for is ignored', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(6, [v6(1)], n));
    assert.deepEqual(d.starts(), []);
  });

  test('duplicate addresses in an answer are tried once', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [v4(1), v4(1), v4(2)], n));
    d.advanceTo(1000);
    assert.deepEqual(d.starts(), ['0 start #0 203.0.113.1', '250 start #1 203.0.113.2']);
  });
});

describe('stale answers yield to fresh ones (issue 12; draft-ietf-happy-happyeyeballs-v3 optimistic use)', () => {
  const stale = { refreshPending: true };

  test('stale addresses all refused: the race waits for the refresh and the fresh address joins and wins', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [v4(1)], n, stale));
    assert.deepEqual(d.starts(), ['0 start #0 203.0.113.1']);
    d.at(1, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    assert.equal(d.result, undefined, 'not exhausted while the refresh is out');
    assert.deepEqual(d.race.awaitingRefresh, [4]);
    d.at(20, (r, n) => r.refreshed(4, [v4(9)], n));
    assert.deepEqual(d.starts(), ['0 start #0 203.0.113.1', '20 start #1 203.0.113.9']);
    assert.equal(d.race.attempts[1]!.trigger, 'answer');
    d.at(21, (r, n) => r.attemptConnected(1, n));
    assert.equal(d.result, 'won #1');
  });

  test('a refresh of A carrying NAT64-synthesised IPv6 candidates (answerFamily 4) joins the race', () => {
    const nat64 = (n: number): RaceCandidate => ({
      address: `64:ff9b::cb00:71${n.toString(16).padStart(2, '0')}`,
      family: 6,
      answerFamily: 4,
    });
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [nat64(1)], n, stale));
    d.at(1, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    d.at(20, (r, n) => r.refreshed(4, [nat64(9)], n));
    assert.deepEqual(d.starts(), ['0 start #0 64:ff9b::cb00:7101', '20 start #1 64:ff9b::cb00:7109']);
  });

  test('the wait for the refresh is bounded by the deadline', () => {
    const d = new Driver(config({ families: [4], deadlineMs: 1000 }));
    d.at(0, (r, n) => r.answer(4, [v4(1)], n, stale));
    d.at(1, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    d.advanceTo(999);
    assert.equal(d.result, undefined);
    d.advanceTo(1000);
    assert.equal(d.result, 'fail timeout');
    assert.deepEqual(
      d.race.answers.map((a) => [a.family, a.count, a.code]),
      [
        [4, 1, undefined],
        [4, 0, 'ETIMEOUT'],
      ],
      'the refresh that never came is in the log',
    );
  });

  test('a failed refresh leaves the stale answer in force and ends the wait: exhausted only then', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [v4(1)], n, stale));
    d.at(1, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    d.at(30, (r, n) => r.refreshFailed(4, n));
    assert.equal(d.result, 'fail exhausted');
  });

  test('fresh beats stale: untried stale addresses missing from the fresh answer are dropped', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [v4(1), v4(2), v4(3)], n, stale));
    d.at(5, (r, n) => r.refreshed(4, [v4(3), v4(7)], n));
    assert.deepEqual(
      d.race.order.map((c) => c.address),
      ['203.0.113.1', '203.0.113.3', '203.0.113.7'],
      'the tried one stays listed, .2 is gone, .7 joins',
    );
    d.at(6, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    d.at(7, (r, n) => r.attemptFailed(1, 'ECONNREFUSED', n));
    d.at(8, (r, n) => r.attemptFailed(2, 'ECONNREFUSED', n));
    assert.deepEqual(
      d.starts().map((l) => l.split(' ').pop()),
      ['203.0.113.1', '203.0.113.3', '203.0.113.7'],
    );
    assert.equal(d.result, 'fail exhausted');
  });

  test('an answer that is not stale is not waited for beyond its own family', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [v4(1)], n));
    d.at(1, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    assert.equal(d.result, 'fail exhausted');
    assert.deepEqual(d.race.awaitingRefresh, []);
  });

  test('a refresh for a family still pending (its stale answer never counted) is the answer of that family', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(5, (r, n) => r.refreshed(4, [v4(2)], n));
    assert.deepEqual(d.starts(), ['5 start #0 203.0.113.2']);
    const e = new Driver(config({ families: [4] }));
    e.at(5, (r, n) => r.refreshFailed(4, n, 'ETIMEOUT'));
    assert.equal(e.result, 'fail dns');
    assert.equal(e.race.answers[0]?.code, 'ETIMEOUT');
  });

  test('a refresh for a family that was not stale is ignored', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [v4(1)], n));
    d.at(5, (r, n) => r.refreshed(4, [v4(2)], n));
    assert.deepEqual(
      d.race.order.map((c) => c.address),
      ['203.0.113.1'],
    );
  });
});

describe('renumbering: a refresh that drops every address in flight (RFC 8305 §6)', () => {
  const stale = { refreshPending: true };

  test('the only attempt goes to an address the refresh dropped: the new address starts at once', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [v4(1)], n, stale));
    assert.deepEqual(d.starts(), ['0 start #0 203.0.113.1']);
    d.at(30, (r, n) => r.refreshed(4, [v4(9)], n));
    assert.deepEqual(d.starts(), ['0 start #0 203.0.113.1', '30 start #1 203.0.113.9']);
    assert.equal(d.race.attempts[1]!.trigger, 'answer');
    assert.equal(d.race.attempts[0]!.outcome, 'pending', 'the old address keeps its chance');
    // One start, not all at once: the stagger goes on from it.
    const e = new Driver(config({ families: [4] }));
    e.at(0, (r, n) => r.answer(4, [v4(1)], n, stale));
    e.at(30, (r, n) => r.refreshed(4, [v4(8), v4(9)], n));
    e.advanceTo(279);
    assert.deepEqual(e.starts(), ['0 start #0 203.0.113.1', '30 start #1 203.0.113.8']);
    e.advanceTo(280);
    assert.equal(e.starts().length, 3);
  });

  test('an attempt in flight to an address the refresh still lists keeps the stagger', () => {
    const d = new Driver(config({ families: [4] }));
    d.at(0, (r, n) => r.answer(4, [v4(1)], n, stale));
    d.at(30, (r, n) => r.refreshed(4, [v4(1), v4(9)], n));
    assert.deepEqual(d.starts(), ['0 start #0 203.0.113.1']);
    d.advanceTo(250);
    assert.deepEqual(d.starts(), ['0 start #0 203.0.113.1', '250 start #1 203.0.113.9']);
  });

  test('attempts in flight to another family still listed keep the stagger', () => {
    const d = new Driver(config({ families: [6, 4] }));
    d.at(0, (r, n) => r.answer(6, [v6(1)], n));
    d.at(1, (r, n) => r.answer(4, [v4(1)], n, stale));
    d.advanceTo(250);
    assert.deepEqual(d.starts(), ['0 start #0 2001:db8::1', '250 start #1 203.0.113.1']);
    d.at(260, (r, n) => r.refreshed(4, [v4(9)], n));
    assert.equal(d.starts().length, 2, 'the IPv6 attempt (still listed) holds the stagger');
    d.advanceTo(500);
    assert.equal(d.starts().length, 3);
  });
});

describe('attempt delay per destination (RFC 8305 §5, issue 12)', () => {
  test('the delay after each attempt is the one of its destination', () => {
    const delays: Record<string, number> = { '203.0.113.1': 1500, '203.0.113.2': 100 };
    const d = new Driver(config({ families: [4], attemptDelayFor: (c) => delays[c.address] ?? 250 }));
    d.at(0, (r, n) => r.answer(4, [v4(1), v4(2), v4(3)], n));
    d.advanceTo(3000);
    assert.deepEqual(d.starts(), [
      '0 start #0 203.0.113.1',
      '1500 start #1 203.0.113.2',
      '1600 start #2 203.0.113.3',
    ]);
    assert.deepEqual(
      d.race.attempts.map((a) => a.delayMs),
      [1500, 100, 250],
    );
  });
});

describe('a silent network: its other addresses go after other networks (within one dial)', () => {
  // The lab's mixed-eight shape: two networks, one dead (198.51.100.0/24 blackholed), one alive
  // (203.0.113.0/24: some refuse, some accept). The order is taken as given (no interleaving: one family).
  const dead = (n: number): RaceCandidate => ({ address: `198.51.100.${n}`, family: 4 });
  const alive = (n: number): RaceCandidate => ({ address: `203.0.113.${n}`, family: 4 });
  const asGiven = (known: readonly RaceCandidate[]): RaceCandidate[] => [...known];
  const ipv4Only = (over: Partial<RaceConfig> = {}): RaceConfig =>
    raceConfig(asGiven, { families: [4], ...over });

  test('after the attempt delay runs out unanswered, the next address comes from another network', () => {
    const d = new Driver(ipv4Only());
    d.at(0, (r, n) => r.answer(4, [dead(1), dead(2), alive(1)], n));
    d.advanceTo(1000);
    assert.deepEqual(d.starts().slice(0, 3), [
      '0 start #0 198.51.100.1',
      '250 start #1 203.0.113.1',
      '500 start #2 198.51.100.2',
    ]);
    assert.equal(d.race.attempts[1]?.passedOver?.join(), '198.51.100.2');
    assert.equal(d.race.attempts[2]?.passedOver, undefined, 'the passed-over address is still tried, later');
  });

  test('a refusal answers: after it, the silent network is still avoided, and the next alive address goes first', () => {
    const d = new Driver(ipv4Only());
    d.at(0, (r, n) => r.answer(4, [dead(1), alive(129), dead(2), dead(3), alive(1)], n));
    d.at(251, (r, n) => r.attemptFailed(1, 'ECONNREFUSED', n));
    d.at(252, (r, n) => r.attemptConnected(2, n));
    assert.deepEqual(d.starts(), [
      '0 start #0 198.51.100.1',
      '250 start #1 203.0.113.129',
      '251 start #2 203.0.113.1',
    ]);
    assert.deepEqual(d.race.attempts[2]?.passedOver, ['198.51.100.2', '198.51.100.3']);
    assert.equal(d.result, 'won #2');
  });

  test('before the attempt delay runs out, a failure starts the next address in order (nothing is silent yet)', () => {
    const d = new Driver(ipv4Only());
    d.at(0, (r, n) => r.answer(4, [dead(1), alive(129), dead(2), alive(1)], n));
    // The refusal is immediate: #1 starts at once only when #0 fails; here #0 is still within its delay.
    d.at(10, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    d.at(12, (r, n) => r.attemptFailed(1, 'ECONNREFUSED', n));
    assert.deepEqual(d.starts(), [
      '0 start #0 198.51.100.1',
      '10 start #1 203.0.113.129',
      '12 start #2 198.51.100.2',
    ]);
    assert.equal(d.race.attempts[2]?.passedOver, undefined);
  });

  test('one network only: the order is kept (nowhere else to go)', () => {
    const d = new Driver(ipv4Only());
    d.at(0, (r, n) => r.answer(4, [dead(1), dead(2), dead(3)], n));
    d.advanceTo(600);
    assert.deepEqual(d.starts(), [
      '0 start #0 198.51.100.1',
      '250 start #1 198.51.100.2',
      '500 start #2 198.51.100.3',
    ]);
    assert.ok(d.race.attempts.every((a) => a.passedOver === undefined));
  });

  test('a connection in its TLS handshake is not silent: its network answered', () => {
    const d = new Driver(ipv4Only());
    d.at(0, (r, n) => r.answer(4, [dead(1), dead(2), alive(1)], n));
    d.at(20, (r, n) => r.attemptSecuring(0, n));
    d.advanceTo(260);
    assert.deepEqual(d.starts(), ['0 start #0 198.51.100.1', '250 start #1 198.51.100.2']);
  });

  test('an address of a later service bucket is not brought forward (RFC 9460 priority order)', () => {
    const d = new Driver(ipv4Only());
    const later = { ...alive(1), bucket: 1 };
    d.at(0, (r, n) => r.answer(4, [dead(1), dead(2), later], n));
    d.advanceTo(510);
    assert.deepEqual(d.starts(), [
      '0 start #0 198.51.100.1',
      '250 start #1 198.51.100.2',
      '500 start #2 203.0.113.1',
    ]);
  });

  test('an IPv6 /64 is one network: its other addresses go after the other family', () => {
    const six = (n: string): RaceCandidate => ({ address: `2001:db8:0:1::${n}`, family: 6 });
    const d = new Driver(raceConfig(asGiven));
    d.at(0, (r, n) => r.answer(6, [six('1'), six('2')], n));
    d.at(1, (r, n) => r.answer(4, [alive(1)], n));
    d.advanceTo(260);
    assert.deepEqual(d.starts(), ['0 start #0 2001:db8:0:1::1', '250 start #1 203.0.113.1']);
  });
});
