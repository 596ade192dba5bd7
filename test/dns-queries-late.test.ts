/**
 * The late-answer window of queries no dial waits for any more, on a virtual clock with a scripted DNS
 * sender: a query released keep-for-cache keeps listening LATE_ANSWER_MS from its last release (a dial that
 * joins it in the window starts the window again), and one still unanswered then is cancelled and remembered
 * as ETIMEOUT; released without keep it is cancelled at once and nothing is remembered. A/AAAA (DnsQueries)
 * and HTTPS/SRV/SVCB (sharedServiceSender) alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DnsCache } from '../src/memory/dns-cache.js';
import type { DnsAnswer, DnsQuery } from '../src/resolution/dns-client.js';
import { DnsQueries, LATE_ANSWER_MS } from '../src/resolution/dns-queries.js';
import { ServiceRecordCache, sharedServiceSender } from '../src/resolution/service-lookup.js';
import { VirtualClock } from './support/virtual-clock.js';

/** Queries that never answer by themselves: the test sees which were sent and cancelled. */
function silentSender() {
  const sent: Array<{ name: string; type: string; cancelled: boolean }> = [];
  const send = <T>(name: string, type: string): { promise: Promise<T>; cancel(): void } => {
    const entry = { name, type, cancelled: false };
    sent.push(entry);
    let reject!: (e: Error) => void;
    const promise = new Promise<T>((_, rej) => {
      reject = rej;
    });
    promise.catch(() => {});
    return {
      promise,
      cancel: () => {
        entry.cancelled = true;
        reject(Object.assign(new Error('cancelled'), { code: 'ECANCELLED' }));
      },
    };
  };
  return { sent, send };
}

const flush = () => new Promise((r) => setImmediate(r));

test('A/AAAA: the late window runs from the last release; unanswered then it is ETIMEOUT in the cache', async () => {
  const clock = new VirtualClock(5_000_000);
  const cache = new DnsCache();
  const dns = silentSender();
  const queries = new DnsQueries(cache, (name, type) => dns.send<DnsAnswer>(name, type) as DnsQuery, clock);
  queries.query('a.test', 6, clock.t).release(true);
  clock.advance(LATE_ANSWER_MS - 100);
  // A second dial joins the query in its window, and is done with it 300 ms later.
  const joined = queries.query('a.test', 6, clock.t);
  assert.equal(dns.sent.length, 1, 'joined, not sent again');
  assert.equal(joined.sentAtMs, clock.t - (LATE_ANSWER_MS - 100), 'the ticket says when it was sent');
  clock.advance(300);
  joined.release(true);
  clock.advance(LATE_ANSWER_MS - 1);
  assert.equal(dns.sent[0]!.cancelled, false, 'still listening: the window restarted at the last release');
  assert.equal(cache.get('a.test', 'AAAA', clock.t).state, 'miss');
  clock.advance(1);
  await flush();
  assert.equal(dns.sent[0]!.cancelled, true);
  const hit = cache.get('a.test', 'AAAA', clock.t);
  assert.deepEqual([hit.state, hit.state === 'error' && hit.code], ['error', 'ETIMEOUT']);
  assert.equal(queries.inFlight, 0);
});

test('A/AAAA: released without keep (an abort), the query is cancelled at once and nothing is remembered', async () => {
  const clock = new VirtualClock(5_000_000);
  const cache = new DnsCache();
  const dns = silentSender();
  const queries = new DnsQueries(cache, (name, type) => dns.send<DnsAnswer>(name, type) as DnsQuery, clock);
  queries.query('b.test', 4, clock.t).release(false);
  await flush();
  assert.equal(dns.sent[0]!.cancelled, true);
  assert.equal(clock.timers.size, 0, 'no timer left');
  assert.equal(cache.get('b.test', 'A', clock.t).state, 'miss');
});

test('HTTPS/SRV/SVCB: one query per name and type for every caller; the late window from the last release, then ETIMEOUT', async () => {
  const clock = new VirtualClock(5_000_000);
  const records = new ServiceRecordCache();
  const dns = silentSender();
  const send = sharedServiceSender(
    (name, type) => dns.send(name, type),
    () => records,
    clock,
  );
  const first = send('_x._tcp.s.test', 'SRV');
  const second = send('_x._tcp.s.test', 'SRV');
  assert.equal(dns.sent.length, 1, 'shared');
  send('s.test', 'HTTPS').release?.(false);
  assert.equal(dns.sent.length, 2, 'another name and type: its own query');
  assert.equal(dns.sent[1]!.cancelled, true, 'released without keep: cancelled at once');
  first.release?.(true);
  clock.advance(LATE_ANSWER_MS);
  assert.equal(dns.sent[0]!.cancelled, false, 'a caller still waits');
  second.release?.(true);
  clock.advance(LATE_ANSWER_MS - 1);
  const third = send('_x._tcp.s.test', 'SRV');
  assert.equal(dns.sent.length, 2, 'joined in the window');
  third.release?.(true);
  clock.advance(LATE_ANSWER_MS - 1);
  assert.equal(dns.sent[0]!.cancelled, false);
  clock.advance(1);
  assert.equal(dns.sent[0]!.cancelled, true);
  const kept = records.get('_x._tcp.s.test', 'SRV', clock.t);
  assert.deepEqual([kept?.ok, kept?.ok === false && kept.code], [false, 'ETIMEOUT']);
  assert.equal(records.get('s.test', 'HTTPS', clock.t), undefined, 'the cancelled one: nothing');
});
