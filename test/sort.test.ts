// Pure tests: nothing here touches the network; the addresses are table data only.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  commonPrefixLength,
  interleaveFamilies,
  label,
  precedence,
  precedenceOf,
  type SortCandidate,
  scope,
  sortDestinations,
} from '../src/race/sort.js';
import type { Family } from '../src/types.js';

const familyOf = (address: string): Family => (address.includes(':') ? 6 : 4);

/** [destination, source] pairs → candidates. */
function candidates(pairs: ReadonlyArray<readonly [string, string | null | undefined]>): SortCandidate[] {
  return pairs.map(([address, sourceAddress]) => ({ address, family: familyOf(address), sourceAddress }));
}

const addressesOf = (list: readonly SortCandidate[]): string[] => list.map((c) => c.address);

interface SortCase {
  name: string;
  /** [destination, Source(destination)] in input order. */
  input: ReadonlyArray<readonly [string, string | null | undefined]>;
  want: string[];
  /** Also sort the reversed input and expect the same result (false when rule 10 decides). */
  bothOrders: boolean;
}

// RFC 6724 §10.2, "Destination Address Selection Examples" (default policy table). The source listed for
// each destination is the one the RFC's result names. The RFC's 10.1.2.x pair is replaced by 198.18.2.x (same global scope; no private ranges in this repo).
const rfcExamples: SortCase[] = [
  {
    name: 'RFC 6724 §10.2: prefer matching scope (IPv6 global source, IPv4 link-local source)',
    input: [
      ['2001:db8:1::1', '2001:db8:1::2'],
      ['198.51.100.121', '169.254.13.78'],
    ],
    want: ['2001:db8:1::1', '198.51.100.121'],
    bothOrders: true,
  },
  {
    name: 'RFC 6724 §10.2: prefer matching scope (IPv6 only has a link-local source)',
    input: [
      ['2001:db8:1::1', 'fe80::1'],
      ['198.51.100.121', '198.51.100.117'],
    ],
    want: ['198.51.100.121', '2001:db8:1::1'],
    bothOrders: true,
  },
  {
    name: 'RFC 6724 §10.2: prefer higher precedence (IPv6 40 over IPv4 35)',
    input: [
      ['2001:db8:1::1', '2001:db8:1::2'],
      ['198.18.2.3', '198.18.2.4'],
    ],
    want: ['2001:db8:1::1', '198.18.2.3'],
    bothOrders: true,
  },
  {
    name: 'RFC 6724 §10.2: prefer smaller scope',
    input: [
      ['2001:db8:1::1', '2001:db8:1::2'],
      ['fe80::1', 'fe80::2'],
    ],
    want: ['fe80::1', '2001:db8:1::1'],
    bothOrders: true,
  },
  {
    name: 'RFC 6724 §10.2: longest matching prefix (64 bits vs 40 bits)',
    input: [
      ['2001:db8:1::1', '2001:db8:1::2'],
      ['2001:db8:3ffe::1', '2001:db8:3f44::2'],
    ],
    want: ['2001:db8:1::1', '2001:db8:3ffe::1'],
    bothOrders: true,
  },
  {
    name: 'RFC 6724 §10.2: prefer matching label (6to4 source only)',
    input: [
      ['2002:c633:6401::1', '2002:c633:6401::2'],
      ['2001:db8:1::1', '2002:c633:6401::2'],
    ],
    want: ['2002:c633:6401::1', '2001:db8:1::1'],
    bothOrders: true,
  },
  {
    name: 'RFC 6724 §10.2: prefer higher precedence (native source for each)',
    input: [
      ['2002:c633:6401::1', '2002:c633:6401::2'],
      ['2001:db8:1::1', '2001:db8:1::2'],
    ],
    want: ['2001:db8:1::1', '2002:c633:6401::1'],
    bothOrders: true,
  },
];

// The two §10.2 examples that need rules netdial cannot apply (their state is not visible from Node).
// They pin what netdial does instead, so a change is noticed.
const rfcExamplesNotReproduced: SortCase[] = [
  {
    name: 'RFC 6724 §10.2 "prefer home address" (rule 4 skipped): equal up to rule 9, input order kept',
    input: [
      ['2001:db8:1::1', '2001:db8:1::2'],
      ['2001:db8:3::2', '2001:db8:3::1'],
    ],
    want: ['2001:db8:1::1', '2001:db8:3::2'], // the RFC, knowing 2001:db8:3::1 is a home address, puts 2001:db8:3::2 first
    bothOrders: false,
  },
  {
    name: 'RFC 6724 §10.2 "avoid deprecated addresses" (rule 3 skipped): rule 8 decides instead',
    input: [
      ['2001:db8:1::1', '2001:db8:1::2'],
      ['fe80::1', 'fe80::2'],
    ],
    want: ['fe80::1', '2001:db8:1::1'], // the RFC, knowing fe80::2 is deprecated, puts 2001:db8:1::1 first
    bothOrders: true,
  },
];

const otherCases: SortCase[] = [
  // An implementation that ran rule 9 on IPv4 would move 198.51.100.9 (28 bits in common with the
  // source) ahead of 203.0.113.200 (4 bits).
  {
    name: 'rule 9 not applied to IPv4 (Go issues 13283, 18518): DNS round-robin order kept',
    input: [
      ['203.0.113.200', '198.51.100.7'],
      ['198.51.100.9', '198.51.100.7'], // shares 28 bits with the source; the first shares only 4
      ['192.0.2.33', '198.51.100.7'],
    ],
    want: ['203.0.113.200', '198.51.100.9', '192.0.2.33'],
    bothOrders: false,
  },
  {
    name: 'rule 9 not applied to IPv4, reversed DNS answer: its order kept too',
    input: [
      ['198.51.100.9', '198.51.100.7'],
      ['203.0.113.200', '198.51.100.7'],
    ],
    want: ['198.51.100.9', '203.0.113.200'],
    bothOrders: false,
  },
  {
    name: 'rule 9 applied to IPv6 (longer common prefix first)',
    input: [
      ['2001:db8:ff00::1', '2001:db8:1::2'],
      ['2001:db8:1::7', '2001:db8:1::2'],
    ],
    want: ['2001:db8:1::7', '2001:db8:ff00::1'],
    bothOrders: true,
  },
  {
    name: 'rule 1: unusable (null source) goes last',
    input: [
      ['2001:db8::1', null],
      ['198.51.100.1', '198.51.100.7'],
      ['2001:db8::2', null],
      ['203.0.113.5', '198.51.100.7'],
    ],
    want: ['198.51.100.1', '203.0.113.5', '2001:db8::1', '2001:db8::2'],
    bothOrders: false,
  },
  {
    name: 'rule 1: unusable loses even against higher precedence',
    input: [
      ['::1', null],
      ['127.0.0.1', '127.0.0.1'],
    ],
    want: ['127.0.0.1', '::1'],
    bothOrders: true,
  },
  {
    name: 'rule 6: ::1 before 127.0.0.1 (precedence 50 vs 35)',
    input: [
      ['127.0.0.1', '127.0.0.1'],
      ['::1', '::1'],
    ],
    want: ['::1', '127.0.0.1'],
    bothOrders: true,
  },
  {
    name: 'unknown sources: usable, rules 2/5/9 skipped, precedence still applies',
    input: [
      ['198.51.100.1', undefined],
      ['2001:db8::1', undefined],
    ],
    want: ['2001:db8::1', '198.51.100.1'],
    bothOrders: true,
  },
  {
    name: 'unknown source on one side: rule 2 skipped (otherwise 198.51.100.1 would win)',
    input: [
      ['198.51.100.1', '198.51.100.7'],
      ['2001:db8:1::1', undefined],
    ],
    want: ['2001:db8:1::1', '198.51.100.1'],
    bothOrders: true,
  },
  {
    name: 'ULA (precedence 3) after IPv4 (35)',
    input: [
      ['fd00:db8::1', 'fd00:db8::2'],
      ['198.51.100.1', '198.51.100.7'],
    ],
    want: ['198.51.100.1', 'fd00:db8::1'],
    bothOrders: true,
  },
  {
    name: 'zones are ignored for sorting (link-local with %zone, smaller scope first)',
    input: [
      ['2001:db8:1::1', '2001:db8:1::2'],
      ['fe80::1%eth0', 'fe80::2%eth0'],
    ],
    want: ['fe80::1%eth0', '2001:db8:1::1'],
    bothOrders: true,
  },
];

describe('sortDestinations', () => {
  for (const c of [...rfcExamples, ...rfcExamplesNotReproduced, ...otherCases]) {
    test(c.name, () => {
      assert.deepEqual(addressesOf(sortDestinations(candidates(c.input))), c.want);
      if (c.bothOrders) {
        const reversed = candidates([...c.input].reverse());
        assert.deepEqual(addressesOf(sortDestinations(reversed)), c.want, 'reversed input');
      }
    });
  }

  test('stable for equal elements: ties keep input order', () => {
    const input = [
      { address: '198.51.100.3', family: 4 as const, sourceAddress: '198.51.100.7', tag: 'a' },
      { address: '198.51.100.1', family: 4 as const, sourceAddress: '198.51.100.7', tag: 'b' },
      { address: '198.51.100.3', family: 4 as const, sourceAddress: '198.51.100.7', tag: 'c' },
      { address: '203.0.113.1', family: 4 as const, sourceAddress: '198.51.100.7', tag: 'd' },
    ];
    assert.deepEqual(
      sortDestinations(input).map((c) => c.tag),
      ['a', 'b', 'c', 'd'],
    );
    assert.deepEqual(
      sortDestinations([...input].reverse()).map((c) => c.tag),
      ['d', 'c', 'b', 'a'],
    );
  });

  test('returns a new array, keeps extra fields, leaves the input untouched', () => {
    const input = [
      { address: '127.0.0.1', family: 4 as const, sourceAddress: '127.0.0.1', port: 80 },
      { address: '::1', family: 6 as const, sourceAddress: '::1', port: 443 },
    ];
    const snapshot = structuredClone(input);
    const sorted = sortDestinations(input);
    assert.notEqual(sorted, input);
    assert.deepEqual(input, snapshot);
    assert.equal(sorted[0], input[1]);
    assert.equal(sorted[0]?.port, 443);
    assert.deepEqual(sortDestinations([]), []);
  });

  test('between8and9 runs after rule 8 and before rule 9', () => {
    const rtt: Record<string, number> = { '2001:db8:1::7': 90, '2001:db8:ff00::1': 10 };
    const byRtt = (a: SortCandidate, b: SortCandidate) => (rtt[a.address] ?? 0) - (rtt[b.address] ?? 0);
    const input = candidates([
      ['2001:db8:1::7', '2001:db8:1::2'],
      ['2001:db8:ff00::1', '2001:db8:1::2'],
      ['fe80::1', 'fe80::2'], // rule 8 (smaller scope) outranks RTT
      ['198.51.100.1', '198.51.100.7'], // rule 6 (precedence) outranks RTT
    ]);
    // Without the comparator rule 9 puts 2001:db8:1::7 first; with it, the lower RTT wins.
    assert.deepEqual(addressesOf(sortDestinations(input)), [
      'fe80::1',
      '2001:db8:1::7',
      '2001:db8:ff00::1',
      '198.51.100.1',
    ]);
    assert.deepEqual(addressesOf(sortDestinations(input, { between8and9: byRtt })), [
      'fe80::1',
      '2001:db8:ff00::1',
      '2001:db8:1::7',
      '198.51.100.1',
    ]);
  });

  const invalid: Array<{ name: string; input: unknown; field: string; code: string }> = [
    {
      name: 'address not an IP',
      input: [{ address: 'example.com', family: 4 }],
      field: 'list[0].address',
      code: 'ERR_NETDIAL_INVALID_ADDRESS',
    },
    {
      name: 'family does not match address',
      input: [{ address: '::1', family: 4 }],
      field: 'list[0].family',
      code: 'ERR_NETDIAL_INVALID_ADDRESS',
    },
    {
      name: 'zone on IPv4',
      input: [{ address: '127.0.0.1%lo', family: 4 }],
      field: 'list[0].address',
      code: 'ERR_NETDIAL_INVALID_ADDRESS',
    },
    {
      name: 'bad sourceAddress',
      input: [
        { address: '::1', family: 6 },
        { address: '::2', family: 6, sourceAddress: 'nope' },
      ],
      field: 'list[1].sourceAddress',
      code: 'ERR_NETDIAL_INVALID_ADDRESS',
    },
    { name: 'list not an array', input: 'x', field: 'list', code: 'ERR_NETDIAL_INVALID_OPTION' },
  ];
  for (const c of invalid) {
    test(`rejects bad input: ${c.name}`, () => {
      assert.throws(
        () => sortDestinations(c.input as SortCandidate[]),
        (error: unknown) =>
          error instanceof TypeError &&
          (error as TypeError & { code?: string }).code === c.code &&
          error.message.startsWith(c.field),
      );
    });
  }
});

describe('interleaveFamilies', () => {
  const v6 = (n: number) => ({ address: `2001:db8::${n}`, family: 6 as const });
  const v4 = (n: number) => ({ address: `198.51.100.${n}`, family: 4 as const });
  const cases: Array<{
    name: string;
    input: Array<{ address: string; family: Family }>;
    count?: number;
    want: string[];
  }> = [
    {
      name: 'count 1 (default): alternate from the first family',
      input: [v6(1), v6(2), v6(3), v4(1), v4(2)],
      want: ['2001:db8::1', '198.51.100.1', '2001:db8::2', '198.51.100.2', '2001:db8::3'],
    },
    {
      name: 'count 1, IPv4 first',
      input: [v4(1), v6(1), v4(2), v6(2)],
      count: 1,
      want: ['198.51.100.1', '2001:db8::1', '198.51.100.2', '2001:db8::2'],
    },
    {
      name: 'count 2: two of the first family, then alternate',
      input: [v6(1), v6(2), v6(3), v4(1), v4(2), v4(3)],
      count: 2,
      want: ['2001:db8::1', '2001:db8::2', '198.51.100.1', '2001:db8::3', '198.51.100.2', '198.51.100.3'],
    },
    {
      name: 'count larger than the first family',
      input: [v6(1), v4(1), v4(2)],
      count: 3,
      want: ['2001:db8::1', '198.51.100.1', '198.51.100.2'],
    },
    {
      name: 'single family: order kept',
      input: [v4(3), v4(1), v4(2)],
      want: ['198.51.100.3', '198.51.100.1', '198.51.100.2'],
    },
    { name: 'empty', input: [], want: [] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = c.count === undefined ? interleaveFamilies(c.input) : interleaveFamilies(c.input, c.count);
      assert.deepEqual(
        got.map((x) => x.address),
        c.want,
      );
    });
  }

  for (const bad of [0, -1, 1.5, Number.NaN]) {
    test(`rejects firstAddressFamilyCount ${bad}`, () => {
      assert.throws(() => interleaveFamilies([v4(1)], bad), {
        name: 'TypeError',
        code: 'ERR_NETDIAL_INVALID_OPTION',
      });
    });
  }
});

describe('policy table, scope, CommonPrefixLen', () => {
  // RFC 6724 §2.1 default policy table; IPv4 looked up as ::ffff:a.b.c.d.
  const policy: Array<[string, number, number]> = [
    ['::1', 50, 0],
    ['2001:db8::1', 40, 1],
    ['::', 1, 3], // the unspecified address falls in ::/96
    ['127.0.0.1', 35, 4],
    ['198.51.100.1', 35, 4],
    ['::ffff:198.51.100.1', 35, 4],
    ['2002:c633:6401::1', 30, 2],
    ['2001:0:4136:e378::1', 5, 5],
    ['fd00::1', 3, 13],
    ['fc00::1', 3, 13],
    ['::198.51.100.1', 1, 3],
    ['fec0::1', 1, 11],
    ['3ffe::1', 1, 12],
    ['fe80::1%eth0', 40, 1],
  ];
  for (const [address, wantPrecedence, wantLabel] of policy) {
    test(`precedence/label of ${address}`, () => {
      assert.equal(precedence(address), wantPrecedence);
      assert.equal(label(address), wantLabel);
    });
  }

  const scopes: Array<[string, number]> = [
    ['127.0.0.1', 0x2],
    ['127.255.0.9', 0x2],
    ['169.254.13.78', 0x2],
    ['198.51.100.1', 0xe],
    ['198.18.2.3', 0xe], // RFC 6724 §3.2: every IPv4 address but 127/8 and 169.254/16 is global
    ['::ffff:169.254.1.1', 0x2],
    ['::1', 0x2],
    ['fe80::1', 0x2],
    ['febf::1', 0x2],
    ['fec0::1', 0x5],
    ['2001:db8::1', 0xe],
    ['fd00::1', 0xe],
    ['ff01::1', 0x1],
    ['ff02::1', 0x2],
    ['ff05::1', 0x5],
    ['ff08::1', 0x8],
    ['ff0e::1', 0xe],
  ];
  for (const [address, want] of scopes) {
    test(`scope of ${address} is 0x${want.toString(16)}`, () => {
      assert.equal(scope(address), want);
    });
  }

  const prefixes: Array<[string, string, number]> = [
    ['fe80::1', 'fe80::2', 64], // RFC 6724 §2.2's own example: stops at the 64-bit prefix
    ['2001:db8:1::1', '2001:db8:1::1', 64],
    ['2001:db8:3ffe::1', '2001:db8:3f44::2', 40],
    ['fe81::1', 'fe80::2', 15],
    ['8000::', '::', 0],
    ['2001:db8::1', '2001:db8:8000::1', 32],
    ['2001:db8:0:0:1::', '2001:db8::', 64],
    ['::ffff:198.51.100.1', '::ffff:198.51.100.2', 64],
    ['1:2:3:4:5:6:7:8', '1:2:3:4::', 64],
    ['1:2:3:4:5:6:7:8%eth0', '1:2:3:5::', 63],
  ];
  for (const [a, b, want] of prefixes) {
    test(`CommonPrefixLen(${a}, ${b}) = ${want}`, () => {
      assert.equal(commonPrefixLength(a, b), want);
      assert.equal(commonPrefixLength(b, a), want);
    });
  }

  test('IPv6 parsing: :: expansion and IPv4 tails agree with the long forms', () => {
    const same: Array<[string, string]> = [
      ['2001:db8::1', '2001:0db8:0000:0000:0000:0000:0000:0001'],
      ['::ffff:198.51.100.1', '0:0:0:0:0:ffff:c633:6401'],
      ['1::2:3.4.5.6', '1:0:0:0:0:2:304:506'],
      ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
      ['::', '0:0:0:0:0:0:0:0'],
      ['1::', '1:0:0:0:0:0:0:0'],
    ];
    for (const [short, long] of same) {
      // Equal 16-byte values share all 64 prefix bits and the same policy / scope.
      assert.equal(commonPrefixLength(short, long), 64, short);
      assert.equal(label(short), label(long), short);
      assert.equal(scope(short), scope(long), short);
    }
    // The low 64 bits are parsed too: ::ffff:a.b.c.d is IPv4 (label 4), ::a.b.c.d is not (label 3).
    assert.equal(label('::ffff:1.2.3.4'), 4);
    assert.equal(label('::1.2.3.4'), 3);
    assert.equal(precedence('0:0:0:0:0:0:0:1'), 50);
    assert.equal(precedence('0:0:0:0:0:0:0:2'), 1);
  });

  test('precedenceOf: an IPv4 destination takes ::ffff:0:0/96 without a parse, an IPv6 one the table', () => {
    // Whatever the address, IPv4 is looked up as ::ffff:a.b.c.d (RFC 6724 §2.1): the shortcut must agree.
    for (const address of ['127.0.0.1', '0.0.0.0', '198.51.100.1', '255.255.255.255', '169.254.1.1']) {
      assert.equal(precedenceOf(address, 4), precedence(address), address);
    }
    for (const [address, want] of [
      ['::1', 50],
      ['2002::1', 30],
      ['2001::1', 5],
      ['fd00::1', 3],
      ['::2', 1],
      ['2001:db8::1', 40],
    ] as const) {
      assert.equal(precedenceOf(address, 6), want, address);
    }
    assert.throws(() => precedenceOf('localhost', 6), {
      name: 'TypeError',
      code: 'ERR_NETDIAL_INVALID_ADDRESS',
    });
  });

  test('bad addresses are TypeErrors with a code', () => {
    for (const bad of ['', 'localhost', '1.2.3', '1::2::3', '127.0.0.1%lo']) {
      assert.throws(() => precedence(bad), { name: 'TypeError', code: 'ERR_NETDIAL_INVALID_ADDRESS' });
      assert.throws(() => scope(bad), { name: 'TypeError', code: 'ERR_NETDIAL_INVALID_ADDRESS' });
    }
    assert.throws(() => commonPrefixLength('198.51.100.1', '::1'), {
      name: 'TypeError',
      code: 'ERR_NETDIAL_INVALID_ADDRESS',
      message: /commonPrefixLength\(a\)/,
    });
  });
});
