/**
 * Dials through service records with real sockets on loopback and the lab's DNS server on 127.0.0.1:
 * SRV targets (priority failover, "no service", missing records), HTTPS records (port from the record,
 * hints before a slow A, AliasMode chain, ALPN intersection over real TLS, `httpsRecords: false`, a
 * tls: false dial to an https: URL), and `getReport(socket).service`.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { Dialer, type DialerOptions, type DialError, getReport, isDialError } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { closeServer, trackConnections } from './support/servers.js';
import { makeSelfSignedCert } from './support/tls-cert.js';

async function listen(server: net.Server, host: string): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** A port nothing listens on (bound, then closed): connecting to it is refused at once. */
async function deadPort(host: string): Promise<number> {
  const s = net.createServer();
  const port = await listen(s, host);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const cert = makeSelfSignedCert('www.svc.test');

describe('dials through service records (loopback)', () => {
  const plain = trackConnections(net.createServer((s) => s.resume()));
  const plain2 = trackConnections(net.createServer((s) => s.resume()));
  const secure = trackConnections(
    // The server prefers http/1.1: only the record's intersection (h2) makes it pick h2.
    tls.createServer({ ...cert, ALPNProtocols: ['http/1.1', 'h2'] }, (s) => s.resume()),
  );
  let port = 0;
  let port2 = 0;
  let tlsPort = 0;
  let dead = 0;
  let dead2 = 0;
  let dns: LabDnsServer;
  let options: DialerOptions;

  before(async () => {
    port = await listen(plain, '127.0.0.2');
    port2 = await listen(plain2, '127.0.0.3');
    tlsPort = await listen(secure, '127.0.0.4');
    dead = await deadPort('127.0.0.5');
    dead2 = await deadPort('127.0.0.6');
    dns = await startLoopbackDns(
      {
        // SRV: priority 10 refused, priority 20 listening.
        '_db._tcp.svc.test': {
          SRV: [
            { priority: 10, weight: 0, port: dead, target: 'dead.svc.test' },
            { priority: 20, weight: 0, port: port2, target: 'live.svc.test' },
          ],
        },
        // Every SRV target refuses: the message names each endpoint with its own port.
        '_alldead._tcp.svc.test': {
          SRV: [
            { priority: 10, weight: 0, port: dead, target: 'dead.svc.test' },
            { priority: 20, weight: 0, port: dead2, target: 'dead2.svc.test' },
          ],
        },
        '_tls._tcp.www.svc.test': {
          SRV: [{ priority: 1, weight: 0, port: tlsPort, target: 'tls.svc.test' }],
        },
        '_slow._tcp.svc.test': {
          delayMs: { SRV: 3000 },
          SRV: [{ priority: 1, weight: 0, port: port2, target: 'live.svc.test' }],
        },
        // Another port than 443: the HTTPS records are at _PORT._https.NAME (RFC 9460 §9.1); this answer is slow.
        'slowrec.svc.test': { A: ['127.0.0.2'], AAAA: [] },
        [`_${port}._https.slowrec.svc.test`]: {
          delayMs: { HTTPS: 3000 },
          HTTPS: [{ priority: 1, targetName: '.', params: {} }],
        },
        // A resolver that drops HTTPS queries (some middleboxes drop query types they do not know).
        'dropped.svc.test': { A: ['127.0.0.2'], AAAA: [] },
        [`_${port}._https.dropped.svc.test`]: { fail: { HTTPS: 'DROP' } },
        '_none._tcp.svc.test': { SRV: [{ priority: 0, weight: 0, port: 0, target: '.' }] },
        'dead.svc.test': { A: ['127.0.0.5'], AAAA: [] },
        'dead2.svc.test': { A: ['127.0.0.6'], AAAA: [] },
        'live.svc.test': { A: ['127.0.0.3'], AAAA: [] },
        // HTTPS: the record moves the origin to another port.
        'www.svc.test': {
          A: ['127.0.0.2'],
          AAAA: [],
          HTTPS: [{ priority: 1, targetName: '.', params: { port } }],
        },
        // Hints answer long before the slow A.
        'hinted.svc.test': {
          A: ['127.0.0.2'],
          AAAA: [],
          delayMs: { A: 3000 },
          HTTPS: [{ priority: 1, targetName: '.', params: { port, ipv4hint: ['127.0.0.2'] } }],
        },
        // AliasMode chain: apex -> cdn (ServiceMode at cdn).
        'apex.svc.test': {
          A: ['127.0.0.9'],
          AAAA: [],
          HTTPS: [{ priority: 0, targetName: 'cdn.svc.test', params: {} }],
        },
        'cdn.svc.test': {
          A: ['127.0.0.3'],
          AAAA: [],
          HTTPS: [{ priority: 1, targetName: '.', params: { port: port2 } }],
        },
        // An alias loop: the origin's own A/AAAA are used.
        'loop.svc.test': {
          A: ['127.0.0.2'],
          AAAA: [],
          HTTPS: [{ priority: 0, targetName: 'loop2.svc.test', params: {} }],
        },
        'loop2.svc.test': { HTTPS: [{ priority: 0, targetName: 'loop.svc.test', params: {} }] },
        // ALPN: priority 1 offers only spdy/3 (skipped for a caller with h2), priority 2 h2 on the TLS port.
        'alpn.svc.test': {
          A: ['127.0.0.9'],
          AAAA: [],
          HTTPS: [
            { priority: 1, targetName: '.', params: { alpn: ['spdy/3'], noDefaultAlpn: true, port: dead } },
            {
              priority: 2,
              targetName: 'tls.svc.test',
              params: { alpn: ['h2'], noDefaultAlpn: true, port: tlsPort },
            },
          ],
        },
        'tls.svc.test': { A: ['127.0.0.4'], AAAA: [] },
      },
      'svc.test',
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
    await Promise.all([closeServer(plain), closeServer(plain2), closeServer(secure), dns?.close()]);
  });

  test('SRV: priority 10 refused, priority 20 wins; the report names the record', async () => {
    for (const target of ['srv!_db._tcp.svc.test', { srv: '_db._tcp.svc.test' }]) {
      const socket = await new Dialer(options).dial(target);
      try {
        assert.equal(socket.remotePort, port2);
        const report = getReport(socket)!;
        assert.equal(report.service?.type, 'SRV');
        assert.equal(report.service?.winner?.targetName, 'live.svc.test');
        assert.equal(report.service?.winner?.priority, 20);
        assert.deepEqual(
          report.service?.records.map((r) => [r.priority, r.targetName, r.bucket]),
          [
            [10, 'dead.svc.test', 0],
            [20, 'live.svc.test', 1],
          ],
        );
        assert.deepEqual(
          report.attempts.map((a) => [a.address, a.port, a.outcome]),
          [
            ['127.0.0.5', dead, 'failed'],
            ['127.0.0.3', port2, 'connected'],
          ],
        );
        assert.equal(report.winner?.port, port2);
      } finally {
        socket.destroy();
      }
    }
  });

  test('SRV: every target refused — the message names each endpoint with its own port', async () => {
    await assert.rejects(new Dialer(options).dial('srv!_alldead._tcp.svc.test'), (e: DialError) => {
      assert.ok(isDialError(e));
      assert.equal(e.code, 'ECONNREFUSED');
      assert.match(
        e.message,
        new RegExp(
          `^connect srv!_alldead\\._tcp\\.svc\\.test failed after 2 attempts in .*: 127\\.0\\.0\\.5:${dead} ECONNREFUSED; 127\\.0\\.0\\.6:${dead2} ECONNREFUSED$`,
        ),
      );
      return true;
    });
  });

  test('SRV + TLS: a certificate failure names the endpoint with its own port', async () => {
    // No `ca`: the self-signed certificate is refused — a final failure of that attempt.
    await assert.rejects(
      new Dialer(options).dial('srv!_tls._tcp.www.svc.test', { tls: {} }),
      (e: DialError) => {
        assert.ok(isDialError(e));
        assert.match(e.message, new RegExp(`TLS handshake with 127\\.0\\.0\\.4:${tlsPort}: `));
        return true;
      },
    );
  });

  test('SRV target "." is "no service"; a name without SRV records is ENOTFOUND', async () => {
    const dialer = new Dialer(options);
    await assert.rejects(dialer.dial('srv!_none._tcp.svc.test'), (e: DialError) => {
      assert.ok(isDialError(e));
      assert.equal(e.code, 'ERR_NETDIAL_NO_SERVICE');
      assert.match(e.message, /^connect srv!_none\._tcp\.svc\.test failed in .*service is not available/);
      return true;
    });
    await assert.rejects(dialer.dial('srv!_x._tcp.svc.test'), (e: DialError) => {
      assert.equal(e.code, 'ENOTFOUND');
      assert.match(e.message, /no usable SRV records \(ENOTFOUND\)/);
      assert.equal(e.attempts[0]?.phase, 'dns');
      return true;
    });
  });

  test('SRV with TLS: the certificate is checked against the source domain, not the record target', async () => {
    const socket = await new Dialer(options).dial('srv!_tls._tcp.www.svc.test', { tls: { ca: cert.cert } });
    try {
      assert.equal((socket as tls.TLSSocket).authorized, true);
      assert.equal(getReport(socket)?.tls?.servername, 'www.svc.test');
      assert.equal(socket.remotePort, tlsPort);
    } finally {
      socket.destroy();
    }
  });

  test('abort and timeout while the service query is out leave nothing behind', async () => {
    const dialer = new Dialer(options);
    const baseline = activeResources();
    const controller = new AbortController();
    const aborted = dialer.dial('srv!_slow._tcp.svc.test', { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('enough')), 100);
    await assert.rejects(aborted, (e: Error & { code?: string }) => e.code === 'ABORT_ERR');
    await assert.rejects(dialer.dial('srv!_slow._tcp.svc.test', { timeout: 200 }), (e: DialError) => {
      assert.equal(e.code, 'ETIMEDOUT');
      return true;
    });
    // The DNS server (in this process) holds its two delayed answers for 3 s; once they are sent, nothing
    // of either dial may be left.
    await new Promise((r) => setTimeout(r, 3200));
    await assertNoLeaks(baseline);
  });

  test('resolve of an https: URL waits for a slow HTTPS answer only the Resolution Delay; SRV is bounded by timeout and signal', async () => {
    const dialer = new Dialer(options);
    const baseline = activeResources();
    const target = `https://slowrec.svc.test:${port}/`;
    const t0 = performance.now();
    // As a dial: the origin's A/AAAA, then at most the Resolution Delay for the HTTPS answer (3 s away).
    const resolved = await dialer.resolve(target, { timeout: 1000 });
    assert.ok(performance.now() - t0 < 900, `took ${performance.now() - t0} ms`);
    assert.deepEqual(
      resolved.addresses.map((a) => [a.address, a.port]),
      [['127.0.0.2', port]],
    );
    const https = resolved.queries.find((q) => q.type === 'HTTPS')!;
    assert.deepEqual([https.name, https.endMs], [`_${port}._https.slowrec.svc.test`, undefined]);
    // The SRV query of an srv! target has no fallback: it is bounded by the timeout…
    await assert.rejects(dialer.resolve('srv!_slow._tcp.svc.test', { timeout: 300 }), (e: DialError) => {
      assert.equal(e.code, 'ETIMEDOUT');
      assert.equal(
        e.message,
        'resolve srv!_slow._tcp.svc.test timed out after 300 ms: no answer to SRV _slow._tcp.svc.test',
      );
      assert.deepEqual(
        e.attempts.map((a) => [a.phase, a.address, a.code]),
        [['dns', '_slow._tcp.svc.test', 'ETIMEOUT']],
      );
      return true;
    });
    assert.ok(performance.now() - t0 < 2000, `took ${performance.now() - t0} ms`);
    // …and by the signal.
    const controller = new AbortController();
    const aborted = dialer.resolve('srv!_slow._tcp.svc.test', { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('enough')), 100);
    await assert.rejects(aborted, (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ABORT_ERR');
      assert.match(e.message, /^resolve srv!_slow\._tcp\.svc\.test was aborted$/);
      return true;
    });
    await new Promise((r) => setTimeout(r, 3200));
    await assertNoLeaks(baseline, 'resolve');
  });

  test('resolve of an AliasMode chain lists each query it sent, once, in the order asked', async () => {
    const resolved = await new Dialer(options).resolve('https://apex.svc.test/');
    assert.deepEqual(
      resolved.queries.map((q) => `${q.type} ${q.name} ${q.source}`),
      // The origin's own A/AAAA go out alongside its HTTPS query (as a dial asks them); the alias
      // target's HTTPS query after the first answered, then that target's A/AAAA.
      [
        'HTTPS apex.svc.test dns',
        'AAAA apex.svc.test dns',
        'A apex.svc.test dns',
        'HTTPS cdn.svc.test dns',
        'AAAA cdn.svc.test dns',
        'A cdn.svc.test dns',
      ],
    );
    assert.deepEqual(
      resolved.addresses.map((a) => [a.address, a.port, a.bucket]),
      [
        ['127.0.0.3', port2, 0],
        ['127.0.0.9', 443, undefined],
      ],
    );
    // A chain ending in a loop: each hop asked once, the loop seen without a third query.
    const looped = await new Dialer(options).resolve('https://loop.svc.test/');
    assert.deepEqual(
      looped.queries.filter((q) => q.type === 'HTTPS').map((q) => q.name),
      ['loop.svc.test', 'loop2.svc.test'],
    );
    assert.equal(looped.service?.code, 'EBADRESP');
  });

  test('an HTTPS answer that does not come holds the race back only for the Resolution Delay', async () => {
    const t0 = performance.now();
    const socket = await new Dialer(options).dial(`https://slowrec.svc.test:${port}/`, { tls: false });
    try {
      const ms = performance.now() - t0;
      assert.ok(ms < 1500, `took ${ms} ms; the HTTPS answer takes 3000 ms`);
      const report = getReport(socket)!;
      assert.equal(report.service?.fallback, true);
      const first = report.attempts[0]!;
      assert.ok(first.startMs >= 45, `first attempt at ${first.startMs} ms: it waited the Resolution Delay`);
    } finally {
      socket.destroy();
    }
  });

  test('SRV targets that are not _service._tcp names are TypeErrors', async () => {
    const dialer = new Dialer(options);
    await assert.rejects(dialer.dial('srv!www.svc.test'), /must be "_service\._tcp\.name"/);
    await assert.rejects(dialer.dial('srv!_x._udp.svc.test'), /must be "_service\._tcp\.name"/);
    await assert.rejects(
      dialer.dial({ srv: '_x._tcp.svc.test', port: 1 }),
      /takes no host, hostname or port/,
    );
  });

  test('HTTPS record port: a tls: false dial to an https: URL goes to the port the record names', async () => {
    const socket = await new Dialer(options).dial('https://www.svc.test/', { tls: false });
    try {
      assert.equal(socket.remotePort, port);
      const report = getReport(socket)!;
      assert.equal(report.service?.type, 'HTTPS');
      assert.equal(report.service?.name, 'www.svc.test');
      assert.equal(report.service?.winner?.port, port);
      assert.equal(report.service?.winner?.targetName, 'www.svc.test');
      assert.equal(report.service?.winner?.hintsUsed, false);
      assert.ok(report.resolution.queries.some((q) => q.type === 'HTTPS'));
    } finally {
      socket.destroy();
    }
  });

  test('another port than 443 asks _PORT._https.NAME; httpsRecords: false asks nothing', async () => {
    dns.resetLog();
    const dialer = new Dialer(options);
    await assert.rejects(dialer.dial(`https://www.svc.test:${dead}/`, { tls: false }));
    assert.equal(dns.queryCount(`_${dead}._https.www.svc.test`), 1);
    dns.resetLog();
    const socket = await dialer.dial(`www.svc.test:${port}`, { tls: false });
    socket.destroy();
    assert.equal(dns.queryCount(undefined, 'UNKNOWN_65'), 0, 'no HTTPS query without https: or tls');
    await assert.rejects(dialer.dial(`https://www.svc.test:${dead}/`, { tls: false, httpsRecords: false }));
    assert.equal(dns.queryCount(undefined, 'UNKNOWN_65'), 0, 'httpsRecords: false');
    // Names the hosts file has, and custom resolvers, are answered without DNS: no HTTPS query either.
    const dir = mkdtempSync(join(tmpdir(), 'netdial-svc-'));
    try {
      writeFileSync(join(dir, 'hosts'), '127.0.0.2 www.svc.test\n');
      const withHosts = new Dialer({ ...options, hostsPath: join(dir, 'hosts') });
      await assert.rejects(withHosts.dial('https://www.svc.test/', { tls: false, timeout: 2000 }));
      const custom = new Dialer(options);
      await assert.rejects(
        custom.dial('https://www.svc.test/', {
          tls: false,
          timeout: 2000,
          resolver: async () => ['127.0.0.2'],
        }),
      );
      assert.equal(dns.queryCount(undefined, 'UNKNOWN_65'), 0, 'hosts file and custom resolver');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an HTTPS query that timed out is kept for errorTtlSeconds: the next dials neither ask nor wait (RFC 9520 §3)', async () => {
    const name = `_${port}._https.dropped.svc.test`;
    for (const [errorTtlSeconds, expected] of [
      [undefined, 1],
      [0, 4],
    ] as const) {
      dns.resetLog();
      const dialer = new Dialer({ ...options, dnsTimeoutMs: 200, memory: { dns: { errorTtlSeconds } } });
      (await dialer.dial(`https://dropped.svc.test:${port}/`, { tls: false })).destroy();
      await new Promise((r) => setTimeout(r, 400)); // the query times out (200 ms, one try)
      for (let i = 0; i < 3; i++) {
        const socket = await dialer.dial(`https://dropped.svc.test:${port}/`, { tls: false });
        const report = getReport(socket)!;
        socket.destroy();
        const https = report.resolution.queries.find((q) => q.type === 'HTTPS')!;
        if (errorTtlSeconds === undefined) {
          assert.deepEqual(
            [https.source, https.code, report.service?.code],
            ['cache', 'ETIMEOUT', 'ETIMEOUT'],
          );
          assert.equal(report.attempts[0]!.trigger, 'first');
        } else {
          assert.equal(https.source, 'dns', 'errorTtlSeconds 0: asked again');
          // Dials while a query is out share it: let it time out (200 ms) before the next dial.
          await new Promise((r) => setTimeout(r, 300));
        }
      }
      assert.equal(dns.queryCount(name, 'UNKNOWN_65'), expected, `errorTtlSeconds ${errorTtlSeconds}`);
    }
  });

  test('HTTPS answers are cached by a Dialer with memory, never by one without', async () => {
    for (const [memory, expected] of [
      [true, 1],
      [false, 2],
    ] as const) {
      dns.resetLog();
      const dialer = new Dialer({ ...options, memory });
      for (let i = 0; i < 2; i++) (await dialer.dial('https://www.svc.test/', { tls: false })).destroy();
      assert.equal(dns.queryCount('www.svc.test', 'UNKNOWN_65'), expected, `memory: ${memory}`);
    }
  });

  test('hints connect long before a slow A answer (RFC 9460 §7.3)', async () => {
    const t0 = performance.now();
    const socket = await new Dialer(options).dial('https://hinted.svc.test/', { tls: false });
    try {
      assert.ok(performance.now() - t0 < 2000, 'did not wait for the 3 s A answer');
      const report = getReport(socket)!;
      assert.equal(report.service?.winner?.hintsUsed, true);
      assert.equal(socket.remotePort, port);
    } finally {
      socket.destroy();
    }
  });

  test('the address policy screens hints and record targets like any address', async () => {
    // svc-hints' hint and A are 127.0.0.2: denied, the dial has nothing to try and says why.
    await assert.rejects(
      new Dialer({ ...options, policy: { deny: ['127.0.0.2/32'] } }).dial('https://hinted.svc.test/', {
        tls: false,
        timeout: 5000,
      }),
      (e: DialError) => {
        assert.equal(e.code, 'ERR_NETDIAL_DENIED');
        assert.equal(e.attempts.filter((a) => a.phase === 'tcp').length, 0);
        return true;
      },
    );
    // SRV: the denied priority-20 target leaves only the refused priority-10 one.
    await assert.rejects(
      new Dialer({ ...options, policy: { deny: ['127.0.0.3/32'] } }).dial('srv!_db._tcp.svc.test'),
      (e: DialError) => {
        assert.deepEqual(
          e.attempts.filter((a) => a.phase === 'tcp').map((a) => a.address),
          ['127.0.0.5'],
        );
        assert.ok(e.attempts.some((a) => a.phase === 'policy'));
        return true;
      },
    );
  });

  test('AliasMode chain apex -> cdn: the cdn record and its addresses; a loop falls back to the origin', async () => {
    const dialer = new Dialer(options);
    const socket = await dialer.dial('https://apex.svc.test/', { tls: false });
    try {
      assert.equal(socket.remoteAddress, '127.0.0.3');
      assert.equal(socket.remotePort, port2);
      const service = getReport(socket)!.service!;
      assert.deepEqual(service.aliasChain, ['cdn.svc.test']);
      assert.equal(service.winner?.targetName, 'cdn.svc.test');
    } finally {
      socket.destroy();
    }
    const looped = dialer.dial('https://loop.svc.test/', { tls: false, timeout: 3000 });
    // The origin's fallback is port 443 on 127.0.0.2: refused on loopback, so the dial fails — but it tried it.
    await assert.rejects(looped, (e: DialError) => {
      const service = e.report?.service;
      assert.equal(service?.code, 'EBADRESP');
      assert.deepEqual(
        e.attempts.filter((a) => a.phase === 'tcp').map((a) => [a.address, a.port]),
        [['127.0.0.2', 443]],
      );
      return true;
    });
  });

  test('ALPN: the caller’s list intersected with the record’s; an empty intersection skips the record', async () => {
    const socket = await new Dialer(options).dial('https://alpn.svc.test/', {
      tls: { ALPNProtocols: ['h2', 'http/1.1'], rejectUnauthorized: false, servername: 'www.svc.test' },
    });
    try {
      assert.equal((socket as tls.TLSSocket).alpnProtocol, 'h2');
      const service = getReport(socket)!.service!;
      assert.match(service.records[0]?.skipped ?? '', /no ALPN in common/);
      assert.deepEqual(service.winner?.alpn, ['h2']);
      assert.equal(service.winner?.targetName, 'tls.svc.test');
      assert.equal(getReport(socket)?.tls?.alpnProtocol, 'h2');
    } finally {
      socket.destroy();
    }
  });
});
