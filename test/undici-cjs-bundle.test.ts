/**
 * An application that bundles netdial into CommonJS (esbuild, a devDependency, `--format=cjs`, as webpack
 * or a serverless packager would): `import.meta` is empty there, so the optional peers (undici) and the
 * undici integration of `netdial/register` are required from the application's place instead
 * (src/peer-require.ts). A tiny app in a temp dir, with `netdial` (this package, through its `exports`)
 * and `undici` in its node_modules, bundled and run against a loopback server: from another working
 * directory (found from the entry script), and with no entry script (`node -e`: found from the working
 * directory). And the one loader of the integration, in tsc's layout, gives the module next to it (the
 * package bundle's case is the package test's "one copy of every class").
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { loadUndiciIntegration } from '../src/adoption/undici-integration.js';
import * as integration from '../src/undici.js';
import { runNode } from './support/run-node.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const run = (args: string[], cwd: string, env: Record<string, string> = {}) => runNode(args, { cwd, env });

describe('netdial bundled by an application into CommonJS', () => {
  let dir = '';
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
fetch(process.env.APP_URL).then(
  async (res) => console.log(res.status, await res.text()),
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
`,
    );
    for (const name of ['undici-app', 'register-app']) {
      await build({
        absWorkingDir: dir,
        entryPoints: [join(dir, `${name}.mjs`)],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        outfile: join(dir, `${name}.cjs`),
        logLevel: 'error',
      });
    }
  });

  after(async () => {
    server?.closeAllConnections();
    server?.close();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  test('netdial/undici: undici found from the entry script, in another working directory', async () => {
    const r = await run([join(dir, 'undici-app.cjs')], tmpdir(), { APP_URL: url });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '200 hello from loopback\n');
  });

  test('netdial/undici with no entry script (node -e): undici found from the working directory', async () => {
    const r = await run(['-e', `require(${JSON.stringify(join(dir, 'undici-app.cjs'))})`], dir, {
      APP_URL: url,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '200 hello from loopback\n');
  });

  test('netdial/register: global fetch goes through netdial (its NETDIAL_TRACE line)', async () => {
    const r = await run([join(dir, 'register-app.cjs')], tmpdir(), { APP_URL: url, NETDIAL_TRACE: '1' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '200 hello from loopback\n');
    assert.match(r.stderr, /^netdial: localhost:\d+ via 127\.0\.0\.1 in /m);
  });
});

test("in tsc's layout register's loader gives the integration next to it, the one this process imported", () => {
  const loaded = loadUndiciIntegration();
  assert.ok(loaded !== undefined, 'undici is installed here');
  assert.equal(loaded.createDispatcher, integration.createDispatcher);
  assert.equal(loaded.connector, integration.connector);
});
