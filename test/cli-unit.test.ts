/**
 * The CLI's pure parts: argv parsing, exit statuses, the colour decision, the waterfall's axis and bars,
 * the trace view of a report, durations, outcome words and where the demo runs. Table-driven.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCommandLine, parseDurationMs, toCliWords } from '../src/cli/args.js';
import { makeStyle, shouldColor, visibleLength } from '../src/cli/color.js';
import { decideDemoMode } from '../src/cli/demo.js';
import { EXIT, exitCodeFor, UsageError } from '../src/cli/exit-codes.js';
import { attemptWhyText, formatMs, outcomeKind } from '../src/cli/format.js';
import { helpText } from '../src/cli/help.js';
import { axisFor, renderTimeline, tickStepMs } from '../src/cli/timeline.js';
import { connectedLine, renderDialError, renderReport, WINNER_MARK } from '../src/cli/trace.js';
import { AbortError, type AttemptError, DialError } from '../src/errors.js';
import type { DialReport } from '../src/report.js';

const plain = makeStyle(false);
const colour = makeStyle(true);
const ANSI = /\u001b\[/;

describe('parseCommandLine: commands and targets', () => {
  const cases: Array<[string, string[], Record<string, unknown>]> = [
    ['TARGET is netcat mode', ['example.com:80'], { name: 'connect', target: 'example.com:80' }],
    [
      'HOST PORT as nc',
      ['example.com', '80'],
      { name: 'connect', target: { host: 'example.com', port: 80 } },
    ],
    [
      'HOST SERVICE keeps the service name',
      ['::1', 'http'],
      { name: 'connect', target: { host: '::1', port: 'http' } },
    ],
    [
      'bracketed v6 HOST loses its brackets',
      ['[::1]', '7'],
      { name: 'connect', target: { host: '::1', port: 7 } },
    ],
    ['trace TARGET', ['trace', 'x.test:1'], { name: 'trace', target: 'x.test:1' }],
    ['trace HOST PORT', ['trace', 'x.test', '1'], { name: 'trace', target: { host: 'x.test', port: 1 } }],
    [
      'a command word after -- is a host',
      ['--', 'demo', '80'],
      { name: 'connect', target: { host: 'demo', port: 80 } },
    ],
    ['resolve NAME', ['resolve', 'x.test'], { name: 'resolve', target: 'x.test' }],
    ['resolve NAME:PORT', ['resolve', 'x.test:443'], { name: 'resolve', target: 'x.test:443' }],
    ['demo', ['demo'], { name: 'demo', loopback: false }],
    ['demo --loopback', ['demo', '--loopback'], { name: 'demo', loopback: true }],
    ['--help anywhere', ['x.test:1', '--help'], { name: 'help', topic: 'connect' }],
    ['-h', ['-h'], { name: 'help', topic: 'connect' }],
    ['COMMAND --help', ['trace', '--help'], { name: 'help', topic: 'trace' }],
    ['help COMMAND', ['help', 'resolve'], { name: 'help', topic: 'resolve' }],
    ['help alone', ['help'], { name: 'help', topic: 'connect' }],
    ['--version', ['--version'], { name: 'version' }],
    ['-V', ['-V'], { name: 'version' }],
  ];
  for (const [scenario, argv, expected] of cases) {
    test(scenario, () => {
      const { command } = parseCommandLine(argv);
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual((command as Record<string, unknown>)[key], value, key);
      }
    });
  }
});

describe('parseCommandLine: dial flags', () => {
  test('family, durations with and without units, concurrency, source', () => {
    const { command } = parseCommandLine([
      '-4',
      '-w',
      '2s',
      '--attempt-delay',
      '100ms',
      '--resolution-delay',
      '0',
      '--max-concurrent',
      '3',
      '-s',
      '127.0.0.1',
      'x.test:1',
    ]);
    assert.equal(command.name, 'connect');
    if (command.name !== 'connect') return;
    assert.equal(command.dial.family, 4);
    assert.equal(command.dial.timeoutMs, 2000);
    assert.equal(command.dial.attemptDelayMs, 100);
    assert.equal(command.dial.resolutionDelayMs, 0);
    assert.equal(command.dial.maxConcurrentAttempts, 3);
    assert.equal(command.dial.localAddress, '127.0.0.1');
    assert.equal(command.dial.tls, undefined);
    assert.equal(command.dial.memory, true);
  });

  const tlsCases: Array<[string, string[], unknown]> = [
    ['--tls alone', ['--tls'], { servername: undefined, alpn: [], insecure: false, caFile: undefined }],
    [
      '--alpn comma list and repeated, implies TLS',
      ['--alpn', 'h2,http/1.1', '--alpn', 'x'],
      { servername: undefined, alpn: ['h2', 'http/1.1', 'x'], insecure: false, caFile: undefined },
    ],
    [
      '--servername implies TLS',
      ['--servername', 'n.test'],
      { servername: 'n.test', alpn: [], insecure: false, caFile: undefined },
    ],
    ['-k implies TLS', ['-k'], { servername: undefined, alpn: [], insecure: true, caFile: undefined }],
    [
      '--ca implies TLS',
      ['--ca', 'ca.pem'],
      { servername: undefined, alpn: [], insecure: false, caFile: 'ca.pem' },
    ],
  ];
  for (const [scenario, flags, expected] of tlsCases) {
    test(scenario, () => {
      const { command } = parseCommandLine([...flags, 'x.test:443']);
      assert.ok(command.name === 'connect');
      assert.deepEqual(command.dial.tls, expected);
    });
  }

  test('--nameserver repeated, --memory-file, --no-memory, --trace/--json/-v', () => {
    const { command } = parseCommandLine([
      '--nameserver',
      '127.0.0.1:5353',
      '--nameserver',
      '[::1]:5353',
      '--memory-file',
      'm.json',
      '--trace',
      '--json',
      '-v',
      'x.test:1',
    ]);
    assert.ok(command.name === 'connect');
    assert.deepEqual(command.dial.nameservers, ['127.0.0.1:5353', '[::1]:5353']);
    assert.equal(command.dial.memoryFile, 'm.json');
    assert.deepEqual([command.trace, command.json, command.verbose], [true, true, true]);
    const noMemory = parseCommandLine(['--no-memory', 'x.test:1']).command;
    assert.ok(noMemory.name === 'connect' && noMemory.dial.memory === false);
  });

  test('colour and debug flags', () => {
    assert.deepEqual(parseCommandLine(['--no-color', 'x.test:1']).flags, { debug: false, color: 'never' });
    assert.deepEqual(parseCommandLine(['--color', '--debug', 'x.test:1']).flags, {
      debug: true,
      color: 'always',
    });
  });
});

describe('parseCommandLine: usage errors are one line naming the problem', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['no target', [], /missing TARGET/],
    ['unknown option', ['--frobnicate', 'x.test:1'], /unknown option --frobnicate/],
    [
      'misspelt long option',
      ['--timout', '5', 'x.test:1'],
      /^unknown option --timout \(did you mean --timeout\?\)$/,
    ],
    ['unknown short option', ['-j', 'x.test:1'], /unknown option -j/],
    ['option without its value', ['x.test:1', '--timeout'], /--timeout needs a value/],
    ['boolean with a value', ['--tls=yes', 'x.test:1'], /--tls takes no value/],
    ['-4 with -6', ['-4', '-6', 'x.test:1'], /exclude each other/],
    ['bad duration', ['--timeout', 'soon', 'x.test:1'], /--timeout: expected a duration/],
    ['bad count', ['--max-concurrent', '2.5', 'x.test:1'], /--max-concurrent: expected a whole number/],
    ['three positionals', ['a', 'b', 'c'], /too many arguments: c/],
    ['resolve without a name', ['resolve'], /resolve: missing NAME/],
    ['resolve with two names', ['resolve', 'a', 'b'], /too many arguments: b/],
    ['TLS flag on resolve', ['resolve', '--tls', 'x.test'], /--tls does not apply to resolve/],
    ['trace-only flag on demo', ['demo', '--trace'], /--trace does not apply to demo/],
    ['demo with an argument', ['demo', 'x'], /demo: unexpected argument x/],
    ['memory file and no memory', ['--memory-file', 'f', '--no-memory', 'x.test:1'], /exclude each other/],
    ['help for an unknown command', ['help', 'nope'], /unknown command "nope"/],
    ['trace without a target', ['trace'], /trace: missing TARGET/],
  ];
  for (const [scenario, argv, pattern] of cases) {
    test(scenario, () => {
      assert.throws(
        () => parseCommandLine(argv),
        (e: unknown) => e instanceof UsageError && pattern.test(e.message) && !e.message.includes('\n'),
      );
    });
  }
});

describe('parseDurationMs', () => {
  const cases: Array<[string, number]> = [
    ['250', 250],
    ['250ms', 250],
    ['2s', 2000],
    ['1.5s', 1500],
    ['0', 0],
    ['.5s', 500],
  ];
  for (const [text, ms] of cases)
    test(`${text} -> ${ms} ms`, () => assert.equal(parseDurationMs(text, 't'), ms));
  for (const bad of ['', 's', '-1', '2m', '1e3', 'soon']) {
    test(`${JSON.stringify(bad)} is a usage error`, () =>
      assert.throws(() => parseDurationMs(bad, 't'), UsageError));
  }
});

function dialError(attempts: AttemptError[], code: string): DialError {
  return new DialError({
    host: 'x.test',
    port: 80,
    code,
    message: `connect x.test:80 failed: ${code}`,
    attempts,
    elapsedMs: 5,
  });
}

const dnsFailure: AttemptError = {
  address: 'x.test',
  family: 6,
  port: 80,
  phase: 'dns',
  code: 'ENOTFOUND',
  message: 'no such name',
  startMs: 0,
  durationMs: 1,
};
const refused: AttemptError = {
  address: '127.0.0.1',
  family: 4,
  port: 80,
  phase: 'tcp',
  code: 'ECONNREFUSED',
  message: 'refused',
  startMs: 1,
  durationMs: 0.5,
};

describe('exitCodeFor', () => {
  const cases: Array<[string, unknown, number]> = [
    ['DialError with only DNS failures: resolution', dialError([dnsFailure], 'ENOTFOUND'), EXIT.resolution],
    [
      'DialError with no attempt at all (DNS timeout): resolution',
      dialError([], 'ETIMEDOUT'),
      EXIT.resolution,
    ],
    ['DialError with a TCP attempt: connection', dialError([refused], 'ECONNREFUSED'), EXIT.connection],
    [
      'DialError with DNS and TCP: connection',
      dialError([dnsFailure, refused], 'ECONNREFUSED'),
      EXIT.connection,
    ],
    ['AbortError: interrupted', new AbortError(new Error('x'), 'connect'), EXIT.interrupted],
    ['UsageError: usage', new UsageError('bad'), EXIT.usage],
    [
      'invalid target TypeError: usage',
      Object.assign(new TypeError('t'), { code: 'ERR_NETDIAL_INVALID_TARGET' }),
      EXIT.usage,
    ],
    [
      'invalid option TypeError: usage',
      Object.assign(new TypeError('t'), { code: 'ERR_NETDIAL_INVALID_OPTION' }),
      EXIT.usage,
    ],
    [
      'reset after connecting: connection',
      Object.assign(new Error('r'), { code: 'ECONNRESET' }),
      EXIT.connection,
    ],
    ['anything else: failure', new Error('bug'), EXIT.failure],
    ['a non-error: failure', 'what', EXIT.failure],
  ];
  for (const [scenario, error, status] of cases)
    test(scenario, () => assert.equal(exitCodeFor(error), status));
});

describe('shouldColor', () => {
  const cases: Array<
    [string, boolean | undefined, Record<string, string>, 'auto' | 'always' | 'never', boolean]
  > = [
    ['terminal', true, {}, 'auto', true],
    ['pipe', false, {}, 'auto', false],
    ['unknown stream', undefined, {}, 'auto', false],
    ['terminal with NO_COLOR', true, { NO_COLOR: '1' }, 'auto', false],
    ['terminal with empty NO_COLOR (ignored)', true, { NO_COLOR: '' }, 'auto', true],
    ['terminal with TERM=dumb', true, { TERM: 'dumb' }, 'auto', false],
    ['pipe with FORCE_COLOR', false, { FORCE_COLOR: '1' }, 'auto', true],
    ['pipe with FORCE_COLOR=0', false, { FORCE_COLOR: '0' }, 'auto', false],
    ['NO_COLOR wins over FORCE_COLOR', false, { NO_COLOR: '1', FORCE_COLOR: '1' }, 'auto', false],
    ['--color wins over NO_COLOR', false, { NO_COLOR: '1' }, 'always', true],
    ['--no-color wins over a terminal', true, { FORCE_COLOR: '1' }, 'never', false],
  ];
  for (const [scenario, isTTY, env, flag, expected] of cases) {
    test(scenario, () => assert.equal(shouldColor({ isTTY, env, flag }), expected));
  }
  test('a colourless style leaves text alone; a coloured one wraps it', () => {
    assert.equal(plain.red('x'), 'x');
    assert.match(colour.red('x'), ANSI);
    assert.equal(visibleLength(colour.bold(colour.red('abc'))), 3);
  });
});

describe('timeline', () => {
  const steps: Array<[number, number]> = [
    [0, 1],
    [3, 1],
    [12, 5],
    [270, 100],
    [1000, 200],
    [3001, 1000],
    [3000, 1000],
    [9000, 2000],
  ];
  for (const [max, step] of steps)
    test(`tick step for ${max} ms is ${step} ms`, () => assert.equal(tickStepMs(max), step));

  test('the axis ends on a whole tick, a 1 ms overshoot included', () => {
    assert.deepEqual(axisFor([{ label: 'a', startMs: 0, endMs: 3001, tone: 'ok', note: '' }]), {
      axisMs: 3000,
      stepMs: 1000,
    });
    assert.deepEqual(axisFor([{ label: 'a', startMs: 0, endMs: 260, tone: 'ok', note: '' }]), {
      axisMs: 300,
      stepMs: 100,
    });
  });

  test('bars sit where their times are on the shared axis; a row without times has no bar', () => {
    const lines = renderTimeline(
      [
        { label: 'early', startMs: 0, endMs: 50, tone: 'ok', note: 'A' },
        { label: 'late', startMs: 50, endMs: 100, tone: 'fail', note: 'B' },
        { label: 'none', tone: 'muted', note: 'C' },
      ],
      { width: 20, style: plain, indent: '' },
    );
    assert.equal(lines.length, 5);
    assert.match(lines[0]!, /0 ms/);
    assert.match(lines[1]!, /^ {7}├(─+┼)+─+┤$/);
    assert.equal(lines[2], `early  ${'█'.repeat(10)}${' '.repeat(11)}  A`);
    assert.equal(lines[3], `late   ${' '.repeat(10)}${'█'.repeat(10)}   B`);
    assert.equal(lines[4], `none   ${' '.repeat(21)}  C`);
  });

  test('a very short attempt still gets one column', () => {
    const [, , row] = renderTimeline([{ label: 'x', startMs: 500, endMs: 500.1, tone: 'ok', note: '' }], {
      width: 10,
      style: plain,
      indent: '',
      minAxisMs: 1000,
    });
    assert.equal((row ?? '').split('█').length - 1, 1);
  });
});

function sampleReport(): DialReport {
  return {
    host: 'dual.test',
    port: 8080,
    startedAt: '2025-01-01T00:00:00.000Z',
    durationMs: 3.2,
    resolution: {
      queries: [
        {
          type: 'AAAA',
          name: 'dual.test',
          source: 'dns',
          startMs: 0.2,
          endMs: 1.1,
          addresses: [{ address: '::1', ttlSeconds: 60 }],
        },
        {
          type: 'A',
          name: 'dual.test',
          source: 'dns',
          startMs: 0.2,
          endMs: 1.2,
          addresses: [{ address: '127.0.0.1', ttlSeconds: 60 }],
        },
      ],
    },
    order: [
      { address: '::1', family: 6 },
      { address: '127.0.0.1', family: 4 },
    ],
    decisions: {
      attemptDelayMs: 250,
      attemptDelaySource: 'default',
      memory: false,
      demoted: [],
      shuffled: false,
    },
    settings: { attemptDelayMs: 250, resolutionDelayMs: 50, maxConcurrentAttempts: 6, timeoutMs: 10_000 },
    attempts: [
      {
        address: '::1',
        family: 6,
        port: 8080,
        startMs: 1.2,
        endMs: 1.9,
        outcome: 'failed',
        code: 'ECONNREFUSED',
        trigger: 'first',
      },
      {
        address: '127.0.0.1',
        family: 4,
        port: 8080,
        startMs: 1.9,
        endMs: 3.1,
        outcome: 'connected',
        trigger: 'failure',
      },
    ],
    winner: { address: '127.0.0.1', family: 4, port: 8080, connectMs: 3.1 },
  };
}

describe('renderReport', () => {
  test('one line per attempt in order, the winner marked once, the queries with source and TTL, the decisions', () => {
    const text = renderReport(sampleReport(), { style: plain });
    assert.doesNotMatch(text, ANSI);
    const lines = text.split('\n');
    const attempts = lines.filter((l) => /^ {2}#\d /.test(l));
    assert.equal(attempts.length, 2);
    assert.match(attempts[0]!, /#1 ::1 .*refused/);
    assert.match(attempts[1]!, /#2 127\.0\.0\.1 .*connected/);
    assert.equal(lines.filter((l) => l.includes(WINNER_MARK)).length, 1);
    assert.ok(attempts[1]!.includes(WINNER_MARK));
    assert.ok(lines.some((l) => /^ {2}AAAA {2}dual\.test {2}dns .*::1 \(ttl 60 s\)/.test(l)));
    assert.ok(lines.some((l) => /attempt delay +250 ms \(default/.test(l)));
    assert.ok(lines.some((l) => /memory +off/.test(l)));
    assert.match(lines[0]!, /connected to 127\.0\.0\.1:8080 in 3\.2 ms \(2 attempts\)/);
  });

  test('in colour the same lines carry ANSI codes', () => {
    const text = renderReport(sampleReport(), { style: colour });
    assert.match(text, ANSI);
    assert.equal(text.split('\n').filter((l) => l.includes(WINNER_MARK)).length, 1);
  });

  test('memory before and after are listed per endpoint of this dial', () => {
    const text = renderReport(
      { ...sampleReport(), decisions: { ...sampleReport().decisions, memory: true, demoted: ['::1'] } },
      {
        style: plain,
        memoryBefore: [
          {
            address: '::1',
            port: 8080,
            lastOutcome: 'failure',
            lastAgeMs: 10,
            consecutiveFailures: 2,
            lastErrorCode: 'ECONNREFUSED',
            backoffForMs: 90_000,
          },
          {
            address: '192.0.2.9',
            port: 8080,
            lastOutcome: 'success',
            lastAgeMs: 10,
            consecutiveFailures: 0,
            srttMs: 4,
          },
        ],
        memoryAfter: [
          {
            address: '127.0.0.1',
            port: 8080,
            lastOutcome: 'success',
            lastAgeMs: 0,
            consecutiveFailures: 0,
            srttMs: 1.2,
            rttvarMs: 0.6,
          },
        ],
      },
    );
    assert.match(text, /demoted +::1 \(failed recently/);
    assert.match(text, /history before +::1 +2 failures \(ECONNREFUSED\), in backoff 90\.0 s more/);
    assert.doesNotMatch(text, /192\.0\.2\.9/);
    assert.match(text, /history after +127\.0\.0\.1 +srtt 1\.2 ms ± 0\.6 ms/);
  });

  test("SRV dial: history is looked up by each endpoint's own port, not the target's port 0", () => {
    const base = sampleReport();
    const text = renderReport(
      {
        ...base,
        port: 0,
        order: [
          { address: '127.0.0.3', family: 4, port: 7003 },
          { address: '127.0.0.2', family: 4, port: 7002 },
        ],
        decisions: { ...base.decisions, memory: true },
      },
      {
        style: plain,
        memoryBefore: [
          {
            address: '127.0.0.3',
            port: 7003,
            lastOutcome: 'failure',
            lastAgeMs: 10,
            consecutiveFailures: 1,
            lastErrorCode: 'ECONNREFUSED',
            backoffForMs: 1000,
          },
          // Same address, another port: not an endpoint of this dial.
          {
            address: '127.0.0.2',
            port: 9999,
            lastOutcome: 'success',
            lastAgeMs: 10,
            consecutiveFailures: 0,
            srttMs: 4,
          },
        ],
        memoryAfter: [],
      },
    );
    assert.match(text, /history before +127\.0\.0\.3:7003 +1 failure \(ECONNREFUSED\)/);
    assert.doesNotMatch(text, /9999/);
    assert.match(text, /history after +nothing known/);
  });

  test('through a proxy: the target, the proxy, its hop attempts; a name resolved by the proxy', () => {
    const hop = sampleReport();
    const proxied: DialReport = {
      ...sampleReport(),
      host: 'localhost',
      port: 19080,
      resolution: { queries: [] },
      order: [],
      attempts: [],
      winner: undefined,
      durationMs: 54,
      proxy: {
        url: 'http://127.0.0.1:18888',
        protocol: 'http',
        from: 'option',
        resolvedBy: 'proxy',
        hop: { ...hop, host: '127.0.0.1', port: 18888 },
        handshake: { startMs: 4, endMs: 5, statusCode: 200 },
      },
    };
    assert.equal(
      connectedLine(proxied, '127.0.0.1', 18888),
      'connected to localhost:19080 through proxy http://127.0.0.1:18888 in 54 ms (2 attempts to the proxy at 127.0.0.1:8080)',
    );
    // Without a proxy the line is the socket's peer, as before.
    assert.equal(
      connectedLine(sampleReport(), '127.0.0.1', 8080),
      'connected to 127.0.0.1:8080 in 3.2 ms (2 attempts)',
    );
    const text = renderReport(proxied, { style: plain });
    assert.match(text, /no queries: localhost is resolved by the proxy/);
    assert.doesNotMatch(text, /address literal/);
    // A literal through the proxy is still a literal.
    const literal = renderReport({ ...proxied, host: '192.0.2.7' }, { style: plain });
    assert.match(literal, /no queries \(address literal\)/);
  });

  test('a failed dial: the DNS failures and every attempt of the error', () => {
    const text = renderDialError(dialError([dnsFailure, refused], 'ECONNREFUSED'), { style: plain });
    assert.match(text.split('\n')[0]!, /failed \(ECONNREFUSED\) in 5\.0 ms after 1 attempt/);
    assert.match(text, /AAAA +x\.test .*no such name \(ENOTFOUND\)/);
    assert.ok(text.split('\n').some((l) => /^ {2}#1 127\.0\.0\.1 .*refused/.test(l)));
    assert.doesNotMatch(text, new RegExp(WINNER_MARK));
  });
});

describe('format', () => {
  const ms: Array<[number, string]> = [
    [0.42, '0.4 ms'],
    [9.96, '10.0 ms'],
    [252.4, '252 ms'],
    [12_500, '12.5 s'],
    [-1, '—'],
  ];
  for (const [value, text] of ms)
    test(`formatMs(${value}) = ${text}`, () => assert.equal(formatMs(value), text));
  const outcomes: Array<[string, string | undefined, string]> = [
    ['connected', undefined, 'connected'],
    ['failed', 'ECONNREFUSED', 'refused'],
    ['failed', 'EHOSTUNREACH', 'unreachable'],
    ['failed', 'ENETUNREACH', 'unreachable'],
    ['failed', 'ETIMEDOUT', 'timed out'],
    ['failed', 'ECONNRESET', 'failed'],
    ['timeout', 'ETIMEDOUT', 'timed out'],
    ['cancelled', 'ECANCELED', 'cancelled'],
    ['failed', 'ECANCELED', 'cancelled'],
  ];
  for (const [outcome, code, kind] of outcomes) {
    test(`outcome ${outcome}/${code} reads "${kind}"`, () => assert.equal(outcomeKind(outcome, code), kind));
  }
  test('why an attempt started, with the addresses of a silent network it went ahead of', () => {
    assert.equal(attemptWhyText({ trigger: 'delay' }), 'attempt delay ran out');
    assert.equal(
      attemptWhyText({ trigger: 'failure', passedOver: ['198.51.100.2'] }),
      'previous attempt failed, ahead of 198.51.100.2 (its network unanswered)',
    );
    assert.equal(
      attemptWhyText({ trigger: 'delay', passedOver: ['198.51.100.2', '198.51.100.3', '198.51.100.4'] }),
      'attempt delay ran out, ahead of 198.51.100.2, 198.51.100.3 and 1 more (their network unanswered)',
    );
  });
});

describe('help', () => {
  for (const topic of ['connect', 'trace', 'resolve', 'demo'] as const) {
    test(`${topic} help has usage, examples and the exit statuses`, () => {
      const text = helpText(topic);
      assert.match(text, /^usage: netdial/);
      assert.match(text, /Examples?:/);
      for (const status of [0, 2, 3, 4, 130]) assert.match(text, new RegExp(`^ {2}${status} `, 'm'));
    });
  }
});

describe('decideDemoMode', () => {
  const never = () => assert.fail('the lab probe must not run');
  const cases: Array<[string, Parameters<typeof decideDemoMode>[0], string]> = [
    [
      '--loopback wins',
      { forceLoopback: true, insideEnv: false, pid: 10, labUnavailableReason: never },
      'loopback',
    ],
    [
      'PID 1 of the re-executed demo builds the lab',
      { forceLoopback: false, insideEnv: true, pid: 1, labUnavailableReason: never },
      'lab-here',
    ],
    [
      "inside someone else's lab: loopback",
      { forceLoopback: false, insideEnv: true, pid: 42, labUnavailableReason: never },
      'loopback',
    ],
    [
      'lab possible: re-execute',
      { forceLoopback: false, insideEnv: false, pid: 42, labUnavailableReason: () => undefined },
      'reexec',
    ],
    [
      'no root: loopback',
      { forceLoopback: false, insideEnv: false, pid: 42, labUnavailableReason: () => 'needs root' },
      'loopback',
    ],
  ];
  for (const [scenario, facts, kind] of cases)
    test(scenario, () => assert.equal(decideDemoMode(facts).kind, kind));
});

describe('toCliWords', () => {
  const cases: Array<[string, string]> = [
    [
      'invalid option attemptDelay: expected a number from 10 to 2000, got 5',
      'invalid option --attempt-delay: expected a number from 10 to 2000 (ms), got 5',
    ],
    [
      'invalid option maxConcurrentAttempts: expected an integer from 1 to 64, got 99',
      'invalid option --max-concurrent: expected an integer from 1 to 64, got 99',
    ],
    [
      'invalid option localAddress: expected an IP address, got "x"',
      'invalid option --source: expected an IP address, got "x"',
    ],
    ['invalid option tls: expected true', 'invalid option tls: expected true'],
    ['invalid target "a b": bad host', 'invalid target "a b": bad host'],
  ];
  for (const [library, cli] of cases) test(library, () => assert.equal(toCliWords(library), cli));
});
