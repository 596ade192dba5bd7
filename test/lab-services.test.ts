/**
 * Service records in the network lab (real namespaces, the lab's DNS server, blackholed prefixes): HTTPS
 * hints connecting before slow A/AAAA answers, an AliasMode chain, priority 1 blackholed → priority 2
 * within about one attempt delay, the port from the record, SRV priority failover, SRV weights over many
 * dials (seeded), and "no service". (ALPN intersection runs over real TLS on loopback in dial-services;
 * the lab's TLS listeners are issue #17's TLS half.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_ZONE, enterLab, LAB, withLab } from '../lab/index.js';
import { Dialer, type DialerOptions, type DialError, getReport } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';

const { good, blackholed } = LAB.addresses;
const PORT = LAB.ports.discard;

function fresh(options: DialerOptions = {}): Dialer {
  return new Dialer({ memory: false, resolver: 'dns', ...options });
}

if (await enterLab(import.meta.url)) {
  test('HTTPS hints connect long before the slow A/AAAA answers (RFC 9460 §7.3); port from the record', async () => {
    await withLab(DEFAULT_ZONE, async (lab) => {
      const baseline = activeResources();
      const t0 = performance.now();
      const socket = await fresh().dial('https://svc-hints.lab.test/', { tls: false });
      const ms = performance.now() - t0;
      try {
        const report = getReport(socket)!;
        assert.equal(report.winner?.address, good.v6[2]);
        assert.equal(report.winner?.port, PORT);
        assert.equal(report.service?.winner?.hintsUsed, true);
        assert.ok(ms < 1000, `took ${ms} ms; the A/AAAA answers take 1500 ms`);
        assert.equal(lab.dns.queryCount('svc-hints.lab.test', 'UNKNOWN_65'), 1);
      } finally {
        socket.destroy();
      }
      // The A/AAAA queries still out finish (1500 ms) and are gone: nothing else is left.
      await new Promise((r) => setTimeout(r, 1700));
      await assertNoLeaks(baseline);
    });
  });

  test('HTTPS port from the record: https (443) goes to port 9', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const socket = await fresh().dial('https://svc-port.lab.test/', { tls: false });
      try {
        assert.equal(socket.remotePort, PORT);
        assert.deepEqual(getReport(socket)?.service?.winner?.port, PORT);
      } finally {
        socket.destroy();
      }
    });
  });

  test('AliasMode chain of two: svc-alias -> svc-alias2 -> svc-port, its addresses and port', async () => {
    await withLab(DEFAULT_ZONE, async (lab) => {
      const socket = await fresh().dial('https://svc-alias.lab.test/', { tls: false });
      try {
        const service = getReport(socket)!.service!;
        assert.deepEqual(service.aliasChain, ['svc-alias2.lab.test', 'svc-port.lab.test']);
        assert.equal(service.winner?.targetName, 'svc-port.lab.test');
        assert.equal(socket.remotePort, PORT);
        assert.equal(socket.remoteAddress, good.v6[0]);
        assert.equal(lab.dns.queryCount('svc-port.lab.test', 'UNKNOWN_65'), 1);
      } finally {
        socket.destroy();
      }
    });
  });

  test('priority 1 target blackholed: priority 2 starts about one attempt delay later and wins', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const baseline = activeResources();
      const t0 = performance.now();
      const socket = await fresh().dial('https://svc-priority.lab.test/', { tls: false });
      const ms = performance.now() - t0;
      try {
        const report = getReport(socket)!;
        assert.deepEqual(
          report.attempts.map((a) => [a.address, a.port, a.outcome, a.trigger]),
          [
            [blackholed.v6[4], PORT, 'cancelled', 'first'],
            [good.v6[4], PORT, 'connected', 'delay'],
          ],
        );
        const second = report.attempts[1]!.startMs - report.attempts[0]!.startMs;
        assert.ok(second >= 240 && second < 600, `priority 2 started ${second} ms after priority 1`);
        assert.ok(ms < 1500, `took ${ms} ms`);
        assert.equal(report.service?.winner?.priority, 2);
      } finally {
        socket.destroy();
      }
      await assertNoLeaks(baseline);
    });
  });

  test('SRV priority failover: priority 10 blackholed, priority 20 wins one attempt delay later', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const t0 = performance.now();
      const socket = await fresh().dial('srv!_discard._tcp.lab.test');
      const ms = performance.now() - t0;
      try {
        const report = getReport(socket)!;
        assert.deepEqual(
          report.attempts.map((a) => [a.address, a.port, a.outcome]),
          [
            [blackholed.v6[5], PORT, 'cancelled'],
            [good.v6[6], PORT, 'connected'],
          ],
        );
        assert.ok(ms < 1500, `took ${ms} ms`);
        assert.equal(report.service?.winner?.targetName, 'srv-live.lab.test');
      } finally {
        socket.destroy();
      }
    });
  });

  test('SRV failure memory: the next dial of the same Dialer goes to the live target first (deviation from strict priority)', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const dialer = new Dialer({ resolver: 'dns', memory: { seed: 1 } });
      (await dialer.dial('srv!_discard._tcp.lab.test')).destroy();
      const t0 = performance.now();
      const socket = await dialer.dial('srv!_discard._tcp.lab.test');
      const ms = performance.now() - t0;
      try {
        const attempts = getReport(socket)!.attempts;
        assert.deepEqual(
          attempts.map((a) => a.address),
          [good.v6[6]],
        );
        assert.ok(ms < 240, `took ${ms} ms`);
      } finally {
        socket.destroy();
      }
    });
  });

  test('SRV weights 30:10 over 300 dials (seeded): about 3 in 4 go to the heavy target', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const dialer = new Dialer({ resolver: 'dns', memory: { seed: 17 } });
      let heavy = 0;
      const dials = 300;
      for (let i = 0; i < dials; i++) {
        const socket = await dialer.dial('srv!_weighted._tcp.lab.test');
        if (socket.remoteAddress === good.v4[6]) heavy++;
        else assert.equal(socket.remoteAddress, good.v4[7]);
        socket.destroy();
      }
      // RFC 2782: P(heavy first) = 30/41 ≈ 0.73 (the draw is in [0, 40]); ±0.1 is over 3.8 standard deviations.
      const share = heavy / dials;
      assert.ok(Math.abs(share - 30 / 41) < 0.1, `heavy target got ${heavy} of ${dials}`);
    });
  });

  test('SRV "no service": ERR_NETDIAL_NO_SERVICE, no connection attempt', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      await assert.rejects(fresh().dial('srv!_none._tcp.lab.test'), (e: DialError) => {
        assert.equal(e.code, 'ERR_NETDIAL_NO_SERVICE');
        assert.equal(e.attempts.filter((a) => a.phase === 'tcp').length, 0);
        return true;
      });
    });
  });
}
