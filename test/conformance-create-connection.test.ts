/**
 * Conformance of netdial's `createConnection` / `DialSocket` with `net.createConnection`, modelled on the
 * cases of Node's own test-net-connect-* and test-net-autoselectfamily* files (written anew here). Where
 * it can, each case runs the same thing through Node's `net.createConnection` and through netdial's and
 * compares what they did — so "what Node does" is observed on this Node, not written down. Everything
 * runs on loopback: real servers on 127.0.0.1 / 127.0.0.2 / ::1 and a Unix socket; names resolve through
 * a resolver function (netdial) and a `lookup` function (Node) that give the same loopback addresses.
 */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Dialer, isDialError, type ResolveFunction } from '../src/index.js';
import { bindCreateConnection, DialSocket } from '../src/integrations/create-connection.js';
import { getReport } from '../src/report.js';
import { ARGUMENT_CASES, argsFor, outcomeOf } from './support/net-arg-cases.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';

/** app.test → 127.0.0.1 (A only), other.test → 127.0.0.2, both.test → ::1 and 127.0.0.1. */
const resolver: ResolveFunction = async (name, family) => {
  if (name === 'other.test') return family === 4 ? ['127.0.0.2'] : [];
  if (name === 'both.test') return family === 6 ? ['::1'] : ['127.0.0.1'];
  return family === 4 ? ['127.0.0.1'] : [];
};

/** Node's side of the same names: a `lookup` for net.createConnection (asynchronous, as dns.lookup). */
function nodeLookup(host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void): void {
  const all =
    host === 'other.test'
      ? [{ address: '127.0.0.2', family: 4 }]
      : host === 'both.test'
        ? [
            { address: '::1', family: 6 },
            { address: '127.0.0.1', family: 4 },
          ]
        : [{ address: '127.0.0.1', family: 4 }];
  setTimeout(() => {
    if (options.all) callback(null, all);
    else callback(null, all[0]!.address, all[0]!.family);
  }, 1);
}

/** A resolver that never answers until the dial gives up on it (a DNS server that stays silent). */
const silent: ResolveFunction = (_n, _f, { signal }) =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('cancelled'))));

const dialer = new Dialer({ memory: false });
const createConnection = bindCreateConnection({ dialer, resolver });

async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function close(server: net.Server): Promise<void> {
  if (!server.listening) return;
  server.close();
  await once(server, 'close');
}

/** Resolves on 'close' (events.once would reject on an 'error' before it). */
function closed(socket: net.Socket | DialSocket): Promise<void> {
  const state = (socket as unknown as { _readableState?: { closeEmitted?: boolean } })._readableState;
  if (state?.closeEmitted) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** `promise`, or a failure naming `what` after `ms` (a broken behaviour fails fast instead of hanging). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Records the events of interest on a socket, in order. */
function record(socket: net.Socket | DialSocket, events: string[]): string[] {
  const seen: string[] = [];
  for (const name of events) {
    socket.on(name, (...args: unknown[]) => {
      if (name === 'lookup') {
        const [err, address, family, host] = args as [Error | null, string, number, string];
        seen.push(`lookup ${err ? (err as { code?: string }).code : 'ok'} ${address} ${family} ${host}`);
      } else if (name === 'error') {
        seen.push(`error ${(args[0] as { code?: string }).code}`);
      } else {
        seen.push(name);
      }
    });
  }
  return seen;
}

describe('createConnection conforms to net.createConnection', () => {
  const accepted: net.Socket[] = [];
  const echo = net.createServer((s) => {
    accepted.push(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  const other = net.createServer((s) => s.end('other'));
  let port = 0;
  let otherPort = 0;
  let baseline: Map<string, number>;
  let keepAlive: NodeJS.Timeout;

  before(async () => {
    keepAlive = setInterval(() => {}, 60_000);
    port = await listen(echo);
    otherPort = await listen(other, '127.0.0.2');
    baseline = activeResources();
  });
  after(async () => {
    for (const s of accepted) s.destroy();
    await Promise.all([close(echo), close(other)]);
    await assertNoLeaks(baseline, 'createConnection conformance');
    clearInterval(keepAlive);
  });

  test('arguments: netdial throws exactly what Node throws, for every port and option case', () => {
    // Node's outcomes come from a child process (a throwing net.connect leaves its handle behind).
    const child = spawnSync(
      process.execPath,
      [fileURLToPath(new URL('./support/net-arg-outcomes-child.js', import.meta.url)), String(port)],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(child.status, 0, child.stderr);
    const node = JSON.parse(child.stdout) as Array<string | null>;
    assert.equal(node.length, ARGUMENT_CASES.length);
    ARGUMENT_CASES.forEach(([what, args], i) => {
      const ours = outcomeOf(() =>
        (createConnection as (...a: unknown[]) => DialSocket)(...argsFor(args, port)),
      );
      assert.equal(ours, node[i], what);
    });
    // Node refuses each bad port synchronously; the table is not vacuous.
    assert.ok(node.filter((o) => o?.includes('ERR_SOCKET_BAD_PORT')).length >= 8);
    // DialSocket#connect checks the same way (pg calls it directly).
    assert.throws(() => new DialSocket({ dialer }).connect(''), { code: 'ERR_SOCKET_BAD_PORT' });
    assert.throws(() => (new DialSocket({ dialer }).connect as unknown as () => void)(), {
      code: 'ERR_MISSING_ARGS',
    });
  });

  test('ports: numeric strings are the ports Node reads from them, and connect there', async () => {
    const hex = `0x${port.toString(16)}`;
    for (const value of [String(port), ` ${port} `, hex, port]) {
      const socket = createConnection({ host: 'app.test', port: value });
      await once(socket, 'connect');
      assert.equal(socket.remotePort, port, `port ${JSON.stringify(value)}`);
      socket.destroy();
      await closed(socket);
    }
  });

  test('port 0: Node fails asynchronously (refused); netdial fails asynchronously without dialling', async () => {
    const node = net.createConnection({ host: '127.0.0.1', port: 0 });
    const [nodeErr] = await once(node, 'error');
    assert.equal((nodeErr as { code?: string }).code, 'ECONNREFUSED');
    const before = accepted.length;
    const ours = createConnection({ host: 'app.test', port: 0 });
    assert.equal(ours.connecting, true, 'no synchronous throw: the socket is returned');
    const [err] = await once(ours, 'error');
    assert.equal((err as { code?: string }).code, 'ERR_SOCKET_BAD_PORT');
    assert.equal(accepted.length, before);
    await closed(ours);
  });

  test('(port, host): the host is honoured — a name and an IP on 127.0.0.2, not localhost', async () => {
    for (const host of ['other.test', '127.0.0.2']) {
      const socket = createConnection(otherPort, host);
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => {
        text += c;
      });
      await once(socket, 'end');
      assert.equal(text, 'other', host);
      assert.equal(socket.remoteAddress, '127.0.0.2');
      socket.destroy();
    }
    // (port, listener): localhost.
    const connected = new Promise<void>((resolve) => {
      const s = createConnection(port, () => {
        assert.equal(s.remotePort, port);
        s.destroy();
        resolve();
      });
    });
    await connected;
  });

  test("events: 'lookup' per address, then 'connect', then 'ready' — as Node with the same addresses", async () => {
    const events = ['lookup', 'connect', 'ready', 'error'];
    for (const host of ['app.test', '127.0.0.1']) {
      const node = net.createConnection({ host, port, lookup: nodeLookup as never });
      const nodeSeen = record(node, events);
      await once(node, 'ready');
      node.destroy();
      const ours = createConnection({ host, port });
      const oursSeen = record(ours, events);
      await once(ours, 'ready');
      ours.destroy();
      assert.deepEqual(oursSeen, nodeSeen, host);
    }
    assert.deepEqual(
      await (async () => {
        const s = createConnection({ host: 'app.test', port });
        const seen = record(s, events);
        await once(s, 'ready');
        s.destroy();
        return seen;
      })(),
      [`lookup ok 127.0.0.1 4 app.test`, 'connect', 'ready'],
    );
  });

  test("a name without address: 'lookup' with the error, then 'error' (ENOTFOUND), as Node", async () => {
    const nothing: ResolveFunction = async () => {
      throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
    };
    const node = net.createConnection({
      host: 'gone.test',
      port,
      lookup: ((_h: string, _o: unknown, cb: (e: Error) => void) =>
        setTimeout(() => cb(Object.assign(new Error('x'), { code: 'ENOTFOUND' })), 1)) as never,
    });
    const nodeSeen = record(node, ['lookup', 'connect', 'error', 'close']);
    await closed(node);
    const ours = bindCreateConnection({ dialer, resolver: nothing })({ host: 'gone.test', port });
    const oursSeen = record(ours, ['lookup', 'connect', 'error', 'close']);
    await closed(ours);
    assert.deepEqual(oursSeen, nodeSeen);
    assert.deepEqual(oursSeen, [
      'lookup ENOTFOUND undefined undefined gone.test',
      'error ENOTFOUND',
      'close',
    ]);
  });

  test('connecting, pending, readyState and bytesWritten before, during and after, as Node', async () => {
    const snapshot = async (socket: net.Socket | DialSocket) => {
      const states: unknown[] = [];
      const take = () =>
        states.push([socket.connecting, socket.pending, socket.readyState, socket.bytesWritten]);
      take();
      socket.write('four');
      socket.write(Buffer.from('bytes'));
      take();
      await once(socket, 'connect');
      take();
      socket.destroy();
      await closed(socket);
      take();
      return states;
    };
    const node = await snapshot(
      net.createConnection({ host: 'app.test', port, lookup: nodeLookup as never }),
    );
    const ours = await snapshot(createConnection({ host: 'app.test', port }));
    assert.deepEqual(ours, node);
    assert.deepEqual(ours[1], [true, true, 'opening', 9], 'queued writes count in bytesWritten');
  });

  test('allowHalfOpen: after the peer ends, the socket can still write (true) or ends too (false), as Node', async () => {
    for (const allowHalfOpen of [true, false]) {
      const results = [];
      for (const via of ['node', 'netdial'] as const) {
        const got: string[] = [];
        const server = net.createServer((s) => {
          s.setEncoding('utf8');
          s.on('data', (c: string) => got.push(c));
          s.on('end', () => got.push('<end>'));
          s.on('error', () => {});
          s.end();
        });
        const p = await listen(server);
        try {
          const socket =
            via === 'node'
              ? net.createConnection({ host: '127.0.0.1', port: p, allowHalfOpen })
              : createConnection({ host: 'app.test', port: p, allowHalfOpen });
          socket.resume();
          await once(socket, 'end');
          const writable = socket.writable;
          if (writable) socket.end('late');
          await closed(socket);
          await new Promise((r) => setTimeout(r, 20));
          results.push({ writable, got: got.join('') });
        } finally {
          await close(server);
        }
      }
      assert.deepEqual(results[1], results[0], `allowHalfOpen ${allowHalfOpen}`);
      assert.deepEqual(
        results[1],
        allowHalfOpen ? { writable: true, got: 'late<end>' } : { writable: false, got: '<end>' },
      );
    }
  });

  test('keepAlive is truthy-checked and a negative keepAliveInitialDelay counts as 0; noDelay applied', async () => {
    const calls: string[] = [];
    const proto = net.Socket.prototype;
    const { setKeepAlive, setNoDelay } = proto;
    proto.setKeepAlive = function (this: net.Socket, enable?: boolean, delay?: number) {
      calls.push(`keepAlive ${enable} ${delay}`);
      return setKeepAlive.call(this, enable, delay);
    };
    proto.setNoDelay = function (this: net.Socket, noDelay?: boolean) {
      calls.push(`noDelay ${noDelay}`);
      return setNoDelay.call(this, noDelay);
    };
    try {
      const socket = createConnection({
        host: 'app.test',
        port,
        keepAlive: 1 as unknown as boolean,
        keepAliveInitialDelay: -5000,
        noDelay: 'yes' as unknown as boolean,
      });
      socket.on('error', (e) => calls.push(`error ${e.message}`));
      await once(socket, 'connect');
      // The kernel has the keep-alive timer on this connection (ss shows it).
      assert.ok(calls.includes('keepAlive true 0'), calls.join(', '));
      assert.ok(calls.includes('noDelay true'), calls.join(', '));
      socket.destroy();
      await closed(socket);
    } finally {
      proto.setKeepAlive = setKeepAlive;
      proto.setNoDelay = setNoDelay;
    }
  });

  test("timeout option: 'timeout' while still connecting, nothing closed; destroy() then closes without error", async () => {
    const stalled = bindCreateConnection({ dialer, resolver: silent });
    const node = net.createConnection({
      host: 'stall.test',
      port,
      timeout: 80,
      lookup: (() => {}) as never,
    });
    const ours = stalled({ host: 'stall.test', port, timeout: 80 });
    assert.equal(ours.timeout, node.timeout);
    const results = await Promise.all(
      [node, ours].map(async (socket) => {
        const seen = record(socket, ['timeout', 'error', 'close']);
        const started = performance.now();
        await once(socket, 'timeout');
        const ms = performance.now() - started;
        assert.ok(ms >= 60 && ms < 1000, `'timeout' after ${ms} ms`);
        const state = [socket.destroyed, socket.connecting];
        socket.destroy();
        await closed(socket);
        return [state, seen.join(' ')];
      }),
    );
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[1], [[false, true], 'timeout close']);
  });

  test('setTimeout before connect, then the connection restarts the clock', async () => {
    const socket = new DialSocket({ dialer, resolver });
    socket.setTimeout(150);
    socket.connect(port, 'app.test');
    await once(socket, 'connect');
    const started = performance.now();
    await once(socket, 'timeout');
    const ms = performance.now() - started;
    assert.ok(ms >= 120, `'timeout' ${ms} ms after connect`);
    socket.destroy();
  });

  test('destroy() right after connect(): no connect, no error, only close — and no connection reached the server', async () => {
    const before = accepted.length;
    for (const host of ['127.0.0.1', 'app.test']) {
      const socket = createConnection({ host, port });
      const seen = record(socket, ['connect', 'error', 'close']);
      socket.destroy();
      await closed(socket);
      assert.deepEqual(seen, ['close'], host);
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(accepted.length, before, 'the server accepted nothing');
  });

  test('destroy() while the name is still resolving closes at once and leaves nothing behind', async () => {
    const base = activeResources();
    const socket = bindCreateConnection({ dialer, resolver: silent })({ host: 'stall.test', port });
    const seen = record(socket, ['connect', 'error', 'close']);
    await new Promise((r) => setTimeout(r, 30));
    const started = performance.now();
    socket.destroy();
    await closed(socket);
    assert.ok(performance.now() - started < 1000);
    assert.deepEqual(seen, ['close']);
    await assertNoLeaks(base, 'destroy during DNS');
  });

  for (const channel of ['netdial:attempt:connect', 'netdial:dial:done'] as const) {
    test(`a connection won at the moment of cancellation (${channel}) is closed, never handed over`, async () => {
      const serverClosed: Array<Promise<unknown>> = [];
      const server = net.createServer((s) => {
        s.on('error', () => {});
        serverClosed.push(once(s, 'close'));
      });
      const p = await listen(server);
      let socket: DialSocket | undefined;
      const onEvent = () => socket?.destroy();
      diagnosticsChannel.subscribe(channel, onEvent);
      try {
        socket = createConnection({ host: 'app.test', port: p });
        const seen = record(socket, ['connect', 'error', 'close']);
        await within(closed(socket), 2000, "'close'");
        assert.deepEqual(seen, ['close']);
        assert.equal(socket.socket, undefined, 'the won socket was not handed over');
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(serverClosed.length, 1, 'the attempt reached the server');
        await within(serverClosed[0]!, 2000, 'the server seeing the connection closed');
      } finally {
        diagnosticsChannel.unsubscribe(channel, onEvent);
        socket?.socket?.destroy();
        await close(server);
      }
    });
  }

  test('signal: aborting destroys the socket with an AbortError (ABORT_ERR), connecting or connected, as Node', async () => {
    for (const when of ['connecting', 'connected'] as const) {
      const codes: string[] = [];
      for (const via of ['node', 'netdial'] as const) {
        const controller = new AbortController();
        const socket =
          via === 'node'
            ? net.createConnection({
                host: 'stall.test',
                port,
                signal: controller.signal,
                lookup: (when === 'connecting' ? () => {} : nodeLookup) as never,
              })
            : bindCreateConnection({ dialer, resolver: when === 'connecting' ? silent : resolver })({
                host: 'stall.test',
                port,
                signal: controller.signal,
              });
        if (when === 'connected') await once(socket, 'connect');
        controller.abort(new Error('stop'));
        const [err] = await within(once(socket, 'error'), 2000, `${via} ${when}: 'error' after abort`);
        codes.push(`${(err as Error).name} ${(err as { code?: string }).code}`);
        await closed(socket);
      }
      assert.equal(codes[1], codes[0], when);
      assert.equal(codes[1], 'AbortError ABORT_ERR');
    }
  });

  test('Unix socket paths go straight to net: (path), { path }, and pg-style connect(path)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netdial-unix-'));
    const path = join(dir, 's.sock');
    const server = net.createServer((s) => s.on('error', () => {}).end('unix'));
    server.listen(path);
    await once(server, 'listening');
    try {
      const read = async (socket: DialSocket) => {
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (c: string) => {
          text += c;
        });
        await closed(socket);
        return text;
      };
      assert.equal(await read(createConnection(path)), 'unix');
      assert.equal(await read(createConnection({ path })), 'unix');
      const pgStyle = new DialSocket({ dialer });
      pgStyle.connect(path);
      assert.equal(await read(pgStyle), 'unix');
      // A missing socket is net's own error.
      const missing = createConnection(join(dir, 'missing.sock'));
      const [err] = await once(missing, 'error');
      assert.equal((err as { code?: string }).code, 'ENOENT');
    } finally {
      await close(server);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Unix socket paths under an address policy need allowUnixSockets: true', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netdial-unix-'));
    const path = join(dir, 's.sock');
    let accepts = 0;
    const server = net.createServer((s) => {
      accepts++;
      s.on('error', () => {});
      s.end('unix');
    });
    server.listen(path);
    await once(server, 'listening');
    const opened: DialSocket[] = [];
    try {
      const denied = bindCreateConnection({ dialer, policy: 'public' })(path);
      opened.push(denied);
      const [err] = await within(once(denied, 'error'), 2000, "'error' for a denied Unix socket");
      assert.ok(isDialError(err));
      assert.equal(err.code, 'ERR_NETDIAL_DENIED');
      assert.match(err.message, /allowUnixSockets/);
      // A Dialer-wide policy counts too.
      const strict = new Dialer({ memory: false, policy: 'public' });
      const deniedToo = bindCreateConnection({ dialer: strict })({ path });
      opened.push(deniedToo);
      const [errToo] = await within(once(deniedToo, 'error'), 2000, "'error' under a Dialer policy");
      assert.equal(errToo.code, 'ERR_NETDIAL_DENIED');
      assert.equal(accepts, 0);
      const allowed = bindCreateConnection({ dialer: strict, allowUnixSockets: true })(path);
      await once(allowed, 'connect');
      allowed.destroy();
      assert.equal(accepts, 1);
    } finally {
      for (const o of opened) o.destroy();
      await close(server);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('autoSelectFamily options become the dial settings (report.settings)', async () => {
    const settingsOf = async (options: Record<string, unknown>) => {
      const socket = createConnection({ host: 'app.test', port, ...options });
      await once(socket, 'connect');
      const settings = getReport(socket as unknown as net.Socket)?.settings;
      socket.destroy();
      return [settings?.maxConcurrentAttempts, settings?.attemptDelayMs];
    };
    assert.deepEqual(await settingsOf({}), [6, 250]);
    assert.deepEqual(await settingsOf({ autoSelectFamily: false }), [1, 250]);
    assert.deepEqual(await settingsOf({ autoSelectFamily: true }), [6, 250]);
    assert.deepEqual(await settingsOf({ autoSelectFamilyAttemptTimeout: 120 }), [6, 120]);
    // Node raises values below 10 to 10; RFC 8305 §8's 2 s is netdial's ceiling.
    assert.deepEqual(await settingsOf({ autoSelectFamilyAttemptTimeout: 1 }), [6, 10]);
    assert.deepEqual(await settingsOf({ autoSelectFamilyAttemptTimeout: 5000 }), [6, 2000]);
    // The process-wide default (net.setDefaultAutoSelectFamily / --no-network-family-autoselection).
    const before = net.getDefaultAutoSelectFamily();
    net.setDefaultAutoSelectFamily(false);
    try {
      assert.deepEqual(await settingsOf({}), [1, 250]);
      assert.deepEqual(await settingsOf({ autoSelectFamily: true }), [6, 250], 'the option wins');
    } finally {
      net.setDefaultAutoSelectFamily(before);
    }
  });

  test('autoSelectFamily: false tries one address at a time, in order (::1 refused, then 127.0.0.1)', async () => {
    const socket = createConnection({ host: 'both.test', port, autoSelectFamily: false });
    await once(socket, 'connect');
    const report = getReport(socket as unknown as net.Socket);
    socket.destroy();
    const attempts = report?.attempts.map((a) => `${a.address} ${a.outcome} ${a.trigger}`);
    assert.deepEqual(attempts, ['::1 failed first', '127.0.0.1 connected failure']);
  });

  test("connectionAttempt / connectionAttemptFailed per attempt with Node's arguments, after the address's 'lookup'", async () => {
    const events = [
      'lookup',
      'connectionAttempt',
      'connectionAttemptFailed',
      'connectionAttemptTimeout',
      'connect',
      'ready',
      'error',
    ];
    const seenOn = (socket: net.Socket | DialSocket) => {
      const seen: string[] = [];
      for (const name of events) {
        socket.on(name, (...args: unknown[]) => {
          const shown = args.map((a) => {
            if (a === null) return 'null';
            if (!(a instanceof Error)) return String(a);
            const e = a as NodeJS.ErrnoException & { address?: string; port?: number };
            return `${e.code}/${e.errno}/${e.syscall}/${e.address}/${e.port}/${e.message}`;
          });
          seen.push([name, ...shown].join(' '));
        });
      }
      return seen;
    };
    // ::1 refuses (nothing listens there), 127.0.0.1 accepts: one failed attempt, then the connection.
    const node = net.createConnection({
      host: 'both.test',
      port,
      lookup: nodeLookup as never,
      autoSelectFamily: true,
    });
    const nodeSeen = seenOn(node);
    await within(once(node, 'ready'), 5000, 'Node: ready');
    node.destroy();
    const ours = createConnection({ host: 'both.test', port });
    const oursSeen = seenOn(ours);
    await within(once(ours, 'ready'), 5000, 'netdial: ready');
    ours.destroy();
    const refused = `ECONNREFUSED/-111/connect/::1/${port}/connect ECONNREFUSED ::1:${port}`;
    assert.deepEqual(nodeSeen, [
      `lookup null ::1 6 both.test`,
      `lookup null 127.0.0.1 4 both.test`,
      `connectionAttempt ::1 ${port} 6`,
      `connectionAttemptFailed ::1 ${port} 6 ${refused}`,
      `connectionAttempt 127.0.0.1 ${port} 4`,
      'connect',
      'ready',
    ]);
    // netdial races: its attempts may start before the other family's 'lookup' (RFC 8305 §3), and the
    // second one may start before the first fails. Each attempt comes after its address's 'lookup';
    // each event is Node's, with Node's arguments.
    assert.deepEqual([...oursSeen].sort(), [...nodeSeen].sort(), oursSeen.join('\n'));
    for (const address of ['::1', '127.0.0.1']) {
      const lookupAt = oursSeen.findIndex((e) => e.startsWith(`lookup null ${address} `));
      const attemptAt = oursSeen.findIndex((e) => e.startsWith(`connectionAttempt ${address} `));
      assert.ok(lookupAt !== -1 && lookupAt < attemptAt, oursSeen.join('\n'));
    }
    assert.deepEqual(oursSeen.slice(-2), ['connect', 'ready']);

    // An IP literal: no 'lookup' (as Node), the attempt events all the same.
    const dead = net.createServer();
    const deadPort = await listen(dead);
    await close(dead);
    const literal = (socket: net.Socket | DialSocket) => {
      const seen = seenOn(socket);
      return within(closed(socket), 5000, 'close').then(() => seen);
    };
    const nodeLiteral = await literal(net.createConnection({ host: '127.0.0.1', port: deadPort }));
    const oursLiteral = await literal(createConnection({ host: '127.0.0.1', port: deadPort }));
    // The 'error' itself is netdial's DialError (code ECONNREFUSED, every attempt listed).
    const withoutError = (seen: string[]) => seen.map((e) => (e.startsWith('error ') ? e.split('/')[0] : e));
    assert.deepEqual(withoutError(oursLiteral), withoutError(nodeLiteral));
    assert.deepEqual(oursLiteral.slice(0, 2), [
      `connectionAttempt 127.0.0.1 ${deadPort} 4`,
      `connectionAttemptFailed 127.0.0.1 ${deadPort} 4 ECONNREFUSED/-111/connect/127.0.0.1/${deadPort}/connect ECONNREFUSED 127.0.0.1:${deadPort}`,
    ]);
  });

  test("'lookup' leaves out what the address policy refused: those are never tried", async () => {
    // 198.51.100.7 (documentation) is refused by the policy and never dialled; 127.0.0.1 connects.
    const mixed: ResolveFunction = async (_name, family) =>
      family === 4 ? ['198.51.100.7', '127.0.0.1'] : [];
    const socket = bindCreateConnection({ dialer, resolver: mixed, policy: { deny: ['documentation'] } })({
      host: 'mixed.test',
      port,
    });
    const seen = record(socket, ['lookup', 'connectionAttempt', 'connect']);
    await within(once(socket, 'connect'), 5000, 'connect');
    socket.destroy();
    assert.deepEqual(seen, ['lookup ok 127.0.0.1 4 mixed.test', 'connectionAttempt', 'connect']);
  });

  test('every address refused: an AggregateError with one error per attempt, code ECONNREFUSED, as Node', async () => {
    const dead = net.createServer();
    const deadPort = await listen(dead);
    await close(dead);
    const shapeOf = async (socket: net.Socket | DialSocket) => {
      const [err] = await within(once(socket, 'error'), 5000, "'error'");
      const e = err as AggregateError & { code?: string };
      return {
        aggregate: e instanceof AggregateError,
        code: e.code,
        errors: (e.errors as Array<{ code?: string; address?: string; port?: number }>)
          .map((x) => `${x.code} ${x.address} ${x.port}`)
          .sort(),
      };
    };
    const node = await shapeOf(
      net.createConnection({ host: 'both.test', port: deadPort, lookup: nodeLookup as never }),
    );
    const ours = await shapeOf(createConnection({ host: 'both.test', port: deadPort }));
    assert.deepEqual(ours, node);
    assert.deepEqual(ours.errors, [`ECONNREFUSED 127.0.0.1 ${deadPort}`, `ECONNREFUSED ::1 ${deadPort}`]);
  });

  test('--no-network-family-autoselection on the command line: one attempt at a time', () => {
    const moduleUrl = new URL('../src/integrations/create-connection.js', import.meta.url).href;
    const indexUrl = new URL('../src/index.js', import.meta.url).href;
    const script = `
      import net from 'node:net';
      import { bindCreateConnection } from ${JSON.stringify(moduleUrl)};
      import { Dialer, getReport } from ${JSON.stringify(indexUrl)};
      const server = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1', () => {
        const cc = bindCreateConnection({ dialer: new Dialer({ memory: false }), resolver: async (n, f) => (f === 4 ? ['127.0.0.1'] : []) });
        const socket = cc({ host: 'app.test', port: server.address().port });
        socket.on('error', () => {});
        socket.on('connect', () => {
          console.log(JSON.stringify([net.getDefaultAutoSelectFamily(), getReport(socket).settings.maxConcurrentAttempts]));
          socket.destroy();
          server.close();
        });
      });`;
    const run = (flags: string[]) => {
      const child = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(child.status, 0, child.stderr);
      return JSON.parse(child.stdout) as [boolean, number];
    };
    assert.deepEqual(run(['--no-network-family-autoselection']), [false, 1]);
    assert.deepEqual(run([]), [true, 6]);
  });
});
