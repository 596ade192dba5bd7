/**
 * `netdial/undici`: netdial behind undici and Node's global `fetch`. netdial dials the TCP connection
 * (parallel A/AAAA, RFC 6724 order, RFC 8305 racing) and undici's own `buildConnector` runs TLS on top of
 * it (its session cache, ALPN, servername rules), so TLS behaves exactly as undici's default connector.
 * undici ignores its `connectTimeout` when `connect` is a function; here `connectTimeout` bounds the
 * whole connect — resolution, the race and the TLS handshake — as one deadline.
 *
 * Needs the `undici` package (an optional peer dependency, ^6.21 or ^7: the versions that run on Node 20
 * and whose dispatchers Node 20's global fetch accepts).
 */
import type * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import type * as tls from 'node:tls';
import {
  Agent,
  buildConnector,
  type Dispatcher,
  errors,
  getGlobalDispatcher,
  setGlobalDispatcher,
} from './undici-peer.js';
import { getDefaultDialer } from './dialer.js';
import type { ConnectionDialOptions } from './integrations/create-connection.js';
import { CONNECTOR_OPTION_NAMES, DISPATCHER_OPTION_NAMES, readOptionBag } from './option-names.js';
import { readConnectionDialOptions } from './options.js';
import { attachReport, getReport } from './report.js';

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
  /** Further undici Agent options (keepAliveTimeout, connections, pipelining…); `connect` is netdial's. */
  agent?: Omit<Agent.Options, 'connect'> | undefined;
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
 * Rejections are netdial's DialError (every attempt listed; `code` ENOTFOUND, ECONNREFUSED, ETIMEDOUT…)
 * or AbortError; a TLS handshake that outlives the deadline fails with undici's ConnectTimeoutError.
 * @throws TypeError (code ERR_NETDIAL_INVALID_OPTION) for a bad option.
 */
export function connector(options: ConnectorOptions = {}): buildConnector.connector {
  const {
    connectTimeout,
    tls: tlsOptions,
    maxCachedSessions,
    allowH2,
    dialer = getDefaultDialer(),
    ...dialOptions
    // Own properties only, strict names, values checked now (options.ts / option-names.ts).
  } = readConnectionDialOptions(options, 'options', CONNECTOR_OPTION_NAMES) as ConnectorOptions;
  const timeoutMs = checkTimeout(connectTimeout);
  // TLS only (netdial supplies the socket); timeout 0: undici's timer off, the deadline below is the one.
  const secure = buildConnector({
    ...tlsOptions,
    ...(maxCachedSessions === undefined ? {} : { maxCachedSessions }),
    ...(allowH2 === undefined ? {} : { allowH2 }),
    timeout: 0,
  });

  return (opts, callback) => {
    // Through a proxy tunnel undici hands over the tunnel socket: only TLS is left to do.
    if (opts.httpSocket) {
      secure(opts, callback);
      return;
    }
    const startedMs = performance.now();
    const https = opts.protocol === 'https:';
    const port = Number(opts.port) || (https ? 443 : 80);
    const localAddress = opts.localAddress ?? dialOptions.localAddress;
    dialer
      .dial({ host: opts.hostname, port }, { ...dialOptions, localAddress, timeout: timeoutMs, tls: false })
      .then(
        (tcp) => {
          tcp.setNoDelay(true);
          if (dialOptions.keepAlive !== false) {
            tcp.setKeepAlive(true, dialOptions.keepAliveInitialDelay ?? UNDICI_KEEPALIVE_DELAY_MS);
          }
          if (!https) {
            callback(null, tcp);
            return;
          }
          upgrade(tcp, opts, callback, timeoutMs - (performance.now() - startedMs), timeoutMs, port);
        },
        (err: Error) => callback(err, null),
      );
  };

  function upgrade(
    tcp: net.Socket,
    opts: buildConnector.Options,
    callback: buildConnector.Callback,
    remainingMs: number,
    timeoutMs: number,
    port: number,
  ): void {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    // undici's connector returns the TLS socket (its typings say void).
    const socket = secure({ ...opts, httpSocket: tcp }, (err, s) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      if (err || !s) {
        tcp.destroy();
        callback(err ?? new Error('TLS connect failed'), null);
        return;
      }
      const report = getReport(tcp);
      if (report) attachReport(s as net.Socket, report);
      callback(null, s);
    }) as unknown as net.Socket | undefined;
    if (Number.isFinite(remainingMs)) {
      timer = setTimeout(
        () => {
          if (settled) return;
          settled = true;
          socket?.destroy();
          tcp.destroy();
          callback(
            new errors.ConnectTimeoutError(
              `Connect Timeout Error (attempted address: ${opts.hostname}:${port}, timeout: ${timeoutMs}ms)`,
            ),
            null,
          );
        },
        Math.max(0, remainingMs),
      );
    }
  }
}

/** An undici `Agent` whose connections netdial dials: pass it as `dispatcher` to fetch or undici.request. */
export function createDispatcher(options: DispatcherOptions = {}): Agent {
  const { agent, ...connectorOptions } = readOptionBag(
    options,
    DISPATCHER_OPTION_NAMES,
    'options',
  ) as DispatcherOptions;
  return new Agent({ ...agent, connect: connector(connectorOptions) });
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
