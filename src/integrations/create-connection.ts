/**
 * `createConnection`: netdial behind the `net.createConnection`-shaped hook that `http.request`, `ws` and
 * many clients accept. Two forms, as Node's own http client knows them:
 * - with a callback `(err, socket)`: returns undefined and calls back with the real socket netdial won
 *   (a tls.TLSSocket for https/wss requests) — what `http.request`, `ws` and http.Agent use;
 * - without a callback: returns a `DialSocket` at once, a Duplex that stands in for the socket until the
 *   dial is done and then relays to it — for callers that need an object immediately.
 * `DialSocket` is also the `stream` for pg (`new pg.Client({ stream: () => new DialSocket() })`), whose
 * driver calls `stream.connect(port, host)` itself.
 */
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import type * as tls from 'node:tls';
import { type Dialer, getDefaultDialer } from '../dialer.js';
import { type DialOptions, readConnectionDialOptions } from '../options.js';
import { attachReport, getReport } from '../report.js';

/** Netdial settings for connections made through an integration: which Dialer, and per-dial options. */
export interface ConnectionDialOptions extends Omit<DialOptions, 'signal' | 'tls'> {
  /** The Dialer to dial with (its resolver, caches and memory). Default: the process-wide default Dialer. */
  dialer?: Dialer | undefined;
}

/** What the hook receives: `net.connect` / `tls.connect` / http request options (extra keys are ignored). */
export interface ConnectionOptions {
  host?: string | null | undefined;
  hostname?: string | null | undefined;
  port?: number | string | null | undefined;
  /** Unix socket path: connected with `net.createConnection` directly (nothing to race). */
  path?: string | null | undefined;
  socketPath?: string | undefined;
  family?: number | undefined;
  localAddress?: string | undefined;
  /** Idle timeout in ms as net's `timeout`; also bounds the dial when it is shorter than the dial timeout. */
  timeout?: number | undefined;
  signal?: AbortSignal | undefined;
  noDelay?: boolean | undefined;
  keepAlive?: boolean | undefined;
  keepAliveInitialDelay?: number | undefined;
  /**
   * Run TLS on the connection: `true` or tls.connect options. Implied for https and wss requests
   * (`protocol` 'https:'/'wss:', or an https default agent), with the request's own TLS options
   * (servername, ca, rejectUnauthorized, ALPNProtocols…).
   */
  tls?: boolean | tls.ConnectionOptions | undefined;
  protocol?: string | null | undefined;
}

/** http's createConnection callback (`socket` is a net.Socket, or a tls.TLSSocket for TLS). */
export type CreateConnectionCallback = (err: Error | null, socket: Duplex) => void;

/** The hook: see the module comment for its two forms. */
export interface CreateConnection {
  (options: ConnectionOptions, callback: CreateConnectionCallback): undefined;
  (options: ConnectionOptions): DialSocket;
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

/** tls.connect options for a request: its own TLS options, or the explicit `tls` object. */
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
  return out as tls.ConnectionOptions;
}

/** The host to dial; URL-style IPv6 ("[::1]") is accepted as well as the bare form http passes. */
function hostOf(options: ConnectionOptions): string {
  return options.hostname || options.host || 'localhost';
}

function familyOf(value: unknown): 0 | 4 | 6 | undefined {
  return value === 4 || value === 6 ? value : value === 0 ? 0 : undefined;
}

/**
 * Dials what `options` describe with netdial and resolves with the socket (TLS when `tls` is given here).
 * `options.timeout` shortens the dial when it is below the dial timeout, and becomes the socket's idle
 * timeout (`socket.setTimeout`), as net does with it. Unix `path`s connect directly.
 */
export function dialFor(
  options: ConnectionOptions,
  dial: ConnectionDialOptions,
  tlsOptions?: tls.ConnectionOptions | undefined,
): Promise<net.Socket> {
  const path = options.path ?? options.socketPath;
  if (
    typeof path === 'string' &&
    path.length > 0 &&
    options.host === undefined &&
    options.port === undefined
  ) {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ path });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(socket);
      });
      socket.once('error', reject);
    });
  }
  const { dialer = getDefaultDialer(), ...dialOptions } = dial;
  const idleMs = typeof options.timeout === 'number' && options.timeout > 0 ? options.timeout : undefined;
  const dialTimeout = dialOptions.timeout;
  const merged: DialOptions = {
    ...dialOptions,
    family: familyOf(options.family) ?? dialOptions.family,
    localAddress: typeof options.localAddress === 'string' ? options.localAddress : dialOptions.localAddress,
    noDelay: typeof options.noDelay === 'boolean' ? options.noDelay : dialOptions.noDelay,
    keepAlive: typeof options.keepAlive === 'boolean' ? options.keepAlive : dialOptions.keepAlive,
    keepAliveInitialDelay:
      typeof options.keepAliveInitialDelay === 'number'
        ? options.keepAliveInitialDelay
        : dialOptions.keepAliveInitialDelay,
    timeout:
      idleMs !== undefined && (dialTimeout === undefined || idleMs < dialTimeout) ? idleMs : dialTimeout,
    signal: options.signal instanceof AbortSignal ? options.signal : undefined,
    tls: tlsOptions ?? false,
  };
  const port = options.port || (tlsOptions ? 443 : 80);
  return dialer.dial({ host: hostOf(options), port }, merged).then((socket) => {
    if (idleMs !== undefined) socket.setTimeout(idleMs);
    return socket;
  });
}

/**
 * Makes a createConnection hook that dials with `dial` (Dialer and dial options). See the module comment
 * for the callback and the no-callback forms.
 */
export function bindCreateConnection(options: ConnectionDialOptions = {}): CreateConnection {
  const dial = readConnectionDialOptions(options, 'options');
  const hook = (options: ConnectionOptions, callback?: CreateConnectionCallback) => {
    if (typeof callback !== 'function') {
      const socket = new DialSocket(dial);
      socket.connect(options);
      return socket;
    }
    const tlsOptions = wantsTls(options) ? tlsOptionsOf(options) : undefined;
    dialFor(options, dial, tlsOptions).then(
      (socket) => callback(null, socket),
      (err: Error) => (callback as (err: Error) => void)(err),
    );
    return undefined;
  };
  return hook as CreateConnection;
}

/** The createConnection hook with the default Dialer: `http.request(url, { createConnection })`, `ws`. */
export const createConnection: CreateConnection = bindCreateConnection();

/**
 * A Duplex that is a socket to be: returned at once, connected by netdial (`connect(port, host)` or
 * `connect(options)`), then relaying to the winning socket — with 'connect' and 'ready' events,
 * `connecting`, `setNoDelay`/`setKeepAlive`/`setTimeout`/`ref`/`unref`, and the address getters of
 * net.Socket. Writes before the connection are held and sent once it is there. `getReport(dialSocket)`
 * returns the dial's report. The underlying socket is `dialSocket.socket` once connected.
 */
export class DialSocket extends Duplex {
  readonly #dial: ConnectionDialOptions;
  #socket: net.Socket | undefined;
  #connecting = false;
  #abort: AbortController | undefined;
  #noDelay: boolean | undefined;
  #keepAlive: { enable: boolean; delayMs: number | undefined } | undefined;
  #timeoutMs = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #refed = true;
  #held: Array<{ chunk: unknown; encoding: BufferEncoding; callback: (err?: Error | null) => void }> = [];
  #heldFinal: ((err?: Error | null) => void) | undefined;

  /** `dial`: the Dialer and dial options (TLS via `connect({ tls })`). */
  constructor(dial: ConnectionDialOptions = {}) {
    super({ allowHalfOpen: false });
    this.#dial = readConnectionDialOptions(dial, 'options');
  }

  /** True from connect() until the dial is done (as net.Socket#connecting). */
  get connecting(): boolean {
    return this.#connecting;
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
  get bytesRead(): number {
    return this.#socket?.bytesRead ?? 0;
  }
  get bytesWritten(): number {
    return this.#socket?.bytesWritten ?? 0;
  }
  /** 'opening' while dialing, then the socket's readyState. */
  get readyState(): string {
    if (this.#socket) return this.#socket.readyState;
    return this.#connecting ? 'opening' : this.destroyed ? 'closed' : 'opening';
  }

  address(): net.AddressInfo | Record<string, never> {
    return this.#socket?.address() ?? {};
  }

  /**
   * Starts the dial: `connect(port, host?, listener?)` or `connect(options, listener?)` with
   * ConnectionOptions (`tls` for TLS). `listener` is added once to 'connect'. Returns this.
   */
  connect(
    portOrOptions: number | string | ConnectionOptions,
    host?: string | (() => void),
    listener?: () => void,
  ): this {
    let options: ConnectionOptions;
    let onConnect = listener;
    if (typeof portOrOptions === 'object' && portOrOptions !== null) {
      options = portOrOptions;
      if (typeof host === 'function') onConnect = host;
    } else {
      options = { port: portOrOptions, host: typeof host === 'string' ? host : 'localhost' };
      if (typeof host === 'function') onConnect = host;
    }
    if (this.#connecting || this.#socket) {
      throw Object.assign(new Error('DialSocket: connect() was already called'), {
        code: 'ERR_SOCKET_CONNECTING',
      });
    }
    if (onConnect) this.once('connect', onConnect);
    this.#connecting = true;
    this.#abort = new AbortController();
    const outer = options.signal;
    if (outer instanceof AbortSignal) {
      if (outer.aborted) this.#abort.abort(outer.reason);
      else outer.addEventListener('abort', () => this.#abort?.abort(outer.reason), { once: true });
    }
    const tlsOptions = wantsTls(options) ? tlsOptionsOf(options) : undefined;
    dialFor({ ...options, timeout: undefined, signal: this.#abort.signal }, this.#dial, tlsOptions).then(
      (socket) => this.#attach(socket, tlsOptions !== undefined),
      (err: Error) => {
        this.#connecting = false;
        this.destroy(err);
      },
    );
    return this;
  }

  #attach(socket: net.Socket, secure: boolean): void {
    this.#connecting = false;
    this.#abort = undefined;
    if (this.destroyed) {
      socket.destroy();
      return;
    }
    this.#socket = socket;
    this.#clearIdleTimer();
    const report = getReport(socket);
    if (report) attachReport(this as unknown as net.Socket, report);
    if (this.#noDelay !== undefined) socket.setNoDelay(this.#noDelay);
    if (this.#keepAlive) socket.setKeepAlive(this.#keepAlive.enable, this.#keepAlive.delayMs);
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
    for (const w of this.#held.splice(0)) socket.write(w.chunk as Buffer, w.encoding, w.callback);
    if (this.#heldFinal) {
      const final = this.#heldFinal;
      this.#heldFinal = undefined;
      socket.end(() => final());
    }
    this.emit('connect');
    if (secure) this.emit('secureConnect');
    this.emit('ready');
  }

  override _write(chunk: unknown, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.#socket) this.#socket.write(chunk as Buffer, encoding, callback);
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
    this.#clearIdleTimer();
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

  /** As net.Socket#setNoDelay; applied on connect when called before. */
  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    this.#socket?.setNoDelay(noDelay);
    return this;
  }

  /** As net.Socket#setKeepAlive; applied on connect when called before. */
  setKeepAlive(enable = false, initialDelayMs?: number): this {
    this.#keepAlive = { enable, delayMs: initialDelayMs };
    this.#socket?.setKeepAlive(enable, initialDelayMs);
    return this;
  }

  /**
   * As net.Socket#setTimeout: 'timeout' after `timeoutMs` of inactivity (0 turns it off). While dialing,
   * the dial itself counts as inactivity.
   */
  setTimeout(timeoutMs: number, callback?: () => void): this {
    this.#timeoutMs = timeoutMs;
    if (callback) {
      if (timeoutMs === 0) this.off('timeout', callback);
      else this.once('timeout', callback);
    }
    if (this.#socket) this.#socket.setTimeout(timeoutMs);
    else {
      this.#clearIdleTimer();
      if (timeoutMs > 0) {
        this.#idleTimer = setTimeout(() => this.emit('timeout'), timeoutMs);
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
