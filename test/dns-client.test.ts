/**
 * The DNS stub client against real servers on loopback only: the lab's authoritative server for honest
 * answers, and a tiny dgram server built here for malicious ones (other owner names, wrong ID, wrong
 * question, spoofed source). Every test checks that the query left no socket or timer behind.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import dnsPacket, { type Answer, type DecodedPacket, type Packet } from 'dns-packet';
import { LabDnsServer } from '../lab/dns-server.js';
import type { Zone } from '../lab/zone.js';
import { type DnsAnswer, type DnsClientError, queryAddresses } from '../src/resolution/dns-client.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { responseTo } from './support/dial-failure.js';

const APEX = 'x.test';

async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<{ port: number; value: T }> {
  for (let tries = 0; ; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    try {
      return { port, value: await start(port) };
    } catch (e) {
      if ((e as { code?: string }).code !== 'EADDRINUSE' || tries >= 20) throw e;
    }
  }
}

async function startLab(zone: Zone, host = '127.0.0.1', soaMinimumSeconds = 45): Promise<LabDnsServer> {
  const { value } = await onFreePort(async (port) => {
    const server = new LabDnsServer({ host, port, zone, apex: APEX, soaMinimumSeconds });
    await server.start();
    return server;
  });
  return value;
}

function at(server: { host?: string; port: number }): string {
  const host = server.host ?? '127.0.0.1';
  return net.isIPv6(host) ? `[${host}]:${server.port}` : `${host}:${server.port}`;
}

function udpSocket(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

type Reply = (packet: Packet | Buffer, via?: dgram.Socket) => void;

/** A UDP server on 127.0.0.1 that lets the test decide what (if anything) to send for each query. */
async function startFake(respond: (query: DecodedPacket, reply: Reply) => void) {
  const { port, value: socket } = await onFreePort(udpSocket);
  const queries: DecodedPacket[] = [];
  socket.on('message', (raw, rinfo) => {
    const query = dnsPacket.decode(raw);
    queries.push(query);
    respond(query, (packet, via = socket) => {
      via.send(Buffer.isBuffer(packet) ? packet : dnsPacket.encode(packet), rinfo.port, rinfo.address);
    });
  });
  return { port, queries, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

/** A TCP DNS listener on 127.0.0.1:`port`: `respond` sees each framed query; undefined = no answer. */
/**
 * A fake UDP server and a TCP listener on the same port. The UDP port is free when bound, but its TCP
 * twin may be taken: then both are given up and another port is tried (a collision must not leave a
 * bound socket behind, or the test process never exits).
 */
async function startFakeWithTcp(
  respondUdp: (query: DecodedPacket, reply: Reply) => void,
  respondTcp: (query: DecodedPacket) => Packet | undefined,
) {
  for (let tries = 0; ; tries++) {
    const fake = await startFake(respondUdp);
    try {
      return { fake, tcp: await listenTcp(fake.port, respondTcp) };
    } catch (e) {
      await fake.close();
      if ((e as { code?: string }).code !== 'EADDRINUSE' || tries >= 20) throw e;
    }
  }
}

async function listenTcp(port: number, respond: (query: DecodedPacket) => Packet | undefined) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', (chunk: Buffer) => {
      const answer = respond(dnsPacket.decode(chunk.subarray(2)));
      if (answer === undefined) return;
      const body = dnsPacket.encode(answer);
      const frame = Buffer.alloc(2 + body.length);
      frame.writeUInt16BE(body.length, 0);
      body.copy(frame, 2);
      socket.end(frame);
    });
  });
  // EADDRINUSE (the UDP port's TCP twin is taken, e.g. by a test in another process) must reject, or it
  // escapes as an uncaught exception and the fake UDP server is never closed.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function soa(owner: string, ttl: number, minimum: number): Answer {
  const data = { mname: 'ns', rname: 'host', serial: 1, refresh: 1, retry: 1, expire: 1, minimum };
  return { type: 'SOA', name: owner, ttl, data };
}

async function expectError(promise: Promise<DnsAnswer>, code: string): Promise<DnsClientError> {
  const error = (await promise.then(
    (answer) => assert.fail(`expected ${code}, got ${JSON.stringify(answer)}`),
    (e: unknown) => e,
  )) as DnsClientError;
  assert.equal(error.code, code, error.message);
  return error;
}

/** Polls `condition` every 5 ms for at most 1 s (bounded: fails instead of hanging). */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(condition(), `${what} did not happen within 1 s`);
}

/** Runs `body` and fails if the query left anything running (the servers are part of the baseline). */
async function noLeftovers(body: () => Promise<void>): Promise<void> {
  const baseline = activeResources();
  await body();
  await assertNoLeaks(baseline, 'DNS query');
}

const ZONE: Zone = {
  'v4.x.test': { A: ['192.0.2.1', '192.0.2.2'], ttl: 300 },
  'v6.x.test': { AAAA: ['2001:db8::1', '2001:db8::2'], ttl: 7 },
  'dual.x.test': { A: ['192.0.2.3'], AAAA: ['2001:db8::3'], ttl: 0 },
  'www.x.test': { CNAME: 'mid.x.test', ttl: 30 },
  'mid.x.test': { CNAME: 'end.x.test', ttl: 600 },
  'end.x.test': { A: ['192.0.2.4'], ttl: 300 },
  'alias-to-v4only.x.test': { CNAME: 'only4.x.test', ttl: 60 },
  'only4.x.test': { A: ['192.0.2.5'] },
  'alias-to-missing.x.test': { CNAME: 'missing.x.test', ttl: 60 },
  'servfail.x.test': { A: ['192.0.2.6'], fail: { A: 'SERVFAIL' } },
  'refused.x.test': { A: ['192.0.2.6'], fail: { A: 'REFUSED' } },
  'drop.x.test': { A: ['192.0.2.6'], fail: { A: 'DROP' } },
  'nodata.x.test': { A: ['192.0.2.6'], fail: { A: 'NODATA' } },
  'big.x.test': { A: ['192.0.2.7', '192.0.2.8'], truncate: true, ttl: 120 },
};

describe('dns-client: answers from the lab server', () => {
  const positive: Array<{ scenario: string; name: string; type: 'A' | 'AAAA'; expect: DnsAnswer }> = [
    {
      scenario: 'A records with their TTL',
      name: 'v4.x.test',
      type: 'A',
      expect: {
        addresses: [
          { address: '192.0.2.1', ttlSeconds: 300 },
          { address: '192.0.2.2', ttlSeconds: 300 },
        ],
      },
    },
    {
      scenario: 'AAAA records with their TTL',
      name: 'v6.x.test',
      type: 'AAAA',
      expect: {
        addresses: [
          { address: '2001:db8::1', ttlSeconds: 7 },
          { address: '2001:db8::2', ttlSeconds: 7 },
        ],
      },
    },
    {
      scenario: 'TTL 0 is kept as 0',
      name: 'dual.x.test',
      type: 'AAAA',
      expect: { addresses: [{ address: '2001:db8::3', ttlSeconds: 0 }] },
    },
    {
      scenario: 'name in another case, with a trailing dot',
      name: 'V4.X.Test.',
      type: 'A',
      expect: {
        addresses: [
          { address: '192.0.2.1', ttlSeconds: 300 },
          { address: '192.0.2.2', ttlSeconds: 300 },
        ],
      },
    },
    {
      scenario: 'CNAME chain of two: final name, TTL capped by the shortest link',
      name: 'www.x.test',
      type: 'A',
      expect: { addresses: [{ address: '192.0.2.4', ttlSeconds: 30 }], canonicalName: 'end.x.test' },
    },
    {
      scenario: 'truncated over UDP: answered over TCP',
      name: 'big.x.test',
      type: 'A',
      expect: {
        addresses: [
          { address: '192.0.2.7', ttlSeconds: 120 },
          { address: '192.0.2.8', ttlSeconds: 120 },
        ],
      },
    },
  ];
  for (const c of positive) {
    test(c.scenario, async () => {
      const server = await startLab(ZONE);
      try {
        await noLeftovers(async () => {
          const answer = await queryAddresses(c.name, c.type, { servers: [at(server)] }).promise;
          assert.deepEqual(answer, c.expect);
        });
      } finally {
        await server.close();
      }
    });
  }

  test('truncation: UDP first, then one TCP query to the same server', async () => {
    const server = await startLab(ZONE);
    try {
      await noLeftovers(async () => {
        await queryAddresses('big.x.test', 'A', { servers: [at(server)] }).promise;
      });
      assert.deepEqual(
        server.queries.map((q) => q.transport),
        ['udp', 'tcp'],
      );
    } finally {
      await server.close();
    }
  });

  test('an IPv6 server: [::1]:port', async () => {
    const server = await startLab(ZONE, '::1');
    try {
      await noLeftovers(async () => {
        const answer = await queryAddresses('v6.x.test', 'AAAA', { servers: [at(server)] }).promise;
        assert.deepEqual(
          answer.addresses.map((a) => a.address),
          ['2001:db8::1', '2001:db8::2'],
        );
      });
    } finally {
      await server.close();
    }
  });

  const negative: Array<{ scenario: string; name: string; type: 'A' | 'AAAA'; code: string }> = [
    { scenario: 'NXDOMAIN', name: 'nothing-here.x.test', type: 'A', code: 'ENOTFOUND' },
    { scenario: 'NODATA: the name has only A', name: 'v4.x.test', type: 'AAAA', code: 'ENODATA' },
    { scenario: 'NODATA from the server', name: 'nodata.x.test', type: 'A', code: 'ENODATA' },
    {
      scenario: 'CNAME chain ending without the type',
      name: 'alias-to-v4only.x.test',
      type: 'AAAA',
      code: 'ENODATA',
    },
    { scenario: 'CNAME to a missing name', name: 'alias-to-missing.x.test', type: 'A', code: 'ENOTFOUND' },
  ];
  for (const c of negative) {
    test(`${c.scenario}: ${c.code} with the SOA (RFC 2308 §5)`, async () => {
      const server = await startLab(ZONE, '127.0.0.1', 45);
      try {
        await noLeftovers(async () => {
          const error = await expectError(
            queryAddresses(c.name, c.type, { servers: [at(server)] }).promise,
            c.code,
          );
          assert.deepEqual(error.soa, { ttlSeconds: 45, minimumSeconds: 45 });
        });
        assert.equal(server.queryCount(), 1, 'a negative answer is final: no retry');
      } finally {
        await server.close();
      }
    });
  }
});

describe('dns-client: servers, tries and timeouts', () => {
  for (const [failing, code] of [
    ['servfail.x.test', 'ESERVFAIL'],
    ['refused.x.test', 'EREFUSED'],
  ] as const) {
    test(`${code} from the first server: the next server answers`, async () => {
      const bad = await startLab({ 'q.x.test': ZONE[failing] ?? {} });
      const good = await startLab({ 'q.x.test': { A: ['192.0.2.10'] } });
      try {
        await noLeftovers(async () => {
          const started = performance.now();
          const answer = await queryAddresses('q.x.test', 'A', { servers: [at(bad), at(good)] }).promise;
          assert.deepEqual(answer.addresses, [{ address: '192.0.2.10', ttlSeconds: 60 }]);
          assert.ok(performance.now() - started < 1000, 'moved on at once, not after the 2 s timeout');
        });
        assert.equal(bad.queryCount(), 1);
        assert.equal(good.queryCount(), 1);
      } finally {
        await Promise.all([bad.close(), good.close()]);
      }
    });
  }

  // Final error is the last server's answer; both orders.
  for (const [first, second, code] of [
    ['SERVFAIL', 'REFUSED', 'EREFUSED'],
    ['REFUSED', 'SERVFAIL', 'ESERVFAIL'],
  ] as const) {
    test(`every server fails (${first}, then ${second}): ${code}, each asked \`attempts\` times`, async () => {
      const one = await startLab({ 'q.x.test': { A: ['192.0.2.1'], fail: { A: first } } });
      const two = await startLab({ 'q.x.test': { A: ['192.0.2.1'], fail: { A: second } } });
      try {
        await noLeftovers(async () => {
          const q = queryAddresses('q.x.test', 'A', { servers: [at(one), at(two)], attempts: 3 });
          const error = await expectError(q.promise, code);
          // The server that answered last is named, with its RCODE.
          assert.equal(error.message, `queryA ${code} q.x.test (${at(two)} answered ${second})`);
        });
        assert.equal(one.queryCount(), 3);
        assert.equal(two.queryCount(), 3);
      } finally {
        await Promise.all([one.close(), two.close()]);
      }
    });
  }

  test('DROP everywhere: ETIMEOUT after timeoutMs × attempts × servers, servers rotated', async () => {
    const one = await startLab(ZONE);
    const two = await startLab(ZONE);
    try {
      await noLeftovers(async () => {
        const started = performance.now();
        const q = queryAddresses('drop.x.test', 'A', {
          servers: [at(one), at(two)],
          timeoutMs: 100,
          attempts: 2,
        });
        const error = await expectError(q.promise, 'ETIMEOUT');
        const elapsedMs = performance.now() - started;
        assert.equal(error.soa, undefined);
        assert.ok(elapsedMs >= 395 && elapsedMs < 900, `took ${elapsedMs} ms`);
      });
      const order = [
        ...one.queries.map((e) => ({ s: 1, at: e.atMs })),
        ...two.queries.map((e) => ({ s: 2, at: e.atMs })),
      ]
        .sort((a, b) => a.at - b.at)
        .map((e) => e.s);
      assert.deepEqual(order, [1, 2, 1, 2]);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  test('closed port on every server: ECONNREFUSED at once, not after the timeout', async () => {
    const one = await startLab(ZONE);
    const two = await startLab(ZONE);
    await Promise.all([one.stop({ mode: 'closed' }), two.stop({ mode: 'closed' })]);
    await noLeftovers(async () => {
      const started = performance.now();
      const q = queryAddresses('v4.x.test', 'A', { servers: [at(one), at(two)], timeoutMs: 2000 });
      await expectError(q.promise, 'ECONNREFUSED');
      assert.ok(performance.now() - started < 1000);
    });
  });

  test('closed port, then a working server: answered by the second', async () => {
    const closed = await startLab(ZONE);
    await closed.stop({ mode: 'closed' });
    const good = await startLab(ZONE);
    try {
      await noLeftovers(async () => {
        const started = performance.now();
        const q = queryAddresses('v4.x.test', 'A', { servers: [at(closed), at(good)], timeoutMs: 2000 });
        assert.equal((await q.promise).addresses.length, 2);
        assert.ok(performance.now() - started < 1000);
      });
    } finally {
      await good.close();
    }
  });

  test('closed port and a silent server: ETIMEOUT (not every server refused)', async () => {
    const closed = await startLab(ZONE);
    await closed.stop({ mode: 'closed' });
    const silent = await startLab(ZONE);
    await silent.stop({ mode: 'silent' });
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('v4.x.test', 'A', { servers: [at(closed), at(silent)], timeoutMs: 50 });
        await expectError(q.promise, 'ETIMEOUT');
      });
    } finally {
      await silent.close();
    }
  });

  test('a late answer to an earlier try is still taken while the next server is asked', async () => {
    const late = await startLab({ 'q.x.test': { A: ['192.0.2.11'], delayMs: { A: 150 } } });
    const silent = await startLab(ZONE);
    await silent.stop({ mode: 'silent' });
    try {
      await noLeftovers(async () => {
        const started = performance.now();
        const q = queryAddresses('q.x.test', 'A', {
          servers: [at(late), at(silent)],
          timeoutMs: 100,
          attempts: 1,
        });
        assert.deepEqual((await q.promise).addresses, [{ address: '192.0.2.11', ttlSeconds: 60 }]);
        const elapsedMs = performance.now() - started;
        assert.ok(elapsedMs >= 140 && elapsedMs < 200 + 100, `took ${elapsedMs} ms`);
      });
      assert.equal(silent.queryCount(), 1);
    } finally {
      await Promise.all([late.close(), silent.close()]);
    }
  });

  test('TC=1 but no TCP listener: ETRUNCATED (the server answered: not ECONNREFUSED, "no server reached")', async () => {
    const fake = await startFake((query, reply) =>
      reply(responseTo(query, { flags: dnsPacket.TRUNCATED_RESPONSE | dnsPacket.RECURSION_AVAILABLE })),
    );
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [at(fake)], attempts: 1 });
        const error = await expectError(q.promise, 'ETRUNCATED');
        assert.equal(
          error.message,
          `queryA ETRUNCATED q.x.test (${at(fake)} answered truncated over UDP and refused the TCP connection to ask again (RFC 7766 §5): ${at(fake)} ECONNREFUSED)`,
        );
        assert.deepEqual(error.tries, [{ server: at(fake), code: 'ECONNREFUSED' }]);
      });
    } finally {
      await fake.close();
    }
  });
});

describe('dns-client: cancel', () => {
  // Silent fake servers, so that no server-side delay timer blurs the leak check.
  test('cancel() while waiting on UDP: ECANCELLED at once, nothing left', async () => {
    const fake = await startFake(() => {});
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [at(fake)] });
        await waitFor(() => fake.queries.length > 0, 'the UDP query');
        const started = performance.now();
        q.cancel();
        await expectError(q.promise, 'ECANCELLED');
        assert.ok(performance.now() - started < 50);
        q.cancel(); // a second cancel does nothing
      });
    } finally {
      await fake.close();
    }
  });

  test('cancel() while waiting on TCP after truncation: the connection is closed too', async () => {
    let tcpQueries = 0;
    const { fake, tcp } = await startFakeWithTcp(
      (query, reply) => reply(responseTo(query, { flags: dnsPacket.TRUNCATED_RESPONSE })),
      () => {
        tcpQueries++;
        return undefined; // never answers
      },
    );
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [at(fake)] });
        await waitFor(() => tcpQueries > 0, 'the TCP query');
        q.cancel();
        await expectError(q.promise, 'ECANCELLED');
      });
    } finally {
      await Promise.all([fake.close(), tcp.close()]);
    }
  });

  test('cancel() after the answer does nothing', async () => {
    const server = await startLab(ZONE);
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('v4.x.test', 'A', { servers: [at(server)] });
        await q.promise;
        q.cancel();
        assert.equal((await q.promise).addresses.length, 2);
      });
    } finally {
      await server.close();
    }
  });
});

describe('dns-client: hostile and odd answers', () => {
  const PLANTED = '203.0.113.66';

  test('the query: random ID, RD set, one question, EDNS0 OPT with 1232 bytes', async () => {
    const fake = await startFake(() => {});
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'AAAA', { servers: [at(fake)], timeoutMs: 30, attempts: 1 });
        await expectError(q.promise, 'ETIMEOUT');
      });
      const sent = fake.queries[0];
      assert.ok(sent);
      assert.equal(sent.flag_rd, true);
      assert.deepEqual(sent.questions, [{ name: 'q.x.test', type: 'AAAA', class: 'IN' }]);
      const opt = sent.additionals?.find((r) => r.type === 'OPT') as { udpPayloadSize?: number } | undefined;
      assert.equal(opt?.udpPayloadSize, 1232);
    } finally {
      await fake.close();
    }
  });

  // Each answer is built from the query; the client must take only what belongs to q.x.test's chain.
  const cases: Array<{
    scenario: string;
    answer: (query: DecodedPacket) => Packet;
    expect: DnsAnswer | { code: string; soa?: { ttlSeconds: number; minimumSeconds: number }; says?: string };
  }> = [
    {
      scenario: 'A owned by another name (answer and additional sections): ENODATA',
      answer: (query) =>
        responseTo(query, {
          answers: [{ type: 'A', name: 'other.example', ttl: 60, data: PLANTED }],
          additionals: [{ type: 'A', name: 'q.x.test', ttl: 60, data: PLANTED }],
        }),
      expect: { code: 'ENODATA' },
    },
    {
      scenario: 'right record plus planted ones: only the right one',
      answer: (query) =>
        responseTo(query, {
          answers: [
            { type: 'A', name: 'evil.example', ttl: 60, data: PLANTED },
            { type: 'A', name: 'Q.X.TEST', ttl: 60, data: '192.0.2.20' },
            { type: 'CNAME', name: 'unrelated.example', ttl: 60, data: 'evil.example' },
          ],
        }),
      expect: { addresses: [{ address: '192.0.2.20', ttlSeconds: 60 }] },
    },
    {
      scenario: 'records of a name a CNAME of another owner points at: ignored',
      answer: (query) =>
        responseTo(query, {
          answers: [
            { type: 'CNAME', name: 'q.x.test', ttl: 60, data: 'target.x.test' },
            { type: 'CNAME', name: 'elsewhere.example', ttl: 60, data: 'evil.example' },
            { type: 'A', name: 'evil.example', ttl: 60, data: PLANTED },
            { type: 'A', name: 'target.x.test', ttl: 40, data: '192.0.2.21' },
          ],
        }),
      expect: { addresses: [{ address: '192.0.2.21', ttlSeconds: 40 }], canonicalName: 'target.x.test' },
    },
    {
      scenario:
        'per-record TTLs kept; top bit set is positive, all capped at 7 days (RFC 8767 §4); duplicates merged',
      answer: (query) =>
        responseTo(query, {
          answers: [
            { type: 'A', name: 'q.x.test', ttl: 10, data: '192.0.2.1' },
            { type: 'A', name: 'q.x.test', ttl: 0x80000000, data: '192.0.2.2' },
            { type: 'A', name: 'q.x.test', ttl: 0x7fffffff, data: '192.0.2.3' },
            { type: 'A', name: 'q.x.test', ttl: 5, data: '192.0.2.1' },
            { type: 'A', name: 'q.x.test', ttl: 604_800, data: '192.0.2.4' },
            { type: 'A', name: 'q.x.test', ttl: 604_801, data: '192.0.2.5' },
          ],
        }),
      expect: {
        addresses: [
          { address: '192.0.2.1', ttlSeconds: 5 },
          { address: '192.0.2.2', ttlSeconds: 604_800 },
          { address: '192.0.2.3', ttlSeconds: 604_800 },
          { address: '192.0.2.4', ttlSeconds: 604_800 },
          { address: '192.0.2.5', ttlSeconds: 604_800 },
        ],
      },
    },
    {
      scenario: 'NXDOMAIN: SOA TTL and MINIMUM both handed over',
      answer: (query) => responseTo(query, { rcode: 3, authorities: [soa('x.test', 100, 20)] }),
      expect: { code: 'ENOTFOUND', soa: { ttlSeconds: 100, minimumSeconds: 20 } },
    },
    {
      scenario: 'NODATA with the SOA of an unrelated zone: no SOA',
      answer: (query) => responseTo(query, { authorities: [soa('evil.example', 100, 20)] }),
      expect: { code: 'ENODATA' },
    },
    {
      scenario: 'NODATA with a root SOA',
      answer: (query) => responseTo(query, { authorities: [soa('.', 900, 300)] }),
      expect: { code: 'ENODATA', soa: { ttlSeconds: 900, minimumSeconds: 300 } },
    },
    {
      scenario: 'CNAME loop: EBADRESP',
      answer: (query) =>
        responseTo(query, {
          answers: [
            { type: 'CNAME', name: 'q.x.test', ttl: 60, data: 'b.x.test' },
            { type: 'CNAME', name: 'b.x.test', ttl: 60, data: 'Q.x.test' },
            { type: 'A', name: 'q.x.test', ttl: 60, data: PLANTED },
          ],
        }),
      expect: { code: 'EBADRESP', says: 'CNAME loop' },
    },
    {
      scenario: 'CNAME chain of 16 hops: followed',
      answer: (query) => responseTo(query, { answers: chain(16) }),
      expect: { addresses: [{ address: '192.0.2.30', ttlSeconds: 60 }], canonicalName: 'c16.x.test' },
    },
    {
      scenario: 'CNAME chain of 17 hops: EBADRESP',
      answer: (query) => responseTo(query, { answers: chain(17) }),
      expect: { code: 'EBADRESP' },
    },
  ];
  for (const c of cases) {
    test(c.scenario, async () => {
      const fake = await startFake((query, reply) => reply(c.answer(query)));
      try {
        await noLeftovers(async () => {
          const q = queryAddresses('q.x.test', 'A', { servers: [at(fake)], timeoutMs: 500, attempts: 1 });
          if ('code' in c.expect) {
            const error = await expectError(q.promise, c.expect.code);
            assert.deepEqual(error.soa, c.expect.soa);
            assert.ok(error.message.includes(c.expect.says ?? ''), error.message);
          } else {
            assert.deepEqual(await q.promise, c.expect);
          }
        });
      } finally {
        await fake.close();
      }
    });
  }

  test('CNAME loop from the first server: the second server is asked', async () => {
    const looping = await startFake((query, reply) =>
      reply(
        responseTo(query, {
          answers: [
            { type: 'CNAME', name: 'q.x.test', ttl: 60, data: 'b.x.test' },
            { type: 'CNAME', name: 'b.x.test', ttl: 60, data: 'q.x.test' },
          ],
        }),
      ),
    );
    const good = await startLab({ 'q.x.test': { A: ['192.0.2.40'] } });
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [at(looping), at(good)], attempts: 1 });
        assert.deepEqual((await q.promise).addresses, [{ address: '192.0.2.40', ttlSeconds: 60 }]);
      });
    } finally {
      await Promise.all([looping.close(), good.close()]);
    }
  });

  test('wrong ID, wrong question, not a response, garbage: ignored; then the right answer is taken', async () => {
    const fake = await startFake((query, reply) => {
      const planted: Answer[] = [{ type: 'A', name: 'q.x.test', ttl: 60, data: PLANTED }];
      reply(responseTo(query, { id: ((query.id ?? 0) + 1) & 0xffff, answers: planted }));
      reply(responseTo(query, { questions: [{ type: 'A', name: 'victim.example' }], answers: planted }));
      reply(responseTo(query, { questions: [{ type: 'AAAA', name: 'q.x.test' }], answers: planted }));
      reply({ ...responseTo(query, { answers: planted }), type: 'query' });
      reply(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
      reply(responseTo(query, { answers: [{ type: 'A', name: 'q.x.test', ttl: 60, data: '192.0.2.50' }] }));
    });
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [at(fake)], attempts: 1 });
        assert.deepEqual((await q.promise).addresses, [{ address: '192.0.2.50', ttlSeconds: 60 }]);
      });
    } finally {
      await fake.close();
    }
  });

  test('only a wrong-question answer: ETIMEOUT within the bound, planted address never taken', async () => {
    const fake = await startFake((query, reply) =>
      reply(
        responseTo(query, {
          questions: [{ type: 'A', name: 'victim.example' }],
          answers: [{ type: 'A', name: 'victim.example', ttl: 60, data: PLANTED }],
        }),
      ),
    );
    try {
      await noLeftovers(async () => {
        const started = performance.now();
        const q = queryAddresses('q.x.test', 'A', { servers: [at(fake)], timeoutMs: 100, attempts: 2 });
        await expectError(q.promise, 'ETIMEOUT');
        assert.ok(performance.now() - started < 500);
      });
    } finally {
      await fake.close();
    }
  });

  test('a spoofed answer from another source port is ignored; the server’s own answer is taken', async () => {
    const { value: spoofer } = await onFreePort(udpSocket);
    const fake = await startFake((query, reply) => {
      reply(
        responseTo(query, { answers: [{ type: 'A', name: 'q.x.test', ttl: 60, data: PLANTED }] }),
        spoofer,
      );
      setTimeout(
        () =>
          reply(
            responseTo(query, { answers: [{ type: 'A', name: 'q.x.test', ttl: 60, data: '192.0.2.60' }] }),
          ),
        50,
      );
    });
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [at(fake)], attempts: 1 });
        assert.deepEqual((await q.promise).addresses, [{ address: '192.0.2.60', ttlSeconds: 60 }]);
      });
    } finally {
      await fake.close();
      await new Promise<void>((resolve) => spoofer.close(() => resolve()));
    }
  });

  test('TC=1 over TCP is a broken server: EBADRESP', async () => {
    // UDP says "truncated"; the TCP listener on the same port answers truncated again.
    const { fake, tcp } = await startFakeWithTcp(
      (query, reply) => reply(responseTo(query, { flags: dnsPacket.TRUNCATED_RESPONSE })),
      (query) => responseTo(query, { flags: dnsPacket.TRUNCATED_RESPONSE }),
    );
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [at(fake)], attempts: 1 });
        await expectError(q.promise, 'EBADRESP');
      });
    } finally {
      await Promise.all([fake.close(), tcp.close()]);
    }
  });
});

function chain(hops: number): Answer[] {
  const names = ['q.x.test', ...Array.from({ length: hops }, (_, i) => `c${i + 1}.x.test`)];
  const links: Answer[] = names
    .slice(0, -1)
    .map((name, i) => ({ type: 'CNAME', name, ttl: 60, data: names[i + 1] ?? '' }));
  return [...links, { type: 'A', name: names[hops] ?? '', ttl: 60, data: '192.0.2.30' }];
}

describe('dns-client: bad input', () => {
  const servers = ['127.0.0.1:53'];
  const cases: Array<[string, () => unknown, string]> = [
    ['empty name', () => queryAddresses('', 'A', { servers }), 'ERR_NETDIAL_INVALID_TARGET'],
    ['empty label', () => queryAddresses('a..b', 'A', { servers }), 'ERR_NETDIAL_INVALID_TARGET'],
    [
      'label of 64',
      () => queryAddresses(`${'a'.repeat(64)}.test`, 'A', { servers }),
      'ERR_NETDIAL_INVALID_TARGET',
    ],
    ['space in name', () => queryAddresses('a b.test', 'A', { servers }), 'ERR_NETDIAL_INVALID_TARGET'],
    ['type MX', () => queryAddresses('a.test', 'MX' as 'A', { servers }), 'ERR_NETDIAL_INVALID_OPTION'],
    ['no servers', () => queryAddresses('a.test', 'A', { servers: [] }), 'ERR_NETDIAL_INVALID_OPTION'],
    [
      'server name',
      () => queryAddresses('a.test', 'A', { servers: ['dns.test'] }),
      'ERR_NETDIAL_INVALID_OPTION',
    ],
    [
      'port 0',
      () => queryAddresses('a.test', 'A', { servers: ['127.0.0.1:0'] }),
      'ERR_NETDIAL_INVALID_OPTION',
    ],
    [
      'IPv4 in brackets',
      () => queryAddresses('a.test', 'A', { servers: ['[127.0.0.1]:53'] }),
      'ERR_NETDIAL_INVALID_OPTION',
    ],
    [
      'timeoutMs 0',
      () => queryAddresses('a.test', 'A', { servers, timeoutMs: 0 }),
      'ERR_NETDIAL_INVALID_OPTION',
    ],
    [
      'attempts 0',
      () => queryAddresses('a.test', 'A', { servers, attempts: 0 }),
      'ERR_NETDIAL_INVALID_OPTION',
    ],
  ];
  for (const [scenario, call, code] of cases) {
    test(`${scenario}: TypeError ${code}, no socket opened`, () => {
      const baseline = process.getActiveResourcesInfo().length;
      assert.throws(call, (e: unknown) => e instanceof TypeError && (e as { code?: string }).code === code);
      assert.equal(process.getActiveResourcesInfo().length, baseline);
    });
  }
});
