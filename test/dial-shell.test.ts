/**
 * The dial shell (src/race/dial-session.ts) with real sockets on loopback, no root needed: what the race
 * decides must also happen to the sockets. Loopback addresses play the lab's conditions: a listener whose
 * accept queue is full drops SYNs (blackholed; "slow but alive" when it starts accepting later, since the
 * client's SYN is retransmitted after 1 s), a port nobody listens on refuses, a listener is good.
 *
 * - Attempts keep running (RFC 8305 §5): starting the next attempt does not end the earlier one.
 * - After a failure the next attempt starts at once, while another attempt is still running.
 * - Attempts that time out are listed in the DialError.
 * - The losing attempts' sockets are closed (the kernel has none left).
 * - One deadline covers resolution, the attempts and TLS.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { Dialer, type DialerOptions, getReport, type ResolveFunction } from '../src/index.js';
import { startBlackhole } from './support/blackhole.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { closeServer, closeSocket, kernelSocketsTo, listen, trackConnections } from './support/servers.js';
import { failure } from './support/dial-failure.js';

/** IPv4 answers only, in this order; never asks real DNS. */
const fixedV4 =
  (addresses: string[]): ResolveFunction =>
  async (_name, family) =>
    family === 4 ? addresses : [];

/** An IPv4-only Dialer without memory (DNS order kept, no shuffle). */
function fresh(addresses: string[], options: DialerOptions = {}): Dialer {
  return new Dialer({ memory: false, family: 4, resolver: fixedV4(addresses), ...options });
}

/** Waits (bounded) until the kernel lists no socket of any state towards `host:port` but those allowed. */
async function kernelForgets(host: string, port: number): Promise<string[]> {
  let left: string[] = [];
  for (let i = 0; i < 100; i++) {
    left = kernelSocketsTo(host, port).filter((s) => s === 'SYN_SENT');
    if (left.length === 0) return left;
    await new Promise((r) => setTimeout(r, 10));
  }
  return left;
}

describe('the dial shell on loopback', () => {
  test('attempts keep running: a slow-but-alive first address still wins over a dead second one (RFC 8305 §5)', async (t) => {
    // 127.0.0.2 answers the first SYN retransmission (~1 s); 127.0.0.3 never answers.
    const slow = await startBlackhole({ hosts: ['127.0.0.2'] });
    t.after(() => slow.close());
    const dead = await startBlackhole({ hosts: ['127.0.0.3'], port: slow.port });
    t.after(() => dead.close());
    const baseline = activeResources();
    const started = performance.now();
    const dialing = fresh(['127.0.0.2', '127.0.0.3'], { attemptDelay: 250, timeout: 6000 }).dial(
      `slow-then-dead.test:${slow.port}`,
    );
    // After the second attempt began, before the first one's SYN is retransmitted (1 s).
    const opening = setTimeout(() => slow.open(), 400);
    t.after(() => clearTimeout(opening));
    const socket = await dialing;
    const ms = performance.now() - started;
    t.after(() => closeSocket(socket));
    const report = getReport(socket)!;
    assert.deepEqual(
      report.attempts.map((a) => [a.address, a.outcome, a.trigger]),
      [
        ['127.0.0.2', 'connected', 'first'],
        ['127.0.0.3', 'cancelled', 'delay'],
      ],
    );
    // The first attempt began before the second and ran past its start: it was never stopped.
    assert.ok(report.attempts[1]!.startMs >= 240, `second attempt at ${report.attempts[1]!.startMs} ms`);
    assert.ok(report.winner!.connectMs > report.attempts[1]!.startMs + 300);
    assert.ok(ms < 3000, `took ${ms} ms (SYN retransmitted after 1 s; the timeout is 6 s)`);
    assert.deepEqual(await kernelForgets('127.0.0.3', dead.port), [], 'the dead attempt is closed');
    await closeSocket(socket);
    await assertNoLeaks(baseline);
  });

  test('a failure starts the next attempt at once while the earlier attempt keeps running', async (t) => {
    // 127.0.0.2 blackholed (runs all along), 127.0.0.3 refuses, 127.0.0.1 listens.
    // The good server first: its port is then free on 127.0.0.2, which hardly anything else binds.
    const good = trackConnections(net.createServer((s) => s.resume()));
    const goodPort = await listen(good, '127.0.0.1');
    t.after(() => closeServer(good));
    const hole = await startBlackhole({ hosts: ['127.0.0.2'], port: goodPort });
    t.after(() => hole.close());
    const attemptDelay = 400;
    const socket = await fresh(['127.0.0.2', '127.0.0.3', '127.0.0.1'], { attemptDelay }).dial(
      `mixed.test:${hole.port}`,
    );
    t.after(() => closeSocket(socket));
    const [first, refused, winner] = getReport(socket)!.attempts;
    assert.deepEqual(
      [first, refused, winner].map((a) => [a?.address, a?.outcome, a?.trigger]),
      [
        ['127.0.0.2', 'cancelled', 'first'],
        ['127.0.0.3', 'failed', 'delay'],
        ['127.0.0.1', 'connected', 'failure'],
      ],
    );
    assert.equal(refused!.code, 'ECONNREFUSED');
    // At once after the refusal, not one attempt delay later; the first attempt was still running then.
    assert.ok(
      winner!.startMs - refused!.endMs! < 100,
      `refused at ${refused!.endMs} ms, next at ${winner!.startMs} ms`,
    );
    assert.ok(winner!.startMs < refused!.startMs + attemptDelay / 2);
    assert.ok(first!.endMs! >= winner!.endMs!, 'the first attempt ran until the race was won');
  });

  test('a dial that times out lists every timed-out attempt in its DialError', async (t) => {
    const hole = await startBlackhole({ hosts: ['127.0.0.2', '127.0.0.3'] });
    t.after(() => hole.close());
    const baseline = activeResources();
    const timeout = 1000;
    const err = await failure(
      fresh(['127.0.0.2', '127.0.0.3'], { attemptDelay: 250, timeout }).dial(`dead.test:${hole.port}`),
    );
    assert.equal(err.code, 'ETIMEDOUT');
    assert.deepEqual(
      err.attempts.map((a) => [a.address, a.phase, a.code]),
      [
        ['127.0.0.2', 'tcp', 'ETIMEDOUT'],
        ['127.0.0.3', 'tcp', 'ETIMEDOUT'],
      ],
    );
    for (const a of err.attempts) {
      assert.match(a.message, /no answer within the 1\.0 s timeout/);
      // Each ran until the deadline.
      assert.ok(Math.abs(a.startMs + a.durationMs - err.elapsedMs) < 50, JSON.stringify(a));
    }
    assert.match(err.message, /timed out after 1\.\d s: 127\.0\.0\.2 ETIMEDOUT; 127\.0\.0\.3 ETIMEDOUT$/);
    assert.ok(err.elapsedMs >= timeout - 5 && err.elapsedMs < timeout + 1000, `${err.elapsedMs} ms`);
    assert.deepEqual(await kernelForgets('127.0.0.2', hole.port), []);
    assert.deepEqual(await kernelForgets('127.0.0.3', hole.port), []);
    await assertNoLeaks(baseline);
  });

  test("the losing attempt's socket is closed when another wins", async (t) => {
    // The good server first: its port is then free on 127.0.0.2, which hardly anything else binds.
    const good = trackConnections(net.createServer((s) => s.resume()));
    const goodPort = await listen(good, '127.0.0.1');
    t.after(() => closeServer(good));
    const hole = await startBlackhole({ hosts: ['127.0.0.2'], port: goodPort });
    t.after(() => hole.close());
    const baseline = activeResources();
    const socket = await fresh(['127.0.0.2', '127.0.0.1'], { attemptDelay: 100 }).dial(
      `loser.test:${hole.port}`,
    );
    t.after(() => closeSocket(socket));
    assert.deepEqual(
      getReport(socket)!.attempts.map((a) => [a.address, a.outcome]),
      [
        ['127.0.0.2', 'cancelled'],
        ['127.0.0.1', 'connected'],
      ],
    );
    // Right after the win, before the caller does anything: the loser's connect is gone from the kernel.
    assert.deepEqual(
      kernelSocketsTo('127.0.0.2', hole.port).filter((s) => s === 'SYN_SENT'),
      [],
    );
    await closeSocket(socket);
    await assertNoLeaks(baseline);
  });
});

describe('one deadline for the whole dial', () => {
  test('resolution takes most of the deadline and the TLS server never answers: the dial fails at the deadline', async (t) => {
    // Accepts TCP, reads the ClientHello and never answers it.
    const mute = trackConnections(net.createServer((s) => s.resume()));
    const port = await listen(mute, '127.0.0.1');
    t.after(() => closeServer(mute));
    const timeout = 1500;
    const resolveMs = 1000;
    const lateResolver: ResolveFunction = (_name, family, { signal }) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve(family === 4 ? ['127.0.0.1'] : []), resolveMs);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(new Error('cancelled'));
        });
      });
    const baseline = activeResources();
    const started = performance.now();
    const err = await failure(
      new Dialer({ memory: false, family: 4, resolver: lateResolver }).dial(`late.test:${port}`, {
        tls: true,
        timeout,
      }),
    );
    const ms = performance.now() - started;
    assert.equal(err.code, 'ETIMEDOUT');
    assert.deepEqual(
      err.attempts.map((a) => [a.address, a.phase, a.code]),
      [['127.0.0.1', 'tls', 'ETIMEDOUT']],
    );
    // The handshake had what was left of the one deadline (~500 ms), not a timeout of its own (1500 ms).
    const handshake = err.attempts[0]!;
    assert.ok(handshake.startMs >= resolveMs - 5, `handshake began at ${handshake.startMs} ms`);
    assert.ok(
      handshake.durationMs <= timeout - resolveMs + 500,
      `the handshake was given ${handshake.durationMs} ms`,
    );
    // A handshake with a timeout of its own would end at resolveMs + timeout = 2500 ms.
    assert.ok(err.elapsedMs >= timeout - 5 && err.elapsedMs < timeout + 500, `failed at ${err.elapsedMs} ms`);
    assert.ok(ms < timeout + 700, `failed after ${ms} ms`);
    await assertNoLeaks(baseline);
  });
});
