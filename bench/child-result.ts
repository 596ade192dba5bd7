/**
 * A benchmark half run in a child process (`node ...args`) that ends with one line `RESULT <json>`
 * (clients/protocol.ts): its parsed result, or why there is none — the error it could not start with, or
 * its exit code and last line of stderr (the first 4000 characters are kept). Killed by PID after
 * `killAfterMs`.
 */
import { spawn } from 'node:child_process';
import { killQuietly } from '../lab/exec.js';
import { RESULT_PREFIX } from './clients/protocol.js';

export type ChildResult<T> = { ok: true; results: T } | { ok: false; error: string };

export function resultOfChild<T>(args: readonly string[], killAfterMs: number): Promise<ChildResult<T>> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => killQuietly(child.pid), killAfterMs);
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 4000) stderr += c.toString();
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, error: error.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (line === undefined) {
        resolve({ ok: false, error: `exit ${code}: ${stderr.trim().split('\n').slice(-1)[0] ?? ''}` });
        return;
      }
      resolve({ ok: true, results: JSON.parse(line.slice(RESULT_PREFIX.length)) as T });
    });
  });
}
