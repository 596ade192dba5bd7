/**
 * Agent and HttpsAgent against real loopback servers: the race behind http.get, keep-alive reuse of one
 * socket, maxSockets kept while dials are in flight, failures reaching the request (and queued requests),
 * maxSocketAge, and for HTTPS: certificate check, SNI seen by the server, TLS session resumption on a
 * second connection. Names resolve through a fixed resolver function: no DNS query leaves the process.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type tls from 'node:tls';
import { got } from 'got';
import { Dialer, isDialError, type ResolveFunction } from '../src/index.js';
import { Agent, HttpsAgent } from '../src/integrations/agent.js';
import { getReport } from '../src/report.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { makeSelfSignedCert, type TestCert } from './support/tls-cert.js';

/** Every name has ::1 and 127.0.0.1 (servers listen on 127.0.0.1 only, so ::1 is refused first). */
const loopback: ResolveFunction = async (_name, family) => (family === 6 ? ['::1'] : ['127.0.0.1']);

/** Dial settings of every agent here: a Dialer without memory, so each test sees the plain race. */
const dial = { dialer: new Dialer({ memory: false }), resolver: loopback };

interface Reply {
  status: number | undefined;
  /** tls.TLSSocket#isSessionReused() while the response came (undefined for plain http). */
  sessionReused: boolean | undefined;
  body: string;
  socket: net.Socket;
  reused: boolean;
}

function request(
  module: typeof http | typeof https,
  url: string,
  options: http.RequestOptions | https.RequestOptions,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = module.get(url, options, (res) => {
      const socket = res.socket;
      const sessionReused =
        'isSessionReused' in socket ? (socket as tls.TLSSocket).isSessionReused() : undefined;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode, sessionReused, body, socket, reused: req.reusedSocket }),
      );
    });
    req.on('error', reject);
  });
}

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/**
 * assertNoLeaks waits on unref'd timers: while the last sockets are still closing, nothing else may keep
 * the event loop alive and the test would end with its promise pending. One ref'd interval, made before
 * the baseline and cleared after the check, keeps the loop turning.
 */
function keepLoopAlive(): () => void {
  const interval = setInterval(() => {}, 60_000);
  return () => clearInterval(interval);
}

async function close(server: net.Server): Promise<void> {
  (server as http.Server).closeAllConnections?.();

  server.close();
  await once(server, 'close');
}

/** Connections a server accepted. */
function countConnections(server: net.Server): { count: number } {
  const c = { count: 0 };
  server.on('connection', () => c.count++);
  return c;
}

/** A resolver that never answers; counts the dials that gave up on it (their signal aborted). */
function silentResolver(): { resolver: ResolveFunction; cancelled: () => number } {
  let cancelled = 0;
  const resolver: ResolveFunction = (_name, _family, { signal }) =>
    new Promise((_, reject) =>
      signal.addEventListener('abort', () => {
        cancelled++;
        reject(new Error('cancelled'));
      }),
    );
  return { resolver, cancelled: () => cancelled };
}

/** Starts `http.get(url, options)` and resolves at the request's 'close' with what it emitted. */
function untilClose(
  url: string,
  options: http.RequestOptions,
  onRequest: (req: http.ClientRequest) => void = () => {},
): Promise<{ error: (Error & Record<string, unknown>) | undefined; events: string[]; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const events: string[] = [];
    let error: (Error & Record<string, unknown>) | undefined;
    const req = http.get(url, options, (res) => res.resume());
    req.on('timeout', () => events.push('timeout'));
    req.on('error', (e) => {
      events.push('error');
      error = e as Error & Record<string, unknown>;
    });
    req.on('close', () => {
      events.push('close');
      resolve({ error, events, ms: performance.now() - t0 });
    });
    onRequest(req);
  });
}

/**
 * A got request through `agent` with every connection-phase timeout set (got starts `timeout.connect`
 * at the socket's 'lookup' for a name, `timeout.secureConnect` at its 'connect'): resolves with the
 * socket events got saw, in order, and got's timings.
 */
async function viaGot(
  url: string,
  agent: { http?: http.Agent; https?: https.Agent },
  ca?: string,
): Promise<{ body: string; events: string[]; timings: Record<string, number | undefined> }> {
  const events: string[] = [];
  const request = got(url, {
    agent,
    https: ca === undefined ? {} : { certificateAuthority: ca },
    retry: { limit: 0 },
    timeout: { lookup: 2000, connect: 2000, secureConnect: 2000, request: 5000 },
  });
  request.on('request', (req: http.ClientRequest) =>
    req.once('socket', (socket: net.Socket) => {
      for (const name of ['lookup', 'connectionAttempt', 'connect', 'secureConnect', 'ready']) {
        socket.on(name, (...args: unknown[]) =>
          events.push(
            name === 'lookup' || name === 'connectionAttempt'
              ? `${name} ${args[name === 'lookup' ? 1 : 0]}`
              : name,
          ),
        );
      }
    }),
  );
  const response = await request;
  const t = response.timings;
  return {
    body: response.body,
    events,
    timings: { socket: t.socket, lookup: t.lookup, connect: t.connect, secureConnect: t.secureConnect },
  };
}

describe('Agent (http)', () => {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`host=${req.headers.host} from=${req.socket.remoteAddress}`);
  });
  const conns = countConnections(server);
  let port = 0;
  let baseline: Map<string, number>;
  let release: () => void;

  before(async () => {
    release = keepLoopAlive();
    baseline = activeResources();
    port = await listen(server);
  });
  after(async () => {
    await close(server);
    await assertNoLeaks(baseline, 'http agent tests');
    release();
  });

  test('http.get through the agent races ::1 (refused) and 127.0.0.1 and keeps the Host header', async () => {
    const agent = new Agent({ dial });
    try {
      const reply = await request(http, `http://app.test:${port}/`, { agent });
      assert.equal(reply.status, 200);
      assert.equal(reply.body, `host=app.test:${port} from=127.0.0.1`);
      const report = getReport(reply.socket);
      assert.ok(report, 'the socket carries its dial report');
      assert.deepEqual(
        report.attempts.map((a) => [a.address, a.outcome]),
        [
          ['::1', 'failed'],
          ['127.0.0.1', 'connected'],
        ],
      );
    } finally {
      agent.destroy();
    }
  });

  test('keep-alive: two sequential requests reuse one socket', async () => {
    const agent = new Agent({ keepAlive: true, dial });
    const before = conns.count;
    try {
      const first = await request(http, `http://app.test:${port}/1`, { agent });
      const second = await request(http, `http://app.test:${port}/2`, { agent });
      assert.equal(first.reused, false);
      assert.equal(second.reused, true, 'the second request went over the pooled socket');
      assert.equal(second.socket, first.socket);
      assert.equal(conns.count - before, 1, 'the server saw one connection');
    } finally {
      agent.destroy();
    }
  });

  test('maxSockets holds while dials are in flight: three concurrent requests, one connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, dial });
    const before = conns.count;
    try {
      const replies = await Promise.all(
        [1, 2, 3].map((i) => request(http, `http://app.test:${port}/${i}`, { agent })),
      );
      assert.deepEqual(
        replies.map((r) => r.status),
        [200, 200, 200],
      );
      assert.equal(conns.count - before, 1);
      assert.equal(
        (agent as unknown as { totalSocketCount: number }).totalSocketCount,
        1,
        'placeholders are gone, the real socket counted once',
      );
    } finally {
      agent.destroy();
    }
  });

  test('a failed dial errors the request Node-shaped (DialError as cause); queued requests get their own attempt', async () => {
    const closed = http.createServer();
    const deadPort = await listen(closed);
    await close(closed);
    const agent = new Agent({ maxSockets: 1, dial });
    try {
      const results = await Promise.allSettled(
        [1, 2].map(() => request(http, `http://app.test:${deadPort}/`, { agent })),
      );
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        const err = (r as PromiseRejectedResult).reason;
        // As net.connect's own error: code, syscall, address and port of the decisive attempt.
        assert.equal(err.code, 'ECONNREFUSED');
        assert.equal(err.syscall, 'connect');
        assert.equal(err.errno, -111);
        assert.ok(['127.0.0.1', '::1'].includes(err.address), err.address);
        assert.equal(err.port, deadPort);
        assert.equal(err.message, `connect ECONNREFUSED ${err.address}:${deadPort}`);
        const cause = err.cause;
        assert.ok(isDialError(cause), `expected a DialError as cause, got ${cause}`);
        assert.equal(cause.code, 'ECONNREFUSED');
        assert.deepEqual(cause.attempts.map((a: { address: string }) => a.address).sort(), [
          '127.0.0.1',
          '::1',
        ]);
      }
      assert.equal((agent as unknown as { totalSocketCount: number }).totalSocketCount, 0);
      assert.deepEqual(Object.keys(agent.sockets), []);
    } finally {
      agent.destroy();
    }
  });

  test('maxSocketAge: a pooled socket older than the limit is not reused', async () => {
    const agent = new Agent({ keepAlive: true, maxSocketAge: 30, dial });
    const before = conns.count;
    try {
      const first = await request(http, `http://app.test:${port}/1`, { agent });
      await new Promise((r) => setTimeout(r, 60));
      assert.deepEqual(Object.keys(agent.freeSockets), [], 'the expired free socket was closed');
      const second = await request(http, `http://app.test:${port}/2`, { agent });
      assert.notEqual(second.socket, first.socket);
      assert.equal(second.reused, false);
      assert.equal(conns.count - before, 2);
    } finally {
      agent.destroy();
    }
  });

  test("maxSocketAge 'ttl': a pooled socket lives as long as its address's DNS TTL", async () => {
    const withTtl: ResolveFunction = async (_name, family) =>
      family === 6 ? [] : [{ address: '127.0.0.1', ttlSeconds: 1 }];
    const agent = new Agent({ keepAlive: true, maxSocketAge: 'ttl', dial: { ...dial, resolver: withTtl } });
    try {
      const first = await request(http, `http://app.test:${port}/1`, { agent });
      const second = await request(http, `http://app.test:${port}/2`, { agent });
      assert.equal(second.socket, first.socket, 'reused within the TTL');
      await new Promise((r) => setTimeout(r, 1100));
      assert.deepEqual(Object.keys(agent.freeSockets), [], 'closed once the TTL (1 s) ran out');
    } finally {
      agent.destroy();
    }
  });

  test('req.destroy() while the dial resolves: the dial stops at once, ECONNRESET as with Node', async () => {
    const { resolver, cancelled } = silentResolver();
    const agent = new Agent({ dial: { ...dial, resolver } });
    try {
      const r = await untilClose(`http://app.test:${port}/`, { agent }, (req) => {
        setTimeout(() => req.destroy(), 50);
      });
      assert.ok(r.ms < 1000, `closed after ${r.ms} ms`);
      assert.deepEqual(r.events, ['error', 'close']);
      assert.equal(r.error?.code, 'ECONNRESET');
      assert.equal(r.error?.message, 'socket hang up');
      assert.equal(cancelled(), 2, "both families' lookups were cancelled");
      assert.equal((agent as unknown as { totalSocketCount: number }).totalSocketCount, 0);
    } finally {
      agent.destroy();
    }
  });

  test('a request signal aborts the dial: AbortError, as with Node', async () => {
    const { resolver, cancelled } = silentResolver();
    const agent = new Agent({ maxSockets: 1, dial: { ...dial, resolver } });
    try {
      const r = await untilClose(`http://app.test:${port}/`, { agent, signal: AbortSignal.timeout(50) });
      assert.ok(r.ms < 1000, `closed after ${r.ms} ms`);
      assert.equal(r.error?.name, 'AbortError');
      assert.equal(r.error?.code, 'ABORT_ERR');
      assert.equal(cancelled(), 2);
      assert.deepEqual(Object.keys(agent.sockets), [], 'the placeholder is gone');
    } finally {
      agent.destroy();
    }
  });

  test("the request's timeout: 'timeout' first (a handler may destroy), else ETIMEDOUT Node-shaped", async () => {
    const { resolver } = silentResolver();
    const agent = new Agent({ dial: { ...dial, resolver } });
    try {
      const handled = await untilClose(`http://app.test:${port}/`, { agent, timeout: 80 }, (req) => {
        req.on('timeout', () => req.destroy());
      });
      assert.deepEqual(handled.events, ['timeout', 'error', 'close']);
      assert.equal(handled.error?.code, 'ECONNRESET', 'the handler decided, as with Node');
      const unhandled = await untilClose(`http://app.test:${port}/`, { agent, timeout: 80 });
      assert.deepEqual(unhandled.events, ['timeout', 'error', 'close']);
      assert.ok(unhandled.ms < 1000, `closed after ${unhandled.ms} ms`);
      assert.equal(unhandled.error?.code, 'ETIMEDOUT');
      assert.equal(unhandled.error?.syscall, 'connect');
      assert.ok(isDialError(unhandled.error?.cause));
    } finally {
      agent.destroy();
    }
  });

  test("got with timeout.lookup/connect to a good name: 'lookup' when the answers are in, then the attempts, then 'connect'", async () => {
    const agent = new Agent({ dial });
    try {
      const { body, events, timings } = await viaGot(`http://app.test:${port}/`, { http: agent });
      assert.match(body, /^host=app.test:/);
      // Each address's 'lookup' before its attempt (the ::1 attempt may start before the A answer is
      // in: RFC 8305 §3); ::1 is refused, 127.0.0.1 connects.
      const sorted = [...events].sort();
      assert.deepEqual(sorted, [
        'connect',
        'connectionAttempt 127.0.0.1',
        'connectionAttempt ::1',
        'lookup 127.0.0.1',
        'lookup ::1',
        'ready',
      ]);
      for (const address of ['::1', '127.0.0.1']) {
        assert.ok(
          events.indexOf(`lookup ${address}`) < events.indexOf(`connectionAttempt ${address}`),
          events.join(', '),
        );
      }
      assert.deepEqual(events.slice(-2), ['connect', 'ready']);
      assert.ok((timings.lookup as number) <= (timings.connect as number), JSON.stringify(timings));
    } finally {
      agent.destroy();
    }
  });

  test('bad maxSocketAge is a TypeError with a stable code', () => {
    for (const bad of [0, -1, 'forever', Number.NaN]) {
      assert.throws(
        () => new Agent({ maxSocketAge: bad as number }),
        (e: TypeError & { code?: string }) =>
          e instanceof TypeError && e.code === 'ERR_NETDIAL_INVALID_OPTION',
      );
    }
  });
});

describe('HttpsAgent', () => {
  let cert: TestCert;
  let server: https.Server;
  const seen: Array<{ servername: string | false | null | undefined; reused: boolean }> = [];
  let port = 0;
  let baseline: Map<string, number>;
  let release: () => void;

  before(async () => {
    release = keepLoopAlive();
    baseline = activeResources();
    cert = makeSelfSignedCert('localhost');
    server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      const socket = req.socket as tls.TLSSocket;
      res.end(`servername=${socket.servername} reused=${socket.isSessionReused()}`);
    });
    server.on('secureConnection', (s: tls.TLSSocket) => {
      seen.push({ servername: s.servername, reused: s.isSessionReused() });
    });
    server.on('tlsClientError', () => {});
    port = await listen(server);
  });
  after(async () => {
    await close(server);
    await assertNoLeaks(baseline, 'https agent tests');
    release();
  });

  test('https.get: certificate checked against the CA, SNI is the host name (seen by the server)', async () => {
    const agent = new HttpsAgent({ ca: cert.cert, dial });
    seen.length = 0;
    try {
      const reply = await request(https, `https://localhost:${port}/`, { agent });
      assert.equal(reply.status, 200);
      assert.equal(seen[0]?.servername, 'localhost');
      const report = getReport(reply.socket);
      assert.equal(report?.winner?.address, '127.0.0.1');
      assert.equal(report?.tls?.servername, 'localhost');
      assert.equal(report?.tls?.protocol, (reply.socket as tls.TLSSocket).getProtocol());
    } finally {
      agent.destroy();
    }
  });

  test('the certificate check stays on: no CA -> self-signed error; wrong name -> altname error', async () => {
    const noCa = new HttpsAgent({ dial });
    const withCa = new HttpsAgent({ ca: cert.cert, dial });
    try {
      await assert.rejects(request(https, `https://localhost:${port}/`, { agent: noCa }), {
        code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      });
      seen.length = 0;
      await assert.rejects(request(https, `https://other.test:${port}/`, { agent: withCa }), {
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
      });
    } finally {
      noCa.destroy();
      withCa.destroy();
    }
  });

  test('TLS session resumption: the second connection resumes the first one’s session', async () => {
    const agent = new HttpsAgent({ ca: cert.cert, keepAlive: false, dial });
    seen.length = 0;
    try {
      const first = await request(https, `https://localhost:${port}/a`, { agent });
      const second = await request(https, `https://localhost:${port}/b`, { agent });
      assert.notEqual(second.socket, first.socket, 'two connections');
      assert.equal(first.sessionReused, false);
      assert.equal(second.sessionReused, true, 'client resumed');
      assert.deepEqual(
        seen.map((s) => s.reused),
        [false, true],
        'the server saw a full handshake, then a resumed one',
      );
      assert.equal(getReport(second.socket)?.tls?.sessionReused, true);
    } finally {
      agent.destroy();
    }
  });

  test('the TLS handshake is bounded by the dial timeout (Node has none): ETIMEDOUT, syscall handshake', async () => {
    const held = new Set<net.Socket>();
    const mute = net.createServer((sock) => {
      held.add(sock);
      sock.on('close', () => held.delete(sock));
    });
    const mutePort = await listen(mute);
    const agent = new HttpsAgent({ ca: cert.cert, dial: { ...dial, timeout: 200 } });
    try {
      const t0 = performance.now();
      // The signal only keeps a broken deadline from hanging the test (it would end it with AbortError).
      const signal = AbortSignal.timeout(3000);
      const err = await request(https, `https://localhost:${mutePort}/`, { agent, signal }).then(
        () => assert.fail('no handshake can succeed'),
        (e: Error & Record<string, unknown>) => e,
      );
      const ms = performance.now() - t0;
      assert.equal(err.code, 'ETIMEDOUT');
      assert.equal(err.syscall, 'handshake');
      assert.ok(ms >= 150 && ms < 1500, `gave up after ${ms} ms`);
    } finally {
      agent.destroy();
      for (const sock of held) sock.destroy();
      await close(mute);
    }
  });

  // The dial races TLS and hands over a secure winner: 'connect', 'ready' and 'secureConnect' come together
  // then, in a tls.TLSSocket's order.
  test("got through HttpsAgent, every phase timed out generously: 'lookup', 'connect', 'ready', 'secureConnect', in order", async () => {
    const agent = new HttpsAgent({ dial });
    try {
      const { body, events, timings } = await viaGot(
        `https://localhost:${port}/`,
        { https: agent },
        cert.cert,
      );
      assert.match(body, /^servername=localhost /);
      const phases = events.filter((e) => !e.startsWith('connectionAttempt') && !e.startsWith('lookup '));
      assert.deepEqual(phases, ['connect', 'ready', 'secureConnect'], events.join(', '));
      assert.ok(events.indexOf('lookup 127.0.0.1') < events.indexOf('connectionAttempt 127.0.0.1'));
      assert.ok(events.indexOf('connectionAttempt 127.0.0.1') < events.indexOf('connect'));
      const [lookup = Number.NaN, connect = Number.NaN, secureConnect = Number.NaN] = [
        timings.lookup,
        timings.connect,
        timings.secureConnect,
      ];
      assert.ok(lookup <= connect && connect <= secureConnect, JSON.stringify(timings));
    } finally {
      agent.destroy();
    }
  });

  test('keep-alive over TLS: two sequential requests, one TLS connection', async () => {
    const agent = new HttpsAgent({ ca: cert.cert, keepAlive: true, dial });
    seen.length = 0;
    try {
      const first = await request(https, `https://localhost:${port}/1`, { agent });
      const second = await request(https, `https://localhost:${port}/2`, { agent });
      assert.equal(second.socket, first.socket);
      assert.equal(second.reused, true);
      assert.equal(seen.length, 1);
    } finally {
      agent.destroy();
    }
  });
});
