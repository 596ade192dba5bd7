/**
 * `Agent` and `HttpsAgent`: `http.Agent` / `https.Agent` whose new connections are dialed by netdial
 * (parallel A/AAAA, RFC 6724 order, RFC 8305 racing) and everything else is Node's: keep-alive and the
 * free-socket pool, `maxSockets`/`maxTotalSockets`/`maxFreeSockets`, scheduling, timeouts, and for HTTPS
 * Node's own `tls.connect` on the won TCP connection — same certificate checks, same SNI (the agent's
 * `servername`, from the Host header or host; none for an IP), same TLS session cache (the agent's
 * `_getSession` / `_cacheSession` / `_evictSession`, so a second connection resumes the session).
 *
 * `Agent` returns a connecting `DialSocket` from `createConnection`, as net does, so the request has its
 * socket (and its clients' socket timers run) while netdial dials. `HttpsAgent` dials TCP, then runs
 * `tls.connect` with the agent's session cache, and hands the TLS socket over when that is done
 * (http.Agent's `createConnection(options, oncreate)` callback form); while it runs, the agent counts a
 * placeholder in `sockets[name]` so `maxSockets` still holds.
 *
 * `maxSocketAge` (ms, or 'ttl'): a pooled socket older than that is closed instead of reused, so a pool
 * does not pin an address that DNS no longer gives. 'ttl' uses the DNS TTL of the address the socket
 * connected to (from the dial report; no limit when the source had no TTL: hosts file, literal, system).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { ownOption } from '../option-names.js';
import { readConnectionDialOptions } from '../options.js';
import { attachReport, type DialReport, getReport } from '../report.js';
import {
  type ConnectionDialOptions,
  type ConnectionOptions,
  DialSocket,
  dialFor,
} from './create-connection.js';
import { isDialError } from '../errors.js';
import { nodeDialError } from './node-error.js';
import { destroyedRequestError, onRequestDestroyed } from './request-cancel.js';
import { proxyOptionForScheme } from '../proxy/select-proxy.js';

/** netdial settings of an agent. */
export interface NetdialAgentOptions {
  /** The Dialer and per-dial options (attemptDelay, timeout, family, resolver…). Default: the default Dialer. */
  dial?: ConnectionDialOptions | undefined;
  /**
   * Close pooled sockets older than this instead of reusing them: ms, or 'ttl' for the DNS TTL of the
   * connected address (at least 1000 ms). Default: no limit (Node's behaviour).
   */
  maxSocketAge?: number | 'ttl' | undefined;
}

export interface AgentOptions extends http.AgentOptions, NetdialAgentOptions {}
export interface HttpsAgentOptions extends https.AgentOptions, NetdialAgentOptions {}

type Oncreate = (err: Error | null, socket?: Duplex) => void;

/** The internals of Node's http.Agent this module works with (stable since Node 14; not in @types). */
interface AgentInternals {
  sockets: Record<string, unknown[] | undefined>;
  requests: Record<string, unknown[] | undefined>;
  freeSockets: Record<string, unknown[] | undefined>;
  totalSocketCount: number;
  maxSockets: number;
  maxTotalSockets: number;
  getName(options: unknown): string;
  addRequest(req: http.ClientRequest, options: unknown): void;
}

interface HttpsAgentInternals extends AgentInternals {
  _getSession(key: string): Buffer | undefined;
  _cacheSession(key: string, session: Buffer): void;
  _evictSession(key: string): void;
}

/** Minimum age limit with 'ttl', ms: a TTL of 0 must not make every socket single-use. */
const MIN_TTL_AGE_MS = 1000;

function checkMaxSocketAge(value: unknown): number | 'ttl' | undefined {
  if (value === undefined || value === 'ttl') return value;
  if (typeof value === 'number' && value > 0) return value;
  throw Object.assign(
    new TypeError(`invalid option maxSocketAge: expected a number of ms > 0 or 'ttl', got ${String(value)}`),
    { code: 'ERR_NETDIAL_INVALID_OPTION' },
  );
}

/** When each socket was connected (performance.now() ms) and, for 'ttl', how long it may live. */
class SocketAges {
  readonly #maxAge: number | 'ttl' | undefined;
  readonly #born = new WeakMap<object, { atMs: number; maxAgeMs: number }>();
  readonly #timers = new WeakMap<object, NodeJS.Timeout>();

  constructor(maxAge: number | 'ttl' | undefined) {
    this.#maxAge = maxAge;
  }

  /** Remembers `socket` as connected now; `reportOf` is where its dial report is. */
  born(socket: net.Socket): void {
    if (this.#maxAge === undefined) return;
    let maxAgeMs = Number.POSITIVE_INFINITY;
    if (this.#maxAge === 'ttl') {
      const ttlSeconds = winnerTtlSeconds(socket);
      if (ttlSeconds !== undefined) maxAgeMs = Math.max(MIN_TTL_AGE_MS, ttlSeconds * 1000);
    } else maxAgeMs = this.#maxAge;
    this.#born.set(socket, { atMs: performance.now(), maxAgeMs });
  }

  /** Ms until `socket` is too old (<= 0: it is); Infinity without a limit. */
  remainingMs(socket: object): number {
    const b = this.#born.get(socket);
    if (b === undefined) return Number.POSITIVE_INFINITY;
    return b.atMs + b.maxAgeMs - performance.now();
  }

  /** While `socket` waits in the pool: close it when it gets too old, if it is still free then. */
  expireWhileFree(socket: net.Socket, isFree: () => boolean): void {
    const remaining = this.remainingMs(socket);
    if (!Number.isFinite(remaining)) return;
    const old = this.#timers.get(socket);
    if (old !== undefined) clearTimeout(old);
    else socket.once('close', () => clearTimeout(this.#timers.get(socket)));
    const timer = setTimeout(
      () => {
        if (isFree()) socket.destroy();
      },
      Math.max(0, remaining),
    );
    timer.unref();
    this.#timers.set(socket, timer);
  }
}

/** The smallest TTL among the answers that gave the winning address; undefined without TTLs. */
function winnerTtlSeconds(socket: net.Socket): number | undefined {
  const report = getReport(socket);
  const address = report?.winner?.address;
  if (!report || address === undefined) return undefined;
  let ttl: number | undefined;
  for (const q of report.resolution.queries) {
    for (const a of q.addresses ?? []) {
      if (a.address === address && a.ttlSeconds !== undefined)
        ttl = Math.min(ttl ?? a.ttlSeconds, a.ttlSeconds);
    }
  }
  return ttl;
}

/** Where the agent's createSocket leaves the request a connection is for (spread along with the options). */
const REQUEST = Symbol('netdial.agent.request');

/** The request of `options` (set by the agent's createSocket), if any. */
function requestOf(options: ConnectionOptions): http.ClientRequest | undefined {
  return (options as { [REQUEST]?: http.ClientRequest })[REQUEST];
}

/** Whether `options` carry an idle timeout (the request's `timeout`, or the agent's), as net reads it. */
function hasIdleTimeout(options: ConnectionOptions): boolean {
  return typeof options.timeout === 'number' && options.timeout > 0;
}

/**
 * Runs `connect` for an agent, keeping a placeholder in `sockets[name]` meanwhile (when a socket limit is
 * set) so that concurrent requests beyond maxSockets queue as they do with Node's synchronous connects.
 * On failure a queued request for the same origin gets its own connection attempt, as Node does when a
 * socket closes.
 *
 * Cancellation: when the request the connection is for is destroyed (`req.destroy()`, `abort()`, its
 * AbortSignal, a client's timeout), the dial is aborted at once — its attempts stop, its sockets close —
 * and the request gets the error Node's agent would give it then (the destroy error, or ECONNRESET
 * "socket hang up"). A connection that completes after that is closed. A dial that fails is reported
 * Node-shaped (see nodeDialError), with the DialError as `cause`; when it failed because the request's
 * or agent's `timeout` ran out, the request first emits 'timeout' as Node's would from its socket, so a
 * handler that destroys it decides the error as with Node's agent.
 */
function connectForAgent(
  agent: AgentInternals,
  options: ConnectionOptions,
  oncreate: Oncreate,
  connect: (signal: AbortSignal) => Promise<net.Socket>,
  ages: SocketAges,
): void {
  const agentKey = (options as Record<string, unknown>)._agentKey;
  const name = typeof agentKey === 'string' ? agentKey : agent.getName(options);
  const controller = new AbortController();
  const limited = Number.isFinite(agent.maxSockets) || Number.isFinite(agent.maxTotalSockets);
  let done = false;
  const placeholder = {
    destroyed: false,
    writable: false,
    destroy() {
      this.destroyed = true;
      controller.abort(new Error('agent destroyed'));
    },
  };
  if (limited) {
    const list = agent.sockets[name] ?? [];
    agent.sockets[name] = list;
    list.push(placeholder);
    agent.totalSocketCount++;
  }
  const release = () => {
    if (!limited) return;
    const list = agent.sockets[name];
    const i = list?.indexOf(placeholder) ?? -1;
    if (list && i !== -1) {
      list.splice(i, 1);
      if (list.length === 0) delete agent.sockets[name];
    }
    agent.totalSocketCount--;
  };
  const fail = (err: Error) => {
    done = true;
    stopWatching();
    release();
    oncreate(err);
    // A request may be queued for the slot this dial held: it gets a connection attempt of its own
    // (as Node gives one when a socket closes). Taken off the queue first, so a failing origin cannot
    // loop on the same request.
    if (limited) retryQueued(agent, name, options);
  };
  const req = requestOf(options);
  const stopWatching =
    req === undefined
      ? () => {}
      : onRequestDestroyed(req, (err) => {
          if (done) return;
          controller.abort(err ?? new Error('request destroyed'));
          fail(destroyedRequestError(err));
        });
  connect(controller.signal).then(
    (socket) => {
      if (done) {
        socket.destroy(); // the request was destroyed meanwhile: nobody takes this connection
        return;
      }
      done = true;
      stopWatching();
      release();
      ages.born(socket);
      oncreate(null, socket);
    },
    (err: Error) => {
      if (done) return;
      if (req !== undefined && hasIdleTimeout(options) && (err as { code?: unknown }).code === 'ETIMEDOUT') {
        req.emit('timeout'); // as Node's connecting socket would; a handler may destroy the request
        if (done) return;
      }
      fail(nodeDialError(err) as Error);
    },
  );
}

/** http.Agent#createSocket (internal to Node, stable since Node 0.x; not in @types). */
type CreateSocket = (
  req: http.ClientRequest,
  options: unknown,
  cb: (err: Error | null, s?: Duplex) => void,
) => void;
const nodeCreateSocket = (http.Agent.prototype as unknown as { createSocket: CreateSocket }).createSocket;

/**
 * http.Agent#createSocket with the request passed along: Node gives createConnection only the options,
 * and a netdial agent needs the request to stop its dial when the request is destroyed.
 */
function createSocketFor(
  agent: http.Agent,
  req: http.ClientRequest,
  options: unknown,
  cb: Parameters<CreateSocket>[2],
): void {
  nodeCreateSocket.call(agent, req, { ...(options as object), [REQUEST]: req }, cb);
}

/** http.Agent always passes `oncreate`; these agents connect asynchronously and need it. */
function callbackOf(oncreate: unknown): Oncreate {
  if (typeof oncreate !== 'function') {
    throw Object.assign(
      new TypeError('createConnection of a netdial agent needs the (err, socket) callback http.Agent passes'),
      { code: 'ERR_NETDIAL_INVALID_OPTION' },
    );
  }
  return oncreate as Oncreate;
}

/**
 * Takes the first live request queued for `name` off the queue and hands it to the agent again with
 * `options` (the failed dial's: requests queued under one name share their connection options).
 */
function retryQueued(agent: AgentInternals, name: string, options: ConnectionOptions): void {
  const queue = agent.requests[name];
  while (queue && queue.length > 0) {
    const req = queue.shift() as http.ClientRequest;
    if (queue.length === 0) delete agent.requests[name];
    if (req.destroyed) continue;
    agent.addRequest(req, options);
    return;
  }
}

function keepAliveWithAge(
  agent: AgentInternals,
  ages: SocketAges,
  socket: Duplex,
  keep: () => unknown,
): boolean {
  if (ages.remainingMs(socket) <= 0) return false;
  const kept = keep();
  if (kept === false) return false;
  ages.expireWhileFree(socket as net.Socket, () =>
    Object.values(agent.freeSockets).some((list) => list?.includes(socket) === true),
  );
  return true;
}

/**
 * Bounds a TLS handshake by what is left of the dial's deadline (`timeout`: the dial's, or the request's
 * or agent's when shorter), so one deadline covers DNS, the race and TLS as with the undici connector.
 * Node's own https agent has no handshake deadline (only the idle `timeout`, if set). Past the deadline
 * the socket emits 'timeout' (when an idle timeout was asked for: Node's request turns it into its
 * 'timeout' event, and a handler may destroy the request) and is then destroyed with ETIMEDOUT.
 */
function boundHandshake(socket: tls.TLSSocket, report: DialReport | undefined, idleTimeout: boolean): void {
  if (report === undefined) return;
  const remainingMs = report.settings.timeoutMs - report.durationMs;
  if (!Number.isFinite(remainingMs)) return;
  const timer = setTimeout(
    () => {
      stop();
      if (socket.destroyed) return;
      if (idleTimeout) socket.emit('timeout');
      if (socket.destroyed) return;
      const err = Object.assign(
        new Error(
          `TLS handshake with ${report.host}:${report.port} did not finish within the ${report.settings.timeoutMs} ms dial timeout`,
        ),
        { code: 'ETIMEDOUT', syscall: 'handshake', address: socket.remoteAddress, port: socket.remotePort },
      );
      socket.destroy(err);
    },
    Math.max(0, remainingMs),
  );
  const stop = () => {
    clearTimeout(timer);
    socket.off('secureConnect', stop);
    socket.off('close', stop);
  };
  socket.once('secureConnect', stop);
  socket.once('close', stop);
}

/**
 * The http Agent's connecting socket: a DialSocket whose dial failure is reported Node-shaped (see
 * nodeDialError, the DialError as `cause`). The request's or agent's `timeout` is its idle timeout
 * while it dials (it emits 'timeout', which the request relays; a handler that destroys the request
 * decides the error) and bounds the dial, which then fails with ETIMEDOUT a turn later.
 */
class AgentDialSocket extends DialSocket {
  override destroy(err?: Error): this {
    return super.destroy(err !== undefined && isDialError(err) ? (nodeDialError(err) as Error) : err);
  }
}

/**
 * `http.Agent` whose connections are dialed by netdial. Takes http.Agent's options (keepAlive,
 * maxSockets, timeout…) plus `dial` and `maxSocketAge`.
 * @throws TypeError (code ERR_NETDIAL_INVALID_OPTION) for a bad maxSocketAge.
 */
export class Agent extends http.Agent {
  readonly #dial: ConnectionDialOptions;
  readonly #ages: SocketAges;

  constructor(options: AgentOptions = {}) {
    const { dial: _dial, maxSocketAge: _maxSocketAge, ...agentOptions } = options;
    super(agentOptions);
    // netdial's own settings: own properties only (an inherited `dial` supplies nothing), strict names.
    this.#dial = readConnectionDialOptions(ownOption(options, 'dial'), 'dial');
    this.#ages = new SocketAges(checkMaxSocketAge(ownOption(options, 'maxSocketAge')));
  }

  /**
   * Returns a connecting `AgentDialSocket` at once (Node's createSocket takes a returned socket as the
   * request's socket), so timers that start when the request gets its socket — follow-redirects' (axios
   * with redirects), got's `timeout.connect` — run while netdial dials, and destroying the socket stops
   * the dial.
   */
  override createConnection(
    options: http.ClientRequestArgs,
    oncreate?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    callbackOf(oncreate);
    const opts = options as ConnectionOptions;
    const idleMs = hasIdleTimeout(opts) ? (opts.timeout as number) : undefined;
    const dialTimeoutMs = this.#dial.timeout;
    // The request's or agent's `timeout` also bounds the dial when shorter, as dialFor does.
    const timeout =
      idleMs !== undefined && (dialTimeoutMs === undefined || idleMs < dialTimeoutMs)
        ? idleMs
        : dialTimeoutMs;
    const socket = new AgentDialSocket({ ...this.#dial, ...envProxyFor(this.#dial, 'http:', opts), timeout });
    socket.once('connect', () => this.#ages.born(socket as unknown as net.Socket));
    return socket.connect(opts);
  }

  override keepSocketAlive(socket: Duplex): boolean {
    return keepAliveWithAge(this as unknown as AgentInternals, this.#ages, socket, () =>
      super.keepSocketAlive(socket),
    );
  }
}

/**
 * `https.Agent` whose TCP connections are dialed by netdial; TLS is Node's `tls.connect` on top, with
 * the agent's options (ca, cert, rejectUnauthorized, servername…), the agent's session cache and the
 * report of the dial (`getReport(socket)`, with its `tls` part filled in at secureConnect).
 * @throws TypeError (code ERR_NETDIAL_INVALID_OPTION) for a bad maxSocketAge.
 */
export class HttpsAgent extends https.Agent {
  readonly #dial: ConnectionDialOptions;
  readonly #ages: SocketAges;

  constructor(options: HttpsAgentOptions = {}) {
    const { dial: _dial, maxSocketAge: _maxSocketAge, ...agentOptions } = options;
    super(agentOptions);
    // netdial's own settings: own properties only (an inherited `dial` supplies nothing), strict names.
    this.#dial = readConnectionDialOptions(ownOption(options, 'dial'), 'dial');
    this.#ages = new SocketAges(checkMaxSocketAge(ownOption(options, 'maxSocketAge')));
  }

  /** Node's createSocket, with the request handed on to createConnection (see createSocketFor). */
  createSocket(req: http.ClientRequest, options: unknown, cb: Parameters<CreateSocket>[2]): void {
    createSocketFor(this, req, options, cb);
  }

  override createConnection(
    options: http.ClientRequestArgs,
    oncreate?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const opts = options as ConnectionOptions;
    const internals = this as unknown as HttpsAgentInternals;
    const callback = callbackOf(oncreate);
    const connect = async (signal: AbortSignal): Promise<net.Socket> => {
      const tcp = await dialFor(
        { ...opts, signal },
        { ...this.#dial, ...envProxyFor(this.#dial, 'https:', opts) },
      );
      // `timeout` bounded the dial; as an idle timeout it belongs to the TLS socket (tls.connect sets it).
      tcp.setTimeout(0);
      return this.#secure(internals, opts, tcp);
    };
    connectForAgent(internals, opts, callback, connect, this.#ages);
    return undefined;
  }

  /** What https.Agent#createConnection does, on a connected TCP socket: tls.connect with the session cache. */
  #secure(internals: HttpsAgentInternals, options: ConnectionOptions, tcp: net.Socket): tls.TLSSocket {
    const agentKey = (options as Record<string, unknown>)._agentKey;
    const key = typeof agentKey === 'string' ? agentKey : undefined;
    const session = key === undefined ? undefined : internals._getSession(key);
    const {
      tls: _tls,
      signal: _signal,
      [REQUEST]: _req,
      ...rest
    } = options as ConnectionOptions & {
      [REQUEST]?: unknown;
    };
    const socket = tls.connect({
      ...(session ? { session } : {}),
      ...(rest as tls.ConnectionOptions),
      socket: tcp,
    });
    boundHandshake(socket, getReport(tcp), hasIdleTimeout(options));
    if (key !== undefined) {
      socket.on('session', (s: Buffer) => internals._cacheSession(key, s));
      socket.once('close', (hadError: boolean) => {
        if (hadError) internals._evictSession(key);
      });
    }
    const report = getReport(tcp);
    if (report) {
      attachReport(socket, report);
      const t0 = performance.now() - report.durationMs;
      const startMs = report.durationMs;
      const sni = (options as Record<string, unknown>).servername;
      const servername = typeof sni === 'string' && sni !== '' ? sni : undefined;
      report.tls = { startMs, servername };
      socket.once('secureConnect', () => {
        const endMs = Math.round((performance.now() - t0) * 1000) / 1000;
        report.tls = {
          startMs,
          endMs,
          servername,
          protocol: socket.getProtocol(),
          alpnProtocol: socket.alpnProtocol,
          sessionReused: socket.isSessionReused(),
        };
        report.durationMs = endMs;
      });
    }
    return socket;
  }

  override keepSocketAlive(socket: Duplex): boolean {
    return keepAliveWithAge(this as unknown as AgentInternals, this.#ages, socket, () =>
      super.keepSocketAlive(socket),
    );
  }
}

/**
 * `proxy: 'env'` decided for the agent's scheme (http_proxy for Agent, https_proxy for HttpsAgent):
 * the agents dial plain TCP, so the dial alone cannot tell. A bad proxy URL in the environment leaves
 * `'env'` as it is: the dial then rejects with the TypeError naming the variable.
 */
function envProxyFor(
  dial: ConnectionDialOptions,
  protocol: 'http:' | 'https:',
  opts: ConnectionOptions,
): Pick<ConnectionDialOptions, 'proxy'> {
  if (dial.proxy !== 'env') return {};
  const host = String(opts.hostname ?? opts.host ?? 'localhost');
  const port = Number(opts.port) || (protocol === 'https:' ? 443 : 80);
  try {
    return { proxy: proxyOptionForScheme('env', protocol, host, port) as ConnectionDialOptions['proxy'] };
  } catch {
    return {};
  }
}
