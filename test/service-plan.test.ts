/**
 * The pure service-record decisions (src/resolution/service-plan.ts): RFC 2782 SRV order and weights,
 * "no service", RFC 9460 AliasMode steps, ServiceMode priority buckets, unknown mandatory keys, ALPN
 * intersection, TargetName ".", ports; the order of buckets (failed recently last, priority, fallback last).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRandom } from '../src/memory/random.js';
import type { SrvRecordData } from '../src/resolution/dns-client.js';
import { aliasStep, orderBuckets, orderSrv, planHttps, planSrv } from '../src/resolution/service-plan.js';
import type { SvcbRecord } from '../src/resolution/svcb.js';

const srv = (priority: number, weight: number, port: number, target: string): SrvRecordData => ({
  priority,
  weight,
  port,
  target,
});

describe('SRV (RFC 2782)', () => {
  test('priority ascending whatever the weights', () => {
    const random = createRandom(1);
    for (let i = 0; i < 50; i++) {
      const ordered = orderSrv(
        [srv(20, 100, 1, 'c'), srv(10, 1, 1, 'a'), srv(10, 1, 1, 'b'), srv(5, 0, 1, 'z')],
        random,
      );
      assert.deepEqual(
        ordered.map((r) => r.priority),
        [5, 10, 10, 20],
      );
    }
  });
  test('within a priority, first picks follow the weights (3:1 over 4000 orders, seeded)', () => {
    const random = createRandom(42);
    let heavyFirst = 0;
    const runs = 4000;
    for (let i = 0; i < runs; i++) {
      const first = orderSrv([srv(1, 10, 1, 'light'), srv(1, 30, 1, 'heavy')], random)[0];
      if (first?.target === 'heavy') heavyFirst++;
    }
    // Expected 30/41 (the draw is in [0, 40] inclusive): 0.732; ±0.03 is over 4 standard deviations.
    assert.ok(Math.abs(heavyFirst / runs - 30 / 41) < 0.03, `heavy first in ${heavyFirst} of ${runs}`);
  });
  test('weight 0 beside weighted records is almost never first', () => {
    const random = createRandom(7);
    let zeroFirst = 0;
    for (let i = 0; i < 2000; i++) {
      if (orderSrv([srv(1, 0, 1, 'zero'), srv(1, 50, 1, 'w')], random)[0]?.target === 'zero') zeroFirst++;
    }
    assert.ok(zeroFirst < 2000 * 0.05, `zero-weight first ${zeroFirst} times`);
    assert.ok(zeroFirst > 0, 'weight 0 is still chosen sometimes (draw 0)');
  });
  test('the same seed gives the same order', () => {
    const records = [srv(1, 5, 1, 'a'), srv(1, 5, 1, 'b'), srv(1, 5, 1, 'c'), srv(1, 5, 1, 'd')];
    assert.deepEqual(orderSrv(records, createRandom(9)), orderSrv(records, createRandom(9)));
  });
  test('a lone "." target means no service; "." among others is left out; port 0 skipped', () => {
    assert.equal(planSrv([srv(0, 0, 0, '.')], Math.random), undefined);
    const plan = planSrv(
      [srv(1, 0, 0, '.'), srv(2, 0, 443, 'a.example'), srv(3, 0, 0, 'b.example')],
      Math.random,
    );
    assert.deepEqual(
      plan?.buckets.map((b) => [b.bucket, b.targetName, b.port]),
      [[0, 'a.example', 443]],
    );
    assert.equal(plan?.records[1]?.skipped, 'port 0');
  });
});

describe('RFC 9460 AliasMode and ServiceMode', () => {
  const rec = (priority: number, targetName: string, params: SvcbRecord['params'] = {}): SvcbRecord => ({
    priority,
    targetName,
    params,
  });
  test('an alias wins over ServiceMode records in the same set; an alias to "." means unavailable', () => {
    assert.deepEqual(aliasStep([rec(1, '.'), rec(0, 'cdn.example')]), {
      kind: 'alias',
      target: 'cdn.example',
    });
    assert.deepEqual(aliasStep([rec(0, '.')]), { kind: 'unavailable' });
    assert.deepEqual(aliasStep([rec(2, 'x.example')]), { kind: 'service' });
  });
  const base = { owner: 'www.example', originPort: 443, defaultAlpn: ['http/1.1'], random: createRandom(3) };
  test('priority order; "." is the owner; port from the record or the origin; hints carried', () => {
    const plan = planHttps({
      ...base,
      callerAlpn: undefined,
      records: [
        rec(2, 'b.example', { port: 8443 }),
        rec(1, '.', { alpn: ['h2'], ipv4hint: ['192.0.2.1'], ech: Uint8Array.of(1) }),
      ],
    });
    assert.deepEqual(
      plan.buckets.map((b) => [b.bucket, b.targetName, b.port, b.alpn, b.ipv4hint]),
      [
        [0, 'www.example', 443, ['h2', 'http/1.1'], ['192.0.2.1']],
        [1, 'b.example', 8443, ['http/1.1'], []],
      ],
    );
    assert.equal(plan.records[0]?.echConfig, true);
  });
  test('unknown mandatory key skips the record, with the reason', () => {
    const plan = planHttps({
      ...base,
      callerAlpn: undefined,
      records: [
        rec(1, '.', { mandatory: [667], unknown: [{ key: 667, value: Uint8Array.of() }] }),
        rec(2, '.'),
      ],
    });
    assert.equal(plan.buckets.length, 1);
    assert.equal(plan.buckets[0]?.info.priority, 2);
    assert.match(plan.records[0]?.skipped ?? '', /key667 not understood/);
  });
  test('ALPN: caller order filtered by the record; empty intersection skipped; QUIC-only skipped', () => {
    const plan = planHttps({
      ...base,
      callerAlpn: ['http/1.1', 'h2'],
      records: [
        rec(1, '.', { alpn: ['h3'], noDefaultAlpn: true }),
        rec(2, '.', { alpn: ['spdy/3'], noDefaultAlpn: true }),
        rec(3, '.', { alpn: ['h2', 'h3'] }),
      ],
    });
    assert.match(plan.records[0]?.skipped ?? '', /only QUIC/);
    assert.match(plan.records[1]?.skipped ?? '', /no ALPN in common/);
    assert.deepEqual(
      plan.buckets.map((b) => b.alpn),
      [['http/1.1', 'h2']],
    );
  });
  test('equal priorities are shuffled (seeded), unequal ones never', () => {
    const seen = new Set<string>();
    const random = createRandom(11);
    for (let i = 0; i < 40; i++) {
      const plan = planHttps({
        ...base,
        random,
        callerAlpn: undefined,
        records: [rec(1, 'a.example'), rec(1, 'b.example'), rec(2, 'c.example')],
      });
      seen.add(plan.buckets.map((b) => b.targetName[0]).join(''));
      assert.equal(plan.buckets[2]?.targetName, 'c.example');
    }
    assert.deepEqual([...seen].sort(), ['abc', 'bac']);
  });
});

describe('bucket order (architecture.md §4)', () => {
  const priorities = new Map([
    [0, 1],
    [1, 1],
    [2, 5],
  ]);
  const priorityOf = (b: number) => priorities.get(b);
  test('priority, then the plan order; the fallback (no record, no priority) last', () => {
    assert.deepEqual(
      orderBuckets([65_536, 2, 1, 0], priorityOf, () => false),
      [0, 1, 2, 65_536],
    );
  });
  test('a bucket whose endpoints all failed recently goes after the live ones, the fallback included', () => {
    assert.deepEqual(
      orderBuckets([0, 1, 2, 65_536], priorityOf, (b) => b === 0),
      [1, 2, 65_536, 0],
    );
    assert.deepEqual(
      orderBuckets([0, 1, 2, 65_536], priorityOf, (b) => b !== 2),
      [2, 0, 1, 65_536],
    );
  });
});
