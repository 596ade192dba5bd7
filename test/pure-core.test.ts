/**
 * "Decisions are pure and take the time as an argument" (README, docs/architecture.md): the modules that
 * decide — the race, the order, the RFC 6724 sort, the address policy, the memory — never read a clock,
 * start a timer or touch I/O themselves; the shell passes `now` in and carries out what they return. A
 * source check, so that a `performance.now()` slipped into a decision fails here, not as a flaky timing
 * test later.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const DECISIONS = [
  'race/race.ts',
  'race/order.ts',
  'race/sort.ts',
  'race/attempt-slots.ts',
  'race/tls-failure.ts',
  'policy/policy.ts',
  'ip-address.ts',
  ...readdirSync(`${SRC}memory`)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `memory/${f}`),
];
/** Reading a clock, starting a timer, or doing I/O. */
const IMPURE =
  /\b(performance\.now|Date\.now|new Date\b|process\.hrtime|setTimeout|setInterval|setImmediate|queueMicrotask)\b|from 'node:(fs|net|dgram|dns|tls|http|https|child_process|timers)[^']*'|\bnet\.(connect|createConnection|Socket)\b/;

/** node:net's address-syntax checks are pure functions of their argument. */
const PURE_IMPORT = /^import \{ (isIP|isIPv4|isIPv6)(, (isIP|isIPv4|isIPv6))* \} from 'node:net';$/;

/** The source without comments (block comments and line comments; strings are left alone). */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (block) => block.replace(/[^\n]/g, ''))
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

test('the decision modules read no clock, start no timer and do no I/O (the time is an argument)', () => {
  assert.ok(DECISIONS.length >= 10, DECISIONS.join(', '));
  const found: string[] = [];
  for (const file of DECISIONS) {
    code(readFileSync(`${SRC}${file}`, 'utf8'))
      .split('\n')
      .forEach((line, i) => {
        const m = PURE_IMPORT.test(line.trim()) ? null : IMPURE.exec(line);
        if (m) found.push(`src/${file}:${i + 1}: ${m[0]}`);
      });
  }
  assert.deepEqual(found, []);
});

test('the check itself sees a clock read, a timer and I/O', () => {
  for (const line of [
    'const t = performance.now();',
    'setTimeout(fn, 5);',
    "import net from 'node:net';",
    "import { readFileSync } from 'node:fs';",
  ]) {
    assert.match(code(line), IMPURE);
  }
  assert.doesNotMatch(code('// performance.now() in a comment'), IMPURE);
  assert.doesNotMatch(code("import { isIP } from './ip.js';"), IMPURE);
  assert.match("import { isIPv4, isIPv6 } from 'node:net';", PURE_IMPORT);
  assert.doesNotMatch("import { isIP, connect } from 'node:net';", PURE_IMPORT);
});
