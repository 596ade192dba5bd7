/**
 * undici's ProxyAgent and the address policy, as docs/safety.md states it: ProxyAgent makes its proxy
 * connection with undici's own connector — a `connect` option is not used for it — so the policy does not
 * see the proxy's address; with `clientFactory` building the proxy's Pool on netdial's connector, the
 * proxy's address is dialled and checked by netdial. (The target's address is the proxy's to resolve.)
 * A CONNECT proxy and the origin run on loopback.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Pool, ProxyAgent, request } from 'undici';
import { Dialer, type ResolveFunction } from '../src/index.js';
import { connector } from '../src/undici.js';

const toLoopback: ResolveFunction = async (_name, family) => (family === 4 ? ['127.0.0.1'] : []);

describe('undici ProxyAgent and the address policy', () => {
  const origin = http.createServer((_req, res) => res.end('origin'));
  let originPort = 0;
  let proxied = 0;
  const sockets = new Set<net.Socket>();
  // A minimal CONNECT proxy: every tunnel goes to the origin on loopback (no DNS).
  const proxy = net.createServer((client) => {
    proxied++;
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.once('data', (head) => {
      if (!/^CONNECT /.test(head.toString('latin1'))) {
        client.destroy();
        return;
      }
      const upstream = net.connect(originPort, '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.once('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
  });
  let proxyPort = 0;
  before(async () => {
    origin.listen(0, '127.0.0.1');
    await once(origin, 'listening');
    originPort = (origin.address() as net.AddressInfo).port;
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    proxyPort = (proxy.address() as net.AddressInfo).port;
  });
  after(() => {
    for (const s of sockets) s.destroy();
    origin.closeAllConnections();
    origin.close();
    proxy.close();
  });

  async function get(dispatcher: ProxyAgent): Promise<unknown> {
    try {
      const r = await request(`http://origin.test:${originPort}/`, { dispatcher });
      return await r.body.text();
    } catch (e) {
      return e;
    } finally {
      await dispatcher.close();
    }
  }

  test('a `connect` option is not used for the proxy connection: the policy does not see it', async () => {
    const denying = new Dialer({ policy: { deny: ['loopback'] }, resolver: toLoopback, memory: false });
    const before = proxied;
    const body = await get(
      new ProxyAgent({ uri: `http://127.0.0.1:${proxyPort}`, connect: connector({ dialer: denying }) }),
    );
    assert.equal(body, 'origin', 'the request went through the proxy on loopback, unchecked');
    assert.equal(proxied, before + 1);
  });

  test('clientFactory on netdial’s connector: the proxy address is dialled and checked by netdial', async () => {
    const clientFactory = (dialer: Dialer) => (url: URL, options: object) =>
      new Pool(url, { ...options, connect: connector({ dialer }) });
    const before = proxied;
    const denying = new Dialer({ policy: { deny: ['loopback'] }, resolver: toLoopback, memory: false });
    const refused = await get(
      new ProxyAgent({ uri: `http://proxy.test:${proxyPort}`, clientFactory: clientFactory(denying) }),
    );
    assert.ok(refused instanceof Error, `expected an error, got ${String(refused)}`);
    const chain = [refused, (refused as Error).cause].map((e) => (e as { code?: string } | undefined)?.code);
    assert.ok(chain.includes('ERR_NETDIAL_DENIED'), `expected ERR_NETDIAL_DENIED in ${String(refused)}`);
    assert.equal(proxied, before, 'no connection reached the proxy');
    // The same with a Dialer that allows loopback: connected through the proxy, dialled by netdial
    // (proxy.test is a name only netdial's resolver knows).
    const allowing = new Dialer({ resolver: toLoopback, memory: false });
    const body = await get(
      new ProxyAgent({ uri: `http://proxy.test:${proxyPort}`, clientFactory: clientFactory(allowing) }),
    );
    assert.equal(body, 'origin');
    assert.equal(proxied, before + 1);
  });
});
