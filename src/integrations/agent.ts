/**
 * `Agent` and `HttpsAgent`: `http.Agent` / `https.Agent` whose new connections are dialed by netdial
 * (parallel A/AAAA, RFC 6724 order, RFC 8305 racing) and everything else is Node's: keep-alive and the
 * free-socket pool, `maxSockets`/`maxTotalSockets`/`maxFreeSockets`, scheduling, timeouts, and for HTTPS
 * Node's own `tls.connect` on the won TCP connection — same certificate checks, same SNI (the agent's
 * `servername`, from the Host header or host; none for an IP), same TLS session cache (the agent's
 * `_getSession` / `_cacheSession` / `_evictSession`, so a second connection resumes the session).
 *
 * Both return a connecting `DialSocket` from `createConnection`, as net and tls do, so the request has
 * its socket (and its clients' socket timers run) while netdial dials, Node's agent counts it against
 * `maxSockets` as its own, and destroying the request stops the dial. `HttpsAgent`'s socket runs
 * `tls.connect` with the agent's session cache once TCP is up and then behaves as a tls.TLSSocket.
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
  dialTimeoutWithIdle,
  tlsOptionsOf,
  UPGRADE,
} from './create-connection.js';
import { isDialError } from '../errors.js';
import { nodeDialError } from './node-error.js';
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

/** The internals of Node's http.Agent this module works with (stable since Node 14; not in @types). */
interface AgentInternals {
  freeSockets: Record<string, unknown[] | undefined>;
}

/** https.Agent's TLS session cache (internal to Node, stable since Node 0.x; not in @types). */
interface HttpsAgentInternals {
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

/** Whether `options` carry an idle timeout (the request's `timeout`, or the agent's), as net reads it. */
function idleTimeoutOf(options: ConnectionOptions): number | undefined {
  return typeof options.timeout === 'number' && options.timeout > 0 ? options.timeout : undefined;
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
 * decides the error) and, when shorter, bounds the dial, which then fails with ETIMEDOUT. The two
 * timers run out together, in either order (the dial's deadline is re-armed as the race goes, to the
 * fraction of a ms): a dial that fails at that deadline before the idle timer has fired emits
 * 'timeout' first, so the request always hears it before the error.
 */
class AgentDialSocket extends DialSocket {
  readonly #idleBoundsDial: boolean;
  #timedOut = false;

  /** `idleBoundsDial`: the dial's timeout is the idle timeout (see connectionDial). */
  constructor(dial: ConnectionDialOptions, idleBoundsDial: boolean) {
    super(dial);
    this.#idleBoundsDial = idleBoundsDial;
    if (idleBoundsDial) {
      this.once('timeout', () => {
        this.#timedOut = true;
      });
    }
  }

  override destroy(err?: Error): this {
    if (err === undefined || !isDialError(err)) return super.destroy(err);
    if (err.code === 'ETIMEDOUT' && this.#idleBoundsDial && !this.#timedOut && !this.destroyed) {
      this.emit('timeout');
      if (this.destroyed) return this; // a 'timeout' handler decided
    }
    return super.destroy(nodeDialError(err) as Error);
  }
}

/**
 * The https Agent's connecting socket: an AgentDialSocket that runs TLS once TCP is up — Node's
 * `tls.connect` on the won connection with the request's TLS options (the agent's merged in by Node:
 * ca, cert, rejectUnauthorized, servername…) and the agent's session cache — and then behaves as the
 * tls.TLSSocket Node's https agent returns: 'connect' when TCP is up, 'secureConnect' when the
 * handshake is done, certificate errors as the error, writes held until then. The handshake is bounded
 * by what is left of the dial's deadline (see boundHandshake).
 */
class HttpsAgentDialSocket extends AgentDialSocket {
  readonly #agent: HttpsAgentInternals;
  readonly #options: ConnectionOptions;

  constructor(
    dial: ConnectionDialOptions,
    idleBoundsDial: boolean,
    agent: HttpsAgentInternals,
    options: ConnectionOptions,
  ) {
    super(dial, idleBoundsDial);
    this.#agent = agent;
    this.#options = options;
  }

  override [UPGRADE](tcp: net.Socket): net.Socket {
    const options = this.#options;
    const agentKey = (options as Record<string, unknown>)._agentKey;
    const key = typeof agentKey === 'string' ? agentKey : undefined;
    const session = key === undefined ? undefined : this.#agent._getSession(key);
    // The idle timeout is this socket's (DialSocket sets it on what it relays), not a second one.
    const { timeout: _timeout, ...tlsOptions } = tlsOptionsOf(options);
    const report = getReport(tcp);
    const t0 = report === undefined ? 0 : performance.now() - report.durationMs;
    const socket = tls.connect({ ...(session ? { session } : {}), ...tlsOptions, socket: tcp });
    boundHandshake(socket, report, idleTimeoutOf(options) !== undefined);
    if (key !== undefined) {
      socket.on('session', (s: Buffer) => this.#agent._cacheSession(key, s));
      socket.once('close', (hadError: boolean) => {
        if (hadError) this.#agent._evictSession(key);
      });
    }
    if (report) {
      attachReport(socket, report);
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
    socket.once('secureConnect', () => {
      if (!this.destroyed) this.emit('secureConnect');
    });
    return socket;
  }
}

/**
 * The dial options of one connection: the request's or agent's idle `timeout` bounds the dial when
 * shorter; and whether it does.
 */
function connectionDial(
  dial: ConnectionDialOptions,
  options: ConnectionOptions,
): [ConnectionDialOptions, boolean] {
  const timeout = dialTimeoutWithIdle(idleTimeoutOf(options), dial.timeout);
  return timeout === dial.timeout ? [dial, false] : [{ ...dial, timeout }, true];
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
   * Returns a connecting `AgentDialSocket` at once, as net.createConnection does (Node's createSocket
   * takes a returned socket as the request's socket), so timers that start when the request gets its
   * socket — follow-redirects' (axios with redirects), got's `timeout.connect` — run while netdial
   * dials, and destroying the socket (req.destroy(), a signal, a client's timeout) stops the dial.
   */
  override createConnection(
    options: http.ClientRequestArgs,
    _oncreate?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const opts = options as ConnectionOptions;
    const socket = new AgentDialSocket(...connectionDial(withEnvProxy(this.#dial, 'http:', opts), opts));
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
 * report of the dial (`getReport(socket)`, with its `tls` part filled in at secureConnect). Like
 * `Agent`, it returns a connecting socket at once (see HttpsAgentDialSocket).
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

  override createConnection(
    options: http.ClientRequestArgs,
    _oncreate?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const opts = options as ConnectionOptions;
    const [dial, idleBoundsDial] = connectionDial(withEnvProxy(this.#dial, 'https:', opts), opts);
    const socket = new HttpsAgentDialSocket(
      dial,
      idleBoundsDial,
      this as unknown as HttpsAgentInternals,
      opts,
    );
    socket.once('connect', () => this.#ages.born(socket as unknown as net.Socket));
    // TCP by netdial; TLS is this socket's own (not the Dialer's), on top.
    return socket.connect({ ...opts, tls: false });
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
function withEnvProxy(
  dial: ConnectionDialOptions,
  protocol: 'http:' | 'https:',
  opts: ConnectionOptions,
): ConnectionDialOptions {
  if (dial.proxy !== 'env') return dial;
  const host = String(opts.hostname ?? opts.host ?? 'localhost');
  const port = Number(opts.port) || (protocol === 'https:' ? 443 : 80);
  try {
    return {
      ...dial,
      proxy: proxyOptionForScheme('env', protocol, host, port) as ConnectionDialOptions['proxy'],
    };
  } catch {
    return dial;
  }
}
