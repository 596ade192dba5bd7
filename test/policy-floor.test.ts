/**
 * A Dialer's address policy is a floor that no option object can lower (issue 14): options and policy
 * specs are read from own properties only; a dial's policy narrows the Dialer's (intersection); a
 * compiled policy is recognised by a module-private brand, not by its shape or a global symbol; and a
 * polluted Object.prototype switches nothing off — through dial(), resolve(), the http agents,
 * createConnection, DialSocket, the undici connector and lookup.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { request as undiciRequest } from 'undici';
import {
  ADDRESS_CLASSES,
  Agent,
  type AddressPolicy,
  bindCreateConnection,
  compilePolicy,
  createLookup,
  DialSocket,
  Dialer,
  HttpsAgent,
  isAddressPolicy,
  PUBLIC_INTERNET_ONLY,
  type ResolveFunction,
} from '../src/index.js';
import { type DialConfig, resolveOptions } from '../src/options.js';
import { createDispatcher } from '../src/undici.js';

const CODE = 'ERR_NETDIAL_INVALID_OPTION';
const OPEN = ['0.0.0.0/0', '::/0'];

/** Addresses the floors below deny some of; a narrowed policy must deny at least those. */
const SAMPLE = [
  '127.0.0.1',
  '::1',
  '0.0.0.0',
  '::',
  '::ffff:0.0.0.0',
  '::ffff:127.0.0.1',
  '10.1.2.3',
  '169.254.169.254',
  '203.0.113.5',
  '198.51.100.7',
  '192.0.2.1',
  '2001:db8::1',
  '8.8.8.8',
  '2606:4700::1111',
];

const FLOORS: Array<[string, unknown]> = [
  ['public', 'public'],
  ['deny loopback and private', { deny: ['loopback', 'private'] }],
  ['allow only 203.0.113.0/24', { deny: OPEN, allow: ['203.0.113.0/24'] }],
];

function isCoded(e: unknown): boolean {
  return e instanceof TypeError && (e as { code?: unknown }).code === CODE;
}

/** The spec or policy values a caller (or an attacker who shapes its options) might put in `policy`. */
const specArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    'public',
    {},
    { allow: OPEN },
    { allow: ['loopback', 'private', 'documentation', 'unspecified'] },
    { deny: [] },
    { deny: ['203.0.113.0/24'] },
    { deny: ['loopback'], allow: ['127.0.0.0/8'] },
  ),
  fc.constant(null).map(() => compilePolicy({})),
  fc.constant(null).map(() => compilePolicy({ allow: OPEN })),
  // Look-alikes of a compiled policy: a check that allows everything, a global-symbol brand.
  fc.constant(null).map(() => ({ check: () => ({ allowed: true }), allow: [], deny: [] })),
  fc
    .constant(null)
    .map(() => ({ [Symbol.for('netdial.AddressPolicy')]: true, check: () => ({ allowed: true }) })),
  // A spec whose allow list is inherited, or arrives as a "__proto__" JSON key.
  fc.constant(null).map(() => Object.assign(Object.create({ allow: OPEN }), { deny: ['203.0.113.0/24'] })),
  fc.constant(null).map(() => JSON.parse('{"deny":["loopback"],"__proto__":{"allow":["0.0.0.0/0","::/0"]}}')),
  fc
    .constant(null)
    .map(() => Object.assign({ deny: ['loopback'] }, JSON.parse('{"__proto__":{"allow":["0.0.0.0/0"]}}'))),
  // Holes and getters inside the lists.
  fc.constant(null).map(() => {
    const deny: string[] = [];
    deny[1] = 'loopback';
    return { deny };
  }),
  fc.constant(null).map(() => {
    let reads = 0;
    return Object.defineProperty({}, 'allow', { enumerable: true, get: () => (reads++ === 0 ? [] : OPEN) });
  }),
);

/** Option objects with every way of carrying `policy`: own, inherited, JSON "__proto__", getters, Proxies. */
const optionsArb: fc.Arbitrary<unknown> = fc
  .tuple(
    specArb,
    fc.constantFrom(
      'own',
      'inherited',
      'json-proto',
      'assign-json-proto',
      'getter',
      'flipping-getter',
      'proxy-hidden',
      'proxy-lying',
      'proxy-throwing',
      'null-proto',
      'class',
    ),
    fc.option(fc.constantFrom(100, 5000), { nil: undefined }),
    fc.option(fc.boolean(), { nil: undefined }),
  )
  .map(([spec, how, timeout, redact]) => {
    const extra: Record<string, unknown> = {};
    if (timeout !== undefined) extra.timeout = timeout;
    if (redact !== undefined) extra.redactDeniedAddresses = redact;
    switch (how) {
      case 'own':
        return { ...extra, policy: spec };
      case 'inherited':
        return Object.assign(Object.create({ policy: spec }), extra);
      case 'json-proto':
        // A "__proto__" key in JSON is an own property of the parsed object (not its prototype).
        return JSON.parse(
          `{"__proto__":{"policy":{"allow":["0.0.0.0/0","::/0"]}}${Object.keys(extra).length > 0 ? `,${JSON.stringify(extra).slice(1, -1)}` : ''}}`,
        );
      case 'assign-json-proto':
        return Object.assign(
          { ...extra },
          JSON.parse('{"__proto__":{"policy":{"allow":["0.0.0.0/0","::/0"]}}}'),
        );
      case 'getter':
        return Object.defineProperty({ ...extra }, 'policy', { enumerable: true, get: () => spec });
      case 'flipping-getter': {
        let reads = 0;
        return Object.defineProperty({ ...extra }, 'policy', {
          enumerable: true,
          get: () => (reads++ === 0 ? 'public' : { allow: OPEN }),
        });
      }
      case 'proxy-hidden':
        // `policy` answers a get but is not an own key: never read.
        return new Proxy({ ...extra }, { get: (t, k) => (k === 'policy' ? spec : Reflect.get(t, k)) });
      case 'proxy-lying': {
        let reads = 0;
        return new Proxy(
          { ...extra, policy: 'public' },
          {
            get: (t, k) =>
              k === 'policy' ? (reads++ === 0 ? 'public' : { allow: OPEN }) : Reflect.get(t, k),
          },
        );
      }
      case 'proxy-throwing':
        return new Proxy(
          { ...extra, policy: spec },
          {
            get: () => {
              throw new Error('trap');
            },
          },
        );
      case 'null-proto':
        return Object.assign(Object.create(null), extra, { policy: spec });
      default: {
        class Options {
          get policy(): unknown {
            return spec;
          }
        }
        return Object.assign(new Options(), extra);
      }
    }
  });

function assertNotWeaker(floor: DialConfig, cfg: DialConfig, label: string): void {
  const f = floor.policy!;
  const p = cfg.policy;
  assert.ok(p !== undefined, `${label}: the policy is gone`);
  assert.ok(isAddressPolicy(p), `${label}: not a compiled policy`);
  for (const address of SAMPLE) {
    if (!f.check(address).allowed) {
      assert.equal(
        p.check(address).allowed,
        false,
        `${label}: ${address} is denied by the floor but allowed`,
      );
    }
  }
  if (floor.redactDeniedAddresses)
    assert.equal(cfg.redactDeniedAddresses, true, `${label}: redaction lifted`);
}

describe('no option object yields a weaker policy than the Dialer’s', () => {
  for (const [name, floorSpec] of FLOORS) {
    test(`floor ${name}: any options — a config at least as strict, or a coded TypeError`, () => {
      const floor = resolveOptions({ policy: floorSpec });
      fc.assert(
        fc.property(optionsArb, (options) => {
          let cfg: DialConfig;
          try {
            cfg = resolveOptions(options, floor);
          } catch (e) {
            assert.ok(isCoded(e), `not a coded TypeError: ${String(e)}`);
            return;
          }
          assertNotWeaker(floor, cfg, JSON.stringify(options) ?? String(options));
        }),
        { numRuns: 1500 },
      );
    });
  }

  test('new Dialer() with such options builds or refuses with a coded TypeError, never anything else', () => {
    fc.assert(
      fc.property(optionsArb, (options) => {
        // What policy it then holds is the property above: a Dialer reads its options through the same
        // resolveOptions; this pins that nothing else escapes from the Dialer's own option reading.
        try {
          new Dialer(options as never);
        } catch (e) {
          assert.ok(isCoded(e), `not a coded TypeError: ${String(e)}`);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('a dial policy narrows: the intersection of both, the first denial reported', () => {
    const floor = resolveOptions({ policy: { deny: ['127.0.0.2/32'] } });
    const cfg = resolveOptions({ policy: { deny: ['127.0.0.3/32'] } }, floor);
    assert.equal(cfg.policy!.check('127.0.0.2').allowed, false);
    assert.equal(cfg.policy!.check('127.0.0.3').allowed, false);
    assert.equal(cfg.policy!.check('127.0.0.4').allowed, true);
    assert.deepEqual(cfg.policy!.deny, ['127.0.0.2/32', '127.0.0.3/32']);
    assert.equal(cfg.policy!.parts?.length, 2);
    // A dial's allow cannot re-open what the floor denies.
    const wide = resolveOptions({ policy: { allow: OPEN } }, floor);
    assert.equal(wide.policy!.check('127.0.0.2').allowed, false);
    // The same policy object is not stacked on itself; narrowing twice keeps flat parts.
    assert.equal(resolveOptions({ policy: floor.policy }, floor).policy, floor.policy);
    const twice = resolveOptions({ policy: cfg.policy }, floor);
    assert.equal(twice.policy!.parts?.length, 2);
  });

  test('a dial cannot lift the redaction of a Dialer with a policy', () => {
    const floor = resolveOptions({ policy: 'public' });
    assert.throws(
      () => resolveOptions({ redactDeniedAddresses: false }, floor),
      (e: unknown) => isCoded(e) && /cannot show the addresses/.test((e as Error).message),
    );
    // Without a Dialer policy, a dial may choose (nothing of the Dialer's is redacted).
    const none = resolveOptions({});
    assert.equal(
      resolveOptions({ policy: 'public', redactDeniedAddresses: false }, none).redactDeniedAddresses,
      false,
    );
    // A Dialer that shows them lets a dial redact.
    const shows = resolveOptions({ policy: 'public', redactDeniedAddresses: false });
    assert.equal(resolveOptions({ redactDeniedAddresses: true }, shows).redactDeniedAddresses, true);
  });

  test('the brand: only policies this module compiled pass; look-alikes are read as specs and refused', () => {
    const real = compilePolicy('public');
    assert.ok(isAddressPolicy(real));
    assert.equal(compilePolicy(real), real);
    const lookAlike = { check: () => ({ allowed: true }), allow: [], deny: [] };
    assert.equal(isAddressPolicy(lookAlike), false);
    assert.throws(
      () => compilePolicy(lookAlike as never),
      (e: unknown) => isCoded(e),
    );
    const symbolBrand = { [Symbol.for('netdial.AddressPolicy')]: true, allow: [], deny: [] };
    assert.equal(isAddressPolicy(symbolBrand), false);
    // Its own allow/deny lists (empty) are all that is read: it compiles to an empty policy, not to "its" check.
    const compiled = compilePolicy(symbolBrand as never);
    assert.notEqual(compiled, symbolBrand as unknown);
    assert.ok(isAddressPolicy(compiled));
    // A copy of a real policy (spread) is a spec of its lists, compiled again: the same verdicts.
    const copy = compilePolicy({ ...real } as never);
    for (const a of SAMPLE) assert.equal(copy.check(a).allowed, real.check(a).allowed, a);
  });

  test("the 'public' preset has no prototype and compiles to one shared policy", () => {
    assert.equal(Object.getPrototypeOf(PUBLIC_INTERNET_ONLY), null);
    assert.ok(Object.isFrozen(PUBLIC_INTERNET_ONLY));
    assert.equal(compilePolicy('public'), compilePolicy('public'));
  });
});

// ---------------------------------------------------------------------------------------------------
// Real dials

const resolveTo =
  (addresses: string[]): ResolveFunction =>
  async (_name, family) =>
    addresses.filter((a) => net.isIP(a) === family);

describe('real dials on loopback', () => {
  let accepted = 0;
  const server = http.createServer((_req, res) => res.end('ok'));
  server.on('connection', () => accepted++);
  let port = 0;
  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('any dial options on a Dialer that denies loopback: never a connection', async () => {
    const dialer = new Dialer({
      policy: { deny: ['loopback'] },
      resolver: resolveTo(['127.0.0.1']),
      memory: false,
    });
    await fc.assert(
      fc.asyncProperty(optionsArb, async (options) => {
        const before = accepted;
        const outcome = await dialer.dial(`in.test:${port}`, options as never).then(
          (s) => {
            s.destroy();
            return 'connected';
          },
          (e: unknown) => e,
        );
        assert.notEqual(outcome, 'connected');
        const code = (outcome as { code?: string }).code;
        assert.ok(code === 'ERR_NETDIAL_DENIED' || code === CODE, `unexpected ${String(outcome)}`);
        assert.equal(accepted, before);
      }),
      { numRuns: 80 },
    );
  });

  test('a dial policy cannot re-open what the Dialer denies; it can deny more', async () => {
    const floor = new Dialer({ policy: { deny: ['loopback'] }, resolver: resolveTo(['127.0.0.1']) });
    const before = accepted;
    for (const policy of [{ allow: ['127.0.0.0/8'] }, { allow: OPEN }, {}, compilePolicy({})] as unknown[]) {
      const e = await floor
        .dial(`in.test:${port}`, { policy: policy as AddressPolicy })
        .catch((x: unknown) => x);
      assert.equal((e as { code?: string }).code, 'ERR_NETDIAL_DENIED');
    }
    assert.equal(accepted, before);
    const open = new Dialer({ resolver: resolveTo(['127.0.0.1']) });
    const e = await open
      .dial(`in.test:${port}`, { policy: { deny: ['127.0.0.1'] } })
      .catch((x: unknown) => x);
    assert.equal((e as { code?: string }).code, 'ERR_NETDIAL_DENIED');
    assert.equal(accepted, before);
  });

  /**
   * Every entry point, with Object.prototype polluted by `key` = `value` (as `a[k1][k2] = v` pollution
   * or a merged `__proto__` JSON key does: enumerable) — restored in `finally` whatever happens.
   */
  const POLLUTIONS: Array<[string, () => unknown]> = [
    ['allow', () => [...ADDRESS_CLASSES, ...OPEN]],
    ['policy', () => ({})],
    ['redactDeniedAddresses', () => false],
    ['dial', () => ({ policy: {} })],
    // A Dialer without a policy (resolving to loopback too, so a regression would connect, not ask DNS).
    ['dialer', () => new Dialer({ resolver: resolveTo(['127.0.0.1']), memory: false })],
  ];

  async function entryPoints(dialer: Dialer): Promise<Array<[string, unknown]>> {
    const host = `in.test:${port}`;
    const outcomes: Array<[string, unknown]> = [];
    const settle = (p: Promise<unknown>) =>
      p.then(
        (v) => {
          (v as { destroy?: () => void })?.destroy?.();
          return 'connected';
        },
        (e: unknown) => e,
      );
    outcomes.push(['dial', await settle(dialer.dial(host))]);
    outcomes.push(['dial with {}', await settle(dialer.dial(host, {}))]);
    outcomes.push(['resolve', await settle(dialer.resolve('in.test'))]);
    const viaHttp = (options: http.RequestOptions) =>
      new Promise<unknown>((resolve) => {
        const req = http.get({ host: 'in.test', port, ...options }, (res) => {
          res.resume();
          resolve('connected');
        });
        req.on('error', resolve);
      });
    const agent = new Agent({ dial: { dialer } });
    outcomes.push(['Agent', await viaHttp({ agent })]);
    agent.destroy();
    const httpsAgent = new HttpsAgent({ dial: { dialer } });
    outcomes.push([
      'HttpsAgent',
      await new Promise<unknown>((resolve) => {
        const req = https.get({ host: 'in.test', port, agent: httpsAgent }, () => resolve('connected'));
        req.on('error', resolve);
      }),
    ]);
    httpsAgent.destroy();
    outcomes.push([
      'createConnection',
      await viaHttp({ createConnection: bindCreateConnection({ dialer }) as never }),
    ]);
    outcomes.push([
      'DialSocket',
      await new Promise<unknown>((resolve) => {
        const s = new DialSocket({ dialer });
        s.once('connect', () => {
          s.destroy();
          resolve('connected');
        });
        s.once('error', resolve);
        s.connect(port, 'in.test');
      }),
    ]);
    const dispatcher = createDispatcher({ dialer });
    outcomes.push([
      'undici connector',
      await undiciRequest(`http://in.test:${port}/`, { dispatcher }).then(
        async (r) => {
          await r.body.dump();
          return 'connected';
        },
        (e: unknown) => e,
      ),
    ]);
    await dispatcher.close();
    const lookup = createLookup({ dialer });
    outcomes.push([
      'lookup',
      await new Promise<unknown>((resolve) =>
        lookup('in.test', { all: true }, (err, list) => resolve(err ?? list)),
      ),
    ]);
    return outcomes;
  }

  for (const [key, value] of POLLUTIONS) {
    test(`Object.prototype.${key} polluted: every entry point still refuses loopback`, async () => {
      const before = accepted;
      const had = Object.hasOwn(Object.prototype, key);
      assert.equal(had, false, `Object.prototype.${key} was already set`);
      let outcomes: Array<[string, unknown]>;
      try {
        Object.defineProperty(Object.prototype, key, {
          value: value(),
          enumerable: true,
          configurable: true,
          writable: true,
        });
        // Dialers made while polluted: their options and policy specs are read under the pollution.
        outcomes = [];
        for (const policy of ['public', { deny: ['loopback', 'private'] }] as const) {
          const dialer = new Dialer({ policy, resolver: resolveTo(['127.0.0.1']), memory: false });
          outcomes.push(...(await entryPoints(dialer)));
        }
      } finally {
        delete (Object.prototype as Record<string, unknown>)[key];
      }
      for (const [where, outcome] of outcomes) {
        assert.notEqual(outcome, 'connected', `${where} connected`);
        if (where === 'lookup') {
          assert.ok(outcome instanceof Error, `lookup answered ${JSON.stringify(outcome)}`);
          continue;
        }
        const code = (outcome as { code?: string }).code;
        assert.equal(code, 'ERR_NETDIAL_DENIED', `${where}: ${String(outcome)}`);
        // Still redacted: the denied address is in no message.
        assert.ok(
          !(outcome as Error).message.includes('127.0.0.1'),
          `${where}: ${(outcome as Error).message}`,
        );
      }
      assert.equal(accepted, before, 'no connection reached the server');
    });
  }

  test('the agents read their own `dial` and `maxSocketAge` only, never inherited ones', () => {
    try {
      Object.defineProperty(Object.prototype, 'dial', {
        value: { timeout: 'bad' },
        enumerable: true,
        configurable: true,
      });
      Object.defineProperty(Object.prototype, 'maxSocketAge', {
        value: -1,
        enumerable: true,
        configurable: true,
      });
      // Were either read, the constructor would throw (an invalid timeout / maxSocketAge).
      new Agent({}).destroy();
      new HttpsAgent({ keepAlive: true }).destroy();
    } finally {
      delete (Object.prototype as Record<string, unknown>).dial;
      delete (Object.prototype as Record<string, unknown>).maxSocketAge;
    }
  });

  test('pollution of Array.prototype indices does not fill holes in a policy list', () => {
    const deny: string[] = [];
    deny[1] = 'loopback';
    try {
      Object.defineProperty(Array.prototype, '0', {
        value: 'documentation',
        configurable: true,
        writable: true,
      });
      assert.throws(
        () => compilePolicy({ deny }),
        (e: unknown) => isCoded(e) && /hole/.test((e as Error).message),
      );
    } finally {
      delete (Array.prototype as unknown as Record<string, unknown>)['0'];
    }
  });
});
