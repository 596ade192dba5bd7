/**
 * What a failed dial tells its reader, against a DNS server and closed ports on loopback: the count in
 * the message matches the connection attempts in `attempts`, a negative DNS answer (ENODATA) is no
 * failure when the other family answered, DNS failures that cost addresses are listed and named apart,
 * times are rounded to 0.1 ms, `util.inspect` is the message plus one line per attempt, and a missing
 * port suggests only forms that exist.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { Dialer, type DialerOptions, dial } from '../src/dialer.js';
import { type DialError, isDialError } from '../src/errors.js';

/** A loopback port nothing listens on (taken, then freed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function failure(promise: Promise<unknown>): Promise<DialError> {
  try {
    const socket = (await promise) as net.Socket;
    socket.destroy();
  } catch (err) {
    if (isDialError(err)) return err;
    throw err;
  }
  assert.fail('the dial succeeded');
}

const connectionAttempts = (e: DialError) => e.attempts.filter((a) => a.phase === 'tcp' || a.phase === 'tls');

describe('failed dials', () => {
  let dns: LabDnsServer;
  let options: DialerOptions;
  let port: number;
  before(async () => {
    port = await closedPort();
    dns = await startLoopbackDns(
      {
        'v4only.err.test': { A: ['127.0.0.1'] },
        'aaaa-servfail.err.test': { A: ['127.0.0.1'], fail: { AAAA: 'SERVFAIL' } },
        'two.err.test': { A: ['127.0.0.1', '127.0.0.2'] },
      },
      'err.test',
    );
    // 'dns' only: the host's resolver is never asked.
    options = {
      resolver: 'dns',
      nameservers: [`127.0.0.1:${dns.port}`],
      hostsPath: null,
      dnsTries: 1,
      dnsTimeoutMs: 1000,
      memory: false,
    };
  });
  after(() => dns.close());

  test('an IPv4-only name: the ENODATA answer for AAAA is not a failure, the count matches', async () => {
    const err = await failure(new Dialer(options).dial(`v4only.err.test:${port}`));
    assert.equal(err.code, 'ECONNREFUSED');
    assert.deepEqual(
      err.attempts.map((a) => `${a.phase} ${a.address} ${a.code}`),
      ['tcp 127.0.0.1 ECONNREFUSED'],
    );
    assert.match(err.message, /failed after 1 attempt in \d+ ms: 127\.0\.0\.1 ECONNREFUSED$/);
    // The negative answer is still there for whoever wants the whole story.
    const aaaa = err.report?.resolution.queries.find((q) => q.type === 'AAAA');
    assert.equal(aaaa?.code, 'ENODATA');
  });

  test('a DNS failure beside a connection failure: listed with phase dns and named apart', async () => {
    const err = await failure(new Dialer(options).dial(`aaaa-servfail.err.test:${port}`));
    assert.equal(err.code, 'ECONNREFUSED');
    assert.deepEqual(
      err.attempts.map((a) => `${a.phase} ${a.family} ${a.code}`),
      ['dns 6 ESERVFAIL', 'tcp 4 ECONNREFUSED'],
    );
    assert.equal(connectionAttempts(err).length, 1);
    assert.match(
      err.message,
      /failed after 1 attempt in \d+ ms: 127\.0\.0\.1 ECONNREFUSED \(DNS AAAA ESERVFAIL\)$/,
    );
  });

  test('the count is of connection attempts', async () => {
    const err = await failure(new Dialer(options).dial(`two.err.test:${port}`));
    const n = connectionAttempts(err).length;
    assert.equal(n, 2);
    assert.equal(err.attempts.length, n);
    assert.match(err.message, new RegExp(`failed after ${n} attempts in `));
  });

  test('a name that does not exist: the negative answers are the reason, listed with phase dns', async () => {
    const err = await failure(new Dialer(options).dial(`missing.err.test:${port}`));
    assert.equal(err.code, 'ENOTFOUND');
    assert.ok(err.attempts.length > 0);
    assert.ok(err.attempts.every((a) => a.phase === 'dns' && a.code === 'ENOTFOUND'));
  });

  test('attempt times and elapsedMs are rounded to 0.1 ms', async () => {
    const err = await failure(new Dialer(options).dial(`aaaa-servfail.err.test:${port}`));
    const tenths = (ms: number) => Math.abs(ms * 10 - Math.round(ms * 10)) < 1e-9;
    for (const a of err.attempts) {
      assert.ok(tenths(a.startMs), `startMs ${a.startMs}`);
      assert.ok(tenths(a.durationMs), `durationMs ${a.durationMs}`);
    }
    assert.ok(tenths(err.elapsedMs), `elapsedMs ${err.elapsedMs}`);
  });

  test('util.inspect shows the message and one line per attempt, not the report or internals', async () => {
    const err = await failure(new Dialer(options).dial(`aaaa-servfail.err.test:${port}`));
    const lines = inspect(err).split('\n');
    assert.equal(lines[0], `DialError [ECONNREFUSED]: ${err.message}`);
    assert.equal(lines.length, err.attempts.length + 2, lines.join('\n'));
    assert.match(
      lines[1]!,
      /^ {4}#1 dns AAAA aaaa-servfail\.err\.test: ESERVFAIL \(DNS server failure\) at [\d.]+ ms, after [\d.]+ ms/,
    );
    assert.match(
      lines[2]!,
      /^ {4}#2 tcp 127\.0\.0\.1 port \d+: ECONNREFUSED \(refused\) at [\d.]+ ms, after [\d.]+ ms$/,
    );
    assert.match(lines[3]!, /err\.attempts .*err\.report/);
    // Nested deeper than the depth asked for: one line.
    assert.equal(inspect({ a: { b: err } }, { depth: 0 }), '{ a: [Object] }');
    assert.equal(
      inspect({ a: err }, { depth: 0, breakLength: Number.POSITIVE_INFINITY }),
      `{ a: [DialError [ECONNREFUSED]: ${err.message}] }`,
    );
  });
});

describe('a target without a port', () => {
  for (const target of ['localhost', 'tcp!localhost', { host: 'localhost' }] as const) {
    test(`${JSON.stringify(target)}: the message suggests host:port or { host, port }, nothing else`, async () => {
      await assert.rejects(dial(target as string), (err: TypeError & { code?: string }) => {
        assert.equal(err.code, 'ERR_NETDIAL_INVALID_TARGET');
        assert.match(
          err.message,
          /port missing \(write ("tcp!host!port"|"host:port" or \{ host, port \}|\{ host, port \})\)$/,
        );
        assert.doesNotMatch(err.message, /default port/);
        return true;
      });
    });
  }
});

describe('an uncaught DialError prints short', () => {
  test('the report is not enumerable (still err.report), unset proxy fields are absent, attempt errors carry no build stack', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r())); // now refused
    const entry = new URL('../src/index.js', import.meta.url).href;
    const script = `const { dial } = await import(${JSON.stringify(entry)}); await dial('127.0.0.1:${port}');`;
    const run = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]).then(
      () => ({ stderr: '', code: 0 }),
      (e: { stderr: string; code: number }) => e,
    );
    assert.equal(run.code, 1);
    const lines = run.stderr.split('\n');
    assert.ok(
      lines.some((l) => l.startsWith('DialError: connect 127.0.0.1:')),
      run.stderr,
    );
    assert.ok(!/^\s+report: /m.test(run.stderr), 'the report is not printed');
    assert.ok(!/: undefined,?$/m.test(run.stderr), 'no property printed as undefined');
    assert.ok(lines.length < 60, `${lines.length} lines:\n${run.stderr}`);
    // In the process, the report is still there, and the error's own keys are what is printed.
    const err = (await dial(`127.0.0.1:${port}`).catch((e: unknown) => e)) as DialError;
    assert.ok(err.report?.attempts.length === 1);
    assert.ok(!Object.keys(err).includes('report'));
    for (const key of ['proxy', 'statusCode', 'socksReply']) assert.ok(!Object.hasOwn(err, key), key);
    assert.equal(err.errors[0].stack, `Error: ${err.attempts[0]!.message}`);
  });
});
