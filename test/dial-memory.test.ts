/**
 * The Dialer's memory with real sockets and a real DNS server on loopback: answers kept exactly as long
 * as their TTL, one refresh per record type however many dials wait, stale answers when DNS is gone,
 * failed endpoints tried last, load spread over equal endpoints, and a demoted endpoint coming back.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import {
  DialMemory,
  Dialer,
  type DialerOptions,
  getReport,
  type MemoryJson,
  type ResolveFunction,
} from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { closeServer, trackConnections } from './support/servers.js';

async function listen(server: net.Server, host: string, port = 0): Promise<number> {
  server.listen(port, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DNS cache through a real DNS server', () => {
  const tcp = trackConnections(net.createServer((s) => s.resume()));
  const tcp6 = trackConnections(net.createServer((s) => s.resume()));
  let port = 0;
  let dns: LabDnsServer;
  let dnsOptions: DialerOptions;
  before(async () => {
    port = await listen(tcp, '127.0.0.1');
    await listen(tcp6, '::1', port);
    dns = await startLoopbackDns(
      {
        'short.mem.test': { A: ['127.0.0.1'], AAAA: [], ttl: 1 },
        'long.mem.test': { A: ['127.0.0.1'], ttl: 300 },
        'many.mem.test': { A: ['127.0.0.1'], AAAA: ['::1'], ttl: 1 },
        'moved.mem.test': { A: ['127.0.0.2'], ttl: 1 },
      },
      'mem.test',
    );
    // 'dns' only: the system resolver (the host's) is never asked, whatever happens.
    dnsOptions = {
      resolver: 'dns',
      nameservers: [`127.0.0.1:${dns.port}`],
      hostsPath: null,
      dnsTries: 1,
      dnsTimeoutMs: 500,
    };
  });
  after(async () => {
    await Promise.all([closeServer(tcp), closeServer(tcp6), dns?.close()]);
  });

  test('within the TTL, repeated dials make zero DNS queries', async () => {
    const dialer = new Dialer(dnsOptions);
    dns.resetLog();
    const first = await dialer.dial(`long.mem.test:${port}`);
    first.destroy();
    const asked = dns.queryCount('long.mem.test');
    assert.equal(asked, 2, 'one A and one AAAA query for the first dial');
    for (let i = 0; i < 5; i++) {
      const s = await dialer.dial(`long.mem.test:${port}`);
      const q = getReport(s)!.resolution.queries;
      assert.deepEqual(
        q.map((x) => [x.type, x.source]),
        [
          ['AAAA', 'cache'],
          ['A', 'cache'],
        ],
      );
      s.destroy();
    }
    assert.equal(dns.queryCount('long.mem.test'), asked);
  });

  test('after expiry, 100 concurrent dials cause exactly one refresh per record type', async () => {
    const dialer = new Dialer(dnsOptions);
    (await dialer.dial(`many.mem.test:${port}`)).destroy();
    await sleep(1100); // TTL 1 s
    dns.resetLog();
    const sockets = await Promise.all(
      Array.from({ length: 100 }, () => dialer.dial(`many.mem.test:${port}`)),
    );
    for (const s of sockets) s.destroy();
    await sleep(50);
    assert.equal(dns.queryCount('many.mem.test', 'A'), 1);
    assert.equal(dns.queryCount('many.mem.test', 'AAAA'), 1);
  });

  test('DNS server gone after a first dial: the next dial still connects, on the stale answer', async () => {
    const dialer = new Dialer(dnsOptions);
    (await dialer.dial(`short.mem.test:${port}`)).destroy();
    await sleep(1100);
    await dns.stop({ mode: 'closed' });
    try {
      const baseline = activeResources();
      const s = await dialer.dial(`short.mem.test:${port}`);
      const report = getReport(s)!;
      assert.equal(s.remoteAddress, '127.0.0.1');
      const a = report.resolution.queries.find((q) => q.type === 'A' && q.source === 'stale');
      assert.ok(a, `a stale A answer in ${JSON.stringify(report.resolution.queries)}`);
      s.destroy();
      await assertNoLeaks(baseline);
    } finally {
      await dns.start();
    }
  });

  test('a stale answer the address policy refuses does not hide its refresh: the fresh address is dialled', async () => {
    const dialer = new Dialer({ ...dnsOptions, policy: { deny: ['127.0.0.2/32'] } });
    try {
      const first = await dialer.dial(`moved.mem.test:${port}`).then(
        () => assert.fail('127.0.0.2 is denied'),
        (e: unknown) => e as { code?: string },
      );
      assert.equal(first.code, 'ERR_NETDIAL_DENIED', String((first as Error).message));
      dns.update('moved.mem.test', { A: ['127.0.0.1'], ttl: 1 });
      await sleep(1100);
      const s = await dialer.dial(`moved.mem.test:${port}`);
      assert.equal(s.remoteAddress, '127.0.0.1');
      const a = getReport(s)!.resolution.queries.filter((q) => q.type === 'A');
      assert.deepEqual(
        a.map((q) => [q.source, q.staleUse]),
        [
          ['stale', 'optimistic'],
          ['dns', undefined],
        ],
      );
      s.destroy();
    } finally {
      dns.update('moved.mem.test', { A: ['127.0.0.2'], ttl: 1 });
    }
  });

  test('with memory: false every dial asks DNS again', async () => {
    const dialer = new Dialer({ ...dnsOptions, memory: false });
    dns.resetLog();
    for (let i = 0; i < 3; i++) (await dialer.dial(`long.mem.test:${port}`)).destroy();
    assert.equal(dns.queryCount('long.mem.test', 'A'), 3);
  });
});

describe('endpoint memory on loopback', () => {
  const servers: net.Server[] = [];
  let port = 0;
  before(async () => {
    const first = trackConnections(net.createServer((s) => s.resume()));
    port = await listen(first, '127.0.0.1');
    servers.push(first);
    for (const host of ['127.0.0.2', '127.0.0.3']) {
      const s = trackConnections(net.createServer((c) => c.resume()));
      await listen(s, host, port);
      servers.push(s);
    }
  });
  after(() => Promise.all(servers.map(closeServer)));

  const fixed =
    (answers: { 4?: string[]; 6?: string[] }): ResolveFunction =>
    async (_n, family) =>
      answers[family] ?? [];

  test('a refused endpoint is tried last on the next dial', async () => {
    const dialer = new Dialer({
      resolver: fixed({ 6: ['::1'], 4: ['127.0.0.1'] }),
      memory: { exploreProbability: 0 },
    });
    const s1 = await dialer.dial(`mem.test:${port}`);
    assert.deepEqual(
      getReport(s1)!.attempts.map((a) => [a.address, a.outcome]),
      [
        ['::1', 'failed'],
        ['127.0.0.1', 'connected'],
      ],
    );
    s1.destroy();
    const s2 = await dialer.dial(`mem.test:${port}`);
    const r2 = getReport(s2)!;
    assert.deepEqual(
      r2.attempts.map((a) => [a.address, a.outcome]),
      [['127.0.0.1', 'connected']],
    );
    assert.deepEqual(r2.decisions.demoted, ['::1']);
    assert.equal(dialer.memory?.endpoints.get('::1', port, performance.now())?.inBackoff, true);
    s2.destroy();
  });

  test('eight addresses, three good: 300 dials spread over the good ones, the bad ones demoted after one failure', async () => {
    const addresses = [
      '127.0.0.4',
      '127.0.0.1',
      '127.0.0.5',
      '127.0.0.2',
      '127.0.0.6',
      '127.0.0.3',
      '127.0.0.7',
      '127.0.0.8',
    ];
    const dialer = new Dialer({ resolver: fixed({ 4: addresses }), memory: { seed: 8305 }, family: 4 });
    const wins = new Map<string, number>();
    const failuresPerBad = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const s = await dialer.dial(`eight.test:${port}`);
      const r = getReport(s)!;
      wins.set(r.winner!.address, (wins.get(r.winner!.address) ?? 0) + 1);
      for (const a of r.attempts)
        if (a.outcome === 'failed') failuresPerBad.set(a.address, (failuresPerBad.get(a.address) ?? 0) + 1);
      s.destroy();
    }
    for (const good of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) {
      assert.ok(
        (wins.get(good) ?? 0) >= 75,
        `${good} won ${wins.get(good)} of 300: ${JSON.stringify([...wins])}`,
      );
    }
    // Each bad endpoint fails once, then only when exploration tries it (1 in 20 dials, one endpoint).
    const badTries = [...failuresPerBad.values()].reduce((a, b) => a + b, 0);
    assert.equal(failuresPerBad.size, 5);
    assert.ok(badTries < 5 + 300 / 20 + 15, `bad endpoints were tried ${badTries} times`);
  });

  test('a demoted endpoint is retried after its backoff and comes back to its place on success', async () => {
    const extra = trackConnections(net.createServer((c) => c.resume()));
    let answer = ['127.0.0.9'];
    const dialer = new Dialer({
      resolver: async (_n, family) => (family === 4 ? answer : []),
      memory: { endpoints: { backoffBaseMs: 100, backoffMaxMs: 100 }, exploreProbability: 0 },
    });
    try {
      // First the name has only .9, which refuses: it is remembered as failed.
      await dialer.dial(`back.test:${port}`).catch(() => {});
      answer = ['127.0.0.9', '127.0.0.1'];
      assert.equal(dialer.memory?.endpoints.get('127.0.0.9', port, performance.now())?.inBackoff, true);
      const s2 = await dialer.dial(`back.test:${port}`);
      assert.equal(getReport(s2)!.attempts[0]?.address, '127.0.0.1');
      s2.destroy();
      await listen(extra, '127.0.0.9', port); // the server recovers
      await sleep(150); // the backoff ends
      const s3 = await dialer.dial(`back.test:${port}`);
      const r3 = getReport(s3)!;
      assert.equal(r3.decisions.explored, '127.0.0.9');
      assert.equal(r3.winner?.address, '127.0.0.9');
      s3.destroy();
      const s4 = await dialer.dial(`back.test:${port}`);
      assert.deepEqual(getReport(s4)!.decisions.demoted, []);
      s4.destroy();
    } finally {
      await closeServer(extra);
    }
  });

  test('resolve() shows the order a dial would use, with memory state', async () => {
    const dialer = new Dialer({
      resolver: fixed({ 6: ['::1'], 4: ['127.0.0.1'] }),
      memory: { exploreProbability: 0 },
    });
    (await dialer.dial(`order.test:${port}`)).destroy(); // ::1 refused, remembered
    const r = await dialer.resolve(`order.test:${port}`);
    assert.deepEqual(
      r.addresses.map((a) => [a.address, a.source, a.demoted]),
      [
        ['127.0.0.1', 'custom', false],
        ['::1', 'custom', true],
      ],
    );
    assert.equal(r.addresses[1]?.history?.lastErrorCode, 'ECONNREFUSED');
    const byName = await dialer.resolve('order.test');
    assert.deepEqual(
      byName.addresses.map((a) => a.address),
      ['::1', '127.0.0.1'],
    );
    assert.deepEqual(
      (await dialer.resolve('2001:db8::1')).addresses.map((a) => a.source),
      ['literal'],
    );
  });

  test('loadSharing: false keeps DNS order among equal endpoints', async () => {
    const dialer = new Dialer({
      resolver: fixed({ 4: ['127.0.0.3', '127.0.0.1', '127.0.0.2'] }),
      memory: { loadSharing: false },
    });
    for (let i = 0; i < 10; i++) {
      const s = await dialer.dial(`order.test:${port}`);
      assert.equal(getReport(s)!.winner?.address, '127.0.0.3');
      assert.equal(getReport(s)!.decisions.shuffled, false);
      s.destroy();
    }
  });

  test('memory goes through plain JSON and back: a new Dialer knows what the old one learnt', async () => {
    const resolver = fixed({ 6: ['::1'], 4: ['127.0.0.1'] });
    const dialer = new Dialer({ resolver, memory: { exploreProbability: 0 } });
    (await dialer.dial(`json.test:${port}`)).destroy(); // ::1 refused, 127.0.0.1 connected
    const json = JSON.parse(JSON.stringify(dialer.exportMemory())) as MemoryJson;
    assert.equal(json.version, 1);
    const restored = DialMemory.fromJSON(json, performance.now(), Date.now(), { exploreProbability: 0 });
    const next = new Dialer({ resolver, memory: restored });
    const r = await next.resolve(`json.test:${port}`);
    assert.deepEqual(
      r.addresses.map((a) => [a.address, a.demoted]),
      [
        ['127.0.0.1', false],
        ['::1', true],
      ],
    );
    assert.ok((r.addresses[0]?.history?.srttMs ?? -1) >= 0);
  });
});
