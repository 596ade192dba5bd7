/**
 * The TLS-aware race behind `HttpsAgent` (https.get) and the undici dispatcher (fetch, undici.request),
 * on loopback with real sockets and real TLS servers sharing one port: 127.0.0.2 accepts TCP and never
 * answers the handshake, 127.0.0.3 is a good HTTPS server (TLS 1.3), 127.0.0.4 resets during the
 * handshake, 127.0.0.5 presents a certificate for another name, 127.0.0.6 is a good HTTPS server that
 * speaks TLS 1.2 at most. One name maps to the addresses a test needs through a fixed resolver function
 * (no DNS). Both integrations pass their TLS into the dial, so a stalling first address costs one attempt
 * delay (not the dial timeout), a reset moves on, a wrong certificate is final with the client's usual
 * code, and their session caches still resume (TLS 1.2 sessions and TLS 1.3 tickets).
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type tls from 'node:tls';
import { request as undiciRequest } from 'undici';
import { Dialer, type DialReport, isDialError, type ResolveFunction } from '../src/index.js';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { HttpsAgent } from '../src/integrations/agent.js';
import { bindCreateConnection } from '../src/integrations/create-connection.js';
import { getReport } from '../src/report.js';
import { createDispatcher } from '../src/undici.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import {
  closeServer,
  countConnections as counted,
  listen,
  trackConnections,
  until,
} from './support/servers.js';
import { makeSelfSignedCert } from './support/tls-cert.js';

const NAME = 'tls-race-integrations.test';
const STALL = '127.0.0.2';
const GOOD = '127.0.0.3';
const RESET = '127.0.0.4';
const WRONG = '127.0.0.5';
const GOOD12 = '127.0.0.6';

/** The dial timeout of every client here: a stall waited out to it would fail the timing bounds. */
const TIMEOUT_MS = 3000;
const ATTEMPT_DELAY_MS = 250;

const fixed =
  (addresses: string[]): ResolveFunction =>
  async (_name, family) =>
    family === 4 ? addresses : [];

/** See integrations-agent.test.ts: keeps the loop turning while assertNoLeaks waits on unref'd timers. */
function keepLoopAlive(): () => void {
  const interval = setInterval(() => {}, 60_000);
  return () => clearInterval(interval);
}

interface Reply {
  body: string;
  socket: net.Socket;
  sessionReused: boolean;
  ms: number;
}

/** https.get through `agent`; resolves at the response's end. */
function viaAgent(agent: HttpsAgent, url: string): Promise<Reply> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.get(url, { agent }, (res) => {
      const socket = res.socket;
      const sessionReused = (socket as unknown as tls.TLSSocket).isSessionReused();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ body, socket, sessionReused, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
  });
}

describe('HttpsAgent and the undici dispatcher race TLS', () => {
  const good = makeSelfSignedCert(NAME);
  const wrong = makeSelfSignedCert('other-name.test');
  const ca = [good.cert, wrong.cert];
  /** What the good servers saw: their address, and whether the client resumed a session. */
  const seen: Array<{ local: string; reused: boolean; protocol: string | null }> = [];
  const answer = (req: { socket: net.Socket }, res: { end: (s: string) => void }) => {
    res.end(`local=${req.socket.localAddress}`);
  };
  const stall = trackConnections(net.createServer((s) => s.resume()));
  const reset = trackConnections(net.createServer((s) => s.once('data', () => s.resetAndDestroy())));
  const wrongName = trackConnections(https.createServer({ key: wrong.key, cert: wrong.cert }, answer));
  const goodServer = trackConnections(https.createServer({ key: good.key, cert: good.cert }, answer));
  const good12 = trackConnections(
    https.createServer({ key: good.key, cert: good.cert, maxVersion: 'TLSv1.2' }, answer),
  );
  const servers = [stall, reset, wrongName, goodServer, good12];
  const [stallCount, , , goodCount] = servers.map(counted) as Array<{ accepted: number; closed: number }>;
  let port = 0;
  let baseline: Map<string, number>;
  let release: () => void;

  before(async () => {
    release = keepLoopAlive();
    for (const s of [wrongName, goodServer, good12]) {
      s.on('tlsClientError', () => {});
      s.on('secureConnection', (t: tls.TLSSocket) =>
        seen.push({ local: t.localAddress ?? '', reused: t.isSessionReused(), protocol: t.getProtocol() }),
      );
    }
    for (let tries = 0; ; tries++) {
      try {
        port = await listen(stall, STALL, 0);
        await listen(goodServer, GOOD, port);
        await listen(reset, RESET, port);
        await listen(wrongName, WRONG, port);
        await listen(good12, GOOD12, port);
        break;
      } catch (err) {
        for (const s of servers) if (s.listening) await closeServer(s);
        if (tries >= 5) throw err;
      }
    }
    baseline = activeResources();
  });
  after(async () => {
    for (const s of servers) await closeServer(s);
    await assertNoLeaks(baseline, 'TLS race integration tests');
    release();
  });

  const url = (path = '/') => `https://${NAME}:${port}${path}`;
  const dialOf = (addresses: string[]) => ({
    dialer: new Dialer({ memory: false }),
    resolver: fixed(addresses),
    attemptDelay: ATTEMPT_DELAY_MS,
  });
  const agentFor = (addresses: string[], keepAlive = false) =>
    new HttpsAgent({ ca, keepAlive, dial: { ...dialOf(addresses), timeout: TIMEOUT_MS } });
  const dispatcherFor = (addresses: string[]) =>
    createDispatcher({
      ...dialOf(addresses),
      connectTimeout: TIMEOUT_MS,
      tls: { ca },
      agent: { pipelining: 0, keepAliveTimeout: 1 },
    });

  test('HttpsAgent: a TLS-stalling first address costs one attempt delay; the good one wins', async () => {
    const agent = agentFor([STALL, GOOD]);
    stallCount!.accepted = stallCount!.closed = 0;
    try {
      const reply = await viaAgent(agent, url());
      assert.equal(reply.body, `local=${GOOD}`);
      assert.ok(reply.ms < TIMEOUT_MS - 500, `took ${reply.ms} ms: the stall was waited out`);
      const report = getReport(reply.socket) as DialReport;
      assert.equal(report.winner?.address, GOOD);
      const [first, second] = report.attempts;
      assert.deepEqual([first?.address, first?.outcome], [STALL, 'cancelled']);
      assert.ok(first?.tcpMs !== undefined, 'the stalling address connected TCP: TLS is what stalled');
      assert.deepEqual([second?.address, second?.trigger, second?.outcome], [GOOD, 'delay', 'connected']);
      assert.ok(second?.tlsMs !== undefined, 'per-attempt TLS time in the report');
      assert.equal(report.tls?.servername, NAME);
      assert.equal(stallCount!.accepted, 1);
    } finally {
      agent.destroy();
    }
    await until(() => stallCount!.closed === stallCount!.accepted, 'the stalled connection was closed');
  });

  test('fetch through createDispatcher: a TLS-stalling first address costs one attempt delay', async () => {
    const dispatcher = dispatcherFor([STALL, GOOD]);
    stallCount!.accepted = stallCount!.closed = 0;
    try {
      const t0 = performance.now();
      const res = await fetch(url(), { dispatcher } as unknown as RequestInit);
      const body = await res.text();
      const ms = performance.now() - t0;
      assert.equal(body, `local=${GOOD}`);
      assert.ok(ms < TIMEOUT_MS - 500, `took ${ms} ms: the stall was waited out`);
      assert.ok(ms >= ATTEMPT_DELAY_MS - 20, `took ${ms} ms: the stalling address was not tried first`);
      assert.equal(stallCount!.accepted, 1, 'the stalling address was tried');
    } finally {
      await dispatcher.close();
    }
    await until(() => stallCount!.closed === stallCount!.accepted, 'the stalled connection was closed');
  });

  test('a reset during the first handshake moves on at once: HttpsAgent and fetch', async () => {
    const agent = agentFor([RESET, GOOD]);
    const dispatcher = dispatcherFor([RESET, GOOD]);
    try {
      const reply = await viaAgent(agent, url());
      assert.equal(reply.body, `local=${GOOD}`);
      const report = getReport(reply.socket) as DialReport;
      const [first, second] = report.attempts;
      assert.deepEqual([first?.address, first?.outcome, first?.code], [RESET, 'failed', 'ECONNRESET']);
      assert.deepEqual([second?.address, second?.trigger], [GOOD, 'failure']);
      assert.ok((second?.startMs ?? 9999) < ATTEMPT_DELAY_MS, `next attempt at ${second?.startMs} ms`);
      const res = await fetch(url(), { dispatcher } as unknown as RequestInit);
      assert.equal(await res.text(), `local=${GOOD}`);
    } finally {
      agent.destroy();
      await dispatcher.close();
    }
  });

  test("a certificate for another name is final, with each client's usual code; the good address is never tried", async () => {
    const agent = agentFor([WRONG, GOOD]);
    const dispatcher = dispatcherFor([WRONG, GOOD]);
    const goodBefore = goodCount!.accepted;
    try {
      const err = await viaAgent(agent, url()).then(
        () => assert.fail('the certificate is for another name'),
        (e: Error & { code?: string; host?: string; cause?: unknown }) => e,
      );
      // Node's own agent: ERR_TLS_CERT_ALTNAME_INVALID, "Hostname/IP does not match certificate's altnames…".
      assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
      assert.match(err.message, /does not match certificate's altnames/);
      assert.equal(err.host, NAME);
      assert.ok(isDialError(err.cause), 'the DialError is the cause');
      assert.deepEqual(
        err.cause.attempts.map((a) => [a.address, a.phase, a.code]),
        [[WRONG, 'tls', 'ERR_TLS_CERT_ALTNAME_INVALID']],
      );
      // undici's own connector: fetch failed, cause.code ERR_TLS_CERT_ALTNAME_INVALID.
      await assert.rejects(fetch(url(), { dispatcher } as unknown as RequestInit), (e: Error) => {
        assert.equal(e.name, 'TypeError');
        const cause = e.cause as Error & { code?: string };
        assert.equal(cause.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
        assert.ok(isDialError(cause), 'the DialError is the cause');
        return true;
      });
      assert.equal(goodCount!.accepted, goodBefore, 'the good address was never contacted');
    } finally {
      agent.destroy();
      await dispatcher.close();
    }
  });

  for (const [version, address] of [
    ['TLS 1.3 (tickets after the hand-over)', GOOD],
    ['TLS 1.2 (session during the handshake)', GOOD12],
  ] as const) {
    test(`session resumption over ${version}: HttpsAgent and undici resume on a second connection`, async () => {
      const agent = agentFor([STALL, address]);
      const dispatcher = dispatcherFor([STALL, address]);
      try {
        seen.length = 0;
        const first = await viaAgent(agent, url('/a'));
        // A TLS 1.3 ticket comes after the response may have; wait for the server to have sent it.
        await new Promise((r) => setTimeout(r, 50));
        const second = await viaAgent(agent, url('/b'));
        assert.notEqual(second.socket, first.socket, 'two connections');
        assert.equal(first.sessionReused, false);
        assert.equal(second.sessionReused, true, 'HttpsAgent resumed');
        assert.equal(getReport(second.socket)?.tls?.sessionReused, true);
        assert.deepEqual(
          seen.map((s) => [s.local, s.reused]),
          [
            [address, false],
            [address, true],
          ],
        );
        seen.length = 0;
        for (let i = 0; i < 2; i++) {
          const { body } = await undiciRequest(url(`/${i}`), { dispatcher, reset: true });
          assert.equal(await body.text(), `local=${address}`);
          if (i === 0) await new Promise((r) => setTimeout(r, 50));
        }
        assert.deepEqual(
          seen.map((s) => [s.local, s.reused]),
          [
            [address, false],
            [address, true],
          ],
          'undici resumed',
        );
        assert.equal(seen[0]?.protocol, address === GOOD12 ? 'TLSv1.2' : 'TLSv1.3');
      } finally {
        agent.destroy();
        await dispatcher.close();
      }
    });
  }
  test("HttpsAgent evicts the origin's session when a handshake fails, as Node's agent does", async () => {
    let addresses = [GOOD];
    const agent = new HttpsAgent({
      ca,
      dial: { dialer: new Dialer({ memory: false }), resolver: async (_n, f) => (f === 4 ? addresses : []) },
    });
    // Node's https.Agent session cache (internal, stable since Node 0.x): the keys it holds.
    const cached = () =>
      (agent as unknown as { _sessionCache: { list: string[] } })._sessionCache.list.length;
    try {
      await viaAgent(agent, url());
      await until(() => cached() === 1, 'the first connection left a session');
      addresses = [RESET];
      await assert.rejects(viaAgent(agent, url()), { code: 'ECONNRESET' });
      assert.equal(cached(), 0, 'the failed handshake evicted it');
    } finally {
      agent.destroy();
    }
  });

  test('undici: maxCachedSessions 0 keeps no session; a bad value is a TypeError with a stable code', async () => {
    const dispatcher = createDispatcher({ ...dialOf([GOOD]), tls: { ca }, maxCachedSessions: 0 });
    try {
      seen.length = 0;
      for (let i = 0; i < 2; i++) {
        const { body } = await undiciRequest(url(`/${i}`), { dispatcher, reset: true });
        await body.text();
        if (i === 0) await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(
        seen.map((x) => x.reused),
        [false, false],
      );
    } finally {
      await dispatcher.close();
    }
    for (const bad of [-1, 1.5, '10', Number.NaN]) {
      assert.throws(
        () => createDispatcher({ maxCachedSessions: bad as number }),
        (e: TypeError & { code?: string }) =>
          e instanceof TypeError &&
          e.code === 'ERR_NETDIAL_INVALID_OPTION' &&
          /maxCachedSessions/.test(e.message),
      );
    }
  });
});

describe('HTTP/1.1 clients and HTTPS records that advertise h2', () => {
  const NAME2 = 'h2.svc.test';
  const cert = makeSelfSignedCert(NAME2);
  // Prefers h2: it picks h2 whenever the client offers it.
  const server = trackConnections(
    https.createServer({ ...cert, ALPNProtocols: ['h2', 'http/1.1'] }, (_req, res) => res.end('ok')),
  );
  let port = 0;
  let dns: LabDnsServer;
  let dialer: Dialer;

  before(async () => {
    server.on('tlsClientError', () => {});
    port = await listen(server, '127.0.0.7');
    dns = await startLoopbackDns(
      {
        [NAME2]: { A: ['127.0.0.7'], AAAA: [] },
        // The origin is on another port than 443: its records are at _PORT._https.NAME (RFC 9460 §9.1).
        [`_${port}._https.${NAME2}`]: {
          HTTPS: [{ priority: 1, targetName: NAME2, params: { alpn: ['h2'] } }],
        },
      },
      'svc.test',
    );
    dialer = new Dialer({
      memory: false,
      resolver: 'dns',
      nameservers: [`127.0.0.1:${dns.port}`],
      hostsPath: null,
      dnsTries: 1,
      dnsTimeoutMs: 2000,
    });
  });
  after(async () => {
    await closeServer(server);
    await dns?.close();
  });

  test('HttpsAgent and createConnection offer http/1.1 only: the record is used, h2 is not negotiated', async () => {
    const agent = new HttpsAgent({ ca: cert.cert, dial: { dialer } });
    const createConnection = bindCreateConnection({ dialer });
    try {
      for (const options of [{ agent }, { ca: cert.cert, createConnection }] as https.RequestOptions[]) {
        const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
          const req = https.get(`https://${NAME2}:${port}/`, options, (res) => {
            res.resume();
            res.on('end', () => resolve(res.socket as tls.TLSSocket));
          });
          req.on('error', reject);
        });
        assert.equal(socket.alpnProtocol, 'http/1.1');
        const report = getReport(socket) as DialReport;
        assert.equal(report.service?.type, 'HTTPS', 'the HTTPS record was asked');
        assert.equal(report.service?.winner?.targetName, NAME2, 'and used');
        socket.destroy();
      }
    } finally {
      agent.destroy();
    }
  });
});
