/**
 * Proxied dials seen from the outside, on loopback with a REAL tinyproxy (apt-installed by this file when
 * missing; a failure on CI): the diagnostics events and the NETDIAL_TRACE line of a proxied dial name the
 * TARGET (the dial's own dial:start / dial:done / dial:error), with the proxy hop's own dial events marked
 * `proxyHopOf` (the target dial's id) so a subscriber tells them apart. Through undici, a connect timeout
 * names the hop that ran out of time: the proxy (a silent one, written here: tinyproxy always answers)
 * or the target behind tinyproxy (a server that never does its TLS handshake).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as undici from 'undici';
import {
  type DialDoneEvent,
  type DialErrorEvent,
  Dialer,
  type DialStartEvent,
  isDialError,
  subscribeDiagnostics as subscribe,
} from '../src/index.js';
import { createDispatcher } from '../src/undici.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { skipReason } from './support/prerequisite.js';
import { type RunningServer, startTinyproxy, tinyproxyUnavailable } from './support/real-servers.js';

/** The package root: `netdial/register` resolves from here (the package's self-reference). */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const skip = skipReason(tinyproxyUnavailable());

/** A port on 127.0.0.1 where nothing listens (bound, read, released). */
async function deadPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Collects the dial:start / dial:done / dial:error events published while `fn` runs. */
async function dialEvents(fn: () => Promise<void>): Promise<{
  starts: DialStartEvent[];
  dones: DialDoneEvent[];
  errors: DialErrorEvent[];
}> {
  const starts: DialStartEvent[] = [];
  const dones: DialDoneEvent[] = [];
  const errors: DialErrorEvent[] = [];
  const stops = [
    subscribe('netdial:dial:start', (e) => starts.push(e)),
    subscribe('netdial:dial:done', (e) => dones.push(e)),
    subscribe('netdial:dial:error', (e) => errors.push(e)),
  ];
  try {
    await fn();
  } finally {
    for (const stop of stops) stop();
  }
  return { starts, dones, errors };
}

/** A server on 127.0.0.1 that accepts, reads and never answers: a silent proxy, or a TLS server that never handshakes. */
async function muteServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.resume();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

describe('proxied dials through a real tinyproxy on loopback', { skip }, () => {
  let proxy: RunningServer;
  let server: http.Server;
  let targetPort = 0;

  before(async () => {
    proxy = await startTinyproxy();
    server = http.createServer((_req, res) => res.end('hello through the proxy'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    targetPort = (server.address() as net.AddressInfo).port;
  });

  after(async () => {
    server?.closeAllConnections();
    server?.close();
    await proxy?.stop();
  });

  const dialer = () => new Dialer({ memory: false, hostsPath: null, nameservers: ['127.0.0.1:9'] });

  test('a diagnostics subscriber sees one dial:start/dial:done pair for the target; the hop is marked proxyHopOf', async () => {
    const baseline = activeResources();
    const url = `http://127.0.0.1:${proxy.port}`;
    const events = await dialEvents(async () => {
      const socket = await dialer().dial(`127.0.0.1:${targetPort}`, { proxy: url });
      socket.destroy();
    });
    const target = (e: { port: number }) => e.port === targetPort;
    const [start, ...moreStarts] = events.starts.filter(target);
    const [done, ...moreDones] = events.dones.filter(target);
    assert.ok(start && done, 'a dial:start and a dial:done for the target');
    assert.deepEqual([moreStarts.length, moreDones.length, events.errors.length], [0, 0, 0]);
    assert.equal(start.host, '127.0.0.1');
    assert.equal(start.proxy, url);
    assert.equal(start.proxyHopOf, undefined);
    assert.equal(done.dialId, start.dialId);
    assert.equal(done.proxyHopOf, undefined);
    assert.equal(done.report.proxy?.url, url);
    assert.equal(done.report.port, targetPort);
    // The hop: its own dial of the proxy, marked as serving the target's dial, published inside it.
    const hopStarts = events.starts.filter((e) => e.port === proxy.port);
    const hopDones = events.dones.filter((e) => e.port === proxy.port);
    assert.deepEqual(
      [...hopStarts, ...hopDones].map((e) => e.proxyHopOf),
      [start.dialId, start.dialId],
    );
    assert.equal(events.starts[0], start, 'the target dial starts first');
    assert.equal(events.dones.at(-1), done, 'and ends last');
    await assertNoLeaks(baseline);
  });

  test('a proxy that is down: one dial:error for the target naming the proxy; the hop error is marked', async () => {
    const baseline = activeResources();
    const dead = await deadPort();
    const url = `http://127.0.0.1:${dead}`;
    let rejected: unknown;
    const events = await dialEvents(async () => {
      await dialer()
        .dial(`127.0.0.1:${targetPort}`, { proxy: url })
        .then(
          (s) => s.destroy(),
          (err: unknown) => {
            rejected = err;
          },
        );
    });
    assert.ok(isDialError(rejected), String(rejected));
    const targetErrors = events.errors.filter((e) => e.port === targetPort);
    assert.equal(targetErrors.length, 1);
    assert.equal(targetErrors[0]!.error, rejected);
    assert.equal(targetErrors[0]!.code, 'ECONNREFUSED');
    assert.equal(targetErrors[0]!.proxyHopOf, undefined);
    assert.deepEqual(
      events.errors.filter((e) => e.port === dead).map((e) => e.proxyHopOf),
      [targetErrors[0]!.dialId],
    );
    assert.equal(events.dones.length, 0);
    await assertNoLeaks(baseline);
  });

  test('--import netdial/register with NETDIAL_TRACE through tinyproxy: the line names the target and the proxy', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'netdial-proxy-trace-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const app = join(dir, 'app.mjs');
    writeFileSync(
      app,
      `import http from 'node:http';
http.get(process.argv[2], (res) => {
  let body = '';
  res.on('data', (c) => (body += c));
  res.on('end', () => console.log('http.get', res.statusCode, body));
}).on('error', (err) => console.log('http.get error', err.code));
`,
    );
    const url = `http://127.0.0.1:${proxy.port}`;
    const child = spawn(
      process.execPath,
      ['--import', 'netdial/register', app, `http://127.0.0.1:${targetPort}/`],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          NODE_OPTIONS: undefined,
          NETDIAL_TRACE: '1',
          NETDIAL_PROXY: url,
          no_proxy: undefined,
          NO_PROXY: undefined,
        } as NodeJS.ProcessEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    t.after(() => clearTimeout(killer));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, 'close')) as [number | null];
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), 'http.get 200 hello through the proxy');
    const lines = stderr.split('\n').filter((l) => l.startsWith('netdial: '));
    assert.equal(lines.length, 1, stderr);
    assert.ok(lines[0]!.startsWith(`netdial: 127.0.0.1:${targetPort} through ${url} `), lines[0]);
    assert.match(lines[0]!, new RegExp(`proxy 127\\.0\\.0\\.1:${proxy.port} via 127\\.0\\.0\\.1`));
  });
});

describe('undici: a connect timeout through a proxy names the hop', { skip }, () => {
  let proxy: RunningServer;
  let mute: Awaited<ReturnType<typeof muteServer>>;
  before(async () => {
    proxy = await startTinyproxy();
    mute = await muteServer();
  });
  after(async () => {
    await mute?.close();
    await proxy?.stop();
  });

  const dialer = () => new Dialer({ memory: false, hostsPath: null, nameservers: ['127.0.0.1:9'] });

  /** fetch(url) through a netdial dispatcher with `proxy`; returns undici's ConnectTimeoutError. */
  async function timeoutOf(
    url: string,
    proxyUrl: string,
  ): Promise<Error & { code?: string; cause?: unknown }> {
    const dispatcher = createDispatcher({ dialer: dialer(), proxy: proxyUrl, connectTimeout: 300 });
    try {
      await fetch(url, { dispatcher } as unknown as RequestInit);
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      assert.ok(cause instanceof undici.errors.ConnectTimeoutError, `got ${String(cause)}`);
      return cause as Error & { code?: string; cause?: unknown };
    } finally {
      await dispatcher.close();
    }
    assert.fail('the request should have timed out');
  }

  test('the proxy never answers the CONNECT: phase proxy and the proxy host:port in the message', async () => {
    const silent = await muteServer();
    try {
      const e = await timeoutOf(`http://127.0.0.1:${mute.port}/`, `http://127.0.0.1:${silent.port}`);
      assert.equal(e.code, 'UND_ERR_CONNECT_TIMEOUT');
      assert.match(
        e.message,
        new RegExp(
          `^Connect Timeout Error \\(attempted address: 127\\.0\\.0\\.1:${mute.port}, timeout: 300ms; timed out at the proxy 127\\.0\\.0\\.1:${silent.port} \\(phase proxy\\): `,
        ),
      );
      assert.ok(isDialError(e.cause), 'the DialError is its cause');
      assert.deepEqual(
        e.cause.attempts.map((a) => a.phase),
        ['proxy'],
      );
    } finally {
      await silent.close();
    }
  });

  test('tinyproxy opens the tunnel, the target never does TLS: phase tls, the target named, the proxy too', async () => {
    const e = await timeoutOf(`https://127.0.0.1:${mute.port}/`, `http://127.0.0.1:${proxy.port}`);
    assert.equal(e.code, 'UND_ERR_CONNECT_TIMEOUT');
    assert.match(
      e.message,
      new RegExp(
        `attempted address: 127\\.0\\.0\\.1:${mute.port}, timeout: 300ms; through the proxy 127\\.0\\.0\\.1:${proxy.port}, timed out at the target \\(phase tls\\)`,
      ),
    );
    assert.ok(isDialError(e.cause));
    assert.equal(e.cause.attempts.at(-1)?.phase, 'tls');
  });
});
