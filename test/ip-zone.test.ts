/**
 * parseZonedAddress (src/resolution/ip-zone.ts) reads addresses with the project's own parser
 * (target.ts canonicalIP) instead of `net.isIP` + `net.SocketAddress` (issue 16: Node's IP regular
 * expressions cost about 0.1 ms a call in a fresh process, and every DNS answer's sender is checked).
 * Pinned here: the same answers as Node's pair, for generated addresses, near-misses and arbitrary text.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseZonedAddress } from '../src/resolution/ip-zone.js';

/** What parseZonedAddress answered with net.isIP + net.SocketAddress (the reference). */
function withNode(text: string): { address: string; family: 4 | 6; zone?: string } | undefined {
  const percent = text.indexOf('%');
  const base = percent === -1 ? text : text.slice(0, percent);
  const zone = percent === -1 ? undefined : text.slice(percent + 1);
  const version = net.isIP(base);
  if (version === 0) return undefined;
  const family: 4 | 6 = version === 6 ? 6 : 4;
  if (zone !== undefined && (family !== 6 || !/^[0-9A-Za-z_.:-]{1,64}$/.test(zone))) return undefined;
  const address = new net.SocketAddress({ address: base, family: family === 6 ? 'ipv6' : 'ipv4' }).address;
  return zone === undefined ? { address, family } : { address, family, zone };
}

const NEAR_MISSES = [
  '127.0.0.1',
  '0.0.0.0',
  '255.255.255.255',
  '256.0.0.1',
  '01.2.3.4',
  '1.2.3',
  '1.2.3.4.',
  ' 1.2.3.4',
  '::',
  '::1',
  '::ffff:192.0.2.1',
  '::192.0.2.1',
  '::ffff:0:192.0.2.1',
  '64:ff9b::192.0.2.1',
  '2001:DB8:0:0:0:0:0:1',
  '2001:db8::0:1',
  '2001:db8:0:0:1:0:0:1',
  '2001:db8::1::1',
  '2001:db8:::1',
  'fe80::1%eth0',
  'FE80::0:1%2',
  'fe80::1%',
  'fe80::1%a b',
  '192.0.2.1%eth0',
  '1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8:9',
  '1:2:3:4:5:6:192.0.2.1',
  '[::1]',
  '',
  'localhost',
];

test('parseZonedAddress answers as net.isIP + net.SocketAddress did: literals and near-misses', () => {
  for (const text of NEAR_MISSES) assert.deepEqual(parseZonedAddress(text), withNode(text), text);
});

test('parseZonedAddress answers as net.isIP + net.SocketAddress did: generated addresses and text', () => {
  const zone = fc.option(fc.stringMatching(/^[0-9A-Za-z_.:% -]{0,6}$/), { nil: undefined });
  const address = fc.oneof(
    fc.ipV4(),
    fc.ipV4Extended(),
    fc.ipV6(),
    fc.ipV6().map((a) => a.toUpperCase()),
    fc.string({ maxLength: 20 }),
    fc.stringMatching(/^[0-9a-fA-F:.]{0,24}$/),
  );
  fc.assert(
    fc.property(address, zone, (a, z) => {
      const text = z === undefined ? a : `${a}%${z}`;
      assert.deepEqual(parseZonedAddress(text), withNode(text), text);
    }),
    { numRuns: 3000 },
  );
});
