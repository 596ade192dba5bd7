/**
 * Fleet memory over a real Redis (Debian's redis-server, private, on loopback; installed by the test setup
 * when missing, skipped with a reason only outside CI) with real sockets: blackholed addresses (listeners
 * whose accept queue is full) and a good one on 127.0.0.1.
 * - two processes: the second's first dial skips what the first learned, its good attempt starting at
 *   once (about one round trip), the report saying so; the state is kept under the prefix with an expiry;
 * - Redis stopped mid-run: no dial fails or slows; restarted on the same port: sharing resumes by itself;
 * - 1 000 hostile messages on the channel and junk under the prefix: ignored, counted, nothing adopted,
 *   no crash, sharing still works afterwards;
 * - a small fleet (3 processes × 8 dials): time lost to dead addresses with no memory > local > shared.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { runFleet, runMember } from '../bench/fleet-run.js';
import { DIAGNOSTICS_CHANNELS, Dialer, getReport, subscribeDiagnostics } from '../src/index.js';
import { RedisMemoryStore } from '../src/redis.js';
import { type Blackhole, startBlackhole } from './support/blackhole.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { redisUnavailable, type RunningServer, startRedis } from './support/real-servers.js';
import { closeServer, trackConnections } from './support/servers.js';

const GOOD = '127.0.0.1';
const DEAD = '127.0.0.2';
const DEAD2 = '127.0.0.3';
const DEAD3 = '127.0.0.4';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function skipReason(reason: string | undefined): string | false {
  if (reason === undefined) return false;
  if (process.env.CI === 'true') {
    test('redis-server is available on CI', () => assert.fail(reason));
  }
  return reason;
}

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes; returns whether it held. */
async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (check()) return true;
    await sleep(50);
  }
  return check();
}

const redisSkip = skipReason(redisUnavailable());

describe('fleet memory over Redis (RedisMemoryStore)', { skip: redisSkip }, () => {
  let redis: RunningServer;
  let hole: Blackhole;
  const good = trackConnections(net.createServer((s) => s.resume()));
  let port = 0;
  const clients: Redis[] = [];
  const stores: RedisMemoryStore[] = [];
  let prefixCount = 0;
  const newPrefix = () => `netdial-test-${process.pid}-${++prefixCount}:`;

  /** An ioredis client that reconnects quickly (the restart test) and whose errors are expected. */
  const client = () => {
    const c = new Redis({
      host: '127.0.0.1',
      port: redis.port,
      retryStrategy: () => 100,
      maxRetriesPerRequest: 1,
    });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  const storeFor = (prefix: string, c = client()) => {
    const s = new RedisMemoryStore({ client: c, prefix });
    stores.push(s);
    return s;
  };
  const dialerFor = (store: RedisMemoryStore, addresses: string[]) =>
    new Dialer({
      resolver: async (_n, family) => (family === 4 ? addresses : []),
      hostsPath: null,
      family: 4,
      memory: { store, loadSharing: false, exploreProbability: 0 },
    });

  before(async () => {
    redis = await startRedis();
    hole = await startBlackhole({ hosts: [DEAD, DEAD2, DEAD3], lifetimeMs: 170_000 });
    port = hole.port;
    good.listen(port, GOOD);
    await once(good, 'listening');
  });
  after(async () => {
    for (const s of stores) s.close();
    for (const c of clients) c.disconnect();
    await closeServer(good);
    await hole?.close();
    await redis?.stop();
  });

  test("two processes: the second's first dial skips what the first learned, in about one round trip", async () => {
    const prefix = newPrefix();
    const config = {
      mode: 'shared' as const,
      port,
      addresses: [DEAD, GOOD],
      rotate: false,
      dials: 1,
      intervalMs: 0,
      startDelayMs: 0,
      redisPort: redis.port,
      prefix,
      exploreProbability: 0,
      loadSharing: false,
    };
    const first = await runMember(config, 60_000);
    assert.deepEqual(first.first.attempts, [
      [DEAD, 'cancelled'],
      [GOOD, 'connected'],
    ]);
    assert.ok(
      first.first.lostMs >= 100,
      `the first process waited out an attempt delay (${first.first.lostMs} ms)`,
    );
    const second = await runMember(config, 60_000);
    assert.deepEqual(second.first.attempts, [[GOOD, 'connected']], "the second process's first dial");
    assert.deepEqual(second.first.fromPeer, [DEAD], 'the report says a peer decided');
    assert.ok(second.first.lostMs < 50, `its good attempt started at once (${second.first.lostMs} ms)`);
    assert.ok(second.first.wallMs < 1000, `the whole dial, warm-up included: ${second.first.wallMs} ms`);
    // Without sharing, a new process relearns.
    const alone = await runMember({ ...config, mode: 'local' }, 60_000);
    assert.equal(alone.first.attempts.length, 2);
    // The state newcomers load: under the prefix, with an expiry, nothing but endpoints.
    const raw = client();
    const key = `${prefix}ep:${port} ${DEAD}`;
    const kept = JSON.parse((await raw.get(key)) ?? 'null') as Record<string, unknown>;
    assert.deepEqual(Object.keys(kept).sort(), [
      'address',
      'backoffMs',
      'code',
      'failures',
      'id',
      'outcome',
      'port',
      'wallClockMs',
    ]);
    assert.equal(kept.address, DEAD);
    const pttl = await raw.pttl(key);
    assert.ok(pttl > 0 && pttl <= 60_000, `expires with the backoff (${pttl} ms)`);
    for (const k of await raw.keys('*'))
      assert.ok(k.startsWith('netdial-test-'), `a key outside the prefixes: ${k}`);
  });

  test('Redis stopped mid-run: no dial fails or slows; restarted: sharing resumes', async () => {
    const prefix = newPrefix();
    const errors: string[] = [];
    const off = subscribeDiagnostics(DIAGNOSTICS_CHANNELS.memoryError, (e) => errors.push(e.operation));
    const storeA = storeFor(prefix);
    const a = dialerFor(storeA, [DEAD, GOOD]);
    const b = dialerFor(storeFor(prefix), [DEAD, GOOD]);
    try {
      (await a.dial(`one.test:${port}`)).destroy();
      assert.ok(
        await eventually(
          () => b.memory?.endpoints.get(DEAD, port, performance.now())?.inBackoff === true,
          5000,
        ),
        'B learned from A while Redis ran',
      );

      await redis.stop();
      assert.ok(
        await eventually(() => clients.every((c) => c.status !== 'ready'), 5000),
        'clients saw Redis go',
      );
      // A Dialer created now (its client with ioredis's defaults: commands wait offline for the
      // reconnection) waits at most 50 ms for the state it cannot load.
      const patient = new Redis({ host: '127.0.0.1', port: redis.port });
      patient.on('error', () => {});
      clients.push(patient);
      const newcomer = dialerFor(storeFor(prefix, patient), [GOOD]);
      const bornMs = performance.now();
      (await newcomer.dial(`fresh.test:${port}`)).destroy();
      const bornDialMs = performance.now() - bornMs;
      assert.ok(bornDialMs < 1000, `the newcomer dialled without waiting for Redis (${bornDialMs} ms)`);
      // Every dial of both works as with local memory.
      const outage: number[] = [];
      for (let i = 0; i < 10; i++) {
        for (const d of [a, b]) {
          const started = performance.now();
          const s = await d.dial(`one.test:${port}`);
          outage.push(performance.now() - started);
          assert.deepEqual(
            getReport(s)?.attempts.map((x) => x.address),
            [GOOD],
          );
          s.destroy();
        }
      }
      // A learns something new while Redis is down (its store's other Dialer, same memory rules).
      const learn = dialerFor(storeA, [DEAD2, GOOD]);
      const s2 = await learn.dial(`two.test:${port}`);
      assert.equal(
        getReport(s2)?.attempts.length,
        2,
        'learning during the outage is local, as without a store',
      );
      s2.destroy();
      assert.ok(Math.max(...outage) < 1000, `no dial slowed while Redis was down: ${outage.map(Math.round)}`);
      await sleep(300);
      assert.ok(errors.includes('publish'), `publish errors were reported (${errors})`);
      assert.ok((a.memory?.fleet?.stats.errors ?? 0) > 0);

      redis = await startRedis({ port: redis.port });
      assert.ok(
        await eventually(() => clients.every((c) => c.status === 'ready'), 15_000),
        'clients reconnected',
      );
      // Sharing resumes: a failure A records now reaches B (retried until the subscription is back too).
      let resumed = false;
      for (let i = 0; i < 40 && !resumed; i++) {
        a.memory?.endpoints.recordFailure(DEAD3, port, 'ECONNREFUSED', performance.now());
        resumed = await eventually(
          () => b.memory?.endpoints.get(DEAD3, port, performance.now())?.fromPeer === true,
          250,
        );
      }
      assert.ok(resumed, 'B hears from A again after the restart');
      // What A learnt during the outage was kept and sent once Redis was back: a newcomer loads it.
      let loaded = false;
      for (let i = 0; i < 20 && !loaded; i++) {
        const newcomer = dialerFor(storeFor(prefix), []);
        await newcomer.memory?.fleet?.warming;
        loaded = await eventually(
          () => newcomer.memory?.endpoints.get(DEAD2, port, performance.now())?.inBackoff === true,
          300,
        );
      }
      assert.ok(loaded, 'the observation queued during the outage reached the shared state');
    } finally {
      off();
    }
  });

  test('1 000 hostile messages on the channel and junk under the prefix: ignored, counted, no crash', async () => {
    const prefix = newPrefix();
    const store = storeFor(prefix);
    const dialer = dialerFor(store, [GOOD]);
    const raw = client();
    const now = Date.now();
    const valid = {
      address: '192.0.2.10',
      port: 443,
      outcome: 'failure',
      wallClockMs: now,
      id: 'peer.1',
      code: 'ETIMEDOUT',
      failures: 1,
      backoffMs: 60_000,
    };
    const hostile = (i: number): string => {
      switch (i % 10) {
        case 0:
          return 'not json {';
        case 1:
          return String(i);
        case 2:
          return '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}';
        case 3:
          return JSON.stringify([{ ...valid, address: 'example.com' }]);
        case 4:
          return JSON.stringify([{ ...valid, wallClockMs: now + 3_600_000 }]);
        case 5:
          return i === 5 ? `[${'1,'.repeat(600_000)}1]` : '"a string"';
        case 6:
          return JSON.stringify([null, 1, 'a', [], {}]);
        case 7:
          return JSON.stringify([
            { ...valid, port: 70_000 },
            { ...valid, id: 'x' },
          ]);
        case 8:
          return `${'['.repeat(5000)}${']'.repeat(5000)}`;
        default:
          return JSON.stringify([
            { ...valid, code: '<img src=x>' },
            { ...valid, backoffMs: -1 },
          ]);
      }
    };
    try {
      await dialer.memory?.fleet?.warming;
      await sleep(200); // the subscription is up
      const stats = dialer.memory!.fleet!.stats;
      for (let i = 0; i < 1000; i++) await raw.publish(`${prefix}observations`, hostile(i));
      assert.ok(await eventually(() => stats.rejected >= 1000, 10_000), `rejected ${stats.rejected}`);
      assert.equal(stats.adopted, 0);
      assert.equal(stats.received, 0);
      assert.equal(dialer.memory?.endpoints.size, 0, 'nothing hostile reached the history');
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
      const s = await dialer.dial(`ok.test:${port}`);
      s.destroy();
      // Still listening: a valid peer observation gets through.
      await raw.publish(`${prefix}observations`, JSON.stringify([{ ...valid, wallClockMs: Date.now() }]));
      assert.ok(await eventually(() => stats.adopted === 1, 5000), 'a valid observation after the flood');
      assert.equal(dialer.memory?.endpoints.get('192.0.2.10', 443, performance.now())?.inBackoff, true);

      // Junk under the prefix: a newcomer's load rejects it and adopts only the valid state.
      await raw.set(
        `${prefix}ep:443 192.0.2.10`,
        JSON.stringify({ ...valid, wallClockMs: Date.now() }),
        'PX',
        60_000,
      );
      await raw.set(`${prefix}ep:1 junk`, 'not json');
      await raw.set(`${prefix}ep:2 junk`, JSON.stringify({ ...valid, address: '::ffff:zz' }));
      await raw.set(`${prefix}ep:3 junk`, JSON.stringify({ ...valid, port: 0 }));
      const newcomer = dialerFor(storeFor(prefix), [GOOD]);
      await newcomer.memory?.fleet?.warming;
      assert.ok(await eventually(() => (newcomer.memory?.fleet?.stats.rejected ?? 0) >= 2, 3000));
      assert.equal(newcomer.memory?.endpoints.get('192.0.2.10', 443, performance.now())?.inBackoff, true);
      // Another prefix is another fleet: it saw nothing.
      const stranger = dialerFor(storeFor(newPrefix()), [GOOD]);
      await stranger.memory?.fleet?.warming;
      await sleep(200);
      assert.equal(stranger.memory?.endpoints.size, 0);
    } finally {
      store.close();
    }
  });

  test('an ioredis client with keyPrefix: state under keyPrefix + prefix, a newcomer loads it, live updates arrive', async () => {
    const prefix = newPrefix();
    const keyPrefix = `netdial-test-${process.pid}-app${++prefixCount}:`;
    const prefixedClient = () => {
      const c = new Redis({ host: '127.0.0.1', port: redis.port, keyPrefix, maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      clients.push(c);
      return c;
    };
    const raw = client();
    const observation = (address: string) => ({
      address,
      port: 443,
      outcome: 'failure',
      wallClockMs: Date.now(),
      id: `peer.${address.split('.').at(-1)}`,
      code: 'ETIMEDOUT',
      failures: 1,
      backoffMs: 60_000,
    });
    const writerClient = prefixedClient();
    await once(writerClient, 'ready'); // publish refuses until the client is connected
    const writerStore = storeFor(prefix, writerClient);
    await writerStore.publish([observation('192.0.2.20') as never]);
    // ioredis put keyPrefix before the key: the state is under keyPrefix + prefix, nowhere else.
    assert.deepEqual(await raw.keys(`*${prefix}*`), [`${keyPrefix}${prefix}ep:443 192.0.2.20`]);
    // A newcomer on such a client loads it (SCAN's pattern and replies account for keyPrefix).
    const newcomer = dialerFor(storeFor(prefix, prefixedClient()), [GOOD]);
    await newcomer.memory?.fleet?.warming;
    assert.ok(
      await eventually(() => (newcomer.memory?.fleet?.stats.adopted ?? 0) === 1, 3000),
      `loaded: ${JSON.stringify(newcomer.memory?.fleet?.stats)}`,
    );
    assert.equal(newcomer.memory?.endpoints.get('192.0.2.20', 443, performance.now())?.inBackoff, true);
    // Live: the channel is keyPrefix + prefix + 'observations' (ioredis does not prefix channels).
    await sleep(200); // the subscription is up
    await raw.publish(`${keyPrefix}${prefix}observations`, JSON.stringify([observation('192.0.2.21')]));
    assert.ok(
      await eventually(
        () => newcomer.memory?.endpoints.get('192.0.2.21', 443, performance.now())?.inBackoff === true,
        3000,
      ),
      'a live observation on the namespaced channel',
    );
    await raw.publish(`${prefix}observations`, JSON.stringify([observation('192.0.2.22')]));
    await sleep(300);
    assert.equal(newcomer.memory?.endpoints.get('192.0.2.22', 443, performance.now()), undefined);
    // The same prefix on a client without keyPrefix is another namespace: it loads nothing.
    const stranger = dialerFor(storeFor(prefix), [GOOD]);
    await stranger.memory?.fleet?.warming;
    await sleep(200);
    assert.equal(stranger.memory?.endpoints.size, 0);
    // A keyPrefix that is not text is refused when the store is made, naming it.
    assert.throws(
      () =>
        new RedisMemoryStore({
          client: { call() {}, duplicate() {}, options: { keyPrefix: 42 } } as never,
        }),
      (e: unknown) => e instanceof TypeError && /client\.options\.keyPrefix/.test((e as Error).message),
    );
  });

  test('close() ends the subscription connection; with the client quit, nothing is left behind', async () => {
    const baseline = activeResources();
    const c = new Redis({ host: '127.0.0.1', port: redis.port });
    const store = new RedisMemoryStore({ client: c, prefix: newPrefix() });
    const dialer = dialerFor(store, [GOOD]);
    await dialer.memory?.fleet?.warming;
    const s = await dialer.dial(`ok.test:${port}`);
    s.destroy();
    await sleep(250); // the success is published
    assert.equal(dialer.memory?.fleet?.stats.published, 1);
    store.close();
    await assert.rejects(store.publish([]), { code: 'ERR_NETDIAL_STORE_CLOSED' });
    await c.quit();
    await assertNoLeaks(baseline, 'RedisMemoryStore');
  });

  test('a fleet of 3 processes × 8 dials: time lost to dead addresses, none > local > shared', async () => {
    const base = {
      port,
      addresses: [DEAD, DEAD2, GOOD],
      dials: 8,
      intervalMs: 20,
      oneAfterAnother: true,
      redisPort: redis.port,
      exploreProbability: 0,
      loadSharing: false,
    };
    const none = await runFleet(3, { ...base, mode: 'none' }, 120_000);
    const local = await runFleet(3, { ...base, mode: 'local' }, 120_000);
    const shared = await runFleet(3, { ...base, mode: 'shared', prefix: newPrefix() }, 120_000);
    const row = (r: typeof none) => `${r.mode}: ${Math.round(r.lostMs)} ms over ${r.dialsThatLost} dials`;
    const summary = [none, local, shared].map(row).join('; ');
    for (const r of [none, local, shared]) assert.equal(r.failed, 0, `${r.mode}: no dial failed`);
    // No memory: every answer with a dead address in front costs an attempt delay, every time.
    assert.equal(none.dialsThatLost, 3 * 6, summary);
    // Local memory: each process learns for itself, once.
    assert.deepEqual(
      local.members.map((m) => m.dialsThatLost),
      [1, 1, 1],
      summary,
    );
    // Shared memory: the first process learns for all; the later ones start warm.
    assert.deepEqual(
      shared.members.map((m) => m.dialsThatLost),
      [1, 0, 0],
      summary,
    );
    assert.ok(shared.lostMs < local.lostMs && local.lostMs < none.lostMs, summary);
  });
});
