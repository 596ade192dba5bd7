/**
 * `Agent` and `HttpsAgent`: `http.Agent` / `https.Agent` whose new connections are dialed by netdial
 * (parallel A/AAAA, RFC 6724 order, RFC 8305 racing) and everything else is Node's: keep-alive and the
 * free-socket pool, `maxSockets`/`maxTotalSockets`/`maxFreeSockets`, scheduling, timeouts, and for HTTPS
 * the TLS handshake inside netdial's race (the first connection whose handshake is done wins, so an
 * address that stalls in TLS costs one attempt delay) with Node's own options — same certificate checks,
 * same SNI (the agent's `servername`, from the Host header or host; none for an IP), same TLS session
 * cache (the agent's `_getSession` / `_cacheSession` / `_evictSession`, so a second connection resumes
 * the session).
 *
 * Both return a connecting `DialSocket` from `createConnection`, as net and tls do, so the request has
 * its socket (and its clients' socket timers run) while netdial dials, Node's agent counts it against
 * `maxSockets` as its own, and destroying the request stops the dial (its handshakes too).
 * `HttpsAgent`'s socket is handed the TLS socket the dial won and then behaves as a tls.TLSSocket.
 *
 * `maxSocketAge` (ms, or 'ttl'): a pooled socket older than that is closed instead of reused, so a pool
 * does not pin an address that DNS no longer gives. 'ttl' uses the DNS TTL of the address the socket
 * connected to (from the dial report; no limit when the source had no TTL: hosts file, literal, system).
 */
import type * as http from 'node:http';
import type * as https from 'node:https';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type * as tls from 'node:tls';
import { events, http as nodeHttp, https as nodeHttps } from '../builtins.js';
import { ownCopy, ownOption } from '../option-names.js';
import { readConnectionDialOptions } from '../options.js';
import { getReport } from '../report.js';
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
 * The https Agent's connecting socket: an AgentDialSocket whose dial runs the TLS handshake — every
 * attempt's, so the first connection that is secure wins (the dial's TLS-aware race, see
 * src/race/dial-session.ts) — with the request's TLS options (the agent's merged in by Node: ca, cert,
 * rejectUnauthorized, servername as Node computes it…) plus the session the agent's cache holds for the
 * origin. The TLS socket the dial hands over fills the cache: its session at once for TLS 1.2 and below
 * (their 'session' event came during the handshake, before the hand-over) and every later 'session'
 * event (TLS 1.3 tickets arrive after the handshake). As Node's agent, a connection that closes with an
 * error, or a dial that fails in a handshake, evicts the origin's session.
 */
class HttpsAgentDialSocket extends AgentDialSocket {
  readonly #agent: HttpsAgentInternals;
  readonly #key: string | undefined;

  constructor(
    dial: ConnectionDialOptions,
    idleBoundsDial: boolean,
    agent: HttpsAgentInternals,
    key: string | undefined,
  ) {
    super(dial, idleBoundsDial);
    this.#agent = agent;
    this.#key = key;
  }

  override [UPGRADE](socket: net.Socket): net.Socket {
    const key = this.#key;
    const secure = socket as tls.TLSSocket;
    if (key === undefined || typeof secure.getSession !== 'function') return socket;
    // Node: getSession() is the resumable session only for TLS 1.2 and below; TLS 1.3's come as 'session'.
    if (secure.getProtocol() !== 'TLSv1.3') {
      const session = secure.getSession();
      if (session !== undefined) this.#agent._cacheSession(key, session);
    }
    secure.on('session', (session: Buffer) => this.#agent._cacheSession(key, session));
    secure.once('close', (hadError: boolean) => {
      if (hadError) this.#agent._evictSession(key);
    });
    return socket;
  }

  override destroy(err?: Error): this {
    if (
      this.#key !== undefined &&
      err !== undefined &&
      isDialError(err) &&
      err.attempts.some((a) => a.phase === 'tls')
    ) {
      this.#agent._evictSession(this.#key);
    }
    return super.destroy(err);
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
  // Null-prototype, as `dial` is (read by readConnectionDialOptions): `dial.proxy` and the others are read
  // from it later, and a spread copy would answer a name it lacks from a polluted Object.prototype.
  return timeout === dial.timeout ? [dial, false] : [ownCopy(dial, { timeout }), true];
}

/**
 * The agents' base classes, Node's `http.Agent` and `https.Agent`, are taken on the first construction of
 * each agent class, not when netdial is imported: node:http, node:https and node:tls cost ~3 ms of CPU
 * to load and a plain dial needs none of them (issue 16, cold start). Until then the class extends a
 * stand-in (below). Its constructor's first step makes Node's class its base — the class's and its
 * prototype's [[Prototype]] — and `super()` then calls Node's constructor: `super()` looks up the base
 * at call time (ECMA-262 GetSuperConstructor), as `super.method()` does (the home object's prototype).
 * So every instance, of the class or of a user's subclass, is built by Node's constructor and has
 * Node's prototype chain (`instanceof http.Agent`), made before any instance exists.
 * What is observable before the first construction, and only then: `Object.getPrototypeOf(Agent)` is
 * the stand-in, not `http.Agent`, and `Agent.prototype` has EventEmitter's methods but not yet
 * `http.Agent.prototype`'s. The stand-in extends EventEmitter, as Node's agents do (its statics:
 * `Agent.once`, `Agent.defaultMaxListeners`…), and reads `defaultMaxSockets` from node:http's Agent
 * (assigning it makes an own property of the class, as it did when the base was Node's class).
 */
function standInBase(): typeof http.Agent {
  class NodeAgentStandIn extends events.EventEmitter {
    static get defaultMaxSockets(): number {
      return (nodeHttp().Agent as unknown as { defaultMaxSockets: number }).defaultMaxSockets;
    }
    static set defaultMaxSockets(value: number) {
      // biome-ignore lint/complexity/noThisInStatic: the class assigned to (Agent, HttpsAgent or a subclass), as with a data property
      Object.defineProperty(this, 'defaultMaxSockets', {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
  }
  return NodeAgentStandIn as unknown as typeof http.Agent;
}

/** Makes `base` (Node's agent class) the base of `agentClass` once; see standInBase. */
function adoptBase(agentClass: typeof http.Agent, base: typeof http.Agent): void {
  if (Object.getPrototypeOf(agentClass) === base) return;
  Object.setPrototypeOf(agentClass, base);
  Object.setPrototypeOf(agentClass.prototype, base.prototype);
}

const HttpAgentBase = standInBase();
const HttpsAgentBase = standInBase() as unknown as typeof https.Agent;

/**
 * `http.Agent` whose connections are dialed by netdial. Takes http.Agent's options (keepAlive,
 * maxSockets, timeout…) plus `dial` and `maxSocketAge`. Every instance is `instanceof http.Agent`;
 * `http.Agent` becomes the class's base on the first construction (node:http is not loaded by
 * `import 'netdial'`): before that, `Object.getPrototypeOf(Agent)` is a stand-in EventEmitter class.
 * @throws TypeError (code ERR_NETDIAL_INVALID_OPTION) for a bad maxSocketAge.
 */
export class Agent extends HttpAgentBase {
  readonly #dial: ConnectionDialOptions;
  readonly #ages: SocketAges;

  constructor(options: AgentOptions = {}) {
    adoptBase(Agent, nodeHttp().Agent);
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
 * `https.Agent` whose connections are dialed by netdial, TLS handshake included (raced: the first
 * connection that is secure wins), with the agent's options (ca, cert, rejectUnauthorized,
 * servername…), the agent's session cache and the report of the dial (`getReport(socket)`, with its
 * `tls` part and per-attempt tcpMs/tlsMs). Like
 * `Agent`, it returns a connecting socket at once (see HttpsAgentDialSocket), and takes `https.Agent` as
 * its base on the first construction (before it, `Object.getPrototypeOf(HttpsAgent)` is a stand-in).
 * @throws TypeError (code ERR_NETDIAL_INVALID_OPTION) for a bad maxSocketAge.
 */
export class HttpsAgent extends HttpsAgentBase {
  readonly #dial: ConnectionDialOptions;
  readonly #ages: SocketAges;

  constructor(options: HttpsAgentOptions = {}) {
    adoptBase(HttpsAgent, nodeHttps().Agent);
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
    const agentKey = (opts as Record<string, unknown>)._agentKey;
    const key = typeof agentKey === 'string' ? agentKey : undefined;
    const agent = this as unknown as HttpsAgentInternals;
    const socket = new HttpsAgentDialSocket(dial, idleBoundsDial, agent, key);
    socket.once('connect', () => this.#ages.born(socket as unknown as net.Socket));
    // The dial runs TLS (it races the handshakes): the request's TLS options, and the cached session
    // unless the request brings its own (as Node's https agent: `{ session, ...options }`).
    const session = key === undefined ? undefined : agent._getSession(key);
    const { timeout: _timeout, ...tlsOptions } = tlsOptionsOf(opts);
    // Null-prototype, as Node's `opts`: DialSocket then reads it as it is (see DialSocket#connect).
    return socket.connect(ownCopy(opts, { tls: { ...(session ? { session } : {}), ...tlsOptions } }));
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
    return ownCopy(dial, { proxy: proxyOptionForScheme('env', protocol, host, port) });
  } catch {
    return dial;
  }
}
