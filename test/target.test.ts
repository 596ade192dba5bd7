// Pure tests: nothing here touches the network or DNS. services.ts may read /etc/services (read-only).
import assert from 'node:assert/strict';
import { isIP, SocketAddress } from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { lookupService, parseServices } from '../src/resolution/services.js';
import { canonicalIP, formatHostPort, parseHost, parseTarget, type Target } from '../src/target.js';

type Want = Partial<Target> & { host: string; port: number };

interface AcceptCase {
  name: string;
  input: unknown;
  defaultPort?: number;
  want: Want;
}

const accept: AcceptCase[] = [
  // host:port
  { name: 'name:port', input: 'example.com:443', want: { host: 'example.com', port: 443, hostKind: 0 } },
  { name: 'name is lowercased', input: 'ExAmple.COM:80', want: { host: 'example.com', port: 80 } },
  {
    name: 'trailing dot marks the name absolute and is removed',
    input: 'example.com.:80',
    want: { host: 'example.com', port: 80, absolute: true },
  },
  {
    name: 'no trailing dot: not absolute',
    input: 'example.com:80',
    want: { host: 'example.com', port: 80, absolute: false },
  },
  { name: 'single label', input: 'localhost:8080', want: { host: 'localhost', port: 8080, hostKind: 0 } },
  { name: 'underscore allowed', input: '_srv.a_b.example:80', want: { host: '_srv.a_b.example', port: 80 } },
  {
    name: 'leading/trailing hyphen tolerated',
    input: '-a-.example:80',
    want: { host: '-a-.example', port: 80 },
  },
  { name: 'digits inside a name', input: '1.2.3.example:80', want: { host: '1.2.3.example', port: 80 } },
  { name: 'port 1', input: 'h:1', want: { host: 'h', port: 1 } },
  { name: 'port 65535', input: 'h:65535', want: { host: 'h', port: 65535 } },
  { name: 'port with leading zeros', input: 'h:00080', want: { host: 'h', port: 80 } },
  { name: 'service name as port', input: 'h:https', want: { host: 'h', port: 443 } },
  { name: 'service name is case-insensitive', input: 'h:SSH', want: { host: 'h', port: 22 } },
  {
    name: 'label of 63 octets',
    input: `${'a'.repeat(63)}.example:80`,
    want: { host: `${'a'.repeat(63)}.example`, port: 80 },
  },
  {
    name: 'name of 253 octets',
    input: `${['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.')}:80`,
    want: { host: ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.'), port: 80 },
  },
  {
    name: 'name of 253 octets plus the trailing dot',
    input: `${['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.')}.:80`,
    want: {
      host: ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.'),
      port: 80,
      absolute: true,
    },
  },
  {
    name: 'IDNA: Unicode name converted',
    input: 'bücher.example:80',
    want: { host: 'xn--bcher-kva.example', port: 80 },
  },
  {
    name: 'IDNA: uppercase Unicode',
    input: 'BÜCHER.example:80',
    want: { host: 'xn--bcher-kva.example', port: 80 },
  },
  {
    name: 'IDNA: ideographic full stop as trailing dot',
    input: 'bücher。example。:80',
    want: { host: 'xn--bcher-kva.example', port: 80, absolute: true },
  },
  {
    name: 'bare name with default port',
    input: 'example.com',
    defaultPort: 443,
    want: { host: 'example.com', port: 443 },
  },
  {
    name: 'explicit port beats default port',
    input: 'example.com:80',
    defaultPort: 443,
    want: { host: 'example.com', port: 80 },
  },
  // IP literals
  {
    name: 'IPv4',
    input: '192.0.2.1:80',
    want: { host: '192.0.2.1', port: 80, hostKind: 4, absolute: false },
  },
  {
    name: 'IPv4 without port, default',
    input: '192.0.2.1',
    defaultPort: 7,
    want: { host: '192.0.2.1', port: 7, hostKind: 4 },
  },
  {
    name: 'IPv6 in brackets',
    input: '[2001:db8::1]:443',
    want: { host: '2001:db8::1', port: 443, hostKind: 6 },
  },
  {
    name: 'IPv6 canonicalised (RFC 5952 §4)',
    input: '[2001:0DB8:0:0:0:0:0:0001]:443',
    want: { host: '2001:db8::1', port: 443, hostKind: 6 },
  },
  {
    name: 'IPv6: first longest zero run compressed',
    input: '[2001:db8:0:0:1:0:0:1]:1',
    want: { host: '2001:db8::1:0:0:1', port: 1 },
  },
  {
    name: 'IPv4-mapped IPv6 in mixed notation',
    input: '[::ffff:c000:201]:80',
    want: { host: '::ffff:192.0.2.1', port: 80, hostKind: 6 },
  },
  {
    name: 'IPv6 zone id kept',
    input: '[fe80::1%eth0]:80',
    want: { host: 'fe80::1%eth0', port: 80, hostKind: 6 },
  },
  { name: 'IPv6 zone id case kept', input: '[FE80::1%Eth0]:80', want: { host: 'fe80::1%Eth0', port: 80 } },
  {
    name: 'bracketed IPv6 without port, default',
    input: '[::1]',
    defaultPort: 9,
    want: { host: '::1', port: 9, hostKind: 6 },
  },
  // Plan 9 dial strings
  {
    name: 'dial string tcp!host!port',
    input: 'tcp!example.com!80',
    want: { host: 'example.com', port: 80, hostKind: 0 },
  },
  {
    name: 'dial string with service name',
    input: 'tcp!example.com!https',
    want: { host: 'example.com', port: 443 },
  },
  {
    name: 'dial string net!host!port',
    input: 'net!example.com!8080',
    want: { host: 'example.com', port: 8080 },
  },
  { name: 'dial string network is case-insensitive', input: 'TCP!h!1', want: { host: 'h', port: 1 } },
  {
    name: 'dial string with bare IPv6',
    input: 'tcp!2001:db8::1!22',
    want: { host: '2001:db8::1', port: 22, hostKind: 6 },
  },
  {
    name: 'dial string with bracketed IPv6',
    input: 'tcp![2001:db8::1]!22',
    want: { host: '2001:db8::1', port: 22 },
  },
  {
    name: 'dial string with IPv4',
    input: 'tcp!192.0.2.1!80',
    want: { host: '192.0.2.1', port: 80, hostKind: 4 },
  },
  {
    name: 'dial string without service, default',
    input: 'tcp!h',
    defaultPort: 80,
    want: { host: 'h', port: 80 },
  },
  // URLs
  {
    name: 'https URL, default port 443',
    input: 'https://example.com/path?q=1#f',
    want: { host: 'example.com', port: 443, scheme: 'https', tlsByDefault: true },
  },
  {
    name: 'http URL, default port 80',
    input: 'http://example.com',
    want: { host: 'example.com', port: 80, scheme: 'http', tlsByDefault: false },
  },
  {
    name: 'ws URL, default port 80',
    input: 'ws://example.com/chat',
    want: { host: 'example.com', port: 80, scheme: 'ws', tlsByDefault: false },
  },
  {
    name: 'wss URL, default port 443',
    input: 'wss://example.com/chat',
    want: { host: 'example.com', port: 443, scheme: 'wss', tlsByDefault: true },
  },
  {
    name: 'explicit URL port wins',
    input: 'https://example.com:8443/',
    want: { host: 'example.com', port: 8443, scheme: 'https' },
  },
  {
    name: 'URL port equal to the default',
    input: 'http://example.com:80/',
    want: { host: 'example.com', port: 80 },
  },
  {
    name: 'ftp URL port equal to its WHATWG default',
    input: 'ftp://example.com:21/',
    want: { host: 'example.com', port: 21 },
  },
  {
    name: 'URL scheme is case-insensitive',
    input: 'HTTPS://Example.COM',
    want: { host: 'example.com', port: 443, scheme: 'https' },
  },
  {
    name: 'URL userinfo ignored',
    input: 'http://user:pass@example.com:81/',
    want: { host: 'example.com', port: 81 },
  },
  {
    name: 'URL with IPv6',
    input: 'https://[2001:db8::1]:8443/',
    want: { host: '2001:db8::1', port: 8443, hostKind: 6 },
  },
  {
    name: 'URL with IPv4-mapped IPv6 (WHATWG prints hex, we print mixed)',
    input: 'http://[::ffff:192.0.2.1]/',
    want: { host: '::ffff:192.0.2.1', port: 80, hostKind: 6 },
  },
  {
    name: 'URL with IPv4',
    input: 'http://192.0.2.1:8080/',
    want: { host: '192.0.2.1', port: 8080, hostKind: 4 },
  },
  {
    name: 'special-scheme URL: the WHATWG parser has already read 127.1 as 127.0.0.1',
    input: 'http://127.1/',
    want: { host: '127.0.0.1', port: 80, hostKind: 4 },
  },
  {
    name: 'URL trailing dot: absolute',
    input: 'https://example.com./',
    want: { host: 'example.com', port: 443, absolute: true },
  },
  {
    name: 'URL IDNA host',
    input: 'https://bücher.example/',
    want: { host: 'xn--bcher-kva.example', port: 443 },
  },
  {
    name: 'tcp URL with port',
    input: 'tcp://example.com:5432',
    want: { host: 'example.com', port: 5432, scheme: 'tcp', tlsByDefault: false },
  },
  {
    name: 'tcp URL keeps case-insensitive host',
    input: 'tcp://EXAMPLE.com:1',
    want: { host: 'example.com', port: 1 },
  },
  {
    name: 'tcp URL with percent-encoded IDNA host',
    input: 'tcp://b%C3%BCcher.example:1',
    want: { host: 'xn--bcher-kva.example', port: 1 },
  },
  {
    name: 'tcp URL with IPv6',
    input: 'tcp://[2001:db8::1]:1',
    want: { host: '2001:db8::1', port: 1, hostKind: 6 },
  },
  {
    name: 'tls URL: TLS by default',
    input: 'tls://example.com:853',
    want: { host: 'example.com', port: 853, scheme: 'tls', tlsByDefault: true },
  },
  {
    name: 'unknown scheme with port',
    input: 'redis://example.com:6379/0',
    want: { host: 'example.com', port: 6379, scheme: 'redis', tlsByDefault: false },
  },
  {
    name: 'rediss: TLS by default',
    input: 'rediss://example.com:6380',
    want: { host: 'example.com', port: 6380, tlsByDefault: true },
  },
  {
    name: 'URL object',
    input: new URL('https://example.com/x'),
    want: { host: 'example.com', port: 443, scheme: 'https' },
  },
  {
    name: 'URL object with port',
    input: new URL('http://[::1]:3000/'),
    want: { host: '::1', port: 3000, hostKind: 6 },
  },
  // Objects
  {
    name: 'object host+port',
    input: { host: 'example.com', port: 443 },
    want: { host: 'example.com', port: 443 },
  },
  {
    name: 'object hostname+port',
    input: { hostname: 'example.com', port: 443 },
    want: { host: 'example.com', port: 443 },
  },
  {
    name: 'object: hostname wins over host (as Node http.request)',
    input: { host: 'example.com:8080', hostname: 'example.com', port: '8080' },
    want: { host: 'example.com', port: 8080 },
  },
  { name: 'object numeric string port', input: { host: 'h', port: '8080' }, want: { host: 'h', port: 8080 } },
  { name: 'object service name port', input: { host: 'h', port: 'https' }, want: { host: 'h', port: 443 } },
  {
    name: 'object bare IPv6 host',
    input: { host: '2001:db8::1', port: 1 },
    want: { host: '2001:db8::1', port: 1, hostKind: 6 },
  },
  {
    name: 'object bracketed IPv6 host',
    input: { host: '[2001:db8::1]', port: 1 },
    want: { host: '2001:db8::1', port: 1 },
  },
  {
    name: 'object zone id',
    input: { host: 'fe80::1%eth0', port: 1 },
    want: { host: 'fe80::1%eth0', port: 1 },
  },
  {
    name: 'object without port, default',
    input: { host: 'h' },
    defaultPort: 25,
    want: { host: 'h', port: 25 },
  },
  {
    name: 'object null port, default',
    input: { host: 'h', port: null },
    defaultPort: 25,
    want: { host: 'h', port: 25 },
  },
  {
    name: 'object scheme not set',
    input: { host: 'h', port: 1 },
    want: { host: 'h', port: 1, scheme: undefined, tlsByDefault: false },
  },
];

interface RejectCase {
  name: string;
  input: unknown;
  defaultPort?: number;
  /** Substring the message must contain (besides the quoted input). */
  message: string | RegExp;
}

const reject: RejectCase[] = [
  { name: 'empty string', input: '', message: 'empty host' },
  { name: 'empty host', input: ':80', message: 'empty host' },
  { name: 'empty label', input: 'a..b:80', message: 'empty label in host name' },
  { name: 'leading dot', input: '.example.com:80', message: 'empty label' },
  { name: 'two trailing dots', input: 'example.com..:80', message: 'empty label' },
  { name: 'only a dot', input: '.:80', message: 'empty host name' },
  { name: 'label over 63 octets', input: `${'a'.repeat(64)}.example:80`, message: 'longer than 63 octets' },
  {
    name: 'name over 253 octets',
    input: `${['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(62)].join('.')}:80`,
    message: 'longer than 253',
  },
  { name: 'space in name', input: 'exa mple.com:80', message: "character ' ' (space) not allowed" },
  { name: 'slash in name', input: 'a/b:80', message: "character '/' not allowed" },
  { name: 'at sign in name', input: 'user@host:80', message: "character '@' not allowed" },
  { name: 'control character in name', input: 'a\u0000b:80', message: 'character U+0000 not allowed' },
  { name: 'percent in name', input: 'ex%41mple:80', message: "character '%' not allowed" },
  { name: 'asterisk in name', input: 'a*b:80', message: "character '*' not allowed" },
  { name: 'IDNA maps to a forbidden ASCII character', input: 'ａ＊ｂ:80', message: 'after IDNA mapping' },
  { name: 'IDNA: label starting with a combining mark', input: '\u0301a.example:80', message: 'IDNA' },
  { name: 'IDNA: xn-- label with Unicode', input: 'xn--ü.example:80', message: 'IDNA' },
  { name: 'IDNA: no-break space', input: 'a\u00a0b.example:80', message: 'IDNA' },
  // numeric lookalikes: neither names nor dotted-quad IPv4
  { name: 'IPv4 shorthand 127.1', input: '127.1:80', message: 'dotted-quad' },
  { name: 'IPv4 hex 0x7f.1', input: '0x7f.1:80', message: 'dotted-quad' },
  { name: 'IPv4 hex 0x7f000001', input: '0x7f000001:80', message: 'dotted-quad' },
  { name: 'IPv4 octal 0177.0.0.1', input: '0177.0.0.1:80', message: 'dotted-quad' },
  { name: 'IPv4 leading zeros 010.0.0.1', input: '010.0.0.1:80', message: 'dotted-quad' },
  { name: 'IPv4 octet over 255', input: '256.1.1.1:80', message: 'dotted-quad' },
  { name: 'five numeric parts', input: '1.2.3.4.5:80', message: 'dotted-quad' },
  { name: 'all-numeric single label', input: '2130706433:80', message: 'dotted-quad' },
  { name: 'numeric top-level label', input: 'example.123:80', message: 'dotted-quad' },
  { name: 'fullwidth digits become an IPv4 lookalike', input: '１２７.１:80', message: /dotted-quad|IDNA/ },
  // ports
  { name: 'port missing', input: 'example.com', message: 'port missing' },
  { name: 'IPv4 port missing', input: '192.0.2.1', message: 'port missing' },
  { name: 'empty port', input: 'example.com:', message: 'empty port' },
  { name: 'port 0', input: 'example.com:0', message: 'port 0 is outside 1-65535' },
  { name: 'port 65536', input: 'example.com:65536', message: 'outside 1-65535' },
  { name: 'huge port', input: 'example.com:99999999999999999999', message: 'outside 1-65535' },
  { name: 'negative port', input: 'example.com:-1', message: 'neither a number' },
  { name: 'fractional port', input: 'example.com:1.5', message: 'neither a number' },
  { name: 'unknown service', input: 'example.com:no-such-service', message: 'known TCP service name' },
  { name: 'port with spaces', input: 'example.com: 80', message: 'neither a number' },
  // IPv6 and brackets
  { name: 'bare IPv6', input: '2001:db8::1', message: 'must be in brackets' },
  { name: 'bare IPv6 with port', input: '2001:db8::1:443', message: '"[2001:db8::1]:443"' },
  { name: 'bare ::1', input: '::1', message: 'must be in brackets' },
  { name: 'brackets around IPv4', input: '[192.0.2.1]:80', message: 'not an IPv6 address' },
  { name: 'brackets around a name', input: '[example.com]:80', message: 'not an IPv6 address' },
  { name: 'empty brackets', input: '[]:80', message: 'not an IPv6 address' },
  { name: 'missing closing bracket', input: '[::1:80', message: "missing ']'" },
  { name: 'text after bracket', input: '[::1]80', message: "after ']'" },
  { name: 'bad IPv6', input: '[2001:db8:::1]:80', message: 'not an IPv6 address' },
  { name: 'zone with forbidden char', input: '[fe80::1%eth/0]:80', message: 'not an IPv6 address' },
  { name: 'empty zone', input: '[fe80::1%]:80', message: 'not an IPv6 address' },
  // dial strings
  { name: 'udp dial string', input: 'udp!example.com!53', message: 'netdial dials TCP' },
  { name: 'unknown network', input: 'il!example.com!17008', message: 'unsupported network "il"' },
  { name: 'empty network', input: '!example.com!80', message: 'unsupported network ""' },
  { name: 'announce host *', input: 'tcp!*!80', message: 'host "*"' },
  { name: 'dial string empty host', input: 'tcp!!80', message: 'empty host' },
  { name: 'dial string too many fields', input: 'tcp!h!80!x', message: 'too many "!"' },
  { name: 'dial string unknown service', input: 'tcp!h!nope-nope', message: 'known TCP service name' },
  { name: 'dial string port 0', input: 'tcp!h!0', message: 'outside 1-65535' },
  { name: 'dial string missing service', input: 'tcp!h', message: 'port missing' },
  // URLs
  { name: 'tcp URL without port', input: 'tcp://example.com', message: 'scheme "tcp" has no default port' },
  { name: 'unknown scheme without port', input: 'gopher://example.com/', message: 'scheme "gopher"' },
  {
    name: 'default port does not apply to URLs',
    input: 'tcp://example.com',
    defaultPort: 80,
    message: 'scheme "tcp"',
  },
  { name: 'URL port 0', input: 'http://example.com:0/', message: 'port 0 is outside' },
  { name: 'URL port out of range', input: 'http://example.com:65536/', message: 'not a valid URL' },
  { name: 'URL with empty host', input: 'tcp://:80', message: /not a valid URL|empty host/ },
  { name: 'URL host with forbidden char', input: 'http://a*b.example/', message: "character '*'" },
  { name: 'URL with newline', input: 'http://exa\nmple.com/', message: 'U+000A not allowed in URL' },
  { name: 'URL with space', input: 'http://example.com /', message: 'not allowed in URL' },
  { name: 'URL with zone id', input: 'http://[fe80::1%25eth0]/', message: 'not a valid URL' },
  { name: 'URL empty label', input: 'tcp://a..b:1', message: 'empty label' },
  { name: 'file URL', input: 'file:///etc/hosts', message: 'empty host' },
  { name: 'URL object without default port', input: new URL('foo://example.com/'), message: 'scheme "foo"' },
  { name: 'URL object with empty host', input: new URL('mailto:a@b.example'), message: 'empty host' },
  // objects and other types
  { name: 'object without host', input: { port: 80 }, message: 'missing host' },
  { name: 'empty object', input: {}, message: 'missing host' },
  { name: 'array', input: ['example.com', 80], message: 'missing host' },
  { name: 'object host not a string', input: { host: 80, port: 80 }, message: 'host must be a string' },
  {
    name: 'object host with port inside',
    input: { host: 'example.com:80' },
    message: 'give the port in the port field',
  },
  { name: 'object without port', input: { host: 'example.com' }, message: 'port missing' },
  { name: 'object port 0', input: { host: 'h', port: 0 }, message: 'port 0 is outside' },
  { name: 'object port fractional', input: { host: 'h', port: 80.5 }, message: 'not an integer' },
  { name: 'object port NaN', input: { host: 'h', port: Number.NaN }, message: 'not an integer' },
  {
    name: 'object port boolean',
    input: { host: 'h', port: true },
    message: 'port must be a number or a string',
  },
  {
    name: 'object port unknown service',
    input: { host: 'h', port: 'nope-nope' },
    message: 'known TCP service',
  },
  { name: 'object empty host', input: { host: '', port: 1 }, message: 'empty host' },
  { name: 'number', input: 80, message: 'expected a string, a URL or a { host, port } object' },
  { name: 'null', input: null, message: 'got null' },
  { name: 'undefined', input: undefined, message: 'got undefined' },
  { name: 'function', input: () => 'example.com:80', message: 'got a function' },
  { name: 'symbol', input: Symbol('x'), message: 'got a symbol' },
  { name: 'bigint', input: 80n, message: 'got 80n' },
];

function checkFields(got: Target, want: Want): void {
  for (const [key, value] of Object.entries(want)) {
    assert.deepEqual(got[key as keyof Target], value, `field ${key}`);
  }
}

describe('parseTarget accepts', () => {
  for (const c of accept) {
    test(c.name, () => {
      const got = parseTarget(c.input, c.defaultPort);
      checkFields(got, c.want);
      assertValidTarget(got);
    });
  }
});

describe('parseTarget rejects', () => {
  for (const c of reject) {
    test(c.name, () => {
      assert.throws(
        () => parseTarget(c.input, c.defaultPort),
        (err: unknown) => {
          assert.ok(err instanceof TypeError, 'TypeError');
          assert.equal((err as { code?: unknown }).code, 'ERR_NETDIAL_INVALID_TARGET');
          assert.match(err.message, /^invalid target /);
          if (typeof c.message === 'string') assert.ok(err.message.includes(c.message), err.message);
          else assert.match(err.message, c.message);
          return true;
        },
      );
    });
  }

  test('message quotes the input and names the bad part', () => {
    assert.throws(() => parseTarget('a..b:80'), {
      name: 'TypeError',
      code: 'ERR_NETDIAL_INVALID_TARGET',
      message: 'invalid target "a..b:80": empty label in host name',
    });
    assert.throws(() => parseTarget({ host: 'a..b', port: 80 }), {
      message: 'invalid target { host: "a..b", port: 80 }: empty label in host name',
    });
  });

  test('a very long input is quoted truncated', () => {
    const err = captureError(() => parseTarget(`${'a'.repeat(5000)}:80`));
    assert.ok(err.message.length < 600, `message length ${err.message.length}`);
    assert.ok(err.message.includes('…'));
  });

  test('an invalid URL keeps the parser error as cause', () => {
    const err = captureError(() => parseTarget('http://[::1/'));
    assert.ok(err.cause instanceof Error);
  });
});

describe('parseTarget defaultPort option', () => {
  for (const bad of [0, 65536, 1.5, Number.NaN, '80' as unknown as number]) {
    test(`defaultPort ${String(bad)} is rejected with ERR_NETDIAL_INVALID_OPTION`, () => {
      assert.throws(() => parseTarget('h', bad), { name: 'TypeError', code: 'ERR_NETDIAL_INVALID_OPTION' });
    });
  }
});

function captureError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  assert.fail('expected an error');
}

describe('parseHost', () => {
  const cases: Array<[string, string, 0 | 4 | 6, boolean]> = [
    ['Example.COM.', 'example.com', 0, true],
    ['2001:DB8::1', '2001:db8::1', 6, false],
    ['[2001:db8::1]', '2001:db8::1', 6, false],
    ['192.0.2.1', '192.0.2.1', 4, false],
    ['fe80::1%eth0', 'fe80::1%eth0', 6, false],
  ];
  for (const [input, host, hostKind, absolute] of cases) {
    test(`${input} -> ${host}`, () => {
      assert.deepEqual(parseHost(input), { host, hostKind, absolute });
    });
  }
  test('rejects with the same code', () => {
    assert.throws(() => parseHost('a..b'), {
      code: 'ERR_NETDIAL_INVALID_TARGET',
      message: /^invalid host "a\.\.b": empty label/,
    });
    assert.throws(() => parseHost(5 as unknown as string), { code: 'ERR_NETDIAL_INVALID_TARGET' });
  });

  test('the same text twice: the same answer, a caller-owned copy each time (the last host is remembered)', () => {
    const first = parseHost('Repeat.Example.');
    first.host = 'changed.example';
    first.absolute = false;
    assert.deepEqual(parseHost('Repeat.Example.'), { host: 'repeat.example', hostKind: 0, absolute: true });
    assert.deepEqual(parseTarget({ host: 'Repeat.Example.', port: 1 }), {
      host: 'repeat.example',
      port: 1,
      hostKind: 0,
      absolute: true,
      tlsByDefault: false,
    });
  });

  test('what the last host was parsed under does not carry over: a bare IPv6 host in a URL is still refused', () => {
    const url = 'foo://2001%3Adb8%3A%3A7:80'; // an opaque host, percent-decoded to a bare IPv6 address
    assert.throws(() => parseTarget(url), {
      code: 'ERR_NETDIAL_INVALID_TARGET',
      message: /must be in brackets/,
    });
    assert.equal(parseHost('2001:db8::7').host, '2001:db8::7');
    assert.equal(parseTarget({ host: '2001:db8::7', port: 80 }).host, '2001:db8::7');
    assert.throws(() => parseTarget(url), {
      code: 'ERR_NETDIAL_INVALID_TARGET',
      message: /must be in brackets/,
    });
  });
});

describe('canonicalIP', () => {
  const cases: Array<[string, string | undefined]> = [
    ['192.0.2.1', '192.0.2.1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // RFC 5952 §4.2.3: first of equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // RFC 5952 §4.2.2: no :: for one zero
    ['2001:db8:0:0:0:1:0:0', '2001:db8::1:0:0'], // RFC 5952 §4.2.3: longest run
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['::ffff:c000:201', '::ffff:192.0.2.1'], // RFC 5952 §5 mixed notation for IPv4-mapped
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::c000:201', '::192.0.2.1'], // like inet_ntop: IPv4-compatible (deprecated) in mixed notation
    ['::0.1.0.0', '::0.1.0.0'],
    ['::0.0.0.2', '::2'],
    ['::ffff:0:0', '::ffff:0.0.0.0'],
    ['FE80::1%Eth0', 'fe80::1%Eth0'],
    ['1.2.3', undefined],
    ['01.2.3.4', undefined],
    ['[::1]', undefined],
    ['example.com', undefined],
    ['', undefined],
  ];
  for (const [input, want] of cases) {
    test(`${input || '(empty)'} -> ${want}`, () => {
      assert.equal(canonicalIP(input)?.address, want);
    });
  }

  test('IPv6 text equals what Node prints for socket addresses (inet_ntop), property', () => {
    fc.assert(
      fc.property(fc.ipV6(), (address) => {
        const ours = canonicalIP(address);
        const node = new SocketAddress({ address, family: 'ipv6' }).address;
        assert.equal(ours?.address, node);
        assert.equal(canonicalIP(node)?.address, node, 'idempotent');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('formatHostPort', () => {
  const cases: Array<[string, number, string]> = [
    ['example.com', 443, 'example.com:443'],
    ['192.0.2.1', 80, '192.0.2.1:80'],
    ['2001:db8::1', 443, '[2001:db8::1]:443'],
    ['fe80::1%eth0', 80, '[fe80::1%eth0]:80'],
  ];
  for (const [host, port, want] of cases) {
    test(want, () => {
      assert.equal(formatHostPort(host, port), want);
      const back = parseTarget(want);
      assert.equal(back.host, host);
      assert.equal(back.port, port);
    });
  }
});

describe('services', () => {
  test('parseServices reads tcp entries and aliases, first wins, ignores garbage', () => {
    const table = parseServices(
      [
        '# comment line',
        'http\t\t80/tcp\t\twww  # WorldWideWeb HTTP',
        'http\t\t8080/tcp',
        'domain 53/udp',
        'domain 53/tcp',
        'Kerberos 88/TCP kerberos5 krb5',
        'bad',
        'nope notaport/tcp',
        'zero 0/tcp',
        'big 65536/tcp',
        'sctponly 9/sctp',
        '   ',
        'crlf 7/tcp\r',
      ].join('\n'),
    );
    assert.deepEqual([...table.entries()].sort(), [
      ['crlf', 7],
      ['domain', 53],
      ['http', 80],
      ['kerberos', 88],
      ['kerberos5', 88],
      ['krb5', 88],
      ['www', 80],
    ]);
  });

  test('lookupService knows the built-in names whatever /etc/services says', () => {
    const want: Array<[string, number]> = [
      ['http', 80],
      ['https', 443],
      ['ssh', 22],
      ['smtp', 25],
      ['imaps', 993],
      ['ldaps', 636],
    ];
    for (const [name, port] of want) assert.equal(lookupService(name), port, name);
    // ws/wss are not IANA service names (RFC 6455 §3 reuses 80/443), so only the built-in table has them.
    assert.equal(lookupService('wss'), 443);
    assert.equal(lookupService('ws'), 80);
  });

  test('lookupService is case-insensitive and knows only names', () => {
    assert.equal(lookupService('HTTPS'), 443);
    assert.equal(lookupService('80'), undefined);
    assert.equal(lookupService(''), undefined);
    assert.equal(lookupService('no-such-service-here'), undefined);
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties

const NAME_RE = /^[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*$/;

/** What every Target must satisfy. */
function assertValidTarget(t: Target): void {
  assert.ok(Number.isInteger(t.port) && t.port >= 1 && t.port <= 65535, `port ${t.port}`);
  assert.equal(typeof t.host, 'string');
  assert.ok(t.host.length > 0, 'host non-empty');
  assert.equal(isIP(t.host), t.hostKind, `hostKind of ${t.host}`);
  assert.equal(typeof t.absolute, 'boolean');
  assert.equal(typeof t.tlsByDefault, 'boolean');
  assert.ok(t.scheme === undefined || /^[a-z][a-z0-9+.-]*$/.test(t.scheme));
  if (t.hostKind === 0) {
    assert.match(t.host, NAME_RE);
    assert.ok(t.host.length <= 253);
  } else {
    assert.equal(t.absolute, false);
  }
  // The host passes its own validation unchanged.
  assert.deepEqual(parseHost(t.host), { host: t.host, hostKind: t.hostKind, absolute: false });
  // And a formatted target parses back to it.
  const again = parseTarget(formatHostPort(t.host, t.port));
  assert.equal(again.host, t.host);
  assert.equal(again.port, t.port);
}

function acceptsOrRejectsCleanly(input: unknown, defaultPort?: number): void {
  let target: Target;
  try {
    target = parseTarget(input, defaultPort);
  } catch (err) {
    assert.ok(err instanceof TypeError, `not a TypeError: ${String(err)}`);
    assert.equal((err as { code?: unknown }).code, 'ERR_NETDIAL_INVALID_TARGET', err.message);
    assert.match(err.message, /^invalid target /);
    return;
  }
  assertValidTarget(target);
}

/** Characters that matter to the parser, to make hostile strings likely to reach deep branches. */
const TRICKY = fc.constantFrom(
  ...'aZ09_-.:[]!%@/*# \t\n\u0000\u007fxX'.split(''),
  '::',
  'ffff',
  '0x',
  '127',
  'xn--',
  'ü',
  '。',
  '％',
  'ａ',
  '\u200b',
  'https://',
  'tcp!',
  'tcp://',
  '%25',
  '255',
);
const trickyString = fc.array(TRICKY, { maxLength: 20 }).map((parts) => parts.join(''));

const portLike = fc.oneof(
  fc.integer({ min: -10, max: 70000 }),
  fc.double(),
  fc.string(),
  trickyString,
  fc.constantFrom('80', 'https', '0', '65536', ' 80', ''),
  fc.anything(),
);
const hostLike = fc.oneof(fc.string(), trickyString, fc.ipV6(), fc.ipV4(), fc.domain(), fc.anything());

describe('parseTarget properties', () => {
  test('any string: a valid Target or a coded TypeError', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), trickyString), (s) =>
        acceptsOrRejectsCleanly(s),
      ),
      { numRuns: 2000 },
    );
  });

  test('any string with a prefix that selects a parser branch', { timeout: 60_000 }, () => {
    const prefix = fc.constantFrom(
      'http://',
      'https://',
      'tcp://',
      'foo://',
      'tcp!',
      'net!',
      'udp!',
      '[',
      'h:',
      'tcp!h!',
    );
    fc.assert(
      fc.property(
        prefix,
        fc.oneof(fc.string(), trickyString),
        fc.option(fc.integer({ min: 1, max: 65535 })),
        (p, s, d) => acceptsOrRejectsCleanly(p + s, d ?? undefined),
      ),
      { numRuns: 2000 },
    );
  });

  test('any value and any { host, port }-ish object: a valid Target or a coded TypeError', {
    timeout: 60_000,
  }, () => {
    const objectish = fc.record({ host: hostLike, hostname: hostLike, port: portLike }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.oneof(fc.anything(), objectish, fc.object()), (value) => acceptsOrRejectsCleanly(value)),
      { numRuns: 2000 },
    );
  });

  test('any web URL (string and URL object): a valid Target or a coded TypeError', {
    timeout: 60_000,
  }, () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), (href) => {
        acceptsOrRejectsCleanly(href);
        acceptsOrRejectsCleanly(new URL(href));
      }),
      { numRuns: 2000 },
    );
  });
});

// Generators of valid hosts, each with the host parseTarget must return.
const labelChars = fc.constantFrom(
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'.split(''),
);
const label = fc
  .array(labelChars, { minLength: 1, maxLength: 20 })
  .map((cs) => cs.join(''))
  // An ASCII "xn--" label would be checked as Punycode by the URL parser; keep the generator simple.
  .filter((l) => !l.toLowerCase().startsWith('xn--'));
const lastLabel = fc
  .tuple(
    fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzQ_'.split('')),
    fc.array(labelChars, { maxLength: 10 }),
  )
  .map(([first, rest]) => first + rest.join(''));
const generatedName = fc
  .tuple(fc.array(label, { maxLength: 4 }), lastLabel, fc.boolean())
  .map(([labels, last, dot]) => {
    const name = [...labels, last].join('.');
    return { text: dot ? `${name}.` : name, host: name.toLowerCase(), hostKind: 0 as const, absolute: dot };
  });
const domainName = fc
  .domain()
  .filter((d) => !/(^|\.)xn--/.test(d))
  .map((d) => ({ text: d, host: d.toLowerCase(), hostKind: 0 as const, absolute: false }));
const v4 = fc.ipV4().map((a) => ({ text: a, host: a, hostKind: 4 as const, absolute: false }));
const v6 = fc.ipV6().map((a) => ({
  text: a,
  host: new SocketAddress({ address: a, family: 'ipv6' }).address,
  hostKind: 6 as const,
  absolute: false,
}));
const zone = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.-]{0,14}$/);
const v6WithZone = fc
  .tuple(v6, zone)
  .map(([a, z]) => ({ ...a, text: `${a.text}%${z}`, host: `${a.host}%${z}` }));
const anyHost = fc.oneof(generatedName, domainName, v4, v6);
const port = fc.integer({ min: 1, max: 65535 });

function roundTrip(
  input: unknown,
  want: { host: string; hostKind: 0 | 4 | 6; absolute: boolean },
  p: number,
): void {
  const got = parseTarget(input);
  assert.equal(got.host, want.host, `host of ${String(input)}`);
  assert.equal(got.port, p);
  assert.equal(got.hostKind, want.hostKind);
  assert.equal(got.absolute, want.absolute);
}

describe('parseTarget round trip (no wrong host)', () => {
  const bracket = (h: { text: string; hostKind: number }) => (h.hostKind === 6 ? `[${h.text}]` : h.text);

  test('"host:port" and "[v6]:port"', () => {
    fc.assert(
      fc.property(fc.oneof(anyHost, v6WithZone), port, (h, p) => roundTrip(`${bracket(h)}:${p}`, h, p)),
      { numRuns: 2000 },
    );
  });

  test('"tcp!host!port" (IPv6 bare)', () => {
    fc.assert(
      fc.property(fc.oneof(anyHost, v6WithZone), port, (h, p) => roundTrip(`tcp!${h.text}!${p}`, h, p)),
      { numRuns: 2000 },
    );
  });

  test('"http://host:port/"', () => {
    fc.assert(
      fc.property(anyHost, port, (h, p) => {
        roundTrip(`http://${bracket(h)}:${p}/`, h, p);
        roundTrip(new URL(`http://${bracket(h)}:${p}/`), h, p);
      }),
      { numRuns: 2000 },
    );
  });

  test('{ host, port } (IPv6 bare)', () => {
    fc.assert(
      fc.property(fc.oneof(anyHost, v6WithZone), port, (h, p) => {
        roundTrip({ host: h.text, port: p }, h, p);
        roundTrip({ hostname: h.text, port: String(p) }, h, p);
      }),
      { numRuns: 2000 },
    );
  });

  test('formatHostPort(parseTarget(x)) parses to the same target', () => {
    fc.assert(
      fc.property(fc.oneof(anyHost, v6WithZone), port, (h, p) => {
        const t = parseTarget({ host: h.text, port: p });
        const again = parseTarget(formatHostPort(t.host, t.port));
        assert.equal(again.host, t.host);
        assert.equal(again.port, t.port);
      }),
      { numRuns: 1000 },
    );
  });
});
