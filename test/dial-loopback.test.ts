/**
 * dial() with real sockets on loopback: the `localhost` ECONNREFUSED that Node users hit, every address
 * refused, abort before and during the dial, TLS with SNI checked by the server, and nothing left behind.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import {
  Dialer,
  type DialError,
  getReport,
  isAbortError,
  isDialError,
  type ResolveFunction,
} from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { closeServer, trackConnections } from './support/servers.js';
import { makeSelfSignedCert, type TestCert } from './support/tls-cert.js';

/** A resolver for tests: fixed answers per family, optionally late; never touches real DNS. */
function fixedResolver(
  answers: { 4?: string[]; 6?: string[] },
  delayMs: { 4?: number; 6?: number } = {},
): ResolveFunction {
  return async (_name, family, { signal }) => {
    const wait = delayMs[family] ?? 0;
    if (wait > 0) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, wait);
        signal.addEventListener('abort', () => {
          clearTimeout(t);
          reject(Object.assign(new Error('cancelled'), { code: 'ECANCELLED' }));
        });
      });
    }
    return answers[family] ?? [];
  };
}

/** A resolver that never answers until the dial gives up on it. */
const silentResolver: ResolveFunction = (_name, _family, { signal }) =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('cancelled'))));

async function listen(server: net.Server, host: string): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** A port on which nothing listens on 127.0.0.1 and ::1 (bound, read, closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s, '127.0.0.1');
  s.close();
  await once(s, 'close');
  return port;
}

/** Counts connections a server accepted and how many of them are closed again. */
function track(server: net.Server): { accepted: number; closed: number } {
  const counts = { accepted: 0, closed: 0 };
  server.on('connection', (s) => {
    counts.accepted++;
    s.on('close', () => counts.closed++);
    s.on('error', () => {});
  });
  return counts;
}

async function closeSocket(s: net.Socket): Promise<void> {
  if (s.destroyed) return;
  s.destroy();
  await once(s, 'close');
}

describe('dial on loopback', () => {
  const server = trackConnections(net.createServer());
  const counts = track(server);
  let port = 0;
  before(async () => {
    port = await listen(server, '127.0.0.1');
  });
  after(() => closeServer(server));

  test('name with ::1 (refused) and 127.0.0.1 (listening) connects over IPv4', async () => {
    const baseline = activeResources();
    const dialer = new Dialer({ resolver: fixedResolver({ 6: ['::1'], 4: ['127.0.0.1'] }) });
    const socket = await dialer.dial(`localhost:${port}`);
    assert.equal(socket.remoteAddress, '127.0.0.1');
    const report = getReport(socket)!;
    assert.deepEqual(
      report.attempts.map((a) => [a.address, a.outcome, a.code]),
      [
        ['::1', 'failed', 'ECONNREFUSED'],
        ['127.0.0.1', 'connected', undefined],
      ],
    );
    // RFC 6724 precedence puts ::1 (50) before IPv4 (35); the refusal started the next attempt at once.
    assert.equal(report.attempts[1]?.trigger, 'failure');
    assert.equal(report.winner?.address, '127.0.0.1');
    assert.deepEqual(
      report.resolution.queries.map((q) => [q.type, q.source, q.addresses?.map((a) => a.address)]),
      [
        ['AAAA', 'custom', ['::1']],
        ['A', 'custom', ['127.0.0.1']],
      ],
    );
    await closeSocket(socket);
    await assertNoLeaks(baseline);
  });

  test('the winning socket is handed over untouched: no bytes read or lost', async () => {
    const greeter = trackConnections(net.createServer((s) => s.end('hello from the server\n')));
    const gport = await listen(greeter, '127.0.0.1');
    try {
      const dialer = new Dialer({ resolver: fixedResolver({ 4: ['127.0.0.1'] }) });
      const socket = await dialer.dial({ host: 'greeter.test', port: gport });
      await new Promise((r) => setTimeout(r, 50)); // the greeting arrives before anyone reads
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      await once(socket, 'end');
      assert.equal(Buffer.concat(chunks).toString(), 'hello from the server\n');
      await closeSocket(socket);
    } finally {
      await closeServer(greeter);
    }
  });

  test('every address refused: one DialError lists every attempt', async () => {
    const baseline = activeResources();
    const dead = await closedPort();
    // memory: false keeps DNS order among equal addresses (no load-sharing shuffle), so the list is exact.
    const dialer = new Dialer({
      resolver: fixedResolver({ 6: ['::1'], 4: ['127.0.0.1', '127.0.0.2'] }),
      memory: false,
    });
    const err = (await dialer.dial(`refused.test:${dead}`).then(
      () => assert.fail('connected'),
      (e: unknown) => e,
    )) as DialError;
    assert.ok(isDialError(err));
    assert.ok(err instanceof AggregateError);
    assert.equal(err.code, 'ECONNREFUSED');
    assert.deepEqual(
      err.attempts.map((a) => [a.address, a.phase, a.code]),
      [
        ['::1', 'tcp', 'ECONNREFUSED'],
        ['127.0.0.1', 'tcp', 'ECONNREFUSED'],
        ['127.0.0.2', 'tcp', 'ECONNREFUSED'],
      ],
    );
    assert.equal(err.errors.length, 3);
    assert.match(
      err.message,
      new RegExp(
        `^connect refused\\.test:${dead} failed after 3 attempts in \\d+ ms: ::1 ECONNREFUSED; 127\\.0\\.0\\.1 ECONNREFUSED; 127\\.0\\.0\\.2 ECONNREFUSED$`,
      ),
    );
    for (const a of err.attempts) assert.ok(a.startMs >= 0 && a.durationMs >= 0);
    await assertNoLeaks(baseline);
  });

  test('an IP literal is dialled as it is: one attempt, no DNS entry for the other family', async () => {
    const dead = await closedPort();
    const err = (await new Dialer().dial(`127.0.0.1:${dead}`).catch((e: unknown) => e)) as DialError;
    assert.ok(isDialError(err));
    assert.deepEqual(
      err.attempts.map((a) => [a.address, a.phase, a.code]),
      [['127.0.0.1', 'tcp', 'ECONNREFUSED']],
    );
  });

  test('a name without addresses fails with ENOTFOUND and attempts nothing', async () => {
    const notFound: ResolveFunction = async () => {
      throw Object.assign(new Error('queryA ENOTFOUND nx.test'), { code: 'ENOTFOUND' });
    };
    const err = (await new Dialer({ resolver: notFound })
      .dial('nx.test:80')
      .catch((e: unknown) => e)) as DialError;
    assert.ok(isDialError(err));
    assert.equal(err.code, 'ENOTFOUND');
    assert.deepEqual(
      err.attempts.map((a) => [a.phase, a.family, a.code]),
      [
        ['dns', 6, 'ENOTFOUND'],
        ['dns', 4, 'ENOTFOUND'],
      ],
    );
    assert.match(
      err.message,
      /^connect nx\.test:80 failed in \d+ ms: nx\.test has no address \(AAAA ENOTFOUND; A ENOTFOUND\)$/,
    );
  });

  test('abort before the dial: AbortError with the reason as cause, nothing started', async () => {
    const baseline = activeResources();
    const reason = new Error('user gave up');
    const before = counts.accepted;
    const err = await new Dialer({ resolver: fixedResolver({ 4: ['127.0.0.1'] }) })
      .dial(`x.test:${port}`, { signal: AbortSignal.abort(reason) })
      .catch((e: unknown) => e);
    assert.ok(isAbortError(err));
    assert.equal((err as Error).name, 'AbortError');
    assert.equal((err as { code: string }).code, 'ABORT_ERR');
    assert.equal((err as Error).cause, reason);
    assert.equal(counts.accepted, before);
    await assertNoLeaks(baseline);
  });

  test('abort while resolving: rejects promptly and cancels the resolver', async () => {
    const baseline = activeResources();
    const controller = new AbortController();
    const dialing = new Dialer({ resolver: silentResolver }).dial('slow.test:80', {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error('stop')), 20);
    const err = await dialing.catch((e: unknown) => e);
    assert.ok(isAbortError(err));
    await assertNoLeaks(baseline);
  });

  test("a custom resolver's signal: one for both families, aborted when the dial ends, even if first read then", async () => {
    // Both families read it during the dial: one signal, aborted once the dial is over.
    const seen: AbortSignal[] = [];
    const reading: ResolveFunction = async (_name, family, { signal }) => {
      seen.push(signal);
      return family === 4 ? ['127.0.0.1'] : [];
    };
    const first = await new Dialer({ resolver: reading, memory: false }).dial(`signal.test:${port}`);
    first.destroy();
    assert.equal(seen.length, 2);
    assert.equal(seen[0], seen[1], 'the same signal for both families');
    assert.equal(seen[0]?.aborted, true);
    // Nobody reads it during the dial; read afterwards, it is already aborted.
    let readLate: (() => AbortSignal) | undefined;
    const lazy: ResolveFunction = async (_name, family, context) => {
      if (family === 6) readLate = () => context.signal;
      return family === 4 ? ['127.0.0.1'] : [];
    };
    const second = await new Dialer({ resolver: lazy, memory: false }).dial(`signal.test:${port}`);
    second.destroy();
    assert.ok(readLate !== undefined);
    assert.equal(readLate().aborted, true, 'the dial is over: the resolver is told to stop');
  });

  test('abort in the Resolution Delay (A in, AAAA late): no attempt is made', async () => {
    const controller = new AbortController();
    const before = counts.accepted;
    const dialing = new Dialer({
      resolver: fixedResolver({ 4: ['127.0.0.1'], 6: ['::1'] }, { 6: 5000 }),
      resolutionDelay: 2000,
    }).dial(`late.test:${port}`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    assert.ok(isAbortError(await dialing.catch((e: unknown) => e)));
    assert.equal(counts.accepted, before);
  });

  test('the overall timeout bounds a dial whose DNS never answers', async () => {
    const baseline = activeResources();
    const err = (await new Dialer({ resolver: silentResolver, timeout: 100 })
      .dial('slow.test:80')
      .catch((e: unknown) => e)) as DialError;
    assert.ok(isDialError(err));
    assert.equal(err.code, 'ETIMEDOUT');
    assert.deepEqual(
      err.attempts.map((a) => [a.phase, a.code]),
      [
        ['dns', 'ETIMEOUT'],
        ['dns', 'ETIMEOUT'],
      ],
    );
    await assertNoLeaks(baseline);
  });

  test('bad targets and options reject with a TypeError that has a code', async () => {
    const d = new Dialer({ resolver: silentResolver });
    for (const [target, options, code] of [
      ['', undefined, 'ERR_NETDIAL_INVALID_TARGET'],
      ['example.test:0', undefined, 'ERR_NETDIAL_INVALID_TARGET'],
      ['example.test:65536', undefined, 'ERR_NETDIAL_INVALID_TARGET'],
      [`${'a'.repeat(64)}.test:80`, undefined, 'ERR_NETDIAL_INVALID_TARGET'],
      ['exa mple.test:80', undefined, 'ERR_NETDIAL_INVALID_TARGET'],
      ['example.test:80', { timeout: -1 }, 'ERR_NETDIAL_INVALID_OPTION'],
      ['example.test:80', { family: 5 }, 'ERR_NETDIAL_INVALID_OPTION'],
      ['example.test:80', { attemptDelay: 5 }, 'ERR_NETDIAL_INVALID_OPTION'],
      ['example.test:80', { maxConcurrentAttempts: 0 }, 'ERR_NETDIAL_INVALID_OPTION'],
      ['example.test:80', { localAddress: 'not-an-ip' }, 'ERR_NETDIAL_INVALID_OPTION'],
      ['example.test:80', { signal: 'nope' }, 'ERR_NETDIAL_INVALID_OPTION'],
    ] as const) {
      const err = await d.dial(target, options as never).catch((e: unknown) => e);
      assert.ok(err instanceof TypeError, `${target} ${JSON.stringify(options)} -> ${err}`);
      assert.equal((err as { code?: string }).code, code);
    }
  });

  test('a non-ASCII name is dialled in its IDNA ASCII form', async () => {
    const seen: string[] = [];
    const resolver: ResolveFunction = async (name, family) => {
      seen.push(name);
      return family === 4 ? ['127.0.0.1'] : [];
    };
    const socket = await new Dialer({ resolver }).dial(`bücher.test:${port}`);
    assert.deepEqual([...new Set(seen)], ['xn--bcher-kva.test']);
    await closeSocket(socket);
  });

  test('every connection the server accepted is closed again once the tests close theirs', async () => {
    for (let i = 0; i < 50 && counts.closed < counts.accepted; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(counts.closed, counts.accepted);
  });
});

describe('dial with TLS on loopback', () => {
  let cert: TestCert;
  let server: tls.Server;
  let port = 0;
  /** The server answers every connection with the SNI name it received ('false' when none). */
  const readAll = async (s: net.Socket): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString();
  };
  before(async () => {
    cert = makeSelfSignedCert('localhost');
    server = trackConnections(
      tls.createServer({ key: cert.key, cert: cert.cert, ALPNProtocols: ['h2', 'http/1.1'] }, (s) => {
        s.end(String((s as tls.TLSSocket & { servername: string | false }).servername));
      }),
    );
    server.on('tlsClientError', () => {});
    port = await listen(server, '127.0.0.1');
  });
  after(() => closeServer(server));

  test('SNI is the host name, the certificate is checked against it, ALPN passes through', async () => {
    const baseline = activeResources();
    const dialer = new Dialer({ resolver: fixedResolver({ 4: ['127.0.0.1'] }) });
    const socket = (await dialer.dial(`localhost:${port}`, {
      tls: { ca: cert.cert, ALPNProtocols: ['http/1.1'] },
    })) as tls.TLSSocket;
    assert.ok(socket instanceof tls.TLSSocket);
    assert.equal(socket.authorized, true);
    assert.equal(socket.alpnProtocol, 'http/1.1');
    assert.equal(await readAll(socket), 'localhost');
    const report = getReport(socket)!;
    assert.equal(report.tls?.servername, 'localhost');
    assert.equal(report.tls?.alpnProtocol, 'http/1.1');
    assert.ok((report.tls?.endMs ?? -1) >= report.tls!.startMs);
    await closeSocket(socket);
    await assertNoLeaks(baseline);
  });

  test('an IP literal sends no SNI and is checked against the IP', async () => {
    const socket = (await new Dialer().dial(`127.0.0.1:${port}`, {
      tls: { ca: cert.cert },
    })) as tls.TLSSocket;
    assert.equal(socket.authorized, true);
    assert.equal(await readAll(socket), 'false');
    await closeSocket(socket);
  });

  test('https URL targets get TLS by default', async () => {
    const dialer = new Dialer({ resolver: fixedResolver({ 4: ['127.0.0.1'] }), tls: { ca: cert.cert } });
    const socket = await dialer.dial(`https://localhost:${port}/path`);
    assert.ok(socket instanceof tls.TLSSocket);
    await closeSocket(socket);
  });

  test('a certificate error is final and reported as a TLS failure', async () => {
    const baseline = activeResources();
    const err = (await new Dialer({ resolver: fixedResolver({ 4: ['127.0.0.1'] }) })
      .dial(`localhost:${port}`, { tls: true })
      .catch((e: unknown) => e)) as DialError;
    assert.ok(isDialError(err));
    assert.equal(err.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.deepEqual(
      err.attempts.map((a) => [a.address, a.phase, a.code]),
      [['127.0.0.1', 'tls', 'DEPTH_ZERO_SELF_SIGNED_CERT']],
    );
    assert.match(err.message, /TLS handshake with 127\.0\.0\.1/);
    await assertNoLeaks(baseline);
  });

  test('abort during the TLS handshake closes the connection', async () => {
    // Accepts TCP, reads and drops the ClientHello, never answers (reading lets it see the client's FIN).
    const mute = trackConnections(net.createServer((s) => s.resume()));
    const mutePort = await listen(mute, '127.0.0.1');
    const counts = track(mute);
    try {
      const baseline = activeResources();
      const controller = new AbortController();
      const dialing = new Dialer({ resolver: fixedResolver({ 4: ['127.0.0.1'] }) }).dial(
        `localhost:${mutePort}`,
        {
          tls: true,
          signal: controller.signal,
        },
      );
      setTimeout(() => controller.abort(), 50);
      assert.ok(isAbortError(await dialing.catch((e: unknown) => e)));
      await assertNoLeaks(baseline);
      for (let i = 0; i < 50 && counts.closed < counts.accepted; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(counts.accepted, 1);
      assert.equal(counts.closed, 1);
    } finally {
      await closeServer(mute);
    }
  });

  test('the timeout bounds the TLS handshake too', async () => {
    const mute = trackConnections(net.createServer((s) => s.on('error', () => {}).resume()));
    const mutePort = await listen(mute, '127.0.0.1');
    try {
      const err = (await new Dialer({ resolver: fixedResolver({ 4: ['127.0.0.1'] }) })
        .dial(`localhost:${mutePort}`, { tls: true, timeout: 150 })
        .catch((e: unknown) => e)) as DialError;
      assert.ok(isDialError(err));
      assert.equal(err.code, 'ETIMEDOUT');
      assert.equal(err.attempts[0]?.phase, 'tls');
    } finally {
      await closeServer(mute);
    }
  });
});
