import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type CacheLookup,
  DNS_CACHE_DEFAULTS,
  DnsCache,
  type DnsCacheJson,
  type DnsCacheOptions,
} from '../src/memory/dns-cache.js';

/** Virtual clock origin: an arbitrary monotonic reading, not zero, to catch code that assumes zero. */
const T0 = 1_234_567;
const S = 1000;

function rec(address: string, ttlSeconds: number) {
  return { address, ttlSeconds };
}

function throwsCode(fn: () => unknown, code: string, mentions: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TypeError, 'a TypeError');
    assert.equal((error as { code?: string }).code, code);
    assert.match(error.message, new RegExp(mentions.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    return true;
  });
}

describe('DnsCache options', () => {
  test('defaults are the documented ones', () => {
    assert.deepEqual(new DnsCache().options, {
      maxNames: 1000,
      maxAddressesPerName: 1024,
      minTtlSeconds: 0,
      maxTtlSeconds: 86_400,
      negativeTtlSeconds: 30,
      maxNegativeTtlSeconds: 3600,
      errorTtlSeconds: 1,
      maxStaleSeconds: 86_400,
      staleRefreshBackoffSeconds: 30,
      maxOptimisticStaleSeconds: 60,
    });
    assert.equal(new DnsCache().options, DNS_CACHE_DEFAULTS);
  });

  const invalid: [string, DnsCacheOptions][] = [
    ['maxNames', { maxNames: 0 }],
    ['maxNames', { maxNames: 1.5 }],
    ['maxNames', { maxNames: Number.POSITIVE_INFINITY }],
    ['minTtlSeconds', { minTtlSeconds: -1 }],
    ['maxTtlSeconds', { maxTtlSeconds: Number.NaN }],
    ['negativeTtlSeconds', { negativeTtlSeconds: '30' as unknown as number }],
    ['maxNegativeTtlSeconds', { maxNegativeTtlSeconds: -0.5 }],
    ['errorTtlSeconds', { errorTtlSeconds: null as unknown as number }],
    ['maxStaleSeconds', { maxStaleSeconds: Number.POSITIVE_INFINITY }],
    ['staleRefreshBackoffSeconds', { staleRefreshBackoffSeconds: -30 }],
    ['minTtlSeconds', { minTtlSeconds: 100, maxTtlSeconds: 10 }],
  ];
  for (const [option, options] of invalid) {
    test(`rejects ${JSON.stringify(options, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}`, () => {
      assert.throws(
        () => new DnsCache(options),
        (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.equal((error as { code?: string }).code, 'ERR_NETDIAL_INVALID_OPTION');
          assert.equal((error as { option?: string }).option, option);
          assert.match(error.message, new RegExp(option));
          return true;
        },
      );
    });
  }

  test('rejects a non-object options argument', () => {
    throwsCode(() => new DnsCache(5 as unknown as DnsCacheOptions), 'ERR_NETDIAL_INVALID_OPTION', 'options');
  });

  test('undefined option values take the default', () => {
    assert.equal(new DnsCache({ maxNames: undefined }).options.maxNames, 1000);
  });
});

describe('DnsCache arguments', () => {
  const cache = new DnsCache();
  const cases: [string, () => unknown, string][] = [
    ['empty name', () => cache.get('', 'A', T0), '`name`'],
    ['bad type', () => cache.get('a.test', 'MX' as 'A', T0), '`type`'],
    ['NaN now', () => cache.get('a.test', 'A', Number.NaN), '`nowMs`'],
    ['empty records', () => cache.setPositive('a.test', 'A', [], T0), '`records`'],
    [
      'IPv6 in A',
      () => cache.setPositive('a.test', 'A', [rec('2001:db8::1', 5)], T0),
      '`records[0].address`',
    ],
    ['IPv4 in AAAA', () => cache.setPositive('a.test', 'AAAA', [rec('192.0.2.1', 5)], T0), 'IPv6'],
    [
      'negative TTL',
      () => cache.setPositive('a.test', 'A', [rec('192.0.2.1', 5), rec('192.0.2.2', -1)], T0),
      '`records[1].ttlSeconds`',
    ],
    ['bad kind', () => cache.setNegative('a.test', 'A', 'SERVFAIL' as 'NODATA', undefined, T0), '`kind`'],
    [
      'bad SOA minimum',
      () => cache.setNegative('a.test', 'A', 'NODATA', { ttlSeconds: 5, minimumSeconds: Number.NaN }, T0),
      '`soa.minimumSeconds`',
    ],
    ['empty error code', () => cache.setError('a.test', 'A', '', T0), '`code`'],
  ];
  for (const [scenario, fn, mentions] of cases) {
    test(`rejects ${scenario}`, () => throwsCode(fn, 'ERR_NETDIAL_INVALID_ARGUMENT', mentions));
  }
});

describe('DnsCache positive answers', () => {
  test('fresh until the TTL runs out, exact to the millisecond, then stale', () => {
    const cache = new DnsCache();
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 10)], T0);
    assert.deepEqual(cache.get('a.test', 'A', T0), {
      state: 'fresh',
      records: ['192.0.2.1'],
      ttlRemainingSeconds: 10,
    });
    assert.deepEqual(cache.get('a.test', 'A', T0 + 10 * S - 1), {
      state: 'fresh',
      records: ['192.0.2.1'],
      ttlRemainingSeconds: 1,
    });
    assert.deepEqual(cache.get('a.test', 'A', T0 + 10 * S), {
      state: 'stale',
      records: ['192.0.2.1'],
      staleForSeconds: 0,
      refreshAllowed: true,
      optimistic: true,
    });
    assert.deepEqual(cache.get('a.test', 'A', T0 + 12_500), {
      state: 'stale',
      records: ['192.0.2.1'],
      staleForSeconds: 2,
      refreshAllowed: true,
      optimistic: true,
    });
  });

  test('ttlRemainingSeconds rounds up partial seconds', () => {
    const cache = new DnsCache();
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 10)], T0);
    const lookup = cache.get('a.test', 'A', T0 + 1);
    assert.equal(lookup.state === 'fresh' && lookup.ttlRemainingSeconds, 10);
  });

  test('the set takes the smallest record TTL, in either record order; duplicates are dropped', () => {
    for (const records of [
      [rec('192.0.2.1', 300), rec('192.0.2.2', 60), rec('192.0.2.1', 300)],
      [rec('192.0.2.2', 60), rec('192.0.2.1', 300), rec('192.0.2.2', 60)],
    ]) {
      const cache = new DnsCache();
      cache.setPositive('a.test', 'A', records, T0);
      assert.equal(cache.get('a.test', 'A', T0 + 60 * S - 1).state, 'fresh');
      const stale = cache.get('a.test', 'A', T0 + 60 * S);
      assert.equal(stale.state, 'stale');
      assert.equal(stale.state === 'stale' && stale.records.length, 2);
    }
  });

  test('minTtlSeconds raises small TTLs and maxTtlSeconds caps large ones', () => {
    const cache = new DnsCache({ minTtlSeconds: 60, maxTtlSeconds: 100 });
    cache.setPositive('small.test', 'A', [rec('192.0.2.1', 5)], T0);
    cache.setPositive('zero.test', 'A', [rec('192.0.2.1', 0)], T0);
    cache.setPositive('large.test', 'A', [rec('192.0.2.1', 1000)], T0);
    cache.setPositive('highbit.test', 'A', [rec('192.0.2.1', 2 ** 32 - 1)], T0);
    for (const name of ['small.test', 'zero.test']) {
      assert.equal(cache.get(name, 'A', T0 + 60 * S - 1).state, 'fresh', name);
      assert.equal(cache.get(name, 'A', T0 + 60 * S).state, 'stale', name);
    }
    for (const name of ['large.test', 'highbit.test']) {
      assert.equal(cache.get(name, 'A', T0 + 100 * S - 1).state, 'fresh', name);
      assert.equal(cache.get(name, 'A', T0 + 100 * S).state, 'stale', name);
    }
  });

  test('TTL 0 is never fresh and never for optimistic use, but is kept for serve-stale', () => {
    const cache = new DnsCache();
    cache.setPositive('a.test', 'AAAA', [rec('2001:db8::1', 0)], T0);
    assert.deepEqual(cache.get('a.test', 'AAAA', T0), {
      state: 'stale',
      records: ['2001:db8::1'],
      staleForSeconds: 0,
      refreshAllowed: true,
      optimistic: false,
    });
  });

  test('optimistic use: positive TTL and stale for at most maxOptimisticStaleSeconds (default 60)', () => {
    const cache = new DnsCache();
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 10)], T0);
    const at = (ms: number) => {
      const hit = cache.get('a.test', 'A', ms);
      assert.equal(hit.state, 'stale');
      return hit.state === 'stale' && hit.optimistic;
    };
    assert.equal(at(T0 + 10 * S), true);
    assert.equal(at(T0 + 70 * S), true, 'exactly 60 s stale');
    assert.equal(at(T0 + 70 * S + 1), false, 'a moment past the floor');
    assert.equal(at(T0 + 3600 * S), false, 'an hour stale: serve-stale only');
    const none = new DnsCache({ maxOptimisticStaleSeconds: 0 });
    none.setPositive('a.test', 'A', [rec('192.0.2.1', 10)], T0);
    const hit = none.get('a.test', 'A', T0 + 10 * S + 1);
    assert.equal(hit.state === 'stale' && hit.optimistic, false, '0 disables optimistic use');
    // A TTL raised by minTtlSeconds counts as positive: the cache owner chose to reuse it.
    const floored = new DnsCache({ minTtlSeconds: 5 });
    floored.setPositive('a.test', 'A', [rec('192.0.2.1', 0)], T0);
    const f = floored.get('a.test', 'A', T0 + 5 * S);
    assert.equal(f.state === 'stale' && f.optimistic, true);
    throwsCode(
      () => new DnsCache({ maxOptimisticStaleSeconds: -1 }),
      'ERR_NETDIAL_INVALID_OPTION',
      'maxOptimisticStaleSeconds',
    );
  });

  test('the TTL-0 mark survives export and import', () => {
    const cache = new DnsCache();
    cache.setPositive('zero.test', 'A', [rec('192.0.2.1', 0)], T0);
    cache.setPositive('ten.test', 'A', [rec('192.0.2.2', 10)], T0);
    const copy = DnsCache.fromJSON(JSON.parse(JSON.stringify(cache.toJSON(T0, 1e12))), T0, 1e12);
    const zero = copy.get('zero.test', 'A', T0 + S);
    const ten = copy.get('ten.test', 'A', T0 + 11 * S);
    assert.equal(zero.state === 'stale' && zero.optimistic, false);
    assert.equal(ten.state === 'stale' && ten.optimistic, true);
  });

  test('stale is served until maxStaleSeconds after expiry, then it is a miss and the name is gone', () => {
    const cache = new DnsCache({ maxStaleSeconds: 100 });
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 10)], T0);
    const last = cache.get('a.test', 'A', T0 + 110 * S - 1);
    assert.equal(last.state === 'stale' && last.staleForSeconds, 99);
    assert.deepEqual(cache.get('a.test', 'A', T0 + 110 * S), { state: 'miss' });
    assert.equal(cache.size, 0);
  });

  test('maxStaleSeconds 0 disables serve-stale', () => {
    const cache = new DnsCache({ maxStaleSeconds: 0 });
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 10)], T0);
    assert.equal(cache.get('a.test', 'A', T0 + 10 * S - 1).state, 'fresh');
    assert.equal(cache.get('a.test', 'A', T0 + 10 * S).state, 'miss');
  });

  test('A and AAAA of one name are separate; names compare case-insensitively', () => {
    const cache = new DnsCache();
    cache.setPositive('Mixed.TEST', 'A', [rec('192.0.2.1', 10)], T0);
    assert.equal(cache.get('mixed.test', 'A', T0).state, 'fresh');
    assert.equal(cache.get('MIXED.test', 'AAAA', T0).state, 'miss');
    cache.setPositive('mixed.test', 'AAAA', [rec('2001:db8::1', 20)], T0);
    assert.equal(cache.size, 1);
    assert.equal(cache.get('mixed.test', 'A', T0 + 10 * S).state, 'stale');
    assert.equal(cache.get('mixed.test', 'AAAA', T0 + 10 * S).state, 'fresh');
  });

  test('returned records are frozen, the lookup too, and shared: copy before changing (README, architecture.md)', () => {
    const cache = new DnsCache();
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 10)], T0);
    const lookup = cache.get('a.test', 'A', T0);
    assert.ok(lookup.state === 'fresh' && Object.isFrozen(lookup.records));
    assert.ok(Object.isFrozen(lookup));
    assert.throws(() => (lookup.records as string[]).push('192.0.2.2'), TypeError);
    assert.equal(cache.get('a.test', 'A', T0), lookup, 'the same object while nothing changed');
    assert.deepEqual([...lookup.records, '192.0.2.2'], ['192.0.2.1', '192.0.2.2']);
  });
});

describe('DnsCache refresh backoff (RFC 8767 §5)', () => {
  test('refreshAllowed is false for staleRefreshBackoffSeconds after a failed refresh', () => {
    const cache = new DnsCache();
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 10)], T0);
    const failedAt = T0 + 15 * S;
    cache.noteRefreshFailed('a.test', 'A', failedAt);
    const during = cache.get('a.test', 'A', failedAt + 30 * S - 1);
    assert.equal(during.state === 'stale' && during.refreshAllowed, false);
    const after = cache.get('a.test', 'A', failedAt + 30 * S);
    assert.equal(after.state === 'stale' && after.refreshAllowed, true);
  });

  test('a successful refresh ends the backoff', () => {
    const cache = new DnsCache();
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 10)], T0);
    cache.noteRefreshFailed('a.test', 'A', T0 + 11 * S);
    cache.setPositive('a.test', 'A', [rec('192.0.2.9', 0)], T0 + 12 * S);
    assert.deepEqual(cache.get('a.test', 'A', T0 + 12 * S), {
      state: 'stale',
      records: ['192.0.2.9'],
      staleForSeconds: 0,
      refreshAllowed: true,
      optimistic: false,
    });
  });

  test('noteRefreshFailed without addresses does nothing', () => {
    const cache = new DnsCache();
    cache.noteRefreshFailed('a.test', 'A', T0);
    assert.equal(cache.size, 0);
    assert.deepEqual(cache.get('a.test', 'A', T0), { state: 'miss' });
  });
});

describe('DnsCache negative answers (RFC 2308)', () => {
  const soaCases: [string, { ttlSeconds: number; minimumSeconds: number }, number][] = [
    ['SOA MINIMUM below SOA TTL', { ttlSeconds: 300, minimumSeconds: 60 }, 60],
    ['SOA TTL below SOA MINIMUM', { ttlSeconds: 60, minimumSeconds: 300 }, 60],
    ['capped by maxNegativeTtlSeconds', { ttlSeconds: 86_400, minimumSeconds: 7200 }, 3600],
  ];
  for (const [scenario, soa, expectedSeconds] of soaCases) {
    test(`negative TTL = min(SOA TTL, SOA MINIMUM): ${scenario}`, () => {
      const cache = new DnsCache();
      cache.setNegative('a.test', 'AAAA', 'NODATA', soa, T0);
      assert.deepEqual(cache.get('a.test', 'AAAA', T0 + expectedSeconds * S - 1), {
        state: 'negative',
        kind: 'NODATA',
        ttlRemainingSeconds: 1,
      });
      assert.deepEqual(cache.get('a.test', 'AAAA', T0 + expectedSeconds * S), { state: 'miss' });
    });
  }

  test('without SOA the negativeTtlSeconds option applies, also capped', () => {
    const plain = new DnsCache();
    plain.setNegative('a.test', 'A', 'NODATA', undefined, T0);
    assert.deepEqual(plain.get('a.test', 'A', T0), {
      state: 'negative',
      kind: 'NODATA',
      ttlRemainingSeconds: 30,
    });
    const capped = new DnsCache({ negativeTtlSeconds: 600, maxNegativeTtlSeconds: 20 });
    capped.setNegative('a.test', 'A', 'NODATA', undefined, T0);
    assert.equal(capped.get('a.test', 'A', T0 + 20 * S).state, 'miss');
  });

  test('a negative TTL of 0 is not cached', () => {
    const cache = new DnsCache();
    cache.setNegative('a.test', 'A', 'NODATA', { ttlSeconds: 0, minimumSeconds: 300 }, T0);
    assert.equal(cache.get('a.test', 'A', T0).state, 'miss');
    assert.equal(cache.size, 0);
  });

  test('NODATA is per type: the other type keeps its addresses', () => {
    for (const [negativeType, otherType, address] of [
      ['A', 'AAAA', '2001:db8::1'],
      ['AAAA', 'A', '192.0.2.1'],
    ] as const) {
      const cache = new DnsCache();
      cache.setPositive('a.test', otherType, [rec(address, 100)], T0);
      cache.setNegative('a.test', negativeType, 'NODATA', { ttlSeconds: 60, minimumSeconds: 60 }, T0);
      assert.equal(cache.get('a.test', negativeType, T0).state, 'negative');
      assert.equal(cache.get('a.test', otherType, T0).state, 'fresh');
    }
  });

  test('NXDOMAIN is per name: it answers both types and replaces the other type too', () => {
    for (const [negativeType, otherType, address] of [
      ['A', 'AAAA', '2001:db8::1'],
      ['AAAA', 'A', '192.0.2.1'],
    ] as const) {
      const cache = new DnsCache();
      cache.setPositive('a.test', otherType, [rec(address, 100)], T0);
      cache.setNegative('a.test', negativeType, 'NXDOMAIN', { ttlSeconds: 60, minimumSeconds: 60 }, T0);
      const expected: CacheLookup = { state: 'negative', kind: 'NXDOMAIN', ttlRemainingSeconds: 60 };
      assert.deepEqual(cache.get('a.test', negativeType, T0), expected);
      assert.deepEqual(cache.get('a.test', otherType, T0), expected);
    }
  });

  test('NXDOMAIN and NODATA are kept apart', () => {
    const cache = new DnsCache();
    cache.setNegative('gone.test', 'A', 'NXDOMAIN', undefined, T0);
    cache.setNegative('empty.test', 'A', 'NODATA', undefined, T0);
    const gone = cache.get('gone.test', 'A', T0);
    const empty = cache.get('empty.test', 'A', T0);
    assert.equal(gone.state === 'negative' && gone.kind, 'NXDOMAIN');
    assert.equal(empty.state === 'negative' && empty.kind, 'NODATA');
    assert.equal(cache.get('empty.test', 'AAAA', T0).state, 'miss');
  });

  test('a later answer that proves the name exists drops the other type’s NXDOMAIN', () => {
    const proofs: [string, (cache: DnsCache) => void][] = [
      ['positive AAAA', (c) => c.setPositive('a.test', 'AAAA', [rec('2001:db8::1', 60)], T0 + S)],
      ['NODATA AAAA', (c) => c.setNegative('a.test', 'AAAA', 'NODATA', undefined, T0 + S)],
    ];
    for (const [scenario, prove] of proofs) {
      const cache = new DnsCache();
      cache.setNegative('a.test', 'A', 'NXDOMAIN', undefined, T0);
      prove(cache);
      assert.deepEqual(cache.get('a.test', 'A', T0 + S), { state: 'miss' }, scenario);
    }
  });

  test('a negative answer replaces stale addresses (an answer is a refresh, RFC 8767 §4)', () => {
    const cache = new DnsCache();
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 10)], T0);
    cache.setNegative('a.test', 'A', 'NODATA', undefined, T0 + 20 * S);
    assert.equal(cache.get('a.test', 'A', T0 + 20 * S).state, 'negative');
    assert.equal(cache.get('a.test', 'A', T0 + 50 * S).state, 'miss');
  });
});

describe('DnsCache failures', () => {
  test('a failure is remembered for errorTtlSeconds, exact to the millisecond', () => {
    const cache = new DnsCache({ errorTtlSeconds: 5 });
    cache.setError('a.test', 'A', 'SERVFAIL', T0);
    assert.deepEqual(cache.get('a.test', 'A', T0), {
      state: 'error',
      code: 'SERVFAIL',
      ttlRemainingSeconds: 5,
    });
    assert.deepEqual(cache.get('a.test', 'A', T0 + 5 * S - 1), {
      state: 'error',
      code: 'SERVFAIL',
      ttlRemainingSeconds: 1,
    });
    assert.deepEqual(cache.get('a.test', 'A', T0 + 5 * S), { state: 'miss' });
    assert.equal(cache.get('a.test', 'AAAA', T0).state, 'miss');
  });

  test('a failure keeps stale addresses, reports them, and starts the refresh backoff', () => {
    const cache = new DnsCache({ errorTtlSeconds: 5 });
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 10)], T0);
    const failedAt = T0 + 20 * S;
    cache.setError('a.test', 'A', 'ETIMEOUT', failedAt);
    assert.deepEqual(cache.get('a.test', 'A', failedAt), {
      state: 'error',
      code: 'ETIMEOUT',
      ttlRemainingSeconds: 5,
      stale: ['192.0.2.1'],
    });
    assert.deepEqual(cache.get('a.test', 'A', failedAt + 5 * S), {
      state: 'stale',
      records: ['192.0.2.1'],
      staleForSeconds: 15,
      refreshAllowed: false,
      optimistic: true,
    });
    const later = cache.get('a.test', 'A', failedAt + 30 * S);
    assert.equal(later.state === 'stale' && later.refreshAllowed, true);
  });

  test('fresh addresses win over a failure; an unexpired negative answer too', () => {
    const cache = new DnsCache();
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 10)], T0);
    cache.setError('a.test', 'A', 'SERVFAIL', T0 + S);
    assert.equal(cache.get('a.test', 'A', T0 + S).state, 'fresh');
    cache.setNegative('b.test', 'A', 'NODATA', undefined, T0);
    cache.setError('b.test', 'A', 'SERVFAIL', T0 + S);
    assert.equal(cache.get('b.test', 'A', T0 + S).state, 'negative');
  });

  /** How long each failure of `failures` consecutive ones (each asked as the last expired) is kept, ms. */
  function keptForMs(cache: DnsCache, name: string, failures: number, startMs: number): number[] {
    const out: number[] = [];
    let t = startMs;
    for (let i = 0; i < failures; i++) {
      cache.setError(name, 'A', 'SERVFAIL', t);
      const left = cache.get(name, 'A', t);
      assert.equal(left.state, 'error');
      let ms = 0;
      while (cache.get(name, 'A', t + ms).state === 'error') ms += 250;
      out.push(ms);
      t += ms;
    }
    return out;
  }

  test('failures in a row double from 1 s up to 30 s (RFC 9520 §3.2), exact to the millisecond', () => {
    const cache = new DnsCache();
    assert.deepEqual(
      keptForMs(cache, 'a.test', 8, T0),
      [1, 2, 4, 8, 16, 30, 30, 30].map((x) => x * S),
    );
    const fresh = new DnsCache();
    fresh.setError('b.test', 'A', 'SERVFAIL', T0);
    fresh.setError('b.test', 'A', 'SERVFAIL', T0 + S);
    assert.equal(fresh.get('b.test', 'A', T0 + 3 * S - 1).state, 'error');
    assert.deepEqual(fresh.get('b.test', 'A', T0 + 3 * S), { state: 'miss' }, 'second in a row: 2 s exactly');
    assert.equal(fresh.get('b.test', 'AAAA', T0).state, 'miss', 'the run is per (name, type)');
  });

  test('an answer, positive or negative, resets the run; so does a quiet spell as long as the cap', () => {
    const cache = new DnsCache();
    keptForMs(cache, 'a.test', 4, T0); // 1+2+4+8 s: the next would be kept 16 s
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 1)], T0 + 15 * S);
    assert.deepEqual(keptForMs(cache, 'a.test', 2, T0 + 20 * S), [1 * S, 2 * S], 'after a positive answer');
    cache.setNegative('a.test', 'A', 'NODATA', { ttlSeconds: 1, minimumSeconds: 1 }, T0 + 30 * S);
    assert.deepEqual(keptForMs(cache, 'a.test', 2, T0 + 40 * S), [1 * S, 2 * S], 'after a negative answer');
    // The last failure (2 s, ending T0 + 43 s) is remembered for 30 s more: a failure within it continues
    // the run, one after it starts again.
    cache.setError('a.test', 'A', 'SERVFAIL', T0 + 73 * S - 1);
    assert.equal(cache.get('a.test', 'A', T0 + 77 * S - 2).state, 'error', 'third in a row: 4 s');
    cache.clear();
    keptForMs(cache, 'b.test', 3, T0); // ends T0 + 7 s
    assert.equal(cache.size, 1, 'a run whose last failure expired is still held');
    assert.deepEqual(cache.toJSON(T0 + 8 * S, 0).entries, [], 'but not saved');
    cache.setError('b.test', 'A', 'SERVFAIL', T0 + 37 * S);
    assert.deepEqual(cache.get('b.test', 'A', T0 + 38 * S), { state: 'miss' }, 'after the quiet: 1 s again');
  });

  test('errorTtlSeconds above the 30 s cap is used as it is, without doubling', () => {
    assert.deepEqual(keptForMs(new DnsCache({ errorTtlSeconds: 60 }), 'a.test', 3, T0), [
      60 * S,
      60 * S,
      60 * S,
    ]);
    assert.deepEqual(keptForMs(new DnsCache({ errorTtlSeconds: 20 }), 'a.test', 3, T0), [
      20 * S,
      30 * S,
      30 * S,
    ]);
  });

  test('errorTtlSeconds 0 does not remember failures', () => {
    const cache = new DnsCache({ errorTtlSeconds: 0 });
    cache.setError('a.test', 'A', 'SERVFAIL', T0);
    assert.equal(cache.get('a.test', 'A', T0).state, 'miss');
    assert.equal(cache.size, 0, 'no entry is kept for a failure that is not remembered');
  });
});

describe('DnsCache LRU and housekeeping', () => {
  test('evicts the least recently used name at maxNames; get counts as use', () => {
    const cache = new DnsCache({ maxNames: 2 });
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 60)], T0);
    cache.setPositive('a.test', 'AAAA', [rec('2001:db8::1', 60)], T0); // same name: one name
    cache.setPositive('b.test', 'A', [rec('192.0.2.2', 60)], T0);
    assert.equal(cache.size, 2);
    cache.get('a.test', 'A', T0 + 1);
    cache.setPositive('c.test', 'A', [rec('192.0.2.3', 60)], T0 + 2);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('b.test', 'A', T0 + 3).state, 'miss');
    assert.equal(cache.get('a.test', 'AAAA', T0 + 3).state, 'fresh');
    assert.equal(cache.get('c.test', 'A', T0 + 3).state, 'fresh');
  });

  test('without a get in between, the first inserted name goes first', () => {
    const cache = new DnsCache({ maxNames: 2 });
    for (const [i, name] of ['a.test', 'b.test', 'c.test'].entries()) {
      cache.setPositive(name, 'A', [rec(`192.0.2.${i + 1}`, 60)], T0);
    }
    assert.deepEqual(
      cache.entries().map((e) => e.name),
      ['b.test', 'c.test'],
    );
  });

  test('entries() shows absolute times; delete() and clear() forget', () => {
    const cache = new DnsCache();
    cache.setPositive('a.test', 'A', [rec('192.0.2.1', 10)], T0);
    cache.noteRefreshFailed('a.test', 'A', T0 + 1);
    cache.setNegative('b.test', 'AAAA', 'NODATA', undefined, T0);
    cache.setError('c.test', 'A', 'REFUSED', T0);
    assert.deepEqual(cache.entries(), [
      {
        name: 'a.test',
        type: 'A',
        records: ['192.0.2.1'],
        freshUntilMs: T0 + 10 * S,
        refreshBackoffUntilMs: T0 + 1 + 30 * S,
      },
      { name: 'b.test', type: 'AAAA', negative: 'NODATA', negativeUntilMs: T0 + 30 * S },
      { name: 'c.test', type: 'A', errorCode: 'REFUSED', errorUntilMs: T0 + 1 * S },
    ]);
    assert.equal(cache.delete('A.test'), true);
    assert.equal(cache.delete('a.test'), false);
    assert.equal(cache.size, 2);
    cache.clear();
    assert.equal(cache.size, 0);
  });
});

describe('DnsCache toJSON / fromJSON', () => {
  const WALL = 1_700_000_000_000;

  function populated(): DnsCache {
    const cache = new DnsCache({ errorTtlSeconds: 5 });
    cache.setPositive('fresh.test', 'A', [rec('192.0.2.1', 100), rec('192.0.2.2', 100)], T0);
    cache.setPositive('fresh.test', 'AAAA', [rec('2001:db8::1', 40)], T0);
    cache.setPositive('stale.test', 'A', [rec('192.0.2.3', 10)], T0);
    cache.noteRefreshFailed('stale.test', 'A', T0 + 20 * S);
    cache.setNegative('gone.test', 'A', 'NXDOMAIN', { ttlSeconds: 900, minimumSeconds: 300 }, T0);
    cache.setError('broken.test', 'AAAA', 'SERVFAIL', T0 + 21 * S);
    cache.setPositive('expired.test', 'A', [rec('192.0.2.4', 0)], T0 - 86_400 * S);
    return cache;
  }

  const questions: [string, 'A' | 'AAAA'][] = [
    ['fresh.test', 'A'],
    ['fresh.test', 'AAAA'],
    ['stale.test', 'A'],
    ['gone.test', 'A'],
    ['gone.test', 'AAAA'],
    ['broken.test', 'AAAA'],
    ['expired.test', 'A'],
    ['nothing.test', 'A'],
  ];

  test('round trip through JSON text into another clock gives the same answers, aged by the wall clock', () => {
    const exportAt = T0 + 22 * S;
    const original = populated();
    const text = JSON.stringify(original.toJSON(exportAt, WALL));
    const otherClockNow = 42; // the importing process's monotonic clock has a different origin
    for (const elapsedMs of [0, 2500, 40_000]) {
      const restored = DnsCache.fromJSON(JSON.parse(text), otherClockNow, WALL + elapsedMs);
      for (const [name, type] of questions) {
        assert.deepEqual(
          restored.get(name, type, otherClockNow),
          populated().get(name, type, exportAt + elapsedMs),
          `${name} ${type} after ${elapsedMs} ms`,
        );
      }
    }
  });

  test('export leaves out what has run out and keeps LRU order', () => {
    const json = populated().toJSON(T0 + 22 * S, WALL);
    assert.equal(json.version, 1);
    assert.equal(json.wallClockMs, WALL);
    assert.deepEqual(
      json.entries.map((e) => `${e.name}/${e.type}`),
      [
        'fresh.test/A',
        'fresh.test/AAAA',
        'stale.test/A',
        'gone.test/A',
        'gone.test/AAAA',
        'broken.test/AAAA',
      ],
    );
    assert.deepEqual(json.entries[2], {
      name: 'stale.test',
      type: 'A',
      records: ['192.0.2.3'],
      freshForMs: -12 * S,
      ttlSeconds: 10,
      refreshBackoffForMs: 28 * S,
    });
  });

  test('a wall clock that stepped back does not extend lifetimes', () => {
    const json = populated().toJSON(T0 + 22 * S, WALL);
    const restored = DnsCache.fromJSON(json, 0, WALL - 3_600_000);
    assert.deepEqual(restored.get('fresh.test', 'A', 0), populated().get('fresh.test', 'A', T0 + 22 * S));
  });

  test('a hand-edited freshForMs never keeps an answer fresh for longer than its own TTL', () => {
    const json = {
      version: 1,
      wallClockMs: WALL,
      entries: [
        { name: 'evil.test', type: 'A', records: ['192.0.2.9'], freshForMs: 1e12, ttlSeconds: 5 },
        { name: 'old.test', type: 'A', records: ['192.0.2.8'], freshForMs: 1e12 }, // no ttlSeconds: older files
      ],
    };
    const restored = DnsCache.fromJSON(json as DnsCacheJson, 0, WALL);
    assert.equal(restored.get('evil.test', 'A', 4_999).state, 'fresh');
    assert.notEqual(restored.get('evil.test', 'A', 5_000).state, 'fresh');
    assert.equal(restored.get('old.test', 'A', 86_399_999).state, 'fresh', 'capped by maxTtlSeconds only');
  });

  test('import re-clamps to the importing options and keeps the most recent names', () => {
    const json = populated().toJSON(T0 + 22 * S, WALL);
    const restored = DnsCache.fromJSON(json, 0, WALL, { maxTtlSeconds: 5, maxNames: 2 });
    assert.deepEqual(
      restored.entries().map((e) => e.name),
      ['gone.test', 'gone.test', 'broken.test'],
    );
    const small = DnsCache.fromJSON(json, 0, WALL, { maxTtlSeconds: 5 });
    assert.deepEqual(small.get('fresh.test', 'A', 0), {
      state: 'fresh',
      records: ['192.0.2.1', '192.0.2.2'],
      ttlRemainingSeconds: 5,
    });
  });

  test('JSON.stringify(cache) without arguments throws and says how to export', () => {
    throwsCode(
      () => JSON.stringify(new DnsCache()),
      'ERR_NETDIAL_INVALID_ARGUMENT',
      'toJSON(nowMs, wallClockMs)',
    );
  });

  const malformed: [string, unknown, string][] = [
    ['not an object', 'x', '`json`'],
    ['wrong version', { version: 2, wallClockMs: WALL, entries: [] }, '`json.version`'],
    ['no wall clock', { version: 1, entries: [] }, '`json.wallClockMs`'],
    ['no entries', { version: 1, wallClockMs: WALL }, '`json.entries`'],
    [
      'bad type',
      { version: 1, wallClockMs: WALL, entries: [{ name: 'a.test', type: 'MX' }] },
      '`json.entries[0].type`',
    ],
    [
      'wrong family',
      {
        version: 1,
        wallClockMs: WALL,
        entries: [{ name: 'a.test', type: 'A', records: ['::1'], freshForMs: 5 }],
      },
      '`json.entries[0].records`',
    ],
    [
      'missing expiry',
      { version: 1, wallClockMs: WALL, entries: [{ name: 'a.test', type: 'A', records: ['192.0.2.1'] }] },
      '`json.entries[0].freshForMs`',
    ],
  ];
  for (const [scenario, json, mentions] of malformed) {
    test(`fromJSON rejects ${scenario}`, () => {
      throwsCode(
        () => DnsCache.fromJSON(json as DnsCacheJson, 0, WALL),
        'ERR_NETDIAL_INVALID_ARGUMENT',
        mentions,
      );
    });
  }
});
