/**
 * undici options that reach netdial's connector from around it, on loopback, with the installed undici:
 * - `socketPath` (on a Client, or a createDispatcher agent): the request goes to the Unix socket, as
 *   undici's own connector sends it — never a TCP dial to the URL's host — and under a policy it is refused
 *   with ERR_NETDIAL_DENIED (as createConnection refuses it) unless allowUnixSockets;
 * - `createDispatcher({ agent: { connect: { ca, … } } })`: undici's connect options are kept (the `ca`
 *   verifies the server), not silently dropped; a `connect` function is refused.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as undici from 'undici';
import { Dialer } from '../src/index.js';
import { connector, createDispatcher } from '../src/undici.js';
import { makeSelfSignedCert } from './support/tls-cert.js';

const base = { memory: false, hostsPath: null, resolver: 'dns', nameservers: ['127.0.0.1:9'] } as const;

async function body(p: Promise<undici.Dispatcher.ResponseData>): Promise<string> {
  const res = await p;
  return res.body.text();
}

type Failure = { message: string; code?: string; cause?: { code?: string } };

async function rejection(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (err) {
    return err as Failure;
  }
  assert.fail('expected a rejection');
}

describe('undici socketPath and connect options through netdial', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netdial-undici-unix-'));
  const socketPath = join(dir, 'http.sock');
  const unix = http.createServer((_req, res) => res.end('over the unix socket'));
  let secure: https.Server;
  let securePort = 0;
  let ca = '';

  before(async () => {
    unix.listen(socketPath);
    await once(unix, 'listening');
    const cert = makeSelfSignedCert('localhost');
    ca = cert.cert;
    secure = https.createServer({ key: cert.key, cert: cert.cert }, (_req, res) => res.end('verified'));
    secure.on('tlsClientError', () => {});
    secure.listen(0, '127.0.0.1');
    await once(secure, 'listening');
    securePort = (secure.address() as net.AddressInfo).port;
  });

  after(async () => {
    unix.closeAllConnections();
    unix.close();
    secure?.closeAllConnections();
    secure?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a Client with socketPath and connector(): the request goes to the Unix socket', async () => {
    const client = new undici.Client('http://localhost', {
      socketPath,
      connect: connector({ dialer: new Dialer(base) }),
    });
    try {
      assert.equal(await body(client.request({ path: '/', method: 'GET' })), 'over the unix socket');
    } finally {
      await client.close();
    }
  });

  test('createDispatcher({ agent: { socketPath } }) and agent.connect.socketPath: the Unix socket', async () => {
    for (const agent of [{ socketPath }, { connect: { socketPath } }]) {
      const dispatcher = createDispatcher({ dialer: new Dialer(base), agent });
      try {
        assert.equal(
          await body(undici.request('http://localhost/', { dispatcher })),
          'over the unix socket',
          JSON.stringify(agent),
        );
      } finally {
        await dispatcher.close();
      }
    }
  });

  test('under a policy the Unix socket is refused (ERR_NETDIAL_DENIED) unless allowUnixSockets', async () => {
    const dialer = new Dialer({ ...base, policy: 'public' });
    const refused = createDispatcher({ dialer, agent: { socketPath } });
    const client = new undici.Client('http://localhost', { socketPath, connect: connector({ dialer }) });
    try {
      for (const p of [
        undici.request('http://localhost/', { dispatcher: refused }),
        client.request({ path: '/', method: 'GET' }),
      ]) {
        const err = await rejection(p);
        const code = err.code === 'ERR_NETDIAL_DENIED' ? err.code : err.cause?.code;
        assert.equal(code, 'ERR_NETDIAL_DENIED', String(err));
        assert.match(String(err.message), /a Unix socket is not an IP address/);
      }
    } finally {
      await refused.close();
      await client.close();
    }
    const allowed = createDispatcher({ dialer, allowUnixSockets: true, agent: { socketPath } });
    try {
      assert.equal(
        await body(undici.request('http://localhost/', { dispatcher: allowed })),
        'over the unix socket',
      );
    } finally {
      await allowed.close();
    }
    // allowUnixSockets is for Unix sockets only: the same dispatcher's TCP requests still dial.
    const both = createDispatcher({ dialer: new Dialer(base), allowUnixSockets: true, tls: { ca } });
    try {
      assert.equal(
        await body(undici.request(`https://127.0.0.1:${securePort}/`, { dispatcher: both })),
        'verified',
      );
    } finally {
      await both.close();
    }
  });

  test('createDispatcher({ agent: { connect: { ca } } }) keeps the ca; a connect function is refused', async () => {
    const url = `https://127.0.0.1:${securePort}/`;
    const withCa = createDispatcher({ dialer: new Dialer(base), agent: { connect: { ca } } });
    const without = createDispatcher({ dialer: new Dialer(base) });
    try {
      assert.equal(await body(undici.request(url, { dispatcher: withCa })), 'verified');
      // The check above can fail: without the ca the self-signed certificate is refused.
      const err = await rejection(undici.request(url, { dispatcher: without }));
      assert.match(
        `${err.code} ${err.cause?.code} ${err.message}`,
        /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/,
      );
    } finally {
      await withCa.close();
      await without.close();
    }
    assert.throws(
      () => createDispatcher({ agent: { connect: (() => {}) as never } }),
      (e: unknown) =>
        e instanceof TypeError &&
        (e as { code?: string }).code === 'ERR_NETDIAL_INVALID_OPTION' &&
        /agent\.connect/.test(e.message),
    );
  });
});
