/**
 * Proxies in the network lab, with REAL proxies: Debian's tinyproxy (HTTP CONNECT, with and without Basic
 * auth, a ConnectPort rule that answers 403 for other ports) and microsocks (SOCKS5, with and without
 * username/password), run in the router namespace on `good` addresses, so the client reaches them through
 * the same routes as any server. A second lab DNS server on the client's link address serves the zone to
 * both netdial and the proxies (which resolve in the router namespace for socks5h and CONNECT by name).
 *
 * The packages are installed by this file's outer process (apt-get, once, only when missing); without
 * them the file skips with the reason, except with CI=true, where it fails.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import tls from 'node:tls';
import { DEFAULT_ZONE, enterLab, LAB, LabDnsServer, type Lab, withLab } from '../lab/index.js';
import {
  Dialer,
  type DialerOptions,
  type DialError,
  getReport,
  isDialError,
  POLICY_DENIED_CODE,
} from '../src/index.js';
import { installGlobalDispatcher } from '../src/undici.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { ensureDebianPackages } from './support/real-servers.js';
import { makeSelfSignedCert } from './support/tls-cert.js';

const { good, blackholed, refused } = LAB.addresses;
const CLIENT = LAB.client.v4;
const HTTP_PROXY = good.v4[7]; // tinyproxy :3128 (open, ConnectPort rule) and :3129 (Basic auth)
const SOCKS_PROXY = good.v4[6]; // microsocks :1080 (no auth), :1081 (user/pass)
const TLS_PORT = 8443;
const GREETER_PORT = 8025;
const TLS_PROXY_PORT = 3443; // a TLS front (this process) to tinyproxy: an https:// proxy

const ZONE = {
  ...DEFAULT_ZONE,
  'proxy-first-blackholed.lab.test': { A: [blackholed.v4[0], HTTP_PROXY] },
  'http-proxy.lab.test': { A: [HTTP_PROXY] },
  'socks-proxy.lab.test': { A: [SOCKS_PROXY] },
  'dead-proxy.lab.test': { A: [refused.v4[2]] },
  // Served by this test process on the client's link address (the proxies reach it through the veth).
  'tls-target.lab.test': { A: [CLIENT] },
  'greeter.lab.test': { A: [CLIENT] },
  'tls-proxy.lab.test': { A: [CLIENT] },
};

const present = () => existsSync('/usr/bin/tinyproxy') && existsSync('/usr/bin/microsocks');
const outside = process.env.NETDIAL_LAB_INSIDE !== '1';
const missing = outside ? ensureDebianPackages(['tinyproxy', 'microsocks'], present) : undefined;

/** Runs `command` in the router namespace, dying with this process; resolves once `host:port` accepts. */
async function startInRouter(
  lab: Lab,
  command: string,
  args: string[],
  host: string,
  port: number,
): Promise<ChildProcess> {
  const child = spawn(
    'nsenter',
    [
      '-t',
      String(lab.routerPid),
      '-n',
      '--',
      '/usr/bin/setpriv',
      '--pdeathsig',
      'KILL',
      '--',
      command,
      ...args,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`${command} exited (${child.exitCode}): ${stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${command} did not listen on ${host}:${port} within 5 s: ${stderr}`);
}

function tinyproxyConfig(dir: string, port: number, extra: string): string {
  const file = join(dir, `tinyproxy-${port}.conf`);
  writeFileSync(
    file,
    [
      `Port ${port}`,
      `Listen ${HTTP_PROXY}`,
      'Timeout 30',
      'MaxClients 64',
      'LogLevel Critical',
      'DisableViaHeader Yes',
      extra,
      '',
    ].join('\n'),
  );
  return file;
}

interface Proxies {
  lab: Lab;
  tlsServer: tls.Server;
  sni: string[];
  /** The certificates of the TLS target and of the https:// proxy front. */
  certs: { target: string; proxy: string };
  /** SNI names the https:// proxy front saw. */
  proxySni: string[];
}

/** The lab with both proxies, the TLS target and the greeter running; everything stopped after. */
async function withProxies(fn: (p: Proxies) => Promise<void>): Promise<void> {
  const resolvConf = `nameserver ${CLIENT}\nsearch lab.test\noptions ndots:1\n`;
  await withLab(
    ZONE,
    async (lab) => {
      const dns = new LabDnsServer({ host: CLIENT, zone: ZONE });
      const children: ChildProcess[] = [];
      const dir = mkdtempSync(join(tmpdir(), 'netdial-proxy-'));
      const cert = makeSelfSignedCert('tls-target.lab.test');
      const sni: string[] = [];
      const tlsServer = tls.createServer({ key: cert.key, cert: cert.cert }, (s) => {
        sni.push((s as tls.TLSSocket & { servername?: string }).servername ?? '');
        s.end('tls hello\n');
      });
      const greeter = net.createServer((s) => s.end('220 greeter ready\r\n'));
      const proxyCert = makeSelfSignedCert('tls-proxy.lab.test');
      const proxySni: string[] = [];
      const tlsFront = tls.createServer({ key: proxyCert.key, cert: proxyCert.cert }, (s) => {
        proxySni.push((s as tls.TLSSocket & { servername?: string }).servername ?? '');
        const upstream = net.connect({ host: HTTP_PROXY, port: 3128 });
        s.on('error', () => upstream.destroy());
        upstream.on('error', () => s.destroy());
        s.pipe(upstream).pipe(s);
      });
      try {
        await dns.start();
        tlsServer.listen(TLS_PORT, CLIENT);
        greeter.listen(GREETER_PORT, CLIENT);
        tlsFront.listen(TLS_PROXY_PORT, CLIENT);
        await Promise.all([
          once(tlsServer, 'listening'),
          once(greeter, 'listening'),
          once(tlsFront, 'listening'),
        ]);
        const open = tinyproxyConfig(
          dir,
          3128,
          [7, 9, 80, TLS_PORT, GREETER_PORT].map((p) => `ConnectPort ${p}`).join('\n'),
        );
        const auth = tinyproxyConfig(dir, 3129, 'BasicAuth user secret');
        children.push(await startInRouter(lab, '/usr/bin/tinyproxy', ['-d', '-c', open], HTTP_PROXY, 3128));
        children.push(await startInRouter(lab, '/usr/bin/tinyproxy', ['-d', '-c', auth], HTTP_PROXY, 3129));
        children.push(
          await startInRouter(
            lab,
            '/usr/bin/microsocks',
            ['-i', SOCKS_PROXY, '-p', '1080'],
            SOCKS_PROXY,
            1080,
          ),
        );
        children.push(
          await startInRouter(
            lab,
            '/usr/bin/microsocks',
            ['-i', SOCKS_PROXY, '-p', '1081', '-u', 'user', '-P', 'secret'],
            SOCKS_PROXY,
            1081,
          ),
        );
        (tlsServer as tls.Server & { cert: string }).cert = cert.cert;
        await fn({ lab, tlsServer, sni, certs: { target: cert.cert, proxy: proxyCert.cert }, proxySni });
      } finally {
        for (const c of children) c.kill('SIGKILL');
        await Promise.all(
          children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : null)),
        );
        tlsServer.close();
        greeter.close();
        tlsFront.close();
        await dns.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { resolvConf },
  );
}

function fresh(options: DialerOptions = {}): Dialer {
  return new Dialer({ memory: false, resolver: 'dns', ...options });
}

async function failure(p: Promise<unknown>): Promise<DialError> {
  try {
    const s = (await p) as net.Socket;
    s.destroy();
  } catch (err) {
    assert.ok(isDialError(err), `expected a DialError, got ${err}`);
    return err;
  }
  assert.fail('the dial should have failed');
}

/** Sends an HTTP request on `socket` and returns the response text (the lab's http listener closes after). */
async function httpGet(socket: net.Socket, host: string): Promise<string> {
  socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => {
    text += c;
  });
  await once(socket, 'end');
  socket.destroy();
  return text;
}

if (missing !== undefined) {
  test('proxies in the lab', { skip: process.env.CI === 'true' ? false : missing }, () => {
    if (process.env.CI === 'true') throw new Error(`CI must run the proxy tests: ${missing}`);
  });
} else if (await enterLab(import.meta.url)) {
  test('HTTP CONNECT proxy by name, its first address blackholed: the proxy hop is raced, the name goes to the proxy', async () => {
    await withProxies(async () => {
      const baseline = activeResources();
      const started = performance.now();
      const socket = await fresh().dial(`one-good.lab.test:${LAB.ports.http}`, {
        proxy: 'http://proxy-first-blackholed.lab.test:3128',
      });
      const ms = performance.now() - started;
      const report = getReport(socket)!;
      const response = await httpGet(socket, 'one-good.lab.test');
      assert.match(response, /^HTTP\/1\.1 200/);
      assert.equal(report.proxy?.resolvedBy, 'proxy');
      assert.equal(report.proxy?.url, 'http://proxy-first-blackholed.lab.test:3128');
      assert.equal(report.proxy?.handshake?.statusCode, 200);
      const hop = report.proxy?.hop;
      assert.deepEqual(
        hop?.attempts.map((a) => [a.address, a.outcome, a.trigger]),
        [
          [blackholed.v4[0], 'cancelled', 'first'],
          [HTTP_PROXY, 'connected', 'delay'],
        ],
      );
      assert.ok(
        hop!.attempts[1]!.startMs >= 240 && hop!.attempts[1]!.startMs < 1000,
        `${hop!.attempts[1]!.startMs}`,
      );
      assert.ok(ms < 3000, `took ${ms} ms`);
      assert.deepEqual(report.attempts, []); // the proxy resolved the target: netdial made no target attempt
      await assertNoLeaks(baseline);
    });
  });

  test("socks5: the target's dead first address is raced through the proxy and costs one attempt delay", async () => {
    await withProxies(async () => {
      const baseline = activeResources();
      const started = performance.now();
      const socket = await fresh().dial(`first-a-blackholed.lab.test:${LAB.ports.echo}`, {
        proxy: 'socks5://socks-proxy.lab.test:1080',
      });
      const ms = performance.now() - started;
      const report = getReport(socket)!;
      socket.write('ping');
      const [echo] = (await once(socket, 'data')) as [Buffer];
      assert.equal(echo.toString(), 'ping');
      socket.destroy();
      assert.equal(report.proxy?.resolvedBy, 'netdial');
      assert.deepEqual(
        report.attempts.map((a) => [a.address, a.outcome, a.trigger]),
        [
          [blackholed.v4[0], 'cancelled', 'first'],
          [good.v4[1], 'connected', 'delay'],
        ],
      );
      const second = report.attempts[1]!;
      assert.ok(second.startMs >= 240 && second.startMs < 1000, `second at ${second.startMs} ms`);
      assert.ok(ms < 3000, `took ${ms} ms`);
      assert.equal(report.winner?.address, good.v4[1]);
      assert.deepEqual(report.proxy?.hop?.winner?.address, SOCKS_PROXY);
      await assertNoLeaks(baseline);
    });
  });

  test("NO_PROXY with proxy: 'env': suffix, CIDR and :port entries dial direct, the rest through the proxy", async () => {
    await withProxies(async ({ lab }) => {
      const saved = { all_proxy: process.env.all_proxy, no_proxy: process.env.no_proxy };
      process.env.all_proxy = 'http://http-proxy.lab.test:3128';
      process.env.no_proxy = `.one-good.lab.test, ${good.v4[0].replace(/\.\d+$/, '.0')}/29, a-only.lab.test:${LAB.ports.echo}`;
      try {
        const dialer = fresh({ proxy: 'env' });
        const via = async (target: string) => {
          const s = await dialer.dial(target);
          const r = getReport(s)!;
          s.destroy();
          return r.proxy?.url ?? 'direct';
        };
        assert.equal(await via(`one-good.lab.test:${LAB.ports.echo}`), 'direct'); // suffix
        assert.equal(await via(`${good.v4[2]}:${LAB.ports.echo}`), 'direct'); // CIDR
        assert.equal(await via(`a-only.lab.test:${LAB.ports.echo}`), 'direct'); // name:port
        assert.equal(await via(`a-only.lab.test:${LAB.ports.discard}`), 'http://http-proxy.lab.test:3128');
        assert.equal(await via(`aaaa-only.lab.test:${LAB.ports.echo}`), 'http://http-proxy.lab.test:3128');
        // The proxied ones reached the server from the router (tinyproxy), the direct ones from the client.
        const conns = await lab.serverConnections();
        assert.ok(conns.some((c) => c.remoteAddress !== CLIENT && c.remoteAddress !== LAB.client.v6));
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    });
  });

  test('407 without credentials, 401 (tinyproxy) with wrong ones, a tunnel with the right ones; 403 for a denied port', async () => {
    await withProxies(async () => {
      const dialer = fresh();
      const target = `one-good.lab.test:${LAB.ports.echo}`;
      const none = await failure(dialer.dial(target, { proxy: 'http://http-proxy.lab.test:3129' }));
      assert.equal(none.code, 'ERR_NETDIAL_PROXY');
      assert.equal(none.statusCode, 407);
      assert.match(none.message, /407.*no credentials/);
      assert.deepEqual(
        none.attempts.map((a) => [a.phase, a.code, a.statusCode, a.address]),
        [['proxy', 'ERR_NETDIAL_PROXY', 407, HTTP_PROXY]],
      );
      const wrong = await failure(
        dialer.dial(target, { proxy: 'http://user:nope@http-proxy.lab.test:3129' }),
      );
      assert.equal(wrong.statusCode, 401); // tinyproxy's answer to wrong credentials
      assert.match(wrong.message, /refused the credentials/);
      assert.ok(!wrong.message.includes('nope'), 'no password in messages');
      const ok = await dialer.dial(target, { proxy: 'http://user:secret@http-proxy.lab.test:3129' });
      ok.write('x');
      assert.equal(((await once(ok, 'data')) as [Buffer])[0].toString(), 'x');
      ok.destroy();
      const denied = await failure(
        dialer.dial(`one-good.lab.test:${LAB.ports.http + 1}`, { proxy: 'http://http-proxy.lab.test:3128' }),
      );
      assert.equal(denied.code, 'ERR_NETDIAL_PROXY');
      assert.equal(denied.statusCode, 403);
    });
  });

  test('SOCKS5 username/password (RFC 1929): refused without, tunnel with; reply codes carried', async () => {
    await withProxies(async () => {
      const dialer = fresh();
      const target = `one-good.lab.test:${LAB.ports.echo}`;
      const none = await failure(dialer.dial(target, { proxy: 'socks5h://socks-proxy.lab.test:1081' }));
      assert.equal(none.code, 'ERR_NETDIAL_PROXY');
      assert.match(none.message, /requires authentication/);
      const ok = await dialer.dial(target, { proxy: 'socks5h://user:secret@socks-proxy.lab.test:1081' });
      ok.destroy();
      // A refused target through SOCKS5: reply 5, mapped to ECONNREFUSED, phase 'proxy'.
      const refusedErr = await failure(
        dialer.dial(`${refused.v4[0]}:${LAB.ports.echo}`, { proxy: 'socks5://socks-proxy.lab.test:1080' }),
      );
      assert.equal(refusedErr.code, 'ECONNREFUSED');
      assert.equal(refusedErr.socksReply, 5);
      assert.deepEqual(
        refusedErr.attempts.map((a) => [a.phase, a.address, a.socksReply]),
        [['proxy', refused.v4[0], 5]],
      );
    });
  });

  test('proxy down: a clear error naming the proxy, attempts with phase proxy', async () => {
    await withProxies(async () => {
      const baseline = activeResources();
      const err = await failure(
        fresh().dial(`one-good.lab.test:${LAB.ports.echo}`, { proxy: 'http://dead-proxy.lab.test:3128' }),
      );
      assert.equal(err.code, 'ECONNREFUSED');
      assert.equal(err.proxy, 'http://dead-proxy.lab.test:3128');
      assert.match(err.message, /the proxy dead-proxy\.lab\.test:3128 could not be reached/);
      assert.deepEqual(
        err.attempts.map((a) => [a.phase, a.address, a.port, a.code]),
        [['proxy', refused.v4[2], 3128, 'ECONNREFUSED']],
      );
      // socks5 (netdial resolves): every attempt reached for the proxy and failed there, said so.
      const socks = await failure(
        fresh().dial(`one-good.lab.test:${LAB.ports.echo}`, { proxy: 'socks5://dead-proxy.lab.test:1080' }),
      );
      assert.ok(socks.attempts.length >= 1 && socks.attempts.every((a) => a.phase === 'proxy'));
      assert.match(socks.message, /could not be reached/);
      await assertNoLeaks(baseline);
    });
  });

  test('TLS through CONNECT: SNI and certificate check are the target name; bytes after 200 belong to the tunnel', async () => {
    await withProxies(async ({ tlsServer, sni }) => {
      const ca = (tlsServer as tls.Server & { cert: string }).cert;
      const dialer = fresh();
      const socket = (await dialer.dial(`tls-target.lab.test:${TLS_PORT}`, {
        proxy: 'http://http-proxy.lab.test:3128',
        tls: { ca },
      })) as tls.TLSSocket;
      assert.equal(socket.authorized, true);
      const [line] = (await once(socket, 'data')) as [Buffer];
      assert.equal(line.toString(), 'tls hello\n');
      socket.destroy();
      assert.deepEqual(sni, ['tls-target.lab.test']);
      const report = getReport(socket)!;
      assert.equal(report.tls?.servername, 'tls-target.lab.test');
      assert.equal(report.proxy?.handshake?.statusCode, 200);
      // A server that speaks first: its greeting arrives whole on the tunnel.
      const greet = await dialer.dial(`greeter.lab.test:${GREETER_PORT}`, {
        proxy: 'http://http-proxy.lab.test:3128',
      });
      let text = '';
      greet.setEncoding('utf8');
      greet.on('data', (c: string) => {
        text += c;
      });
      await once(greet, 'end');
      greet.destroy();
      assert.equal(text, '220 greeter ready\r\n');
    });
  });

  test("fetch through the global dispatcher with proxy: 'env' (http_proxy for http:)", async () => {
    await withProxies(async ({ lab }) => {
      const saved = process.env.http_proxy;
      process.env.http_proxy = 'http://http-proxy.lab.test:3128';
      const installed = installGlobalDispatcher({ proxy: 'env', resolver: 'dns' });
      try {
        lab.resetServerConnections();
        const res = await fetch(`http://a-only.lab.test/`);
        assert.equal(res.status, 200);
        assert.equal((await res.text()).trim(), good.v4[0]);
        const conns = (await lab.serverConnections()).filter((c) => c.localPort === LAB.ports.http);
        assert.equal(conns.length, 1);
        // tinyproxy, in the router, connected: not the client's own address.
        assert.notEqual(conns[0]!.remoteAddress, CLIENT);
      } finally {
        await installed.restore();
        if (saved === undefined) delete process.env.http_proxy;
        else process.env.http_proxy = saved;
      }
    });
  });

  test('policy: socks5h refused unless proxyResolvesNames; CONNECT gets the checked literal, not the name', async () => {
    await withProxies(async () => {
      const policy = { deny: [LAB.prefixes.blackholed.v4] };
      const dialer = fresh({ policy });
      const target = `first-a-blackholed.lab.test:${LAB.ports.echo}`;
      const refusedDial = await failure(
        dialer.dial(target, { proxy: 'socks5h://socks-proxy.lab.test:1080' }),
      );
      assert.equal(refusedDial.code, POLICY_DENIED_CODE);
      assert.match(refusedDial.message, /proxyResolvesNames/);
      assert.deepEqual(
        refusedDial.attempts.map((a) => a.phase),
        ['policy'],
      );
      const allowed = await dialer.dial(target, {
        proxy: 'socks5h://socks-proxy.lab.test:1080',
        proxyResolvesNames: true,
      });
      assert.equal(getReport(allowed)?.proxy?.resolvedBy, 'proxy');
      allowed.destroy();
      // CONNECT under the policy: netdial resolved, the blackholed address was denied, the literal went out.
      const socket = await dialer.dial(target, { proxy: 'http://http-proxy.lab.test:3128' });
      const report = getReport(socket)!;
      socket.destroy();
      assert.equal(report.proxy?.resolvedBy, 'netdial');
      assert.deepEqual(
        report.attempts.map((a) => [a.address, a.outcome]),
        [[good.v4[1], 'connected']],
      );
      assert.equal(report.resolution.queries.find((q) => q.type === 'A')?.deniedByPolicy, 1);
    });
  });

  test('https:// proxy: TLS to the proxy (SNI its name), CONNECT inside, TLS to the target inside that', async () => {
    await withProxies(async ({ certs, proxySni, sni }) => {
      const baseline = activeResources();
      const socket = (await fresh().dial(`tls-target.lab.test:${TLS_PORT}`, {
        proxy: 'https://tls-proxy.lab.test:3443',
        tls: { ca: [certs.target, certs.proxy] },
      })) as tls.TLSSocket;
      assert.equal(socket.authorized, true);
      const [line] = (await once(socket, 'data')) as [Buffer];
      assert.equal(line.toString(), 'tls hello\n');
      const report = getReport(socket)!;
      socket.destroy();
      assert.deepEqual(proxySni, ['tls-proxy.lab.test']);
      assert.deepEqual(sni, ['tls-target.lab.test']);
      assert.equal(report.proxy?.hop?.tls?.servername, 'tls-proxy.lab.test');
      assert.equal(report.tls?.servername, 'tls-target.lab.test');
      // Without the proxy's CA the hop's certificate check fails: a TLS failure at the proxy.
      const err = await failure(
        fresh().dial(`tls-target.lab.test:${TLS_PORT}`, {
          proxy: 'https://tls-proxy.lab.test:3443',
          tls: { ca: [certs.target] },
        }),
      );
      assert.deepEqual(
        err.attempts.map((a) => a.phase),
        ['proxy'],
      );
      assert.match(err.message, /could not be reached/);
      await assertNoLeaks(baseline);
    });
  });

  test('CLI: netdial trace --proxy shows the proxy hop and the target attempts raced through it; all_proxy by default', async () => {
    await withProxies(async () => {
      const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
      const run = (args: string[], env: Record<string, string | undefined>) =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          execFile(
            process.execPath,
            [cli, ...args],
            { env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 20_000 },
            (err, stdout, stderr) =>
              resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
          );
        });
      const target = `first-a-blackholed.lab.test:${LAB.ports.echo}`;
      const viaFlag = await run(
        ['trace', '--no-memory', '--proxy', 'socks5://socks-proxy.lab.test:1080', target],
        {},
      );
      assert.equal(viaFlag.code, 0, viaFlag.out);
      assert.match(
        viaFlag.out,
        /proxy socks5:\/\/socks-proxy\.lab\.test:1080 \(from option; target resolved by netdial\)/,
      );
      assert.ok(viaFlag.out.includes(good.v4[1]) && viaFlag.out.includes(blackholed.v4[0]), viaFlag.out);
      const viaEnv = await run(['trace', '--no-memory', target], {
        all_proxy: 'socks5://socks-proxy.lab.test:1080',
      });
      assert.equal(viaEnv.code, 0, viaEnv.out);
      assert.match(viaEnv.out, /\(from env; target resolved by netdial\)/);
      const skipped = await run(['trace', '--no-memory', '--noproxy', '.lab.test', target], {
        all_proxy: 'socks5://socks-proxy.lab.test:1080',
      });
      assert.equal(skipped.code, 0, skipped.out);
      assert.doesNotMatch(skipped.out, /^proxy /m);
      const down = await run(
        ['trace', '--no-memory', '--proxy', 'http://dead-proxy.lab.test:3128', target],
        {},
      );
      assert.notEqual(down.code, 0);
      assert.match(down.out, /through http:\/\/dead-proxy\.lab\.test:3128: failed \(ECONNREFUSED\)/);
    });
  });

  test("the proxy's dead address is remembered: the next dial through it goes to the live one at once", async () => {
    await withProxies(async () => {
      const dialer = new Dialer({ resolver: 'dns', memory: { exploreProbability: 0, loadSharing: false } });
      const target = `one-good.lab.test:${LAB.ports.echo}`;
      const proxy = 'http://proxy-first-blackholed.lab.test:3128';
      const first = await dialer.dial(target, { proxy });
      const firstHop = getReport(first)!.proxy!.hop!;
      first.destroy();
      assert.equal(firstHop.attempts.length, 2);
      const second = await dialer.dial(target, { proxy });
      const hop = getReport(second)!.proxy!.hop!;
      second.destroy();
      assert.deepEqual(
        hop.attempts.map((a) => [a.address, a.outcome, a.trigger]),
        [[HTTP_PROXY, 'connected', 'first']],
      );
      assert.deepEqual(hop.decisions.demoted, [blackholed.v4[0]]);
    });
  });
}
