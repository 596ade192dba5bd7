/**
 * Resource bounds: the Dialer-wide cap on attempts in flight, the cap on addresses per name, and a
 * process out of file descriptors (EMFILE) getting a clear error for that dial and recovering after.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AttemptSlots } from '../src/race/attempt-slots.js';
import {
  Dialer,
  type DialError,
  isDialError,
  type ResolveFunction,
  subscribeDiagnostics,
} from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { closeServer, trackConnections } from './support/servers.js';
import { skipWithoutCommand } from './support/prerequisite.js';

describe('AttemptSlots', () => {
  test('runs at once while slots are free, queues beyond, starts the next on release, lets a waiter withdraw', () => {
    const slots = new AttemptSlots(2);
    const started: string[] = [];
    assert.equal(
      slots.acquire(() => started.push('a')),
      undefined,
    );
    slots.acquire(() => started.push('b'));
    const withdrawC = slots.acquire(() => started.push('c'));
    slots.acquire(() => started.push('d'));
    assert.deepEqual(started, ['a', 'b']);
    assert.equal(slots.waiting, 2);
    withdrawC?.();
    slots.release();
    assert.deepEqual(started, ['a', 'b', 'd']);
    assert.equal(slots.inUse, 2);
    slots.release();
    slots.release();
    assert.equal(slots.inUse, 0);
  });
});

describe('AttemptSlots.tryAcquire', () => {
  test('takes a free slot without a callback, and none at the limit (those in line keep their turn)', () => {
    const slots = new AttemptSlots(2);
    assert.equal(slots.tryAcquire(), true);
    assert.equal(slots.tryAcquire(), true);
    assert.equal(slots.tryAcquire(), false, 'at the limit');
    assert.equal(slots.inUse, 2);
    const started: string[] = [];
    slots.acquire(() => started.push('waiter'));
    slots.release();
    assert.deepEqual(started, ['waiter'], 'a released slot goes to the one in line');
    assert.equal(slots.tryAcquire(), false, 'still full: the waiter took it');
    slots.release();
    assert.equal(slots.tryAcquire(), true);
    assert.equal(slots.inUse, 2);
  });
});

describe('bounds on loopback', () => {
  const server = trackConnections(net.createServer((s) => s.resume()));
  let port = 0;
  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => closeServer(server));

  test('40 concurrent dials through a Dialer allowing 2 attempts in flight all connect', async () => {
    const baseline = activeResources();
    const resolver: ResolveFunction = async (_n, family) => (family === 4 ? ['127.0.0.1'] : []);
    const dialer = new Dialer({ resolver, maxAttemptsInFlight: 2 });
    // Sockets connecting at once, as the dials open them (attempt:start) and they end (connect or error).
    let open = 0;
    let most = 0;
    const unsubscribe = [
      subscribeDiagnostics('netdial:attempt:start', () => {
        open++;
        most = Math.max(most, open);
      }),
      subscribeDiagnostics('netdial:attempt:connect', () => open--),
      subscribeDiagnostics('netdial:attempt:error', () => open--),
    ];
    let sockets: net.Socket[];
    try {
      sockets = await Promise.all(Array.from({ length: 40 }, () => dialer.dial(`cap.test:${port}`)));
    } finally {
      for (const u of unsubscribe) u();
    }
    assert.equal(sockets.length, 40);
    assert.equal(most, 2, 'attempts in flight at most');
    for (const s of sockets) s.destroy();
    await assertNoLeaks(baseline);
  });

  test('a name with 300 addresses: at most maxAddresses are tried', async () => {
    const many = Array.from({ length: 300 }, (_, i) => `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`);
    const resolver: ResolveFunction = async (_n, family) => (family === 4 ? many : []);
    const dead = port + 1 === 65536 ? port - 1 : port + 1; // nothing listens there on 127.1.x.x
    const dialer = new Dialer({ resolver, memory: false, maxAddresses: 5, attemptDelay: 10 });
    const err = (await dialer.dial(`many.test:${dead}`).catch((e: unknown) => e)) as DialError;
    assert.ok(isDialError(err));
    assert.equal(err.attempts.filter((a) => a.phase === 'tcp').length, 5);
    const resolved = await new Dialer({ resolver, memory: false }).resolve('many.test');
    assert.equal(resolved.addresses.length, 64, 'the default cap');
  });
});

describe('out of file descriptors', () => {
  const prlimitSkip = skipWithoutCommand('prlimit', 'util-linux');
  test('EMFILE fails that dial with a clear error; the process keeps working', {
    skip: prlimitSkip,
  }, () => {
    const script = fileURLToPath(new URL('./support/emfile-child.js', import.meta.url));
    const out = execFileSync('prlimit', ['--nofile=64:64', process.execPath, script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as {
      starved: { code: string; message: string };
      recovered: boolean;
    };
    assert.equal(result.starved.code, 'EMFILE');
    assert.match(result.starved.message, /EMFILE/);
    assert.equal(result.recovered, true);
  });
});
