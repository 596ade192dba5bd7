/**
 * The test-process guard, loaded into every test process with `node --import` (package.json "test"):
 * a regression must turn the run red in minutes, never stall it.
 *
 * - An uncaught exception or unhandled rejection anywhere in the process, at any time (inside a test,
 *   between tests, after the last one), is printed and fails the file. Node 20's runner already fails a
 *   file on most of these; the guard makes it independent of the runner's version and of
 *   `--test-force-exit`-style shortcuts, which drop errors that land after the last test.
 * - After the file's last test, the process must exit by itself. Whatever still holds it open after a
 *   grace period (a server a failing test never closed, a socket, a timer) is listed and the process
 *   exits with status 1: a leak is a failure with a name, not a hang until CI's limit.
 */
import { after } from 'node:test';
import { inspect } from 'node:util';

/** How long the process may take to wind down after its last test, milliseconds. */
export const EXIT_GRACE_MS = Number(process.env.NETDIAL_TEST_EXIT_GRACE_MS ?? 10_000);

const escapes: string[] = [];

/** What the process holds before any test runs (its stdio): not a leak. */
const atStart = process.getActiveResourcesInfo();

/** Resources held now that were not held at start, e.g. `['TCPServerWrap', 'TCPSocketWrap']`. */
function heldSinceStart(): string[] {
  const left = [...atStart];
  const extra: string[] = [];
  for (const r of process.getActiveResourcesInfo()) {
    const i = left.indexOf(r);
    if (i >= 0) left.splice(i, 1);
    else extra.push(r);
  }
  return extra;
}

function escaped(kind: string, error: unknown): void {
  const text = `${kind}: ${inspect(error)}`;
  escapes.push(text);
  process.exitCode = 1;
  process.stderr.write(`netdial test guard: ${text}\n`);
}

// The monitor observes without changing what Node or the runner do with the exception.
process.on('uncaughtExceptionMonitor', (error, origin) => escaped(origin, error));
process.on('unhandledRejection', (reason) => escaped('unhandledRejection', reason));
process.on('exit', (code) => {
  if (escapes.length > 0 && code === 0) process.exitCode = 1;
});

after(() => {
  const timer = setTimeout(() => {
    const open = heldSinceStart();
    process.stderr.write(
      `netdial test guard: the last test ended ${EXIT_GRACE_MS} ms ago and the process is still held open (${open.join(', ') || 'timers'}): a test left something running; failing instead of hanging\n`,
    );
    process.exit(1);
  }, EXIT_GRACE_MS);
  timer.unref();
});
