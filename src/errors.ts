/**
 * netdial's errors: one `DialError` per failed dial that lists every attempt behind it, an `AbortError`
 * for cancellation, and `TypeError`s with stable codes for bad input. Brands use `Symbol.for` so the
 * guards work across two copies of the package.
 */
import type { DialReport } from './report.js';
import type { Family } from './types.js';

/** What a dial attempt was doing when it ended: resolving, connecting TCP, the TLS handshake, or refused by policy. */
export type AttemptPhase = 'dns' | 'tcp' | 'tls' | 'policy';

/** One entry per endpoint tried (or per failed DNS query, with phase 'dns'). Times are ms since the dial began. */
export interface AttemptError {
  /** The IP address dialled; for phase 'dns' the name that was queried. */
  address: string;
  family: Family;
  port: number;
  phase: AttemptPhase;
  /** Node-style error code: ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENOTFOUND, ESERVFAIL, CERT_HAS_EXPIRED… */
  code: string;
  message: string;
  startMs: number;
  durationMs: number;
}

const DIAL_ERROR = Symbol.for('netdial.DialError');
const ABORT_ERROR = Symbol.for('netdial.AbortError');

export interface DialErrorInit {
  host: string;
  port: number;
  code: string;
  message: string;
  attempts: AttemptError[];
  elapsedMs: number;
  cause?: unknown;
  report?: DialReport | undefined;
}

/**
 * A dial that did not produce a connection. `errors` (from AggregateError) holds one `Error` per attempt,
 * with `code`, `address`, `port` and `syscall` as Node's own socket errors have them; `attempts` has the
 * same facts as plain data with timings.
 */
export class DialError extends AggregateError {
  /** ENOTFOUND when the name does not exist; ETIMEDOUT when the overall timeout ran out; otherwise the most telling attempt's code. */
  readonly code: string;
  readonly host: string;
  readonly port: number;
  readonly attempts: readonly AttemptError[];
  readonly elapsedMs: number;
  /** What the dial did before it failed (resolution, order, every attempt), as for a successful dial; absent for input errors. */
  readonly report: DialReport | undefined;
  readonly [DIAL_ERROR] = true;

  constructor(init: DialErrorInit) {
    super(
      init.attempts.map((a) => attemptToError(a)),
      init.message,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.name = 'DialError';
    this.code = init.code;
    this.host = init.host;
    this.port = init.port;
    this.attempts = Object.freeze([...init.attempts]);
    this.elapsedMs = init.elapsedMs;
    this.report = init.report;
  }
}

function attemptToError(a: AttemptError): Error {
  const e = new Error(a.message) as Error & Record<string, unknown>;
  e.code = a.code;
  e.address = a.address;
  e.port = a.port;
  e.syscall =
    a.phase === 'dns'
      ? a.family === 6
        ? 'queryAaaa'
        : 'queryA'
      : a.phase === 'tls'
        ? 'handshake'
        : 'connect';
  e.phase = a.phase;
  return e;
}

/** True for a DialError from any copy of netdial. */
export function isDialError(value: unknown): value is DialError {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DIAL_ERROR] === true
  );
}

/** The dial was cancelled through its AbortSignal. `cause` is the signal's reason. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  readonly [ABORT_ERROR] = true;
  constructor(reason: unknown, what: string) {
    super(`${what} was aborted`, { cause: reason });
    this.name = 'AbortError';
  }
}

export function isAbortError(value: unknown): value is AbortError {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ABORT_ERROR] === true
  );
}

/** Stable codes of the TypeErrors netdial throws for bad input. */
export type InputErrorCode =
  | 'ERR_NETDIAL_INVALID_TARGET'
  | 'ERR_NETDIAL_INVALID_OPTION'
  | 'ERR_NETDIAL_INVALID_ARGUMENT';

/** A TypeError with a stable `code`, for bad targets and options. */
export function inputError(code: InputErrorCode, message: string): TypeError & { code: InputErrorCode } {
  const e = new TypeError(message) as TypeError & { code: InputErrorCode };
  e.code = code;
  return e;
}

/** Human words for the codes a dial most often ends with, used in one-line messages. */
const CODE_WORDS: Record<string, string> = {
  ECONNREFUSED: 'refused',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'reset',
  EADDRNOTAVAIL: 'address not available',
  ENOTFOUND: 'no such name',
  ENODATA: 'no address of this family',
  ESERVFAIL: 'DNS server failure',
  ETIMEOUT: 'DNS timeout',
  EREFUSED: 'DNS refused',
  ECANCELLED: 'cancelled',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in system',
};

export function describeCode(code: string): string {
  return CODE_WORDS[code] ?? code;
}

/** "1.2 s" or "340 ms": short durations for messages. */
export function formatDuration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/** A bad option: TypeError with code ERR_NETDIAL_INVALID_OPTION and `option` naming it. */
export function invalidOption(
  option: string,
  message: string,
): TypeError & { code: InputErrorCode; option: string } {
  return Object.assign(inputError('ERR_NETDIAL_INVALID_OPTION', message), { option });
}

/** A bad argument to a lower-level API (the memory structures): TypeError with code ERR_NETDIAL_INVALID_ARGUMENT. */
export function invalidArgument(message: string): TypeError & { code: InputErrorCode } {
  return inputError('ERR_NETDIAL_INVALID_ARGUMENT', message);
}
