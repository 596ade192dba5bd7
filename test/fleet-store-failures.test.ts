/**
 * A store's `subscribe` that fails never fails `new Dialer()` (review finding 7): a throw, a rejected
 * promise, a thrown non-Error value are reported on `netdial:memory:error` (operation 'subscribe') and
 * counted in the sync's `stats.errors`; the Dialer then dials with local memory and still publishes
 * through the store. An async `subscribe` whose promise brings the unsubscribe function has it called at
 * close. The stores are small MemoryStore implementations written here (the public seam); the dials are
 * real, to a listener on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Dialer, type MemoryErrorEvent, type MemoryStore, subscribeDiagnostics } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { closeServer, trackConnections } from './support/servers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A store whose `subscribe` is `subscribe`, and which records what is published. */
function storeWith(subscribe: MemoryStore['subscribe']): MemoryStore & { published: unknown[][] } {
  const published: unknown[][] = [];
  return {
    published,
    publish(observations) {
      published.push([...observations]);
    },
    subscribe,
  };
}

describe('a store whose subscribe fails does not fail new Dialer()', () => {
  const server = trackConnections(net.createServer((s) => s.end()));
  let port = 0;
  const errors: MemoryErrorEvent[] = [];
  let unsubscribeDiagnostics: () => void = () => {};
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
    unsubscribeDiagnostics = subscribeDiagnostics('netdial:memory:error', (e) => errors.push(e));
    process.on('unhandledRejection', onUnhandled);
  });
  after(async () => {
    unsubscribeDiagnostics();
    process.off('unhandledRejection', onUnhandled);
    await closeServer(server);
  });

  const CASES: Array<[string, MemoryStore['subscribe'], string]> = [
    [
      'throws an Error',
      () => {
        throw new Error('subscribe exploded');
      },
      'subscribe exploded',
    ],
    ['returns a rejected promise', (() => Promise.reject(new Error('no channel'))) as never, 'no channel'],
    [
      'throws a value that is not an Error',
      () => {
        throw 'plain text';
      },
      'plain text',
    ],
    [
      'throws a value whose text cannot be read',
      () => {
        throw {
          toString() {
            throw new Error('again');
          },
        };
      },
      'the store failed with a value that cannot be shown',
    ],
  ];

  for (const [name, subscribe, message] of CASES) {
    test(`subscribe ${name}: the Dialer is built, dials, publishes; the failure is reported`, async () => {
      const baseline = activeResources();
      errors.length = 0;
      const store = storeWith(subscribe);
      const dialer = new Dialer({
        resolver: async (_n, family) => (family === 4 ? ['127.0.0.1'] : []),
        hostsPath: null,
        memory: { store },
      });
      try {
        const socket = await dialer.dial(`ok.test:${port}`);
        socket.destroy();
        await sleep(50); // a rejected promise settles; nothing unhandled
        const reported = errors.filter((e) => e.operation === 'subscribe');
        assert.equal(reported.length, 1, JSON.stringify(errors.map((e) => e.message)));
        assert.equal(reported[0]!.message, message);
        assert.equal(dialer.memory?.fleet?.stats.errors, 1);
        // Sharing outward still works: the success is published from the coalescing timer.
        for (let i = 0; i < 40 && store.published.length === 0; i++) await sleep(25);
        assert.equal(store.published.length, 1, 'the dial outcome was published');
        assert.deepEqual(unhandled, []);
      } finally {
        dialer.memory?.fleet?.close();
      }
      await assertNoLeaks(baseline, name);
    });
  }

  test('an async subscribe: its unsubscribe function is called at close, also when it arrives after', async () => {
    let unsubscribed = 0;
    const unsubscribe = () => {
      unsubscribed++;
    };
    const resolver = async (_n: string, family: number) => (family === 4 ? ['127.0.0.1'] : []);
    const early = new Dialer({
      resolver,
      memory: { store: storeWith((() => Promise.resolve(unsubscribe)) as never) },
    });
    await sleep(10);
    early.memory?.fleet?.close();
    assert.equal(unsubscribed, 1);
    let deliver: (fn: () => void) => void = () => {};
    const late = new Dialer({
      resolver,
      memory: { store: storeWith((() => new Promise((r) => (deliver = r))) as never) },
    });
    late.memory?.fleet?.close();
    assert.equal(unsubscribed, 1);
    deliver(unsubscribe);
    await sleep(10);
    assert.equal(unsubscribed, 2, 'called when it arrived, the sync being closed');
  });
});
