/**
 * ip-address's isIP / isIPv4 / isIPv6 replace node:net's (whose IPv6 regular expression cost ~3 ms to
 * compile on first use, issue 16): they must give node:net's answer for every string.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isIP, isIPv4, isIPv6 } from '../src/ip-address.js';

/** Strings made of the characters addresses and names are made of, so near-misses are frequent. */
const addressLike = fc
  .array(fc.constantFrom(...'0123456789abcdefABCDEFgxz:.%-'.split(''), '::', '%eth0', '255', '256', '01'), {
    maxLength: 24,
  })
  .map((parts) => parts.join(''));

const anyText = fc.oneof(
  fc.ipV4(),
  fc.ipV4Extended(),
  fc.ipV6(),
  fc.ipV6().map((a) => `${a}%eth0`),
  fc.domain(),
  addressLike,
  fc.string(),
);

describe('isIP, isIPv4, isIPv6: the answers of node:net', () => {
  test('any text: the same answer as net.isIP, net.isIPv4 and net.isIPv6', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        assert.equal(isIP(s), net.isIP(s), `isIP(${JSON.stringify(s)})`);
        assert.equal(isIPv4(s), net.isIPv4(s), `isIPv4(${JSON.stringify(s)})`);
        assert.equal(isIPv6(s), net.isIPv6(s), `isIPv6(${JSON.stringify(s)})`);
      }),
      { numRuns: 5000 },
    );
  });

  test('non-strings are read as their string conversion, as node:net does', () => {
    const values: unknown[] = [
      123,
      undefined,
      null,
      true,
      { toString: () => '::1' },
      ['127.0.0.1'],
      0x7f000001,
    ];
    for (const v of values) {
      const s = v as string;
      assert.equal(isIP(s), net.isIP(s), String(v));
      assert.equal(isIPv4(s), net.isIPv4(s), String(v));
      assert.equal(isIPv6(s), net.isIPv6(s), String(v));
    }
    assert.equal(isIP({ toString: () => '::1' } as unknown as string), 6);
  });

  const cases: Array<[string, 0 | 4 | 6]> = [
    ['127.0.0.1', 4],
    ['01.2.3.4', 0],
    ['::', 6],
    ['::1', 6],
    ['fe80::1%eth0', 6],
    ['fe80::1%', 0],
    ['fe80::1%a:b', 6],
    ['%eth0::1', 0],
    ['::ffff:198.51.100.7', 6],
    ['1:2:3:4:5:6:7:8', 6],
    ['1:2:3:4:5:6:7:8:9', 0],
    ['face.example', 0],
    ['example.com', 0],
    ['', 0],
  ];
  for (const [text, version] of cases) {
    test(`${JSON.stringify(text)} is ${version === 0 ? 'not an IP address' : `IPv${version}`}`, () => {
      assert.equal(isIP(text), version);
      assert.equal(net.isIP(text), version, 'node:net agrees');
    });
  }
});
