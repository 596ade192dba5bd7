/**
 * A caller's resolver function (`resolver: (host, family, { signal }) => …`), through NameResolver: what
 * the cheaper per-dial shape of issue 16 (src/resolution/custom-resolution.ts) must keep. One call per
 * family, never inside resolve() itself; a throw, a rejection, garbage or an empty list is that family's
 * error; the signal is shared by both families, made when read, aborted when the resolution is cancelled;
 * a cancelled resolution passes on nothing late; a misbehaving thenable gives one outcome per family.
 * Heap per dial in flight is measured in the benchmark (bench/micro.ts), not here.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ResolveFunction } from '../src/options.js';
import { NameResolver, type Resolution, type ResolutionEvent } from '../src/resolution/resolve.js';
import type { Family } from '../src/types.js';

const dir = mkdtempSync(join(tmpdir(), 'netdial-custom-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** No file of the machine's is read: a custom resolver needs none. */
function resolver(): NameResolver {
  return new NameResolver({
    hostsPath: null,
    resolvConfPath: join(dir, 'resolv.conf'),
    nsswitchPath: join(dir, 'nsswitch.conf'),
  });
}

function start(fn: ResolveFunction, families: readonly Family[] = [6, 4]) {
  const events: ResolutionEvent[] = [];
  const resolution: Resolution = resolver().resolve('c.test', false, families, fn, 0, {
    resolutionEvent: (e) => events.push(e),
  });
  return { events, resolution };
}

/** The answer or error of each family, as [family, type, code or addresses]. */
function outcomes(events: readonly ResolutionEvent[]): Array<[Family, string, string]> {
  const out: Array<[Family, string, string]> = [];
  for (const e of events) {
    if (e.type === 'answer') out.push([e.family, 'answer', e.addresses.map((a) => a.address).join(',')]);
    else if (e.type === 'error') out.push([e.family, 'error', e.code]);
  }
  return out;
}

describe('a custom resolver function', () => {
  test('called once per family, after resolve() has returned, with the name and family', async () => {
    const calls: Array<[string, Family]> = [];
    const fn: ResolveFunction = async (name, family) => {
      calls.push([name, family]);
      return family === 4 ? ['192.0.2.1'] : ['2001:db8::1'];
    };
    const { events } = start(fn);
    assert.deepEqual(calls, [], 'not called inside resolve()');
    assert.deepEqual(
      events.map((e) => (e.type === 'query' ? `query ${e.family} ${e.source}` : e.type)),
      ['path', 'query 6 custom', 'query 4 custom'],
    );
    await nextTurn();
    assert.deepEqual(calls, [
      ['c.test', 6],
      ['c.test', 4],
    ]);
    assert.deepEqual(outcomes(events), [
      [6, 'answer', '2001:db8::1'],
      [4, 'answer', '192.0.2.1'],
    ]);
  });

  test("a synchronous throw, a rejection, garbage and an empty list: each that family's error", async () => {
    const cases: Array<[string, ResolveFunction, string]> = [
      [
        'sync throw',
        () => {
          throw Object.assign(new Error('down'), { code: 'ESERVFAIL' });
        },
        'ESERVFAIL',
      ],
      ['rejection', () => Promise.reject(Object.assign(new Error('slow'), { code: 'ETIMEOUT' })), 'ETIMEOUT'],
      ['garbage', (() => Promise.resolve(7)) as unknown as ResolveFunction, 'EBADRESP'],
      ['not a promise', (() => ['192.0.2.9', 'nonsense']) as unknown as ResolveFunction, 'EBADRESP'],
      ['empty', async () => [], 'ENODATA'],
    ];
    for (const [label, bad, code] of cases) {
      // IPv4 answers; IPv6 gets the bad outcome.
      const fn: ResolveFunction = (name, family, context) =>
        family === 4 ? Promise.resolve(['192.0.2.1']) : bad(name, family, context);
      const { events } = start(fn);
      await nextTurn();
      assert.deepEqual(
        outcomes(events),
        [
          [6, 'error', code],
          [4, 'answer', '192.0.2.1'],
        ],
        label,
      );
      const error = events.find((e) => e.type === 'error');
      assert.ok(error?.type === 'error' && error.message.length > 0 && error.source === 'custom', label);
    }
  });

  test('a thenable that calls back twice, or throws after calling back: one outcome per family', async () => {
    const twice = (first: string, second: string) => ({
      // biome-ignore lint/suspicious/noThenProperty: a thenable that misbehaves is the point of this case
      then(ok: (v: unknown) => void, fail: (e: unknown) => void) {
        ok([first]);
        ok([second]);
        fail(new Error('late'));
        throw new Error('after the answer');
      },
    });
    const fn = ((_n: string, family: Family) =>
      family === 4
        ? twice('192.0.2.1', '192.0.2.2')
        : twice('2001:db8::1', '2001:db8::2')) as unknown as ResolveFunction;
    const { events } = start(fn);
    await nextTurn();
    assert.deepEqual(outcomes(events), [
      [6, 'answer', '2001:db8::1'],
      [4, 'answer', '192.0.2.1'],
    ]);
  });

  test('the context: an own enumerable signal, one for both families, aborted on cancel', async () => {
    const contexts: Array<{ signal: AbortSignal }> = [];
    const seen: AbortSignal[] = [];
    const fn: ResolveFunction = (_n, family, context) => {
      contexts.push(context);
      if (family === 6) seen.push(context.signal);
      return new Promise(() => {});
    };
    const { resolution } = start(fn);
    await nextTurn();
    assert.equal(contexts.length, 2);
    assert.deepEqual(Object.keys(contexts[0]!), ['signal'], 'as the object literal it replaces');
    const spread = { ...contexts[1]! };
    assert.ok(spread.signal instanceof AbortSignal, 'a spread context carries the signal');
    assert.equal(contexts[1]!.signal, seen[0], 'the same signal for both families');
    assert.equal(seen[0]!.aborted, false);
    resolution.cancel();
    assert.equal(seen[0]!.aborted, true, 'aborted when the resolution is cancelled');
  });

  test('cancelled before the answers: nothing more is passed on, and a signal read late is already aborted', async () => {
    const answer: Array<() => void> = [];
    const contexts: Array<{ signal: AbortSignal }> = [];
    const fn: ResolveFunction = (_n, family, context) => {
      contexts.push(context);
      return new Promise((resolve, reject) => {
        answer.push(() => (family === 4 ? resolve(['192.0.2.1']) : reject(new Error('late'))));
      });
    };
    const { events, resolution } = start(fn);
    await nextTurn();
    const before = events.length;
    resolution.cancel();
    for (const a of answer) a();
    await nextTurn();
    assert.equal(events.length, before, 'no late answer or error');
    assert.equal(answer.length, 2);
    assert.equal(contexts[0]!.signal.aborted, true, 'first read after the cancel: already aborted');
  });
});
