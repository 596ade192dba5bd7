import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EndpointHistory } from '../src/memory/endpoint-history.js';
import {
  DEFAULT_EXPLORE_PROBABILITY,
  DEFAULT_RTT_LEEWAY_MS,
  type HistoryOrderOptions,
  orderByHistory,
} from '../src/memory/history-order.js';
import { DialMemory } from '../src/memory/dial-memory.js';
import { createRandom, fisherYates } from '../src/memory/random.js';
import { DialOrder } from '../src/race/order.js';

const T0 = 9_000_000;
const MIN = 60_000;
const PORT = 443;

interface Dest {
  address: string;
  family: 4 | 6;
  precedence: number;
}

/** RFC 6724 §2.1 default precedence: 40 for global IPv6, 35 for IPv4 (::ffff:0:0/96). */
function dest(address: string): Dest {
  const family = address.includes(':') ? 6 : 4;
  return { address, family, precedence: family === 6 ? 40 : 35 };
}

function names(list: readonly Dest[]): string[] {
  return list.map((d) => d.address);
}

/** A random source that makes Fisher–Yates the identity and never explores: isolates the other rules. */
const noShuffle = () => 0.999_999;

function options(random: () => number, extra: Partial<HistoryOrderOptions> = {}): HistoryOrderOptions {
  return { random, ...extra };
}

describe('createRandom and fisherYates', () => {
  test('the same seed gives the same sequence; seeds are taken modulo 2^32', () => {
    const a = createRandom(42);
    const b = createRandom(42);
    const c = createRandom(43);
    const seqA = Array.from({ length: 5 }, a);
    assert.deepEqual(seqA, Array.from({ length: 5 }, b));
    assert.notDeepEqual(seqA, Array.from({ length: 5 }, c));
    assert.deepEqual(
      Array.from({ length: 3 }, createRandom(-1)),
      Array.from({ length: 3 }, createRandom(2 ** 32 - 1)),
    );
  });

  test('the sequence itself is pinned (seeds on either side of 2^31 included)', () => {
    // Values of the unsigned-counter implementation before issue 16 kept its state as a signed integer:
    // the state's representation must not change a seeded order.
    const first3 = (seed: number) => Array.from({ length: 3 }, createRandom(seed)).map((x) => x * 2 ** 32);
    assert.deepEqual(first3(0), [1684164658, 3653269916, 2939563536]);
    assert.deepEqual(first3(2 ** 31), [2241709437, 3944143666, 3411218436]);
    assert.deepEqual(first3(-1), [3950124170, 4293442868, 1302505678]);
  });

  test('values are in [0, 1) and roughly uniform', () => {
    const random = createRandom(7);
    const buckets = new Array<number>(10).fill(0);
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const x = random();
      assert.ok(x >= 0 && x < 1, `${x} in [0, 1)`);
      buckets[Math.floor(x * 10)] = (buckets[Math.floor(x * 10)] as number) + 1;
    }
    for (const count of buckets) assert.ok(Math.abs(count - n / 10) < 200, `bucket count ${count}`);
  });

  test('a non-integer seed is rejected', () => {
    assert.throws(() => createRandom(0.5), { name: 'TypeError', code: 'ERR_NETDIAL_INVALID_ARGUMENT' });
  });

  test('fisherYates shuffles in place, draws n − 1 numbers, and every permutation is about equally likely', () => {
    const items = ['a', 'b', 'c', 'd'];
    let draws = 0;
    const random = createRandom(1);
    const counted = () => {
      draws++;
      return random();
    };
    assert.equal(fisherYates(items, counted), items);
    assert.equal(draws, 3);
    assert.deepEqual([...items].sort(), ['a', 'b', 'c', 'd']);
    assert.deepEqual(fisherYates([], counted), []);
    assert.deepEqual(fisherYates(['x'], counted), ['x']);
    assert.equal(draws, 3, 'no draws for 0 or 1 items');

    const seen = new Map<string, number>();
    const shuffleRandom = createRandom(2);
    for (let i = 0; i < 6000; i++) {
      const key = fisherYates([1, 2, 3], shuffleRandom).join('');
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    assert.equal(seen.size, 6);
    for (const [key, count] of seen) assert.ok(Math.abs(count - 1000) < 150, `${key}: ${count}`);
  });
});

describe('orderByHistory validation', () => {
  const list = [dest('192.0.2.1')];
  const cases: [string, () => unknown, string, string][] = [
    [
      'no random',
      () => orderByHistory(list, PORT, undefined, T0, {} as HistoryOrderOptions),
      'ERR_NETDIAL_INVALID_OPTION',
      'random',
    ],
    [
      'exploreProbability above 1',
      () => orderByHistory(list, PORT, undefined, T0, options(noShuffle, { exploreProbability: 1.5 })),
      'ERR_NETDIAL_INVALID_OPTION',
      'exploreProbability',
    ],
    [
      'exploreProbability NaN',
      () => orderByHistory(list, PORT, undefined, T0, options(noShuffle, { exploreProbability: Number.NaN })),
      'ERR_NETDIAL_INVALID_OPTION',
      'exploreProbability',
    ],
    [
      'negative rttLeewayMs',
      () => orderByHistory(list, PORT, undefined, T0, options(noShuffle, { rttLeewayMs: -1 })),
      'ERR_NETDIAL_INVALID_OPTION',
      'rttLeewayMs',
    ],
    [
      'port 0',
      () => orderByHistory(list, 0, undefined, T0, options(noShuffle)),
      'ERR_NETDIAL_INVALID_ARGUMENT',
      '`port`',
    ],
    [
      'bad family',
      () =>
        orderByHistory(
          [{ address: '192.0.2.1', family: 5 as 4, precedence: 35 }],
          PORT,
          undefined,
          T0,
          options(noShuffle),
        ),
      'ERR_NETDIAL_INVALID_ARGUMENT',
      '`sorted[0].family`',
    ],
    [
      'not an address, with history',
      () =>
        orderByHistory(
          [{ address: 'x.test', family: 4, precedence: 35 }],
          PORT,
          new EndpointHistory(),
          T0,
          options(noShuffle),
        ),
      'ERR_NETDIAL_INVALID_ARGUMENT',
      '`address`',
    ],
  ];
  for (const [scenario, fn, code, mentions] of cases) {
    test(`rejects ${scenario}`, () => {
      assert.throws(fn, (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.equal((error as { code?: string }).code, code);
        assert.ok(error.message.includes(mentions), error.message);
        return true;
      });
    });
  }

  test('defaults are 1/20 and 10 ms', () => {
    assert.equal(DEFAULT_EXPLORE_PROBABILITY, 0.05);
    assert.equal(DEFAULT_RTT_LEEWAY_MS, 10);
  });

  test('empty input', () => {
    assert.deepEqual(orderByHistory([], PORT, new EndpointHistory(), T0, options(noShuffle)), {
      ordered: [],
      demoted: [],
      explored: undefined,
      suspected: [],
      shuffled: false,
      firstReason: undefined,
    });
  });
});

describe('orderByHistory demotion', () => {
  test('one failure demotes the endpoint to the end, in both input orders', () => {
    const history = new EndpointHistory();
    history.recordFailure('192.0.2.2', PORT, 'ECONNREFUSED', T0);
    const forward = [dest('192.0.2.1'), dest('192.0.2.2'), dest('2001:db8::3')];
    const cases: [Dest[], string[]][] = [
      [forward, ['192.0.2.1', '2001:db8::3', '192.0.2.2']],
      [[...forward].reverse(), ['2001:db8::3', '192.0.2.1', '192.0.2.2']],
    ];
    for (const [input, expected] of cases) {
      const result = orderByHistory(input, PORT, history, T0 + 1, options(noShuffle));
      assert.deepEqual(names(result.ordered), expected);
      assert.deepEqual(names(result.demoted), ['192.0.2.2']);
      assert.equal(result.explored, undefined);
    }
  });

  test('a failure on another port does not demote', () => {
    const history = new EndpointHistory();
    history.recordFailure('192.0.2.1', 80, 'ECONNREFUSED', T0);
    const result = orderByHistory(
      [dest('192.0.2.1'), dest('192.0.2.2')],
      PORT,
      history,
      T0,
      options(noShuffle),
    );
    assert.deepEqual(result.demoted, []);
  });

  test('demoted endpoints: fewest consecutive failures first, ties in input order, in both input orders', () => {
    const history = new EndpointHistory();
    const failures: [string, number][] = [
      ['2001:db8::a', 3],
      ['2001:db8::b', 1],
      ['2001:db8::c', 2],
      ['2001:db8::d', 1],
    ];
    for (const [address, count] of failures) {
      for (let i = 0; i < count; i++) history.recordFailure(address, PORT, 'ETIMEDOUT', T0);
    }
    const forward = [...failures.map(([a]) => dest(a)), dest('2001:db8::e')];
    const cases: [Dest[], string[]][] = [
      [forward, ['2001:db8::e', '2001:db8::b', '2001:db8::d', '2001:db8::c', '2001:db8::a']],
      [[...forward].reverse(), ['2001:db8::e', '2001:db8::d', '2001:db8::b', '2001:db8::c', '2001:db8::a']],
    ];
    for (const [input, expected] of cases) {
      const result = orderByHistory(input, PORT, history, T0, options(noShuffle));
      assert.deepEqual(names(result.ordered), expected);
      assert.deepEqual(names(result.demoted), expected.slice(1));
    }
  });

  test('never dropped: when every endpoint fails, all are still returned', () => {
    const history = new EndpointHistory();
    const input = ['192.0.2.1', '192.0.2.2', '2001:db8::1', '2001:db8::2'].map(dest);
    for (const d of input) history.recordFailure(d.address, PORT, 'ENETUNREACH', T0);
    const random = createRandom(3);
    for (let call = 0; call < 200; call++) {
      const result = orderByHistory(input, PORT, history, T0 + 1, options(random));
      assert.equal(result.ordered.length, input.length);
      assert.deepEqual(new Set(result.ordered), new Set(input));
      assert.equal(result.demoted.length + (result.explored ? 1 : 0), input.length);
    }
  });

  test('demotion ends with a success', () => {
    const history = new EndpointHistory();
    history.recordFailure('192.0.2.1', PORT, 'ECONNREFUSED', T0);
    history.recordSuccess('192.0.2.1', PORT, 20, T0 + 2 * MIN);
    const result = orderByHistory(
      [dest('192.0.2.1'), dest('192.0.2.2')],
      PORT,
      history,
      T0 + 2 * MIN,
      options(noShuffle),
    );
    assert.deepEqual(names(result.ordered), ['192.0.2.1', '192.0.2.2']);
    assert.deepEqual(result.demoted, []);
  });
});

describe('orderByHistory exploration', () => {
  test('an endpoint whose backoff just ended is explored at its natural place, in both input orders', () => {
    const history = new EndpointHistory();
    history.recordFailure('192.0.2.2', PORT, 'ECONNREFUSED', T0);
    history.recordFailure('2001:db8::9', PORT, 'ECONNREFUSED', T0); // still in backoff (second failure below)
    history.recordFailure('2001:db8::9', PORT, 'ECONNREFUSED', T0);
    const forward = [dest('2001:db8::9'), dest('192.0.2.1'), dest('192.0.2.2'), dest('192.0.2.3')];
    const cases: [Dest[], string[]][] = [
      [forward, ['192.0.2.1', '192.0.2.2', '192.0.2.3', '2001:db8::9']],
      [[...forward].reverse(), ['192.0.2.3', '192.0.2.2', '192.0.2.1', '2001:db8::9']],
    ];
    for (const [input, expected] of cases) {
      const during = orderByHistory(
        input,
        PORT,
        history,
        T0 + MIN - 1,
        options(noShuffle, { exploreProbability: 0 }),
      );
      assert.equal(during.explored, undefined, 'not yet');
      const result = orderByHistory(
        input,
        PORT,
        history,
        T0 + MIN,
        options(noShuffle, { exploreProbability: 0 }),
      );
      assert.equal(result.explored?.address, '192.0.2.2');
      assert.deepEqual(names(result.ordered), expected);
      assert.deepEqual(names(result.demoted), ['2001:db8::9']);
    }
  });

  test('several endpoints due at once: one is explored, the others stay demoted', () => {
    const history = new EndpointHistory();
    const input = ['192.0.2.1', '192.0.2.2', '192.0.2.3'].map(dest);
    history.recordFailure('192.0.2.1', PORT, 'ECONNREFUSED', T0);
    history.recordFailure('192.0.2.2', PORT, 'ECONNREFUSED', T0);
    const random = createRandom(11);
    const explored = new Set<string>();
    for (let call = 0; call < 50; call++) {
      const result = orderByHistory(
        input,
        PORT,
        history,
        T0 + MIN,
        options(random, { exploreProbability: 0 }),
      );
      assert.ok(result.explored);
      explored.add(result.explored.address);
      assert.equal(result.demoted.length, 1);
      assert.notEqual(result.demoted[0], result.explored);
      assert.equal(result.ordered.at(-1), result.demoted[0]);
    }
    assert.deepEqual(
      [...explored].sort(),
      ['192.0.2.1', '192.0.2.2'],
      'the choice is spread over the due ones',
    );
  });

  test('an endpoint explored by chance keeps its natural place', () => {
    const history = new EndpointHistory();
    history.recordFailure('192.0.2.2', PORT, 'ECONNREFUSED', T0);
    const input = [dest('192.0.2.1'), dest('192.0.2.2'), dest('192.0.2.3')];
    const result = orderByHistory(
      input,
      PORT,
      history,
      T0 + 1,
      options(noShuffle, { exploreProbability: 1 }),
    );
    assert.equal(result.explored?.address, '192.0.2.2');
    assert.deepEqual(names(result.ordered), ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
    assert.deepEqual(result.demoted, []);
  });

  test('exploration rate ≈ exploreProbability over many calls', () => {
    const history = new EndpointHistory();
    const input = ['2001:db8::1', '2001:db8::2', '192.0.2.1', '192.0.2.2', '192.0.2.3'].map(dest);
    for (const address of ['2001:db8::2', '192.0.2.2', '192.0.2.3'])
      history.recordFailure(address, PORT, 'ETIMEDOUT', T0);
    for (const [probability, seed] of [
      [DEFAULT_EXPLORE_PROBABILITY, 5],
      [0.2, 6],
    ] as const) {
      const random = createRandom(seed);
      const calls = 4000;
      let explored = 0;
      const chosen = new Map<string, number>();
      for (let call = 0; call < calls; call++) {
        const result = orderByHistory(
          input,
          PORT,
          history,
          T0 + 1,
          options(random, { exploreProbability: probability }),
        );
        if (result.explored) {
          explored++;
          chosen.set(result.explored.address, (chosen.get(result.explored.address) ?? 0) + 1);
        }
      }
      const rate = explored / calls;
      assert.ok(Math.abs(rate - probability) < 0.2 * probability, `rate ${rate} for ${probability}`);
      assert.equal(chosen.size, 3, 'every demoted endpoint gets explored');
    }
  });

  test('exploreProbability 0 never explores an endpoint still in backoff', () => {
    const history = new EndpointHistory();
    history.recordFailure('192.0.2.1', PORT, 'ETIMEDOUT', T0);
    const random = createRandom(8);
    for (let call = 0; call < 500; call++) {
      const result = orderByHistory(
        [dest('192.0.2.1'), dest('192.0.2.2')],
        PORT,
        history,
        T0 + 1,
        options(random, { exploreProbability: 0 }),
      );
      assert.equal(result.explored, undefined);
    }
  });
});

describe('orderByHistory RTT preference (RFC 8305 §4)', () => {
  /** Each endpoint measured 16 times at its RTT: SRTT = RTT, RTTVAR down to 0.7 % of it (a settled estimate). */
  function withRtts(rtts: Record<string, number>): EndpointHistory {
    const history = new EndpointHistory();
    for (const [address, rtt] of Object.entries(rtts)) {
      for (let n = 0; n < 16; n++) history.recordSuccess(address, PORT, rtt, T0);
    }
    return history;
  }

  test('one slow sample is no verdict: an endpoint whose first handshake was slow keeps its share', () => {
    const history = withRtts({ '192.0.2.1': 0.4, '192.0.2.2': 0.5 });
    history.recordSuccess('192.0.2.3', PORT, 30, T0); // first sample during a busy moment
    const input = ['192.0.2.1', '192.0.2.2', '192.0.2.3'].map(dest);
    const random = createRandom(8);
    let third = 0;
    for (let call = 0; call < 900; call++) {
      if (orderByHistory(input, PORT, history, T0, options(random)).ordered[0]?.address === '192.0.2.3')
        third++;
    }
    assert.ok(third > 240 && third < 360, `first ${third} / 900`);
    // Measured slow again and again, it is clearly slower: after the fast ones.
    for (let n = 0; n < 8; n++) history.recordSuccess('192.0.2.3', PORT, 30, T0);
    const settled = orderByHistory(input, PORT, history, T0, options(noShuffle));
    assert.equal(settled.ordered[2]?.address, '192.0.2.3');
  });

  test('known good and never-tried ones share the first class, then clearly slower ones, in both input orders', () => {
    const history = withRtts({ '192.0.2.1': 100, '192.0.2.2': 20, '192.0.2.4': 28 });
    const forward = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'].map(dest);
    const cases: [Dest[], string[]][] = [
      [forward, ['192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.1']],
      [[...forward].reverse(), ['192.0.2.4', '192.0.2.3', '192.0.2.2', '192.0.2.1']],
    ];
    for (const [input, expected] of cases) {
      const result = orderByHistory(input, PORT, history, T0, options(noShuffle));
      assert.deepEqual(names(result.ordered), expected);
      assert.equal(result.shuffled, true);
    }
  });

  test('the leeway is inclusive and configurable', () => {
    const history = withRtts({ '192.0.2.1': 20, '192.0.2.2': 30, '192.0.2.3': 30.5 });
    const input = ['192.0.2.3', '192.0.2.2', '192.0.2.1'].map(dest);
    assert.deepEqual(names(orderByHistory(input, PORT, history, T0, options(noShuffle)).ordered), [
      '192.0.2.2',
      '192.0.2.1',
      '192.0.2.3',
    ]);
    assert.deepEqual(
      names(orderByHistory(input, PORT, history, T0, options(noShuffle, { rttLeewayMs: 0 })).ordered),
      ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
    );
  });

  test('slower endpoints come by increasing SRTT, in leeway bands that are shuffled separately', () => {
    const history = withRtts({ '192.0.2.1': 20, '192.0.2.2': 50, '192.0.2.3': 55, '192.0.2.4': 80 });
    const input = ['192.0.2.4', '192.0.2.3', '192.0.2.2', '192.0.2.1'].map(dest);
    assert.deepEqual(names(orderByHistory(input, PORT, history, T0, options(noShuffle)).ordered), [
      '192.0.2.1',
      '192.0.2.2',
      '192.0.2.3',
      '192.0.2.4',
    ]);
    const random = createRandom(21);
    const seen = new Set<string>();
    for (let call = 0; call < 100; call++) {
      const ordered = names(orderByHistory(input, PORT, history, T0, options(random)).ordered);
      assert.equal(ordered[0], '192.0.2.1');
      assert.equal(ordered[3], '192.0.2.4');
      seen.add(ordered.join(' '));
    }
    assert.equal(seen.size, 2, 'the 50/55 ms band is shuffled');
  });

  test('RTT only reorders within a family and precedence group (RFC 6724 still decides between groups)', () => {
    const history = withRtts({ '2001:db8::1': 100, '2001:db8::2': 20, '192.0.2.1': 5 });
    const input = ['2001:db8::1', '2001:db8::2', '192.0.2.1'].map(dest);
    assert.deepEqual(names(orderByHistory(input, PORT, history, T0, options(noShuffle)).ordered), [
      '2001:db8::2',
      '2001:db8::1',
      '192.0.2.1',
    ]);
  });

  test('a never-tried endpoint shares load with a known good one from the start (not starved)', () => {
    const history = withRtts({ '192.0.2.1': 15 });
    for (const input of [
      [dest('192.0.2.1'), dest('192.0.2.2')],
      [dest('192.0.2.2'), dest('192.0.2.1')],
    ]) {
      const random = createRandom(4);
      let unknownFirst = 0;
      for (let call = 0; call < 1000; call++) {
        const result = orderByHistory(input, PORT, history, T0, options(random));
        assert.equal(result.firstReason, 'load-sharing');
        if (result.ordered[0]?.address === '192.0.2.2') unknownFirst++;
      }
      assert.ok(unknownFirst > 430 && unknownFirst < 570, `unknown first ${unknownFirst} / 1000`);
    }
  });
});

describe('orderByHistory load sharing', () => {
  test('equivalent endpoints are shuffled per call; families and precedences never mix', () => {
    const input = ['2001:db8::1', '2001:db8::2', '2001:db8::3', '192.0.2.1', '192.0.2.2'].map(dest);
    const random = createRandom(99);
    const seen = new Set<string>();
    for (let call = 0; call < 600; call++) {
      const result = orderByHistory(input, PORT, undefined, T0, options(random));
      assert.equal(result.shuffled, true);
      assert.deepEqual(
        result.ordered.map((d) => d.family),
        [6, 6, 6, 4, 4],
      );
      seen.add(names(result.ordered).join(' '));
    }
    assert.equal(seen.size, 6 * 2, 'all 3! × 2! orders appear');
  });

  test('same precedence but different family is not one run', () => {
    // Not produced by the default policy table, but a custom table may give IPv4 and IPv6 equal precedence.
    const input: Dest[] = [
      { address: '2001:db8::1', family: 6, precedence: 35 },
      { address: '192.0.2.1', family: 4, precedence: 35 },
    ];
    const random = createRandom(17);
    for (let call = 0; call < 50; call++) {
      const result = orderByHistory(input, PORT, undefined, T0, options(random));
      assert.deepEqual(names(result.ordered), ['2001:db8::1', '192.0.2.1']);
      assert.equal(result.shuffled, false);
    }
  });

  test('nothing to shuffle: shuffled is false and no random number is drawn', () => {
    let draws = 0;
    const counting = () => {
      draws++;
      return 0.5;
    };
    const input = [
      dest('2001:db8::1'),
      dest('192.0.2.1'),
      { address: '2001:db8::2', family: 6 as const, precedence: 1 },
    ];
    const result = orderByHistory(input, PORT, new EndpointHistory(), T0, options(counting));
    assert.equal(result.shuffled, false);
    assert.deepEqual(names(result.ordered), ['2001:db8::1', '192.0.2.1', '2001:db8::2']);
    assert.equal(draws, 0);
  });

  test('the same seed gives the same orders', () => {
    const history = new EndpointHistory();
    history.recordFailure('192.0.2.3', PORT, 'ETIMEDOUT', T0);
    const input = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'].map(dest);
    const run = (seed: number) => {
      const random = createRandom(seed);
      return Array.from({ length: 50 }, () =>
        names(orderByHistory(input, PORT, history, T0 + 1, options(random)).ordered).join(' '),
      );
    };
    assert.deepEqual(run(12), run(12));
    assert.notDeepEqual(run(12), run(13));
  });

  test('3 good and 5 failing endpoints: each good one first in >= 25% of 300 calls; failing ones first only when explored', () => {
    const history = new EndpointHistory();
    const good = ['198.51.100.2', '198.51.100.4', '198.51.100.6'];
    const failing = ['198.51.100.1', '198.51.100.3', '198.51.100.5', '198.51.100.7', '198.51.100.8'];
    for (const [i, address] of good.entries()) {
      history.recordSuccess(address, PORT, 20 + 4 * i, T0);
      history.recordSuccess(address, PORT, 20 + 4 * i, T0 + 1000);
    }
    for (const address of failing) history.recordFailure(address, PORT, 'ECONNREFUSED', T0 + 1000);
    const input = [...good, ...failing].sort().map(dest); // interleaved: failing first in natural order
    const random = createRandom(2024);
    const firsts = new Map<string, number>();
    let exploredFirst = 0;
    const calls = 300;
    for (let call = 0; call < calls; call++) {
      const result = orderByHistory(input, PORT, history, T0 + 2000, options(random));
      const first = result.ordered[0] as Dest;
      firsts.set(first.address, (firsts.get(first.address) ?? 0) + 1);
      if (failing.includes(first.address)) {
        assert.equal(first, result.explored, 'a failing endpoint is first only when explored');
        exploredFirst++;
      }
      const tail = result.ordered.slice(result.ordered.length - result.demoted.length);
      assert.deepEqual(tail, result.demoted);
      assert.equal(result.demoted.length, result.explored ? 4 : 5);
    }
    for (const address of good) {
      const count = firsts.get(address) ?? 0;
      assert.ok(count >= 0.25 * calls, `${address} first in ${count} of ${calls}`);
    }
    assert.ok(exploredFirst < 0.1 * calls, `failing first ${exploredFirst} times`);
  });
});

describe('orderByHistory: networks, families and why the first went first (issue 12)', () => {
  test('suspects go after the others and before the demoted; the first is why it is', () => {
    const history = new EndpointHistory();
    history.recordFailure('2001:db8:3::10', PORT, 'ETIMEDOUT', T0);
    history.noteUnanswered('svc.test', '2001:db8:3::10', '192.0.2.1', T0);
    history.recordSuccess('192.0.2.1', PORT, 5, T0);
    const input = ['2001:db8:3::10', '2001:db8:3::11', '192.0.2.1'].map(dest);
    const result = orderByHistory(input, PORT, history, T0, {
      random: noShuffle,
      isSuspected: (address) => history.isSuspected('svc.test', address, PORT, T0),
    });
    assert.deepEqual(names(result.ordered), ['192.0.2.1', '2001:db8:3::11', '2001:db8:3::10']);
    assert.deepEqual(names(result.suspected), ['2001:db8:3::11']);
    assert.deepEqual(names(result.demoted), ['2001:db8:3::10']);
    assert.equal(result.firstReason, 'sorted');
  });

  test('exploration gives suspects a chance (about 1 in 20), in their natural place', () => {
    const input = ['2001:db8:3::11', '192.0.2.1'].map(dest);
    const random = createRandom(5);
    let explored = 0;
    for (let call = 0; call < 2000; call++) {
      const r = orderByHistory(input, PORT, new EndpointHistory(), T0, {
        random,
        isSuspected: (address) => address === '2001:db8:3::11',
      });
      if (r.explored?.address === '2001:db8:3::11') {
        explored++;
        assert.equal(r.ordered[0]?.address, '2001:db8:3::11');
        assert.equal(r.firstReason, 'explored');
      } else {
        assert.deepEqual(names(r.ordered), ['192.0.2.1', '2001:db8:3::11']);
      }
    }
    assert.ok(explored > 60 && explored < 150, `explored ${explored} / 2000`);
  });

  test('a deferred family goes second (stable), except on an exploring call; the report says "family"', () => {
    const input = ['2001:db8::1', '2001:db8::2', '192.0.2.1'].map(dest);
    const r = orderByHistory(input, PORT, undefined, T0, { random: noShuffle, deferFamily: 6 });
    assert.deepEqual(names(r.ordered), ['192.0.2.1', '2001:db8::1', '2001:db8::2']);
    assert.equal(r.firstReason, 'family');
    const exploring = orderByHistory(input, PORT, undefined, T0, {
      random: () => 0,
      exploreProbability: 1,
      shuffle: false,
      deferFamily: 6,
    });
    assert.equal(exploring.ordered[0]?.family, 6, 'exploring: the family gets its chance');
    const same = orderByHistory(['192.0.2.1', '192.0.2.2'].map(dest), PORT, undefined, T0, {
      random: noShuffle,
      deferFamily: 6,
    });
    assert.equal(same.firstReason, 'load-sharing', 'nothing to defer: the usual reason');
  });

  test('first reasons: rtt, load-sharing, fallback', () => {
    const history = new EndpointHistory();
    for (let n = 0; n < 16; n++) {
      history.recordSuccess('192.0.2.1', PORT, 5, T0);
      history.recordSuccess('192.0.2.2', PORT, 80, T0);
    }
    const rtt = orderByHistory(['192.0.2.2', '192.0.2.1'].map(dest), PORT, history, T0, options(noShuffle));
    assert.equal(rtt.firstReason, 'rtt');
    const shared = orderByHistory(
      ['192.0.2.3', '192.0.2.1'].map(dest),
      PORT,
      history,
      T0,
      options(noShuffle),
    );
    assert.equal(shared.firstReason, 'load-sharing');
    history.recordFailure('192.0.2.1', PORT, 'ECONNREFUSED', T0);
    history.recordFailure('192.0.2.2', PORT, 'ECONNREFUSED', T0);
    const all = orderByHistory(['192.0.2.2', '192.0.2.1'].map(dest), PORT, history, T0, options(noShuffle));
    assert.equal(all.firstReason, 'fallback');
  });
});

describe('load sharing holds from the first dial (issue 12): 60 dials, three good and five dead addresses', () => {
  const GOOD = ['203.0.113.1', '203.0.113.2', '203.0.113.3'];
  const SILENT = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];
  const REFUSING = ['203.0.113.129', '203.0.113.130'];
  const ALL = [
    SILENT[0],
    REFUSING[0],
    SILENT[1],
    GOOD[0],
    REFUSING[1],
    SILENT[2],
    GOOD[1],
    GOOD[2],
  ] as string[];

  /**
   * One dial as the shell would run it, on a virtual clock: attempts in order; a refusal moves on at
   * once, a silent address is left running and the next starts after the attempt delay; the first good
   * address wins; what was open and silent before it is recorded as the shell records it.
   */
  function dialOnce(memory: DialMemory, nowMs: number): string {
    const order = new DialOrder(memory, 'svc.test', PORT, 1).order(ALL.map(dest), nowMs);
    const silentOpen: string[] = [];
    for (const c of order) {
      if (REFUSING.includes(c.address)) {
        memory.endpoints.recordFailure(c.address, PORT, 'ECONNREFUSED', nowMs);
      } else if (SILENT.includes(c.address)) {
        silentOpen.push(c.address);
      } else {
        for (const s of silentOpen) {
          memory.endpoints.recordFailure(s, PORT, 'ETIMEDOUT', nowMs);
          memory.endpoints.noteUnanswered('svc.test', s, c.address, nowMs);
        }
        memory.endpoints.recordSuccess(c.address, PORT, 0.3, nowMs);
        memory.endpoints.noteConnected('svc.test', c.address);
        return c.address;
      }
    }
    throw new Error('no good address in the order');
  }

  test('in 30 seeded runs, every good address gets at least 10 of 60', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const memory = new DialMemory({ seed });
      const counts = new Map(GOOD.map((a) => [a, 0]));
      for (let i = 0; i < 60; i++) {
        const winner = dialOnce(memory, T0 + i * 50);
        counts.set(winner, (counts.get(winner) ?? 0) + 1);
      }
      for (const [address, count] of counts) {
        assert.ok(count >= 10, `seed ${seed}: ${address} got ${count} (${[...counts.values()].join('/')})`);
      }
    }
  });
});
