/**
 * The service record adapter (src/resolution/service-lookup.ts) against the lab's DNS server on
 * loopback: answers cached by the A/AAAA rules (TTL, RFC 2308 negative TTL from the SOA, server failures
 * for errorTtlSeconds, LRU bound), and RFC 9460 AliasMode chains (followed, bounded at 8 hops, loops detected, an
 * alias to "." is "unavailable", an alias target without records is the endpoint).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LabDnsServer } from '../lab/dns-server.js';
import type { Zone } from '../lab/zone.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { queryServiceRecords } from '../src/resolution/dns-client.js';
import {
  askCached,
  lookupHttps,
  type ServiceQuerySender,
  ServiceRecordCache,
} from '../src/resolution/service-lookup.js';

const chain: Record<string, Zone[string]> = {};
for (let i = 0; i < 10; i++) {
  chain[`c${i}.lk.test`] = { HTTPS: [{ priority: 0, targetName: `c${i + 1}.lk.test`, params: {} }] };
}

const zone: Zone = {
  '_a._tcp.lk.test': { ttl: 1, SRV: [{ priority: 1, weight: 1, port: 80, target: 'x.lk.test' }] },
  'broken.lk.test': { fail: { SRV: 'SERVFAIL' } },
  'start.lk.test': { HTTPS: [{ priority: 0, targetName: 'mid.lk.test', params: {} }] },
  'mid.lk.test': { HTTPS: [{ priority: 0, targetName: 'end.lk.test', params: {} }] },
  'end.lk.test': { HTTPS: [{ priority: 1, targetName: '.', params: { port: 8443 } }] },
  'loop-a.lk.test': { HTTPS: [{ priority: 0, targetName: 'loop-b.lk.test', params: {} }] },
  'loop-b.lk.test': { HTTPS: [{ priority: 0, targetName: 'loop-a.lk.test', params: {} }] },
  'gone.lk.test': { HTTPS: [{ priority: 0, targetName: '.', params: {} }] },
  'to-plain.lk.test': { HTTPS: [{ priority: 0, targetName: 'plain.lk.test', params: {} }] },
  'plain.lk.test': { A: ['192.0.2.1'] },
  ...chain,
};

let dns: LabDnsServer;
let send: ServiceQuerySender;
let clockMs = 0;
const now = () => clockMs;

before(async () => {
  dns = await startLoopbackDns(zone, 'lk.test');
  const servers = [`127.0.0.1:${dns.port}`];
  send = (name, type) => queryServiceRecords(name, type as 'SRV', { servers, attempts: 1, timeoutMs: 2000 });
});
after(() => dns.close());

describe('cache by the A/AAAA rules', () => {
  test('a positive answer for its TTL, then asked again', async () => {
    const cache = new ServiceRecordCache();
    clockMs = 0;
    dns.resetLog();
    const first = await askCached(send, cache, '_a._tcp.lk.test', 'SRV', now).promise;
    assert.equal(first.ok && first.cached, false);
    clockMs = 999;
    const second = await askCached(send, cache, '_a._tcp.lk.test', 'SRV', now).promise;
    assert.equal(second.cached, true);
    assert.equal(dns.queryCount('_a._tcp.lk.test', 'SRV'), 1);
    clockMs = 1000;
    await askCached(send, cache, '_a._tcp.lk.test', 'SRV', now).promise;
    assert.equal(dns.queryCount('_a._tcp.lk.test', 'SRV'), 2, 'expired after exactly its TTL');
  });
  test('NXDOMAIN kept for the SOA minimum (RFC 2308 §5); SERVFAIL kept errorTtlSeconds, doubled in a row (RFC 9520 §3.2)', async () => {
    const cache = new ServiceRecordCache();
    clockMs = 0;
    dns.resetLog();
    const missing = await askCached(send, cache, '_x._tcp.nowhere.lk.test', 'SRV', now).promise;
    assert.equal(missing.ok, false);
    clockMs = 4999; // startLoopbackDns: SOA minimum 5 s
    assert.equal((await askCached(send, cache, '_x._tcp.nowhere.lk.test', 'SRV', now).promise).cached, true);
    clockMs = 5000;
    assert.equal((await askCached(send, cache, '_x._tcp.nowhere.lk.test', 'SRV', now).promise).cached, false);
    clockMs = 10_000;
    const failed = await askCached(send, cache, 'broken.lk.test', 'SRV', now).promise;
    assert.deepEqual([failed.ok, failed.ok || failed.code, failed.cached], [false, 'ESERVFAIL', false]);
    clockMs = 10_999; // ServiceRecordCache's default errorTtlSeconds: 1 s, as the DNS cache's
    const again = await askCached(send, cache, 'broken.lk.test', 'SRV', now).promise;
    assert.deepEqual([again.ok, again.ok || again.code, again.cached], [false, 'ESERVFAIL', true]);
    assert.equal(dns.queryCount('broken.lk.test', 'SRV'), 1);
    clockMs = 11_000;
    assert.equal((await askCached(send, cache, 'broken.lk.test', 'SRV', now).promise).cached, false);
    assert.equal(dns.queryCount('broken.lk.test', 'SRV'), 2, 'asked again after exactly errorTtlSeconds');
    // The second failure in a row is kept twice as long (2 s), the third 4 s.
    clockMs = 12_999;
    assert.equal((await askCached(send, cache, 'broken.lk.test', 'SRV', now).promise).cached, true);
    clockMs = 13_000;
    assert.equal((await askCached(send, cache, 'broken.lk.test', 'SRV', now).promise).cached, false);
    clockMs = 16_999;
    assert.equal((await askCached(send, cache, 'broken.lk.test', 'SRV', now).promise).cached, true);
    assert.equal(dns.queryCount('broken.lk.test', 'SRV'), 3, 'backed off: 1 s, 2 s, 4 s');
    const none = new ServiceRecordCache(undefined, 0);
    await askCached(send, none, 'broken.lk.test', 'SRV', now).promise;
    assert.equal((await askCached(send, none, 'broken.lk.test', 'SRV', now).promise).cached, false);
    assert.equal(dns.queryCount('broken.lk.test', 'SRV'), 5, 'errorTtlSeconds 0 keeps no failure');
  });
  test('failures in a row back off up to 30 s; an answer resets the run (RFC 9520 §3.2)', () => {
    const cache = new ServiceRecordCache();
    const fail = { ok: false as const, cached: false, code: 'ESERVFAIL', message: 'm', server: undefined };
    const kept = (atMs: number): boolean => cache.get('s.test', 'HTTPS', atMs) !== undefined;
    let t = 0;
    const keptFor: number[] = [];
    for (let i = 0; i < 7; i++) {
      cache.set('s.test', 'HTTPS', fail as never, undefined, t);
      let ms = 0;
      while (kept(t + ms)) ms += 500;
      keptFor.push(ms);
      t += ms;
    }
    assert.deepEqual(keptFor, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    const answer = {
      ok: true as const,
      cached: false,
      answer: { records: [], ttlSeconds: 1, malformed: [], owner: 's.test' },
    };
    cache.set('s.test', 'HTTPS', answer as never, undefined, t);
    t += 1000;
    cache.set('s.test', 'HTTPS', fail as never, undefined, t);
    assert.equal(kept(t + 999), true);
    assert.equal(kept(t + 1000), false, 'an answer resets the run: 1 s again');
    const big = new ServiceRecordCache(undefined, 60);
    big.set('s.test', 'HTTPS', fail as never, undefined, 0);
    big.set('s.test', 'HTTPS', fail as never, undefined, 60_000);
    assert.equal(big.get('s.test', 'HTTPS', 119_999) !== undefined, true);
    assert.equal(
      big.get('s.test', 'HTTPS', 120_000),
      undefined,
      'errorTtlSeconds above the cap: no doubling',
    );
  });
  test('bounded: the least recently used entry goes first', () => {
    const cache = new ServiceRecordCache(2);
    const answer = (n: string) => ({
      ok: true as const,
      cached: false,
      answer: { records: [], ttlSeconds: 60, malformed: [], owner: n },
    });
    cache.set('a', 'SRV', answer('a'), undefined, 0);
    cache.set('b', 'SRV', answer('b'), undefined, 0);
    cache.get('a', 'SRV', 1);
    cache.set('c', 'SRV', answer('c'), undefined, 2);
    assert.notEqual(cache.get('a', 'SRV', 3), undefined);
    assert.equal(cache.get('b', 'SRV', 3), undefined);
    assert.notEqual(cache.get('c', 'SRV', 3), undefined);
  });
});

describe('AliasMode (RFC 9460 §2.4.2)', () => {
  test('a chain is followed to its ServiceMode records', async () => {
    const r = await lookupHttps(send, undefined, 'start.lk.test', 'HTTPS', now).promise;
    assert.equal(r.kind, 'service');
    if (r.kind !== 'service') return;
    assert.deepEqual(r.aliasChain, ['mid.lk.test', 'end.lk.test']);
    assert.equal(r.owner, 'end.lk.test');
    assert.equal(r.records[0]?.params.port, 8443);
  });
  test('a loop is detected; a chain over 8 hops is cut; both fall back to the origin', async () => {
    const loop = await lookupHttps(send, undefined, 'loop-a.lk.test', 'HTTPS', now).promise;
    assert.equal(loop.kind, 'none');
    if (loop.kind === 'none') {
      assert.equal(loop.code, 'EBADRESP');
      assert.match(loop.message, /loop at loop-a\.lk\.test/);
      assert.equal(loop.owner, 'loop-a.lk.test');
    }
    dns.resetLog();
    const long = await lookupHttps(send, undefined, 'c0.lk.test', 'HTTPS', now).promise;
    assert.equal(long.kind, 'none');
    if (long.kind === 'none') {
      assert.match(long.message, /longer than 8/);
      assert.equal(long.owner, 'c0.lk.test');
    }
    assert.equal(dns.queries.length, 8, 'at most 8 queries');
  });
  test('an alias to "." is "unavailable"; an alias target without HTTPS records is the endpoint', async () => {
    assert.deepEqual(await lookupHttps(send, undefined, 'gone.lk.test', 'HTTPS', now).promise, {
      kind: 'unavailable',
      aliasChain: [],
      cached: false,
    });
    const plain = await lookupHttps(send, undefined, 'to-plain.lk.test', 'HTTPS', now).promise;
    assert.equal(plain.kind, 'none');
    if (plain.kind === 'none') {
      assert.equal(plain.code, 'ENODATA');
      assert.equal(plain.owner, 'plain.lk.test');
    }
  });
  test('a lookup answered from the cache says so, whatever it ended with (none, unavailable, service)', async () => {
    const cache = new ServiceRecordCache();
    for (const name of ['plain.lk.test', 'to-plain.lk.test', 'gone.lk.test', 'start.lk.test']) {
      const first = await lookupHttps(send, cache, name, 'HTTPS', now).promise;
      assert.equal(first.cached, false, name);
      dns.resetLog();
      const second = await lookupHttps(send, cache, name, 'HTTPS', now).promise;
      assert.equal(second.kind, first.kind, name);
      assert.equal(second.cached, true, name);
      assert.equal(dns.queries.length, 0, `${name}: no query the second time`);
    }
  });
});
