/**
 * A test's missing prerequisite (a Debian tool, a server binary): a skip with the reason on a developer's
 * machine, a failure on CI (`CI=true`), so a missing tool never lets a claim pass silently where it must run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

/** `false` when `reason` is undefined; otherwise the reason to skip with — and on CI a failing test saying it. */
export function skipReason(reason: string | undefined): string | false {
  if (reason === undefined) return false;
  if (process.env.CI === 'true')
    test(`prerequisite is available on CI: ${reason}`, () => assert.fail(reason));
  return reason;
}

/** The skip reason for a command that does not run (`cmd --version` fails), or false when it runs. */
export function skipWithoutCommand(command: string, what: string): string | false {
  const ok = spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
  return skipReason(ok ? undefined : `${command} (${what}) not found`);
}
