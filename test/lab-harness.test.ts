/**
 * Self-test of the network lab: every condition proven with plain node:net / node:dns (not netdial), the
 * DNS server's behaviours as Node's resolver reports them, the system resolver pointed at the lab, the
 * entry paths (re-exec counted by the runner, skip, CI failure) and that a lab leaves nothing behind.
 */
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';
import { labHelpText, parseLabCliArgs } from '../lab/cli-args.js';
import { PRIVATE_COPY_PREFIX } from '../lab/system-files.js';
import { clientSetupBatch, routerSetupBatches } from '../lab/topology.js';
import {
  chooseSlowPathDelayMs,
  DEFAULT_ZONE,
  decideAnswer,
  decideLabEntry,
  enterLab,
  LAB,
  type Lab,
  type LabOptions,
  labUnavailableReason,
  planResponse,
  renderHosts,
  renderResolvConf,
  runCommand,
  SCENARIOS,
  type SoaSettings,
  validateZone,
  withLab,
  type Zone,
} from '../lab/index.js';

type Attempt = { outcome: 'connect' } | { outcome: 'error'; code: string } | { outcome: 'timeout' };

/** One TCP connect with a bounded wait; the socket is always destroyed. */
function attempt(host: string, port: number, boundMs: number): Promise<Attempt & { ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (result: Attempt): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...result, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout' }), boundMs);
    socket.once('connect', () => finish({ outcome: 'connect' }));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      finish({ outcome: 'error', code: error.code ?? '?' }),
    );
  });
}

/** Reads a whole file through an open handle from offset 0 (the handle's inode, whatever is mounted now). */
async function readWhole(handle: FileHandle): Promise<string> {
  const { size } = await handle.stat();
  const buffer = Buffer.alloc(size + 1);
  const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
  return buffer.subarray(0, bytesRead).toString('utf8');
}

function resolver(options: { timeout?: number; tries?: number } = {}): dns.promises.Resolver {
  const r = new dns.promises.Resolver({ timeout: options.timeout ?? 1000, tries: options.tries ?? 1 });
  r.setServers([LAB.dnsServer.host]);
  return r;
}

async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'no code';
  }
  return 'resolved';
}

const good = LAB.addresses.good;
const SOA: SoaSettings = { apex: 'lab.test', minimumSeconds: 30, serial: 7 };
const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

if (await enterLab(import.meta.url)) {
  describe('pure parts', () => {
    test('entry decision: inside, re-exec, skip, fail on CI', () => {
      const cases = [
        { inside: true, unavailableReason: 'x', ci: true, want: { action: 'inside' } },
        { inside: false, unavailableReason: undefined, ci: false, want: { action: 'reexec' } },
        { inside: false, unavailableReason: undefined, ci: true, want: { action: 'reexec' } },
        {
          inside: false,
          unavailableReason: 'no root',
          ci: false,
          want: { action: 'skip', reason: 'no root' },
        },
        {
          inside: false,
          unavailableReason: 'no root',
          ci: true,
          want: { action: 'fail', reason: 'no root (CI=true requires the lab)' },
        },
      ];
      for (const { want, ...facts } of cases)
        assert.deepEqual(decideLabEntry(facts), want, JSON.stringify(facts));
    });

    test('slow path delay choice: explicit, disabled, default only with Python', () => {
      assert.equal(chooseSlowPathDelayMs(false, true), undefined);
      assert.equal(chooseSlowPathDelayMs(150, false), 150);
      assert.equal(chooseSlowPathDelayMs(undefined, true), 400);
      assert.equal(chooseSlowPathDelayMs(undefined, false), undefined);
    });

    test('lab availability: Linux, root and a working probe', () => {
      assert.match(
        labUnavailableReason({ platform: 'darwin', uid: 0, probeError: undefined }) ?? '',
        /Linux/,
      );
      assert.match(
        labUnavailableReason({ platform: 'linux', uid: 1000, probeError: undefined }) ?? '',
        /root.*1000/,
      );
      assert.match(labUnavailableReason({ platform: 'linux', uid: 0, probeError: 'EPERM' }) ?? '', /EPERM/);
      assert.equal(labUnavailableReason({ platform: 'linux', uid: 0, probeError: undefined }), undefined);
    });

    test('zone decisions: answers, negative answers with SOA, failures, CNAME chase, delays', () => {
      const zone: Zone = {
        'a.lab.test': {
          A: ['203.0.113.1', '203.0.113.2'],
          AAAA: ['2001:db8:1::1'],
          ttl: 5,
          delayMs: { AAAA: 40 },
        },
        'v4.lab.test': { A: ['203.0.113.3'] },
        'f.lab.test': { A: ['203.0.113.1'], fail: { A: 'SERVFAIL', AAAA: 'DROP' } },
        'n.lab.test': { A: ['203.0.113.1'], fail: { A: 'NXDOMAIN', AAAA: 'NODATA' } },
        'r.lab.test': { fail: { A: 'REFUSED' } },
        'c.lab.test': { CNAME: 'A.lab.test.', delayMs: { AAAA: 10 } },
        'deep.sub.lab.test': { A: ['203.0.113.4'] },
      };
      const cases: {
        q: [string, string];
        rcode?: string;
        data?: string[];
        soa?: boolean;
        delayMs?: number;
        drop?: true;
      }[] = [
        {
          q: ['a.lab.test', 'A'],
          rcode: 'NOERROR',
          data: ['203.0.113.1', '203.0.113.2'],
          soa: false,
          delayMs: 0,
        },
        { q: ['A.Lab.Test.', 'AAAA'], rcode: 'NOERROR', data: ['2001:db8:1::1'], soa: false, delayMs: 40 },
        { q: ['v4.lab.test', 'AAAA'], rcode: 'NOERROR', data: [], soa: true },
        { q: ['v4.lab.test', 'TXT'], rcode: 'NOERROR', data: [], soa: true },
        { q: ['missing.lab.test', 'A'], rcode: 'NXDOMAIN', data: [], soa: true },
        { q: ['sub.lab.test', 'A'], rcode: 'NOERROR', data: [], soa: true },
        { q: ['f.lab.test', 'A'], rcode: 'SERVFAIL', data: [], soa: false },
        { q: ['f.lab.test', 'AAAA'], drop: true },
        { q: ['n.lab.test', 'A'], rcode: 'NXDOMAIN', data: [], soa: true },
        { q: ['n.lab.test', 'AAAA'], rcode: 'NOERROR', data: [], soa: true },
        { q: ['r.lab.test', 'A'], rcode: 'REFUSED', data: [], soa: false },
        { q: ['c.lab.test', 'AAAA'], rcode: 'NOERROR', data: ['a.lab.test', '2001:db8:1::1'], delayMs: 50 },
        { q: ['c.lab.test', 'CNAME'], rcode: 'NOERROR', data: ['a.lab.test'] },
      ];
      for (const c of cases) {
        const d = decideAnswer(validateZone(zone), c.q[0], c.q[1], SOA);
        const label = c.q.join(' ');
        if (c.drop) {
          assert.equal(d.kind, 'drop', label);
          continue;
        }
        assert.equal(d.kind, 'answer', label);
        if (d.kind !== 'answer') continue;
        assert.equal(d.rcode, c.rcode, label);
        assert.deepEqual(
          d.answers.map((a) => (a as { data: string }).data),
          c.data,
          label,
        );
        if (c.soa !== undefined)
          assert.equal(d.authority.length === 1 && d.authority[0]?.type === 'SOA', c.soa, label);
        if (c.delayMs !== undefined) assert.equal(d.delayMs, c.delayMs, label);
      }
      const nx = decideAnswer(zone, 'missing.lab.test', 'A', SOA);
      assert.ok(nx.kind === 'answer');
      assert.deepEqual(nx.authority[0], {
        type: 'SOA',
        name: 'lab.test',
        ttl: 30,
        data: {
          mname: 'ns.lab.test',
          rname: 'hostmaster.lab.test',
          serial: 7,
          refresh: 3600,
          retry: 600,
          expire: 86400,
          minimum: 30,
        },
      });
      const outside = decideAnswer(zone, 'example.invalid', 'A', SOA);
      assert.ok(outside.kind === 'answer' && outside.authority[0]?.name === '.');
    });

    test('responses: ID, question and RD copied, AA set, EDNS OPT echoed, UDP truncation', () => {
      const zone: Zone = {
        'big.lab.test': { A: Array.from({ length: 40 }, (_, i) => `198.51.100.${i + 1}`) },
        't.lab.test': { A: ['203.0.113.1'], truncate: true },
      };
      const query = (name: string, edns: boolean): Buffer =>
        dnsPacket.encode({
          type: 'query',
          id: 4242,
          flags: dnsPacket.RECURSION_DESIRED,
          questions: [{ type: 'A', name }],
          additionals: edns
            ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0 } as unknown as dnsPacket.Answer]
            : [],
        });
      const decode = (raw: Buffer): dnsPacket.DecodedPacket => dnsPacket.decode(raw);
      const classic = decode(planResponse(query('Big.lab.test', false), zone, 'udp', SOA).response!);
      assert.equal(classic.id, 4242);
      assert.equal(classic.flag_aa, true);
      assert.equal(classic.flag_rd, true);
      assert.equal(classic.flag_tc, true, '40 A records exceed 512 bytes without EDNS');
      assert.deepEqual(classic.questions, [{ name: 'Big.lab.test', type: 'A', class: 'IN' }]);
      const edns = decode(planResponse(query('big.lab.test', true), zone, 'udp', SOA).response!);
      assert.equal(edns.flag_tc, false);
      assert.equal(edns.answers?.length, 40);
      assert.equal(edns.additionals?.[0]?.type, 'OPT');
      const truncated = decode(planResponse(query('t.lab.test', true), zone, 'udp', SOA).response!);
      assert.equal(truncated.flag_tc, true);
      assert.equal(truncated.answers?.length, 0);
      const overTcp = decode(planResponse(query('t.lab.test', true), zone, 'tcp', SOA).response!);
      assert.equal(overTcp.flag_tc, false);
      assert.equal(overTcp.answers?.length, 1);
      assert.equal(planResponse(Buffer.from([1, 2, 3]), zone, 'udp', SOA).response, undefined);
    });

    test('zone validation names the bad part', () => {
      const bad: [Zone, RegExp][] = [
        [{ 'x.lab.test': { A: ['2001:db8::1'] } }, /"x\.lab\.test": A record "2001:db8::1"/],
        [{ 'x.lab.test': { AAAA: ['203.0.113.1'] } }, /AAAA record "203\.0\.113\.1"/],
        [{ 'x.lab.test': { A: ['203.0.113.1'], ttl: -1 } }, /ttl/],
        [{ 'x.lab.test': { A: ['203.0.113.1'], delayMs: { A: Number.NaN } } }, /delayMs\.A/],
        [{ 'x.lab.test': { fail: { AAAA: 'TIMEOUT' as 'DROP' } } }, /fail\.AAAA/],
        [{ 'x.lab.test': { CNAME: 'y.lab.test', A: ['203.0.113.1'] } }, /CNAME/],
      ];
      for (const [zone, message] of bad) {
        assert.throws(
          () => validateZone(zone),
          (error: Error & { code?: string }) =>
            error instanceof TypeError &&
            error.code === 'ERR_NETDIAL_LAB_INVALID_ZONE' &&
            message.test(error.message),
        );
      }
    });

    test('resolv.conf, hosts, CLI arguments and help', () => {
      assert.equal(
        renderResolvConf({
          nameserver: '127.0.0.1',
          search: ['lab.test', 'x.test'],
          ndots: 2,
          options: ['timeout:1'],
        }),
        '# netdial lab (private to the lab mount namespace)\nnameserver 127.0.0.1\nsearch lab.test x.test\noptions ndots:2 timeout:1\n',
      );
      assert.match(
        renderHosts({ 'h.lab.test': ['203.0.113.5', '2001:db8:1::5'] }),
        /\n203\.0\.113\.5 h\.lab\.test\n2001:db8:1::5 h\.lab\.test\n$/,
      );
      assert.deepEqual(parseLabCliArgs(['--no-ipv6', 'curl', '-sv', 'http://x/']), {
        help: false,
        verbose: false,
        clientIpv4: true,
        clientIpv6: false,
        slowPathDelayMs: undefined,
        command: ['curl', '-sv', 'http://x/'],
      });
      assert.equal(parseLabCliArgs(['--slow-delay-ms', '250', 'x']).slowPathDelayMs, 250);
      assert.throws(() => parseLabCliArgs(['--slow-delay-ms', 'soon', 'x']), /--slow-delay-ms/);
      assert.deepEqual(parseLabCliArgs(['--', '--weird']).command, ['--weird']);
      assert.throws(() => parseLabCliArgs(['--bogus', 'x']), /unknown option --bogus/);
      const help = labHelpText();
      for (const s of SCENARIOS) assert.ok(help.includes(s.name), s.name);
      assert.match(clientSetupBatch(42, { ipv4: true, ipv6: false }), /netns 42\n/);
      assert.doesNotMatch(clientSetupBatch(42, { ipv4: true, ipv6: false }), /3fff/);
      for (const slow of [true, false]) {
        const batches = routerSetupBatches(slow);
        assert.equal(batches.length, slow ? 2 : 1);
        assert.doesNotMatch(batches.map((b) => b.text).join(''), /192\.0\.2\./);
        assert.equal(
          batches.some((b) => b.text.includes('198.18.1.0/24')),
          slow,
        );
      }
    });

    test('the default zone has every scenario name the tests, demo and benchmark use', () => {
      for (const label of [
        'one-good',
        'first-a-blackholed',
        'aaaa-blackholed',
        'aaaa-slow',
        'mixed-eight',
        'all-blackholed',
        'localhost-like',
        'aaaa-unreachable',
        'first-a-refused',
        'servfail-aaaa',
        'truncated',
        'short',
      ]) {
        assert.ok(DEFAULT_ZONE[`${label}.lab.test`], label);
      }
      const eight = DEFAULT_ZONE['mixed-eight.lab.test']?.A ?? [];
      assert.equal(eight.length, 8);
      assert.equal(eight.filter((a) => (good.v4 as readonly string[]).includes(a)).length, 3);
    });
  });

  describe('network conditions (plain node:net)', () => {
    test('good: connects on both families; echo echoes; http answers with the server address', async () => {
      await withLab(DEFAULT_ZONE, async (lab) => {
        for (const address of [good.v4[0], good.v6[0]]) {
          const echoed = await new Promise<string>((resolve, reject) => {
            const socket = net.connect({ host: address, port: lab.ports.echo }, () => socket.end('ping'));
            let data = '';
            socket.setEncoding('utf8').on('data', (chunk: string) => {
              data += chunk;
            });
            socket.on('end', () => resolve(data));
            socket.on('error', reject);
          });
          assert.equal(echoed, 'ping', address);
        }
        const response = await fetch(`http://[${good.v6[1]}]:${lab.ports.http}/anything`);
        assert.equal(response.status, 200);
        assert.equal(await response.text(), `${good.v6[1]}\n`);
        const seen = await lab.serverConnections();
        assert.ok(
          seen.some(
            (c) => c.kind === 'echo' && c.localAddress === good.v4[0] && c.remoteAddress === LAB.client.v4,
          ),
          'router saw the v4 echo connection from the client source address',
        );
        assert.ok(seen.some((c) => c.kind === 'http' && c.remoteAddress === LAB.client.v6));
      });
    });

    test('refused: ECONNREFUSED after one round trip on both families', async () => {
      await withLab({}, async (lab) => {
        const results = await Promise.all([
          attempt(lab.addresses.refused.v4[0], 80, 1000),
          attempt(lab.addresses.refused.v6[0], 80, 1000),
        ]);
        for (const r of results) {
          assert.deepEqual(
            { outcome: r.outcome, code: 'code' in r ? r.code : undefined },
            { outcome: 'error', code: 'ECONNREFUSED' },
          );
          assert.ok(r.ms < 200, `refused took ${r.ms} ms`);
        }
      });
    });

    test('blackholed: no answer at all within 1.5 s on both families', async () => {
      await withLab({}, async (lab) => {
        const results = await Promise.all([
          attempt(lab.addresses.blackholed.v4[3], 80, 1500),
          attempt(lab.addresses.blackholed.v6[3], 443, 1500),
        ]);
        for (const r of results) assert.equal(r.outcome, 'timeout');
      });
    });

    test('unreachable from the network: ICMP errors (IPv4 at once, IPv6 within 3 s)', async () => {
      await withLab({}, async (lab) => {
        const [v4, v6] = await Promise.all([
          attempt(lab.addresses.unreachable.v4[0], 80, 3000),
          attempt(lab.addresses.unreachable.v6[0], 80, 3000),
        ]);
        assert.ok(
          v4?.outcome === 'error' && ['EHOSTUNREACH', 'ENETUNREACH'].includes(v4.code),
          JSON.stringify(v4),
        );
        assert.ok(v4.ms < 300, `IPv4 unreachable took ${v4.ms} ms`);
        assert.ok(
          v6?.outcome === 'error' && ['EHOSTUNREACH', 'ENETUNREACH'].includes(v6.code),
          JSON.stringify(v6),
        );
      });
    });

    test('unreachable at the client: immediate error, both families', async () => {
      await withLab({}, async (lab) => {
        for (const address of [
          lab.addresses.clientUnreachable.v4[5],
          lab.addresses.clientUnreachable.v6[5],
        ]) {
          const r = await attempt(address, 80, 1000);
          assert.ok(
            r.outcome === 'error' && ['EHOSTUNREACH', 'ENETUNREACH'].includes(r.code),
            JSON.stringify(r),
          );
          assert.ok(r.ms < 100, `${address} took ${r.ms} ms`);
        }
      });
    });

    test('slow path: each round trip gains the delay, both families; the delay can change live', async () => {
      await withLab(
        {},
        async (lab) => {
          assert.equal(lab.slowPathDelayMs, 200);
          const [v4, v6, fast] = await Promise.all([
            attempt(lab.addresses.slow.v4[0], lab.ports.echo, 2000),
            attempt(lab.addresses.slow.v6[0], lab.ports.http, 2000),
            attempt(lab.addresses.good.v4[0], lab.ports.echo, 2000),
          ]);
          for (const r of [v4, v6]) {
            assert.equal(r.outcome, 'connect');
            assert.ok(r.ms >= 195 && r.ms < 400, `slow connect took ${r.ms} ms`);
          }
          assert.ok(fast.outcome === 'connect' && fast.ms < 100, `good connect took ${fast.ms} ms`);
          lab.setSlowPathDelayMs(50);
          const changed = await attempt(lab.addresses.slow.v4[1], lab.ports.echo, 2000);
          assert.ok(
            changed.outcome === 'connect' && changed.ms >= 45 && changed.ms < 190,
            `${changed.ms} ms`,
          );
          assert.equal(lab.slowPathDelayMs, 50);
        },
        { slowPathDelayMs: 200 },
      );
    });

    test('slowPathDelayMs: false runs no delay line; slow addresses are then unreachable', async () => {
      await withLab(
        {},
        async (lab) => {
          assert.equal(lab.slowPathDelayMs, undefined);
          assert.throws(() => lab.setSlowPathDelayMs(10), /no slow path/);
          const pids = readdirSync('/proc').filter((f) => /^\d+$/.test(f));
          assert.deepEqual(
            pids.map(Number).sort((a, b) => a - b),
            [1, lab.routerPid],
          );
          const r = await attempt(lab.addresses.slow.v4[0], lab.ports.echo, 1000);
          assert.equal(r.outcome, 'error');
        },
        { slowPathDelayMs: false },
      );
    });

    test('router namespace is reachable with execInRouter; the client has no route to the host network', async () => {
      await withLab({}, async (lab) => {
        const routerLo = await lab.execInRouter('ip', ['-4', 'addr', 'show', 'dev', 'lo']);
        assert.equal(routerLo.code, 0, routerLo.stderr);
        assert.match(routerLo.stdout, /203\.0\.113\.1\/32/);
        const links = await lab.exec('ip', ['-o', 'link', 'show']);
        assert.match(links.stdout, /veth-c/);
        assert.doesNotMatch(links.stdout, /eth0/);
        const r = await attempt('192.0.2.2', 80, 1000);
        assert.ok(r.outcome === 'error', 'the host eth0 range is not reachable from the lab');
      });
    });

    test('clientIpv6: false leaves getaddrinfo with AI_ADDRCONFIG only IPv4', async () => {
      await withLab(
        DEFAULT_ZONE,
        async (lab) => {
          assert.equal(lab.clientAddress.v6, undefined);
          const all = await dns.promises.lookup('one-good.lab.test', { all: true, hints: dns.ADDRCONFIG });
          assert.deepEqual(all, [{ address: good.v4[0], family: 4 }]);
          const r = await attempt(good.v6[0], 80, 1000);
          assert.equal(r.outcome, 'error');
        },
        { clientIpv6: false },
      );
    });
  });

  describe('DNS server', () => {
    test('A and AAAA with TTL over UDP', async () => {
      const zone: Zone = { 'ttl.lab.test': { A: [good.v4[2]], AAAA: [good.v6[2], good.v6[3]], ttl: 17 } };
      await withLab(zone, async (lab) => {
        const r = resolver();
        assert.deepEqual(await r.resolve4('ttl.lab.test', { ttl: true }), [{ address: good.v4[2], ttl: 17 }]);
        assert.deepEqual(await r.resolve6('TTL.lab.test', { ttl: true }), [
          { address: good.v6[2], ttl: 17 },
          { address: good.v6[3], ttl: 17 },
        ]);
        assert.deepEqual(
          lab.dns.queries.map((q) => [q.name, q.type, q.transport, q.answered]),
          [
            ['ttl.lab.test', 'A', 'udp', true],
            ['ttl.lab.test', 'AAAA', 'udp', true],
          ],
        );
        assert.equal(lab.dns.queryCount('TTL.lab.test.', 'AAAA'), 1);
        assert.equal(lab.dns.queryCount(), 2);
        lab.dns.resetLog();
        assert.equal(lab.dns.queryCount(), 0);
      });
    });

    test('per-type delay is applied to that type only', async () => {
      const zone: Zone = { 'slow.lab.test': { A: [good.v4[0]], AAAA: [good.v6[0]], delayMs: { AAAA: 300 } } };
      await withLab(zone, async () => {
        const r = resolver();
        const t0 = performance.now();
        const [, aMs, aaaaMs] = await Promise.all([
          Promise.resolve(),
          r.resolve4('slow.lab.test').then(() => performance.now() - t0),
          r.resolve6('slow.lab.test').then(() => performance.now() - t0),
        ]);
        assert.ok(aMs < 150, `A took ${aMs} ms`);
        assert.ok(aaaaMs >= 280 && aaaaMs < 900, `AAAA took ${aaaaMs} ms`);
      });
    });

    test('failures as Node reports them: ESERVFAIL, ENOTFOUND, ENODATA, EREFUSED, ETIMEOUT', async () => {
      const zone: Zone = {
        'sf.lab.test': { A: [good.v4[0]], fail: { A: 'SERVFAIL', AAAA: 'DROP' } },
        'v4only.lab.test': { A: [good.v4[0]] },
        'ref.lab.test': { fail: { A: 'REFUSED' } },
      };
      await withLab(zone, async (lab) => {
        const r = resolver({ timeout: 200, tries: 1 });
        const cases: [string, Promise<unknown>, string][] = [
          ['SERVFAIL', r.resolve4('sf.lab.test'), 'ESERVFAIL'],
          ['NXDOMAIN', r.resolve4('nope.lab.test'), 'ENOTFOUND'],
          ['NODATA', r.resolve6('v4only.lab.test'), 'ENODATA'],
          ['REFUSED', r.resolve4('ref.lab.test'), 'EREFUSED'],
          ['DROP', r.resolve6('sf.lab.test'), 'ETIMEOUT'],
        ];
        for (const [label, promise, code] of cases) assert.equal(await rejectionCode(promise), code, label);
        const dropped = lab.dns.queries.find((q) => q.name === 'sf.lab.test' && q.type === 'AAAA');
        assert.equal(dropped?.answered, false);
      });
    });

    test('truncation makes the resolver retry over TCP', async () => {
      await withLab(DEFAULT_ZONE, async (lab) => {
        const addresses = await resolver().resolve4('truncated.lab.test');
        assert.deepEqual(addresses, [good.v4[0]]);
        assert.deepEqual(
          lab.dns.queries.map((q) => `${q.type}/${q.transport}`),
          ['A/udp', 'A/tcp'],
        );
      });
    });

    test('TCP framing: two queries pipelined in one connection, split across writes', async () => {
      await withLab(DEFAULT_ZONE, async () => {
        const frame = (id: number, type: 'A' | 'AAAA'): Buffer => {
          const body = dnsPacket.encode({
            type: 'query',
            id,
            questions: [{ type, name: 'one-good.lab.test' }],
          });
          const out = Buffer.alloc(2 + body.length);
          out.writeUInt16BE(body.length, 0);
          body.copy(out, 2);
          return out;
        };
        const both = Buffer.concat([frame(1, 'A'), frame(2, 'AAAA')]);
        const answers = await new Promise<dnsPacket.DecodedPacket[]>((resolve, reject) => {
          const socket = net.connect({ host: LAB.dnsServer.host, port: LAB.dnsServer.port }, () => {
            socket.write(both.subarray(0, 5));
            setTimeout(() => socket.write(both.subarray(5)), 20);
          });
          let buffered = Buffer.alloc(0);
          const got: dnsPacket.DecodedPacket[] = [];
          socket.on('data', (chunk: Buffer) => {
            buffered = Buffer.concat([buffered, chunk]);
            while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
              const length = buffered.readUInt16BE(0);
              got.push(dnsPacket.decode(buffered.subarray(2, 2 + length)));
              buffered = buffered.subarray(2 + length);
            }
            if (got.length === 2) {
              socket.destroy();
              resolve(got);
            }
          });
          socket.on('error', reject);
        });
        const byId = new Map(
          answers.map((a) => [a.id, (a.answers ?? []).map((x) => (x as { data: string }).data)]),
        );
        assert.deepEqual(byId.get(1), [good.v4[0]]);
        assert.deepEqual(byId.get(2), [good.v6[0]]);
      });
    });

    test('live zone changes, update and removal are visible at once', async () => {
      await withLab({ 'live.lab.test': { A: [good.v4[0]] } }, async (lab) => {
        assert.deepEqual(await resolver().resolve4('live.lab.test'), [good.v4[0]]);
        lab.dns.update('live.lab.test', { A: [good.v4[5]] });
        assert.deepEqual(await resolver().resolve4('live.lab.test'), [good.v4[5]]);
        lab.dns.setZone({ 'other.lab.test': { A: [good.v4[6]] } });
        assert.equal(await rejectionCode(resolver().resolve4('live.lab.test')), 'ENOTFOUND');
        lab.dns.update('other.lab.test', undefined);
        assert.equal(await rejectionCode(resolver().resolve4('other.lab.test')), 'ENOTFOUND');
        assert.throws(() => lab.dns.update('bad.lab.test', { A: ['::1'] }), {
          code: 'ERR_NETDIAL_LAB_INVALID_ZONE',
        });
        assert.equal(lab.dns.queryCount('live.lab.test', 'A'), 3);
      });
    });

    test('stop (port closed -> ECONNREFUSED), silent stop (-> ETIMEOUT), start again', async () => {
      await withLab(DEFAULT_ZONE, async (lab) => {
        await lab.dns.stop();
        assert.equal(lab.dns.state, 'closed');
        assert.equal(
          await rejectionCode(resolver({ timeout: 300 }).resolve4('one-good.lab.test')),
          'ECONNREFUSED',
        );
        await lab.dns.stop({ mode: 'silent' });
        lab.dns.resetLog();
        assert.equal(
          await rejectionCode(resolver({ timeout: 200 }).resolve4('one-good.lab.test')),
          'ETIMEOUT',
        );
        assert.equal(lab.dns.queryCount('one-good.lab.test', 'A'), 1, 'silent mode still logs the query');
        await lab.dns.start();
        assert.deepEqual(await resolver().resolve4('one-good.lab.test'), [good.v4[0]]);
      });
    });

    test('system resolver (dns.lookup) uses the lab: names, search list, hosts entries', async () => {
      const options: LabOptions = { hosts: { 'pinned.example': good.v4[7] } };
      await withLab(
        DEFAULT_ZONE,
        async (lab) => {
          assert.deepEqual(dns.getServers(), ['127.0.0.1'], 'default resolver points at the lab');
          assert.deepEqual(await dns.promises.resolve6('one-good.lab.test'), [good.v6[0]]);
          const all = await dns.promises.lookup('one-good.lab.test', { all: true });
          assert.deepEqual(new Set(all.map((a) => a.address)), new Set([good.v4[0], good.v6[0]]));
          const short = await dns.promises.lookup('short', { family: 4 });
          assert.equal(short.address, good.v4[0]);
          assert.ok(lab.dns.queryCount('short.lab.test') >= 1, 'search list applied');
          assert.deepEqual(await dns.promises.lookup('pinned.example', { family: 4 }), {
            address: good.v4[7],
            family: 4,
          });
          assert.equal(lab.dns.queryCount('pinned.example'), 0, '/etc/hosts answered without DNS');
          const curl = await lab.exec('curl', [
            '-s',
            '--max-time',
            '5',
            `http://one-good.lab.test:${lab.ports.http}/`,
          ]);
          if (curl.code !== null && curl.code !== 127) {
            assert.equal(curl.code, 0, curl.stderr);
            assert.ok([`${good.v4[0]}\n`, `${good.v6[0]}\n`].includes(curl.stdout), curl.stdout);
          }
        },
        options,
      );
    });
  });

  describe('isolation and cleanup', () => {
    test('the host files are untouched and a lab leaves nothing behind', async (t) => {
      const mountinfo = (): string => readFileSync('/proc/self/mountinfo', 'utf8');
      const rootLine = mountinfo()
        .split('\n')
        .find((line) => line.split(' ')[4] === '/');
      assert.ok(rootLine !== undefined && !rootLine.includes('shared:'), `/ must not propagate: ${rootLine}`);
      const hostFiles = ['/etc/resolv.conf', '/etc/hosts'];
      // Open the real files before the lab: these descriptors keep reading the host's inodes, under the
      // bind mounts too, so they show whether the host's files were written.
      const handles = await Promise.all(hostFiles.map((path) => open(path, 'r')));
      const before = await Promise.all(
        handles.map(async (h) => ({ text: await readWhole(h), stat: await h.stat() })),
      );
      await new Promise((resolve) => setTimeout(resolve, 0));
      const resourcesBefore = process.getActiveResourcesInfo().sort();
      const timings: { setupMs: number; teardownMs: number }[] = [];
      let during: { resolv: string; ino: number } | undefined;
      try {
        for (let i = 0; i < 3; i++) {
          await withLab(
            DEFAULT_ZONE,
            async (lab: Lab) => {
              during = {
                resolv: readFileSync('/etc/resolv.conf', 'utf8'),
                ino: statSync('/etc/resolv.conf').ino,
              };
              assert.ok(lab.routerPid > 1);
              const pids = readdirSync('/proc')
                .filter((f) => /^\d+$/.test(f))
                .map(Number);
              assert.ok(pids.includes(1) && pids.includes(lab.routerPid), String(pids));
              assert.equal(pids.length, 3, `this process, the router and the delay line: ${pids}`);
            },
            { onTimings: (timing) => timings.push(timing), search: ['lab.test', 'example.test'] },
          );
        }
        assert.deepEqual(
          process.getActiveResourcesInfo().sort(),
          resourcesBefore,
          'no handles or timers left',
        );
        assert.match(during?.resolv ?? '', /^nameserver 127\.0\.0\.1$/m);
        assert.match(during?.resolv ?? '', /^search lab\.test example\.test$/m);
        assert.notEqual(during?.ino, before[0]?.stat.ino, 'the lab saw a different file');
        for (const [i, h] of handles.entries()) {
          const text = await readWhole(h);
          const stat = await h.stat();
          assert.equal(stat.mtimeMs, before[i]?.stat.mtimeMs, `${hostFiles[i]} mtime`);
          assert.equal(stat.size, before[i]?.stat.size, `${hostFiles[i]} size`);
          assert.equal(text, before[i]?.text, `${hostFiles[i]} content (host inode)`);
          assert.equal(readFileSync(hostFiles[i]!, 'utf8'), before[i]?.text, `${hostFiles[i]} content after`);
        }
      } finally {
        await Promise.all(handles.map((h) => h.close()));
      }
      assert.doesNotMatch(mountinfo(), / \/etc\/(resolv\.conf|hosts) /, 'bind mounts removed');
      assert.deepEqual(
        readdirSync('/proc').filter((f) => /^\d+$/.test(f)),
        ['1'],
        'no process left but this one',
      );
      const links = await runCommand('ip', ['-o', 'link', 'show']);
      assert.deepEqual(
        links.stdout
          .trim()
          .split('\n')
          .map((line) => line.split(': ')[1]),
        ['lo'],
      );
      const routes = await runCommand('ip', ['-o', 'route', 'show', 'table', 'all']);
      assert.doesNotMatch(routes.stdout, /unreachable|veth|198\.18\./);
      const netns = await runCommand('ip', ['netns', 'list']);
      assert.equal(netns.stdout.trim(), '');
      assert.deepEqual(
        readdirSync(tmpdir()).filter((f) => f.startsWith(PRIVATE_COPY_PREFIX)),
        [],
        'private copies removed',
      );
      for (const timing of timings) {
        t.diagnostic(
          `lab setup ${timing.setupMs.toFixed(1)} ms, teardown ${timing.teardownMs.toFixed(1)} ms`,
        );
        assert.ok(timing.setupMs + timing.teardownMs < 1000, `setup+teardown ${JSON.stringify(timing)}`);
      }
    });

    test('withLab rejects nesting and cleans up after a throwing body', async () => {
      await assert.rejects(
        withLab({}, async () => {
          await assert.rejects(
            withLab({}, () => {}),
            /already running/,
          );
          throw new Error('body failed');
        }),
        /body failed/,
      );
      assert.deepEqual(
        readdirSync('/proc').filter((f) => /^\d+$/.test(f)),
        ['1'],
      );
      const links = await runCommand('ip', ['-o', 'link', 'show']);
      assert.doesNotMatch(links.stdout, /veth/);
    });
  });

  describe('entry paths through node --test', () => {
    const fixture = here('../lab/self-test-fixture.js');
    const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
      const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
      delete env.NETDIAL_LAB_INSIDE;
      delete env.NODE_TEST_CONTEXT;
      delete env.CI;
      return { ...env, ...extra };
    };
    const runFixture = (uidArgs: string[], extra: Record<string, string>) =>
      runCommand(
        uidArgs.length > 0 ? 'setpriv' : process.execPath,
        uidArgs.length > 0
          ? [...uidArgs, '--', process.execPath, '--test', '--test-reporter=tap', fixture]
          : ['--test', '--test-reporter=tap', fixture],
        { env: cleanEnv(extra), timeoutMs: 15_000 },
      );
    const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];

    test('as root: re-executed in fresh namespaces and its tests counted by the runner', async () => {
      const r = await runFixture([], {});
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^# tests 2$/m);
      assert.match(r.stdout, /^# pass 2$/m);
    });

    test('not root: one skipped test saying why', async () => {
      const r = await runFixture(nobody, {});
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /ok 1 - network lab # SKIP network lab needs root to create namespaces \(running as uid 65534\)/,
      );
      assert.match(r.stdout, /^# skipped 1$/m);
    });

    test('not root with CI=true: one failing test saying why', async () => {
      const r = await runFixture(nobody, { CI: 'true' });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /not ok 1 - network lab/);
      assert.match(r.stdout, /CI=true requires the lab/);
    });
  });
}
