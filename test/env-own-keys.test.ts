/**
 * Environment variables are read from OWN keys only (src/env-variable.ts): `process.env` falls back to
 * Object.prototype for a variable that is not set, so after prototype pollution
 * (`Object.prototype.http_proxy = 'http://attacker'`) a plain `process.env.http_proxy` answers the
 * attacker's proxy. Pinned per variable family, with real sockets on loopback:
 * - curl's proxy variables under `--import netdial/register` with NETDIAL_PROXY=env: polluted
 *   http_proxy/https_proxy/all_proxy (both cases) reroute nothing (http.get and fetch go direct), and a
 *   polluted no_proxy/NO_PROXY = '*' does not skip the legitimate all_proxy egress proxy;
 * - NETDIAL_* under register: a polluted NETDIAL_POLICY / NETDIAL_TRACE / NETDIAL_PROXY sets nothing;
 * - the CLI: a polluted all_proxy does not proxy its dial, a polluted FORCE_COLOR does not colour a pipe.
 * A CONNECT proxy written here (loopback only) counts what reaches it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readEnvironment } from '../src/adoption/environment.js';
import { shouldColor } from '../src/cli/color.js';
import { envVariable } from '../src/env-variable.js';
import { proxyFromEnv } from '../src/proxy/env-proxy.js';
import { runNode } from './support/run-node.js';
import { closeServer, trackConnections } from './support/servers.js';

/** The package root: `netdial/register` resolves from here (the package's self-reference). */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every variable of curl's proxy rules, and the NETDIAL_* ones register reads. */
const PROXY_VARIABLES = ['http_proxy', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'];
const NO_PROXY_VARIABLES = ['no_proxy', 'NO_PROXY'];
/** This process's environment without any of them (a developer's shell may set some). */
const CLEAN_ENV: Record<string, undefined> = Object.fromEntries(
  [
    ...PROXY_VARIABLES,
    ...NO_PROXY_VARIABLES,
    'HTTP_PROXY',
    'NETDIAL_POLICY',
    'NETDIAL_TRACE',
    'NETDIAL_PROXY',
  ]
    .concat(['NETDIAL_MEMORY_FILE', 'NETDIAL_ALLOW_UNIX_SOCKETS', 'NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH'])
    .concat(['NO_COLOR', 'FORCE_COLOR'])
    .map((k) => [k, undefined]),
);

/** Sets `values` on Object.prototype (enumerable, as a merge gadget does) while `fn` runs; always removed. */
function polluted<T>(values: Record<string, string>, fn: () => T): T {
  for (const key of Object.keys(values)) {
    assert.equal(Object.hasOwn(Object.prototype, key), false, `Object.prototype.${key} already set`);
  }
  try {
    for (const [key, value] of Object.entries(values)) {
      Object.defineProperty(Object.prototype, key, {
        value,
        enumerable: true,
        configurable: true,
        writable: true,
      });
    }
    return fn();
  } finally {
    for (const key of Object.keys(values)) delete (Object.prototype as Record<string, unknown>)[key];
  }
}

/** A CONNECT proxy on 127.0.0.1 that tunnels to 127.0.0.1 only, and logs each request line. */
async function countingProxy(): Promise<{ port: number; lines: string[]; close: () => Promise<void> }> {
  const lines: string[] = [];
  const server = trackConnections(
    net.createServer((client) => {
      client.on('error', () => {});
      let head = '';
      const onData = (chunk: Buffer) => {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        client.off('data', onData);
        const line = head.slice(0, head.indexOf('\r\n'));
        lines.push(line);
        const m = /^CONNECT 127\.0\.0\.1:(\d+) HTTP\/1\.1$/.exec(line);
        if (m === null) {
          client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
          return;
        }
        const upstream = net.connect(Number(m[1]), '127.0.0.1', () => {
          client.write('HTTP/1.1 200 Connection established\r\n\r\n');
          const rest = head.slice(end + 4);
          if (rest !== '') upstream.write(Buffer.from(rest, 'latin1'));
          client.pipe(upstream);
          upstream.pipe(client);
        });
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
      };
      client.on('data', onData);
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    lines,
    close: () => closeServer(server),
  };
}

describe('envVariable: own keys only', () => {
  test('a variable set in the environment is read; one only on Object.prototype is not', () => {
    polluted({ netdial_test_inherited: 'from the prototype' }, () => {
      assert.equal((process.env as Record<string, unknown>).netdial_test_inherited, 'from the prototype');
      assert.equal(envVariable(process.env, 'netdial_test_inherited'), undefined);
      assert.equal(envVariable({}, 'netdial_test_inherited'), undefined);
    });
    assert.equal(envVariable(process.env, 'PATH'), process.env.PATH);
    assert.equal(envVariable({ a: 'x', b: undefined }, 'a'), 'x');
    assert.equal(envVariable({ b: undefined }, 'b'), undefined);
  });

  test("proxy 'env' rules: polluted proxy variables give no proxy; polluted no_proxy skips no proxy", () => {
    const target = { host: '192.0.2.1', port: 443, tls: true };
    const values = Object.fromEntries(PROXY_VARIABLES.map((k) => [k, 'http://127.0.0.1:9']));
    polluted(values, () => {
      assert.equal(proxyFromEnv(process.env, target), undefined);
      assert.equal(proxyFromEnv(process.env, { ...target, scheme: 'http', tls: false }), undefined);
      assert.equal(proxyFromEnv({}, target), undefined);
    });
    polluted({ no_proxy: '*', NO_PROXY: '*' }, () => {
      const spec = proxyFromEnv({ all_proxy: 'http://127.0.0.1:3128' }, target);
      assert.equal(spec?.port, 3128);
    });
  });

  test('NETDIAL_* (register): polluted variables set nothing', () => {
    const values = {
      NETDIAL_POLICY: 'public',
      NETDIAL_TRACE: '1',
      NETDIAL_PROXY: 'http://127.0.0.1:9',
      NETDIAL_MEMORY_FILE: '/tmp/x',
      NETDIAL_ALLOW_UNIX_SOCKETS: '1',
      NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH: '1',
    };
    const clean = { ...process.env, ...CLEAN_ENV };
    for (const env of [{}, process.env, clean]) {
      const settings = polluted(values, () => readEnvironment(env, '/'));
      assert.deepEqual(settings, readEnvironment(env, '/'));
    }
    assert.deepEqual(
      polluted(values, () => readEnvironment(clean, '/')),
      {
        dialer: {},
        trace: false,
        memoryFile: undefined,
        allowUnixSockets: false,
        allowUncoveredFetch: false,
      },
    );
  });

  test('CLI colour: polluted FORCE_COLOR does not colour a pipe, polluted NO_COLOR does not uncolour a terminal', () => {
    assert.equal(
      polluted({ FORCE_COLOR: '1' }, () => shouldColor({ isTTY: false, env: {}, flag: 'auto' })),
      false,
    );
    assert.equal(
      polluted({ NO_COLOR: '1' }, () => shouldColor({ isTTY: true, env: {}, flag: 'auto' })),
      true,
    );
  });
});

describe('a polluted Object.prototype reroutes nothing, end to end', () => {
  let dir: string;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let direct = 0;
  const server = trackConnections(
    http.createServer((_req, res) => {
      res.setHeader('connection', 'close');
      res.end('hello');
    }),
  );
  /** A plain TCP server for the CLI: says one line and closes. */
  const lineServer = trackConnections(net.createServer((s) => s.end('direct\n')));
  let port = 0;
  let linePort = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netdial-env-own-'));
    proxy = await countingProxy();
    server.on('connection', () => direct++);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
    lineServer.listen(0, '127.0.0.1');
    await once(lineServer, 'listening');
    linePort = (lineServer.address() as net.AddressInfo).port;
    // The application: pollutes Object.prototype with the JSON of argv[3] (as a merge gadget in the app
    // would, after netdial/register ran), then http.get and global fetch of argv[2].
    writeFileSync(
      join(dir, 'app.mjs'),
      `import http from 'node:http';
const [url, pollution] = process.argv.slice(2);
for (const [k, v] of Object.entries(JSON.parse(pollution))) Object.prototype[k] = v;
const a = await new Promise((resolve) => http.get(url, (r) => { r.resume(); r.on('end', () => resolve(r.statusCode)); }).on('error', (e) => resolve(e.code)));
const b = await fetch(url).then(async (r) => { await r.text(); return r.status; }, (e) => e.cause?.code ?? e.message);
console.log(JSON.stringify({ http: a, fetch: b }));
`,
    );
  });

  after(async () => {
    await proxy?.close();
    await closeServer(server);
    await closeServer(lineServer);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A module that pollutes Object.prototype with `values` (run with --import before what it attacks). */
  function pollution(name: string, values: Record<string, string>): string {
    const file = join(dir, `${name}.mjs`);
    const lines = Object.entries(values).map(
      ([k, v]) => `Object.prototype[${JSON.stringify(k)}] = ${JSON.stringify(v)};`,
    );
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }

  /**
   * Runs the app with Object.prototype polluted by `values`: by the app itself under
   * `--import netdial/register` ('app'), or by a module loaded before register ('preload': what
   * register reads at start; the package's bundle loads under the pollution, see scripts/bundle.mjs).
   */
  async function runApp(
    values: Record<string, string>,
    when: 'app' | 'preload',
    env: Record<string, string | undefined>,
  ): Promise<{ out: { http: unknown; fetch: unknown }; stderr: string; viaProxy: number; direct: number }> {
    const proxied = proxy.lines.length;
    const before = direct;
    const url = `http://127.0.0.1:${port}/`;
    const args =
      when === 'app'
        ? ['--import', 'netdial/register', join(dir, 'app.mjs'), url, JSON.stringify(values)]
        : [
            '--import',
            pollution('preload', values),
            '--import',
            'netdial/register',
            join(dir, 'app.mjs'),
            url,
            '{}',
          ];
    const run = await runNode(args, { cwd: ROOT, env: { ...CLEAN_ENV, ...env } });
    assert.equal(run.code, 0, run.stderr);
    return {
      out: JSON.parse(run.stdout.trim()) as { http: unknown; fetch: unknown },
      stderr: run.stderr,
      viaProxy: proxy.lines.length - proxied,
      direct: direct - before,
    };
  }

  test('register, NETDIAL_PROXY=env: polluted http_proxy / https_proxy / all_proxy send nothing to that proxy', async () => {
    const values = Object.fromEntries(PROXY_VARIABLES.map((k) => [k, `http://127.0.0.1:${proxy.port}`]));
    const r = await runApp(values, 'app', { NETDIAL_PROXY: 'env' });
    assert.deepEqual(r.out, { http: 200, fetch: 200 });
    assert.equal(r.viaProxy, 0, `the polluted proxy was used: ${proxy.lines.join(' | ')}`);
    assert.equal(r.direct, 2);
  });

  test('register, NETDIAL_PROXY=env: polluted no_proxy=* does not skip the real all_proxy', async () => {
    const r = await runApp({ no_proxy: '*', NO_PROXY: '*' }, 'app', {
      NETDIAL_PROXY: 'env',
      all_proxy: `http://127.0.0.1:${proxy.port}`,
    });
    assert.deepEqual(r.out, { http: 200, fetch: 200 });
    assert.equal(r.viaProxy, 2, 'both requests went through the egress proxy');
    assert.deepEqual(proxy.lines.slice(-2), [
      `CONNECT 127.0.0.1:${port} HTTP/1.1`,
      `CONNECT 127.0.0.1:${port} HTTP/1.1`,
    ]);
  });

  test('register, polluted before it starts: NETDIAL_POLICY / NETDIAL_TRACE / NETDIAL_PROXY change nothing', async () => {
    const r = await runApp(
      {
        NETDIAL_POLICY: 'public',
        NETDIAL_TRACE: '1',
        NETDIAL_PROXY: `http://127.0.0.1:${proxy.port}`,
      },
      'preload',
      {},
    );
    // 'public' would deny 127.0.0.1; the trace would print a line; the proxy would see CONNECTs.
    assert.deepEqual(r.out, { http: 200, fetch: 200 });
    assert.equal(r.stderr.includes('netdial: '), false, r.stderr);
    assert.equal(r.viaProxy, 0);
  });

  test("the package's bundle loads under an enumerable Object.prototype pollution (every entry point)", async () => {
    const pollute = pollution('bundle', { http_proxy: 'http://127.0.0.1:9', polluted: 'yes' });
    const run = await runNode(
      [
        '--import',
        pollute,
        '--input-type=module',
        '-e',
        `const names = [];
for (const entry of ['netdial', 'netdial/undici', 'netdial/redis']) names.push(Object.keys(await import(entry)).length);
const { register } = await import('netdial');
const restore = register();
await restore();
console.log(JSON.stringify(names));`,
      ],
      { cwd: ROOT, env: CLEAN_ENV },
    );
    assert.equal(run.code, 0, run.stderr);
    const counts = JSON.parse(run.stdout) as number[];
    assert.ok(
      counts.every((n) => n > 0),
      run.stdout,
    );
  });

  test('the CLI: a polluted all_proxy does not proxy its dial; a polluted FORCE_COLOR does not colour a pipe', async () => {
    const proxied = proxy.lines.length;
    const pollute = pollution('cli', {
      all_proxy: `http://127.0.0.1:${proxy.port}`,
      ALL_PROXY: `http://127.0.0.1:${proxy.port}`,
      FORCE_COLOR: '1',
    });
    const run = await runNode(
      ['--import', pollute, join(ROOT, 'dist/src/cli/main.js'), '-v', `127.0.0.1:${linePort}`],
      { env: CLEAN_ENV },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'direct\n');
    assert.match(run.stderr, new RegExp(`connected to 127\\.0\\.0\\.1:${linePort} in `));
    assert.equal(run.stderr.includes('through'), false, run.stderr);
    assert.equal(run.stderr.includes('\u001b['), false, 'no colour in a pipe');
    assert.equal(proxy.lines.length, proxied);
  });
});
