// The CLI's proxy flags, as curl: the environment by default, --proxy/-x instead, --noproxy replacing no_proxy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommandLine } from '../src/cli/args.js';
import { setupDial } from '../src/cli/dial-setup.js';

async function proxyFor(argv: string[], env: Record<string, string>): Promise<unknown> {
  const { command } = parseCommandLine(argv);
  assert.ok(command.name === 'connect' || command.name === 'trace');
  const saved = { ...process.env };
  for (const k of [
    'all_proxy',
    'ALL_PROXY',
    'https_proxy',
    'HTTPS_PROXY',
    'http_proxy',
    'no_proxy',
    'NO_PROXY',
  ])
    delete process.env[k];
  Object.assign(process.env, env);
  try {
    const setup = await setupDial({ ...command.dial, memory: false }, command.target);
    return setup.options.proxy;
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

test("the CLI dials with proxy 'env' by default, --proxy / -x instead, --proxy '' for none", async () => {
  assert.equal(await proxyFor(['x.test:1'], {}), 'env');
  assert.equal(await proxyFor(['--proxy', 'socks5://p:1', 'x.test:1'], {}), 'socks5://p:1');
  assert.equal(await proxyFor(['-x', 'http://p:3128', 'x.test', '80'], {}), 'http://p:3128');
  assert.equal(await proxyFor(['--proxy=', 'x.test:1'], { all_proxy: 'http://p:1' }), false);
});

test('--noproxy LIST: skips the proxy for what it lists, and replaces no_proxy/NO_PROXY', async () => {
  assert.equal(await proxyFor(['--proxy', 'http://p:1', '--noproxy', '.x.test', 'a.x.test:1'], {}), false);
  assert.equal(
    await proxyFor(['--proxy', 'http://p:1', '--noproxy', 'y.test', 'a.x.test:1'], {}),
    'http://p:1',
  );
  // NO_PROXY says x.test, --noproxy says something else: the proxy is used (curl: --noproxy overrides).
  assert.equal(
    await proxyFor(['--noproxy', 'other.test', 'trace', 'x.test:443'], {
      ALL_PROXY: 'http://u:p%40w@p:1',
      NO_PROXY: 'x.test',
    }),
    'http://u:p%40w@p:1',
  );
  // https targets take https_proxy from the environment.
  assert.equal(
    await proxyFor(['--noproxy', 'other.test', 'https://x.test/'], {
      https_proxy: 'socks5h://s:9',
      all_proxy: 'http://a:1',
    }),
    'socks5h://s:9',
  );
  assert.equal(await proxyFor(['--noproxy', '*', 'x.test:1'], { all_proxy: 'http://p:1' }), false);
});
