/**
 * diagnostics_channel: the channel names, `publish` building nothing without a subscriber, typed
 * `subscribe`, and — once dial-session.ts publishes — the documented event sequence of one real dial on
 * loopback (a refused ::1, then 127.0.0.1) and of a failed one.
 */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  CHANNELS,
  type ChannelName,
  type ChannelPayloads,
  hasSubscribers,
  nextDialId,
  publish,
  subscribe,
} from '../src/diagnostics.js';
import { Dialer, isAbortError, type ResolveFunction } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';

const loopback: ResolveFunction = async (_name, family) => (family === 6 ? ['::1'] : ['127.0.0.1']);

const attemptStart = (): ChannelPayloads['netdial:attempt:start'] => ({
  dialId: 1,
  host: 'app.test',
  port: 80,
  atMs: 1,
  attemptId: 0,
  address: '::1',
  family: 6,
  trigger: 'first',
});

describe('diagnostics channels', () => {
  test('the channel names are exactly the documented ones', () => {
    assert.deepEqual(Object.values(CHANNELS), [
      'netdial:dial:start',
      'netdial:dns:query',
      'netdial:dns:answer',
      'netdial:dns:error',
      'netdial:attempt:start',
      'netdial:attempt:error',
      'netdial:attempt:connect',
      'netdial:dial:done',
      'netdial:dial:error',
      'netdial:policy:denied',
      'netdial:memory:sync',
      'netdial:memory:drop',
      'netdial:memory:error',
    ]);
  });

  test('without a subscriber nothing is published and the payload is never built', () => {
    let built = 0;
    for (const name of Object.values(CHANNELS)) {
      assert.equal(hasSubscribers(name), false);
      const published = publish(name, () => {
        built++;
        return {} as ChannelPayloads[typeof name];
      });
      assert.equal(published, false);
    }
    assert.equal(built, 0);
    assert.equal(hasSubscribers(), false);
  });

  test('with a subscriber the payload is built once and delivered; unsubscribe stops it', () => {
    const got: unknown[] = [];
    const unsubscribe = subscribe('netdial:attempt:start', (p) => got.push(p.address));
    assert.equal(hasSubscribers('netdial:attempt:start'), true);
    assert.equal(hasSubscribers('netdial:attempt:error'), false);
    assert.equal(hasSubscribers(), true);
    let built = 0;
    assert.equal(
      publish('netdial:attempt:start', () => {
        built++;
        return attemptStart();
      }),
      true,
    );
    unsubscribe();
    unsubscribe();
    assert.equal(publish('netdial:attempt:start', attemptStart), false);
    assert.deepEqual(got, ['::1']);
    assert.equal(built, 1);
  });

  test('a plain diagnostics_channel.subscribe by name sees the same messages', () => {
    const got: unknown[] = [];
    const listener = (m: unknown) => got.push(m);
    diagnosticsChannel.subscribe('netdial:attempt:start', listener);
    try {
      publish('netdial:attempt:start', attemptStart);
    } finally {
      diagnosticsChannel.unsubscribe('netdial:attempt:start', listener);
    }
    assert.deepEqual(got, [attemptStart()]);
  });

  test('an unknown channel name is a TypeError with a stable code', () => {
    assert.throws(() => publish('netdial:nope' as ChannelName, () => ({}) as never), {
      code: 'ERR_NETDIAL_INVALID_OPTION',
    });
  });

  test('dial ids are distinct and increasing', () => {
    const a = nextDialId();
    const b = nextDialId();
    assert.ok(b > a);
  });
});

/** Everything published on every netdial channel while `fn` runs, as [channel, payload]. */
async function record(fn: () => Promise<unknown>): Promise<Array<[ChannelName, Record<string, unknown>]>> {
  const events: Array<[ChannelName, Record<string, unknown>]> = [];
  const offs = Object.values(CHANNELS).map((name) =>
    subscribe(name, (p) => events.push([name, p as unknown as Record<string, unknown>])),
  );
  try {
    await fn();
  } catch {
    // the caller asserts on dial:error
  } finally {
    for (const off of offs) off();
  }
  return events;
}

describe('diagnostics of one real dial', () => {
  const server = net.createServer((s) => s.on('error', () => {}).end());
  let port = 0;

  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    server.close();
    await once(server, 'close');
  });

  test('a successful dial publishes the documented sequence', async () => {
    const dialer = new Dialer({ resolver: loopback, memory: false });
    let socket: net.Socket | undefined;
    const events = await record(async () => {
      socket = await dialer.dial({ host: 'app.test', port });
    });
    socket?.destroy();
    const names = events.map(([n]) => n);
    assert.equal(names[0], 'netdial:dial:start');
    assert.equal(names.at(-1), 'netdial:dial:done');
    const ids = new Set(events.map(([, p]) => p.dialId));
    assert.equal(ids.size, 1, 'one dialId for the whole dial');
    assert.deepEqual(
      events
        .filter(([n]) => n === 'netdial:dns:query')
        .map(([, p]) => p.type)
        .sort(),
      ['A', 'AAAA'],
    );
    assert.deepEqual(
      events
        .filter(([n]) => n === 'netdial:dns:answer')
        .map(([, p]) => [p.type, p.source])
        .sort(),
      [
        ['A', 'custom'],
        ['AAAA', 'custom'],
      ],
    );
    const attempts = events.filter(([n]) => n.startsWith('netdial:attempt:'));
    assert.deepEqual(
      attempts.map(([n, p]) => [n, p.address, p.attemptId]),
      [
        ['netdial:attempt:start', '::1', 0],
        ['netdial:attempt:error', '::1', 0],
        ['netdial:attempt:start', '127.0.0.1', 1],
        ['netdial:attempt:connect', '127.0.0.1', 1],
      ],
    );
    assert.equal(attempts[1]?.[1].code, 'ECONNREFUSED');
    assert.equal(attempts[1]?.[1].outcome, 'failed');
    assert.equal(attempts[2]?.[1].trigger, 'failure');
    // Each query precedes its answer; times never go backwards.
    for (const type of ['A', 'AAAA']) {
      const q = names.findIndex((n, i) => n === 'netdial:dns:query' && events[i]?.[1].type === type);
      const a = names.findIndex((n, i) => n === 'netdial:dns:answer' && events[i]?.[1].type === type);
      assert.ok(q !== -1 && q < a, `${type}: query before answer`);
    }
    const times = events.map(([, p]) => p.atMs as number);
    assert.deepEqual(
      times,
      [...times].sort((x, y) => x - y),
    );
    const done = events.at(-1)?.[1];
    assert.equal(done?.socket, socket);
    assert.equal(done?.address, '127.0.0.1');
  });

  test('a failed dial ends with dial:error carrying the DialError', async () => {
    const dialer = new Dialer({ resolver: loopback, memory: false });
    const dead = net.createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const deadPort = (dead.address() as net.AddressInfo).port;
    dead.close();
    await once(dead, 'close');
    const events = await record(() => dialer.dial({ host: 'app.test', port: deadPort }));
    const last = events.at(-1);
    assert.equal(last?.[0], 'netdial:dial:error');
    assert.equal(last?.[1].code, 'ECONNREFUSED');
    assert.equal((last?.[1].error as Error | undefined)?.name, 'DialError');
    assert.equal(events.filter(([n]) => n === 'netdial:attempt:error').length, 2);
  });

  test('a subscriber that aborts the dial from attempt:start leaves no socket behind', async () => {
    const dialer = new Dialer({ resolver: loopback, memory: false });
    let accepted = 0;
    const counting = net.createServer((s) => {
      accepted++;
      s.on('error', () => {});
      s.destroy();
    });
    counting.listen(0, '127.0.0.1');
    await once(counting, 'listening');
    const countingPort = (counting.address() as net.AddressInfo).port;
    const baseline = activeResources();
    const controller = new AbortController();
    const seen: string[] = [];
    const offStart = subscribe('netdial:attempt:start', (p) => {
      seen.push(`start ${p.address}`);
      controller.abort(new Error('seen enough'));
    });
    const offError = subscribe('netdial:attempt:error', (p) => seen.push(`error ${p.address} ${p.outcome}`));
    try {
      await assert.rejects(
        dialer.dial({ host: '127.0.0.1', port: countingPort }, { signal: controller.signal }),
        (e: unknown) => isAbortError(e),
      );
      // The attempt's socket existed when the subscriber aborted: it was destroyed and reported, never
      // connected, and nothing of it is left.
      assert.deepEqual(seen, ['start 127.0.0.1', 'error 127.0.0.1 aborted']);
      await assertNoLeaks(baseline, 'abort from attempt:start');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(accepted, 0, 'the aborted attempt never reached the server');
    } finally {
      offStart();
      offError();
      counting.close();
      await once(counting, 'close');
    }
  });
});
