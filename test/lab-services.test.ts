/**
 * Service records in the network lab (real namespaces, the lab's DNS server, blackholed prefixes): HTTPS
 * hints connecting before slow A/AAAA answers, an AliasMode chain, priority 1 blackholed → priority 2
 * within about one attempt delay, the port from the record, SRV priority failover, SRV weights over many
 * dials (seeded), and "no service". (ALPN intersection runs over real TLS on loopback in dial-services;
 * the lab's TLS listeners are issue #17's TLS half.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ZONE, enterLab, LAB, withLab } from '../lab/index.js';
import { Dialer, type DialerOptions, type DialError, getReport } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';

const { good, blackholed } = LAB.addresses;
const PORT = LAB.ports.discard;

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Runs the CLI with stdin closed at once; killed by PID after 20 s. */
function runCli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => {});
  child.stdin.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

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

  test('CLI: netdial srv!… connects; trace and resolve show the records and their buckets', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const nc = await runCli(['-v', '--no-memory', 'srv!_discard._tcp.lab.test']);
      assert.equal(nc.code, 0, nc.stderr);
      assert.match(nc.stderr, new RegExp(`\\[${good.v6[6]}\\]:${PORT}`));

      const trace = await runCli(['trace', '--no-memory', 'srv!_discard._tcp.lab.test']);
      assert.equal(trace.code, 0, trace.stderr);
      // trace prints to stderr (stdout carries the connection's data).
      assert.match(trace.stderr, /^connect srv!_discard\._tcp\.lab\.test: connected to /);
      assert.match(trace.stderr, /service records\n {2}SRV _discard\._tcp\.lab\.test/);
      assert.match(trace.stderr, /bucket 0 +srv-dead\.lab\.test:9 +priority 10/);
      assert.match(trace.stderr, /bucket 1 +srv-live\.lab\.test:9 +priority 20/);
      assert.match(trace.stderr, /winner priority 20 srv-live\.lab\.test:9/);

      const resolved = await runCli(['resolve', 'https://svc-priority.lab.test/']);
      assert.equal(resolved.code, 0, resolved.stderr);
      assert.match(resolved.stdout, /bucket 0 +svc-p1\.lab\.test:9 +priority 1/);
      assert.match(resolved.stdout, /bucket 1 +svc-p2\.lab\.test:9 +priority 2/);
      // Rows: bucket 0's blackholed address, bucket 1's good one, then the name's own at 443.
      const rows = resolved.stdout.split('\n').filter((l) => /^ {2}\d+ /.test(l));
      assert.deepEqual(
        rows.map((l) => l.trim().split(/\s+/).slice(1, 4)),
        [
          ['0', blackholed.v6[4], String(PORT)],
          ['1', good.v6[4], String(PORT)],
          ['fallback', good.v6[5], '443'],
          ['fallback', good.v4[5], '443'],
        ],
      );

      const json = await runCli(['resolve', '--json', 'srv!_weighted._tcp.lab.test']);
      assert.equal(json.code, 0, json.stderr);
      const parsed = JSON.parse(json.stdout) as { service: { type: string; records: unknown[] } };
      assert.equal(parsed.service.type, 'SRV');
      assert.equal(parsed.service.records.length, 2);
    });
  });
}
