/**
 * An application that bundles netdial into CommonJS (esbuild, a devDependency, `--format=cjs`, as webpack
 * or a serverless packager would): `import.meta` is empty there (esbuild) or holds the build machine's
 * URL (webpack, reproduced with an esbuild `define` of `import.meta.url`: webpack itself is not a
 * dependency), so the optional peer undici is required from the application's entry script instead
 * (src/peer-require.ts) — never from the working directory, where a planted node_modules/undici or
 * node_modules/netdial must not run — and `netdial/register` never loads a second copy of netdial from
 * outside the bundle: its undici integration is then unavailable and fetch keeps Node's connector, as
 * without undici. Tiny apps in temp dirs, bundled and run against a loopback server. And the exported
 * classes and functions keep their names when the app's bundler renames them (`Agent2`).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { loadUndiciIntegration } from '../src/adoption/undici-integration.js';
import * as main from '../src/index.js';
import * as integration from '../src/undici.js';
import { runNode } from './support/run-node.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const run = (args: string[], cwd: string, env: Record<string, string> = {}) => runNode(args, { cwd, env });

const BUILD_TREE_URL = 'file:///nonexistent-build-machine/app/node_modules/netdial/dist/pkg/chunk-ABCDEF.js';
/** Planted in a directory the app merely runs in: running either is the bug. */
const PLANTED = 'PLANTED module from the working directory ran';

describe('netdial bundled by an application into CommonJS', () => {
  let dir = '';
  let lonely = '';
  let evil = '';
  let fakeBeside = '';
  let server: http.Server;
  let url = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netdial-cjs-app-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'netdial'), 'dir');
    symlinkSync(join(ROOT, 'node_modules', 'undici'), join(dir, 'node_modules', 'undici'), 'dir');
    server = http.createServer((_req, res) => res.end('hello from loopback'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://localhost:${(server.address() as net.AddressInfo).port}/`;
    writeFileSync(
      join(dir, 'undici-app.mjs'),
      `import { createDispatcher } from 'netdial/undici';
import { request } from 'undici';
async function main() {
  const dispatcher = createDispatcher();
  try {
    const res = await request(process.env.APP_URL, { dispatcher });
    console.log(res.statusCode, await res.body.text());
  } finally {
    await dispatcher.close();
  }
}
main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
`,
    );
    writeFileSync(
      join(dir, 'register-app.mjs'),
      `import 'netdial/register';
import { Agent } from 'netdial';
import http from 'node:http';
const viaHttp = () =>
  new Promise((resolve, reject) => {
    http.get(process.env.APP_URL, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
fetch(process.env.APP_URL)
  .then(async (res) => console.log('fetch', res.status, await res.text()))
  .then(async () => console.log('http', await viaHttp(), http.globalAgent instanceof Agent))
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
`,
    );
    writeFileSync(
      join(dir, 'names-app.mjs'),
      `import * as netdial from 'netdial';
import * as integration from 'netdial/undici';
import * as undici from 'undici';
import * as util from 'node:util';
const names = {};
for (const [from, mod] of [['netdial', netdial], ['netdial/undici', integration]]) {
  for (const [key, value] of Object.entries(mod)) if (typeof value === 'function') names[from + ':' + key] = value.name;
}
const frames = [];
for (const make of [() => new netdial.Agent({ dial: 5 }), () => new netdial.Dialer({ nonsense: 1 })]) {
  try { make(); } catch (err) { frames.push(...err.stack.split('\\n').filter((l) => /^ +at new /.test(l)).map((l) => l.trim().split(' (')[0])); }
}
console.log(JSON.stringify({ names, frames, undici: typeof undici.Agent, inspected: util.inspect(new netdial.Agent()).split(' ')[0] }));
`,
    );
    const bundle = (
      name: string,
      out: string,
      define?: Record<string, string>,
      format: 'cjs' | 'esm' = 'cjs',
    ) =>
      build({
        absWorkingDir: dir,
        entryPoints: [join(dir, `${name}.mjs`)],
        bundle: true,
        platform: 'node',
        format,
        outfile: join(dir, `${out}.${format === 'cjs' ? 'cjs' : 'mjs'}`),
        logLevel: 'error',
        ...(define === undefined ? {} : { define }),
      });
    const webpackLike = { 'import.meta.url': JSON.stringify(BUILD_TREE_URL) };
    await Promise.all([
      bundle('undici-app', 'undici-app'),
      bundle('register-app', 'register-app'),
      bundle('names-app', 'names-app'),
      bundle('undici-app', 'undici-app-wp', webpackLike),
      bundle('register-app', 'register-app-wp', webpackLike),
      // An ES module bundle: Node's own import.meta, but of the app's file, not netdial's.
      bundle('register-app', 'register-app-esm', undefined, 'esm'),
    ]);
    // The same bundles deployed alone (nothing beside them)…
    lonely = mkdtempSync(join(tmpdir(), 'netdial-cjs-lonely-'));
    // …beside a node_modules/netdial that is not the bundle's (a second copy must never load)…
    fakeBeside = mkdtempSync(join(tmpdir(), 'netdial-cjs-beside-'));
    // …and run in a directory holding planted modules.
    evil = mkdtempSync(join(tmpdir(), 'netdial-cjs-evil-'));
    for (const app of ['undici-app.cjs', 'register-app.cjs', 'register-app-wp.cjs', 'register-app-esm.mjs']) {
      copyFileSync(join(dir, app), join(lonely, app));
      copyFileSync(join(dir, app), join(fakeBeside, app));
    }
    const plant = (root: string, name: string, files: Record<string, string>) => {
      mkdirSync(join(root, 'node_modules', name), { recursive: true });
      for (const [file, text] of Object.entries(files))
        writeFileSync(join(root, 'node_modules', name, file), text);
    };
    const planted = `console.log(${JSON.stringify(PLANTED)}); process.exit(42);\n`;
    plant(evil, 'undici', {
      'package.json': '{"name":"undici","version":"7.0.0","main":"index.js"}',
      'index.js': planted,
    });
    plant(evil, 'netdial', {
      'package.json': '{"name":"netdial","version":"9.9.9","exports":{"./undici":"./u.js"}}',
      'u.js': planted,
    });
    plant(fakeBeside, 'netdial', {
      'package.json': '{"name":"netdial","version":"9.9.9","exports":{"./undici":"./u.js"}}',
      'u.js': `console.log('SECOND COPY of netdial loaded'); process.exit(43);\n`,
    });
  });

  after(async () => {
    server?.closeAllConnections();
    server?.close();
    for (const d of [dir, lonely, fakeBeside, evil])
      if (d !== '') rmSync(d, { recursive: true, force: true });
  });

  test('netdial/undici: undici found from the entry script, in another working directory', async () => {
    const r = await run([join(dir, 'undici-app.cjs')], tmpdir(), { APP_URL: url });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '200 hello from loopback\n');
  });

  test('netdial/undici: a planted node_modules/undici in the working directory never runs', async () => {
    // Beside the app: the app's undici wins, from any working directory.
    const beside = await run([join(dir, 'undici-app.cjs')], evil, { APP_URL: url });
    assert.equal(beside.code, 0, beside.stderr);
    assert.equal(beside.stdout, '200 hello from loopback\n');
    // Deployed alone: undici is missing (its error), not taken from the working directory.
    const alone = await run([join(lonely, 'undici-app.cjs')], evil, { APP_URL: url });
    assert.doesNotMatch(alone.stdout, /PLANTED/);
    assert.equal(alone.code, 1, alone.stdout);
    assert.match(alone.stderr, /ERR_NETDIAL_UNDICI_MISSING/);
    // No entry script (node -e): only what Node's resolution from netdial's place finds; no cwd.
    const noEntry = await run(['-e', `require(${JSON.stringify(join(dir, 'undici-app.cjs'))})`], evil, {
      APP_URL: url,
    });
    assert.doesNotMatch(noEntry.stdout, /PLANTED/);
    assert.equal(noEntry.code, 1, noEntry.stdout);
    assert.match(noEntry.stderr, /ERR_NETDIAL_UNDICI_MISSING/);
  });

  test('netdial/undici in an app bundle with undici compiled in: the message says to install it beside the app', async () => {
    const r = await run([join(lonely, 'undici-app.cjs')], tmpdir(), { APP_URL: url });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /ERR_NETDIAL_UNDICI_MISSING/);
    assert.match(r.stderr, /installed beside the application/);
    assert.match(r.stderr, /external/);
  });

  test("webpack's build-machine import.meta.url: undici found beside the deployed app", async () => {
    const r = await run([join(dir, 'undici-app-wp.cjs')], tmpdir(), { APP_URL: url });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '200 hello from loopback\n');
  });

  for (const [app, what] of [
    ['register-app.cjs', 'esbuild'],
    ['register-app-wp.cjs', "webpack's build-machine URL"],
    ['register-app-esm.mjs', 'esbuild, ES module output'],
  ] as const) {
    test(`netdial/register in an app bundle (${what}): http through netdial, fetch keeps Node's connector and says why`, async () => {
      for (const where of [dir, lonely, fakeBeside]) {
        const r = await run([join(where, app)], evil, { APP_URL: url, NETDIAL_TRACE: '1' });
        assert.equal(r.code, 0, `${where}: ${r.stdout}${r.stderr}`);
        assert.equal(r.stdout, 'fetch 200 hello from loopback\nhttp 200 true\n', where);
        // http.get went through netdial (its trace line); fetch did not (one line only).
        assert.equal(r.stderr.match(/^netdial: localhost:\d+ via 127\.0\.0\.1 in /gm)?.length, 1, r.stderr);
        assert.match(r.stderr, /NETDIAL_UNDICI_MISSING/);
        assert.match(r.stderr, /keep Node's own connector.*application bundle/);
      }
    });
  }

  test('netdial/register in an app bundle with a policy: refuses to start unless uncovered fetch is allowed', async () => {
    const refused = await run([join(lonely, 'register-app.cjs')], tmpdir(), {
      APP_URL: url,
      NETDIAL_POLICY: 'public',
    });
    assert.equal(refused.code, 1, refused.stdout);
    assert.equal(refused.stdout, '');
    assert.match(
      refused.stderr,
      /^netdial\/register: NETDIAL_POLICY: global fetch and WebSocket would bypass the policy/m,
    );
    const allowed = await run([join(lonely, 'register-app.cjs')], tmpdir(), {
      APP_URL: url,
      NETDIAL_POLICY: '192.0.2.0/24',
      NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH: '1',
    });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(allowed.stdout, 'fetch 200 hello from loopback\nhttp 200 true\n');
    assert.match(allowed.stderr, /NOT held to the policy/);
  });

  test("exported classes and functions keep their names in an app's bundle (undici's Agent beside netdial's)", async () => {
    const r = await run([join(dir, 'names-app.cjs')], tmpdir());
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout) as {
      names: Record<string, string>;
      frames: string[];
      undici: string;
      inspected: string;
    };
    assert.equal(got.undici, 'function');
    const expected: Record<string, string> = {};
    for (const [from, mod] of [
      ['netdial', main],
      ['netdial/undici', integration],
    ] as const) {
      for (const [key, value] of Object.entries(mod))
        if (typeof value === 'function') expected[`${from}:${key}`] = value.name;
    }
    assert.ok(Object.keys(expected).length > 20);
    // The exported lookup is an arrow function made through Object.assign: its name is given, not inferred.
    assert.equal(expected['netdial:lookup'], 'lookup');
    assert.equal(expected['netdial:subscribeDiagnostics'], 'subscribe');
    assert.deepEqual(got.names, expected);
    assert.equal(got.inspected, 'Agent');
    assert.deepEqual(got.frames, ['at new Agent', 'at new Dialer']);
  });
});

test("in tsc's layout register's loader gives the integration next to it, the one this process imported", () => {
  const { integration: loaded } = loadUndiciIntegration();
  assert.ok(loaded !== undefined, 'undici is installed here');
  assert.equal(loaded.createDispatcher, integration.createDispatcher);
  assert.equal(loaded.connector, integration.connector);
});
