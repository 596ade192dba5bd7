/**
 * The tiny protocol between the benchmark (parent, inside the lab) and its client processes: the parent
 * passes one JSON job as the last command-line argument; a child prints `READY` when it waits for the
 * parent (dns-stop), reads one line from stdin to go on, and ends with one line `RESULT <json>`.
 */
import type { ScenarioKind } from '../scenarios.js';
import { performance } from 'node:perf_hooks';
import type { RunResult } from '../types.js';

/** Prefix of the line that carries a child's result. */
export const RESULT_PREFIX = 'RESULT ';
/** Line a dns-stop child prints after its first connect; the parent answers with one line on stdin. */
export const READY_LINE = 'READY';

/** What a Node child (netdial or node:net / fetch) is asked to do. */
export interface ChildJob {
  mode: ScenarioKind;
  /** Names to dial: one for 'single' and 'dns-stop', the whole batch (repeats included) for 'concurrent'. */
  names: string[];
  port: number;
  /** Cap of each connect (and of a whole batch), ms. */
  capMs: number;
  /** 'renumber': the address the service moved to, and how many dials to try to reach it. */
  renumber?: { newAddress: string; maxDials: number } | undefined;
  /** netdial only: what it dials instead of `{ host: names[0], port }` (a URL, an `srv!` name). */
  netdialTarget?: string | undefined;
  /** netdial only: 'off' passes `tls: false` (an https URL whose record moves it to a plain TCP port). */
  tls?: 'off' | undefined;
  /**
   * A PEM file of the CA to trust: every client completes a TLS handshake with `names[0]` (SNI and
   * certificate check) before the run counts as connected.
   */
  caFile?: string | undefined;
}

/**
 * What a child reports. 'single': `first` (netdial: cold) and, for netdial, `second` (warm, started at
 * `secondStartEpochMs`). 'dns-stop': `first` with DNS up, `second` after the parent said go. 'renumber':
 * `first` to the old address, `second` the dials after the move (`dials`, `ms` until the new address). 'concurrent':
 * `first` the batch (netdial: a cold Dialer), `second` (netdial) the same batch again, warm.
 */
export interface ChildReport {
  first: RunResult;
  second?: RunResult | undefined;
  /** Wall-clock time (ms since the epoch) at which `second` started, to split the DNS query log. */
  secondStartEpochMs?: number | undefined;
}

/** Reads the job from argv (last argument). Throws when it is missing or not JSON. */
export function readJob(argv: readonly string[]): ChildJob {
  const raw = argv[argv.length - 1];
  if (raw === undefined) throw new Error('missing job argument');
  return JSON.parse(raw) as ChildJob;
}

/** Writes the result line and exits at once (background DNS work of a client must not delay the run). */
export function finish(report: ChildReport): never {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(report)}\n`);
  process.exit(0);
}

/** Prints READY and waits for one line on stdin. */
export async function waitForGo(): Promise<void> {
  process.stdout.write(`${READY_LINE}\n`);
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer): void => {
      if (chunk.includes(10)) {
        process.stdin.off('data', onData);
        process.stdin.pause();
        resolve();
      }
    };
    process.stdin.on('data', onData);
  });
}

/**
 * 'renumber': dials with `once` until it reaches `newAddress` or `maxDials` dials were made; the result
 * carries the dial count and the time from the first of them.
 */
export async function dialUntilMoved(once: () => Promise<RunResult>, job: ChildJob): Promise<RunResult> {
  const { newAddress, maxDials } = job.renumber ?? { newAddress: '', maxDials: 1 };
  const started = performance.now();
  let last: RunResult = { ok: false, ms: 0, error: 'no dial' };
  for (let dials = 1; dials <= maxDials; dials++) {
    last = await once();
    if (last.ok && last.address === newAddress) {
      return { ...last, ms: performance.now() - started, dials };
    }
  }
  const error = last.ok ? `still ${last.address ?? '?'}` : (last.error ?? 'failed');
  return { ...last, ok: false, ms: performance.now() - started, dials: maxDials, error };
}

/** Wall-clock now with sub-millisecond resolution (comparable across processes). */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The error's code, or a short description: Node errors, AggregateErrors (codes of the parts), causes. */
export function errorCode(error: unknown): string {
  const e = error as { code?: unknown; name?: string; message?: string; errors?: unknown[]; cause?: unknown };
  if (typeof e?.code === 'string' && e.code !== '') return e.code;
  if (Array.isArray(e?.errors) && e.errors.length > 0) {
    const codes = [...new Set(e.errors.map((x) => errorCode(x)))];
    return `AggregateError(${codes.join(',')})`;
  }
  if (e?.cause !== undefined) return errorCode(e.cause);
  const text = `${e?.name ?? 'Error'}${e?.message ? `: ${e.message}` : ''}`;
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}
