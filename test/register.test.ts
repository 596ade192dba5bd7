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
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http, { globalAgent as namedGlobalAgent } from 'node:http';
import * as httpNamespace from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import type { MemoryJson } from '../src/memory/dial-memory.js';
import { Agent, getDefaultDialer, getReport, HttpsAgent, register } from '../src/index.js';

const VARIABLES = ['NETDIAL_POLICY', 'NETDIAL_TRACE', 'NETDIAL_MEMORY_FILE', 'NETDIAL_PROXY'] as const;

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
        '10.1.0.0/8',
        /^NETDIAL_POLICY: item 1 of "10\.1\.0\.0\/8": .*did you mean "10\.0\.0\.0\/8"/,
      ],
      ['NETDIAL_TRACE', 'verbose', /^NETDIAL_TRACE: expected 1, true, yes or on \(or 0, false, no, off\), got "verbose"$/],
      [
        'NETDIAL_MEMORY_FILE',
        join(dir, 'missing-dir', 'memory.json'),
        /^NETDIAL_MEMORY_FILE: the directory of .* cannot be used \(ENOENT\)$/,
      ],
      ['NETDIAL_MEMORY_FILE', dir, /^NETDIAL_MEMORY_FILE: .* is a directory$/],
      ['NETDIAL_PROXY', 'env', /^NETDIAL_PROXY: proxies are not supported by this build$/],
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
            assert.equal(
              err.code,
              variable === 'NETDIAL_PROXY' ? 'ERR_NETDIAL_UNSUPPORTED' : 'ERR_NETDIAL_INVALID_ENV',
            );
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
});
