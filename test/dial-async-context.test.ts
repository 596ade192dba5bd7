/**
 * The Dialer's one timer (src/race/wakeups.ts) fires in the async context of whichever dial armed it; a
 * dial woken by it must still run in its own caller's context (AsyncLocalStorage, async_hooks), as it did
 * with a timer of its own: the attempts a wake-up starts — and the sockets handed over — belong to it.
 */
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn } from 'node:child_process';
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

test("the Dialer's idle timer keeps no caller's async context alive once its dial is over", async () => {
  // A request's AsyncLocalStorage store must be collectable when its dial is done, not held by the shared
  // timer until the dial's deadline (60 s here) — as with net.connect, whose socket is the only holder.
  const script = `
    import net from 'node:net';
    import { AsyncLocalStorage } from 'node:async_hooks';
    const { Dialer } = await import(${JSON.stringify(new URL('../src/index.js', import.meta.url).href)});
    const server = net.createServer((s) => s.resume());
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const dialer = new Dialer({ memory: false, timeout: 60_000 });
    const als = new AsyncLocalStorage();
    let ref;
    await (async () => {
      const store = { request: new Array(1000).fill('x') };
      ref = new WeakRef(store);
      const socket = await als.run(store, () => dialer.dial({ host: '127.0.0.1', port: server.address().port }));
      socket.destroy();
    })();
    for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
      await new Promise((r) => setTimeout(r, 20));
      globalThis.gc();
    }
    console.log(ref.deref() === undefined ? 'collected' : 'retained');
    server.close();
    process.exit(0);`;
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  try {
    const code = await new Promise((resolve) => child.once('exit', (c, signal) => resolve(c ?? signal)));
    assert.equal(code, 0);
    assert.equal(out.trim(), 'collected');
  } finally {
    clearTimeout(killer);
  }
});
