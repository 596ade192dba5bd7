/**
 * Fleet memory's pure core (src/memory/fleet-observation.ts) and the history hook it drives
 * (EndpointHistory.adoptPeer), on virtual clocks:
 * - merging observation sets is commutative, associative and idempotent, and the result does not depend
 *   on delivery order or duplicates (fast-check);
 * - a peer's failure demotes here with the same remaining backoff, a peer's success ends a backoff, a
 *   peer's RTT never overwrites a local one, and a local outcome after a peer's is local again;
 * - untrusted input: parseObservation never throws and accepts only plausible observations.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { EndpointHistory } from '../src/memory/endpoint-history.js';
import {
  type EndpointObservation,
  isNewer,
  mergeAll,
  parseObservation,
  verdictOf,
} from '../src/memory/fleet-observation.js';

const WALL = 1_800_000_000_000;

/** A pool of distinct observations (unique ids, as real ones are) over few endpoints and few instants (ties). */
const pool = fc
  .uniqueArray(
    fc.record({
      address: fc.constantFrom('192.0.2.1', '192.0.2.2', '2001:db8::1'),
      port: fc.constantFrom(80, 443),
      outcome: fc.constantFrom('success' as const, 'failure' as const),
      wallClockMs: fc.integer({ min: WALL, max: WALL + 5 }),
      origin: fc.constantFrom('a', 'b', 'c'),
      seq: fc.integer({ min: 1, max: 50 }),
      backoffMs: fc.integer({ min: 0, max: 600_000 }),
      rttMs: fc.integer({ min: 0, max: 500 }),
    }),
    { selector: (r) => `${r.origin}.${r.seq}`, maxLength: 40 },
  )
  .map((rows) =>
    rows.map(
      (r): EndpointObservation =>
        r.outcome === 'success'
          ? {
              address: r.address,
              port: r.port,
              outcome: 'success',
              wallClockMs: r.wallClockMs,
              id: `${r.origin}.${r.seq}`,
              rttMs: r.rttMs,
            }
          : {
              address: r.address,
              port: r.port,
              outcome: 'failure',
              wallClockMs: r.wallClockMs,
              id: `${r.origin}.${r.seq}`,
              code: 'ETIMEDOUT',
              failures: 1,
              backoffMs: r.backoffMs,
            },
    ),
  );

/** Three sets drawn from one pool (so they overlap, as replicas' sets do). */
const threeSets = pool.chain((p) => fc.tuple(fc.subarray(p), fc.subarray(p), fc.subarray(p), fc.constant(p)));

/** A merge result as comparable data: key → id, sorted. */
function canon(table: Map<string, EndpointObservation>): Array<[string, string]> {
  return [...table].map(([k, o]): [string, string] => [k, o.id]).sort((x, y) => (x[0] < y[0] ? -1 : 1));
}

describe('merging observations (last writer wins per endpoint)', () => {
  test('commutative: merge(A, B) = merge(B, A)', () => {
    fc.assert(
      fc.property(threeSets, ([a, b]) => {
        assert.deepEqual(canon(mergeAll(a, b)), canon(mergeAll(b, a)));
      }),
      { numRuns: 500 },
    );
  });

  test('associative: merge(merge(A, B), C) = merge(A, merge(B, C))', () => {
    fc.assert(
      fc.property(threeSets, ([a, b, c]) => {
        const left = mergeAll(mergeAll(a, b).values(), c);
        const right = mergeAll(a, mergeAll(b, c).values());
        assert.deepEqual(canon(left), canon(right));
      }),
      { numRuns: 500 },
    );
  });

  test('idempotent: merge(A, A) = merge(A), and merging a result again changes nothing', () => {
    fc.assert(
      fc.property(threeSets, ([a, b]) => {
        assert.deepEqual(canon(mergeAll(a, a)), canon(mergeAll(a)));
        const m = mergeAll(a, b);
        assert.deepEqual(canon(mergeAll(m.values(), a, b)), canon(m));
      }),
      { numRuns: 500 },
    );
  });

  test('delivery order and duplicates do not matter; the newest per endpoint wins', () => {
    fc.assert(
      fc.property(
        pool.chain((p) =>
          fc.tuple(fc.constant(p), fc.shuffledSubarray([...p, ...p], { minLength: 2 * p.length })),
        ),
        ([p, delivered]) => {
          const m = mergeAll(delivered);
          assert.deepEqual(canon(m), canon(mergeAll(p)));
          for (const o of p) {
            const held = m.get(`${o.port} ${o.address}`);
            assert.ok(held !== undefined && !isNewer(o, held), 'nothing delivered is newer than what won');
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('what a peer observation means here (verdictOf)', () => {
  const failure: EndpointObservation = {
    address: '192.0.2.1',
    port: 443,
    outcome: 'failure',
    wallClockMs: WALL,
    id: 'p.1',
    code: 'ETIMEDOUT',
    failures: 2,
    backoffMs: 120_000,
  };
  test('a failure keeps the same remaining backoff, by wall clock', () => {
    assert.deepEqual(verdictOf(failure, WALL + 20_000), {
      outcome: 'failure',
      code: 'ETIMEDOUT',
      failures: 2,
      remainingMs: 100_000,
    });
  });
  test('a failure whose backoff is over says nothing; a peer clock ahead counts as now', () => {
    assert.equal(verdictOf(failure, WALL + 120_000), undefined);
    assert.equal(verdictOf(failure, WALL - 5_000)?.outcome, 'failure');
    assert.equal((verdictOf(failure, WALL - 5_000) as { remainingMs: number }).remainingMs, 120_000);
  });
});

describe('EndpointHistory.adoptPeer (virtual clock)', () => {
  const NOW = 1_000_000;
  test("a peer's failure demotes with the same remaining backoff, its count and code", () => {
    const h = new EndpointHistory();
    h.adoptPeer(
      '192.0.2.1',
      443,
      { outcome: 'failure', code: 'ECONNREFUSED', failures: 3, remainingMs: 42_000 },
      NOW,
    );
    const s = h.get('192.0.2.1', 443, NOW);
    assert.equal(s?.lastOutcome, 'failure');
    assert.equal(s?.backoffUntilMs, NOW + 42_000);
    assert.equal(s?.consecutiveFailures, 3);
    assert.equal(s?.lastErrorCode, 'ECONNREFUSED');
    assert.equal(s?.fromPeer, true);
    assert.equal(h.isDemoted('192.0.2.1', 443, NOW), true);
    assert.equal(h.isFromPeer('192.0.2.1', 443), true);
    // A further local failure escalates from the peer's count: 4th failure → 8 min.
    h.recordFailure('192.0.2.1', 443, 'ETIMEDOUT', NOW + 1);
    const after = h.get('192.0.2.1', 443, NOW + 1);
    assert.equal(after?.consecutiveFailures, 4);
    assert.equal(after?.backoffUntilMs, NOW + 1 + 480_000);
    assert.equal(after?.fromPeer, undefined, 'a local outcome is local again');
  });

  test('a remaining backoff beyond backoffMaxMs is capped', () => {
    const h = new EndpointHistory({ backoffMaxMs: 90_000 });
    h.adoptPeer(
      '192.0.2.1',
      80,
      { outcome: 'failure', code: 'ETIMEDOUT', failures: 9, remainingMs: 3_600_000 },
      NOW,
    );
    assert.equal(h.get('192.0.2.1', 80, NOW)?.backoffUntilMs, NOW + 90_000);
  });

  test("a peer's success ends a local backoff; its RTT seeds SRTT only when there is none", () => {
    const h = new EndpointHistory();
    h.recordFailure('192.0.2.1', 443, 'ETIMEDOUT', NOW);
    h.adoptPeer('192.0.2.1', 443, { outcome: 'success', rttMs: 30 }, NOW + 10);
    const s = h.get('192.0.2.1', 443, NOW + 10);
    assert.equal(s?.lastOutcome, 'success');
    assert.equal(s?.inBackoff, false);
    assert.equal(s?.consecutiveFailures, 0);
    assert.equal(s?.srttMs, 30);
    assert.equal(s?.rttvarMs, 15);
    h.recordSuccess('192.0.2.2', 443, 5, NOW);
    h.adoptPeer('192.0.2.2', 443, { outcome: 'success', rttMs: 300 }, NOW + 20);
    assert.equal(h.get('192.0.2.2', 443, NOW + 20)?.srttMs, 5, 'the local measurement stands');
  });

  test('the observer hears local outcomes, never adopted ones (no echo)', () => {
    const h = new EndpointHistory();
    const heard: unknown[] = [];
    h.setObserver((address, port, failure, rttMs) => heard.push([address, port, failure, rttMs]));
    h.recordFailure('192.0.2.1', 443, 'ECONNREFUSED', NOW);
    h.recordSuccess('192.0.2.2', 443, 12, NOW);
    h.adoptPeer('192.0.2.3', 443, { outcome: 'success', rttMs: 1 }, NOW);
    assert.deepEqual(heard, [
      ['192.0.2.1', 443, { code: 'ECONNREFUSED', failures: 1, backoffMs: 60_000 }, undefined],
      ['192.0.2.2', 443, undefined, 12],
    ]);
    h.setObserver(undefined);
    h.recordSuccess('192.0.2.2', 443, 12, NOW);
    assert.equal(heard.length, 2);
  });

  test('without peers, isFromPeer is false and nothing is marked', () => {
    const h = new EndpointHistory();
    h.recordFailure('192.0.2.1', 443, 'ECONNREFUSED', NOW);
    assert.equal(h.peerInformed, false);
    assert.equal(h.isFromPeer('192.0.2.1', 443), false);
    assert.equal(h.get('192.0.2.1', 443, NOW)?.fromPeer, undefined);
  });
});

describe('parseObservation: a store is input, not trusted code', () => {
  const good = {
    address: '2001:db8::7',
    port: 8443,
    outcome: 'failure',
    wallClockMs: WALL,
    id: 'Zq09_-x.12',
    code: 'EHOSTUNREACH',
    failures: 1,
    backoffMs: 60_000,
  };

  test('a well-formed observation survives JSON and comes back as a fresh plain copy', () => {
    const parsed = parseObservation(JSON.parse(JSON.stringify(good)), WALL + 1);
    assert.deepEqual(parsed, good);
    const success = {
      address: '192.0.2.9',
      port: 80,
      outcome: 'success',
      wallClockMs: WALL,
      id: 'a.1',
      rttMs: 3,
    };
    assert.deepEqual(parseObservation(success, WALL), success);
  });

  test('each malformed or implausible part is rejected', () => {
    const bad: Array<[string, Record<string, unknown>]> = [
      ['zone', { address: 'fe80::1%eth0' }],
      ['host name', { address: 'example.com' }],
      ['port 0', { port: 0 }],
      ['port text', { port: '80' }],
      ['outcome', { outcome: 'maybe' }],
      ['future', { wallClockMs: WALL + 3_600_000 }],
      ['ancient', { wallClockMs: WALL - 3 * 24 * 3_600_000 }],
      ['NaN time', { wallClockMs: Number.NaN }],
      ['id shape', { id: '../../etc' }],
      ['long id', { id: `${'x'.repeat(100)}.1` }],
      ['code shape', { code: '<script>' }],
      ['failures 0', { failures: 0 }],
      ['failures float', { failures: 1.5 }],
      ['negative backoff', { backoffMs: -1 }],
      ['huge backoff', { backoffMs: 1e12 }],
      ['backoff text', { backoffMs: '60000' }],
    ];
    for (const [what, patch] of bad) {
      assert.equal(parseObservation({ ...good, ...patch }, WALL), undefined, what);
    }
    assert.equal(
      parseObservation({ ...good, outcome: 'success', rttMs: -3 }, WALL),
      undefined,
      'negative rtt',
    );
    assert.equal(parseObservation([good], WALL), undefined, 'an array');
    assert.equal(
      parseObservation(Object.assign(Object.create({ evil: true }), good), WALL),
      undefined,
      'a prototype',
    );
    const getter = { ...good };
    Object.defineProperty(getter, 'address', {
      get() {
        throw new Error('boom');
      },
      enumerable: true,
    });
    assert.equal(parseObservation(getter, WALL), undefined, 'an accessor is not read');
    const proxy = new Proxy(
      { ...good },
      {
        getOwnPropertyDescriptor() {
          throw new Error('trap');
        },
      },
    );
    assert.equal(parseObservation(proxy, WALL), undefined, 'a throwing proxy');
  });

  test('never throws, whatever arrives', () => {
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true }), (value) => {
        parseObservation(value, WALL);
      }),
      { numRuns: 2000 },
    );
  });
});
