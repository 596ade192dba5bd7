/**
 * Fleet memory between worker threads (BroadcastMemoryStore), with real sockets on loopback: a name with
 * a blackholed address (a listener whose accept queue is full: SYNs go unanswered) and a good one.
 * - live: thread A's first dial learns that the blackholed address does not answer; thread B, already
 *   running, dials next and goes to the good address first — one attempt, the report saying the
 *   decision came from a peer;
 * - warm start: thread C, started afterwards, loads the state before its first dial and skips it too;
 * - same-thread stores, diagnostics and cleanup: store.close() stops sharing, nothing is left behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  BroadcastMemoryStore,
  DIAGNOSTICS_CHANNELS,
  Dialer,
  getReport,
  subscribeDiagnostics,
} from '../src/index.js';
import { type Blackhole, startBlackhole } from './support/blackhole.js';
import { DialThread } from './support/dial-thread.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { closeServer, trackConnections } from './support/servers.js';

const DEAD = '127.0.0.2';
const GOOD = '127.0.0.1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A worker thread dialling DEAD and GOOD with its own Dialer (fleet-thread-child.ts). */
class Thread extends DialThread {
  constructor(channel: string, port: number) {
    super(new URL('./support/fleet-thread-child.js', import.meta.url), {
      channel,
      port,
      addresses: [DEAD, GOOD],
    });
  }
}

describe('fleet memory between worker threads (BroadcastMemoryStore)', () => {
  let hole: Blackhole;
  const good = trackConnections(net.createServer((s) => s.resume()));
  let port = 0;
  before(async () => {
    hole = await startBlackhole({ hosts: [DEAD] });
    port = hole.port;
    good.listen(port, GOOD);
    await once(good, 'listening');
  });
  after(async () => {
    await closeServer(good);
    await hole?.close();
  });

  test("one thread learns a blackholed address; another thread's first dial skips it (live and warm start)", async () => {
    const channel = `netdial-test-${process.pid}-${Date.now()}`;
    const threads: Thread[] = [];
    try {
      const a = new Thread(channel, port);
      const b = new Thread(channel, port);
      threads.push(a, b);
      await Promise.all([a.ready(), b.ready()]);
      const first = await a.dial();
      assert.deepEqual(
        first.attempts.map((x) => [x.address, x.outcome]),
        [
          [DEAD, 'cancelled'],
          [GOOD, 'connected'],
        ],
        'thread A tried the blackholed address first and waited out the attempt delay',
      );
      await sleep(400); // A's observation is published within ~100 ms
      const live = await b.dial();
      assert.deepEqual(
        live.attempts.map((x) => [x.address, x.outcome]),
        [[GOOD, 'connected']],
        "thread B's first dial went straight to the good address",
      );
      assert.deepEqual(live.decisions.demoted, [DEAD]);
      assert.deepEqual(live.decisions.fromPeer, [DEAD], 'the report says the demotion came from a peer');

      const c = new Thread(channel, port);
      threads.push(c);
      await c.ready();
      const warm = await c.dial();
      assert.deepEqual(
        warm.attempts.map((x) => [x.address, x.outcome]),
        [[GOOD, 'connected']],
        'a newcomer loads the state before its first dial',
      );
      assert.deepEqual(warm.decisions.fromPeer, [DEAD]);
      assert.ok(
        warm.durationMs < first.durationMs,
        `the newcomer's dial (${warm.durationMs} ms) is shorter than the one that learned (${first.durationMs} ms)`,
      );
    } finally {
      await Promise.all(threads.map((t) => t.close()));
    }
  });

  test('stores in one thread share too; sync events are published; close() stops sharing and leaves nothing', async () => {
    const baseline = activeResources();
    const channel = `netdial-test-same-${process.pid}-${Date.now()}`;
    const storeA = new BroadcastMemoryStore(channel);
    const storeB = new BroadcastMemoryStore(channel);
    const events: string[] = [];
    const off = subscribeDiagnostics(DIAGNOSTICS_CHANNELS.memorySync, (e) => events.push(e.direction));
    const options = (store: BroadcastMemoryStore) => ({
      resolver: async (_n: string, family: 4 | 6) => (family === 4 ? [DEAD, GOOD] : []),
      hostsPath: null,
      memory: { store, loadSharing: false, exploreProbability: 0 },
    });
    try {
      const a = new Dialer(options(storeA));
      const b = new Dialer(options(storeB));
      const s1 = await a.dial(`svc.fleet.test:${port}`);
      s1.destroy();
      await sleep(300);
      assert.ok(events.includes('publish'), `a publish event (${events})`);
      assert.ok(events.includes('receive'), `a receive event (${events})`);
      assert.equal(b.memory?.endpoints.get(DEAD, port, performance.now())?.inBackoff, true);
      const s2 = await b.dial(`svc.fleet.test:${port}`);
      assert.deepEqual(getReport(s2)?.attempts.length, 1);
      s2.destroy();
      // After close, nothing more is shared: a success at A no longer reaches B.
      storeA.close();
      storeB.close();
      assert.throws(() => storeA.publish([]), { code: 'ERR_NETDIAL_STORE_CLOSED' });
      a.memory?.endpoints.recordSuccess(DEAD, port, 1, performance.now());
      await sleep(250);
      assert.equal(b.memory?.endpoints.get(DEAD, port, performance.now())?.lastOutcome, 'failure');
    } finally {
      off();
      storeA.close();
      storeB.close();
    }
    await assertNoLeaks(baseline, 'BroadcastMemoryStore');
  });

  test('publishing is coalesced (one observation per endpoint per 100 ms) and bounded (oldest dropped, counted)', async () => {
    const channel = `netdial-test-coalesce-${process.pid}-${Date.now()}`;
    const store = new BroadcastMemoryStore(channel);
    const peer = new BroadcastMemoryStore(channel);
    const batches: unknown[][] = [];
    const unsubscribe = peer.subscribe((batch) => batches.push(batch as unknown[]));
    const drops: number[] = [];
    const off = subscribeDiagnostics(DIAGNOSTICS_CHANNELS.memoryDrop, (e) => drops.push(e.dropped));
    try {
      const dialer = new Dialer({ memory: { store } });
      const history = dialer.memory!.endpoints;
      const fleet = dialer.memory!.fleet!;
      await fleet.warming;
      // 10 failures of one endpoint, 10 ms apart: within one or two 100 ms windows (not ten).
      for (let i = 0; i < 10; i++) {
        history.recordFailure('192.0.2.1', 443, 'ECONNREFUSED', performance.now());
        await sleep(10);
      }
      await sleep(300);
      assert.ok(fleet.stats.published <= 2, `coalesced: ${fleet.stats.published} observations published`);
      const newest = batches.at(-1) as Array<{ failures: number }>;
      assert.equal(newest[0]?.failures, 10, 'the newest one went out');
      const publishedBefore = fleet.stats.published;
      // 2 000 endpoints within one window: the queue keeps the newest 1 024.
      for (let i = 0; i < 2000; i++) {
        history.recordSuccess(`198.18.${i >> 8}.${i & 255}`, 443, 1, performance.now());
      }
      assert.deepEqual(drops, Array(2000 - 1024).fill(1));
      assert.equal(fleet.stats.dropped, 976);
      await sleep(300);
      assert.equal(fleet.stats.published, publishedBefore + 1024);
      const last = batches.at(-1) as Array<{ address: string }>;
      assert.equal(last[0]?.address, `198.18.${976 >> 8}.${976 & 255}`, 'the oldest were dropped');
    } finally {
      off();
      unsubscribe();
      store.close();
      peer.close();
    }
  });

  test('bad arguments are TypeErrors naming the part', () => {
    assert.throws(() => new BroadcastMemoryStore(''), {
      name: 'TypeError',
      code: 'ERR_NETDIAL_INVALID_ARGUMENT',
    });
    assert.throws(() => new Dialer({ memory: { store: {} as never } }), {
      name: 'TypeError',
      code: 'ERR_NETDIAL_INVALID_OPTION',
      message: /memory\.store/,
    });
  });

  test('a script whose only work is its first dial does not exit while the dial waits for the warm-up', async () => {
    // The store's channel and the load's timers are unref'd (an idle Dialer never holds a process), so
    // the dial's wait must hold the event loop itself. The listener lives in this process, not the child.
    const server = net.createServer((socket) => socket.end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as net.AddressInfo;
      const index = new URL('../src/index.js', import.meta.url).href;
      const script = `
        import { BroadcastMemoryStore, Dialer } from ${JSON.stringify(index)};
        const store = new BroadcastMemoryStore('exit-test-${process.pid}');
        const dialer = new Dialer({ memory: { store } });
        const socket = await dialer.dial('127.0.0.1:${port}');
        console.log('connected');
        socket.destroy();
        store.close();
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c));
      child.stderr.on('data', (c: Buffer) => (err += c));
      const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const [code] = (await once(child, 'close')) as [number | null];
      clearTimeout(kill);
      assert.equal(out, 'connected\n', `exit ${code}; stderr: ${err}`);
      assert.equal(code, 0, err);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
