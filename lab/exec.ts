/**
 * Runs one external command with a bounded lifetime: killed by its PID (SIGKILL) when the timeout passes,
 * output captured or inherited. Used for `ip`, `mount` and the lab's `exec`.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Options of `runCommand`. */
export interface ExecOptions {
  /** Kill the command (SIGKILL, by PID) after this many milliseconds. Default 10 000; `Infinity` disables. */
  timeoutMs?: number;
  /** 'pipe' (default) captures stdout/stderr as text; 'inherit' passes the caller's stdio through. */
  stdio?: 'pipe' | 'inherit';
  /** Written to the command's stdin, then stdin is closed (only with stdio 'pipe'). */
  input?: string;
  /** Environment; default the caller's. */
  env?: NodeJS.ProcessEnv;
  /** Working directory; default the caller's. */
  cwd?: string;
}

/** Outcome of `runCommand`. A non-zero exit is a result, not an exception. */
export interface ExecResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Captured output ('' with stdio 'inherit'). */
  stdout: string;
  stderr: string;
  durationMs: number;
  /** True when the command was killed because `timeoutMs` passed. */
  timedOut: boolean;
}

/** Sends SIGKILL to one PID, ignoring a process that is already gone. */
export function killQuietly(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already exited
  }
}

/**
 * Runs `cmd args`. Resolves when it exits; rejects only when it cannot be started (e.g. ENOENT).
 * The timeout timer is always cleared.
 */
export function runCommand(
  cmd: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const inherit = options.stdio === 'inherit';
  return new Promise<ExecResult>((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: inherit ? 'inherit' : ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    if (child.stdin !== null) {
      child.stdin.on('error', () => {});
      child.stdin.end(options.input ?? '');
    }
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          timedOut = true;
          killQuietly(child.pid);
        }, timeoutMs)
      : undefined;
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, durationMs: performance.now() - started, timedOut });
    });
  });
}

/** Like `runCommand` but rejects with an Error carrying the command's stderr when it does not exit 0. */
export async function runChecked(
  cmd: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<string> {
  const result = await runCommand(cmd, args, options);
  if (result.code !== 0) {
    const why = result.timedOut
      ? `timed out after ${options.timeoutMs ?? 10_000} ms`
      : `exited ${result.code ?? result.signal}`;
    throw new Error(`${cmd} ${args.join(' ')} ${why}: ${result.stderr.trim()}`);
  }
  return result.stdout;
}
