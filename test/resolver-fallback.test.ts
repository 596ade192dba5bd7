/**
 * 'auto' resolution's one decision about the system resolver (`systemFallbackReason` in src/resolution/resolve.ts),
 * and that the reason reaches the CLI's query lines. The fallback itself runs in the lab
 * (test/lab-resolver-matrix.test.ts), where the system resolver can be pointed at a lab server.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeStyle } from '../src/cli/color.js';
import { queryLines } from '../src/cli/trace.js';
import { systemFallbackReason } from '../src/resolution/resolve.js';

describe('systemFallbackReason', () => {
  const cases: Array<{ name: string; codes: string[]; want: RegExp | undefined }> = [
    {
      name: 'NXDOMAIN for both families: nsswitch may know it',
      codes: ['ENOTFOUND', 'ENOTFOUND'],
      want: /NXDOMAIN/,
    },
    { name: 'NODATA and NXDOMAIN', codes: ['ENODATA', 'ENOTFOUND'], want: /NXDOMAIN\/NODATA/ },
    {
      name: 'no server reachable for either family',
      codes: ['ECONNREFUSED', 'ECONNREFUSED'],
      want: /no DNS server could be reached/,
    },
    { name: 'timeouts: not again through getaddrinfo', codes: ['ETIMEOUT', 'ETIMEOUT'], want: undefined },
    {
      name: 'SERVFAIL: servers were reached and answered',
      codes: ['ESERVFAIL', 'ESERVFAIL'],
      want: undefined,
    },
    { name: 'lame answers: servers were reached', codes: ['EBADRESP', 'EBADRESP'], want: undefined },
    {
      name: 'one family unreachable, the other timed out',
      codes: ['ECONNREFUSED', 'ETIMEOUT'],
      want: undefined,
    },
    { name: 'one unreachable, one NXDOMAIN', codes: ['ECONNREFUSED', 'ENOTFOUND'], want: undefined },
    { name: 'no errors at all', codes: [], want: undefined },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const reason = systemFallbackReason(c.codes.map((code) => ({ code })));
      if (c.want === undefined) assert.equal(reason, undefined);
      else assert.match(reason ?? '', c.want);
    });
  }
});

test('the CLI shows why the system resolver was asked', () => {
  const lines = queryLines(
    [
      { type: 'A', name: 'x.test', source: 'dns', startMs: 0, endMs: 1, code: 'ECONNREFUSED' },
      {
        type: 'A',
        name: 'x.test',
        source: 'system',
        startMs: 1,
        endMs: 3,
        reason: 'no DNS server could be reached (ECONNREFUSED): asking the system resolver instead',
        addresses: [{ address: '192.0.2.1' }],
      },
    ],
    makeStyle(false),
  );
  assert.doesNotMatch(lines[0] ?? '', /asking the system resolver/);
  assert.match(
    lines[1] ?? '',
    /system .*192\.0\.2\.1 \(no DNS server could be reached \(ECONNREFUSED\): asking the system resolver instead\)/,
  );
});
