/**
 * TLS-aware racing on loopback with real sockets and real TLS servers: with `tls`, a connection wins once
 * its handshake is done. Three servers share one port on 127.0.0.2–127.0.0.5: one that accepts TCP and
 * never answers TLS, one that resets during the handshake, one whose certificate is for another name, and
 * a good one. The resolver is a fixed function (no DNS).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import {
  Dialer,
  type DialReport,
  getReport,
  type ResolveFunction,
  subscribeDiagnostics,
} from '../src/index.js';
import { failure } from './support/dial-failure.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import {
  closeServer,
  closeSocket,
  countConnections as counted,
  listen,
  trackConnections,
  until,
} from './support/servers.js';
import { makeSelfSignedCert } from './support/tls-cert.js';

const NAME = 'tls-race.test';
const STALL = '127.0.0.2';
const RESET = '127.0.0.3';
const WRONG = '127.0.0.4';
const GOOD = '127.0.0.5';

const fixed =
  (addresses: string[]): ResolveFunction =>
  async (_name, family) =>
    family === 4 ? addresses : [];

describe('TLS-aware racing (loopback)', () => {
  const good = makeSelfSignedCert(NAME);
  const wrong = makeSelfSignedCert('other-name.test');
  const ca = [good.cert, wrong.cert];
  // Accepts TCP, reads the ClientHello, never answers.
  const stall = trackConnections(net.createServer((s) => s.resume()));
  // Reads the ClientHello, then resets the connection (RST).
  const reset = trackConnections(net.createServer((s) => s.once('data', () => s.resetAndDestroy())));
  const wrongName = trackConnections(
    tls.createServer({ key: wrong.key, cert: wrong.cert }, (s) => s.end('wrong\n')),
  );
  const goodServer = trackConnections(
    tls.createServer({ key: good.key, cert: good.cert, ALPNProtocols: ['http/1.1'] }, (s) => s.end('good\n')),
  );
  const servers = [stall, reset, wrongName, goodServer];
  const counts = servers.map(counted);
  const [stallCount, resetCount, wrongCount, goodCount] = counts as [
    { accepted: number; closed: number },
    { accepted: number; closed: number },
    { accepted: number; closed: number },
    { accepted: number; closed: number },
  ];
  let port = 0;

  before(async () => {
    for (const s of [wrongName, goodServer]) (s as tls.Server).on('tlsClientError', () => {});
    for (let tries = 0; ; tries++) {
      try {
        port = await listen(stall, STALL, 0);
        await listen(reset, RESET, port);
        await listen(wrongName, WRONG, port);
        await listen(goodServer, GOOD, port);
        return;
      } catch (err) {
        for (const s of servers) if (s.listening) await closeServer(s);
        if (tries >= 5) throw err;
      }
    }
  });
  after(async () => {
    for (const s of servers) await closeServer(s);
  });
  const reset0 = (): void => {
    for (const c of counts) c.accepted = c.closed = 0;
  };

  test('an address that stalls in TLS loses to a later good one started one attempt delay after it', async () => {
    reset0();
    const baseline = activeResources();
    const socket = (await new Dialer({ memory: false, resolver: fixed([STALL, GOOD]) }).dial(
      `${NAME}:${port}`,
      { tls: { ca, ALPNProtocols: ['http/1.1'] }, attemptDelay: 150, timeout: 10_000 },
    )) as tls.TLSSocket;
    try {
      assert.ok(socket instanceof tls.TLSSocket);
      const report = getReport(socket) as DialReport;
      const [first, second] = report.attempts;
      assert.equal(report.winner?.address, GOOD);
      assert.equal(first?.address, STALL);
      assert.equal(first?.outcome, 'cancelled');
      assert.ok(first?.tcpMs !== undefined, 'the stalling address connected TCP');
      assert.ok((first?.tlsMs ?? 0) >= 100, `the stalled handshake ran ${first?.tlsMs} ms`);
      // The stagger was not held back by the stalled TCP connection: the next attempt started on the delay.
      assert.equal(second?.trigger, 'delay');
      assert.ok(
        (second?.startMs ?? 0) >= 140 && (second?.startMs ?? 0) < 1000,
        `second attempt at ${second?.startMs} ms`,
      );
      assert.equal(second?.outcome, 'connected');
      assert.ok(second?.tcpMs !== undefined && second.tlsMs !== undefined);
      // Per-attempt times add up: start + TCP + TLS = end.
      assert.ok(Math.abs(second.startMs + second.tcpMs + second.tlsMs - (second.endMs ?? 0)) < 0.01);
      assert.ok(Math.abs((report.winner?.connectMs ?? 0) - (second.startMs + second.tcpMs)) < 0.01);
      assert.equal(report.tls?.startMs, report.winner?.connectMs);
      assert.equal(report.tls?.endMs, second.endMs);
      assert.equal(report.tls?.alpnProtocol, 'http/1.1');
      assert.equal(report.tls?.servername, NAME);
      const [line] = await once(socket.setEncoding('utf8'), 'data');
      assert.equal(line, 'good\n');
    } finally {
      await closeSocket(socket);
    }
    // The loser's TCP connection is closed: nothing of it outlives the dial.
    await until(() => stallCount.closed === stallCount.accepted, 'the stalled connection was closed');
    assert.equal(stallCount.accepted, 1);
    await assertNoLeaks(baseline);
  });

  test('diagnostics: one attempt:connect (after TLS, with tlsMs) or attempt:error per attempt', async () => {
    const events: string[] = [];
    const offs = [
      subscribeDiagnostics('netdial:attempt:start', (e) => events.push(`start ${e.address}`)),
      subscribeDiagnostics('netdial:attempt:connect', (e) =>
        events.push(`connect ${e.address} tls=${typeof e.tlsMs === 'number' && e.tlsMs >= 0}`),
      ),
      subscribeDiagnostics('netdial:attempt:error', (e) => events.push(`error ${e.address} ${e.outcome}`)),
    ];
    try {
      const socket = await new Dialer({ memory: false, resolver: fixed([STALL, RESET, GOOD]) }).dial(
        `${NAME}:${port}`,
        { tls: { ca }, attemptDelay: 100 },
      );
      await closeSocket(socket);
    } finally {
      for (const off of offs) off();
    }
    assert.deepEqual(events, [
      `start ${STALL}`,
      `start ${RESET}`,
      `error ${RESET} failed`,
      `start ${GOOD}`,
      `error ${STALL} cancelled`,
      `connect ${GOOD} tls=true`,
    ]);
  });

  test('memory holds a TLS-stalled loser back like a silent one: the next dial starts elsewhere', async () => {
    // Deterministic memory: DNS order among equals, no exploration of demoted endpoints.
    const memory = { loadSharing: false, exploreProbability: 0 };
    const dialer = new Dialer({ memory, resolver: fixed([STALL, GOOD]) });
    const first = await dialer.dial(`${NAME}:${port}`, { tls: { ca }, attemptDelay: 100 });
    const firstReport = getReport(first) as DialReport;
    await closeSocket(first);
    assert.deepEqual(
      firstReport.attempts.map((a) => [a.address, a.outcome]),
      [
        [STALL, 'cancelled'],
        [GOOD, 'connected'],
      ],
    );
    const entry = dialer.exportMemory()?.endpoints.endpoints.find((e) => e.address === STALL);
    assert.equal(entry?.lastOutcome, 'failure');
    assert.equal(entry?.lastErrorCode, 'ETIMEDOUT');
    const second = await dialer.dial(`${NAME}:${port}`, { tls: { ca }, attemptDelay: 100 });
    const secondReport = getReport(second) as DialReport;
    await closeSocket(second);
    assert.deepEqual(
      secondReport.attempts.map((a) => a.address),
      [GOOD],
    );
    assert.deepEqual(secondReport.decisions.demoted, [STALL]);
  });

  test('a reset during the handshake fails that attempt only: the next starts at once and wins', async () => {
    reset0();
    const baseline = activeResources();
    const socket = (await new Dialer({ memory: false, resolver: fixed([RESET, GOOD]) }).dial(
      `${NAME}:${port}`,
      { tls: { ca }, attemptDelay: 2000 },
    )) as tls.TLSSocket;
    try {
      const report = getReport(socket) as DialReport;
      const [first, second] = report.attempts;
      assert.equal(first?.address, RESET);
      assert.equal(first?.outcome, 'failed');
      assert.equal(first?.code, 'ECONNRESET');
      assert.ok(first?.tcpMs !== undefined && first.tlsMs !== undefined);
      assert.equal(second?.address, GOOD);
      assert.equal(second?.trigger, 'failure');
      assert.ok(
        (second?.startMs ?? 9999) < 1000,
        `started at ${second?.startMs} ms, not after the 2 s delay`,
      );
      assert.equal(report.winner?.address, GOOD);
    } finally {
      await closeSocket(socket);
    }
    await until(() => resetCount.closed === resetCount.accepted, 'reset connections closed');
    await assertNoLeaks(baseline);
  });

  test('memory learns a handshake reset: the next dial tries that address last', async () => {
    const dialer = new Dialer({
      memory: { loadSharing: false, exploreProbability: 0 },
      resolver: fixed([RESET]),
    });
    const err = await failure(dialer.dial(`${NAME}:${port}`, { tls: { ca } }));
    assert.equal(err.code, 'ECONNRESET');
    const entry = dialer.exportMemory()?.endpoints.endpoints.find((e) => e.address === RESET);
    assert.equal(entry?.lastOutcome, 'failure');
    assert.equal(entry?.lastErrorCode, 'ECONNRESET');
    const socket = (await dialer.dial(`${NAME}:${port}`, {
      tls: { ca },
      resolver: fixed([RESET, GOOD]),
    })) as tls.TLSSocket;
    try {
      const report = getReport(socket) as DialReport;
      assert.deepEqual(
        report.attempts.map((a) => a.address),
        [GOOD],
      );
      assert.deepEqual(report.decisions.demoted, [RESET]);
    } finally {
      await closeSocket(socket);
    }
  });

  test('every address resetting: the dial fails with each TLS attempt listed', async () => {
    const err = await failure(
      new Dialer({ memory: false, resolver: fixed([RESET]) }).dial(`${NAME}:${port}`, { tls: { ca } }),
    );
    assert.equal(err.code, 'ECONNRESET');
    assert.deepEqual(
      err.attempts.map((a) => [a.address, a.phase, a.code]),
      [[RESET, 'tls', 'ECONNRESET']],
    );
  });

  test('a certificate for the wrong name is final: no further address is tried', async () => {
    reset0();
    const baseline = activeResources();
    const err = await failure(
      new Dialer({ memory: false, resolver: fixed([WRONG, GOOD]) }).dial(`${NAME}:${port}`, {
        tls: { ca },
        attemptDelay: 2000,
      }),
    );
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.deepEqual(
      err.attempts.map((a) => [a.address, a.phase, a.code]),
      [[WRONG, 'tls', 'ERR_TLS_CERT_ALTNAME_INVALID']],
    );
    assert.match(err.message, /TLS handshake with 127\.0\.0\.4: .*\(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    assert.equal(goodCount.accepted, 0, 'the good address was never contacted');
    await until(() => wrongCount.closed === wrongCount.accepted, 'the connection was closed');
    await assertNoLeaks(baseline);
  });

  test('a certificate error cancels the attempts still in flight at once', async () => {
    reset0();
    const baseline = activeResources();
    // The stalling address first: its TCP connects, its handshake hangs; after 100 ms the wrong-name one starts.
    const started = performance.now();
    const err = await failure(
      new Dialer({ memory: false, resolver: fixed([STALL, WRONG, GOOD]) }).dial(`${NAME}:${port}`, {
        tls: { ca },
        attemptDelay: 100,
      }),
    );
    const ms = performance.now() - started;
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.deepEqual(
      err.attempts.map((a) => [a.address, a.phase, a.code]),
      [
        [STALL, 'tls', 'ECANCELED'],
        [WRONG, 'tls', 'ERR_TLS_CERT_ALTNAME_INVALID'],
      ],
    );
    assert.ok(ms < 2000, `failed after ${ms} ms, not at a timeout`);
    assert.equal(goodCount.accepted, 0);
    await until(() => stallCount.closed === stallCount.accepted, 'the stalled connection was closed');
    await assertNoLeaks(baseline);
  });

  test('the deadline ends a handshake that never finishes, with the TLS phase named', async () => {
    const err = await failure(
      new Dialer({ memory: false, resolver: fixed([STALL]) }).dial(`${NAME}:${port}`, {
        tls: { ca },
        timeout: 300,
      }),
    );
    assert.equal(err.code, 'ETIMEDOUT');
    assert.deepEqual(
      err.attempts.map((a) => [a.address, a.phase, a.code]),
      [[STALL, 'tls', 'ETIMEDOUT']],
    );
    assert.match(err.attempts[0]!.message, /no TLS handshake within/);
  });

  test('a session passed in tls resumes: what integrations with a session cache pass to the dial', async () => {
    const dialer = new Dialer({ memory: false, resolver: fixed([GOOD]) });
    const first = (await dialer.dial(`${NAME}:${port}`, { tls: { ca } })) as tls.TLSSocket;
    let session: Buffer | undefined;
    try {
      // TLS 1.3 tickets arrive after the handshake, so after the dial handed the socket over.
      session = await new Promise<Buffer>((resolve, reject) => {
        first.once('session', resolve);
        first.once('close', () => reject(new Error('closed without a session ticket')));
      });
      assert.equal(getReport(first)?.tls?.sessionReused, false);
    } finally {
      await closeSocket(first);
    }
    const second = (await dialer.dial(`${NAME}:${port}`, { tls: { ca, session } })) as tls.TLSSocket;
    try {
      assert.equal(second.isSessionReused(), true);
      assert.equal(getReport(second)?.tls?.sessionReused, true);
    } finally {
      await closeSocket(second);
    }
  });

  test('TLS options Node refuses are final, with a stable code', async () => {
    const err = await failure(
      new Dialer({ memory: false, resolver: fixed([GOOD, STALL]) }).dial(`${NAME}:${port}`, {
        tls: { ca, secureProtocol: 'NoSuchMethod' },
      }),
    );
    assert.equal(err.code, 'ERR_TLS_OPTIONS');
    assert.equal(err.attempts.length, 1);
  });
});
