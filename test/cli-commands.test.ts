/**
 * The built CLI run as a user runs it (`node dist/src/cli/main.js …` as a child process), against servers
 * and a DNS server on loopback only: netcat round trips and half-close, the trace waterfall's structure,
 * the JSON report, exit statuses per failure class, Ctrl-C, `resolve`, TLS, help and version, and the
 * demo (as this process can run it: in the lab as root, on loopback otherwise).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { WINNER_MARK } from '../src/cli/trace.js';
import type { AttemptError } from '../src/errors.js';
import type { MemoryJson } from '../src/memory/dial-memory.js';
import type { DialReport } from '../src/report.js';
import type { ResolvedName } from '../src/resolution/resolve-name.js';
import { makeSelfSignedCert } from './support/tls-cert.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const ANSI = /\u001b\[/;

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI with `args`; writes `input` and closes stdin (unless keepStdinOpen); kills it by PID after
 * timeoutMs (default 20 s). Colour variables are removed unless `env` sets them.
 */
function runCli(
  args: readonly string[],
  options: {
    input?: string | Buffer;
    keepStdinOpen?: boolean;
    env?: Record<string, string>;
    timeoutMs?: number;
    onSpawn?: (child: ChildProcess) => void;
    /** Own process group, so a signal can reach the CLI and what it re-executed (as Ctrl-C in a terminal does). */
    detached?: boolean;
  } = {},
): Promise<CliRun> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    NO_COLOR: undefined,
    FORCE_COLOR: undefined,
  };
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...env, ...options.env } as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => {});
  if (options.input !== undefined) child.stdin.write(options.input);
  if (!options.keepStdinOpen) child.stdin.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  options.onSpawn?.(child);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

let dns: LabDnsServer;
let ns = '';
const servers: net.Server[] = [];
/** Echo on 127.0.0.1 only: ::1 on this port is refused. */
let echoPort = 0;
/** Writes a greeting and closes at once. */
let greeterPort = 0;
/** Reads to end of input, then answers with the byte count: only works when the client half-closes. */
let counterPort = 0;
let closedPort = 0;

before(async () => {
  dns = await startLoopbackDns(
    {
      'dual.cli.test': { A: ['127.0.0.1'], AAAA: ['::1'] },
      'v4.cli.test': { A: ['127.0.0.1'] },
      'hang.cli.test': { A: ['127.0.0.1'], fail: { A: 'DROP', AAAA: 'DROP' } },
      'servfail.cli.test': { A: ['127.0.0.1'], fail: { A: 'SERVFAIL', AAAA: 'SERVFAIL' } },
      'halfbroken.cli.test': { A: ['127.0.0.1'], fail: { AAAA: 'SERVFAIL' } },
      // An HTTPS record whose TargetName "." is the name itself: its bucket and the fallback share a name.
      'svc.cli.test': {
        A: ['127.0.0.1'],
        AAAA: ['::1'],
        HTTPS: [{ priority: 1, targetName: '.', params: { alpn: ['h2'] } }],
      },
      // A/AAAA at once, the HTTPS answer after 5 s: `resolve --timeout` must not wait for it.
      'slowhttps.cli.test': { A: ['127.0.0.1'], AAAA: ['::1'], delayMs: { HTTPS: 5000 } },
      // An AliasMode chain: the alias target's HTTPS record, then its A/AAAA.
      'alias.cli.test': {
        A: ['127.0.0.1'],
        HTTPS: [{ priority: 0, targetName: 'aliased.cli.test', params: {} }],
      },
      'aliased.cli.test': {
        A: ['127.0.0.1'],
        AAAA: ['::1'],
        HTTPS: [{ priority: 1, targetName: '.', params: { alpn: ['h2'] } }],
      },
      // An SRV answer that expires after a second (memory-file test).
      '_short._tcp.srv.cli.test': {
        ttl: 1,
        SRV: [{ priority: 1, weight: 1, port: 7, target: 'v4.cli.test' }],
      },
      // Two SRV records with the same target name at two ports.
      '_echo._tcp.srv.cli.test': {
        SRV: [
          { priority: 1, weight: 1, port: 7, target: 'v4.cli.test' },
          { priority: 2, weight: 1, port: 9, target: 'v4.cli.test' },
        ],
      },
    },
    'cli.test',
  );
  ns = `127.0.0.1:${dns.port}`;
  const echo = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  const greeter = net.createServer((s) => {
    s.on('error', () => {});
    s.end('hello from the server\n');
  });
  const counter = net.createServer({ allowHalfOpen: true }, (s) => {
    let n = 0;
    s.on('error', () => {});
    s.on('data', (c: Buffer) => {
      n += c.length;
    });
    s.on('end', () => s.end(`got ${n} bytes\n`));
  });
  servers.push(echo, greeter, counter);
  echoPort = await listen(echo);
  greeterPort = await listen(greeter);
  counterPort = await listen(counter);
  const closed = net.createServer();
  closedPort = await listen(closed);
  closed.close();
  await once(closed, 'close');
});

after(async () => {
  await dns.close();
  for (const s of servers) s.close();
});

describe('netcat mode', { timeout: 60_000 }, () => {
  test('HOST PORT: stdin goes to the server and its answer to stdout; -v says where it connected', async () => {
    const run = await runCli(['-v', '127.0.0.1', String(echoPort)], { input: 'hello netdial\n' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'hello netdial\n');
    assert.match(
      run.stderr,
      new RegExp(`^netdial: connected to 127\\.0\\.0\\.1:${echoPort} in .* \\(1 attempt\\)\\n$`),
    );
  });

  test('256 KiB round trip through localhost:PORT arrives whole and in order', async () => {
    const payload = randomBytes(192 * 1024).toString('base64');
    const run = await runCli([`localhost:${echoPort}`], { input: payload });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.length, payload.length);
    assert.ok(run.stdout === payload);
  });

  test('end of stdin half-closes: a server that answers only after our FIN is still heard', async () => {
    const run = await runCli(['127.0.0.1', String(counterPort)], { input: 'abcde' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'got 5 bytes\n');
  });

  test('the server closing first ends the run even while stdin stays open', async () => {
    const run = await runCli([`127.0.0.1:${greeterPort}`], { keepStdinOpen: true, timeoutMs: 10_000 });
    assert.equal(run.signal, null, 'killed: it did not end when the server closed');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'hello from the server\n');
  });

  test('by name through --nameserver: ::1 refused, 127.0.0.1 answers', async () => {
    const run = await runCli(['--nameserver', ns, 'dual.cli.test', String(echoPort)], { input: 'by name\n' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'by name\n');
    assert.ok(dns.queryCount('dual.cli.test', 'AAAA') >= 1);
  });
});

describe('--trace and --json', { timeout: 60_000 }, () => {
  test('--trace: the queries, one line per attempt in order, the winner marked once, no colour in a pipe', async () => {
    const run = await runCli(['--trace', '--no-memory', '--nameserver', ns, `dual.cli.test:${echoPort}`], {
      input: 'x',
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'x');
    assert.doesNotMatch(run.stderr, ANSI);
    const all = lines(run.stderr);
    assert.match(all[0]!, new RegExp(`connected to 127\\.0\\.0\\.1:${echoPort} in .* \\(2 attempts\\)`));
    for (const section of ['resolution', 'decisions']) assert.ok(all.includes(section), section);
    assert.ok(all.some((l) => l.startsWith('attempts')));
    assert.ok(all.some((l) => /^ {2}AAAA +dual\.cli\.test +dns .*::1 \(ttl 60 s\)/.test(l)));
    assert.ok(all.some((l) => /^ {2}A +dual\.cli\.test +dns .*127\.0\.0\.1 \(ttl 60 s\)/.test(l)));
    const attempts = all.filter((l) => /^ {2}#\d+ /.test(l));
    assert.equal(attempts.length, 2);
    assert.match(attempts[0]!, /^ {2}#1 ::1 /);
    assert.doesNotMatch(attempts[0]!, /connected/);
    assert.match(attempts[1]!, /^ {2}#2 127\.0\.0\.1 .*connected/);
    assert.equal(all.filter((l) => l.includes(WINNER_MARK)).length, 1);
    assert.ok(attempts[1]!.includes(WINNER_MARK));
    assert.ok(all.some((l) => /attempt delay +250 ms \(default/.test(l)));
    assert.ok(all.some((l) => /memory +off/.test(l)));
  });

  test('colour only when asked for outside a terminal: FORCE_COLOR and --color, not NO_COLOR', async () => {
    const target = `127.0.0.1:${echoPort}`;
    const forced = await runCli(['--trace', target], { env: { FORCE_COLOR: '1' } });
    assert.match(forced.stderr, ANSI);
    const flag = await runCli(['--trace', '--color', target]);
    assert.match(flag.stderr, ANSI);
    const off = await runCli(['--trace', target], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    assert.doesNotMatch(off.stderr, ANSI);
  });

  test('on a terminal (a pty from script(1)) the trace is coloured, unless NO_COLOR', async (t) => {
    const script = spawnSync('script', ['--version'], { stdio: 'ignore' });
    if (script.error !== undefined) return t.skip('script(1) is not installed');
    const command = `'${process.execPath}' '${CLI}' trace 127.0.0.1:${echoPort}`;
    // Asynchronous: the echo server lives in this process and must keep running.
    const inPty = (env: Record<string, string | undefined>) =>
      new Promise<{ status: number | null; stdout: string }>((resolve) => {
        const child = spawn('script', ['-qec', command, '/dev/null'], {
          env: {
            ...process.env,
            NO_COLOR: undefined,
            FORCE_COLOR: undefined,
            TERM: 'xterm',
            ...env,
          } as NodeJS.ProcessEnv,
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        let stdout = '';
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.on('close', (status) => {
          clearTimeout(timer);
          resolve({ status, stdout });
        });
      });
    const coloured = await inPty({});
    assert.equal(coloured.status, 0, coloured.stdout);
    assert.match(coloured.stdout, ANSI);
    assert.ok(coloured.stdout.includes(WINNER_MARK));
    const plain = await inPty({ NO_COLOR: '1' });
    assert.equal(plain.status, 0, plain.stdout);
    assert.doesNotMatch(plain.stdout, ANSI);
    assert.ok(plain.stdout.includes(WINNER_MARK));
  });

  test('trace --json prints the establishment report to stdout, in the report schema', async () => {
    const run = await runCli([
      'trace',
      '--json',
      '--no-memory',
      '--nameserver',
      ns,
      `dual.cli.test:${echoPort}`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const r = JSON.parse(run.stdout) as DialReport;
    assert.equal(r.host, 'dual.cli.test');
    assert.equal(r.port, echoPort);
    assert.ok(!Number.isNaN(Date.parse(r.startedAt)));
    assert.equal(typeof r.durationMs, 'number');
    assert.deepEqual(
      r.resolution.queries.map((q) => [q.type, q.name, q.source, typeof q.startMs, typeof q.endMs]).sort(),
      [
        ['A', 'dual.cli.test', 'dns', 'number', 'number'],
        ['AAAA', 'dual.cli.test', 'dns', 'number', 'number'],
      ],
    );
    assert.deepEqual(r.order, [
      { address: '::1', family: 6 },
      { address: '127.0.0.1', family: 4 },
    ]);
    assert.deepEqual(Object.keys(r.decisions).sort(), [
      'attemptDelayMs',
      'attemptDelaySource',
      'demoted',
      'first',
      'memory',
      'shuffled',
      'suspected',
    ]);
    assert.equal(r.decisions.memory, false);
    assert.deepEqual(Object.keys(r.settings).sort(), [
      'attemptDelayMs',
      'maxConcurrentAttempts',
      'resolutionDelayMs',
      'timeoutMs',
    ]);
    assert.deepEqual(
      r.attempts.map((a) => [a.address, a.family, a.port, a.outcome === 'connected']),
      [
        ['::1', 6, echoPort, false],
        ['127.0.0.1', 4, echoPort, true],
      ],
    );
    assert.equal(r.attempts[0]?.trigger, 'first');
    // The second starts when ::1 is refused or when the A answer lands, whichever comes later.
    assert.ok(['failure', 'answer'].includes(r.attempts[1]?.trigger ?? ''));
    for (const a of r.attempts) assert.ok(a.startMs <= (a.endMs ?? Number.NaN));
    assert.equal(r.winner?.address, '127.0.0.1');
    assert.equal(r.winner?.port, echoPort);
    assert.equal(typeof r.winner?.connectMs, 'number');
  });

  test('--json in netcat mode goes to stderr; stdout keeps the data', async () => {
    const run = await runCli(['--json', `127.0.0.1:${echoPort}`], { input: 'data' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'data');
    assert.equal(
      JSON.parse(run.stderr.slice(0, run.stderr.lastIndexOf('}') + 1)).winner.address,
      '127.0.0.1',
    );
  });

  test('a failed dial: --trace shows every attempt of the error, trace --json prints the error', async () => {
    const traced = await runCli(['--trace', `127.0.0.1:${closedPort}`]);
    assert.equal(traced.code, 4);
    const all = lines(traced.stderr);
    assert.match(all[0]!, /failed \(ECONNREFUSED\)/);
    assert.ok(all.some((l) => /^ {2}#1 127\.0\.0\.1 .*refused/.test(l)));
    assert.match(all.at(-1)!, /^netdial: connect 127\.0\.0\.1:\d+ failed after 1 attempt/);
    const json = await runCli(['trace', '--json', `127.0.0.1:${closedPort}`]);
    assert.equal(json.code, 4);
    const e = (JSON.parse(json.stdout) as { error: { code: string; attempts: AttemptError[] } }).error;
    assert.equal(e.code, 'ECONNREFUSED');
    // An IP literal has no address of the other family: that shows as a 'dns' entry; the TCP attempt follows.
    assert.deepEqual(
      e.attempts.filter((a) => a.phase !== 'dns').map((a) => [a.address, a.phase, a.code]),
      [['127.0.0.1', 'tcp', 'ECONNREFUSED']],
    );
  });
});

describe('exit statuses and error lines', { timeout: 60_000 }, () => {
  const cases: Array<[string, () => string[], number, RegExp]> = [
    [
      'unknown option: usage',
      () => ['--frobnicate', 'x.test:1'],
      2,
      /^netdial: unknown option --frobnicate \(see netdial --help\)$/,
    ],
    ['no target: usage', () => [], 2, /missing TARGET/],
    ['invalid target: usage', () => ['bad..name:80'], 2, /^netdial: .*bad\.\.name/],
    [
      'option out of the library range: usage',
      () => ['--attempt-delay', '5', '127.0.0.1:1'],
      2,
      /invalid option --attempt-delay: expected a number from 10 to 2000 \(ms\), got 5/,
    ],
    [
      'NXDOMAIN: resolution',
      () => ['--nameserver', ns, 'missing.cli.test:80'],
      3,
      /^netdial: connect missing\.cli\.test:80 failed .*no address/,
    ],
    ['SERVFAIL: resolution', () => ['--nameserver', ns, 'servfail.cli.test:80'], 3, /ESERVFAIL/],
    [
      'resolve NXDOMAIN: resolution',
      () => ['resolve', '--nameserver', ns, 'missing.cli.test'],
      3,
      /^netdial: resolve missing\.cli\.test failed/,
    ],
    [
      'refused: connection',
      () => [`127.0.0.1:${closedPort}`],
      4,
      /^netdial: connect 127\.0\.0\.1:\d+ failed after 1 attempt.*ECONNREFUSED$/,
    ],
    [
      'timeout on a silent DNS server: resolution',
      () => ['--nameserver', ns, '-w', '300ms', 'hang.cli.test:80'],
      3,
      /timed out/,
    ],
    [
      'unreadable memory file: failure',
      () => ['--memory-file', tmpdir(), `127.0.0.1:${echoPort}`],
      1,
      /cannot read memory file/,
    ],
  ];
  for (const [scenario, args, status, pattern] of cases) {
    test(`${scenario} (exit ${status}), one line on stderr, no stack`, async () => {
      const t0 = performance.now();
      const run = await runCli(args());
      // Every case ends well inside its bound (the -w/--timeout is 0.5 s).
      assert.ok(performance.now() - t0 < 4500, `took ${performance.now() - t0} ms`);
      assert.equal(run.code, status, run.stderr);
      assert.equal(run.stdout, '');
      const errLines = lines(run.stderr);
      assert.equal(errLines.length, 1, run.stderr);
      assert.match(errLines[0]!, pattern);
      assert.doesNotMatch(run.stderr, /\n\s+at /);
    });
  }

  test('resolve of an https: URL with a slow HTTPS answer: the addresses after the Resolution Delay, the query listed unanswered (exit 0)', async () => {
    const t0 = performance.now();
    const run = await runCli([
      'resolve',
      '--json',
      '--nameserver',
      ns,
      '--timeout',
      '3s',
      'https://slowhttps.cli.test/',
    ]);
    // The HTTPS answer takes 5 s: resolve does not wait for it once the A/AAAA are in (as a dial).
    assert.ok(performance.now() - t0 < 2500, `took ${performance.now() - t0} ms`);
    assert.equal(run.code, 0, run.stderr);
    const r = JSON.parse(run.stdout) as ResolvedName;
    assert.deepEqual(r.addresses.map((a) => a.address).sort(), ['127.0.0.1', '::1']);
    const https = r.queries.find((q) => q.type === 'HTTPS')!;
    assert.deepEqual([https.name, https.endMs, https.code], ['slowhttps.cli.test', undefined, undefined]);
    // The table says what happened: resolve has no dial; the query had no answer in the time it took.
    const text = await runCli([
      'resolve',
      '--nameserver',
      ns,
      '--timeout',
      '3s',
      'https://slowhttps.cli.test/',
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /\n {2}HTTPS +slowhttps\.cli\.test +dns +[\d.]+ → … +no answer within \d+ ms \(resolve returned without it\)\n/,
    );
    assert.doesNotMatch(text.stdout, /dial ended/);
    assert.match(text.stdout, /\n {4}no answer in time: the name’s own addresses\n/);
  });

  test('--debug adds the stack', async () => {
    const run = await runCli(['--debug', '--nameserver', ns, 'missing.cli.test:80']);
    assert.equal(run.code, 3);
    assert.match(run.stderr, /\n\s+at /);
  });

  test('Ctrl-C aborts a dial in progress: exit 130, "interrupted"', async () => {
    const before = dns.queryCount('hang.cli.test');
    const run = await runCli(['--nameserver', ns, 'hang.cli.test:80'], {
      keepStdinOpen: true,
      onSpawn: (child) => {
        const poll = setInterval(() => {
          if (dns.queryCount('hang.cli.test') > before) {
            clearInterval(poll);
            child.kill('SIGINT');
          }
        }, 20);
        child.once('close', () => clearInterval(poll));
      },
    });
    assert.equal(run.code, 130, run.stderr);
    assert.equal(run.stderr, 'netdial: interrupted\n');
  });

  test('Ctrl-C while copying data ends the run with 130 too', async () => {
    let echoed = '';
    const run = await runCli(['127.0.0.1', String(echoPort)], {
      input: 'ping\n',
      keepStdinOpen: true,
      onSpawn: (child) => {
        child.stdout?.on('data', (c: Buffer) => {
          echoed += c.toString();
          if (echoed === 'ping\n') child.kill('SIGINT');
        });
      },
    });
    assert.equal(run.code, 130, run.stderr);
    assert.equal(run.stdout, 'ping\n');
    assert.equal(run.stderr, '');
  });
});

describe('resolve', { timeout: 60_000 }, () => {
  test('the table lists the addresses in dial order with family, source and TTL, then the queries', async () => {
    const run = await runCli(['resolve', '--nameserver', ns, 'dual.cli.test']);
    assert.equal(run.code, 0, run.stderr);
    const all = lines(run.stdout);
    assert.match(all[0]!, /^dual\.cli\.test: 2 addresses, in the order a dial would try them$/);
    const rows = all.filter((l) => /^ {2}\d /.test(l));
    assert.equal(rows.length, 2);
    assert.match(rows[0]!, /^ {2}1 +::1 +IPv6 +dns +60 s /);
    assert.match(rows[1]!, /^ {2}2 +127\.0\.0\.1 +IPv4 +dns +60 s /);
    assert.ok(all.includes('queries'));
    assert.ok(all.some((l) => /^ {2}AAAA +dual\.cli\.test +dns /.test(l)));
    assert.doesNotMatch(run.stdout, ANSI);
  });

  test('a plain name that times out names each query still unanswered; --json lists them as attempts', async () => {
    const run = await runCli(['resolve', '--nameserver', ns, '-w', '400ms', 'hang.cli.test']);
    assert.equal(run.code, 3, run.stderr);
    const line = lines(run.stderr)[0]!;
    assert.match(line, /^netdial: resolve hang\.cli\.test timed out after 400 ms: no answer to /);
    assert.match(line, /AAAA hang\.cli\.test/);
    assert.match(line, /\bA hang\.cli\.test/);
    const json = await runCli(['resolve', '--json', '--nameserver', ns, '-w', '400ms', 'hang.cli.test']);
    assert.equal(json.code, 3, json.stderr);
    const err = (JSON.parse(json.stdout) as { error: { code: string; attempts: AttemptError[] } }).error;
    assert.equal(err.code, 'ETIMEDOUT');
    assert.deepEqual(err.attempts.map((a) => `${a.phase} ${a.family} ${a.address} ${a.code}`).sort(), [
      'dns 4 hang.cli.test ETIMEOUT',
      'dns 6 hang.cli.test ETIMEOUT',
    ]);
  });

  test('a failed query names the server it came from (rows, --json, a dial report); HTTPS without data reads "no record"', async () => {
    const run = await runCli(['resolve', '--nameserver', ns, 'halfbroken.cli.test']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      new RegExp(
        `\\n {2}AAAA +halfbroken\\.cli\\.test +dns .*DNS server failure at ${ns.replaceAll('.', '\\.')} \\(ESERVFAIL\\)\\n`,
      ),
    );
    const json = await runCli(['resolve', '--json', '--nameserver', ns, 'halfbroken.cli.test']);
    const r = JSON.parse(json.stdout) as ResolvedName;
    const aaaa = r.queries.find((q) => q.type === 'AAAA')!;
    assert.deepEqual([aaaa.code, aaaa.server], ['ESERVFAIL', ns]);
    assert.equal(r.queries.find((q) => q.type === 'A')!.server, undefined, 'an answer names no server');
    const trace = await runCli(['trace', '--json', '--nameserver', ns, `halfbroken.cli.test:${echoPort}`]);
    assert.equal(trace.code, 0, trace.stderr);
    const report = JSON.parse(trace.stdout) as DialReport;
    const dialAaaa = report.resolution.queries.find((q) => q.type === 'AAAA')!;
    assert.deepEqual([dialAaaa.code, dialAaaa.server], ['ESERVFAIL', ns]);
    const https = await runCli(['resolve', '--nameserver', ns, 'https://v4.cli.test/']);
    assert.equal(https.code, 0, https.stderr);
    assert.match(https.stdout, /\n {2}HTTPS +v4\.cli\.test +dns .*no record \(ENODATA\)\n/);
    assert.doesNotMatch(https.stdout, /HTTPS.*no address of this family/);
  });

  test('--json: the ResolvedName', async () => {
    const run = await runCli(['resolve', '--json', '--nameserver', ns, `dual.cli.test:${echoPort}`]);
    assert.equal(run.code, 0, run.stderr);
    const r = JSON.parse(run.stdout) as ResolvedName;
    assert.equal(r.host, 'dual.cli.test');
    assert.equal(r.port, echoPort);
    assert.deepEqual(
      r.addresses.map((a) => [a.address, a.family, a.source, a.ttlSeconds, a.demoted]),
      [
        ['::1', 6, 'dns', 60, false],
        ['127.0.0.1', 4, 'dns', 60, false],
      ],
    );
    assert.equal(r.queries.length, 2);
  });

  test('--memory-file carries what one run learnt into the next: the refused ::1 is demoted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netdial-cli-'));
    const file = join(dir, 'memory.json');
    try {
      const first = await runCli([
        'trace',
        '--json',
        '--memory-file',
        file,
        '--nameserver',
        ns,
        `dual.cli.test:${echoPort}`,
      ]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(JSON.parse(first.stdout).attempts.length, 2);
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).version, 1);
      // Saved as NETDIAL_MEMORY_FILE is: mode 0600 (it lists the hosts dialled), whatever the umask.
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const table = await runCli([
        'resolve',
        '--memory-file',
        file,
        '--nameserver',
        ns,
        `dual.cli.test:${echoPort}`,
      ]);
      assert.equal(table.code, 0, table.stderr);
      const rows = lines(table.stdout).filter((l) => /^ {2}\d /.test(l));
      // One dial in twenty explores a demoted endpoint in its natural place (memory exploreProbability 1/20).
      const v6 = rows.find((l) => / ::1 /.test(l)) ?? '';
      const v4 = rows.find((l) => / 127\.0\.0\.1 /.test(l)) ?? '';
      assert.match(v4, /srtt [\d.]+ ms/);
      if (/explored/.test(v6)) {
        assert.match(
          v6,
          /^ {2}1 +::1 .*demoted, but explored this time; 1 failure \(ECONNREFUSED\), in backoff/,
        );
      } else {
        assert.match(rows[0]!, /^ {2}1 +127\.0\.0\.1 /);
        assert.match(v6, /^ {2}2 +::1 .*demoted \(tried last\); 1 failure \(ECONNREFUSED\), in backoff/);
      }
      const second = await runCli([
        'trace',
        '--json',
        '--memory-file',
        file,
        '--nameserver',
        ns,
        `dual.cli.test:${echoPort}`,
      ]);
      const r = JSON.parse(second.stdout) as DialReport;
      if (r.decisions.explored === '::1') {
        assert.deepEqual(r.decisions.demoted, []);
      } else {
        assert.deepEqual(r.decisions.demoted, ['::1']);
        assert.deepEqual(
          r.attempts.map((a) => a.address),
          ['127.0.0.1'],
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('service records: the SRV/HTTPS query is listed, then each A/AAAA once, in the order asked', async () => {
    const queryRows = (stdout: string) => {
      const all = lines(stdout);
      return all.slice(all.indexOf('queries') + 1).map((l) => l.trim().split(/ +/).slice(0, 2).join(' '));
    };
    const https = await runCli(['resolve', '--nameserver', ns, 'https://svc.cli.test/']);
    assert.equal(https.code, 0, https.stderr);
    assert.deepEqual(queryRows(https.stdout), ['HTTPS svc.cli.test', 'AAAA svc.cli.test', 'A svc.cli.test']);
    const srv = await runCli(['resolve', '--nameserver', ns, 'srv!_echo._tcp.srv.cli.test']);
    assert.equal(srv.code, 0, srv.stderr);
    assert.deepEqual(queryRows(srv.stdout), [
      'SRV _echo._tcp.srv.cli.test',
      'AAAA v4.cli.test',
      'A v4.cli.test',
    ]);
    // Both ports of the SRV target are listed, from the one answer.
    assert.equal(lines(srv.stdout).filter((l) => / 127\.0\.0\.1 +(7|9) /.test(l)).length, 2);
    // Without memory the target is asked again for its second port: each query sent is listed.
    const bare = await runCli(['resolve', '--no-memory', '--nameserver', ns, 'srv!_echo._tcp.srv.cli.test']);
    assert.equal(bare.code, 0, bare.stderr);
    assert.deepEqual(queryRows(bare.stdout), [
      'SRV _echo._tcp.srv.cli.test',
      'AAAA v4.cli.test',
      'A v4.cli.test',
      'AAAA v4.cli.test',
      'A v4.cli.test',
    ]);
    const json = await runCli(['resolve', '--json', '--nameserver', ns, 'https://svc.cli.test/']);
    const r = JSON.parse(json.stdout) as ResolvedName;
    assert.deepEqual(
      r.queries.map((q) => [q.type, q.name, q.endMs !== undefined && q.endMs >= q.startMs]),
      [
        ['HTTPS', 'svc.cli.test', true],
        ['AAAA', 'svc.cli.test', true],
        ['A', 'svc.cli.test', true],
      ],
    );
    // One timebase: the A/AAAA were asked alongside the HTTPS query (as a dial asks them), after it went out.
    assert.ok(r.queries[1]!.startMs >= r.queries[0]!.startMs, JSON.stringify(r.queries));
    // An AliasMode chain: each query it sent, once, in the order asked — the alias target's HTTPS
    // (RFC 9460 §2.4.2), that target's A/AAAA (its bucket), then the origin's own (the fallback).
    const alias = await runCli(['resolve', '--nameserver', ns, 'https://alias.cli.test/']);
    assert.equal(alias.code, 0, alias.stderr);
    assert.deepEqual(queryRows(alias.stdout), [
      'HTTPS alias.cli.test',
      'AAAA alias.cli.test',
      'A alias.cli.test',
      'HTTPS aliased.cli.test',
      'AAAA aliased.cli.test',
      'A aliased.cli.test',
    ]);
    const aliasJson = JSON.parse(
      (await runCli(['resolve', '--json', '--nameserver', ns, 'https://alias.cli.test/'])).stdout,
    ) as ResolvedName;
    const [first, second] = aliasJson.queries.filter((q) => q.type === 'HTTPS');
    // The second hop was asked after the first answered, and says what it got.
    assert.ok(second!.startMs >= first!.endMs!, JSON.stringify(aliasJson.queries));
    assert.equal(first!.code, undefined);
    assert.equal(second!.code, undefined);
    assert.deepEqual(aliasJson.service?.aliasChain, ['aliased.cli.test']);
  });

  test('--memory-file through a symlink writes the target and keeps the link (a dangling link is made)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netdial-cli-'));
    try {
      const target = join(dir, 'real.json');
      const link = join(dir, 'link.json');
      symlinkSync(target, link); // dangling: the first run makes its target
      for (let run = 0; run < 2; run++) {
        const r = await runCli([
          'trace',
          '--json',
          '--memory-file',
          link,
          '--nameserver',
          ns,
          `v4.cli.test:${echoPort}`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(lstatSync(link).isSymbolicLink(), `run ${run}: the link is still a link`);
        assert.equal(JSON.parse(readFileSync(target, 'utf8')).version, 1);
        assert.equal(statSync(target).mode & 0o777, 0o600);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--memory-file keeps SRV/HTTPS answers: the next run asks no service query; an expired one is asked again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netdial-cli-'));
    const file = join(dir, 'memory.json');
    const resolve = (target: string) =>
      runCli(['resolve', '--memory-file', file, '--nameserver', ns, target]);
    const sourceOf = (stdout: string, type: string) =>
      lines(stdout)
        .slice(lines(stdout).indexOf('queries'))
        .find((l) => l.trim().startsWith(`${type} `))
        ?.trim()
        .split(/ +/)[2];
    try {
      for (const target of [
        'srv!_echo._tcp.srv.cli.test',
        'https://svc.cli.test/',
        'srv!_short._tcp.srv.cli.test',
      ]) {
        const run = await resolve(target);
        assert.equal(run.code, 0, run.stderr);
      }
      const saved = JSON.parse(readFileSync(file, 'utf8')) as MemoryJson;
      const entries = saved.services?.entries ?? [];
      assert.deepEqual(
        entries.map((e) => [e.type, e.name]),
        [
          ['SRV', '_echo._tcp.srv.cli.test'],
          ['HTTPS', 'svc.cli.test'],
          ['SRV', '_short._tcp.srv.cli.test'],
        ],
      );
      // Saved with the time they had left, never more than their TTL (60 s; 1 s).
      assert.ok(entries[0]!.forMs > 0 && entries[0]!.forMs <= 60_000, JSON.stringify(entries[0]));
      assert.ok(entries[2]!.forMs > 0 && entries[2]!.forMs <= 1000, JSON.stringify(entries[2]));
      const asked = (name: string, type: string) => dns.queryCount(name, type);
      const before = [asked('_echo._tcp.srv.cli.test', 'SRV'), asked('svc.cli.test', 'HTTPS')];
      const srv = await resolve('srv!_echo._tcp.srv.cli.test');
      const https = await resolve('https://svc.cli.test/');
      assert.equal(srv.code, 0, srv.stderr);
      assert.equal(https.code, 0, https.stderr);
      assert.deepEqual([asked('_echo._tcp.srv.cli.test', 'SRV'), asked('svc.cli.test', 'HTTPS')], before);
      assert.equal(sourceOf(srv.stdout, 'SRV'), 'cache');
      assert.equal(sourceOf(https.stdout, 'HTTPS'), 'cache');
      assert.match(srv.stdout, /bucket 0 +v4\.cli\.test:7 +priority 1/);
      assert.match(https.stdout, /bucket 0 +svc\.cli\.test:443 +priority 1 +alpn h2/);
      // The 1-second answer is not extended by the reload: past its TTL it is asked again.
      await new Promise((r) => setTimeout(r, 1100));
      const short = asked('_short._tcp.srv.cli.test', 'SRV');
      const again = await resolve('srv!_short._tcp.srv.cli.test');
      assert.equal(again.code, 0, again.stderr);
      assert.equal(asked('_short._tcp.srv.cli.test', 'SRV'), short + 1);
      assert.equal(sourceOf(again.stdout, 'SRV'), 'dns');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an empty memory file (mktemp) is an empty memory, as NETDIAL_MEMORY_FILE takes it, and is saved over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netdial-cli-'));
    try {
      for (const [name, text] of [
        ['empty.json', ''],
        ['blank.json', ' \n\t\n'],
      ] as const) {
        const file = join(dir, name);
        writeFileSync(file, text);
        const run = await runCli(['resolve', '--memory-file', file, '--nameserver', ns, 'v4.cli.test']);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stderr, '');
        // What the run learnt replaced the empty text: a netdial memory now.
        assert.match(readFileSync(file, 'utf8'), /^\{"version":/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a corrupt memory file is one clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netdial-cli-'));
    try {
      writeFileSync(join(dir, 'm.json'), '{"version": 7}');
      const run = await runCli(['resolve', '--memory-file', join(dir, 'm.json'), '127.0.0.1']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^netdial: memory file .* is not a netdial memory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('TLS', { timeout: 60_000 }, () => {
  let tlsPort = 0;
  let dir = '';
  let server: tls.Server;
  before(async () => {
    const cert = makeSelfSignedCert('localhost');
    dir = mkdtempSync(join(tmpdir(), 'netdial-cli-tls-'));
    writeFileSync(join(dir, 'ca.pem'), cert.cert);
    server = tls.createServer(
      { key: cert.key, cert: cert.cert, ALPNProtocols: ['h2', 'http/1.1'], allowHalfOpen: true },
      (s) => {
        s.on('error', () => {});
        s.pipe(s);
      },
    );
    tlsPort = await listen(server);
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('-k --alpn: echo over TLS, the report names the protocol and ALPN', async () => {
    const run = await runCli(['-k', '--alpn', 'h2', `localhost:${tlsPort}`], { input: 'secret\n' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'secret\n');
    const json = await runCli(['trace', '--json', '-k', '--alpn', 'h2', `localhost:${tlsPort}`]);
    const r = JSON.parse(json.stdout) as DialReport;
    assert.equal(r.tls?.alpnProtocol, 'h2');
    assert.match(r.tls?.protocol ?? '', /^TLSv1\.[23]$/);
    assert.equal(r.tls?.servername, 'localhost');
  });

  test('a self-signed certificate fails without -k (exit 4) and passes with --ca', async () => {
    const refused = await runCli(['--tls', `localhost:${tlsPort}`]);
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /^netdial: .*TLS handshake/);
    const trusted = await runCli(['--ca', join(dir, 'ca.pem'), `localhost:${tlsPort}`], { input: 'ok\n' });
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.equal(trusted.stdout, 'ok\n');
  });

  test('--ca with a file that is not PEM certificates is reported as an unreadable one is (exit 1, no dial)', async () => {
    const notPem = join(dir, 'hostname.txt');
    writeFileSync(notPem, 'myhost\n');
    const garbled = join(dir, 'garbled.pem');
    writeFileSync(garbled, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n');
    for (const [file, why] of [
      [notPem, /: not PEM: no -----BEGIN CERTIFICATE----- block$/m],
      [garbled, /: certificate 1 is not a valid X\.509 certificate/],
      [join(dir, 'missing.pem'), /: ENOENT/],
    ] as const) {
      const run = await runCli(['--ca', file, `localhost:${tlsPort}`]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /^netdial: cannot read CA file /);
      assert.match(run.stderr, why);
    }
  });

  test('trace of a TLS dial draws the handshake', async () => {
    const run = await runCli(['trace', '-k', `localhost:${tlsPort}`]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(
      // With TLS raced per attempt, the handshake is drawn under the attempt that won, with its protocol.
      lines(run.stderr).some((l) => /^ {5}tls +▓+ +connected ◀ winner +TLSv1\.[23] /.test(l)),
      run.stderr,
    );
  });
});

describe('help and version', { timeout: 60_000 }, () => {
  test('resolve --help says which targets ask HTTPS and SRV records', async () => {
    const run = await runCli(['resolve', '--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /an https:\/\/ or wss:\/\/ URL also asks the name's HTTPS records \(RFC 9460/);
    assert.match(run.stdout, /srv!_SERVICE\._tcp\.NAME target asks SRV records \(RFC 2782\)/);
    assert.match(run.stdout, /A bare NAME or NAME:PORT asks A and AAAA only/);
  });
  for (const args of [['--help'], ['trace', '--help'], ['resolve', '-h'], ['help', 'demo']]) {
    test(`${args.join(' ')}: usage on stdout, exit 0`, async () => {
      const run = await runCli(args);
      assert.equal(run.code, 0);
      assert.match(run.stdout, /^usage: netdial/);
      assert.match(run.stdout, /Exit status:/);
      assert.equal(run.stderr, '');
    });
  }
  test('--version prints the package version', async () => {
    const pkg = JSON.parse(
      readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'),
    );
    const run = await runCli(['--version']);
    assert.equal(run.code, 0);
    assert.equal(run.stdout, `netdial ${pkg.version}\n`);
  });
});

describe('demo', { timeout: 120_000 }, () => {
  function checkDemo(run: CliRun): void {
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, ANSI);
    const inLab = run.stdout.includes('in the network lab');
    const names = inLab
      ? ['first-a-blackholed', 'aaaa-blackholed', 'aaaa-slow', 'mixed-eight', 'localhost-like'].map(
          (n) => `${n}.lab.test`,
        )
      : ['localhost-like', 'aaaa-slow', 'drop-aaaa'].map((n) => `${n}.demo.test`);
    for (const name of names) {
      assert.ok(run.stdout.includes(`▶ ${name} port `), name);
      const row = lines(run.stdout).find((l) => l.startsWith(`  ${name} `));
      assert.ok(row, `summary row for ${name}`);
      // netdial (fresh) and again connected; the naive column may fail.
      assert.match(row, /^ {2}\S+ +[✓✗] +[\d.]+ m?s +✓ +[\d.]+ m?s +✓ +[\d.]+ m?s$/);
    }
    assert.match(run.stdout, new RegExp(`netdial ${names.length} of ${names.length}\\.`));
    for (const lane of ['naive', 'netdial', 'again'])
      assert.match(run.stdout, new RegExp(`^ {2}${lane} `, 'm'));
  }

  test('demo runs to completion (in the lab as root, else on loopback) within 60 s', async () => {
    const started = Date.now();
    const run = await runCli(['demo'], { timeoutMs: 60_000 });
    assert.ok(Date.now() - started < 60_000);
    checkDemo(run);
  });

  test('Ctrl-C in the demo (sent to its process group, as a terminal does) ends it with 130', async () => {
    const run = await runCli(['demo'], {
      detached: true,
      timeoutMs: 30_000,
      onSpawn: (child) => {
        child.stdout?.once('data', () => {
          setTimeout(() => {
            if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGINT');
          }, 300);
        });
      },
    });
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /netdial: interrupted\n$/);
    assert.doesNotMatch(run.stdout, /^summary/m);
  });

  test('demo --loopback runs to completion within 30 s', async () => {
    const run = await runCli(['demo', '--loopback'], { timeoutMs: 30_000 });
    assert.match(run.stdout, /on loopback \(asked for with --loopback\)/);
    checkDemo(run);
  });
});
