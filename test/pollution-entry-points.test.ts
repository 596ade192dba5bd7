/**
 * A polluted Object.prototype (rev8 finding 4) neither breaks nor steers any entry point. An application
 * whose Object.prototype carries netdial's option names — invalid values (`attemptDelay: 1`,
 * `maxAddresses: 0`, `resolver: 'x'`…) that would throw if read, and valid but harmful ones
 * (`policy: 'public'`, which denies loopback; `proxy` naming a CONNECT proxy that counts what reaches
 * it; `tls: true`; `family: 6`) — imports netdial afterwards, then makes every integration and dials a
 * loopback HTTP(S) server through each: new Agent / HttpsAgent, createConnection, bindCreateConnection,
 * DialSocket, createLookup / lookup, the undici connector, createDispatcher (with and without
 * undici's `connect` options), register(), and `--import netdial/register`. Each must work as it
 * does unpolluted, and nothing may reach the proxy.
 * Names Node or undici themselves read from an inherited property (`timeout`, `signal`, `localAddress`
 * and `connect` break node:http / net; `keepAlive`, `connectTimeout`, `allowH2` break undici's own
 * Client) are left out: with them a plain `http.get` / `fetch` fails without netdial.
 * Real sockets on 127.0.0.1 only; each child is killed by PID if it hangs (runNode).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request as undiciRequest } from 'undici';
import { runNode } from './support/run-node.js';
import { Dialer } from '../src/dialer.js';
import { createDispatcher } from '../src/undici.js';
import { startBlackhole } from './support/blackhole.js';
import { closeServer, trackConnections } from './support/servers.js';
import { makeSelfSignedCert } from './support/tls-cert.js';

/** The package root: `netdial` resolves from here (the package's self-reference). */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The environment of the children: none of the variables register or curl's proxy rules read. */
const CLEAN_ENV: Record<string, undefined> = Object.fromEntries(
  [
    'http_proxy',
    'HTTP_PROXY',
    'https_proxy',
    'HTTPS_PROXY',
    'all_proxy',
    'ALL_PROXY',
    'no_proxy',
    'NO_PROXY',
    'NETDIAL_POLICY',
    'NETDIAL_TRACE',
    'NETDIAL_PROXY',
    'NETDIAL_MEMORY_FILE',
    'NETDIAL_ALLOW_UNIX_SOCKETS',
    'NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH',
  ].map((k) => [k, undefined]),
);

/** Option names of every netdial options type, with values that would break or steer a dial if read. */
function pollutionValues(proxyPort: number): Record<string, unknown> {
  return {
    // dial options: invalid (a read throws) …
    attemptDelay: 1,
    resolutionDelay: 99999,
    maxAddresses: 0,
    maxConcurrentAttempts: 0,
    firstAddressFamilyCount: 0,
    redactDeniedAddresses: 'x',
    noDelay: 'x',
    keepAliveInitialDelay: -1,
    resolver: 'x',
    proxyResolvesNames: 'x',
    httpsRecords: 'x',
    // … and valid but harmful: loopback denied, a proxy, TLS to a plain server, IPv6 to an IPv4 literal.
    policy: 'public',
    proxy: `http://127.0.0.1:${proxyPort}`,
    tls: true,
    family: 6,
    // Dialer, integration, connector, dispatcher, register and memory options.
    dialer: 1,
    allowUnixSockets: 'x',
    allowHalfOpen: 'x',
    memory: 1,
    maxAttemptsInFlight: 0,
    networkCheckIntervalMs: -1,
    hostsPath: '',
    resolvConfPath: '',
    nameservers: 1,
    dnsTimeoutMs: 0,
    dnsTries: 0,
    nsswitchPath: '',
    nat64Prefix: 'x',
    maxCachedSessions: -1,
    agent: 1,
    dial: 1,
    maxSocketAge: -1,
    trace: 'x',
    memoryFile: 1,
    allowUncoveredFetch: 'x',
    dns: 1,
    endpoints: 1,
    store: 1,
  };
}

/**
 * The application, run as `node --import POLLUTE -e APP PORT`: every entry point in turn, each outcome
 * printed as one JSON object (a step that throws records the error, so one failure does not hide others).
 */
const APP = `
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
const port = Number(process.argv[1]);
const [httpsPort, caFile] = [Number(process.argv[3]), process.argv[4]];
const url = 'http://127.0.0.1:' + port + '/';
const polluted = Object.prototype.attemptDelay === 1 && Object.prototype.policy === 'public';
const out = { polluted };
const get = (options) => new Promise((resolve) => {
  const req = http.get(url, options, (r) => { r.resume(); r.on('end', () => resolve(r.statusCode)); });
  req.on('error', (e) => resolve(e.code ?? e.message));
});
const viaFetch = (init) => fetch(url, init).then(
  async (r) => { await r.text(); return r.status; },
  (e) => e.cause?.code ?? e.cause?.message ?? e.message,
);
async function step(name, fn) {
  try { out[name] = await fn(); } catch (e) { out[name] = 'threw ' + (e.code ?? '') + ' ' + e.message; }
}
if (process.argv[2] === 'registered') {
  await step('http.get', () => get({}));
  await step('fetch', () => viaFetch());
} else {
  const nd = await import('netdial');
  const nu = await import('netdial/undici');
  const undici = await import('undici');
  await step('dial', async () => { const s = await nd.dial('127.0.0.1:' + port); s.destroy(); return 200; });
  await step('Dialer', async () => {
    const s = await new nd.Dialer().dial('127.0.0.1:' + port, {});
    s.destroy();
    return 200;
  });
  await step('Agent', async () => {
    const agent = new nd.Agent();
    try { return await get({ agent }); } finally { agent.destroy(); }
  });
  await step('Agent with options', async () => {
    const agent = new nd.Agent({ keepAlive: true, dial: { noDelay: true } });
    try { return await get({ agent }); } finally { agent.destroy(); }
  });
  await step('HttpsAgent', async () => {
    const agent = new nd.HttpsAgent({ ca: readFileSync(caFile), dial: {} });
    try {
      return await new Promise((resolve) => {
        const req = https.get('https://127.0.0.1:' + httpsPort + '/', { agent }, (r) => {
          r.resume();
          r.on('end', () => resolve(r.statusCode));
        });
        req.on('error', (e) => resolve(e.code ?? e.message));
      });
    } finally { agent.destroy(); }
  });
  await step('createConnection', () => get({ createConnection: nd.createConnection }));
  await step('bindCreateConnection', () => get({ createConnection: nd.bindCreateConnection({}) }));
  await step('DialSocket', () => new Promise((resolve) => {
    const s = new nd.DialSocket();
    s.once('connect', () => { s.destroy(); resolve(200); });
    s.once('error', (e) => resolve(e.code ?? e.message));
    s.connect(port, '127.0.0.1');
  }));
  await step('DialSocket options', () => new Promise((resolve) => {
    const s = new nd.DialSocket({});
    s.once('connect', () => { s.destroy(); resolve(200); });
    s.once('error', (e) => resolve(e.code ?? e.message));
    s.connect({ port, host: '127.0.0.1' });
  }));
  await step('createLookup', () => new Promise((resolve) =>
    nd.createLookup({})('127.0.0.1', {}, (e, a, f) => resolve(e ? e.code : a + '/' + f))));
  await step('connector', async () => {
    const d = new undici.Agent({ connect: nu.connector({}) });
    try { return await viaFetch({ dispatcher: d }); } finally { await d.close(); }
  });
  await step('createDispatcher', async () => {
    const d = nu.createDispatcher();
    try { return await viaFetch({ dispatcher: d }); } finally { await d.close(); }
  });
  await step('createDispatcher agent.connect', async () => {
    const d = nu.createDispatcher({ agent: { connect: { rejectUnauthorized: true } } });
    try { return await viaFetch({ dispatcher: d }); } finally { await d.close(); }
  });
  await step('register', async () => {
    const restore = nd.register();
    try { return [await get({}), await viaFetch()].join(','); } finally { await restore(); }
  });
}
console.log(JSON.stringify(out));
`;

/** What every step answers when it works (an HTTP 200, or the IP literal for createLookup). */
const EXPECTED_ALL: Record<string, unknown> = {
  polluted: true,
  dial: 200,
  Dialer: 200,
  Agent: 200,
  'Agent with options': 200,
  HttpsAgent: 200,
  createConnection: 200,
  bindCreateConnection: 200,
  DialSocket: 200,
  'DialSocket options': 200,
  createLookup: '127.0.0.1/4',
  connector: 200,
  createDispatcher: 200,
  'createDispatcher agent.connect': 200,
  register: '200,200',
};

describe('a polluted Object.prototype breaks and steers no entry point', () => {
  let dir: string;
  let pollute: string;
  let port = 0;
  let proxyPort = 0;
  let httpsPort = 0;
  let caFile = '';
  let reached = 0;
  let proxied = 0;
  const server = trackConnections(
    http.createServer((_req, res) => {
      res.setHeader('connection', 'close');
      res.end('ok');
    }),
  );
  const cert = makeSelfSignedCert();
  const httpsServer = trackConnections(
    https.createServer(cert, (_req, res) => {
      res.setHeader('connection', 'close');
      res.end('ok');
    }),
  );
  /** Stands for the proxy a polluted `proxy` would name: counts and closes whatever reaches it. */
  const proxy = trackConnections(
    net.createServer((s) => {
      proxied++;
      s.destroy();
    }),
  );

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netdial-pollution-'));
    server.on('connection', () => reached++);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
    httpsServer.on('secureConnection', () => reached++);
    httpsServer.listen(0, '127.0.0.1');
    await once(httpsServer, 'listening');
    httpsPort = (httpsServer.address() as net.AddressInfo).port;
    caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, cert.cert);
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    proxyPort = (proxy.address() as net.AddressInfo).port;
    pollute = join(dir, 'pollute.mjs');
    // Enumerable, as `a[k1][k2] = v` pollution or a merged `__proto__` JSON key makes them.
    const lines = Object.entries(pollutionValues(proxyPort)).map(
      ([k, v]) => `Object.prototype[${JSON.stringify(k)}] = ${JSON.stringify(v)};`,
    );
    writeFileSync(pollute, `${lines.join('\n')}\n`);
  });

  after(async () => {
    await closeServer(server);
    await closeServer(proxy);
    await closeServer(httpsServer);
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(preload: string[], mode: string): Promise<Record<string, unknown>> {
    const result = await runNode(
      [...preload, '--input-type=module', '-e', APP, String(port), mode, String(httpsPort), caFile],
      {
        cwd: ROOT,
        env: CLEAN_ENV,
        timeoutMs: 90_000,
      },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr.includes('netdial: '), false, `a trace line was printed: ${result.stderr}`);
    return JSON.parse(result.stdout.trim()) as Record<string, unknown>;
  }

  test('unpolluted, every entry point dials the server (the control)', async () => {
    const out = await run([], 'all');
    assert.deepEqual(out, { ...EXPECTED_ALL, polluted: false });
  });

  test('polluted before netdial is imported: every entry point is made and dials the server directly', async () => {
    const reachedBefore = reached;
    const proxiedBefore = proxied;
    const out = await run(['--import', pollute], 'all');
    assert.deepEqual(out, EXPECTED_ALL);
    assert.equal(proxied - proxiedBefore, 0, 'a connection went to the polluted proxy');
    // Every step but createLookup connected once (HttpsAgent's with a handshake); register's counts two.
    assert.equal(reached - reachedBefore, Object.keys(EXPECTED_ALL).length - 2 + 1);
  });

  test('--import netdial/register after the pollution: http.get and fetch go directly', async () => {
    const reachedBefore = reached;
    const proxiedBefore = proxied;
    const out = await run(['--import', pollute, '--import', 'netdial/register'], 'registered');
    assert.deepEqual(out, { polluted: true, 'http.get': 200, fetch: 200 });
    assert.equal(proxied - proxiedBefore, 0, 'a connection went to the polluted proxy');
    assert.equal(reached - reachedBefore, 2);
  });
});

describe("createDispatcher reads undici's connect options by their own properties", () => {
  test('a polluted connectTimeout does not drop agent.connect.timeout', async () => {
    // undici's Client accepts the polluted value (a valid number), so only netdial's merge is tested:
    // were `merged.connectTimeout` read through Object.prototype, connect.timeout (300 ms) would be
    // dropped and the dial to a silent address would wait for the default (10 s).
    const hole = await startBlackhole({ hosts: ['127.0.0.2'] });
    assert.equal(Object.hasOwn(Object.prototype, 'connectTimeout'), false);
    Object.defineProperty(Object.prototype, 'connectTimeout', {
      value: 60_000,
      enumerable: true,
      configurable: true,
      writable: true,
    });
    let dispatcher: ReturnType<typeof createDispatcher> | undefined;
    try {
      dispatcher = createDispatcher({
        dialer: new Dialer({ memory: false }),
        agent: { connect: { timeout: 300 } },
      });
      const started = performance.now();
      const error = await undiciRequest(`http://127.0.0.2:${hole.port}/`, { dispatcher }).then(
        async (r) => {
          await r.body.dump();
        },
        (e: unknown) => e,
      );
      const elapsedMs = performance.now() - started;
      assert.ok(error instanceof Error, 'the request to a silent address failed');
      // Generous: the bound is 300 ms; the polluted value would be 60 s, the default 10 s.
      assert.ok(elapsedMs < 5000, `connect.timeout was not applied: failed after ${elapsedMs} ms`);
    } finally {
      delete (Object.prototype as Record<string, unknown>).connectTimeout;
      await dispatcher?.close();
      await hole.close();
    }
  });
});
