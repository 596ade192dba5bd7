/**
 * How long a DNS resolution failure (SERVFAIL, REFUSED, a timeout, no server reachable — not a negative answer)
 * is remembered, by how many failures of the same (name, type) came in a row.
 *
 * RFC 9520 §3.2: a resolver MUST cache a resolution failure for at least 1 second, and SHOULD use a longer time
 * (exponential or linear backoff) for repeated failures. netdial: the first failure is kept `errorTtlSeconds`
 * (default 1 s, the RFC's minimum, so that a client's own retry a second later reaches the server again);
 * each further failure in a row doubles it, up to {@link MAX_FAILURE_BACKOFF_SECONDS}. RFC 9520 §3.2 allows up to
 * 5 minutes; deviation: a client-side resolver's recovery must not wait minutes for a server that is back, so the cap is
 * 30 s. An `errorTtlSeconds` above the cap is used as it is, without doubling; 0 keeps no failure at all (an
 * explicit opt-out of the RFC's MUST). Any answer, positive or negative, ends the run of failures.
 */

/** The longest a repeated failure is kept by doubling, seconds. */
const MAX_FAILURE_BACKOFF_SECONDS = 30;

/**
 * Seconds to remember the `failuresInRow`-th failure in a row (1 for the first) of one query.
 * Pure: `errorTtlSeconds * 2^(failuresInRow - 1)`, capped at max(MAX_FAILURE_BACKOFF_SECONDS, errorTtlSeconds).
 */
export function failureTtlSeconds(errorTtlSeconds: number, failuresInRow: number): number {
  if (!(errorTtlSeconds > 0)) return 0;
  const cap = Math.max(MAX_FAILURE_BACKOFF_SECONDS, errorTtlSeconds);
  const doublings = Math.max(0, Math.min(failuresInRow, 64) - 1);
  return Math.min(cap, errorTtlSeconds * 2 ** doublings);
}

/**
 * How long after a failure expired its run is still counted, ms: a failure that comes within this of the last
 * one's expiry continues the run. It is the cap, so that a name that keeps failing stays backed off while one
 * that failed once long ago starts again at `errorTtlSeconds`.
 */
export function failureRunMemoryMs(errorTtlSeconds: number): number {
  // Failures not kept at all (errorTtlSeconds 0): no run either, so nothing stays in the cache for them.
  if (!(errorTtlSeconds > 0)) return 0;
  return Math.max(MAX_FAILURE_BACKOFF_SECONDS, errorTtlSeconds) * 1000;
}

/** One query's failures in a row (one (name, type)), and the server that failed the last, when one did. */
export class FailureRun {
  /** How many so far. */
  inRow = 0;
  /** How long the last one is kept, seconds ({@link failureTtlSeconds}). */
  ttlSeconds = 0;
  /** Until when a further failure continues the run (ms): the last one's expiry plus {@link failureRunMemoryMs}. */
  runUntilMs = 0;
  /** The server that failed the last query (SERVFAIL, REFUSED…), when one did; for its text. */
  server: string | undefined = undefined;
}

/**
 * Counts a failure at `nowMs`: into `run` when it is still running, else into a new run. Returns the run, whose
 * `ttlSeconds` says how long this failure is kept. The one rule both failure caches (the DNS cache's A/AAAA
 * slots and the HTTPS/SRV record cache) follow.
 */
export function countFailure(
  run: FailureRun | undefined,
  errorTtlSeconds: number,
  nowMs: number,
): FailureRun {
  const counted = run !== undefined && nowMs < run.runUntilMs ? run : new FailureRun();
  counted.inRow += 1;
  counted.ttlSeconds = failureTtlSeconds(errorTtlSeconds, counted.inRow);
  counted.runUntilMs = nowMs + counted.ttlSeconds * 1000 + failureRunMemoryMs(errorTtlSeconds);
  return counted;
}
