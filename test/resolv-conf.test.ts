// Pure tests plus private temp files (os.tmpdir); the system's /etc/resolv.conf is never read.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  parseResolvConf,
  type ResolvConf,
  ResolvConfFile,
  searchCandidates,
} from '../src/resolution/resolv-conf.js';

const DEFAULTS: ResolvConf = { nameservers: [], search: [], ndots: 1 };

interface ParseCase {
  name: string;
  text: string;
  want: Partial<ResolvConf>;
}

const parseCases: ParseCase[] = [
  { name: 'empty file: defaults', text: '', want: {} },
  {
    name: 'typical file',
    text: 'nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch example.com corp.example\noptions ndots:2 timeout:3 attempts:4\n',
    want: {
      nameservers: ['192.0.2.53', '2001:db8::53'],
      search: ['example.com', 'corp.example'],
      ndots: 2,
      timeoutMs: 3000,
      attempts: 4,
    },
  },
  {
    name: 'comments with # and ; in the first column',
    text: '# nameserver 192.0.2.1\n; nameserver 192.0.2.2\nnameserver 192.0.2.3\n',
    want: { nameservers: ['192.0.2.3'] },
  },
  {
    name: 'trailing comment tokens dropped (deviation from glibc)',
    text: 'nameserver 192.0.2.3 # primary\nsearch a.example ; b.example\n',
    want: { nameservers: ['192.0.2.3'], search: ['a.example'] },
  },
  {
    name: 'at most 3 nameservers (MAXNS), invalid ones skipped',
    text: 'nameserver 192.0.2.1\nnameserver bogus\nnameserver 127.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\nnameserver 192.0.2.4\n',
    want: { nameservers: ['192.0.2.1', '192.0.2.2', '192.0.2.3'] },
  },
  {
    name: 'nameserver IPv6 canonicalised, zone kept',
    text: 'nameserver 2001:DB8:0:0::53\nnameserver fe80::1%eth0\n',
    want: { nameservers: ['2001:db8::53', 'fe80::1%eth0'] },
  },
  {
    name: 'keyword must start the line and be followed by a blank (glibc MATCH)',
    text: ' nameserver 192.0.2.1\nnameserver\t192.0.2.2\nnameservers 192.0.2.3\nnameserver\nsearch\n',
    want: { nameservers: ['192.0.2.2'] },
  },
  {
    name: 'domain sets a one-entry search list',
    text: 'domain corp.example\n',
    want: { search: ['corp.example'] },
  },
  {
    name: 'search after domain: last wins',
    text: 'domain corp.example\nsearch a.example b.example\n',
    want: { search: ['a.example', 'b.example'] },
  },
  {
    name: 'domain after search: last wins',
    text: 'search a.example b.example\ndomain corp.example\n',
    want: { search: ['corp.example'] },
  },
  {
    name: 'second search replaces the first',
    text: 'search a.example\nsearch b.example\n',
    want: { search: ['b.example'] },
  },
  {
    name: 'domain keeps only its first argument',
    text: 'domain corp.example other.example\n',
    want: { search: ['corp.example'] },
  },
  {
    name: 'search domains normalised; invalid, root and duplicates dropped',
    text: 'search A.Example. . bad/domain a.example bücher.example\n',
    want: { search: ['a.example', 'xn--bcher-kva.example'] },
  },
  { name: 'ndots:0', text: 'options ndots:0\n', want: { ndots: 0 } },
  { name: 'ndots capped at 15', text: 'options ndots:99\n', want: { ndots: 15 } },
  { name: 'malformed ndots ignored', text: 'options ndots:x ndots:-1 ndots:\n', want: { ndots: 1 } },
  { name: 'timeout capped at 30 s', text: 'options timeout:100\n', want: { timeoutMs: 30_000 } },
  { name: 'timeout 0 raised to 1 s', text: 'options timeout:0\n', want: { timeoutMs: 1000 } },
  { name: 'attempts capped at 5', text: 'options attempts:9\n', want: { attempts: 5 } },
  { name: 'attempts 0 raised to 1', text: 'options attempts:0\n', want: { attempts: 1 } },
  {
    name: 'several options lines: later values win, unknown options ignored',
    text: 'options ndots:3 rotate edns0 bogus-option\noptions ndots:4 single-request timeout:2\n',
    want: { ndots: 4, timeoutMs: 2000, rotate: true, ignoredOptions: ['edns0', 'single-request'] },
  },
  {
    name: 'glibc options with netdial meaning: rotate, no-aaaa, use-vc, no-tld-query',
    text: 'options rotate no-aaaa use-vc no-tld-query\n',
    want: { rotate: true, noAaaa: true, useVc: true, noTldQuery: true },
  },
  {
    name: 'glibc options read and ignored are listed once, in order',
    text: 'options trust-ad single-request-reopen edns0 trust-ad no-reload inet6\n',
    want: { ignoredOptions: ['trust-ad', 'single-request-reopen', 'edns0', 'no-reload', 'inet6'] },
  },
  {
    name: 'MAXNS: only the first three nameservers',
    text: 'nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\nnameserver 192.0.2.4\n',
    want: { nameservers: ['192.0.2.1', '192.0.2.2', '192.0.2.3'] },
  },
  {
    name: 'link-local nameservers keep their zone, named or numeric',
    text: 'nameserver fe80::1%eth0\nnameserver FE80::2%2\n',
    want: { nameservers: ['fe80::1%eth0', 'fe80::2%2'] },
  },
  {
    name: 'garbage lines ignored',
    text: 'hello world\n\u0000\u0001\nsortlist 192.0.2.0/255.255.255.0\nlookup file bind\nnameserver 192.0.2.1\n',
    want: { nameservers: ['192.0.2.1'] },
  },
  {
    name: 'CRLF line ends',
    text: 'nameserver 192.0.2.1\r\nsearch a.example\r\n',
    want: { nameservers: ['192.0.2.1'], search: ['a.example'] },
  },
];

describe('parseResolvConf', () => {
  for (const c of parseCases) {
    test(c.name, () => {
      assert.deepEqual(parseResolvConf(c.text), { ...DEFAULTS, ...c.want });
    });
  }
});

interface CandidateCase {
  name: string;
  host: string;
  absolute: boolean;
  conf: Partial<ResolvConf>;
  want: string[];
}

const ab = { search: ['a.example', 'b.example'] };

const candidateCases: CandidateCase[] = [
  { name: 'absolute: the name only', host: 'www', absolute: true, conf: ab, want: ['www'] },
  {
    name: 'trailing dot in the name counts as absolute',
    host: 'www.',
    absolute: false,
    conf: ab,
    want: ['www'],
  },
  {
    name: 'single label, ndots 1: search list first, then as is',
    host: 'www',
    absolute: false,
    conf: ab,
    want: ['www.a.example', 'www.b.example', 'www'],
  },
  {
    name: 'one dot, ndots 1: as is first, then search list',
    host: 'www.corp',
    absolute: false,
    conf: ab,
    want: ['www.corp', 'www.corp.a.example', 'www.corp.b.example'],
  },
  {
    name: 'one dot, ndots 2: search list first',
    host: 'www.corp',
    absolute: false,
    conf: { ...ab, ndots: 2 },
    want: ['www.corp.a.example', 'www.corp.b.example', 'www.corp'],
  },
  {
    name: 'ndots 5 (Kubernetes): search list first even for a 4-dot name',
    host: 'a.b.c.example',
    absolute: false,
    conf: { search: ['ns.svc.cluster.local', 'svc.cluster.local'], ndots: 5 },
    want: ['a.b.c.example.ns.svc.cluster.local', 'a.b.c.example.svc.cluster.local', 'a.b.c.example'],
  },
  {
    name: 'ndots 0: as is first even for a single label',
    host: 'www',
    absolute: false,
    conf: { ...ab, ndots: 0 },
    want: ['www', 'www.a.example', 'www.b.example'],
  },
  { name: 'no search list', host: 'www', absolute: false, conf: {}, want: ['www'] },
  {
    name: 'no-tld-query: a single label only with the search domains',
    host: 'www',
    absolute: false,
    conf: { ...ab, noTldQuery: true },
    want: ['www.a.example', 'www.b.example'],
  },
  {
    name: 'no-tld-query does not apply to names with a dot',
    host: 'www.corp',
    absolute: false,
    conf: { ...ab, ndots: 2, noTldQuery: true },
    want: ['www.corp.a.example', 'www.corp.b.example', 'www.corp'],
  },
  {
    name: 'no-tld-query without a search list: the name as is (glibc: nothing else was tried)',
    host: 'www',
    absolute: false,
    conf: { noTldQuery: true },
    want: ['www'],
  },
  {
    name: 'no-tld-query with ndots 0: as is first anyway (enough dots)',
    host: 'www',
    absolute: false,
    conf: { ...ab, ndots: 0, noTldQuery: true },
    want: ['www', 'www.a.example', 'www.b.example'],
  },
  {
    name: 'six search domains, ndots 15: every domain in order, then the name',
    host: 'a.b.c',
    absolute: false,
    conf: {
      search: ['d1.example', 'd2.example', 'd3.example', 'd4.example', 'd5.example', 'd6.example'],
      ndots: 15,
    },
    want: [
      'a.b.c.d1.example',
      'a.b.c.d2.example',
      'a.b.c.d3.example',
      'a.b.c.d4.example',
      'a.b.c.d5.example',
      'a.b.c.d6.example',
      'a.b.c',
    ],
  },
  { name: 'IP literal: as is', host: '192.0.2.1', absolute: false, conf: ab, want: ['192.0.2.1'] },
  {
    name: 'duplicate search domains give one candidate',
    host: 'www',
    absolute: false,
    conf: { search: ['a.example', 'a.example'] },
    want: ['www.a.example', 'www'],
  },
  {
    name: 'candidates over 253 octets are left out',
    host: `${'x'.repeat(63)}.${'y'.repeat(63)}.${'z'.repeat(63)}`,
    absolute: false,
    conf: { search: ['short', 'd'.repeat(63)], ndots: 5 },
    want: [
      `${'x'.repeat(63)}.${'y'.repeat(63)}.${'z'.repeat(63)}.short`,
      `${'x'.repeat(63)}.${'y'.repeat(63)}.${'z'.repeat(63)}`,
    ],
  },
];

describe('searchCandidates', () => {
  for (const c of candidateCases) {
    test(c.name, () => {
      assert.deepEqual(searchCandidates(c.host, c.absolute, { ...DEFAULTS, ...c.conf }), c.want);
    });
  }

  test('search order follows the search list order (both orders)', () => {
    const forward = searchCandidates('www', false, { ...DEFAULTS, search: ['a.example', 'b.example'] });
    const backward = searchCandidates('www', false, { ...DEFAULTS, search: ['b.example', 'a.example'] });
    assert.deepEqual(forward, ['www.a.example', 'www.b.example', 'www']);
    assert.deepEqual(backward, ['www.b.example', 'www.a.example', 'www']);
  });
});

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netdial-resolv-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('ResolvConfFile', () => {
  test('missing file gives the defaults', () => {
    const file = new ResolvConfFile({ path: join(dir, 'missing.conf') });
    assert.deepEqual(file.get(0), DEFAULTS);
  });

  test('re-read on change after checkIntervalMs, frozen result', () => {
    const path = join(dir, 'resolv.conf');
    writeFileSync(path, 'nameserver 192.0.2.53\nsearch a.example\n');
    const file = new ResolvConfFile({ path, checkIntervalMs: 2000 });
    const first = file.get(0);
    assert.deepEqual(first, { nameservers: ['192.0.2.53'], search: ['a.example'], ndots: 1 });
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.nameservers) && Object.isFrozen(first.search));
    writeFileSync(path, 'nameserver 198.51.100.53\noptions ndots:3\n');
    assert.equal(file.get(1999), first, 'same object before the interval');
    assert.deepEqual(file.get(2000), { nameservers: ['198.51.100.53'], search: [], ndots: 3 });
    unlinkSync(path);
    assert.deepEqual(file.get(4000), DEFAULTS);
  });

  test('invalid options are rejected', () => {
    assert.throws(() => new ResolvConfFile({ checkIntervalMs: -5 }), { code: 'ERR_NETDIAL_INVALID_OPTION' });
    assert.throws(() => new ResolvConfFile({ maxBytes: 0 }), { code: 'ERR_NETDIAL_INVALID_OPTION' });
  });
});
