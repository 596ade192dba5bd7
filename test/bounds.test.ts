/**
 * Bounds before work (issue 11): an answer of thousands of addresses is cut to `maxAddresses` — best by
 * what is known without probing — before any source-address probe; probes run a few sockets at a time;
 * the DNS cache keeps at most `maxAddresses` per name. Pure parts with tables, the rest against a real
 * DNS server on loopback answering 2 600 A records (TC over UDP, then TCP), run under `prlimit`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type dgram from 'node:dgram';
import dgramModule from 'node:dgram';
import net from 'node:net';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LabDnsServer } from '../lab/dns-server.js';
import { DnsCache } from '../src/memory/dns-cache.js';
import { PRESELECT_WINDOW, preselectDestinations } from '../src/race/sort.js';
import { SourceAddressProbe } from '../src/race/source-address.js';
import type { Family } from '../src/types.js';
import { skipWithoutCommand } from './support/prerequisite.js';

const run = promisify(execFile);

function v4(i: number): string {
  return `127.1.${i >> 8}.${i & 0xff}`;
}

describe('preselectDestinations (RFC 6724 rules 6 and 8, before any probe)', () => {
  const c = (address: string) => ({ address, family: (address.includes(':') ? 6 : 4) as Family });
  const table: Array<{ name: string; list: string[]; max: number; want: string[] }> = [
    {
      name: 'rule 6: higher precedence first (::1 50, global 40, 6to4 30, Teredo 5, ULA 3)',
      list: ['fd00::1', '2001:0:1::1', '2002:c000:201::1', '2001:db8::1', '::1'],
      max: 2,
      want: ['::1', '2001:db8::1'],
    },
    {
      name: 'rule 8: among equal precedence, smaller scope first',
      list: ['2001:db8::1', 'fe80::1', '2001:db8::2'],
      max: 1,
      want: ['fe80::1'],
    },
    {
      name: 'rule 10: otherwise input order is kept',
      list: ['192.0.2.3', '192.0.2.1', '192.0.2.2', '192.0.2.4'],
      max: 3,
      want: ['192.0.2.3', '192.0.2.1', '192.0.2.2'],
    },
    {
      name: 'IPv4 loopback (link-local scope) before other IPv4',
      list: ['192.0.2.1', '127.0.0.1'],
      max: 1,
      want: ['127.0.0.1'],
    },
    {
      name: 'a list not longer than max is kept whole',
      list: ['2001:db8::2', '::1'],
      max: 2,
      want: ['2001:db8::2', '::1'],
    },
  ];
  for (const row of table) {
    test(row.name, () => {
      const got = preselectDestinations(row.list.map(c), row.max).map((x) => x.address);
      assert.deepEqual(got, row.want);
    });
  }

  test('2 600 addresses are cut to max, first ones in input order', () => {
    const list = Array.from({ length: 2600 }, (_, i) => c(v4(i + 1)));
    const got = preselectDestinations(list, 64);
    assert.equal(got.length, 64);
    assert.deepEqual(
      got.map((x) => x.address),
      list.slice(0, 64).map((x) => x.address),
    );
  });

  test('only the first PRESELECT_WINDOW entries of a longer (custom resolver) list are weighed', () => {
    // 2001:db8:: addresses (precedence 40) and one ::1 (precedence 50, rule 6 puts it first) after them.
    const list = (at: number) =>
      Array.from({ length: PRESELECT_WINDOW + 1000 }, (_, i) =>
        c(i === at ? '::1' : `2001:db8::${(i + 1).toString(16)}`),
      );
    assert.equal(preselectDestinations(list(PRESELECT_WINDOW - 1), 4)[0]?.address, '::1');
    const beyond = preselectDestinations(list(PRESELECT_WINDOW), 4).map((x) => x.address);
    assert.deepEqual(beyond, ['2001:db8::1', '2001:db8::2', '2001:db8::3', '2001:db8::4']);
  });

  test('bad max is a TypeError naming it', () => {
    assert.throws(() => preselectDestinations([c('::1')], 0), {
      code: 'ERR_NETDIAL_INVALID_OPTION',
      message: /max/,
    });
  });
});

describe('SourceAddressProbe runs a bounded pool of sockets', () => {
  for (const [limit, label] of [
    [undefined, 'default 8'],
    [3, '3'],
  ] as const) {
    test(`probing 200 loopback addresses never opens more than ${label} sockets at once`, async () => {
      let open = 0;
      let peak = 0;
      let created = 0;
      const createSocket = (options: dgram.SocketOptions): dgram.Socket => {
        const socket = dgramModule.createSocket(options);
        created++;
        open++;
        peak = Math.max(peak, open);
        socket.once('close', () => open--);
        return socket;
      };
      const probe = new SourceAddressProbe({ createSocket, maxConcurrentProbes: limit });
      const list = Array.from({ length: 200 }, (_, i) => ({ address: v4(i + 1), family: 4 as const }));
      const sources = await probe.probe(list, 0);
      assert.equal(created, 200);
      assert.equal(open, 0, 'every probe socket is closed when probe() resolves');
      assert.equal(peak, limit ?? 8);
      for (const { address } of list) assert.equal(sources.get(address), '127.0.0.1', address);
    });
  }

  test('maxConcurrentProbes must be a positive integer', () => {
    assert.throws(() => new SourceAddressProbe({ maxConcurrentProbes: 0 }), {
      code: 'ERR_NETDIAL_INVALID_OPTION',
      message: /maxConcurrentProbes/,
    });
  });
});

describe('DnsCache keeps at most maxAddressesPerName addresses per name and type', () => {
  test('setPositive and fromJSON keep the first ones', () => {
    const cache = new DnsCache({ maxAddressesPerName: 5 });
    const records = Array.from({ length: 2600 }, (_, i) => ({ address: v4(i + 1), ttlSeconds: 60 }));
    cache.setPositive('big.test', 'A', records, 0);
    const got = cache.get('big.test', 'A', 1);
    assert.equal(got.state, 'fresh');
    assert.deepEqual(got.state === 'fresh' && got.records, [v4(1), v4(2), v4(3), v4(4), v4(5)]);
    const big = new DnsCache();
    big.setPositive('big.test', 'A', records, 0);
    assert.equal(big.entries()[0]?.records?.length, 1024, 'default: 1024, the largest maxAddresses');
    const copy = DnsCache.fromJSON(big.toJSON(1, 1), 1, 1, { maxAddressesPerName: 7 });
    assert.equal(copy.entries()[0]?.records?.length, 7);
  });

  test('maxAddressesPerName must be an integer >= 1', () => {
    assert.throws(() => new DnsCache({ maxAddressesPerName: 1.5 }), { code: 'ERR_NETDIAL_INVALID_OPTION' });
  });
});

describe('a real answer of 2 600 A records (TC over UDP, then TCP)', () => {
  const prlimitSkip = skipWithoutCommand('prlimit', 'util-linux');
  const records = Array.from({ length: 2600 }, (_, i) => v4(i + 1));

  async function withServers(body: (dnsPort: number, listenPort: number) => Promise<void>): Promise<void> {
    let dns: LabDnsServer | undefined;
    for (let tries = 0; dns === undefined; tries++) {
      const port = 20_000 + Math.floor(Math.random() * 40_000);
      const candidate = new LabDnsServer({
        host: '127.0.0.1',
        port,
        apex: 'x.test',
        zone: { 'big.t': { A: records, truncate: true, ttl: 300 } },
      });
      try {
        await candidate.start();
        dns = candidate;
      } catch (e) {
        await candidate.close().catch(() => {});
        if ((e as { code?: string }).code !== 'EADDRINUSE' || tries >= 20) throw e;
      }
    }
    const listener = net.createServer((s) => s.destroy());
    try {
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(0, v4(1), resolve);
      });
      await body(dns.port, (listener.address() as net.AddressInfo).port);
      const tcp = dns.queries.filter((q) => q.name === 'big.t' && q.type === 'A' && q.transport === 'tcp');
      assert.ok(tcp.length >= 1, 'the full answer came over TCP after a truncated UDP one');
    } finally {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await dns.close();
    }
  }

  async function child(dnsPort: number, listenPort: number, nofile: number, maxAddresses?: number) {
    const script = fileURLToPath(new URL('./support/big-answer-child.js', import.meta.url));
    const args = [
      `--nofile=${nofile}:${nofile}`,
      process.execPath,
      script,
      String(dnsPort),
      String(listenPort),
    ];
    if (maxAddresses !== undefined) args.push(String(maxAddresses));
    const { stdout } = await run('prlimit', args, { encoding: 'utf8', timeout: 60_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      resolved?: number;
      nullSources?: number;
      first?: string;
      dialed?: string;
      order?: number;
      cached?: number;
      error?: string;
    };
  }

  test(
    'under a limit of 96 file descriptors: cut to 64, every probe succeeds, the dial connects, 64 cached',
    {
      skip: prlimitSkip,
    },
    () =>
      withServers(async (dnsPort, listenPort) => {
        const r = await child(dnsPort, listenPort, 96);
        assert.equal(r.error, undefined);
        assert.equal(r.resolved, 64);
        assert.equal(r.nullSources, 0, 'no probe ran out of file descriptors');
        assert.equal(r.first, v4(1));
        assert.equal(r.dialed, v4(1));
        assert.equal(r.order, 64);
        assert.equal(r.cached, 64);
      }),
  );

  test(
    'maxAddresses 1024 under 96 file descriptors: still no probe fails (the pool bounds the sockets)',
    {
      skip: prlimitSkip,
    },
    () =>
      withServers(async (dnsPort, listenPort) => {
        const r = await child(dnsPort, listenPort, 96, 1024);
        assert.equal(r.error, undefined);
        assert.equal(r.resolved, 1024);
        assert.equal(r.nullSources, 0, 'no probe ran out of file descriptors');
        assert.equal(r.dialed, v4(1));
        assert.equal(r.cached, 1024);
      }),
  );
});
