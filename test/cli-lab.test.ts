/**
 * The built CLI inside the network lab, run as a child process that inherits the lab's namespaces and
 * resolv.conf: the waterfall of a blackholed first address, `resolve` with the kernel's source addresses,
 * exit statuses for NXDOMAIN / refused / blackholed, a slow AAAA answer, netcat through the lab's echo
 * server, and a memory file that makes the second run skip the blackholed address.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ZONE, enterLab, LAB, withLab } from '../lab/index.js';
import { WINNER_MARK } from '../src/cli/trace.js';
import type { DialReport } from '../src/report.js';
import type { ResolvedName } from '../src/resolution/resolve-name.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI (stdin `input`, then closed); killed by PID after timeoutMs (default 20 s). */
function runCli(args: readonly string[], input = '', timeoutMs = 20_000): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => {});
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

const { good, blackholed } = LAB.addresses;
const http = LAB.ports.http;

if (await enterLab(import.meta.url)) {
  test('netdial CLI in the lab', { timeout: 120_000 }, (t) =>
    withLab(
      DEFAULT_ZONE,
      async () => {
        await t.test(
          'trace: the blackholed first A loses the race to the second after the attempt delay',
          async () => {
            const run = await runCli(['trace', '--no-memory', `first-a-blackholed.lab.test:${http}`]);
            assert.equal(run.code, 0, run.stderr);
            const lines = run.stderr.split('\n');
            const attempts = lines.filter((l) => /^ {2}#\d+ /.test(l));
            assert.equal(attempts.length, 2, run.stderr);
            assert.match(
              attempts[0]!,
              new RegExp(
                `^ {2}#1 ${blackholed.v4[0].replaceAll('.', '\\.')} .*cancelled \\(lost the race\\)`,
              ),
            );
            assert.match(
              attempts[1]!,
              new RegExp(
                `^ {2}#2 ${good.v4[1].replaceAll('.', '\\.')} .*connected ${WINNER_MARK}.*attempt delay ran out`,
              ),
            );
            assert.equal(lines.filter((l) => l.includes(WINNER_MARK)).length, 1);
            assert.ok(lines.some((l) => /^ {2}A +first-a-blackholed\.lab\.test +dns .*\(ttl 60 s\)/.test(l)));
            assert.ok(lines.some((l) => /^ {2}AAAA +first-a-blackholed\.lab\.test +dns .*ENODATA/.test(l)));
          },
        );

        await t.test('trace --json: the same race as data', async () => {
          const run = await runCli(['trace', '--json', '--no-memory', `first-a-blackholed.lab.test:${http}`]);
          assert.equal(run.code, 0, run.stderr);
          const r = JSON.parse(run.stdout) as DialReport;
          assert.deepEqual(
            r.attempts.map((a) => [a.address, a.outcome, a.trigger]),
            [
              [blackholed.v4[0], 'cancelled', 'first'],
              [good.v4[1], 'connected', 'delay'],
            ],
          );
          assert.ok(r.attempts[1]!.startMs - r.attempts[0]!.startMs >= 245, 'second attempt after ~250 ms');
          assert.equal(r.winner?.address, good.v4[1]);
        });

        await t.test('resolve --json: DNS order, TTLs and the kernel source address', async () => {
          const run = await runCli(['resolve', '--json', '--no-memory', 'one-good.lab.test']);
          assert.equal(run.code, 0, run.stderr);
          const r = JSON.parse(run.stdout) as ResolvedName;
          assert.deepEqual(
            r.addresses.map((a) => [a.address, a.family, a.source, a.ttlSeconds, a.sourceAddress]),
            [
              [good.v6[0], 6, 'dns', 60, LAB.client.v6],
              [good.v4[0], 4, 'dns', 60, LAB.client.v4],
            ],
          );
          const table = await runCli(['resolve', 'one-good.lab.test']);
          assert.match(table.stdout, /^one-good\.lab\.test: 2 addresses, in the order a dial would try them/);
        });

        await t.test('exit statuses: NXDOMAIN 3, all refused 4, all blackholed (timeout) 4', async () => {
          const missing = await runCli([`missing.lab.test:${http}`]);
          assert.equal(missing.code, 3, missing.stderr);
          assert.match(missing.stderr, /^netdial: connect missing\.lab\.test:80 failed .*has no address/);
          const refused = await runCli([`all-refused.lab.test:${http}`]);
          assert.equal(refused.code, 4, refused.stderr);
          assert.match(refused.stderr, /ECONNREFUSED/);
          const silent = await runCli(['-w', '600ms', '--trace', `all-blackholed.lab.test:${http}`]);
          assert.equal(silent.code, 4, silent.stderr);
          assert.equal(silent.stderr.split('\n').filter((l) => /^ {2}#\d+ .*timed out/.test(l)).length, 2);
          assert.match(silent.stderr, /\nnetdial: connect all-blackholed\.lab\.test:80 timed out after/);
        });

        await t.test('a slow AAAA answer: netdial connects over IPv4 without waiting for it', async () => {
          const run = await runCli(['trace', '--json', '--no-memory', `aaaa-slow.lab.test:${http}`]);
          assert.equal(run.code, 0, run.stderr);
          const r = JSON.parse(run.stdout) as DialReport;
          assert.equal(r.winner?.family, 4);
          assert.ok(r.durationMs < 500, `took ${r.durationMs} ms`);
          const aaaa = r.resolution.queries.find((q) => q.type === 'AAAA');
          assert.equal(aaaa?.endMs, undefined, 'the AAAA answer came after the dial');
        });

        await t.test('netcat through the lab echo server', async () => {
          const run = await runCli(['one-good.lab.test', String(LAB.ports.echo)], 'through the lab\n');
          assert.equal(run.code, 0, run.stderr);
          assert.equal(run.stdout, 'through the lab\n');
        });

        await t.test('--memory-file: the second run tries the blackholed AAAA last', async () => {
          const dir = mkdtempSync(join(tmpdir(), 'netdial-cli-lab-'));
          const file = join(dir, 'memory.json');
          try {
            const first = await runCli([
              'trace',
              '--json',
              '--memory-file',
              file,
              `aaaa-blackholed.lab.test:${http}`,
            ]);
            assert.equal(first.code, 0, first.stderr);
            const r1 = JSON.parse(first.stdout) as DialReport;
            assert.deepEqual(
              r1.attempts.map((a) => a.address),
              [blackholed.v6[0], good.v4[0]],
            );
            const second = await runCli([
              'trace',
              '--json',
              '--memory-file',
              file,
              `aaaa-blackholed.lab.test:${http}`,
            ]);
            const r2 = JSON.parse(second.stdout) as DialReport;
            if (r2.decisions.explored === undefined) {
              assert.deepEqual(r2.decisions.demoted, [blackholed.v6[0]]);
              assert.deepEqual(
                r2.attempts.map((a) => a.address),
                [good.v4[0]],
              );
              assert.ok(r2.durationMs < 100, `took ${r2.durationMs} ms`);
            }
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        });
      },
      { slowPathDelayMs: false },
    ),
  );
}
