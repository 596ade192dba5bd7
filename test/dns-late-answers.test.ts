/**
 * What a query still in flight when its dial ends becomes, with a real DNS server on loopback: an answer
 * within about a second (RFC 8305 §5) is kept for the next dial — whether the dial connected, timed out or
 * failed — and a query still unanswered then is remembered as ETIMEOUT for errorTtlSeconds, so the next dials
 * neither ask again nor wait the Resolution Delay for it. An aborted dial cancels its queries at once.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import {
  createLookup,
  type DialError,
  Dialer,
  type DialerOptions,
  getReport,
  isAbortError,
  isDialError,
} from '../src/index.js';
import { closeServer, trackConnections } from './support/servers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function listen(server: net.Server, host: string, port = 0): Promise<number> {
  server.listen(port, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

describe('queries a dial leaves in flight', () => {
  const tcp = trackConnections(net.createServer((s) => s.resume()));
  const tcp6 = trackConnections(net.createServer((s) => s.resume()));
  let port = 0;
  let dns: LabDnsServer;
  let options: DialerOptions;
  before(async () => {
    port = await listen(tcp, '127.0.0.1');
    await listen(tcp6, '::1', port);
    dns = await startLoopbackDns(
      {
        'drop6.late.test': { A: ['127.0.0.1'], AAAA: ['::1'], fail: { AAAA: 'DROP' } },
        'slow.late.test': { A: ['127.0.0.1'], delayMs: { A: 600, AAAA: 600 } },
        'abort.late.test': { A: ['127.0.0.1'], delayMs: { A: 400, AAAA: 400 } },
        'zero.late.test': { A: ['127.0.0.1'], AAAA: [], ttl: 0 },
        'slow6.late.test': { A: ['127.0.0.1'], AAAA: ['::1'], delayMs: { AAAA: 150 } },
        // A resolver that drops HTTPS queries (as some middleboxes do with types they do not know).
        'https.late.test': { A: ['127.0.0.1'], AAAA: [] },
        [`_${port}._https.https.late.test`]: { fail: { HTTPS: 'DROP' } },
      },
      'late.test',
    );
    // The server's own timeouts (5 s × 2 tries) never end a query here: the late-answer window does.
    options = { resolver: 'dns', nameservers: [`127.0.0.1:${dns.port}`], hostsPath: null };
  });
  after(async () => {
    await Promise.all([closeServer(tcp), closeServer(tcp6), dns?.close()]);
  });

  test('an AAAA query never answered is remembered as ETIMEOUT after the late window: one query, no Resolution Delay', async () => {
    dns.resetLog();
    const dialer = new Dialer({ ...options, resolutionDelay: 500, memory: { dns: { errorTtlSeconds: 2 } } });
    const first = await dialer.dial(`drop6.late.test:${port}`);
    const firstReport = getReport(first)!;
    first.destroy();
    assert.equal(firstReport.winner?.address, '127.0.0.1');
    assert.ok(firstReport.attempts[0]!.startMs >= 490, 'the first dial waits the Resolution Delay for AAAA');
    await sleep(1200); // the late-answer window (1 s) ends without an answer
    for (let i = 0; i < 3; i++) {
      const s = await dialer.dial(`drop6.late.test:${port}`);
      const report = getReport(s)!;
      s.destroy();
      const aaaa = report.resolution.queries.find((q) => q.type === 'AAAA')!;
      assert.deepEqual([aaaa.source, aaaa.code], ['cache', 'ETIMEOUT'], JSON.stringify(aaaa));
      // Both families answered from memory: the race starts at once (generous bound: 500 ms is the delay).
      assert.ok(report.attempts[0]!.startMs < 250, `no Resolution Delay: ${report.attempts[0]!.startMs} ms`);
    }
    assert.equal(dns.queryCount('drop6.late.test', 'AAAA'), 1, 'one AAAA query for four dials');
    await sleep(2000); // errorTtlSeconds over: asked again
    (await dialer.dial(`drop6.late.test:${port}`)).destroy();
    assert.equal(dns.queryCount('drop6.late.test', 'AAAA'), 2, 'asked again once the failure expired');
    await sleep(1100); // let the last query's window end before the server goes
  });

  test('a dial that times out before the answer: the answer is kept and the next dial connects; the message says the queries were unanswered', async () => {
    dns.resetLog();
    const dialer = new Dialer(options);
    const err = (await dialer
      .dial(`slow.late.test:${port}`, { timeout: 300 })
      .catch((e: unknown) => e)) as DialError;
    assert.ok(isDialError(err), String(err));
    assert.equal(err.code, 'ETIMEDOUT');
    assert.match(err.message, /no address was tried \(DNS AAAA, A still unanswered when the timeout came\)$/);
    assert.doesNotMatch(err.message, /ETIMEOUT/, 'no server failed');
    assert.deepEqual(
      err.attempts.map((a) => [a.phase, a.code]),
      [
        ['dns', 'ETIMEOUT'],
        ['dns', 'ETIMEOUT'],
      ],
    );
    assert.match(err.attempts[0]!.message, /no answer yet when the dial's 300 ms timeout came/);
    await sleep(500); // the answers come at 600 ms, within the late window
    const s = await dialer.dial(`slow.late.test:${port}`, { timeout: 300 });
    const report = getReport(s)!;
    s.destroy();
    assert.deepEqual(
      report.resolution.queries.map((q) => [q.type, q.source, q.code]),
      [
        ['AAAA', 'cache', 'ENODATA'],
        ['A', 'cache', undefined],
      ],
    );
    assert.equal(dns.queryCount('slow.late.test', 'A'), 1);
  });

  test('an aborted dial cancels its queries at once: nothing of them is kept', async () => {
    dns.resetLog();
    const dialer = new Dialer(options);
    const controller = new AbortController();
    const dialing = dialer.dial(`abort.late.test:${port}`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    assert.ok(isAbortError(await dialing.catch((e: unknown) => e)));
    await sleep(600); // the answers were sent at 400 ms, to cancelled queries
    const s = await dialer.dial(`abort.late.test:${port}`);
    const report = getReport(s)!;
    s.destroy();
    assert.deepEqual(
      report.resolution.queries.map((q) => [q.type, q.source]),
      [
        ['AAAA', 'dns'],
        ['A', 'dns'],
      ],
    );
    assert.equal(dns.queryCount('abort.late.test', 'A'), 2, 'asked again');
  });

  test('HTTPS queries: concurrent dials share one, and one never answered is remembered as ETIMEOUT after the late window', async () => {
    dns.resetLog();
    const name = `_${port}._https.https.late.test`;
    const target = `https://https.late.test:${port}/`;
    const dialer = new Dialer({ ...options, resolutionDelay: 300 });
    const first = await Promise.all(Array.from({ length: 5 }, () => dialer.dial(target, { tls: false })));
    for (const s of first) s.destroy();
    assert.equal(dns.queryCount(name, 'UNKNOWN_65'), 1, 'five concurrent dials, one HTTPS query');
    // A dial while the query is still out (its late window) joins it too.
    (await dialer.dial(target, { tls: false })).destroy();
    assert.equal(dns.queryCount(name, 'UNKNOWN_65'), 1, 'a dial in the late window joins the query');
    await sleep(1200); // the late window (1 s after the last dial) ends without an answer
    for (let i = 0; i < 3; i++) {
      const s = await dialer.dial(target, { tls: false });
      const report = getReport(s)!;
      s.destroy();
      const https = report.resolution.queries.find((q) => q.type === 'HTTPS')!;
      assert.deepEqual([https.source, https.code], ['cache', 'ETIMEOUT'], JSON.stringify(https));
      assert.ok(report.attempts[0]!.startMs < 150, `no Resolution Delay: ${report.attempts[0]!.startMs} ms`);
    }
    assert.equal(dns.queryCount(name, 'UNKNOWN_65'), 1, 'one HTTPS query for nine dials');
  });

  test('resolve() and lookup() when AAAA never answers: the A answer after the Resolution Delay and one attempt delay, not after 10 s', async () => {
    dns.resetLog();
    // 100 + 200 ms: the longest a result waits for a family still out once another has addresses.
    const dialer = new Dialer({ ...options, resolutionDelay: 100, attemptDelay: 200 });
    const t0 = performance.now();
    const resolved = await dialer.resolve('drop6.late.test');
    const ms = performance.now() - t0;
    assert.deepEqual(
      resolved.addresses.map((a) => a.address),
      ['127.0.0.1'],
    );
    assert.ok(ms >= 290 && ms < 3000, `returned after ${ms} ms`);
    const aaaa = resolved.queries.find((q) => q.type === 'AAAA')!;
    assert.equal(aaaa.endMs, undefined, 'the AAAA query was still out');
    // A family that answers within the bound is waited for.
    const both = await dialer.resolve('slow6.late.test');
    assert.deepEqual(both.addresses.map((a) => a.address).sort(), ['127.0.0.1', '::1']);
    const lookup = createLookup({ dialer: new Dialer(options) });
    const t1 = performance.now();
    const list = await new Promise<unknown>((resolve, reject) =>
      lookup('drop6.late.test', { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
    );
    assert.deepEqual(list, [{ address: '127.0.0.1', family: 4 }]);
    assert.ok(performance.now() - t1 < 3000, 'lookup: not the DNS timeout');
    await sleep(1100); // the AAAA queries' late windows end before the server goes
  });

  test('a dial that joins an AAAA query already out does not wait a whole Resolution Delay of its own', async () => {
    dns.resetLog();
    const dialer = new Dialer({ ...options, resolutionDelay: 500 });
    const first = await dialer.dial(`drop6.late.test:${port}`);
    assert.ok(getReport(first)!.attempts[0]!.startMs >= 490, 'the first dial waits the whole delay');
    first.destroy();
    await sleep(100); // the AAAA query is in its late window, sent ~600 ms ago
    const s = await dialer.dial(`drop6.late.test:${port}`);
    const report = getReport(s)!;
    s.destroy();
    assert.deepEqual(
      report.resolution.queries.map((q) => [q.type, q.source, q.endMs === undefined]),
      [
        ['AAAA', 'dns', true],
        ['A', 'cache', false],
      ],
    );
    assert.ok(report.attempts[0]!.startMs < 250, `joined: ${report.attempts[0]!.startMs} ms (delay 500 ms)`);
    assert.equal(dns.queryCount('drop6.late.test', 'AAAA'), 1);
    await sleep(1100);
  });

  test('a dial that joins a refresh older than the 1.8 s client response timer uses the stale answer at once (RFC 8767 §5)', async () => {
    dns.resetLog();
    // TTL 0: the answer is served stale only when its refresh fails or is late (not optimistically).
    const dialer = new Dialer({ ...options, dnsTimeoutMs: 4000, dnsTries: 1 });
    (await dialer.dial(`zero.late.test:${port}`)).destroy();
    dns.update('zero.late.test', { A: ['127.0.0.1'], AAAA: [], ttl: 0, fail: { A: 'DROP' } });
    try {
      const second = await dialer.dial(`zero.late.test:${port}`);
      const r2 = getReport(second)!;
      second.destroy();
      const a2 = r2.resolution.queries.find((q) => q.type === 'A' && q.source === 'stale')!;
      assert.equal(a2.staleUse, 'refresh-timeout');
      assert.ok(r2.attempts[0]!.startMs >= 1700, `waited for the refresh: ${r2.attempts[0]!.startMs} ms`);
      await sleep(200); // the refresh (4 s timeout) is now ~2 s old
      const third = await dialer.dial(`zero.late.test:${port}`);
      const r3 = getReport(third)!;
      third.destroy();
      const a3 = r3.resolution.queries.find((q) => q.type === 'A' && q.source === 'stale')!;
      assert.equal(a3.staleUse, 'refresh-timeout');
      assert.ok(
        r3.attempts[0]!.startMs < 900,
        `joined an old refresh: ${r3.attempts[0]!.startMs} ms, not 1.8 s`,
      );
      assert.equal(dns.queryCount('zero.late.test', 'A'), 2, 'the first query and one refresh');
    } finally {
      dns.update('zero.late.test', { A: ['127.0.0.1'], AAAA: [], ttl: 0 });
    }
    await sleep(2200); // the refresh runs to its own end (4 s) before the server goes
  });

  test('resolve() of an https: URL when the HTTPS query is dropped: the origin after the Resolution Delay, not after 10 s', async () => {
    dns.resetLog();
    const dialer = new Dialer({ ...options, resolutionDelay: 200 });
    const t0 = performance.now();
    const resolved = await dialer.resolve(`https://https.late.test:${port}/`);
    const ms = performance.now() - t0;
    assert.deepEqual(
      resolved.addresses.map((a) => [a.address, a.port]),
      [['127.0.0.1', port]],
    );
    assert.ok(ms >= 190 && ms < 3000, `returned after ${ms} ms`);
    assert.deepEqual(
      resolved.queries.map((q) => [q.type, q.endMs === undefined]),
      [
        ['HTTPS', true],
        ['AAAA', false],
        ['A', false],
      ],
    );
    await sleep(1100); // the HTTPS query's late window ends
    const again = await dialer.resolve(`https://https.late.test:${port}/`);
    assert.deepEqual(
      [again.queries[0]!.source, again.queries[0]!.code, again.service?.code],
      ['cache', 'ETIMEOUT', 'ETIMEOUT'],
    );
    assert.equal(dns.queryCount(`_${port}._https.https.late.test`, 'UNKNOWN_65'), 1);
  });
});
