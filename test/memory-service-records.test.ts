/**
 * SRV/HTTPS/SVCB answers in a saved memory (MemoryJson.services): a round trip keeps every record (an
 * HTTPS record's hints, ECH and unknown keys included) and only the time each answer had left; a reload
 * never extends a TTL (time between save and load taken off; caps of 7 days and 3 hours for tampered
 * files); expired answers are dropped; the cache stays bounded; a hostile entry is a TypeError naming it,
 * and a memory file with one is not loaded (a warning), as for any other corrupt part.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { boundedMemoryText, loadMemoryFile } from '../src/adoption/memory-file.js';
import { DialMemory, type MemoryJson } from '../src/memory/dial-memory.js';
import type { ServiceRecordsJsonEntry } from '../src/memory/service-records-json.js';
import type { SrvRecordData } from '../src/resolution/dns-client.js';
import {
  existingServiceRecordCacheOf,
  type ServiceOutcome,
  serviceRecordCacheOf,
} from '../src/resolution/service-lookup.js';
import { encodeSvcbRdata, type SvcbRecord } from '../src/resolution/svcb.js';

const WALL = 1_800_000_000_000;

const SRV: SrvRecordData[] = [
  { priority: 10, weight: 60, port: 5060, target: 'sip1.example.test' },
  { priority: 20, weight: 0, port: 5061, target: 'sip2.example.test' },
];
const HTTPS: SvcbRecord[] = [
  {
    priority: 1,
    targetName: '.',
    params: {
      alpn: ['h2', 'http/1.1'],
      port: 8443,
      ipv4hint: ['192.0.2.1'],
      ipv6hint: ['2001:db8::1'],
      ech: new Uint8Array([1, 2, 3, 4]),
      unknown: [{ key: 65_000, value: new Uint8Array([9, 9]) }],
    },
  },
  { priority: 2, targetName: 'alt.example.test', params: {} },
];

function positive<R>(records: R[], ttlSeconds: number, owner: string): ServiceOutcome<R> {
  return { ok: true, answer: { records, ttlSeconds, malformed: [], owner }, cached: false };
}

/** A memory whose service cache holds an SRV answer (60 s), an HTTPS answer (300 s) and a NODATA (30 s), at `nowMs`. */
function memoryWithServices(nowMs: number): DialMemory {
  const memory = new DialMemory();
  const cache = serviceRecordCacheOf(memory.dns);
  cache.set('_sip._tcp.example.test', 'SRV', positive(SRV, 60, '_sip._tcp.example.test'), undefined, nowMs);
  cache.set('example.test', 'HTTPS', positive(HTTPS, 300, 'example.test'), undefined, nowMs);
  cache.set(
    'none.example.test',
    'HTTPS',
    { ok: false, code: 'ENODATA', message: 'no HTTPS record', cached: false },
    30,
    nowMs,
  );
  return memory;
}

test('a round trip keeps every record and only the time each answer had left', () => {
  const json = memoryWithServices(1000).toJSON(11_000, WALL); // saved 10 s after they came
  assert.deepEqual(
    json.services?.entries.map((e) => [e.type, e.name, e.forMs, e.ttlSeconds, e.negative]),
    [
      ['SRV', '_sip._tcp.example.test', 50_000, 50, undefined],
      ['HTTPS', 'example.test', 290_000, 290, undefined],
      ['HTTPS', 'none.example.test', 20_000, undefined, 'ENODATA'],
    ],
  );
  // Loaded 5 s (wall clock) later, on another process's clock.
  const loaded = DialMemory.fromJSON(JSON.parse(JSON.stringify(json)) as MemoryJson, 200, WALL + 5000);
  const cache = existingServiceRecordCacheOf(loaded.dns);
  assert.ok(cache !== undefined);
  const live = [...cache.live(200)];
  assert.deepEqual(
    live.map((e) => [e.type, e.name, e.forMs]),
    [
      ['SRV', '_sip._tcp.example.test', 45_000],
      ['HTTPS', 'example.test', 285_000],
      ['HTTPS', 'none.example.test', 15_000],
    ],
  );
  const srv = cache.get('_sip._tcp.example.test', 'SRV', 200);
  assert.ok(srv?.ok);
  assert.deepEqual(srv.answer.records, SRV);
  assert.equal(srv.answer.ttlSeconds, 45);
  assert.equal(srv.cached, true);
  const https = cache.get('example.test', 'HTTPS', 200);
  assert.ok(https?.ok);
  assert.deepEqual(https.answer.records, HTTPS);
  const none = cache.get('none.example.test', 'HTTPS', 200);
  assert.deepEqual(none && !none.ok ? [none.code, none.message] : none, ['ENODATA', 'no HTTPS record']);
  // Past their time they are gone.
  assert.equal(cache.get('none.example.test', 'HTTPS', 200 + 15_000), undefined);
  assert.equal(cache.get('_sip._tcp.example.test', 'SRV', 200 + 45_000), undefined);
});

test('a reload never extends a TTL: expired answers are dropped, tampered times capped', () => {
  const json = memoryWithServices(0).toJSON(0, WALL);
  // 61 s later the SRV answer (60 s) is gone, the HTTPS one has 239 s left.
  const later = DialMemory.fromJSON(json, 0, WALL + 61_000);
  assert.deepEqual(
    [...existingServiceRecordCacheOf(later.dns)!.live(0)].map((e) => [e.name, e.forMs]),
    [['example.test', 239_000]],
  );
  // A file claiming 30 days (positive) and 1 day (negative): never longer than the answer's own TTL
  // (60 s, 300 s) and 3 hours; with TTLs of 30 days claimed too, at most what the cache keeps any answer
  // (maxTtlSeconds, 1 day by default: one cap for A/AAAA and service records).
  const claim = (ttlSeconds?: number) =>
    json.services!.entries.map(
      (e): ServiceRecordsJsonEntry => ({
        ...e,
        forMs: e.negative === undefined ? 30 * 86_400_000 : 86_400_000,
        ...(e.negative === undefined && ttlSeconds !== undefined ? { ttlSeconds } : {}),
      }),
    );
  const forMsOf = (entries: ServiceRecordsJsonEntry[]) =>
    [
      ...existingServiceRecordCacheOf(
        DialMemory.fromJSON({ ...json, services: { ...json.services!, entries } }, 0, WALL).dns,
      )!.live(0),
    ].map((e) => e.forMs);
  assert.deepEqual(forMsOf(claim()), [60_000, 300_000, 10_800_000]);
  assert.deepEqual(forMsOf(claim(30 * 86_400)), [86_400_000, 86_400_000, 10_800_000]);
  // No services part (an older file, or nothing learnt): none made, none saved.
  const plain = new DialMemory();
  assert.equal(plain.toJSON(0, WALL).services, undefined);
  assert.equal(
    existingServiceRecordCacheOf(DialMemory.fromJSON(plain.toJSON(0, WALL), 0, WALL).dns),
    undefined,
  );
});

test('bounded: a snapshot of 2 000 answers loads the 1 024 most recently used', () => {
  const json = memoryWithServices(0).toJSON(0, WALL);
  const one = json.services!.entries[0]!;
  const entries = Array.from({ length: 2000 }, (_, i) => ({ ...one, name: `_s._tcp.n${i}.example.test` }));
  const loaded = DialMemory.fromJSON({ ...json, services: { ...json.services!, entries } }, 0, WALL);
  const names = [...existingServiceRecordCacheOf(loaded.dns)!.live(0)].map((e) => e.name);
  assert.equal(names.length, 1024);
  assert.equal(names[0], '_s._tcp.n976.example.test');
  assert.equal(names.at(-1), '_s._tcp.n1999.example.test');
});

test('the memory file bound cuts service answers too, least recently used first', () => {
  const json = memoryWithServices(0).toJSON(0, WALL);
  const one = json.services!.entries[0]!;
  const entries = Array.from({ length: 1000 }, (_, i) => ({ ...one, name: `_s._tcp.n${i}.example.test` }));
  const big: MemoryJson = { ...json, services: { ...json.services!, entries } };
  const text = boundedMemoryText(big, 20_000);
  assert.ok(Buffer.byteLength(text) <= 20_000, `${Buffer.byteLength(text)} bytes`);
  const kept = (JSON.parse(text) as MemoryJson).services!.entries;
  assert.ok(kept.length > 0 && kept.length < 1000, `${kept.length} kept`);
  assert.equal(kept.at(-1)!.name, '_s._tcp.n999.example.test');
  // What is kept loads.
  assert.ok(DialMemory.fromJSON(JSON.parse(text) as MemoryJson, 0, WALL));
});

test('a hostile entry is a TypeError naming it; a memory file with one is not loaded', () => {
  const json = memoryWithServices(0).toJSON(0, WALL);
  const [srv, https] = json.services!.entries as [ServiceRecordsJsonEntry, ServiceRecordsJsonEntry];
  const bad = (entry: unknown): MemoryJson => ({
    ...json,
    services: { ...json.services!, entries: [entry as ServiceRecordsJsonEntry] },
  });
  const malformedRdata = Buffer.from(encodeSvcbRdata(HTTPS[0]!)).subarray(0, 7).toString('base64');
  const cases: Array<[unknown, RegExp]> = [
    [{ ...srv, type: 'A' }, /entries\[0\]\.type/],
    [{ ...srv, name: '' }, /entries\[0\]\.name/],
    [{ ...srv, forMs: 'soon' }, /entries\[0\]\.forMs/],
    [{ ...srv, srv: [{ ...SRV[0], port: 70_000 }] }, /entries\[0\]\.srv\[0\]/],
    [{ ...srv, srv: Array.from({ length: 257 }, () => SRV[0]) }, /entries\[0\]\.srv.*at most 256/],
    [{ ...https, svcb: ['not base64!'] }, /entries\[0\]\.svcb\[0\].*base64/],
    [{ ...https, svcb: [malformedRdata] }, /entries\[0\]\.svcb\[0\].* is not a valid SVCB record/],
    [{ ...srv, negative: 'ETIMEOUT', srv: undefined }, /entries\[0\]\.negative/],
    [{ ...srv, ttlSeconds: -1 }, /entries\[0\]\.ttlSeconds/],
  ];
  for (const [entry, message] of cases) {
    assert.throws(
      () => DialMemory.fromJSON(bad(entry), 0, WALL),
      (err: Error & { code?: string }) =>
        err instanceof TypeError && err.code === 'ERR_NETDIAL_INVALID_ARGUMENT' && message.test(err.message),
      JSON.stringify(entry).slice(0, 80),
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'netdial-services-'));
  try {
    const file = join(dir, 'memory.json');
    writeFileSync(file, JSON.stringify(bad({ ...https, svcb: [malformedRdata] })));
    const loaded = loadMemoryFile(file, 0, WALL);
    assert.equal(loaded.memory, undefined);
    assert.equal(loaded.saveable, false);
    assert.match(loaded.warning ?? '', /is not a netdial memory file .*svcb\[0\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('what is saved always loads: answers with names the loader refuses are left out, the rest kept', () => {
  // DNS allows any octet in a label (dns-packet decodes a space as it is); the loader refuses such names.
  const memory = memoryWithServices(1000);
  const cache = serviceRecordCacheOf(memory.dns);
  const spaced: SrvRecordData[] = [{ priority: 1, weight: 1, port: 7, target: 'a b.example.test' }];
  cache.set('_sp._tcp.example.test', 'SRV', positive(spaced, 60, '_sp._tcp.example.test'), undefined, 1000);
  cache.set('_cn._tcp.example.test', 'SRV', positive(SRV, 60, 'x y.example.test'), undefined, 1000);
  cache.set('a b.example.test', 'HTTPS', positive(HTTPS, 60, 'a b.example.test'), undefined, 1000);
  const json = JSON.parse(JSON.stringify(memory.toJSON(2000, WALL))) as MemoryJson;
  assert.deepEqual(
    json.services?.entries.map((e) => e.name),
    ['_sip._tcp.example.test', 'example.test', 'none.example.test'],
  );
  const loaded = DialMemory.fromJSON(json, 0, WALL);
  assert.equal([...(existingServiceRecordCacheOf(loaded.dns)?.live(0) ?? [])].length, 3);
});

test("service answers are forgotten with the memory's DNS answers: DnsCache.clear() and delete(name)", () => {
  const memory = memoryWithServices(1000);
  const cache = existingServiceRecordCacheOf(memory.dns)!;
  assert.equal(memory.dns.delete('example.test.'), true, 'the HTTPS answer of example.test was held');
  assert.equal(cache.get('example.test', 'HTTPS', 1000), undefined);
  assert.ok(cache.get('_sip._tcp.example.test', 'SRV', 1000) !== undefined, 'other names kept');
  assert.equal(memory.dns.delete('nothing.example.test'), false);
  // One key for both halves: caseless and without the trailing dot (the SRV name here, an A answer too).
  memory.dns.setPositive('_SIP._tcp.example.test', 'A', [{ address: '192.0.2.7', ttlSeconds: 60 }], 1000);
  assert.equal(memory.dns.delete('_SIP._TCP.Example.Test.'), true);
  assert.equal(cache.get('_sip._tcp.example.test', 'SRV', 1000), undefined, 'SRV forgotten');
  assert.equal(memory.dns.get('_sip._tcp.example.test', 'A', 1000).state, 'miss', 'A forgotten');
  memory.dns.clear();
  assert.equal([...cache.live(1000)].length, 0);
  assert.equal(memory.toJSON(1000, WALL).services?.entries.length ?? 0, 0);
});
