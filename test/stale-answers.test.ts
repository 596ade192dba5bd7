/**
 * When an expired answer is used, on a virtual clock (issue 12): the DNS cache and the search-list query
 * with a scripted DNS sender — optimistic use for recently expired answers with a positive TTL, otherwise
 * RFC 8767 serve-stale only when the refresh fails or misses the 1.8 s client response timer; a negative
 * answer is an answer; a refresh is never cancelled and always stored.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DnsAnswer, DnsQuery } from '../src/resolution/dns-client.js';
import { DnsQueries } from '../src/resolution/dns-queries.js';
import { DnsCache } from '../src/memory/dns-cache.js';
import {
  type ResolutionEvent,
  SearchListQuery,
  STALE_CLIENT_RESPONSE_MS,
} from '../src/resolution/resolve.js';
import { VirtualClock } from './support/virtual-clock.js';

/** A DNS sender whose queries the test answers by hand. */
class ScriptedDns {
  readonly sent: Array<{
    name: string;
    type: 'A' | 'AAAA';
    resolve: (a: DnsAnswer) => void;
    reject: (e: Error) => void;
    cancelled: boolean;
  }> = [];
  send = (name: string, type: 'A' | 'AAAA'): DnsQuery => {
    let resolve!: (a: DnsAnswer) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<DnsAnswer>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry = { name, type, resolve, reject, cancelled: false };
    this.sent.push(entry);
    return {
      promise,
      cancel: () => {
        entry.cancelled = true;
        reject(Object.assign(new Error('cancelled'), { code: 'ECANCELLED' }));
      },
    };
  };
  last(type: 'A' | 'AAAA') {
    const q = this.sent.findLast((x) => x.type === type);
    assert.ok(q, `a ${type} query was sent`);
    return q;
  }
}

const NAME = 'svc.test';
const flush = () => new Promise((r) => setImmediate(r));

function setup(ttlSeconds: number, expiredForMs: number) {
  const clock = new VirtualClock();
  const cache = new DnsCache();
  const stored = clock.t - ttlSeconds * 1000 - expiredForMs;
  cache.setPositive(NAME, 'A', [{ address: '192.0.2.1', ttlSeconds }], stored);
  cache.setNegative(NAME, 'AAAA', 'NODATA', { ttlSeconds: 3600, minimumSeconds: 3600 }, clock.t);
  const dns = new ScriptedDns();
  const queries = new DnsQueries(cache, dns.send, clock);
  const events: string[] = [];
  const emit = (e: ResolutionEvent) => {
    if (e.type === 'path' || e.family !== 4) return;
    if (e.type === 'query') events.push(`query ${e.source}`);
    else if (e.type === 'answer') {
      const flags = [e.staleUse, e.refreshing && 'refreshing', e.refresh && 'refresh'].filter(Boolean);
      events.push(
        `answer ${e.source} ${e.addresses.map((a) => a.address).join(',')} ${flags.join(' ')}`.trim(),
      );
    } else if (e.type === 'error') events.push(`error ${e.code}${e.refresh ? ' refresh' : ''}`);
    else events.push(`moved-on ${e.code}`);
  };
  const query = new SearchListQuery(queries, clock, NAME, [NAME], [6, 4], false, undefined, clock.t, {
    resolutionEvent: emit,
  });
  return { clock, cache, dns, events, query };
}

describe('expired answers: optimistic use or serve-stale (issue 12)', () => {
  test('positive TTL, recently expired: raced at once, the refresh follows as an update and is stored', async () => {
    const { dns, events, cache, clock, query } = setup(10, 5000);
    assert.deepEqual(events, ['query stale', 'answer stale 192.0.2.1 optimistic refreshing', 'query dns']);
    // The dial is over (it won on the stale address): the refresh is not cancelled …
    query.cancel(false);
    assert.equal(dns.last('A').cancelled, false);
    dns.last('A').resolve({ addresses: [{ address: '192.0.2.9', ttlSeconds: 10 }] });
    await flush();
    // … and what it brought is what the next dial gets.
    const hit = cache.get(NAME, 'A', clock.t);
    assert.deepEqual(hit.state === 'fresh' && hit.records, ['192.0.2.9']);
  });

  test('while the dial runs, the refresh arrives as a refresh answer', async () => {
    const { dns, events } = setup(10, 5000);
    dns.last('A').resolve({ addresses: [{ address: '192.0.2.9', ttlSeconds: 10 }] });
    await flush();
    assert.equal(events.at(-1), 'answer dns 192.0.2.9 refresh');
  });

  test('stale for longer than maxOptimisticStaleSeconds: the refresh is waited for', async () => {
    const { dns, events } = setup(10, 61_000);
    assert.deepEqual(events, ['query dns']);
    dns.last('A').resolve({ addresses: [{ address: '192.0.2.9', ttlSeconds: 10 }] });
    await flush();
    assert.deepEqual(events, ['query dns', 'answer dns 192.0.2.9']);
  });

  test('TTL 0: never raced before its refresh; the fresh answer is used', async () => {
    const { dns, events } = setup(0, 10);
    assert.deepEqual(events, ['query dns']);
    dns.last('A').resolve({ addresses: [{ address: '192.0.2.9', ttlSeconds: 0 }] });
    await flush();
    assert.deepEqual(events, ['query dns', 'answer dns 192.0.2.9']);
  });

  test('TTL 0, refresh fails (temporary): serve-stale, reported as refresh-failed', async () => {
    const { dns, events } = setup(0, 10);
    dns.last('A').reject(Object.assign(new Error('SERVFAIL'), { code: 'ESERVFAIL' }));
    await flush();
    assert.deepEqual(events, ['query dns', 'answer stale 192.0.2.1 refresh-failed']);
  });

  test('TTL 0, refresh says the name has no A any more: no stale answer (a negative answer is an answer)', async () => {
    const { dns, events } = setup(0, 10);
    dns.last('A').reject(Object.assign(new Error('NODATA'), { code: 'ENODATA' }));
    await flush();
    // The candidate's query ends ('moved-on': the search is over), then the family's error.
    assert.deepEqual(events, ['query dns', 'moved-on ENODATA', 'error ENODATA']);
  });

  test('TTL 0, refresh late: stale after exactly the 1.8 s client response timer, then the refresh joins', async () => {
    const { dns, events, clock, query } = setup(0, 10);
    clock.advance(STALE_CLIENT_RESPONSE_MS - 1);
    assert.deepEqual(events, ['query dns']);
    clock.advance(1);
    assert.deepEqual(events, [
      'query dns',
      'query stale',
      'answer stale 192.0.2.1 refresh-timeout refreshing',
    ]);
    dns.last('A').resolve({ addresses: [{ address: '192.0.2.9', ttlSeconds: 0 }] });
    await flush();
    assert.equal(events.at(-1), 'answer dns 192.0.2.9 refresh');
    query.cancel(false);
    assert.equal(clock.timers.size, 0, 'no timer left');
  });

  test('cancelled before the client response timer: the timer goes with it', () => {
    const { clock, query, events } = setup(0, 10);
    query.cancel(false);
    assert.equal(clock.timers.size, 0);
    clock.advance(5000);
    assert.deepEqual(events, ['query dns']);
  });
});
