/**
 * The resolution side of a cached dial (issue 16), on a virtual clock: a name in memory is answered while
 * the resolution is being made (no promise hop), in the same order of events as any other answer, and what
 * memory gives is made once per name and second and shared (frozen) instead of rebuilt for every dial —
 * while anything that changes it (a new TTL second, a new answer, another spelling of the name) still shows.
 * Bytes and CPU per dial are measured in the benchmark (bench/micro.ts), not here.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Clock } from '../src/clock.js';
import type { DnsQuery } from '../src/resolution/dns-client.js';
import { DnsQueries } from '../src/resolution/dns-queries.js';
import { DnsCache } from '../src/memory/dns-cache.js';
import { parseTarget } from '../src/target.js';
import { EndpointHistory } from '../src/memory/endpoint-history.js';
import { NameResolver, type ResolutionEvent, SearchListQuery } from '../src/resolution/resolve.js';

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
  const q = new SearchListQuery(queries, clock, name, [name], [6, 4], false, undefined, nowMs, {
    resolutionEvent: (e) => {
      if (e.type !== 'path') events.push(e);
    },
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

  test('dials in the same second are given the same frozen events; another spelling or second gets its own', () => {
    const queries = new DnsQueries(cached(), noSend, clock);
    const first = run(queries, 'hot.test', T0 + 100);
    const second = run(queries, 'hot.test', T0 + 900);
    assert.equal(first.length, 4);
    first.forEach((e, i) => {
      assert.ok(Object.isFrozen(e), `${e.type} ${e.family} frozen`);
      assert.equal(second[i], e, `${e.type} ${e.family}: the same event`);
    });
    const upper = run(queries, 'HOT.test', T0 + 900);
    assert.deepEqual(
      upper.map((e) => e.name),
      ['HOT.test', 'HOT.test', 'HOT.test', 'HOT.test'],
      'the name as this dial asked it',
    );
    const later = run(queries, 'hot.test', T0 + 1100);
    const answer = later.find((e) => e.type === 'answer');
    assert.ok(answer?.type === 'answer' && answer !== first[2]);
    assert.equal(answer.addresses[0]?.ttlSeconds, 59, 'a new second: the TTL left now');
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

describe('the search list of a dial (issue 16)', () => {
  test('made again only for the same name, absoluteness and resolv.conf', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'netdial-hot-res-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const resolvConf = join(dir, 'resolv.conf');
    writeFileSync(resolvConf, 'search example.test\noptions ndots:1\n');
    const cache = new DnsCache();
    const names = ['www.example.test', 'web.example.test', 'www', 'www.other.test'];
    names.forEach((name, i) => {
      cache.setPositive(name, 'A', [{ address: `192.0.2.${i + 1}`, ttlSeconds: 600 }], T0);
    });
    const resolver = new NameResolver(
      { hostsPath: null, resolvConfPath: resolvConf, nameservers: ['127.0.0.1:1'] },
      cache,
      clock,
    );
    const answered = (host: string, absolute: boolean, nowMs: number): string => {
      let name = '';
      const r = resolver.resolve(host, absolute, [4], 'dns', nowMs, {
        resolutionEvent: (e) => {
          if (e.type === 'answer') name = `${e.name} ${e.addresses[0]?.address}`;
        },
      });
      r.cancel(true);
      return name;
    };
    assert.equal(answered('www', false, T0), 'www.example.test 192.0.2.1');
    assert.equal(answered('web', false, T0), 'web.example.test 192.0.2.2');
    assert.equal(answered('www', true, T0), 'www 192.0.2.3');
    assert.equal(answered('www', false, T0), 'www.example.test 192.0.2.1');
    writeFileSync(resolvConf, 'search other.test\noptions ndots:1\n# changed\n');
    assert.equal(answered('www', false, T0 + 2000), 'www.other.test 192.0.2.4');
  });
});

describe('names answered without DNS (issue 16)', () => {
  /** Every answer and error of one resolution of `host`, for both families. */
  function events(resolver: NameResolver, host: string, nowMs: number) {
    const out: Array<Exclude<ResolutionEvent, { type: 'path' | 'query' }>> = [];
    resolver
      .resolve(host, false, [6, 4], 'dns', nowMs, {
        resolutionEvent: (e) => {
          if (e.type === 'answer' || e.type === 'error') out.push(e);
        },
      })
      .cancel(true);
    return out;
  }
  const summary = (list: ReturnType<typeof events>) =>
    list.map((e) =>
      e.type === 'answer'
        ? `${e.family} ${e.source} ${e.name} ${e.addresses.map((a) => a.address).join(',')}`
        : `${e.family} ${e.source} ${e.code} ${e.message}`,
    );

  test('the hosts file: one frozen answer while the file is unchanged; a change shows at once', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'netdial-hot-hosts-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const hostsPath = join(dir, 'hosts');
    writeFileSync(hostsPath, '192.0.2.5 hot.example\n');
    const resolver = new NameResolver({ hostsPath, nameservers: ['127.0.0.1:1'] }, undefined, clock);
    const first = events(resolver, 'hot.example', T0);
    assert.deepEqual(summary(first), [
      '6 hosts ENODATA hot.example has no IPv6 address',
      '4 hosts hot.example 192.0.2.5',
    ]);
    const answer = first[1];
    assert.ok(answer?.type === 'answer' && Object.isFrozen(answer.addresses));
    assert.deepEqual(answer.addresses, [
      { address: '192.0.2.5', family: 4, ttlSeconds: undefined, source: 'hosts' },
    ]);
    const again = events(resolver, 'hot.example', T0 + 10)[1];
    assert.equal(again?.type === 'answer' && again.addresses, answer.addresses);
    // Another spelling of the name is answered in its own words.
    assert.deepEqual(summary(events(resolver, 'HOT.example', T0 + 20)), [
      '6 hosts ENODATA HOT.example has no IPv6 address',
      '4 hosts HOT.example 192.0.2.5',
    ]);
    writeFileSync(hostsPath, '192.0.2.6 hot.example\n2001:db8::6 hot.example\n');
    assert.deepEqual(summary(events(resolver, 'hot.example', T0 + 2000)), [
      '6 hosts hot.example 2001:db8::6',
      '4 hosts hot.example 192.0.2.6',
    ]);
  });

  test('an IP literal: its answer made once; another literal gets its own', () => {
    const resolver = new NameResolver({ hostsPath: null }, undefined, clock);
    const first = events(resolver, '192.0.2.8', T0);
    assert.deepEqual(summary(first), [
      '6 literal ENODATA 192.0.2.8 is an IPv4 address',
      '4 literal 192.0.2.8 192.0.2.8',
    ]);
    const answer = first[1];
    assert.ok(answer?.type === 'answer' && Object.isFrozen(answer.addresses));
    assert.deepEqual(answer.addresses, [{ address: '192.0.2.8', family: 4, source: 'literal' }]);
    const again = events(resolver, '192.0.2.8', T0)[1];
    assert.equal(again?.type === 'answer' && again.addresses, answer.addresses);
    assert.deepEqual(summary(events(resolver, '2001:db8::8', T0)), [
      '6 literal 2001:db8::8 2001:db8::8',
      '4 literal ENODATA 2001:db8::8 is an IPv6 address',
    ]);
  });
});

describe('the memory calls of a dial (issue 16)', () => {
  test('attemptDelayFor: one frozen answer per delay from the endpoint’s own RTT; a new delay shows at once', () => {
    const history = new EndpointHistory();
    history.recordSuccess('192.0.2.1', 443, 40, T0);
    history.recordSuccess('192.0.2.2', 443, 40, T0);
    const first = history.attemptDelayFor('192.0.2.1', 443, T0);
    assert.deepEqual(first, { delayMs: 160, basis: 'endpoint' });
    assert.ok(Object.isFrozen(first));
    assert.equal(history.attemptDelayFor('192.0.2.2', 443, T0 + 1), first, 'same delay: the same answer');
    history.recordSuccess('192.0.2.1', 443, 100, T0 + 2);
    // RFC 6298 §2.3: RTTVAR = 3/4·20 + 1/4·60 = 30, SRTT = 7/8·40 + 1/8·100 = 47.5; 2·SRTT + 4·RTTVAR = 215.
    assert.deepEqual(history.attemptDelayFor('192.0.2.1', 443, T0 + 3), { delayMs: 215, basis: 'endpoint' });
    assert.deepEqual(history.attemptDelayFor('192.0.2.2', 443, T0 + 4), { delayMs: 160, basis: 'endpoint' });
  });

  test('attemptDelayFor: the name’s other addresses may be given as candidates, as strings', () => {
    const history = new EndpointHistory();
    history.recordSuccess('2001:db8::7', 443, 40, T0);
    const asText = history.attemptDelayFor('198.51.100.1', 443, T0, ['198.51.100.1', '2001:db8::7']);
    const asCandidates = history.attemptDelayFor('198.51.100.1', 443, T0, [
      { address: '198.51.100.1' },
      { address: '2001:db8::7' },
    ]);
    assert.deepEqual(asText, { delayMs: 160, basis: 'name' });
    assert.deepEqual(asCandidates, asText);
    assert.throws(
      () => history.attemptDelayFor('198.51.100.1', 443, T0, [{ address: 'nonsense' }]),
      /address/,
    );
  });

  test('per-name notes still check their addresses, after an endpoint call too', () => {
    const history = new EndpointHistory();
    assert.equal(history.isDemoted('192.0.2.1', 443, T0), false);
    history.noteConnected('a.test', '192.0.2.1');
    assert.throws(() => history.noteConnected('a.test', 'nonsense'), /`address` must be an IP address/);
    assert.throws(
      () => history.noteUnanswered('a.test', '192.0.2.1', '192.0.2.300', T0),
      /`address` must be an IP address/,
    );
    assert.throws(() => history.noteUnanswered('a.test', 'x', '192.0.2.1', T0), /`address`/);
    // The endpoint checked before is still checked and keyed as before.
    history.recordFailure('192.0.2.1', 443, 'ECONNREFUSED', T0);
    assert.equal(history.isDemoted('192.0.2.1', 443, T0), true);
    assert.equal(history.isDemoted('192.0.2.1', 444, T0), false);
  });
});

describe('a target text dialled again (issue 16)', () => {
  test('gives what a parse gives, as a caller’s own object; the default port still counts', () => {
    for (const text of ['hot.example:8443', 'https://hot.example/', 'tcp!hot.example!http', 'hot.example']) {
      const first = parseTarget(text, 81);
      const second = parseTarget(text, 81);
      assert.deepEqual(second, first, text);
      assert.notEqual(second, first, `${text}: a new object`);
      assert.ok(!Object.isFrozen(second), `${text}: the caller's to change`);
      second.port = 1;
      assert.deepEqual(parseTarget(text, 81), first, `${text}: a change to one result leaves the next alone`);
    }
    assert.equal(parseTarget('hot.example', 81).port, 81);
    assert.equal(parseTarget('hot.example', 82).port, 82);
    assert.throws(() => parseTarget('hot.example'), /port/);
    assert.equal(parseTarget('hot.example', 83).port, 83);
  });
});
