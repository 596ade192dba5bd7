/**
 * Environment-matrix rows of issue 11 owned by the nsswitch and NAT64 work, on real namespaces: a private
 * nsswitch.conf whose `hosts:` line has `myhostname` (bind-mounted in the lab's mount namespace, so
 * getaddrinfo reads it too), and an IPv6-only client with a NAT64 prefix.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { test } from 'node:test';
import { DEFAULT_ZONE, enterLab, LAB, type Lab, withLab } from '../lab/index.js';
import { Dialer, getReport, isDialError } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';

const { good } = LAB.addresses;
const PORT = LAB.ports.discard;

/** RFC 6052 §2.2 /96 address of good.v4[0] (203.0.113.1) under the well-known prefix 64:ff9b::/96. */
const SYNTHESISED = '64:ff9b::cb00:7101';

/**
 * Puts SYNTHESISED on the router's loopback with a TCP listener on PORT — standing in for the NAT64
 * translator, which would carry the connection on to 203.0.113.1 — and runs `body`; the listener process
 * is killed by its PID afterwards, also on failure.
 */
async function withTranslatorStandIn(lab: Lab, body: () => Promise<void>): Promise<void> {
  await lab.execInRouter('ip', ['-6', 'addr', 'add', `${SYNTHESISED}/128`, 'dev', 'lo']);
  const script = `require('node:net').createServer((s) => s.resume()).listen(${PORT}, '${SYNTHESISED}', () => console.log('ready'));`;
  const child = spawn('nsenter', ['-t', String(lab.routerPid), '-n', '--', process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
    assert.match(chunk.toString(), /ready/);
    await body();
  } finally {
    const exited = once(child, 'exit');
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    await exited;
  }
}

if (await enterLab(import.meta.url)) {
  test('nsswitch "hosts: files myhostname dns": the machine\'s own name goes to the system resolver, others to netdial', async () => {
    const hostname = os.hostname().toLowerCase();
    await withLab(
      DEFAULT_ZONE,
      async (lab) => {
        const baseline = activeResources();
        const dialer = new Dialer({ memory: false });
        // The machine's host name: only getaddrinfo can run myhostname; files (first) answers it here.
        const own = await dialer.dial(`${hostname}:${PORT}`);
        const ownReport = getReport(own)!;
        own.destroy();
        assert.equal(ownReport.resolution.path?.resolver, 'system');
        assert.match(ownReport.resolution.path?.reason ?? '', /myhostname answers it .*host name/);
        assert.ok(ownReport.resolution.queries.length > 0);
        assert.ok(ownReport.resolution.queries.every((q) => q.source === 'system'));
        assert.equal(ownReport.winner?.address, good.v4[2]);
        // Any other name: netdial's own resolver, hosts file then DNS, as the line orders them.
        const other = await dialer.dial(`one-good.lab.test:${PORT}`);
        const otherReport = getReport(other)!;
        other.destroy();
        assert.deepEqual(otherReport.resolution.path?.resolver, 'netdial');
        assert.equal(otherReport.resolution.path?.order, 'files-dns');
        assert.ok(otherReport.resolution.queries.every((q) => q.source === 'dns'));
        assert.equal(lab.dns.queryCount('one-good.lab.test', 'AAAA'), 1);
        assert.equal(lab.dns.queryCount(hostname), 0, 'DNS was not asked for the own name by netdial');
        await assertNoLeaks(baseline);
      },
      { nsswitchHosts: 'files myhostname dns', hosts: { [hostname]: good.v4[2] } },
    );
  });

  test('IPv6-only with NAT64 64:ff9b::/96 discovered per RFC 7050: an IPv4 literal and an A-only name connect through the synthesised address', async () => {
    const zone = {
      ...DEFAULT_ZONE,
      'ipv4only.arpa': { AAAA: ['64:ff9b::c000:aa', '64:ff9b::c000:ab'], ttl: 600 },
    };
    await withLab(
      zone,
      (lab) =>
        withTranslatorStandIn(lab, async () => {
          const baseline = activeResources();
          const dialer = new Dialer({ memory: false });
          const literal = await dialer.dial(`${good.v4[0]}:${PORT}`);
          const report = getReport(literal)!;
          literal.destroy();
          assert.equal(report.winner?.address, SYNTHESISED);
          assert.deepEqual(report.resolution.nat64, {
            prefix: '64:ff9b::/96',
            synthesized: [{ ipv4: good.v4[0], ipv6: SYNTHESISED }],
          });
          assert.deepEqual(
            report.attempts.map((a) => [a.address, a.outcome]),
            [[SYNTHESISED, 'connected']],
          );
          // An A-only name: no AAAA (no DNS64 here), the A record goes through the same prefix.
          const name = await dialer.dial(`a-only.lab.test:${PORT}`);
          assert.equal(getReport(name)?.winner?.address, SYNTHESISED);
          name.destroy();
          // Discovery asked once; the prefix is remembered for the answer's TTL.
          assert.equal(lab.dns.queryCount('ipv4only.arpa', 'AAAA'), 1);
          // Dialer#resolve shows the same decision.
          const resolved = await dialer.resolve(good.v4[0]);
          assert.deepEqual(
            resolved.addresses.map((a) => a.address),
            [SYNTHESISED],
          );
          assert.equal(resolved.nat64?.prefix, '64:ff9b::/96');
          await assertNoLeaks(baseline);
        }),
      { clientIpv4: false },
    );
  });

  test('IPv6-only with NAT64: a configured prefix needs no discovery; null turns NAT64 off', async () => {
    await withLab(
      DEFAULT_ZONE,
      (lab) =>
        withTranslatorStandIn(lab, async () => {
          const configured = new Dialer({ memory: false, nat64Prefix: '64:ff9b::/96' });
          const socket = await configured.dial(`${good.v4[0]}:${PORT}`);
          assert.equal(getReport(socket)?.winner?.address, SYNTHESISED);
          socket.destroy();
          assert.equal(lab.dns.queryCount('ipv4only.arpa'), 0, 'no discovery query with a configured prefix');
          // The address policy judges the synthesised address too: denying the prefix refuses NAT64.
          const denied = await configured
            .dial(`${good.v4[0]}:${PORT}`, {
              policy: { deny: ['64:ff9b::/96'] },
              redactDeniedAddresses: false,
            })
            .then(
              () => assert.fail('connected through a denied prefix'),
              (e: unknown) => e,
            );
          assert.ok(isDialError(denied));
          assert.deepEqual(
            denied.attempts.map((a) => [a.address, a.phase, a.code]),
            [[SYNTHESISED, 'policy', 'ERR_NETDIAL_DENIED']],
          );
          // No prefix discoverable here (ipv4only.arpa is NXDOMAIN): the IPv4 attempt fails as the kernel says.
          for (const nat64Prefix of [null, undefined]) {
            const err = await new Dialer({ memory: false, nat64Prefix }).dial(`${good.v4[0]}:${PORT}`).then(
              () => assert.fail('connected without NAT64'),
              (e: unknown) => e,
            );
            assert.ok(isDialError(err));
            assert.equal(err.code, 'ENETUNREACH');
            assert.deepEqual(
              err.attempts.map((a) => a.address),
              [good.v4[0]],
            );
          }
          assert.equal(lab.dns.queryCount('ipv4only.arpa', 'AAAA'), 1, 'discovery only without nat64Prefix');
          // A DNS server that never answers holds the dial for one short try (1 s), not resolv.conf's 2 × 5 s.
          await lab.dns.stop({ mode: 'silent' });
          lab.dns.resetLog();
          const started = performance.now();
          const silent = await new Dialer({ memory: false }).dial(`${good.v4[0]}:${PORT}`).then(
            () => assert.fail('connected without NAT64'),
            (e: unknown) => e,
          );
          const elapsedMs = performance.now() - started;
          assert.ok(isDialError(silent));
          assert.equal(silent.code, 'ENETUNREACH');
          assert.equal(lab.dns.queryCount('ipv4only.arpa', 'AAAA'), 1, 'one try');
          assert.ok(elapsedMs >= 900 && elapsedMs < 4000, `the dial took ${elapsedMs} ms`);
        }),
      { clientIpv4: false },
    );
  });
}
