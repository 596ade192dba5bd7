/**
 * `netdial/undici`: netdial behind undici and Node's global `fetch`. netdial dials the connection
 * (parallel A/AAAA, RFC 6724 order, RFC 8305 racing) and, for https origins, runs the TLS handshake in
 * its race (the first connection that is secure wins) with the options undici's own `buildConnector`
 * would use (its servername and ALPN rules, `tls`, a session cache like its own).
 * undici ignores its `connectTimeout` when `connect` is a function; here `connectTimeout` bounds the
 * whole connect — resolution, the race and the TLS handshake — as one deadline.
 *
 * Needs the `undici` package (an optional peer dependency, ^6.21 or ^7: the versions that run on Node 20
 * and whose dispatchers Node 20's global fetch accepts).
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import * as tls from 'node:tls';
import {
  Agent,
  type buildConnector,
  type Dispatcher,
  errors,
  getGlobalDispatcher,
  setGlobalDispatcher,
} from './undici-peer.js';
import { getDefaultDialer } from './dialer.js';
import { AbortError, type DialError, isAbortError, isDialError } from './errors.js';
import { type ConnectionDialOptions, connectUnix } from './integrations/create-connection.js';
import { withoutBrackets } from './integrations/net-args.js';
import {
  CONNECTOR_OPTION_NAMES,
  DISPATCHER_OPTION_NAMES,
  ownCopy,
  ownOption,
  readOptionBag,
} from './option-names.js';
import { readConnectionDialOptions } from './options.js';
import { attachReport, getReport } from './report.js';
import { proxyOptionForScheme } from './proxy/select-proxy.js';

/** Options of {@link connector}. */
export interface ConnectorOptions extends Omit<ConnectionDialOptions, 'timeout'> {
  /**
   * One deadline for DNS, the connection race and the TLS handshake, ms. Default 10 000 (undici's
   * default connectTimeout). `Infinity` removes it.
   */
  connectTimeout?: number | undefined;
  /** tls.connect options for https origins: ca, cert, key, rejectUnauthorized, servername, … */
  tls?: tls.ConnectionOptions | undefined;
  /** TLS sessions kept for resumption (undici's option). Default 100. */
  maxCachedSessions?: number | undefined;
  /** Offer HTTP/2 over ALPN (undici's option). Default false. */
  allowH2?: boolean | undefined;
}

/** Options of {@link createDispatcher} and {@link installGlobalDispatcher}. */
export interface DispatcherOptions extends ConnectorOptions {
  /**
   * Further undici Agent options (keepAliveTimeout, connections, pipelining, socketPath…). The connector
   * is netdial's: a `connect` object's options are kept as its own (TLS options under `tls`, `timeout` as
   * `connectTimeout`, `socketPath`); a `connect` function is refused.
   */
  agent?: Agent.Options | undefined;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The same TCP keep-alive undici's own connector sets (60 s initial delay). */
const UNDICI_KEEPALIVE_DELAY_MS = 60_000;

function checkTimeout(value: unknown): number {
  if (value === undefined) return DEFAULT_CONNECT_TIMEOUT_MS;
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !(value >= 1) || !Number.isFinite(value)) {
    throw Object.assign(
      new TypeError(
        `invalid option connectTimeout: expected a number of ms >= 1 or Infinity, got ${String(value)}`,
      ),
      { code: 'ERR_NETDIAL_INVALID_OPTION' },
    );
  }
  return value;
}

/**
 * A `connect` function for undici: `new undici.Agent({ connect: connector() })` (also Pool, Client).
 * Rejections are netdial's DialError (every attempt listed; `code` ENOTFOUND, ECONNREFUSED…), or, when
 * `connectTimeout` ran out (during DNS, the race or the TLS handshake), undici's ConnectTimeoutError
 * (`UND_ERR_CONNECT_TIMEOUT`) with the DialError as `cause` when the dial was still running.
 *
 * undici gives a connector no way to be cancelled: a request aborted while its connection is dialed is
 * dropped from undici's queue, but the connect runs on. Through {@link createDispatcher} (and so
 * {@link installGlobalDispatcher}) netdial's dispatcher counts the requests in flight per origin and
 * aborts that origin's dials once none is left (`destroy()` and `close()` end every request, so
 * every dial). A bare connector has no
 * such view and dials on, as undici's own connector does, until `connectTimeout`.
 * @throws TypeError (code ERR_NETDIAL_INVALID_OPTION) for a bad option.
 */
export function connector(options: ConnectorOptions = {}): buildConnector.connector {
  return makeConnector(options, undefined);
}

function makeConnector(options: ConnectorOptions, waiting: Waiting | undefined): buildConnector.connector {
  // Own properties only, strict names, values checked now (options.ts / option-names.ts).
  const read = readConnectionDialOptions(options, 'options', CONNECTOR_OPTION_NAMES) as ConnectorOptions;
  const { connectTimeout, tls: tlsOptions, maxCachedSessions, allowH2, allowUnixSockets } = read;
  const dialer = read.dialer ?? getDefaultDialer();
  // The dial options alone, null-prototype (not a rest spread): names it lacks are read below
  // (`dialOptions.proxy`), and an ordinary object would answer them from a polluted Object.prototype.
  const dialOptions = ownCopy(read) as ConnectorOptions;
  for (const name of ['connectTimeout', 'tls', 'maxCachedSessions', 'allowH2', 'dialer', 'allowUnixSockets'])
    delete (dialOptions as Record<string, unknown>)[name];
  const timeoutMs = checkTimeout(connectTimeout);
  const secure = new UndiciTls(tlsOptions, checkMaxCachedSessions(maxCachedSessions), allowH2 === true);
  // undici's own connector sets these on every connection; the dial applies them to the winner.
  const socketOptions = {
    noDelay: true,
    keepAlive: dialOptions.keepAlive !== false,
    keepAliveInitialDelay: dialOptions.keepAliveInitialDelay ?? UNDICI_KEEPALIVE_DELAY_MS,
  };

  return (opts, callback) => {
    const https = opts.protocol === 'https:';
    const port = Number(opts.port) || (https ? 443 : 80);
    // Through a proxy tunnel undici hands over the tunnel socket: only TLS is left to do (undici's own
    // connector asserts that it gets one only for https; plain http goes over the tunnel as it is).
    if (opts.httpSocket) {
      const tunnel = opts.httpSocket as net.Socket;
      if (tunnel.destroyed) callback(new errors.SocketError('the tunnel socket is already closed'), null);
      else if (!https) callback(null, tunnel);
      else upgrade(tunnel, opts, callback, timeoutMs, port);
      return;
    }
    // A Unix socket (undici's `socketPath`, on a Client, Pool or Agent, handed to a custom connector with
    // each connection): connected there, as undici's own connector would — refused under a policy without
    // allowUnixSockets, as createConnection refuses it; TLS on it for https.
    const socketPath = (opts as { socketPath?: unknown }).socketPath;
    if (typeof socketPath === 'string') {
      connectUnix(socketPath, ownCopy(dialOptions, { dialer, allowUnixSockets }), undefined).then(
        (socket) => {
          socket.setNoDelay(true);
          if (socketOptions.keepAlive) socket.setKeepAlive(true, socketOptions.keepAliveInitialDelay);
          if (!https) callback(null, socket);
          else upgrade(socket, opts, callback, timeoutMs, port);
        },
        (err: Error) => callback(err, null),
      );
      return;
    }
    const key = originKey(opts.protocol, opts.hostname, port);
    const startedMs = performance.now();
    const localAddress = opts.localAddress ?? dialOptions.localAddress;
    const attempt = () => {
      const controller = new AbortController();
      const elapsedMs = performance.now() - startedMs;
      const leftMs = timeoutMs - elapsedMs;
      const untrack = waiting?.track(key, controller) ?? (() => {});
      // `proxy: 'env'` follows the request's scheme (https_proxy for https:), not the TCP dial's.
      let proxy: ConnectorOptions['proxy'];
      try {
        proxy = proxyOptionForScheme(dialOptions.proxy, opts.protocol, opts.hostname, port) as typeof proxy;
      } catch (err) {
        untrack();
        callback(err as Error, null);
        return;
      }
      // For https the dial runs the handshake, undici's TLS options and cached session in every attempt
      // (the first connection that is secure wins: a TLS stall costs one attempt delay), also inside a
      // tunnel of netdial's `proxy` (SNI the origin's name). Its deadline covers the handshakes.
      const handshake = https ? secure.forOrigin(opts) : undefined;
      dialer
        .dial(
          { host: opts.hostname, port },
          {
            ...dialOptions,
            ...socketOptions,
            proxy,
            localAddress,
            timeout: Math.max(1, leftMs),
            tls: handshake?.options ?? false,
            signal: controller.signal,
          },
        )
        .then(
          (socket) => {
            untrack();
            if (handshake !== undefined) secure.keepSessions(socket as tls.TLSSocket, handshake.key);
            callback(null, socket);
          },
          (err: Error) => {
            untrack();
            // Aborted because no request waited any more, and one came since: that one needs it.
            if (
              isAbortError(err) &&
              waiting?.has(key) === true &&
              performance.now() - startedMs < timeoutMs
            ) {
              attempt();
              return;
            }
            callback(undiciError(err, opts.hostname, port, timeoutMs), null);
          },
        );
    };
    attempt();
  };

  /** TLS on a tunnel socket undici's ProxyAgent opened, bounded by connectTimeout. */
  function upgrade(
    tcp: net.Socket,
    opts: buildConnector.Options,
    callback: buildConnector.Callback,
    timeoutMs: number,
    port: number,
  ): void {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const { key, options: tlsConnectOptions } = secure.forOrigin(opts);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      socket.destroy();
      tcp.destroy();
      callback(err, null);
    };
    const socket = tls.connect({
      ...tlsConnectOptions,
      host: tlsConnectOptions.host ?? withoutBrackets(opts.hostname),
      socket: tcp,
    });
    socket.once('secureConnect', () => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      socket.removeListener('error', fail);
      secure.keepSessions(socket, key);
      const report = getReport(tcp);
      if (report) attachReport(socket, report);
      callback(null, socket);
    });
    socket.on('error', fail);
    if (Number.isFinite(timeoutMs)) {
      timer = setTimeout(
        () =>
          fail(
            new errors.ConnectTimeoutError(
              `Connect Timeout Error (attempted address: ${opts.hostname}:${port}, timeout: ${timeoutMs}ms)`,
            ),
          ),
        timeoutMs,
      );
    }
  }
}

/** undici's default `maxCachedSessions`. */
const DEFAULT_MAX_CACHED_SESSIONS = 100;

function checkMaxCachedSessions(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_CACHED_SESSIONS;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  throw Object.assign(
    new TypeError(`invalid option maxCachedSessions: expected an integer >= 0, got ${String(value)}`),
    { code: 'ERR_NETDIAL_INVALID_OPTION' },
  );
}

/**
 * undici's TLS for https origins, as its `buildConnector` (lib/core/connect.js, undici 6 and 7) sets it
 * up, for the dial to run: the `tls` options, SNI = the request's `servername`, else the option's, else
 * the origin's host name (none for an IP literal); ALPN http/1.1 (and h2 with allowH2); the session cached
 * for that server name (undici's cache key; the option's own `session` wins), up to `maxCachedSessions`
 * of them (the oldest goes first; 0 keeps none).
 */
class UndiciTls {
  readonly #options: tls.ConnectionOptions;
  readonly #max: number;
  readonly #alpn: string[];
  readonly #sessions = new Map<string, Buffer>();

  constructor(options: tls.ConnectionOptions | undefined, maxCachedSessions: number, allowH2: boolean) {
    this.#options = options ?? {};
    this.#max = maxCachedSessions;
    this.#alpn = allowH2 ? ['http/1.1', 'h2'] : ['http/1.1'];
  }

  /** tls.connect options for a connection to `opts`'s origin, and its session cache key. */
  forOrigin(opts: buildConnector.Options): { key: string; options: tls.ConnectionOptions } {
    const hostname = withoutBrackets(opts.hostname);
    const servername =
      opts.servername || this.#options.servername || (net.isIP(hostname) === 0 ? hostname : undefined);
    const key = servername || hostname;
    const session = this.#options.session ?? this.#sessions.get(key);
    return {
      key,
      options: {
        ...this.#options,
        ...(servername ? { servername } : {}),
        ...(session === undefined ? {} : { session }),
        ALPNProtocols: this.#alpn,
      },
    };
  }

  /**
   * Fills the cache from a connection that is secure: its session now for TLS 1.2 and below (their
   * 'session' event came during the handshake, before the dial handed the socket over; Node: getSession()
   * is resumable only there), and every later 'session' event (TLS 1.3 tickets arrive after the handshake).
   */
  keepSessions(socket: tls.TLSSocket, key: string): void {
    if (this.#max === 0 || typeof socket.getSession !== 'function') return;
    if (socket.getProtocol() !== 'TLSv1.3') {
      const session = socket.getSession();
      if (session !== undefined) this.#set(key, session);
    }
    socket.on('session', (session: Buffer) => this.#set(key, session));
  }

  #set(key: string, session: Buffer): void {
    this.#sessions.delete(key);
    if (this.#sessions.size >= this.#max) {
      const oldest = this.#sessions.keys().next();
      if (oldest.done !== true) this.#sessions.delete(oldest.value);
    }
    this.#sessions.set(key, session);
  }
}

/**
 * Which hop of a proxied dial ran out of time, for undici's timeout message (the DialError, its cause, says
 * the same at length): the proxy (phase 'proxy': it could not be reached, or the tunnel did not open) or
 * the target behind it (phase 'tls': the handshake on the open tunnel). Empty for a direct dial.
 */
function proxyHopText(err: DialError): string {
  if (err.proxy === undefined) return '';
  // The proxy's host:port as its URL (without password) spells it.
  const hop = err.proxy.replace(/^[a-z0-9]+:\/\//, '').replace(/^[^@]*@/, '');
  const last = err.attempts[err.attempts.length - 1];
  if (last === undefined) return `; through the proxy ${hop}`;
  if (last.phase === 'proxy') return `; timed out at the proxy ${hop} (phase proxy): ${last.message}`;
  if (last.phase === 'tls')
    return `; through the proxy ${hop}, timed out at the target (phase tls): ${last.message}`;
  return `; through the proxy ${hop} (phase ${last.phase}): ${last.message}`;
}

/**
 * undici's words for a failed dial: its ConnectTimeoutError when the deadline ran out (naming the hop that
 * timed out when the dial went through a proxy), else the error itself.
 */
function undiciError(err: Error, hostname: string, port: number, timeoutMs: number): Error {
  if (!isDialError(err) || err.code !== 'ETIMEDOUT') return err;
  const out = new errors.ConnectTimeoutError(
    `Connect Timeout Error (attempted address: ${hostname}:${port}, timeout: ${timeoutMs}ms${proxyHopText(err)})`,
  );
  Object.defineProperty(out, 'cause', { value: err, writable: true, configurable: true });
  return out;
}

/** One origin as both sides name it: `https:|example.test|443` (IPv6 without brackets). */
function originKey(protocol: string, hostname: string, port: number | string): string {
  const host = withoutBrackets(hostname);
  const n = Number(port) || (protocol === 'https:' ? 443 : 80);
  return `${protocol}|${host.toLowerCase()}|${n}`;
}

/**
 * Requests in flight per origin, and the dials running for each origin. When an origin's last request
 * ends (answered, failed, aborted), its dials are aborted: no one waits for them, and a dial left
 * running would keep the process alive until its deadline.
 */
class Waiting {
  readonly #requests = new Map<string, number>();
  readonly #dials = new Map<string, Set<AbortController>>();

  has(key: string): boolean {
    return (this.#requests.get(key) ?? 0) > 0;
  }

  /** A request for `key` starts; returns the function that ends it (idempotent). */
  start(key: string): () => void {
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const n = (this.#requests.get(key) ?? 1) - 1;
      if (n > 0) {
        this.#requests.set(key, n);
        return;
      }
      this.#requests.delete(key);
      for (const c of this.#dials.get(key) ?? []) {
        c.abort(new AbortError(undefined, `connect ${key} (no request waits for it)`));
      }
    };
  }

  /** A dial for `key` runs under `controller`; returns the function to call when it settles. */
  track(key: string, controller: AbortController): () => void {
    let set = this.#dials.get(key);
    if (set === undefined) {
      set = new Set();
      this.#dials.set(key, set);
    }
    const dials = set;
    dials.add(controller);
    return () => {
      dials.delete(controller);
      if (dials.size === 0) this.#dials.delete(key);
    };
  }
}

/** Calls `fn` once when `signal` (an AbortSignal or undici's EventEmitter kind) aborts; returns the unlisten. */
function onAbort(signal: unknown, fn: () => void): () => void {
  const s = signal as
    | (Partial<AbortSignal> & { once?: unknown; off?: (e: string, f: () => void) => void })
    | null
    | undefined;
  if (s === undefined || s === null || typeof s !== 'object') return () => {};
  if (s.aborted === true) {
    queueMicrotask(fn);
    return () => {};
  }
  if (typeof s.addEventListener === 'function' && typeof s.removeEventListener === 'function') {
    s.addEventListener('abort', fn, { once: true });
    return () => s.removeEventListener?.('abort', fn);
  }
  if (typeof s.once === 'function' && typeof s.off === 'function') {
    (s.once as (e: string, f: () => void) => void)('abort', fn);
    return () => s.off?.('abort', fn);
  }
  return () => {};
}

/** Handler methods after which undici calls a request's handler no more (legacy and undici 7 names). */
const FINAL_HANDLER_METHODS = new Set<PropertyKey>([
  'onComplete',
  'onError',
  'onUpgrade',
  'onResponseEnd',
  'onResponseError',
  'onRequestUpgrade',
]);

/** What the dispatcher keeps of one request: whether it ended, and why it was aborted before it had a connection. */
interface RequestWatch {
  /** Called once when the request ends (idempotent). */
  end: () => void;
  /** The abort reason given before undici put the request on a connection (see earlyAbortOf). */
  reason: Error | undefined;
  /** undici has called the handler's onConnect with its own abort. */
  connected: boolean;
}

/**
 * `handler` as undici sees it through netdial's dispatcher: a Proxy, so whatever undici (or Node's
 * bundled undici behind global fetch) reads from the handler reads the real one, and methods run with the
 * real handler as `this` (handlers may have private fields). Intercepted: the final callbacks (they end
 * the request's wait), and for a request aborted before it had a connection, `onConnect` (the request
 * is refused there) and `onError` (the handler gets the abort reason, not the error of the dial its
 * abort stopped). One forwarding function per method and request, made on first read.
 */
function watchHandler<H extends object>(handler: H, watch: RequestWatch): H {
  const made = new Map<PropertyKey, { from: unknown; fn: (...args: unknown[]) => unknown }>();
  const forwarder = (prop: PropertyKey, value: (...args: unknown[]) => unknown) => {
    if (prop === 'onConnect') {
      return (...args: unknown[]) => {
        watch.connected = true;
        const reason = watch.reason;
        if (reason === undefined) return value.apply(handler, args);
        // Aborted before it had this connection: thrown, not passed to undici's abort, which would also
        // destroy the connection (HTTP/1.1 cannot take a request back). undici catches what onConnect
        // throws, fails the request with it and moves on to the next one on the same connection
        // (client-h1/client-h2 `writeH1`/`writeH2`, undici 6 and 7).
        throw reason;
      };
    }
    if (FINAL_HANDLER_METHODS.has(prop)) {
      const isError = prop === 'onError';
      return (...args: unknown[]) => {
        try {
          if (isError && watch.reason !== undefined) return value.call(handler, watch.reason);
          return value.apply(handler, args);
        } finally {
          watch.end();
        }
      };
    }
    return (...args: unknown[]) => value.apply(handler, args);
  };
  return new Proxy(handler, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      const known = made.get(prop);
      if (known !== undefined && known.from === value) return known.fn;
      const fn = forwarder(prop, value as (...args: unknown[]) => unknown);
      made.set(prop, { from: value, fn });
      return fn;
    },
    set(target, prop, value) {
      return Reflect.set(target, prop, value, target);
    },
  });
}

/**
 * undici hands a handler its `abort` in `onConnect` only once the request is put on a connection, so
 * until then a handler cannot abort: Node 20's fetch (bundled undici 6) aborted while its connection
 * is dialed rejects at once but leaves the request queued, and its dial ran on to connectTimeout.
 * undici documents that onConnect "may be invoked multiple times"; netdial's dispatcher calls it once
 * more, at dispatch, with an abort of its own for the time before the connection: calling it ends the
 * request's wait (its origin's dials stop when no other request waits) and, when undici later puts the
 * request on a connection, fails it there with the same reason (leaving the connection to the next). Once undici's own abort is in the
 * handler's hands, this one does nothing. Only for handlers of the classic interface (`onConnect`);
 * undici 7's controller interface (`onRequestStart`) is left alone (its requests' `signal` is watched).
 */
function earlyAbortOf(watch: RequestWatch): (reason?: unknown) => void {
  return (reason) => {
    if (watch.connected || watch.reason !== undefined) return;
    watch.reason =
      reason instanceof Error
        ? reason
        : new errors.RequestAbortedError('Request aborted before it had a connection');
    watch.end();
  };
}

/** The origin key of a request's `origin` (a string or URL): parsed once per distinct origin string. */
class OriginKeys {
  readonly #keys = new Map<string, string>();

  keyOf(origin: unknown): string | undefined {
    if (origin instanceof URL) return originKey(origin.protocol, origin.hostname, origin.port);
    const text = String(origin);
    const known = this.#keys.get(text);
    if (known !== undefined) return known;
    let key: string;
    try {
      const url = new URL(text);
      key = originKey(url.protocol, url.hostname, url.port);
    } catch {
      return undefined; // undici reports the bad origin itself
    }
    if (this.#keys.size >= MAX_ORIGIN_KEYS) this.#keys.clear();
    this.#keys.set(text, key);
    return key;
  }
}

/** Origins whose keys a dispatcher remembers (then it starts over): bounded for a dispatcher that sees many. */
const MAX_ORIGIN_KEYS = 1024;

/** undici's Agent with netdial's connector, which aborts the dials of an origin no request waits for. */
class NetdialAgent extends Agent {
  readonly #waiting: Waiting;
  readonly #origins = new OriginKeys();

  constructor(agentOptions: Omit<Agent.Options, 'connect'> | undefined, connectorOptions: ConnectorOptions) {
    const waiting = new Waiting();
    super({ ...agentOptions, connect: makeConnector(connectorOptions, waiting) });
    this.#waiting = waiting;
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const key = this.#origins.keyOf(opts.origin);
    if (key === undefined) return super.dispatch(opts, handler);
    const stop = this.#waiting.start(key);
    // A request's own `signal` (undici.request, stream, pipeline pass it in the options; fetch does
    // not): undici acts on it only once the request has a connection; its dial can stop at once.
    const unlisten = onAbort((opts as { signal?: unknown }).signal, () => watch.end());
    const watch: RequestWatch = {
      end: () => {
        unlisten();
        stop();
      },
      reason: undefined,
      connected: false,
    };
    const h = handler as { onConnect?: unknown; onRequestStart?: unknown; onError?: unknown };
    if (typeof h.onConnect === 'function' && typeof h.onRequestStart !== 'function') {
      try {
        (h.onConnect as (abort: (reason?: unknown) => void) => void).call(handler, earlyAbortOf(watch));
      } catch (err) {
        // The handler refused the request: it fails as undici fails a dispatch that throws.
        watch.end();
        if (typeof h.onError !== 'function') throw err;
        (h.onError as (err: unknown) => void).call(handler, err);
        return false;
      }
    }
    try {
      return super.dispatch(opts, watchHandler(handler, watch));
    } catch (err) {
      watch.end();
      throw err;
    }
  }
}

/** An undici `Agent` whose connections netdial dials: pass it as `dispatcher` to fetch or undici.request. */
export function createDispatcher(options: DispatcherOptions = {}): Agent {
  // Null-prototype records and own reads throughout: every name looked up below that the caller did not
  // give (`merged.connectTimeout`, `connect.socketPath`) must be absent, not a polluted Object.prototype's.
  const connectorOptions = ownCopy(
    readOptionBag(options, DISPATCHER_OPTION_NAMES, 'options'),
  ) as DispatcherOptions;
  const agent = connectorOptions.agent;
  delete connectorOptions.agent;
  if (agent === undefined || agent === null) return new NetdialAgent(agent, connectorOptions);
  // undici's `connect` options on the agent (`{ connect: { ca, rejectUnauthorized, timeout, socketPath } }`)
  // are kept: netdial's connector replaces undici's, so they become its own — TLS options under `tls`
  // (the top-level `tls`'s own keys win), `timeout` as connectTimeout, `socketPath` as the agent's.
  const connect = ownOption(agent, 'connect');
  const agentOptions = ownCopy(agent) as Agent.Options;
  delete agentOptions.connect;
  if (connect === undefined || connect === null) return new NetdialAgent(agentOptions, connectorOptions);
  if (typeof connect !== 'object') {
    throw Object.assign(
      new TypeError(
        `invalid option agent.connect: createDispatcher's connections are netdial's; give undici's connect options as an object (TLS options, timeout, socketPath), got ${typeof connect}`,
      ),
      { code: 'ERR_NETDIAL_INVALID_OPTION' },
    );
  }
  const tlsOptions = ownCopy(connect);
  const { timeout, maxCachedSessions, allowH2, socketPath } = tlsOptions;
  for (const name of ['timeout', 'maxCachedSessions', 'allowH2', 'socketPath', 'session'])
    delete tlsOptions[name];
  const merged = ownCopy(connectorOptions) as ConnectorOptions;
  merged.tls = { ...(tlsOptions as tls.ConnectionOptions), ...connectorOptions.tls };
  if (merged.connectTimeout === undefined && timeout !== undefined) merged.connectTimeout = timeout as number;
  if (merged.maxCachedSessions === undefined && maxCachedSessions !== undefined)
    merged.maxCachedSessions = maxCachedSessions as number;
  if (merged.allowH2 === undefined && allowH2 !== undefined) merged.allowH2 = allowH2 as boolean;
  if (socketPath !== undefined && agentOptions.socketPath === undefined)
    agentOptions.socketPath = socketPath as string;
  return new NetdialAgent(agentOptions, merged);
}

/** What {@link installGlobalDispatcher} installed and how to undo it. */
export interface InstalledDispatcher {
  /** The netdial-backed Agent now behind global fetch. */
  dispatcher: Agent;
  /** The global dispatcher before. */
  previous: Dispatcher;
  /** Puts `previous` back and closes `dispatcher` (waiting for its requests to finish). */
  restore(): Promise<void>;
}

/**
 * Makes netdial dial every connection of Node's global `fetch` (and of undici calls that use the global
 * dispatcher): `setGlobalDispatcher(createDispatcher(options))`. Returns the new dispatcher and `restore()`.
 */
export function installGlobalDispatcher(options: DispatcherOptions = {}): InstalledDispatcher {
  const previous = getGlobalDispatcher();
  const dispatcher = createDispatcher(options);
  setGlobalDispatcher(dispatcher);
  return {
    dispatcher,
    previous,
    async restore() {
      if (getGlobalDispatcher() === dispatcher) setGlobalDispatcher(previous);
      await dispatcher.close();
    },
  };
}

// Keeps the exported names through an application's bundler (src/export-names.ts).
import { keepExportNames } from './export-names.js';
import * as self from './undici.js';
keepExportNames(self);
