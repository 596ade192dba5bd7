/**
 * Runs a fleet: `processes` child processes (bench/fleet-member.ts) dialling one name with dead and good
 * addresses on loopback, all in one memory mode, and sums what they lost to the dead addresses. Used by
 * the fleet benchmark (bench/fleet.ts) and, smaller, by test/fleet-redis.test.ts. Children are killed by
 * PID if they outlive `timeoutMs`.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { MemberConfig, MemberResult } from './fleet-member.js';

const MEMBER = fileURLToPath(new URL('./fleet-member.js', import.meta.url));

export interface FleetRun {
  mode: MemberConfig['mode'];
  processes: number;
  dialsPerProcess: number;
  members: MemberResult[];
  /** Sum over every dial of every process of the time lost to dead addresses, ms. */
  lostMs: number;
  dialsThatLost: number;
  /** Of those: on dials that explored a demoted address. */
  exploringLostMs: number;
  exploringDialsThatLost: number;
  failed: number;
  wallMs: number;
}

/**
 * Runs one member; resolves with its result, rejects when it fails or outlives `timeoutMs`. `onFirst` is
 * called once the member's first dial is done (and, shared, its observations published).
 */
export function runMember(
  config: MemberConfig,
  timeoutMs: number,
  onFirst?: () => void,
): Promise<MemberResult> {
  const child = spawn(process.execPath, [MEMBER, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (onFirst !== undefined && out.includes('FIRST\n')) {
      onFirst();
      onFirst = undefined;
    }
  });
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      onFirst?.();
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || line === '') {
        reject(new Error(`fleet member exited ${code}:\n${err.slice(-2000)}\n${out.slice(-1000)}`));
        return;
      }
      resolve(JSON.parse(line) as MemberResult);
    });
  });
}

/**
 * `staggerMs`: each process waits i × staggerMs before its first dial; `oneAfterAnother`: each process is
 * started only once the previous one has made its first dial (a deterministic rolling start, for tests).
 */
export async function runFleet(
  processes: number,
  config: Omit<MemberConfig, 'startDelayMs'> & { staggerMs?: number; oneAfterAnother?: boolean },
  timeoutMs: number,
): Promise<FleetRun> {
  const started = performance.now();
  const { staggerMs = 0, oneAfterAnother = false, ...member } = config;
  const runs: Promise<MemberResult>[] = [];
  for (let i = 0; i < processes; i++) {
    if (oneAfterAnother) {
      let firstDone: () => void = () => {};
      const first = new Promise<void>((resolve) => {
        firstDone = resolve;
      });
      const run = runMember({ ...member, startDelayMs: 0 }, timeoutMs, firstDone);
      runs.push(run);
      await Promise.race([
        first,
        run.then(
          () => undefined,
          () => undefined,
        ),
      ]);
    } else {
      runs.push(runMember({ ...member, startDelayMs: i * staggerMs }, timeoutMs));
    }
  }
  const members = await Promise.all(runs);
  return {
    mode: config.mode,
    processes,
    dialsPerProcess: config.dials,
    members,
    lostMs: members.reduce((sum, m) => sum + m.lostMs, 0),
    dialsThatLost: members.reduce((sum, m) => sum + m.dialsThatLost, 0),
    exploringLostMs: members.reduce((sum, m) => sum + m.exploringLostMs, 0),
    exploringDialsThatLost: members.reduce((sum, m) => sum + m.exploringDialsThatLost, 0),
    failed: members.reduce((sum, m) => sum + m.failed, 0),
    wallMs: performance.now() - started,
  };
}
