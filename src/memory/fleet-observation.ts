/**
 * What a fleet of Dialers tells each other about endpoints, and how it merges — pure: no clock is read,
 * no I/O; callers pass the wall-clock time.
 *
 * An observation is one process's last word on one endpoint (address, port): a failure with its code,
 * consecutive-failure count and the backoff it started, or a success with its RTT sample. Each carries
 * the observer's wall-clock time and a unique id. Per endpoint the newest observation wins — newest by
 * (wallClockMs, id), a total order — so merging sets of observations is a last-writer-wins map, a
 * join-semilattice: commutative, associative and idempotent (test/fleet-merge.test.ts checks these with
 * fast-check). Replicas that have seen the same observations, in any order, any number of times, agree.
 *
 * Only endpoints are shared here, never request data or local state such as exploration (which stays per
 * process and random, so a fleet does not retry a recovered server in lockstep). Host names travel only
 * as DNS answers, and only with `memory.shareDns` (dns-observation.ts).
 *
 * Observations arrive from a store, which is input, not trusted code: {@link parseObservation} accepts
 * only well-formed, plausible ones (an IP literal without a zone, a port, a bounded code, a time not
 * from the future, a bounded backoff) and everything else is dropped by the caller.
 */
import { isIP } from '../ip-address.js';

/** One process's observation of one endpoint, as it travels through a {@link MemoryStore}. */
export interface EndpointObservation {
  /** IP address literal (no zone: a zone means nothing to another host). */
  address: string;
  /** TCP port, 1–65535. */
  port: number;
  outcome: 'success' | 'failure';
  /** The observer's wall-clock time (ms since the epoch, `Date.now()`) when it recorded the outcome. */
  wallClockMs: number;
  /** Unique per observation: `<origin>.<sequence>`, where origin is random per process and store. */
  id: string;
  /** Failure: the error code (ECONNREFUSED, ETIMEDOUT, …). */
  code?: string | undefined;
  /** Failure: consecutive failures the observer had counted, >= 1. */
  failures?: number | undefined;
  /** Failure: the backoff it started, ms from `wallClockMs`. */
  backoffMs?: number | undefined;
  /** Success: the handshake's round-trip time, ms. */
  rttMs?: number | undefined;
}

/** Limits {@link parseObservation} applies. */
export interface ObservationLimits {
  /** Reject observations whose backoff exceeds this, ms (the receiver's `backoffMaxMs` caps it anyway). */
  maxBackoffMs: number;
  /** Tolerated clock skew: an observation at most this far in the receiver's future is accepted, ms. */
  maxFutureMs: number;
  /** Observations older than this are dropped as irrelevant, ms. */
  maxAgeMs: number;
}

/** Default {@link ObservationLimits}. */
export const OBSERVATION_LIMITS: ObservationLimits = Object.freeze({
  maxBackoffMs: 24 * 3600_000,
  maxFutureMs: 60_000,
  maxAgeMs: 24 * 3600_000,
});

/** The endpoint's key: port first (IPv6 addresses contain colons). */
export function observationKey(o: { address: string; port: number }): string {
  return `${o.port} ${o.address}`;
}

/** Whether `a` is newer than `b` in the total order (wallClockMs, then id). */
export function isNewer(a: EndpointObservation, b: EndpointObservation): boolean {
  if (a.wallClockMs !== b.wallClockMs) return a.wallClockMs > b.wallClockMs;
  return a.id > b.id;
}

/**
 * Merges observation `o` into `table` (key → newest observation). Returns true when `o` is now the
 * table's observation of its endpoint (it was newer than what the table had, or the table had none).
 * Merging the same observation again returns false and changes nothing (idempotence).
 */
export function mergeObservation(table: Map<string, EndpointObservation>, o: EndpointObservation): boolean {
  const key = observationKey(o);
  const held = table.get(key);
  if (held !== undefined && !isNewer(o, held)) return false;
  table.set(key, o);
  return true;
}

/** The merge of any number of observation sets: per endpoint, the newest observation. Pure. */
export function mergeAll(
  ...sets: ReadonlyArray<Iterable<EndpointObservation>>
): Map<string, EndpointObservation> {
  const table = new Map<string, EndpointObservation>();
  for (const set of sets) for (const o of set) mergeObservation(table, o);
  return table;
}

/**
 * What an observation means here, at wall-clock `nowWallMs`: a failure still in backoff (with what is
 * left of it), a success, or nothing (a failure whose backoff is over says nothing about now).
 * Elapsed time is never negative (a peer clock slightly ahead counts as "just now").
 */
export type PeerVerdict =
  | { outcome: 'failure'; code: string; failures: number; remainingMs: number }
  | { outcome: 'success'; rttMs: number | undefined }
  | undefined;

export function verdictOf(o: EndpointObservation, nowWallMs: number): PeerVerdict {
  if (o.outcome === 'success') return { outcome: 'success', rttMs: o.rttMs };
  const elapsedMs = Math.max(0, nowWallMs - o.wallClockMs);
  const remainingMs = (o.backoffMs ?? 0) - elapsedMs;
  if (!(remainingMs > 0)) return undefined;
  return { outcome: 'failure', code: o.code ?? 'ECONNREFUSED', failures: o.failures ?? 1, remainingMs };
}

const CODE = /^[A-Z][A-Z0-9_]{0,47}$/;
const ID = /^[A-Za-z0-9_-]{1,40}\.[0-9]{1,16}$/;

/**
 * Validates one untrusted observation; returns a fresh, plain copy, or undefined for anything malformed,
 * implausible or irrelevant at `nowWallMs`. Never throws, whatever `value` is (getters that throw,
 * proxies, prototype tricks: only own data properties of a plain object are read).
 */
export function parseObservation(
  value: unknown,
  nowWallMs: number,
  limits: ObservationLimits = OBSERVATION_LIMITS,
): EndpointObservation | undefined {
  try {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return undefined;
    const get = (name: string): unknown => {
      const d = Object.getOwnPropertyDescriptor(value, name);
      return d !== undefined && 'value' in d ? d.value : undefined;
    };
    const address = get('address');
    const port = get('port');
    const outcome = get('outcome');
    const wallClockMs = get('wallClockMs');
    const id = get('id');
    if (typeof address !== 'string' || address.length > 45 || address.includes('%') || isIP(address) === 0) {
      return undefined;
    }
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
    if (outcome !== 'success' && outcome !== 'failure') return undefined;
    if (typeof wallClockMs !== 'number' || !Number.isFinite(wallClockMs)) return undefined;
    if (wallClockMs > nowWallMs + limits.maxFutureMs || wallClockMs < nowWallMs - limits.maxAgeMs) {
      return undefined;
    }
    if (typeof id !== 'string' || !ID.test(id)) return undefined;
    if (outcome === 'success') {
      const rttMs = get('rttMs');
      if (rttMs !== undefined && (typeof rttMs !== 'number' || !(rttMs >= 0 && rttMs <= 600_000))) {
        return undefined;
      }
      return { address, port, outcome, wallClockMs, id, rttMs: rttMs as number | undefined };
    }
    const code = get('code');
    const failures = get('failures');
    const backoffMs = get('backoffMs');
    if (typeof code !== 'string' || !CODE.test(code)) return undefined;
    if (typeof failures !== 'number' || !Number.isInteger(failures) || failures < 1 || failures > 1000) {
      return undefined;
    }
    if (typeof backoffMs !== 'number' || !(backoffMs >= 0 && backoffMs <= limits.maxBackoffMs)) {
      return undefined;
    }
    return { address, port, outcome, wallClockMs, id, code, failures, backoffMs };
  } catch {
    return undefined; // a hostile object (throwing proxy trap): ignored like any other malformed input
  }
}
