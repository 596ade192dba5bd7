/**
 * `Dialer#resolve()` and `lookup()` joining an AAAA query another resolve sent, the A answer in the cache —
 * the lab's DNS server on 127.0.0.1, whose AAAA answers come late. Once one family has addresses, the other
 * is waited for at most the Resolution Delay and one Connection Attempt Delay (resolve-name.ts), counted as a
 * dial counts it (RFC 8305 §3, race.ts#delayStart): from the joined query's sending, not from the call.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { createLookup, Dialer, type DialerOptions } from '../src/index.js';

/** The bound on the wait for the other family: 400 + 400 ms (generous next to a late timer under load). */
const RESOLUTION_DELAY_MS = 400;
const ATTEMPT_DELAY_MS = 400;
const BOUND_MS = RESOLUTION_DELAY_MS + ATTEMPT_DELAY_MS;
/** How long after the first call the second one starts. */
const JOIN_AFTER_MS = 500;

let dns: LabDnsServer;
let options: DialerOptions;

before(async () => {
  dns = await startLoopbackDns(
    {
      'late6.joined.test': { A: ['192.0.2.1'], AAAA: ['2001:db8::1'], delayMs: { AAAA: 4000 }, ttl: 300 },
      'late6b.joined.test': { A: ['192.0.2.2'], AAAA: ['2001:db8::2'], delayMs: { AAAA: 4000 }, ttl: 300 },
    },
    'joined.test',
  );
  options = {
    resolver: 'dns',
    nameservers: [`127.0.0.1:${dns.port}`],
    hostsPath: null,
    dnsTries: 1,
    dnsTimeoutMs: 6000,
    resolutionDelay: RESOLUTION_DELAY_MS,
    attemptDelay: ATTEMPT_DELAY_MS,
  };
});
after(async () => {
  await dns?.close();
});

test('resolve() joining an AAAA query sent 500 ms before: it returns when the first call does', async () => {
  const dialer = new Dialer(options);
  const t0 = performance.now();
  const first = dialer.resolve('late6.joined.test');
  await sleep(JOIN_AFTER_MS);
  const t1 = performance.now();
  const second = await dialer.resolve('late6.joined.test');
  const secondMs = performance.now() - t1;
  const firstResult = await first;
  const firstMs = performance.now() - t0;
  assert.ok(firstMs >= BOUND_MS - 5, `the first call waits the whole bound: ${firstMs} ms`);
  assert.deepEqual(
    second.queries.map((q) => [q.type, q.source, q.endMs === undefined]),
    [
      ['AAAA', 'dns', true],
      ['A', 'cache', false],
    ],
  );
  assert.deepEqual(
    second.addresses.map((a) => a.address),
    ['192.0.2.1'],
  );
  assert.deepEqual(
    firstResult.addresses.map((a) => a.address),
    ['192.0.2.1'],
  );
  assert.equal(dns.queryCount('late6.joined.test', 'AAAA'), 1, 'one AAAA query for both');
  // Expected: BOUND_MS - JOIN_AFTER_MS (300 ms); counted from the call it was the whole 800 ms.
  assert.ok(secondMs < BOUND_MS - JOIN_AFTER_MS / 2, `the joining call took ${secondMs} ms`);
  assert.ok(secondMs >= BOUND_MS - JOIN_AFTER_MS - 50, `it did wait for the AAAA: ${secondMs} ms`);
});

test('lookup() joining an AAAA query a lookup sent 500 ms before: the same bound', async () => {
  const lookup = createLookup({ dialer: new Dialer(options) });
  const call = () =>
    new Promise<unknown>((resolve, reject) =>
      lookup('late6b.joined.test', { all: true }, (err, addresses) =>
        err ? reject(err) : resolve(addresses),
      ),
    );
  const first = call();
  await sleep(JOIN_AFTER_MS);
  const t1 = performance.now();
  assert.deepEqual(await call(), [{ address: '192.0.2.2', family: 4 }]);
  const secondMs = performance.now() - t1;
  await first;
  assert.ok(secondMs < BOUND_MS - JOIN_AFTER_MS / 2, `the joining lookup took ${secondMs} ms`);
});

test('resolve() of an https: URL joining an HTTPS query sent 250 ms before, A/AAAA cached: it returns when the first call does', async () => {
  dns.update('www.joined.test', {
    A: ['192.0.2.3'],
    ttl: 300,
    delayMs: { HTTPS: 4000 },
    fail: { HTTPS: 'NODATA' },
  });
  const dialer = new Dialer(options);
  await dialer.resolve('www.joined.test'); // A and AAAA (NODATA) into the cache
  const t0 = performance.now();
  const first = dialer.resolve('https://www.joined.test/');
  await sleep(JOIN_AFTER_MS / 2);
  const t1 = performance.now();
  const second = await dialer.resolve('https://www.joined.test/');
  const secondMs = performance.now() - t1;
  const firstResult = await first;
  const firstMs = performance.now() - t0;
  assert.equal(dns.queryCount('www.joined.test', 'UNKNOWN_65'), 1, 'one HTTPS query for both');
  for (const r of [firstResult, second]) {
    assert.deepEqual(
      r.queries.map((q) => [q.type, q.source, q.endMs === undefined]),
      [
        ['HTTPS', 'dns', true],
        ['AAAA', 'cache', false],
        ['A', 'cache', false],
      ],
    );
    assert.deepEqual(
      r.addresses.map((a) => a.address),
      ['192.0.2.3'],
    );
  }
  assert.ok(firstMs >= RESOLUTION_DELAY_MS - 5, `the first call waits the whole delay: ${firstMs} ms`);
  // Expected: 400 - 250 = 150 ms; counted from its own call it was the whole 400 ms.
  assert.ok(secondMs < RESOLUTION_DELAY_MS - JOIN_AFTER_MS / 4, `the joining call took ${secondMs} ms`);
});
