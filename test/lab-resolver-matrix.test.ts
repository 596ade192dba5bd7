/**
 * The resolver's environment matrix (issue 11), on real namespaces: each row is a host set up the way
 * real hosts are (its own /etc/resolv.conf bind-mounted in the lab's mount namespace, its own routes,
 * servers that misbehave in a known way) and asserts what a dial does — connects, or which error code —
 * with no uncaught exception and nothing left running.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { DEFAULT_ZONE, type DnsServerQuirk, enterLab, LAB, LabDnsServer, withLab } from '../lab/index.js';
import { Dialer, type DialerOptions, getReport } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { failure } from './support/dial-failure.js';

const PORT = LAB.ports.discard;
const { good } = LAB.addresses;
const NAME = 'one-good.lab.test';

function dialer(options: DialerOptions = {}): Dialer {
  return new Dialer({ memory: false, resolver: 'dns', ...options });
}

/** Dials `target` and returns the winning address and the report's DNS queries; closes the socket. */
async function connect(d: Dialer, target = `${NAME}:${PORT}`) {
  const socket = await d.dial(target);
  const report = getReport(socket);
  const address = socket.remoteAddress;
  socket.destroy();
  return { address, queries: report?.resolution.queries ?? [] };
}

/** Runs `body` with a leak check and fails on any uncaught exception (the crash of issue 11). */
async function row(body: () => Promise<void>): Promise<void> {
  const escaped: unknown[] = [];
  const onError = (e: unknown) => escaped.push(e);
  process.on('uncaughtException', onError);
  try {
    const baseline = activeResources();
    await body();
    await assertNoLeaks(baseline, 'resolver matrix row');
  } finally {
    process.off('uncaughtException', onError);
  }
  assert.deepEqual(escaped, [], 'an exception escaped');
}

/** A second DNS server inside the lab (127.0.0.x:53 or a link-local address), serving the default zone. */
async function extraServer(host: string, quirk?: DnsServerQuirk): Promise<LabDnsServer> {
  const server = new LabDnsServer({ host, port: 53, zone: DEFAULT_ZONE, apex: LAB.zoneSuffix, quirk });
  await server.start();
  return server;
}

const conf = (...lines: string[]) => `${lines.join('\n')}\n`;

/** The client's own link-local address on its veth (accept_dad is off in the lab: usable at once). */
async function clientLinkLocal(): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const found = os.networkInterfaces()[LAB.client.interface]?.find((a) => a.address.startsWith('fe80:'));
    if (found) return found.address.replace(/%.*$/, '');
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no link-local address on ${LAB.client.interface}`);
}

if (await enterLab(import.meta.url)) {
  test('empty resolv.conf: glibc default 127.0.0.1 is asked; the dial connects', () =>
    withLab(
      DEFAULT_ZONE,
      (lab) =>
        row(async () => {
          const { address } = await connect(dialer());
          assert.ok([good.v6[0], good.v4[0]].includes(address ?? ''), `connected to ${address}`);
          assert.equal(lab.dns.queryCount(NAME, 'A'), 1);
        }),
      { resolvConf: '' },
    ));

  test('missing resolv.conf: the same default, 127.0.0.1; the dial connects', () =>
    withLab(DEFAULT_ZONE, (lab) =>
      row(async () => {
        await connect(dialer({ resolvConfPath: '/nonexistent/netdial/resolv.conf' }));
        assert.equal(lab.dns.queryCount(NAME, 'AAAA'), 1);
      }),
    ));

  test('only an IPv6 nameserver on an IPv4-only host: ECONNREFUSED at once ("could not contact"), no crash', () =>
    withLab(
      DEFAULT_ZONE,
      () =>
        row(async () => {
          const started = performance.now();
          const error = await failure(dialer({ dnsTimeoutMs: 3000 }).dial(`${NAME}:${PORT}`));
          assert.equal(error.code, 'ECONNREFUSED', error.message);
          assert.ok(performance.now() - started < 2000, 'no waiting for a timeout');
          assert.match(error.message, /no DNS server could be reached/);
          assert.ok(error.attempts.every((a) => a.phase === 'dns' && a.code === 'ECONNREFUSED'));
        }),
      { clientIpv6: false, resolvConf: conf('nameserver 2001:db8:53::1') },
    ));

  for (const zoneKind of ['name', 'index'] as const) {
    test(`fe80::…%zone nameserver (zone as interface ${zoneKind}): asked on its link, the dial connects`, () =>
      withLab(DEFAULT_ZONE, async () => {
        const linkLocal = await clientLinkLocal();
        const server = await extraServer(`${linkLocal}%${LAB.client.interface}`);
        try {
          const index = os
            .networkInterfaces()
            [LAB.client.interface]?.find((a) => a.address.startsWith('fe80:'))?.scopeid;
          const zone = zoneKind === 'name' ? LAB.client.interface : String(index);
          await row(async () => {
            await connect(dialer({ nameservers: [`${linkLocal}%${zone}`] }));
            assert.equal(server.queryCount(NAME, 'A'), 1);
            assert.equal(server.queryCount(NAME, 'AAAA'), 1);
          });
        } finally {
          await server.close();
        }
      }));
  }

  test('fe80::… nameserver from resolv.conf, with its zone: asked over UDP and over TCP after truncation', () =>
    withLab(DEFAULT_ZONE, async (lab) => {
      const linkLocal = await clientLinkLocal();
      const zone = { ...DEFAULT_ZONE, 'big.lab.test': { A: [good.v4[0]!], truncate: true } };
      const server = new LabDnsServer({
        host: `${linkLocal}%${LAB.client.interface}`,
        port: 53,
        zone,
        apex: LAB.zoneSuffix,
      });
      await server.start();
      try {
        await row(async () => {
          const dir = mkdtempSync(join(tmpdir(), 'netdial-resolv-'));
          const path = join(dir, 'resolv.conf');
          writeFileSync(path, conf(`nameserver ${linkLocal}%${LAB.client.interface}`, 'options attempts:1'));
          let address: string | undefined;
          try {
            ({ address } = await connect(
              dialer({ resolvConfPath: path, family: 4 }),
              `big.lab.test:${PORT}`,
            ));
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
          assert.equal(address, good.v4[0]);
          const transports = server.queries.filter((q) => q.name === 'big.lab.test').map((q) => q.transport);
          assert.deepEqual(transports, ['udp', 'tcp']);
          assert.equal(lab.dns.queryCount(), 0, 'the default server was not asked');
        });
      } finally {
        await server.close();
      }
    }));

  test('four servers, the first three unreachable: only three are used (MAXNS), the fourth is never asked', () =>
    withLab(
      DEFAULT_ZONE,
      (lab) =>
        row(async () => {
          const error = await failure(dialer().dial(`${NAME}:${PORT}`));
          assert.equal(error.code, 'ECONNREFUSED', error.message);
          assert.equal(lab.dns.queryCount(), 0, '127.0.0.1, the fourth, was not asked');
        }),
      {
        resolvConf: conf(
          `nameserver ${LAB.addresses.clientUnreachable.v4[0]}`,
          `nameserver ${LAB.addresses.clientUnreachable.v4[1]}`,
          `nameserver ${LAB.addresses.clientUnreachable.v4[2]}`,
          `nameserver ${LAB.dnsServer.host}`,
        ),
      },
    ));

  test('a server that drops everything: ETIMEOUT after timeout × attempts; auto mode does not fall back', () =>
    withLab(
      DEFAULT_ZONE,
      async (lab) => {
        await lab.dns.stop({ mode: 'silent' });
        await row(async () => {
          const started = performance.now();
          const error = await failure(dialer({ resolver: 'auto' }).dial(`${NAME}:${PORT}`));
          const ms = performance.now() - started;
          assert.equal(error.code, 'ETIMEOUT', error.message);
          assert.ok(ms >= 1900 && ms < 4000, `took ${ms} ms (timeout:1 attempts:2)`);
          assert.equal(lab.dns.queryCount(NAME, 'A'), 2);
        });
      },
      { resolvConf: conf(`nameserver ${LAB.dnsServer.host}`, 'options timeout:1 attempts:2') },
    ));

  test('a server that answers FORMERR to EDNS: asked again without it, the dial connects; remembered', () =>
    withLab(DEFAULT_ZONE, async () => {
      const old = await extraServer('127.0.0.2', 'formerr-to-edns');
      try {
        await row(async () => {
          const d = dialer({ nameservers: ['127.0.0.2'] });
          await connect(d);
          assert.equal(old.queryCount(NAME, 'A'), 2, 'with EDNS, then without');
          await connect(d, `alias.lab.test:${PORT}`);
          assert.equal(
            old.queryCount('alias.lab.test', 'A'),
            1,
            'the second name is asked without EDNS at once',
          );
        });
      } finally {
        await old.close();
      }
    }));

  test('resolv.conf edited while a Dialer lives: the next dial asks the new nameserver', () =>
    withLab(DEFAULT_ZONE, async (lab) => {
      const old = await extraServer('127.0.0.2');
      const dir = mkdtempSync(join(tmpdir(), 'netdial-resolv-edit-'));
      try {
        const path = join(dir, 'resolv.conf');
        writeFileSync(path, conf('nameserver 127.0.0.2'));
        await row(async () => {
          // memory: false, so each dial asks DNS; the servers a query uses come from the file as of now.
          const d = dialer({ resolvConfPath: path, family: 4 });
          await connect(d);
          assert.equal(old.queryCount(NAME, 'A'), 1);
          assert.equal(lab.dns.queryCount(NAME, 'A'), 0);
          writeFileSync(path, conf(`nameserver ${LAB.dnsServer.host}`, 'options attempts:1'));
          await new Promise((r) => setTimeout(r, 1100)); // the file is checked at most once a second
          await connect(d);
          assert.equal(old.queryCount(NAME, 'A'), 1, 'the old server is not asked again');
          assert.equal(lab.dns.queryCount(NAME, 'A'), 1, 'the new server answered');
        });
      } finally {
        await old.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }));

  test('a lame server first: the next server is asked and the dial connects (not ENODATA)', () =>
    withLab(DEFAULT_ZONE, async (lab) => {
      const lame = await extraServer('127.0.0.2', 'lame');
      try {
        await row(async () => {
          await connect(dialer({ nameservers: ['127.0.0.2', LAB.dnsServer.host] }));
          assert.equal(lame.queryCount(NAME, 'A'), 1);
          assert.equal(lab.dns.queryCount(NAME, 'A'), 1);
        });
      } finally {
        await lame.close();
      }
    }));

  test('a server that truncates, then resets TCP mid-answer: the next server answers, no crash', () =>
    withLab(DEFAULT_ZONE, async (lab) => {
      const broken = await extraServer('127.0.0.2', 'truncate-then-reset');
      try {
        await row(async () => {
          await connect(dialer({ nameservers: ['127.0.0.2', LAB.dnsServer.host], family: 4 }));
          const transports = broken.queries.filter((q) => q.name === NAME).map((q) => q.transport);
          assert.deepEqual(transports, ['udp', 'tcp']);
          assert.equal(lab.dns.queryCount(NAME, 'A'), 1);
        });
      } finally {
        await broken.close();
      }
    }));

  test('search with six domains and ndots:15: every domain in order, the name as is last', () =>
    withLab(
      DEFAULT_ZONE,
      (lab) =>
        row(async () => {
          await connect(dialer({ family: 4 }), `one-good:${PORT}`);
          const asked = lab.dns.queries.filter((q) => q.type === 'A').map((q) => q.name);
          assert.deepEqual(asked, [
            'one-good.d1.test',
            'one-good.d2.test',
            'one-good.d3.test',
            'one-good.d4.test',
            'one-good.d5.test',
            'one-good.lab.test',
          ]);
          lab.dns.resetLog();
          await failure(dialer({ family: 4 }).dial(`no-such-name.a.b:${PORT}`));
          const tried = lab.dns.queries.filter((q) => q.type === 'A').map((q) => q.name);
          assert.equal(tried.length, 7);
          assert.equal(tried[6], 'no-such-name.a.b', 'fewer than 15 dots: as is last');
        }),
      {
        resolvConf: conf(
          `nameserver ${LAB.dnsServer.host}`,
          'search d1.test d2.test d3.test d4.test d5.test lab.test',
          'options ndots:15',
        ),
      },
    ));

  test('options rotate: queries are spread over the servers, round robin', () =>
    withLab(
      DEFAULT_ZONE,
      async (lab) => {
        const second = await extraServer('127.0.0.2');
        try {
          await row(async () => {
            const d = dialer({ family: 4 });
            for (let i = 0; i < 4; i++) await connect(d);
            assert.equal(lab.dns.queryCount(NAME, 'A'), 2);
            assert.equal(second.queryCount(NAME, 'A'), 2);
          });
        } finally {
          await second.close();
        }
      },
      { resolvConf: conf(`nameserver ${LAB.dnsServer.host}`, 'nameserver 127.0.0.2', 'options rotate') },
    ));

  test('options no-aaaa: no AAAA query, the dial connects over IPv4', () =>
    withLab(
      DEFAULT_ZONE,
      (lab) =>
        row(async () => {
          const { address, queries } = await connect(dialer());
          assert.equal(address, good.v4[0]);
          assert.equal(lab.dns.queryCount(NAME, 'AAAA'), 0);
          assert.equal(lab.dns.queryCount(NAME, 'A'), 1);
          assert.ok(queries.some((q) => q.type === 'AAAA' && q.code === 'ENODATA'));
        }),
      { resolvConf: conf(`nameserver ${LAB.dnsServer.host}`, 'search lab.test', 'options no-aaaa') },
    ));

  test('a host with no route at all: ECONNREFUSED at once from the stub resolver, no crash', () =>
    withLab(
      DEFAULT_ZONE,
      () =>
        row(async () => {
          const started = performance.now();
          const error = await failure(dialer().dial(`${NAME}:${PORT}`));
          assert.equal(error.code, 'ECONNREFUSED', error.message);
          assert.match(error.message, /no DNS server could be reached/);
          assert.match(error.attempts[0]?.message ?? '', /198\.51\.100\.53:53 ENETUNREACH/);
          assert.ok(performance.now() - started < 2000);
        }),
      {
        clientIpv4: false,
        clientIpv6: false,
        resolvConf: conf('nameserver 198.51.100.53', 'nameserver 2001:db8:53::1'),
      },
    ));

  test("'auto' when no DNS server can be reached: the system resolver answers, and the report says why", () =>
    withLab(
      DEFAULT_ZONE,
      () =>
        row(async () => {
          // netdial reads its own resolv.conf, whose server is unreachable (no route); the system's
          // resolv.conf points at the lab's server (as with nss-resolve or nscd, which do not read the
          // file netdial reads). With the nameservers option there is no such fallback (the caller chose
          // the servers; test/nsswitch.test.ts).
          const dir = mkdtempSync(join(tmpdir(), 'netdial-auto-'));
          const resolvConfPath = join(dir, 'resolv.conf');
          writeFileSync(resolvConfPath, 'nameserver 198.51.100.53\n');
          const d = dialer({ resolver: 'auto', resolvConfPath });
          const resolved = await d.resolve(NAME).finally(() => rmSync(dir, { recursive: true, force: true }));
          assert.deepEqual(
            resolved.addresses.map((a) => [a.address, a.source]).sort(),
            [
              [good.v4[0], 'system'],
              [good.v6[0], 'system'],
            ].sort(),
          );
          const system = resolved.queries.filter((q) => q.source === 'system');
          assert.ok(system.length > 0);
          assert.match(system[0]?.reason ?? '', /no DNS server could be reached \(ECONNREFUSED\)/);
          const dns = resolved.queries.filter((q) => q.source === 'dns').map((q) => q.name);
          assert.ok(dns.includes(NAME), `DNS was asked first: ${JSON.stringify(resolved.queries)}`);
        }),
      { clientIpv4: false, clientIpv6: false },
    ));
}
