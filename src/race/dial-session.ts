/**
 * One dial: the thin shell that connects the pure race (race.ts) to real DNS answers, real sockets and
 * one real timer, then runs TLS on the winner. It decides nothing itself: it carries out the race's
 * actions and reports what happened.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { AttemptSlots } from './attempt-slots.js';
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
import { type FailReason, Race, type RaceAction, type RaceStep } from './race.js';
import { attachReport, type DialReport, getReport, type QueryReport } from '../report.js';
import type { NameResolver, Resolution, ResolutionEvent, ResolverPath } from '../resolution/resolve.js';
import { precedence, preselectDestinations } from './sort.js';
import type { SourceAddressProbe } from './source-address.js';
import { formatHostPort, type Target } from '../target.js';
import type { Family } from '../types.js';

/** A candidate as the race sees it, with the source address the kernel would use (for RFC 6724). */
type Candidate = OrderCandidate;

export interface SessionDeps {
  resolver: NameResolver;
  probe: SourceAddressProbe;
  clock: Clock;
  memory?: DialMemory | undefined;
  slots: AttemptSlots;
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

/** Milliseconds to the microsecond, for reports. */
function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export function runDial(target: Target, cfg: DialConfig, deps: SessionDeps): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    new DialSession(target, cfg, deps, resolve, reject).start();
  });
}

class DialSession {
  readonly #target: Target;
  readonly #cfg: DialConfig;
  readonly #deps: SessionDeps;
  readonly #resolve: (s: net.Socket) => void;
  readonly #reject: (e: unknown) => void;
  readonly #t0: number;
  readonly #startedAt = new Date();
  readonly #race: Race<Candidate>;
  readonly #sockets = new Map<number, net.Socket>();
  /** Attempts the race started that wait for a Dialer-wide slot, with the function that withdraws them. */
  #waiting: Map<number, () => void> | undefined;
  /** Error messages of failed attempts, by id (made on the first failure: most dials have none). */
  #errors: Map<number, string> | undefined;
  /** When each attempt that got a socket called connect() (clock ms): history measures from there. */
  readonly #openedAt: number[] = [];
  /** What each destination's attempt delay rested on (RFC 8305 §5 history), by address. */
  #delayBasis: { address: string; basis: AttemptDelayBasis } | undefined;
  /** Bases for further addresses (made for the second: most dials make one attempt). */
  #moreDelayBases: Map<string, AttemptDelayBasis> | undefined;
  readonly #queries: QueryReport[] = [];
  /** Which resolver the name went to, and why (nsswitch.conf, the resolver option…). */
  #path: ResolverPath | undefined;
  /** IPv4 destinations dialled through NAT64 (RFC 8305 §7), and the prefix used. */
  readonly #nat64: Nat64Synthesis[] = [];
  #nat64Prefix: string | undefined;
  readonly #dnsFailures: AttemptError[] = [];
  /** Addresses the policy refused (each once), for the attempts with phase 'policy'. */
  #deniedList: DeniedAddresses | undefined;
  #resolution: Resolution | undefined;
  #timer: unknown;
  #timerAt: number | undefined;
  #settled = false;
  #tlsSocket: tls.TLSSocket | undefined;
  readonly #attemptDelayMs: number;
  readonly #attemptDelaySource: 'default' | 'option' | 'history';
  readonly #order: DialOrder;
  /** A TCP connection won: late DNS answers may still fill the cache (RFC 8305 §5). */
  #connected = false;
  /** The TCP connection under a handshake in progress (destroying a TLSSocket does not always close it). */
  #tcpUnderTls: net.Socket | undefined;
  readonly #onAbort = () => this.#abort();
  readonly #trace: DialTrace;

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
    this.#trace = new DialTrace(target.host, target.port, () => this.#rel(this.#now()), cfg.signal);
    this.#resolve = (socket) => {
      this.#trace.dialDone(socket, () => getReport(socket));
      resolve(socket);
    };
    this.#reject = (err) => {
      this.#trace.dialError(err);
      reject(err);
    };
    // An IP literal is its own family's only answer; the other family is not asked (and not reported).
    const families: Family[] =
      cfg.family !== 0 ? [cfg.family] : target.hostKind !== 0 ? [target.hostKind] : [6, 4];
    const memory = deps.memory;
    // RFC 8305 §5: the Connection Attempt Delay "should" come from RTT history when there is some. It is
    // decided per attempt, from what is known of that destination (see attemptDelayFor); this first
    // figure, the Dialer-wide estimate, is what the dial starts with until an attempt is made.
    if (memory && !cfg.attemptDelayExplicit) {
      this.#attemptDelayMs = memory.endpoints.attemptDelayMs(
        cfg.family === 0 ? undefined : cfg.family,
        this.#t0,
      );
      this.#attemptDelaySource = 'default';
    } else {
      this.#attemptDelayMs = cfg.attemptDelayMs;
      this.#attemptDelaySource = cfg.attemptDelayExplicit ? 'option' : 'default';
    }
    const name = target.hostKind === 0 ? target.host : '';
    const port = target.port;
    const dialOrder = new DialOrder(memory, name, port, cfg.firstAddressFamilyCount, cfg.maxAddresses);
    this.#order = dialOrder;
    const order = (known: readonly Candidate[]): Candidate[] => dialOrder.order(known, this.#now());
    this.#race = new Race<Candidate>(
      {
        families,
        attemptDelayMs: this.#attemptDelayMs,
        resolutionDelayMs: cfg.resolutionDelayMs,
        maxConcurrentAttempts: cfg.maxConcurrentAttempts,
        deadlineMs: this.#t0 + cfg.timeoutMs,
        order,
        attemptDelayFor:
          memory && !cfg.attemptDelayExplicit
            ? (c) => {
                const { delayMs, basis } = memory.endpoints.attemptDelayFor(
                  c.address,
                  port,
                  this.#now(),
                  this.#race.order.map((o) => o.address),
                );
                this.#noteDelayBasis(c.address, basis);
                return delayMs;
              }
            : undefined,
        // Held back by history: failed recently, in a suspected network, or of a family ranked second for
        // the name. An answer made only of such addresses does not start the race at once (see race.ts).
        isDemoted: memory
          ? (c) => {
              const now = this.#now();
              const history = memory.endpoints;
              return (
                history.isDemoted(c.address, port, now) ||
                (name !== '' &&
                  (history.isSuspected(name, c.address, port, now) ||
                    history.deferredFamily(name, now) === c.family))
              );
            }
          : undefined,
      },
      this.#t0,
    );
  }

  start(): void {
    this.#trace.dialStart(this.#startedAt, this.#cfg.family, this.#cfg.tls !== undefined, {
      attemptDelayMs: this.#attemptDelayMs,
      resolutionDelayMs: this.#cfg.resolutionDelayMs,
      maxConcurrentAttempts: this.#cfg.maxConcurrentAttempts,
      timeoutMs: this.#cfg.timeoutMs,
    });
    const signal = this.#cfg.signal;
    if (signal?.aborted) {
      this.#settled = true;
      this.#reject(new AbortError(signal.reason, `connect ${this.#where()}`));
      return;
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#apply(this.#race.start(this.#now()));
    if (this.#settled) return;
    this.#resolution = this.#deps.resolver.resolve(
      this.#target.host,
      this.#target.absolute,
      this.#race.pendingFamilies,
      this.#cfg.resolver,
      this.#now(),
      (event) => this.#onResolution(event),
    );
    if (this.#settled) this.#resolution.cancel();
  }

  /** Made when the policy first refuses an address (most dials have no policy, or nothing denied). */
  get #denied(): DeniedAddresses {
    this.#deniedList ??= new DeniedAddresses(this.#target.port, this.#cfg.redactDeniedAddresses);
    return this.#deniedList;
  }

  #noteDelayBasis(address: string, basis: AttemptDelayBasis): void {
    if (this.#delayBasis === undefined || this.#delayBasis.address === address) {
      this.#delayBasis = { address, basis };
      return;
    }
    this.#moreDelayBases ??= new Map();
    this.#moreDelayBases.set(address, basis);
  }

  #delayBasisOf(address: string): AttemptDelayBasis | undefined {
    if (this.#delayBasis?.address === address) return this.#delayBasis.basis;
    return this.#moreDelayBases?.get(address);
  }

  #now(): number {
    return this.#deps.clock.now();
  }

  get #errorMessages(): Map<number, string> {
    this.#errors ??= new Map();
    return this.#errors;
  }

  #rel(t: number): number {
    return round(t - this.#t0);
  }

  #where(): string {
    return formatHostPort(this.#target.host, this.#target.port);
  }

  #onResolution(event: ResolutionEvent): void {
    if (this.#settled) return;
    if (event.type === 'path') {
      this.#path = event.path;
      return;
    }
    const now = this.#now();
    const type = event.family === 6 ? 'AAAA' : 'A';
    if (event.type === 'query') {
      const report: QueryReport = { type, name: event.name, source: event.source, startMs: this.#rel(now) };
      if (event.reason !== undefined) report.reason = event.reason;
      this.#queries.push(report);
      this.#trace.dnsQuery(event.name, event.family, event.source);
      return;
    }
    let q = this.#queries.findLast((x) => x.type === type && x.name === event.name && x.endMs === undefined);
    if (!q) {
      q = { type, name: event.name, source: event.source, startMs: this.#rel(now) };
      this.#queries.push(q);
    }
    q.endMs = this.#rel(now);
    q.source = event.source;
    if (event.type === 'error') {
      q.code = event.code;
      this.#trace.dnsError(
        event.name,
        event.family,
        event.source,
        event.code,
        event.message,
        q.endMs - q.startMs,
      );
      if (event.refresh) {
        // The refresh behind a stale answer failed. A negative answer is an answer (RFC 8767 §4): the name
        // or type is gone, so the stale addresses not yet tried are dropped; any other failure leaves the
        // stale answer in force (serve-stale). Either way the race stops waiting for the refresh.
        const negative = isNegativeAnswer(event.code);
        this.#apply(
          negative
            ? this.#race.refreshed(event.family, [], now)
            : this.#race.refreshFailed(event.family, now, event.code),
        );
        return;
      }
      this.#dnsFailures.push({
        address: event.name,
        family: event.family,
        port: this.#target.port,
        phase: 'dns',
        code: event.code,
        message: event.message,
        startMs: q.startMs,
        durationMs: q.endMs - q.startMs,
      });
      this.#apply(this.#race.answerFailed(event.family, event.code, now));
      return;
    }
    // Bounds before work: no more than maxAddresses of one answer are looked at (a hostile or broken
    // answer may carry tens of thousands) — screened, probed or dialled. The cut keeps the best by what
    // is known without probing (RFC 6724 rules 6 and 8), before a probe socket is opened for any of them.
    const max = this.#cfg.maxAddresses;
    const answered =
      event.addresses.length > max ? preselectDestinations(event.addresses, max) : event.addresses;
    if (event.staleUse !== undefined) q.staleUse = event.staleUse;
    // The address policy is enforced here, on every address before it can be dialled — literals, hosts
    // file, DNS, cache, stale answers and refreshes alike — so a rebinding answer cannot slip through.
    const allowed = this.#cfg.policy ? this.#screen(answered, event.name, q.endMs) : answered;
    const shown = this.#cfg.redactDeniedAddresses ? allowed : answered;
    q.addresses = shown.map((a) => ({ address: a.address, ttlSeconds: a.ttlSeconds }));
    if (allowed.length < answered.length) q.deniedByPolicy = answered.length - allowed.length;
    this.#trace.dnsAnswer(event.name, event.family, event.source, answered, q.endMs - q.startMs);
    if (allowed.length === 0) {
      // A stale answer the policy refuses entirely: its refresh, which follows, is the family's answer.
      if (event.refreshing) return;
      this.#apply(
        event.refresh
          ? this.#race.refreshed(event.family, [], now)
          : this.#race.answerFailed(event.family, POLICY_DENIED_CODE, now),
      );
      return;
    }
    const candidates: Candidate[] = allowed.map((a) => ({
      address: a.address,
      family: a.family,
      precedence: precedence(a.address),
    }));
    const local = this.#cfg.localAddress;
    if (local !== undefined) {
      for (const c of candidates) c.sourceAddress = local;
      this.#apply(this.#deliver(event, candidates, now));
      return;
    }
    // Sorting needs the source address per destination (RFC 6724 rules 1, 2, 5, 8, 9). It only matters
    // when there is more than one address to order; a lone first address keeps an unknown source, which
    // the sort treats as usable (the rules that need it are skipped for it).
    // RFC 8305 §7: with NAT64 possible, an IPv4 answer is probed even alone, to learn whether IPv4 has a
    // route at all (loopback and other untranslatable addresses aside, so the local hot path stays as is).
    const nat64 = this.#deps.nat64;
    const checkNat64 =
      nat64 !== undefined && event.family === 4 && candidates.some((c) => translatable(c.address));
    if (candidates.length + this.#race.order.length <= 1 && !checkNat64) {
      this.#apply(this.#deliver(event, candidates, now));
      return;
    }
    this.#deps.probe.probe(candidates, now).then((sources) => {
      if (this.#settled) return;
      for (const c of candidates) c.sourceAddress = sources.get(c.address);
      if (nat64 === undefined || !checkNat64 || !hasStrandedIPv4(candidates)) {
        this.#apply(this.#deliver(event, candidates, this.#now()));
        return;
      }
      nat64.prefix(this.#now()).then((prefix) => {
        if (this.#settled) return;
        this.#apply(this.#deliver(event, this.#viaNat64(candidates, prefix), this.#now()));
      });
    });
  }

  /** A stale answer whose refresh is out makes the race wait for it; the refresh itself replaces it. */
  #deliver(
    event: Extract<ResolutionEvent, { type: 'answer' }>,
    candidates: Candidate[],
    atMs: number,
  ): RaceStep<Candidate> {
    return event.refresh
      ? this.#race.refreshed(event.family, candidates, atMs)
      : this.#race.answer(event.family, candidates, atMs, { refreshPending: event.refreshing === true });
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
    const fresh = made.synthesized.filter((s) => !this.#nat64.some((n) => n.ipv6 === s.ipv6));
    this.#nat64.push(...fresh);
    this.#nat64Prefix = prefix.text;
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
    for (const action of step.actions) this.#act(action);
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

  #schedule(atMs: number | undefined): void {
    if (atMs === this.#timerAt) return;
    this.#clearTimer();
    if (atMs === undefined || !Number.isFinite(atMs)) return;
    this.#timerAt = atMs;
    this.#timer = this.#deps.clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = undefined;
        this.#apply(this.#race.tick(this.#now()));
      },
      // Timers have whole-millisecond resolution: round up so one timer suffices (no early wake-up).
      Math.max(0, Math.ceil(atMs - this.#now())),
    );
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#deps.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = undefined;
  }

  #startAttempt(id: number, c: Candidate): void {
    const withdraw = this.#deps.slots.acquire(() => {
      this.#waiting?.delete(id);
      this.#connect(id, c);
    });
    if (withdraw) {
      this.#waiting ??= new Map();
      this.#waiting.set(id, withdraw);
    }
  }

  /** Takes attempt `id`'s socket out of the race and gives its Dialer-wide slot back. */
  #takeSocket(id: number): net.Socket | undefined {
    const socket = this.#sockets.get(id);
    if (socket === undefined) return undefined;
    this.#sockets.delete(id);
    this.#deps.slots.release();
    return socket;
  }

  /** Ends attempt `id` wherever it is: waiting for a slot, or connecting. */
  #dropAttempt(id: number): void {
    this.#waiting?.get(id)?.();
    this.#waiting?.delete(id);
    const socket = this.#takeSocket(id);
    if (socket === undefined) return;
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
      socket = net.connect({
        host: c.address,
        port: this.#target.port,
        family: c.family,
        localAddress: this.#cfg.localAddress,
      });
    } catch (err) {
      // Synchronous failures (EMFILE and the like) are this attempt's failure, reported after this step.
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
      return;
    }
    this.#sockets.set(id, socket);
    this.#openedAt[id] = openedAt;
    // Published once the socket exists and is the race's: a subscriber that aborts the dial from here
    // finds it, and the abort destroys it (and publishes its attempt:error) like any other attempt.
    this.#trace.attemptStart(id, c.address, c.family, this.#race.attempts[id]!.trigger);
    if (this.#sockets.get(id) !== socket) return;
    socket.once('connect', () => {
      if (this.#settled || this.#sockets.get(id) !== socket) return;
      const now = this.#now();
      this.#trace.attemptConnect(id, c.address, c.family, socket, this.#rel(now) - startMs);
      // RTT: from this socket's connect() call to its 'connect' event (one SYN / SYN-ACK exchange).
      this.#deps.memory?.endpoints.recordSuccess(c.address, this.#target.port, now - openedAt, now);
      this.#apply(this.#race.attemptConnected(id, now));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.#sockets.get(id) !== socket) return;
      this.#takeSocket(id);
      socket.destroy();
      this.#errorMessages.set(id, err.message);
      const code = err.code ?? 'EIO';
      const now = this.#now();
      this.#trace.attemptError(
        id,
        c.address,
        c.family,
        'failed',
        this.#rel(now) - startMs,
        code,
        err.message,
      );
      if (!LOCAL_ERRORS.has(code))
        this.#deps.memory?.endpoints.recordFailure(c.address, this.#target.port, code, now);
      if (!this.#settled) this.#apply(this.#race.attemptFailed(id, code, now));
    });
  }

  /** Stops everything the dial started: timer, abort listener, DNS, losing sockets. */
  #cleanup(): void {
    this.#settled = true;
    this.#clearTimer();
    this.#cfg.signal?.removeEventListener('abort', this.#onAbort);
    this.#resolution?.cancel(this.#connected);
  }

  #abort(): void {
    if (this.#tlsSocket) {
      this.#dropHandshake();
      this.#cleanup();
      this.#reject(new AbortError(this.#cfg.signal?.reason, `connect ${this.#where()}`));
      return;
    }
    if (this.#settled) return;
    this.#apply(this.#race.abort(this.#now()));
  }

  #won(id: number): void {
    const socket = this.#takeSocket(id)!;
    this.#connected = true;
    socket.removeAllListeners('connect');
    socket.removeAllListeners('error');
    const attempt = this.#race.attempts[id]!;
    this.#rememberUnanswered(attempt);
    const connectMs = round(attempt.endMs ?? this.#rel(this.#now()));
    const withWinner = (): DialReport => {
      const report = this.#report();
      report.winner = {
        address: attempt.candidate.address,
        family: attempt.candidate.family,
        port: this.#target.port,
        localAddress: socket.localAddress,
        localPort: socket.localPort,
        connectMs,
      };
      return report;
    };
    if (this.#cfg.noDelay !== undefined) socket.setNoDelay(this.#cfg.noDelay);
    if (this.#cfg.keepAlive !== undefined)
      socket.setKeepAlive(this.#cfg.keepAlive, this.#cfg.keepAliveInitialDelayMs);
    if (this.#cfg.tls === undefined) {
      this.#cleanup();
      const durationMs = this.#rel(this.#now());
      // Built on the first getReport(): most callers never ask.
      attachReport(socket, () => ({ ...withWinner(), durationMs }));
      this.#resolve(socket);
      return;
    }
    const report = withWinner();
    // Everything but the abort listener and the deadline is done; TLS runs on the winner (RFC 8305
    // leaves TLS out of the race; the deadline still bounds it).
    this.#clearTimer();
    this.#resolution?.cancel(true);
    this.#handshake(socket, report, attempt.candidate);
  }

  #handshake(socket: net.Socket, report: DialReport, c: Candidate): void {
    const options = this.#cfg.tls!;
    const isName = this.#target.hostKind === 0;
    // SNI carries the host name, never an IP (RFC 6066 §3); the certificate is checked against the name.
    const servername = options.servername ?? (isName ? this.#target.host : undefined);
    const startMs = this.#rel(this.#now());
    report.tls = { startMs, servername };
    const tlsSocket = tls.connect({
      ...options,
      socket,
      servername,
      host: options.host ?? this.#target.host,
    });
    this.#tlsSocket = tlsSocket;
    this.#tcpUnderTls = socket;
    const fail = (code: string, message: string) => {
      if (this.#tlsSocket !== tlsSocket) return;
      this.#dropHandshake();
      this.#cleanup();
      const endMs = this.#rel(this.#now());
      const attempt: AttemptError = {
        address: c.address,
        family: c.family,
        port: this.#target.port,
        phase: 'tls',
        code,
        message,
        startMs,
        durationMs: endMs - startMs,
      };
      this.#reject(
        new DialError({
          host: this.#target.host,
          port: this.#target.port,
          code,
          message: `connect ${this.#where()} failed in ${formatDuration(endMs)}: TLS handshake with ${c.address}: ${message} (${code})`,
          attempts: [attempt],
          elapsedMs: endMs,
          report: { ...report, durationMs: endMs, tls: { startMs, endMs, servername } },
        }),
      );
    };
    const remainingMs = this.#t0 + this.#cfg.timeoutMs - this.#now();
    if (Number.isFinite(remainingMs)) {
      this.#timer = this.#deps.clock.setTimeout(
        () => {
          this.#timer = undefined;
          fail('ETIMEDOUT', `no handshake within the ${formatDuration(this.#cfg.timeoutMs)} timeout`);
        },
        Math.max(0, remainingMs),
      );
    }
    tlsSocket.once('secureConnect', () => {
      if (this.#tlsSocket !== tlsSocket) return;
      this.#tlsSocket = undefined;
      this.#tcpUnderTls = undefined;
      tlsSocket.removeAllListeners('error');
      this.#cleanup();
      const now = this.#rel(this.#now());
      report.tls = {
        startMs,
        endMs: now,
        servername,
        protocol: tlsSocket.getProtocol(),
        alpnProtocol: tlsSocket.alpnProtocol,
        sessionReused: tlsSocket.isSessionReused(),
      };
      report.durationMs = now;
      attachReport(tlsSocket, report);
      this.#resolve(tlsSocket);
    });
    tlsSocket.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'ERR_TLS', err.message));
  }

  #dropHandshake(): void {
    this.#tlsSocket?.destroy();
    this.#tcpUnderTls?.destroy();
    this.#tlsSocket = undefined;
    this.#tcpUnderTls = undefined;
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
    const winnerOpenedAt = winner === undefined ? undefined : this.#openedAt[winner.id];
    for (const a of this.#race.attempts) {
      const openedAt = this.#openedAt[a.id];
      if (openedAt === undefined) continue;
      const unanswered =
        winnerOpenedAt !== undefined
          ? a.outcome === 'cancelled' && openedAt < winnerOpenedAt
          : a.outcome === 'timeout' && now - openedAt >= a.delayMs;
      if (!unanswered) continue;
      memory.endpoints.recordFailure(a.candidate.address, this.#target.port, 'ETIMEDOUT', now);
      if (winner !== undefined && name !== '') {
        memory.endpoints.noteUnanswered(name, a.candidate.address, winner.candidate.address, now);
      }
    }
    if (winner !== undefined && name !== '') memory.endpoints.noteConnected(name, winner.candidate.address);
  }

  #failed(reason: FailReason): void {
    if (reason === 'timeout') this.#rememberUnanswered(undefined);
    this.#cleanup();
    for (const id of [...this.#sockets.keys(), ...(this.#waiting?.keys() ?? [])]) this.#dropAttempt(id);
    if (reason === 'aborted') {
      this.#reject(new AbortError(this.#cfg.signal?.reason, `connect ${this.#where()}`));
      return;
    }
    this.#reject(this.#dialError(reason));
  }

  #dialError(reason: Exclude<FailReason, 'aborted'>): DialError {
    const elapsedMs = this.#rel(this.#now());
    const tcp: AttemptError[] = this.#race.attempts.map((a) => ({
      address: a.candidate.address,
      family: a.candidate.family,
      port: this.#target.port,
      phase: 'tcp',
      code: a.code ?? 'ECANCELED',
      message:
        a.outcome === 'timeout'
          ? `no answer within the ${formatDuration(this.#cfg.timeoutMs)} timeout`
          : (this.#errors?.get(a.id) ?? describeCode(a.code ?? 'ECANCELED')),
      startMs: a.startMs,
      durationMs: (a.endMs ?? elapsedMs) - a.startMs,
    }));
    // A negative DNS answer (ENODATA, ENOTFOUND) is an answer, not a failure: it is listed only when the
    // dial failed for want of an address (then it is why); otherwise it stays in the report's queries.
    const dns = this.#dnsFailures.filter((d) => reason === 'dns' || !isNegativeAnswer(d.code));
    if (reason === 'timeout') {
      for (const a of this.#race.answers) {
        if (a.code !== 'ETIMEOUT') continue;
        dns.push({
          address: this.#target.host,
          family: a.family,
          port: this.#target.port,
          phase: 'dns',
          code: 'ETIMEOUT',
          message: 'no answer before the dial timed out',
          startMs: 0,
          durationMs: a.atMs,
        });
      }
    }
    const denied = this.#deniedList?.attempts() ?? [];
    const attempts = [...dns, ...denied, ...tcp];
    const where = this.#where();
    let code: string;
    let message: string;
    if (reason === 'dns' && denied.length > 0) {
      // Every address the name has was refused by the address policy: say which rules.
      code = POLICY_DENIED_CODE;
      message = `connect ${where} refused by the address policy: ${this.#denied.summary(MESSAGE_ATTEMPTS)}`;
    } else if (reason === 'dns') {
      // One name, no address: ENOTFOUND when DNS says there is none; otherwise the first real failure.
      const real = dns.find((d) => d.code !== 'ENOTFOUND' && d.code !== 'ENODATA');
      code = real?.code ?? 'ENOTFOUND';
      const detail = dns.map((d) => `${d.family === 6 ? 'AAAA' : 'A'} ${d.code}`).join('; ');
      // In the DNS phase ECONNREFUSED is Node's "could not contact DNS servers", not a refused connection.
      const what =
        code === 'ENOTFOUND'
          ? `${this.#target.host} has no address`
          : code === 'ECONNREFUSED'
            ? 'no DNS server could be reached'
            : describeCode(code);
      message = `connect ${where} failed in ${formatDuration(elapsedMs)}: ${what} (${detail})`;
    } else {
      // Like Go, the first attempt's error speaks for the dial: it went to the most preferred address.
      code = reason === 'timeout' ? 'ETIMEDOUT' : (tcp[0]?.code ?? 'ECONNREFUSED');
      const listed = tcp.slice(0, MESSAGE_ATTEMPTS).map((a) => `${a.address} ${a.code}`);
      if (tcp.length > MESSAGE_ATTEMPTS) listed.push(`${tcp.length - MESSAGE_ATTEMPTS} more`);
      const head =
        reason === 'timeout'
          ? `connect ${where} timed out after ${formatDuration(elapsedMs)}`
          : `connect ${where} failed after ${tcp.length} attempt${tcp.length === 1 ? '' : 's'} in ${formatDuration(elapsedMs)}`;
      message = tcp.length > 0 ? `${head}: ${listed.join('; ')}` : `${head}: no address was tried`;
      // The count is of connection attempts; the other entries of `attempts` are named apart.
      const also: string[] = [];
      if (dns.length > 0)
        also.push(`DNS ${dns.map((d) => `${d.family === 6 ? 'AAAA' : 'A'} ${d.code}`).join(', ')}`);
      if (denied.length > 0)
        also.push(`${denied.length} address${denied.length === 1 ? '' : 'es'} denied by policy`);
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
   * The attempt delay the dial used — the one after its first attempt — and what it rested on: 'history'
   * only when an RTT sample stands behind it (the endpoint's own, its network's, or Dialer-wide).
   */
  #delayDecision(): Pick<
    DialReport['decisions'],
    'attemptDelayMs' | 'attemptDelaySource' | 'attemptDelayBasis'
  > {
    const first = this.#race.attempts[0];
    if (first === undefined || this.#attemptDelaySource === 'option') {
      return { attemptDelayMs: this.#attemptDelayMs, attemptDelaySource: this.#attemptDelaySource };
    }
    const basis = this.#delayBasisOf(first.candidate.address);
    if (basis === undefined) return { attemptDelayMs: first.delayMs, attemptDelaySource: 'default' };
    return {
      attemptDelayMs: first.delayMs,
      attemptDelaySource: basis === 'default' ? 'default' : 'history',
      attemptDelayBasis: basis,
    };
  }

  #report(): DialReport {
    const attempts = this.#race.attempts.map((a) => ({
      address: a.candidate.address,
      family: a.candidate.family,
      port: this.#target.port,
      startMs: round(a.startMs),
      endMs: a.endMs === undefined ? undefined : round(a.endMs),
      outcome: a.outcome,
      code: a.code,
      trigger: a.trigger,
    }));
    return {
      host: this.#target.host,
      port: this.#target.port,
      startedAt: this.#startedAt.toISOString(),
      durationMs: 0,
      resolution: {
        ...(this.#path ? { path: this.#path } : {}),
        queries: this.#queries,
        ...(this.#nat64Prefix ? { nat64: { prefix: this.#nat64Prefix, synthesized: [...this.#nat64] } } : {}),
      },
      order: this.#race.order.map((c) => ({ address: c.address, family: c.family })),
      decisions: {
        ...this.#delayDecision(),
        memory: this.#deps.memory !== undefined,
        ...this.#order.decisions,
      },
      settings: {
        attemptDelayMs: this.#attemptDelayMs,
        resolutionDelayMs: this.#cfg.resolutionDelayMs,
        maxConcurrentAttempts: this.#cfg.maxConcurrentAttempts,
        timeoutMs: this.#cfg.timeoutMs,
      },
      attempts,
    };
  }
}
