// File tests on private temp files only (os.tmpdir); the system's /etc/hosts is never read.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HostsFile, parseHosts, WatchedTextFile } from '../src/resolution/hosts-file.js';

type Entry = { address: string; family: 4 | 6 };
const v4 = (address: string): Entry => ({ address, family: 4 });
const v6 = (address: string): Entry => ({ address, family: 6 });

interface ParseCase {
  name: string;
  text: string;
  want: Record<string, Entry[]>;
}

const parseCases: ParseCase[] = [
  { name: 'empty text', text: '', want: {} },
  {
    name: 'canonical name and aliases',
    text: '192.0.2.1 www.example.com www\n',
    want: { 'www.example.com': [v4('192.0.2.1')], www: [v4('192.0.2.1')] },
  },
  {
    name: 'comments: whole line and after the names',
    text: '# 192.0.2.9 hidden\n192.0.2.1 a # b c\n   # indented comment\n192.0.2.2 d#e\n',
    want: { a: [v4('192.0.2.1')], d: [v4('192.0.2.2')] },
  },
  {
    name: 'names lowercased and one trailing dot removed',
    text: '192.0.2.1 Host.Example.COM.\n',
    want: { 'host.example.com': [v4('192.0.2.1')] },
  },
  {
    name: 'addresses in file order across lines, both families',
    text: '2001:db8::2 h\n192.0.2.1 h\n2001:db8::1 h\n192.0.2.2 h\n',
    want: { h: [v6('2001:db8::2'), v4('192.0.2.1'), v6('2001:db8::1'), v4('192.0.2.2')] },
  },
  {
    name: 'IPv6 canonicalised, so differently written duplicates are removed',
    text: '2001:DB8:0:0:0:0:0:1 h\n2001:db8::1 h\n::ffff:c000:201 m\n::ffff:192.0.2.1 m\n',
    want: { h: [v6('2001:db8::1')], m: [v6('::ffff:192.0.2.1')] },
  },
  {
    name: 'exact duplicates removed, also a name twice on one line',
    text: '192.0.2.1 h h\n192.0.2.1 h\n',
    want: { h: [v4('192.0.2.1')] },
  },
  {
    name: 'zone ids kept',
    text: 'fe80::1%eth0 router\nfe80::1%eth1 router\n',
    want: { router: [v6('fe80::1%eth0'), v6('fe80::1%eth1')] },
  },
  {
    name: 'tabs, CRLF and extra spaces',
    text: '\t192.0.2.1\t\ta\t b \r\n192.0.2.2    c\r\n',
    want: { a: [v4('192.0.2.1')], b: [v4('192.0.2.1')], c: [v4('192.0.2.2')] },
  },
  {
    name: 'garbage lines and invalid addresses ignored',
    text: [
      'garbage',
      'not-an-address host1',
      '999.1.1.1 host2',
      '127.1 host3',
      '0x7f.0.0.1 host4',
      '010.0.0.1 host5',
      '2001:db8:::1 host6',
      '192.0.2.1', // address without a name
      '[2001:db8::1] host7',
      '\u0000\u0001\u0002',
      '192.0.2.3 ok',
    ].join('\n'),
    want: { ok: [v4('192.0.2.3')] },
  },
  {
    name: 'a lone dot and double trailing dots are not names',
    text: '192.0.2.1 . a.. b\n',
    want: { b: [v4('192.0.2.1')] },
  },
  {
    name: 'Unicode name stored in IDNA ASCII form',
    text: '192.0.2.1 bücher.example\n',
    want: { 'xn--bcher-kva.example': [v4('192.0.2.1')] },
  },
  {
    name: 'typical Debian file',
    text: '127.0.0.1\tlocalhost\n127.0.1.1\tbox.example\tbox\n\n# IPv6\n::1     localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\n',
    want: {
      localhost: [v4('127.0.0.1'), v6('::1')],
      'box.example': [v4('127.0.1.1')],
      box: [v4('127.0.1.1')],
      'ip6-localhost': [v6('::1')],
      'ip6-loopback': [v6('::1')],
      'ip6-allnodes': [v6('ff02::1')],
    },
  },
];

describe('parseHosts', () => {
  for (const c of parseCases) {
    test(c.name, () => {
      assert.deepEqual(Object.fromEntries(parseHosts(c.text)), c.want);
    });
  }
});

let dir = '';
let counter = 0;
const freshPath = () => join(dir, `hosts-${++counter}`);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netdial-hosts-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('HostsFile', () => {
  test('missing file is empty, and is picked up once created and the interval passed', () => {
    const path = freshPath();
    const hosts = new HostsFile({ path });
    assert.equal(hosts.lookup('a', 0), undefined);
    writeFileSync(path, '192.0.2.1 a\n');
    assert.equal(hosts.lookup('a', 999), undefined, 'not re-checked before checkIntervalMs');
    assert.deepEqual(hosts.lookup('a', 1000), [v4('192.0.2.1')]);
  });

  test('a change is seen only after checkIntervalMs of the given clock', () => {
    const path = freshPath();
    writeFileSync(path, '192.0.2.1 a\n');
    const hosts = new HostsFile({ path, checkIntervalMs: 5000 });
    assert.deepEqual(hosts.lookup('a', 10_000), [v4('192.0.2.1')]);
    writeFileSync(path, '192.0.2.22 a\n');
    assert.deepEqual(hosts.lookup('a', 14_999), [v4('192.0.2.1')]);
    assert.deepEqual(hosts.lookup('a', 15_000), [v4('192.0.2.22')]);
  });

  test('same-size rewrite is seen through mtime', () => {
    const path = freshPath();
    writeFileSync(path, '192.0.2.1 a\n');
    utimesSync(path, 1_000_000, 1_000_000);
    const hosts = new HostsFile({ path });
    assert.deepEqual(hosts.lookup('a', 0), [v4('192.0.2.1')]);
    writeFileSync(path, '192.0.2.2 a\n');
    utimesSync(path, 1_000_001, 1_000_001);
    assert.deepEqual(hosts.lookup('a', 1000), [v4('192.0.2.2')]);
  });

  test('replacement by rename is seen through the inode even with equal size and mtime', () => {
    const path = freshPath();
    writeFileSync(path, '192.0.2.1 a\n');
    utimesSync(path, 1_000_000, 1_000_000);
    const hosts = new HostsFile({ path });
    assert.deepEqual(hosts.lookup('a', 0), [v4('192.0.2.1')]);
    const next = `${path}.new`;
    writeFileSync(next, '192.0.2.2 a\n');
    utimesSync(next, 1_000_000, 1_000_000);
    renameSync(next, path);
    assert.deepEqual(hosts.lookup('a', 1000), [v4('192.0.2.2')]);
  });

  test('a deleted file becomes empty', () => {
    const path = freshPath();
    writeFileSync(path, '192.0.2.1 a\n');
    const hosts = new HostsFile({ path });
    assert.deepEqual(hosts.lookup('a', 0), [v4('192.0.2.1')]);
    unlinkSync(path);
    assert.equal(hosts.lookup('a', 1000), undefined);
  });

  test('a clock that goes back forces a check', () => {
    const path = freshPath();
    writeFileSync(path, '192.0.2.1 a\n');
    const hosts = new HostsFile({ path });
    assert.deepEqual(hosts.lookup('a', 50_000), [v4('192.0.2.1')]);
    writeFileSync(path, '192.0.2.22 a\n');
    assert.deepEqual(hosts.lookup('a', 49_000), [v4('192.0.2.22')]);
  });

  test('checkIntervalMs 0 checks on every lookup', () => {
    const path = freshPath();
    writeFileSync(path, '192.0.2.1 a\n');
    const hosts = new HostsFile({ path, checkIntervalMs: 0 });
    assert.deepEqual(hosts.lookup('a', 0), [v4('192.0.2.1')]);
    writeFileSync(path, '192.0.2.22 a\n');
    assert.deepEqual(hosts.lookup('a', 0), [v4('192.0.2.22')]);
  });

  test('lookup is case-insensitive, ignores a trailing dot, and answers undefined for unknown names', () => {
    const path = freshPath();
    writeFileSync(path, '192.0.2.1 Host.Example\n');
    const hosts = new HostsFile({ path });
    assert.deepEqual(hosts.lookup('HOST.example.', 0), [v4('192.0.2.1')]);
    assert.equal(hosts.lookup('other', 0), undefined);
    assert.equal(hosts.lookup('', 0), undefined);
    assert.equal(hosts.lookup('.', 0), undefined);
  });

  test('returned arrays are copies', () => {
    const path = freshPath();
    writeFileSync(path, '192.0.2.1 a\n');
    const hosts = new HostsFile({ path });
    const first = hosts.lookup('a', 0)!;
    first.push(v4('203.0.113.9'));
    first[0]!.address = 'changed';
    assert.deepEqual(hosts.lookup('a', 0), [v4('192.0.2.1')]);
  });

  test('garbage bytes do not throw', () => {
    const path = freshPath();
    const bytes = Buffer.alloc(64 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) % 256;
    writeFileSync(path, Buffer.concat([bytes, Buffer.from('\n192.0.2.1 a\n')]));
    const hosts = new HostsFile({ path });
    assert.deepEqual(hosts.lookup('a', 0), [v4('192.0.2.1')]);
  });

  test('a directory is treated as an empty file', () => {
    const path = freshPath();
    mkdirSync(path);
    const hosts = new HostsFile({ path });
    assert.equal(hosts.lookup('a', 0), undefined);
  });

  test('only the first maxBytes are parsed, cut at the last complete line', () => {
    const path = freshPath();
    const lines = ['192.0.2.1 first', '192.0.2.2 second', '192.0.2.3 third'];
    writeFileSync(path, `${lines.join('\n')}\n`);
    // The limit ends inside "192.0.2.2 second": that line is dropped, not read as "192.0.2.2 sec".
    const limit = lines[0]!.length + 1 + '192.0.2.2 sec'.length;
    const hosts = new HostsFile({ path, maxBytes: limit });
    assert.deepEqual(hosts.lookup('first', 0), [v4('192.0.2.1')]);
    assert.equal(hosts.lookup('sec', 0), undefined);
    assert.equal(hosts.lookup('second', 0), undefined);
    assert.equal(hosts.lookup('third', 0), undefined);
  });

  test('a limit without any newline inside gives an empty table', () => {
    const path = freshPath();
    writeFileSync(path, '192.0.2.1 first\n');
    const hosts = new HostsFile({ path, maxBytes: 5 });
    assert.equal(hosts.lookup('first', 0), undefined);
  });

  test('a file exactly maxBytes long is read whole', () => {
    const path = freshPath();
    const text = '192.0.2.1 first\n192.0.2.2 last';
    writeFileSync(path, text);
    const hosts = new HostsFile({ path, maxBytes: Buffer.byteLength(text) });
    assert.deepEqual(hosts.lookup('last', 0), [v4('192.0.2.2')]);
  });

  test('a huge file: names within the default 4 MiB are found, later ones are not', () => {
    const path = freshPath();
    const filler = `${'#'.repeat(1023)}\n`; // 1 KiB comment lines
    const text = `192.0.2.1 early\n${filler.repeat(5 * 1024)}192.0.2.2 late\n`;
    writeFileSync(path, text);
    const hosts = new HostsFile({ path });
    assert.deepEqual(hosts.lookup('early', 0), [v4('192.0.2.1')]);
    assert.equal(hosts.lookup('late', 0), undefined);
  });

  test('invalid options are rejected', () => {
    const bad: Array<Record<string, unknown>> = [
      { path: '' },
      { path: 5 },
      { checkIntervalMs: -1 },
      { checkIntervalMs: Number.NaN },
      { checkIntervalMs: Number.POSITIVE_INFINITY },
      { maxBytes: 0 },
      { maxBytes: 1.5 },
    ];
    for (const options of bad) {
      assert.throws(() => new HostsFile(options as never), {
        name: 'TypeError',
        code: 'ERR_NETDIAL_INVALID_OPTION',
      });
    }
  });

  test('an invalid clock value is rejected', () => {
    const hosts = new HostsFile({ path: freshPath() });
    assert.throws(() => hosts.lookup('a', Number.NaN), {
      name: 'TypeError',
      code: 'ERR_NETDIAL_INVALID_OPTION',
    });
  });
});

describe('WatchedTextFile', () => {
  test('parses once per change, not once per get', () => {
    const path = freshPath();
    writeFileSync(path, 'one');
    let parses = 0;
    const file = new WatchedTextFile(
      { path, checkIntervalMs: 0, maxBytes: 1024 },
      (text) => {
        parses++;
        return text;
      },
      '',
    );
    for (let now = 0; now < 10; now++) assert.equal(file.get(now), 'one');
    assert.equal(parses, 1);
    writeFileSync(path, 'three');
    assert.equal(file.get(10), 'three');
    assert.equal(parses, 2);
  });
});
