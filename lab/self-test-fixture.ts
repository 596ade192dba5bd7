/**
 * A minimal lab test file, run by test/lab-harness.test.ts through `node --test` to check the three entry
 * paths end to end: re-executed and counted by the runner (root), skipped with a reason (non-root), failing
 * (non-root with CI=true). Not a test of its own: it lives outside test/ so `node --test dist/test/` skips it.
 */
import { test } from 'node:test';
import { enterLab } from './entry.js';

if (await enterLab(import.meta.url)) {
  test('fixture runs as PID 1 inside the lab', () => {
    if (process.pid !== 1) throw new Error(`expected PID 1 inside the lab, got ${process.pid}`);
  });
  test('fixture second test', () => {});
}
