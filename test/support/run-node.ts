/**
 * Runs `node ARGS` as a child process for a test and collects what it printed: its exit code (null when
 * killed), stdout and stderr as text. The child is killed by its PID after `timeoutMs` (default 20 s), so
 * a hang fails the test instead of holding it. NODE_OPTIONS is left out of its environment unless given.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';

export interface NodeRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function runNode(
  args: readonly string[],
  options: {
    cwd?: string;
    /** Added to (undefined: removed from) this process's environment. */
    env?: Record<string, string | undefined>;
    /** 'open': stdin is a pipe left open until the child exits (its peer closes first). Default 'ignore'. */
    stdin?: 'ignore' | 'open';
    timeoutMs?: number;
  } = {},
): Promise<NodeRun> {
  const child = spawn(process.execPath, [...args], {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: { ...process.env, NODE_OPTIONS: undefined, ...options.env } as NodeJS.ProcessEnv,
    stdio: [options.stdin === 'open' ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    const [code] = (await once(child, 'close')) as [number | null];
    return { code, stdout, stderr };
  } finally {
    clearTimeout(killer);
    child.stdin?.destroy();
  }
}
