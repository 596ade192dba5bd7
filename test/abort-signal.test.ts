/**
 * One AbortSignal shared by many dials (an application's shutdown signal, a request's): the signal carries
 * ONE 'abort' listener while any dial or resolution waits on it, however many there are and whichever
 * Dialer runs them (race/abort-watch.ts) — no MaxListenersExceededWarning past 10 — its abort ends every
 * one of them at once, and nothing is left on the signal when they are over, whichever way they end.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import net from 'node:net';
import { describe, test } from 'node:test';
import { Dialer, isAbortError, isDialError } from '../src/index.js';
import { startBlackhole } from './support/blackhole.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { closeServer, closeSocket, listen, trackConnections } from './support/servers.js';

/** Dials sharing one signal in each test (the names say 50). */
const DIALS = 50;

/** Node's warnings while `run` runs (and a few turns after: warnings are emitted on a later tick). */
async function warningsDuring<T>(run: () => Promise<T>): Promise<{ value: T; warnings: Error[] }> {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    const value = await run();
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    return { value, warnings };
  } finally {
    process.off('warning', onWarning);
  }
}

/** `promise`, or a failure naming `what` when it is not settled within `ms` (its timer then cleared). */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

/** Every outcome of `dials`, settled (none throws). */
function settle<T>(dials: Promise<T>[]): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(dials);
}

describe('one AbortSignal shared by many dials', () => {
  test('50 dials that connect: one listener while in flight, none after, no warning', async (t) => {
    const server = trackConnections(net.createServer((s) => s.resume()));
    const port = await listen(server, '127.0.0.1');
    t.after(() => closeServer(server));
    const dialer = new Dialer({ hostsPath: null, resolver: 'dns', nameservers: ['127.0.0.1:1'] });
    const controller = new AbortController();
    const { signal } = controller;
    const sockets: net.Socket[] = [];
    t.after(() => Promise.all(sockets.map((s) => closeSocket(s))));
    const { value: outcomes, warnings } = await warningsDuring(async () => {
      const dials = Array.from({ length: DIALS }, () => dialer.dial({ host: '127.0.0.1', port }, { signal }));
      assert.equal(abortListeners(signal), 1, 'listeners on the signal while the dials run');
      return settle(dials);
    });
    for (const o of outcomes) if (o.status === 'fulfilled') sockets.push(o.value);
    assert.equal(sockets.length, DIALS, String(outcomes.find((o) => o.status === 'rejected')?.reason));
    assert.equal(abortListeners(signal), 0, 'listeners left on the signal');
    assert.deepEqual(
      warnings.map((w) => `${w.name}: ${w.message}`),
      [],
    );
    // An abort after they connected changes nothing for the callers' sockets.
    controller.abort();
    assert.ok(sockets.every((s) => !s.destroyed));
  });

  test('50 dials that fail: one listener while in flight, none after', async () => {
    // A port nothing listens on: every dial fails with ECONNREFUSED.
    const closed = net.createServer();
    const port = await listen(closed, '127.0.0.1');
    await closeServer(closed);
    const dialer = new Dialer({ memory: false });
    const { signal } = new AbortController();
    const { value: outcomes, warnings } = await warningsDuring(async () => {
      const dials = Array.from({ length: DIALS }, () => dialer.dial({ host: '127.0.0.1', port }, { signal }));
      assert.equal(abortListeners(signal), 1);
      return settle(dials);
    });
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      assert.ok(isDialError(o.reason), String(o.reason));
      assert.equal(o.reason.code, 'ECONNREFUSED');
    }
    assert.equal(abortListeners(signal), 0);
    assert.deepEqual(warnings, []);
  });

  test('abort ends all 50 dials at once with AbortError, across two Dialers and resolve(); nothing left', async (t) => {
    const hole = await startBlackhole({ hosts: ['127.0.0.2'] });
    t.after(() => hole.close());
    const baseline = activeResources();
    const connecting = new Dialer({ memory: false });
    // The other Dialer's dials wait in DNS: a resolver function that never answers.
    const waiting = new Dialer({ resolver: () => new Promise<never>(() => {}) });
    const controller = new AbortController();
    const { signal } = controller;
    const { value: outcomes, warnings } = await warningsDuring(async () => {
      const all: Promise<unknown>[] = [];
      for (let i = 0; i < DIALS; i++) {
        all.push(
          i % 2 === 0
            ? connecting.dial({ host: '127.0.0.2', port: hole.port }, { signal, timeout: 60_000 })
            : waiting.dial({ host: 'never.example', port: 80 }, { signal, timeout: 60_000 }),
        );
      }
      for (let i = 0; i < 5; i++) all.push(waiting.resolve('never.example', { signal, timeout: 60_000 }));
      assert.equal(abortListeners(signal), 1, 'one listener for every dial and resolution of both Dialers');
      // Let the attempts' sockets open (they are dropped by the blackhole, never connected).
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(abortListeners(signal), 1);
      controller.abort(new Error('shutting down'));
      assert.equal(abortListeners(signal), 0, 'the listener went with the abort');
      // At once: every one was told (generous bound; their own timeouts are a minute away).
      return within(5000, settle(all), 'dials still running after the abort');
    });
    assert.equal(outcomes.length, DIALS + 5);
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      assert.ok(isAbortError(o.reason), String(o.reason));
      assert.equal((o.reason as Error).name, 'AbortError');
    }
    assert.deepEqual(warnings, []);
    // No attempt socket, timer or DNS request of theirs outlives the abort.
    await assertNoLeaks(baseline, `${DIALS} aborted dials`);
  });

  test('a signal already aborted: every dial rejects at once, no listener is ever added', async () => {
    const controller = new AbortController();
    controller.abort();
    const { signal } = controller;
    const dialer = new Dialer({ memory: false });
    const dials = Array.from({ length: 20 }, () => dialer.dial({ host: '127.0.0.1', port: 1 }, { signal }));
    const resolved = dialer.resolve('127.0.0.1', { signal });
    assert.equal(abortListeners(signal), 0);
    for (const o of await settle<unknown>([...dials, resolved])) {
      assert.equal(o.status, 'rejected');
      assert.ok(isAbortError(o.reason), String(o.reason));
    }
    assert.equal(abortListeners(signal), 0);
  });

  test('dials that end leave the signal to those still running; a later dial adds no second listener', async (t) => {
    const hole = await startBlackhole({ hosts: ['127.0.0.2'] });
    t.after(() => hole.close());
    const server = trackConnections(net.createServer((s) => s.resume()));
    const port = await listen(server, '127.0.0.1');
    t.after(() => closeServer(server));
    const dialer = new Dialer({ memory: false });
    const controller = new AbortController();
    const { signal } = controller;
    const pending = dialer.dial({ host: '127.0.0.2', port: hole.port }, { signal, timeout: 60_000 });
    const quick = await dialer.dial({ host: '127.0.0.1', port }, { signal });
    t.after(() => closeSocket(quick));
    // The quick dial is over; the pending one still hears the signal through the one listener.
    assert.equal(abortListeners(signal), 1);
    const again = await dialer.dial({ host: '127.0.0.1', port }, { signal });
    t.after(() => closeSocket(again));
    assert.equal(abortListeners(signal), 1);
    controller.abort();
    await assert.rejects(pending, (e: unknown) => isAbortError(e));
    assert.equal(abortListeners(signal), 0);
  });
});
