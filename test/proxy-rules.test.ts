// Pure tests: the proxy option, curl's environment rules with NO_PROXY, and the CONNECT / SOCKS5 codecs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { noProxyMatches, proxyFromEnv, proxyVariablesFor } from '../src/proxy/env-proxy.js';
import { ConnectResponseReader, connectRequest } from '../src/proxy/http-connect.js';
import { parseProxyOption } from '../src/proxy/proxy-option.js';
import { Socks5Handshake, socks5ConnectRequest, socksReplyCode } from '../src/proxy/socks5.js';
import { resolveOptions } from '../src/options.js';

describe('parseProxyOption', () => {
  test('URLs, defaults ports as curl, credentials decoded and kept out of display', () => {
    const p = parseProxyOption('http://us%40er:p%3Ass@Proxy.Example:3128');
    assert.ok(p !== undefined && p !== 'env');
    assert.equal(p.protocol, 'http');
    assert.equal(p.host, 'proxy.example');
    assert.equal(p.port, 3128);
    assert.equal(p.username, 'us@er');
    assert.equal(p.password, 'p:ss');
    assert.equal(p.display, 'http://us%40er@proxy.example:3128');
    assert.ok(!p.display.includes('p%3Ass'));
    const ports = ['http://p', 'https://p', 'socks5://p', 'socks5h://p'].map((u) => {
      const s = parseProxyOption(u);
      return s !== undefined && s !== 'env' ? s.port : 0;
    });
    assert.deepEqual(ports, [1080, 443, 1080, 1080]);
    // A port written in the URL is the port, also when it is the scheme's default (WHATWG URL drops it).
    const written = [
      'http://p:80',
      'http://u:pw@p:80/',
      'https://p:443',
      'http://[2001:db8::1]:80',
      'http://p:0080',
      new URL('http://p:80'),
    ].map((u) => {
      const s = parseProxyOption(u);
      return s !== undefined && s !== 'env' ? s.port : 0;
    });
    assert.deepEqual(written, [80, 80, 443, 80, 80, 1080]);
    const v6 = parseProxyOption('socks5://[2001:DB8::1]:1080');
    assert.ok(v6 !== undefined && v6 !== 'env');
    assert.equal(v6.host, '2001:db8::1');
    assert.equal(v6.display, 'socks5://[2001:db8::1]:1080');
    assert.equal(parseProxyOption('env'), 'env');
    assert.equal(parseProxyOption(false), undefined);
    assert.equal(parseProxyOption(undefined), undefined);
    const url = parseProxyOption(new URL('socks5h://proxy:9050'));
    assert.ok(url !== undefined && url !== 'env' && url.protocol === 'socks5h' && url.port === 9050);
  });

  test('bad values are TypeErrors naming the option, never echoing a password', () => {
    for (const [value, words] of [
      ['socks4://p:1080', /SOCKS4 is not supported/],
      ['ftp://p', /http, https, socks5 or socks5h/],
      ['proxy:3128', /scheme must be|not a URL/],
      ['http://p:3128/path', /no path/],
      ['http://', /not a URL|no host/],
      [true, /expected a proxy URL/],
      [3128, /expected a proxy URL/],
      [null, /got null/],
      [`socks5://${'u'.repeat(256)}:secret@p`, /at most 255 bytes/],
    ] as const) {
      assert.throws(
        () => parseProxyOption(value),
        (err: TypeError & { code?: string; option?: string }) => {
          assert.equal(err.code, 'ERR_NETDIAL_INVALID_OPTION');
          assert.equal(err.option, 'proxy');
          assert.match(err.message, words);
          assert.ok(!err.message.includes('secret'));
          return true;
        },
        String(value),
      );
    }
  });

  test('the dial options take proxy and proxyResolvesNames, validated', () => {
    const cfg = resolveOptions({ proxy: 'socks5://p:1', proxyResolvesNames: true });
    assert.equal(cfg.proxyResolvesNames, true);
    assert.ok(cfg.proxy !== undefined && cfg.proxy !== 'env' && cfg.proxy.port === 1);
    assert.throws(() => resolveOptions({ proxyResolvesNames: 'yes' }), /proxyResolvesNames/);
    assert.throws(() => resolveOptions({ proxi: 'env' }), /did you mean proxy\?/);
    // A dial's proxy: false turns off its Dialer's proxy.
    assert.equal(resolveOptions({ proxy: false }, cfg).proxy, undefined);
  });
});

describe("proxy: 'env' (curl's rules)", () => {
  const target = (scheme?: string, tls = false) => ({ host: 'www.example.com', port: 443, scheme, tls });
  test('which variables apply to which target', () => {
    assert.deepEqual(proxyVariablesFor({ scheme: 'https', tls: true }), [
      'https_proxy',
      'HTTPS_PROXY',
      'all_proxy',
      'ALL_PROXY',
    ]);
    assert.deepEqual(proxyVariablesFor({ scheme: 'wss', tls: false }).slice(0, 2), [
      'https_proxy',
      'HTTPS_PROXY',
    ]);
    assert.deepEqual(proxyVariablesFor({ scheme: undefined, tls: true }).slice(0, 1), ['https_proxy']);
    // http_proxy lower case only (httpoxy), as curl.
    assert.deepEqual(proxyVariablesFor({ scheme: 'http', tls: false }), [
      'http_proxy',
      'all_proxy',
      'ALL_PROXY',
    ]);
    assert.deepEqual(proxyVariablesFor({ scheme: 'ws', tls: false })[0], 'http_proxy');
    assert.deepEqual(proxyVariablesFor({ scheme: undefined, tls: false }), ['all_proxy', 'ALL_PROXY']);
  });

  test('lower case wins, empty counts as unset, a bare host:port is http://, HTTP_PROXY is ignored', () => {
    const spec = proxyFromEnv({ HTTPS_PROXY: 'http://upper:1', https_proxy: 'lower:3128' }, target('https'));
    assert.equal(spec?.display, 'http://lower:3128');
    assert.equal(proxyFromEnv({ https_proxy: '', HTTPS_PROXY: 'http://u:2' }, target('https'))?.host, 'u');
    assert.equal(proxyFromEnv({ HTTP_PROXY: 'http://evil:1' }, target('http')), undefined);
    assert.equal(proxyFromEnv({ http_proxy: 'http://ok:1' }, target('http'))?.host, 'ok');
    assert.equal(proxyFromEnv({ ALL_PROXY: 'socks5h://s:9' }, target())?.protocol, 'socks5h');
    assert.equal(proxyFromEnv({ https_proxy: 'http://h:1' }, target()), undefined);
    assert.equal(proxyFromEnv({}, target('https')), undefined);
    assert.throws(
      () => proxyFromEnv({ all_proxy: 'gopher://x' }, target()),
      (e: TypeError & { option: string }) => e.option === 'all_proxy',
    );
  });

  test('NO_PROXY turns the proxy off for what it lists', () => {
    const env = { all_proxy: 'http://p:1', NO_PROXY: 'example.com' };
    assert.equal(proxyFromEnv(env, target()), undefined);
    assert.equal(proxyFromEnv({ ...env, no_proxy: 'other.test' }, target())?.host, 'p');
  });

  test('NO_PROXY matching: *, suffixes with and without a dot, IP literals, CIDR, :port', () => {
    const cases: Array<[string, string, number, boolean]> = [
      ['*', 'anything.test', 80, true],
      ['example.com', 'example.com', 80, true],
      ['example.com', 'www.example.com', 80, true],
      ['.example.com', 'www.example.com', 80, true],
      ['.example.com', 'example.com', 80, true],
      ['example.com', 'notexample.com', 80, false],
      ['example.com.', 'WWW.Example.COM', 80, true],
      ['example.com', 'example.com.', 80, true],
      ['a.test, b.test', 'x.b.test', 80, true],
      ['a.test b.test', 'b.test', 80, true],
      ['192.0.2.1', '192.0.2.1', 80, true],
      ['192.0.2.1', '192.0.2.10', 80, false],
      ['192.0.2.0/24', '192.0.2.77', 80, true],
      ['192.0.2.0/24', '192.0.3.1', 80, false],
      ['2001:db8::/32', '2001:db8:1::5', 80, true],
      ['[2001:db8::1]', '2001:db8::1', 80, true],
      ['[2001:db8::]/48', '2001:db8:0:1::1', 80, true],
      ['2001:db8::1', '2001:db8::2', 80, false],
      ['192.0.2.0/24', 'example.com', 80, false],
      ['example.com', '192.0.2.1', 80, false],
      ['example.com:443', 'www.example.com', 443, true],
      ['example.com:443', 'www.example.com', 80, false],
      ['192.0.2.1:8080', '192.0.2.1', 8080, true],
      ['192.0.2.1:8080', '192.0.2.1', 80, false],
      ['[2001:db8::1]:443', '2001:db8::1', 443, true],
      ['[2001:db8::1]:443', '2001:db8::1', 444, false],
      ['', 'example.com', 80, false],
      ['.', 'example.com', 80, false],
      ['192.0.2.0/99', '192.0.2.1', 80, false],
      // IPv6 CIDR: any spelling of the address, a zone id ignored; bits after the prefix ignored (curl).
      ['2001:db8:abcd::/48', '2001:DB8:ABCD:0:0:0:0:7', 80, true],
      ['2001:db8:abcd::/48', '2001:db8:abce::1', 80, false],
      ['2001:db8::5/32', '2001:db8:ffff::1', 80, true],
      ['192.0.2.77/24', '192.0.2.1', 80, true],
      // The prefix length is a number as curl reads it: leading zeros allowed.
      ['192.0.2.0/024', '192.0.2.1', 80, true],
      ['2001:db8::/032', '2001:db8:ffff::1', 80, true],
      ['192.0.2.0/0033', '192.0.2.1', 80, false],
      ['fe80::/10', 'fe80::1%eth0', 80, true],
      // Families never cross: an IPv4 range does not match an IPv4-mapped IPv6 target.
      ['192.0.2.0/24', '::ffff:192.0.2.1', 80, false],
      // A bad CIDR entry is ignored, as curl does; the entries after it still count.
      [
        '2001:db8::/129, 192.0.2.0/33, 300.1.2.3/8, 2001:db8::zz/64, 192.0.2.0/x, 198.51.100.0/24',
        '198.51.100.9',
        80,
        true,
      ],
      ['2001:db8::/129', '2001:db8::1', 80, false],
      ['2001:db8::zz/64, 192.0.2.0/x', '192.0.2.1', 80, false],
    ];
    for (const [list, host, port, want] of cases) {
      assert.equal(noProxyMatches(list, host, port), want, `${JSON.stringify(list)} ${host}:${port}`);
    }
  });
});

describe('HTTP CONNECT codec', () => {
  test('request with Basic auth, IPv6 in brackets', () => {
    assert.equal(
      connectRequest('2001:db8::1', 443, { username: 'u', password: 'p:w' }),
      'CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n' +
        `Proxy-Authorization: Basic ${Buffer.from('u:p:w').toString('base64')}\r\n\r\n`,
    );
    assert.equal(connectRequest('h', 80), 'CONNECT h:80 HTTP/1.1\r\nHost: h:80\r\n\r\n');
  });

  test("response split anywhere; bytes after the header block are the tunnel's", () => {
    const whole = Buffer.from('HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\nHELLO');
    for (let cut = 1; cut < whole.length; cut++) {
      const r = new ConnectResponseReader();
      const first = r.push(whole.subarray(0, cut));
      const out = first.type === 'more' ? r.push(whole.subarray(cut)) : first;
      assert.equal(out.type, 'done', `cut ${cut}`);
      if (out.type === 'done') {
        assert.equal(out.statusCode, 200);
        // What the reader did not get yet is still on the wire: together, exactly the tunnel's bytes.
        const later = first.type === 'more' ? '' : whole.subarray(cut).toString();
        assert.equal(out.rest.toString() + later, 'HELLO', `cut ${cut}`);
      }
    }
  });

  test('bounded: a header block past the limit is refused, not buffered on', () => {
    const r = new ConnectResponseReader(64);
    assert.equal(r.push(Buffer.from('HTTP/1.1 200 OK\r\n')).type, 'more');
    const out = r.push(Buffer.from(`X-Pad: ${'a'.repeat(100)}\r\n`));
    assert.equal(out.type, 'invalid');
    assert.equal(new ConnectResponseReader().push(Buffer.from('SSH-2.0-OpenSSH\r\n')).type, 'invalid');
    const bad = new ConnectResponseReader().push(Buffer.from('HTTP/2 200\r\n\r\n'));
    assert.equal(bad.type, 'invalid');
  });

  test('interim 1xx responses are skipped (RFC 9110 §15.2), split anywhere; 101 is final', () => {
    const whole = Buffer.from(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\nHTTP/1.1 200 OK\r\n\r\nAFTER',
    );
    for (let cut = 1; cut < whole.length; cut++) {
      const r = new ConnectResponseReader();
      const first = r.push(whole.subarray(0, cut));
      const out = first.type === 'more' ? r.push(whole.subarray(cut)) : first;
      assert.equal(out.type, 'done', `cut ${cut}`);
      if (out.type === 'done') {
        assert.equal(out.statusCode, 200, `cut ${cut}`);
        const later = first.type === 'more' ? '' : whole.subarray(cut).toString();
        assert.equal(out.rest.toString() + later, 'AFTER', `cut ${cut}`);
      }
    }
    const upgraded = new ConnectResponseReader().push(Buffer.from('HTTP/1.1 101 Switching\r\n\r\n'));
    assert.equal(upgraded.type === 'done' && upgraded.statusCode, 101);
    // Endless interim responses are bounded like one long header block.
    const r = new ConnectResponseReader(256);
    let out: ReturnType<ConnectResponseReader['push']> = { type: 'more' };
    for (let i = 0; i < 100 && out.type === 'more'; i++)
      out = r.push(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'));
    assert.equal(out.type, 'invalid');
  });

  test('bare-LF line ends are accepted (RFC 9112 §2.2), mixed with CRLF, split anywhere', () => {
    for (const text of [
      'HTTP/1.1 200 OK\n\nBODY',
      'HTTP/1.1 200 OK\nVia: x\r\n\nBODY',
      'HTTP/1.1 200 OK\r\n\r\nBODY',
    ]) {
      const whole = Buffer.from(text);
      for (let cut = 1; cut < whole.length; cut++) {
        const r = new ConnectResponseReader();
        const first = r.push(whole.subarray(0, cut));
        const out = first.type === 'more' ? r.push(whole.subarray(cut)) : first;
        assert.equal(out.type, 'done', `${JSON.stringify(text)} cut ${cut}`);
        if (out.type === 'done') {
          const later = first.type === 'more' ? '' : whole.subarray(cut).toString();
          assert.equal(out.rest.toString() + later, 'BODY', `${JSON.stringify(text)} cut ${cut}`);
        }
      }
    }
  });

  test('a status line that is not HTTP/1.x is refused when its line ends, not at the timeout', () => {
    const r = new ConnectResponseReader();
    const out = r.push(Buffer.from('HTTP/2 200\n'));
    assert.equal(out.type, 'invalid');
    assert.equal(new ConnectResponseReader().push(Buffer.from('HTTP\n')).type, 'invalid');
    assert.equal(new ConnectResponseReader().push(Buffer.from('HTTP/1.1 200 OK\n')).type, 'more');
  });
});

describe('SOCKS5 codec (RFC 1928, RFC 1929)', () => {
  test('CONNECT requests for IPv4, IPv6 and names', () => {
    assert.deepEqual([...socks5ConnectRequest('192.0.2.1', 443)], [5, 1, 0, 1, 192, 0, 2, 1, 1, 187]);
    const v6 = socks5ConnectRequest('2001:db8::1', 80);
    assert.deepEqual([...v6.subarray(0, 4)], [5, 1, 0, 4]);
    assert.equal(v6.length, 4 + 16 + 2);
    assert.deepEqual([...v6.subarray(4, 8)], [0x20, 0x01, 0x0d, 0xb8]);
    assert.equal(v6[19], 1);
    assert.deepEqual([...socks5ConnectRequest('ab.c', 80)], [5, 1, 0, 3, 4, 97, 98, 46, 99, 0, 80]);
  });

  test('no-auth handshake, reply split, trailing bytes kept', () => {
    const h = new Socks5Handshake('192.0.2.1', 80, { username: undefined, password: undefined });
    assert.deepEqual([...h.start()], [5, 1, 0]);
    const sent = h.push(Buffer.from([5, 0]));
    assert.equal(sent.type, 'send');
    assert.equal(h.push(Buffer.from([5, 0, 0])).type, 'more');
    const done = h.push(Buffer.from([1, 192, 0, 2, 9, 0, 80, 0x41, 0x42]));
    assert.equal(done.type, 'done');
    if (done.type === 'done') assert.equal(done.rest.toString(), 'AB');
  });

  test('username/password (RFC 1929), refusal and reply codes', () => {
    const h = new Socks5Handshake('x.test', 80, { username: 'user', password: 'pw' });
    assert.deepEqual([...h.start()], [5, 2, 0, 2]);
    const auth = h.push(Buffer.from([5, 2]));
    assert.ok(auth.type === 'send');
    if (auth.type === 'send') assert.deepEqual([...auth.data], [1, 4, 117, 115, 101, 114, 2, 112, 119]);
    assert.equal(h.push(Buffer.from([1, 1])).type, 'failed');

    const noCreds = new Socks5Handshake('x.test', 80, { username: undefined, password: undefined });
    noCreds.start();
    const refused = noCreds.push(Buffer.from([5, 0xff]));
    assert.ok(refused.type === 'failed' && /requires authentication/.test(refused.message));

    const r = new Socks5Handshake('x.test', 80, { username: undefined, password: undefined });
    r.start();
    r.push(Buffer.from([5, 0]));
    const reply = r.push(Buffer.from([5, 2, 0, 1, 0, 0, 0, 0, 0, 0]));
    assert.ok(reply.type === 'failed' && reply.reply === 2 && /not allowed by ruleset/.test(reply.message));
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map(socksReplyCode), [
      'ERR_NETDIAL_PROXY',
      'ERR_NETDIAL_PROXY',
      'ENETUNREACH',
      'EHOSTUNREACH',
      'ECONNREFUSED',
      'ETIMEDOUT',
      'ERR_NETDIAL_PROXY',
      'ERR_NETDIAL_PROXY',
    ]);
  });
});
