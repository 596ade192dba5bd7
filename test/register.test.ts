/**
 * `register()` in this process: it replaces http.globalAgent, https.globalAgent (keeping Node's agent
 * options), undici's global dispatcher and the default Dialer, hooks the memory file and the trace; its
 * restore puts back exactly what was there (the ESM named export `globalAgent` included), leaves in
 * place what was installed over it since, and is idempotent. A bad value throws before anything is
 * replaced. Requests go to a loopback server.
 */
import assert from 'node:assert/strict';
import * as diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http, { globalAgent as namedGlobalAgent } from 'node:http';
import * as httpNamespace from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import type { MemoryJson } from '../src/memory/dial-memory.js';
import { uncoveredFetchError } from '../src/adoption/register.js';
import { Agent, getDefaultDialer, getReport, HttpsAgent, register } from '../src/index.js';
import { makeSelfSignedCert } from './support/tls-cert.js';

/** Runs `fn` with process.stderr.write captured; returns what was written (and still writes nothing). */
async function captureStderr(fn: () => Promise<void>): Promise<string> {
  const write = process.stderr.write;
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = write;
  }
  return text;
}

const VARIABLES = [
  'NETDIAL_POLICY',
  'NETDIAL_TRACE',
  'NETDIAL_MEMORY_FILE',
  'NETDIAL_PROXY',
  'NETDIAL_ALLOW_UNIX_SOCKETS',
  'NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH',
] as const;

/** What register() touches, as it is now. */
function snapshot() {
  return {
    http: http.globalAgent,
    https: https.globalAgent,
    named: httpNamespace.globalAgent,
    dispatcher: getGlobalDispatcher(),
    dialer: getDefaultDialer(),
    exit: process.listenerCount('exit'),
    sigint: process.listenerCount('SIGINT'),
    sigterm: process.listenerCount('SIGTERM'),
    sighup: process.listenerCount('SIGHUP'),
    traced:
      diagnosticsChannel.channel('netdial:dial:done').hasSubscribers ||
      diagnosticsChannel.channel('netdial:dial:error').hasSubscribers,
  };
}

/** GETs `url` with http.get (the global agent); resolves with the body and the response's socket. */
function get(url: string): Promise<{ body: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const socket = res.socket; // before the agent takes it back into its pool
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ body, socket }));
      })
      .on('error', reject);
  });
}

/**
 * Waits (polling, at most `limitMs`) until `condition` holds; fails naming `what` otherwise. The default
 * stays below the 5 s idle timeouts of Node's agents and servers, which would close sockets by themselves.
 */
async function until(condition: () => boolean, what: string, limitMs = 2000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('register()', () => {
  let saved: Record<string, string | undefined> = {};
  let dir = '';
  let server: http.Server;
  let url = '';

  beforeEach(async () => {
    saved = Object.fromEntries(VARIABLES.map((v) => [v, process.env[v]]));
    for (const v of VARIABLES) delete process.env[v];
    dir = mkdtempSync(join(tmpdir(), 'netdial-register-'));
    server = http.createServer((_req, res) => res.end('hello'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
  });

  afterEach(async () => {
    for (const v of VARIABLES) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
    rmSync(dir, { recursive: true, force: true });
  });

  test('replaces the global agents, dispatcher and default Dialer; restore puts back exactly what was there', async () => {
    const before = snapshot();
    const file = join(dir, 'memory.json');
    process.env.NETDIAL_POLICY = '198.51.100.0/24';
    process.env.NETDIAL_TRACE = '0';
    process.env.NETDIAL_MEMORY_FILE = file;
    const restore = register();
    let restored = false;
    try {
      assert.ok(http.globalAgent instanceof Agent);
      assert.ok(https.globalAgent instanceof HttpsAgent);
      assert.equal(httpNamespace.globalAgent, http.globalAgent, 'the ESM named export follows');
      // Node 20's defaults kept: keep-alive, lifo scheduling, the 5 s idle timeout, noDelay.
      for (const [now, was] of [
        [http.globalAgent, before.http],
        [https.globalAgent, before.https],
      ] as const) {
        const { path: _p, ...wasOptions } = (was as unknown as { options: Record<string, unknown> }).options;
        const nowOptions = (now as unknown as { options: Record<string, unknown> }).options;
        for (const [key, value] of Object.entries(wasOptions)) assert.equal(nowOptions[key], value, key);
        assert.equal(nowOptions.keepAlive, true);
      }
      assert.notEqual(getGlobalDispatcher(), before.dispatcher);
      const dialer = getDefaultDialer();
      assert.notEqual(dialer, before.dialer);
      assert.equal(dialer.hasPolicy, true, 'NETDIAL_POLICY configured the default Dialer');
      assert.equal(snapshot().exit, before.exit + 1, 'the memory file is saved at exit');
      assert.equal(snapshot().traced, false, 'NETDIAL_TRACE=0: no trace');

      // http.get and fetch both dial through netdial now, with the default Dialer's memory.
      const { body, socket } = await get(url);
      assert.equal(body, 'hello');
      assert.equal(getReport(socket)?.winner?.address, '127.0.0.1');
      const res = await fetch(url);
      assert.equal(await res.text(), 'hello');
      const port = Number(new URL(url).port);
      const remembered = dialer.exportMemory()?.endpoints.endpoints.filter((e) => e.port === port);
      assert.equal(remembered?.length, 1);

      restored = true;
      await restore();
    } finally {
      if (!restored) await restore();
    }
    const after = snapshot();
    assert.deepEqual(after, before);
    assert.equal(namedGlobalAgent, before.named);
    // restore() saved the memory file (and the exit hook is gone).
    const json = JSON.parse(readFileSync(file, 'utf8')) as MemoryJson;
    assert.equal(json.version, 1);
    assert.ok(json.endpoints.endpoints.some((e) => e.address === '127.0.0.1'));
    // Idempotent.
    await restore();
    assert.deepEqual(snapshot(), before);
  });

  test('NETDIAL_TRACE=1 subscribes the trace writer, restore unsubscribes it', async () => {
    const before = snapshot();
    process.env.NETDIAL_TRACE = '1';
    const restore = register();
    try {
      assert.equal(snapshot().traced, true);
    } finally {
      await restore();
    }
    assert.deepEqual(snapshot(), before);
  });

  test('under NETDIAL_POLICY a Unix-socket request is refused, as with the policy option; without, it connects', async () => {
    const path = join(dir, 'app.sock');
    const unix = http.createServer((_req, res) => res.end('over unix'));
    unix.listen(path);
    await once(unix, 'listening');
    const getUnix = () =>
      new Promise<string>((resolve) => {
        http
          .get({ socketPath: path, path: '/' }, (res) => {
            res.resume();
            res.on('end', () => resolve(`status ${res.statusCode}`));
          })
          .on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
      });
    try {
      process.env.NETDIAL_POLICY = 'public';
      let restore = register();
      try {
        assert.equal(await getUnix(), 'error ERR_NETDIAL_DENIED');
        const message = await new Promise<string>((resolve) => {
          http.get({ socketPath: path, path: '/' }).on('error', (err) => resolve(err.message));
        });
        // The path without a port, and a way a zero-code user can follow.
        assert.equal(
          message,
          `connect ${path} refused by the address policy: a Unix socket is not an IP address (to allow Unix sockets: the allowUnixSockets: true option, or NETDIAL_ALLOW_UNIX_SOCKETS=1 under netdial/register)`,
        );
      } finally {
        await restore();
      }
      process.env.NETDIAL_ALLOW_UNIX_SOCKETS = '1';
      restore = register();
      try {
        assert.equal(getDefaultDialer().hasPolicy, true);
        assert.equal(await getUnix(), 'status 200', 'NETDIAL_ALLOW_UNIX_SOCKETS=1 lets it connect');
      } finally {
        await restore();
      }
      delete process.env.NETDIAL_ALLOW_UNIX_SOCKETS;
      restore = register({ allowUnixSockets: true });
      try {
        assert.equal(await getUnix(), 'status 200', 'so does the allowUnixSockets option');
      } finally {
        await restore();
      }
      delete process.env.NETDIAL_POLICY;
      restore = register();
      try {
        assert.equal(await getUnix(), 'status 200');
      } finally {
        await restore();
      }
    } finally {
      unix.closeAllConnections();
      unix.close();
      await once(unix, 'close');
    }
  });

  test('restore lets a request in flight finish, then closes its socket; idle pooled sockets close at once', async () => {
    let release: () => void = () => {};
    const slow = http.createServer((req, res) => {
      if (req.url === '/slow') release = () => res.end('late');
      else res.end('quick');
    });
    const sockets = new Set<net.Socket>();
    slow.on('connection', (s: net.Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    slow.listen(0, '127.0.0.1');
    await once(slow, 'listening');
    const base = `http://127.0.0.1:${(slow.address() as net.AddressInfo).port}`;
    const restore = register();
    try {
      const waiting = get(`${base}/slow`); // one connection, busy until released
      await until(() => sockets.size === 1, 'the slow request connected');
      assert.equal((await get(`${base}/quick`)).body, 'quick'); // a second one, then idle in the pool
      await until(() => sockets.size === 2, 'two connections');
      await restore();
      await until(() => sockets.size === 1, 'the idle pooled socket closed at restore');
      release();
      assert.equal((await waiting).body, 'late', 'the request in flight finished');
      await until(() => sockets.size === 0, 'its socket closed after it');
    } finally {
      await restore();
      release();
      slow.closeAllConnections();
      slow.close();
      await once(slow, 'close');
    }
  });

  test('restore leaves in place what was installed over netdial since', async () => {
    const before = snapshot();
    const restore = register();
    const mine = new http.Agent();
    const theirs = getGlobalDispatcher();
    http.globalAgent = mine;
    try {
      await restore();
      assert.equal(http.globalAgent, mine, 'an agent set after register() stays');
      assert.equal(https.globalAgent, before.https);
      assert.equal(getGlobalDispatcher(), before.dispatcher);
      assert.notEqual(theirs, before.dispatcher);
    } finally {
      http.globalAgent = before.http;
      syncBuiltinESMExports();
      mine.destroy();
      setGlobalDispatcher(before.dispatcher);
    }
  });

  test('a bad value throws naming the variable, and nothing is replaced', () => {
    const before = snapshot();
    const cases: Array<[string, string, RegExp]> = [
      ['NETDIAL_POLICY', 'public,,loopback', /^NETDIAL_POLICY: item 2 of "public,,loopback" is empty/],
      [
        'NETDIAL_POLICY',
        '198.51.100.7/24',
        /^NETDIAL_POLICY: item 1 of "198\.51\.100\.7\/24": .*did you mean "198\.51\.100\.0\/24"/,
      ],
      [
        'NETDIAL_TRACE',
        'verbose',
        /^NETDIAL_TRACE: expected 1, true, yes or on \(or 0, false, no, off\), got "verbose"$/,
      ],
      [
        'NETDIAL_MEMORY_FILE',
        join(dir, 'missing-dir', 'memory.json'),
        /^NETDIAL_MEMORY_FILE: the directory of .* cannot be used \(ENOENT\)$/,
      ],
      ['NETDIAL_MEMORY_FILE', dir, /^NETDIAL_MEMORY_FILE: .* is a directory$/],
      [
        'NETDIAL_PROXY',
        'ftp://proxy.test:21',
        /^NETDIAL_PROXY: proxy scheme must be http, https, socks5 or socks5h, got "ftp"/,
      ],
      ['NETDIAL_TRAC', '1', /^NETDIAL_TRAC: unknown variable; did you mean NETDIAL_TRACE\?$/],
    ];
    for (const [variable, value, message] of cases) {
      process.env[variable] = value;
      try {
        assert.throws(
          () => register(),
          (err: Error & { code?: string; variable?: string }) => {
            assert.match(err.message, message);
            assert.ok(err instanceof TypeError);
            assert.equal(err.variable, variable);
            assert.equal(err.code, 'ERR_NETDIAL_INVALID_ENV');
            return true;
          },
          `${variable}=${value}`,
        );
      } finally {
        delete process.env[variable];
      }
      assert.deepEqual(snapshot(), before, `${variable}=${value} replaced something`);
    }
  });

  test('register(options): the knobs of the variables from code; an option wins over its variable, the rest is still read', async () => {
    const before = snapshot();
    process.env.NETDIAL_TRACE = '1';
    let restore = register({ policy: 'public' });
    try {
      assert.equal(getDefaultDialer().hasPolicy, true, 'register({ policy }) sets the policy');
      assert.equal(snapshot().traced, true, 'NETDIAL_TRACE is still read');
      const refused = await new Promise<string>((resolve) => {
        http.get(url).on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? ''));
      });
      assert.equal(refused, 'ERR_NETDIAL_DENIED');
    } finally {
      await restore();
    }
    process.env.NETDIAL_POLICY = 'public';
    restore = register({ trace: false, policy: { deny: ['198.51.100.0/24'] } });
    try {
      assert.equal(snapshot().traced, false, 'trace: false wins over NETDIAL_TRACE=1');
      assert.equal((await get(url)).body, 'hello', "the option's policy, not NETDIAL_POLICY's, is in force");
    } finally {
      await restore();
    }
    delete process.env.NETDIAL_POLICY;
    delete process.env.NETDIAL_TRACE;
    const file = join(dir, 'from-code.json');
    restore = register({ memoryFile: file });
    try {
      await get(url);
    } finally {
      await restore();
    }
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as MemoryJson).version, 1);
    assert.deepEqual(snapshot(), before);
    // proxy: the agents' connections go through it (a CONNECT proxy that pipes to the asked target).
    const connects: string[] = [];
    const proxy = net.createServer((client) => {
      client.on('error', () => {});
      client.once('data', (head: Buffer) => {
        const line = head.toString('latin1').split('\r\n')[0]!;
        connects.push(line);
        const [host, port] = line.split(' ')[1]!.split(':');
        const upstream = net.connect(Number(port), host, () => {
          client.write('HTTP/1.1 200 Connection established\r\n\r\n');
          client.pipe(upstream).pipe(client);
        });
        upstream.on('error', () => client.destroy());
      });
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    restore = register({ proxy: `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}` });
    try {
      assert.equal((await get(url)).body, 'hello');
      assert.equal(connects.length, 1, 'the request went through the proxy');
      assert.match(connects[0]!, /^CONNECT 127\.0\.0\.1:\d+ HTTP\/1\.1$/);
    } finally {
      await restore();
      await new Promise((r) => proxy.close(r));
    }
    assert.deepEqual(snapshot(), before);
    const bad: Array<[unknown, RegExp]> = [
      [{ proxy: 'socks4://127.0.0.1:1080' }, /^invalid option proxy: proxy scheme must be/],
      [{ polcy: 'public' }, /^invalid option polcy: unknown option; did you mean policy\?$/],
      [{ trace: 'yes' }, /^invalid option trace: expected a boolean, got string$/],
      [{ memoryFile: '' }, /^invalid option memoryFile: expected a non-empty file path$/],
      [{ policy: 'private-only' }, /^invalid option policy/],
      ['public', /^invalid option options: expected an object, got string$/],
    ];
    for (const [options, message] of bad) {
      assert.throws(
        () => register(options as Parameters<typeof register>[0]),
        (err: Error & { code?: string }) => {
          assert.ok(err instanceof TypeError, String(err));
          assert.equal(err.code, 'ERR_NETDIAL_INVALID_OPTION');
          assert.match(err.message, message);
          return true;
        },
      );
      assert.deepEqual(snapshot(), before, `${JSON.stringify(options)} replaced something`);
    }
  });

  test('the refusal of a policy that global fetch would bypass names the setting, the reason and both ways out', () => {
    const env = uncoveredFetchError(false);
    assert.equal(env.code, 'ERR_NETDIAL_UNCOVERED_FETCH');
    assert.equal(
      env.message,
      'NETDIAL_POLICY: global fetch and WebSocket would bypass the policy: they can only be covered with the undici package installed (npm install undici, ^6.21 or ^7); to start anyway with http/https covered and fetch not, set NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH=1',
    );
    assert.match(uncoveredFetchError(true).message, /^policy: .*set allowUncoveredFetch: true$/);
  });

  test("NETDIAL_MEMORY_FILE: a file that is not netdial's is never saved over; a symlink is written through", async () => {
    const foreign = join(dir, 'package.json');
    const text = '{ "name": "app", "version": "1.0.0" }\n';
    for (const content of [text, '{"version":99}']) {
      writeFileSync(foreign, content);
      process.env.NETDIAL_MEMORY_FILE = foreign;
      const restore = register();
      try {
        await get(url);
      } finally {
        await restore(); // saves now, if it saves at all
      }
      assert.equal(readFileSync(foreign, 'utf8'), content, 'left as it was');
    }
    const target = join(dir, 'real-memory.json');
    const link = join(dir, 'link.json');
    symlinkSync(target, link);
    process.env.NETDIAL_MEMORY_FILE = link;
    const restore = register();
    try {
      await get(url);
    } finally {
      await restore();
    }
    const { lstatSync } = await import('node:fs');
    assert.equal(lstatSync(link).isSymbolicLink(), true, 'the link stays a link');
    assert.equal(
      (JSON.parse(readFileSync(target, 'utf8')) as MemoryJson).version,
      1,
      'its target holds the memory',
    );
  });

  test('NETDIAL_TRACE: an https.globalAgent or fetch request whose certificate check fails has a line saying so', async () => {
    const { key, cert } = makeSelfSignedCert();
    const secure = https.createServer({ key, cert }, (_req, res) => res.end('secret'));
    secure.listen(0, '127.0.0.1');
    await once(secure, 'listening');
    const base = `https://127.0.0.1:${(secure.address() as net.AddressInfo).port}/`;
    const request = (options: https.RequestOptions) =>
      new Promise<string>((resolve) => {
        https
          .get(base, options, (res) => {
            res.resume();
            res.on('end', () => resolve(`status ${res.statusCode}`));
          })
          .on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
      });
    // The agents and the connector race TLS inside the dial: the dial's one line says how TLS went — a
    // certificate the client refuses is the dial's failure, never a success line.
    const certFailure =
      /^netdial: connect 127\.0\.0\.1:\d+ failed in [\d.]+ m?s: TLS handshake with 127\.0\.0\.1: self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\)$/;
    process.env.NETDIAL_TRACE = '1';
    const restore = register();
    try {
      let outcome = '';
      const failed = await captureStderr(async () => {
        outcome = await request({}); // the self-signed certificate is not trusted
      });
      assert.equal(outcome, 'error DEPTH_ZERO_SELF_SIGNED_CERT');
      const lines = failed.trim().split('\n');
      assert.equal(lines.length, 1, failed);
      assert.match(lines[0]!, certFailure);
      const ok = await captureStderr(async () => {
        outcome = await request({ ca: cert, agent: undefined });
      });
      assert.equal(outcome, 'status 200');
      assert.equal(ok.trim().split('\n').length, 1, ok);
      assert.match(ok, /^netdial: 127\.0\.0\.1:\d+ via 127\.0\.0\.1 in [\d.]+ ms, TLS [\d.]+ ms, 1 attempt/);
      // Global fetch: netdial's connector races TLS too; the same one line.
      let fetched = '';
      const viaFetch = await captureStderr(async () => {
        fetched = await fetch(base).then(
          (r) => `status ${r.status}`,
          (err: Error & { cause?: { code?: string } }) => `error ${err.cause?.code}`,
        );
      });
      assert.equal(fetched, 'error DEPTH_ZERO_SELF_SIGNED_CERT');
      const fetchLines = viaFetch.trim().split('\n');
      assert.equal(fetchLines.length, 1, viaFetch);
      assert.match(fetchLines[0]!, certFailure);
      // A dial that fails (nothing listens) has its one line, and no TLS line.
      const closed = net.createServer();
      closed.listen(0, '127.0.0.1');
      await once(closed, 'listening');
      const closedPort = (closed.address() as net.AddressInfo).port;
      closed.close();
      await once(closed, 'close');
      const refused = await captureStderr(async () => {
        fetched = await fetch(`https://127.0.0.1:${closedPort}/`).then(
          (r) => `status ${r.status}`,
          (err: Error & { cause?: { code?: string } }) => `error ${err.cause?.code}`,
        );
      });
      assert.equal(fetched, 'error ECONNREFUSED');
      assert.equal(refused.trim().split('\n').length, 1, refused);
      assert.match(refused, /^netdial: connect 127\.0\.0\.1:\d+ failed .*ECONNREFUSED/);
    } finally {
      await restore();
      secure.closeAllConnections();
      secure.close();
    }
  });
});
