/**
 * `node:diagnostics_channel` events of a dial: what netdial publishes, under which names, with which
 * payloads. Nothing is published — and no payload is even built — unless someone subscribes to that
 * channel, so the cost without subscribers is one boolean check per event.
 *
 * One dial publishes, in this order:
 *   netdial:dial:start
 *   netdial:dns:query, then netdial:dns:answer or netdial:dns:error — once per family and name asked
 *     (IP literals and hosts-file names included, with their `source`)
 *   netdial:policy:denied — once per address the address policy refuses, with the full detail (address,
 *     rule) that error messages and reports leave out when `redactDeniedAddresses` is on
 *   netdial:attempt:start, then exactly one netdial:attempt:connect or netdial:attempt:error per attempt
 *     (losers the dial cancels end with attempt:error, outcome 'cancelled')
 *   netdial:dial:done (the socket handed to the caller, after TLS when TLS was asked for) or
 *   netdial:dial:error (the DialError / AbortError the dial rejects with)
 * DNS and attempt events interleave as they happen (RFC 8305 §3: attempts start before every answer is in).
 * Every payload carries `dialId` (unique in the process) to tie the events of one dial together, and
 * `atMs`, milliseconds since the dial began on a monotonic clock (the DialReport's timebase).
 *
 * A dial through a proxy publishes its own dial:start (with `proxy`) and dial:done / dial:error for the
 * TARGET, and in between what its report holds of the target: when netdial resolves the target (socks5://,
 * or under an address policy) the target's DNS events and one attempt per tunnel asked of the proxy
 * (attempt:start, then attempt:connect when the tunnel is open — TLS to the target runs after, on the
 * winner — or attempt:error), all with the proxied dial's id and no `proxyHopOf`; when the proxy resolves
 * the name (CONNECT by name, socks5h) none (its report has none either). The dials of the proxy itself
 * (hops: their dial, DNS and attempt events) happen in between too, each event marked `proxyHopOf` = the
 * proxied dial's id.
 */
import type * as diagnosticsChannel from 'node:diagnostics_channel';
import { diagnosticsChannel as nodeDiagnosticsChannel } from './builtins.js';
import type * as net from 'node:net';
import type { Clock } from './clock.js';
import { type DialReport, getReport, roundMs } from './report.js';
import type { AddressSource, Family } from './types.js';

/** The channel names, exactly as published. */
export const CHANNELS = Object.freeze({
  dialStart: 'netdial:dial:start',
  dnsQuery: 'netdial:dns:query',
  dnsAnswer: 'netdial:dns:answer',
  dnsError: 'netdial:dns:error',
  attemptStart: 'netdial:attempt:start',
  attemptError: 'netdial:attempt:error',
  attemptConnect: 'netdial:attempt:connect',
  dialDone: 'netdial:dial:done',
  dialError: 'netdial:dial:error',
  policyDenied: 'netdial:policy:denied',
  memorySync: 'netdial:memory:sync',
  memoryDrop: 'netdial:memory:drop',
  memoryError: 'netdial:memory:error',
} as const);

/** One of the channel names in CHANNELS. */
export type ChannelName = (typeof CHANNELS)[keyof typeof CHANNELS];

/** Fields every event has. */
export interface DialEventBase {
  /** Identifies one dial; the same in every event of that dial, different across dials of the process. */
  dialId: number;
  /** The host as dialled (a name, or an IP literal without brackets). */
  host: string;
  /** The TCP port dialled. */
  port: number;
  /** When the event happened, in ms since the dial began (monotonic clock; 0 for dial:start). */
  atMs: number;
  /**
   * Set on every event of a proxy hop's dial (netdial dialling the proxy itself): the `dialId` of the
   * proxied dial it serves, whose own events name the target. Absent on every other dial's events.
   */
  proxyHopOf?: number | undefined;
}

/** `netdial:dial:start`: a dial begins. */
export interface DialStartEvent extends DialEventBase {
  /** Wall-clock start, ISO 8601. */
  startedAt: string;
  /** 0 both families, 4 or 6 only that one. */
  family: 0 | 4 | 6;
  /** Whether a TLS handshake runs on the winning connection. */
  tls: boolean;
  /** The dial goes through this proxy (its URL without password); the hop's dials carry `proxyHopOf`. */
  proxy?: string | undefined;
  /** The settings in force for this dial (ms). */
  settings: {
    attemptDelayMs: number;
    resolutionDelayMs: number;
    maxConcurrentAttempts: number;
    timeoutMs: number;
  };
}

/** Fields of the three DNS events. */
export interface DnsEventBase extends DialEventBase {
  /** The name asked for (with a search domain when the resolv.conf search list supplied one). */
  name: string;
  /** 'A' for IPv4, 'AAAA' for IPv6 — also for sources that are not DNS (hosts file, literal, custom). */
  type: 'A' | 'AAAA';
  family: Family;
  /** Where the answer comes from: 'dns', 'hosts', 'localhost', 'literal', 'system', 'custom', 'cache', 'stale'. */
  source: AddressSource;
}

/** `netdial:dns:query`: one query (one name, one family) goes out. */
export interface DnsQueryEvent extends DnsEventBase {}

/** `netdial:dns:answer`: addresses for one family arrived. */
export interface DnsAnswerEvent extends DnsEventBase {
  /** In the order the source gave them; `ttlSeconds` when the source has TTLs (DNS, cache). */
  addresses: Array<{ address: string; ttlSeconds?: number | undefined }>;
  /** Since the matching dns:query (0 when there was none, e.g. a cached answer), ms. */
  durationMs: number;
}

/** `netdial:dns:error`: one family has no address (ENOTFOUND, ENODATA, ESERVFAIL, ETIMEOUT…). */
export interface DnsErrorEvent extends DnsEventBase {
  code: string;
  message: string;
  /** Since the matching dns:query, ms. */
  durationMs: number;
}

/**
 * `netdial:policy:denied`: the address policy refused an address of an answer (it is never dialled).
 * Carries the address and rule even when the dial's messages and reports redact them.
 */
export interface PolicyDeniedEvent extends DialEventBase {
  /** The name whose answer carried the address. */
  name: string;
  address: string;
  family: Family;
  /** The rule that denied it, e.g. 'deny loopback (127.0.0.0/8)'. */
  rule: string;
  /** The address the rule matched: the IPv4 address an IPv6 form carries, or the address without its zone. */
  matched: string;
  /** The class ('private', 'loopback'…) or 'a deny-listed range': what a redacted message shows. */
  label: string;
}

/** `netdial:attempt:start`: a TCP connection attempt to one address starts. */
export interface AttemptStartEvent extends DialEventBase {
  /** Index of the attempt in this dial (0, 1, …); the same in its attempt:connect / attempt:error. */
  attemptId: number;
  address: string;
  family: Family;
  /** RFC 8305 §5: why now — the first attempt, the attempt delay ran out, the previous one failed, a new answer. */
  trigger: 'first' | 'delay' | 'failure' | 'answer';
}

/** `netdial:attempt:error`: an attempt ended without becoming the connection. */
export interface AttemptErrorEvent extends DialEventBase {
  attemptId: number;
  address: string;
  family: Family;
  /**
   * 'failed' (the connect failed: `code` says how), 'timeout' (the dial's deadline passed), 'cancelled'
   * (another attempt won, or the dial failed otherwise; `code` 'ECANCELED'), 'aborted' (the caller's signal).
   */
  outcome: 'failed' | 'timeout' | 'cancelled' | 'aborted';
  /** Node-style code: ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT, ECANCELED… */
  code: string;
  message: string;
  /** Since this attempt's attempt:start, ms. */
  durationMs: number;
}

/** `netdial:attempt:connect`: an attempt's connection is established — TCP, and TLS when asked for (it wins the race). */
export interface AttemptConnectEvent extends DialEventBase {
  attemptId: number;
  address: string;
  family: Family;
  localAddress?: string | undefined;
  localPort?: number | undefined;
  /** Since this attempt's attempt:start: the TCP handshake time (about one RTT), ms. */
  durationMs: number;
  /**
   * With `tls`: the TLS handshake time after TCP connected, ms. Such an attempt publishes attempt:connect
   * when its handshake is done (it wins then); one that connects TCP and fails or is cancelled in TLS ends
   * with attempt:error.
   */
  tlsMs?: number | undefined;
}

/** `netdial:dial:done`: the dial resolves with `socket` (after TLS, when TLS was asked for). */
export interface DialDoneEvent extends DialEventBase {
  /** The socket handed to the caller (a tls.TLSSocket when TLS ran). */
  socket: net.Socket;
  /**
   * The address that won: the target's, also through a proxy (the address its tunnel reached). When the
   * proxy resolved the name (CONNECT by name, socks5h) netdial never learns the target's address: `address`
   * is then the target's name, never the proxy's address (that is in `report.proxy.hop`).
   */
  address: string;
  /** The winner's family; when the proxy resolved the name, the family of netdial's connection to the proxy. */
  family: Family;
  /** The whole dial, ms (equals `atMs`). */
  durationMs: number;
  /** The establishment report, as `getReport(socket)` returns it. */
  report: DialReport;
}

/** `netdial:dial:error`: the dial rejects with `error`. */
export interface DialErrorEvent extends DialEventBase {
  /** The DialError (every attempt listed), AbortError or other error the dial rejects with. */
  error: Error;
  /** `error.code` when it has one (ENOTFOUND, ECONNREFUSED, ETIMEDOUT, ABORT_ERR…). */
  code: string | undefined;
  /** The whole dial, ms (equals `atMs`). */
  durationMs: number;
}

/**
 * `netdial:memory:sync`: fleet memory (a Dialer memory with a MemoryStore) exchanged observations:
 * 'publish' sent a batch, 'receive' merged a batch from peers, 'load' merged the shared state a newcomer
 * loads. Not tied to a dial (no dialId).
 */
export interface MemorySyncEvent {
  direction: 'publish' | 'receive' | 'load';
  /** Observations in the batch (valid ones, for receive and load). */
  observations: number;
  /** receive/load: observations newer than what this memory knew, now in force here. */
  adopted?: number | undefined;
  /** receive/load: entries ignored as malformed or implausible. */
  rejected?: number | undefined;
  /** load: how long the store took, ms; `late` when it took longer than the warm-up bound (merged after dials began). */
  durationMs?: number | undefined;
  late?: boolean | undefined;
}

/** `netdial:memory:drop`: the bounded publish queue was full; the oldest observations were dropped. */
export interface MemoryDropEvent {
  /** Dropped this time. */
  dropped: number;
  /** Dropped since this memory was created. */
  totalDropped: number;
}

/** `netdial:memory:error`: the store failed an operation, or sent something that is not a batch. Dials are unaffected. */
export interface MemoryErrorEvent {
  operation: 'publish' | 'load' | 'receive' | 'store' | 'subscribe';
  error: unknown;
  message: string;
}

/** Payload type per channel name. */
export interface ChannelPayloads {
  'netdial:dial:start': DialStartEvent;
  'netdial:dns:query': DnsQueryEvent;
  'netdial:dns:answer': DnsAnswerEvent;
  'netdial:dns:error': DnsErrorEvent;
  'netdial:attempt:start': AttemptStartEvent;
  'netdial:attempt:error': AttemptErrorEvent;
  'netdial:attempt:connect': AttemptConnectEvent;
  'netdial:dial:done': DialDoneEvent;
  'netdial:dial:error': DialErrorEvent;
  'netdial:policy:denied': PolicyDeniedEvent;
  'netdial:memory:sync': MemorySyncEvent;
  'netdial:memory:drop': MemoryDropEvent;
  'netdial:memory:error': MemoryErrorEvent;
}

/**
 * The Channel objects, created once and held here: Node keeps channels only weakly, and a channel object
 * that a subscriber holds must be the one published on.
 */
const channelObjects: ReadonlyMap<ChannelName, diagnosticsChannel.Channel> = new Map(
  Object.values(CHANNELS).map((name) => [name, nodeDiagnosticsChannel.channel(name)]),
);

function channelOf(name: ChannelName): diagnosticsChannel.Channel {
  const channel = channelObjects.get(name);
  if (channel === undefined) {
    throw Object.assign(new TypeError(`unknown netdial channel ${JSON.stringify(name)}`), {
      code: 'ERR_NETDIAL_INVALID_OPTION',
    });
  }
  return channel;
}

/**
 * Publishes on `name` the payload `payload()` builds — only when the channel has subscribers; otherwise
 * `payload` is not called at all. Returns whether it published. Subscribers run synchronously (Node's
 * diagnostics_channel contract); an exception in a subscriber does not reach the caller (Node reports it
 * as an uncaught exception on the next tick).
 * @throws TypeError (code ERR_NETDIAL_INVALID_OPTION) for a name that is not one of CHANNELS.
 */
export function publish<N extends ChannelName>(name: N, payload: () => ChannelPayloads[N]): boolean {
  const channel = channelOf(name);
  if (!channel.hasSubscribers) return false;
  channel.publish(payload());
  return true;
}

/** Whether `name` has a subscriber; without a name, whether any netdial channel has one. */
export function hasSubscribers(name?: ChannelName): boolean {
  if (name !== undefined) return channelOf(name).hasSubscribers;
  for (const channel of channelObjects.values()) if (channel.hasSubscribers) return true;
  return false;
}

/**
 * Subscribes `listener` to `name` with its payload typed; returns a function that unsubscribes. The same as
 * `diagnostics_channel.subscribe(name, listener)`, which works as well.
 * @throws TypeError (code ERR_NETDIAL_INVALID_OPTION) for a name that is not one of CHANNELS.
 */
export function subscribe<N extends ChannelName>(
  name: N,
  listener: (payload: ChannelPayloads[N]) => void,
): () => void {
  const channel = channelOf(name);
  const wrapped = (message: unknown) => listener(message as ChannelPayloads[N]);
  channel.subscribe(wrapped);
  let subscribed = true;
  return () => {
    if (!subscribed) return;
    subscribed = false;
    channel.unsubscribe(wrapped);
  };
}

let lastDialId = 0;

/** A new dial id (1, 2, …); the dial session takes one at its start, whether or not anyone listens. */
export function nextDialId(): number {
  lastDialId = lastDialId >= Number.MAX_SAFE_INTEGER ? 1 : lastDialId + 1;
  return lastDialId;
}

const ch = {
  dialStart: channelOf(CHANNELS.dialStart),
  dnsQuery: channelOf(CHANNELS.dnsQuery),
  dnsAnswer: channelOf(CHANNELS.dnsAnswer),
  dnsError: channelOf(CHANNELS.dnsError),
  attemptStart: channelOf(CHANNELS.attemptStart),
  attemptError: channelOf(CHANNELS.attemptError),
  attemptConnect: channelOf(CHANNELS.attemptConnect),
  dialDone: channelOf(CHANNELS.dialDone),
  dialError: channelOf(CHANNELS.dialError),
  policyDenied: channelOf(CHANNELS.policyDenied),
};

type AttemptEndOutcome = AttemptErrorEvent['outcome'];

/** The `code` an attempt that did not fail by itself ends with, per outcome. */
const OUTCOME_CODES: Record<Exclude<AttemptEndOutcome, 'failed'>, string> = {
  cancelled: 'ECANCELED',
  timeout: 'ETIMEDOUT',
  aborted: 'ABORT_ERR',
};

/**
 * What one caller hears of one dial it started, synchronously as it happens — the per-dial side of the
 * channels, for the integrations' sockets to emit Node's socket events ('lookup' when addresses are in,
 * 'connectionAttempt', 'connectionAttemptFailed', 'connectionAttemptTimeout'). Internal: registered with
 * {@link observeDial} under the AbortSignal the caller passes to that dial, so no dial option and no
 * channel subscription (which would make every dial of the process build payloads) is needed.
 */
export interface DialObserver {
  /** The address policy refused `address` (it is never dialled); called before the answer it came in. */
  denied(address: string): void;
  /** A family's addresses arrived (in the source's order, denied ones included; see `denied`). */
  answer(family: Family, addresses: ReadonlyArray<{ address: string }>): void;
  /** A TCP connection attempt to `address` starts. */
  attemptStart(address: string, port: number, family: Family): void;
  /** An attempt ended without winning: 'failed' (with its code and message), 'timeout', 'cancelled', 'aborted'. */
  attemptEnd(
    address: string,
    port: number,
    family: Family,
    outcome: AttemptEndOutcome,
    code: string | undefined,
    message: string | undefined,
  ): void;
}

const observers = new WeakMap<AbortSignal, DialObserver>();

/** Signals of proxy hop dials -> the dialId of the proxied dial each serves (see markProxyHop). */
const proxyHops = new WeakMap<AbortSignal, number>();

/**
 * Marks the dial started with `signal` (a signal of the proxied dial's own, for one hop dial) as a proxy
 * hop of the dial `proxiedDialId`: its events carry `proxyHopOf`. Held weakly: nothing to undo.
 */
export function markProxyHop(signal: AbortSignal, proxiedDialId: number): void {
  proxyHops.set(signal, proxiedDialId);
}

/**
 * Makes `observer` hear the dial that is started with `signal` (a signal of the caller's own, used for
 * that one dial). Held weakly: nothing to undo.
 */
export function observeDial(signal: AbortSignal, observer: DialObserver): void {
  observers.set(signal, observer);
}

/** The DialObserver callback `tell` calls. */
type Call = 'denied' | 'answer' | 'attemptStart' | 'attemptEnd';

/**
 * Calls one callback of `observer` with the arguments it takes (the others are passed as undefined);
 * what it throws is reported as uncaught on the next tick (as a channel's). Positional arguments to one
 * plain function, not a closure passed to a helper: a closure in a DialTrace method would make every call
 * of it allocate what the closure captures, with or without an observer.
 */
function tell(
  observer: DialObserver,
  call: Call,
  address: string,
  port: number,
  family: Family,
  addresses?: ReadonlyArray<{ address: string }>,
  outcome?: AttemptEndOutcome,
  code?: string,
  message?: string,
): void {
  try {
    if (call === 'denied') observer.denied(address);
    else if (call === 'answer') observer.answer(family, addresses ?? []);
    else if (call === 'attemptStart') observer.attemptStart(address, port, family);
    else observer.attemptEnd(address, port, family, outcome ?? 'failed', code, message);
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
  }
}

/**
 * The publishing side for one dial, for the dial session to call at each step: one `DialTrace` per dial,
 * positional arguments (nothing is allocated when nobody listens: every method returns after one
 * `hasSubscribers` check). `atMs` is `clock.now() - t0` ("ms since the dial began", to the microsecond),
 * read only when an event is built. `signal`, the dial's, finds the dial's observer (see observeDial), if any.
 */
export class DialTrace {
  readonly dialId = nextDialId();
  readonly #host: string;
  readonly #port: number;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #t0: number;
  readonly #observer: DialObserver | undefined;
  readonly #hopOf: number | undefined;

  constructor(host: string, port: number, clock: Pick<Clock, 'now'>, t0: number, signal?: AbortSignal) {
    this.#host = host;
    this.#port = port;
    this.#clock = clock;
    this.#t0 = t0;
    this.#observer = signal === undefined ? undefined : observers.get(signal);
    this.#hopOf = signal === undefined ? undefined : proxyHops.get(signal);
  }

  #base(): DialEventBase {
    const atMs = roundMs(this.#clock.now() - this.#t0);
    const base: DialEventBase = { dialId: this.dialId, host: this.#host, port: this.#port, atMs };
    if (this.#hopOf !== undefined) base.proxyHopOf = this.#hopOf;
    return base;
  }

  /**
   * At the start of the dial, before anything else (also when the signal is already aborted).
   * `startedAtMs`: wall clock (Date.now()) at the start; the settings are passed one by one so that
   * nothing is built when nobody listens; `proxy`, the proxy's URL (without password) when the dial goes
   * through one.
   */
  dialStart(
    startedAtMs: number,
    family: 0 | 4 | 6,
    tls: boolean,
    // Read only when someone listens: a dial's own figure can cost a walk of the Dialer's history.
    delays: { readonly attemptDelayMs: number },
    resolutionDelayMs: number,
    maxConcurrentAttempts: number,
    timeoutMs: number,
    proxy?: string,
  ): void {
    if (!ch.dialStart.hasSubscribers) return;
    ch.dialStart.publish({
      ...this.#base(),
      startedAt: new Date(startedAtMs).toISOString(),
      family,
      tls,
      settings: {
        attemptDelayMs: delays.attemptDelayMs,
        resolutionDelayMs,
        maxConcurrentAttempts,
        timeoutMs,
      },
      ...(proxy === undefined ? {} : { proxy }),
    });
  }

  /** A query went out (a ResolutionEvent of type 'query'). */
  dnsQuery(name: string, family: Family, source: AddressSource): void {
    if (!ch.dnsQuery.hasSubscribers) return;
    ch.dnsQuery.publish({ ...this.#base(), name, type: family === 6 ? 'AAAA' : 'A', family, source });
  }

  /** A family's addresses arrived (a ResolutionEvent of type 'answer'); `durationMs` since its query. */
  dnsAnswer(
    name: string,
    family: Family,
    source: AddressSource,
    addresses: ReadonlyArray<{ address: string; ttlSeconds?: number | undefined }>,
    durationMs: number,
  ): void {
    const observer = this.#observer;
    if (observer !== undefined) tell(observer, 'answer', name, this.#port, family, addresses);
    if (!ch.dnsAnswer.hasSubscribers) return;
    ch.dnsAnswer.publish({
      ...this.#base(),
      name,
      type: family === 6 ? 'AAAA' : 'A',
      family,
      source,
      addresses: addresses.map((a) => ({ address: a.address, ttlSeconds: a.ttlSeconds })),
      durationMs,
    });
  }

  /** A family failed (a ResolutionEvent of type 'error'); `durationMs` since its query. */
  dnsError(
    name: string,
    family: Family,
    source: AddressSource,
    code: string,
    message: string,
    durationMs: number,
  ): void {
    if (!ch.dnsError.hasSubscribers) return;
    ch.dnsError.publish({
      ...this.#base(),
      name,
      type: family === 6 ? 'AAAA' : 'A',
      family,
      source,
      code,
      message,
      durationMs,
    });
  }

  /** The address policy refused `address` of `name`'s answer (`verdict` is its denial). */
  policyDenied(
    name: string,
    address: string,
    family: Family,
    verdict: { rule: string; matched: string; label: string },
  ): void {
    const observer = this.#observer;
    if (observer !== undefined) tell(observer, 'denied', address, this.#port, family);
    if (!ch.policyDenied.hasSubscribers) return;
    ch.policyDenied.publish({
      ...this.#base(),
      name,
      address,
      family,
      rule: verdict.rule,
      matched: verdict.matched,
      label: verdict.label,
    });
  }

  /**
   * Right after the attempt's socket was created (`net.connect` sends nothing before the next tick), so
   * a subscriber that aborts the dial from here aborts this attempt too; a synchronous `net.connect`
   * failure publishes this and then the attempt's error.
   */
  attemptStart(
    attemptId: number,
    address: string,
    family: Family,
    trigger: AttemptStartEvent['trigger'],
  ): void {
    const observer = this.#observer;
    if (observer !== undefined) tell(observer, 'attemptStart', address, this.#port, family);
    if (!ch.attemptStart.hasSubscribers) return;
    ch.attemptStart.publish({ ...this.#base(), attemptId, address, family, trigger });
  }

  /**
   * An attempt that had started ended without winning: 'failed' (its socket's error: pass the code and
   * message), or 'cancelled' / 'timeout' / 'aborted' (the dial dropped it: code and message may be omitted).
   */
  attemptError(
    attemptId: number,
    address: string,
    family: Family,
    outcome: AttemptEndOutcome,
    durationMs: number,
    code?: string,
    message?: string,
  ): void {
    const observer = this.#observer;
    if (observer !== undefined) {
      tell(observer, 'attemptEnd', address, this.#port, family, undefined, outcome, code, message);
    }
    if (!ch.attemptError.hasSubscribers) return;
    const c = code ?? (outcome === 'failed' ? 'EIO' : OUTCOME_CODES[outcome]);
    ch.attemptError.publish({
      ...this.#base(),
      attemptId,
      address,
      family,
      outcome,
      code: c,
      message: message ?? (outcome === 'cancelled' ? 'another attempt won, or the dial ended' : outcome),
      durationMs,
    });
  }

  /** The attempt's socket emitted 'connect'. */
  attemptConnect(
    attemptId: number,
    address: string,
    family: Family,
    socket: net.Socket,
    durationMs: number,
    secured?: { tlsMs: number },
  ): void {
    if (!ch.attemptConnect.hasSubscribers) return;
    ch.attemptConnect.publish({
      ...this.#base(),
      attemptId,
      address,
      family,
      localAddress: socket.localAddress,
      localPort: socket.localPort,
      durationMs,
      ...(secured === undefined ? {} : { tlsMs: secured.tlsMs }),
    });
  }

  /**
   * Right before the dial resolves with `socket` (its report attached already: getReport builds it).
   * `targetName`, for a proxied dial: when its report has no winner (the proxy resolved the name), the
   * event names that target and the family of the connection to the proxy — never the proxy's address.
   */
  dialDone(socket: net.Socket, targetName?: string): void {
    if (!ch.dialDone.hasSubscribers) return;
    const base = this.#base();
    const r = getReport(socket);
    const byName = targetName !== undefined && r?.winner === undefined;
    const family = byName ? r?.proxy?.hop?.winner?.family : r?.winner?.family;
    ch.dialDone.publish({
      ...base,
      socket,
      address: byName ? targetName : (r?.winner?.address ?? socket.remoteAddress ?? ''),
      family: family ?? (socket.remoteFamily === 'IPv6' ? 6 : 4),
      durationMs: base.atMs,
      report: r as DialReport,
    });
  }

  /** Right before the dial rejects with `error`. */
  dialError(error: unknown): void {
    if (!ch.dialError.hasSubscribers) return;
    const base = this.#base();
    const err = error instanceof Error ? error : new Error(String(error));
    const code = (err as { code?: unknown }).code;
    ch.dialError.publish({
      ...base,
      error: err,
      code: typeof code === 'string' ? code : undefined,
      durationMs: base.atMs,
    });
  }
}
