/**
 * Proxied dials seen from the outside, on loopback with a REAL tinyproxy (apt-installed by this file when
 * missing; a failure on CI): the diagnostics events and the NETDIAL_TRACE line of a proxied dial name the
 * TARGET (the dial's own dial:start / dial:done / dial:error), with the proxy hop's own dial events marked
 * `proxyHopOf` (the target dial's id) so a subscriber tells them apart. Through undici, a connect timeout
 * names the hop that ran out of time: the proxy (a silent one, written here: tinyproxy always answers)
 * or the target behind tinyproxy (a server that never does its TLS handshake). An https:// proxy with a
 * private CA (a TLS front to tinyproxy, written here) in front of a plain-TCP target: the object form
 * `proxy: { url, tls: { ca } }` carries the proxy's CA, apart from the target's.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
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
  getReport,
  isDialError,
  subscribeDiagnostics as subscribe,
} from '../src/index.js';
import { createDispatcher } from '../src/undici.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { makeSelfSignedCert } from './support/tls-cert.js';
import { skipReason } from './support/prerequisite.js';
import { runNode } from './support/run-node.js';
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
    const { code, stdout, stderr } = await runNode(
      ['--import', 'netdial/register', app, `http://127.0.0.1:${targetPort}/`],
      {
        cwd: ROOT,
        env: { NETDIAL_TRACE: '1', NETDIAL_PROXY: url, no_proxy: undefined, NO_PROXY: undefined },
      },
    );
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

describe('an https:// proxy with a private CA in front of a plain-TCP target: proxy { url, tls }', {
  skip,
}, () => {
  let proxy: RunningServer;
  let front: tls.Server;
  let frontPort = 0;
  let target: http.Server;
  let targetPort = 0;
  let tlsTarget: tls.Server;
  let tlsTargetPort = 0;
  const proxyCert = makeSelfSignedCert('proxy.test');
  const targetCert = makeSelfSignedCert('localhost');
  const frontSockets = new Set<net.Socket>();

  before(async () => {
    proxy = await startTinyproxy();
    // The https:// proxy: TLS with its own private certificate, CONNECT inside (tinyproxy behind it).
    front = tls.createServer({ key: proxyCert.key, cert: proxyCert.cert }, (s) => {
      const upstream = net.connect({ host: '127.0.0.1', port: proxy.port });
      frontSockets.add(s).add(upstream);
      for (const x of [s, upstream]) x.on('close', () => frontSockets.delete(x));
      s.on('error', () => upstream.destroy());
      upstream.on('error', () => s.destroy());
      s.pipe(upstream).pipe(s);
    });
    front.listen(0, '127.0.0.1');
    target = http.createServer((_req, res) => res.end('plain target'));
    target.listen(0, '127.0.0.1');
    tlsTarget = tls.createServer({ key: targetCert.key, cert: targetCert.cert }, (s) =>
      s.end('tls target\n'),
    );
    tlsTarget.listen(0, '127.0.0.1');
    await Promise.all([once(front, 'listening'), once(target, 'listening'), once(tlsTarget, 'listening')]);
    frontPort = (front.address() as net.AddressInfo).port;
    targetPort = (target.address() as net.AddressInfo).port;
    tlsTargetPort = (tlsTarget.address() as net.AddressInfo).port;
  });

  after(async () => {
    for (const s of frontSockets) s.destroy();
    front?.close();
    target?.closeAllConnections();
    target?.close();
    tlsTarget?.close();
    await proxy?.stop();
  });

  const dialer = () => new Dialer({ memory: false, hostsPath: null, nameservers: ['127.0.0.1:9'] });

  async function get(socket: net.Socket): Promise<string> {
    socket.write(`GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    await once(socket, 'close');
    return text;
  }

  test("the proxy's CA in proxy.tls: TLS to the proxy verified, the target plain TCP", async () => {
    const baseline = activeResources();
    const socket = await dialer().dial(`127.0.0.1:${targetPort}`, {
      proxy: { url: `https://127.0.0.1:${frontPort}`, tls: { ca: proxyCert.cert } },
    });
    const report = getReport(socket)!;
    // The socket is the tunnel: TLS with the proxy (its certificate), plain bytes to the target inside.
    assert.equal((socket as tls.TLSSocket).getPeerCertificate().subject?.CN, 'proxy.test');
    assert.match(await get(socket), /^HTTP\/1\.1 200[\s\S]*plain target$/);
    assert.equal(report.proxy?.url, `https://127.0.0.1:${frontPort}`);
    assert.equal(report.tls, undefined);
    assert.ok(report.proxy?.hop?.tls?.endMs !== undefined, 'the hop ran TLS');
    await assertNoLeaks(baseline);
  });

  test('without proxy.tls the private CA cannot be given: the hop fails its certificate check (phase proxy)', async () => {
    const err = await dialer()
      .dial(`127.0.0.1:${targetPort}`, { proxy: `https://127.0.0.1:${frontPort}` })
      .then(
        (s) => {
          s.destroy();
          assert.fail('the proxy is not trusted without its CA');
        },
        (e: unknown) => e,
      );
    assert.ok(isDialError(err), String(err));
    assert.deepEqual(
      err.attempts.map((a) => a.phase),
      ['proxy'],
    );
    assert.match(err.message, /could not be reached/);
  });

  test("two trust settings: proxy.tls trusts the proxy only, the dial's tls the target only", async () => {
    const socket = (await dialer().dial(`127.0.0.1:${tlsTargetPort}`, {
      proxy: { url: `https://127.0.0.1:${frontPort}`, tls: { ca: proxyCert.cert } },
      tls: { ca: targetCert.cert },
    })) as tls.TLSSocket;
    assert.equal(socket.authorized, true);
    const [line] = (await once(socket, 'data')) as [Buffer];
    assert.equal(line.toString(), 'tls target\n');
    socket.destroy();
    // The target's CA does not make the proxy trusted any more once proxy.tls is given.
    const err = await dialer()
      .dial(`127.0.0.1:${tlsTargetPort}`, {
        proxy: { url: `https://127.0.0.1:${frontPort}`, tls: { ca: targetCert.cert } },
        tls: { ca: [targetCert.cert, proxyCert.cert] },
      })
      .then(
        (s) => {
          s.destroy();
          assert.fail('proxy.tls.ca does not trust the proxy');
        },
        (e: unknown) => e,
      );
    assert.ok(isDialError(err), String(err));
    assert.equal(err.attempts.at(-1)?.phase, 'proxy');
  });

  test('CLI --proxy-ca: the proxy trusted by its own CA, the target by --ca; without it the hop fails (exit 4)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'netdial-proxy-ca-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const proxyCa = join(dir, 'proxy-ca.pem');
    const targetCa = join(dir, 'target-ca.pem');
    writeFileSync(proxyCa, proxyCert.cert);
    writeFileSync(targetCa, targetCert.cert);
    // stdin stays open (the target closes first): the TLS front here closes both ways at a half-close.
    const cli = (args: string[]) =>
      runNode([join(ROOT, 'dist/src/cli/main.js'), ...args], {
        env: { NO_COLOR: '1', all_proxy: undefined, https_proxy: undefined },
        stdin: 'open',
      });
    const proxyUrl = `https://127.0.0.1:${frontPort}`;
    const target = `127.0.0.1:${tlsTargetPort}`;
    const ok = await cli(['-v', '--proxy', proxyUrl, '--proxy-ca', proxyCa, '--ca', targetCa, target]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'tls target\n');
    assert.match(ok.stderr, new RegExp(`connected to ${target} through proxy ${proxyUrl}`));
    // --proxy-insecure instead of the CA: the proxy's certificate is not checked; the target's still is.
    const insecure = await cli(['--proxy', proxyUrl, '--proxy-insecure', '--ca', targetCa, target]);
    assert.equal(insecure.code, 0, insecure.stderr);
    assert.equal(insecure.stdout, 'tls target\n');
    // The target's CA alone does not make the proxy trusted: the hop fails its certificate check.
    const failed = await cli(['--proxy', proxyUrl, '--ca', targetCa, target]);
    assert.equal(failed.code, 4, failed.stderr);
    assert.match(
      failed.stderr,
      /^netdial: connect .* DEPTH_ZERO_SELF_SIGNED_CERT \(the proxy 127\.0\.0\.1:\d+ could not be reached .*\)\n$/,
    );
    // With --proxy-ca for the proxy, --ca is the target's only: a proxy CA given as --ca does not help it.
    const wrong = await cli(['--proxy', proxyUrl, '--proxy-ca', targetCa, '--ca', proxyCa, target]);
    assert.equal(wrong.code, 4, wrong.stderr);
  });

  test('the object form is validated: unknown names, tls for a non-https proxy, a missing url', async () => {
    const d = dialer();
    const url = `https://127.0.0.1:${frontPort}`;
    const cases: Array<[unknown, RegExp]> = [
      [{ url, tls: {}, ca: 'x' }, /proxy\.ca: unknown option; TLS options go under `tls`/],
      [{ url, tsl: {} }, /proxy\.tsl: unknown option.*did you mean tls/],
      [
        { url: `http://127.0.0.1:${proxy.port}`, tls: {} },
        /proxy\.tls: TLS options apply to an https:\/\/ proxy, not to http:\/\//,
      ],
      [{ tls: {} }, /proxy\.url: expected the proxy URL, got undefined/],
      [{ url, tls: 'ca.pem' }, /proxy\.tls: expected tls\.connect options, got string/],
      [{ url: 'ftp://p' }, /proxy\.url: proxy scheme must be/],
    ];
    for (const [value, message] of cases) {
      await assert.rejects(
        d.dial(`127.0.0.1:${targetPort}`, { proxy: value as { url: string } }),
        (e: Error & { code?: string }) =>
          e instanceof TypeError && e.code === 'ERR_NETDIAL_INVALID_OPTION' && message.test(e.message),
        JSON.stringify(value),
      );
    }
  });
});
