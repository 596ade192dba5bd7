/**
 * One dial: the thin shell that connects the pure race (race.ts) to real DNS answers, real sockets and
 * one real timer, then runs TLS on the winner. It decides nothing itself: it carries out the race's
 * actions and reports what happened.
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { asyncHooks, net as nodeNet, tls as nodeTls } from '../builtins.js';
import { type AbortWaiter, unwatchAbort, watchAbort } from './abort-watch.js';
import type { AttemptSlots } from './attempt-slots.js';
import type { Sleeper, Wakeups } from './wakeups.js';
import { DialTrace } from '../diagnostics.js';
import type { Clock } from '../clock.js';
import {
  AbortError,
  type AttemptError,
  DialError,
  describeCode,
  formatDuration,
  isNegativeAnswer,
} from '../errors.js';
import type { DialConfig } from '../options.js';
import type { DialMemory } from '../memory/dial-memory.js';
import {
  hasStrandedIPv4,
  type Nat64Prefix,
  type Nat64Prefixes,
  type Nat64Synthesis,
  synthesizeStranded,
  translatable,
} from '../resolution/nat64.js';
import type { AttemptDelayBasis } from '../memory/endpoint-history.js';
import { DialOrder, type OrderCandidate } from './order.js';
import { DeniedAddresses } from '../policy/denied-addresses.js';
import { POLICY_DENIED_CODE } from '../policy/policy.js';
import { type FailReason, Race, type RaceAction, type RaceConfig, type RaceStep } from './race.js';
import { append } from './small-set.js';
import { isFinalTlsFailure } from './tls-failure.js';
import {
  type AttemptReport,
  attachReport,
  type DialReport,
  type QueryReport,
  roundMs as round,
  type ServiceReport,
} from '../report.js';
import { dnsFailureText, dnsServerOf } from '../resolution/dns-failure-text.js';
import { askCached, type HttpsLookup, lookupHttps } from '../resolution/service-lookup.js';
import { orderBuckets, planHttps, planSrv, type ServicePlan } from '../resolution/service-plan.js';
import type { SrvRecordData } from '../resolution/dns-client.js';
import type {
  NameResolver,
  Resolution,
  ResolutionEvent,
  ResolutionSink,
  ResolverPath,
} from '../resolution/resolve.js';
import { precedence, precedenceOf, preselectDestinations } from './sort.js';
import type { SourceAddressProbe } from './source-address.js';
import { formatHostPort, type Target } from '../target.js';
import type { AddressSource, Family } from '../types.js';

/**
 * A candidate as the race sees it, with the source address the kernel would use (for RFC 6724). From a
 * service record it is an endpoint: its own port, bucket, answer source and race key (race.ts), the
 * ALPN ids to offer, and whether its address was a hint (RFC 9460 §7.3).
 */
type Candidate = OrderCandidate & {
  port?: number | undefined;
  bucket?: number | undefined;
  source?: string | undefined;
  key?: string | undefined;
  alpn?: string[] | undefined;
  hint?: boolean | undefined;
};

/** The bucket of the origin's own A/AAAA in a dial with HTTPS records: after every record's (RFC 9460 §3). */
const FALLBACK_BUCKET = 65_536;
/** Most distinct target names of service records resolved for one dial (the best buckets'). */
const MAX_SERVICE_TARGETS = 8;
/** The code of a dial whose SRV records say the service is not available (RFC 2782 target "."). */
export const NO_SERVICE_CODE = 'ERR_NETDIAL_NO_SERVICE';

/** What a dial with service records knows about them (made only for such dials). */
interface ServiceState {
  kind: 'https' | 'srv';
  /** The name queried. */
  name: string;
  report: ServiceReport;
  plan: ServicePlan | undefined;
  /** Each DialOrder per bucket (history is per name and port). */
  orders: Map<number, DialOrder>;
  /** Answers delivered, before expansion into endpoints, by `${family} ${source}`. */
  answered: Map<string, Candidate[]>;
  /** Families of targets answered with hints first: the real answer replaces them. */
  hinted: Set<string>;
  /** Families of targets whose own answer came (delivered or still being probed): no hints for them. */
  arrived: Set<string>;
  /** The service query and target resolutions, cancelled with the dial. */
  cancels: Array<(keep?: boolean) => void>;
  query?: QueryRecord | undefined;
}

/**
 * A query as the dial keeps it: every field made at once (no change of shape as it completes), times as
 * the report has them. The report's QueryReport — with only the fields that are set, and each answer's
 * addresses as { address, ttlSeconds } — is made from it when a report is built (toReport).
 */
class QueryRecord {
  readonly type: QueryReport['type'];
  readonly name: string;
  source: AddressSource;
  readonly startMs: number;
  endMs: number | undefined = undefined;
  code: string | undefined = undefined;
  /** A failed query's message (for the DialError's attempts; not in the report). */
  message: string | undefined = undefined;
  /** The answer's own list (the resolver's, not copied) until the report is built. */
  addresses: ReadonlyArray<{ address: string; ttlSeconds?: number | undefined }> | undefined = undefined;
  /** What few queries have (made when one is set: each field costs every dial's records 8 bytes). */
  extra: Pick<QueryReport, 'reason' | 'staleUse' | 'deniedByPolicy'> | undefined = undefined;

  constructor(type: QueryReport['type'], name: string, source: AddressSource, startMs: number) {
    this.type = type;
    this.name = name;
    this.source = source;
    this.startMs = startMs;
  }

  /** The report's entry, keys in the order they came (as a report built step by step has them). */
  toReport(): QueryReport {
    const r: QueryReport = { type: this.type, name: this.name, source: this.source, startMs: this.startMs };
    const extra = this.extra;
    if (extra?.reason !== undefined) r.reason = extra.reason;
    if (this.endMs !== undefined) r.endMs = this.endMs;
    if (this.code !== undefined) r.code = this.code;
    // The server a failure came from, read off its message when the report is made (rev8 finding 6).
    const server = this.code === undefined ? undefined : dnsServerOf(this.message);
    if (server !== undefined) r.server = server;
    if (extra?.staleUse !== undefined) r.staleUse = extra.staleUse;
    if (this.addresses !== undefined) {
      r.addresses = this.addresses.map((a) => ({ address: a.address, ttlSeconds: a.ttlSeconds }));
    }
    if (extra?.deniedByPolicy !== undefined) r.deniedByPolicy = extra.deniedByPolicy;
    return r;
  }
}

/** A DNS answer's address as the race's candidate (a module function: no closure made per answer). */
function toCandidate(a: { address: string; family: Family }): Candidate {
  return { address: a.address, family: a.family, precedence: precedenceOf(a.address, a.family) };
}

/** Whether an IPv4 candidate could go through NAT64 (RFC 8305 §7), checked without a closure. */
function anyTranslatable(candidates: readonly Candidate[]): boolean {
  for (let i = 0; i < candidates.length; i++) if (translatable(candidates[i]!.address)) return true;
  return false;
}

/** Race.answer's options for a stale answer whose refresh is out (made once, not per answer). */
const REFRESH_PENDING = Object.freeze({ refreshPending: true });
/** An answer from the DNS cache arrived before any query still out (race.ts#delayStart). */
const FROM_MEMORY = Object.freeze({ arrivedAtMs: Number.NEGATIVE_INFINITY });

/** The families a dial asks for, as shared frozen lists (not a new array per dial). */
const BOTH_FAMILIES: readonly Family[] = Object.freeze([6, 4] as Family[]);
const FAMILY_LISTS: Readonly<Record<Family, readonly Family[]>> = Object.freeze({
  4: Object.freeze([4] as Family[]),
  6: Object.freeze([6] as Family[]),
});
const NO_FAMILIES: readonly Family[] = Object.freeze([]);

/** `list` with `list[index] = item`; made (one slot for index 0) when there is none yet. */
function setAt<T>(list: T[] | undefined, index: number, item: T): T[] {
  if (list === undefined && index === 0) return [item];
  const out = list ?? [];
  out[index] = item;
  return out;
}

function slotKey(family: Family, source: string): string {
  return `${family} ${source}`;
}

export interface SessionDeps {
  resolver: NameResolver;
  probe: SourceAddressProbe;
  clock: Clock;
  memory?: DialMemory | undefined;
  slots: AttemptSlots;
  /** The Dialer's one timer: each dial's race wakes from it (race/wakeups.ts). */
  wakeups: Wakeups;
  /** NAT64 prefix source (configured or RFC 7050 discovery); undefined: NAT64 off. */
  nat64?: Nat64Prefixes | undefined;
}

/** Errors that say something about this host, not about the endpoint: not held against the endpoint. */
const LOCAL_ERRORS = new Set([
  'EMFILE',
  'ENFILE',
  'ENOBUFS',
  'ENOMEM',
  'EADDRNOTAVAIL',
  'EADDRINUSE',
  'EINVAL',
]);

/** DNS codes that are answers (the name has no address of a family, or none at all), not failures. */

/** Most attempts named in a DialError's one-line message; the `attempts` array always has all. */
const MESSAGE_ATTEMPTS = 6;

/** Service records this dial asks for: SRV for an srv target; HTTPS for https:/wss: URLs and TLS dials. */
function serviceState(target: Target, cfg: DialConfig): ServiceState | undefined {
  let kind: ServiceState['kind'];
  let name: string;
  if (target.srv) {
    kind = 'srv';
    name = target.host;
  } else if (
    target.hostKind === 0 &&
    cfg.httpsRecords &&
    // RFC 6761 §6.3: localhost names never go to DNS.
    target.host !== 'localhost' &&
    !target.host.endsWith('.localhost') &&
    // The URL's scheme decides (a tls: false dial to an https: URL still uses them), or tls being set.
    (target.scheme === 'https' || target.scheme === 'wss' || cfg.tls !== undefined)
  ) {
    kind = 'https';
    // RFC 9460 §9.1: an origin on another port than 443 is asked as _PORT._https.NAME.
    name = target.port === 443 ? target.host : `_${target.port}._https.${target.host}`;
  } else return undefined;
  return {
    kind,
    name,
    report: { type: kind === 'srv' ? 'SRV' : 'HTTPS', name, aliasChain: [], records: [] },
    plan: undefined,
    orders: new Map(),
    answered: new Map(),
    hinted: new Set(),
    arrived: new Set(),
    cancels: [],
  };
}

/** One endpoint of a service bucket for an address. */
function endpoint(
  c: Candidate,
  port: number,
  bucket: number,
  source: string,
  alpn: string[] | undefined,
  hint: boolean,
): Candidate {
  return {
    ...c,
    port,
    bucket,
    source: source === '' ? undefined : source,
    key: `${c.address}|${port}|${bucket}`,
    alpn,
    hint,
  };
}

/** The caller's ALPNProtocols as ids (tls.connect takes strings, buffers, or one wire-format buffer). */
function alpnIds(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === 'string' ? v : Buffer.from(v as Uint8Array).toString('latin1')));
  }
  if (value instanceof Uint8Array) {
    const ids: string[] = [];
    for (let i = 0; i < value.length; ) {
      const length = value[i] as number;
      ids.push(Buffer.from(value.subarray(i + 1, i + 1 + length)).toString('latin1'));
      i += 1 + length;
    }
    return ids;
  }
  return undefined;
}

/**
 * What few dials need — slots waited for, failed attempts' messages, further attempt-delay bases, NAT64,
 * denied addresses, TLS handshakes, a built report's queries — kept apart, made on first use: each field
 * of the session itself costs every dial (and every dial in flight) 8 bytes.
 */
class SessionExtras {
  /** Attempts the race started that wait for a Dialer-wide slot, with the function that withdraws them. */
  waiting: Map<number, () => void> | undefined = undefined;
  /** Error messages of failed attempts, by id. */
  errors: Map<number, string> | undefined = undefined;
  /** Attempt-delay bases for addresses after the first (most dials make one attempt). */
  moreDelayBases: Map<string, AttemptDelayBasis> | undefined = undefined;
  /** The report's queries (made from the session's query records once, when a report is built). */
  queryReports: QueryReport[] | undefined = undefined;
  /** IPv4 destinations dialled through NAT64 (RFC 8305 §7), and the prefix used. */
  nat64: Nat64Synthesis[] | undefined = undefined;
  nat64Prefix: string | undefined = undefined;
  /** Addresses the policy refused (each once), for the attempts with phase 'policy'. */
  deniedList: DeniedAddresses | undefined = undefined;
  /** With `tls`: the TLS socket of each attempt whose TCP connected and whose handshake runs (its TCP socket stays in the session's sockets). */
  tlsSockets: Map<number, tls.TLSSocket> | undefined = undefined;
  /** The attempt whose handshake failure ended the dial (race reason 'final'). */
  finalAttempt: number | undefined = undefined;
}

/** The settle functions of the promise runDial is making (set by takeSettlers, read at once). */
let settleSocket: ((s: net.Socket) => void) | undefined;
let settleError: ((e: unknown) => void) | undefined;

/** The dial promise's executor: a module function, so a dial makes no closure (nor its context) for it. */
function takeSettlers(resolve: (s: net.Socket) => void, reject: (e: unknown) => void): void {
  settleSocket = resolve;
  settleError = reject;
}

export function runDial(target: Target, cfg: DialConfig, deps: SessionDeps): Promise<net.Socket> {
  const promise = new Promise<net.Socket>(takeSettlers);
  const resolve = settleSocket!;
  const reject = settleError!;
  settleSocket = undefined;
  settleError = undefined;
  // Started after the promise exists, as the executor did: a throw here is a bug, not a rejection, either way.
  try {
    new DialSession(target, cfg, deps, resolve, reject).start();
  } catch (err) {
    reject(err);
  }
  return promise;
}

/**
 * One dial. It is also the race's configuration (RaceConfig): the race calls its `order`,
 * `attemptDelayFor` and `isDemoted` methods, so a dial makes no closures for them.
 */
class DialSession implements RaceConfig<Candidate>, Sleeper, AbortWaiter, ResolutionSink {
  // Sleeper: its place in the Dialer's wake-up queue (owned by Wakeups).
  wakeAtMs = 0;
  wakeIndex = -1;
  /**
   * The caller's async context (async_hooks, AsyncLocalStorage), taken when the dial starts: the shared
   * timer fires in whichever context armed it, so a wake-up runs in this one — attempts it starts, and
   * their sockets, belong to the caller's context as they did with a timer per dial (about as cheap to
   * make as that Timeout's own async bookkeeping, without the timer).
   */
  readonly #asyncScope = new asyncHooks.AsyncResource('NETDIAL_DIAL');

  // RaceConfig: what the race reads (see race.ts).
  readonly families: readonly Family[];
  /** See the `attemptDelayMs` getter: undefined until first read. */
  #attemptDelayMs: number | undefined;

  readonly #target: Target;
  readonly #cfg: DialConfig;
  readonly #deps: SessionDeps;
  readonly #resolveDial: (s: net.Socket) => void;
  readonly #rejectDial: (e: unknown) => void;
  readonly #t0: number;
  /** Wall clock at the start (Date.now()): the report's and dial:start's `startedAt`. */
  readonly #startedAtMs = Date.now();
  readonly #race: Race<Candidate>;
  /** The socket of each attempt connecting, by attempt id (made on the first connect). */
  #sockets: Array<net.Socket | undefined> | undefined;
  /** When each attempt that got a socket called connect() (clock ms): history measures from there. */
  #openedAt: number[] | undefined;
  /** What the first destination's attempt delay rested on (RFC 8305 §5 history), and its address. */
  #delayBasis: AttemptDelayBasis | undefined;
  #delayBasisAddress: string | undefined;
  /**
   * The queries in the order they went out. An answer's `addresses` holds the answer's own list until the
   * report is built (#reportQueries makes the report's shape then): most dials are never asked for one.
   */
  #queries: QueryRecord[] | undefined;
  /** Which resolver the name went to, and why (nsswitch.conf, the resolver option…). */
  #path: ResolverPath | undefined;
  /** Queries that failed (not refreshes), in the order they failed, with their messages. */
  #dnsFailures: QueryRecord[] | undefined;
  #resolution: Resolution | undefined;
  #settled = false;
  /** What few dials need (see SessionExtras): made on first use. */
  #x: SessionExtras | undefined;
  readonly #order: DialOrder;
  /**
   * The caller's signal ended the dial: its queries are cancelled at once (nothing outlives an abort). Any
   * other end — a winner, the timeout, every attempt failed — lets them finish into the cache for about a
   * second (RFC 8305 §5: late answers are still worth keeping), so a dial timeout shorter than the resolver's
   * answer time does not fail every dial (dns-queries.ts).
   */
  #aborted = false;
  /** Stale answers served without asking DNS (its refreshes held back after a failure), for a failed dial. */
  #heldBack: ResolutionEvent[] | undefined;
  /** The listener of this dial's attempt sockets, for 'connect' and 'error' (made on the first connect). */
  #onSocketEvent: ((this: net.Socket, err?: NodeJS.ErrnoException) => void) | undefined;
  /** While start() runs: the race's wake-up is kept in #deferredWakeAtMs and set when it is done. */
  #deferWake = false;
  #deferredWakeAtMs: number | undefined;
  /** What the winner's report needs (set when an attempt wins). */
  #winner: { id: number; socket: net.Socket; durationMs: number; connectMs: number } | undefined;
  readonly #trace: DialTrace;
  /** Service records (HTTPS for https:/wss:/TLS dials, SRV for srv! targets); undefined for the rest. */
  readonly #svc: ServiceState | undefined;

  constructor(
    target: Target,
    cfg: DialConfig,
    deps: SessionDeps,
    resolve: (s: net.Socket) => void,
    reject: (e: unknown) => void,
  ) {
    this.#target = target;
    this.#cfg = cfg;
    this.#deps = deps;
    this.#t0 = deps.clock.now();
    this.#trace = new DialTrace(target.host, target.port, deps.clock, this.#t0, cfg.signal);
    this.#resolveDial = resolve;
    this.#rejectDial = reject;
    // An IP literal is its own family's only answer; the other family is not asked (and not reported).
    const families: readonly Family[] =
      cfg.family !== 0
        ? FAMILY_LISTS[cfg.family]
        : target.hostKind !== 0
          ? FAMILY_LISTS[target.hostKind]
          : BOTH_FAMILIES;
    const svc = serviceState(target, cfg);
    this.#svc =
      svc?.kind === 'https' && deps.resolver.answersWithoutDns(target.host, cfg.resolver, this.#t0)
        ? undefined
        : svc;
    const memory = deps.memory;
    // RFC 8305 §5: the Connection Attempt Delay "should" come from RTT history when there is some. It is
    // decided per attempt, from what is known of that destination (see attemptDelayFor); this first
    // figure, the Dialer-wide estimate, is what the dial starts with until an attempt is made.
    this.#order = new DialOrder(
      memory,
      target.hostKind === 0 ? target.host : '',
      target.port,
      cfg.firstAddressFamilyCount,
      cfg.maxAddresses,
    );
    // An SRV target has no address of its own: only its records' targets are resolved.
    this.families = this.#svc?.kind === 'srv' ? NO_FAMILIES : families;
    this.#race = new Race<Candidate>(this, this.#t0);
  }

  /**
   * RaceConfig#attemptDelayMs: the RFC 8305 §5 Connection Attempt Delay the dial starts with — the option, or
   * with memory the Dialer-wide estimate from RTT history. Decided on first read, not per dial (issue 16):
   * that estimate is a median over every endpoint remembered, and a dial whose attempts have their own
   * history (attemptDelayFor) never needs it; what reads it is the report, dial:start and a dial with no
   * history at all. Read late, it reflects history as it is then.
   */
  get attemptDelayMs(): number {
    let ms = this.#attemptDelayMs;
    if (ms === undefined) {
      const memory = this.#deps.memory;
      const family = this.#cfg.family;
      ms =
        memory && !this.#cfg.attemptDelayExplicit
          ? memory.endpoints.attemptDelayMs(family === 0 ? undefined : family, this.#t0)
          : this.#cfg.attemptDelayMs;
      this.#attemptDelayMs = ms;
    }
    return ms;
  }

  // RaceConfig values the dial's options already hold: read from there (no field of their own per dial).
  get awaitServices(): boolean {
    return this.#svc !== undefined;
  }

  get resolutionDelayMs(): number {
    return this.#cfg.resolutionDelayMs;
  }

  get maxConcurrentAttempts(): number {
    return this.#cfg.maxConcurrentAttempts;
  }

  /** RaceConfig#deadlineMs: the dial's start plus its timeout (no field, nor its number box, per dial). */
  get deadlineMs(): number {
    return this.#t0 + this.#cfg.timeoutMs;
  }

  /** RaceConfig#order: every known candidate in the order to try them (RFC 8305 §4; services by bucket). */
  order(known: readonly Candidate[], nowMs: number): Candidate[] {
    return this.#svc ? this.#orderEndpoints(known, nowMs) : this.#order.order(known, nowMs);
  }

  /**
   * RaceConfig#attemptDelayFor: RFC 8305 §5, the delay after an attempt to `c` follows what history knows
   * of that destination (with memory, unless the caller set the delay); otherwise the dial's delay.
   */
  attemptDelayFor(c: Candidate, nowMs: number): number {
    const memory = this.#deps.memory;
    if (memory === undefined || this.#cfg.attemptDelayExplicit) return this.attemptDelayMs;
    const { delayMs, basis } = memory.endpoints.attemptDelayFor(
      c.address,
      c.port ?? this.#target.port,
      nowMs,
      // The candidates themselves ({ address }): no array of their addresses per attempt.
      this.#race.order,
    );
    this.#noteDelayBasis(c.address, basis);
    return delayMs;
  }

  /**
   * RaceConfig#isDemoted: held back by history — failed recently, in a suspected network, or of a family
   * ranked second for the name. An answer made only of such addresses does not start the race at once
   * (see race.ts). Without memory nothing is.
   */
  isDemoted(c: Candidate, nowMs: number): boolean {
    const memory = this.#deps.memory;
    if (memory === undefined) return false;
    const now = nowMs;
    const history = memory.endpoints;
    const p = c.port ?? this.#target.port;
    const name = this.#target.hostKind === 0 ? this.#target.host : '';
    return (
      history.isDemoted(c.address, p, now) ||
      (name !== '' &&
        (history.isSuspected(name, c.address, p, now) || history.deferredFamily(name, now) === c.family))
    );
  }

  #resolve(socket: net.Socket): void {
    this.#trace.dialDone(socket);
    this.#resolveDial(socket);
  }

  #reject(err: unknown): void {
    this.#trace.dialError(err);
    this.#rejectDial(err);
  }

  /**
   * Starts the dial. The race's wake-up is set once, when start() is done: answers the resolver gives at
   * once (hosts file, DNS cache) come in while it runs, and the wake-up of one (the Resolution Delay after
   * an A answer) is overtaken by the next (the AAAA answer at once) before it could matter — setting
   * each would move the Dialer's one timer (a new Timeout) for a delay that never runs.
   */
  start(): void {
    this.#deferWake = true;
    try {
      this.#begin();
    } finally {
      this.#deferWake = false;
    }
    if (!this.#settled) this.#schedule(this.#deferredWakeAtMs);
  }

  #begin(): void {
    this.#trace.dialStart(
      this.#startedAtMs,
      this.#cfg.family,
      this.#cfg.tls !== undefined,
      this,
      this.#cfg.resolutionDelayMs,
      this.#cfg.maxConcurrentAttempts,
      this.#cfg.timeoutMs,
    );
    const signal = this.#cfg.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.#settled = true;
        this.#reject(new AbortError(signal.reason, `connect ${this.#where()}`));
        return;
      }
      // One listener per signal, however many dials share it (abort-watch.ts).
      watchAbort(signal, this);
    }
    this.#apply(this.#race.start(this.#now()));
    if (this.#settled) return;
    if (this.#svc) this.#askServices(this.#svc);
    if (this.#settled || this.#svc?.kind === 'srv') return;
    this.#resolution = this.#deps.resolver.resolve(
      this.#target.host,
      this.#target.absolute,
      this.#race.pendingFamilies,
      this.#cfg.resolver,
      this.#now(),
      this, // the session is the resolution's sink (resolutionEvent): no closure per dial
    );
    if (this.#settled) this.#resolution.cancel();
  }

  /** The dial's SessionExtras, made on first use. */
  get #more(): SessionExtras {
    this.#x ??= new SessionExtras();
    return this.#x;
  }

  /** Made when the policy first refuses an address (most dials have no policy, or nothing denied). */
  get #denied(): DeniedAddresses {
    const more = this.#more;
    more.deniedList ??= new DeniedAddresses(this.#target.port, this.#cfg.redactDeniedAddresses);
    return more.deniedList;
  }

  #noteDelayBasis(address: string, basis: AttemptDelayBasis): void {
    if (this.#delayBasisAddress === undefined || this.#delayBasisAddress === address) {
      this.#delayBasisAddress = address;
      this.#delayBasis = basis;
      return;
    }
    const more = this.#more;
    more.moreDelayBases ??= new Map();
    more.moreDelayBases.set(address, basis);
  }

  #delayBasisOf(address: string): AttemptDelayBasis | undefined {
    if (this.#delayBasisAddress === address) return this.#delayBasis;
    return this.#x?.moreDelayBases?.get(address);
  }

  #now(): number {
    return this.#deps.clock.now();
  }

  get #errorMessages(): Map<number, string> {
    const more = this.#more;
    more.errors ??= new Map();
    return more.errors;
  }

  #rel(t: number): number {
    return round(t - this.#t0);
  }

  #where(): string {
    if (this.#target.srv) return `srv!${this.#target.host}`;
    return formatHostPort(this.#target.host, this.#target.port);
  }

  // -------------------------------------------------------------------------------------------------
  // Service records: SRV (RFC 2782) and HTTPS (RFC 9460). The shell asks and resolves; service-plan.ts
  // decides what the records mean; the race (race.ts) tries the endpoints bucket by bucket.

  /** Families asked for a record's target name. */
  get #targetFamilies(): Family[] {
    return this.#cfg.family !== 0 ? [this.#cfg.family] : [6, 4];
  }

  #random(): () => number {
    const memory = this.#deps.memory;
    return memory ? () => memory.random() : Math.random;
  }

  /** Sends the SRV query, or the HTTPS query (following AliasMode), next to the A/AAAA queries. */
  #askServices(svc: ServiceState): void {
    const now = this.#now();
    const { send, cache } = this.#deps.resolver.serviceRecords(now);
    const q = new QueryRecord(svc.kind === 'srv' ? 'SRV' : 'HTTPS', svc.name, 'dns', this.#rel(now));
    this.#queries = append(this.#queries, q);
    svc.query = q;
    const clock = () => this.#now();
    if (svc.kind === 'srv') {
      const ask = askCached<SrvRecordData>(send, cache, svc.name, 'SRV', clock);
      if (ask.sentAtMs !== undefined) this.#race.servicesQuerySent(ask.sentAtMs);
      svc.cancels.push((keep) => ask.release(keep === true));
      ask.promise.then((outcome) => {
        if (this.#settled) return;
        q.endMs = this.#rel(this.#now());
        if (outcome.cached) q.source = 'cache';
        if (!outcome.ok) {
          q.code = outcome.code;
          svc.report.code = outcome.code;
          this.#apply(this.#race.services([], this.#now()));
          return;
        }
        const plan = planSrv(outcome.answer.records, this.#random());
        if (plan === undefined) {
          svc.report.code = NO_SERVICE_CODE;
          this.#apply(this.#race.services([], this.#now()));
          return;
        }
        this.#usePlan(svc, plan);
      });
      return;
    }
    const lookup = lookupHttps(send, cache, svc.name, 'HTTPS', clock);
    // Joined a query another dial sent: the Resolution Delay for it runs from its sending (race.ts).
    if (lookup.sentAtMs !== undefined) this.#race.servicesQuerySent(lookup.sentAtMs);
    svc.cancels.push((keep) => lookup.cancel(keep));
    lookup.promise.then((result) => {
      if (this.#settled) return;
      q.endMs = this.#rel(this.#now());
      this.#usePlan(svc, this.#httpsPlan(svc, q, result));
    });
  }

  /** What an HTTPS lookup means for this dial: its buckets, or none (the origin's A/AAAA only). */
  #httpsPlan(svc: ServiceState, q: QueryRecord, result: HttpsLookup): ServicePlan {
    svc.report.aliasChain = result.aliasChain;
    const host = this.#target.host;
    // TargetName "." at the port-prefixed name (`_8443._https.NAME`, which has no addresses of its own)
    // is read as the origin: decision, as curl and browsers do.
    const ownerOf = (owner: string) => (owner === svc.name ? host : owner);
    if (result.cached) q.source = 'cache';
    if (result.kind === 'service') {
      return planHttps({
        records: result.records,
        owner: ownerOf(result.owner),
        originPort: this.#target.port,
        defaultAlpn: ['http/1.1'], // RFC 9460 §7.1.2: the https scheme's default ALPN
        callerAlpn: alpnIds(this.#cfg.tls?.ALPNProtocols),
        random: this.#random(),
      });
    }
    const code = result.kind === 'unavailable' ? 'ALIAS_UNAVAILABLE' : result.code;
    q.code = code;
    svc.report.code = code;
    if (result.kind === 'none' && ownerOf(result.owner) !== host) {
      // An AliasMode chain ending at a name without records: that name's A/AAAA (RFC 9460 §3).
      const info = {
        priority: 0,
        targetName: result.owner,
        port: this.#target.port,
        echConfig: false,
        bucket: 0,
      };
      const bucket = {
        bucket: 0,
        targetName: result.owner,
        port: this.#target.port,
        alpn: undefined,
        ipv4hint: [],
        ipv6hint: [],
        info,
      };
      return { buckets: [bucket], records: [info] };
    }
    return { buckets: [], records: [] };
  }

  /** The race source of a bucket: '' when its target is the origin (its answers come with the dial's). */
  #sourceOf(svc: ServiceState, targetName: string): string {
    return svc.kind === 'https' && targetName === this.#target.host ? '' : targetName;
  }

  /** Hands the plan to the race: which targets to await, their hints, and starts resolving them. */
  #usePlan(svc: ServiceState, plan: ServicePlan): void {
    const now = this.#now();
    svc.plan = plan;
    svc.report.records = plan.records;
    const best = new Map<string, number>();
    let targets = 0;
    for (const b of plan.buckets) {
      const source = this.#sourceOf(svc, b.targetName);
      if (best.has(source)) continue;
      // Bounds before work: the best buckets' targets only.
      if (source !== '' && targets++ >= MAX_SERVICE_TARGETS) continue;
      best.set(source, b.bucket);
    }
    if (svc.kind === 'https' && !best.has('')) best.set('', FALLBACK_BUCKET);
    const families = this.#targetFamilies;
    // The origin's answers already in serve the records that name the origin too: their endpoints join
    // the race before it hears the records are in, so that it never starts on the fallback alone (the
    // origin's own port, the last bucket) while the records' endpoints for the same addresses wait.
    for (const [slot, base] of svc.answered) {
      if (!slot.endsWith(' ')) continue;
      this.#apply(this.#race.answer(Number(slot[0]) as Family, this.#expand('', base), now));
      if (this.#settled) return;
    }
    this.#apply(
      this.#race.services(
        [...best].map(([source, bucket]) => ({ source, bucket })),
        now,
        families,
      ),
    );
    if (this.#settled) return;
    // RFC 9460 §7.3: hints stand for a target's addresses until its own A/AAAA are in.
    for (const b of plan.buckets) {
      const source = this.#sourceOf(svc, b.targetName);
      if (!best.has(source)) continue;
      for (const family of families) {
        const hints = family === 4 ? b.ipv4hint : b.ipv6hint;
        const slot = slotKey(family, source);
        if (hints.length === 0 || svc.arrived.has(slot)) continue;
        // With localAddress, every destination's source is that address (as for answers).
        const local = this.#cfg.localAddress;
        let base: Candidate[] = hints.map((address) => ({
          address,
          family,
          precedence: precedence(address),
          ...(local === undefined ? {} : { sourceAddress: local }),
        }));
        if (this.#cfg.policy) base = this.#screen(base, b.targetName, this.#rel(now));
        if (base.length === 0) continue;
        svc.hinted.add(slot);
        const list = base.map((c) => endpoint(c, b.port, b.bucket, source, b.alpn, true));
        this.#apply(this.#race.answer(family, list, now, { source, refreshPending: true }));
        if (this.#settled) return;
      }
    }
    for (const source of best.keys()) {
      if (source === '') continue;
      const resolution = this.#deps.resolver.resolve(
        source,
        true,
        families,
        this.#cfg.resolver,
        this.#now(),
        { resolutionEvent: (e: ResolutionEvent) => this.#onResolution(e, source) },
      );
      if (this.#settled) {
        resolution.cancel(!this.#aborted);
        return;
      }
      svc.cancels.push((keep) => resolution.cancel(keep));
    }
  }

  /** The endpoints of `source`'s addresses: one per bucket naming it, and the origin's fallback. */
  #expand(source: string, base: readonly Candidate[]): Candidate[] {
    const svc = this.#svc!;
    const out: Candidate[] = [];
    for (const b of svc.plan?.buckets ?? []) {
      if (this.#sourceOf(svc, b.targetName) !== source) continue;
      for (const c of base) out.push(endpoint(c, b.port, b.bucket, source, b.alpn, false));
    }
    if (source === '' && svc.kind === 'https') {
      for (const c of base) out.push(endpoint(c, this.#target.port, FALLBACK_BUCKET, '', undefined, false));
    }
    return out;
  }

  /**
   * Service order: the buckets in the order `orderBuckets` (service-plan.ts) decides — those whose every
   * endpoint the Dialer's history has demoted after the live ones, then record priority, the fallback
   * last — and inside a bucket the usual order (RFC 6724, history, interleaving).
   */
  #orderEndpoints(known: readonly Candidate[], now: number): Candidate[] {
    const svc = this.#svc!;
    const groups = new Map<number, Candidate[]>();
    for (const c of known) {
      const bucket = c.bucket ?? 0;
      let group = groups.get(bucket);
      if (group === undefined) {
        group = [];
        groups.set(bucket, group);
      }
      group.push(c);
    }
    const history = this.#deps.memory?.endpoints;
    const buckets = orderBuckets(
      [...groups.keys()],
      (bucket) => svc.plan?.buckets[bucket]?.info.priority,
      (bucket) =>
        history !== undefined &&
        groups.get(bucket)!.every((c) => history.isDemoted(c.address, c.port ?? this.#target.port, now)),
    );
    const out: Candidate[] = [];
    const listed = new Set<string>();
    for (const bucket of buckets) {
      const group = groups.get(bucket)!;
      let order = svc.orders.get(bucket);
      if (order === undefined) {
        const first = group[0]!;
        const name = first.source ?? (svc.kind === 'srv' ? '' : this.#target.host);
        order = new DialOrder(
          this.#deps.memory,
          name,
          first.port ?? this.#target.port,
          this.#cfg.firstAddressFamilyCount,
          this.#cfg.maxAddresses,
        );
        svc.orders.set(bucket, order);
      }
      for (const c of order.order(group, now)) {
        // An endpoint (address, port) listed by two buckets is tried once, in the first: listed once.
        const key = `${c.address}|${c.port ?? this.#target.port}`;
        if (listed.has(key)) continue;
        listed.add(key);
        out.push(c);
      }
    }
    return out;
  }

  /** ResolutionSink#resolutionEvent: the origin's resolution tells what it learns. */
  resolutionEvent(event: ResolutionEvent): void {
    this.#onResolution(event, '');
  }

  #onResolution(event: ResolutionEvent, source: string): void {
    if (this.#settled) return;
    if (event.type === 'path') {
      if (source === '') this.#path = event.path;
      return;
    }
    const now = this.#now();
    const type = event.family === 6 ? 'AAAA' : 'A';
    if (event.type === 'query') {
      const record = new QueryRecord(type, event.name, event.source, this.#rel(now));
      if (event.reason !== undefined) record.extra = { reason: event.reason };
      this.#queries = append(this.#queries, record);
      this.#trace.dnsQuery(event.name, event.family, event.source);
      if (event.sentAtMs !== undefined) this.#race.querySent(event.family, event.sentAtMs, source);
      return;
    }
    let q: QueryRecord | undefined;
    const queries = this.#queries;
    if (queries !== undefined) {
      for (let i = queries.length - 1; i >= 0; i--) {
        const x = queries[i]!;
        if (x.type === type && x.name === event.name && x.endMs === undefined) {
          q = x;
          break;
        }
      }
    }
    if (event.type === 'moved-on') {
      // A search-list candidate without an address: its query ends in the report; the race waits on.
      if (q !== undefined) {
        q.endMs = this.#rel(now);
        q.source = event.source;
        q.code = event.code;
      }
      return;
    }
    let endMs = this.#rel(now);
    if (!q) {
      // Ended already: a search-list candidate's query ended by 'moved-on' that was the name as written,
      // whose error is the family's in the end — its record keeps its own times.
      q = queries === undefined || event.type !== 'error' ? undefined : lastQuery(queries, type, event.name);
      if (q === undefined) {
        q = new QueryRecord(type, event.name, event.source, endMs);
        this.#queries = append(this.#queries, q);
      } else endMs = q.endMs!;
    }
    q.endMs = endMs;
    q.source = event.source;
    if (event.type === 'error') {
      q.code = event.code;
      this.#trace.dnsError(
        event.name,
        event.family,
        event.source,
        event.code,
        event.message,
        endMs - q.startMs,
      );
      // RFC 9460 §7.3: the own answer of a target whose hints stand for it failed — read as a refresh's.
      const hinted = this.#svc?.hinted.delete(slotKey(event.family, source)) === true;
      if (hinted) {
        q.message = event.message;
        this.#dnsFailures = append(this.#dnsFailures, q);
      }
      if (event.refresh || hinted) {
        // The refresh behind a stale answer failed. A negative answer is an answer (RFC 8767 §4): the name
        // or type is gone, so the stale addresses not yet tried are dropped; any other failure leaves the
        // stale answer in force (serve-stale). Either way the race stops waiting for the refresh.
        const negative = isNegativeAnswer(event.code);
        this.#apply(
          negative
            ? this.#race.refreshed(event.family, [], now, source)
            : this.#race.refreshFailed(event.family, now, event.code, source),
        );
        return;
      }
      // The AttemptError is made if the dial fails (#dialError): the query holds the rest.
      q.message = event.message;
      this.#dnsFailures = append(this.#dnsFailures, q);
      this.#apply(this.#race.answerFailed(event.family, event.code, now, source));
      return;
    }
    const svc = this.#svc;
    if (svc !== undefined) {
      const slot = slotKey(event.family, source);
      svc.arrived.add(slot);
      // RFC 9460 §7.3: the target's own answer is in; its hints give way now, not once it is probed.
      if (svc.hinted.delete(slot)) {
        this.#apply(this.#race.hintsReplaced(event.family, now, source));
        if (this.#settled) return;
      }
    }
    // Bounds before work: no more than maxAddresses of one answer are looked at (a hostile or broken
    // answer may carry tens of thousands) — screened, probed or dialled. The cut keeps the best by what
    // is known without probing (RFC 6724 rules 6 and 8), before a probe socket is opened for any of them.
    const max = this.#cfg.maxAddresses;
    const answered =
      event.addresses.length > max ? preselectDestinations(event.addresses, max) : event.addresses;
    if (event.staleUse !== undefined) q.extra = { ...q.extra, staleUse: event.staleUse };
    if (event.heldBack) this.#heldBack = append(this.#heldBack, event);
    // The address policy is enforced here, on every address before it can be dialled — literals, hosts
    // file, DNS, cache, stale answers and refreshes alike — so a rebinding answer cannot slip through.
    const allowed = this.#cfg.policy ? this.#screen(answered, event.name, endMs) : answered;
    const shown = this.#cfg.redactDeniedAddresses ? allowed : answered;
    // The answer's own list for now; the report's { address, ttlSeconds } copies are made with the report.
    q.addresses = shown;
    if (allowed.length < answered.length) {
      q.extra = { ...q.extra, deniedByPolicy: answered.length - allowed.length };
    }
    this.#trace.dnsAnswer(event.name, event.family, event.source, answered, endMs - q.startMs);
    if (allowed.length === 0) {
      // A stale answer the policy refuses entirely: its refresh, which follows, is the family's answer.
      if (event.refreshing) return;
      this.#apply(
        event.refresh
          ? this.#race.refreshed(event.family, [], now, source)
          : this.#race.answerFailed(event.family, POLICY_DENIED_CODE, now, source),
      );
      return;
    }
    const candidates: Candidate[] = allowed.map(toCandidate);
    const local = this.#cfg.localAddress;
    if (local !== undefined) {
      for (const c of candidates) c.sourceAddress = local;
      this.#apply(this.#deliver(event, candidates, now, source));
      return;
    }
    // Sorting needs the source address per destination (RFC 6724 rules 1, 2, 5, 8, 9). It only matters
    // when there is more than one address to order; a lone first address keeps an unknown source, which
    // the sort treats as usable (the rules that need it are skipped for it).
    // RFC 8305 §7: with NAT64 possible, an IPv4 answer is probed even alone, to learn whether IPv4 has a
    // route at all (loopback and other untranslatable addresses aside, so the local hot path stays as is).
    const nat64 = this.#deps.nat64;
    const checkNat64 = nat64 !== undefined && event.family === 4 && anyTranslatable(candidates);
    if (candidates.length + this.#race.order.length <= 1 && !checkNat64) {
      this.#apply(this.#deliver(event, candidates, now, source));
      return;
    }
    this.#probeThenDeliver(event, candidates, now, source, checkNat64);
  }

  /**
   * Learns each candidate's source address (the probe) before delivering them (and, for IPv4 without a
   * route when NAT64 may be there, synthesises their IPv6 forms). Its own method: the closures here would
   * otherwise make #onResolution allocate what they capture on every event, answered at once or not.
   */
  #probeThenDeliver(
    event: Extract<ResolutionEvent, { type: 'answer' }>,
    candidates: Candidate[],
    now: number,
    source: string,
    checkNat64: boolean,
  ): void {
    const nat64 = this.#deps.nat64;
    this.#deps.probe.probe(candidates, now).then((sources) => {
      if (this.#settled) return;
      for (const c of candidates) c.sourceAddress = sources.get(c.address);
      if (nat64 === undefined || !checkNat64 || !hasStrandedIPv4(candidates)) {
        this.#apply(this.#deliver(event, candidates, this.#now(), source));
        return;
      }
      nat64.prefix(this.#now()).then((prefix) => {
        if (this.#settled) return;
        this.#apply(this.#deliver(event, this.#viaNat64(candidates, prefix), this.#now(), source));
      });
    });
  }

  /** A stale answer whose refresh is out makes the race wait for it; the refresh itself replaces it. */
  #deliver(
    event: Extract<ResolutionEvent, { type: 'answer' }>,
    candidates: Candidate[],
    atMs: number,
    source = '',
  ): RaceStep<Candidate> {
    const svc = this.#svc;
    if (svc !== undefined) {
      // Service records: each address becomes one endpoint per bucket its name serves.
      const slot = slotKey(event.family, source);
      svc.answered.set(slot, candidates);
      const endpoints = this.#expand(source, candidates);
      return event.refresh
        ? this.#race.refreshed(event.family, endpoints, atMs, source)
        : this.#race.answer(event.family, endpoints, atMs, {
            refreshPending: event.refreshing === true,
            source,
            // From the DNS cache: it arrived before the service query still out (race.ts#delayStart).
            arrivedAtMs: event.source === 'cache' && !event.refreshing ? Number.NEGATIVE_INFINITY : undefined,
          });
    }
    return event.refresh
      ? this.#race.refreshed(event.family, candidates, atMs)
      : this.#race.answer(
          event.family,
          candidates,
          atMs,
          event.refreshing ? REFRESH_PENDING : event.source === 'cache' ? FROM_MEMORY : undefined,
        );
  }

  /**
   * RFC 8305 §7.1: IPv4 destinations without a route go through the NAT64 `prefix` (RFC 6052 §2.2) —
   * the synthesised IPv6 address takes the IPv4 one's place (the policy judges it too). Without a prefix
   * the list is unchanged and those attempts fail as the kernel says (ENETUNREACH).
   */
  #viaNat64(candidates: Candidate[], prefix: Nat64Prefix | undefined): Candidate[] {
    if (prefix === undefined) return candidates;
    const made = synthesizeStranded(candidates, prefix, (_from, ipv6) => ({
      address: ipv6,
      family: 6 as const,
      answerFamily: 4 as const,
      precedence: precedence(ipv6),
    }));
    const more = this.#more;
    const known = more.nat64 ?? [];
    const fresh = made.synthesized.filter((s) => !known.some((n) => n.ipv6 === s.ipv6));
    known.push(...fresh);
    more.nat64 = known;
    more.nat64Prefix = prefix.text;
    if (!this.#cfg.policy) return made.candidates;
    const synthesized = new Set(made.synthesized.map((s) => s.ipv6));
    const allowed = new Set(
      this.#screen(
        made.candidates.filter((c) => synthesized.has(c.address)),
        this.#target.host,
        this.#rel(this.#now()),
      ).map((c) => c.address),
    );
    return made.candidates.filter((c) => !synthesized.has(c.address) || allowed.has(c.address));
  }

  /**
   * The addresses the policy allows. Each denied one is remembered once (a Set: linear in the answer)
   * for the dial's attempts, and published in full on netdial:policy:denied.
   */
  #screen<A extends { address: string; family: Family }>(
    addresses: readonly A[],
    name: string,
    atMs: number,
  ): A[] {
    const policy = this.#cfg.policy!;
    const allowed: A[] = [];
    for (const a of addresses) {
      const verdict = policy.check(a.address);
      if (verdict.allowed) {
        allowed.push(a);
      } else if (this.#denied.add(a.address, a.family, verdict, atMs)) {
        this.#trace.policyDenied(name, a.address, a.family, verdict);
      }
    }
    return allowed;
  }

  #apply(step: RaceStep<Candidate>): void {
    const actions = step.actions;
    for (let i = 0; i < actions.length; i++) this.#act(actions[i]!);
    if (this.#settled) return;
    this.#schedule(step.wakeAtMs);
  }

  #act(action: RaceAction<Candidate>): void {
    switch (action.type) {
      case 'start':
        this.#startAttempt(action.id, action.candidate);
        break;
      case 'cancel':
        this.#dropAttempt(action.id);
        break;
      case 'won':
        this.#won(action.id);
        break;
      case 'fail':
        this.#failed(action.reason);
        break;
    }
  }

  /** The race's next wake-up, in the Dialer's one timer queue (race/wakeups.ts): none when it needs none. */
  #schedule(atMs: number | undefined): void {
    if (this.#deferWake) {
      this.#deferredWakeAtMs = atMs; // set by start() once it is done (the last one holds)
      return;
    }
    if (atMs === undefined || !Number.isFinite(atMs)) {
      this.#clearTimer();
      return;
    }
    if (this.wakeIndex >= 0 && atMs === this.wakeAtMs) return;
    this.#deps.wakeups.schedule(this, atMs);
  }

  /** Sleeper#wake: the race's wake-up time has come (run in the dial's own async context). */
  wake(): void {
    this.#asyncScope.runInAsyncScope(this.#tick, this);
  }

  #tick(): void {
    this.#apply(this.#race.tick(this.#now()));
  }

  #clearTimer(): void {
    this.#deps.wakeups.cancel(this);
  }

  #startAttempt(id: number, c: Candidate): void {
    // A free Dialer-wide slot (the usual case): connect now, without a callback to wait in line with.
    if (this.#deps.slots.tryAcquire()) {
      this.#connect(id, c);
      return;
    }
    this.#waitForSlot(id, c);
  }

  /**
   * Attempt `id` waits in line for a Dialer-wide slot. Its own method: a closure in #startAttempt would make
   * every call allocate the variables it captures, the usual free-slot path too.
   */
  #waitForSlot(id: number, c: Candidate): void {
    const withdraw = this.#deps.slots.acquire(() => {
      this.#x?.waiting?.delete(id);
      this.#connect(id, c);
    });
    if (withdraw) {
      const more = this.#more;
      more.waiting ??= new Map();
      more.waiting.set(id, withdraw);
    }
  }

  /** Takes attempt `id`'s socket out of the race and gives its Dialer-wide slot back. */
  #takeSocket(id: number): net.Socket | undefined {
    const socket = this.#sockets?.[id];
    if (socket === undefined) return undefined;
    this.#sockets![id] = undefined;
    this.#deps.slots.release();
    return socket;
  }

  /** Ends attempt `id` wherever it is: waiting for a slot, or connecting. */
  #dropAttempt(id: number): void {
    this.#x?.waiting?.get(id)?.();
    this.#x?.waiting?.delete(id);
    const socket = this.#takeSocket(id);
    if (socket === undefined) return;
    // A handshake in progress: destroying the TLS socket does not always close the TCP one, so both go.
    this.#x?.tlsSockets?.get(id)?.destroy();
    this.#x?.tlsSockets?.delete(id);
    socket.destroy();
    const a = this.#race.attempts[id]!;
    const outcome = a.outcome === 'timeout' || a.outcome === 'aborted' ? a.outcome : 'cancelled';
    this.#trace.attemptError(
      id,
      a.candidate.address,
      a.candidate.family,
      outcome,
      this.#rel(this.#now()) - a.startMs,
    );
  }

  #connect(id: number, c: Candidate): void {
    let socket: net.Socket;
    const startMs = this.#race.attempts[id]!.startMs;
    // History measures from here, not from when the race started the attempt: time spent waiting for a
    // Dialer-wide slot (maxAttemptsInFlight) says nothing about the endpoint.
    const openedAt = this.#now();
    try {
      socket = nodeNet.connect({
        host: c.address,
        port: c.port ?? this.#target.port,
        family: c.family,
        localAddress: this.#cfg.localAddress,
      });
    } catch (err) {
      this.#connectThrew(id, c, startMs, err);
      return;
    }
    this.#sockets = setAt(this.#sockets, id, socket);
    this.#openedAt = setAt(this.#openedAt, id, openedAt);
    // Published once the socket exists and is the race's: a subscriber that aborts the dial from here
    // finds it, and the abort destroys it (and publishes its attempt:error) like any other attempt.
    this.#trace.attemptStart(id, c.address, c.family, this.#race.attempts[id]!.trigger);
    if (this.#sockets[id] !== socket) return;
    // One listener for both events, made once per dial: `this` is the socket, which says the attempt.
    this.#onSocketEvent ??= this.#socketListener();
    const listener = this.#onSocketEvent;
    socket.on('connect', listener);
    socket.on('error', listener);
  }

  /**
   * `net.connect` threw (EMFILE and the like): this attempt's failure, reported after this step. Its own
   * method, so that #connect captures nothing (a closure there would cost every call its variables).
   */
  #connectThrew(id: number, c: Candidate, startMs: number, err: unknown): void {
    const code = (err as { code?: string }).code ?? 'EINVAL';
    this.#errorMessages.set(id, (err as Error).message ?? code);
    this.#trace.attemptStart(id, c.address, c.family, this.#race.attempts[id]!.trigger);
    this.#trace.attemptError(
      id,
      c.address,
      c.family,
      'failed',
      this.#rel(this.#now()) - startMs,
      code,
      (err as Error).message,
    );
    this.#deps.slots.release();
    queueMicrotask(() => {
      if (!this.#settled) this.#apply(this.#race.attemptFailed(id, code, this.#now()));
    });
  }

  /**
   * The listener of every attempt socket of this dial, for 'connect' (no argument) and 'error' (the
   * error). The attempt is the one whose socket emitted; a socket no longer in the race is ignored.
   */
  #socketListener(): (this: net.Socket, err?: NodeJS.ErrnoException) => void {
    const session = this;
    return function (this: net.Socket, err?: NodeJS.ErrnoException): void {
      const id = session.#sockets?.indexOf(this) ?? -1;
      if (id < 0) return;
      if (err === undefined) session.#socketConnected(id, this);
      else session.#attemptError(id, session.#race.attempts[id]!.candidate, this, err);
    };
  }

  /** Attempt `id`'s socket connected: with TLS its handshake starts; without, the race hears it. */
  #socketConnected(id: number, socket: net.Socket): void {
    if (this.#settled) return;
    const now = this.#now();
    const attempt = this.#race.attempts[id]!;
    const c = attempt.candidate;
    // With TLS the attempt's attempt:connect is published when its handshake is done (see #secure).
    if (this.#cfg.tls === undefined) {
      this.#trace.attemptConnect(id, c.address, c.family, socket, this.#rel(now) - attempt.startMs);
    }
    // RTT: from this socket's connect() call to its 'connect' event (one SYN / SYN-ACK exchange).
    const openedAt = this.#openedAt![id]!;
    this.#deps.memory?.endpoints.recordSuccess(c.address, c.port ?? this.#target.port, now - openedAt, now);
    if (this.#cfg.tls === undefined) this.#apply(this.#race.attemptConnected(id, now));
    else this.#secure(id, c, socket, now);
  }

  /**
   * Attempt `id` failed with `err` — its TCP connect, or (with `tls`) its handshake: a network failure ends
   * the attempt and the race goes on (memory learns it); a certificate or TLS-settings failure ends the dial
   * (src/race/tls-failure.ts).
   */
  #attemptError(id: number, c: Candidate, socket: net.Socket, err: NodeJS.ErrnoException): void {
    if (this.#sockets?.[id] !== socket) return;
    this.#takeSocket(id);
    socket.destroy();
    this.#x?.tlsSockets?.get(id)?.destroy();
    this.#x?.tlsSockets?.delete(id);
    const inTls = this.#race.attempts[id]!.securingMs !== undefined;
    this.#errorMessages.set(id, err.message);
    const code = err.code ?? (inTls ? 'EPROTO' : 'EIO');
    const now = this.#now();
    this.#trace.attemptError(
      id,
      c.address,
      c.family,
      'failed',
      this.#rel(now) - this.#race.attempts[id]!.startMs,
      code,
      err.message,
    );
    if (this.#settled) return;
    if (inTls && isFinalTlsFailure(code)) {
      // Not held against the endpoint: the name's certificate (or the caller's TLS settings) is the problem.
      this.#more.finalAttempt = id;
      this.#apply(this.#race.attemptFailedFinal(id, code, now));
      return;
    }
    if (!LOCAL_ERRORS.has(code))
      this.#deps.memory?.endpoints.recordFailure(c.address, c.port ?? this.#target.port, code, now);
    this.#apply(this.#race.attemptFailed(id, code, now));
  }

  /**
   * With `tls`: attempt `id`'s TCP connected; its handshake starts at once and the attempt stays in the race
   * (race.ts#attemptSecuring) until it is done — the winner is the first connection that is secure
   * (draft-ietf-happy-happyeyeballs-v3). SNI carries the host name, never an IP (RFC 6066 §3); the
   * certificate is checked against the name. Every handshake of a dial gets the same options (a `session`
   * to resume included).
   */
  #secure(id: number, c: Candidate, socket: net.Socket, nowMs: number): void {
    this.#apply(this.#race.attemptSecuring(id, nowMs));
    if (this.#settled || this.#sockets?.[id] !== socket) return;
    const options = this.#cfg.tls!;
    const servername = this.#servername();
    let secure: tls.TLSSocket;
    try {
      secure = nodeTls().connect({
        ...options,
        // The endpoint's ALPN: its record's set intersected with the caller's (service-plan.ts).
        ...(c.alpn !== undefined ? { ALPNProtocols: c.alpn } : {}),
        socket,
        servername,
        host: options.host ?? this.#identity(),
      });
    } catch (err) {
      // tls.connect refused the options (a bad `ca`, a bad `secureProtocol`…): the same for every address,
      // so final whatever Node's code (ERR_INVALID_ARG_TYPE, ERR_OSSL_…) — named ERR_TLS_OPTIONS.
      const e = err as Error;
      this.#attemptError(
        id,
        c,
        socket,
        Object.assign(new Error(`TLS options refused: ${e.message}`), { code: 'ERR_TLS_OPTIONS' }),
      );
      return;
    }
    const more = this.#more;
    more.tlsSockets ??= new Map();
    more.tlsSockets.set(id, secure);
    // The TLS socket carries the connection's errors (reset, EOF) as well as the handshake's; the TCP
    // socket's own listener stays and leads to the same end (whichever reports first).
    secure.on('error', (err: NodeJS.ErrnoException) => this.#attemptError(id, c, socket, err));
    secure.once('secureConnect', () => {
      if (this.#settled || this.#x?.tlsSockets?.get(id) !== secure) return;
      this.#apply(this.#race.attemptConnected(id, this.#now()));
    });
  }

  /** The TLS server name: the caller's `servername`, else the host name; none for an IP literal. */
  #servername(): string | undefined {
    const options = this.#cfg.tls;
    return options?.servername ?? (this.#target.hostKind === 0 ? this.#identity() : undefined);
  }

  /**
   * The name the certificate is checked against: the host name; for an SRV target its source domain, the
   * name after `_service._proto.` (RFC 6125 §6.2.1, RFC 7673 §5.1), never the SRV record's target.
   */
  #identity(): string {
    return this.#target.srv ? this.#target.host.split('.').slice(2).join('.') : this.#target.host;
  }

  /** Stops everything the dial started: timer, abort listener, DNS, losing sockets. */
  #cleanup(): void {
    this.#settled = true;
    this.#clearTimer();
    // Nothing when this dial does not wait on it (no signal, aborted already, or told of the abort).
    const signal = this.#cfg.signal;
    if (signal !== undefined) unwatchAbort(signal, this);
    this.#resolution?.cancel(!this.#aborted);
    if (this.#svc) for (const cancel of this.#svc.cancels.splice(0)) cancel(!this.#aborted);
  }

  /** AbortWaiter#onSignalAbort: the caller's signal aborted (told once, by the signal's one listener). */
  onSignalAbort(): void {
    if (this.#settled) return;
    this.#apply(this.#race.abort(this.#now()));
  }

  #won(id: number): void {
    const socket = this.#takeSocket(id)!;
    const secure = this.#x?.tlsSockets?.get(id);
    this.#x?.tlsSockets?.delete(id);
    if (secure === undefined) {
      // The caller's socket keeps no listener of the dial's (an 'error' of theirs must reach them).
      socket.removeListener('connect', this.#onSocketEvent!);
      socket.removeListener('error', this.#onSocketEvent!);
    } else {
      // The handshake added its own on the TCP socket too: none of them stays.
      socket.removeAllListeners('connect');
      socket.removeAllListeners('error');
      secure.removeAllListeners('error');
    }
    const attempt = this.#race.attempts[id]!;
    this.#rememberUnanswered(attempt);
    if (this.#cfg.noDelay !== undefined) socket.setNoDelay(this.#cfg.noDelay);
    if (this.#cfg.keepAlive !== undefined)
      socket.setKeepAlive(this.#cfg.keepAlive, this.#cfg.keepAliveInitialDelayMs);
    this.#cleanup();
    const durationMs = this.#rel(this.#now());
    // With TLS the TCP connection came up when the handshake began (race.ts#attemptSecuring).
    const connectMs = round(attempt.securingMs ?? attempt.endMs ?? durationMs);
    this.#winner = { id, socket, durationMs, connectMs };
    const svc = this.#svc;
    if (svc !== undefined) {
      const c = attempt.candidate;
      const info = c.bucket === undefined ? undefined : svc.plan?.buckets[c.bucket]?.info;
      if (info !== undefined) {
        svc.report.winner = { ...info, type: svc.report.type, hintsUsed: c.hint === true };
      } else svc.report.fallback = true;
    }
    if (secure === undefined) {
      // Built on the first getReport() (buildReport): most callers never ask.
      attachReport(socket, this);
      this.#resolve(socket);
      return;
    }
    const report = this.buildReport();
    report.tls = {
      startMs: connectMs,
      endMs: round(attempt.endMs ?? durationMs),
      servername: this.#servername(),
      protocol: secure.getProtocol(),
      alpnProtocol: secure.alpnProtocol,
      sessionReused: secure.isSessionReused(),
    };
    const tcpMs = connectMs - attempt.startMs;
    this.#trace.attemptConnect(id, attempt.candidate.address, attempt.candidate.family, socket, tcpMs, {
      tlsMs: report.tls.endMs! - connectMs,
    });
    attachReport(secure, report);
    this.#resolve(secure);
  }

  /**
   * History only from measurements: attempts whose socket was open, still silent when the race ended, go
   * into memory as failures (ETIMEDOUT) so the next dial tries them after the others (RFC 8305 §4) —
   * when a winner connected, those whose socket opened before the winner's (they had longer to answer);
   * at the deadline, those open for at least their attempt delay. An attempt that only waited for a
   * Dialer-wide slot never opened a socket and leaves no trace. With a winner, what went unanswered also
   * teaches about its network and family for this name (EndpointHistory.noteUnanswered).
   */
  #rememberUnanswered(winner: { id: number; candidate: Candidate } | undefined): void {
    const memory = this.#deps.memory;
    if (!memory) return;
    const now = this.#now();
    const name = this.#target.hostKind === 0 ? this.#target.host : '';
    const winnerOpenedAt = winner === undefined ? undefined : this.#openedAt?.[winner.id];
    for (const a of this.#race.attempts) {
      const openedAt = this.#openedAt?.[a.id];
      if (openedAt === undefined) continue;
      const unanswered =
        winnerOpenedAt !== undefined
          ? a.outcome === 'cancelled' && openedAt < winnerOpenedAt
          : a.outcome === 'timeout' && now - openedAt >= a.delayMs;
      if (!unanswered) continue;
      memory.endpoints.recordFailure(
        a.candidate.address,
        a.candidate.port ?? this.#target.port,
        'ETIMEDOUT',
        now,
      );
      // A connection stalled in its TLS handshake: the endpoint is held back, but its network answered.
      if (a.securingMs !== undefined) continue;
      if (winner !== undefined && name !== '') {
        memory.endpoints.noteUnanswered(name, a.candidate.address, winner.candidate.address, now);
      }
    }
    if (winner !== undefined && name !== '') memory.endpoints.noteConnected(name, winner.candidate.address);
  }

  #failed(reason: FailReason): void {
    if (reason === 'timeout') this.#rememberUnanswered(undefined);
    if (reason === 'aborted') this.#aborted = true;
    // Stale addresses served without asking DNS and none reachable: the next dial asks DNS at once rather
    // than after the refresh backoff (a service that moved while DNS was briefly down is found again).
    if (reason !== 'aborted' && reason !== 'final' && this.#heldBack !== undefined) {
      for (const e of this.#heldBack)
        if (e.type === 'answer') this.#deps.resolver.allowRefresh(e.name, e.family);
    }
    this.#cleanup();
    const ids: number[] = [];
    this.#sockets?.forEach((socket, id) => {
      if (socket !== undefined) ids.push(id);
    });
    for (const id of this.#x?.waiting?.keys() ?? []) ids.push(id);
    for (const id of ids) this.#dropAttempt(id);
    if (reason === 'aborted') {
      this.#reject(new AbortError(this.#cfg.signal?.reason, `connect ${this.#where()}`));
      return;
    }
    this.#reject(this.#dialError(reason));
  }

  #dialError(reason: Exclude<FailReason, 'aborted'>): DialError {
    const elapsedMs = this.#rel(this.#now());
    // Phase 'tls': the attempt's TCP connected and it ended in its handshake (durations still from its start).
    const tcp: AttemptError[] = this.#race.attempts.map((a) => ({
      address: a.candidate.address,
      family: a.candidate.family,
      port: a.candidate.port ?? this.#target.port,
      phase: a.securingMs === undefined ? 'tcp' : 'tls',
      code: a.code ?? 'ECANCELED',
      message:
        a.outcome === 'timeout'
          ? a.securingMs === undefined
            ? `no answer within the ${formatDuration(this.#cfg.timeoutMs)} timeout`
            : `no TLS handshake within the ${formatDuration(this.#cfg.timeoutMs)} timeout`
          : (this.#x?.errors?.get(a.id) ?? describeCode(a.code ?? 'ECANCELED')),
      startMs: a.startMs,
      durationMs: (a.endMs ?? elapsedMs) - a.startMs,
    }));
    // A negative DNS answer (ENODATA, ENOTFOUND) is an answer, not a failure: it is listed only when the
    // dial failed for want of an address (then it is why); otherwise it stays in the report's queries.
    const dns: AttemptError[] = [];
    for (const query of this.#dnsFailures ?? []) {
      const code = query.code!;
      if (reason !== 'dns' && isNegativeAnswer(code)) continue;
      dns.push({
        address: query.name,
        family: query.type === 'AAAA' ? 6 : 4,
        port: this.#target.port,
        phase: 'dns',
        code,
        message: query.message!,
        startMs: query.startMs,
        durationMs: query.endMs! - query.startMs,
      });
    }
    // Queries still out when the dial's timeout came: no server failed (the answer may yet come, and is kept
    // for the next dial), so the message names them apart from DNS failures. (A query that did time out is
    // among the failures above, and not listed twice.)
    let unanswered: string[] | undefined;
    if (reason === 'timeout') {
      for (const a of this.#race.answers) {
        if (a.code !== 'ETIMEOUT') continue;
        const type = a.family === 6 ? 'AAAA' : 'A';
        const name = a.source || this.#target.host;
        if (this.#dnsFailures?.some((q) => q.type === type && q.name === name && q.code === 'ETIMEOUT'))
          continue;
        dns.push({
          address: name,
          family: a.family,
          port: this.#target.port,
          phase: 'dns',
          code: 'ETIMEOUT',
          message: `no answer yet when the dial's ${formatDuration(this.#cfg.timeoutMs)} timeout came (a late answer is kept for the next dial)`,
          startMs: 0,
          durationMs: a.atMs,
        });
        unanswered = append(unanswered, a.source ? `${type} ${a.source}` : type);
      }
      // The service record query itself (SRV, HTTPS) still out: the race had nothing else to wait for.
      const sq = this.#svc?.query;
      if (sq !== undefined && sq.endMs === undefined) {
        dns.push({
          address: sq.name,
          family: 4,
          port: 0,
          phase: 'dns',
          code: 'ETIMEOUT',
          message: `the ${sq.type} query had no answer yet when the dial's ${formatDuration(this.#cfg.timeoutMs)} timeout came`,
          startMs: sq.startMs,
          durationMs: elapsedMs - sq.startMs,
        });
        unanswered = append(unanswered, `${sq.type} ${sq.name}`);
      }
    }
    const denied = this.#x?.deniedList?.attempts() ?? [];
    const attempts = [...dns, ...denied, ...tcp];
    const where = this.#where();
    let code: string;
    let message: string;
    const svc = this.#svc;
    if (
      reason === 'dns' &&
      svc?.kind === 'srv' &&
      (svc.plan === undefined || svc.plan.buckets.length === 0)
    ) {
      // No SRV endpoint at all: the records are missing, say "no service", or name none usable.
      const failed = svc.report.code;
      code = failed === undefined || failed === 'ENODATA' || failed === 'ENOTFOUND' ? 'ENOTFOUND' : failed;
      if (failed === NO_SERVICE_CODE) code = NO_SERVICE_CODE;
      const what =
        code === NO_SERVICE_CODE
          ? `the SRV records of ${this.#target.host} say the service is not available (target ".", RFC 2782)`
          : code === 'ENOTFOUND'
            ? `${this.#target.host} has no usable SRV records${failed ? ` (${failed})` : ''}`
            : `the SRV query failed: ${describeCode(code)}`;
      message = `connect ${where} failed in ${formatDuration(elapsedMs)}: ${what}`;
      attempts.unshift({
        address: this.#target.host,
        family: 4,
        port: 0,
        phase: 'dns',
        code,
        message: what,
        startMs: svc.query?.startMs ?? 0,
        durationMs: (svc.query?.endMs ?? elapsedMs) - (svc.query?.startMs ?? 0),
      });
    } else if (reason === 'dns' && denied.length > 0) {
      // Every address the name has was refused by the address policy: say which rules.
      code = POLICY_DENIED_CODE;
      message = `connect ${where} refused by the address policy: ${this.#denied.summary(MESSAGE_ATTEMPTS)}`;
      // The other family's "no address" (ENODATA) is no failure: this one answered (README; err.report has it).
      for (let i = attempts.length - 1; i >= 0; i--)
        if (attempts[i]!.code === 'ENODATA') attempts.splice(i, 1);
    } else if (reason === 'dns') {
      // One name, no address: ENOTFOUND when DNS says there is none; otherwise the first real failure.
      const real = dns.find((d) => d.code !== 'ENOTFOUND' && d.code !== 'ENODATA');
      code = real?.code ?? 'ENOTFOUND';
      // SRV targets are other names than the target: each failure names its own.
      const srvTargets = svc?.kind === 'srv';
      const detail = dns
        .map((d) => `${srvTargets ? `${d.address} ` : ''}${d.family === 6 ? 'AAAA' : 'A'} ${d.code}`)
        .join('; ');
      // The failure in words (dns-failure-text.ts): a server that answered is named.
      const what =
        code === 'ENOTFOUND'
          ? srvTargets
            ? `no SRV target of ${this.#target.host} has an address`
            : `${this.#target.host} has no address`
          : dnsFailureText(code, real?.message);
      message = `connect ${where} failed in ${formatDuration(elapsedMs)}: ${what} (${detail})`;
    } else if (reason === 'final') {
      // A certificate (or TLS settings) failure: that attempt's error is the dial's, the others were cancelled.
      const final = tcp[this.#x?.finalAttempt ?? 0]!;
      code = final.code;
      message = `connect ${where} failed in ${formatDuration(elapsedMs)}: TLS handshake with ${this.#attemptName(final)}: ${final.message} (${code})`;
    } else {
      // Like Go, the first attempt's error speaks for the dial: it went to the most preferred address.
      code = reason === 'timeout' ? 'ETIMEDOUT' : (tcp[0]?.code ?? 'ECONNREFUSED');
      const listed = tcp.slice(0, MESSAGE_ATTEMPTS).map((a) => `${this.#attemptName(a)} ${a.code}`);
      if (tcp.length > MESSAGE_ATTEMPTS) listed.push(`${tcp.length - MESSAGE_ATTEMPTS} more`);
      const head =
        reason === 'timeout'
          ? `connect ${where} timed out after ${formatDuration(elapsedMs)}`
          : `connect ${where} failed after ${tcp.length} attempt${tcp.length === 1 ? '' : 's'} in ${formatDuration(elapsedMs)}`;
      message = tcp.length > 0 ? `${head}: ${listed.join('; ')}` : `${head}: no address was tried`;
      // The count is of connection attempts; the other entries of `attempts` are named apart.
      const also: string[] = [];
      const failedDns = dns.slice(0, dns.length - (unanswered?.length ?? 0));
      if (failedDns.length > 0)
        also.push(`DNS ${failedDns.map((d) => `${d.family === 6 ? 'AAAA' : 'A'} ${d.code}`).join(', ')}`);
      if (unanswered !== undefined)
        also.push(`DNS ${unanswered.join(', ')} still unanswered when the timeout came`);
      if (denied.length > 0)
        also.push(`${denied.length} address${denied.length === 1 ? '' : 'es'} denied by policy`);
      if (this.#heldBack !== undefined) {
        also.push(
          'addresses from a stale DNS answer: DNS was not asked (refreshes held back after a failure); the next dial asks it',
        );
      }
      if (also.length > 0) message += ` (${also.join('; ')})`;
    }
    const report = this.#report();
    report.durationMs = elapsedMs;
    return new DialError({
      host: this.#target.host,
      port: this.#target.port,
      code,
      message,
      attempts,
      elapsedMs,
      report,
    });
  }

  /**
   * An attempt as the message names it: the address alone when it was dialled on the target's port (plain
   * dials), address:port ([v6]:port) when a service record (SRV, HTTPS port=) gave the endpoint its own port.
   */
  #attemptName(a: { address: string; port: number }): string {
    return a.port === this.#target.port ? a.address : formatHostPort(a.address, a.port);
  }

  /**
   * The attempt delay the dial used — the one after its first attempt — and what it rested on: 'history'
   * only when an RTT sample stands behind it (the endpoint's own, its network's, or Dialer-wide).
   */
  #delayDecision(): Pick<
    DialReport['decisions'],
    'attemptDelayMs' | 'attemptDelaySource' | 'attemptDelayBasis'
  > {
    const first = this.#race.attempts[0];
    const explicit = this.#cfg.attemptDelayExplicit;
    if (first === undefined || explicit) {
      return { attemptDelayMs: this.attemptDelayMs, attemptDelaySource: explicit ? 'option' : 'default' };
    }
    const basis = this.#delayBasisOf(first.candidate.address);
    if (basis === undefined) return { attemptDelayMs: first.delayMs, attemptDelaySource: 'default' };
    return {
      attemptDelayMs: first.delayMs,
      attemptDelaySource: basis === 'default' ? 'default' : 'history',
      attemptDelayBasis: basis,
    };
  }

  /** The winner's report (see #won): attached to the socket, built on the first getReport(). */
  buildReport(): DialReport {
    const { id, socket, durationMs, connectMs } = this.#winner!;
    const attempt = this.#race.attempts[id]!;
    const report = this.#report();
    report.winner = {
      address: attempt.candidate.address,
      family: attempt.candidate.family,
      port: attempt.candidate.port ?? this.#target.port,
      localAddress: socket.localAddress,
      localPort: socket.localPort,
      connectMs,
    };
    report.durationMs = durationMs;
    return report;
  }

  /** The report's queries (made once: every report of the dial shares them, as it shares the records). */
  #reportQueries(): QueryReport[] {
    const more = this.#more;
    more.queryReports ??= (this.#queries ?? []).map((q) => q.toReport());
    return more.queryReports;
  }

  #report(): DialReport {
    const attempts = this.#race.attempts.map((a): AttemptReport => {
      // TCP connected when the handshake began (securingMs); without TLS, when the attempt connected.
      const tcpAt = a.securingMs ?? (a.outcome === 'connected' ? a.endMs : undefined);
      const r: AttemptReport = {
        address: a.candidate.address,
        family: a.candidate.family,
        port: a.candidate.port ?? this.#target.port,
        startMs: round(a.startMs),
        endMs: a.endMs === undefined ? undefined : round(a.endMs),
        outcome: a.outcome,
        code: a.code,
        trigger: a.trigger,
      };
      if (tcpAt !== undefined) r.tcpMs = round(tcpAt - a.startMs);
      if (a.securingMs !== undefined && a.endMs !== undefined) r.tlsMs = round(a.endMs - a.securingMs);
      if (a.passedOver !== undefined) r.passedOver = [...a.passedOver];
      return r;
    });
    return {
      host: this.#target.host,
      port: this.#target.port,
      startedAt: new Date(this.#startedAtMs).toISOString(),
      durationMs: 0,
      resolution: {
        // The resolver's path is shared by the dials it decided (frozen): each report has its own copy.
        ...(this.#path ? { path: { ...this.#path } } : {}),
        queries: this.#reportQueries(),
        ...(this.#x?.nat64Prefix
          ? { nat64: { prefix: this.#x?.nat64Prefix, synthesized: [...(this.#x?.nat64 ?? [])] } }
          : {}),
      },
      order: this.#race.order.map((c) =>
        c.port === undefined
          ? { address: c.address, family: c.family }
          : { address: c.address, family: c.family, port: c.port },
      ),
      ...(this.#svc ? { service: this.#svc.report } : {}),
      decisions: {
        ...this.#delayDecision(),
        memory: this.#deps.memory !== undefined,
        ...((this.#svc?.orders.values().next().value as DialOrder | undefined) ?? this.#order).decisions,
      },
      settings: {
        attemptDelayMs: this.attemptDelayMs,
        resolutionDelayMs: this.#cfg.resolutionDelayMs,
        maxConcurrentAttempts: this.#cfg.maxConcurrentAttempts,
        timeoutMs: this.#cfg.timeoutMs,
      },
      attempts,
    };
  }
}

/** The last query record of `type` for `name`, ended or not. */
function lastQuery(queries: readonly QueryRecord[], type: string, name: string): QueryRecord | undefined {
  for (let i = queries.length - 1; i >= 0; i--) {
    const x = queries[i]!;
    if (x.type === type && x.name === name) return x;
  }
  return undefined;
}
