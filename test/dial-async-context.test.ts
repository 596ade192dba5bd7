/**
 * The Dialer's one timer (src/race/wakeups.ts) fires in the async context of whichever dial armed it; a
 * dial woken by it must still run in its own caller's context (AsyncLocalStorage, async_hooks), as it did
 * with a timer of its own: the attempts a wake-up starts — and the sockets handed over — belong to it.
 */
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import net from 'node:net';
import { test } from 'node:test';
import { Dialer, type ResolveFunction, subscribeDiagnostics } from '../src/index.js';
import { startBlackhole } from './support/blackhole.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { closeServer, closeSocket, listen, trackConnections } from './support/servers.js';

test('a dial woken by the shared timer runs in its own async context, not the one that armed the timer', async (t) => {
  // 127.0.0.2 blackholed, 127.0.0.1 listening, one port: each dial's second attempt starts on its delay.
  const good = trackConnections(net.createServer((s) => s.resume()));
  const port = await listen(good, '127.0.0.1');
  t.after(() => closeServer(good));
  const hole = await startBlackhole({ hosts: ['127.0.0.2'], port });
  t.after(() => hole.close());
  const resolver: ResolveFunction = async () => ['127.0.0.2', '127.0.0.1'];
  const dialer = new Dialer({ resolver, memory: false, family: 4, attemptDelay: 200 });
  const als = new AsyncLocalStorage<string>();
  const seen: string[] = [];
  const unsubscribe = subscribeDiagnostics('netdial:attempt:start', (e) => {
    seen.push(`${e.host} ${e.address} ${als.getStore() ?? 'none'}`);
  });
  const baseline = activeResources();
  let sockets: net.Socket[] = [];
  try {
    // B arms the timer for its own attempt delay first; A's comes later and rides on it: the timer
    // fires in B's context and is armed again from there for A.
    const b = als.run('B', () => dialer.dial(`b.test:${port}`));
    await new Promise((r) => setTimeout(r, 30));
    const a = als.run('A', () => dialer.dial(`a.test:${port}`));
    sockets = await Promise.all([a, b]);
  } finally {
    unsubscribe();
    await Promise.all(sockets.map((s) => closeSocket(s)));
  }
  assert.deepEqual(seen.sort(), [
    'a.test 127.0.0.1 A',
    'a.test 127.0.0.2 A',
    'b.test 127.0.0.1 B',
    'b.test 127.0.0.2 B',
  ]);
  await assertNoLeaks(baseline);
});
