/**
 * A non-enumerable own option (`Object.defineProperty(o, 'policy', { value: 'public' })`) is read like any
 * other own property, in every options type netdial reads (readOptionBag): a hidden `policy` is a policy,
 * a hidden misspelt name is refused like a visible one. Before, the bag was listed with Object.keys, which
 * skips non-enumerable properties, so such a policy was silently dropped and the dial connected.
 * Real sockets: a listener on 127.0.0.1 that counts what reaches it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request as undiciRequest } from 'undici';
import {
  Agent,
  bindCreateConnection,
  compilePolicy,
  createLookup,
  DialSocket,
  Dialer,
  dial,
  HttpsAgent,
  register,
  type ResolveFunction,
} from '../src/index.js';
import { readOptionBag } from '../src/option-names.js';
import { parseProxyOption } from '../src/proxy/proxy-option.js';
import { connector, createDispatcher } from '../src/undici.js';

const CODE = 'ERR_NETDIAL_INVALID_OPTION';
const DENIED = 'ERR_NETDIAL_DENIED';
const loopback: ResolveFunction = async (_name, family) => (family === 4 ? ['127.0.0.1'] : []);

/** `o` with `key` = `value` as an own, non-enumerable property (invisible to Object.keys and spreads). */
function hidden<T extends object>(o: T, key: string, value: unknown): T {
  Object.defineProperty(o, key, { value, enumerable: false, configurable: true, writable: true });
  assert.ok(!Object.keys(o).includes(key));
  return o;
}

function throwsOption(fn: () => unknown, name: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TypeError, `not a TypeError: ${String(e)}`);
    assert.equal((e as { code?: string }).code, CODE);
    assert.ok(e.message.startsWith(`invalid option ${name}:`), e.message);
    return true;
  });
}

async function outcomeOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      (v as { destroy?: () => void })?.destroy?.();
      return 'connected';
    },
    (e: unknown) => e,
  );
}

function codeOf(outcome: unknown): unknown {
  const e = outcome as { code?: unknown; cause?: { code?: unknown } };
  return e?.code === DENIED ? DENIED : (e?.cause?.code ?? e?.code ?? outcome);
}

describe('non-enumerable own options are read, in every options type', () => {
  let accepted = 0;
  const server = http.createServer((_req, res) => res.end('ok'));
  server.on('connection', () => accepted++);
  let port = 0;
  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => server.close());

  /** Runs `attempt`, expecting a policy denial and no connection at the server. */
  async function assertDenied(label: string, attempt: () => Promise<unknown>): Promise<void> {
    const before = accepted;
    const outcome = await outcomeOf(attempt());
    assert.equal(codeOf(outcome), DENIED, `${label}: ${String(outcome)}`);
    assert.equal(accepted, before, `${label}: a connection reached the server`);
  }

  test('new Dialer(): a hidden policy applies; a hidden misspelt name is refused', async () => {
    const options = hidden({ resolver: loopback, hostsPath: null, memory: false }, 'policy', 'public');
    await assertDenied('Dialer policy', () => new Dialer(options).dial(`x.test:${port}`));
    throwsOption(() => new Dialer(hidden({ resolver: loopback }, 'polcy', 'public') as never), 'polcy');
  });

  test('dial options (Dialer#dial, dial()): a hidden policy narrows the dial', async () => {
    const dialer = new Dialer({ resolver: loopback, hostsPath: null, memory: false });
    await assertDenied('Dialer#dial', () => dialer.dial(`x.test:${port}`, hidden({}, 'policy', 'public')));
    await assertDenied('dial()', () => dial(`127.0.0.1:${port}`, hidden({}, 'policy', 'public')));
    const e = await outcomeOf(dialer.dial(`x.test:${port}`, hidden({}, 'timout', 5) as never));
    assert.equal((e as { code?: string }).code, CODE);
  });

  test('memory options (and memory.endpoints, memory.dns): hidden values are taken, hidden typos refused', () => {
    const memory = hidden({}, 'endpoints', hidden({}, 'maxEndpoints', 7));
    hidden(memory, 'dns', hidden({}, 'maxNames', 9));
    const dialer = new Dialer({ resolver: loopback, memory });
    assert.equal(dialer.memory?.endpoints.options.maxEndpoints, 7);
    assert.equal(dialer.memory?.dns.options.maxNames, 9);
    throwsOption(() => new Dialer({ memory: hidden({}, 'loadSharng', false) as never }), 'memory.loadSharng');
  });

  test('a policy spec { allow, deny }: a hidden deny list is a deny list', async () => {
    const spec = hidden({}, 'deny', ['loopback']);
    assert.equal(compilePolicy(spec).check('127.0.0.1').allowed, false);
    await assertDenied('policy spec', () =>
      new Dialer({ resolver: loopback, memory: false, policy: hidden({}, 'deny', ['loopback']) }).dial(
        `x.test:${port}`,
      ),
    );
    throwsOption(() => compilePolicy(hidden({}, 'dney', ['loopback']) as never), 'dney');
  });

  test('the proxy object { url, tls }: a hidden url is the url', () => {
    const spec = parseProxyOption(hidden({}, 'url', 'http://127.0.0.1:3128'));
    assert.equal(typeof spec === 'object' && spec.port, 3128);
    throwsOption(() => parseProxyOption(hidden({ url: 'http://127.0.0.1:3128' }, 'tsl', {})), 'proxy.tsl');
  });

  test("the integrations' dial options (Agent, HttpsAgent, createConnection, DialSocket): a hidden policy applies", async () => {
    const get = (options: http.RequestOptions) =>
      new Promise<unknown>((resolve) => {
        const req = http.get({ host: 'x.test', port, ...options }, (res) => {
          res.resume();
          resolve('connected');
        });
        req.on('error', resolve);
      });
    const agent = new Agent({ dial: hidden({ resolver: loopback }, 'policy', 'public') });
    try {
      await assertDenied('Agent', () =>
        get({ agent }).then((o) => (o === 'connected' ? o : Promise.reject(o))),
      );
    } finally {
      agent.destroy();
    }
    const createConnection = bindCreateConnection(hidden({ resolver: loopback }, 'policy', 'public'));
    await assertDenied('createConnection', () =>
      get({ createConnection: createConnection as never }).then((o) =>
        o === 'connected' ? o : Promise.reject(o),
      ),
    );
    await assertDenied(
      'DialSocket',
      () =>
        new Promise((resolve, reject) => {
          const s = new DialSocket(hidden({ resolver: loopback }, 'policy', 'public'));
          s.once('connect', () => resolve(s));
          s.once('error', reject);
          s.connect(port, 'x.test');
        }),
    );
    throwsOption(() => new HttpsAgent({ dial: hidden({}, 'polcy', 'public') as never }), 'dial.polcy');
  });

  test('the undici connector / createDispatcher: a hidden policy applies', async () => {
    const dispatcher = createDispatcher(hidden({ resolver: loopback }, 'policy', 'public'));
    try {
      await assertDenied('createDispatcher', () =>
        undiciRequest(`http://x.test:${port}/`, { dispatcher }).then(async (r) => {
          await r.body.dump();
          return 'connected';
        }),
      );
    } finally {
      await dispatcher.close();
    }
    throwsOption(() => connector(hidden({}, 'connectTimout', 5) as never), 'connectTimout');
  });

  test('createLookup and register(): hidden misspelt names are refused like visible ones', () => {
    throwsOption(() => createLookup(hidden({}, 'resolvr', loopback) as never), 'resolvr');
    // Refused before anything global is replaced; should it be accepted, it is put back at once.
    let restore: (() => Promise<void>) | undefined;
    try {
      assert.throws(
        () => {
          restore = register(hidden({}, 'polcy', 'public') as never);
        },
        (e: unknown) => e instanceof TypeError && (e as { code?: string }).code === CODE,
      );
    } finally {
      void restore?.();
    }
  });

  test('readOptionBag: the copy holds hidden values as ordinary (enumerable) properties; symbols are not options', () => {
    const names = new Set(['a', 'b']);
    const bag = readOptionBag(hidden({ a: 1, [Symbol('b')]: 3 }, 'b', 2), names, 'options');
    assert.deepEqual({ ...bag }, { a: 1, b: 2 });
  });
});
