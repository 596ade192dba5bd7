/**
 * The order in which a dial through HTTPS records tries its endpoints, with real sockets on loopback and
 * the lab's DNS server on 127.0.0.1 — the record's buckets before the origin's own port (the fallback,
 * docs/architecture.md §4), whatever order the answers come in or whether they come from the cache, and
 * `Dialer#resolve` listing the same order as the dial tries.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { type DialError, Dialer, type DialerOptions, type DialReport, getReport } from '../src/index.js';
import { makeStyle } from '../src/cli/color.js';
import { reportRows } from '../src/cli/trace.js';
import { closeServer, listen, trackConnections } from './support/servers.js';

/** A port nothing listens on (bound, then closed): connecting to it is refused at once. */
async function deadPort(host: string): Promise<number> {
  const s = net.createServer();
  const port = await listen(s, host);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Dials `target`, returns the report and closes the socket. */
async function dialReport(dialer: Dialer, target: string, options = {}): Promise<DialReport> {
  const socket = await dialer.dial(target, { tls: false, ...options });
  try {
    return getReport(socket)!;
  } finally {
    socket.destroy();
  }
}

const attempts = (r: DialReport) => r.attempts.map((a) => `${a.address}:${a.port} ${a.outcome}`);

describe('HTTPS record endpoints before the origin fallback (loopback)', () => {
  const live = trackConnections(net.createServer((s) => s.resume()));
  let livePort = 0;
  /** The URL's own port on the origin: nothing listens there. */
  let originPort = 0;
  let dns: LabDnsServer;
  let options: DialerOptions;

  before(async () => {
    livePort = await listen(live, '127.0.0.3');
    originPort = await deadPort('127.0.0.3');
    const record = { priority: 1, targetName: '.', params: { alpn: ['http/1.1'], port: livePort } };
    dns = await startLoopbackDns(
      {
        // IPv4-only names: the AAAA answer is NODATA (cached as such on repeat dials).
        'v4.so.test': { A: ['127.0.0.3'], AAAA: [] },
        [`_${originPort}._https.v4.so.test`]: { HTTPS: [record] },
        // The HTTPS answer comes 100 ms after the A and AAAA answers.
        'late.so.test': { A: ['127.0.0.3'], AAAA: [] },
        [`_${originPort}._https.late.so.test`]: { HTTPS: [record], delayMs: { HTTPS: 100 } },
        // RFC 9460 §7.3 hints: 127.0.0.9 (nothing listens there: refused) stands for the real address.
        // hint.so.test: the HTTPS answer (with the hint) comes first, then A and AAAA together.
        'hint.so.test': { A: ['127.0.0.3'], AAAA: [], delayMs: { A: 30, AAAA: 30 } },
        [`_${originPort}._https.hint.so.test`]: {
          HTTPS: [{ priority: 1, targetName: '.', params: { port: livePort, ipv4hint: ['127.0.0.9'] } }],
        },
        // hint2.so.test: the record names another target, with a hint for it.
        'hint2.so.test': { A: ['127.0.0.3'], AAAA: [] },
        'target.so.test': { A: ['127.0.0.3'], AAAA: [] },
        [`_${originPort}._https.hint2.so.test`]: {
          HTTPS: [
            {
              priority: 1,
              targetName: 'target.so.test',
              params: { port: livePort, ipv4hint: ['127.0.0.9'] },
            },
          ],
        },
        // gone.so.test: the record's target has no address (NODATA); its hint and the fallback refuse.
        'gone.so.test': { A: ['127.0.0.3'], AAAA: [] },
        'none.so.test': { A: [], AAAA: [], delayMs: { A: 30, AAAA: 30 } },
        [`_${originPort}._https.gone.so.test`]: {
          HTTPS: [
            { priority: 1, targetName: 'none.so.test', params: { port: livePort, ipv4hint: ['127.0.0.9'] } },
          ],
        },
        // same.so.test: the record keeps the URL's port, so its endpoint is the fallback's too.
        'same.so.test': { A: ['127.0.0.3'], AAAA: [] },
        [`_${livePort}._https.same.so.test`]: { HTTPS: [{ priority: 1, targetName: '.', params: {} }] },
        // An SRV record whose target does not exist (NXDOMAIN for A and AAAA).
        '_gone._tcp.so.test': {
          SRV: [{ priority: 1, weight: 0, port: livePort, target: 'missing.so.test' }],
        },
        // The record names a port nothing listens on; the origin's own port (the fallback) is live.
        'moved.so.test': { A: ['127.0.0.3'], AAAA: [] },
        [`_${livePort}._https.moved.so.test`]: {
          HTTPS: [{ priority: 1, targetName: '.', params: { port: originPort } }],
        },
      },
      'so.test',
    );
    options = {
      resolver: 'dns',
      nameservers: [`127.0.0.1:${dns.port}`],
      hostsPath: null,
      dnsTries: 1,
      dnsTimeoutMs: 2000,
    };
  });
  after(async () => {
    await Promise.all([closeServer(live), dns?.close()]);
  });

  test('repeat dials from the cache try the record endpoint first, never the failed fallback', async () => {
    const dialer = new Dialer(options);
    const url = `https://v4.so.test:${originPort}/`;
    for (let i = 0; i < 4; i++) {
      const report = await dialReport(dialer, url);
      assert.deepEqual(attempts(report), [`127.0.0.3:${livePort} connected`], `dial ${i + 1}`);
      assert.equal(report.service?.fallback, undefined, `dial ${i + 1}`);
      if (i > 0) {
        const sources = report.resolution.queries.map((q) => `${q.type} ${q.source}`);
        assert.deepEqual(sources.sort(), ['A cache', 'AAAA cache', 'HTTPS cache'], `dial ${i + 1}`);
      }
    }
  });

  test('a cold dial whose HTTPS answer comes after A waits for it and tries the record endpoint first', async () => {
    for (let i = 0; i < 3; i++) {
      // A Resolution Delay far longer than the HTTPS answer's 100 ms: the race must wait for the records.
      const dialer = new Dialer({ ...options, resolutionDelay: 1000 });
      const report = await dialReport(dialer, `https://late.so.test:${originPort}/`);
      const https = report.resolution.queries.find((q) => q.type === 'HTTPS')!;
      const a = report.resolution.queries.find((q) => q.type === 'A')!;
      assert.ok(a.endMs! < https.endMs!, 'the A answer came first');
      assert.deepEqual(attempts(report), [`127.0.0.3:${livePort} connected`], `dial ${i + 1}`);
    }
  });

  test('resolve() lists the endpoints in the order the dial tries them, the fallback last', async () => {
    const dialer = new Dialer(options);
    const url = `https://v4.so.test:${originPort}/`;
    for (let i = 0; i < 2; i++) {
      const resolved = await dialer.resolve(url);
      assert.deepEqual(
        resolved.addresses.map((a) => `${a.address}:${a.port}`),
        [`127.0.0.3:${livePort}`, `127.0.0.3:${originPort}`],
      );
      // Without a record endpoint to reach, the dial goes on to the fallback: the same order.
      const report = await dialReport(dialer, url);
      assert.deepEqual(
        report.attempts.map((a) => `${a.address}:${a.port}`),
        resolved.addresses.slice(0, 1).map((a) => `${a.address}:${a.port}`),
      );
    }
  });

  test('a record endpoint that failed recently goes after the live fallback, in the dial and in resolve()', async () => {
    const dialer = new Dialer(options);
    const url = `https://moved.so.test:${livePort}/`;
    const first = await dialReport(dialer, url);
    assert.deepEqual(attempts(first), [`127.0.0.3:${originPort} failed`, `127.0.0.3:${livePort} connected`]);
    // The record's endpoint is in backoff now: its bucket goes after the live one (architecture.md §4).
    const resolved = await dialer.resolve(url);
    assert.deepEqual(
      resolved.addresses.map((a) => `${a.address}:${a.port} ${a.demoted}`),
      [`127.0.0.3:${livePort} false`, `127.0.0.3:${originPort} true`],
    );
    const again = await dialReport(dialer, url);
    assert.deepEqual(attempts(again), [`127.0.0.3:${livePort} connected`]);
  });

  test('hints give way to the real A answer once it is in: cold dials, A and AAAA after HTTPS (RFC 9460 §7.3)', async () => {
    for (let i = 0; i < 4; i++) {
      const dialer = new Dialer({ ...options, memory: false, resolutionDelay: 1000 });
      const report = await dialReport(dialer, `https://hint.so.test:${originPort}/`);
      assert.deepEqual(attempts(report), [`127.0.0.3:${livePort} connected`], `dial ${i + 1}`);
      assert.equal(report.service?.winner?.hintsUsed, false);
    }
  });

  test('repeat dials from the cache never try a hint: the target’s own addresses are known', async () => {
    const dialer = new Dialer(options);
    const url = `https://hint2.so.test:${originPort}/`;
    // The first dial may start on the hint (the target's A is not in yet when its AAAA says NODATA).
    await dialReport(dialer, url);
    for (let i = 0; i < 4; i++) {
      const report = await dialReport(dialer, url);
      assert.deepEqual(attempts(report), [`127.0.0.3:${livePort} connected`], `repeat dial ${i + 1}`);
    }
  });

  test('a record target without addresses drops its hints and ends the dial at once, not at the timeout', async () => {
    const t0 = performance.now();
    await assert.rejects(
      new Dialer({ ...options, memory: false }).dial(`https://gone.so.test:${originPort}/`, {
        tls: false,
        timeout: 10_000,
      }),
      (e: DialError) => {
        assert.equal(e.code, 'ECONNREFUSED', e.message);
        assert.ok(performance.now() - t0 < 5000, `ended after ${performance.now() - t0} ms`);
        return true;
      },
    );
  });

  test('the report lists an endpoint two buckets share once, and the trace calls the HTTPS query answered', async () => {
    const report = await dialReport(new Dialer(options), `https://same.so.test:${livePort}/`);
    assert.deepEqual(
      report.order.map((c) => `${c.address}:${c.port}`),
      [`127.0.0.3:${livePort}`],
    );
    const rows = reportRows(report, makeStyle(false));
    const https = rows.find((r) => r.label.startsWith('dns HTTPS'))!;
    assert.match(https.note, /\banswered\b/);
    assert.doesNotMatch(https.note, /addresses/);
  });

  test('resolve() gives every endpoint its source address ("from"), later buckets too', async () => {
    const resolved = await new Dialer(options).resolve(`https://v4.so.test:${originPort}/`);
    assert.deepEqual(
      resolved.addresses.map((a) => [a.port, a.sourceAddress]),
      [
        [livePort, '127.0.0.1'],
        [originPort, '127.0.0.1'],
      ],
    );
  });

  test('an SRV target that does not exist: each DNS attempt names its own query type', async () => {
    await assert.rejects(new Dialer(options).dial('srv!_gone._tcp.so.test'), (e: DialError) => {
      assert.equal(e.code, 'ENOTFOUND');
      const dns = e.attempts.filter((a) => a.phase === 'dns');
      assert.deepEqual(dns.map((a) => a.family).sort(), [4, 6]);
      for (const a of dns) {
        assert.match(
          a.message ?? '',
          new RegExp(`^query${a.family === 6 ? 'AAAA' : 'A'} ENOTFOUND missing\\.so\\.test`),
        );
      }
      return true;
    });
  });
});
