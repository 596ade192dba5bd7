/**
 * The race core generalised from addresses to endpoints (address, port, service bucket, answer source),
 * on a virtual clock: waiting for the service records (draft-ietf-happy-happyeyeballs-v3 §4.2), service
 * priority buckets tried in order with the RFC 8305 stagger, RFC 9460 §7.3 hints until the target's own
 * answer, one endpoint tried once whatever bucket lists it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RaceCandidate, RaceConfig } from '../src/race/race.js';
import { RaceDriver, raceConfig } from './support/race-driver.js';

interface Endpoint extends RaceCandidate {
  port: number;
  bucket: number;
  source: string;
}

const ep = (address: string, port: number, bucket: number, source: string): Endpoint => ({
  address,
  family: address.includes(':') ? 6 : 4,
  port,
  bucket,
  source,
  key: `${address}|${port}|${bucket}`,
});

/** Bucket first (service priority), then IPv6 before IPv4 within a bucket. */
function byBucket(known: readonly Endpoint[]): Endpoint[] {
  return [...known].sort((a, b) => a.bucket - b.bucket || b.family - a.family);
}

const config = (over: Partial<RaceConfig<Endpoint>> = {}): RaceConfig<Endpoint> => raceConfig(byBucket, over);

/** The race driver, its log naming each endpoint address:port. */
class Driver extends RaceDriver<Endpoint> {
  constructor(cfg: RaceConfig<Endpoint>) {
    super(cfg, (c) => `${c.address}:${c.port}`);
  }
}

describe('waiting for the service records (HEv3 §4.2)', () => {
  test('a positive AAAA waits for the HTTPS answer, which starts the race with its endpoint first', () => {
    const d = new Driver(config({ awaitServices: true }));
    d.at(5, (r, n) => r.answer(6, [ep('2001:db8::1', 443, 1, '')], n));
    d.advanceTo(20);
    assert.deepEqual(d.starts(), [], 'the AAAA alone does not start while the records are out');
    d.at(20, (r, n) => r.services([{ source: '', bucket: 0 }], n, [6, 4]));
    d.at(20, (r, n) => r.answer(6, [ep('2001:db8::1', 8443, 0, '')], n));
    assert.deepEqual(d.starts(), ['20 start #0 2001:db8::1:8443']);
  });

  test('records that never come hold the race back only for the Resolution Delay', () => {
    const d = new Driver(config({ awaitServices: true }));
    d.at(5, (r, n) => r.answer(6, [ep('2001:db8::1', 443, 1, '')], n));
    d.advanceTo(54);
    assert.deepEqual(d.starts(), []);
    d.advanceTo(55);
    assert.deepEqual(d.starts(), ['55 start #0 2001:db8::1:443']);
  });

  test('no records and no address: the race fails for DNS once the records are known to be absent', () => {
    const d = new Driver(config({ families: [], awaitServices: true }));
    assert.equal(d.result, undefined);
    d.at(30, (r, n) => r.services([], n, [6, 4]));
    assert.equal(d.result, 'fail dns');
  });
});

describe('service priority buckets', () => {
  test('priority 1 silent: priority 2 starts one attempt delay later, staggered like any address', () => {
    const d = new Driver(config({ families: [], awaitServices: true }));
    d.at(10, (r, n) =>
      r.services(
        [
          { source: 'a.example', bucket: 0 },
          { source: 'b.example', bucket: 1 },
        ],
        n,
        [6, 4],
      ),
    );
    d.at(15, (r, n) => r.answer(6, [ep('2001:db8::b', 20, 1, 'b.example')], n, { source: 'b.example' }));
    d.at(16, (r, n) => r.answerFailed(4, 'ENODATA', n, 'b.example'));
    assert.deepEqual(d.starts(), [], 'a later bucket waits while the better one is out');
    d.at(30, (r, n) => r.answer(6, [ep('2001:db8::a', 10, 0, 'a.example')], n, { source: 'a.example' }));
    d.advanceTo(1000);
    assert.deepEqual(d.starts(), ['30 start #0 2001:db8::a:10', '280 start #1 2001:db8::b:20']);
  });

  test('a later bucket starts after the Resolution Delay when the better bucket is slow', () => {
    const d = new Driver(config({ families: [], awaitServices: true }));
    d.at(0, (r, n) =>
      r.services(
        [
          { source: 'a.example', bucket: 0 },
          { source: 'b.example', bucket: 1 },
        ],
        n,
        [6, 4],
      ),
    );
    d.at(10, (r, n) => r.answer(6, [ep('2001:db8::b', 20, 1, 'b.example')], n, { source: 'b.example' }));
    d.advanceTo(59);
    assert.deepEqual(d.starts(), []);
    d.advanceTo(60);
    assert.deepEqual(d.starts(), ['60 start #0 2001:db8::b:20']);
    // The better bucket's late answer goes first among what is left.
    d.at(100, (r, n) => r.answer(6, [ep('2001:db8::a', 10, 0, 'a.example')], n, { source: 'a.example' }));
    d.advanceTo(400);
    assert.deepEqual(d.starts(), ['60 start #0 2001:db8::b:20', '310 start #1 2001:db8::a:10']);
  });

  test('one endpoint listed by two buckets is tried once', () => {
    const d = new Driver(config({ families: [6], awaitServices: true }));
    d.at(0, (r, n) => r.services([{ source: '', bucket: 0 }], n, [6, 4]));
    d.at(1, (r, n) =>
      r.answer(
        6,
        [ep('2001:db8::1', 443, 0, ''), ep('2001:db8::1', 443, 1, ''), ep('2001:db8::2', 443, 1, '')],
        n,
      ),
    );
    d.at(2, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    d.at(3, (r, n) => r.attemptFailed(1, 'ECONNREFUSED', n));
    assert.deepEqual(d.starts(), ['1 start #0 2001:db8::1:443', '2 start #1 2001:db8::2:443']);
    assert.equal(d.result, 'fail exhausted');
  });
});

describe('RFC 9460 §7.3 hints', () => {
  test('hints start the race before the target answers; the answer drops untried hints and adds its own', () => {
    const d = new Driver(config({ families: [], awaitServices: true }));
    d.at(5, (r, n) => r.services([{ source: 'svc.example', bucket: 0 }], n, [6, 4]));
    d.at(5, (r, n) =>
      r.answer(6, [ep('2001:db8::1', 443, 0, 'svc.example'), ep('2001:db8::2', 443, 0, 'svc.example')], n, {
        source: 'svc.example',
        refreshPending: true,
      }),
    );
    assert.deepEqual(d.starts(), ['5 start #0 2001:db8::1:443']);
    // The real AAAA: ::1 again (deduplicated), ::3 new, ::2 no longer listed.
    d.at(100, (r, n) =>
      r.refreshed(
        6,
        [ep('2001:db8::1', 443, 0, 'svc.example'), ep('2001:db8::3', 443, 0, 'svc.example')],
        n,
        'svc.example',
      ),
    );
    d.at(101, (r, n) => r.answerFailed(4, 'ENODATA', n, 'svc.example'));
    d.advanceTo(1000);
    assert.deepEqual(d.starts(), ['5 start #0 2001:db8::1:443', '255 start #1 2001:db8::3:443']);
  });

  test('the race does not end exhausted on failed hints while the real answer is out', () => {
    const d = new Driver(config({ families: [], awaitServices: true }));
    d.at(0, (r, n) => r.services([{ source: 's.example', bucket: 0 }], n, [6, 4]));
    d.at(1, (r, n) =>
      r.answer(4, [ep('192.0.2.1', 443, 0, 's.example')], n, { source: 's.example', refreshPending: true }),
    );
    d.at(2, (r, n) => r.answerFailed(6, 'ENODATA', n, 's.example'));
    d.at(3, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    assert.equal(d.result, undefined);
    d.at(40, (r, n) => r.refreshed(4, [ep('192.0.2.7', 443, 0, 's.example')], n, 's.example'));
    // An A hint waits for the AAAA like an A answer (RFC 8305 §3): it starts when the AAAA is known absent.
    assert.deepEqual(d.starts(), ['2 start #0 192.0.2.1:443', '40 start #1 192.0.2.7:443']);
  });
});

describe('RFC 9460 §7.3 hints give way once the real answer is in', () => {
  test('the real answer arriving (its probe still running) drops untried hints and holds the start', () => {
    const d = new Driver(config({ families: [], awaitServices: true }));
    d.at(0, (r, n) => r.services([{ source: 's.example', bucket: 0 }], n, [6, 4]));
    d.at(1, (r, n) =>
      r.answer(4, [ep('192.0.2.9', 443, 0, 's.example')], n, { source: 's.example', refreshPending: true }),
    );
    // The real A is in (the shell probes its source addresses), then the AAAA says NODATA.
    d.at(3, (r, n) => r.hintsReplaced(4, n, 's.example'));
    d.at(4, (r, n) => r.answerFailed(6, 'ENODATA', n, 's.example'));
    assert.deepEqual(d.starts(), [], 'no start on the hint while the real A is on its way');
    d.at(5, (r, n) =>
      r.answer(4, [ep('192.0.2.1', 443, 0, 's.example'), ep('192.0.2.9', 443, 0, 's.example')], n, {
        source: 's.example',
      }),
    );
    // The real answer lists the hint's address too: it is one of its addresses now, tried in its place.
    assert.deepEqual(
      d.race.order.map((c) => c.address),
      ['192.0.2.1', '192.0.2.9'],
    );
    assert.deepEqual(d.starts(), ['5 start #0 192.0.2.1:443']);
  });

  test('a hint already tried stays tried; the race does not end while the real answer is on its way', () => {
    const d = new Driver(config({ families: [], awaitServices: true }));
    d.at(0, (r, n) => r.services([{ source: 's.example', bucket: 0 }], n, [6, 4]));
    d.at(1, (r, n) =>
      r.answer(6, [ep('2001:db8::9', 443, 0, 's.example')], n, { source: 's.example', refreshPending: true }),
    );
    assert.deepEqual(d.starts(), ['1 start #0 2001:db8::9:443']);
    d.at(2, (r, n) => r.hintsReplaced(6, n, 's.example'));
    d.at(3, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    d.at(4, (r, n) => r.answerFailed(4, 'ENODATA', n, 's.example'));
    assert.equal(d.result, undefined, 'the real AAAA is still to be delivered');
    d.at(6, (r, n) => r.answer(6, [ep('2001:db8::1', 443, 0, 's.example')], n, { source: 's.example' }));
    assert.deepEqual(d.starts(), ['1 start #0 2001:db8::9:443', '6 start #1 2001:db8::1:443']);
  });

  test('a hint in flight that the real answer lacks does not hold the real address back by the stagger', () => {
    const d = new Driver(config({ families: [], awaitServices: true }));
    d.at(0, (r, n) => r.services([{ source: 's.example', bucket: 0 }], n, [6, 4]));
    d.at(1, (r, n) =>
      r.answer(6, [ep('2001:db8::9', 443, 0, 's.example')], n, { source: 's.example', refreshPending: true }),
    );
    d.at(2, (r, n) => r.hintsReplaced(6, n, 's.example'));
    d.at(3, (r, n) => r.answer(6, [ep('2001:db8::1', 443, 0, 's.example')], n, { source: 's.example' }));
    assert.deepEqual(d.starts(), ['1 start #0 2001:db8::9:443', '3 start #1 2001:db8::1:443']);
    assert.equal(d.race.attempts[1]!.trigger, 'answer');
    // The real answer lists the hint in flight: the stagger holds.
    const e = new Driver(config({ families: [], awaitServices: true }));
    e.at(0, (r, n) => r.services([{ source: 's.example', bucket: 0 }], n, [6, 4]));
    e.at(1, (r, n) =>
      r.answer(6, [ep('2001:db8::9', 443, 0, 's.example')], n, { source: 's.example', refreshPending: true }),
    );
    e.at(2, (r, n) => r.hintsReplaced(6, n, 's.example'));
    e.at(3, (r, n) =>
      r.answer(6, [ep('2001:db8::9', 443, 0, 's.example'), ep('2001:db8::1', 443, 0, 's.example')], n, {
        source: 's.example',
      }),
    );
    e.advanceTo(250);
    assert.deepEqual(e.starts(), ['1 start #0 2001:db8::9:443']);
    e.advanceTo(251);
    assert.deepEqual(e.starts(), ['1 start #0 2001:db8::9:443', '251 start #1 2001:db8::1:443']);
  });

  test('for a family without hints, or twice, it changes nothing', () => {
    const d = new Driver(config({ families: [], awaitServices: true }));
    d.at(0, (r, n) => r.services([{ source: 's.example', bucket: 0 }], n, [6, 4]));
    d.at(1, (r, n) => r.hintsReplaced(6, n, 's.example'));
    d.at(2, (r, n) => r.answer(6, [ep('2001:db8::1', 443, 0, 's.example')], n, { source: 's.example' }));
    assert.deepEqual(d.starts(), ['2 start #0 2001:db8::1:443']);
    d.at(3, (r, n) => r.hintsReplaced(6, n, 's.example'));
    d.at(4, (r, n) => r.attemptFailed(0, 'ECONNREFUSED', n));
    d.at(5, (r, n) => r.answerFailed(4, 'ENODATA', n, 's.example'));
    assert.equal(d.result, 'fail exhausted');
  });
});
