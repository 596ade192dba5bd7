/**
 * `createConnection` and `DialSocket` against real loopback servers: http.request and https.request with
 * the hook (TLS implied for https, SNI and certificate checked), a `ws` WebSocket (ws:// and wss://), the
 * DialSocket the hook returns at once, DialSocket as pg uses it (connect(port, host), then
 * TLS on top of it), errors and destroy during the dial. Names resolve through a fixed resolver function.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import { Dialer, isAbortError, isDialError, type ResolveFunction } from '../src/index.js';
import { bindCreateConnection, DialSocket } from '../src/integrations/create-connection.js';
import { getReport } from '../src/report.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { makeSelfSignedCert, type TestCert } from './support/tls-cert.js';

const loopback: ResolveFunction = async (_name, family) => (family === 6 ? ['::1'] : ['127.0.0.1']);

/** A Dialer without memory, so each test sees the plain race. */
const dialer = new Dialer({ memory: false });

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function close(server: net.Server): Promise<void> {
  (server as http.Server).closeAllConnections?.();
  server.close();
  await once(server, 'close');
}

function body(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      text += c;
    });
    res.on('end', () => resolve(text));
  });
}

describe('createConnection and DialSocket', () => {
  let cert: TestCert;
  const plain = http.createServer((req, res) => res.end(`plain host=${req.headers.host}`));
  let secure: https.Server;
  const echo = net.createServer((s) => s.on('error', () => {}).pipe(s));
  let tlsEcho: tls.Server;
  const sni: Array<string | false | null> = [];
  const ports = { plain: 0, secure: 0, echo: 0, tlsEcho: 0 };
  let wss: WebSocketServer;
  let wssSecure: WebSocketServer;
  const createConnection = bindCreateConnection({ dialer, resolver: loopback });
  let baseline: Map<string, number>;
  let interval: NodeJS.Timeout;

  before(async () => {
    interval = setInterval(() => {}, 60_000);
    cert = makeSelfSignedCert('localhost');
    secure = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) =>
      res.end(`secure servername=${(req.socket as tls.TLSSocket).servername}`),
    );
    secure.on('secureConnection', (s: tls.TLSSocket) => sni.push(s.servername));
    secure.on('tlsClientError', () => {});
    tlsEcho = tls.createServer({ key: cert.key, cert: cert.cert }, (s) => s.on('error', () => {}).pipe(s));
    tlsEcho.on('secureConnection', (s: tls.TLSSocket) => sni.push(s.servername));
    wss = new WebSocketServer({ server: plain });
    wssSecure = new WebSocketServer({ server: secure });
    for (const w of [wss, wssSecure])
      w.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${m}`)));
    ports.plain = await listen(plain);
    ports.secure = await listen(secure);
    ports.echo = await listen(echo);
    ports.tlsEcho = await listen(tlsEcho);
    baseline = activeResources();
  });
  after(async () => {
    wss.close();
    wssSecure.close();
    await Promise.all([close(plain), close(secure), close(echo), close(tlsEcho)]);
    await assertNoLeaks(baseline, 'createConnection tests');
    clearInterval(interval);
  });

  test('http.request({ createConnection }) dials by name through netdial', async () => {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get(`http://app.test:${ports.plain}/`, { createConnection }, resolve).on('error', reject),
    );
    assert.equal(await body(res), `plain host=app.test:${ports.plain}`);
    assert.equal(getReport(res.socket)?.winner?.address, '127.0.0.1');
  });

  test('https.request({ createConnection }): TLS implied, certificate checked, SNI = host name', async () => {
    sni.length = 0;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      https
        .get(`https://localhost:${ports.secure}/`, { createConnection, ca: cert.cert }, resolve)
        .on('error', reject),
    );
    assert.equal(await body(res), 'secure servername=localhost');
    assert.deepEqual(sni, ['localhost']);
    // res.socket is the DialSocket: it answers for the TLS connection under it, as a TLSSocket would.
    const socket = res.socket as unknown as DialSocket;
    assert.ok(socket instanceof DialSocket);
    assert.equal(socket.encrypted, true);
    assert.equal(socket.authorized, true);
    assert.equal((socket.getPeerCertificate() as tls.PeerCertificate).subject.CN, 'localhost');
    assert.match(String(socket.getProtocol()), /^TLSv1\.[23]$/);
    await assert.rejects(
      new Promise((resolve, reject) =>
        https.get(`https://localhost:${ports.secure}/`, { createConnection }, resolve).on('error', reject),
      ),
      (e: Error & { code?: string }) => isDialError(e) && e.code === 'DEPTH_ZERO_SELF_SIGNED_CERT',
    );
  });

  test('a refused connection reaches the request as a DialError', async () => {
    const dead = net.createServer();
    const deadPort = await listen(dead);
    await close(dead);
    await assert.rejects(
      new Promise((resolve, reject) =>
        http.get(`http://app.test:${deadPort}/`, { createConnection }, resolve).on('error', reject),
      ),
      (e: Error & { code?: string }) => isDialError(e) && e.code === 'ECONNREFUSED',
    );
  });

  for (const scheme of ['ws', 'wss'] as const) {
    test(`ws: a ${scheme}:// WebSocket connects through createConnection and echoes`, async () => {
      const port = scheme === 'ws' ? ports.plain : ports.secure;
      // ws types the hook as net.createConnection; it calls it the http way, (options, callback).
      const ws = new WebSocket(`${scheme}://localhost:${port}/`, {
        createConnection: createConnection as unknown as typeof net.createConnection,
        ca: cert.cert,
      });
      await once(ws, 'open');
      ws.send('hello');
      const [message] = await once(ws, 'message');
      assert.equal(String(message), 'echo hello');
      ws.close();
      await once(ws, 'close');
    });
  }

  test('without a callback the hook returns a DialSocket at once; writes wait for the connection', async () => {
    const socket = createConnection({ host: 'app.test', port: ports.echo });
    assert.ok(socket instanceof DialSocket);
    assert.equal(socket.connecting, true);
    socket.write('early ');
    socket.end('bytes');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      text += c;
    });
    await once(socket, 'connect');
    assert.equal(socket.connecting, false);
    assert.equal(socket.remoteAddress, '127.0.0.1');
    assert.equal(getReport(socket as unknown as net.Socket)?.winner?.address, '127.0.0.1');
    await once(socket, 'close');
    assert.equal(text, 'early bytes');
  });

  test('DialSocket as pg uses it: connect(port, host), then TLS on top of it (tls.connect({ socket }))', async () => {
    sni.length = 0;
    const stream = new DialSocket({ dialer, resolver: loopback });
    stream.setNoDelay(true);
    stream.connect(ports.tlsEcho, 'localhost');
    await once(stream, 'connect');
    stream.setKeepAlive(true, 1000);
    const secureSocket = tls.connect({ socket: stream, servername: 'localhost', ca: cert.cert });
    await once(secureSocket, 'secureConnect');
    secureSocket.end('over tls');
    let text = '';
    secureSocket.setEncoding('utf8');
    secureSocket.on('data', (c: string) => {
      text += c;
    });
    await once(secureSocket, 'close');
    assert.equal(text, 'over tls');
    assert.deepEqual(sni, ['localhost'], 'the server saw SNI localhost');
    if (!stream.destroyed) await once(stream, 'close');
  });

  test('DialSocket: a failed dial is an error event with the DialError', async () => {
    const dead = net.createServer();
    const deadPort = await listen(dead);
    await close(dead);
    const socket = new DialSocket({ dialer, resolver: loopback });
    socket.connect({ host: 'app.test', port: deadPort });
    socket.write('lost');
    const [err] = await once(socket, 'error');
    assert.ok(isDialError(err));
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(socket.destroyed, true);
  });

  test('DialSocket: destroy() during the dial aborts it and leaves nothing behind', async () => {
    const silent: ResolveFunction = (_n, _f, { signal }) =>
      new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('cancelled'))));
    const socket = new DialSocket({ dialer, resolver: silent });
    socket.connect(ports.echo, 'app.test');
    const closed = once(socket, 'close');
    socket.destroy();
    await closed;
    assert.equal(socket.connecting, false);
    assert.equal(socket.socket, undefined);
  });

  test('DialSocket: an aborted signal rejects the dial with an AbortError', async () => {
    const controller = new AbortController();
    const socket = new DialSocket({ dialer, resolver: loopback });
    controller.abort(new Error('stop'));
    socket.connect({ host: 'app.test', port: ports.echo, signal: controller.signal });
    const [err] = await once(socket, 'error');
    assert.ok(isAbortError(err), `expected an AbortError, got ${err}`);
  });
});
