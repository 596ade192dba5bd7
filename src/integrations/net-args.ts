/**
 * What `net.createConnection` / `socket.connect` accept, decided the way Node 20 decides it, so that the
 * drop-ins (createConnection, DialSocket) take and refuse exactly the same arguments:
 * - overloads `(options[, listener])`, `(path[, listener])`, `(port[, host][, listener])`
 *   (Node's `normalizeArgs`: a string that is not a number is a Unix socket path);
 * - `ERR_MISSING_ARGS` (TypeError) when there is neither `port` nor `path`;
 * - ports: a number or string (else `ERR_INVALID_ARG_TYPE`, TypeError), then Node's `validatePort`
 *   (`+port` an integer 0–65535, strings not blank; else `ERR_SOCKET_BAD_PORT`, RangeError) — so
 *   `''`, `NaN`, `-1`, `65536`, `1.5` throw; `'80'`, `' 80'`, `'0x50'`, `'1e2'` are ports 80, 80, 80, 100;
 * - `host` a string when set (else `ERR_INVALID_ARG_TYPE`); `localAddress` an IP (`ERR_INVALID_IP_ADDRESS`);
 * - `timeout` as `socket.setTimeout` takes it (a finite number ≥ 0, else ERR_INVALID_ARG_TYPE /
 *   ERR_OUT_OF_RANGE);
 * - `autoSelectFamily` a boolean, `autoSelectFamilyAttemptTimeout` an int32 ≥ 1 (`validateInt32`).
 * Pure: no sockets, no clock.
 */
import { net } from '../builtins.js';

/** A Node-style error: `name`, stable `code`, and the class Node uses for it. */
function nodeError<E extends Error>(Kind: new (message: string) => E, code: string, message: string): E {
  const e = new Kind(message) as E & { code: string };
  e.code = code;
  return e;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `type string (${JSON.stringify(value)})`;
  if (typeof value === 'number' || typeof value === 'boolean')
    return `type ${typeof value} (${String(value)})`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return `type ${typeof value}`;
}

function argType(name: string, expected: string, value: unknown): TypeError {
  return nodeError(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}. Received ${describe(value)}`,
  );
}

/** Node's `isPipeName`: a string that does not read as a non-negative number is a Unix socket path. */
function isPipeName(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const n = Number(value);
  return !(n >= 0);
}

/**
 * Node's validatePort (allowing 0): returns the port as an integer or throws ERR_SOCKET_BAD_PORT
 * (RangeError); a value that is neither number nor string throws ERR_INVALID_ARG_TYPE (TypeError).
 */
export function validatePort(port: unknown, name = 'options.port'): number {
  if (typeof port !== 'number' && typeof port !== 'string') {
    throw argType(name, 'of type number or string', port);
  }
  const n = +port;
  if ((typeof port === 'string' && port.trim().length === 0) || n !== n >>> 0 || n > 0xffff) {
    throw nodeError(
      RangeError,
      'ERR_SOCKET_BAD_PORT',
      `${name} should be >= 0 and < 65536. Received ${describe(port)}.`,
    );
  }
  return n;
}

/** `socket.setTimeout`'s argument: a finite number ≥ 0 (Node's getTimerDuration). */
export function validateTimeoutMs(value: unknown, name = 'msecs'): number {
  if (typeof value !== 'number') throw argType(name, 'of type number', value);
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw nodeError(
      RangeError,
      'ERR_OUT_OF_RANGE',
      `The value of "${name}" is out of range. It must be a non-negative finite number. Received ${String(value)}`,
    );
  }
  return value;
}

/** Node's validateInt32(value, name, 1) for `autoSelectFamilyAttemptTimeout`. */
export function validateAttemptTimeoutMs(
  value: unknown,
  name = 'options.autoSelectFamilyAttemptTimeout',
): number {
  if (typeof value !== 'number') throw argType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) {
    throw nodeError(
      RangeError,
      'ERR_OUT_OF_RANGE',
      `The value of "${name}" is out of range. It must be an integer >= 1 && <= 2147483647. Received ${String(value)}`,
    );
  }
  return value;
}

/** What a connect call asked for, validated. Exactly one of `path` and `port` is the destination. */
export interface ConnectRequest<O> {
  /**
   * The options object (the caller's own for the options form; a new null-prototype one for the
   * other forms).
   */
  options: O;
  /** A Unix socket path (non-empty) when the destination is one. */
  path: string | undefined;
  /** The TCP port (0–65535) when the destination is TCP. */
  port: number;
  /** The host as given (`options.host`), or 'localhost' when empty, as Node. */
  host: string;
  /** The 'connect' listener, when one was given. */
  listener: (() => void) | undefined;
}

/** Options keys this module reads; anything else rides along untouched. */
export interface NetConnectFields {
  host?: unknown;
  port?: unknown;
  path?: unknown;
  localAddress?: unknown;
}

/**
 * Normalises and validates the arguments of `createConnection(...)` / `socket.connect(...)` as Node does.
 * Throws synchronously, as Node does, for every input Node throws for.
 */
export function parseConnectArgs<O extends NetConnectFields>(args: readonly unknown[]): ConnectRequest<O> {
  const [first, second, third] = args;
  let options: O;
  let listener: unknown;
  if (typeof first === 'object' && first !== null) {
    options = first as O;
    listener = second;
  } else if (isPipeName(first)) {
    // Null-prototype, as the other form's below: the options are read by name afterwards (`family`,
    // `tls`…), and an ordinary object would answer those not given from a polluted Object.prototype.
    options = Object.assign(Object.create(null), { path: first }) as O;
    listener = second;
  } else {
    const o: NetConnectFields = Object.create(null);
    o.port = first;
    if (typeof second === 'string') {
      o.host = second;
      listener = third;
    } else {
      listener = second;
    }
    options = o as O;
  }
  if (options.port === undefined && (options.path === undefined || options.path === null)) {
    throw nodeError(
      TypeError,
      'ERR_MISSING_ARGS',
      'The "options" or "port" or "path" argument must be specified',
    );
  }
  const fn = typeof listener === 'function' ? (listener as () => void) : undefined;
  const path = options.path;
  if (path !== undefined && path !== null) {
    if (typeof path !== 'string') throw argType('options.path', 'of type string', path);
    // Node: an empty path is no path (it goes on to host and port).
    if (path.length > 0) return { options, path, port: 0, host: '', listener: fn };
  }
  const local = options.localAddress;
  if (
    local !== undefined &&
    local !== null &&
    local !== '' &&
    (typeof local !== 'string' || net.isIP(local) === 0)
  ) {
    throw nodeError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${String(local)}`);
  }
  const port = options.port === undefined ? 0 : validatePort(options.port);
  const host = options.host;
  if (host !== undefined && host !== null && typeof host !== 'string') {
    throw argType('hostname', 'of type string', host);
  }
  return { options, path: undefined, port, host: host || 'localhost', listener: fn };
}

/** A host as URLs write an IPv6 literal ("[::1]") without its brackets; anything else as it is. */
export function withoutBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
