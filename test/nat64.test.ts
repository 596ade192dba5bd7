/**
 * NAT64 (RFC 8305 §7): prefix parsing and address synthesis against RFC 6052 §2.4's own examples, RFC 7050
 * prefix discovery from AAAA answers, which IPv4 destinations can be translated, and the discovery cache
 * (TTL, shared query, negative answers) on a virtual clock. The dial itself is in the lab
 * (test/lab-resolver-env.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Dialer } from '../src/index.js';
import {
  hasStrandedIPv4,
  Nat64Prefixes,
  parseNat64Prefix,
  prefixesFromAnswer,
  synthesizeIPv6,
  synthesizeStranded,
  translatable,
} from '../src/resolution/nat64.js';

describe('RFC 6052 §2.4 examples: 192.0.2.33 under each prefix length', () => {
  const rows: Array<[string, string]> = [
    ['2001:db8::/32', '2001:db8:c000:221::'],
    ['2001:db8:100::/40', '2001:db8:1c0:2:21::'],
    ['2001:db8:122::/48', '2001:db8:122:c000:2:2100::'],
    ['2001:db8:122:300::/56', '2001:db8:122:3c0:0:221::'],
    ['2001:db8:122:344::/64', '2001:db8:122:344:c0:2:2100:0'],
    ['2001:db8:122:344::/96', '2001:db8:122:344::c000:221'],
    ['64:ff9b::/96', '64:ff9b::c000:221'],
  ];
  for (const [prefixText, want] of rows) {
    test(`${prefixText} -> ${want}`, () => {
      const prefix = parseNat64Prefix(prefixText);
      assert.ok(prefix);
      assert.equal(prefix.text, prefixText);
      assert.equal(synthesizeIPv6(prefix, '192.0.2.33'), want);
      // RFC 7050 §3 reads the prefix back from such an address (with a well-known IPv4 in it).
      const wka = synthesizeIPv6(prefix, '192.0.0.170');
      assert.deepEqual(
        prefixesFromAnswer([wka]).map((p) => p.text),
        [prefixText],
      );
    });
  }
});

describe('parseNat64Prefix', () => {
  test('bits past the length are ignored; the text is canonical', () => {
    assert.equal(parseNat64Prefix('64:FF9B:0::1:2/96')?.text, '64:ff9b::/96');
  });
  for (const bad of [
    '64:ff9b::',
    '64:ff9b::/80',
    '64:ff9b::/96x',
    '64:ff9b::/ 96',
    '192.0.2.0/24',
    'fe80::%eth0/64',
    '2001:db8:0:0:ff00::/96', // RFC 6052 §2.2: bits 64-71 must be zero
    '',
  ]) {
    test(`refuses ${JSON.stringify(bad)}`, () => assert.equal(parseNat64Prefix(bad), undefined));
  }
});

describe('prefixesFromAnswer (RFC 7050 §3)', () => {
  test('both well-known addresses give the same prefix once; other addresses are ignored', () => {
    const got = prefixesFromAnswer(['64:ff9b::c000:aa', '64:ff9b::192.0.0.171', '2001:db8::1', 'nonsense']);
    assert.deepEqual(
      got.map((p) => p.text),
      ['64:ff9b::/96'],
    );
  });
  test('no well-known address: no prefix', () =>
    assert.deepEqual(prefixesFromAnswer(['2001:db8::c000:ac']), []));
});

describe('which IPv4 destinations go through NAT64', () => {
  for (const [address, want] of [
    ['203.0.113.1', true],
    ['198.51.100.7', true],
    ['127.0.0.1', false],
    ['0.0.0.0', false],
    ['169.254.1.1', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['::1', false],
  ] as const) {
    test(`${address}: ${want}`, () => assert.equal(translatable(address), want));
  }

  test('only IPv4 candidates without a route (source null) are replaced, in place', () => {
    const prefix = parseNat64Prefix('64:ff9b::/96')!;
    const list = [
      { address: '2001:db8::1', family: 6, sourceAddress: null },
      { address: '203.0.113.1', family: 4, sourceAddress: null },
      { address: '203.0.113.2', family: 4, sourceAddress: '198.18.0.2' },
      { address: '127.0.0.1', family: 4, sourceAddress: null },
    ];
    assert.equal(hasStrandedIPv4(list), true);
    assert.equal(hasStrandedIPv4(list.filter((c) => c.address !== '203.0.113.1')), false);
    const made = synthesizeStranded(list, prefix, (from, ipv6) => ({ ...from, address: ipv6, family: 6 }));
    assert.deepEqual(
      made.candidates.map((c) => c.address),
      ['2001:db8::1', '64:ff9b::cb00:7101', '203.0.113.2', '127.0.0.1'],
    );
    assert.deepEqual(made.synthesized, [{ ipv4: '203.0.113.1', ipv6: '64:ff9b::cb00:7101' }]);
  });
});

describe('Nat64Prefixes: discovery remembered for its TTL (virtual clock)', () => {
  function counting(answer: { addresses: string[]; ttlSeconds: number } | undefined | Error) {
    const names: string[] = [];
    const lookup = async (name: string) => {
      names.push(name);
      if (answer instanceof Error) throw answer;
      return answer;
    };
    return { names, lookup };
  }

  test('one shared query, reused until the TTL runs out, then asked again', async () => {
    const { names, lookup } = counting({ addresses: ['64:ff9b::c000:aa'], ttlSeconds: 60 });
    const nat64 = new Nat64Prefixes(undefined, lookup);
    const [a, b] = await Promise.all([nat64.prefix(0), nat64.prefix(0)]);
    assert.equal(a?.text, '64:ff9b::/96');
    assert.equal(b?.text, '64:ff9b::/96');
    assert.deepEqual(names, ['ipv4only.arpa']);
    assert.equal((await nat64.prefix(59_999))?.text, '64:ff9b::/96');
    assert.equal(names.length, 1);
    await nat64.prefix(60_000);
    assert.equal(names.length, 2);
    nat64.forget();
    await nat64.prefix(60_001);
    assert.equal(names.length, 3, 'forget() (network change) asks again');
  });

  test('no answer or a failure: no prefix, remembered for 30 s', async () => {
    for (const answer of [
      undefined,
      { addresses: ['2001:db8::1'], ttlSeconds: 600 },
      new Error('SERVFAIL'),
    ]) {
      const { names, lookup } = counting(answer);
      const nat64 = new Nat64Prefixes(undefined, lookup);
      assert.equal(await nat64.prefix(0), undefined);
      assert.equal(await nat64.prefix(29_999), undefined);
      assert.equal(names.length, 1);
      await nat64.prefix(30_000);
      assert.equal(names.length, 2);
    }
  });

  test('a configured prefix is never discovered', async () => {
    const { names, lookup } = counting(undefined);
    const nat64 = new Nat64Prefixes(parseNat64Prefix('2001:db8:122::/48'), lookup);
    assert.equal((await nat64.prefix(0))?.text, '2001:db8:122::/48');
    assert.deepEqual(names, []);
  });
});

describe('the nat64Prefix option', () => {
  for (const bad of ['64:ff9b::/80', 'auto', 42, true]) {
    test(`refuses ${JSON.stringify(bad)} naming the option`, () => {
      assert.throws(() => new Dialer({ nat64Prefix: bad as string }), {
        code: 'ERR_NETDIAL_INVALID_OPTION',
        message: /nat64Prefix/,
      });
    });
  }
  test('accepts a prefix and null', () => {
    new Dialer({ nat64Prefix: '64:ff9b::/96' });
    new Dialer({ nat64Prefix: null });
  });
});
