/**
 * The README's recipe for an address policy with the clients people use (axios, got, node:http through
 * netdial's agents; fetch through netdial's dispatcher) must actually enforce it: an IP literal in the
 * URL, or a redirect to one, is refused before any byte reaches the address. And `lookup` must be
 * documented honestly: Node's net never calls it for an IP literal, so a policy given through a lookup
 * function does not see `http://127.0.0.1/` — pinned here, so the docs cannot drift from it.
 *
 * The policy is 'public' with one exception, 127.0.0.2, where the redirecting server listens (on
 * loopback, as every test server here). The protected server listens on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import axios from 'axios';
import { got } from 'got';
import { Dialer, isDialError, PUBLIC_INTERNET_ONLY, type ResolveFunction } from '../src/index.js';
import { Agent, HttpsAgent } from '../src/integrations/agent.js';
import { createLookup } from '../src/integrations/lookup.js';
import { createDispatcher } from '../src/undici.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';

const policy = { ...PUBLIC_INTERNET_ONLY, allow: ['127.0.0.2/32'] };
/** Every name is the redirector's address (a policy-allowed one) except `inside.test` (127.0.0.1). */
const resolver: ResolveFunction = async (name, family) =>
  family === 6 ? [] : name === 'inside.test' ? ['127.0.0.1'] : ['127.0.0.2'];
const dialer = new Dialer({ memory: false, resolver });

async function listen(server: http.Server, host: string): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
}

/** The code of a rejection, or of its cause (fetch wraps the DialError). */
function codeOf(err: unknown): { code: unknown; dialError: boolean } {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return {
    code: e?.code ?? e?.cause?.code,
    dialError:
      isDialError(err) || isDialError(e?.cause) || isDialError((e?.cause as { cause?: unknown })?.cause),
  };
}

describe('the policy recipe (agents, dispatcher) refuses IP literals and redirects to them', () => {
  let protectedHits = 0;
  const inside = http.createServer((_req, res) => {
    protectedHits++;
    res.end('secret');
  });
  let insidePort = 0;
  let redirectorHits = 0;
  const redirector = http.createServer((_req, res) => {
    redirectorHits++;
    res.writeHead(302, { location: `http://127.0.0.1:${insidePort}/secret` }).end();
  });
  let redirectorPort = 0;
  let baseline: Map<string, number>;
  let interval: NodeJS.Timeout;

  // The recipe: agents (and for fetch a dispatcher) with the policy in their dial options.
  const dial = { dialer, policy };
  const httpAgent = new Agent({ dial });
  const httpsAgent = new HttpsAgent({ dial });
  const dispatcher = createDispatcher({ dialer, policy });

  before(async () => {
    interval = setInterval(() => {}, 60_000);
    baseline = activeResources();
    insidePort = await listen(inside, '127.0.0.1');
    redirectorPort = await listen(redirector, '127.0.0.2');
  });
  after(async () => {
    httpAgent.destroy();
    httpsAgent.destroy();
    await dispatcher.close();
    await Promise.all([close(inside), close(redirector)]);
    await assertNoLeaks(baseline, 'policy recipe tests');
    clearInterval(interval);
  });

  const direct = () => `http://127.0.0.1:${insidePort}/secret`;
  const viaRedirect = () => `http://outside.test:${redirectorPort}/`;

  const clients: Record<string, (url: string) => Promise<unknown>> = {
    axios: (url) => axios.get(url, { httpAgent, httpsAgent }),
    got: (url) => got(url, { agent: { http: httpAgent, https: httpsAgent }, retry: { limit: 0 } }),
    fetch: (url) => fetch(url, { dispatcher } as unknown as RequestInit),
    'node:http': (url) =>
      new Promise((resolve, reject) => {
        http.get(url, { agent: httpAgent }, (res) => res.resume().on('end', resolve)).on('error', reject);
      }),
  };

  for (const [name, get] of Object.entries(clients)) {
    test(`${name}: http://127.0.0.1:PORT/ is refused (ERR_NETDIAL_DENIED), nothing reaches it`, async () => {
      protectedHits = 0;
      const err = await get(direct()).then(
        () => assert.fail('the request went through'),
        (e: unknown) => e,
      );
      assert.deepEqual(codeOf(err), { code: 'ERR_NETDIAL_DENIED', dialError: true }, String(err));
      assert.equal(protectedHits, 0);
    });
  }

  for (const [name, get] of Object.entries(clients)) {
    if (name === 'node:http') continue; // node:http does not follow redirects
    test(`${name}: a redirect to http://127.0.0.1:PORT/ is refused at the hop`, async () => {
      protectedHits = 0;
      redirectorHits = 0;
      // The redirector itself is reachable (the policy's one exception): the refusal is the hop's.
      const err = await get(viaRedirect()).then(
        () => assert.fail('the redirect was followed'),
        (e: unknown) => e,
      );
      assert.deepEqual(codeOf(err), { code: 'ERR_NETDIAL_DENIED', dialError: true }, String(err));
      assert.equal(redirectorHits, 1, 'the first hop was answered');
      assert.equal(protectedHits, 0);
    });
  }

  test('a lookup function sees names only: Node never calls it for an IP literal (documented)', async () => {
    const lookup = createLookup({ dialer: new Dialer({ memory: false, resolver, policy }) });
    const get = (url: string) =>
      new Promise<string>((resolve, reject) => {
        http
          .get(url, { lookup, agent: false }, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (c: string) => {
              body += c;
            });
            res.on('end', () => resolve(body));
          })
          .on('error', reject);
      });
    // A name that resolves to the protected address: the lookup refuses it.
    const byName = await get(`http://inside.test:${insidePort}/`).then(
      () => 'reached',
      (e: { code?: string }) => e.code,
    );
    assert.equal(byName, 'ERR_NETDIAL_DENIED');
    // The literal: Node connects without asking the lookup; the policy never sees it.
    protectedHits = 0;
    assert.equal(await get(direct()), 'secret');
    assert.equal(protectedHits, 1);
  });
});
