/**
 * The hot path's structure (issue 16): what a dial answered at once — an IP literal, the hosts file, the
 * DNS cache — costs in timers, and the memory shortcuts that keep it cheap do not change what is
 * remembered. Speed itself is measured in the benchmark (bench/micro.ts), not here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { Dialer, getReport, isDialError } from '../src/index.js';
import { DnsCache } from '../src/memory/dns-cache.js';
import { EndpointHistory } from '../src/memory/endpoint-history.js';
import { startBlackhole } from './support/blackhole.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { closeServer, closeSocket, listen } from './support/servers.js';

const T0 = 1_000_000;

/** Counts the timers set for dials (by the Dialer's wake-up queue) while `run` is pending (others' are not counted). */
async function dialTimers<T>(run: () => Promise<T>): Promise<{ value: T; timers: number }> {
  const original = globalThis.setTimeout;
  let timers = 0;
  const counting = ((...args: Parameters<typeof setTimeout>) => {
    if (new Error().stack?.includes('wakeups')) timers++;
    return original(...args);
  }) as typeof setTimeout;
  globalThis.setTimeout = counting;
  try {
    return { value: await run(), timers };
  } finally {
    globalThis.setTimeout = original;
  }
}

describe('a dial answered at once', () => {
  test('one timer per Dialer: a later dial, or 16 in flight, ride on the deadline timer armed first', async (t) => {
    const server = net.createServer((s) => s.on('error', () => {}).resume());
    const port = await listen(server, '127.0.0.1');
    t.after(() => closeServer(server));
    const dir = mkdtempSync(join(tmpdir(), 'netdial-hot-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'hosts'), '127.0.0.1 hot.example\n');
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    // The hosts file answers synchronously; DNS is never asked (no server listens on port 1).
    const dialer = new Dialer({
      resolver: 'dns',
      nameservers: ['127.0.0.1:1'],
      hostsPath: join(dir, 'hosts'),
      resolvConfPath: join(dir, 'resolv.conf'),
    });
    const baseline = activeResources();
    const { timers } = await dialTimers(async () => {
      for (const host of ['hot.example', '127.0.0.1']) {
        const socket = await dialer.dial({ host, port });
        try {
          assert.equal(socket.remoteAddress, '127.0.0.1');
        } finally {
          await closeSocket(socket);
        }
      }
      const sockets = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          dialer.dial({ host: i % 2 ? 'hot.example' : '127.0.0.1', port }),
        ),
      );
      await Promise.all(sockets.map((s) => closeSocket(s)));
    });
    // Every deadline here is later than the first dial's: the one timer armed for it serves them all.
    assert.equal(timers, 1, 'timers set for 18 dials of one Dialer');
    // Nothing waits now: the timer no longer holds the process (a ref'd Timeout would show here).
    await assertNoLeaks(baseline);
  });

  test('a cached A answer with no AAAA arms the timer once: the Resolution Delay overtaken at once sets none', async (t) => {
    const server = net.createServer((s) => s.on('error', () => {}).resume());
    const port = await listen(server, '127.0.0.1');
    t.after(() => closeServer(server));
    const dns = await startLoopbackDns({ 'v4only.hot.test': { A: ['127.0.0.1'], ttl: 300 } }, 'hot.test');
    t.after(() => dns.close());
    const dialer = new Dialer({
      resolver: 'dns',
      nameservers: [`127.0.0.1:${dns.port}`],
      hostsPath: null,
      dnsTries: 1,
      dnsTimeoutMs: 2000,
    });
    // The first dial fills the cache (the A answer and AAAA's NODATA) and arms the Dialer's timer.
    await closeSocket(await dialer.dial({ host: 'v4only.hot.test', port }));
    // Past the Resolution Delay (50 ms): whatever the first dial armed has fired, nothing is armed now.
    await new Promise((r) => setTimeout(r, 200));
    const { value: socket, timers } = await dialTimers(() => dialer.dial({ host: 'v4only.hot.test', port }));
    try {
      const report = getReport(socket)!;
      assert.deepEqual(
        report.resolution.queries.map((q) => [q.type, q.source, q.code ?? q.addresses?.length]),
        [
          ['AAAA', 'cache', 'ENODATA'],
          ['A', 'cache', 1],
        ],
        'both answers came from the cache at once',
      );
      // The A answer alone would wait the Resolution Delay (RFC 8305 §3); AAAA's NODATA right behind it
      // starts the race, so the only wake-up left is the deadline: one timer, not one more for 50 ms.
      assert.equal(timers, 1, 'timers set for a dial answered from the cache');
    } finally {
      await closeSocket(socket);
    }
  });

  test('a process whose dials are done exits at once: the idle timer does not hold it', async () => {
    // The dial's deadline is 60 s away when it connects; the process must not wait for it.
    const script = `
      import net from 'node:net';
      const { Dialer } = await import(${JSON.stringify(new URL('../src/index.js', import.meta.url).href)});
      const server = net.createServer((s) => s.resume());
      server.listen(0, '127.0.0.1', async () => {
        const socket = await new Dialer({ memory: false }).dial({ host: '127.0.0.1', port: server.address().port }, { timeout: 60_000 });
        socket.destroy();
        server.close();
      });`;
    const started = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      const code = await new Promise((resolve) => child.once('exit', (c, signal) => resolve(c ?? signal)));
      assert.equal(code, 0);
    } finally {
      clearTimeout(killer);
    }
    const tookMs = performance.now() - started;
    assert.ok(tookMs < 20_000, `the process took ${Math.round(tookMs)} ms to exit`);
  });

  test("the socket handed over carries no listener of the dial: an error of the caller's reaches the caller", async (t) => {
    const server = net.createServer((s) => s.on('error', () => {}).resume());
    const port = await listen(server, '127.0.0.1');
    t.after(() => closeServer(server));
    const socket = await new Dialer({ memory: false }).dial({ host: '127.0.0.1', port });
    try {
      assert.equal(socket.listenerCount('connect'), 0, "'connect' listeners");
      assert.equal(socket.listenerCount('error'), 0, "'error' listeners");
      const seen: Error[] = [];
      socket.on('error', (err) => seen.push(err));
      socket.destroy(new Error('from the caller'));
      await new Promise((r) => socket.once('close', r));
      assert.deepEqual(
        seen.map((e) => e.message),
        ['from the caller'],
      );
    } finally {
      socket.destroy();
    }
  });

  test('the deadline still holds when nothing after the answer moves the timer', async (t) => {
    const hole = await startBlackhole({ hosts: ['127.0.0.2'] });
    t.after(() => hole.close());
    const baseline = activeResources();
    const started = performance.now();
    const err = await new Dialer({ memory: false })
      .dial({ host: '127.0.0.2', port: hole.port }, { timeout: 300 })
      .then(
        () => assert.fail('the dial connected'),
        (e: unknown) => e,
      );
    const tookMs = performance.now() - started;
    assert.ok(isDialError(err), String(err));
    assert.equal(err.code, 'ETIMEDOUT');
    assert.ok(tookMs >= 290 && tookMs < 5000, `timed out after ${tookMs} ms`);
    await assertNoLeaks(baseline);
  });

  test("the resolver's path is planned once and shared; each report, and each resolve() answer, owns a copy", async (t) => {
    const server = net.createServer((s) => s.on('error', () => {}).resume());
    const port = await listen(server, '127.0.0.1');
    t.after(() => closeServer(server));
    const dir = mkdtempSync(join(tmpdir(), 'netdial-hot-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'hosts'), '127.0.0.1 hot.example\n');
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    const dialer = new Dialer({
      resolver: 'dns',
      nameservers: ['127.0.0.1:1'],
      hostsPath: join(dir, 'hosts'),
      resolvConfPath: join(dir, 'resolv.conf'),
    });
    const paths = [];
    for (const host of ['hot.example', 'hot.example', '127.0.0.1', '127.0.0.1']) {
      const socket = await dialer.dial({ host, port });
      try {
        paths.push(getReport(socket)!.resolution.path!);
      } finally {
        await closeSocket(socket);
      }
    }
    const [first, second, literal, literalAgain] = paths as [
      NonNullable<(typeof paths)[0]>,
      NonNullable<(typeof paths)[0]>,
      NonNullable<(typeof paths)[0]>,
      NonNullable<(typeof paths)[0]>,
    ];
    assert.deepEqual(first, second);
    assert.equal(first.resolver, 'netdial');
    assert.deepEqual(literal, literalAgain);
    assert.equal(literal.resolver, 'literal');
    // The caller may change its report: no other report (nor the resolver's own plan) sees it.
    for (const [mine, other] of [
      [first, second],
      [literal, literalAgain],
    ] as const) {
      assert.notEqual(mine, other);
      const reason = other.reason;
      mine.reason = 'changed by the caller';
      assert.equal(other.reason, reason);
    }
    const again = await dialer.dial({ host: 'hot.example', port });
    try {
      assert.equal(getReport(again)!.resolution.path!.reason, second.reason);
    } finally {
      await closeSocket(again);
    }
    const resolved = await dialer.resolve('hot.example');
    resolved.path!.reason = 'changed too';
    assert.equal((await dialer.resolve('hot.example')).path!.reason, second.reason);
  });
});

describe('memory shortcuts on the hot path', () => {
  test('DnsCache: touching the newest name again moves nothing; deleted and added again, it is newest', () => {
    const rec = (address: string) => ({ address, ttlSeconds: 60 });
    const cache = new DnsCache({ maxNames: 3 });
    cache.setPositive('a.test', 'A', [rec('192.0.2.1')], T0);
    cache.setPositive('b.test', 'A', [rec('192.0.2.2')], T0);
    cache.get('b.test', 'A', T0 + 1);
    cache.get('b.test', 'AAAA', T0 + 1);
    assert.deepEqual(
      cache.entries().map((e) => e.name),
      ['a.test', 'b.test'],
    );
    // The newest name forgotten, then learnt again: it must be held (and newest), not lost.
    cache.delete('b.test');
    cache.setPositive('b.test', 'A', [rec('192.0.2.3')], T0 + 2);
    assert.equal(cache.get('b.test', 'A', T0 + 3).state, 'fresh');
    cache.clear();
    cache.setPositive('b.test', 'A', [rec('192.0.2.4')], T0 + 4);
    assert.equal(cache.size, 1);
    cache.setPositive('c.test', 'A', [rec('192.0.2.5')], T0 + 5);
    cache.setPositive('d.test', 'A', [rec('192.0.2.6')], T0 + 5);
    cache.get('b.test', 'A', T0 + 6); // b becomes newest again: c is the one to go
    cache.setPositive('e.test', 'A', [rec('192.0.2.7')], T0 + 7);
    assert.deepEqual(
      cache.entries().map((e) => e.name),
      ['d.test', 'b.test', 'e.test'],
    );
  });

  test('a dial whose endpoint has its own RTT never computes the Dialer-wide attempt delay (a median over all history)', async (t) => {
    const server = net.createServer((s) => s.on('error', () => {}).resume());
    const port = await listen(server, '127.0.0.1');
    t.after(() => closeServer(server));
    const dialer = new Dialer({ resolver: 'dns', nameservers: ['127.0.0.1:1'], hostsPath: null });
    const history = dialer.memory!.endpoints;
    for (let i = 0; i < 200; i++) history.recordSuccess(`198.18.0.${i}`, 443, 5 + i, performance.now());
    const median = history.attemptDelayMs.bind(history);
    let asked = 0;
    history.attemptDelayMs = (family, nowMs) => {
      asked++;
      return median(family, nowMs);
    };
    await closeSocket(await dialer.dial({ host: '127.0.0.1', port })); // the first: no RTT of its own yet
    const first = asked;
    for (let i = 0; i < 5; i++) await closeSocket(await dialer.dial({ host: '127.0.0.1', port }));
    assert.equal(asked, first, `asked ${asked - first} more times`);
    // Someone asks for the report: then it is decided (the figure the dial started with).
    const socket = await dialer.dial({ host: '127.0.0.1', port });
    const report = getReport(socket);
    await closeSocket(socket);
    assert.equal(asked, first + 1);
    assert.equal(typeof report?.settings.attemptDelayMs, 'number');
  });

  test('EndpointHistory: the newest endpoint forgotten and measured again is remembered', () => {
    const history = new EndpointHistory();
    history.recordSuccess('192.0.2.1', 443, 10, T0);
    history.recordSuccess('192.0.2.1', 443, 10, T0 + 1);
    assert.equal(history.size, 1);
    history.forget();
    history.recordSuccess('192.0.2.1', 443, 40, T0 + 2);
    assert.equal(history.size, 1);
    const json = history.toJSON(T0 + 3, Date.now());
    assert.equal(json.endpoints[0]?.srttMs, 40);
    history.delete('192.0.2.1', 443);
    history.recordFailure('192.0.2.1', 443, 'ECONNREFUSED', T0 + 4);
    assert.equal(history.size, 1);
  });
});
