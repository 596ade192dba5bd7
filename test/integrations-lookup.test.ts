/**
 * `lookup`: the dns.lookup contract (argument forms, all/family/hints/order/verbatim, one address vs an
 * array, errors) on fixed resolver functions, then through `http.request({ lookup })` against a real
 * loopback server, with Node's per-attempt outcomes recorded by `observeAttempts`.
 */
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Dialer, type ResolveFunction } from '../src/index.js';
import {
  type AttemptRecorder,
  createLookup,
  lookup as defaultLookup,
  type LookupAddress,
  type LookupOptions,
  observeAttempts,
  parseLookupOptions,
  shapeAddresses,
} from '../src/integrations/lookup.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';

/** Fixed answers per family; never touches real DNS. */
function fixed(answers: { 4?: string[]; 6?: string[] }): ResolveFunction {
  return async (_name, family) => answers[family] ?? [];
}

const silent: ResolveFunction = (_name, _family, { signal }) =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('cancelled'))));

const both = fixed({ 6: ['2001:db8::1', '2001:db8::2'], 4: ['203.0.113.10', '198.51.100.7'] });

interface Result {
  err: NodeJS.ErrnoException | null;
  address: string | LookupAddress[];
  family: number | undefined;
}

function call(
  lookup: ReturnType<typeof createLookup>,
  host: string,
  options?: number | LookupOptions,
): Promise<Result> {
  return new Promise((resolve) => {
    const cb = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) =>
      resolve({ err, address, family });
    if (options === undefined) lookup(host, cb);
    else lookup(host, options, cb);
  });
}

describe('lookup options (pure)', () => {
  const table: Array<[string, unknown, ReturnType<typeof parseLookupOptions>]> = [
    ['no options', undefined, { family: 0, hints: 0, all: false, order: 'verbatim' }],
    ['a family number', 6, { family: 6, hints: 0, all: false, order: 'verbatim' }],
    ["family 'IPv4'", { family: 'IPv4' }, { family: 4, hints: 0, all: false, order: 'verbatim' }],
    [
      'all + hints',
      { all: true, hints: dns.ADDRCONFIG },
      { family: 0, hints: dns.ADDRCONFIG, all: true, order: 'verbatim' },
    ],
    ['verbatim: false', { verbatim: false }, { family: 0, hints: 0, all: false, order: 'ipv4first' }],
    [
      'order wins over verbatim',
      { verbatim: false, order: 'ipv6first' },
      { family: 0, hints: 0, all: false, order: 'ipv6first' },
    ],
  ];
  for (const [name, input, expected] of table) {
    test(`parses ${name}`, () => assert.deepEqual(parseLookupOptions(input), expected));
  }

  // What dns.lookup itself throws, synchronously, for each (asked with 'localhost': Node validates options
  // before it resolves anything, and a throw means nothing was resolved).
  for (const [name, input, code] of [
    ['family 5', { family: 5 }, 'ERR_INVALID_ARG_VALUE'],
    ["family 'x'", { family: 'x' }, 'ERR_INVALID_ARG_VALUE'],
    ['unknown hint bits', { hints: 1 << 20 }, 'ERR_INVALID_ARG_VALUE'],
    ["hints '1'", { hints: '1' }, 'ERR_INVALID_ARG_TYPE'],
    ["order 'random'", { order: 'random' }, 'ERR_INVALID_ARG_VALUE'],
    ["all 'yes'", { all: 'yes' }, 'ERR_INVALID_ARG_TYPE'],
    ['all 1', { all: 1 }, 'ERR_INVALID_ARG_TYPE'],
    ['verbatim 1', { verbatim: 1 }, 'ERR_INVALID_ARG_TYPE'],
    ['a string', 'all', 'ERR_INVALID_ARG_TYPE'],
  ] as const) {
    test(`rejects ${name} with ${code}, as dns.lookup does`, () => {
      assert.throws(() => dns.lookup('localhost', input as never, () => {}), { name: 'TypeError', code });
      assert.throws(() => parseLookupOptions(input), { name: 'TypeError', code });
      const lookup = createLookup({
        dialer: new Dialer({ hostsPath: null, memory: false }),
        resolver: silent,
      });
      let called = false;
      const onAnswer = () => {
        called = true;
      };
      assert.throws(() => lookup('app.test', input as never, onAnswer), { code });
      assert.equal(called, false, 'thrown synchronously, the callback never runs');
    });
  }

  test('null options are absent, as in dns.lookup', () => {
    assert.deepEqual(
      parseLookupOptions({ all: null, family: null, hints: null, order: null, verbatim: null }),
      {
        family: 0,
        hints: 0,
        all: false,
        order: 'verbatim',
      },
    );
  });

  test('a missing callback: ERR_INVALID_ARG_TYPE, as dns.lookup', () => {
    assert.throws(() => dns.lookup('localhost', {} as never, undefined as never), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
    const lookup = createLookup({ dialer: new Dialer({ hostsPath: null, memory: false }), resolver: silent });
    assert.throws(() => lookup('app.test', {}, undefined as never), { code: 'ERR_INVALID_ARG_TYPE' });
  });

  const ordered = [
    { address: '2001:db8::1', family: 6 as const },
    { address: '203.0.113.10', family: 4 as const },
    { address: '2001:db8::2', family: 6 as const },
  ];
  const shapes: Array<[string, Partial<ReturnType<typeof parseLookupOptions>>, string[]]> = [
    ['verbatim keeps netdial order', {}, ['2001:db8::1', '203.0.113.10', '2001:db8::2']],
    ['ipv4first', { order: 'ipv4first' }, ['203.0.113.10', '2001:db8::1', '2001:db8::2']],
    ['ipv6first', { order: 'ipv6first' }, ['2001:db8::1', '2001:db8::2', '203.0.113.10']],
    ['family 4', { family: 4 }, ['203.0.113.10']],
    ['family 6', { family: 6 }, ['2001:db8::1', '2001:db8::2']],
    [
      'family 6 + V4MAPPED with IPv6 present',
      { family: 6, hints: dns.V4MAPPED },
      ['2001:db8::1', '2001:db8::2'],
    ],
    [
      'family 6 + V4MAPPED | ALL',
      { family: 6, hints: dns.V4MAPPED | dns.ALL },
      ['2001:db8::1', '2001:db8::2', '::ffff:203.0.113.10'],
    ],
  ];
  for (const [name, opts, expected] of shapes) {
    test(`shapes: ${name}`, () => {
      const callOptions = { family: 0 as const, hints: 0, all: true, order: 'verbatim' as const, ...opts };
      assert.deepEqual(
        shapeAddresses(ordered, callOptions, undefined).map((a) => a.address),
        expected,
      );
    });
  }

  test('V4MAPPED with no IPv6 answer maps the IPv4 addresses (family 6)', () => {
    const out = shapeAddresses(
      [{ address: '203.0.113.10', family: 4 }],
      { family: 6, hints: dns.V4MAPPED, all: true, order: 'verbatim' },
      undefined,
    );
    assert.deepEqual(out, [{ address: '::ffff:203.0.113.10', family: 6 }]);
  });

  test('ADDRCONFIG drops a family the host has no address of, but keeps loopback', () => {
    const opts = { family: 0 as const, hints: dns.ADDRCONFIG, all: true, order: 'verbatim' as const };
    const list = [
      { address: '::1', family: 6 as const },
      { address: '2001:db8::1', family: 6 as const },
      { address: '203.0.113.10', family: 4 as const },
    ];
    assert.deepEqual(
      shapeAddresses(list, opts, new Set([4])).map((a) => a.address),
      ['::1', '203.0.113.10'],
    );
    assert.deepEqual(
      shapeAddresses(list, opts, new Set([4, 6])).map((a) => a.address),
      ['::1', '2001:db8::1', '203.0.113.10'],
    );
  });
});

describe('createLookup on a fixed resolver', () => {
  // A Dialer of its own, without memory: nothing learnt here reaches the default Dialer.
  const dialer = new Dialer({ memory: false });
  test('all: true gives every address, sorted (RFC 6724) and interleaved (RFC 8305 §4)', async () => {
    const lookup = createLookup({ dialer, resolver: both });
    const r = await call(lookup, 'app.test', { all: true });
    assert.equal(r.err, null);
    const list = r.address as LookupAddress[];
    assert.equal(list.length, 4);
    // Interleaved: the families alternate after the first address.
    assert.notEqual(list[0]?.family, list[1]?.family);
    assert.deepEqual(
      new Set(list.map((a) => a.address)),
      new Set(['2001:db8::1', '2001:db8::2', '203.0.113.10', '198.51.100.7']),
    );
  });

  test('all: false (and the two-argument form) gives one address string and its family', async () => {
    const lookup = createLookup({ dialer, resolver: fixed({ 4: ['203.0.113.10'] }) });
    for (const options of [undefined, {}, 0, { all: false }] as const) {
      const r = await call(lookup, 'app.test', options);
      assert.equal(r.err, null);
      assert.equal(r.address, '203.0.113.10', `options ${JSON.stringify(options)}`);
      assert.equal(r.family, 4);
    }
  });

  test('family 6 asks for AAAA only; an IP literal comes back as itself', async () => {
    let asked: number[] = [];
    const lookup = createLookup({
      dialer,
      resolver: async (_n, family) => {
        asked.push(family);
        return family === 6 ? ['2001:db8::5'] : ['203.0.113.5'];
      },
    });
    const r = await call(lookup, 'app.test', { family: 6 });
    assert.deepEqual([r.address, r.family, asked], ['2001:db8::5', 6, [6]]);
    asked = [];
    const lit = await call(lookup, '198.51.100.9', { all: true });
    assert.deepEqual(lit.address, [{ address: '198.51.100.9', family: 4 }]);
    assert.deepEqual(asked, [], 'no resolution for a literal');
  });

  test('a name without addresses: ENOTFOUND, as getaddrinfo reports it', async () => {
    const lookup = createLookup({ dialer, resolver: fixed({}) });
    const r = await call(lookup, 'nothing.test');
    assert.equal(r.err?.code, 'ENOTFOUND');
    assert.equal((r.err?.cause as Error | undefined)?.name, 'DialError', 'the DialError is the cause');
    assert.equal(r.err?.syscall, 'getaddrinfo');
    assert.equal((r.err as { hostname?: string }).hostname, 'nothing.test');
  });

  test('a failing resolver (ESERVFAIL): EAI_AGAIN, as getaddrinfo reports a server failure; its code on the cause', async () => {
    const lookup = createLookup({
      dialer,
      resolver: async () => {
        throw Object.assign(new Error('server failure'), { code: 'ESERVFAIL' });
      },
    });
    const r = await call(lookup, 'app.test', { all: true });
    assert.equal(r.err?.code, 'EAI_AGAIN');
    assert.equal(r.err?.errno, -3001);
    assert.equal((r.err?.cause as { code?: string } | undefined)?.code, 'ESERVFAIL');
    assert.deepEqual(r.address, []);
  });

  test('a resolver that never answers: EAI_AGAIN after `timeout` (the DialError, ETIMEDOUT, as cause)', async () => {
    const lookup = createLookup({ dialer, resolver: silent, timeout: 50 });
    const t0 = performance.now();
    const r = await call(lookup, 'app.test');
    assert.equal(r.err?.code, 'EAI_AGAIN');
    assert.equal((r.err?.cause as { code?: string } | undefined)?.code, 'ETIMEDOUT');
    assert.ok(performance.now() - t0 >= 45);
  });

  test('the shipped doc of `timeout` names the codes a timed-out lookup gets (EAI_AGAIN, cause ETIMEDOUT)', () => {
    const dts = readFileSync(new URL('../src/integrations/lookup.d.ts', import.meta.url), 'utf8');
    const doc = dts.slice(0, dts.indexOf('timeout?:'));
    const comment = doc.slice(doc.lastIndexOf('/**'));
    assert.match(comment, /EAI_AGAIN/);
    assert.match(comment, /ETIMEDOUT/);
    assert.doesNotMatch(comment, /\bETIMEOUT\b/);
  });

  test('util.promisify(lookup) resolves { address, family } (the array with all: true), as dns.lookup', async () => {
    const lookup = createLookup({ dialer, resolver: both });
    const viaCallback = await call(lookup, 'app.test');
    const one = await promisify(lookup)('app.test');
    assert.deepEqual(one, { address: viaCallback.address, family: viaCallback.family });
    assert.equal(typeof viaCallback.address, 'string');
    assert.deepEqual(await promisify(lookup)('app.test', { family: 4 }), {
      address: '203.0.113.10',
      family: 4,
    });
    const all = await promisify(lookup)('app.test', { all: true });
    assert.equal(Array.isArray(all) && all.length, 4);
    assert.deepEqual(await promisify(lookup)('192.0.2.1'), { address: '192.0.2.1', family: 4 });
    await assert.rejects(promisify(createLookup({ dialer, resolver: fixed({}) }))('app.test'), {
      code: 'ENOTFOUND',
    });
    // The exported lookup too (an IP literal: the default Dialer asks no resolver for it).
    assert.deepEqual(await promisify(defaultLookup)('198.51.100.1'), { address: '198.51.100.1', family: 4 });
    // Same shape as Node's own (with an IP literal: no resolver is asked).
    assert.deepEqual(await promisify(dns.lookup)('192.0.2.1'), { address: '192.0.2.1', family: 4 });
  });

  test("inet_aton short forms ('127.1', '0x7f.1', '0177.0.0.1') are refused, not resolved: no query, a TypeError naming the form", async () => {
    let asked = 0;
    const counting: ResolveFunction = async (name, family) => {
      asked++;
      return both(name, family, { signal: new AbortController().signal } as never);
    };
    const lookup = createLookup({ dialer, resolver: counting });
    for (const host of ['127.1', '0x7f.1', '0177.0.0.1', '2130706433']) {
      const r = await call(lookup, host);
      assert.equal(r.err?.code, 'ERR_NETDIAL_INVALID_TARGET', host);
      assert.match(String(r.err?.message), /shorthand, hex, octal/, host);
    }
    assert.equal(asked, 0, 'never sent to a resolver as a name');
  });

  test('a bad timeout option is a TypeError with a stable code', () => {
    for (const bad of [0, -1, Number.NaN, '1s']) {
      assert.throws(() => createLookup({ timeout: bad as number }), { code: 'ERR_NETDIAL_INVALID_OPTION' });
    }
  });

  test('an invalid host name reaches the callback as a TypeError with a stable code', async () => {
    const lookup = createLookup({ dialer, resolver: both });
    const r = await call(lookup, 'bad name');
    assert.equal(r.err?.code, 'ERR_NETDIAL_INVALID_TARGET');
  });

  test('the callback always runs asynchronously', async () => {
    const lookup = createLookup({ dialer, resolver: both });
    let sync = true;
    const done = new Promise<void>((resolve) =>
      lookup('bad name', () => {
        assert.equal(sync, false);
        resolve();
      }),
    );
    sync = false;
    await done;
  });
});

describe('lookup through http.request on loopback', () => {
  const server = http.createServer((req, res) => res.end(`host=${req.headers.host}`));
  let port = 0;
  let baseline: Map<string, number>;
  let interval: NodeJS.Timeout;

  before(async () => {
    // A ref'd interval from before the baseline keeps the loop turning while assertNoLeaks waits.
    interval = setInterval(() => {}, 60_000);
    baseline = activeResources();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
    await assertNoLeaks(baseline, 'lookup tests');
    clearInterval(interval);
  });

  test('http.request({ lookup }) reaches the server; Node races ::1 (refused) then 127.0.0.1; outcomes recorded', async () => {
    const lookup = createLookup({
      dialer: new Dialer({ memory: false }),
      resolver: fixed({ 6: ['::1'], 4: ['127.0.0.1'] }),
    });
    const recorded: string[] = [];
    const recorder: AttemptRecorder = {
      recordSuccess: (address, p) => recorded.push(`ok ${address} ${p === port}`),
      recordFailure: (address, p, code) => recorded.push(`fail ${address} ${p === port} ${code}`),
    };
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.get(`http://app.test:${port}/`, { lookup, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve(text));
      });
      req.on('socket', (socket) => observeAttempts(socket, recorder));
      req.on('error', reject);
    });
    assert.equal(body, `host=app.test:${port}`);
    assert.deepEqual(recorded, ['fail ::1 true ECONNREFUSED', 'ok 127.0.0.1 true']);
  });

  test('lookup.observe feeds the Dialer’s endpoint memory', async () => {
    const dialer = new Dialer();
    const lookup = createLookup({ dialer, resolver: fixed({ 6: ['::1'], 4: ['127.0.0.1'] }) });
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`http://app.test:${port}/`, { lookup, agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('socket', (socket) => lookup.observe(socket));
      req.on('error', reject);
    });
    const now = performance.now();
    assert.equal(dialer.memory?.endpoints.get('::1', port, now)?.lastErrorCode, 'ECONNREFUSED');
    assert.equal(dialer.memory?.endpoints.get('127.0.0.1', port, now)?.lastOutcome, 'success');
  });

  test('lookup.observe without a Dialer memory is a no-op: it attaches nothing to the socket', () => {
    const events = [
      'connectionAttempt',
      'connectionAttemptFailed',
      'connectionAttemptTimeout',
      'connect',
      'close',
    ];
    const listeners = (s: net.Socket) => events.map((e) => s.listenerCount(e));
    const withoutMemory = new net.Socket();
    const before = listeners(withoutMemory);
    createLookup({ dialer: new Dialer({ memory: false }), resolver: both }).observe(withoutMemory);
    assert.deepEqual(listeners(withoutMemory), before);
    // With a memory the same call does listen: the comparison above can tell the difference.
    const withMemory = new net.Socket();
    createLookup({ dialer: new Dialer(), resolver: both }).observe(withMemory);
    assert.notDeepEqual(listeners(withMemory), before);
    withMemory.destroy();
    withoutMemory.destroy();
  });
});
