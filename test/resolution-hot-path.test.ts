/**
 * The resolution side of a cached dial (issue 16), on a virtual clock: a name in memory is answered while
 * the resolution is being made (no promise hop), in the same order of events as any other answer, and what
 * memory gives is made once per name and second and shared (frozen) instead of rebuilt for every dial —
 * while anything that changes it (a new TTL second, a new answer, another spelling of the name) still shows.
 * Bytes and CPU per dial are measured in the benchmark (bench/micro.ts), not here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Clock } from '../src/clock.js';
import type { DnsQuery } from '../src/resolution/dns-client.js';
import { DnsQueries } from '../src/resolution/dns-queries.js';
import { DnsCache } from '../src/memory/dns-cache.js';
import { type ResolutionEvent, SearchListQuery } from '../src/resolution/resolve.js';

const T0 = 1_000_000;

/** A clock that never fires: a cached answer needs no timer. */
const clock: Clock = {
  now: () => T0,
  setTimeout: () => assert.fail('no timer on the cached path'),
  clearTimeout: () => {},
};

/** Sends nothing: a cached answer needs no query. */
const noSend = (name: string, type: string): DnsQuery => assert.fail(`${type} ${name} was sent`);

function cached(): DnsCache {
  const cache = new DnsCache();
  cache.setPositive('hot.test', 'A', [{ address: '192.0.2.1', ttlSeconds: 60 }], T0);
  cache.setNegative('hot.test', 'AAAA', 'NODATA', { ttlSeconds: 60, minimumSeconds: 60 }, T0);
  return cache;
}

function run(queries: DnsQueries, name: string, nowMs: number) {
  const events: Array<Exclude<ResolutionEvent, { type: 'path' }>> = [];
  const q = new SearchListQuery(queries, clock, name, [name], [6, 4], false, undefined, nowMs, (e) => {
    if (e.type !== 'path') events.push(e);
  });
  q.cancel(true);
  return events;
}

describe('a cached name (issue 16)', () => {
  test('answered before the resolution is returned, in the usual order of events', () => {
    const queries = new DnsQueries(cached(), noSend, clock);
    const events = run(queries, 'hot.test', T0 + 1000);
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.family} ${e.source}`),
      // NODATA for AAAA waits for A (the name exists only if A answers), then is AAAA's answer.
      ['query 6 dns', 'query 4 dns', 'answer 4 cache', 'error 6 cache'],
    );
    const answer = events[2];
    assert.equal(answer?.type, 'answer');
    assert.deepEqual(answer.type === 'answer' && answer.addresses, [
      { address: '192.0.2.1', family: 4, ttlSeconds: 59, source: 'cache' },
    ]);
    const error = events[3];
    assert.equal(error?.type === 'error' && error.message, 'AAAA hot.test: NODATA (cached)');
    assert.equal(queries.inFlight, 0);
  });

  test('DnsCache.get gives one frozen lookup per name, type and whole second left', () => {
    const cache = cached();
    const a = cache.get('hot.test', 'A', T0 + 100);
    assert.ok(Object.isFrozen(a));
    assert.equal(cache.get('hot.test', 'A', T0 + 900), a, 'same second left: the same lookup');
    assert.equal(cache.get('HOT.test', 'A', T0 + 900), a, 'names are caseless (RFC 4343)');
    const later = cache.get('hot.test', 'A', T0 + 1100);
    assert.notEqual(later, a);
    assert.deepEqual(later, { state: 'fresh', records: ['192.0.2.1'], ttlRemainingSeconds: 59 });
    const negative = cache.get('hot.test', 'AAAA', T0 + 100);
    assert.equal(cache.get('hot.test', 'AAAA', T0 + 200), negative);
    // A new answer is a new lookup at once, even within the same second and with the same time left.
    cache.setPositive('hot.test', 'A', [{ address: '192.0.2.2', ttlSeconds: 59 }], T0 + 1000);
    assert.deepEqual(cache.get('hot.test', 'A', T0 + 1100), {
      state: 'fresh',
      records: ['192.0.2.2'],
      ttlRemainingSeconds: 59,
    });
    cache.setNegative('hot.test', 'A', 'NXDOMAIN', undefined, T0 + 1000);
    assert.deepEqual(cache.get('hot.test', 'A', T0 + 1100), {
      state: 'negative',
      kind: 'NXDOMAIN',
      ttlRemainingSeconds: 30,
    });
  });

  test('dials in the same second share one frozen answer; a new second or answer makes a new one', () => {
    const cache = cached();
    const queries = new DnsQueries(cache, noSend, clock);
    const answerOf = (events: ReturnType<typeof run>) => {
      const e = events.find((x) => x.type === 'answer');
      assert.ok(e?.type === 'answer');
      return e.addresses;
    };
    const first = answerOf(run(queries, 'hot.test', T0 + 100));
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first[0]));
    assert.equal(answerOf(run(queries, 'hot.test', T0 + 900)), first);
    const next = answerOf(run(queries, 'hot.test', T0 + 1100));
    assert.notEqual(next, first);
    assert.equal(next[0]?.ttlSeconds, 59);
    cache.setPositive('hot.test', 'A', [{ address: '192.0.2.2', ttlSeconds: 60 }], T0 + 1100);
    assert.deepEqual(
      answerOf(run(queries, 'hot.test', T0 + 1200)).map((a) => a.address),
      ['192.0.2.2'],
    );
  });

  test('a shared ticket keeps the spelling of the name asked in its message', () => {
    const queries = new DnsQueries(cached(), noSend, clock);
    const lower = queries.query('hot.test', 6, T0 + 100);
    assert.equal(queries.query('hot.test', 6, T0 + 200), lower);
    const upper = queries.query('HOT.test', 6, T0 + 300);
    assert.equal(upper.ready?.ok === false && upper.ready.message, 'AAAA HOT.test: NODATA (cached)');
    assert.equal(lower.ready?.ok === false && lower.ready.message, 'AAAA hot.test: NODATA (cached)');
  });
});
