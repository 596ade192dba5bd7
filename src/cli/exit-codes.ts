/**
 * The CLI's exit statuses and which error maps to which. Pure: classifies an error value, touches nothing.
 */
import { isAbortError, isDialError } from '../errors.js';

/** Exit statuses, as `--help` documents them. */
export const EXIT = Object.freeze({
  /** Connected (and, in netcat mode, the connection ended normally); resolve found addresses; demo ran. */
  ok: 0,
  /** Something unexpected: a bug, an unreadable file, a socket error after connecting that is not the network's. */
  failure: 1,
  /** Bad command line: unknown command or option, missing or malformed argument, invalid target. */
  usage: 2,
  /** The name did not resolve: no such name (NXDOMAIN), no address, DNS server failure or timeout — no address was tried. */
  resolution: 3,
  /** Addresses were found but no connection was made (refused, unreachable, timed out, TLS handshake failed), or the connection was reset. */
  connection: 4,
  /** Interrupted (Ctrl-C): 128 + SIGINT, as shells report it. */
  interrupted: 130,
});

/** Error code a usage problem found by the CLI itself carries. */
export const USAGE_ERROR_CODE = 'ERR_NETDIAL_USAGE';

/** A bad command line, found by the CLI (unknown option, missing argument…). Its message is one line. */
export class UsageError extends Error {
  readonly code = USAGE_ERROR_CODE;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const INPUT_CODES = new Set([USAGE_ERROR_CODE, 'ERR_NETDIAL_INVALID_TARGET', 'ERR_NETDIAL_INVALID_OPTION']);

/**
 * The exit status for an error a command ended with: usage errors and netdial's input TypeErrors -> 2; a
 * DialError in which no TCP/TLS attempt was made (only DNS failed) -> 3; any other DialError -> 4; an
 * AbortError -> 130; a socket error with a network code after connecting (ECONNRESET, EPIPE…) -> 4;
 * anything else -> 1.
 */
export function exitCodeFor(error: unknown): number {
  if (isAbortError(error)) return EXIT.interrupted;
  if (isDialError(error)) {
    const triedAnAddress = error.attempts.some((a) => a.phase !== 'dns');
    return triedAnAddress ? EXIT.connection : EXIT.resolution;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && INPUT_CODES.has(code)) return EXIT.usage;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return EXIT.connection;
  return EXIT.failure;
}

/** Socket error codes that mean the connection broke (exit 4), not that netdial did something wrong. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'ENETDOWN',
]);
