/**
 * DNS queries per (name, record type) through the cache: fresh answers come from memory, concurrent
 * dials share one query in flight, expired answers are served while a refresh runs (RFC 8767 serve-stale,
 * draft-ietf-happy-happyeyeballs-v3 optimistic use), and what a query learns — positive, negative or
 * failed — is written back for the next dial.
 */
import type { Clock } from '../clock.js';
import type { DnsQuery, NegativeSoa } from './dns-client.js';
import { type CacheLookup, type DnsCache, type DnsRecordType, MISS } from '../memory/dns-cache.js';
import { preselectDestinations } from '../race/sort.js';
import type { Family, ResolvedAddress } from '../types.js';
import type { ResolutionEvent } from './resolve.js';
import { isNegativeAnswer } from '../errors.js';
import { dnsServerOf } from './dns-failure-text.js';

/**
 * Why an expired answer is used:
 * - 'optimistic': raced at once while its refresh runs (draft-ietf-happy-happyeyeballs-v3); the refresh's
 *   addresses join the race when they come, and the race waits for them before giving up;
 * - 'refresh-failed': RFC 8767 serve-stale, the refresh failed (now, or recently: §5 failure recheck timer);
 * - 'refresh-timeout': RFC 8767 serve-stale, the refresh did not answer within the client response timer.
 */
export type StaleUse = 'optimistic' | 'refresh-failed' | 'refresh-timeout';

export interface QueryRecords {
  ok: true;
  addresses: ReadonlyArray<{ readonly address: string; readonly ttlSeconds?: number | undefined }>;
  /** 'dns' = asked the server now; 'cache' = fresh in memory; 'stale' = expired (see `staleUse`). */
  source: 'dns' | 'cache' | 'stale';
  /** With source 'stale': why the expired answer is used. */
  staleUse?: StaleUse | undefined;
  /**
   * A stale answer served without asking DNS: its refresh is held back after a recent failure (RFC 8767 §5
   * failure recheck timer). A dial that finds none of its addresses reachable lifts that (DnsCache#allowRefresh).
   */
  heldBack?: true | undefined;
  /** The same addresses as a dial's answer takes them, when made once for many dials (a cached answer). */
  resolved?: readonly ResolvedAddress[] | undefined;
}
export interface QueryFailure {
  ok: false;
  code: string;
  message: string;
  source: 'dns' | 'cache';
}
export type QueryOutcome = QueryRecords | QueryFailure;

/** One dial's interest in one query. */
export interface QueryTicket {
  /**
   * Expired records to race at once while `outcome` (the refresh) is pending (optimistic use); undefined when
   * there are none or the answer does not qualify (TTL 0, or stale for longer than `maxOptimisticStaleSeconds`).
   */
  stale: QueryRecords | undefined;
  /**
   * Expired records that may be used only if the refresh (`outcome`) fails or does not answer in time (RFC 8767
   * serve-stale); undefined when there are none or they are already in `stale`.
   */
  fallback?: QueryRecords | undefined;
  /** The answer: from memory at once, or from the server (the refresh, when `stale` is set). */
  outcome: Promise<QueryOutcome>;
  /**
   * The same answer, when memory had it: usable synchronously (no promise hop on the hot path). A ticket
   * with `ready` holds no query: its `release` does nothing, and callers may drop it without one.
   */
  ready?: QueryOutcome | undefined;
  /**
   * With `ready`: the resolution's events for this answer (resolve.ts), made on first use and kept here —
   * one object per name, type and second carries the answer and what is made of it for every dial.
   */
  events?: { query: ResolutionEvent | undefined; outcome: ResolutionEvent | undefined } | undefined;
  /**
   * The dial no longer needs it. `keepForCache` lets a query still in flight finish and fill the cache
   * (RFC 8305 §5: late answers are still worth keeping); otherwise the last interested dial cancels it.
   */
  release(keepForCache: boolean): void;
  /**
   * When the query behind `outcome` was sent (the resolver's clock): earlier than the dial when it joined a
   * query already in flight — another dial's, or a stale answer's refresh. Undefined for answers from memory.
   */
  sentAtMs?: number | undefined;
}

interface InFlight {
  promise: Promise<QueryOutcome>;
  query: DnsQuery;
  sentAtMs: number;
  waiters: number;
  keep: boolean;
  /** Refreshes an expired answer: runs to its own end, whatever the dials do, so its answer is always stored. */
  refresh: boolean;
  /** The late-answer window's timer, while no dial waits: a dial that joins stops it, its release restarts it. */
  lateTimer: unknown;
}

const TEMPORARY = new Set([
  'ESERVFAIL',
  'ETIMEOUT',
  'ECONNREFUSED',
  'EREFUSED',
  'ECONNRESET',
  'ETRUNCATED',
  'EAI_AGAIN',
]);

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length > 0 ? code : 'EAI_FAIL';
}

/** Sends one A or AAAA query (the servers and timeouts are the sender's business). */
export type QuerySender = (name: string, type: DnsRecordType) => DnsQuery;

export class DnsQueries {
  readonly #cache: DnsCache | undefined;
  readonly #send: QuerySender;
  readonly #clock: Clock;
  readonly #inFlight = new Map<string, InFlight>();
  readonly #maxAddresses: number;
  /**
   * Tickets for answers memory had, by the cache's lookup they were made from: the cache gives the same
   * frozen lookup while a name's facts and whole seconds left are unchanged, so every dial of a cached name
   * in that second shares one settled ticket (issue 16: the outcome, its address records and message were
   * ~0.5 KB per dial). Held weakly: gone with the lookup.
   */
  readonly #settled = new WeakMap<CacheLookup, SettledTicket>();

  /**
   * `send` puts one query on the wire (src/resolution/dns-client.ts); each can be cancelled alone. `maxAddresses`:
   * a longer answer is cut to its best addresses (see `preselectDestinations`) before it is cached or
   * handed on, so a hostile answer of thousands costs neither memory nor probes. Default: no cut.
   */
  constructor(cache: DnsCache | undefined, send: QuerySender, clock: Clock, maxAddresses = Infinity) {
    this.#cache = cache;
    this.#send = send;
    this.#clock = clock;
    this.#maxAddresses = maxAddresses;
  }

  /** Queries in flight now (for tests and inspection). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  query(name: string, family: Family, nowMs: number): QueryTicket {
    const type: DnsRecordType = family === 6 ? 'AAAA' : 'A';
    const hit = this.#cache?.get(name, type, nowMs) ?? MISS;
    if (hit.state === 'fresh' || hit.state === 'negative') {
      // The name as asked is part of a negative answer's message (the cache compares names caseless).
      let ticket = this.#settled.get(hit);
      if (ticket === undefined || ticket.name !== name) {
        ticket = this.#fromMemory(hit, name, type) as SettledTicket;
        this.#settled.set(hit, ticket);
      }
      return ticket;
    }
    return this.#fromMemory(hit, name, type);
  }

  #fromMemory(hit: CacheLookup, name: string, type: DnsRecordType): QueryTicket {
    switch (hit.state) {
      case 'fresh': {
        const family: Family = type === 'AAAA' ? 6 : 4;
        const ttlSeconds = hit.ttlRemainingSeconds;
        // Shared by every dial given this ticket: frozen, and with the addresses as a dial takes them —
        // one list, which is also the records' (a resolved address is an { address, ttlSeconds } too).
        const resolved: readonly ResolvedAddress[] = Object.freeze(
          hit.records.map((address) =>
            Object.freeze({ address, family, ttlSeconds, source: 'cache' as const }),
          ),
        );
        return settled(name, Object.freeze({ ok: true, source: 'cache', addresses: resolved, resolved }));
      }
      case 'negative':
        // RFC 2308 §5: a cached NXDOMAIN or NODATA answers like the server would, until it expires.
        return settled(name, {
          ok: false,
          source: 'cache',
          code: hit.kind === 'NXDOMAIN' ? 'ENOTFOUND' : 'ENODATA',
          message: `${type} ${name}: ${hit.kind} (cached)`,
        });
      case 'error':
        // RFC 8767 §4: the refresh failed a moment ago; the stale answer is served alone.
        if (hit.stale) return settled(name, staleRecords(hit.stale, 'refresh-failed', true));
        return settled(name, {
          ok: false,
          source: 'cache',
          code: hit.code,
          // In the DNS client's form, so the one-line error and the query row name the server that failed
          // it (dns-failure-text.ts), as they do for the failure itself (rev8 finding 6).
          message:
            hit.server === undefined
              ? `${type} ${name}: ${hit.code} (cached)`
              : `query${type} ${hit.code} ${name} (${hit.server} failed it (${hit.code}), remembered)`,
        });
      case 'stale': {
        // RFC 8767 §5: after a failed refresh, do not ask the server again for a while; serve stale alone.
        if (!hit.refreshAllowed) return settled(name, staleRecords(hit.records, 'refresh-failed', true));
        const ticket = this.#ask(name, type, true);
        // Optimistic use only for an answer that had a positive TTL and expired recently; otherwise the
        // stale answer is held back for when the refresh fails or is late (the caller's client response timer).
        if (hit.optimistic) return { ...ticket, stale: staleRecords(hit.records, 'optimistic') };
        return { ...ticket, fallback: staleRecords(hit.records, 'refresh-failed') };
      }
      case 'miss':
        return this.#ask(name, type);
    }
  }

  #ask(name: string, type: DnsRecordType, refresh = false): QueryTicket {
    const key = `${type} ${name}`;
    let q = this.#inFlight.get(key);
    if (q && refresh) q.refresh = true;
    if (!q) {
      const query = this.#send(name, type);
      const entry: InFlight = {
        query,
        sentAtMs: this.#clock.now(),
        waiters: 0,
        keep: false,
        refresh,
        lateTimer: undefined,
        promise: undefined as never,
      };
      entry.promise = query.promise.then(
        (answer): QueryOutcome => {
          this.#inFlight.delete(key);
          // With a cache, each TTL as the cache keeps it (DnsCache#keptTtlSeconds): what the report says.
          const cache = this.#cache;
          let addresses = answer.addresses.map((a) => ({
            address: a.address,
            ttlSeconds: cache === undefined ? a.ttlSeconds : cache.keptTtlSeconds(a.ttlSeconds),
          }));
          if (addresses.length > this.#maxAddresses) {
            const family: Family = type === 'AAAA' ? 6 : 4;
            const best = preselectDestinations(
              addresses.map((a) => ({ ...a, family })),
              this.#maxAddresses,
            );
            addresses = best.map((a) => ({ address: a.address, ttlSeconds: a.ttlSeconds }));
          }
          this.#remember(() => this.#cache?.setPositive(name, type, addresses, this.#clock.now()));
          return { ok: true, source: 'dns', addresses };
        },
        (err: unknown): QueryOutcome => {
          this.#inFlight.delete(key);
          const code = errorCode(err);
          const message = err instanceof Error ? err.message : `${type} ${name}: ${code}`;
          return this.#failed(name, type, code, message, (err as { soa?: NegativeSoa }).soa);
        },
      );
      q = entry;
      this.#inFlight.set(key, q);
    }
    const query = q;
    query.waiters++;
    if (query.lateTimer !== undefined) {
      // A dial joins a query in its late window: the window starts again when this one is done with it.
      this.#clock.clearTimeout(query.lateTimer);
      query.lateTimer = undefined;
    }
    let released = false;
    return {
      stale: undefined,
      outcome: query.promise,
      sentAtMs: query.sentAtMs,
      release: (keepForCache) => {
        if (released) return;
        released = true;
        query.waiters--;
        // Only a cache has a use for a late answer.
        if (keepForCache && this.#cache) query.keep = true;
        if (query.waiters > 0 || this.#inFlight.get(key) !== query) return;
        // A refresh is never cut short: what it brings replaces the expired answer for the next dial.
        if (query.refresh && this.#cache) return;
        if (!query.keep) {
          this.#inFlight.delete(key);
          query.query.cancel();
          return;
        }
        // RFC 8305 §5: keep listening for late answers for about a second, not until the query's own timeouts
        // run out (5 s × 2 tries by default: a socket, and the process, held that long after the dial). Nobody
        // waits for it now: it does not hold the process either (its sockets and timer unref'd, as this timer).
        query.query.unref?.();
        const timer = this.#clock.setTimeout(() => {
          query.lateTimer = undefined;
          if (this.#inFlight.get(key) !== query) return;
          this.#inFlight.delete(key);
          query.query.cancel();
          // No answer within the dial and the window after it: for the next dials the server did not answer
          // (ETIMEOUT), remembered like a query that timed out on its own (errorTtlSeconds, backed off, RFC 9520 §3.2), so
          // they neither send the query again nor wait the Resolution Delay for it until that expires. An
          // answer later than this is not kept: the query is gone (see LATE_ANSWER_MS).
          this.#failed(name, type, 'ETIMEOUT', lateTimeoutMessage(type, name));
        }, LATE_ANSWER_MS);
        query.lateTimer = timer;
        this.#clock.unref?.(timer);
      },
    };
  }

  /** A failed query: remembered as a negative answer or a brief error, never thrown. */
  #failed(name: string, type: DnsRecordType, code: string, message: string, soa?: NegativeSoa): QueryOutcome {
    const now = this.#clock.now();
    if (isNegativeAnswer(code)) {
      // RFC 2308 §5: a negative answer is kept for min(SOA TTL, SOA MINIMUM) of the SOA that came with
      // it; without one, the cache's configured default.
      const kind = code === 'ENOTFOUND' ? 'NXDOMAIN' : 'NODATA';
      this.#remember(() => this.#cache?.setNegative(name, type, kind, soa, now));
    } else if (code !== 'ECANCELLED' && code !== 'ECANCELED') {
      // Temporary failures are remembered briefly; a stale answer survives them (RFC 8767 §4).
      this.#remember(() => {
        if (TEMPORARY.has(code)) this.#cache?.noteRefreshFailed(name, type, now);
        this.#cache?.setError(name, type, code, now, dnsServerOf(message));
      });
    }
    return { ok: false, source: 'dns', code, message };
  }

  /** Writes to the cache; an answer the cache refuses (odd TTLs, odd names) is passed on uncached, not thrown. */
  #remember(write: () => void): void {
    try {
      write();
    } catch {
      // The dial still gets the answer; only the memory of it is lost.
    }
  }
}

/**
 * How long a query whose dial is over may still fill the cache (RFC 8305 §5: "~1 s"); one still unanswered
 * then is cancelled and remembered as ETIMEOUT. Deviation: an answer slower than the dial plus this window is
 * never kept — a query is not held (socket, and with it the process) up to its own timeouts once no dial
 * needs it; such a name is asked again once the remembered failure expires (errorTtlSeconds).
 */
export const LATE_ANSWER_MS = 1000;

/** What a query still unanswered when its late window ended is remembered as (A/AAAA and service records). */
export function lateTimeoutMessage(type: string, name: string): string {
  return `${type} ${name}: no answer within ${LATE_ANSWER_MS} ms after the dial`;
}

/**
 * An answer memory already had. Callers take `ready` (synchronously); the promise is made only for one
 * that asks for `outcome`, so a cached dial allocates neither a promise nor a closure here.
 */
function settled(name: string, outcome: QueryOutcome): QueryTicket {
  return new SettledTicket(name, outcome);
}

/** Immutable once made (the promise and the events aside, made once on demand): one may serve many dials. */
class SettledTicket implements QueryTicket {
  readonly stale = undefined;
  /** The name asked for. */
  readonly name: string;
  readonly ready: QueryOutcome;
  events: QueryTicket['events'] = undefined;
  #outcome: Promise<QueryOutcome> | undefined;

  constructor(name: string, outcome: QueryOutcome) {
    this.name = name;
    this.ready = outcome;
  }

  get outcome(): Promise<QueryOutcome> {
    this.#outcome ??= Promise.resolve(this.ready);
    return this.#outcome;
  }

  /** Nothing to release: no query was sent. */
  release(): void {}
}

function staleRecords(records: readonly string[], staleUse: StaleUse, heldBack?: true): QueryRecords {
  // RFC 8767 §4: an answer served from stale data carries a TTL of 30 s.
  return {
    ok: true,
    source: 'stale',
    staleUse,
    heldBack,
    addresses: records.map((address) => ({ address, ttlSeconds: 30 })),
  };
}
