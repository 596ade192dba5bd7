/**
 * `enterLab`: the first line of every lab test file. See `reexec.ts` for the mechanism.
 */
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decideForThisProcess, runInsideLab } from './reexec.js';

/**
 * Entry point for a lab test file: `if (await enterLab(import.meta.url)) { ...tests... }`.
 * - Inside the lab (`NETDIAL_LAB_INSIDE=1`): returns true; define the tests.
 * - Lab possible (Linux, root, namespace probe passes): re-runs this file inside fresh namespaces, waits,
 *   sets `process.exitCode` to the inner exit code and returns false (define no tests then: the inner
 *   process reports them to the runner).
 * - Lab impossible: defines one skipped test 'network lab' whose skip reason says why (or, with CI=true, one
 *   failing test) and returns false.
 */
export async function enterLab(fileUrl: string | URL): Promise<boolean> {
  const decision = decideForThisProcess();
  switch (decision.action) {
    case 'inside':
      return true;
    case 'skip':
      test('network lab', { skip: decision.reason }, () => {});
      return false;
    case 'fail':
      test('network lab', () => {
        throw new Error(decision.reason);
      });
      return false;
    case 'reexec':
      process.exitCode = await runInsideLab(fileURLToPath(fileUrl));
      return false;
  }
}
