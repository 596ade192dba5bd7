/**
 * One TTL cap, and the report says what is kept — a DNS server on loopback answering with TTL 0xFFFFFFFF.
 * RFC 8767 §4 (updating RFC 2181 §8, which read a TTL with the top bit set as 0) reads it as a large positive
 * value and suggests a cap of 7 days: the DNS client caps there. A Dialer with memory keeps every answer at
 * most `memory.dns.maxTtlSeconds` (1 day by default) — A/AAAA and HTTPS alike — and a fresh answer reports
 * that TTL, not the client's 7 days (it said 604 800 s while the cache kept 86 400 s).
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import dnsPacket, { type Answer } from 'dns-packet';
import { Dialer, DialMemory } from '../src/index.js';
import { existingServiceRecordCacheOf } from '../src/resolution/service-lookup.js';
import { encodeSvcbRdata } from '../src/resolution/svcb.js';

const HUGE_TTL = 0xffff_ffff;
let server: dgram.Socket;
let port = 0;

/** Answers A (192.0.2.9) and HTTPS (1 . alpn=h2) with HUGE_TTL; AAAA is NODATA with an SOA. */
function respond(raw: Buffer): Buffer {
  const query = dnsPacket.decode(raw);
  const question = query.questions![0]!;
  const answers: Answer[] = [];
  if (question.type === 'A')
    answers.push({ type: 'A', name: question.name, ttl: HUGE_TTL, data: '192.0.2.9' });
  if ((question.type as string) === 'UNKNOWN_65') {
    const data = Buffer.from(encodeSvcbRdata({ priority: 1, targetName: '.', params: { alpn: ['h2'] } }));
    answers.push({ type: 'UNKNOWN_65', name: question.name, ttl: HUGE_TTL, data } as unknown as Answer);
  }
  const soa: Answer = {
    type: 'SOA',
    name: 'ttl.test',
    ttl: 60,
    data: { mname: 'ns', rname: 'host', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 },
  };
  return dnsPacket.encode({
    type: 'response',
    id: query.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHORITATIVE_ANSWER,
    questions: query.questions,
    answers,
    authorities: answers.length === 0 ? [soa] : [],
  });
}

before(async () => {
  for (let tries = 0; ; tries++) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    const socket = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(candidate, '127.0.0.1', () => resolve());
      });
      server = socket;
      port = candidate;
      break;
    } catch (err) {
      socket.close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || tries >= 20) throw err;
    }
  }
  server.on('message', (raw, from) => server.send(respond(raw), from.port, from.address));
});
after(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

const options = () => ({
  resolver: 'dns' as const,
  nameservers: [`127.0.0.1:${port}`],
  hostsPath: null,
  dnsTries: 1,
});

test('with memory: the fresh answer reports the TTL the cache keeps (1 day), and the cached one the same', async () => {
  const dialer = new Dialer(options());
  const fresh = await dialer.resolve('a.ttl.test');
  assert.deepEqual(
    fresh.addresses.map((a) => [a.source, a.ttlSeconds]),
    [['dns', 86_400]],
  );
  const cached = await dialer.resolve('a.ttl.test');
  assert.equal(cached.addresses[0]!.source, 'cache');
  assert.ok(cached.addresses[0]!.ttlSeconds! > 86_390 && cached.addresses[0]!.ttlSeconds! <= 86_400);
});

test('with memory.dns.maxTtlSeconds 3600: that cap, reported as kept', async () => {
  const dialer = new Dialer({ ...options(), memory: { dns: { maxTtlSeconds: 3600 } } });
  assert.equal((await dialer.resolve('b.ttl.test')).addresses[0]!.ttlSeconds, 3600);
});

test('without memory: nothing is kept; the DNS client caps at 7 days (RFC 8767 §4)', async () => {
  const dialer = new Dialer({ ...options(), memory: false });
  assert.equal((await dialer.resolve('c.ttl.test')).addresses[0]!.ttlSeconds, 604_800);
});

test("HTTPS records are kept under the same cap as A/AAAA (not the client's 7 days)", async () => {
  const memory = new DialMemory({ dns: { maxTtlSeconds: 3600 } });
  const dialer = new Dialer({ ...options(), memory });
  await dialer.resolve('https://d.ttl.test/');
  const kept = [...existingServiceRecordCacheOf(memory.dns)!.live(performance.now())];
  assert.deepEqual(
    kept.map((e) => [e.type, e.name]),
    [['HTTPS', 'd.ttl.test']],
  );
  assert.ok(kept[0]!.forMs > 3_590_000 && kept[0]!.forMs <= 3_600_000, `kept for ${kept[0]!.forMs} ms`);
});
