/**
 * Claims of the README that no other test pinned (found while building the claim → test table in
 * docs/architecture.md), each with real sockets on loopback and, where DNS matters, a real DNS server on
 * loopback. The host's resolver is never asked: names come from a fixed resolver, a hosts file written
 * here, `localhost`, or the loopback DNS server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import {
  Dialer,
  type DialerOptions,
  dial,
  getDefaultDialer,
  getReport,
  type ResolveFunction,
} from '../src/index.js';
import { startBlackhole } from './support/blackhole.js';
import { closeServer, closeSocket, listen, trackConnections } from './support/servers.js';
import { failure } from './support/dial-failure.js';

/** Fixed answers per family; records which families were asked. */
function fixed(answers: { 4?: string[]; 6?: string[] }, asked: number[] = []): ResolveFunction {
  return async (_name, family) => {
    asked.push(family);
    return answers[family] ?? [];
  };
}

describe('README claims on loopback', () => {
  const server = trackConnections(net.createServer((s) => s.resume()));
  let port = 0;
  let dir = '';
  let dns: LabDnsServer | undefined;
  before(async () => {
    port = await listen(server, '127.0.0.1');
    dir = mkdtempSync(join(tmpdir(), 'netdial-claims-'));
    dns = await startLoopbackDns(
      { 'cached.claims.test': { A: ['127.0.0.1'], AAAA: [], ttl: 300 } },
      'claims.test',
    );
  });
  after(async () => {
    await Promise.all([closeServer(server), dns?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A Dialer that reads names only from a hosts file in the test's directory and the loopback DNS server. */
  function local(hosts: string, options: DialerOptions = {}): Dialer {
    const hostsPath = join(dir, `hosts-${Math.random().toString(36).slice(2)}`);
    writeFileSync(hostsPath, hosts);
    return new Dialer({
      resolver: 'dns',
      hostsPath,
      nameservers: [`127.0.0.1:${dns!.port}`],
      dnsTries: 1,
      dnsTimeoutMs: 500,
      ...options,
    });
  }

  test('dial() uses one process-wide Dialer: what one dial learns, the next one knows', async () => {
    const dead = trackConnections(net.createServer());
    const deadPort = await listen(dead, '127.0.0.1');
    await closeServer(dead);
    assert.equal(getDefaultDialer(), getDefaultDialer());
    // An IP literal: no DNS, no hosts file.
    const err = await failure(dial(`127.0.0.1:${deadPort}`));
    assert.equal(err.code, 'ECONNREFUSED');
    const state = getDefaultDialer().memory?.endpoints.get('127.0.0.1', deadPort, performance.now());
    assert.equal(state?.lastErrorCode, 'ECONNREFUSED');
  });

  test('an https: URL dials TLS by default, and plain TCP with tls: false', async (t) => {
    const dialer = new Dialer({ resolver: fixed({ 4: ['127.0.0.1'] }) });
    // The server speaks plain TCP: the TLS dial must fail in the handshake, the plain one connect.
    const tlsErr = await failure(dialer.dial(`https://plain.test:${port}/`, { timeout: 500 }));
    assert.equal(tlsErr.attempts.at(-1)?.phase, 'tls');
    const socket = await dialer.dial(`https://plain.test:${port}/`, { tls: false });
    t.after(() => closeSocket(socket));
    assert.ok(!(socket instanceof tls.TLSSocket));
    assert.equal(getReport(socket)?.tls, undefined);
  });

  test('family: 6 asks AAAA only and dials IPv6 only', async (t) => {
    const v6 = trackConnections(net.createServer((s) => s.resume()));
    await listen(v6, '::1', port);
    t.after(() => closeServer(v6));
    const asked: number[] = [];
    const socket = await new Dialer({ resolver: fixed({ 4: ['127.0.0.1'], 6: ['::1'] }, asked) }).dial(
      `both.test:${port}`,
      { family: 6 },
    );
    t.after(() => closeSocket(socket));
    assert.deepEqual(asked, [6]);
    assert.deepEqual(
      getReport(socket)!.attempts.map((a) => a.address),
      ['::1'],
    );
  });

  test('noDelay and keepAlive are applied to the winning socket', async (t) => {
    const calls: Array<[net.Socket, string, unknown[]]> = [];
    const proto = net.Socket.prototype;
    const { setNoDelay, setKeepAlive } = proto;
    // Spies that call through: the real socket options are still set.
    proto.setNoDelay = function (this: net.Socket, ...args: unknown[]) {
      calls.push([this, 'setNoDelay', args]);
      return setNoDelay.apply(this, args as Parameters<typeof setNoDelay>);
    };
    proto.setKeepAlive = function (this: net.Socket, ...args: unknown[]) {
      calls.push([this, 'setKeepAlive', args]);
      return setKeepAlive.apply(this, args as Parameters<typeof setKeepAlive>);
    };
    let socket: net.Socket;
    try {
      socket = await new Dialer({ resolver: fixed({ 4: ['127.0.0.1'] }) }).dial(`opts.test:${port}`, {
        noDelay: true,
        keepAlive: true,
        keepAliveInitialDelay: 1500,
      });
    } finally {
      proto.setNoDelay = setNoDelay;
      proto.setKeepAlive = setKeepAlive;
    }
    t.after(() => closeSocket(socket));
    assert.deepEqual(
      calls.filter(([s]) => s === socket).map(([, name, args]) => [name, ...args]),
      [
        ['setNoDelay', true],
        ['setKeepAlive', true, 1500],
      ],
    );
  });

  test('localAddress: the connection leaves from it, and only destinations of its family are dialled', async (t) => {
    const asked: number[] = [];
    const socket = await new Dialer({ resolver: fixed({ 4: ['127.0.0.1'], 6: ['::1'] }, asked) }).dial(
      `both.test:${port}`,
      { localAddress: '127.0.0.5' },
    );
    t.after(() => closeSocket(socket));
    assert.equal(socket.localAddress, '127.0.0.5');
    assert.deepEqual(asked, [4]);
    assert.deepEqual(
      getReport(socket)!.attempts.map((a) => a.address),
      ['127.0.0.1'],
    );
  });

  test('hosts entries and IP literals bypass the DNS cache; DNS answers go into it', async (t) => {
    const dialer = local('127.0.0.1 fromhosts.claims.test\n::1 fromhosts.claims.test\n', { family: 4 });
    for (const target of [`fromhosts.claims.test:${port}`, `127.0.0.1:${port}`]) {
      const s = await dialer.dial(target);
      await closeSocket(s);
    }
    assert.equal(dialer.memory?.dns.size, 0, 'nothing cached from hosts entries and literals');
    const s = await dialer.dial(`cached.claims.test:${port}`);
    t.after(() => closeSocket(s));
    assert.ok((dialer.memory?.dns.size ?? 0) > 0, 'the DNS answer was cached');
  });

  test('the address policy is checked on hosts entries and on cached answers, not only fresh DNS', async () => {
    const dialer = local('127.0.0.1 fromhosts.claims.test\n', { family: 4 });
    // Redaction off so the attempt shows which address was refused (redaction has its own tests).
    const fromHosts = await failure(
      dialer.dial(`fromhosts.claims.test:${port}`, { policy: 'public', redactDeniedAddresses: false }),
    );
    assert.equal(fromHosts.code, 'ERR_NETDIAL_DENIED');
    assert.deepEqual(
      fromHosts.attempts.map((a) => [a.address, a.phase]),
      [['127.0.0.1', 'policy']],
    );
    // The answer is cached by a dial without a policy, then dialled from the cache with one.
    await closeSocket(await dialer.dial(`cached.claims.test:${port}`));
    const fromCache = await failure(dialer.dial(`cached.claims.test:${port}`, { policy: 'public' }));
    assert.equal(fromCache.code, 'ERR_NETDIAL_DENIED');
    assert.deepEqual(
      fromCache.report?.resolution.queries.map((q) => [q.type, q.source]),
      [['A', 'cache']],
    );
  });

  test('an attempt still silent when another address won is remembered as unanswered, and tried last next time', async (t) => {
    // The good server first: its port is then free on 127.0.0.2, which hardly anything else binds.
    const good = trackConnections(net.createServer((s) => s.resume()));
    const goodPort = await listen(good, '127.0.0.1');
    t.after(() => closeServer(good));
    const hole = await startBlackhole({ hosts: ['127.0.0.2'], port: goodPort });
    t.after(() => hole.close());
    const dialer = new Dialer({
      resolver: fixed({ 4: ['127.0.0.2', '127.0.0.1'] }),
      family: 4,
      attemptDelay: 100,
      memory: { exploreProbability: 0, loadSharing: false },
    });
    const first = await dialer.dial(`silent.test:${hole.port}`);
    await closeSocket(first);
    assert.deepEqual(
      getReport(first)!.attempts.map((a) => [a.address, a.outcome]),
      [
        ['127.0.0.2', 'cancelled'],
        ['127.0.0.1', 'connected'],
      ],
    );
    const state = dialer.memory?.endpoints.get('127.0.0.2', hole.port, performance.now());
    assert.equal(state?.lastErrorCode, 'ETIMEDOUT');
    const second = await dialer.dial(`silent.test:${hole.port}`);
    t.after(() => closeSocket(second));
    assert.deepEqual(
      getReport(second)!.attempts.map((a) => [a.address, a.outcome, a.trigger]),
      [['127.0.0.1', 'connected', 'first']],
    );
  });

  test('localhost is loopback without asking DNS (RFC 6761)', async () => {
    dns!.resetLog();
    const resolved = await local('').resolve(`localhost:${port}`);
    assert.deepEqual(resolved.addresses.map((a) => a.address).sort(), ['127.0.0.1', '::1']);
    assert.equal(dns!.queryCount(), 0);
  });

  test('no runtime dependencies: dns-packet is compiled into the bundle (a development dependency)', () => {
    const pkg = JSON.parse(
      readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'),
    ) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    assert.deepEqual(Object.keys(pkg.dependencies ?? {}), []);
    assert.ok(pkg.devDependencies?.['dns-packet'] !== undefined);
  });
});
