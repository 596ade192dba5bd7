/**
 * Renumbering under a dial, with real sockets on loopback and the lab's DNS server on 127.0.0.1: a stale
 * answer (or an HTTPS record's hint) names a blackholed address (a listener whose accept queue is full:
 * SYNs go unanswered), its refresh (the target's real A) names only another. That address starts the
 * moment the answer is in, not one Connection Attempt Delay after the blackholed attempt (RFC 8305 §6,
 * RFC 9460 §7.3; race.ts `refreshed`, `answer`).
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { Dialer, getReport } from '../src/index.js';
import { type Blackhole, startBlackhole } from './support/blackhole.js';
import { closeServer, listen, trackConnections } from './support/servers.js';

describe('renumbering away from a blackholed address (loopback)', () => {
  const live = trackConnections(net.createServer((s) => s.resume()));
  let hole: Blackhole;
  let dns: LabDnsServer;

  before(async () => {
    hole = await startBlackhole({ hosts: ['127.0.0.9'], lifetimeMs: 60_000 });
    await listen(live, '127.0.0.3', hole.port);
    dns = await startLoopbackDns(
      {
        'ren.so.test': { A: ['127.0.0.9'], AAAA: [], ttl: 1 },
        // An HTTPS record whose hint is the blackholed address; the real A (another address) comes 300 ms late.
        'hinted.so.test': {
          A: ['127.0.0.3'],
          AAAA: [],
          delayMs: { A: 300 },
          HTTPS: [{ priority: 1, targetName: '.', params: { port: hole.port, ipv4hint: ['127.0.0.9'] } }],
        },
      },
      'so.test',
    );
  });
  after(async () => {
    await Promise.all([closeServer(live), hole?.close(), dns?.close()]);
  });

  test('the refresh lists only the new address: it starts at once, beside the blackholed attempt', async () => {
    const dialer = new Dialer({
      resolver: 'dns',
      nameservers: [`127.0.0.1:${dns.port}`],
      hostsPath: null,
      dnsTries: 1,
      dnsTimeoutMs: 2000,
      attemptDelay: 1000,
    });
    // The cache learns 127.0.0.9 (TTL 1 s); the name then moves to 127.0.0.3, answered 30 ms late.
    await dialer.resolve('ren.so.test');
    dns.update('ren.so.test', { A: ['127.0.0.3'], AAAA: [], ttl: 1, delayMs: { A: 30, AAAA: 30 } });
    await new Promise((r) => setTimeout(r, 1200));
    const socket = await dialer.dial(`ren.so.test:${hole.port}`, { timeout: 5000 });
    try {
      const report = getReport(socket)!;
      const a = report.resolution.queries.filter((q) => q.type === 'A');
      assert.deepEqual(
        a.map((q) => q.source),
        ['stale', 'dns'],
        'the stale answer raced while the refresh ran',
      );
      assert.deepEqual(
        report.attempts.map((x) => [x.address, x.outcome, x.trigger]),
        [
          ['127.0.0.9', 'cancelled', 'first'],
          ['127.0.0.3', 'connected', 'answer'],
        ],
      );
      const refreshEnd = a[1]!.endMs!;
      // Started with the refresh (after its source-address probe), not 1 s (the attempt delay) after 127.0.0.9.
      assert.ok(
        report.attempts[1]!.startMs - refreshEnd < 500,
        `new address started ${report.attempts[1]!.startMs - refreshEnd} ms after the refresh`,
      );
    } finally {
      socket.destroy();
    }
  });

  test('a blackholed hint in flight, the real A lacks it: the real address starts at once (RFC 9460 §7.3)', async () => {
    const dialer = new Dialer({
      resolver: 'dns',
      nameservers: [`127.0.0.1:${dns.port}`],
      hostsPath: null,
      dnsTries: 1,
      dnsTimeoutMs: 2000,
      attemptDelay: 1000,
    });
    const socket = await dialer.dial('https://hinted.so.test/', { tls: false, timeout: 5000 });
    try {
      const report = getReport(socket)!;
      assert.deepEqual(
        report.attempts.map((x) => [x.address, x.port, x.outcome, x.trigger]),
        [
          ['127.0.0.9', hole.port, 'cancelled', 'first'],
          ['127.0.0.3', hole.port, 'connected', 'answer'],
        ],
      );
      assert.equal(report.service?.winner?.hintsUsed, false);
      const a = report.resolution.queries.find((q) => q.type === 'A')!;
      assert.ok(
        report.attempts[1]!.startMs - a.endMs! < 500,
        `the real address started ${report.attempts[1]!.startMs - a.endMs!} ms after its answer`,
      );
    } finally {
      socket.destroy();
    }
  });
});
