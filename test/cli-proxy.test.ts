// The CLI's proxy flags, as curl: the environment by default, --proxy/-x instead, --noproxy replacing no_proxy.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseCommandLine } from '../src/cli/args.js';
import { setupDial } from '../src/cli/dial-setup.js';
import { makeSelfSignedCert } from './support/tls-cert.js';

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

test('--proxy-ca / --proxy-insecure: the object form { url, tls } for an https:// proxy, the environment’s too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netdial-cli-proxy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = join(dir, 'proxy-ca.pem');
  const pem = makeSelfSignedCert('proxy.test').cert;
  writeFileSync(ca, pem);
  assert.deepEqual(await proxyFor(['--proxy', 'https://p:8443', '--proxy-insecure', 'x.test:1'], {}), {
    url: 'https://p:8443',
    tls: { rejectUnauthorized: false },
  });
  // From the environment: the proxy this target goes through (https_proxy for a TLS target), decided here.
  assert.deepEqual(
    await proxyFor(['--proxy-ca', ca, 'https://x.test/'], { https_proxy: 'https://u:p%40w@p:8443' }),
    { url: 'https://u:p%40w@p:8443', tls: { ca: pem } },
  );
  // No proxy for this target: nothing for the flag to do.
  assert.equal(await proxyFor(['--proxy-insecure', 'x.test:1'], {}), false);
  assert.equal(
    await proxyFor(['--proxy-ca', ca, 'x.test:1'], { all_proxy: 'https://p:1', no_proxy: 'x.test' }),
    false,
  );
  // Not an https:// proxy: a usage error naming the flag and the proxy.
  await assert.rejects(
    proxyFor(['--proxy', 'http://p:3128', '--proxy-ca', ca, 'x.test:1'], {}),
    (e: Error & { code?: string }) =>
      e.code === 'ERR_NETDIAL_USAGE' &&
      e.message === 'option --proxy-ca applies to an https:// proxy (TLS to the proxy), not to http://p:3128',
  );
  await assert.rejects(
    proxyFor(['--proxy-ca', join(dir, 'missing.pem'), '--proxy', 'https://p:1', 'x.test:1'], {}),
    /cannot read CA file .*missing\.pem/,
  );
  // Not PEM (a hostname file): reported as an unreadable file is, as --ca's.
  const notPem = join(dir, 'hostname');
  writeFileSync(notPem, 'myhost\n');
  await assert.rejects(
    proxyFor(['--proxy-ca', notPem, '--proxy', 'https://p:1', 'x.test:1'], {}),
    /^Error: cannot read CA file .*hostname: not PEM: no -----BEGIN CERTIFICATE----- block$/,
  );
  // resolve makes no connection: the flags do not apply there.
  assert.throws(
    () => parseCommandLine(['resolve', '--proxy-insecure', 'x.test']),
    /option --proxy-insecure does not apply to resolve/,
  );
});
