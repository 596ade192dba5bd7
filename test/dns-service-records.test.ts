/**
 * SRV, HTTPS and SVCB queries through netdial's own DNS client (src/resolution/dns-client.ts
 * `queryServiceRecords`) against the lab's DNS server on loopback: records decoded, the CNAME chain
 * followed, malformed RDATA left out with its reason, negative answers with their SOA, the TTL the
 * lowest of the set.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { LabDnsServer } from '../lab/dns-server.js';
import type { Zone } from '../lab/zone.js';
import { type DnsClientError, queryServiceRecords } from '../src/resolution/dns-client.js';

const zone: Zone = {
  '_imap._tcp.x.test': {
    ttl: 120,
    SRV: [
      { priority: 10, weight: 60, port: 1143, target: 'mail1.x.test' },
      { priority: 20, weight: 0, port: 143, target: 'MAIL2.x.test' },
    ],
  },
  '_none._tcp.x.test': { SRV: [{ priority: 0, weight: 0, port: 0, target: '.' }] },
  'www.x.test': {
    ttl: 300,
    A: ['192.0.2.1'],
    HTTPS: [
      { priority: 1, targetName: '.', params: { alpn: ['h2'], port: 8443, ipv4hint: ['192.0.2.1'] } },
      { priority: 2, targetName: 'backup.x.test', params: {} },
    ],
  },
  'apex.x.test': { HTTPS: [{ priority: 0, targetName: 'www.x.test', params: {} }] },
  'alias.x.test': { CNAME: 'www.x.test', ttl: 30 },
  'svcb.x.test': { SVCB: [{ priority: 3, targetName: 'pool.x.test', params: { port: 5353 } }] },
  'slow.x.test': {
    A: ['192.0.2.9'],
    delayMs: { HTTPS: 100 },
    HTTPS: [{ priority: 1, targetName: '.', params: {} }],
  },
};

let server: LabDnsServer;
let servers: string[];

before(async () => {
  for (let tries = 0; ; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    server = new LabDnsServer({ host: '127.0.0.1', port, zone, apex: 'x.test', soaMinimumSeconds: 45 });
    try {
      await server.start();
      servers = [`127.0.0.1:${port}`];
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EADDRINUSE' || tries >= 20) throw e;
    }
  }
});
after(() => server.close());

describe('SRV', () => {
  test('records in answer order, targets lowercase, TTL of the set', async () => {
    const answer = await queryServiceRecords('_imap._tcp.x.test', 'SRV', { servers }).promise;
    assert.deepEqual(answer.records, [
      { priority: 10, weight: 60, port: 1143, target: 'mail1.x.test' },
      { priority: 20, weight: 0, port: 143, target: 'mail2.x.test' },
    ]);
    assert.equal(answer.ttlSeconds, 120);
    assert.equal(answer.owner, '_imap._tcp.x.test');
  });
  test('target "." comes through as "."', async () => {
    const answer = await queryServiceRecords('_none._tcp.x.test', 'SRV', { servers }).promise;
    assert.deepEqual(answer.records, [{ priority: 0, weight: 0, port: 0, target: '.' }]);
  });
  test('no SRV: ENODATA with the SOA; no name: ENOTFOUND', async () => {
    await assert.rejects(
      queryServiceRecords('www.x.test', 'SRV', { servers }).promise,
      (e: DnsClientError) => {
        assert.equal(e.code, 'ENODATA');
        assert.equal(e.syscall, 'querySRV');
        assert.deepEqual(e.soa, { ttlSeconds: 45, minimumSeconds: 45 });
        return true;
      },
    );
    await assert.rejects(
      queryServiceRecords('_x._tcp.nowhere.x.test', 'SRV', { servers }).promise,
      (e: DnsClientError) => e.code === 'ENOTFOUND',
    );
  });
});

describe('HTTPS and SVCB', () => {
  test('HTTPS ServiceMode records decoded', async () => {
    const answer = await queryServiceRecords('www.x.test', 'HTTPS', { servers }).promise;
    assert.deepEqual(answer.records, [
      { priority: 1, targetName: '.', params: { alpn: ['h2'], port: 8443, ipv4hint: ['192.0.2.1'] } },
      { priority: 2, targetName: 'backup.x.test', params: {} },
    ]);
    assert.equal(answer.ttlSeconds, 300);
    assert.deepEqual(answer.malformed, []);
  });
  test('AliasMode record decoded; a CNAME chain followed, TTL the lowest on it', async () => {
    const apex = await queryServiceRecords('apex.x.test', 'HTTPS', { servers }).promise;
    assert.deepEqual(apex.records, [{ priority: 0, targetName: 'www.x.test', params: {} }]);
    const alias = await queryServiceRecords('alias.x.test', 'HTTPS', { servers }).promise;
    assert.equal(alias.owner, 'www.x.test');
    assert.equal(alias.records.length, 2);
    assert.equal(alias.ttlSeconds, 30);
  });
  test('SVCB is its own type: HTTPS of that name is NODATA', async () => {
    const answer = await queryServiceRecords('svcb.x.test', 'SVCB', { servers }).promise;
    assert.deepEqual(answer.records, [{ priority: 3, targetName: 'pool.x.test', params: { port: 5353 } }]);
    await assert.rejects(
      queryServiceRecords('svcb.x.test', 'HTTPS', { servers }).promise,
      (e: DnsClientError) => e.code === 'ENODATA',
    );
  });
  test('per-name delay applies to HTTPS queries', async () => {
    const t0 = performance.now();
    await queryServiceRecords('slow.x.test', 'HTTPS', { servers }).promise;
    assert.ok(performance.now() - t0 >= 90, 'answered before its delay');
  });
  test('malformed RDATA is left out with its reason; all malformed is ENODATA', async () => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    try {
      socket.on('message', (raw, from) => {
        const q = dnsPacket.decode(raw);
        const name = q.questions?.[0]?.name ?? '';
        const good = Buffer.from('000100', 'hex'); // priority 1, target "."
        const bad = Buffer.from('0001000003000135', 'hex'); // port of 1 byte
        const answers = [
          ...(name.startsWith('mixed') ? [{ type: 'UNKNOWN_65', name, ttl: 60, data: good }] : []),
          { type: 'UNKNOWN_65', name, ttl: 60, data: bad },
        ];
        const response = dnsPacket.encode({
          id: q.id ?? 0,
          type: 'response',
          flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHORITATIVE_ANSWER,
          questions: q.questions ?? [],
          answers: answers as never,
        });
        socket.send(response, from.port, from.address);
      });
      const at = [`127.0.0.1:${socket.address().port}`];
      const mixed = await queryServiceRecords('mixed.x.test', 'HTTPS', { servers: at, edns: false }).promise;
      assert.deepEqual(mixed.records, [{ priority: 1, targetName: '.', params: {} }]);
      assert.deepEqual(mixed.malformed, ['port: not a 2-byte port']);
      await assert.rejects(
        queryServiceRecords('broken.x.test', 'HTTPS', { servers: at, edns: false }).promise,
        (e: DnsClientError) => e.code === 'ENODATA' && /every record malformed: port/.test(e.message),
      );
    } finally {
      socket.close();
    }
  });
  test('a bad type is a TypeError naming it', () => {
    assert.throws(
      () => queryServiceRecords('x.test', 'MX' as 'SRV', { servers }),
      (e: TypeError & { code?: string }) => e instanceof TypeError && /type/.test(e.message),
    );
  });
});
