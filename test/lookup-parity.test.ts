/**
 * netdial's `lookup` next to Node's `dns.lookup`, where callers rely on what Node does. Node's own answers
 * are computed here only for IP literals and '' (which never reach a resolver); names go to a DNS server on
 * loopback that netdial asks (never the host's resolver). Pinned: an IP literal is returned as it is, whatever
 * `family` and `hints` ask (as Node); errors carry getaddrinfo's `code` (ENOTFOUND, EAI_AGAIN — which retry
 * logic checks — EAI_FAIL), libuv's `errno`, `syscall` 'getaddrinfo', `hostname` and Node's message; '' is
 * the one deliberate difference (docs/integrations.md): an error, where Node answers null with DEP0118.
 */
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { after, before, test } from 'node:test';
import { getSystemErrorName } from 'node:util';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { createLookup, Dialer, type NetdialLookup } from '../src/index.js';

let dnsServer: LabDnsServer;
let lookup: NetdialLookup;

before(async () => {
  dnsServer = await startLoopbackDns(
    {
      'ok.parity.test': { A: ['192.0.2.7'] },
      'servfail.parity.test': { fail: { A: 'SERVFAIL', AAAA: 'SERVFAIL' } },
      'refused.parity.test': { fail: { A: 'REFUSED', AAAA: 'REFUSED' } },
    },
    'parity.test',
  );
  lookup = createLookup({
    dialer: new Dialer({
      resolver: 'dns',
      nameservers: [`127.0.0.1:${dnsServer.port}`],
      hostsPath: null,
      dnsTries: 1,
      memory: false,
    }),
  });
});
after(async () => {
  await dnsServer?.close();
});

type Outcome = { err: NodeJS.ErrnoException | null; address: unknown; family: unknown };

function ask(
  fn: (h: string, o: dns.LookupOptions, cb: (...a: unknown[]) => void) => void,
  host: string,
  options: dns.LookupOptions,
) {
  return new Promise<Outcome>((resolve) =>
    fn(host, options, (err, address, family) =>
      resolve({ err: err as NodeJS.ErrnoException | null, address, family }),
    ),
  );
}

test('an IP literal is its own answer, whatever family and hints ask for (as dns.lookup)', async () => {
  const cases: Array<[string, dns.LookupOptions]> = [
    ['192.0.2.1', {}],
    ['192.0.2.1', { family: 6 }],
    ['192.0.2.1', { family: 6, all: true }],
    ['192.0.2.1', { family: 6, hints: dns.V4MAPPED }],
    ['2001:db8::1', { family: 4 }],
    ['2001:db8::1', { family: 4, all: true }],
    ['::ffff:192.0.2.1', { family: 4 }],
    ['fe80::1%lo', { family: 4 }],
  ];
  for (const [host, options] of cases) {
    const node = await ask(dns.lookup as never, host, options);
    const ours = await ask(lookup as never, host, options);
    assert.equal(ours.err, null, `${host} ${JSON.stringify(options)}: ${ours.err?.message}`);
    assert.deepEqual(
      [ours.address, ours.family ?? null],
      [node.address, node.family ?? null],
      `${host} ${JSON.stringify(options)}`,
    );
  }
});

test("a name: the same shape as dns.lookup's answer", async () => {
  assert.deepEqual(await ask(lookup as never, 'ok.parity.test', {}), {
    err: null,
    address: '192.0.2.7',
    family: 4,
  });
  const all = await ask(lookup as never, 'ok.parity.test', { all: true });
  assert.deepEqual(all.address, [{ address: '192.0.2.7', family: 4 }]);
});

test("errors have getaddrinfo's fields: NXDOMAIN is ENOTFOUND (-3008), SERVFAIL and REFUSED EAI_AGAIN (-3001)", async () => {
  for (const [host, code, cause] of [
    ['missing.parity.test', 'ENOTFOUND', 'ENOTFOUND'],
    ['servfail.parity.test', 'EAI_AGAIN', 'ESERVFAIL'],
    ['refused.parity.test', 'EAI_AGAIN', 'EREFUSED'],
  ] as const) {
    const { err } = await ask(lookup as never, host, {});
    assert.ok(err, host);
    assert.equal(err.message, `getaddrinfo ${code} ${host}`);
    assert.equal(err.code, code);
    assert.equal(err.syscall, 'getaddrinfo');
    assert.equal((err as { hostname?: string }).hostname, host);
    assert.equal(typeof err.errno, 'number');
    // libuv's number for it: ENOTFOUND is how Node names UV_EAI_NONAME.
    assert.equal(getSystemErrorName(err.errno!), code === 'ENOTFOUND' ? 'EAI_NONAME' : code);
    assert.equal((err.cause as { code?: string }).code, cause, "netdial's own code stays on the cause");
  }
});

test("'' (the deliberate difference): an error through the callback, where dns.lookup answers null", async () => {
  const { err, address } = await ask(lookup as never, '', {});
  assert.equal(err?.code, 'ERR_NETDIAL_INVALID_TARGET');
  assert.equal(address, '');
});

test("a server that cannot take the query (FORMERR, NOTIMP): EAI_FAIL (-3004), as getaddrinfo's NO_RECOVERY", async () => {
  const formerr = createLookup({
    dialer: new Dialer({ memory: false }),
    resolver: async () => {
      throw Object.assign(new Error('format error'), { code: 'EFORMERR' });
    },
  });
  const { err } = await ask(formerr as never, 'app.parity.test', {});
  assert.equal(err?.code, 'EAI_FAIL');
  assert.equal(getSystemErrorName(err!.errno!), 'EAI_FAIL');
});
