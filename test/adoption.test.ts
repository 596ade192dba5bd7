/**
 * The pure parts of netdial/register: the NETDIAL_* table (each variable's accepted and refused values,
 * empty = unset, typo suggestions, NETDIAL_PROXY as the proxy option), the trace line of a connected and
 * of a failed dial, and the memory file: bounded text (LRU entries cut first), atomic write (no temporary
 * left, old file intact on failure), load of missing / oversized / corrupt / foreign files, and a real
 * Dialer's memory surviving the round trip.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, describe, test } from 'node:test';
import { parsePolicy, readEnvironment } from '../src/adoption/environment.js';
import {
  boundedMemoryText,
  loadMemoryFile,
  MAX_MEMORY_FILE_BYTES,
  writeFileAtomically,
} from '../src/adoption/memory-file.js';
import { doneLine, errorLine } from '../src/adoption/trace-line.js';
import type { DialDoneEvent, DialErrorEvent } from '../src/diagnostics.js';
import { Dialer, DialError, PUBLIC_INTERNET_ONLY, type ResolveFunction } from '../src/index.js';
import type { MemoryJson } from '../src/memory/dial-memory.js';
import type { DialReport } from '../src/report.js';
import { compilePolicy, type PolicySpec } from '../src/policy/policy.js';

describe('the NETDIAL_* variables', () => {
  test('empty environment: nothing set', () => {
    assert.deepEqual(readEnvironment({}, '/work'), {
      dialer: {},
      trace: false,
      memoryFile: undefined,
      allowUnixSockets: false,
      allowUncoveredFetch: false,
    });
  });

  test('NETDIAL_ALLOW_UNIX_SOCKETS and NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH: switches', () => {
    const on = readEnvironment(
      { NETDIAL_ALLOW_UNIX_SOCKETS: 'yes', NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH: '1' },
      '/',
    );
    assert.equal(on.allowUnixSockets, true);
    assert.equal(on.allowUncoveredFetch, true);
    assert.throws(
      () => readEnvironment({ NETDIAL_ALLOW_UNIX_SOCKETS: 'sure' }, '/'),
      /^TypeError: NETDIAL_ALLOW_UNIX_SOCKETS: expected 1, true, yes or on/,
    );
  });

  test('NETDIAL_POLICY: public, a comma list of classes and CIDRs, public inside a list', () => {
    assert.equal(parsePolicy('public'), 'public');
    assert.deepEqual(parsePolicy('loopback, 198.51.100.0/24,2001:db8::/32'), {
      deny: ['loopback', '198.51.100.0/24', '2001:db8::/32'],
    });
    assert.deepEqual(parsePolicy('public,198.18.0.0/15,loopback'), {
      deny: [...PUBLIC_INTERNET_ONLY.deny, '198.18.0.0/15'],
    });
    assert.deepEqual(readEnvironment({ NETDIAL_POLICY: ' public ' }, '/').dialer, { policy: 'public' });
    assert.throws(
      () => parsePolicy('loopback,'),
      /^TypeError: NETDIAL_POLICY: item 2 of "loopback," is empty/,
    );
    assert.throws(
      () => parsePolicy('192.0.2.0/33'),
      /^TypeError: NETDIAL_POLICY: item 1 of "192\.0\.2\.0\/33": /,
    );
    assert.throws(() => parsePolicy('Loopback'), /got "Loopback"/);
  });

  test('NETDIAL_POLICY: proxy:ENTRY items are the allowProxy entries (a proxy there is dialled, a target is not)', () => {
    assert.deepEqual(parsePolicy('public,proxy:127.0.0.1,proxy:198.51.100.0/24'), {
      deny: [...PUBLIC_INTERNET_ONLY.deny],
      allowProxy: ['127.0.0.1', '198.51.100.0/24'],
    });
    const { policy } = readEnvironment({ NETDIAL_POLICY: 'public,proxy:loopback' }, '/').dialer;
    const compiled = compilePolicy(policy as PolicySpec);
    assert.equal(compiled.check('127.0.0.1').allowed, false);
    assert.equal(compiled.forProxy.check('127.0.0.1').allowed, true);
    assert.throws(
      () => parsePolicy('public,proxy:proxy.corp'),
      /^TypeError: NETDIAL_POLICY: item 2 of "public,proxy:proxy\.corp": expected an address class/,
    );
  });

  test('NETDIAL_TRACE: 1/true/yes/on and 0/false/no/off, anything else refused', () => {
    for (const on of ['1', 'true', 'YES', 'on'])
      assert.equal(readEnvironment({ NETDIAL_TRACE: on }, '/').trace, true);
    for (const off of ['0', 'false', 'no', 'OFF'])
      assert.equal(readEnvironment({ NETDIAL_TRACE: off }, '/').trace, false);
    assert.throws(
      () => readEnvironment({ NETDIAL_TRACE: '2' }, '/'),
      /^TypeError: NETDIAL_TRACE: expected 1, true, yes or on \(or 0, false, no, off\), got "2"$/,
    );
  });

  test('NETDIAL_MEMORY_FILE: made absolute against the working directory', () => {
    assert.equal(
      readEnvironment({ NETDIAL_MEMORY_FILE: 'm.json' }, '/srv/app').memoryFile,
      '/srv/app/m.json',
    );
    assert.equal(readEnvironment({ NETDIAL_MEMORY_FILE: '/tmp/m.json' }, '/srv').memoryFile, '/tmp/m.json');
  });

  test('an empty value is unset; other NETDIAL_ names are left alone unless one typo from a known one', () => {
    assert.deepEqual(
      readEnvironment({ NETDIAL_POLICY: '', NETDIAL_TRACE: ' ', NETDIAL_PROXY: '' }, '/').dialer,
      {},
    );
    assert.doesNotThrow(() => readEnvironment({ NETDIAL_LAB_INSIDE: '1', NETDIAL_OTHER_TOOL: 'x' }, '/'));
    assert.throws(
      () => readEnvironment({ NETDIAL_MEMORYFILE: '/tmp/m' }, '/'),
      /^TypeError: NETDIAL_MEMORYFILE: unknown variable; did you mean NETDIAL_MEMORY_FILE\?$/,
    );
  });

  test('NETDIAL_PROXY: a proxy URL or env becomes the proxy option; a bad value is refused at start', () => {
    assert.equal(readEnvironment({ NETDIAL_PROXY: 'env' }, '/').dialer.proxy, 'env');
    assert.equal(
      readEnvironment({ NETDIAL_PROXY: 'socks5h://proxy.test:1080' }, '/').dialer.proxy,
      'socks5h://proxy.test:1080',
    );
    for (const bad of ['proxy.test', 'socks4://proxy.test:1080', 'http://proxy.test:99999']) {
      assert.throws(
        () => readEnvironment({ NETDIAL_PROXY: bad }, '/'),
        (err: Error & { code?: string; variable?: string }) =>
          err instanceof TypeError &&
          err.message.startsWith('NETDIAL_PROXY: ') &&
          err.code === 'ERR_NETDIAL_INVALID_ENV' &&
          err.variable === 'NETDIAL_PROXY',
        bad,
      );
    }
  });
});

/** A report as a dial makes it, with what the trace line reads. */
function report(overrides: Partial<DialReport> = {}): DialReport {
  return {
    host: 'example.test',
    port: 443,
    startedAt: new Date(0).toISOString(),
    durationMs: 251.94,
    resolution: { queries: [] },
    order: [],
    decisions: {
      attemptDelayMs: 250,
      attemptDelaySource: 'default',
      memory: true,
      demoted: [],
      shuffled: false,
    },
    settings: { attemptDelayMs: 250, resolutionDelayMs: 50, maxConcurrentAttempts: 6, timeoutMs: 10_000 },
    attempts: [
      {
        address: '2001:db8:3::1',
        family: 6,
        port: 443,
        startMs: 1,
        endMs: 251.3,
        outcome: 'cancelled',
        trigger: 'first',
      },
      {
        address: '203.0.113.1',
        family: 4,
        port: 443,
        startMs: 251,
        endMs: 251.44,
        outcome: 'connected',
        trigger: 'delay',
      },
    ],
    ...overrides,
  };
}

function done(r: DialReport, host = 'example.test'): DialDoneEvent {
  return {
    dialId: 1,
    host,
    port: 443,
    atMs: r.durationMs,
    durationMs: r.durationMs,
    address: '203.0.113.1',
    family: 4,
    report: r,
    socket: undefined as never,
  };
}

describe('the NETDIAL_TRACE line', () => {
  test('a connected dial: name, winner, time, every attempt', () => {
    assert.equal(
      doneLine(done(report())),
      'netdial: example.test:443 via 203.0.113.1 in 251.9 ms, 2 attempts: 2001:db8:3::1 cancelled after 250.3 ms, 203.0.113.1 connected in 0.4 ms',
    );
  });

  test('what memory changed, TLS time, failed attempts, an IPv6 literal host', () => {
    const r = report({
      decisions: { ...report().decisions, demoted: ['[2001:db8:3::1]:443'], explored: '198.51.100.7:443' },
      attempts: [
        {
          address: '203.0.113.129',
          family: 4,
          port: 443,
          startMs: 0,
          endMs: 1.25,
          outcome: 'failed',
          code: 'ECONNREFUSED',
          trigger: 'first',
        },
        {
          address: '203.0.113.1',
          family: 4,
          port: 443,
          startMs: 1.3,
          endMs: 1.8,
          outcome: 'connected',
          trigger: 'failure',
        },
      ],
      tls: { startMs: 1.8, endMs: 4.9 },
    });
    assert.equal(
      doneLine(done(r, '2001:db8::1')),
      'netdial: [2001:db8::1]:443 via 203.0.113.1 in 251.9 ms, TLS 3.1 ms, 2 attempts: 203.0.113.129 ECONNREFUSED after 1.3 ms, 203.0.113.1 connected in 0.5 ms; remembered: [2001:db8:3::1]:443 demoted, 198.51.100.7:443 explored',
    );
  });

  test('a failed dial: its error message; another error: its name and code', () => {
    const error = new DialError({
      host: 'example.test',
      port: 80,
      code: 'ECONNREFUSED',
      message: 'connect example.test:80 failed after 1 attempt in 1.0 ms: 203.0.113.129 ECONNREFUSED',
      attempts: [],
      elapsedMs: 1,
    });
    const event: DialErrorEvent = {
      dialId: 2,
      host: 'example.test',
      port: 80,
      atMs: 1,
      durationMs: 1,
      error,
      code: 'ECONNREFUSED',
    };
    assert.equal(errorLine(event), `netdial: ${error.message}`);
    const aborted = Object.assign(new Error('the request was aborted\nsecond line'), { name: 'AbortError' });
    assert.equal(
      errorLine({ ...event, error: aborted, code: 'ABORT_ERR', durationMs: 12.34 }),
      'netdial: example.test:80 AbortError (ABORT_ERR) after 12.3 ms: the request was aborted',
    );
  });
});

describe('the memory file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netdial-memory-file-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A snapshot with `n` DNS names and `n` endpoints, oldest first. */
  function snapshotOf(n: number): MemoryJson {
    return {
      version: 1,
      dns: {
        version: 1,
        wallClockMs: Date.now(),
        entries: Array.from({ length: n }, (_, i) => ({
          name: `name-${i}.example.test`,
          type: 'A' as const,
          records: ['192.0.2.1'],
          freshForMs: 60_000,
          ttlSeconds: 60,
        })),
      },
      endpoints: {
        version: 1,
        wallClockMs: Date.now(),
        endpoints: Array.from({ length: n }, (_, i) => ({
          address: `2001:db8::${(i + 1).toString(16)}`,
          port: 443,
          lastOutcome: 'success' as const,
          lastAgeMs: 10,
          consecutiveFailures: 0,
          srttMs: 12,
          rttvarMs: 3,
        })),
      },
    };
  }

  test('bounded: a snapshot too large loses its least recently used entries first, and fits', () => {
    const json = snapshotOf(2000);
    const whole = boundedMemoryText(json, 10 * MAX_MEMORY_FILE_BYTES);
    assert.deepEqual(JSON.parse(whole), json);
    const maxBytes = 40_000;
    const text = boundedMemoryText(json, maxBytes);
    assert.ok(Buffer.byteLength(text) <= maxBytes, `${Buffer.byteLength(text)} bytes`);
    assert.ok(Buffer.byteLength(text) > maxBytes / 2, 'not cut far more than needed');
    const cut = JSON.parse(text) as MemoryJson;
    assert.ok(cut.dns.entries.length > 0 && cut.dns.entries.length < 2000);
    assert.equal(cut.dns.entries.at(-1)?.name, 'name-1999.example.test', 'the most recent name kept');
    assert.equal(cut.endpoints.endpoints.at(-1)?.address, json.endpoints.endpoints.at(-1)?.address);
  });

  test('atomic write: the file appears whole, no temporary is left, a failed write keeps the old file', () => {
    const sub = mkdtempSync(join(dir, 'atomic-'));
    const file = join(sub, 'memory.json');
    writeFileAtomically(file, 'first\n');
    writeFileAtomically(file, 'second\n');
    assert.equal(readFileSync(file, 'utf8'), 'second\n');
    assert.deepEqual(readdirSync(sub), ['memory.json'], 'no temporary file left');
    assert.equal(
      statSync(file).mode & 0o777,
      0o600,
      'readable by its owner only: it lists the hosts contacted',
    );
    // A target that cannot be renamed over (a non-empty directory): the write fails, its temporary goes.
    const blocked = join(sub, 'blocked');
    mkdirSync(blocked);
    writeFileSync(join(blocked, 'inside'), 'old\n');
    assert.throws(
      () => writeFileAtomically(blocked, 'x'),
      (err: NodeJS.ErrnoException) => err.code !== undefined,
    );
    assert.deepEqual(readdirSync(sub).sort(), ['blocked', 'memory.json']);
    assert.equal(readFileSync(join(blocked, 'inside'), 'utf8'), 'old\n');
    assert.throws(() => writeFileAtomically(join(sub, 'no-such-dir', 'm.json'), 'x'), { code: 'ENOENT' });
  });

  test('load: missing or empty is no memory, no warning, saveable; oversized, corrupt or foreign files are ignored with a warning and never saved over', () => {
    const now = performance.now();
    assert.deepEqual(loadMemoryFile(join(dir, 'missing.json'), now, Date.now()), {
      memory: undefined,
      warning: undefined,
      saveable: true,
    });
    const empty = join(dir, 'empty.json');
    writeFileSync(empty, '');
    assert.deepEqual(loadMemoryFile(empty, now, Date.now()), {
      memory: undefined,
      warning: undefined,
      saveable: true,
    });
    const corrupt = join(dir, 'corrupt.json');
    writeFileSync(corrupt, '{"version":1,"dns":{');
    const c = loadMemoryFile(corrupt, now, Date.now());
    assert.equal(c.memory, undefined);
    assert.equal(c.saveable, false);
    assert.match(
      c.warning ?? '',
      /^NETDIAL_MEMORY_FILE .*corrupt\.json is not a netdial memory file \(.*JSON.*\): not loaded, and not saved at exit \(it is left as it is\); starting with an empty memory$/,
    );
    const foreign = join(dir, 'foreign.json');
    writeFileSync(foreign, JSON.stringify({ version: 99 }));
    const f = loadMemoryFile(foreign, now, Date.now());
    assert.match(f.warning ?? '', /is not a netdial memory file \(.*version/);
    assert.equal(f.saveable, false);
    const big = join(dir, 'big.json');
    writeFileSync(big, boundedMemoryText(snapshotOf(50), Number.POSITIVE_INFINITY));
    const b = loadMemoryFile(big, now, Date.now(), 1000);
    assert.equal(b.memory, undefined);
    assert.match(b.warning ?? '', /not a netdial memory file \(\d+ bytes, more than the 1000-byte bound\)/);
    assert.equal(b.saveable, false);
    const fits = loadMemoryFile(big, now, Date.now());
    assert.equal(fits.warning, undefined);
    assert.equal(fits.memory?.toJSON(performance.now(), Date.now()).dns.entries.length, 50);
  });

  test("a Dialer's memory survives the round trip: a failed endpoint stays demoted in the next process", async () => {
    const answers: ResolveFunction = async (_name, family) => (family === 6 ? [] : ['127.0.0.1']);
    const dialer = new Dialer({ resolver: answers, timeout: 2000 });
    // Port 1 on loopback: refused at once (nothing listens there as root-less tests assume).
    await assert.rejects(dialer.dial('refused.test:1'), { code: 'ECONNREFUSED' });
    const file = join(dir, 'round-trip.json');
    writeFileAtomically(file, boundedMemoryText(dialer.exportMemory()!));
    const loaded = loadMemoryFile(file, performance.now(), Date.now());
    assert.equal(loaded.warning, undefined);
    const state = loaded.memory?.endpoints.toJSON(performance.now(), Date.now()).endpoints;
    assert.deepEqual(
      state?.map((e) => [e.address, e.port, e.lastOutcome, e.consecutiveFailures, e.lastErrorCode]),
      [['127.0.0.1', 1, 'failure', 1, 'ECONNREFUSED']],
    );
  });
});
