/**
 * A failed dial in the words of Node's own socket errors, for the http agents: code that handles
 * `req.on('error')` checks `err.code`, `err.syscall`, `err.address`/`err.port` (or `err.hostname` for a
 * name that does not resolve) and reads messages like `connect ECONNREFUSED 192.0.2.1:80`. netdial's
 * DialError stays available as `cause`, with every attempt.
 */
import { os } from '../builtins.js';
import { type AttemptError, type DialError, isDialError } from '../errors.js';

/** What a Node-shaped dial error carries besides the message. */
export interface NodeDialError extends Error {
  code: string;
  errno?: number | undefined;
  /** 'connect', 'getaddrinfo', or 'handshake' for a TLS handshake the deadline ended (none for other TLS failures, as Node's). */
  syscall?: string | undefined;
  /** With a TLS failure: the host name the handshake was for (as Node's TLS errors carry it). */
  host?: string | undefined;
  address?: string | undefined;
  port?: number | undefined;
  hostname?: string | undefined;
  cause: DialError;
}

/**
 * libuv's numbers for getaddrinfo errors (UV_EAI_*), as Node puts them in `errno`: ENOTFOUND is
 * UV_EAI_NONAME (-3008), EAI_AGAIN -3001, EAI_FAIL -3004 (`util.getSystemErrorName` reads them back).
 */
export const GETADDRINFO_ERRNO: Readonly<Record<string, number>> = {
  ENOTFOUND: -3008,
  EAI_AGAIN: -3001,
  EAI_FAIL: -3004,
};

/** Codes that are about the name, not a connection: Node reports them from getaddrinfo. */
const NAME_CODES = new Set([
  'ENOTFOUND',
  'ENODATA',
  'ESERVFAIL',
  'ETIMEOUT',
  'EREFUSED',
  'EAI_AGAIN',
  'EAI_FAIL',
]);

/**
 * The attempt that decided the dial's `code`: the first connection attempt (tcp/tls) with that code,
 * else the first attempt of any phase with it (a DNS failure), else none (e.g. a timeout while every
 * attempt was still running: their own code is ECANCELED).
 */
function decisiveAttempt(err: DialError): AttemptError | undefined {
  return (
    err.attempts.find((a) => a.code === err.code && a.phase !== 'dns') ??
    err.attempts.find((a) => a.code === err.code)
  );
}

function errnoOf(code: string): number | undefined {
  const n = (os.constants.errno as Record<string, number | undefined>)[code];
  return n === undefined ? GETADDRINFO_ERRNO[code] : -n;
}

/**
 * `err` as Node's socket error for the same failure (a DialError only; anything else is returned as
 * is): `code` of the decisive attempt (the DialError's code), `syscall` 'connect' with `address`/`port`
 * of that attempt, or 'getaddrinfo' with `hostname` for a name without address; `errno` as libuv's. A
 * failed TLS handshake (phase 'tls': a certificate error is final, a reset or the deadline ends the
 * race) keeps Node's TLS message and code, with `host`, `address`, `port`.
 */
export function nodeDialError(err: unknown): unknown {
  if (!isDialError(err)) return err;
  const code = err.code;
  const attempt = decisiveAttempt(err);
  const byName = attempt?.phase === 'dns' || (attempt === undefined && NAME_CODES.has(code));
  let message: string;
  const fields: Partial<NodeDialError> = { code, errno: errnoOf(code) };
  if (attempt?.phase === 'tls') {
    // The handshake failed (certificate, reset, EOF, deadline): Node's own TLS error message, which the
    // attempt kept; a timeout has none from Node (its agents put no deadline on a handshake).
    message =
      code === 'ETIMEDOUT'
        ? `TLS handshake with ${attempt.address}:${attempt.port} did not finish within the dial timeout`
        : attempt.message;
    Object.assign(fields, {
      ...(code === 'ETIMEDOUT' ? { syscall: 'handshake' } : {}),
      host: err.host,
      address: attempt.address,
      port: attempt.port,
    });
  } else if (byName) {
    message = `getaddrinfo ${code} ${err.host}`;
    Object.assign(fields, { syscall: 'getaddrinfo', hostname: err.host });
  } else {
    const address = attempt?.address ?? err.host;
    // A Unix socket (refused by a policy before any attempt) has a path and no port.
    const unix = attempt === undefined && err.port === 0 && err.host.includes('/');
    const port = unix ? undefined : (attempt?.port ?? err.port);
    // A refusal by the address policy is not Node's; its own message says which rule. (Node writes an
    // IPv6 address without brackets here: "connect ECONNREFUSED ::1:80".)
    message = attempt?.phase === 'policy' || unix ? err.message : `connect ${code} ${address}:${port}`;
    Object.assign(fields, { syscall: 'connect', address, port });
  }
  const out = new Error(message, { cause: err }) as NodeDialError;
  for (const [k, v] of Object.entries(fields))
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  return out;
}

/**
 * Node's error for one failed connection attempt, as net gives it to 'connectionAttemptFailed' (and
 * to 'error' when it decides): `connect ECONNREFUSED 192.0.2.1:80`, with `code`, `errno`, `syscall`
 * 'connect', `address` and `port`.
 */
export function nodeConnectError(code: string, address: string, port: number): NodeJS.ErrnoException {
  const err = new Error(`connect ${code} ${address}:${port}`) as NodeJS.ErrnoException & {
    address: string;
    port: number;
  };
  err.code = code;
  const errno = errnoOf(code);
  if (errno !== undefined) err.errno = errno;
  err.syscall = 'connect';
  err.address = address;
  err.port = port;
  return err;
}
