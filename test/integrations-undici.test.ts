/**
 * `netdial/undici` against real loopback servers: Node's global fetch through the installed dispatcher
 * (and the previous dispatcher back afterwards), a per-request `dispatcher` for HTTPS with the
 * certificate and SNI checked, netdial's errors as fetch's cause, and the connect timeout netdial
 * enforces (for resolution and for a TLS handshake that never ends). Names resolve through a fixed
 * resolver function: no DNS query leaves the process.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type tls from 'node:tls';
import * as undici from 'undici';
import { getGlobalDispatcher, request } from 'undici';
import { Dialer, isDialError, type ResolveFunction } from '../src/index.js';
import { connector, createDispatcher, installGlobalDispatcher } from '../src/undici.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { makeSelfSignedCert, type TestCert } from './support/tls-cert.js';

const loopback: ResolveFunction = async (_name, family) => (family === 6 ? ['::1'] : ['127.0.0.1']);

/** A Dialer without memory, so each test sees the plain race. */
const dialer = new Dialer({ memory: false });

/** A resolver that answers only when the dial gives up on it. */
const silent: ResolveFunction = (_name, _family, { signal }) =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('cancelled'))));

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function close(server: net.Server): Promise<void> {
  (server as http.Server).closeAllConnections?.();
  server.close();
  await once(server, 'close');
}

/** See integrations-agent.test.ts: keeps the loop turning while assertNoLeaks waits on unref'd timers. */
function keepLoopAlive(): () => void {
  const interval = setInterval(() => {}, 60_000);
  return () => clearInterval(interval);
}

/** A resolver that never answers and counts how many of its lookups were cancelled. */
function neverAnswering(): { watched: ResolveFunction; cancelled: () => number } {
  let count = 0;
  const watched: ResolveFunction = (_name, _family, { signal }) =>
    new Promise((_, reject) =>
      signal.addEventListener('abort', () => {
        count++;
        reject(new Error('cancelled'));
      }),
    );
  return { watched, cancelled: () => count };
}

describe('netdial/undici', () => {
  let cert: TestCert;
  const plain = http.createServer((req, res) => res.end(`plain host=${req.headers.host}`));
  let secure: https.Server;
  /** Reads and never speaks: a TLS handshake against it never ends. */
  const mute = net.createServer((s) => s.on('error', () => {}).resume());
  const sni: Array<string | false | null> = [];
  const resumed: boolean[] = [];
  let plainPort = 0;
  let securePort = 0;
  let mutePort = 0;
  let baseline: Map<string, number>;
  let release: () => void;

  before(async () => {
    release = keepLoopAlive();
    cert = makeSelfSignedCert('localhost');
    secure = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      res.end(`secure servername=${(req.socket as tls.TLSSocket).servername}`);
    });
    secure.on('secureConnection', (s: tls.TLSSocket) => {
      sni.push(s.servername);
      resumed.push(s.isSessionReused());
    });
    secure.on('tlsClientError', () => {});
    plainPort = await listen(plain);
    securePort = await listen(secure);
    mutePort = await listen(mute);
    // undici's import installs its default global dispatcher once; count it in the baseline.
    getGlobalDispatcher();
    baseline = activeResources();
  });
  after(async () => {
    await Promise.all([close(plain), close(secure), close(mute)]);
    await assertNoLeaks(baseline, 'undici tests');
    release();
  });

  test('global fetch goes through the installed dispatcher; restore() puts the previous one back', async () => {
    const before = getGlobalDispatcher();
    const installed = installGlobalDispatcher({ dialer, resolver: loopback });
    try {
      assert.equal(getGlobalDispatcher(), installed.dispatcher);
      assert.equal(installed.previous, before);
      const res = await fetch(`http://app.test:${plainPort}/`);
      assert.equal(res.status, 200);
      // app.test exists only in the fixed resolver: the request can only have come through netdial.
      assert.equal(await res.text(), `plain host=app.test:${plainPort}`);
    } finally {
      await installed.restore();
    }
    assert.equal(getGlobalDispatcher(), before);
  });

  test('per-request dispatcher over HTTPS: CA checked, SNI is the host name', async () => {
    const dispatcher = createDispatcher({ dialer, resolver: loopback, tls: { ca: cert.cert } });
    sni.length = 0;
    try {
      const res = await fetch(`https://localhost:${securePort}/`, { dispatcher } as unknown as RequestInit);
      assert.equal(await res.text(), 'secure servername=localhost');
      assert.deepEqual(sni, ['localhost']);
      // Without the CA the certificate check fails, as with undici's own connector.
      const strict = createDispatcher({ dialer, resolver: loopback });
      try {
        await assert.rejects(
          fetch(`https://localhost:${securePort}/`, { dispatcher: strict } as unknown as RequestInit),
          (e: Error) => {
            assert.equal((e.cause as { code?: string }).code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
            return true;
          },
        );
      } finally {
        await strict.close();
      }
    } finally {
      await dispatcher.close();
    }
  });

  test('undici.request with the dispatcher, and the TLS session resumed on a second connection', async () => {
    const dispatcher = createDispatcher({
      dialer,
      resolver: loopback,
      tls: { ca: cert.cert },
      agent: { pipelining: 0, keepAliveTimeout: 1 },
    });
    sni.length = 0;
    resumed.length = 0;
    try {
      for (let i = 0; i < 2; i++) {
        const { statusCode, body } = await request(`https://localhost:${securePort}/${i}`, {
          dispatcher,
          reset: true,
        });
        assert.equal(statusCode, 200);
        await body.text();
      }
      assert.equal(sni.length, 2, 'two TLS connections');
      assert.deepEqual(resumed, [false, true], 'the second connection resumed the session');
    } finally {
      await dispatcher.close();
    }
  });

  test('a refused connection: fetch fails with netdial’s DialError as cause, every attempt listed', async () => {
    const dead = http.createServer();
    const deadPort = await listen(dead);
    await close(dead);
    const dispatcher = createDispatcher({ dialer, resolver: loopback });
    try {
      await assert.rejects(
        fetch(`http://app.test:${deadPort}/`, { dispatcher } as unknown as RequestInit),
        (e: Error) => {
          assert.ok(isDialError(e.cause), `cause should be a DialError, got ${e.cause}`);
          assert.equal(e.cause.code, 'ECONNREFUSED');
          assert.deepEqual(e.cause.attempts.map((a) => a.address).sort(), ['127.0.0.1', '::1']);
          return true;
        },
      );
    } finally {
      await dispatcher.close();
    }
  });

  test("netdial enforces connectTimeout: a resolver that never answers -> undici's ConnectTimeoutError", async () => {
    const dispatcher = createDispatcher({ dialer, resolver: silent, connectTimeout: 100 });
    const t0 = performance.now();
    try {
      await assert.rejects(
        fetch(`http://app.test:${plainPort}/`, { dispatcher } as unknown as RequestInit),
        (e: Error) => {
          // undici's own error for a connect timeout, so retry logic keyed on its codes sees it.
          const timeout = e.cause as Error & { code?: string; cause?: unknown };
          assert.ok(timeout instanceof undici.errors.ConnectTimeoutError, `got ${String(timeout)}`);
          assert.equal(timeout.code, 'UND_ERR_CONNECT_TIMEOUT');
          assert.match(timeout.message, /attempted address: app\.test:\d+, timeout: 100ms/);
          assert.ok(isDialError(timeout.cause), 'the DialError is its cause');
          assert.equal(timeout.cause.code, 'ETIMEDOUT');
          return true;
        },
      );
      const elapsed = performance.now() - t0;
      assert.ok(elapsed >= 90 && elapsed < 2000, `gave up after ${elapsed} ms`);
    } finally {
      await dispatcher.close();
    }
  });

  test('netdial enforces connectTimeout across TLS: a server that never answers the handshake', async () => {
    const dispatcher = createDispatcher({ dialer, resolver: loopback, connectTimeout: 150 });
    const t0 = performance.now();
    try {
      await assert.rejects(
        fetch(`https://localhost:${mutePort}/`, { dispatcher } as unknown as RequestInit),
        (e: Error) => {
          assert.equal((e.cause as { code?: string }).code, 'UND_ERR_CONNECT_TIMEOUT');
          return true;
        },
      );
      const elapsed = performance.now() - t0;
      assert.ok(elapsed >= 140 && elapsed < 2000, `gave up after ${elapsed} ms`);
    } finally {
      await dispatcher.close();
    }
  });

  test("undici.request's signal stops the dial at once (the resolver is cancelled), not at connectTimeout", async () => {
    const { watched, cancelled } = neverAnswering();
    const dispatcher = createDispatcher({ dialer, resolver: watched, connectTimeout: 30_000 });
    const t0 = performance.now();
    try {
      // The signal's reason, as undici gives it for a request aborted on a connection.
      await assert.rejects(
        request(`http://app.test:${plainPort}/`, { dispatcher, signal: AbortSignal.timeout(100) }),
        (e: Error & { code?: string }) => e.name === 'TimeoutError',
      );
      const elapsed = performance.now() - t0;
      assert.ok(elapsed < 2000, `rejected after ${elapsed} ms`);
      assert.ok(cancelled() >= 1, 'the dial stopped its resolution');
    } finally {
      await dispatcher.close();
    }
    // close() waits for connects in flight: it returns at once because none is left.
    assert.ok(performance.now() - t0 < 3000);
  });

  test("global fetch aborted while its connection is dialed: the dial stops at once (Node 20's bundled undici)", async () => {
    const { watched, cancelled } = neverAnswering();
    const installed = installGlobalDispatcher({ dialer, resolver: watched, connectTimeout: 30_000 });
    try {
      const controller = new AbortController();
      const pending = fetch(`http://app.test:${plainPort}/`, { signal: controller.signal });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(cancelled(), 0, 'still resolving');
      const t0 = performance.now();
      controller.abort();
      await assert.rejects(pending, (e: Error) => e.name === 'AbortError');
      // Without closing the dispatcher: the abort alone reaches the dial.
      while (cancelled() < 2 && performance.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
      assert.equal(cancelled(), 2, "both families' lookups cancelled");
      assert.ok(
        performance.now() - t0 < 1000,
        `the dial stopped ${performance.now() - t0} ms after the abort`,
      );
    } finally {
      await installed.restore();
    }
  });

  test('a fetch aborted while another fetch to the origin waits: the dial goes on and serves the other', async () => {
    // Answers once the gate opens (every lookup from then on at once).
    let answer: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const resolver: ResolveFunction = async (_name, family) => {
      await gate;
      return family === 4 ? ['127.0.0.1'] : [];
    };
    const dispatcher = createDispatcher({ dialer, resolver, agent: { connections: 1 } });
    const connections = { count: 0 };
    const count = () => connections.count++;
    plain.on('connection', count);
    const before = connections.count;
    try {
      const controller = new AbortController();
      const url = `http://app.test:${plainPort}/`;
      const aborted = fetch(url, { dispatcher, signal: controller.signal } as unknown as RequestInit);
      const kept = fetch(url, { dispatcher } as unknown as RequestInit);
      await new Promise((r) => setTimeout(r, 30));
      controller.abort();
      await assert.rejects(aborted, (e: Error) => e.name === 'AbortError');
      answer();
      const res = await kept;
      assert.equal(await res.text(), `plain host=app.test:${plainPort}`);
      // One dial, one connection: the aborted request gave the connection up to the other one.
      assert.equal(connections.count - before, 1);
    } finally {
      plain.off('connection', count);
      await dispatcher.close();
    }
  });

  test('a handler whose onConnect throws at dispatch fails as undici fails a throwing dispatch: onError, no dial', async () => {
    const { watched, cancelled } = neverAnswering();
    let lookups = 0;
    const counting: ResolveFunction = (name, family, ctx) => {
      lookups++;
      return watched(name, family, ctx);
    };
    const dispatcher = createDispatcher({ dialer, resolver: counting });
    try {
      const refused = new Error('not now');
      const seen: unknown[] = [];
      const handler = {
        onConnect() {
          throw refused;
        },
        onError(err: unknown) {
          seen.push(err);
        },
        onHeaders: () => true,
        onData: () => true,
        onComplete() {},
      };
      const dispatched = dispatcher.dispatch(
        { origin: `http://app.test:${plainPort}`, path: '/', method: 'GET' },
        handler as never,
      );
      assert.equal(dispatched, false);
      assert.deepEqual(seen, [refused]);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(lookups, 0, 'nothing was dialled');
      assert.equal(cancelled(), 0);
    } finally {
      await dispatcher.close();
    }
  });

  test('a request arriving as the last one is aborted still gets a connection (the dial starts again)', async () => {
    let hang = true;
    const resolver: ResolveFunction = (_name, family, { signal }) =>
      hang
        ? new Promise((_, reject) =>
            signal.addEventListener('abort', () => {
              hang = false;
              reject(new Error('cancelled'));
            }),
          )
        : Promise.resolve(family === 4 ? ['127.0.0.1'] : []);
    // One connection per origin: the second request waits for the same client's connect.
    const dispatcher = createDispatcher({
      dialer,
      resolver,
      connectTimeout: 5000,
      agent: { connections: 1 },
    });
    try {
      const controller = new AbortController();
      const first = request(`http://app.test:${plainPort}/`, { dispatcher, signal: controller.signal });
      await new Promise((r) => setTimeout(r, 30));
      // Listening after the dispatcher did: the first request has ended (its dial is being aborted)
      // when the second one comes.
      let second: ReturnType<typeof request> | undefined;
      controller.signal.addEventListener('abort', () => {
        second = request(`http://app.test:${plainPort}/`, { dispatcher });
      });
      controller.abort();
      await assert.rejects(first, (e: Error) => e.name === 'AbortError');
      const res = await (second as ReturnType<typeof request>);
      assert.equal(await res.body.text(), `plain host=app.test:${plainPort}`);
    } finally {
      await dispatcher.close();
    }
  });

  test('destroy() of the dispatcher aborts its dials', async () => {
    const { watched, cancelled } = neverAnswering();
    const dispatcher = createDispatcher({ dialer, resolver: watched, connectTimeout: 30_000 });
    const pending = request(`http://app.test:${plainPort}/`, { dispatcher }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await dispatcher.destroy();
    const err = (await pending) as Error & { code?: string };
    assert.ok(err instanceof Error, 'the request fails');
    assert.ok(performance.now() - t0 < 2000, 'at once');
    // undici fails the request by itself; the dial stops only because netdial's dispatcher aborts it.
    assert.equal(cancelled(), 2, "the dial's lookups were cancelled");
  });

  test('a tunnel socket (httpSocket): TLS for https within connectTimeout, as is for http, refused when closed', async () => {
    const connect = connector({ connectTimeout: 150, tls: { ca: cert.cert } });
    const call = (opts: Record<string, unknown>) =>
      new Promise<{ err: Error | null; socket: net.Socket | null }>((resolve) =>
        (connect as unknown as (o: unknown, cb: (e: Error | null, s: net.Socket | null) => void) => void)(
          opts,
          (err, socket) => resolve({ err, socket }),
        ),
      );
    // https over a tunnel whose far end never answers the handshake: the deadline holds.
    const tunnel = net.connect(mutePort, '127.0.0.1');
    await once(tunnel, 'connect');
    const t0 = performance.now();
    const tls1 = await call({
      protocol: 'https:',
      hostname: 'localhost',
      port: mutePort,
      httpSocket: tunnel,
    });
    assert.equal((tls1.err as { code?: string }).code, 'UND_ERR_CONNECT_TIMEOUT');
    assert.ok(performance.now() - t0 < 2000);
    assert.ok(tunnel.destroyed, 'the tunnel is closed with the failed handshake');
    // https over a tunnel to a real TLS server: a TLS socket, certificate checked.
    const tunnel2 = net.connect(securePort, '127.0.0.1');
    await once(tunnel2, 'connect');
    const tls2 = await call({
      protocol: 'https:',
      hostname: 'localhost',
      port: securePort,
      httpSocket: tunnel2,
    });
    assert.equal(tls2.err, null);
    assert.equal((tls2.socket as tls.TLSSocket).authorized, true);
    tls2.socket?.destroy();
    // plain http over a tunnel: nothing to do, the socket comes back as it is (undici's own asserts).
    const tunnel3 = net.connect(plainPort, '127.0.0.1');
    await once(tunnel3, 'connect');
    const plain3 = await call({
      protocol: 'http:',
      hostname: 'localhost',
      port: plainPort,
      httpSocket: tunnel3,
    });
    assert.equal(plain3.err, null);
    assert.equal(plain3.socket, tunnel3);
    tunnel3.destroy();
    // a tunnel that is already closed: undici's SocketError, no TLS on it.
    const dead = await call({ protocol: 'https:', hostname: 'localhost', port: 1, httpSocket: tunnel3 });
    assert.equal((dead.err as { code?: string }).code, 'UND_ERR_SOCKET');
  });

  test('bad connectTimeout is a TypeError with a stable code', () => {
    for (const bad of [0, -5, Number.NaN, '10s']) {
      assert.throws(
        () => connector({ connectTimeout: bad as number }),
        (e: TypeError & { code?: string }) =>
          e instanceof TypeError && e.code === 'ERR_NETDIAL_INVALID_OPTION',
      );
    }
  });
});
