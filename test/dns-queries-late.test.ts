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
import { runNode } from './support/run-node.js';
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

test('a query kept only for the cache after a timed-out dial does not hold the process (exits before the late-answer window)', async () => {
  const index = new URL('../src/index.js', import.meta.url).href;
  // A nameserver on loopback that never answers; the dial times out at 300 ms, its queries are kept for
  // late answers (LATE_ANSWER_MS) — the process must still exit as soon as the script is done.
  const script = `
    import dgram from 'node:dgram';
    const { Dialer } = await import(${JSON.stringify(index)});
    const silent = dgram.createSocket('udp4');
    await new Promise((r) => silent.bind(0, '127.0.0.1', r));
    const dialer = new Dialer({ resolver: 'dns', nameservers: ['127.0.0.1:' + silent.address().port], hostsPath: null, resolvConfPath: '/dev/null' });
    try { await dialer.dial('quiet.example.test:80', { timeout: 300 }); } catch (e) { console.log(e.code); }
    silent.close();
    const done = performance.now();
    process.on('exit', () => console.log('exit-after-ms', Math.round(performance.now() - done)));
  `;
  const run = await runNode(['--input-type=module', '-e', script], { timeoutMs: 20_000 });
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split('\n');
  assert.equal(lines[0], 'ETIMEDOUT');
  const after = Number(lines[1]?.split(' ')[1]);
  assert.ok(
    after < LATE_ANSWER_MS / 2,
    `the process exited ${after} ms after the dial (late-answer window ${LATE_ANSWER_MS} ms)`,
  );
});
