/**
 * The address policy and the `family` option through a proxy, with a REAL tinyproxy (HTTP CONNECT) and
 * a REAL microsocks (SOCKS5) on loopback, as docs/safety.md states it:
 * - the policy decides where the TARGET connection ends up; the proxy's own address is checked with the
 *   policy plus its `allowProxy` entries, which re-open an address for the hop to a proxy only — never as
 *   a target, through that proxy or any other (and a dial's policy only narrows its Dialer's);
 * - a proxy the policy refuses ends the dial with one ERR_NETDIAL_DENIED naming the proxy and the rule,
 *   no target attempt, and nothing sent anywhere; a denied IP-literal target reads as denied (no DNS
 *   attempt);
 * - `family` constrains the target's addresses, not the hop to the proxy: an IPv6 target is reached
 *   through an IPv4 proxy.
 * Nothing is ever resolved by a proxy here: targets are IP literals, or `localhost` (answered by netdial)
 * through socks5:// (netdial resolves) or under a policy (netdial resolves and sends the literal).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Agent, Dialer, type DialError, getReport, isDialError, PUBLIC_INTERNET_ONLY } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { skipReason } from './support/prerequisite.js';
import {
  microsocksUnavailable,
  type RunningServer,
  startMicrosocks,
  startTinyproxy,
  tinyproxyUnavailable,
} from './support/real-servers.js';

const skip = skipReason(tinyproxyUnavailable() ?? microsocksUnavailable());

async function failure(p: Promise<net.Socket>): Promise<DialError> {
  try {
    (await p).destroy();
  } catch (err) {
    assert.ok(isDialError(err), String(err));
    return err;
  }
  assert.fail('expected a failure');
}

/** A TCP server on `host` that counts connections and greets each with `hello`. */
async function greeter(
  host: string,
): Promise<{ port: number; accepted: () => number; close: () => Promise<void> }> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.end('hello\n');
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

async function firstLine(socket: net.Socket): Promise<string> {
  const [chunk] = (await once(socket, 'data', { signal: AbortSignal.timeout(5000) })) as [Buffer];
  return chunk.toString();
}

const base = { memory: false, hostsPath: null, resolver: 'dns', nameservers: ['127.0.0.1:9'] } as const;

describe('the policy and family through real proxies on loopback', { skip }, () => {
  let tinyproxy: RunningServer;
  let socks: RunningServer;
  let target3: Awaited<ReturnType<typeof greeter>>; // on 127.0.0.3: a target the policies below allow
  let target1: Awaited<ReturnType<typeof greeter>>; // on 127.0.0.1: where the proxies are
  let target6: Awaited<ReturnType<typeof greeter>>; // on ::1
  let decoy: Awaited<ReturnType<typeof greeter>>; // stands for a proxy that must never be connected to

  before(async () => {
    tinyproxy = await startTinyproxy();
    socks = await startMicrosocks();
    target3 = await greeter('127.0.0.3');
    target1 = await greeter('127.0.0.1');
    target6 = await greeter('::1');
    decoy = await greeter('127.0.0.1');
  });

  after(async () => {
    await Promise.all([target3?.close(), target1?.close(), target6?.close(), decoy?.close()]);
    await Promise.all([tinyproxy?.stop(), socks?.stop()]);
  });

  test('a proxy the policy refuses: one denial naming the proxy and the rule, no target attempt, nothing connected', async () => {
    const baseline = activeResources();
    const dialer = new Dialer({ ...base, policy: { ...PUBLIC_INTERNET_ONLY, allow: ['documentation'] } });
    for (const scheme of ['http', 'socks5', 'socks5h']) {
      const proxy = `${scheme}://127.0.0.1:${decoy.port}`;
      for (const extra of [{}, { proxyResolvesNames: true }]) {
        const err = await failure(dialer.dial('192.0.2.1:443', { proxy, timeout: 5000, ...extra }));
        const what = `${proxy} ${JSON.stringify(extra)}`;
        assert.equal(err.code, 'ERR_NETDIAL_DENIED', what);
        assert.equal(
          err.message,
          `connect 192.0.2.1:443 refused by the address policy: the proxy 127.0.0.1:${decoy.port} is denied ` +
            "(1 address denied by policy (loopback)); to allow it as a proxy only, not as a target, add it to the policy's allowProxy",
          what,
        );
        assert.deepEqual(
          err.attempts.map((a) => [a.phase, a.address, a.code, a.proxy]),
          [['policy', '(redacted)', 'ERR_NETDIAL_DENIED', proxy]],
          `${what}: the proxy's denial only, no target attempt`,
        );
        assert.equal(err.proxy, proxy);
      }
    }
    // A name target through a denied proxy: still the proxy's denial only (not one per target address).
    const narrow = new Dialer({ ...base, policy: { deny: ['127.0.0.2'] }, redactDeniedAddresses: false });
    for (const scheme of ['http', 'socks5']) {
      const err = await failure(
        narrow.dial(`localhost:${target1.port}`, {
          proxy: `${scheme}://127.0.0.2:${decoy.port}`,
          timeout: 5000,
        }),
      );
      assert.equal(err.code, 'ERR_NETDIAL_DENIED');
      assert.match(
        err.message,
        /the proxy 127\.0\.0\.2:\d+ is denied \(127\.0\.0\.2 denied by policy \(deny 127\.0\.0\.2\/32\)\)/,
      );
      assert.deepEqual(
        err.attempts.map((a) => [a.phase, a.address]),
        [['policy', '127.0.0.2']],
      );
    }
    assert.equal(decoy.accepted(), 0, 'nothing connected to the denied proxy');
    assert.equal(target1.accepted(), 0);
    await assertNoLeaks(baseline);
  });

  test('allowProxy opens the proxy only: targets through it are still screened, the proxy address too', async () => {
    const baseline = activeResources();
    // 127.0.0.1 (where tinyproxy and microsocks listen) denied, re-opened as a proxy only.
    const dialer = new Dialer({ ...base, policy: { deny: ['127.0.0.1'], allowProxy: ['127.0.0.1'] } });
    for (const proxy of [`http://127.0.0.1:${tinyproxy.port}`, `socks5://127.0.0.1:${socks.port}`]) {
      const socket = await dialer.dial(`127.0.0.3:${target3.port}`, { proxy, timeout: 10_000 });
      try {
        assert.equal(await firstLine(socket), 'hello\n', proxy);
        assert.equal(getReport(socket)?.proxy?.hop?.winner?.address, '127.0.0.1');
      } finally {
        socket.destroy();
      }
      // The proxy's own address as the target, through that very proxy: denied, as a literal (no DNS attempt).
      const before = target1.accepted();
      const err = await failure(dialer.dial(`127.0.0.1:${target1.port}`, { proxy, timeout: 10_000 }));
      assert.equal(err.code, 'ERR_NETDIAL_DENIED');
      assert.equal(
        err.message,
        `connect 127.0.0.1:${target1.port} refused by the address policy: 1 address denied by policy (a deny-listed range)`,
      );
      assert.deepEqual(
        err.attempts.map((a) => [a.phase, a.code]),
        [['policy', 'ERR_NETDIAL_DENIED']],
      );
      // …and by name: netdial resolves localhost, screens it, never asks the proxy for it.
      const byName = await failure(
        dialer.dial(`localhost:${target1.port}`, { proxy, family: 4, timeout: 10_000 }),
      );
      assert.equal(byName.code, 'ERR_NETDIAL_DENIED');
      assert.ok(byName.attempts.every((a) => a.phase === 'policy' && a.code === 'ERR_NETDIAL_DENIED'));
      assert.equal(
        target1.accepted(),
        before,
        `${proxy}: the target on the proxy's address was never reached`,
      );
      // Directly too.
      assert.equal((await failure(dialer.dial(`127.0.0.1:${target1.port}`))).code, 'ERR_NETDIAL_DENIED');
    }
    await assertNoLeaks(baseline);
  });

  test("a dial's policy narrows: its allowProxy cannot open a proxy its Dialer denies, nor can it drop the Dialer's", async () => {
    const proxy = `http://127.0.0.1:${decoy.port}`;
    const strict = new Dialer({ ...base, policy: { deny: ['127.0.0.1'] } });
    const err = await failure(
      strict.dial(`127.0.0.3:${target3.port}`, {
        proxy,
        policy: { allowProxy: ['127.0.0.1'] },
        timeout: 5000,
      }),
    );
    assert.match(err.message, /the proxy 127\.0\.0\.1:\d+ is denied/);
    const open = new Dialer({ ...base, policy: { deny: ['127.0.0.1'], allowProxy: ['127.0.0.1'] } });
    const narrowed = await failure(
      open.dial(`127.0.0.3:${target3.port}`, { proxy, policy: { deny: ['127.0.0.1'] }, timeout: 5000 }),
    );
    assert.match(narrowed.message, /the proxy 127\.0\.0\.1:\d+ is denied/);
    assert.equal(decoy.accepted(), 0);
  });

  test('family is the target’s: an IPv6 target through an IPv4 proxy (socks5, CONNECT to a literal, node:http Agent)', async () => {
    const baseline = activeResources();
    const dialer = new Dialer(base);
    const cases: Array<[string, string]> = [
      [`localhost:${target6.port}`, `socks5://127.0.0.1:${socks.port}`],
      [`[::1]:${target6.port}`, `socks5://127.0.0.1:${socks.port}`],
      [`[::1]:${target6.port}`, `http://127.0.0.1:${tinyproxy.port}`],
    ];
    for (const [target, proxy] of cases) {
      const socket = await dialer.dial(target, { proxy, family: 6, timeout: 10_000 });
      try {
        assert.equal(await firstLine(socket), 'hello\n', `${target} via ${proxy}`);
        const report = getReport(socket);
        assert.equal(report?.winner?.address ?? '::1', '::1');
        assert.equal(report?.proxy?.hop?.winner?.address, '127.0.0.1', 'the hop is IPv4');
      } finally {
        socket.destroy();
      }
    }
    // family 4 for an IPv6-only target: still refused for the target (no address of that family).
    const err = await failure(
      dialer.dial(`[::1]:${target6.port}`, {
        proxy: `socks5://127.0.0.1:${socks.port}`,
        family: 4,
        timeout: 5000,
      }),
    );
    assert.notEqual(err.code, 'ERR_NETDIAL_DENIED');
    await assertNoLeaks(baseline);
  });

  test('node:http with family: 6 through an Agent on a socks5 proxy reaches the IPv6 server', async (t) => {
    const server = http.createServer((_req, res) => res.end('v6 ok'));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    server.listen(0, '::1');
    await once(server, 'listening');
    const agent = new Agent({
      dial: { dialer: new Dialer(base), proxy: `socks5://127.0.0.1:${socks.port}` },
    });
    t.after(() => agent.destroy());
    const port = (server.address() as net.AddressInfo).port;
    for (const family of [undefined, 6] as const) {
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get({ host: '::1', port, family, agent }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      assert.equal(body, 'v6 ok', `family ${family}`);
    }
  });
});
