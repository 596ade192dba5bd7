/**
 * The DNS client's transport, against real sockets on loopback: every socket failure is a per-server
 * failure (never a crash), a fresh ID and source port per transmission, EDNS FORMERR fallback (RFC 6891
 * §7), lame answers, glibc's per-server timeouts, TCP only, zones, and the reply-source check (issue 21
 * item 2) — the last by handing the client's own socket a well-formed answer with a foreign `rinfo`,
 * since a real spoof cannot reach a connected socket on loopback.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import dnsPacket, { type DecodedPacket, type Packet } from 'dns-packet';
import {
  type DnsAnswer,
  type DnsClientError,
  DnsServerMemory,
  queryAddresses,
  tryTimeoutMs,
} from '../src/resolution/dns-client.js';
import { Dialer } from '../src/index.js';
import {
  interfaceIndex,
  parseZonedAddress,
  sameZonedAddress,
  socketAddressText,
} from '../src/resolution/ip-zone.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { responseTo } from './support/dial-failure.js';
import { skipWithoutCommand } from './support/prerequisite.js';

type Reply = (packet: Packet | Buffer) => void;
interface Received {
  query: DecodedPacket;
  port: number;
}

/** A UDP server on 127.0.0.1 (random free port) that lets the test decide what to send for each query. */
async function startFake(respond: (query: DecodedPacket, reply: Reply) => void) {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const received: Received[] = [];
  socket.on('message', (raw, rinfo) => {
    const query = dnsPacket.decode(raw);
    received.push({ query, port: rinfo.port });
    respond(query, (packet) => {
      socket.send(Buffer.isBuffer(packet) ? packet : dnsPacket.encode(packet), rinfo.port, rinfo.address);
    });
  });
  const port = socket.address().port;
  return {
    port,
    at: `127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function answerA(query: DecodedPacket, address: string): Packet {
  const name = query.questions?.[0]?.name ?? '';
  return responseTo(query, { answers: [{ type: 'A', name, ttl: 60, data: address }] });
}

const hasOpt = (query: DecodedPacket): boolean => (query.additionals ?? []).some((r) => r.type === 'OPT');

async function expectError(promise: Promise<DnsAnswer>, code: string): Promise<DnsClientError> {
  const error = (await promise.then(
    (answer) => assert.fail(`expected ${code}, got ${JSON.stringify(answer)}`),
    (e: unknown) => e,
  )) as DnsClientError;
  assert.equal(error.code, code, error.message);
  return error;
}

async function noLeftovers(body: () => Promise<void>): Promise<void> {
  const baseline = activeResources();
  await body();
  await assertNoLeaks(baseline, 'DNS query');
}

/** Fails the test if anything escapes as an uncaught exception while `body` runs (the crash of issue 11). */
async function noUncaught(body: () => Promise<void>): Promise<void> {
  const escaped: unknown[] = [];
  const onError = (e: unknown) => escaped.push(e);
  process.on('uncaughtException', onError);
  try {
    await body();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('uncaughtException', onError);
  }
  assert.deepEqual(escaped, [], 'an exception escaped the DNS client');
}

describe('dns-transport: the reply-source check (RFC 5452 §9.1, issue 21 item 2)', () => {
  /**
   * Runs one query against a fake server that never answers itself; when a transmission arrives, the test
   * hands the client's own socket a well-formed answer (right ID and question) "from" `rinfo`. The
   * address in it is PLANTED; a genuine answer with 192.0.2.60 from the real server's address follows.
   */
  async function deliver(rinfo: (serverPort: number) => { address: string; port: number }) {
    const sockets: dgram.Socket[] = [];
    const fake = await startFake(() => {});
    try {
      let answer: DnsAnswer | undefined;
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', {
          servers: [fake.at],
          attempts: 1,
          timeoutMs: 2000,
          createSocket: (type) => {
            const socket = dgram.createSocket(type);
            sockets.push(socket);
            return socket;
          },
        });
        for (let i = 0; i < 200 && fake.received.length === 0; i++)
          await new Promise((r) => setTimeout(r, 5));
        const query = fake.received[0]?.query;
        assert.ok(query !== undefined, 'the query reached the server');
        const socket = sockets[0] as dgram.Socket;
        const from = rinfo(fake.port);
        const info = {
          ...from,
          family: net.isIPv6(from.address) ? 'IPv6' : 'IPv4',
          size: 0,
        } as dgram.RemoteInfo;
        socket.emit('message', Buffer.from(dnsPacket.encode(answerA(query, '203.0.113.66'))), info);
        const genuine = {
          address: '127.0.0.1',
          port: fake.port,
          family: 'IPv4',
          size: 0,
        } as dgram.RemoteInfo;
        setTimeout(
          () => socket.emit('message', Buffer.from(dnsPacket.encode(answerA(query, '192.0.2.60'))), genuine),
          30,
        );
        answer = await q.promise;
      });
      return answer;
    } finally {
      await fake.close();
    }
  }

  test('an answer from the server’s address and port is taken (the delivery path works)', async () => {
    const answer = await deliver((port) => ({ address: '127.0.0.1', port }));
    assert.deepEqual(answer?.addresses, [{ address: '203.0.113.66', ttlSeconds: 60 }]);
  });

  test('a well-formed answer from a foreign address is ignored', async () => {
    const answer = await deliver((port) => ({ address: '127.0.0.2', port }));
    assert.deepEqual(answer?.addresses, [{ address: '192.0.2.60', ttlSeconds: 60 }]);
  });

  test('a well-formed answer from a foreign port is ignored', async () => {
    const answer = await deliver((port) => ({ address: '127.0.0.1', port: port === 65535 ? 1 : port + 1 }));
    assert.deepEqual(answer?.addresses, [{ address: '192.0.2.60', ttlSeconds: 60 }]);
  });
});

describe('dns-transport: zones compared by interface index (RFC 4007 §11)', () => {
  // A host whose interface 2 is eth0 and 3 is wlan0 (the real table comes from os.networkInterfaces();
  // the lab's matrix uses it with a real link-local server).
  const table = new Map([
    ['eth0', 2],
    ['wlan0', 3],
  ]);

  test('parse keeps the zone; a socket gets the interface name (libuv reads only names)', () => {
    assert.deepEqual(parseZonedAddress('FE80::0:1%eth0'), { address: 'fe80::1', family: 6, zone: 'eth0' });
    assert.equal(socketAddressText({ address: 'fe80::1', family: 6, zone: '2' }, table), 'fe80::1%eth0');
    assert.equal(socketAddressText({ address: 'fe80::1', family: 6, zone: 'eth0' }, table), 'fe80::1%eth0');
    assert.equal(socketAddressText({ address: 'fe80::1', family: 6, zone: '9' }, table), 'fe80::1%9');
    assert.equal(parseZonedAddress('192.0.2.1%eth0'), undefined, 'no zones on IPv4');
    assert.equal(parseZonedAddress('fe80::1%a b'), undefined);
  });

  test('numeric zone equals the interface name with that index, not another', () => {
    const numeric = parseZonedAddress('fe80::1%2');
    assert.ok(numeric);
    assert.equal(sameZonedAddress(numeric, 'fe80::1%eth0', table), true, '%2 vs %eth0');
    assert.equal(sameZonedAddress(numeric, 'fe80::1%wlan0', table), false);
    assert.equal(sameZonedAddress(numeric, 'fe80::1%3', table), false);
    assert.equal(sameZonedAddress(numeric, 'fe80::2%eth0', table), false);
    assert.equal(
      sameZonedAddress(numeric, 'fe80::1', table),
      false,
      'a zoned server never matches an unzoned source',
    );
    const named = parseZonedAddress('fe80::1%eth0');
    assert.ok(named);
    assert.equal(sameZonedAddress(named, 'fe80::1%2', table), true);
    assert.equal(
      sameZonedAddress(named, 'fe80::1%eth1', table),
      false,
      'unknown interface: compared as text',
    );
  });

  test('a server address given in another spelling still matches', () => {
    const server = parseZonedAddress('2001:DB8:0::53');
    assert.ok(server);
    assert.equal(sameZonedAddress(server, '2001:db8::53'), true);
    assert.equal(interfaceIndex('7', table), 7);
    assert.equal(interfaceIndex('eth0', table), 2);
    assert.equal(interfaceIndex('nope', table), undefined);
  });
});

describe('dns-transport: every socket failure is a per-server failure, never a crash', () => {
  test('link-local server without a zone (connect fails with EINVAL): the next server answers', async () => {
    const good = await startFake((query, reply) => reply(answerA(query, '192.0.2.10')));
    try {
      await noUncaught(() =>
        noLeftovers(async () => {
          const started = performance.now();
          const q = queryAddresses('q.x.test', 'A', { servers: ['fe80::1', good.at], timeoutMs: 3000 });
          assert.deepEqual((await q.promise).addresses, [{ address: '192.0.2.10', ttlSeconds: 60 }]);
          assert.ok(performance.now() - started < 1500, 'moved on at once, not after the timeout');
        }),
      );
    } finally {
      await good.close();
    }
  });

  test('no server reachable at all: ECONNREFUSED "no DNS server could be reached", with each try', async () => {
    await noUncaught(() =>
      noLeftovers(async () => {
        const started = performance.now();
        const q = queryAddresses('q.x.test', 'A', {
          servers: ['fe80::1', '[fe80::2]:5353'],
          timeoutMs: 3000,
        });
        const error = await expectError(q.promise, 'ECONNREFUSED');
        assert.ok(performance.now() - started < 1500);
        assert.match(error.message, /no DNS server could be reached/);
        assert.deepEqual(
          error.tries?.map((t) => t.server),
          ['[fe80::1]:53', '[fe80::2]:5353', '[fe80::1]:53', '[fe80::2]:5353'],
        );
        assert.ok(error.tries?.every((t) => t.code !== 'ETIMEOUT' && t.code !== 'ECONNREFUSED'));
      }),
    );
  });

  test('socket creation fails (EMFILE): the next server answers', async () => {
    const good = await startFake((query, reply) => reply(answerA(query, '192.0.2.11')));
    let created = 0;
    try {
      await noUncaught(() =>
        noLeftovers(async () => {
          const q = queryAddresses('q.x.test', 'A', {
            servers: ['127.0.0.1:9', good.at],
            createSocket: (type) => {
              created++;
              if (created === 1) throw Object.assign(new Error('too many open files'), { code: 'EMFILE' });
              return dgram.createSocket(type);
            },
          });
          assert.deepEqual((await q.promise).addresses, [{ address: '192.0.2.11', ttlSeconds: 60 }]);
        }),
      );
    } finally {
      await good.close();
    }
  });

  test('EMFILE everywhere: ECONNREFUSED, tries say EMFILE', async () => {
    await noUncaught(() =>
      noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', {
          servers: ['127.0.0.1:9'],
          attempts: 2,
          createSocket: () => {
            throw Object.assign(new Error('too many open files'), { code: 'EMFILE' });
          },
        });
        const error = await expectError(q.promise, 'ECONNREFUSED');
        assert.deepEqual(
          error.tries?.map((t) => t.code),
          ['EMFILE', 'EMFILE'],
        );
      }),
    );
  });

  const prlimitSkip = skipWithoutCommand('prlimit', 'util-linux');
  test('real EMFILE (prlimit --nofile=64): ECONNREFUSED with EMFILE per try, no crash; works again after', {
    skip: prlimitSkip,
  }, () => {
    const script = fileURLToPath(new URL('./support/emfile-dns-child.js', import.meta.url));
    const run = spawnSync('prlimit', ['--nofile=64:64', process.execPath, script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(run.status, 0, `child exited ${run.status}: ${run.stdout} ${run.stderr}`);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as {
      starved: { code: string; tries: string[] };
      recovered: boolean;
    };
    assert.equal(result.starved.code, 'ECONNREFUSED');
    assert.deepEqual(result.starved.tries, ['EMFILE', 'EMFILE', 'EMFILE', 'EMFILE']);
    assert.equal(result.recovered, true);
  });

  test('a socket error event after connect is a per-server failure', async () => {
    const good = await startFake((query, reply) => reply(answerA(query, '192.0.2.12')));
    const silent = await startFake(() => {});
    try {
      await noUncaught(() =>
        noLeftovers(async () => {
          let first = true;
          const q = queryAddresses('q.x.test', 'A', {
            servers: [silent.at, good.at],
            timeoutMs: 3000,
            createSocket: (type) => {
              const socket = dgram.createSocket(type);
              if (first) {
                first = false;
                socket.once('connect', () =>
                  setTimeout(
                    () => socket.emit('error', Object.assign(new Error('x'), { code: 'EHOSTUNREACH' })),
                    10,
                  ),
                );
              }
              return socket;
            },
          });
          const started = performance.now();
          assert.deepEqual((await q.promise).addresses, [{ address: '192.0.2.12', ttlSeconds: 60 }]);
          assert.ok(performance.now() - started < 1500);
        }),
      );
    } finally {
      await Promise.all([good.close(), silent.close()]);
    }
  });
});

describe('dns-transport: one transmission, one ID, one socket', () => {
  test('every retransmission has a fresh ID and a fresh source port', async () => {
    const fake = await startFake(() => {});
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [fake.at], attempts: 3, timeoutMs: 60 });
        await expectError(q.promise, 'ETIMEOUT');
      });
      assert.equal(fake.received.length, 3);
      assert.equal(new Set(fake.received.map((r) => r.port)).size, 3, 'three source ports');
      // A fresh random ID each time: three equal IDs would happen once in 2^32 runs.
      assert.ok(new Set(fake.received.map((r) => r.query.id)).size > 1, 'IDs differ');
    } finally {
      await fake.close();
    }
  });

  test('a late answer to an earlier try (its ID, its socket) is still taken', async () => {
    const fake = await startFake((query, reply) => {
      if (fake.received.length === 1) setTimeout(() => reply(answerA(query, '192.0.2.13')), 120);
    });
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [fake.at], attempts: 3, timeoutMs: 80 });
        assert.deepEqual((await q.promise).addresses, [{ address: '192.0.2.13', ttlSeconds: 60 }]);
      });
      assert.equal(fake.received.length, 2, 'answered while the second try waited');
    } finally {
      await fake.close();
    }
  });

  test('the answer must carry the ID of the transmission on whose socket it arrives', async () => {
    // The server answers the second try with the first try's ID: that is no answer at all.
    let firstId = -1;
    const fake = await startFake((query, reply) => {
      if (firstId === -1) firstId = query.id ?? 0;
      else reply({ ...answerA(query, '203.0.113.66'), id: firstId });
    });
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [fake.at], attempts: 2, timeoutMs: 80 });
        await expectError(q.promise, 'ETIMEOUT');
      });
    } finally {
      await fake.close();
    }
  });
});

describe('dns-transport: EDNS and FORMERR (RFC 6891 §7)', () => {
  /** Answers FORMERR without a question to any query with OPT (an old server), else a normal answer. */
  const oldServer = () =>
    startFake((query, reply) => {
      if (hasOpt(query)) reply({ type: 'response', id: query.id, flags: dnsPacket.RECURSION_AVAILABLE | 1 });
      else reply(answerA(query, '192.0.2.20'));
    });

  test('FORMERR to a query with OPT: asked again at once without EDNS, answer taken', async () => {
    const fake = await oldServer();
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [fake.at], attempts: 1, timeoutMs: 2000 });
        assert.deepEqual((await q.promise).addresses, [{ address: '192.0.2.20', ttlSeconds: 60 }]);
      });
      assert.deepEqual(
        fake.received.map((r) => hasOpt(r.query)),
        [true, false],
      );
      assert.notEqual(fake.received[0]?.port, fake.received[1]?.port, 'a new socket for the retry');
    } finally {
      await fake.close();
    }
  });

  test('the server memory remembers it: the next query goes out without EDNS first', async () => {
    const fake = await oldServer();
    const serverMemory = new DnsServerMemory();
    try {
      await queryAddresses('q.x.test', 'A', { servers: [fake.at], serverMemory }).promise;
      await queryAddresses('r.x.test', 'A', { servers: [fake.at], serverMemory }).promise;
      assert.deepEqual(
        fake.received.map((r) => hasOpt(r.query)),
        [true, false, false],
      );
      assert.equal(serverMemory.speaksEdns(fake.at), false);
    } finally {
      await fake.close();
    }
  });

  test('edns: false sends no OPT; a FORMERR to a query without OPT is EFORMERR from that server', async () => {
    const fake = await startFake((query, reply) => reply(responseTo(query, { rcode: 1 })));
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [fake.at], attempts: 1, edns: false });
        await expectError(q.promise, 'EFORMERR');
      });
      assert.deepEqual(
        fake.received.map((r) => hasOpt(r.query)),
        [false],
      );
    } finally {
      await fake.close();
    }
  });
});

describe('dns-transport: lame and referral answers', () => {
  const lame = (query: DecodedPacket): Packet => ({
    type: 'response',
    id: query.id,
    flags: 0, // AA=0, RA=0, NOERROR
    questions: query.questions,
    authorities: [{ type: 'NS', name: 'x.test', ttl: 60, data: 'ns.elsewhere.example' }],
  });

  test('NOERROR, AA=0, RA=0, no answer: the next server is asked and answers', async () => {
    const bad = await startFake((query, reply) => reply(lame(query)));
    const good = await startFake((query, reply) => reply(answerA(query, '192.0.2.30')));
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [bad.at, good.at], timeoutMs: 2000 });
        assert.deepEqual((await q.promise).addresses, [{ address: '192.0.2.30', ttlSeconds: 60 }]);
      });
    } finally {
      await Promise.all([bad.close(), good.close()]);
    }
  });

  test('only lame servers: EBADRESP, not ENODATA (so nothing is cached as NODATA)', async () => {
    const bad = await startFake((query, reply) => reply(lame(query)));
    try {
      const q = queryAddresses('q.x.test', 'A', { servers: [bad.at], attempts: 1 });
      const error = await expectError(q.promise, 'EBADRESP');
      assert.match(error.message, /lame/);
    } finally {
      await bad.close();
    }
  });

  test('a Dialer with memory does not cache a lame answer as NODATA', async () => {
    const bad = await startFake((query, reply) => reply(lame(query)));
    try {
      const dialer = new Dialer({ nameservers: [bad.at], resolver: 'dns', hostsPath: null, dnsTries: 1 });
      const error = await dialer.dial('q.x.test:80').then(
        (socket) => {
          socket.destroy();
          assert.fail('connected');
        },
        (e: unknown) => e as { code?: string },
      );
      assert.equal(error.code, 'EBADRESP');
      const cached = dialer.memory?.dns.get('q.x.test', 'A', performance.now());
      assert.notEqual(cached?.state, 'negative');
      assert.equal(cached?.state === 'error' ? cached.code : cached?.state, 'EBADRESP');
    } finally {
      await bad.close();
    }
  });

  for (const [what, flags] of [
    ['AA=1', dnsPacket.AUTHORITATIVE_ANSWER],
    ['RA=1', dnsPacket.RECURSION_AVAILABLE],
  ] as const) {
    test(`NOERROR with ${what} and no answer stays ENODATA (a real NODATA)`, async () => {
      const fake = await startFake((query, reply) =>
        reply({ type: 'response', id: query.id, flags, questions: query.questions }),
      );
      try {
        await expectError(
          queryAddresses('q.x.test', 'A', { servers: [fake.at], attempts: 1 }).promise,
          'ENODATA',
        );
      } finally {
        await fake.close();
      }
    });
  }
});

describe('dns-transport: timeouts, rotation and TCP only as glibc does', () => {
  test('tryTimeoutMs: retrans << position, divided by the server count after the first (res_send.c)', () => {
    assert.deepEqual(
      [0, 1, 2].map((p) => tryTimeoutMs(5000, p, 3)),
      [5000, 3333, 6666],
    );
    assert.deepEqual(
      [0, 1].map((p) => tryTimeoutMs(5000, p, 2)),
      [5000, 5000],
    );
    assert.equal(tryTimeoutMs(5000, 0, 1), 5000);
    assert.equal(tryTimeoutMs(1, 1, 3), 1, 'never below 1 ms');
    assert.equal(tryTimeoutMs(1000, 9, 10), 2000, 'ten servers (the nameservers option): at most twice');
  });

  test('the third server waits longer than the second (glibc), one round measured', async () => {
    const servers = await Promise.all([startFake(() => {}), startFake(() => {}), startFake(() => {})]);
    const seen: number[][] = servers.map(() => []);
    try {
      const started = performance.now();
      const q = queryAddresses('q.x.test', 'A', {
        servers: servers.map((s) => s.at),
        attempts: 1,
        timeoutMs: 300,
      });
      const timer = setInterval(() => {
        for (const [i, s] of servers.entries())
          if (s.received.length > seen[i]!.length) seen[i]!.push(performance.now() - started);
      }, 5);
      await expectError(q.promise, 'ETIMEOUT');
      clearInterval(timer);
      const total = performance.now() - started;
      // 300 + 200 + 400 ms: the second try starts at ~300 ms, the third at ~500 ms, the end at ~900 ms.
      const second = seen[1]?.[0] ?? Number.NaN;
      const third = seen[2]?.[0] ?? Number.NaN;
      assert.ok(second >= 280 && second < 450, `second server asked at ${second} ms`);
      assert.ok(third - second >= 180 && third - second < 350, `second try lasted ${third - second} ms`);
      assert.ok(total - third >= 380, `third try lasted ${total - third} ms`);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  test('firstServer: the order starts there and wraps (resolv.conf rotate)', async () => {
    const one = await startFake(() => {});
    const two = await startFake((query, reply) => reply(answerA(query, '192.0.2.40')));
    try {
      await queryAddresses('q.x.test', 'A', { servers: [one.at, two.at], firstServer: 1 }).promise;
      assert.equal(one.received.length, 0, 'the first server was not asked');
      assert.equal(two.received.length, 1);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  test('tcpOnly: no UDP at all, one connection per server (use-vc)', async () => {
    const udp = await startFake(() => {});
    const connections: number[] = [];
    const tcp = net.createServer((socket) => {
      connections.push(1);
      socket.on('error', () => {});
      socket.once('data', (chunk: Buffer) => {
        const query = dnsPacket.decode(chunk.subarray(2));
        const body = dnsPacket.encode(answerA(query, '192.0.2.41'));
        const frame = Buffer.alloc(2 + body.length);
        frame.writeUInt16BE(body.length, 0);
        body.copy(frame, 2);
        socket.end(frame);
      });
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const port = (tcp.address() as net.AddressInfo).port;
    try {
      await noLeftovers(async () => {
        const q = queryAddresses('q.x.test', 'A', { servers: [`127.0.0.1:${port}`], tcpOnly: true });
        assert.deepEqual((await q.promise).addresses, [{ address: '192.0.2.41', ttlSeconds: 60 }]);
      });
      assert.equal(connections.length, 1);
    } finally {
      await Promise.all([udp.close(), new Promise<void>((resolve) => tcp.close(() => resolve()))]);
    }
  });

  test('TC=1, then the TCP server resets mid-answer: the next server answers', async (t) => {
    // Server one: UDP says truncated; its TCP listener (same port) sends half a frame and resets.
    const truncating = await startFake((query, reply) =>
      reply(responseTo(query, { flags: dnsPacket.TRUNCATED_RESPONSE | dnsPacket.RECURSION_AVAILABLE })),
    );
    let tcpQueries = 0;
    const tcp = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => {
        tcpQueries += 1;
        socket.write(Buffer.from([0x01, 0x00, 0xab]));
        setTimeout(() => socket.resetAndDestroy(), 10);
      });
    });
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(truncating.port, '127.0.0.1', () => resolve(true));
    });
    if (!listening) {
      await truncating.close();
      return t.skip('the UDP port is taken for TCP by another process');
    }
    const port = truncating.port;
    const good = await startFake((query, reply) => reply(answerA(query, '192.0.2.42')));
    try {
      await noUncaught(() =>
        noLeftovers(async () => {
          const q = queryAddresses('q.x.test', 'A', { servers: [`127.0.0.1:${port}`, good.at], attempts: 1 });
          assert.deepEqual((await q.promise).addresses, [{ address: '192.0.2.42', ttlSeconds: 60 }]);
        }),
      );
      assert.equal(tcpQueries, 1, 'the truncated answer was retried over TCP once before moving on');
    } finally {
      await Promise.all([
        good.close(),
        truncating.close(),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    }
  });
});
