/**
 * The connection race of RFC 8305 (Happy Eyeballs v2) as a pure state machine.
 *
 * It knows nothing of sockets, DNS or timers. The shell (dialer.ts) feeds it events — an answer for a
 * family, an attempt that failed or connected, a timer that fired, an abort — each with the current time
 * `nowMs`, and carries out the actions it returns: start an attempt, cancel one, declare a winner or a
 * failure. `wakeAtMs` says when the shell must call `tick()` next (one timer is enough).
 */
import { networkOf } from '../memory/network-prefix.js';
import type { Family } from '../types.js';
import {
  addKey,
  append,
  deleteKey,
  EMPTY,
  hasKey,
  type KeyStore,
  keyCount,
  keyList,
  keysOf,
} from './small-set.js';

/**
 * An endpoint the race may connect to: an address, and — when it came from a service record (RFC 9460
 * HTTPS/SVCB, RFC 2782 SRV) — its own port, service bucket and answer source. A plain dial's candidates
 * set none of the optional fields: they are addresses at the dial's port, in bucket 0, from the origin.
 */
export interface RaceCandidate {
  address: string;
  family: Family;
  /**
   * The family of the answer it came in, when not its own: an IPv6 address synthesised from an A record
   * for a NAT64 (RFC 8305 §7) answers for family 4. Default: `family`.
   */
  answerFamily?: Family | undefined;
  /** The endpoint's port when a service record gave one. Default: the dial's port. */
  port?: number | undefined;
  /**
   * Service bucket (draft-ietf-happy-happyeyeballs-v3 sorts by service priority first): endpoints of lower
   * buckets are ordered first by the shell's `order`, and an answer for a later bucket does not start the
   * race while a better bucket's answer is still awaited (it waits the Resolution Delay). Default 0.
   */
  bucket?: number | undefined;
  /** The name whose A/AAAA answer it came in (a service record's target). Default '': the origin's. */
  source?: string | undefined;
  /**
   * Identity within the race when one address appears in several endpoints (other port or bucket);
   * default `address`. Two candidates with one key are one; an endpoint (address and port) is tried once.
   */
  key?: string | undefined;
}

/** What the race waits for before it knows the service records (HTTPS/SVCB or SRV answer). */
const SERVICES = 'services';
/** In `#sentAtMs`, beside the joined queries' send times: when the first positive answer arrived. */
const FIRST_ANSWER = 'first answer';

/** Which answer `family` for `source` is, in the set of awaited answers (the origin's: the family number). */
function answerKey(family: Family, source: string | undefined): Family | string {
  return source ? `${family} ${source}` : family;
}

/** The endpoint a candidate dials: tried at most once however many buckets list it. */
function endpointKey(c: RaceCandidate): string {
  return c.port === undefined ? c.address : `${c.address}|${c.port}`;
}

function seenKey(c: RaceCandidate): string {
  return c.key ?? c.address;
}

export interface RaceConfig<C extends RaceCandidate = RaceCandidate> {
  /** Families whose answers are expected, e.g. [6, 4]; the race waits for each unless it has already started. */
  families: readonly Family[];
  /** RFC 8305 §5 Connection Attempt Delay in ms (the shell validates it; default 250). */
  attemptDelayMs: number;
  /**
   * The Connection Attempt Delay to wait after starting an attempt to `c`, ms, when it depends on the
   * destination (RFC 8305 §5: from that destination's RTT history). Default: `attemptDelayMs` for all.
   */
  attemptDelayFor?: ((c: C, nowMs: number) => number) | undefined;
  /** RFC 8305 §3 Resolution Delay in ms: how long a positive A answer waits for AAAA (default 50). */
  resolutionDelayMs: number;
  /** Most attempts in flight at once (>= 1). */
  maxConcurrentAttempts: number;
  /** Absolute time (same clock as `nowMs`) at which the whole race gives up. */
  deadlineMs: number;
  /**
   * Orders every known candidate, tried or not (RFC 8305 §4: RFC 6724 sorting, then family interleaving).
   * Called again whenever a new answer arrives, so late addresses take their sorted place among those
   * not yet tried (RFC 8305 §6 asks for exactly that).
   */
  order: (known: readonly C[], nowMs: number) => C[];
  /**
   * Endpoints the caller's history has demoted (failed recently). An answer made only of them does not
   * start the race at once: it waits the Resolution Delay for the other family like an A answer does,
   * since the other family may have addresses worth trying first. Default: none is demoted.
   */
  isDemoted?: ((c: C, nowMs: number) => boolean) | undefined;
  /**
   * A service record query (HTTPS/SVCB or SRV) is out: the race does not start before its answer, or
   * until the Resolution Delay after the first positive address answer has passed
   * (draft-ietf-happy-happyeyeballs-v3-01 §4.2). See `services()`. Default false.
   */
  awaitServices?: boolean | undefined;
}

export type AttemptOutcome = 'pending' | 'connected' | 'failed' | 'cancelled' | 'timeout' | 'aborted';

/** One connection attempt as the race saw it. Times are ms since the race started. */
export interface AttemptLog<C extends RaceCandidate = RaceCandidate> {
  id: number;
  candidate: C;
  startMs: number;
  endMs?: number;
  outcome: AttemptOutcome;
  code?: string;
  /**
   * Why it started when it did: first attempt, the attempt delay ran out, a previous attempt failed, or an
   * answer came while nothing was in flight (or only attempts to addresses that answer no longer lists).
   */
  trigger: 'first' | 'delay' | 'failure' | 'answer';
  /** The Connection Attempt Delay that runs from this attempt's start (when the next may start at the latest). */
  delayMs: number;
  /**
   * When the transport connected and the security (TLS) handshake began, ms since the race started; set by
   * `attemptSecuring`. Undefined: not connected yet, or the dial runs no handshake.
   */
  securingMs?: number;
  /**
   * Untried endpoints (addresses) that came before this one in the order and were passed over because an
   * attempt to their network (/24, /64) was still unanswered past its attempt delay (see `#pickNext`).
   * Undefined when the attempt took its place in the order.
   */
  passedOver?: readonly string[] | undefined;
}

/** One family's resolution as the race saw it. */
export interface AnswerLog {
  family: Family;
  atMs: number;
  count: number;
  code?: string;
  /** The name answered for when it is a service record's target, not the origin. */
  source?: string;
}

/**
 * Why a race failed. 'final': one attempt failed in a way no other address can mend (a certificate that does
 * not verify), see `attemptFailedFinal`.
 */
export type FailReason = 'exhausted' | 'timeout' | 'dns' | 'aborted' | 'final';

export type RaceAction<C extends RaceCandidate = RaceCandidate> =
  | { type: 'start'; id: number; candidate: C }
  | { type: 'cancel'; id: number }
  | { type: 'won'; id: number }
  | { type: 'fail'; reason: FailReason };

/**
 * What a race's event asks of the shell. A step with nothing to do (only a wake-up) is one object shared by
 * every race and overwritten by the next such step (issue 16: most events of a dial ask nothing, and a new
 * step each time cost every dial ~0.1 KB): read a step before calling a race again, as every shell does.
 */
export interface RaceStep<C extends RaceCandidate = RaceCandidate> {
  /** What the shell must do, in order (shared and frozen when empty: read it, never change it). */
  actions: readonly RaceAction<C>[];
  /** When the shell must call `tick()`; undefined when no timer is needed (the race is over). */
  wakeAtMs: number | undefined;
}

const PREFERRED: Family = 6;

/** The step of a race that only waits (see RaceStep): its one object, its wake-up set per step. */
const WAITING: { actions: readonly never[]; wakeAtMs: number } = { actions: EMPTY, wakeAtMs: 0 };

function waiting(wakeAtMs: number): RaceStep<never> {
  WAITING.wakeAtMs = wakeAtMs;
  return WAITING;
}

/** The step of a race that is over, with nothing left to do (never changed). */
const OVER: RaceStep<never> = Object.freeze({ actions: EMPTY, wakeAtMs: undefined });

/** The empty list every log starts as (never changed: append replaces it). */
const NONE = EMPTY as never[];

export class Race<C extends RaceCandidate = RaceCandidate> {
  readonly #cfg: RaceConfig<C>;
  readonly #t0: number;
  /** Awaited answers: the origin's families (by number), targets' families, the service records. */
  #pending: KeyStore<Family | string>;
  /** The bucket each awaited target serves first (service records), for the start rule. */
  #sourceBuckets: Map<string, number> | undefined;
  // Lists start as the shared empty one (append makes the first real one): a dial waiting for DNS holds none.
  #known: C[] = NONE as C[];
  /** Keys of the candidates known (small-set.ts). */
  #seen: KeyStore<string>;
  #ordered: C[] = NONE as C[];
  /** Endpoints tried. */
  #tried: KeyStore<string>;
  #attempts: AttemptLog<C>[] = NONE as AttemptLog<C>[];
  #answers: AnswerLog[] = NONE as AnswerLog[];
  #inFlight = 0;
  #racing = false;
  #resolutionDelayUntil: number | undefined;
  /** A positive AAAA answer with an address not demoted by history is in. */
  #usefulPreferredIn = false;
  #lastStartMs = Number.NEGATIVE_INFINITY;
  /** The attempt delay running from the last start. */
  // Read only once an attempt has started, which sets it: cfg.attemptDelayMs is not read up front, since a
  // shell may decide it lazily (dial-session.ts: with memory, a median over the Dialer's history).
  #delayMs = 0;
  /**
   * Families answered from an expired (stale) cache entry whose refresh is still out. The race does not give
   * up while one is: fresh addresses beat stale ones (draft-ietf-happy-happyeyeballs-v3 optimistic use ends
   * when the refresh is back, not when the stale addresses ran out). The deadline still bounds the wait.
   */
  #awaitingRefresh: KeyStore<Family | string>;
  /** When the queries of awaited answers were sent, for those sent before the race began (see querySent). */
  #sentAtMs: Map<Family | string, number> | undefined;
  /** Starts owed to failed attempts: RFC 8305 §5, a failure starts the next attempt at once. */
  #failureCredits = 0;
  /** The race is over (won or failed): events change nothing now. A flag: nothing reads why or when. */
  #done = false;

  constructor(cfg: RaceConfig<C>, nowMs: number) {
    this.#cfg = cfg;
    this.#t0 = nowMs;
    this.#pending = keysOf<Family | string>(cfg.families);
    if (cfg.awaitServices) this.#pending = addKey(this.#pending, SERVICES);
  }

  /** Every attempt so far, in start order. */
  get attempts(): readonly AttemptLog<C>[] {
    return this.#attempts;
  }
  /** Every answer or resolution failure per family, in arrival order. */
  get answers(): readonly AnswerLog[] {
    return this.#answers;
  }
  /** The order in which candidates are (or were) tried, as of the last answer. */
  get order(): readonly C[] {
    return this.#ordered;
  }
  /** The origin's families still awaited, in the configured order (the configured list itself while all are). */
  get pendingFamilies(): readonly Family[] {
    const all = this.#cfg.families;
    let count = 0;
    const pending = keyList(this.#pending);
    for (let i = 0; i < pending.length; i++) if (typeof pending[i] === 'number') count++;
    if (count === all.length) return all;
    return all.filter((f) => hasKey(this.#pending, f));
  }
  /** True while the service record answer is awaited. */
  get awaitingServices(): boolean {
    return hasKey(this.#pending, SERVICES);
  }
  get done(): boolean {
    return this.#done;
  }
  get startedRacing(): boolean {
    return this.#racing;
  }
  /** The origin's families whose refresh the race waits for (a stale answer is in use). */
  get awaitingRefresh(): Family[] {
    const families: Family[] = [];
    for (const k of keyList(this.#awaitingRefresh)) if (typeof k === 'number') families.push(k);
    return families;
  }

  /** The shell starts the race; it may already fail if no family is expected. */
  start(nowMs: number): RaceStep<C> {
    return this.#advance(nowMs, undefined);
  }

  /**
   * The query for `family` (of `source`) was sent at `sentAtMs`, before now: the dial joined a query already in
   * flight. The Resolution Delay a positive answer waits for it runs from the later of that answer's arrival
   * and this (see `answer`'s `arrivedAtMs`), not from this dial's start.
   */
  querySent(family: Family, sentAtMs: number, source?: string): void {
    const key = answerKey(family, source || undefined);
    if (this.#done || !hasKey(this.#pending, key)) return;
    this.#sentAtMs ??= new Map();
    this.#sentAtMs.set(key, sentAtMs);
  }

  /**
   * The service record query (HTTPS/SVCB, SRV) was sent at `sentAtMs`, before now: the dial joined one another
   * dial sent. As `querySent` for an address query: the Resolution Delay a positive answer waits for the
   * records runs from the later of that answer's arrival and this.
   */
  servicesQuerySent(sentAtMs: number): void {
    if (this.#done || !hasKey(this.#pending, SERVICES)) return;
    this.#sentAtMs ??= new Map();
    this.#sentAtMs.set(SERVICES, sentAtMs);
  }

  /**
   * A positive answer for `family`. Duplicates of known addresses are dropped. A second answer for a
   * family that already answered (a refresh behind a stale cached answer) adds its new addresses to the
   * race in their sorted place (RFC 8305 §6). `arrivedAtMs`: when the answer arrived, when that was before
   * `nowMs` (an answer from memory: -Infinity, it predates any query out).
   */
  answer(
    family: Family,
    candidates: readonly C[],
    nowMs: number,
    options?: { refreshPending?: boolean; source?: string | undefined; arrivedAtMs?: number | undefined },
  ): RaceStep<C> {
    if (this.#done) return this.#idle(nowMs);
    const source = options?.source || undefined;
    const key = answerKey(family, source);
    if (options?.refreshPending && hasKey(this.#pending, key)) {
      this.#awaitingRefresh = addKey(this.#awaitingRefresh, key);
    }
    const update = !hasKey(this.#pending, key);
    if (update && !this.#answered(family, source)) return this.#idle(nowMs);
    let count = 0;
    let useful = false;
    let bucket = Number.POSITIVE_INFINITY;
    for (const c of candidates) {
      if ((c.answerFamily ?? c.family) !== family || hasKey(this.#seen, seenKey(c))) continue;
      this.#seen = addKey(this.#seen, seenKey(c));
      this.#known = append(this.#known, c);
      count++;
      if (!this.#cfg.isDemoted?.(c, nowMs)) useful = true;
      bucket = Math.min(bucket, c.bucket ?? 0);
    }
    if (count === 0) {
      return update ? this.#idle(nowMs) : this.answerFailed(family, 'ENODATA', nowMs, source);
    }
    deleteKey(this.#pending, key);
    const log: AnswerLog = { family, atMs: nowMs - this.#t0, count };
    if (source) log.source = source;
    this.#answers = append(this.#answers, log);
    this.#ordered = this.#cfg.order(this.#known, nowMs);
    // RFC 8305 §3: a positive AAAA answer (the preferred family) starts the race at once; any other
    // positive answer while an answer is outstanding waits the Resolution Delay. netdial counts an
    // AAAA answer whose every address is demoted by history as "any other" (see isDemoted), and so is one
    // that arrives while the service records are awaited (draft-ietf-happy-happyeyeballs-v3-01 §4.2) or
    // that serves a later bucket than an answer still awaited (service priority first).
    if (
      family === PREFERRED &&
      useful &&
      !hasKey(this.#pending, SERVICES) &&
      (this.#sourceBuckets === undefined || bucket <= this.#bestAwaitedBucket())
    ) {
      this.#usefulPreferredIn = true;
    } else if (!this.#racing && keyCount(this.#pending) > 0) {
      this.#waitForRest(nowMs, options?.arrivedAtMs);
    }
    // A family's first answer with attempts of that family in flight: they went to its hints (see
    // `hintsReplaced`). Those the real answer lacks do not hold it back, as in `refreshed`.
    if (update || this.#inFlight === 0) return this.#advance(nowMs, undefined);
    return this.#advance(nowMs, undefined, this.#inFlightAllDropped(family, source, candidates));
  }

  /**
   * Where the Resolution Delay starts (RFC 8305 §3: a positive answer waits a short time for the one still
   * out). netdial reads it as the later of the answer's arrival and the sending of each query still out: for
   * a dial that joined a query another dial sent (querySent), an answer from memory does not wait a full
   * delay again for a query that has been out longer. Queries sent by this dial count as sent now.
   */
  #delayStart(nowMs: number, arrivedAtMs: number | undefined): number {
    // (Called again as answers come in: see #waitForRest.)
    let start = arrivedAtMs ?? nowMs;
    for (const k of keyList(this.#pending)) start = Math.max(start, this.#sentAtMs?.get(k) ?? nowMs);
    return start;
  }

  /**
   * A positive answer is in and others are still out: the Resolution Delay runs (RFC 8305 §3), from the first
   * positive answer's arrival (`arrivedAtMs` ?? now). Called again when another answer comes in before the
   * race starts, it can only shorten the wait: the first call counted each answer still out as asked now
   * (#delayStart) — among them a cached answer the shell hands over next —, and with those in, what is left
   * is the wait for the queries still out, from when they were sent (a joined query: querySent).
   */
  #waitForRest(nowMs: number, arrivedAtMs: number | undefined): void {
    let anchorMs = arrivedAtMs ?? nowMs;
    // Only a joined query's send time can make a later call shorten the wait: the first positive answer's
    // arrival is kept with those (no field of its own on every race).
    const sent = this.#sentAtMs;
    if (sent !== undefined) {
      const first = sent.get(FIRST_ANSWER);
      if (first === undefined) sent.set(FIRST_ANSWER, anchorMs);
      else anchorMs = first;
    }
    const untilMs = this.#delayStart(nowMs, anchorMs) + this.#cfg.resolutionDelayMs;
    if (this.#resolutionDelayUntil === undefined || untilMs < this.#resolutionDelayUntil) {
      this.#resolutionDelayUntil = untilMs;
    }
  }

  /** Whether `family` of `source` answered already (a loop, not a closure: answer() is on every dial's path). */
  #answered(family: Family, source: string | undefined): boolean {
    const answers = this.#answers;
    for (let i = 0; i < answers.length; i++) {
      const a = answers[i]!;
      if (a.family === family && a.source === source) return true;
    }
    return false;
  }

  /**
   * The refresh behind a stale answer for `family` is back with `candidates` (empty: the name or type is gone).
   * Fresh beats stale: stale addresses of the family not yet tried and absent from the fresh answer are
   * dropped, new ones join in their sorted place (RFC 8305 §6), and the race stops waiting for the refresh.
   */
  refreshed(family: Family, candidates: readonly C[], nowMs: number, source?: string): RaceStep<C> {
    if (this.#done) return this.#idle(nowMs);
    source ||= undefined;
    const key = answerKey(family, source);
    if (!deleteKey(this.#awaitingRefresh, key)) {
      // The stale answer never counted (e.g. the address policy refused all of it): this is the family's answer.
      return hasKey(this.#pending, key)
        ? this.answer(family, candidates, nowMs, { source })
        : this.#idle(nowMs);
    }
    const fresh = new Set(
      candidates.filter((c) => (c.answerFamily ?? c.family) === family).map((c) => c.address),
    );
    // Also RFC 9460 §7.3: hints (given as a stale answer for their target) give way to the real answer.
    for (let i = this.#known.length - 1; i >= 0; i--) {
      const c = this.#known[i] as C;
      if (
        (c.answerFamily ?? c.family) === family &&
        (c.source || undefined) === (source || undefined) &&
        !fresh.has(c.address) &&
        !hasKey(this.#tried, endpointKey(c))
      ) {
        this.#known.splice(i, 1);
      }
    }
    let count = 0;
    for (const c of candidates) {
      if ((c.answerFamily ?? c.family) !== family || hasKey(this.#seen, seenKey(c))) continue;
      this.#seen = addKey(this.#seen, seenKey(c));
      this.#known = append(this.#known, c);
      count++;
    }
    const log: AnswerLog = { family, atMs: nowMs - this.#t0, count };
    if (source) log.source = source;
    this.#answers = append(this.#answers, log);
    this.#ordered = this.#cfg.order(this.#known, nowMs);
    // RFC 8305 §6 lets new answers join a race under way. netdial reads it as: an attempt to an address
    // DNS no longer lists keeps running (the old host may still answer) but does not hold the new one back
    // by the stagger — when every attempt in flight goes to such an address, the next starts at once.
    return this.#advance(
      nowMs,
      undefined,
      count > 0 && this.#inFlight > 0 && this.#inFlightAllDropped(family, source, candidates),
    );
  }

  /** Whether every attempt in flight goes to an address of `family` (from `source`) absent from `listed`. */
  #inFlightAllDropped(family: Family, source: string | undefined, listed: readonly C[]): boolean {
    for (const a of this.#attempts) {
      if (a.outcome !== 'pending') continue;
      const c = a.candidate;
      if ((c.answerFamily ?? c.family) !== family || (c.source || undefined) !== source) return false;
      for (let i = 0; i < listed.length; i++) if (listed[i]!.address === c.address) return false;
    }
    return true;
  }

  /**
   * RFC 9460 §7.3: the own answer of a target whose hints stand for `family` is in, and the shell has work
   * left before it can deliver it (the source-address probe). Hints give way to the real answer: those not
   * yet tried are dropped now, and the race waits for the answer as for any answer still out — so that it
   * neither starts on a hint nor (once its hints are tried) ends while the real addresses are on their way.
   * The answer itself then comes through `answer` (or `answerFailed`).
   */
  hintsReplaced(family: Family, nowMs: number, source?: string): RaceStep<C> {
    if (this.#done) return this.#idle(nowMs);
    source ||= undefined;
    const key = answerKey(family, source);
    if (!deleteKey(this.#awaitingRefresh, key)) return this.#idle(nowMs);
    for (let i = this.#known.length - 1; i >= 0; i--) {
      const c = this.#known[i] as C;
      if (
        (c.answerFamily ?? c.family) === family &&
        (c.source || undefined) === source &&
        !hasKey(this.#tried, endpointKey(c))
      ) {
        // Forgotten, not only dropped: the real answer may list the same address, which then joins.
        this.#known.splice(i, 1);
        deleteKey(this.#seen, seenKey(c));
      }
    }
    this.#pending = addKey(this.#pending, key);
    this.#ordered = this.#cfg.order(this.#known, nowMs);
    return this.#advance(nowMs, undefined);
  }

  /** The refresh behind a stale answer for `family` failed: the stale answer stays, the race stops waiting. */
  refreshFailed(family: Family, nowMs: number, code = 'ESERVFAIL', source?: string): RaceStep<C> {
    if (this.#done) return this.#idle(nowMs);
    const key = answerKey(family, source);
    if (!deleteKey(this.#awaitingRefresh, key)) {
      return hasKey(this.#pending, key) ? this.answerFailed(family, code, nowMs, source) : this.#idle(nowMs);
    }
    return this.#advance(nowMs, undefined);
  }

  /** `family` has no addresses (NXDOMAIN, NODATA, SERVFAIL, timeout…): `code` says which. */
  answerFailed(family: Family, code: string, nowMs: number, source?: string): RaceStep<C> {
    const key = answerKey(family, source);
    if (this.#done || !hasKey(this.#pending, key)) return this.#idle(nowMs);
    deleteKey(this.#pending, key);
    const log: AnswerLog = { family, atMs: nowMs - this.#t0, count: 0, code };
    if (source) log.source = source;
    this.#answers = append(this.#answers, log);
    // A joined query is among those still out: the wait for the rest may be shorter now (#waitForRest).
    if (this.#sentAtMs !== undefined && this.#resolutionDelayUntil !== undefined && !this.#racing) {
      if (keyCount(this.#pending) > 0) this.#waitForRest(nowMs, undefined);
    }
    return this.#advance(nowMs, undefined);
  }

  /**
   * The service records are in (or failed: `targets` empty). Each target whose A/AAAA the shell now
   * resolves is awaited for each of `families` (default: the race's), with the best bucket it serves: an answer for a
   * later bucket does not start the race while one for a better bucket is out (it waits the Resolution
   * Delay, as an A answer waits for AAAA). The origin's own answers (source '') may be listed too, to
   * give them a bucket. With nothing known and nothing awaited, the race fails ('dns').
   */
  services(
    targets: ReadonlyArray<{ source: string; bucket: number }>,
    nowMs: number,
    families: readonly Family[] = this.#cfg.families,
  ): RaceStep<C> {
    if (this.#done || !deleteKey(this.#pending, SERVICES)) return this.#idle(nowMs);
    for (const { source, bucket } of targets) {
      this.#sourceBuckets ??= new Map();
      const known = this.#sourceBuckets.get(source);
      this.#sourceBuckets.set(source, known === undefined ? bucket : Math.min(known, bucket));
      if (source === '') continue;
      for (const f of families) {
        this.#pending = addKey(this.#pending, answerKey(f, source));
      }
    }
    // The AAAA that waited for the records may start the race now if it serves the best bucket.
    if (!this.#usefulPreferredIn && this.#known.length > 0 && !this.#racing) {
      const best = this.#bestAwaitedBucket();
      if (
        this.#known.some(
          (c) => c.family === PREFERRED && (c.bucket ?? 0) <= best && !this.#cfg.isDemoted?.(c, nowMs),
        )
      ) {
        this.#usefulPreferredIn = true;
      }
    }
    return this.#advance(nowMs, undefined);
  }

  /** The best bucket an awaited answer serves (Infinity when none is awaited). */
  #bestAwaitedBucket(): number {
    let best = Number.POSITIVE_INFINITY;
    for (const k of keyList(this.#pending)) {
      if (k === SERVICES) return Number.NEGATIVE_INFINITY;
      const source = typeof k === 'number' ? '' : k.slice(2);
      best = Math.min(best, this.#sourceBuckets?.get(source) ?? 0);
    }
    return best;
  }

  attemptFailed(id: number, code: string, nowMs: number): RaceStep<C> {
    const a = this.#attempts[id];
    if (this.#done || !a || a.outcome !== 'pending') return this.#idle(nowMs);
    this.#finish(a, 'failed', nowMs, code);
    // RFC 8305 §5: "…or when a previous attempt failed" — the next attempt starts at once.
    this.#failureCredits++;
    return this.#advance(nowMs, undefined);
  }

  attemptConnected(id: number, nowMs: number): RaceStep<C> {
    const a = this.#attempts[id];
    if (this.#done || !a || a.outcome !== 'pending') return this.#idle(nowMs);
    this.#finish(a, 'connected', nowMs);
    // RFC 8305 §5: the first established connection wins; every other attempt is cancelled.
    const actions = append(this.#cancelAll('cancelled', nowMs), { type: 'won', id } as RaceAction<C>);
    this.#done = true;
    return { actions, wakeAtMs: undefined };
  }

  /**
   * Attempt `id`'s transport (TCP) connected and its security handshake (TLS) began. It does not win yet
   * (draft-ietf-happy-happyeyeballs-v3 chooses the connection once its security handshake is done): it keeps
   * its place among the attempts in flight and the stagger goes on as if it had not connected, so an endpoint
   * that accepts TCP and stalls in TLS costs one Connection Attempt Delay, not the dial. The handshake ends
   * with `attemptConnected` (it wins), `attemptFailed` (a network failure: reset, EOF — the race goes on) or
   * `attemptFailedFinal`.
   */
  attemptSecuring(id: number, nowMs: number): RaceStep<C> {
    const a = this.#attempts[id];
    if (this.#done || !a || a.outcome !== 'pending' || a.securingMs !== undefined) return this.#idle(nowMs);
    a.securingMs = nowMs - this.#t0;
    return this.#idle(nowMs);
  }

  /**
   * Attempt `id` failed in a way another address cannot mend — the server's certificate does not verify for
   * the name, or the TLS configuration is refused: every other attempt is cancelled and the race fails at
   * once with reason 'final' (trying the next address would only hide the error, or reach a server that
   * should not be trusted either).
   */
  attemptFailedFinal(id: number, code: string, nowMs: number): RaceStep<C> {
    const a = this.#attempts[id];
    if (this.#done || !a || a.outcome !== 'pending') return this.#idle(nowMs);
    this.#finish(a, 'failed', nowMs, code);
    return this.#fail('final', nowMs, this.#cancelAll('cancelled', nowMs));
  }

  tick(nowMs: number): RaceStep<C> {
    if (this.#done) return this.#idle(nowMs);
    return this.#advance(nowMs, undefined);
  }

  abort(nowMs: number): RaceStep<C> {
    if (this.#done) return this.#idle(nowMs);
    return this.#fail('aborted', nowMs, this.#cancelAll('aborted', nowMs));
  }

  #idle(nowMs: number): RaceStep<C> {
    return this.#done ? OVER : waiting(this.#wakeAt(nowMs));
  }

  #finish(a: AttemptLog<C>, outcome: AttemptOutcome, nowMs: number, code?: string): void {
    a.outcome = outcome;
    a.endMs = nowMs - this.#t0;
    if (code !== undefined) a.code = code;
    this.#inFlight--;
  }

  /** Ends every pending attempt with `outcome`: their cancel actions (undefined when none was pending). */
  #cancelAll(outcome: 'cancelled' | 'timeout' | 'aborted', nowMs: number): RaceAction<C>[] | undefined {
    let actions: RaceAction<C>[] | undefined;
    for (const a of this.#attempts) {
      if (a.outcome !== 'pending') continue;
      this.#finish(a, outcome, nowMs, outcome === 'timeout' ? 'ETIMEDOUT' : undefined);
      actions = append(actions, { type: 'cancel', id: a.id });
    }
    return actions;
  }

  #fail(reason: FailReason, nowMs: number, actions: RaceAction<C>[] | undefined): RaceStep<C> {
    if (reason === 'timeout' || reason === 'aborted') {
      // A refresh still out is an answer that did not come, like a pending family's.
      for (const key of new Set([...keyList(this.#pending), ...keyList(this.#awaitingRefresh)])) {
        if (key === SERVICES) continue;
        const log: AnswerLog = {
          family: typeof key === 'number' ? key : (Number(key[0]) as Family),
          atMs: nowMs - this.#t0,
          count: 0,
          code: reason === 'timeout' ? 'ETIMEOUT' : 'ECANCELLED',
        };
        if (typeof key === 'string') log.source = key.slice(2);
        this.#answers = append(this.#answers, log);
      }
    }
    this.#pending = undefined;
    this.#awaitingRefresh = undefined;
    this.#done = true;
    return { actions: append(actions, { type: 'fail', reason }), wakeAtMs: undefined };
  }

  #nextUntried(): C | undefined {
    for (const c of this.#ordered) if (!hasKey(this.#tried, endpointKey(c))) return c;
    return undefined;
  }

  /**
   * The endpoint to start next: the first untried one in the order — unless an attempt still in flight has
   * gone unanswered past its attempt delay and that endpoint is in the same network (/24 for IPv4, /64 for
   * IPv6: src/memory/network-prefix.ts), in which case the first untried endpoint of the same service
   * bucket in a network not gone silent goes first (`passedOver` lists the endpoints it went ahead of).
   *
   * Deviation from RFC 8305 §5, which starts "the next address" in the §4 order: a silent attempt (no
   * SYN-ACK, no refusal) says most about its own path, so its network's other addresses are the likeliest to
   * be silent too — the reasoning behind §4's family interleaving, applied within a family. Across dials the
   * Dialer's history already ranks such a network later (suspected); this is the same rule inside one dial,
   * before there is any history: a cold dial to a name with a dead network and a live one meets at most one
   * dead attempt per silent network instead of one per dead address. Nothing is dropped: the passed-over
   * endpoints keep their order and are tried next if the others fail or run out. Endpoints of a later
   * service bucket are never brought forward (RFC 9460 §2.4.1 priority order).
   */
  #pickNext(nowMs: number, first: C): C {
    // Nothing in flight (every dial's first attempt): nothing can have gone silent.
    if (this.#inFlight === 0) return first;
    const silent: string[] = [];
    for (const a of this.#attempts) {
      if (a.outcome !== 'pending' || a.securingMs !== undefined) continue;
      if (nowMs - this.#t0 < a.startMs + a.delayMs) continue;
      const network = networkOf(a.candidate.address);
      if (network !== undefined) silent.push(network);
    }
    const firstNetwork = networkOf(first.address);
    if (firstNetwork === undefined || !silent.includes(firstNetwork)) return first;
    const bucket = first.bucket ?? 0;
    for (const c of this.#ordered) {
      if (hasKey(this.#tried, endpointKey(c))) continue;
      if ((c.bucket ?? 0) !== bucket) break;
      const network = networkOf(c.address);
      if (network === undefined || !silent.includes(network)) return c;
    }
    return first;
  }

  /** The untried endpoints before `next` in the order (those `#pickNext` passed over), or undefined. */
  #passedOverFor(next: C, first: C): string[] | undefined {
    if (next === first) return undefined;
    const passed: string[] = [];
    for (const c of this.#ordered) {
      if (c === next) break;
      if (!hasKey(this.#tried, endpointKey(c))) passed.push(c.address);
    }
    return passed;
  }

  /**
   * `renumbered`: one start is owed at once because a new answer dropped the address of every attempt in
   * flight (see `refreshed`).
   */
  #advance(nowMs: number, actions: RaceAction<C>[] | undefined, renumbered = false): RaceStep<C> {
    // The overall bound covers resolution and every attempt: the last address never waits for the
    // kernel's SYN timeout (RFC 8305 leaves this to the client; netdial has one deadline per dial).
    if (nowMs >= this.#cfg.deadlineMs) {
      return this.#fail('timeout', nowMs, this.#cancelAll('timeout', nowMs));
    }
    if (!this.#racing) {
      if (this.#known.length === 0) {
        if (keyCount(this.#pending) === 0) return this.#fail('dns', nowMs, actions);
        return this.#step(actions, nowMs);
      }
      // RFC 8305 §3: start once the preferred family answered, no answer is outstanding, or the
      // Resolution Delay that a lone A answer waits has passed.
      const delayOver = this.#resolutionDelayUntil !== undefined && nowMs >= this.#resolutionDelayUntil;
      if (!this.#usefulPreferredIn && !delayOver && keyCount(this.#pending) > 0) {
        return this.#step(actions, nowMs);
      }
      this.#racing = true;
    }
    for (;;) {
      if (this.#inFlight >= this.#cfg.maxConcurrentAttempts) break;
      const first = this.#nextUntried();
      if (!first) break;
      let trigger: AttemptLog['trigger'];
      if (this.#attempts.length === 0) trigger = 'first';
      else if (this.#inFlight === 0) trigger = this.#failureCredits > 0 ? 'failure' : 'answer';
      else if (this.#failureCredits > 0) trigger = 'failure';
      else if (renumbered) trigger = 'answer';
      else if (nowMs >= this.#lastStartMs + this.#delayMs) trigger = 'delay';
      else break;
      // RFC 8305 §5: attempts are staggered by the Connection Attempt Delay; earlier ones keep running.
      // A start is due: which endpoint (a silent network's are passed over, see #pickNext).
      const next = this.#pickNext(nowMs, first);
      if (this.#failureCredits > 0) this.#failureCredits--;
      else renumbered = false;
      const id = this.#attempts.length;
      // RFC 8305 §5: the delay before the next attempt follows what is known of this one's destination.
      const delayMs = this.#cfg.attemptDelayFor?.(next, nowMs) ?? this.#cfg.attemptDelayMs;
      this.#attempts = append(this.#attempts, {
        id,
        candidate: next,
        startMs: nowMs - this.#t0,
        outcome: 'pending',
        trigger,
        delayMs,
        // Made with the fields it gets when it ends: no change of shape (and no property store) then.
        endMs: undefined,
        code: undefined,
        securingMs: undefined,
        passedOver: this.#passedOverFor(next, first),
      });
      this.#tried = addKey(this.#tried, endpointKey(next));
      this.#inFlight++;
      this.#lastStartMs = nowMs;
      this.#delayMs = delayMs;
      actions = append(actions, { type: 'start', id, candidate: next });
    }
    // A failure that found nothing left to start is not owed later: a late answer is staggered normally.
    if (!this.#nextUntried()) this.#failureCredits = 0;
    if (
      this.#inFlight === 0 &&
      !this.#nextUntried() &&
      keyCount(this.#pending) === 0 &&
      keyCount(this.#awaitingRefresh) === 0
    ) {
      return this.#fail('exhausted', nowMs, actions);
    }
    return this.#step(actions, nowMs);
  }

  /** The step of `actions` (none: the shared waiting step) and the next wake-up. */
  #step(actions: RaceAction<C>[] | undefined, nowMs: number): RaceStep<C> {
    if (actions === undefined) return waiting(this.#wakeAt(nowMs));
    return { actions, wakeAtMs: this.#wakeAt(nowMs) };
  }

  /** The earliest moment something can change without an event: the deadline, the end of the
   * Resolution Delay, or the moment the next staggered attempt is due. */
  #wakeAt(nowMs: number): number {
    let at = this.#cfg.deadlineMs;
    if (!this.#racing && this.#resolutionDelayUntil !== undefined) {
      at = Math.min(at, this.#resolutionDelayUntil);
    }
    if (
      this.#racing &&
      this.#inFlight > 0 &&
      this.#inFlight < this.#cfg.maxConcurrentAttempts &&
      this.#nextUntried()
    ) {
      at = Math.min(at, this.#lastStartMs + this.#delayMs);
    }
    return Math.max(at, nowMs);
  }
}
