/**
 * `createConnection`: netdial behind `net.createConnection`'s contract, for `http.request`, `ws` and the
 * many clients that take such a hook. It returns a `DialSocket` at once — as net returns a connecting
 * socket — so the caller can cancel (`destroy()`, its `signal`, its timeout) while netdial still dials:
 * the dial's attempts stop at once. Every overload, argument check and connect-time option of
 * net.createConnection is honoured (see net-args.ts for the arguments); where netdial deliberately
 * differs (address order, parallel attempts, port 0) docs/integrations.md says so.
 * `DialSocket` is also the `stream` for pg (`new pg.Client({ stream: () => new DialSocket() })`), whose
 * driver calls `stream.connect(port, host)` (or `connect(path)` for a Unix socket) itself.
 */
import type * as net from 'node:net';
import { isIP } from '../ip-address.js';
import type { Duplex } from 'node:stream';
import { net as nodeNet, stream } from '../builtins.js';
import type * as tls from 'node:tls';
import { type Dialer, getDefaultDialer } from '../dialer.js';
import { type DialOptions, readConnectionDialOptions } from '../options.js';
import { DIAL_SOCKET_OPTION_NAMES, ownCopy } from '../option-names.js';
import { type DialObserver, observeDial } from '../diagnostics.js';
import { AbortError, DialError, isDialError } from '../errors.js';
import type { Family } from '../types.js';
import { nodeConnectError } from './node-error.js';
import { POLICY_DENIED_CODE } from '../policy/policy.js';
import { attachReport, getReport } from '../report.js';
import {
  parseConnectArgs,
  validateAttemptTimeoutMs,
  validateTimeoutMs,
  withoutBrackets,
} from './net-args.js';

/** Netdial settings for connections made through an integration: which Dialer, and per-dial options. */
export interface ConnectionDialOptions extends Omit<DialOptions, 'signal' | 'tls'> {
  /** The Dialer to dial with (its resolver, caches and memory). Default: the process-wide default Dialer. */
  dialer?: Dialer | undefined;
  /**
   * Unix socket paths (`path`, `socketPath`, pg's `host: '/var/run/postgresql'`) connect with `net`
   * directly. With an address policy in force (here or on the Dialer) they are refused
   * (ERR_NETDIAL_DENIED) unless this is `true`: a policy speaks of IP addresses, and a local socket is
   * not one. Without a policy they are always allowed.
   */
  allowUnixSockets?: boolean | undefined;
}

/** DialSocket's own options: the connection dial options, plus net.Socket's `allowHalfOpen`. */
export interface DialSocketOptions extends ConnectionDialOptions {
  /** As net.Socket's: keep the writable side open after the peer ended (default false: end it too). */
  allowHalfOpen?: boolean | undefined;
}

/** What the hook receives: `net.connect` / `tls.connect` / http request options (extra keys are ignored). */
export interface ConnectionOptions {
  host?: string | null | undefined;
  hostname?: string | null | undefined;
  /** A number or numeric string, 0–65535, validated as Node does (ERR_SOCKET_BAD_PORT). */
  port?: number | string | null | undefined;
  /** Unix socket path: connected with `net.createConnection` directly (nothing to race). */
  path?: string | null | undefined;
  socketPath?: string | undefined;
  family?: number | undefined;
  localAddress?: string | undefined;
  /** Idle timeout in ms as net's `timeout` ('timeout' event, nothing closed); also runs while connecting. */
  timeout?: number | undefined;
  /** Destroys the socket with an AbortError when aborted, while connecting (the dial stops) or after. */
  signal?: AbortSignal | undefined;
  /** Truthy: `setNoDelay(true)` on connect (as net). */
  noDelay?: boolean | undefined;
  /** Truthy: `setKeepAlive(true, keepAliveInitialDelay)` on connect (as net). */
  keepAlive?: boolean | undefined;
  /** ms; negative counts as 0 (as net). */
  keepAliveInitialDelay?: number | undefined;
  /** As net.createConnection's: a DialSocket made by the hook keeps its writable side after the peer ends. */
  allowHalfOpen?: boolean | undefined;
  /**
   * Node's Happy Eyeballs switch. `false` (or `net.setDefaultAutoSelectFamily(false)`,
   * `--no-network-family-autoselection`): one attempt at a time, each after the previous failed.
   */
  autoSelectFamily?: boolean | undefined;
  /** Node's attempt delay in ms (int ≥ 1; below 10 counts as 10, above 2000 as 2000): netdial's attemptDelay. */
  autoSelectFamilyAttemptTimeout?: number | undefined;
  /**
   * Run TLS on the connection: `true` or tls.connect options. Implied for https and wss requests
   * (`protocol` 'https:'/'wss:', or an https default agent), with the request's own TLS options
   * (servername, ca, rejectUnauthorized, ALPNProtocols…).
   */
  tls?: boolean | tls.ConnectionOptions | undefined;
  protocol?: string | null | undefined;
}

/**
 * The listener the hook takes last, as net.createConnection's: added once to 'connect' and called with
 * no arguments. (http and ws pass an `(err, socket)` callback and use the socket the hook returns.)
 */
export type CreateConnectionCallback = (() => void) | ((err: Error | null, socket: Duplex) => void);

/** The hook: net.createConnection's overloads, returning a DialSocket at once. */
export interface CreateConnection {
  (options: ConnectionOptions, connectListener?: CreateConnectionCallback): DialSocket;
  (port: number | string, host?: string, connectListener?: () => void): DialSocket;
  (port: number | string, connectListener?: () => void): DialSocket;
  (path: string, connectListener?: () => void): DialSocket;
}

/** Keys of request options that are not TLS options (left out when the request's options become tls.connect's). */
const NOT_TLS = new Set([
  'agent',
  'createConnection',
  'headers',
  'method',
  'path',
  'socketPath',
  'lookup',
  'timeout',
  'signal',
  'tls',
  'protocol',
  '_defaultAgent',
  'defaultPort',
  'hash',
  'search',
  'pathname',
  'href',
  'auth',
  'setHost',
  'family',
  'hints',
  'localAddress',
  'localPort',
  'keepAlive',
  'keepAliveInitialDelay',
  'noDelay',
  'encoding',
  '_agentKey',
]);

/** Whether the options describe a TLS connection (explicit `tls`, or an https / wss request). */
export function wantsTls(options: ConnectionOptions): boolean {
  if (options.tls !== undefined) return options.tls !== false;
  if (options.protocol === 'https:' || options.protocol === 'wss:') return true;
  const agent = (options as Record<string, unknown>)._defaultAgent as { protocol?: unknown } | undefined;
  return agent?.protocol === 'https:';
}

/** What an HTTP/1.1 client (node:http/https, ws) can speak on a TLS connection it did not ask ALPN for. */
const HTTP1_ALPN: readonly string[] = Object.freeze(['http/1.1']);

/**
 * tls.connect options for a request: its own TLS options, or the explicit `tls` object. When TLS is
 * implied by an https/wss request (no `tls` key) that gives no `ALPNProtocols`, ALPN offers `http/1.1`:
 * the dial asks for the name's HTTPS records (RFC 9460) and, without a caller list, would offer the
 * record's protocols (h2…), which the server may pick though node:http and ws speak only HTTP/1.1.
 * (Node's own agent sends no ALPN; offering http/1.1 only tells the server what it gets anyway.)
 */
export function tlsOptionsOf(options: ConnectionOptions): tls.ConnectionOptions {
  if (typeof options.tls === 'object' && options.tls !== null) return options.tls;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (!NOT_TLS.has(key) && value !== undefined) out[key] = value;
  }
  // http options name the host `host` (or `hostname`); tls.connect checks the certificate against it.
  out.host = options.hostname || options.host || undefined;
  delete out.hostname;
  delete out.port;
  if (options.tls === undefined && out.ALPNProtocols === undefined) out.ALPNProtocols = [...HTTP1_ALPN];
  return out as tls.ConnectionOptions;
}

function familyOf(value: unknown): 0 | 4 | 6 | undefined {
  return value === 4 || value === 6 ? value : value === 0 ? 0 : undefined;
}

/** RFC 8305 §5 bounds netdial keeps for the Connection Attempt Delay (10 ms minimum, 2 s recommended limit). */
const ATTEMPT_DELAY_MIN_MS = 10;
const ATTEMPT_DELAY_MAX_MS = 2000;

/**
 * Node's Happy Eyeballs knobs as netdial dial options:
 * - `autoSelectFamily: false` (per connection, or the process default `net.setDefaultAutoSelectFamily`
 *   / `--no-network-family-autoselection`) → `maxConcurrentAttempts: 1`: one address at a time, in
 *   netdial's order, the next only after the previous failed (Node without it tries just the first);
 * - `autoSelectFamilyAttemptTimeout` (per connection) → `attemptDelay`, clamped to 10–2000 ms (Node
 *   raises values below 10 to 10 itself). The process default (`setDefaultAutoSelectFamilyAttemptTimeout`,
 *   `--network-family-autoselection-attempt-timeout`) is not used: netdial's delay comes from RTT history
 *   (RFC 8305 §5), and Node's default cannot be told apart from a deliberate one.
 * Per-connection values win over the bound dial options; the process default only fills a gap.
 * Throws as Node does for a non-boolean `autoSelectFamily` or a bad attempt timeout.
 */
function familySelectionOf(
  options: ConnectionOptions,
  dial: Pick<DialOptions, 'maxConcurrentAttempts' | 'attemptDelay'>,
): Pick<DialOptions, 'maxConcurrentAttempts' | 'attemptDelay'> {
  const out: Pick<DialOptions, 'maxConcurrentAttempts' | 'attemptDelay'> = {};
  const auto = options.autoSelectFamily;
  if (auto !== undefined && typeof auto !== 'boolean') {
    throw Object.assign(
      new TypeError(
        `The "options.autoSelectFamily" property must be of type boolean. Received ${typeof auto}`,
      ),
      { code: 'ERR_INVALID_ARG_TYPE' },
    );
  }
  if (auto === false) out.maxConcurrentAttempts = 1;
  else if (
    auto === undefined &&
    dial.maxConcurrentAttempts === undefined &&
    !nodeNet.getDefaultAutoSelectFamily()
  )
    out.maxConcurrentAttempts = 1;
  const timeout = options.autoSelectFamilyAttemptTimeout;
  if (timeout !== undefined) {
    const ms = validateAttemptTimeoutMs(timeout);
    out.attemptDelay = Math.min(ATTEMPT_DELAY_MAX_MS, Math.max(ATTEMPT_DELAY_MIN_MS, ms));
  }
  return out;
}

/** Whether a policy is in force for dials with `dial` (bound here or the Dialer's own). */
function policyInForce(dial: ConnectionDialOptions, dialer: Dialer): boolean {
  return dial.policy !== undefined || dialer.hasPolicy;
}

/** The error for a Unix socket refused because a policy is in force without allowUnixSockets. */
function unixDenied(path: string): DialError {
  return new DialError({
    host: path,
    port: 0,
    code: POLICY_DENIED_CODE,
    message: `connect ${path} refused by the address policy: a Unix socket is not an IP address (to allow Unix sockets: the allowUnixSockets: true option, or NETDIAL_ALLOW_UNIX_SOCKETS=1 under netdial/register)`,
    attempts: [],
    elapsedMs: 0,
  });
}

/**
 * Connects to Unix socket `path` with net, honouring the policy switch (refused with ERR_NETDIAL_DENIED
 * under a policy without allowUnixSockets); resolves once connected. Also the undici connector's.
 */
export function connectUnix(
  path: string,
  dial: ConnectionDialOptions,
  signal: AbortSignal | undefined,
  allowHalfOpen = false,
): Promise<net.Socket> {
  const { dialer = getDefaultDialer() } = dial;
  if (policyInForce(dial, dialer) && dial.allowUnixSockets !== true) return Promise.reject(unixDenied(path));
  if (signal?.aborted) return Promise.reject(new AbortError(signal.reason, `connect ${path}`));
  return new Promise((resolve, reject) => {
    const socket = nodeNet.createConnection({ path, allowHalfOpen });
    const onAbort = () => {
      socket.destroy();
      reject(new AbortError(signal?.reason, `connect ${path}`));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (err: Error) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    };
    socket.once('error', onError);
  });
}

/**
 * Dials `host`:`port` for a DialSocket: the bound dial options, with the connection's own `family`,
 * `localAddress` and Happy Eyeballs `selection` (already validated) over them, TLS when `tlsOptions`
 * are given, stopped by `signal`.
 */
function dialConnection(
  host: string,
  port: number,
  options: ConnectionOptions,
  dial: ConnectionDialOptions,
  selection: Pick<DialOptions, 'maxConcurrentAttempts' | 'attemptDelay'>,
  tlsOptions: tls.ConnectionOptions | undefined,
  signal: AbortSignal,
): Promise<net.Socket> {
  const dialer = dial.dialer ?? getDefaultDialer();
  // Null-prototype (not a rest spread): `family` and `localAddress` not bound are read below, and an
  // ordinary object would answer them from a polluted Object.prototype.
  const merged = ownCopy(dial, selection) as DialOptions & Partial<ConnectionDialOptions>;
  delete merged.dialer;
  delete merged.allowUnixSockets;
  merged.family = familyOf(options.family) ?? merged.family;
  if (typeof options.localAddress === 'string') merged.localAddress = options.localAddress;
  merged.signal = signal;
  merged.tls = tlsOptions ?? false;
  return dialer.dial({ host, port }, merged);
}

/**
 * The dial timeout when a connection also has an idle timeout (`timeout` of net / http options, or an
 * agent's): the idle timeout bounds the dial when it is shorter — a connection that stays silent that
 * long while connecting gets nothing more from waiting.
 */
export function dialTimeoutWithIdle(
  idleMs: number | undefined,
  dialTimeoutMs: number | undefined,
): number | undefined {
  return idleMs !== undefined && (dialTimeoutMs === undefined || idleMs < dialTimeoutMs)
    ? idleMs
    : dialTimeoutMs;
}

/** net's keep-alive delay: a number in ms, negative counting as 0; anything else is no value. */
function keepAliveDelayOf(value: unknown): number | undefined {
  if (typeof value !== 'number' || Number.isNaN(value)) return undefined;
  return Math.min(2 ** 31 - 1, Math.max(0, value));
}

/** DialSocket options that bindCreateConnection has read and validated once: not read again per socket. */
const alreadyRead = new WeakSet<object>();

/** Makes a createConnection hook that dials with `dial` (Dialer and dial options); see the module comment. */
export function bindCreateConnection(options: ConnectionDialOptions = {}): CreateConnection {
  const dial = readConnectionDialOptions(options, 'options');
  const hook = (...args: unknown[]): DialSocket => {
    const first = args[0];
    const allowHalfOpen =
      typeof first === 'object' && first !== null
        ? Boolean((first as ConnectionOptions).allowHalfOpen)
        : false;
    // A null-prototype copy: nothing inherited (a polluted Object.prototype) is ever read as an option.
    const own: DialSocketOptions = Object.assign(Object.create(null), dial, { allowHalfOpen });
    alreadyRead.add(own);
    const socket = new DialSocket(own);
    return socket.connect(...(args as [ConnectionOptions]));
  };
  return hook as CreateConnection;
}

let defaultHook: CreateConnection | undefined;

/**
 * The createConnection hook with the default Dialer: `http.request(url, { createConnection })`, `ws`.
 * Bound on its first call, not at `import 'netdial'` (the option reading it runs is about 0.5 ms of cold
 * code there, issue 16); bound to no options, it is the same hook either way.
 */
export const createConnection: CreateConnection = ((...args: unknown[]): DialSocket => {
  defaultHook ??= bindCreateConnection();
  return (defaultHook as (...a: unknown[]) => DialSocket)(...args);
}) as CreateConnection;

const ERR_SOCKET_CONNECTING = 'ERR_SOCKET_CONNECTING';

/** DialSocket's hook on the connection the dial handed over (internal: HttpsAgent's session cache). */
export const UPGRADE: unique symbol = Symbol('netdial.DialSocket.upgrade');

/** Bytes of a chunk as written (Buffers; strings when decodeStrings is off). */
function byteLengthOf(chunk: unknown, encoding: BufferEncoding): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, encoding);
  return (chunk as { byteLength?: number }).byteLength ?? 0;
}

/**
 * Node's socket events for the dial of one DialSocket, as net emits them: 'lookup' (null, address,
 * family, host) for each address of a name as its answer arrives (none for an IP literal or an address
 * the policy refused; the failed 'lookup' of a name without address comes with the dial's error), and
 * 'connectionAttempt' (ip, port, family) / 'connectionAttemptFailed' (ip, port, family, error) /
 * 'connectionAttemptTimeout' (ip, port, family) for each of netdial's attempts. An attempt that is
 * dropped because another won, or because the socket was destroyed, emits nothing (net has no such
 * attempts). Timeout: an attempt still connecting at the dial's deadline — netdial does not give up on
 * an attempt when the next one starts (RFC 8305 §5), where net with autoSelectFamily does.
 */
class SocketEvents implements DialObserver {
  readonly #socket: DialSocket;
  readonly #host: string | undefined;
  #denied: Set<string> | undefined;
  #told: Set<string> | undefined;
  /** Events before the first turn of the event loop after connect(), held until then. */
  #held: unknown[][] | undefined = [];

  /** `host`: the name dialled, or undefined for an IP literal (no 'lookup'). */
  constructor(socket: DialSocket, host: string | undefined) {
    this.#socket = socket;
    this.#host = host;
    // net emits nothing before connect() has returned, and its 'lookup' (dns.lookup answers from libuv's
    // thread pool) comes a loop turn later at the earliest — after http has handed the request its socket
    // (a tick later) and got has added its 'lookup' listener there. An IP literal's first attempt, or an
    // answer from a cache or a resolver function, comes sooner here: held until then, or until the
    // socket's own 'connect' or 'error', which they precede.
    setImmediate(() => this.flush());
  }

  /** Emits what was held (once); from then on events are emitted as they come. */
  flush(): void {
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    for (const args of held) this.#emit(args);
  }

  #emit(args: unknown[]): void {
    if (this.#socket.destroyed) return;
    if (this.#held !== undefined) this.#held.push(args);
    else this.#socket.emit(...(args as [string, ...unknown[]]));
  }

  denied(address: string): void {
    this.#denied ??= new Set();
    this.#denied.add(address);
  }

  answer(family: Family, addresses: ReadonlyArray<{ address: string }>): void {
    const host = this.#host;
    if (host === undefined) return;
    for (const { address } of addresses) {
      if (this.#denied?.has(address) || this.#told?.has(address)) continue;
      this.#told ??= new Set();
      this.#told.add(address);
      this.#emit(['lookup', null, address, family, host]);
    }
  }

  attemptStart(address: string, port: number, family: Family): void {
    this.#emit(['connectionAttempt', address, port, family]);
  }

  attemptEnd(
    address: string,
    port: number,
    family: Family,
    outcome: 'failed' | 'timeout' | 'cancelled' | 'aborted',
    code: string | undefined,
    _message: string | undefined,
  ): void {
    if (outcome === 'failed') {
      const error = nodeConnectError(code ?? 'EIO', address, port);
      this.#emit(['connectionAttemptFailed', address, port, family, error]);
    } else if (outcome === 'timeout') {
      this.#emit(['connectionAttemptTimeout', address, port, family]);
    }
  }
}

/**
 * A Duplex that is a socket to be: returned at once, connected by netdial (`connect(port, host)`,
 * `connect(options)` or `connect(path)`), then relaying to the winning socket. It follows net.Socket's
 * contract: 'lookup' (one per address of a host name, as answers arrive) → 'connectionAttempt' (and
 * 'connectionAttemptFailed' / 'connectionAttemptTimeout') per attempt → 'connect' → ('secureConnect') →
 * 'ready' (see SocketEvents);
 * `connecting`, `pending`, `readyState`, `bytesWritten` (counting writes queued before the connection),
 * `timeout`, `setNoDelay`/`setKeepAlive`/`setTimeout` before or after connecting, `ref`/`unref`, the
 * address getters, and `allowHalfOpen`. `destroy()` before the connection stops the dial at once and
 * emits only 'close' (no 'error', as net). Writes before the connection are held and sent once it is
 * there. `getReport(dialSocket)` returns the dial's report. The underlying socket is `dialSocket.socket`.
 */
export class DialSocket extends stream.Duplex {
  readonly #dial: ConnectionDialOptions;
  #socket: net.Socket | undefined;
  #connecting = false;
  #abort: AbortController | undefined;
  #signal: { signal: AbortSignal; onAbort: () => void } | undefined;
  #noDelay: boolean | undefined;
  #keepAlive: { enable: boolean; delayMs: number | undefined } | undefined;
  #timeoutMs = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #refed = true;
  #held: Array<{ chunk: unknown; encoding: BufferEncoding; callback: (err?: Error | null) => void }> = [];
  #heldFinal: ((err?: Error | null) => void) | undefined;
  /** Bytes handed to the underlying socket whose write has not called back yet (already in its count). */
  #inSocketBytes = 0;
  /** bytesWritten when destroyed (counting what was queued, as net reports it). */
  #bytesAtDestroy = 0;
  #failDeferred = false;
  /** Node's socket events of the dial in progress (see SocketEvents). */
  #events: SocketEvents | undefined;

  /** `options`: the Dialer and dial options (TLS via `connect({ tls })`), and `allowHalfOpen`. */
  constructor(options: DialSocketOptions = {}) {
    const read: DialSocketOptions = alreadyRead.has(options)
      ? options
      : readConnectionDialOptions(options, 'options', DIAL_SOCKET_OPTION_NAMES);
    const dial: ConnectionDialOptions = Object.assign(Object.create(null), read);
    delete (dial as DialSocketOptions).allowHalfOpen;
    super({ allowHalfOpen: read.allowHalfOpen === true });
    this.#dial = dial;
  }

  /** True from connect() until the dial is done (as net.Socket#connecting). */
  get connecting(): boolean {
    return this.#connecting;
  }

  /** True until connected, and again once destroyed (as net.Socket#pending). */
  get pending(): boolean {
    return this.#socket === undefined || this.#connecting || this.destroyed;
  }

  /** The socket netdial won; undefined before. */
  get socket(): net.Socket | undefined {
    return this.#socket;
  }

  get remoteAddress(): string | undefined {
    return this.#socket?.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.#socket?.remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.#socket?.remoteFamily;
  }
  get localAddress(): string | undefined {
    return this.#socket?.localAddress;
  }
  get localPort(): number | undefined {
    return this.#socket?.localPort;
  }
  get localFamily(): string | undefined {
    return this.#socket?.localFamily;
  }
  get bytesRead(): number {
    return this.#socket?.bytesRead ?? 0;
  }
  /** Bytes written, counting those queued before the connection (as net.Socket#bytesWritten). */
  get bytesWritten(): number {
    return this.destroyed ? this.#bytesAtDestroy : this.#liveBytesWritten();
  }
  #liveBytesWritten(): number {
    if (this.#socket) return this.#socket.bytesWritten + this.writableLength - this.#inSocketBytes;
    return this.writableLength;
  }
  /** The idle timeout in ms set by `timeout` or setTimeout (undefined when none), as net.Socket#timeout. */
  get timeout(): number | undefined {
    return this.#timeoutMs > 0 ? this.#timeoutMs : undefined;
  }
  /** As net.Socket#readyState: 'opening' while dialing, then 'open' / 'readOnly' / 'writeOnly' / 'closed'. */
  get readyState(): string {
    if (this.#connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  // TLS details of a TLS connection (https/wss through the hook), as tls.TLSSocket has them.
  get encrypted(): boolean | undefined {
    return (this.#socket as tls.TLSSocket | undefined)?.encrypted;
  }
  get authorized(): boolean | undefined {
    return (this.#socket as tls.TLSSocket | undefined)?.authorized;
  }
  get authorizationError(): Error | undefined {
    return (this.#socket as tls.TLSSocket | undefined)?.authorizationError;
  }
  get alpnProtocol(): string | false | null | undefined {
    return (this.#socket as tls.TLSSocket | undefined)?.alpnProtocol;
  }
  getPeerCertificate(detailed?: boolean): tls.PeerCertificate | object | undefined {
    const s = this.#socket as tls.TLSSocket | undefined;
    return typeof s?.getPeerCertificate === 'function' ? s.getPeerCertificate(detailed as true) : undefined;
  }
  getProtocol(): string | null | undefined {
    const s = this.#socket as tls.TLSSocket | undefined;
    return typeof s?.getProtocol === 'function' ? s.getProtocol() : undefined;
  }
  /** As tls.TLSSocket#isSessionReused; false before a TLS connection (and for plain TCP). */
  isSessionReused(): boolean {
    const s = this.#socket as tls.TLSSocket | undefined;
    return typeof s?.isSessionReused === 'function' ? s.isSessionReused() : false;
  }
  /** As tls.TLSSocket#getSession; undefined before a TLS connection (and for plain TCP). */
  getSession(): Buffer | undefined {
    const s = this.#socket as tls.TLSSocket | undefined;
    return typeof s?.getSession === 'function' ? s.getSession() : undefined;
  }

  address(): net.AddressInfo | Record<string, never> {
    return this.#socket?.address() ?? {};
  }

  /**
   * Starts the dial, with net's overloads: `connect(options[, listener])`, `connect(port[, host][,
   * listener])`, `connect(path[, listener])`. Bad arguments throw synchronously as net's do
   * (ERR_MISSING_ARGS, ERR_INVALID_ARG_TYPE, ERR_SOCKET_BAD_PORT…). `listener` is added once to
   * 'connect'. Honours net's connect-time options `timeout`, `noDelay`, `keepAlive`,
   * `keepAliveInitialDelay`, `signal`, `family`, `localAddress`, `autoSelectFamily*`, plus `tls`.
   * Returns this.
   */
  connect(options: ConnectionOptions, connectListener?: () => void): this;
  connect(port: number | string, host?: string, connectListener?: () => void): this;
  connect(port: number | string, connectListener?: () => void): this;
  connect(path: string, connectListener?: () => void): this;
  connect(...args: unknown[]): this {
    const request = parseConnectArgs<ConnectionOptions & { [key: string]: unknown }>(args);
    if (this.#connecting || this.#socket) {
      throw Object.assign(new Error('DialSocket: connect() was already called'), {
        code: ERR_SOCKET_CONNECTING,
      });
    }
    // Own properties only: names not given (`tls`, `family`, `localAddress`…) must not be answered by a
    // polluted Object.prototype. A null-prototype object (Node's agents', the positional forms') is
    // read as it is; a caller's ordinary one is copied once.
    const given = request.options;
    const options = (Object.getPrototypeOf(given) === null ? given : ownCopy(given)) as typeof given;
    let timeoutMs: number | undefined;
    if (options.timeout) timeoutMs = validateTimeoutMs(options.timeout, 'options.timeout');
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw Object.assign(new TypeError('The "options.signal" property must be an instance of AbortSignal'), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
    }
    // Checked now so that bad values throw here, as net's do.
    const selection = request.path === undefined ? familySelectionOf(options, this.#dial) : {};
    if (this.destroyed) return this;

    if (request.listener) this.once('connect', request.listener);
    if (options.noDelay) this.setNoDelay(true);
    if (options.keepAlive) this.setKeepAlive(true, options.keepAliveInitialDelay);
    if (timeoutMs !== undefined) this.setTimeout(timeoutMs);
    this.#connecting = true;
    this.#abort = new AbortController();
    if (signal) {
      const onAbort = () => this.destroy(new AbortError(signal.reason, 'socket'));
      if (signal.aborted) {
        process.nextTick(onAbort);
      } else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.#signal = { signal, onAbort };
      }
    }
    const abortSignal = this.#abort.signal;
    if (request.path !== undefined) {
      const path = request.path;
      connectUnix(path, this.#dial, abortSignal, true).then(
        (socket) => this.#attach(socket, false),
        (err: Error) => this.#fail(err, undefined),
      );
      return this;
    }
    if (request.port === 0) {
      // Node sends a SYN to port 0 and is refused; netdial dials nothing for a port no server can have.
      const err = Object.assign(
        new RangeError('options.port 0 cannot be connected to: no server listens on port 0'),
        { code: 'ERR_SOCKET_BAD_PORT' },
      );
      process.nextTick(() => this.#fail(err, undefined));
      return this;
    }
    const tlsOptions = wantsTls(options) ? tlsOptionsOf(options) : undefined;
    const host = withoutBrackets(options.hostname || request.host);
    this.#events = new SocketEvents(this, isIP(host) === 0 ? host : undefined);
    observeDial(abortSignal, this.#events);
    dialConnection(host, request.port, options, this.#dial, selection, tlsOptions, abortSignal).then(
      (socket) => this.#attach(socket, tlsOptions !== undefined),
      (err: Error) => this.#fail(err, host),
    );
    return this;
  }

  /**
   * The dial failed: 'lookup' with the error when no address was found (as net), then 'error'. A
   * failure known without any I/O (policy, port 0) still arrives a turn later, as net's errors do, so a
   * caller that inspects the socket right after connect() sees it connecting (ioredis does).
   */
  #fail(err: Error, host: string | undefined): void {
    if (this.#connecting && !this.#failDeferred) {
      this.#failDeferred = true;
      setImmediate(() => this.#fail(err, host));
      return;
    }
    this.#connecting = false;
    this.#abort = undefined;
    if (this.destroyed) return;
    this.#events?.flush();
    if (
      host !== undefined &&
      isIP(host) === 0 &&
      isDialError(err) &&
      err.attempts.length > 0 &&
      err.attempts.every((a) => a.phase === 'dns')
    ) {
      this.emit('lookup', err, undefined, undefined, host);
    }
    this.destroy(err);
  }

  #attach(connected: net.Socket, secure: boolean): void {
    this.#connecting = false;
    this.#abort = undefined;
    if (this.destroyed) {
      connected.destroy();
      return;
    }
    const report = getReport(connected);
    const socket = this[UPGRADE](connected);
    this.#socket = socket;
    // The socket decides nothing about half-open: this Duplex does (it ends its side when allowed to).
    socket.allowHalfOpen = true;
    if (report) attachReport(this as unknown as net.Socket, report);
    if (this.#noDelay !== undefined) socket.setNoDelay(this.#noDelay);
    if (this.#keepAlive) socket.setKeepAlive(this.#keepAlive.enable, this.#keepAlive.delayMs);
    this.#clearIdleTimer();
    if (this.#timeoutMs > 0) socket.setTimeout(this.#timeoutMs);
    if (!this.#refed) socket.unref();
    socket.on('timeout', () => this.emit('timeout'));
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
    for (const w of this.#held.splice(0)) this.#send(socket, w.chunk, w.encoding, w.callback);
    if (this.#heldFinal) {
      const final = this.#heldFinal;
      this.#heldFinal = undefined;
      socket.end(() => final());
    }
    // What the dial told before this turn of the loop comes first (a loopback connect can beat it).
    this.#events?.flush();
    // As a tls.TLSSocket from tls.connect: net's 'connect' and 'ready', then 'secureConnect'. With TLS
    // the dial hands the connection over once its handshake is done (the TLS-aware race), so all three
    // come together: the winner is known only then.
    this.emit('connect');
    this.emit('ready');
    if (secure) this.emit('secureConnect');
  }

  /**
   * Called with the connection the dial handed over (a tls.TLSSocket when the dial ran TLS), before any
   * event: the socket to relay from then on. The connection as it is here; HttpsAgent's socket feeds the
   * agent's TLS session cache from it.
   */
  [UPGRADE](socket: net.Socket): net.Socket {
    return socket;
  }

  #send(
    socket: net.Socket,
    chunk: unknown,
    encoding: BufferEncoding,
    callback: (err?: Error | null) => void,
  ) {
    const n = byteLengthOf(chunk, encoding);
    this.#inSocketBytes += n;
    socket.write(chunk as Buffer, encoding, (err) => {
      this.#inSocketBytes -= n;
      callback(err);
    });
  }

  override _write(chunk: unknown, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.#socket) this.#send(this.#socket, chunk, encoding, callback);
    else this.#held.push({ chunk, encoding, callback });
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.#socket) this.#socket.end(() => callback());
    else this.#heldFinal = callback;
  }

  override _read(): void {
    this.#socket?.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#bytesAtDestroy = this.#liveBytesWritten();
    this.#clearIdleTimer();
    if (this.#signal) {
      this.#signal.signal.removeEventListener('abort', this.#signal.onAbort);
      this.#signal = undefined;
    }
    this.#abort?.abort(err ?? new Error('socket destroyed'));
    this.#abort = undefined;
    this.#connecting = false;
    const pending = this.#held.splice(0);
    const final = this.#heldFinal;
    this.#heldFinal = undefined;
    const closed =
      err ??
      Object.assign(new Error('socket destroyed before it connected'), { code: 'ERR_STREAM_DESTROYED' });
    for (const w of pending) w.callback(closed);
    final?.(closed);
    const socket = this.#socket;
    if (socket && !socket.destroyed) {
      socket.once('close', () => callback(err));
      socket.destroy();
      return;
    }
    callback(err);
  }

  /** As net.Socket#resetAndDestroy: closes with a TCP RST once connected; before, as destroy(). */
  resetAndDestroy(): this {
    const socket = this.#socket;
    if (socket && !socket.destroyed && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    return this.destroy();
  }

  /** As net.Socket#setNoDelay; applied on connect when called before. */
  setNoDelay(noDelay = true): this {
    this.#noDelay = Boolean(noDelay);
    this.#socket?.setNoDelay(this.#noDelay);
    return this;
  }

  /** As net.Socket#setKeepAlive (a negative delay counts as 0); applied on connect when called before. */
  setKeepAlive(enable = false, initialDelayMs?: number): this {
    this.#keepAlive = { enable: Boolean(enable), delayMs: keepAliveDelayOf(initialDelayMs) };
    this.#socket?.setKeepAlive(this.#keepAlive.enable, this.#keepAlive.delayMs);
    return this;
  }

  /**
   * As net.Socket#setTimeout: 'timeout' after `timeoutMs` of inactivity (0 turns it off); nothing is
   * closed. While dialing, the dial itself counts as inactivity; the connection restarts the clock.
   */
  setTimeout(timeoutMs: number, callback?: () => void): this {
    const ms = validateTimeoutMs(timeoutMs);
    this.#timeoutMs = ms;
    if (callback) {
      if (ms === 0) this.off('timeout', callback);
      else this.once('timeout', callback);
    }
    if (this.#socket) this.#socket.setTimeout(ms);
    else {
      this.#clearIdleTimer();
      if (ms > 0) {
        this.#idleTimer = setTimeout(() => {
          this.#idleTimer = undefined;
          this.emit('timeout');
        }, ms);
        this.#idleTimer.unref();
      }
    }
    return this;
  }

  #clearIdleTimer(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  ref(): this {
    this.#refed = true;
    this.#socket?.ref();
    return this;
  }

  unref(): this {
    this.#refed = false;
    this.#socket?.unref();
    return this;
  }
}
