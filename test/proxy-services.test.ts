/**
 * Service records through a proxy, on loopback: a DNS server of our own (never the host's resolver), a
 * CONNECT proxy written here that logs each request line and tunnels to IP literals only, and a REAL
 * microsocks (socks5://, netdial resolves). As docs/integrations.md states it:
 * - an SRV target (`srv!_service._tcp.name`) is resolved by netdial — its SRV records, then their targets —
 *   and each endpoint is asked of the proxy as address:port (never `CONNECT name:0`, never the SRV owner
 *   name sent to a proxy), in the records' order, failing over like a direct dial;
 * - through socks5h:// (the proxy resolves) an SRV target is refused with ERR_NETDIAL_PROXY and one line,
 *   nothing sent to the proxy;
 * - when netdial resolves the target (socks5://, or under a policy), an https: URL's HTTPS record is asked
 *   as a direct dial asks it: its `port` is the port tunnelled to.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { Dialer, type DialError, getReport, isDialError } from '../src/index.js';
import { fileURLToPath } from 'node:url';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { runNode } from './support/run-node.js';
import { skipReason } from './support/prerequisite.js';
import { microsocksUnavailable, type RunningServer, startMicrosocks } from './support/real-servers.js';

const skip = skipReason(microsocksUnavailable());

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

async function failure(p: Promise<net.Socket>): Promise<DialError> {
  try {
    (await p).destroy();
  } catch (err) {
    assert.ok(isDialError(err), String(err));
    return err;
  }
  assert.fail('expected a failure');
}

interface Server {
  port: number;
  accepted: () => number;
  close: () => Promise<void>;
}

/** Greets each connection with `hello from NAME`; counts them. */
async function greeter(host: string, name: string): Promise<Server> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.end(`hello from ${name}\n`);
  });
  server.listen(0, host);
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A CONNECT proxy on 127.0.0.1 that logs request lines and tunnels to IP literals only (403 for names). */
async function connectProxy(): Promise<Server & { lines: string[] }> {
  const lines: string[] = [];
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      client.removeListener('data', onData);
      const line = head.slice(0, head.indexOf('\r\n'));
      lines.push(line);
      const m = /^CONNECT \[?([^\]]+?)\]?:(\d+) HTTP\/1\.1$/.exec(line);
      if (m === null || net.isIP(m[1]!) === 0 || Number(m[2]) === 0) {
        client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      const upstream = net.connect(Number(m[2]), m[1]!, () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        client.pipe(upstream);
        upstream.pipe(client);
      });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'));
    };
    client.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    lines,
    accepted: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

async function text(socket: net.Socket): Promise<string> {
  const [chunk] = (await once(socket, 'data', { signal: AbortSignal.timeout(5000) })) as [Buffer];
  return chunk.toString();
}

describe('SRV and HTTPS records through a proxy (loopback DNS, real microsocks)', { skip }, () => {
  let dns: LabDnsServer;
  let socks: RunningServer;
  let live: Server; // 127.0.0.3, the priority-20 SRV endpoint
  let deadPort = 0; // 127.0.0.5, the priority-10 SRV endpoint: refused
  let record: Server; // 127.0.0.2 at the HTTPS record's port
  let urlPort: Server; // 127.0.0.2 at the URL's port: must not be reached when the record moves it
  let proxy: Awaited<ReturnType<typeof connectProxy>>;
  let dialer: Dialer;

  before(async () => {
    socks = await startMicrosocks();
    live = await greeter('127.0.0.3', 'live');
    record = await greeter('127.0.0.2', 'record');
    urlPort = await greeter('127.0.0.2', 'url port');
    const dead = await greeter('127.0.0.5', 'dead');
    deadPort = dead.port;
    await dead.close();
    proxy = await connectProxy();
    dns = await startLoopbackDns(
      {
        '_db._tcp.svc.test': {
          SRV: [
            { priority: 10, weight: 0, port: deadPort, target: 'dead.svc.test' },
            { priority: 20, weight: 0, port: live.port, target: 'live.svc.test' },
          ],
        },
        '_alldead._tcp.svc.test': {
          SRV: [
            { priority: 10, weight: 0, port: deadPort, target: 'dead.svc.test' },
            { priority: 20, weight: 0, port: deadPort, target: 'dead2.svc.test' },
          ],
        },
        'dead.svc.test': { A: ['127.0.0.5'], AAAA: [] },
        'dead2.svc.test': { A: ['127.0.0.6'], AAAA: [] },
        'live.svc.test': { A: ['127.0.0.3'], AAAA: [] },
        'www.svc.test': { A: ['127.0.0.2'], AAAA: [] },
        [`_${urlPort.port}._https.www.svc.test`]: {
          HTTPS: [{ priority: 1, targetName: 'www.svc.test', params: { port: record.port } }],
        },
      },
      'svc.test',
    );
    dialer = new Dialer({
      memory: false,
      hostsPath: null,
      resolver: 'dns',
      nameservers: [`127.0.0.1:${dns.port}`],
    });
  });

  after(async () => {
    await Promise.all([live?.close(), record?.close(), urlPort?.close(), proxy?.close()]);
    await Promise.all([dns?.close(), socks?.stop()]);
  });

  test('srv! through a CONNECT proxy: each SRV endpoint asked as address:port, in priority order; never port 0 or the owner name', async () => {
    const baseline = activeResources();
    for (const target of ['srv!_db._tcp.svc.test', { srv: '_db._tcp.svc.test' }] as const) {
      proxy.lines.length = 0;
      const socket = await dialer.dial(target, { proxy: `http://127.0.0.1:${proxy.port}`, timeout: 10_000 });
      try {
        assert.equal(await text(socket), 'hello from live\n');
        assert.deepEqual(proxy.lines, [
          `CONNECT 127.0.0.5:${deadPort} HTTP/1.1`,
          `CONNECT 127.0.0.3:${live.port} HTTP/1.1`,
        ]);
        const report = getReport(socket);
        assert.equal(report?.winner?.port, live.port);
        assert.equal(report?.service?.type, 'SRV');
        assert.equal(report?.proxy?.resolvedBy, 'netdial');
      } finally {
        socket.destroy();
      }
    }
    await assertNoLeaks(baseline);
  });

  test('srv! through socks5:// (microsocks): connected to the SRV endpoint; every endpoint down names each port', async () => {
    const socket = await dialer.dial('srv!_db._tcp.svc.test', {
      proxy: `socks5://127.0.0.1:${socks.port}`,
      timeout: 10_000,
    });
    try {
      assert.equal(await text(socket), 'hello from live\n');
      assert.equal(getReport(socket)?.winner?.port, live.port);
    } finally {
      socket.destroy();
    }
    const err = await failure(
      dialer.dial('srv!_alldead._tcp.svc.test', {
        proxy: `socks5://127.0.0.1:${socks.port}`,
        timeout: 10_000,
      }),
    );
    assert.match(err.message, /^connect srv!_alldead\._tcp\.svc\.test through socks5:/);
    assert.ok(err.message.includes(`127.0.0.5:${deadPort} `), err.message);
    assert.ok(err.message.includes(`127.0.0.6:${deadPort} `), err.message);
    assert.deepEqual(
      err.attempts.map((a) => [a.address, a.port, a.phase]),
      [
        ['127.0.0.5', deadPort, 'proxy'],
        ['127.0.0.6', deadPort, 'proxy'],
      ],
    );
  });

  test('the CLI under all_proxy: `netdial trace srv!…` connects through the proxy to the SRV endpoint (exit 0)', async () => {
    proxy.lines.length = 0;
    const run = await runNode(
      [CLI, 'trace', '--nameserver', `127.0.0.1:${dns.port}`, 'srv!_db._tcp.svc.test'],
      {
        env: {
          all_proxy: `http://127.0.0.1:${proxy.port}`,
          ALL_PROXY: undefined,
          http_proxy: undefined,
          https_proxy: undefined,
          HTTPS_PROXY: undefined,
          no_proxy: undefined,
          NO_PROXY: undefined,
        },
        timeoutMs: 30_000,
      },
    );
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.deepEqual(proxy.lines, [
      `CONNECT 127.0.0.5:${deadPort} HTTP/1.1`,
      `CONNECT 127.0.0.3:${live.port} HTTP/1.1`,
    ]);
  });

  test('srv! through socks5h:// is refused with one line, nothing sent to the proxy', async () => {
    const before = proxy.accepted();
    const err = await failure(
      dialer.dial('srv!_db._tcp.svc.test', { proxy: `socks5h://127.0.0.1:${proxy.port}`, timeout: 5000 }),
    );
    assert.equal(err.code, 'ERR_NETDIAL_PROXY');
    assert.equal(
      err.message,
      `connect srv!_db._tcp.svc.test through socks5h://127.0.0.1:${proxy.port}: an SRV target cannot go through a socks5h:// proxy (the proxy resolves names, and has no SRV lookup); use socks5:// (netdial asks the SRV records and resolves their targets) or dial the service host:port`,
    );
    assert.equal(proxy.accepted(), before);
  });

  test("an https: URL's HTTPS record port is used through a proxy when netdial resolves (socks5://, or a policy)", async () => {
    const url = `https://www.svc.test:${urlPort.port}/`;
    const before = urlPort.accepted();
    const viaSocks = await dialer.dial(url, {
      proxy: `socks5://127.0.0.1:${socks.port}`,
      tls: false,
      timeout: 10_000,
    });
    try {
      assert.equal(await text(viaSocks), 'hello from record\n');
      assert.equal(getReport(viaSocks)?.service?.type, 'HTTPS');
    } finally {
      viaSocks.destroy();
    }
    proxy.lines.length = 0;
    const viaConnect = await dialer.dial(url, {
      proxy: `http://127.0.0.1:${proxy.port}`,
      policy: { deny: ['198.51.100.0/24'] },
      tls: false,
      timeout: 10_000,
    });
    try {
      assert.equal(await text(viaConnect), 'hello from record\n');
      assert.deepEqual(proxy.lines, [`CONNECT 127.0.0.2:${record.port} HTTP/1.1`]);
    } finally {
      viaConnect.destroy();
    }
    assert.equal(urlPort.accepted(), before, "the URL's own port was not used");
  });
});
