/**
 * The CLI's flags that mirror nc mean what they mean in nc: `-w` is seconds (units accepted), bounds the
 * dial and, in netcat mode, an idle connection; `-N` is accepted; `--help` lists the mapping and every
 * nc flag it lists is one the parser takes. The spawned runs use servers and a DNS server on loopback.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LabDnsServer } from '../lab/dns-server.js';
import { parseCommandLine } from '../src/cli/args.js';
import { helpText } from '../src/cli/help.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** Runs the CLI with stdin left open (nothing written); kills it by PID after `killAfterMs`. */
function runCli(args: readonly string[], killAfterMs: number): Promise<CliRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => {});
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        elapsedMs: performance.now() - started,
      });
    });
  });
}

function dialFlagsOf(argv: string[]) {
  const { command } = parseCommandLine(argv);
  assert.ok(command.name === 'connect' || command.name === 'trace' || command.name === 'resolve');
  return command.dial;
}

describe('-w is nc -w: seconds', () => {
  const cases: Array<[string[], number]> = [
    [['-w', '5'], 5000],
    [['-w', '1.5'], 1500],
    [['-w', '500ms'], 500],
    [['-w', '2s'], 2000],
    [['--timeout', '3'], 3000],
    [['--timeout=250ms'], 250],
  ];
  for (const [flags, ms] of cases) {
    test(`${flags.join(' ')} is ${ms} ms, for the dial and as the idle limit`, () => {
      const dial = dialFlagsOf([...flags, 'x.test:1']);
      assert.equal(dial.timeoutMs, ms);
      assert.equal(dial.idleTimeoutMs, ms);
      assert.equal(dialFlagsOf(['resolve', ...flags, 'x.test']).timeoutMs, ms);
    });
  }

  test('without -w: the library default for the dial, no idle limit', () => {
    const dial = dialFlagsOf(['x.test:1']);
    assert.equal(dial.timeoutMs, undefined);
    assert.equal(dial.idleTimeoutMs, undefined);
  });

  test('the RFC 8305 delays stay in milliseconds (the RFC unit)', () => {
    const dial = dialFlagsOf(['--attempt-delay', '250', '--resolution-delay', '50', 'x.test:1']);
    assert.equal(dial.attemptDelayMs, 250);
    assert.equal(dial.resolutionDelayMs, 50);
  });

  for (const [value, pattern] of [
    ['soon', /--timeout: expected a duration like 5 \(seconds\), 500ms or 2s, got "soon"/],
    ['0', /-w\/--timeout: expected 1ms to \d+s \(a bare number is seconds\), got "0"/],
    ['9999999', /-w\/--timeout: expected 1ms to \d+s/],
  ] as const) {
    test(`-w ${value} is a usage error`, () => {
      assert.throws(() => parseCommandLine(['-w', value, 'x.test:1']), {
        code: 'ERR_NETDIAL_USAGE',
        message: pattern,
      });
    });
  }
});

describe('--help maps nc flags', () => {
  const help = helpText('connect');
  const section = help.slice(help.indexOf('Coming from nc'));
  const ncFlags = [...section.slice(0, section.indexOf('\n\n')).matchAll(/^ {2}(-\w)(?:, (-\w))?/gm)].flatMap(
    (m) => [m[1], m[2]].filter((f): f is string => f !== undefined),
  );

  test('lists -4, -6, -s, -v, -w and -N, and says how -k differs', () => {
    assert.deepEqual(ncFlags, ['-4', '-6', '-s', '-v', '-w', '-N']);
    assert.match(section, /-k is curl's --insecure here, not nc's keep-listening/);
  });

  test('every nc flag it lists is one netcat mode accepts', () => {
    const values: Record<string, string[]> = { '-s': ['127.0.0.1'], '-w': ['5'] };
    for (const flag of ncFlags) {
      if (flag === '-6') continue; // excludes -4; tried alone below
      assert.doesNotThrow(() => parseCommandLine([flag, ...(values[flag] ?? []), 'x.test', '80']), flag);
    }
    assert.doesNotThrow(() => parseCommandLine(['-6', 'x.test', '80']));
  });

  test('-N belongs to netcat mode only', () => {
    assert.throws(() => parseCommandLine(['trace', '-N', 'x.test:80']), /does not apply to trace/);
  });
});

describe('-w in a real run', () => {
  let dns: LabDnsServer;
  let ns = '';
  let silentPort = 0;
  const silent = net.createServer((socket) => {
    socket.on('error', () => {});
    // Accepts and says nothing: only an idle limit ends the session.
  });
  before(async () => {
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    silentPort = (silent.address() as net.AddressInfo).port;
    dns = await startLoopbackDns(
      { 'hang.nc.test': { A: ['127.0.0.1'], fail: { A: 'DROP', AAAA: 'DROP' } } },
      'nc.test',
    );
    ns = `127.0.0.1:${dns.port}`;
  });
  after(async () => {
    silent.close();
    await dns.close();
  });

  test('-w 1 bounds the dial by one second, not one millisecond', async () => {
    const run = await runCli(['--nameserver', ns, '-w', '1', 'hang.nc.test:80'], 20_000);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /timed out after 1\.\d s/);
    assert.ok(run.elapsedMs >= 900, `ended after ${run.elapsedMs} ms`);
  });

  test('-w 1 closes an idle connection (exit 0), as nc -w does', async () => {
    const run = await runCli(['-v', '-w', '1', '127.0.0.1', String(silentPort)], 20_000);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.signal, null);
    assert.match(run.stderr, /no traffic for 1000 ms, closing \(-w\)/);
    assert.ok(run.elapsedMs >= 900, `ended after ${run.elapsedMs} ms`);
  });

  test('without -w an idle connection stays open', async () => {
    const run = await runCli(['127.0.0.1', String(silentPort)], 2500);
    assert.equal(run.signal, 'SIGKILL', `the CLI ended on its own: ${run.stderr}`);
  });
});
