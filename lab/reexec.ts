/**
 * Getting into the lab: a process cannot move itself into new namespaces, so a lab test file (or the lab
 * CLI) re-executes itself under `unshare --net --mount --pid --fork --kill-child --mount-proc`. The decision
 * (run inside, re-execute, skip, fail) is a pure function; the probe and the spawn are thin shells.
 * (No node:test here: the CLI uses this too.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { killQuietly } from './exec.js';

/** Environment variable that marks the re-executed process inside the lab's namespaces. */
export const LAB_INSIDE_ENV = 'NETDIAL_LAB_INSIDE';

/** What a lab entry point should do. */
export type LabEntryDecision =
  | { action: 'inside' }
  | { action: 'reexec' }
  | { action: 'skip'; reason: string }
  | { action: 'fail'; reason: string };

/** Facts that decide whether this machine can run a lab. */
export interface LabCapabilityFacts {
  platform: string;
  /** Effective uid; undefined where the platform has none. */
  uid: number | undefined;
  /** Why the namespace probe failed; undefined when it succeeded or was not run. */
  probeError: string | undefined;
}

/** Why no lab can run here (one line), or undefined when it can. Linux, root and a working probe are needed. */
export function labUnavailableReason(facts: LabCapabilityFacts): string | undefined {
  if (facts.platform !== 'linux') return `network lab needs Linux namespaces (platform is ${facts.platform})`;
  if (facts.uid !== 0)
    return `network lab needs root to create namespaces (running as uid ${facts.uid ?? 'unknown'})`;
  if (facts.probeError !== undefined) return `network lab unavailable: ${facts.probeError}`;
  return undefined;
}

/**
 * Decides what an entry point does: inside the lab -> run; lab possible -> re-execute inside; otherwise
 * skip, except on CI (`CI=true`), where a missing lab must fail rather than pass silently.
 */
export function decideLabEntry(facts: {
  inside: boolean;
  unavailableReason: string | undefined;
  ci: boolean;
}): LabEntryDecision {
  if (facts.inside) return { action: 'inside' };
  if (facts.unavailableReason === undefined) return { action: 'reexec' };
  if (facts.ci) return { action: 'fail', reason: `${facts.unavailableReason} (CI=true requires the lab)` };
  return { action: 'skip', reason: facts.unavailableReason };
}

const UNSHARE_FLAGS = ['--net', '--mount', '--pid', '--fork', '--kill-child', '--mount-proc'];

/** Probes namespace creation once (a few ms): creates the namespaces and brings up `lo` with `ip`. */
function probeNamespaces(): string | undefined {
  const result = spawnSync('unshare', [...UNSHARE_FLAGS, 'ip', 'link', 'set', 'lo', 'up'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    timeout: 5000,
  });
  if (result.error !== undefined) {
    const code = (result.error as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? 'unshare(1) is not installed'
      : `unshare probe failed (${code ?? result.error.message})`;
  }
  if (result.status !== 0) {
    const firstLine = (result.stderr ?? '').trim().split('\n')[0] ?? '';
    return `unshare probe failed (exit ${result.status ?? result.signal}): ${firstLine}`;
  }
  return undefined;
}

function hasPdeathsigSetpriv(): boolean {
  const result = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], {
    stdio: 'ignore',
    timeout: 5000,
  });
  return result.status === 0;
}

/** Decides for the current process (runs the probe only when it matters). */
export function decideForThisProcess(): LabEntryDecision {
  const inside = process.env[LAB_INSIDE_ENV] === '1';
  if (inside) return { action: 'inside' };
  const platform = process.platform;
  const uid = process.getuid?.();
  const needsProbe = platform === 'linux' && uid === 0;
  const unavailableReason = labUnavailableReason({
    platform,
    uid,
    probeError: needsProbe ? probeNamespaces() : undefined,
  });
  return decideLabEntry({ inside, unavailableReason, ci: process.env.CI === 'true' });
}

/** Options of `runInsideLab`. */
export interface ReexecOptions {
  /** Arguments after the script. */
  args?: readonly string[];
  /** Node flags for the inner process. Default `process.execArgv` (carries e.g. --test-name-pattern). */
  execArgv?: readonly string[];
  /** Ignore SIGINT/SIGQUIT in the outer process and let the inner one finish (CLI: the command gets Ctrl-C
   * itself and the lab tears down). Default false: every terminating signal kills the lab at once. */
  letInnerHandleInterrupt?: boolean;
}

/**
 * Re-executes `node <execArgv> <script> <args>` inside fresh namespaces with `NETDIAL_LAB_INSIDE=1`, stdio
 * inherited (so the node:test child protocol on stdout reaches the runner untouched), and resolves with the
 * exit code to use (128 + signal number when it died by a signal). If this process gets a terminating
 * signal, the inner one is SIGKILLed by PID and this process then dies by the same signal; if this process
 * dies without a chance to act (SIGKILL), `setpriv --pdeathsig` (where available) kills `unshare`, whose
 * `--kill-child` kills the inner PID 1, which takes its whole namespace down.
 */
export function runInsideLab(script: string, options: ReexecOptions = {}): Promise<number> {
  const inner = [
    ...UNSHARE_FLAGS,
    process.execPath,
    ...(options.execArgv ?? process.execArgv),
    script,
    ...(options.args ?? []),
  ];
  const [cmd, argv] = hasPdeathsigSetpriv()
    ? ['setpriv', ['--pdeathsig', 'KILL', '--', 'unshare', ...inner]]
    : ['unshare', inner];
  const child = spawn(cmd, argv, { stdio: 'inherit', env: { ...process.env, [LAB_INSIDE_ENV]: '1' } });
  const killing: NodeJS.Signals[] = options.letInnerHandleInterrupt
    ? ['SIGTERM', 'SIGHUP']
    : ['SIGTERM', 'SIGHUP', 'SIGINT'];
  const ignored: NodeJS.Signals[] = options.letInnerHandleInterrupt ? ['SIGINT', 'SIGQUIT'] : [];
  let fatalSignal: NodeJS.Signals | undefined;
  const onKill = (signal: NodeJS.Signals): void => {
    fatalSignal ??= signal;
    killQuietly(child.pid);
  };
  const ignore = (): void => {};
  for (const signal of killing) process.on(signal, onKill);
  for (const signal of ignored) process.on(signal, ignore);
  return new Promise<number>((resolve, reject) => {
    const cleanup = (): void => {
      for (const signal of killing) process.off(signal, onKill);
      for (const signal of ignored) process.off(signal, ignore);
    };
    child.once('error', (error) => {
      cleanup();
      reject(error);
    });
    child.once('exit', (code, signal) => {
      cleanup();
      if (fatalSignal !== undefined) {
        process.kill(process.pid, fatalSignal);
        return;
      }
      resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal]));
    });
  });
}
