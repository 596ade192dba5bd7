/**
 * What a diagnostics subscriber sees of a proxied dial, with a REAL microsocks (SOCKS5) and tinyproxy
 * (HTTP CONNECT) on loopback (apt-installed when missing; a failure on CI) and the lab's DNS server on
 * 127.0.0.1: when netdial resolves the target (socks5://) the target's DNS events and one attempt per
 * tunnel asked of the proxy, all under the proxied dial's id without `proxyHopOf`; when the proxy
 * resolves the name (socks5h://, CONNECT by name) no target DNS or attempt events, and dial:done names
 * the target, never the proxy's address. The proxy's own dials are marked `proxyHopOf` throughout.
 * The names the proxies resolve are `localhost` only (their /etc/hosts: no DNS query leaves the host).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { bindCreateConnection } from '../src/integrations/create-connection.js';
import {
  DIAGNOSTICS_CHANNELS as CHANNELS,
  Dialer,
  isDialError,
  subscribeDiagnostics as subscribe,
} from '../src/index.js';
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

/** One published event: its channel (without the `netdial:` prefix) and payload. */
interface Seen {
  channel: string;
  event: Record<string, unknown> & { dialId: number; proxyHopOf?: number; port: number };
}

/** Every dial event (dial, DNS, policy, attempt channels) published while `fn` runs, in order. */
async function eventsOf(fn: () => Promise<void>): Promise<Seen[]> {
  const seen: Seen[] = [];
  const names = Object.values(CHANNELS).filter((n) => !n.startsWith('netdial:memory:'));
  const stops = names.map((name) =>
    subscribe(name, (event) =>
      seen.push({ channel: name.slice('netdial:'.length), event: event as unknown as Seen['event'] }),
    ),
  );
  try {
    await fn();
  } finally {
    for (const stop of stops) stop();
  }
  return seen;
}

/** A compact line per event of the proxied dial itself (not its hops). */
function targetLines(seen: Seen[], dialId: number): string[] {
  return seen
    .filter((s) => s.event.dialId === dialId)
    .map(({ channel, event: e }) => {
      switch (channel) {
        case 'dns:query':
          return `${channel} ${e.type} ${e.name}`;
        case 'dns:answer':
          return `${channel} ${e.type} ${(e.addresses as Array<{ address: string }>).map((a) => a.address).join(',')}`;
        case 'dns:error':
          return `${channel} ${e.type} ${e.code}`;
        case 'attempt:start':
          return `${channel} #${e.attemptId} ${e.address} ${e.trigger}`;
        case 'attempt:error':
          return `${channel} #${e.attemptId} ${e.address} ${e.outcome}`;
        case 'attempt:connect':
          return `${channel} #${e.attemptId} ${e.address}`;
        case 'dial:done':
          return `${channel} ${e.address}`;
        default:
          return channel;
      }
    });
}

describe('diagnostics of proxied dials (real microsocks and tinyproxy on loopback)', { skip }, () => {
  let socks: RunningServer;
  let connect: RunningServer;
  let dns: LabDnsServer;
  let server: http.Server;
  let targetPort = 0;

  before(async () => {
    socks = await startMicrosocks();
    connect = await startTinyproxy();
    server = http.createServer((_req, res) => res.end('hello'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    targetPort = (server.address() as net.AddressInfo).port;
    // 127.0.0.2 first: nothing listens there, so its tunnel fails and the race goes on to 127.0.0.1.
    dns = await startLoopbackDns({ 'www.px.test': { A: ['127.0.0.2', '127.0.0.1'] } }, 'px.test');
  });

  after(async () => {
    server?.closeAllConnections();
    server?.close();
    await Promise.all([socks?.stop(), connect?.stop(), dns?.close()]);
  });

  const dialer = () =>
    new Dialer({ memory: false, resolver: 'dns', hostsPath: null, nameservers: [`127.0.0.1:${dns.port}`] });

  test('socks5:// (netdial resolves): the target DNS events and each tunnel attempt, under the dial’s id', async () => {
    const baseline = activeResources();
    const url = `socks5://127.0.0.1:${socks.port}`;
    const seen = await eventsOf(async () => {
      const socket = await dialer().dial(`www.px.test:${targetPort}`, { proxy: url });
      socket.destroy();
    });
    const start = seen[0]!;
    assert.equal(start.channel, 'dial:start');
    assert.equal(start.event.proxy, url);
    const id = start.event.dialId;
    const lines = targetLines(seen, id);
    // DNS first (the two families in either order), then the attempts in order.
    const dnsLines = lines.slice(1, 5).sort();
    assert.deepEqual(dnsLines, [
      'dns:answer A 127.0.0.2,127.0.0.1',
      'dns:error AAAA ENODATA',
      'dns:query A www.px.test',
      'dns:query AAAA www.px.test',
    ]);
    assert.deepEqual(lines.slice(5), [
      'attempt:start #0 127.0.0.2 first',
      'attempt:error #0 127.0.0.2 failed',
      'attempt:start #1 127.0.0.1 failure',
      'attempt:connect #1 127.0.0.1',
      'dial:done 127.0.0.1',
    ]);
    const failed = seen.find((s) => s.channel === 'attempt:error' && s.event.dialId === id)!.event;
    assert.equal(typeof failed.code, 'string');
    assert.match(String(failed.message), /./);
    // None of the target's events is marked as a hop; every hop event is, with this dial's id, and
    // each hop is a dial of the proxy (its port), one per tunnel attempt.
    assert.ok(seen.filter((s) => s.event.dialId === id).every((s) => s.event.proxyHopOf === undefined));
    const hops = seen.filter((s) => s.event.dialId !== id);
    assert.ok(hops.length > 0);
    assert.ok(hops.every((s) => s.event.proxyHopOf === id && s.event.port === socks.port));
    assert.equal(hops.filter((s) => s.channel === 'dial:start').length, 2);
    // Every hop dial happens between its attempt's start and end.
    const index = (channel: string, attemptId: number) =>
      seen.findIndex(
        (s) => s.event.dialId === id && s.channel === channel && s.event.attemptId === attemptId,
      );
    const hopStarts = seen.flatMap((s, i) =>
      s.channel === 'dial:start' && s.event.dialId !== id ? [i] : [],
    );
    assert.ok(index('attempt:start', 0) < hopStarts[0]! && hopStarts[0]! < index('attempt:error', 0));
    assert.ok(index('attempt:start', 1) < hopStarts[1]! && hopStarts[1]! < index('attempt:connect', 1));
    assert.equal(seen.at(-1)?.channel, 'dial:done');
    await assertNoLeaks(baseline);
  });

  test('socks5h:// and CONNECT by name (the proxy resolves): no target DNS or attempts; dial:done names the target', async () => {
    const baseline = activeResources();
    for (const url of [`socks5h://127.0.0.1:${socks.port}`, `http://127.0.0.1:${connect.port}`]) {
      const seen = await eventsOf(async () => {
        const socket = await dialer().dial(`localhost:${targetPort}`, { proxy: url });
        socket.destroy();
      });
      const id = seen[0]!.event.dialId;
      assert.deepEqual(targetLines(seen, id), ['dial:start', 'dial:done localhost'], url);
      const done = seen.at(-1)!.event;
      assert.equal(done.family, 4);
      assert.equal((done.report as { winner?: unknown }).winner, undefined);
      const hopDone = seen.find((s) => s.channel === 'dial:done' && s.event.dialId !== id)!.event;
      assert.equal(hopDone.proxyHopOf, id);
      assert.equal(hopDone.address, '127.0.0.1', 'the proxy’s address is the hop’s, not the target’s');
    }
    await assertNoLeaks(baseline);
  });

  test('socks5:// with every tunnel refused: each attempt ends once, then one dial:error', async () => {
    const baseline = activeResources();
    const url = `socks5://127.0.0.1:${socks.port}`;
    let rejected: unknown;
    const seen = await eventsOf(async () => {
      // Port 9 on 127.0.0.2 and 127.0.0.1: nothing listens, so microsocks refuses both tunnels.
      await dialer()
        .dial('www.px.test:9', { proxy: url })
        .then(
          (s) => s.destroy(),
          (err: unknown) => {
            rejected = err;
          },
        );
    });
    assert.ok(isDialError(rejected), String(rejected));
    const id = seen[0]!.event.dialId;
    const lines = targetLines(seen, id).filter((l) => l.startsWith('attempt:') || l === 'dial:error');
    assert.deepEqual(lines, [
      'attempt:start #0 127.0.0.2 first',
      'attempt:error #0 127.0.0.2 failed',
      'attempt:start #1 127.0.0.1 failure',
      'attempt:error #1 127.0.0.1 failed',
      'dial:error',
    ]);
    await assertNoLeaks(baseline);
  });

  test('a SOCKS5 proxy that never answers, the dial aborted: the tunnel attempts still out end as aborted, before dial:error', async () => {
    const baseline = activeResources();
    // Accepts and reads, never answers: each tunnel hangs until the dial's timeout.
    const sockets = new Set<net.Socket>();
    const mute = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.resume();
    });
    mute.listen(0, '127.0.0.1');
    await once(mute, 'listening');
    try {
      const url = `socks5://127.0.0.1:${(mute.address() as net.AddressInfo).port}`;
      let rejected: unknown;
      const controller = new AbortController();
      const seen = await eventsOf(async () => {
        setTimeout(() => controller.abort(new Error('enough')), 400);
        await dialer()
          .dial(`www.px.test:${targetPort}`, { proxy: url, attemptDelay: 100, signal: controller.signal })
          .then(
            (s) => s.destroy(),
            (err: unknown) => {
              rejected = err;
            },
          );
      });
      assert.equal((rejected as { code?: string }).code, 'ABORT_ERR', String(rejected));
      const id = seen[0]!.event.dialId;
      const lines = targetLines(seen, id).filter((l) => l.startsWith('attempt:') || l === 'dial:error');
      assert.deepEqual(lines.slice(0, 2), [
        'attempt:start #0 127.0.0.2 first',
        'attempt:start #1 127.0.0.1 delay',
      ]);
      assert.deepEqual(lines.slice(2).sort(), [
        'attempt:error #0 127.0.0.2 aborted',
        'attempt:error #1 127.0.0.1 aborted',
        'dial:error',
      ]);
      assert.equal(lines.at(-1), 'dial:error');
    } finally {
      for (const s of sockets) s.destroy();
      mute.close();
      await once(mute, 'close');
    }
    await assertNoLeaks(baseline);
  });

  test('a createConnection socket hears the target’s attempts through socks5://, none through socks5h://', async () => {
    const baseline = activeResources();
    const heard = async (proxy: string, host: string) => {
      const connect = bindCreateConnection({ proxy });
      const socket = connect({ host, port: targetPort });
      const events: string[] = [];
      for (const name of ['lookup', 'connectionAttempt', 'connectionAttemptFailed', 'connect']) {
        socket.on(name, (...args: unknown[]) =>
          events.push([name, ...args.slice(0, 2).map(String)].join(' ').trim()),
        );
      }
      try {
        await once(socket, 'connect');
      } finally {
        socket.destroy();
      }
      return events;
    };
    assert.deepEqual(await heard(`socks5://127.0.0.1:${socks.port}`, '127.0.0.1'), [
      `connectionAttempt 127.0.0.1 ${targetPort}`,
      'connect',
    ]);
    assert.deepEqual(await heard(`socks5h://127.0.0.1:${socks.port}`, 'localhost'), ['connect']);
    await assertNoLeaks(baseline);
  });
});
