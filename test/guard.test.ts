/**
 * The suite fails instead of hanging: `npm test` runs every file with a per-test timeout and the process
 * guard (test/support/guard.ts). Each case runs `node --test` with the script's own flags on a fixture
 * (test/fixtures/guard/) and expects the run to end, red, within a bound: an escaped rejection or
 * exception, a failing dial test that leaves its server open, a test that never ends. A clean file stays
 * green.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = 'dist/test/fixtures/guard';
const SCRIPT: string = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).scripts.test;
const WORDS = SCRIPT.trim().split(/\s+/);
/** The runner flags of `npm test`: everything between `node` and the test files (the last word). */
const FLAGS = WORDS.slice(1, -1);
/** Grace after the last test before the guard calls a still-open process a leak (short here). */
const GRACE_MS = 1000;

interface Run {
  code: number | null;
  output: string;
  ms: number;
}

/** Runs `node --test <npm test's flags> <overrides> fixture` and collects its output; killed after 60 s. */
function runFixture(fixture: string, overrides: string[] = []): Promise<Run> {
  const flags = FLAGS.filter((f) => !overrides.some((o) => o.split('=')[0] === f.split('=')[0]));
  const env: NodeJS.ProcessEnv = { ...process.env, NETDIAL_TEST_EXIT_GRACE_MS: String(GRACE_MS) };
  // The fixture run is a runner of its own, not a child of this one.
  delete env.NODE_TEST_CONTEXT;
  const started = performance.now();
  const child = spawn(process.execPath, [...flags, ...overrides, `${FIXTURES}/${fixture}.js`], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
    killSignal: 'SIGKILL',
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c));
  child.stderr.on('data', (c: Buffer) => (output += c));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output, ms: performance.now() - started }));
  });
}

describe('npm test fails instead of hanging', () => {
  test('the test script sets a per-test timeout of minutes and loads the guard into every test process', () => {
    assert.equal(WORDS[0], 'node', SCRIPT);
    assert.equal(WORDS.at(-1), 'dist/test/*.test.js', SCRIPT);
    assert.ok(FLAGS.includes('--test'), SCRIPT);
    const timeout = FLAGS.find((f) => f.startsWith('--test-timeout='));
    assert.ok(timeout, `no --test-timeout in ${SCRIPT}`);
    const ms = Number(timeout.split('=')[1]);
    assert.ok(ms >= 60_000 && ms <= 600_000, `--test-timeout=${ms}`);
    assert.ok(SCRIPT.includes('--import ./dist/test/support/guard.js'), SCRIPT);
    // --test-force-exit would end a file the moment its last test ends, dropping errors that land later.
    assert.ok(!FLAGS.includes('--test-force-exit'), SCRIPT);
  });

  test('a rejection that escapes after its test passed fails the run', async () => {
    const run = await runFixture('late-rejection');
    assert.notEqual(run.code, 0, run.output);
    assert.match(run.output, /netdial test guard: unhandledRejection: Error: escaped rejection/);
  });

  test('an exception that escapes after its test passed fails the run, even with a listener swallowing it', async () => {
    const run = await runFixture('late-exception');
    assert.notEqual(run.code, 0, run.output);
    assert.match(run.output, /netdial test guard: uncaughtException: Error: escaped exception/);
  });

  test('a failing dial test that leaves its server open ends the run, red, a grace period later', async () => {
    const run = await runFixture('failing-dial-leaves-server');
    assert.notEqual(run.code, 0, run.output);
    assert.match(run.output, /deliberately wrong/);
    assert.match(run.output, /still held open \([^)]*TCPServerWrap/);
    assert.ok(run.ms < GRACE_MS + 15_000, `ended after ${run.ms} ms`);
  });

  test('a test that never ends is cut off by the per-test timeout', async () => {
    const run = await runFixture('hanging-test', ['--test-timeout=2000']);
    assert.notEqual(run.code, 0, run.output);
    assert.match(run.output, /test timed out after 2000ms/);
    assert.ok(run.ms < 2000 + GRACE_MS + 15_000, `ended after ${run.ms} ms`);
  });

  test('a dial test that cleans up passes under the guard', async () => {
    const run = await runFixture('clean');
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /# pass 1/);
  });
});
