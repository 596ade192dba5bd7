/**
 * Fleet memory sharing DNS answers (`memory: { store, shareDns: true }`):
 * - pure core (src/memory/dns-observation.ts): merging DNS observations is commutative, associative and
 *   idempotent, independent of delivery order and duplicates (fast-check); the remaining TTL is never more
 *   than the observer had left; parseDnsObservation never throws and rejects hostile observations (bad
 *   names, zones, huge lists, future times, TTL beyond max, a smuggled expiry, expired ones);
 * - the DnsCache hook on a virtual clock: the observer hears local answers only, adoptPeer inserts with the
 *   remaining TTL, never extends it, never replaces a fresher local answer;
 * - worker threads with a real DNS server on loopback that counts queries: thread A resolves, thread B's
 *   first dial asks no query and connects, a newcomer thread loads it before its first dial; with the
 *   switch off B asks again and no published message mentions the name;
 * - hostile DNS observations on the channel are ignored and counted;
 * - Redis (real redis-server): two processes, the second's first dial asks no DNS query; the key lives
 *   under the prefix and expires with the answer's remaining TTL.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { BroadcastChannel } from 'node:worker_threads';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { BroadcastMemoryStore, Dialer, type DialReport } from '../src/index.js';
import { DnsCache } from '../src/memory/dns-cache.js';
import {
  DNS_OBSERVATION_LIMITS,
  type DnsObservation,
  mergeAllDns,
  normaliseDnsName,
  parseDnsObservation,
  remainingTtlMs,
} from '../src/memory/dns-observation.js';
import { DialThread } from './support/dial-thread.js';
import { redisUnavailable, type RunningServer, startRedis } from './support/real-servers.js';
import { closeServer, trackConnections } from './support/servers.js';

const WALL = 1_800_000_000_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A valid observation at WALL, TTL 300 s, with overrides. */
function obs(over: Partial<Record<keyof DnsObservation, unknown>> = {}): Record<string, unknown> {
  const ttlSeconds = (over.ttlSeconds as number | undefined) ?? 300;
  const wallClockMs = (over.wallClockMs as number | undefined) ?? WALL;
  return {
    kind: 'dns',
    name: 'svc.fleet.test',
    family: 4,
    addresses: ['192.0.2.1', '192.0.2.2'],
    ttlSeconds,
    wallClockMs,
    expiresAtMs: wallClockMs + ttlSeconds * 1000,
    id: 'peer.1',
    ...over,
  };
}

describe('DNS observations: the pure core', () => {
  const pool = fc
    .uniqueArray(
      fc.record({
        name: fc.constantFrom('a.test', 'b.test'),
        family: fc.constantFrom(4 as const, 6 as const),
        wallClockMs: fc.integer({ min: WALL, max: WALL + 5 }),
        origin: fc.constantFrom('a', 'b', 'c'),
        seq: fc.integer({ min: 1, max: 50 }),
        ttlSeconds: fc.integer({ min: 1, max: 600 }),
        last: fc.integer({ min: 1, max: 9 }),
      }),
      { selector: (r) => `${r.origin}.${r.seq}`, maxLength: 40 },
    )
    .map((rows) =>
      rows.map(
        (r): DnsObservation => ({
          kind: 'dns',
          name: r.name,
          family: r.family,
          addresses: [r.family === 4 ? `192.0.2.${r.last}` : `2001:db8::${r.last}`],
          ttlSeconds: r.ttlSeconds,
          wallClockMs: r.wallClockMs,
          expiresAtMs: r.wallClockMs + r.ttlSeconds * 1000,
          id: `${r.origin}.${r.seq}`,
        }),
      ),
    );
  const flat = (m: Map<string, DnsObservation>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));

  test('merge is commutative, associative and idempotent; order and duplicates do not matter', () => {
    fc.assert(
      // Three sets drawn from one pool (ids are unique fleet-wide, and replicas' sets overlap).
      fc.property(
        pool.chain((p) => fc.tuple(fc.subarray(p), fc.subarray(p), fc.subarray(p))),
        ([a, b, c]) => {
          assert.deepEqual(flat(mergeAllDns(a, b)), flat(mergeAllDns(b, a)));
          assert.deepEqual(
            flat(mergeAllDns(mergeAllDns(a, b).values(), c)),
            flat(mergeAllDns(a, mergeAllDns(b, c).values())),
          );
          assert.deepEqual(flat(mergeAllDns(a, a)), flat(mergeAllDns(a)));
        },
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        pool.chain((xs) => fc.tuple(fc.constant(xs), fc.shuffledSubarray(xs, { minLength: xs.length }))),
        ([xs, shuffled]) => {
          assert.deepEqual(flat(mergeAllDns([...shuffled, ...xs.slice(0, 3)])), flat(mergeAllDns(xs)));
          // Per (name, family) the newest by (wallClockMs, id) is kept.
          for (const [, o] of mergeAllDns(xs)) {
            for (const x of xs.filter((y) => y.name === o.name && y.family === o.family)) {
              assert.ok(x.wallClockMs < o.wallClockMs || (x.wallClockMs === o.wallClockMs && x.id <= o.id));
            }
          }
        },
      ),
    );
  });

  test('the remaining TTL is never more than the observer had left, whatever the clocks say', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 86_400 }),
        fc.integer({ min: -60_000, max: 86_400_000 }),
        (ttlSeconds, skewMs) => {
          const o = parseDnsObservation(obs({ ttlSeconds }), WALL + skewMs);
          if (o === undefined) return; // expired, or from too far in the future
          const left = remainingTtlMs(o, WALL + skewMs);
          assert.ok(left > 0 && left <= ttlSeconds * 1000);
          assert.ok(left <= o.expiresAtMs - (WALL + skewMs) || skewMs < 0);
        },
      ),
    );
    // A receiver 10 s behind the observer still counts down from the observer's own remaining TTL.
    const o = parseDnsObservation(obs({ ttlSeconds: 30 }), WALL - 10_000);
    assert.equal(o === undefined ? undefined : remainingTtlMs(o, WALL - 10_000), 30_000);
    // 20 s later (receiver's clock) 10 s are left.
    assert.equal(o === undefined ? undefined : remainingTtlMs(o, WALL + 20_000), 10_000);
  });

  test('parseDnsObservation never throws, and what it accepts is well formed', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const o = parseDnsObservation(value, WALL);
        if (o !== undefined) assert.equal(normaliseDnsName(o.name), o.name);
      }),
    );
    const hostile = new Proxy(
      {},
      {
        getPrototypeOf: () => {
          throw new Error('trap');
        },
      },
    );
    assert.equal(parseDnsObservation(hostile, WALL), undefined);
  });

  test('hostile DNS observations are rejected: bad names, zones, huge lists, future times, TTL beyond max', () => {
    const ok = parseDnsObservation(obs({ name: 'SVC.Fleet.Test.' }), WALL);
    assert.equal(ok?.name, 'svc.fleet.test', 'names are normalised (ASCII lower case, no trailing dot)');
    assert.ok(
      parseDnsObservation(obs({ addresses: ['192.0.2.1', '192.0.2.1'] }), WALL)?.addresses.length === 1,
    );
    const cases: Array<[string, Record<string, unknown>]> = [
      ['empty name', obs({ name: '' })],
      ['empty label', obs({ name: 'a..test' })],
      ['space', obs({ name: 'exa mple.test' })],
      ['leading hyphen', obs({ name: '-a.test' })],
      ['non-ASCII', obs({ name: 'ünï.test' })],
      ['label of 64', obs({ name: `${'x'.repeat(64)}.test` })],
      ['name of 254', obs({ name: `${'abcdefghi.'.repeat(25)}test` })],
      ['name not a string', obs({ name: ['svc.fleet.test'] })],
      ['zone (v6)', obs({ family: 6, addresses: ['fe80::1%eth0'] })],
      ['zone (v4 field)', obs({ addresses: ['192.0.2.1%eth0'] })],
      ['a name for an address', obs({ addresses: ['example.com'] })],
      ['wrong family', obs({ family: 4, addresses: ['2001:db8::1'] })],
      ['family 5', obs({ family: 5 })],
      ['no addresses', obs({ addresses: [] })],
      [
        'huge list',
        obs({ addresses: Array.from({ length: 5000 }, (_, i) => `198.18.${i >> 8}.${i & 255}`) }),
      ],
      ['future time', obs({ wallClockMs: WALL + 3_600_000 })],
      ['TTL beyond max', obs({ ttlSeconds: DNS_OBSERVATION_LIMITS.maxTtlSeconds + 1 })],
      ['TTL 0', obs({ ttlSeconds: 0 })],
      ['TTL NaN', obs({ ttlSeconds: Number.NaN })],
      ['smuggled expiry', { ...obs({ ttlSeconds: 30 }), expiresAtMs: WALL + 3_600_000 }],
      ['expired', obs({ wallClockMs: WALL - 400_000 })],
      ['bad id', obs({ id: 'x' })],
      ['not kind dns', obs({ kind: 'endpoint' })],
      ['inherited fields', Object.create(obs())],
    ];
    for (const [what, value] of cases) assert.equal(parseDnsObservation(value, WALL), undefined, what);
    // A getter is never run.
    const getter = obs();
    Object.defineProperty(getter, 'name', {
      enumerable: true,
      get: () => assert.fail('a getter ran'),
    });
    assert.equal(parseDnsObservation(getter, WALL), undefined);
    // The receiver's own bounds: its cache's maxTtlSeconds and maxAddressesPerName.
    const tight = { maxTtlSeconds: 60, maxAddresses: 1, maxFutureMs: 60_000 };
    assert.equal(parseDnsObservation(obs({ ttlSeconds: 61 }), WALL, tight), undefined);
    assert.equal(parseDnsObservation(obs(), WALL, tight), undefined, 'two addresses, one allowed');
    assert.ok(parseDnsObservation(obs({ ttlSeconds: 60, addresses: ['192.0.2.1'] }), WALL, tight));
  });
});

describe('DnsCache: the fleet hook (virtual clock)', () => {
  test('the observer hears answers stored with a TTL, never adopted ones; adoptPeer never extends a TTL', () => {
    const cache = new DnsCache({ minTtlSeconds: 60, maxTtlSeconds: 600 });
    const heard: unknown[] = [];
    cache.setObserver((name, type, addresses, ttlSeconds) =>
      heard.push([name, type, [...addresses], ttlSeconds]),
    );
    cache.setPositive('Local.Test', 'A', [{ address: '192.0.2.1', ttlSeconds: 3600 }], 0);
    assert.deepEqual(heard, [['local.test', 'A', ['192.0.2.1'], 600]], 'the clamped TTL, the keyed name');
    assert.equal(cache.adoptPeer('peer.test', 'A', ['192.0.2.2'], 5_500, 30, 0), true);
    assert.equal(heard.length, 1, 'an adopted answer is not echoed');
    // Fresh for what was left (5.5 s), not the local floor of 60 s, and not the peer's original 30 s.
    assert.deepEqual(cache.get('peer.test', 'A', 5_000), {
      state: 'fresh',
      records: ['192.0.2.2'],
      ttlRemainingSeconds: 1,
    });
    assert.equal(cache.get('peer.test', 'A', 5_500).state, 'stale');
    assert.equal((cache.get('peer.test', 'A', 5_500) as { optimistic: boolean }).optimistic, true);
    // Capped by the local maxTtlSeconds.
    cache.adoptPeer('long.test', 'A', ['192.0.2.3'], 3_600_000, 3600, 0);
    assert.equal(
      cache.get('long.test', 'A', 0).state === 'fresh' && cache.entries().at(-1)?.freshUntilMs,
      600_000,
    );
    cache.setObserver(undefined);
    cache.setPositive('quiet.test', 'A', [{ address: '192.0.2.4', ttlSeconds: 60 }], 0);
    assert.equal(heard.length, 1, 'no observer, nothing heard');
  });

  test('a fresher local answer is never replaced; an older one is', () => {
    const cache = new DnsCache();
    cache.setPositive('svc.test', 'A', [{ address: '192.0.2.1', ttlSeconds: 300 }], 0);
    assert.equal(cache.adoptPeer('svc.test', 'A', ['192.0.2.9'], 100_000, 300, 0), false);
    assert.deepEqual((cache.get('svc.test', 'A', 1) as { records?: readonly string[] }).records, [
      '192.0.2.1',
    ]);
    assert.equal(cache.adoptPeer('svc.test', 'A', ['192.0.2.9'], 400_000, 400, 0), true);
    assert.deepEqual((cache.get('svc.test', 'A', 1) as { records?: readonly string[] }).records, [
      '192.0.2.9',
    ]);
    // A fresh local negative answer outliving the peer's is kept too.
    cache.setNegative('gone.test', 'A', 'NXDOMAIN', { ttlSeconds: 600, minimumSeconds: 600 }, 0);
    assert.equal(cache.adoptPeer('gone.test', 'A', ['192.0.2.5'], 10_000, 300, 0), false);
    assert.equal(cache.get('gone.test', 'A', 1).state, 'negative');
    // Bad input is a TypeError naming the part.
    assert.throws(() => cache.adoptPeer('x.test', 'A', ['2001:db8::1'], 1000, 1, 0), {
      name: 'TypeError',
      message: /addresses/,
    });
    assert.throws(() => cache.adoptPeer('x.test', 'A', ['192.0.2.1'], -1, 1, 0), {
      name: 'TypeError',
      message: /remainingMs/,
    });
  });

  test('memory.shareDns: a boolean, and only with a store', () => {
    assert.throws(() => new Dialer({ memory: { shareDns: true } }), {
      name: 'TypeError',
      code: 'ERR_NETDIAL_INVALID_OPTION',
      message: /memory\.shareDns.*memory\.store/,
    });
    const store = new BroadcastMemoryStore(`netdial-test-opt-${process.pid}`);
    try {
      assert.throws(() => new Dialer({ memory: { store, shareDns: 'yes' as never } }), {
        name: 'TypeError',
        message: /memory\.shareDns/,
      });
      assert.throws(() => new Dialer({ memory: { store, shareDNS: true } as never }), {
        name: 'TypeError',
        message: /shareDns/,
      });
    } finally {
      store.close();
    }
  });
});

/** A worker thread dialling NAME with its own Dialer (fleet-dns-thread-child.ts). */
class Thread extends DialThread {
  constructor(data: { channel: string; dnsPort: number; name: string; port: number; shareDns: boolean }) {
    super(new URL('./support/fleet-dns-thread-child.js', import.meta.url), data);
  }
}

const NAME = 'svc.dnsfleet.test';
const sources = (r: DialReport) => r.resolution.queries.map((q) => [q.type, q.source]);

describe('DNS answers shared between worker threads (BroadcastMemoryStore)', () => {
  const good = trackConnections(net.createServer((s) => s.resume()));
  let port = 0;
  let dns: LabDnsServer;
  before(async () => {
    good.listen(0, '127.0.0.1');
    await once(good, 'listening');
    port = (good.address() as net.AddressInfo).port;
    dns = await startLoopbackDns(
      {
        [NAME]: { A: ['127.0.0.1'], ttl: 300 },
        'quiet.dnsfleet.test': { A: ['127.0.0.1'], ttl: 300 },
      },
      'dnsfleet.test',
    );
  });
  after(async () => {
    await Promise.all([closeServer(good), dns?.close()]);
  });

  test("shareDns: thread A resolves; thread B's first dial asks no DNS query; a newcomer loads it", async () => {
    const channel = `netdial-test-dns-${process.pid}-${Date.now()}`;
    const data = { channel, dnsPort: dns.port, name: NAME, port, shareDns: true };
    const threads: Thread[] = [];
    try {
      const a = new Thread(data);
      const b = new Thread(data);
      threads.push(a, b);
      await Promise.all([a.ready(), b.ready()]);
      dns.resetLog();
      const first = await a.dial();
      assert.deepEqual(sources(first), [['A', 'dns']]);
      assert.equal(dns.queryCount(NAME), 1, 'thread A asked the server');
      await sleep(400); // A's answer is published within ~100 ms
      const live = await b.dial();
      assert.deepEqual(sources(live), [['A', 'cache']], "thread B's first dial answered from memory");
      assert.equal(live.attempts.at(-1)?.outcome, 'connected');
      assert.equal(dns.queryCount(NAME), 1, 'thread B asked no DNS query');
      const c = new Thread(data);
      threads.push(c);
      await c.ready();
      const warm = await c.dial();
      assert.deepEqual(sources(warm), [['A', 'cache']], 'a newcomer loads the answers before its first dial');
      assert.equal(dns.queryCount(NAME), 1, 'the newcomer asked no DNS query');
      const ttl = warm.resolution.queries[0]?.addresses?.[0]?.ttlSeconds ?? 0;
      assert.ok(ttl > 290 && ttl <= 300, `the remaining TTL travelled, not a new one (${ttl} s)`);
    } finally {
      await Promise.all(threads.map((t) => t.close()));
    }
  });

  test('switch off (the default): B asks DNS itself, and no published message mentions the name', async () => {
    const channel = `netdial-test-dns-off-${process.pid}-${Date.now()}`;
    const name = 'quiet.dnsfleet.test';
    const listener = new BroadcastMemoryStore(channel);
    const seen: unknown[] = [];
    const unsubscribe = listener.subscribe((batch) => seen.push(batch));
    const data = { channel, dnsPort: dns.port, name, port, shareDns: false };
    const threads: Thread[] = [];
    try {
      const a = new Thread(data);
      const b = new Thread(data);
      threads.push(a, b);
      await Promise.all([a.ready(), b.ready()]);
      dns.resetLog();
      await a.dial();
      await sleep(400);
      const second = await b.dial();
      assert.deepEqual(sources(second), [['A', 'dns']], 'B resolved for itself');
      assert.equal(dns.queryCount(name), 2);
      await sleep(300);
      const text = JSON.stringify(seen);
      assert.ok(
        seen.length > 0 && text.includes('127.0.0.1'),
        `endpoint observations were published: ${text}`,
      );
      assert.ok(!text.includes('quiet') && !text.includes('"kind"'), `no name left a thread: ${text}`);
    } finally {
      await Promise.all(threads.map((t) => t.close()));
      unsubscribe();
      listener.close();
    }
  });

  test('DNS answers are published coalesced (one per name and family per 100 ms) and bounded (oldest dropped)', async () => {
    const channel = `netdial-test-dns-coalesce-${process.pid}-${Date.now()}`;
    const store = new BroadcastMemoryStore(channel);
    const peer = new BroadcastMemoryStore(channel);
    const batches: Array<Array<Record<string, unknown>>> = [];
    const unsubscribe = peer.subscribe((batch) => batches.push(batch as Array<Record<string, unknown>>));
    try {
      const dialer = new Dialer({ hostsPath: null, memory: { store, shareDns: true } });
      const cache = dialer.memory!.dns;
      const fleet = dialer.memory!.fleet!;
      await fleet.warming;
      for (let i = 0; i < 10; i++) {
        cache.setPositive(
          'busy.dnsfleet.test',
          'A',
          [{ address: `192.0.2.${i + 1}`, ttlSeconds: 60 }],
          performance.now(),
        );
        await sleep(10);
      }
      await sleep(300);
      const sent = batches.flat().filter((o) => o.kind === 'dns');
      assert.ok(sent.length >= 1 && sent.length <= 2, `coalesced: ${sent.length} DNS observations published`);
      assert.deepEqual(sent.at(-1)?.addresses, ['192.0.2.10'], 'the newest one went out');
      const before = fleet.stats.published;
      for (let i = 0; i < 2000; i++) {
        cache.setPositive(
          `n${i}.dnsfleet.test`,
          'A',
          [{ address: '192.0.2.1', ttlSeconds: 60 }],
          performance.now(),
        );
      }
      assert.equal(fleet.stats.dropped, 976, 'the queue keeps the newest 1 024');
      await sleep(300);
      assert.equal(fleet.stats.published, before + 1024);
      assert.equal(batches.at(-1)?.[0]?.name, 'n976.dnsfleet.test', 'the oldest were dropped');
    } finally {
      unsubscribe();
      store.close();
      peer.close();
    }
  });

  test('hostile DNS observations on the channel are ignored and counted; a valid one is adopted', async () => {
    const channelName = `netdial-test-dns-hostile-${process.pid}-${Date.now()}`;
    const store = new BroadcastMemoryStore(channelName);
    const raw = new BroadcastChannel(channelName);
    try {
      const dialer = new Dialer({
        hostsPath: null,
        memory: { store, shareDns: true, dns: { maxTtlSeconds: 3600 } },
      });
      const fleet = dialer.memory!.fleet!;
      await fleet.warming;
      const now = Date.now();
      const valid = obs({ wallClockMs: now, name: 'ok.dnsfleet.test' });
      const hostile = [
        obs({ wallClockMs: now, name: 'bad name.test' }),
        obs({ wallClockMs: now, name: `${'x'.repeat(64)}.test` }),
        obs({ wallClockMs: now, family: 6, addresses: ['fe80::1%eth0'] }),
        obs({
          wallClockMs: now,
          addresses: Array.from({ length: 2000 }, (_, i) => `198.18.${i >> 8}.${i & 255}`),
        }),
        obs({ wallClockMs: now + 3_600_000 }),
        obs({ wallClockMs: now, ttlSeconds: 3601 }),
        { ...obs({ wallClockMs: now, ttlSeconds: 60 }), expiresAtMs: now + 3_600_000 },
        obs({ wallClockMs: now, addresses: ['not-an-address'] }),
      ];
      for (let i = 0; i < 100; i++) raw.postMessage({ type: 'observations', batch: hostile });
      const end = performance.now() + 5000;
      while (fleet.stats.rejected < 800 && performance.now() < end) await sleep(20);
      assert.equal(fleet.stats.rejected, 800, 'every hostile item counted');
      assert.equal(fleet.stats.adopted, 0);
      assert.equal(dialer.memory?.dns.size, 0, 'nothing hostile reached the DNS cache');
      raw.postMessage({ type: 'observations', batch: [valid] });
      while (fleet.stats.adopted < 1 && performance.now() < end + 5000) await sleep(20);
      assert.equal(dialer.memory?.dns.get('ok.dnsfleet.test', 'A', performance.now()).state, 'fresh');
    } finally {
      raw.close();
      store.close();
    }
  });
});

function skipReason(reason: string | undefined): string | false {
  if (reason === undefined) return false;
  if (process.env.CI === 'true') test('redis-server is available on CI', () => assert.fail(reason));
  return reason;
}

function runChild(config: Record<string, unknown>): Promise<Record<string, unknown>> {
  const child = spawn(
    process.execPath,
    [new URL('./support/fleet-dns-redis-child.js', import.meta.url).pathname, JSON.stringify(config)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || line === '') reject(new Error(`child exited ${code}:\n${err.slice(-2000)}`));
      else resolve(JSON.parse(line) as Record<string, unknown>);
    });
  });
}

describe('DNS answers shared between processes (RedisMemoryStore)', {
  skip: skipReason(redisUnavailable()),
}, () => {
  let redis: RunningServer;
  let dns: LabDnsServer;
  const good = trackConnections(net.createServer((s) => s.resume()));
  let port = 0;
  before(async () => {
    redis = await startRedis();
    good.listen(0, '127.0.0.1');
    await once(good, 'listening');
    port = (good.address() as net.AddressInfo).port;
    dns = await startLoopbackDns({ [NAME]: { A: ['127.0.0.1'], ttl: 120 } }, 'dnsfleet.test');
  });
  after(async () => {
    await Promise.all([closeServer(good), dns?.close()]);
    await redis?.stop();
  });

  test("two processes: the second's first dial asks no DNS query; the key expires with the answer", async () => {
    const prefix = `netdial-test-dns-${process.pid}:`;
    const config = { redisPort: redis.port, prefix, dnsPort: dns.port, name: NAME, port };
    dns.resetLog();
    const first = await runChild(config);
    assert.equal(first.ok, true, JSON.stringify(first));
    assert.deepEqual(first.queries, [['A', 'dns']]);
    assert.equal(dns.queryCount(NAME), 1);
    const second = await runChild(config);
    assert.equal(second.ok, true, JSON.stringify(second));
    assert.deepEqual(second.queries, [['A', 'cache']], "the second process's first dial");
    assert.equal(dns.queryCount(NAME), 1, 'the second process asked no DNS query');
    const raw = new Redis({ host: '127.0.0.1', port: redis.port });
    try {
      const key = `${prefix}dns:4 ${NAME}`;
      const kept = JSON.parse((await raw.get(key)) ?? 'null') as Record<string, unknown>;
      assert.equal(kept.name, NAME);
      assert.deepEqual(kept.addresses, ['127.0.0.1']);
      const pttl = await raw.pttl(key);
      assert.ok(pttl > 100_000 && pttl <= 120_000, `expires with the remaining TTL (${pttl} ms)`);
      for (const k of await raw.keys('*')) assert.ok(k.startsWith(prefix), `a key outside the prefix: ${k}`);
    } finally {
      await raw.quit();
    }
  });
});
