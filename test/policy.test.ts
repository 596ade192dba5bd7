/**
 * The address policy (src/policy/policy.ts) and the IP parser under it (src/ip-address.ts): every class in both
 * families and in every IPv6 form that carries IPv4, precedence, error messages, and properties against
 * independent references (node:net, a naive longest-prefix matcher). Addresses here are data only.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { carriedIPv4, carrierOf, formatIPv4, parseIPv4, parseIPv6Into } from '../src/ip-address.js';
import {
  ADDRESS_CLASS_RANGES,
  ADDRESS_CLASSES,
  type AddressClass,
  type AddressPolicy,
  compilePolicy,
  describeDenial,
  isAddressPolicy,
  narrowPolicy,
  POLICY_DENIED_CODE,
  type PolicySpec,
  PUBLIC_INTERNET_ONLY,
} from '../src/policy/policy.js';
import { canonicalIP } from '../src/target.js';

const PUBLIC = compilePolicy('public');

// ---------------------------------------------------------------------------------------------------
// Helpers: an independent IPv6 expander and the carried forms of an IPv4 address

/** Reference: IPv6 text -> bigint, written independently of ip-address.ts (split on '::'). */
function referenceV6(text: string): bigint {
  const bare = text.split('%')[0]!;
  const expand = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const b = g.split('.').map(Number);
        out.push(b[0]! * 256 + b[1]!, b[2]! * 256 + b[3]!);
      } else out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const [head = '', tail] = bare.split('::');
  const left = expand(head);
  const right = tail === undefined ? [] : expand(tail);
  const groups = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  return groups.reduce((acc: bigint, g: number) => (acc << 16n) | BigInt(g), 0n);
}

function v4Value(text: string): number {
  return text.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}

function hex16(n: number): string {
  return n.toString(16);
}

/** The IPv6 forms that carry `a` (dotted quad); `compatible` only where it is not :: or ::1. */
function carriedForms(a: string): Record<string, string> {
  const v = v4Value(a);
  const forms: Record<string, string> = {
    mapped: `::ffff:${a}`,
    nat64: `64:ff9b::${a}`,
    'nat64 (hex)': `64:ff9b::${hex16(v >>> 16)}:${hex16(v & 0xffff)}`,
    'nat64-local': `64:ff9b:1::${a}`,
    '6to4': `2002:${hex16(v >>> 16)}:${hex16(v & 0xffff)}::1`,
  };
  if (v > 1) forms.compatible = `::${a}`;
  return forms;
}

function denied(policy: AddressPolicy, address: string): string {
  const v = policy.check(address);
  assert.equal(v.allowed, false, `${address} should be denied`);
  return v.allowed ? '' : v.rule;
}

function allowed(policy: AddressPolicy, address: string): void {
  const v = policy.check(address);
  assert.equal(v.allowed, true, `${address} should be allowed, got ${v.allowed ? '' : v.rule}`);
}

// ---------------------------------------------------------------------------------------------------
// The parser

describe('ip-address: parsing agrees with node:net', () => {
  const tricky = fc
    .array(fc.constantFrom(...'0123456789abcdefABCDEFg:.%x'.split(''), '::', 'ffff', '255', '00'), {
      maxLength: 24,
    })
    .map((p) => p.join(''));

  test('any IPv4 text: parseIPv4 succeeds exactly when net.isIP says 4, with the right value', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV4Extended(), tricky, fc.string()), (s) => {
        const v = parseIPv4(s);
        if (isIP(s) === 4) assert.equal(v, v4Value(s), s);
        else assert.equal(v, -1, s);
      }),
      { numRuns: 3000 },
    );
  });

  test('any IPv6 text: parseIPv6Into succeeds exactly when net.isIP says 6, with the right words', () => {
    const words = new Uint32Array(4);
    fc.assert(
      fc.property(fc.oneof(fc.ipV6(), tricky, fc.string(), fc.ipV4()), (s) => {
        const ok = parseIPv6Into(s, words);
        assert.equal(ok, isIP(s) === 6, `${JSON.stringify(s)}: parsed ${ok}, isIP ${isIP(s)}`);
        if (ok) {
          const got = (BigInt(words[0]!) << 96n) | (BigInt(words[1]!) << 64n) | (BigInt(words[2]!) << 32n);
          assert.equal(got | BigInt(words[3]!), referenceV6(s), s);
        }
      }),
      { numRuns: 3000 },
    );
  });

  const cases: Array<[string, boolean]> = [
    ['::', true],
    ['::1', true],
    ['1::', true],
    ['1:2:3:4:5:6:7:8', true],
    ['1:2:3:4:5:6:7::', true],
    ['::2:3:4:5:6:7:8', true],
    ['1:2:3:4:5:6:1.2.3.4', true],
    ['::ffff:1.2.3.4', true],
    ['fe80::1%eth0', true],
    ['fe80::1%', false],
    [':1', false],
    ['1:', false],
    ['1:::2', false],
    ['1::2::3', false],
    ['1:2:3:4:5:6:7:8:9', false],
    ['1:2:3:4:5:6:7:8::', false],
    ['12345::', false],
    ['::1.2.3', false],
    ['::1.2.3.4.5', false],
    ['::01.2.3.4', false],
    ['1.2.3.4::', false],
    ['::1.2.3.4:5', false],
    ['', false],
  ];
  for (const [text, ok] of cases) {
    test(`${JSON.stringify(text)} is ${ok ? '' : 'not '}IPv6`, () => {
      assert.equal(parseIPv6Into(text, new Uint32Array(4)), ok);
      assert.equal(isIP(text) === 6, ok, 'node:net agrees');
    });
  }

  test('carriedIPv4 and carrierOf: each form, and lookalikes that carry nothing', () => {
    const words = new Uint32Array(4);
    const carried = (s: string): [string | undefined, string] => {
      assert.ok(parseIPv6Into(s, words), s);
      const v = carriedIPv4(words);
      return [carrierOf(words), v === -1 ? '-' : formatIPv4(v)];
    };
    assert.deepEqual(carried('::ffff:198.51.100.7'), ['mapped', '198.51.100.7']);
    assert.deepEqual(carried('::198.51.100.7'), ['compatible', '198.51.100.7']);
    assert.deepEqual(carried('::2'), ['compatible', '0.0.0.2']);
    assert.deepEqual(carried('::1'), [undefined, '-']);
    assert.deepEqual(carried('::'), [undefined, '-']);
    assert.deepEqual(carried('64:ff9b::198.51.100.7'), ['nat64', '198.51.100.7']);
    assert.deepEqual(carried('64:ff9b:1:abcd::198.51.100.7'), ['nat64-local', '198.51.100.7']);
    assert.deepEqual(carried('64:ff9b:2::198.51.100.7'), [undefined, '-']);
    assert.deepEqual(carried('64:ff9b:0:1::198.51.100.7'), [undefined, '-']);
    assert.deepEqual(carried('2002:c633:6407::1'), ['6to4', '198.51.100.7']);
    assert.deepEqual(
      carried('::ffff:0:10.1.2.3'),
      [undefined, '-'],
      'RFC 2765 IPv4-translated is not decoded',
    );
    assert.deepEqual(carried('::1:ffff:10.1.2.3'), [undefined, '-']);
    assert.deepEqual(carried('2001:db8::10.1.2.3'), [undefined, '-']);
  });
});

// ---------------------------------------------------------------------------------------------------
// Every class

interface ClassCase {
  cls: AddressClass;
  /** Addresses inside the class (IPv4 ones are also tried in every carried IPv6 form). */
  inside: string[];
  /** The rule the 'public' preset names for the first inside address of each family. */
  rules: string[];
  /** Addresses just outside its ranges (allowed by a policy that denies only this class). */
  outside: string[];
}

const CLASS_CASES: ClassCase[] = [
  {
    cls: 'loopback',
    inside: ['127.0.0.1', '127.255.255.255', '::1'],
    rules: ['deny loopback (127.0.0.0/8)', 'deny loopback (::1/128)'],
    outside: ['126.255.255.255', '128.0.0.0', '::2', '::1:0'],
  },
  {
    cls: 'private',
    inside: ['10.0.0.1', '10.255.255.255', '172.16.0.0', '172.31.255.255', '192.168.1.1'],
    rules: ['deny private (10.0.0.0/8)'],
    outside: [
      '9.255.255.255',
      '11.0.0.0',
      '172.15.255.255',
      '172.32.0.0',
      '192.167.255.255',
      '192.169.0.0',
      'fd00::1',
    ],
  },
  {
    cls: 'linkLocal',
    inside: ['169.254.0.1', '169.254.255.255', 'fe80::1', 'febf:ffff::1'],
    rules: ['deny linkLocal (169.254.0.0/16)', 'deny linkLocal (fe80::/10)'],
    outside: ['169.253.255.255', '169.255.0.0', 'fe7f::1', 'fec0::1'],
  },
  {
    cls: 'uniqueLocal',
    inside: ['fc00::1', 'fd12:3456::1', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    rules: ['deny uniqueLocal (fc00::/7)'],
    outside: ['fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fe00::', '10.0.0.1'],
  },
  {
    cls: 'multicast',
    inside: ['224.0.0.1', '239.255.255.250', 'ff02::1', 'ff05::1:3'],
    rules: ['deny multicast (224.0.0.0/4)', 'deny multicast (ff00::/8)'],
    outside: ['223.255.255.255', '240.0.0.0', 'feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  },
  {
    cls: 'unspecified',
    inside: ['0.0.0.0', '::'],
    // As destinations they are loopback too (Linux connects them to the local host), and 'public' lists
    // loopback first: the tie between the two /32 (/128) deny entries goes to the first listed.
    rules: ['deny loopback (0.0.0.0/32)', 'deny loopback (::/128)'],
    outside: ['0.0.0.1', '::1'],
  },
  {
    cls: 'reserved',
    inside: [
      '0.1.2.3',
      '192.0.0.8',
      '192.0.0.170',
      '192.88.99.1',
      '240.0.0.1',
      '255.255.255.254',
      '255.255.255.255',
      '100::1',
      '2001::1',
      '2001:1::4',
      '2001:10::1',
      '5f00::1',
      'fec0::1',
      '::ffff:0:1.2.3.4',
      '4000::1',
      'e000::1',
    ],
    rules: ['deny reserved (0.0.0.0/8)', 'deny reserved (100::/8)'],
    outside: [
      '1.0.0.0',
      '192.0.0.9',
      '192.0.0.10',
      '192.0.1.0',
      '192.31.196.1',
      '192.175.48.1',
      '239.255.255.255',
      '2001:1::1',
      '2001:1::3',
      '2001:3::1',
      '2001:4:112::1',
      '2001:20::1',
      '2001:3f::1',
      '2001:200::1',
      '2620:4f:8000::1',
      '2606:4700::1111',
      '3ffe::1',
    ],
  },
  {
    cls: 'documentation',
    inside: [
      '192.0.2.1',
      '198.51.100.1',
      '203.0.113.255',
      '198.18.0.1',
      '198.19.255.255',
      '2001:db8::1',
      '3fff::1',
      '3fff:fff::1',
      '2001:2::1',
    ],
    rules: ['deny documentation (192.0.2.0/24)', 'deny documentation (2001:db8::/32)'],
    outside: [
      '192.0.3.0',
      '198.17.255.255',
      '198.20.0.0',
      '203.0.114.0',
      '2001:db9::1',
      '3fff:1000::1',
      '2001:2:1::1',
    ],
  },
  {
    cls: 'cloudMetadata',
    inside: [
      '169.254.169.254',
      '169.254.170.2',
      '169.254.170.23',
      '100.100.100.200',
      '168.63.129.16',
      'fd00:ec2::254',
      'fd00:ec2::23',
    ],
    rules: ['deny cloudMetadata (169.254.169.254/32)', 'deny cloudMetadata (fd00:ec2::254/128)'],
    outside: ['169.254.169.253', '169.254.169.255', '100.100.100.201', 'fd00:ec2::253', 'fd00:ec2::1:254'],
  },
  {
    cls: 'sharedAddressSpace',
    inside: ['100.64.0.0', '100.127.255.255', '100.100.100.1'],
    rules: ['deny sharedAddressSpace (100.64.0.0/10)'],
    outside: ['100.63.255.255', '100.128.0.0'],
  },
];

describe('address classes', () => {
  test('the table covers every class', () => {
    assert.deepEqual(
      CLASS_CASES.map((c) => c.cls),
      [...ADDRESS_CLASSES],
    );
    assert.deepEqual([...PUBLIC_INTERNET_ONLY.deny], [...ADDRESS_CLASSES]);
  });

  for (const c of CLASS_CASES) {
    const only = compilePolicy({ deny: [c.cls] });
    test(`${c.cls}: denied by { deny: ['${c.cls}'] } in every form`, () => {
      for (const address of c.inside) {
        assert.match(denied(only, address), new RegExp(`^deny ${c.cls} \\(`), address);
        if (isIP(address) === 4) {
          for (const [form, v6] of Object.entries(carriedForms(address))) {
            const v = only.check(v6);
            assert.equal(v.allowed, false, `${form} ${v6}`);
            assert.equal(v.allowed ? '' : v.matched, address, `${form} ${v6} is checked as ${address}`);
          }
        }
      }
    });
    test(`${c.cls}: the addresses next to its ranges are not in it`, () => {
      for (const address of c.outside) allowed(only, address);
    });
    test(`${c.cls}: the 'public' preset names it for its first address of each family`, () => {
      const firsts = [c.inside.find((a) => isIP(a) === 4), c.inside.find((a) => isIP(a) === 6)];
      const rules = firsts.filter((a) => a !== undefined).map((a) => denied(PUBLIC, a!));
      assert.deepEqual(rules, c.rules);
    });
  }

  test("'public' allows global unicast of both families, also in carried forms", () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '100.128.0.1', '2606:4700::1111', '2a00:1450::1']) {
      allowed(PUBLIC, address);
    }
    for (const form of Object.values(carriedForms('8.8.8.8'))) allowed(PUBLIC, form);
  });

  test('class ranges parse, and every exception lies inside its range', () => {
    for (const [cls, ranges] of Object.entries(ADDRESS_CLASS_RANGES)) {
      for (const r of ranges) {
        const p = compilePolicy({ deny: [r.cidr] });
        assert.deepEqual(p.deny, [r.cidr], `${cls} ${r.cidr} is written in canonical form`);
        for (const hole of r.except ?? []) {
          const base = hole.split('/')[0]!;
          assert.equal(p.check(base).allowed, false, `${hole} lies inside ${r.cidr}`);
          assert.equal(compilePolicy({ deny: [cls] }).check(base).allowed, true, `${hole} is not ${cls}`);
        }
      }
    }
  });

  test('addresses that carry IPv4 are never judged by an IPv6 class range', () => {
    // ::/8 is reserved, but ::ffff:8.8.8.8, ::8.8.8.8 and 64:ff9b::8.8.8.8 stand for 8.8.8.8.
    const reserved = compilePolicy({ deny: ['reserved'] });
    for (const form of Object.values(carriedForms('8.8.8.8'))) allowed(reserved, form);
    assert.equal(denied(reserved, '::ffff:0:8.8.8.8'), 'deny reserved (::/8)');
  });

  test('a zone id is ignored; an IPv4 address with a zone is not an address', () => {
    assert.equal(denied(PUBLIC, 'fe80::1%eth0'), 'deny linkLocal (fe80::/10)');
    const v = PUBLIC.check('fe80::1%eth0');
    assert.equal(v.allowed ? '' : v.matched, 'fe80::1');
    allowed(compilePolicy({ deny: ['loopback'] }), '2001:db8::1%eth0');
    assert.equal(denied(compilePolicy({}), '127.0.0.1%lo'), 'deny anything that is not an IP address');
  });

  test('text that is not an IP address is denied whatever the policy', () => {
    const empty = compilePolicy({});
    for (const text of ['', 'localhost', '127.1', '0x7f.0.0.1', '[::1]', '1.2.3.4 ', ' ::1', '::1/128']) {
      assert.equal(denied(empty, text), 'deny anything that is not an IP address', JSON.stringify(text));
    }
    assert.equal(empty.check(42 as unknown as string).allowed, false);
  });
});

// ---------------------------------------------------------------------------------------------------
// Precedence

/** Checks `policy` both ways round: entries as given and each list reversed (order never matters). */
function bothOrders(spec: { allow: string[]; deny: string[] }): AddressPolicy[] {
  return [
    compilePolicy(spec),
    compilePolicy({ allow: [...spec.allow].reverse(), deny: [...spec.deny].reverse() }),
  ];
}

describe('precedence: the most specific entry decides, allow wins a tie', () => {
  const scenarios: Array<{
    name: string;
    spec: { allow: string[]; deny: string[] };
    expect: Array<[string, string]>;
  }> = [
    {
      name: "the lab: preset + allow '198.18.0.0/15' re-opens exactly that range",
      spec: { deny: [...ADDRESS_CLASSES], allow: ['198.18.0.0/15'] },
      expect: [
        ['198.18.0.1', 'allow 198.18.0.0/15'],
        ['::ffff:198.19.0.1', 'allow 198.18.0.0/15'],
        ['203.0.113.1', 'deny documentation (203.0.113.0/24)'],
        ['127.0.0.1', 'deny loopback (127.0.0.0/8)'],
      ],
    },
    {
      name: 'allowing a class re-opens it (equal prefix length)',
      spec: { deny: [...ADDRESS_CLASSES], allow: ['documentation'] },
      expect: [
        ['203.0.113.1', 'allow documentation (203.0.113.0/24)'],
        ['2001:db8::1', 'allow documentation (2001:db8::/32)'],
        // 2001:2::/48 is documentation (benchmarking), inside reserved 2001::/23.
        ['2001:2::1', 'allow documentation (2001:2::/48)'],
        ['2001::1', 'deny reserved (2001::/23)'],
      ],
    },
    {
      name: 'allow linkLocal does not re-open the more specific cloudMetadata',
      spec: { deny: ['cloudMetadata', 'linkLocal'], allow: ['linkLocal'] },
      expect: [
        ['169.254.1.1', 'allow linkLocal (169.254.0.0/16)'],
        ['169.254.169.254', 'deny cloudMetadata (169.254.169.254/32)'],
        ['fe80::1', 'allow linkLocal (fe80::/10)'],
      ],
    },
    {
      name: 'a more specific allow beats a broader deny, a more specific deny beats a broader allow',
      spec: { deny: ['10.0.0.0/8', '10.1.2.0/24'], allow: ['10.1.0.0/16'] },
      expect: [
        ['10.0.0.1', 'deny 10.0.0.0/8'],
        ['10.1.0.1', 'allow 10.1.0.0/16'],
        ['10.1.2.3', 'deny 10.1.2.0/24'],
        ['::ffff:10.1.2.3', 'deny 10.1.2.0/24'],
        ['11.0.0.1', ''],
      ],
    },
    {
      name: 'the same range in both lists: allow wins',
      spec: { deny: ['loopback', '192.0.2.0/24'], allow: ['loopback', '192.0.2.0/24'] },
      expect: [
        ['127.0.0.1', 'allow loopback (127.0.0.0/8)'],
        ['192.0.2.9', 'allow 192.0.2.0/24'],
      ],
    },
    {
      name: 'allow-list: deny everything, allow one range',
      spec: { deny: ['0.0.0.0/0', '::/0'], allow: ['203.0.113.0/24', '2001:db8:1::/48'] },
      expect: [
        ['203.0.113.7', 'allow 203.0.113.0/24'],
        ['203.0.114.7', 'deny 0.0.0.0/0'],
        ['2001:db8:1::5', 'allow 2001:db8:1::/48'],
        ['2001:db8:2::5', 'deny ::/0'],
        // ::ffff:203.0.113.7 is 203.0.113.7 (/24 = /120 beats ::/0 on the written form).
        ['::ffff:203.0.113.7', 'allow 203.0.113.0/24'],
        ['64:ff9b::8.8.8.8', 'deny 0.0.0.0/0'],
      ],
    },
    {
      name: 'IPv6 CIDR entries also match the written form of carried addresses',
      spec: { deny: ['64:ff9b::/96', '2002::/16'], allow: [] },
      expect: [
        ['64:ff9b::8.8.8.8', 'deny 64:ff9b::/96'],
        ['2002:808:808::1', 'deny 2002::/16'],
        ['8.8.8.8', ''],
        ['::ffff:8.8.8.8', ''],
      ],
    },
    {
      name: 'IPv4 lengths compare as IPv4-mapped lengths: /8 (= /104) beats an IPv6 /96',
      spec: { deny: ['private'], allow: ['::ffff:0:0/96'] },
      expect: [
        ['::ffff:10.0.0.1', 'deny private (10.0.0.0/8)'],
        ['::ffff:8.8.8.8', 'allow ::ffff:0.0.0.0/96'],
      ],
    },
    {
      name: 'an exact IPv6 allow re-opens one mapped address but not its IPv4 twin',
      spec: { deny: ['loopback'], allow: ['::ffff:127.0.0.1'] },
      expect: [
        ['::ffff:127.0.0.1', 'allow ::ffff:127.0.0.1/128'],
        ['127.0.0.1', 'deny loopback (127.0.0.0/8)'],
      ],
    },
  ];
  for (const s of scenarios) {
    test(s.name, () => {
      for (const policy of bothOrders(s.spec)) {
        for (const [address, rule] of s.expect) {
          const v = policy.check(address);
          assert.equal(v.rule ?? '', rule, address);
          assert.equal(v.allowed, !rule.startsWith('deny'), address);
        }
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// Compilation and errors

describe('compilePolicy: input and errors', () => {
  test("'public' equals the preset spread into a spec; an empty spec allows everything", () => {
    const spread = compilePolicy({ ...PUBLIC_INTERNET_ONLY });
    for (const a of ['127.0.0.1', '8.8.8.8', 'fd00::1', '2606:4700::1']) {
      assert.deepEqual(spread.check(a), PUBLIC.check(a));
    }
    const empty = compilePolicy({});
    for (const a of ['127.0.0.1', '::1', '169.254.169.254'])
      assert.deepEqual(empty.check(a), { allowed: true });
    assert.deepEqual(compilePolicy({ allow: undefined, deny: undefined }).deny, []);
  });

  test('entries come back normalised; a compiled policy passes through', () => {
    const p = compilePolicy({ deny: ['loopback', '10.0.0.1', '2001:DB8:0::/32', '::FFFF:10.0.0.0/104'] });
    assert.deepEqual(p.deny, ['loopback', '10.0.0.1/32', '2001:db8::/32', '::ffff:10.0.0.0/104']);
    assert.deepEqual(p.allow, []);
    assert.equal(compilePolicy(p), p);
    assert.ok(isAddressPolicy(p));
    assert.ok(!isAddressPolicy({ check: () => ({ allowed: true }), allow: [], deny: [] }));
    assert.deepEqual(JSON.parse(JSON.stringify(p)), { allow: [], deny: [...p.deny] });
    assert.ok(Object.isFrozen(p) && Object.isFrozen(p.deny));
  });

  const errors: Array<[string, unknown, string | undefined, RegExp]> = [
    [
      'not an object',
      5,
      undefined,
      /^invalid option policy: expected 'public' or an object \{ allow\?, deny\? \}, got 5$/,
    ],
    ['null', null, 'policy', /^invalid option policy: expected .* got null$/],
    ['an array', ['loopback'], 'policy', /^invalid option policy: .* got an array$/],
    ['another preset name', 'private', undefined, /^invalid option policy: .* got "private"$/],
    [
      'a typo in a key',
      { denny: ['loopback'] },
      'policy',
      /^invalid option policy\.denny: unknown option; did you mean deny\?$/,
    ],
    [
      'a list that is a string',
      { deny: 'loopback' },
      'policy',
      /^invalid option policy\.deny: expected an array/,
    ],
    [
      'a number entry',
      { allow: [5] },
      undefined,
      /^invalid option allow\[0\]: expected an address class or a CIDR range, got 5$/,
    ],
    [
      'an unknown class',
      { deny: ['loopback', 'Private'] },
      'policy',
      /^invalid option policy\.deny\[1\]: expected an address class \(loopback, private, .*\) or a CIDR range .* got "Private"$/,
    ],
    ['a host name', { deny: ['localhost'] }, undefined, /^invalid option deny\[0\]: .* got "localhost"$/],
    [
      'host bits set (IPv4)',
      { deny: ['10.0.0.1/8'] },
      undefined,
      /^invalid option deny\[0\]: "10\.0\.0\.1\/8" has bits set after its \/8 prefix; did you mean "10\.0\.0\.0\/8"\?$/,
    ],
    ['host bits set (IPv6)', { allow: ['2001:db8::1/32'] }, undefined, /did you mean "2001:db8::\/32"\?$/],
    [
      'prefix too long (IPv4)',
      { deny: ['10.0.0.0/33'] },
      undefined,
      /prefix length "\/33" in "10\.0\.0\.0\/33" is not a number from 0 to 32 \(IPv4\)/,
    ],
    ['prefix too long (IPv6)', { deny: ['::/129'] }, undefined, /from 0 to 128 \(IPv6\)/],
    ['prefix with a leading zero', { deny: ['10.0.0.0/08'] }, undefined, /prefix length "\/08"/],
    ['empty prefix', { deny: ['10.0.0.0/'] }, undefined, /prefix length "\/"/],
    ['a zone in a CIDR', { deny: ['fe80::1%eth0/128'] }, undefined, /got "fe80::1%eth0\/128"$/],
    ['shorthand IPv4', { deny: ['127.1/32'] }, undefined, /got "127\.1\/32"$/],
  ];
  for (const [name, spec, optionName, message] of errors) {
    test(`${name}: TypeError ERR_NETDIAL_INVALID_OPTION`, () => {
      assert.throws(
        () => compilePolicy(spec as PolicySpec, optionName),
        (e: unknown) => {
          assert.ok(e instanceof TypeError);
          assert.equal((e as { code?: string }).code, 'ERR_NETDIAL_INVALID_OPTION');
          assert.match(e.message, message);
          return true;
        },
      );
    });
  }

  test('any input: a policy or a coded TypeError, never another exception', () => {
    const entry = fc.oneof(
      fc.constantFrom(...ADDRESS_CLASSES, '10.0.0.0/8', '::/0', 'public', ''),
      fc.string(),
      fc.ipV4(),
      fc.ipV6(),
      fc
        .tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: -1, max: 130 }))
        .map(([a, n]) => `${a}/${n}`),
      fc.anything(),
    );
    const spec = fc.oneof(
      fc.record(
        { allow: fc.array(entry, { maxLength: 6 }), deny: fc.array(entry, { maxLength: 6 }) },
        {
          requiredKeys: [],
        },
      ),
      fc.dictionary(fc.string(), fc.anything(), { maxKeys: 3 }),
      fc.anything(),
    );
    fc.assert(
      fc.property(spec, (s) => {
        let policy: AddressPolicy;
        try {
          policy = compilePolicy(s as PolicySpec);
        } catch (e) {
          assert.ok(e instanceof TypeError, String(e));
          assert.equal((e as { code?: string }).code, 'ERR_NETDIAL_INVALID_OPTION', e.message);
          return;
        }
        assert.equal(typeof policy.check('192.0.2.1').allowed, 'boolean');
      }),
      { numRuns: 2000 },
    );
  });

  test('check never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.ipV6(), fc.ipV4Extended(), fc.string({ unit: 'binary' })), (s) => {
        const v = PUBLIC.check(s);
        if (isIP(s) === 0) assert.equal(v.allowed, false, JSON.stringify(s));
      }),
      { numRuns: 3000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties against references

/** Naive longest-prefix match over CIDR strings, written independently of the interval tables. */
function referenceVerdict(spec: { allow: string[]; deny: string[] }, address: string): string {
  const family = isIP(address);
  const value = family === 4 ? BigInt(v4Value(address)) : referenceV6(address);
  let best: { len: number; allow: boolean; rule: string } | undefined;
  for (const action of ['deny', 'allow'] as const) {
    for (const cidr of spec[action]) {
      const [base, lenText] = cidr.split('/');
      const f = isIP(base!);
      if (f !== family) continue;
      const bits = f === 4 ? 32 : 128;
      const len = Number(lenText);
      const baseValue = f === 4 ? BigInt(v4Value(base!)) : referenceV6(base!);
      const shift = BigInt(bits - len);
      if (value >> shift !== baseValue >> shift) continue;
      const allow = action === 'allow';
      if (!best || len > best.len || (len === best.len && allow && !best.allow)) {
        best = { len, allow, rule: `${action} ${cidr}` };
      }
    }
  }
  return best?.rule ?? '';
}

/** A CIDR with host bits cleared, near a small set of bases so that ranges nest and touch. */
function cidrArbitrary(family: 4 | 6): fc.Arbitrary<string> {
  if (family === 4) {
    return fc
      .tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 32 }))
      .map(([v, len]) => {
        const masked = len === 0 ? 0 : (v & ~((2 ** (32 - len) - 1) | 0)) >>> 0;
        return `${formatIPv4(masked)}/${len}`;
      });
  }
  return fc
    .tuple(fc.constantFrom('2001:db8::', '2001:db8:8000::', '3fff::', '::'), fc.integer({ min: 0, max: 128 }))
    .chain(([base, len]) =>
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((low) => {
        const value = referenceV6(base) | low;
        const masked = (value >> BigInt(128 - len)) << BigInt(128 - len);
        return `${canonicalIP(v6Text(masked))!.address}/${len}`;
      }),
    );
}

/** An address near the boundaries of `cidrs` (first, last, one before, one after), or a random one. */
function addressNear(family: 4 | 6, cidrs: string[]): fc.Arbitrary<string> {
  const edges: string[] = [];
  for (const c of cidrs) {
    const [base, lenText] = c.split('/');
    if (isIP(base!) !== family) continue;
    const bits = family === 4 ? 32 : 128;
    const lo = family === 4 ? BigInt(v4Value(base!)) : referenceV6(base!);
    const hi = lo | ((1n << BigInt(bits - Number(lenText))) - 1n);
    const max = (1n << BigInt(bits)) - 1n;
    for (const v of [lo, hi, lo - 1n, hi + 1n]) {
      if (v < 0n || v > max) continue;
      if (family === 4) edges.push(formatIPv4(Number(v)));
      else edges.push(v6Text(v));
    }
  }
  const random = family === 4 ? fc.ipV4() : fc.ipV6().filter((a) => carriedOf(a) === -1);
  return edges.length === 0 ? random : fc.oneof(fc.constantFrom(...edges), random);
}

/** Full eight-group text of a 128-bit value. */
function v6Text(v: bigint): string {
  return Array.from({ length: 8 }, (_, i) => ((v >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
}

function carriedOf(address: string): number {
  const words = new Uint32Array(4);
  return parseIPv6Into(address, words) ? carriedIPv4(words) : -1;
}

describe('properties', () => {
  for (const family of [4, 6] as const) {
    test(`IPv${family}: the interval tables decide as a naive longest-prefix match does`, () => {
      const lists = fc.record({
        allow: fc.array(cidrArbitrary(family), { maxLength: 5 }),
        deny: fc.array(cidrArbitrary(family), { maxLength: 5 }),
      });
      fc.assert(
        fc.property(
          lists.chain((spec) =>
            fc.tuple(
              fc.constant(spec),
              fc.array(addressNear(family, [...spec.allow, ...spec.deny]), { minLength: 1, maxLength: 8 }),
            ),
          ),
          ([spec, addresses]) => {
            const policy = compilePolicy(spec);
            for (const address of addresses) {
              if (family === 6 && carriedOf(address) !== -1) continue;
              const v = policy.check(address);
              assert.equal(v.rule ?? '', referenceVerdict(spec, address), address);
            }
          },
        ),
        { numRuns: 500 },
      );
    });
  }

  test('an IPv4 address and its mapped, NAT64 (both prefixes), 6to4 and compatible forms get the same verdict', () => {
    const v4Entry = fc.oneof(fc.constantFrom(...ADDRESS_CLASSES), cidrArbitrary(4));
    const policies = fc.oneof(
      fc.constant<PolicySpec | 'public'>('public'),
      fc.record({ allow: fc.array(v4Entry, { maxLength: 4 }), deny: fc.array(v4Entry, { maxLength: 6 }) }),
    );
    const addresses = fc.oneof(
      fc.ipV4(),
      // Bias toward the special ranges, where the verdicts differ.
      fc.constantFrom(
        ...CLASS_CASES.flatMap((c) => [...c.inside, ...c.outside]).filter((a) => isIP(a) === 4),
      ),
    );
    fc.assert(
      fc.property(policies, fc.array(addresses, { minLength: 1, maxLength: 10 }), (spec, list) => {
        const policy = compilePolicy(spec);
        for (const a of list) {
          const plain = policy.check(a);
          for (const [form, v6] of Object.entries(carriedForms(a))) {
            const v = policy.check(v6);
            assert.equal(v.allowed, plain.allowed, `${form} ${v6} vs ${a}`);
            assert.equal(v.rule, plain.rule, `${form} ${v6} vs ${a}`);
            if (!v.allowed) assert.equal(v.matched, a);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Messages and speed

describe('messages and speed', () => {
  test('describeDenial names the address, the carried IPv4 address and the rule', () => {
    assert.equal(
      describeDenial('127.0.0.1', PUBLIC.check('127.0.0.1')),
      '127.0.0.1 denied by policy (deny loopback (127.0.0.0/8))',
    );
    assert.equal(
      describeDenial('::ffff:169.254.169.254', PUBLIC.check('::ffff:169.254.169.254')),
      '::ffff:169.254.169.254 denied by policy (as 169.254.169.254: deny cloudMetadata (169.254.169.254/32))',
    );
    assert.equal(
      describeDenial('fe80::1%eth0', PUBLIC.check('fe80::1%eth0')),
      'fe80::1%eth0 denied by policy (deny linkLocal (fe80::/10))',
    );
    assert.equal(describeDenial('8.8.8.8', PUBLIC.check('8.8.8.8')), '8.8.8.8 allowed by policy');
    assert.equal(POLICY_DENIED_CODE, 'ERR_NETDIAL_DENIED');
  });

  test('allowed verdicts are shared objects (no allocation on the common path)', () => {
    assert.equal(PUBLIC.check('8.8.8.8'), PUBLIC.check('2606:4700::1111'));
    const lab = compilePolicy({ ...PUBLIC_INTERNET_ONLY, allow: ['198.18.0.0/15'] });
    assert.equal(lab.check('198.18.0.1'), lab.check('198.19.0.1'));
  });

  test('200 000 checks of mixed addresses take well under a second', () => {
    const addresses = [
      '8.8.8.8',
      '2606:4700::1111',
      '::ffff:10.0.0.1',
      '203.0.113.5',
      'fe80::1%eth0',
      '64:ff9b::1.1.1.1',
    ];
    const started = performance.now();
    let allowedCount = 0;
    for (let i = 0; i < 200_000; i++)
      if (PUBLIC.check(addresses[i % addresses.length]!).allowed) allowedCount++;
    const ms = performance.now() - started;
    // Indices 0, 1 and 5 are allowed: 33 333 rounds of 6, then indices 0 and 1.
    assert.equal(allowedCount, 33_333 * 3 + 2);
    assert.ok(ms < 1000, `${ms} ms`);
  });

  test('a policy of 2000 CIDR ranges compiles quickly and still decides by longest prefix', () => {
    const deny = Array.from({ length: 2000 }, (_, i) => `10.${i >> 8}.${i & 0xff}.0/24`);
    const started = performance.now();
    const p = compilePolicy({ deny, allow: ['10.3.0.0/16', '10.3.7.128/25'] });
    assert.ok(performance.now() - started < 2000);
    assert.equal(p.check('10.2.5.1').rule, 'deny 10.2.5.0/24');
    assert.equal(p.check('10.3.7.1').rule, 'deny 10.3.7.0/24');
    assert.equal(p.check('10.3.7.200').rule, 'allow 10.3.7.128/25');
    assert.equal(p.check('10.7.207.1').rule, 'deny 10.7.207.0/24');
    assert.equal(p.check('10.7.208.1').rule, undefined);
  });
});

describe('allowProxy: addresses re-opened for the hop to a proxy only', () => {
  test('the target policy is unchanged; forProxy allows the entries; narrowing keeps every part', () => {
    const p = compilePolicy(
      { deny: ['loopback', 'private'], allowProxy: ['127.0.0.1', '10.1.2.0/24'] },
      'policy',
    );
    assert.equal(p.check('127.0.0.1').allowed, false, 'still denied as a target');
    assert.equal(p.check('10.1.2.3').allowed, false);
    assert.equal(p.forProxy.check('127.0.0.1').allowed, true);
    assert.equal(p.forProxy.check('10.1.2.3').allowed, true);
    assert.equal(p.forProxy.check('127.0.0.2').allowed, false, 'only what is listed');
    assert.deepEqual(p.allowProxy, ['127.0.0.1/32', '10.1.2.0/24']);
    assert.deepEqual(p.allow, []);
    assert.deepEqual(JSON.parse(JSON.stringify(p)), {
      allow: [],
      deny: ['loopback', 'private'],
      allowProxy: ['127.0.0.1/32', '10.1.2.0/24'],
    });
    assert.ok(isAddressPolicy(p.forProxy));
    // Without allowProxy the proxy's policy is the policy itself.
    const plain = compilePolicy('public');
    assert.equal(plain.forProxy, plain);
    // A spread copy is a spec of its lists (forProxy is not an own property): same verdicts for both.
    const copy = compilePolicy({ ...p } as PolicySpec);
    assert.equal(copy.check('127.0.0.1').allowed, false);
    assert.equal(copy.forProxy.check('127.0.0.1').allowed, true);
    // Narrowed: the proxy must pass every part's proxy policy.
    const narrowed = narrowPolicy(p, compilePolicy({ deny: ['127.0.0.1'] }))!;
    assert.equal(narrowed.forProxy.check('127.0.0.1').allowed, false);
    assert.equal(narrowed.forProxy.check('10.1.2.3').allowed, true);
    const lifted = narrowPolicy(compilePolicy('public'), compilePolicy({ allowProxy: ['127.0.0.1'] }))!;
    assert.equal(
      lifted.forProxy.check('127.0.0.1').allowed,
      false,
      "a dial's allowProxy cannot lift its Dialer's",
    );
  });

  test('entries are validated as allow entries, named allowProxy[i]', () => {
    assert.throws(
      () => compilePolicy({ allowProxy: ['proxy.corp'] }, 'policy'),
      (e: unknown) =>
        e instanceof TypeError &&
        /^invalid option policy\.allowProxy\[0\]: expected an address class/.test(e.message),
    );
    assert.throws(
      () => compilePolicy({ allowProxy: '127.0.0.1' } as never, 'policy'),
      /invalid option policy\.allowProxy: expected an array/,
    );
    assert.throws(() => compilePolicy({ allowProxy: ['10.0.0.1/8'] }), /did you mean "10\.0\.0\.0\/8"/);
  });
});
