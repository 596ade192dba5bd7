/**
 * A stale answer served without asking DNS (its refreshes held back after a failed one, RFC 8767 §5) whose
 * addresses all fail: with a real DNS server and real sockets on loopback, the dial's error says DNS was not
 * asked, and the next dial asks it at once instead of after the 30 s backoff — so a service that moved
 * while DNS was briefly failing is found again.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { type DialError, Dialer, getReport, isDialError } from '../src/index.js';
import { DnsCache } from '../src/memory/dns-cache.js';
import { closeServer, trackConnections } from './support/servers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NAME = 'moved.held.test';

const current = trackConnections(net.createServer((s) => s.resume()));
const previous = trackConnections(net.createServer((s) => s.resume()));
let port = 0;
let dns: LabDnsServer;
before(async () => {
  current.listen(0, '127.0.0.1');
  await once(current, 'listening');
  port = (current.address() as net.AddressInfo).port;
  previous.listen(port, '127.0.0.2');
  await once(previous, 'listening');
  dns = await startLoopbackDns({ [NAME]: { A: ['127.0.0.2'], AAAA: [], ttl: 1 } }, 'held.test');
});
after(async () => {
  await Promise.all([closeServer(current), closeServer(previous), dns?.close()]);
});

test('stale addresses served while refreshes are held back all refused: the error says so and the next dial asks DNS', async () => {
  const dialer = new Dialer({ resolver: 'dns', nameservers: [`127.0.0.1:${dns.port}`], hostsPath: null });
  (await dialer.dial(`${NAME}:${port}`)).destroy();
  // DNS fails (SERVFAIL) when the answer has expired: the refresh fails, refreshes are held back for 30 s.
  dns.update(NAME, { A: ['127.0.0.2'], AAAA: [], ttl: 1, fail: { A: 'SERVFAIL' } });
  await sleep(1100);
  (await dialer.dial(`${NAME}:${port}`)).destroy(); // the stale address still works
  await sleep(100); // its refresh's SERVFAIL is in
  // The service moves to 127.0.0.1 and DNS is right again; the old address refuses.
  await closeServer(previous);
  dns.update(NAME, { A: ['127.0.0.1'], AAAA: [], ttl: 1 });
  dns.resetLog();
  const err = (await dialer.dial(`${NAME}:${port}`).catch((e: unknown) => e)) as DialError;
  assert.ok(isDialError(err), String(err));
  assert.equal(err.code, 'ECONNREFUSED');
  assert.match(err.message, /127\.0\.0\.2 ECONNREFUSED/);
  assert.match(err.message, /addresses from a stale DNS answer: DNS was not asked/);
  assert.equal(dns.queryCount(NAME, 'A'), 0, 'held back: DNS was not asked');
  const s = await dialer.dial(`${NAME}:${port}`);
  const report = getReport(s)!;
  s.destroy();
  assert.equal(report.winner?.address, '127.0.0.1');
  assert.equal(dns.queryCount(NAME, 'A'), 1, 'the next dial asked DNS at once');
});

test('DnsCache#allowRefresh ends the refresh backoff and forgets the failure held beside stale addresses', () => {
  const cache = new DnsCache();
  cache.setPositive('a.test', 'A', [{ address: '192.0.2.1', ttlSeconds: 1 }], 0);
  cache.setError('a.test', 'A', 'ESERVFAIL', 2000); // a failed refresh: error for 1 s, backoff for 30 s
  assert.equal(cache.get('a.test', 'A', 2500).state, 'error');
  assert.equal(cache.allowRefresh('a.test', 'A'), true);
  const after = cache.get('a.test', 'A', 2500);
  assert.deepEqual([after.state, after.state === 'stale' && after.refreshAllowed], ['stale', true]);
  assert.equal(cache.allowRefresh('none.test', 'A'), false, 'nothing held: no effect');
  cache.setNegative('n.test', 'A', 'NXDOMAIN', undefined, 0);
  assert.equal(cache.allowRefresh('n.test', 'A'), false, 'no stale addresses: no effect');
  assert.equal(cache.get('n.test', 'A', 10).state, 'negative');
});
