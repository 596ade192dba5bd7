/**
 * Client process for netdial: one `new Dialer({ timeout })` per process, so the first dial is really cold
 * (no cache, no history, nothing read yet) and the second one in the same process is warm.
 * Job and report: see protocol.ts.
 */
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Dialer, getReport, isDialError } from '../../src/index.js';
import type { AttemptSummary, RunResult } from '../types.js';
import {
  type ChildJob,
  dialUntilMoved,
  epochNowMs,
  errorCode,
  finish,
  readJob,
  waitForGo,
} from './protocol.js';

/** What to dial and with which TLS option: the job's netdialTarget, or `{ host, port }`. */
interface Target {
  host: string;
  port: number;
  netdialTarget?: string | undefined;
  tls?: false | { ca: string } | undefined;
}

async function dialOnce(dialer: Dialer, target: Target): Promise<RunResult> {
  const started = performance.now();
  let socket: net.Socket;
  try {
    const what = target.netdialTarget ?? { host: target.host, port: target.port };
    // With a CA the dial returns once the TLS handshake is done (issue 17: TLS-aware racing).
    socket = await (target.tls === undefined ? dialer.dial(what) : dialer.dial(what, { tls: target.tls }));
  } catch (error) {
    const ms = performance.now() - started;
    if (isDialError(error)) {
      const attempts: AttemptSummary[] = error.attempts.map((a) => ({
        address: a.address,
        outcome: `failed (${a.phase})`,
        code: a.code,
        startMs: round(a.startMs),
        endMs: round(a.startMs + a.durationMs),
      }));
      return { ok: false, ms, error: error.code, attempts };
    }
    return { ok: false, ms, error: errorCode(error) };
  }
  const ms = performance.now() - started;
  const report = getReport(socket);
  const address = socket.remoteAddress;
  socket.destroy();
  return {
    ok: true,
    ms,
    address,
    attempts: report?.attempts.map((a) => ({
      address: a.address,
      outcome: a.outcome,
      code: a.code,
      startMs: round(a.startMs),
      endMs: a.endMs === undefined ? undefined : round(a.endMs),
    })),
    demoted: report?.decisions.demoted,
    resolution: report?.resolution.queries.map((q) => `${q.type} ${q.source}${q.code ? ` ${q.code}` : ''}`),
  };
}

/** Dials every name of the batch at once; ms = until all settled. */
async function dialBatch(dialer: Dialer, names: readonly string[], port: number): Promise<RunResult> {
  const started = performance.now();
  const results = await Promise.all(names.map((host) => dialOnce(dialer, { host, port })));
  const ms = performance.now() - started;
  const connected = results.filter((r) => r.ok).length;
  const firstError = results.find((r) => !r.ok)?.error;
  return {
    ok: connected === names.length,
    ms,
    address: results.find((r) => r.ok)?.address,
    error: firstError,
    connected,
    total: names.length,
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

async function main(job: ChildJob): Promise<never> {
  const dialer = new Dialer({ timeout: job.capMs });
  const target: Target = {
    host: job.names[0]!,
    port: job.port,
    netdialTarget: job.netdialTarget,
    tls:
      job.caFile !== undefined
        ? { ca: readFileSync(job.caFile, 'utf8') }
        : job.tls === 'off'
          ? false
          : undefined,
  };
  switch (job.mode) {
    case 'single': {
      const first = await dialOnce(dialer, target);
      const secondStartEpochMs = epochNowMs();
      const second = await dialOnce(dialer, target);
      return finish({ first, second, secondStartEpochMs });
    }
    case 'dns-stop': {
      const first = await dialOnce(dialer, target);
      await waitForGo();
      const secondStartEpochMs = epochNowMs();
      const second = await dialOnce(dialer, target);
      return finish({ first, second, secondStartEpochMs });
    }
    case 'renumber': {
      const first = await dialOnce(dialer, target);
      await waitForGo();
      const secondStartEpochMs = epochNowMs();
      const second = await dialUntilMoved(() => dialOnce(dialer, target), job);
      return finish({ first, second, secondStartEpochMs });
    }
    case 'concurrent': {
      const first = await dialBatch(dialer, job.names, job.port);
      const secondStartEpochMs = epochNowMs();
      const second = await dialBatch(dialer, job.names, job.port);
      return finish({ first, second, secondStartEpochMs });
    }
  }
}

await main(readJob(process.argv));
