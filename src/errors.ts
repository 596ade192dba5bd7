/**
 * netdial's errors: one `DialError` per failed dial that lists every attempt behind it, an `AbortError`
 * for cancellation, and `TypeError`s with stable codes for bad input. Brands use `Symbol.for` so the
 * guards work across two copies of the package.
 */
import type { DialReport } from './report.js';
import type { Family } from './types.js';

/**
 * What a dial attempt was doing when it ended: resolving, connecting TCP, the TLS handshake, refused by
 * policy, or at the proxy (reaching it, or its CONNECT / SOCKS5 answer).
 */
export type AttemptPhase = 'dns' | 'tcp' | 'tls' | 'policy' | 'proxy';

/**
 * One thing that went wrong in a failed dial, as plain data (`console.table(err.attempts)` reads well).
 * A DialError's `attempts` lists, in this order:
 * - `phase: 'dns'` — DNS queries that failed (ETIMEOUT, ESERVFAIL, EREFUSED…), one per query. A negative
 *   answer (ENODATA: no address of that family; ENOTFOUND: no such name) is an answer, not a failure: it
 *   is listed only when the dial failed for want of any address (the error's code is then ENOTFOUND, or
 *   the DNS failure's). Otherwise it is in `err.report.resolution.queries` only.
 * - `phase: 'policy'` — addresses the address policy refused (code ERR_NETDIAL_POLICY_DENIED).
 * - `phase: 'tcp'` / `'tls'` — connection attempts, one per endpoint tried, in start order.
 *
 * The count in the message ("failed after 2 attempts") is of connection attempts (phases tcp and tls);
 * DNS failures and policy denials are named after it in parentheses. The message names an attempt by its
 * address, or address:port ([v6]:port) when a service record (SRV, HTTPS port=) gave it another port than
 * the target's. Times are ms since the dial began,
 * rounded to 0.1 ms.
 */
export interface AttemptError {
  /**
   * The IP address dialled; for phase 'dns' the name that was queried. Through a proxy that resolves the
   * target's name (CONNECT by name, socks5h) netdial never learns the target's address: a 'tls' attempt then
   * names the proxy it dialled (address and port; the target is the error's `host`), and the 'policy' refusal
   * of a socks5h dial names the target's name.
   */
  address: string;
  family: Family;
  port: number;
  phase: AttemptPhase;
  /** Node-style error code: ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENOTFOUND, ESERVFAIL, CERT_HAS_EXPIRED… */
  code: string;
  message: string;
  startMs: number;
  durationMs: number;
  /** Phase 'proxy': the proxy's HTTP status for a refused CONNECT (403, 407, 502…). */
  statusCode?: number | undefined;
  /** Phase 'proxy': the SOCKS5 reply value (RFC 1928 §6: 1 general failure … 8 address type not supported). */
  socksReply?: number | undefined;
  /** Phase 'proxy': the proxy (URL without its password). */
  proxy?: string | undefined;
}

/** Node's util.inspect hook, by its registered name (no import of node:util needed). */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

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
  /** The dial went through this proxy (URL without its password). */
  proxy?: string | undefined;
  /** A refused CONNECT: the proxy's HTTP status. */
  statusCode?: number | undefined;
  /** A SOCKS5 reply other than success (RFC 1928 §6). */
  socksReply?: number | undefined;
}

/**
 * A dial that did not produce a connection. `attempts` lists what went wrong as plain data (see
 * {@link AttemptError} for which DNS outcomes it holds and what the message counts); `errors` (from
 * AggregateError) holds one `Error` per entry of `attempts`, in the same order, with `code`, `address`,
 * `port` and `syscall` as Node's own socket errors have them. `report` is the whole dial. `util.inspect`
 * (and so `console.error(err)`) prints the message and one line per attempt.
 */
export class DialError extends AggregateError {
  /** ENOTFOUND when the name does not exist; ETIMEDOUT when the overall timeout ran out; otherwise the most telling attempt's code. */
  readonly code: string;
  readonly host: string;
  readonly port: number;
  readonly attempts: readonly AttemptError[];
  readonly elapsedMs: number;
  /**
   * What the dial did before it failed (resolution, order, every attempt), as for a successful dial; absent
   * for input errors. Not enumerable: Node prints an uncaught error's enumerable properties whole (its
   * printer ignores the short form below), and the report made that ~80 lines; it is still `err.report`.
   */
  declare readonly report: DialReport | undefined;
  // `declare`: no own property unless set (an uncaught error printed `proxy: undefined` and the like).
  /** Set when the dial went through a proxy: its URL without the password. */
  declare readonly proxy?: string;
  /** Set when the proxy refused CONNECT (code ERR_NETDIAL_PROXY): its HTTP status (403, 407, 502…). */
  declare readonly statusCode?: number;
  /** Set when a SOCKS5 proxy refused the CONNECT: its reply value (RFC 1928 §6). */
  declare readonly socksReply?: number;
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
    this.attempts = Object.freeze(
      init.attempts.map((a) => ({ ...a, startMs: tenths(a.startMs), durationMs: tenths(a.durationMs) })),
    );
    this.elapsedMs = tenths(init.elapsedMs);
    Object.defineProperty(this, 'report', { value: init.report, configurable: true, writable: true });
    const self = this as { -readonly [K in 'proxy' | 'statusCode' | 'socksReply']?: DialError[K] };
    if (init.proxy !== undefined) self.proxy = init.proxy;
    if (init.statusCode !== undefined) self.statusCode = init.statusCode;
    if (init.socksReply !== undefined) self.socksReply = init.socksReply;
  }

  /**
   * What `console.error(err)` and `util.inspect(err)` print: the message, then one line per attempt —
   * not the stack of netdial's internals and the full report (both stay on the error: `err.stack`,
   * `err.report`).
   */
  [INSPECT](depth: number, options: { stylize?: (text: string, style: string) => string }): string {
    const head = `${this.name} [${this.code}]: ${this.message}`;
    if (depth < 0) return `[${head}]`;
    const stylize = options?.stylize ?? ((text: string) => text);
    const lines = [
      head,
      ...this.attempts.map((a, i) => `    ${stylize(`#${i + 1}`, 'special')} ${describeAttempt(a)}`),
    ];
    const more = this.report === undefined ? '' : ', err.report the whole dial';
    lines.push(stylize(`    (err.attempts has these as data${more}, err.stack the stack)`, 'undefined'));
    return lines.join('\n');
  }
}

/** Milliseconds to 0.1 ms: what a reader of `attempts` needs, without float noise. */
function tenths(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** "tcp 192.0.2.1 port 80: ECONNREFUSED (refused) at 0.4 ms, after 1.2 ms", plus the message when it says more. */
function describeAttempt(a: AttemptError): string {
  const what =
    a.phase === 'dns'
      ? `dns ${a.family === 6 ? 'AAAA' : 'A'} ${a.address}`
      : `${a.phase} ${a.address} port ${a.port}`;
  const words = describeCode(a.code);
  const code = words === a.code ? a.code : `${a.code} (${words})`;
  // Node's own texts ("connect ECONNREFUSED 192.0.2.1:80") repeat the code: only other messages add something.
  const detail =
    a.message !== '' && a.message !== words && !a.message.includes(a.code) ? `: ${a.message}` : '';
  return `${what}: ${code} at ${a.startMs} ms, after ${a.durationMs} ms${detail}`;
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
        : a.phase === 'proxy'
          ? 'proxy'
          : 'connect';
  e.phase = a.phase;
  // Made here from the attempt's record, not where the attempt failed: a stack would only show how the
  // DialError was built (ten lines per attempt in an uncaught error's print), so none is kept.
  e.stack = `Error: ${a.message}`;
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
  ETRUNCATED: 'DNS answer truncated, TCP refused',
  EBADRESP: 'unusable DNS answer',
  ECANCELLED: 'cancelled',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in system',
  ERR_NETDIAL_PROXY: 'refused by the proxy',
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

/**
 * A negative DNS answer (RFC 2308): NXDOMAIN (`ENOTFOUND`) or NODATA (`ENODATA`) — an answer that the name,
 * or that type of it, does not exist, as opposed to a failure to get an answer.
 */
export function isNegativeAnswer(code: string | undefined): boolean {
  return code === 'ENOTFOUND' || code === 'ENODATA';
}
