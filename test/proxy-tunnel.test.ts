/**
 * The tunnel shell on real loopback sockets, against small proxies written here to misbehave in ways
 * tinyproxy and microsocks never do: the tunnel's first bytes in the same segment as the `200`, a
 * header block that never ends, a proxy that never answers, a dial cancelled mid-handshake. (The lab
 * file, test/lab-proxy.test.ts, runs the real proxies.)
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { Dialer, type DialError, getReport, isAbortError, isDialError } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';

/** A one-shot fake proxy on 127.0.0.1: `onRequest` gets the request head and the client socket. */
async function fakeProxy(
  onRequest: (head: string, socket: net.Socket) => void,
): Promise<{ port: number; heads: string[]; close: () => Promise<void> }> {
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeListener('data', onData);
      heads.push(buffered.slice(0, end));
      onRequest(buffered.slice(0, end), socket);
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    heads,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

const dialer = new Dialer({ memory: false, hostsPath: null, nameservers: ['127.0.0.1:9'] });

async function failure(p: Promise<net.Socket>): Promise<DialError> {
  try {
    (await p).destroy();
  } catch (err) {
    assert.ok(isDialError(err), String(err));
    return err;
  }
  assert.fail('expected a failure');
}

test("bytes after the 200 in the same segment are the tunnel's first bytes; the request carries Basic auth", async (t) => {
  const proxy = await fakeProxy((_head, socket) => {
    socket.write('HTTP/1.1 200 Connection established\r\nX-A: b\r\n\r\nGREETING FROM TARGET\n');
  });
  t.after(proxy.close);
  const baseline = activeResources();
  const socket = await dialer.dial('192.0.2.10:25', {
    proxy: `http://us%3Aer:p%40ss@127.0.0.1:${proxy.port}`,
  });
  assert.equal(socket.readableFlowing, null, 'handed over like a fresh socket');
  // Bounded: a lost first segment fails here in 2 s instead of hanging the file.
  const [first] = (await once(socket, 'data', { signal: AbortSignal.timeout(2000) })) as [Buffer];
  assert.equal(first.toString(), 'GREETING FROM TARGET\n');
  socket.destroy();
  assert.equal(
    proxy.heads[0],
    `CONNECT 192.0.2.10:25 HTTP/1.1\r\nHost: 192.0.2.10:25\r\nProxy-Authorization: Basic ${Buffer.from('us:er:p@ss').toString('base64')}`,
  );
  assert.equal(getReport(socket)?.proxy?.url, `http://us%3Aer@127.0.0.1:${proxy.port}`);
  await assertNoLeaks(baseline);
});

test('TLS through a CONNECT by name fails: the attempt names the proxy it dialled, never the name as an address', async (t) => {
  // The "target" answers the TLS hello with plain text: the handshake fails inside the tunnel.
  const proxy = await fakeProxy((_head, socket) => {
    socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
    socket.once('data', () => socket.end('this is not TLS\r\n\r\n'));
  });
  t.after(proxy.close);
  const baseline = activeResources();
  const err = await failure(
    dialer.dial('origin.test:443', { proxy: `http://127.0.0.1:${proxy.port}`, tls: {}, timeout: 5000 }),
  );
  assert.equal(proxy.heads[0]?.split('\r\n')[0], 'CONNECT origin.test:443 HTTP/1.1');
  assert.equal(err.host, 'origin.test');
  const a = err.attempts.at(-1)!;
  assert.equal(a.phase, 'tls');
  assert.equal(net.isIP(a.address), 4, `attempt address ${a.address} is an IP`);
  assert.deepEqual([a.address, a.family, a.port], ['127.0.0.1', 4, proxy.port]);
  assert.match(err.message, /TLS handshake with origin\.test: /);
  await assertNoLeaks(baseline);
});

test('a header block past 16 KiB is refused (bounded read), and the proxy connection closed', async (t) => {
  let closed: Promise<unknown> | undefined;
  const proxy = await fakeProxy((_head, socket) => {
    closed = once(socket, 'close');
    socket.write('HTTP/1.1 200 OK\r\n');
    const line = `X-Pad: ${'a'.repeat(1000)}\r\n`;
    for (let i = 0; i < 40; i++) socket.write(line);
  });
  t.after(proxy.close);
  const baseline = activeResources();
  const err = await failure(dialer.dial('192.0.2.10:80', { proxy: `http://127.0.0.1:${proxy.port}` }));
  assert.equal(err.code, 'ERR_NETDIAL_PROXY');
  assert.match(err.message, /longer than 16384 bytes/);
  assert.equal(err.attempts[0]?.phase, 'proxy');
  await closed;
  await assertNoLeaks(baseline);
});

test('a proxy that never answers: ETIMEDOUT within the dial timeout, nothing left behind', async (t) => {
  const proxy = await fakeProxy(() => {});
  t.after(proxy.close);
  const baseline = activeResources();
  const started = performance.now();
  const err = await failure(
    dialer.dial('192.0.2.10:80', { proxy: `socks5://127.0.0.1:${proxy.port}`, timeout: 300 }),
  );
  const ms = performance.now() - started;
  assert.equal(err.code, 'ETIMEDOUT');
  assert.ok(ms >= 250 && ms < 3000, `${ms} ms`);
  await assertNoLeaks(baseline);
});

test('abort mid-handshake: AbortError, the proxy connection closed, nothing left behind', async (t) => {
  let closed: Promise<unknown> | undefined;
  const controller = new AbortController();
  const proxy = await fakeProxy((_head, socket) => {
    closed = once(socket, 'close');
    controller.abort(new Error('user gave up'));
  });
  t.after(proxy.close);
  const baseline = activeResources();
  await assert.rejects(
    dialer.dial('example.test:443', {
      proxy: `http://127.0.0.1:${proxy.port}`,
      signal: controller.signal,
    }),
    (err: unknown) => isAbortError(err),
  );
  await closed;
  await assertNoLeaks(baseline);
});

test('a bad proxy URL in the environment rejects with a TypeError naming the variable', async () => {
  const saved = process.env.all_proxy;
  process.env.all_proxy = 'gopher://nope';
  try {
    await assert.rejects(
      dialer.dial('192.0.2.10:80', { proxy: 'env' }),
      (err: TypeError & { option?: string }) => err instanceof TypeError && err.option === 'all_proxy',
    );
  } finally {
    if (saved === undefined) delete process.env.all_proxy;
    else process.env.all_proxy = saved;
  }
});

test('a 100 Continue before the 200, and a bare-LF reply: both open the tunnel at once, first bytes intact', async (t) => {
  const replies = [
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 Connection established\r\n\r\nAFTER-100\n',
    'HTTP/1.1 200 OK\n\nAFTER-LF\n',
  ];
  let n = 0;
  const proxy = await fakeProxy((_head, socket) => {
    socket.write(replies[n++]!);
  });
  t.after(proxy.close);
  const baseline = activeResources();
  for (const expected of ['AFTER-100\n', 'AFTER-LF\n']) {
    const started = performance.now();
    // A 30 s timeout: a reply the reader does not finish would wait it out, far past the bound below.
    const socket = await dialer.dial('192.0.2.10:25', {
      proxy: `http://127.0.0.1:${proxy.port}`,
      timeout: 30_000,
    });
    try {
      assert.ok(performance.now() - started < 10_000, `opened in ${performance.now() - started} ms`);
      assert.equal(getReport(socket)?.proxy?.handshake?.statusCode, 200);
      const [first] = (await once(socket, 'data', { signal: AbortSignal.timeout(2000) })) as [Buffer];
      assert.equal(first.toString(), expected);
    } finally {
      socket.destroy();
    }
  }
  await assertNoLeaks(baseline);
});
