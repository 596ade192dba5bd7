import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ENDPOINT_HISTORY_DEFAULTS,
  EndpointHistory,
  type EndpointHistoryOptions,
  type EndpointState,
  RTT_ALPHA,
  RTT_BETA,
} from '../src/memory/endpoint-history.js';

const T0 = 5_000_000;
const MIN = 60_000;
const WALL = 1_700_000_000_000;

function throwsCode(fn: () => unknown, code: string, mentions: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TypeError, 'a TypeError');
    assert.equal((error as { code?: string }).code, code);
    assert.ok(
      error.message.includes(mentions),
      `message ${JSON.stringify(error.message)} mentions ${mentions}`,
    );
    return true;
  });
}

describe('EndpointHistory options', () => {
  test('defaults and RFC 6298 constants', () => {
    assert.deepEqual(new EndpointHistory().options, {
      maxEndpoints: 4096,
      backoffBaseMs: 60_000,
      backoffMaxMs: 600_000,
      minAttemptDelayMs: 100,
      maxAttemptDelayMs: 2000,
      defaultAttemptDelayMs: 250,
    });
    assert.equal(new EndpointHistory().options, ENDPOINT_HISTORY_DEFAULTS);
    assert.equal(RTT_ALPHA, 0.125);
    assert.equal(RTT_BETA, 0.25);
  });

  const invalid: [string, EndpointHistoryOptions][] = [
    ['maxEndpoints', { maxEndpoints: 0 }],
    ['maxEndpoints', { maxEndpoints: 2.5 }],
    ['backoffBaseMs', { backoffBaseMs: -1 }],
    ['backoffMaxMs', { backoffMaxMs: Number.POSITIVE_INFINITY }],
    ['backoffBaseMs', { backoffBaseMs: 5000, backoffMaxMs: 1000 }],
    ['minAttemptDelayMs', { minAttemptDelayMs: 5 }],
    ['minAttemptDelayMs', { minAttemptDelayMs: 300, maxAttemptDelayMs: 200, defaultAttemptDelayMs: 250 }],
    ['defaultAttemptDelayMs', { defaultAttemptDelayMs: 50 }],
    ['defaultAttemptDelayMs', { defaultAttemptDelayMs: 5000 }],
    ['maxAttemptDelayMs', { maxAttemptDelayMs: '2000' as unknown as number }],
  ];
  for (const [option, options] of invalid) {
    test(`rejects ${option} in ${JSON.stringify(options)}`, () => {
      assert.throws(
        () => new EndpointHistory(options),
        (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.equal((error as { code?: string }).code, 'ERR_NETDIAL_INVALID_OPTION');
          assert.equal((error as { option?: string }).option, option);
          assert.ok(error.message.includes(option));
          return true;
        },
      );
    });
  }
});

describe('EndpointHistory arguments', () => {
  const history = new EndpointHistory();
  const cases: [string, () => unknown, string][] = [
    ['a host name', () => history.get('example.test', 443, T0), '`address`'],
    ['port 0', () => history.get('192.0.2.1', 0, T0), '`port`'],
    ['port 65536', () => history.get('192.0.2.1', 65536, T0), '`port`'],
    ['fractional port', () => history.recordSuccess('192.0.2.1', 80.5, 10, T0), '`port`'],
    ['negative RTT', () => history.recordSuccess('192.0.2.1', 80, -1, T0), '`rttMs`'],
    ['infinite now', () => history.recordSuccess('192.0.2.1', 80, 1, Number.POSITIVE_INFINITY), '`nowMs`'],
    ['empty code', () => history.recordFailure('192.0.2.1', 80, '', T0), '`code`'],
    ['family 5', () => history.attemptDelayMs(5 as 4, T0), '`family`'],
    // The last valid arguments are remembered (no re-parse per call): a bad one right after is still refused.
    [
      'port 0 right after the same address with a valid port',
      () => {
        history.isDemoted('192.0.2.9', 80, T0);
        return history.isDemoted('192.0.2.9', 0, T0);
      },
      '`port`',
    ],
    [
      'an empty name right after a valid one',
      () => {
        history.noteConnected('a.test', '192.0.2.1');
        return history.noteConnected('', '192.0.2.1');
      },
      '`name`',
    ],
    [
      'no address and no port',
      () => history.isDemoted(undefined as never, undefined as never, T0),
      '`address`',
    ],
    ['no name', () => history.noteConnected(undefined as never, '192.0.2.1'), '`name`'],
  ];
  for (const [scenario, fn, mentions] of cases) {
    test(`rejects ${scenario}`, () => throwsCode(fn, 'ERR_NETDIAL_INVALID_ARGUMENT', mentions));
  }
});

describe('EndpointHistory failures and backoff', () => {
  test('one failure: demoted, in backoff for exactly 1 min, then due for a retry', () => {
    const history = new EndpointHistory();
    history.recordFailure('192.0.2.1', 443, 'ECONNREFUSED', T0);
    assert.deepEqual(history.get('192.0.2.1', 443, T0), {
      address: '192.0.2.1',
      port: 443,
      family: 4,
      lastOutcome: 'failure',
      lastAtMs: T0,
      consecutiveFailures: 1,
      lastErrorCode: 'ECONNREFUSED',
      backoffUntilMs: T0 + MIN,
      inBackoff: true,
      backoffJustEnded: false,
    });
    assert.equal(history.get('192.0.2.1', 443, T0 + MIN - 1)?.inBackoff, true);
    const ended = history.get('192.0.2.1', 443, T0 + MIN);
    assert.equal(ended?.inBackoff, false);
    assert.equal(ended?.backoffJustEnded, true);
    assert.equal(history.isDemoted('192.0.2.1', 443, T0), true);
    assert.equal(history.isDemoted('192.0.2.1', 443, T0 + MIN), true, 'still demoted until retried');
    assert.equal(history.isDemoted('192.0.2.1', 80, T0), false, 'other port unaffected');
    assert.equal(history.get('192.0.2.1', 80, T0), undefined);
  });

  test('backoff doubles per consecutive failure: 1, 2, 4, 8, 10, 10 min', () => {
    const history = new EndpointHistory();
    const expectedMinutes = [1, 2, 4, 8, 10, 10];
    let now = T0;
    for (const [i, minutes] of expectedMinutes.entries()) {
      history.recordFailure('2001:db8::1', 443, 'ETIMEDOUT', now);
      const state = history.get('2001:db8::1', 443, now);
      assert.equal(state?.consecutiveFailures, i + 1);
      assert.equal(state?.backoffUntilMs, now + minutes * MIN, `failure ${i + 1}`);
      assert.equal(history.get('2001:db8::1', 443, now + minutes * MIN - 1)?.inBackoff, true);
      assert.equal(history.get('2001:db8::1', 443, now + minutes * MIN)?.backoffJustEnded, true);
      now += minutes * MIN; // retry exactly when the backoff ends, and fail again
    }
    assert.equal(history.backoffMs(2000), 10 * MIN, 'no overflow for long streaks');
  });

  test('a success ends the backoff and the failure streak, keeping nothing of the failure', () => {
    const history = new EndpointHistory();
    history.recordFailure('192.0.2.1', 443, 'ECONNREFUSED', T0);
    history.recordFailure('192.0.2.1', 443, 'ECONNREFUSED', T0 + MIN);
    history.recordSuccess('192.0.2.1', 443, 40, T0 + MIN + 5);
    assert.deepEqual(history.get('192.0.2.1', 443, T0 + MIN + 5), {
      address: '192.0.2.1',
      port: 443,
      family: 4,
      lastOutcome: 'success',
      lastAtMs: T0 + MIN + 5,
      consecutiveFailures: 0,
      srttMs: 40,
      rttvarMs: 20,
      inBackoff: false,
      backoffJustEnded: false,
    });
    assert.equal(history.isDemoted('192.0.2.1', 443, T0 + MIN + 5), false);
    history.recordFailure('192.0.2.1', 443, 'ECONNRESET', T0 + 2 * MIN);
    assert.equal(
      history.get('192.0.2.1', 443, T0 + 2 * MIN)?.backoffUntilMs,
      T0 + 3 * MIN,
      'streak restarts at 1 min',
    );
  });

  test('custom backoff base and ceiling', () => {
    const history = new EndpointHistory({ backoffBaseMs: 1000, backoffMaxMs: 3000 });
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => history.backoffMs(n)),
      [1000, 2000, 3000, 3000],
    );
  });
});

describe('EndpointHistory RTT (RFC 6298 §2)', () => {
  test('SRTT and RTTVAR follow the RFC formulas exactly', () => {
    const history = new EndpointHistory();
    const samples: [number, number, number][] = [
      // [R, SRTT after, RTTVAR after]
      [100, 100, 50], // §2.2: SRTT = R, RTTVAR = R/2
      [120, 102.5, 42.5], // §2.3: RTTVAR = 3/4·50 + 1/4·|100 − 120|; SRTT = 7/8·100 + 1/8·120
      [80, 99.6875, 37.5], // RTTVAR = 3/4·42.5 + 1/4·|102.5 − 80|; SRTT = 7/8·102.5 + 1/8·80
      [100, 99.7265625, 28.203125], // RTTVAR = 3/4·37.5 + 1/4·|99.6875 − 100|; SRTT = 7/8·99.6875 + 1/8·100
    ];
    let now = T0;
    for (const [r, srtt, rttvar] of samples) {
      history.recordSuccess('2001:db8::5', 8443, r, now);
      const state = history.get('2001:db8::5', 8443, now);
      assert.equal(state?.srttMs, srtt, `SRTT after ${r}`);
      assert.equal(state?.rttvarMs, rttvar, `RTTVAR after ${r}`);
      now += 1000;
    }
  });

  test('a failure keeps the RTT estimate', () => {
    const history = new EndpointHistory();
    history.recordSuccess('192.0.2.1', 443, 30, T0);
    history.recordFailure('192.0.2.1', 443, 'ETIMEDOUT', T0 + 1);
    const state = history.get('192.0.2.1', 443, T0 + 1);
    assert.equal(state?.srttMs, 30);
    assert.equal(state?.rttvarMs, 15);
  });
});

describe('EndpointHistory.attemptDelayMs (RFC 8305 §5)', () => {
  test('no history: the default 250 ms, for every family', () => {
    const history = new EndpointHistory();
    assert.equal(history.attemptDelayMs(undefined, T0), 250);
    assert.equal(history.attemptDelayMs(4, T0), 250);
    history.recordFailure('192.0.2.1', 443, 'ECONNREFUSED', T0);
    assert.equal(history.attemptDelayMs(4, T0), 250, 'failures carry no RTT');
  });

  const cases: [string, number[], number][] = [
    ['one sample R = 30: 2·30 + 4·15', [30], 120],
    ['clamped up to 100 ms', [10], 100],
    ['exactly the 2 s maximum', [500], 2000],
    ['clamped down to 2 s', [600], 2000],
    ['median of an odd count ignores the outlier', [20, 40, 1000], 160],
    ['median of an even count is the mean of the middle two', [60, 40], 200],
    ['rounded to whole ms', [30.1], 120],
  ];
  for (const [scenario, rtts, expected] of cases) {
    test(scenario, () => {
      const history = new EndpointHistory();
      for (const [i, rtt] of rtts.entries()) history.recordSuccess(`192.0.2.${i + 1}`, 443, rtt, T0);
      assert.equal(history.attemptDelayMs(4, T0), expected);
      assert.equal(history.attemptDelayMs(undefined, T0), expected);
    });
  }

  test('kept while no RTT changes; a new sample, a forgotten endpoint or forget() is seen at once (few samples)', () => {
    const history = new EndpointHistory();
    history.recordSuccess('192.0.2.1', 443, 30, T0);
    history.recordSuccess('192.0.2.2', 443, 30, T0);
    history.recordSuccess('192.0.2.3', 443, 200, T0);
    assert.equal(history.attemptDelayMs(4, T0), 120);
    history.recordSuccess('192.0.2.4', 443, 200, T0); // median of 120, 120, 800, 800
    assert.equal(history.attemptDelayMs(4, T0), 460);
    history.recordSuccess('192.0.2.3', 443, 30, T0 + 1); // SRTT 178.75, RTTVAR 117.5: 827.5
    history.recordSuccess('192.0.2.5', 443, 30, T0 + 1);
    assert.equal(history.attemptDelayMs(4, T0 + 1), 120);
    history.delete('192.0.2.1', 443);
    history.delete('192.0.2.2', 443);
    history.delete('192.0.2.5', 443);
    assert.equal(history.attemptDelayMs(4, T0 + 1), 814, 'median of 800 and 827.5, rounded');
    history.forget();
    assert.equal(history.attemptDelayMs(4, T0 + 1), 250);
  });

  test('over 64 samples or more, the median is given again for up to 1 s of nowMs, then computed again', () => {
    const history = new EndpointHistory();
    for (let i = 0; i < 64; i++) history.recordSuccess(`198.18.0.${i}`, 443, 30, T0);
    assert.equal(history.attemptDelayMs(4, T0), 120);
    for (let i = 0; i < 65; i++) history.recordSuccess(`198.18.1.${i}`, 443, 200, T0 + 10);
    assert.equal(history.attemptDelayMs(4, T0 + 999), 120, 'kept: one second has not passed');
    assert.equal(history.attemptDelayMs(6, T0 + 999), 250, 'each family has its own');
    assert.equal(history.attemptDelayMs(4, T0 + 1000), 800, 'computed again after a second');
    history.forget();
    assert.equal(history.attemptDelayMs(4, T0 + 1001), 250, 'forget() is seen at once');
  });

  test('per family: the other family’s history does not count', () => {
    const history = new EndpointHistory();
    history.recordSuccess('192.0.2.1', 443, 30, T0);
    history.recordSuccess('2001:db8::1', 443, 200, T0);
    assert.equal(history.attemptDelayMs(4, T0), 120);
    assert.equal(history.attemptDelayMs(6, T0), 800);
    assert.equal(history.attemptDelayMs(undefined, T0), 460, 'both: mean of 120 and 800');
  });

  test('custom bounds', () => {
    const history = new EndpointHistory({
      minAttemptDelayMs: 10,
      maxAttemptDelayMs: 50,
      defaultAttemptDelayMs: 20,
    });
    assert.equal(history.attemptDelayMs(undefined, T0), 20);
    history.recordSuccess('192.0.2.1', 443, 1, T0);
    assert.equal(history.attemptDelayMs(undefined, T0), 10);
    history.recordSuccess('192.0.2.2', 443, 100, T0);
    history.recordSuccess('192.0.2.3', 443, 100, T0);
    assert.equal(history.attemptDelayMs(undefined, T0), 50);
  });
});

describe('EndpointHistory LRU and housekeeping', () => {
  test('evicts the least recently recorded endpoint; reads do not count as use', () => {
    const history = new EndpointHistory({ maxEndpoints: 2 });
    history.recordSuccess('192.0.2.1', 443, 10, T0);
    history.recordSuccess('192.0.2.2', 443, 10, T0);
    history.get('192.0.2.1', 443, T0);
    history.isDemoted('192.0.2.1', 443, T0);
    history.recordSuccess('192.0.2.3', 443, 10, T0);
    assert.equal(history.size, 2);
    assert.equal(history.get('192.0.2.1', 443, T0), undefined);
    history.recordFailure('192.0.2.2', 443, 'ECONNREFUSED', T0);
    history.recordSuccess('192.0.2.4', 443, 10, T0);
    assert.equal(history.get('192.0.2.3', 443, T0), undefined);
    assert.notEqual(history.get('192.0.2.2', 443, T0), undefined);
  });

  test('the same address on two ports is two endpoints; delete() and forget()', () => {
    const history = new EndpointHistory();
    history.recordSuccess('2001:db8::1', 80, 10, T0);
    history.recordFailure('2001:db8::1', 443, 'ECONNREFUSED', T0);
    assert.equal(history.size, 2);
    assert.equal(history.get('2001:db8::1', 80, T0)?.family, 6);
    assert.equal(history.delete('2001:db8::1', 80), true);
    assert.equal(history.delete('2001:db8::1', 80), false);
    history.forget();
    assert.equal(history.size, 0);
    assert.equal(history.isDemoted('2001:db8::1', 443, T0), false);
    assert.equal(history.attemptDelayMs(undefined, T0), 250);
  });
});

/** A state with its absolute times expressed relative to `nowMs`. */
function relative(state: EndpointState, nowMs: number): EndpointState {
  const out = { ...state, lastAtMs: state.lastAtMs - nowMs };
  if (state.backoffUntilMs !== undefined) out.backoffUntilMs = state.backoffUntilMs - nowMs;
  return out;
}

describe('EndpointHistory toJSON / fromJSON', () => {
  function populated(): EndpointHistory {
    const history = new EndpointHistory();
    history.recordSuccess('192.0.2.1', 443, 100, T0);
    history.recordSuccess('192.0.2.1', 443, 120, T0 + 1000);
    history.recordFailure('2001:db8::1', 443, 'ETIMEDOUT', T0);
    history.recordFailure('2001:db8::1', 443, 'ETIMEDOUT', T0 + MIN);
    history.recordSuccess('192.0.2.2', 80, 30, T0);
    history.recordFailure('192.0.2.2', 80, 'ECONNREFUSED', T0 + 2000);
    history.recordFailure('192.0.2.3', 80, 'EHOSTUNREACH', T0 - 2 * MIN); // backoff already ended
    return history;
  }
  const endpoints: [string, number][] = [
    ['192.0.2.1', 443],
    ['2001:db8::1', 443],
    ['192.0.2.2', 80],
    ['192.0.2.3', 80],
  ];

  test('round trip through JSON text into another clock, aged by the wall clock', () => {
    const exportAt = T0 + MIN + 5000;
    const text = JSON.stringify(populated().toJSON(exportAt, WALL));
    for (const elapsedMs of [0, 30_000, 10 * MIN]) {
      const restored = EndpointHistory.fromJSON(JSON.parse(text), 7, WALL + elapsedMs);
      const reference = populated();
      for (const [address, port] of endpoints) {
        const expected = reference.get(address, port, exportAt + elapsedMs);
        const actual = restored.get(address, port, 7);
        assert.ok(expected && actual);
        // Absolute times move to the importing clock: compare them relative to each clock's now.
        assert.deepEqual(
          relative(actual, 7),
          relative(expected, exportAt + elapsedMs),
          `${address} port ${port} after ${elapsedMs} ms`,
        );
      }
      assert.equal(restored.attemptDelayMs(undefined, 7), reference.attemptDelayMs(undefined, exportAt));
    }
  });

  test('LRU order survives, and a smaller maxEndpoints keeps the most recent', () => {
    const json = populated().toJSON(T0, WALL);
    assert.deepEqual(
      json.endpoints.map((e) => e.address),
      ['192.0.2.1', '2001:db8::1', '192.0.2.2', '192.0.2.3'],
    );
    const restored = EndpointHistory.fromJSON(json, 0, WALL, { maxEndpoints: 2 });
    assert.equal(restored.size, 2);
    assert.equal(restored.get('192.0.2.1', 443, 0), undefined);
    assert.notEqual(restored.get('192.0.2.3', 80, 0), undefined);
  });

  test('JSON.stringify(history) without arguments throws and says how to export', () => {
    throwsCode(
      () => JSON.stringify(new EndpointHistory()),
      'ERR_NETDIAL_INVALID_ARGUMENT',
      'toJSON(nowMs, wallClockMs)',
    );
  });

  const entry = {
    address: '192.0.2.1',
    port: 443,
    lastOutcome: 'success',
    lastAgeMs: 0,
    consecutiveFailures: 0,
  };
  const malformed: [string, unknown, string][] = [
    ['null', null, '`json`'],
    ['wrong version', { version: 0, wallClockMs: WALL, endpoints: [] }, '`json.version`'],
    ['no endpoints', { version: 1, wallClockMs: WALL }, '`json.endpoints`'],
    [
      'bad address',
      { version: 1, wallClockMs: WALL, endpoints: [{ ...entry, address: 'x' }] },
      'json.endpoints[0].address',
    ],
    [
      'bad outcome',
      { version: 1, wallClockMs: WALL, endpoints: [{ ...entry, lastOutcome: 'maybe' }] },
      'lastOutcome',
    ],
    [
      'failure without count',
      { version: 1, wallClockMs: WALL, endpoints: [{ ...entry, lastOutcome: 'failure', backoffForMs: 5 }] },
      'consecutiveFailures',
    ],
    [
      'failure without backoff',
      {
        version: 1,
        wallClockMs: WALL,
        endpoints: [{ ...entry, lastOutcome: 'failure', consecutiveFailures: 1 }],
      },
      'backoffForMs',
    ],
    [
      'SRTT without RTTVAR',
      { version: 1, wallClockMs: WALL, endpoints: [{ ...entry, srttMs: 5 }] },
      'rttvarMs',
    ],
  ];
  for (const [scenario, json, mentions] of malformed) {
    test(`fromJSON rejects ${scenario}`, () => {
      throwsCode(() => EndpointHistory.fromJSON(json, 0, WALL), 'ERR_NETDIAL_INVALID_ARGUMENT', mentions);
    });
  }
});

describe('attemptDelayFor: the delay from the closest history (issue 12, RFC 8305 §5)', () => {
  test('own samples, then the network (/24, /64, any port), then Dialer-wide, then the default', () => {
    const history = new EndpointHistory();
    assert.deepEqual(history.attemptDelayFor('192.0.2.1', 443, T0), { delayMs: 250, basis: 'default' });
    // Failures are no RTT samples: still the default.
    history.recordFailure('192.0.2.9', 443, 'ECONNREFUSED', T0);
    assert.deepEqual(history.attemptDelayFor('192.0.2.1', 443, T0), { delayMs: 250, basis: 'default' });
    history.recordSuccess('198.51.100.7', 443, 400, T0); // far: 2·400 + 4·200 = 1600
    history.recordSuccess('203.0.113.5', 80, 1, T0); // near: 4 → the 100 ms floor
    assert.deepEqual(history.attemptDelayFor('198.51.100.7', 443, T0), { delayMs: 1600, basis: 'endpoint' });
    assert.deepEqual(history.attemptDelayFor('198.51.100.8', 443, T0), { delayMs: 1600, basis: 'network' });
    assert.deepEqual(history.attemptDelayFor('198.51.100.7', 22, T0), { delayMs: 1600, basis: 'network' });
    assert.deepEqual(history.attemptDelayFor('203.0.113.99', 443, T0), { delayMs: 100, basis: 'network' });
    // Nothing closer: the Dialer-wide median of (1600, 4), clamped after.
    assert.deepEqual(history.attemptDelayFor('192.0.2.1', 443, T0), { delayMs: 802, basis: 'dialer' });
    history.recordSuccess('2001:db8:7::1', 443, 50, T0); // 200
    assert.deepEqual(history.attemptDelayFor('2001:db8:7::ffff', 443, T0), {
      delayMs: 200,
      basis: 'network',
    });
    assert.deepEqual(history.attemptDelayFor('2001:db8:7:1::1', 443, T0), { delayMs: 200, basis: 'dialer' });
    // The name's other addresses (same port) before the Dialer-wide figure.
    assert.deepEqual(history.attemptDelayFor('192.0.2.1', 443, T0, ['192.0.2.1', '198.51.100.7']), {
      delayMs: 1600,
      basis: 'name',
    });
    assert.deepEqual(
      history.attemptDelayFor('192.0.2.1', 443, T0, ['203.0.113.5']),
      { delayMs: 200, basis: 'dialer' },
      'another port is not the same endpoint (Dialer-wide: median of 1600, 4 and 200)',
    );
  });
});

describe('networks and families suspected per name (issue 12)', () => {
  test('an unanswered address while another network won: its siblings of that name are suspected until one connects', () => {
    const history = new EndpointHistory();
    history.noteUnanswered('svc.test', '2001:db8:3::10', '192.0.2.1', T0);
    assert.equal(history.isSuspected('svc.test', '2001:db8:3::11', 443, T0), true, 'same /64');
    assert.equal(history.isSuspected('SVC.test', '2001:db8:3::ffff', 80, T0), true, 'any port, any case');
    assert.equal(history.isSuspected('svc.test', '2001:db8:3:1::11', 443, T0), false, 'another /64');
    assert.equal(history.isSuspected('other.test', '2001:db8:3::11', 443, T0), false, 'another name');
    // An endpoint that itself connected last time has proven itself.
    history.recordSuccess('2001:db8:3::12', 443, 5, T0);
    assert.equal(history.isSuspected('svc.test', '2001:db8:3::12', 443, T0), false);
    // Suspicion ends after backoffMaxMs (10 min) …
    assert.equal(history.isSuspected('svc.test', '2001:db8:3::11', 443, T0 + 10 * MIN - 1), true);
    assert.equal(history.isSuspected('svc.test', '2001:db8:3::11', 443, T0 + 10 * MIN), false);
    // … or when an address of the network connects for the name.
    history.noteUnanswered('svc.test', '198.51.100.1', '203.0.113.1', T0);
    assert.equal(history.isSuspected('svc.test', '198.51.100.2', 443, T0), true, 'same /24');
    history.noteConnected('svc.test', '198.51.100.77');
    assert.equal(history.isSuspected('svc.test', '198.51.100.2', 443, T0), false);
  });

  test('an unanswered address when the winner is in the same network suspects nobody else', () => {
    const history = new EndpointHistory();
    history.noteUnanswered('svc.test', '192.0.2.1', '192.0.2.2', T0);
    assert.equal(history.isSuspected('svc.test', '192.0.2.3', 443, T0), false);
    assert.equal(history.deferredFamily('svc.test', T0), undefined);
  });

  test('a family unanswered twice in a row while the other connects goes second for that name', () => {
    const history = new EndpointHistory();
    history.noteUnanswered('svc.test', '2001:db8:3::10', '192.0.2.1', T0);
    assert.equal(history.deferredFamily('svc.test', T0), undefined, 'once is not "keeps"');
    history.noteUnanswered('svc.test', '2001:db8:9::10', '192.0.2.1', T0 + 1000);
    assert.equal(history.deferredFamily('svc.test', T0 + 1000), 6);
    assert.equal(history.deferredFamily('other.test', T0 + 1000), undefined);
    assert.equal(history.deferredFamily('svc.test', T0 + 1000 + 10 * MIN), undefined, 'expires');
    history.noteConnected('svc.test', '192.0.2.1');
    assert.equal(
      history.deferredFamily('svc.test', T0 + 1000),
      6,
      'the other family connecting changes nothing',
    );
    history.noteConnected('svc.test', '2001:db8:1::1');
    assert.equal(history.deferredFamily('svc.test', T0 + 1000), undefined, 'IPv6 connected: cleared');
    history.noteUnanswered('svc.test', '2001:db8:3::10', '192.0.2.1', T0);
    history.noteUnanswered('svc.test', '192.0.2.1', '2001:db8:3::10', T0);
    history.noteUnanswered('svc.test', '2001:db8:3::10', '192.0.2.1', T0);
    assert.equal(history.deferredFamily('svc.test', T0), undefined, 'not in a row');
    history.forget();
    history.noteUnanswered('svc.test', '2001:db8:3::10', '192.0.2.1', T0);
    history.noteUnanswered('svc.test', '2001:db8:3::10', '192.0.2.1', T0);
    assert.equal(history.deferredFamily('svc.test', T0), 6);
    history.forget();
    assert.equal(history.deferredFamily('svc.test', T0), undefined, 'forget() (network change) clears it');
    assert.equal(history.isSuspected('svc.test', '2001:db8:3::11', 443, T0), false);
  });

  test('bad input is a TypeError naming it', () => {
    const history = new EndpointHistory();
    throwsCode(
      () => history.noteUnanswered('', '192.0.2.1', '192.0.2.2', T0),
      'ERR_NETDIAL_INVALID_ARGUMENT',
      'name',
    );
    throwsCode(
      () => history.noteUnanswered('a.test', 'nope', '192.0.2.2', T0),
      'ERR_NETDIAL_INVALID_ARGUMENT',
      'address',
    );
    throwsCode(() => history.attemptDelayFor('192.0.2.1', 0, T0), 'ERR_NETDIAL_INVALID_ARGUMENT', 'port');
  });
});
