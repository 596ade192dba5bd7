/**
 * The RFC 9460 SVCB/HTTPS RDATA codec (src/resolution/svcb.ts): the RFC's own test vectors (Appendix D),
 * every "MUST be considered malformed" rule, and fast-check properties — round trip, never throws on
 * garbage, output bounded by the input.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeSvcbRdata,
  encodeSvcbRdata,
  type SvcbRecord,
  unknownMandatoryKeys,
} from '../src/resolution/svcb.js';
import { canonicalIP } from '../src/target.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

function decoded(rdata: Uint8Array): SvcbRecord {
  const r = decodeSvcbRdata(rdata);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.record;
}

function malformed(rdata: Uint8Array, reason: RegExp): void {
  const r = decodeSvcbRdata(rdata);
  assert.equal(r.ok, false, 'expected malformed');
  if (!r.ok) assert.match(r.reason, reason);
}

describe('vectors in the form of RFC 9460 Appendix D', () => {
  test('D.1 AliasMode: priority 0, target foo.example.com', () => {
    const r = decoded(hex('0000 03666f6f076578616d706c6503636f6d00'));
    assert.deepEqual(r, { priority: 0, targetName: 'foo.example.com', params: {} });
  });
  test('D.2 ServiceMode with the root target and no params', () => {
    assert.deepEqual(decoded(hex('0001 00')), { priority: 1, targetName: '.', params: {} });
  });
  test('D.2 port 53', () => {
    const r = decoded(hex('0010 03666f6f076578616d706c6503636f6d00 0003 0002 0035'));
    assert.deepEqual(r, { priority: 16, targetName: 'foo.example.com', params: { port: 53 } });
  });
  test('D.2 an unknown key with a value (key667="hello")', () => {
    const r = decoded(hex('0001 03666f6f076578616d706c6503636f6d00 029b 0005 68656c6c6f'));
    assert.deepEqual(r.params.unknown, [{ key: 667, value: Uint8Array.from(Buffer.from('hello')) }]);
  });
  test('D.2 ipv6hint with two addresses, one an IPv4-mapped one', () => {
    const r = decoded(
      hex(
        '0001 03666f6f076578616d706c6503636f6d00 0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001',
      ),
    );
    assert.deepEqual(r.params.ipv6hint, ['2001:db8::1', '2001:db8::53:1']);
  });
  test('D.2 mandatory, alpn, ipv4hint, in key order', () => {
    const r = decoded(
      hex(
        '0010 03666f6f076578616d706c6503636f6d00 0000 0004 00010004 0001 0009 026832 0568332d3239 0004 0008 c0000201 c0000202',
      ),
    );
    assert.deepEqual(r.params.mandatory, [1, 4]);
    assert.deepEqual(r.params.alpn, ['h2', 'h3-29']);
    assert.deepEqual(r.params.ipv4hint, ['192.0.2.1', '192.0.2.2']);
  });
});

describe('malformed records (RFC 9460 §2.2, §7, §8)', () => {
  const target = '03666f6f076578616d706c6503636f6d00';
  test('keys out of order or repeated', () => {
    malformed(hex(`0001 ${target} 0003 0002 0035 0001 0003 026832`), /out of order/);
    malformed(hex(`0001 ${target} 0003 0002 0035 0003 0002 0035`), /out of order or repeated/);
  });
  test('truncated header, value running past the RDATA, truncated name', () => {
    malformed(hex(`0001 ${target} 00`), /truncated SvcParam header/);
    malformed(hex(`0001 ${target} 0003 0004 0035`), /runs past/);
    malformed(hex('0001 03666f'), /TargetName truncated/);
    malformed(hex('00'), /shorter/);
  });
  test('a compressed TargetName is refused (§2.2 MUST NOT be compressed)', () => {
    malformed(hex('0001 c00c'), /compressed/);
  });
  test('mandatory: lists itself, unsorted, or names a key the record lacks', () => {
    malformed(hex(`0001 ${target} 0000 0002 0000`), /mandatory itself/);
    malformed(hex(`0001 ${target} 0000 0004 00030001 0001 0003 026832 0003 0002 0035`), /ascending/);
    malformed(hex(`0001 ${target} 0000 0002 0003`), /mandatory key port is not in the record/);
  });
  test('alpn: empty list or empty id; no-default-alpn with a value or without alpn', () => {
    malformed(hex(`0001 ${target} 0001 0000`), /alpn: empty list/);
    malformed(hex(`0001 ${target} 0001 0001 00`), /empty protocol id/);
    malformed(hex(`0001 ${target} 0001 0003 026832 0002 0001 00`), /empty value/);
    malformed(hex(`0001 ${target} 0002 0000`), /no-default-alpn without alpn/);
  });
  test('port of the wrong size; hints not a whole number of addresses; empty ech', () => {
    malformed(hex(`0001 ${target} 0003 0001 35`), /2-byte port/);
    malformed(hex(`0001 ${target} 0004 0003 c00002`), /4-byte addresses/);
    malformed(hex(`0001 ${target} 0006 0000`), /16-byte addresses/);
    malformed(hex(`0001 ${target} 0005 0000`), /ECHConfigList/);
  });
  test('AliasMode ignores its params, even broken ones (§2.4.2)', () => {
    assert.deepEqual(decoded(hex(`0000 ${target} ffff`)).params, {});
  });
  test('unknownMandatoryKeys names keys netdial does not understand', () => {
    const r = decoded(hex(`0001 ${target} 0000 0004 0003 029b 0003 0002 0035 029b 0000`));
    assert.deepEqual(unknownMandatoryKeys(r), [667]);
    assert.deepEqual(unknownMandatoryKeys(decoded(hex(`0001 ${target} 0000 0002 0003 0003 0002 0035`))), []);
  });
});

const label = fc.stringMatching(/^[a-z0-9_-]{1,20}$/);
const name = fc.oneof(
  fc.constant('.'),
  fc.array(label, { minLength: 1, maxLength: 5 }).map((ls) => ls.join('.')),
);
const ipv4 = fc.ipV4();
// Canonical (RFC 5952) text by the target parser, independent of the codec's own formatting.
const ipv6 = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })
  .map((groups) => canonicalIP(groups.map((g) => g.toString(16)).join(':'))?.address as string);
const bytes = (minLength: number) => fc.uint8Array({ minLength, maxLength: 40 });

const serviceRecord: fc.Arbitrary<SvcbRecord> = fc
  .record(
    {
      priority: fc.integer({ min: 1, max: 0xffff }),
      targetName: name,
      alpn: fc.option(fc.array(fc.stringMatching(/^[a-z0-9/.-]{1,12}$/), { minLength: 1, maxLength: 4 }), {
        nil: undefined,
      }),
      noDefaultAlpn: fc.boolean(),
      port: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
      ipv4hint: fc.option(fc.array(ipv4, { minLength: 1, maxLength: 4 }), { nil: undefined }),
      ipv6hint: fc.option(fc.array(ipv6, { minLength: 1, maxLength: 4 }), { nil: undefined }),
      ech: fc.option(bytes(1), { nil: undefined }),
      unknown: fc.option(
        fc.uniqueArray(fc.record({ key: fc.integer({ min: 7, max: 0xffff }), value: bytes(0) }), {
          minLength: 1,
          maxLength: 3,
          selector: (u) => u.key,
        }),
        { nil: undefined },
      ),
      mandatoryPick: fc.boolean(),
    },
    { requiredKeys: ['priority', 'targetName', 'noDefaultAlpn', 'mandatoryPick'] },
  )
  .map((r) => {
    const params: SvcbRecord['params'] = {};
    if (r.alpn) params.alpn = r.alpn;
    if (r.alpn && r.noDefaultAlpn) params.noDefaultAlpn = true;
    if (r.port !== undefined) params.port = r.port;
    if (r.ipv4hint) params.ipv4hint = r.ipv4hint;
    if (r.ech) params.ech = r.ech;
    if (r.ipv6hint) params.ipv6hint = r.ipv6hint;
    if (r.unknown)
      params.unknown = r.unknown.map((u) => ({ key: u.key, value: u.value })).sort((a, b) => a.key - b.key);
    const present = [
      ...(params.alpn ? [1] : []),
      ...(params.port !== undefined ? [3] : []),
      ...(params.ipv4hint ? [4] : []),
      ...(params.unknown ?? []).map((u) => u.key),
    ].sort((a, b) => a - b);
    if (r.mandatoryPick && present.length > 0) params.mandatory = present;
    return { priority: r.priority, targetName: r.targetName, params };
  });

describe('properties', () => {
  test('round trip: decode(encode(record)) is the record', () => {
    fc.assert(
      fc.property(serviceRecord, (record) => {
        assert.deepEqual(decoded(encodeSvcbRdata(record)), record);
      }),
      { numRuns: 500 },
    );
  });
  test('AliasMode round trip', () => {
    fc.assert(
      fc.property(name, (targetName) => {
        assert.deepEqual(decoded(encodeSvcbRdata({ priority: 0, targetName, params: {} })), {
          priority: 0,
          targetName,
          params: {},
        });
      }),
    );
  });
  test('garbage never throws and every decoded list is bounded by the input', () => {
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      // Mostly well-formed records with bytes flipped, cut or appended: reaches the deep branches.
      fc
        .tuple(
          serviceRecord,
          fc.nat(),
          fc.integer({ min: 0, max: 255 }),
          fc.nat(),
          fc.uint8Array({ maxLength: 8 }),
        )
        .map(([record, at, value, cut, extra]) => {
          const b = Uint8Array.from(encodeSvcbRdata(record));
          if (b.length > 0) b[at % b.length] = value;
          return Uint8Array.from([...b.subarray(0, b.length - (cut % 4)), ...extra]);
        }),
    );
    fc.assert(
      fc.property(garbage, (input) => {
        const r = decodeSvcbRdata(input);
        if (!r.ok) {
          assert.equal(typeof r.reason, 'string');
          return;
        }
        const p = r.record.params;
        const listed =
          (p.alpn?.length ?? 0) +
          (p.ipv4hint?.length ?? 0) * 4 +
          (p.ipv6hint?.length ?? 0) * 16 +
          (p.unknown?.length ?? 0) * 4 +
          (p.mandatory?.length ?? 0) * 2;
        assert.ok(listed <= input.length, 'more decoded than bytes read');
        assert.ok(r.record.targetName.length <= 255);
      }),
      { numRuns: 2000 },
    );
  });
  test('encoding refuses what cannot be written, naming it', () => {
    assert.throws(() => encodeSvcbRdata({ priority: 70000, targetName: '.', params: {} }), /priority/);
    assert.throws(() => encodeSvcbRdata({ priority: 1, targetName: 'a..b', params: {} }), /TargetName/);
    assert.throws(
      () => encodeSvcbRdata({ priority: 1, targetName: '.', params: { ipv4hint: ['300.1.1.1'] } }),
      /ipv4hint/,
    );
    assert.throws(() => encodeSvcbRdata({ priority: 1, targetName: '.', params: { alpn: [''] } }), /alpn/);
  });
});
