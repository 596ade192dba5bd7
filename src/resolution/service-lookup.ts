/**
 * Service records for a dial: the query adapter between the DNS client and the pure plan. It caches
 * SRV/HTTPS/SVCB answers by the rules A/AAAA follow (positive for their TTL, capped as A/AAAA are — the DNS
 * cache's `maxTtlSeconds`, 1 day by default; NXDOMAIN
 * and NODATA for min(SOA TTL, SOA MINIMUM), RFC 2308 §5, else a default; other failures — a timeout,
 * SERVFAIL, REFUSED — for the DNS cache's `errorTtlSeconds`, doubled for failures in a row, RFC 9520 §3.2), and follows RFC 9460 AliasMode
 * chains with a bound and loop detection.
 */
import type { Clock } from '../clock.js';
import { isNegativeAnswer } from '../errors.js';
import { LATE_ANSWER_MS, lateTimeoutMessage } from './dns-queries.js';
import type { DnsCache } from '../memory/dns-cache.js';
import { countFailure, type FailureRun } from '../memory/failure-backoff.js';
import type { DnsClientError, ServiceAnswer, ServiceRecordType, SrvRecordData } from './dns-client.js';
import { aliasStep, MAX_ALIAS_HOPS } from './service-plan.js';
import type { SvcbRecord } from './svcb.js';

type AnyAnswer = ServiceAnswer<SrvRecordData | SvcbRecord>;

/** How a service record query ended: an answer, or a failure code (ENODATA, ENOTFOUND, ETIMEOUT…). */
export type ServiceOutcome<R> =
  | { ok: true; answer: ServiceAnswer<R>; cached: boolean }
  | { ok: false; code: string; message: string; cached: boolean };

/**
 * Sends one query (the DNS client with the resolver's servers). A shared sender (`sharedServiceSender`) also
 * gives `release(keepForCache)`: the caller no longer needs it (see QueryTicket#release for A/AAAA), and
 * `sentAtMs` when the caller joined a query another caller sent (when that one was sent, on the clock).
 */
export type ServiceQuerySender = (
  name: string,
  type: ServiceRecordType,
) => {
  promise: Promise<AnyAnswer>;
  cancel(): void;
  /** Lets the process exit while the query is out (dns-client.ts DnsQuery#unref). */
  unref?(): void;
  release?(keepForCache: boolean): void;
  sentAtMs?: number | undefined;
};

interface SharedQuery {
  query: { promise: Promise<AnyAnswer>; cancel(): void; unref?(): void };
  /** When the query was sent (a caller that joins it later waits from here: Race#querySent). */
  sentAtMs: number;
  waiters: number;
  keep: boolean;
  /** The late-answer window's timer, while no caller waits (a caller that joins stops it). */
  lateTimer: unknown;
}

/**
 * `send` with one query in flight per (name, type) however many dials ask (as DnsQueries does for A/AAAA):
 * each caller gets the shared answer, and `release(keepForCache)` when it no longer needs it. The last caller
 * to release cancels the query, unless one of them kept it for the cache (a dial that did not abort): then it
 * keeps listening for LATE_ANSWER_MS (RFC 8305 §5) and, still unanswered then, is cancelled and remembered in
 * `cache()` as ETIMEOUT for its errorTtlSeconds, backed off when it keeps failing (RFC 9520 §3.2) — so behind a resolver that drops HTTPS queries,
 * one query is out per errorTtlSeconds, not one per dial. `cancel()` is `release(false)`.
 */
export function sharedServiceSender(
  send: ServiceQuerySender,
  cache: () => ServiceRecordCache | undefined,
  clock: Clock,
): ServiceQuerySender {
  const inFlight = new Map<string, SharedQuery>();
  return (name, type) => {
    const key = `${type} ${name}`;
    let shared = inFlight.get(key);
    const joined = shared !== undefined;
    if (shared === undefined) {
      const sentAtMs = clock.now();
      const query = send(name, type);
      const entry: SharedQuery = { query, sentAtMs, waiters: 0, keep: false, lateTimer: undefined };
      const settled = () => {
        if (inFlight.get(key) === entry) inFlight.delete(key);
      };
      query.promise.then(settled, settled);
      shared = entry;
      inFlight.set(key, shared);
    }
    const entry = shared;
    entry.waiters++;
    if (entry.lateTimer !== undefined) {
      clock.clearTimeout(entry.lateTimer);
      entry.lateTimer = undefined;
    }
    let released = false;
    const release = (keepForCache: boolean) => {
      if (released) return;
      released = true;
      entry.waiters--;
      if (keepForCache && cache() !== undefined) entry.keep = true;
      if (entry.waiters > 0 || inFlight.get(key) !== entry) return;
      if (!entry.keep) {
        inFlight.delete(key);
        entry.query.cancel();
        return;
      }
      // Nobody waits for it now: kept for the cache, it does not hold the process (as dns-queries.ts).
      entry.query.unref?.();
      const timer = clock.setTimeout(() => {
        entry.lateTimer = undefined;
        if (inFlight.get(key) !== entry) return;
        inFlight.delete(key);
        entry.query.cancel();
        cache()?.set(
          name,
          type,
          {
            ok: false,
            code: 'ETIMEOUT',
            message: lateTimeoutMessage(type, name),
            cached: false,
          },
          undefined,
          clock.now(),
        );
      }, LATE_ANSWER_MS);
      entry.lateTimer = timer;
      clock.unref?.(timer);
    };
    return {
      promise: entry.query.promise,
      cancel: () => release(false),
      release,
      sentAtMs: joined ? entry.sentAtMs : undefined,
    };
  };
}

interface Entry {
  outcome: ServiceOutcome<SrvRecordData | SvcbRecord>;
  expiresAtMs: number;
}

/** Default time a negative answer without an SOA is kept, seconds (as `negativeTtlSeconds` for A/AAAA). */
const NEGATIVE_TTL_SECONDS = 30;

/** The service record types, in the order they are kept and saved. */
export const SERVICE_TYPES: readonly ServiceRecordType[] = ['SRV', 'HTTPS', 'SVCB'];

/** A bounded cache (LRU) of service record answers by name and type. */
export class ServiceRecordCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #errorTtlSeconds: number;
  readonly #maxTtlSeconds: number;
  /**
   * Failures in a row per key (RFC 9520 §3.2 backoff), kept past the failure's own expiry so the next failure
   * backs off further; an answer drops the key. Bounded like the entries.
   */
  readonly #failureRuns = new Map<string, FailureRun>();

  /**
   * @param maxEntries the bound (least recently used dropped first)
   * @param errorTtlSeconds how long a first failure that is not an answer is kept (the DNS cache's option of
   *   that name: 1 s by default, doubled for failures in a row up to 30 s; 0 keeps none)
   * @param maxTtlSeconds the longest a positive answer is kept (the DNS cache's `maxTtlSeconds`: one cap for
   *   every record type; the DNS client's own is 7 days, RFC 8767 §4)
   */
  constructor(maxEntries = 1024, errorTtlSeconds = 1, maxTtlSeconds = 604_800) {
    this.#maxEntries = maxEntries;
    this.#errorTtlSeconds = errorTtlSeconds;
    this.#maxTtlSeconds = maxTtlSeconds;
  }

  get(name: string, type: ServiceRecordType, nowMs: number): Entry['outcome'] | undefined {
    const key = `${type} ${name}`;
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (nowMs >= entry.expiresAtMs) {
      this.#entries.delete(key);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return { ...entry.outcome, cached: true };
  }

  /**
   * Keeps an answer for its TTL, a negative answer per RFC 2308 §5, and any other failure (a timeout,
   * SERVFAIL, REFUSED, no server reachable) for `errorTtlSeconds`, doubled for each failure in a row up to 30 s,
   * as the A/AAAA cache does: RFC 9520 §3.2 has resolvers cache resolution failures rather than re-ask at once,
   * and back off for repeated ones (memory/failure-backoff.ts). An answer ends the run. It matters most for HTTPS records,
   * which a dial waits for up to the Resolution Delay: behind a resolver that drops HTTPS queries, not
   * keeping the timeout cost every dial to an https: URL that wait and one more query.
   */
  set(
    name: string,
    type: ServiceRecordType,
    outcome: Entry['outcome'],
    soaSeconds: number | undefined,
    nowMs: number,
  ): void {
    const key = `${type} ${name}`;
    let ttlSeconds: number;
    if (outcome.ok || isNegativeAnswer(outcome.code)) {
      this.#failureRuns.delete(key);
      ttlSeconds = outcome.ok
        ? Math.min(outcome.answer.ttlSeconds, this.#maxTtlSeconds)
        : (soaSeconds ?? NEGATIVE_TTL_SECONDS);
    } else {
      ttlSeconds = this.#failureTtlSeconds(key, nowMs);
    }
    if (ttlSeconds <= 0) return;
    this.#put(key, { outcome, expiresAtMs: nowMs + ttlSeconds * 1000 });
  }

  /** RFC 9520 §3.2: seconds to keep this failure of `key`, counting it into its run of failures. */
  #failureTtlSeconds(key: string, nowMs: number): number {
    const run = countFailure(this.#failureRuns.get(key), this.#errorTtlSeconds, nowMs);
    this.#failureRuns.delete(key);
    if (run.ttlSeconds <= 0) return 0;
    this.#failureRuns.set(key, run);
    while (this.#failureRuns.size > this.#maxEntries) {
      const oldest = this.#failureRuns.keys().next().value;
      if (oldest === undefined) break;
      this.#failureRuns.delete(oldest);
    }
    return run.ttlSeconds;
  }

  /** Stores `entry` as the most recently used one, dropping the least recently used past the bound. */
  #put(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#failureRuns.clear();
  }

  /** Forgets the answers of `name` (every type). Returns whether anything was held. */
  deleteName(name: string): boolean {
    let held = false;
    for (const type of SERVICE_TYPES) {
      held = this.#entries.delete(`${type} ${name}`) || held;
      this.#failureRuns.delete(`${type} ${name}`);
    }
    return held;
  }

  /** The entries still valid at `nowMs`, least recently used first, with the ms each has left (for saving). */
  *live(
    nowMs: number,
  ): Generator<{ name: string; type: ServiceRecordType; outcome: Entry['outcome']; forMs: number }> {
    for (const [key, entry] of this.#entries) {
      if (nowMs >= entry.expiresAtMs) continue;
      const space = key.indexOf(' ');
      yield {
        type: key.slice(0, space) as ServiceRecordType,
        name: key.slice(space + 1),
        outcome: entry.outcome,
        forMs: entry.expiresAtMs - nowMs,
      };
    }
  }

  /**
   * Puts back an entry read from a saved memory, valid for the `forMs` it had left (the caller never gives
   * more: a reload does not extend a TTL), as the most recently used one (bounded like `set`); a positive
   * answer at most `maxTtlSeconds`, as `set` keeps it.
   */
  restore(
    name: string,
    type: ServiceRecordType,
    outcome: Entry['outcome'],
    forMs: number,
    nowMs: number,
  ): void {
    if (!(forMs > 0)) return;
    const keptMs = outcome.ok ? Math.min(forMs, this.#maxTtlSeconds * 1000) : forMs;
    this.#put(`${type} ${name}`, { outcome, expiresAtMs: nowMs + keptMs });
  }
}

/**
 * The service record cache kept with `answers`, a Dialer memory's DNS cache (made on first use): one per
 * memory, shared by every Dialer resolving with that memory, saved with it (DialMemory.toJSON) and
 * forgotten with it (`DnsCache.clear()`, `delete(name)`).
 */
export function serviceRecordCacheOf(answers: DnsCache): ServiceRecordCache {
  return answers.serviceRecords(true)!;
}

/** The service record cache kept with `answers`, if one was made. */
export function existingServiceRecordCacheOf(answers: DnsCache): ServiceRecordCache | undefined {
  return answers.serviceRecords(false);
}

/** One query through the cache. Never rejects. */
export function askCached<R extends SrvRecordData | SvcbRecord>(
  send: ServiceQuerySender,
  cache: ServiceRecordCache | undefined,
  name: string,
  type: ServiceRecordType,
  now: () => number,
): {
  promise: Promise<ServiceOutcome<R>>;
  cancel(): void;
  release(keepForCache: boolean): void;
  /** When the query was sent, when this call joined one sent before (see ServiceQuerySender). */
  sentAtMs?: number | undefined;
} {
  const hit = cache?.get(name, type, now());
  if (hit !== undefined) {
    return { promise: Promise.resolve(hit as ServiceOutcome<R>), cancel() {}, release() {} };
  }
  let query: ReturnType<ServiceQuerySender>;
  try {
    query = send(name, type);
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'EINVAL';
    return {
      promise: Promise.resolve({ ok: false, code, message: (err as Error).message, cached: false }),
      cancel() {},
      release() {},
    };
  }
  const promise = query.promise.then(
    (answer): ServiceOutcome<R> => {
      const outcome = { ok: true as const, answer, cached: false };
      cache?.set(name, type, outcome, undefined, now());
      return outcome as ServiceOutcome<R>;
    },
    (err: DnsClientError): ServiceOutcome<R> => {
      const outcome = { ok: false as const, code: err.code ?? 'EIO', message: err.message, cached: false };
      if (err.code !== 'ECANCELLED') {
        const soa = err.soa === undefined ? undefined : Math.min(err.soa.ttlSeconds, err.soa.minimumSeconds);
        cache?.set(name, type, outcome, soa, now());
      }
      return outcome;
    },
  );
  // A plain sender has no release: the query is cancelled, or left to its own end for the cache.
  const release = (keep: boolean) => (query.release ? query.release(keep) : keep || query.cancel());
  return { promise, cancel: () => query.cancel(), release, sentAtMs: query.sentAtMs };
}

/** The ServiceMode records an HTTPS/SVCB lookup ended with, after following AliasMode. */
export type HttpsLookup =
  | { kind: 'service'; records: SvcbRecord[]; owner: string; aliasChain: string[]; cached: boolean }
  /** No usable records: the origin's own A/AAAA (or the alias target's) are the endpoints (§3). */
  | { kind: 'none'; code: string; message: string; owner: string; aliasChain: string[]; cached: boolean }
  /** AliasMode to "." (§2.5.1): the service is not available under this name. */
  | { kind: 'unavailable'; aliasChain: string[]; cached: boolean };

/**
 * Sees each query of an AliasMode chain: called with `outcome` undefined when the query for `name` is
 * asked, and again with its outcome when it ends (not when the lookup was cancelled first).
 */
export type HttpsHopObserver = (name: string, outcome: ServiceOutcome<SvcbRecord> | undefined) => void;

/**
 * Asks for the HTTPS (or SVCB) records of `name` and follows AliasMode (RFC 9460 §2.4.2) at most
 * MAX_ALIAS_HOPS times; a name seen twice is a loop. A loop, a chain too long, or a failed query along
 * the chain ends with `none` and the last name reached as `owner` (the client then uses its A/AAAA, §3).
 * Never rejects; `cancel(keepForCache)` resolves nothing further and releases the query in flight (a
 * shared sender lets it finish into the cache for about a second when `keepForCache`; see askCached).
 * `observe`, when given, sees each query of the chain (`netdial resolve` lists every one). `sentAtMs`: when
 * the first query was sent, when the lookup joined one another caller sent (undefined otherwise).
 */
export function lookupHttps(
  send: ServiceQuerySender,
  cache: ServiceRecordCache | undefined,
  name: string,
  type: 'HTTPS' | 'SVCB',
  now: () => number,
  observe?: HttpsHopObserver,
): { promise: Promise<HttpsLookup>; cancel(keepForCache?: boolean): void; sentAtMs: number | undefined } {
  let cancelled = false;
  let inFlight: { release(keepForCache: boolean): void } | undefined;
  let firstSentAtMs: number | undefined;
  const run = async (): Promise<HttpsLookup> => {
    const aliasChain: string[] = [];
    const seen = new Set<string>();
    let owner = name;
    let cached = true;
    for (let hop = 0; ; hop++) {
      seen.add(owner);
      observe?.(owner, undefined);
      const query = askCached<SvcbRecord>(send, cache, owner, type, now);
      if (hop === 0) firstSentAtMs = query.sentAtMs;
      inFlight = query;
      const outcome = await query.promise;
      inFlight = undefined;
      if (cancelled) {
        return { kind: 'none', code: 'ECANCELLED', message: 'cancelled', owner, aliasChain, cached: false };
      }
      observe?.(owner, outcome);
      // Every answer of the chain from the cache: the lookup was answered from the cache.
      cached &&= outcome.cached;
      if (!outcome.ok) {
        // A name at the end of an alias chain without records of its own is the endpoint: its A/AAAA are
        // used (§3). Any other failure along the chain falls back to the origin.
        const end = outcome.code === 'ENODATA' ? owner : name;
        return { kind: 'none', code: outcome.code, message: outcome.message, owner: end, aliasChain, cached };
      }
      const records = outcome.answer.records;
      const step = aliasStep(records);
      if (step.kind === 'service') {
        return { kind: 'service', records, owner: outcome.answer.owner, aliasChain, cached };
      }
      if (step.kind === 'unavailable') return { kind: 'unavailable', aliasChain, cached };
      aliasChain.push(step.target);
      if (seen.has(step.target)) {
        return {
          kind: 'none',
          code: 'EBADRESP',
          message: `AliasMode loop at ${step.target}`,
          owner: name,
          aliasChain,
          cached,
        };
      }
      if (hop + 1 >= MAX_ALIAS_HOPS) {
        return {
          kind: 'none',
          code: 'EBADRESP',
          message: `AliasMode chain longer than ${MAX_ALIAS_HOPS}`,
          owner: name,
          aliasChain,
          cached,
        };
      }
      owner = step.target;
    }
  };
  // run() asks the first hop before its first await: its send time is known when this returns.
  const promise = run();
  return {
    promise,
    sentAtMs: firstSentAtMs,
    cancel: (keepForCache = false) => {
      cancelled = true;
      inFlight?.release(keepForCache);
    },
  };
}
