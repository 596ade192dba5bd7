/**
 * DNS answer cache for A and AAAA, keyed per (name, record type), pure: every method takes `nowMs`.
 *
 * What it remembers, per name and type, and what `get` answers:
 * - positive answers (addresses) — fresh until their TTL runs out, then kept as stale data for up to
 *   `maxStaleSeconds` (RFC 8767 serve-stale); `get` also says whether a stale answer may be raced while the
 *   caller refreshes it (optimistic use: positive TTL, stale at most `maxOptimisticStaleSeconds`) or only
 *   used when the refresh fails or is late;
 * - negative answers (RFC 2308) — NXDOMAIN and NODATA, as different facts;
 * - failures (SERVFAIL, timeout, refused, …) — remembered briefly so that a dead server is not asked again
 *   on every connection; a failure never erases stale addresses (RFC 8767 §4: stale data survives a failed refresh).
 *
 * `nowMs` is any monotonic clock in milliseconds (`performance.now()`, a virtual clock in tests); the cache never
 * reads a clock itself. Names are compared ASCII-case-insensitively (RFC 4343); nothing else is normalised (a
 * trailing dot is part of the key, because with search domains `foo` and `foo.` are different questions).
 */

import { isIPv4, isIPv6 } from '../ip-address.js';
import { invalidArgument, invalidOption } from '../errors.js';
import { ServiceRecordCache } from '../resolution/service-lookup.js';
import { countFailure, type FailureRun, failureTtlSeconds } from './failure-backoff.js';

/** The record types this cache holds. */
export type DnsRecordType = 'A' | 'AAAA';

/** The two kinds of negative answer of RFC 2308 §1: the name does not exist, or it has no record of this type. */
export type NegativeKind = 'NXDOMAIN' | 'NODATA';

/** SOA figures from the authority section of a negative answer (RFC 2308 §3), in seconds. */
export interface NegativeSoa {
  /** TTL of the SOA record itself, seconds. */
  ttlSeconds: number;
  /** The SOA MINIMUM field, seconds. */
  minimumSeconds: number;
}

/** One record of a positive answer, as a resolver reports it. */
export interface PositiveRecord {
  /** IPv4 address for 'A', IPv6 address for 'AAAA' (textual form; not normalised here). */
  address: string;
  /** Record TTL in seconds as received (finite, >= 0). */
  ttlSeconds: number;
}

/**
 * Options of {@link DnsCache}. Every value is a finite number >= 0; `maxNames` and `maxAddressesPerName` are
 * integers >= 1.
 * Invalid values throw a `TypeError` with code 'ERR_NETDIAL_INVALID_OPTION' naming the option.
 */
export interface DnsCacheOptions {
  /** Most names kept; beyond it the least recently used name (set or `get`) is evicted. Default 1000. */
  maxNames?: number | undefined;
  /**
   * Most addresses kept per name and record type; a longer answer keeps its first ones, in the order given
   * (a Dialer hands over answers already cut to its `maxAddresses`, best first). Bounds the memory a hostile
   * answer of thousands of records can take. Default 1024 (the largest `maxAddresses` a dial accepts).
   */
  maxAddressesPerName?: number | undefined;
  /**
   * Floor for positive TTLs, seconds. Default 0 (a TTL of 0 stays 0: never fresh, never used optimistically, kept
   * for serve-stale when a refresh fails). A floor above 0 makes such answers reusable like any other.
   */
  minTtlSeconds?: number | undefined;
  /** Ceiling for positive TTLs, seconds; must be >= `minTtlSeconds`. Default 86400 (1 day). */
  maxTtlSeconds?: number | undefined;
  /**
   * TTL of a negative answer that carries no SOA, seconds. Default 30. RFC 2308 §5 says such answers SHOULD NOT be
   * cached; deviation: this cache is private to one process and never answers other resolvers, so the looping the
   * RFC guards against cannot happen, while not caching at all would re-ask for every connection.
   */
  negativeTtlSeconds?: number | undefined;
  /** Ceiling for negative TTLs (with or without SOA), seconds. Default 3600. */
  maxNegativeTtlSeconds?: number | undefined;
  /**
   * How long a failure (SERVFAIL, timeout, refused, …) is remembered, seconds. Default 1 (RFC 9520 §3.2's
   * minimum). Failures of the same (name, type) in a row double it, up to 30 s (or this value when it is
   * larger); an answer resets the run (memory/failure-backoff.ts). 0 disables.
   */
  errorTtlSeconds?: number | undefined;
  /**
   * How long after its TTL ran out a positive answer may still be served as stale, seconds. Default 86400.
   * RFC 8767 §5 suggests a maximum stale timer of 1 to 3 days. 0 disables serve-stale.
   */
  maxStaleSeconds?: number | undefined;
  /**
   * After a failed refresh of stale data, how long not to try again while serving stale, seconds. Default 30
   * (RFC 8767 §5, failure recheck timer).
   */
  staleRefreshBackoffSeconds?: number | undefined;
  /**
   * How long after its TTL ran out an answer may still be used *optimistically*, seconds: raced at once while its
   * refresh runs (draft-ietf-happy-happyeyeballs-v3), the refresh's addresses joining when they come. Default 60.
   * Only answers that arrived with a positive TTL qualify (a TTL of 0 says "do not reuse"). Beyond this, or for a
   * TTL-0 answer, a dial waits for the refresh and uses the stale answer only when the refresh fails or does not
   * answer within the client response timer (RFC 8767 serve-stale proper). 0 disables optimistic use.
   */
  maxOptimisticStaleSeconds?: number | undefined;
}

/** Validated, frozen options of a {@link DnsCache} (every field present). */
export type DnsCacheConfig = Readonly<Required<{ [K in keyof DnsCacheOptions]: number }>>;

/** Defaults of {@link DnsCacheOptions}. */
export const DNS_CACHE_DEFAULTS: DnsCacheConfig = Object.freeze({
  maxNames: 1000,
  maxAddressesPerName: 1024,
  minTtlSeconds: 0,
  maxTtlSeconds: 86_400,
  negativeTtlSeconds: 30,
  maxNegativeTtlSeconds: 3600,
  errorTtlSeconds: 1,
  maxStaleSeconds: 86_400,
  staleRefreshBackoffSeconds: 30,
  maxOptimisticStaleSeconds: 60,
});

/**
 * TTL, in seconds, to put on addresses handed out from stale data (RFC 8767 §4 recommends 30 s), so that whoever
 * caches them downstream asks again soon.
 */
export const STALE_ANSWER_TTL_SECONDS = 30;

/**
 * What {@link DnsCache.get} knows about one (name, type). Precedence when several facts are held:
 * fresh addresses, then an unexpired negative answer, then an unexpired failure (with stale addresses if any),
 * then stale addresses, then miss.
 * - `fresh`: `ttlRemainingSeconds` is rounded up to whole seconds, so it is >= 1 while fresh.
 * - `stale`: expired addresses still inside `maxStaleSeconds`; `staleForSeconds` is whole seconds since expiry
 *   (rounded down); `refreshAllowed` is false during the refresh backoff after a failed refresh (RFC 8767 §5);
 *   `optimistic` says whether the answer may be raced before its refresh is back (see `maxOptimisticStaleSeconds`).
 * - `negative`: an RFC 2308 negative answer; `ttlRemainingSeconds` rounded up.
 * - `error`: a remembered failure and its code; `stale` holds the addresses that may still be served (RFC 8767).
 * - `miss`: nothing usable.
 * Record arrays are frozen and shared with the cache; copy before changing. The lookup itself is frozen too: a
 * fresh or negative one is the same object on every `get` while its facts and whole seconds left are the same.
 */
export type CacheLookup =
  | { state: 'fresh'; records: readonly string[]; ttlRemainingSeconds: number }
  | {
      state: 'stale';
      records: readonly string[];
      staleForSeconds: number;
      refreshAllowed: boolean;
      /** May be raced at once while the refresh runs: had a positive TTL, stale <= maxOptimisticStaleSeconds. */
      optimistic: boolean;
    }
  | { state: 'negative'; kind: NegativeKind; ttlRemainingSeconds: number }
  | {
      state: 'error';
      code: string;
      ttlRemainingSeconds: number;
      stale?: readonly string[];
      /** The DNS server that failed it, when one did (given to `setError`). */
      server?: string;
    }
  | { state: 'miss' };

/**
 * One (name, type) as {@link DnsCache.entries} shows it, with absolute times on the caller's clock (ms).
 * Fields are present only when the fact is held.
 */
export interface DnsCacheEntry {
  name: string;
  type: DnsRecordType;
  /** Addresses of the last positive answer (fresh or stale). */
  records?: readonly string[];
  /** When `records` stop being fresh; stale use ends `maxStaleSeconds` later. */
  freshUntilMs?: number;
  negative?: NegativeKind;
  negativeUntilMs?: number;
  errorCode?: string;
  errorUntilMs?: number;
  /** Until when a refresh of stale `records` should not be attempted. */
  refreshBackoffUntilMs?: number;
}

/**
 * Plain-JSON export of a {@link DnsCache} (see {@link DnsCache.toJSON}). Times are durations in ms remaining at
 * export time (`…ForMs`), measured from the export instant, whose wall-clock time is `wallClockMs`. Entries are in
 * LRU order, least recently used first.
 */
export interface DnsCacheJson {
  version: 1;
  /** Wall-clock time (ms since the epoch, e.g. `Date.now()`) of the export instant. */
  wallClockMs: number;
  entries: DnsCacheJsonEntry[];
}

/** One (name, type) in {@link DnsCacheJson}. */
export interface DnsCacheJsonEntry {
  name: string;
  type: DnsRecordType;
  records?: string[];
  /** Remaining fresh time of `records`, ms; zero or negative when already stale (minus how long stale). */
  freshForMs?: number;
  /** The TTL `records` arrived with, seconds (0: not for optimistic reuse). Absent in older exports: taken as positive. */
  ttlSeconds?: number;
  negative?: NegativeKind;
  negativeForMs?: number;
  errorCode?: string;
  errorForMs?: number;
  refreshBackoffForMs?: number;
}

const NONE = Number.NEGATIVE_INFINITY;

/**
 * Told of each positive answer {@link DnsCache.setPositive} stores with a TTL above 0 (after clamping):
 * the name as keyed (ASCII lower case), the type, the addresses kept and that TTL, seconds. Not told of
 * answers adopted from peers ({@link DnsCache.adoptPeer}): no echo.
 */
export type DnsAnswerObserver = (
  name: string,
  type: DnsRecordType,
  addresses: readonly string[],
  ttlSeconds: number,
) => void;

/**
 * Everything held for one (name, type). Kept compact on purpose (the target is well under 1 KiB per name):
 * addresses as one frozen array of strings and one expiry shared by the positive and the negative fact, which
 * exclude each other.
 */
class Slot {
  /** Addresses of the last positive answer; undefined when none is held. */
  records: readonly string[] | undefined = undefined;
  /** Negative answer kind; undefined when none is held. */
  negative: NegativeKind | undefined = undefined;
  /** Fresh-until of `records`, or expiry of `negative` (ms, caller's clock). */
  expiresAtMs = NONE;
  /** The TTL `records` arrived with (after clamping), seconds; 0 means "do not reuse". */
  ttlSeconds = 0;
  errorCode: string | undefined = undefined;
  errorUntilMs = NONE;
  /**
   * The run of failures this slot is in (RFC 9520 §3.2 backoff), made on its first failure: most names never
   * fail, and three fields on every slot cost ~40 B per cached name (issue 16's heap-per-name row).
   */
  failure: FailureRun | undefined = undefined;
  refreshBackoffUntilMs = NONE;
  /**
   * The last fresh or negative answer `get` gave for this slot (frozen), given again while nothing in it
   * changed — the same facts, the same whole seconds left — so a dial of a cached name allocates nothing
   * here, and callers may key their own derived data on it (dns-queries.ts does; issue 16).
   */
  lastHit: CacheLookup | undefined = undefined;
}

class NameEntry {
  a: Slot | undefined = undefined;
  aaaa: Slot | undefined = undefined;
}

/**
 * Cache of A/AAAA answers with RFC 2308 negative caching and RFC 8767 serve-stale. See the module comment.
 *
 * Contract of every method: `name` is a non-empty string, `type` is 'A' or 'AAAA', `nowMs` a finite number on one
 * monotonic clock; violations throw a `TypeError` with code 'ERR_NETDIAL_INVALID_ARGUMENT' naming the argument.
 */
export class DnsCache {
  /** The validated options in force. */
  readonly options: DnsCacheConfig;
  readonly #names = new Map<string, NameEntry>();
  #services: ServiceRecordCache | undefined;
  /** The key #touch last moved to the newest end (see there). */
  #newestKey: string | undefined;
  #observer: DnsAnswerObserver | undefined;

  /** @throws TypeError with code 'ERR_NETDIAL_INVALID_OPTION' naming the first invalid option. */
  constructor(options?: DnsCacheOptions) {
    this.options = validateOptions(options);
  }

  /** Number of names held (a name may hold facts that have expired but were not looked at since). */
  get size(): number {
    return this.#names.size;
  }

  /**
   * Stores a positive answer for (name, type), replacing whatever was held for it (negative answer, failure,
   * refresh backoff, older addresses). The TTL of the set is the smallest record TTL (an RRset has one TTL, RFC 2181
   * §5.2), clamped to [minTtlSeconds, maxTtlSeconds]; TTLs with the high bit set (> 2^31 − 1) are taken as positive
   * and capped by the same clamp (RFC 8767 §4 updating RFC 2181 §8). A TTL of 0 after clamping means the answer is
   * never fresh and never for optimistic use, but stays available as stale data (serve-stale). Duplicate addresses are
   * dropped, order is kept, and only the first `maxAddressesPerName` are kept.
   * Since the name evidently exists (RFC 2308 §1: data and NODATA are only for names that exist), an NXDOMAIN held
   * for the other type is dropped.
   *
   * @throws TypeError ('ERR_NETDIAL_INVALID_ARGUMENT') when `records` is empty (store that as NODATA with
   *   {@link setNegative}) or a record has an address of the wrong family or an invalid TTL.
   */
  setPositive(name: string, type: DnsRecordType, records: readonly PositiveRecord[], nowMs: number): void {
    const key = checkName(name);
    checkType(type);
    checkNow(nowMs);
    if (!Array.isArray(records) || records.length === 0) {
      throw invalidArgument(
        '`records` must be a non-empty array (store an empty answer as NODATA with setNegative())',
      );
    }
    let ttlSeconds = Number.POSITIVE_INFINITY;
    const addresses: string[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      if (typeof record !== 'object' || record === null)
        throw invalidArgument(`\`records[${i}]\` must be an object`);
      if (!(type === 'A' ? isIPv4(record.address) : isIPv6(record.address))) {
        throw invalidArgument(
          `\`records[${i}].address\` must be an ${type === 'A' ? 'IPv4' : 'IPv6'} address for type ${type}, got ${String(record.address)}`,
        );
      }
      ttlSeconds = Math.min(ttlSeconds, checkSeconds(record.ttlSeconds, `records[${i}].ttlSeconds`));
      if (addresses.length < this.options.maxAddressesPerName && !addresses.includes(record.address)) {
        addresses.push(record.address);
      }
    }
    ttlSeconds = clamp(ttlSeconds, this.options.minTtlSeconds, this.options.maxTtlSeconds);
    const slot = new Slot();
    slot.records = Object.freeze(addresses);
    slot.expiresAtMs = nowMs + ttlSeconds * 1000;
    slot.ttlSeconds = ttlSeconds;
    const entry = this.#write(key, type, slot);
    this.#dropOtherNxdomain(entry, type);
    this.#settleEntry(key, entry, nowMs);
    if (this.#observer !== undefined && ttlSeconds > 0) this.#observer(key, type, addresses, ttlSeconds);
  }

  /**
   * Sets the one function told of every positive answer stored from now on by {@link setPositive} (not by
   * {@link adoptPeer}); undefined removes it. Fleet memory with `shareDns` (src/fleet/fleet-sync.ts)
   * publishes through it.
   */
  setObserver(observer: DnsAnswerObserver | undefined): void {
    this.#observer = observer;
  }

  /**
   * Adopts a peer's positive answer for (name, type) — another thread's or process's, through a
   * MemoryStore — fresh for `remainingMs` from `nowMs`: what was left of the peer's TTL, never extended
   * (capped at `maxTtlSeconds`; the `minTtlSeconds` floor is not applied: it would lengthen the answer's
   * life beyond what its server allowed). `ttlSeconds` is the TTL the peer stored it with (> 0: the answer
   * qualifies for optimistic reuse once stale, as a local one would). The observer is not told (no echo).
   *
   * A fresher local fact wins: when fresh addresses or an unexpired negative answer are held for (name,
   * type) that outlive the peer's answer, nothing changes. Returns whether the answer was adopted.
   *
   * @throws TypeError ('ERR_NETDIAL_INVALID_ARGUMENT') for a bad name, type, empty or wrong-family
   *   addresses, or non-positive durations (callers validate peers' input first: fleet/dns-observation.ts).
   */
  adoptPeer(
    name: string,
    type: DnsRecordType,
    addresses: readonly string[],
    remainingMs: number,
    ttlSeconds: number,
    nowMs: number,
  ): boolean {
    const key = checkName(name);
    checkType(type);
    checkNow(nowMs);
    const isFamily = type === 'A' ? isIPv4 : isIPv6;
    if (!Array.isArray(addresses) || addresses.length === 0 || !addresses.every((a) => isFamily(a))) {
      throw invalidArgument(`\`addresses\` must be a non-empty array of ${type} addresses`);
    }
    if (typeof remainingMs !== 'number' || !(remainingMs > 0) || !Number.isFinite(remainingMs)) {
      throw invalidArgument(`\`remainingMs\` must be a finite number > 0, got ${String(remainingMs)}`);
    }
    if (typeof ttlSeconds !== 'number' || !(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) {
      throw invalidArgument(`\`ttlSeconds\` must be a finite number > 0, got ${String(ttlSeconds)}`);
    }
    const expiresAtMs = nowMs + Math.min(remainingMs, this.options.maxTtlSeconds * 1000);
    const entry = this.#names.get(key);
    if (entry !== undefined && this.#settleEntry(key, entry, nowMs)) {
      const held = slotOf(entry, type);
      const heldFresh = held !== undefined && (held.records !== undefined || held.negative !== undefined);
      if (heldFresh && held.expiresAtMs > nowMs && held.expiresAtMs >= expiresAtMs) return false;
    }
    const slot = new Slot();
    slot.records = Object.freeze([...new Set(addresses)].slice(0, this.options.maxAddressesPerName));
    slot.expiresAtMs = expiresAtMs;
    slot.ttlSeconds = Math.min(ttlSeconds, this.options.maxTtlSeconds);
    const written = this.#write(key, type, slot);
    this.#dropOtherNxdomain(written, type);
    this.#settleEntry(key, written, nowMs);
    return true;
  }

  /**
   * Stores a negative answer for (name, type). TTL (RFC 2308 §5): with an SOA, min(SOA TTL, SOA MINIMUM);
   * without one, `negativeTtlSeconds` (a deviation, see that option); either way clamped to
   * [0, maxNegativeTtlSeconds].
   *
   * The negative answer replaces addresses held for the type, stale ones included: RFC 8767 §4 counts an
   * authoritative NoError/NXDOMAIN answer as a refresh, and stale data is only for when no answer can be had.
   * - NXDOMAIN is a fact about the name, cached per <QNAME, QCLASS> (RFC 2308 §5): it is stored for both A and
   *   AAAA, replacing what the other type held too (the newest answer says the name is gone).
   * - NODATA is a fact about (name, type) only (RFC 2308 §5, <QNAME, QTYPE, QCLASS>); since it proves the name
   *   exists, an NXDOMAIN held for the other type is dropped.
   */
  setNegative(
    name: string,
    type: DnsRecordType,
    kind: NegativeKind,
    soa: NegativeSoa | undefined,
    nowMs: number,
  ): void {
    const key = checkName(name);
    checkType(type);
    checkNow(nowMs);
    if (kind !== 'NXDOMAIN' && kind !== 'NODATA') {
      throw invalidArgument(`\`kind\` must be 'NXDOMAIN' or 'NODATA', got ${String(kind)}`);
    }
    let ttlSeconds: number;
    if (soa === undefined) {
      ttlSeconds = this.options.negativeTtlSeconds;
    } else {
      if (typeof soa !== 'object' || soa === null)
        throw invalidArgument('`soa` must be an object or undefined');
      ttlSeconds = Math.min(
        checkSeconds(soa.ttlSeconds, 'soa.ttlSeconds'),
        checkSeconds(soa.minimumSeconds, 'soa.minimumSeconds'),
      );
    }
    ttlSeconds = clamp(ttlSeconds, 0, this.options.maxNegativeTtlSeconds);
    const make = (): Slot => {
      const slot = new Slot();
      slot.negative = kind;
      slot.expiresAtMs = nowMs + ttlSeconds * 1000;
      return slot;
    };
    const entry = this.#write(key, type, make());
    if (kind === 'NXDOMAIN') {
      setSlot(entry, type === 'A' ? 'AAAA' : 'A', make());
    } else {
      this.#dropOtherNxdomain(entry, type);
    }
    this.#settleEntry(key, entry, nowMs);
  }

  /**
   * Remembers that resolving (name, type) failed with `code` (e.g. 'SERVFAIL', 'ETIMEOUT', 'ECONNREFUSED') for
   * `errorTtlSeconds`. Addresses already held are kept (fresh ones keep winning in {@link get}; stale ones are
   * reported alongside the error), as is an unexpired negative answer. When addresses are held, this also starts
   * the refresh backoff, like {@link noteRefreshFailed} (RFC 8767 §5: do not re-ask a failing server at once).
   */
  setError(name: string, type: DnsRecordType, code: string, nowMs: number, server?: string): void {
    const key = checkName(name);
    checkType(type);
    checkNow(nowMs);
    if (typeof code !== 'string' || code === '') {
      throw invalidArgument(`\`code\` must be a non-empty string, got ${String(code)}`);
    }
    const entry = this.#touch(key);
    let slot = slotOf(entry, type);
    if (slot === undefined) {
      slot = new Slot();
      setSlot(entry, type, slot);
    }
    // RFC 9520 §3.2: at least errorTtlSeconds, doubled for each failure in a row (memory/failure-backoff.ts).
    const run = countFailure(slot.failure, this.options.errorTtlSeconds, nowMs);
    slot.failure = run;
    run.server = typeof server === 'string' && server !== '' ? server : undefined;
    slot.errorCode = code;
    slot.errorUntilMs = nowMs + run.ttlSeconds * 1000;
    if (slot.records !== undefined) {
      slot.refreshBackoffUntilMs = nowMs + this.options.staleRefreshBackoffSeconds * 1000;
    }
    this.#settleEntry(key, entry, nowMs);
  }

  /**
   * Notes that a refresh of (name, type) failed: while its addresses are served as stale, `get` reports
   * `refreshAllowed: false` for `staleRefreshBackoffSeconds` (RFC 8767 §5 failure recheck timer). No effect when no
   * addresses are held. Does not count as a use for LRU.
   */
  noteRefreshFailed(name: string, type: DnsRecordType, nowMs: number): void {
    const key = checkName(name);
    checkType(type);
    checkNow(nowMs);
    const entry = this.#names.get(key);
    const slot = entry === undefined ? undefined : slotOf(entry, type);
    if (slot?.records === undefined) return;
    slot.refreshBackoffUntilMs = nowMs + this.options.staleRefreshBackoffSeconds * 1000;
  }

  /**
   * Lets the next `get` of (name, type) ask for a refresh: ends the refresh backoff and forgets a failure held
   * beside stale addresses. For when the stale addresses served alone all failed — the one reason to hold DNS
   * back (RFC 8767 §5: do not re-ask a failing server at once) is outweighed by having no address that works.
   * Returns whether stale addresses were held (no effect otherwise).
   */
  allowRefresh(name: string, type: DnsRecordType): boolean {
    const key = checkName(name);
    checkType(type);
    const entry = this.#names.get(key);
    const slot = entry === undefined ? undefined : slotOf(entry, type);
    if (slot?.records === undefined) return false;
    slot.refreshBackoffUntilMs = NONE;
    slot.errorCode = undefined;
    slot.errorUntilMs = NONE;
    return true;
  }

  /**
   * What is known about (name, type) at `nowMs`; see {@link CacheLookup} for states and precedence.
   * Drops facts that have run out as it goes. A name found (any state but miss) becomes most recently used.
   */
  get(name: string, type: DnsRecordType, nowMs: number): CacheLookup {
    const key = checkName(name);
    checkType(type);
    checkNow(nowMs);
    const entry = this.#names.get(key);
    if (entry === undefined) return MISS;
    if (!this.#settleEntry(key, entry, nowMs)) return MISS;
    const slot = slotOf(entry, type);
    if (slot === undefined) return MISS;
    this.#touch(key);
    const records = slot.records;
    if (records !== undefined && nowMs < slot.expiresAtMs) {
      const ttlRemainingSeconds = Math.ceil((slot.expiresAtMs - nowMs) / 1000);
      const last = slot.lastHit;
      if (
        last?.state === 'fresh' &&
        last.records === records &&
        last.ttlRemainingSeconds === ttlRemainingSeconds
      ) {
        return last;
      }
      const hit: CacheLookup = Object.freeze({ state: 'fresh', records, ttlRemainingSeconds });
      slot.lastHit = hit;
      return hit;
    }
    if (slot.negative !== undefined) {
      const kind = slot.negative;
      const ttlRemainingSeconds = Math.ceil((slot.expiresAtMs - nowMs) / 1000);
      const last = slot.lastHit;
      if (
        last?.state === 'negative' &&
        last.kind === kind &&
        last.ttlRemainingSeconds === ttlRemainingSeconds
      ) {
        return last;
      }
      const hit: CacheLookup = Object.freeze({ state: 'negative', kind, ttlRemainingSeconds });
      slot.lastHit = hit;
      return hit;
    }
    if (slot.errorCode !== undefined) {
      const ttlRemainingSeconds = Math.ceil((slot.errorUntilMs - nowMs) / 1000);
      const hit: CacheLookup =
        records === undefined
          ? { state: 'error', code: slot.errorCode, ttlRemainingSeconds }
          : { state: 'error', code: slot.errorCode, ttlRemainingSeconds, stale: records };
      const server = slot.failure?.server;
      if (server !== undefined) hit.server = server;
      return hit;
    }
    if (records !== undefined) {
      return {
        state: 'stale',
        records,
        staleForSeconds: Math.floor((nowMs - slot.expiresAtMs) / 1000),
        refreshAllowed: nowMs >= slot.refreshBackoffUntilMs,
        optimistic:
          slot.ttlSeconds > 0 && nowMs - slot.expiresAtMs <= this.options.maxOptimisticStaleSeconds * 1000,
      };
    }
    return MISS;
  }

  /**
   * The SRV/HTTPS/SVCB answers kept with these (resolution/service-lookup.ts), made on first use when
   * `create`: owned here so that they are forgotten with the rest. Internal: reach them through a dial.
   * @internal
   */
  serviceRecords(create: boolean): ServiceRecordCache | undefined {
    if (create) {
      this.#services ??= new ServiceRecordCache(
        undefined,
        this.options.errorTtlSeconds,
        this.options.maxTtlSeconds,
      );
    }
    return this.#services;
  }

  /**
   * How long an answer with this TTL is kept fresh: `ttlSeconds` clamped to [minTtlSeconds, maxTtlSeconds],
   * as `setPositive` keeps it. The TTL a fresh answer reports is this, so that the report says what the cache
   * keeps (the DNS client alone caps at 7 days, RFC 8767 §4; this cache at `maxTtlSeconds`, 1 day by default).
   */
  keptTtlSeconds(ttlSeconds: number): number {
    return clamp(ttlSeconds, this.options.minTtlSeconds, this.options.maxTtlSeconds);
  }

  /** Forgets everything held for `name` (both types, and its service records). Returns whether anything was held. */
  delete(name: string): boolean {
    // One key for both halves: caseless, without a trailing dot (delete('Example.com.') forgets both).
    const key = checkName(name.endsWith('.') && name.length > 1 ? name.slice(0, -1) : name);
    const held = this.#names.delete(key);
    return (this.#services?.deleteName(key) ?? false) || held;
  }

  /** Forgets everything (service records included). */
  clear(): void {
    this.#names.clear();
    this.#services?.clear();
  }

  /**
   * Snapshot of every (name, type) held, least recently used first, with absolute times on the caller's clock.
   * For inspection only: it neither expires facts nor counts as a use.
   */
  entries(): DnsCacheEntry[] {
    const out: DnsCacheEntry[] = [];
    for (const [name, entry] of this.#names) {
      for (const type of TYPES) {
        const slot = slotOf(entry, type);
        if (slot === undefined) continue;
        const view: DnsCacheEntry = { name, type };
        if (slot.records !== undefined) {
          view.records = slot.records;
          view.freshUntilMs = slot.expiresAtMs;
        }
        if (slot.negative !== undefined) {
          view.negative = slot.negative;
          view.negativeUntilMs = slot.expiresAtMs;
        }
        if (slot.errorCode !== undefined) {
          view.errorCode = slot.errorCode;
          view.errorUntilMs = slot.errorUntilMs;
        }
        if (slot.refreshBackoffUntilMs !== NONE) view.refreshBackoffUntilMs = slot.refreshBackoffUntilMs;
        out.push(view);
      }
    }
    return out;
  }

  /**
   * Exports the cache as plain JSON for another process (or a later run) to import with {@link DnsCache.fromJSON}.
   *
   * Monotonic clocks are private to a process, so absolute times cannot travel: each expiry is stored as the time
   * remaining at `nowMs` (the cache's clock), and the export instant is stamped with `wallClockMs` (a wall clock
   * shared by both processes, e.g. `Date.now()`). The importer subtracts the wall-clock time that passed in between.
   * Facts that have run out at `nowMs` are left out (and dropped from this cache); LRU order is kept.
   *
   * Both arguments are required: `JSON.stringify(cache)` alone throws (it would pass a key string as `nowMs`);
   * write `JSON.stringify(cache.toJSON(performance.now(), Date.now()))`.
   */
  toJSON(nowMs: number, wallClockMs: number): DnsCacheJson {
    checkNow(nowMs, 'nowMs', ' (call cache.toJSON(nowMs, wallClockMs) and stringify its result)');
    checkNow(wallClockMs, 'wallClockMs');
    const entries: DnsCacheJsonEntry[] = [];
    for (const [name, entry] of [...this.#names]) {
      if (!this.#settleEntry(name, entry, nowMs)) continue;
      for (const type of TYPES) {
        const slot = slotOf(entry, type);
        if (slot === undefined) continue;
        const out: DnsCacheJsonEntry = { name, type };
        if (slot.records !== undefined) {
          out.records = [...slot.records];
          out.freshForMs = slot.expiresAtMs - nowMs;
          out.ttlSeconds = slot.ttlSeconds;
        }
        if (slot.negative !== undefined) {
          out.negative = slot.negative;
          out.negativeForMs = slot.expiresAtMs - nowMs;
        }
        if (slot.errorCode !== undefined) {
          out.errorCode = slot.errorCode;
          out.errorForMs = slot.errorUntilMs - nowMs;
        }
        if (slot.refreshBackoffUntilMs > nowMs) out.refreshBackoffForMs = slot.refreshBackoffUntilMs - nowMs;
        // A run of failures whose last one expired is not saved: another process starts a fresh run.
        if (out.records === undefined && out.negative === undefined && out.errorCode === undefined) continue;
        entries.push(out);
      }
    }
    return { version: 1, wallClockMs, entries };
  }

  /**
   * Builds a cache from {@link DnsCache.toJSON} output. `nowMs` is the importing process's monotonic clock,
   * `wallClockMs` its wall clock now: the wall-clock time elapsed since export (never taken as negative, in case the
   * wall clock stepped back) is subtracted from every remaining duration, so facts expire when they would have in
   * the exporting process. Durations are re-clamped to this cache's options (a fresh TTL to `maxTtlSeconds`, a
   * negative one to `maxNegativeTtlSeconds`, …); facts that have run out are dropped; when more than `maxNames`
   * names remain, the most recently used are kept.
   *
   * @throws TypeError ('ERR_NETDIAL_INVALID_ARGUMENT') naming the first malformed part of `json`;
   *   ('ERR_NETDIAL_INVALID_OPTION') for invalid `options`.
   */
  static fromJSON(json: unknown, nowMs: number, wallClockMs: number, options?: DnsCacheOptions): DnsCache {
    const cache = new DnsCache(options);
    checkNow(nowMs);
    checkNow(wallClockMs, 'wallClockMs');
    if (typeof json !== 'object' || json === null) throw invalidArgument('`json` must be an object');
    const snapshot = json as Partial<DnsCacheJson>;
    if (snapshot.version !== 1)
      throw invalidArgument(`\`json.version\` must be 1, got ${String(snapshot.version)}`);
    checkNow(snapshot.wallClockMs as number, 'json.wallClockMs');
    if (!Array.isArray(snapshot.entries)) throw invalidArgument('`json.entries` must be an array');
    const elapsedMs = Math.max(0, wallClockMs - (snapshot.wallClockMs as number));
    const o = cache.options;
    const until = (forMs: unknown, where: string, maxSeconds: number): number => {
      if (typeof forMs !== 'number' || !Number.isFinite(forMs)) {
        throw invalidArgument(`\`${where}\` must be a finite number, got ${String(forMs)}`);
      }
      return nowMs + Math.min(forMs, maxSeconds * 1000) - elapsedMs;
    };
    snapshot.entries.forEach((raw: unknown, i: number) => {
      const at = `json.entries[${i}]`;
      if (typeof raw !== 'object' || raw === null) throw invalidArgument(`\`${at}\` must be an object`);
      const item = raw as DnsCacheJsonEntry;
      if (typeof item.name !== 'string' || item.name === '') {
        throw invalidArgument(`\`${at}.name\` must be a non-empty string`);
      }
      if (item.type !== 'A' && item.type !== 'AAAA')
        throw invalidArgument(`\`${at}.type\` must be 'A' or 'AAAA'`);
      const slot = new Slot();
      if (item.records !== undefined) {
        const isFamily = item.type === 'A' ? isIPv4 : isIPv6;
        if (!Array.isArray(item.records) || item.records.length === 0 || !item.records.every(isFamily)) {
          throw invalidArgument(`\`${at}.records\` must be a non-empty array of ${item.type} addresses`);
        }
        slot.records = Object.freeze([...new Set(item.records)].slice(0, o.maxAddressesPerName));
        if (item.ttlSeconds === undefined) slot.ttlSeconds = 1;
        else slot.ttlSeconds = checkSeconds(item.ttlSeconds, `${at}.ttlSeconds`);
        // An answer is never fresh for longer than its own TTL, whatever the file says (a hand-edited
        // freshForMs of 1e12 with ttlSeconds 5 stayed fresh for maxTtlSeconds).
        const maxFreshSeconds =
          item.ttlSeconds === undefined ? o.maxTtlSeconds : Math.min(o.maxTtlSeconds, slot.ttlSeconds);
        slot.expiresAtMs = until(item.freshForMs, `${at}.freshForMs`, maxFreshSeconds);
      } else if (item.negative !== undefined) {
        if (item.negative !== 'NXDOMAIN' && item.negative !== 'NODATA') {
          throw invalidArgument(`\`${at}.negative\` must be 'NXDOMAIN' or 'NODATA'`);
        }
        slot.negative = item.negative;
        slot.expiresAtMs = until(item.negativeForMs, `${at}.negativeForMs`, o.maxNegativeTtlSeconds);
      }
      if (item.errorCode !== undefined) {
        if (typeof item.errorCode !== 'string' || item.errorCode === '') {
          throw invalidArgument(`\`${at}.errorCode\` must be a non-empty string`);
        }
        slot.errorCode = item.errorCode;
        slot.errorUntilMs = until(
          item.errorForMs,
          `${at}.errorForMs`,
          failureTtlSeconds(o.errorTtlSeconds, Number.POSITIVE_INFINITY),
        );
      }
      if (item.refreshBackoffForMs !== undefined && slot.records !== undefined) {
        slot.refreshBackoffUntilMs = until(
          item.refreshBackoffForMs,
          `${at}.refreshBackoffForMs`,
          o.staleRefreshBackoffSeconds,
        );
      }
      const key = asciiLower(item.name);
      const entry = cache.#write(key, item.type, slot);
      cache.#settleEntry(key, entry, nowMs);
    });
    return cache;
  }

  /** Puts `slot` for (key, type), making the name most recently used and evicting beyond `maxNames`. */
  #write(key: string, type: DnsRecordType, slot: Slot): NameEntry {
    const entry = this.#touch(key);
    setSlot(entry, type, slot);
    return entry;
  }

  /** Makes `key` most recently used (creating its entry), evicting least recently used names beyond `maxNames`. */
  #touch(key: string): NameEntry {
    // Already the most recent (every dial of a cached name touches it twice, A and AAAA): nothing moves.
    // Every insertion goes through here, so the last key touched, while still held, is at the newest end.
    if (key === this.#newestKey) {
      const newest = this.#names.get(key);
      if (newest !== undefined) return newest;
    }
    this.#newestKey = key;
    let entry = this.#names.get(key);
    if (entry === undefined) {
      entry = new NameEntry();
    } else {
      // Map iteration order is insertion order: re-inserting moves the name to the most-recent end.
      this.#names.delete(key);
    }
    this.#names.set(key, entry);
    while (this.#names.size > this.options.maxNames) {
      const oldest = this.#names.keys().next().value as string;
      this.#names.delete(oldest);
    }
    return entry;
  }

  #dropOtherNxdomain(entry: NameEntry, type: DnsRecordType): void {
    const other = slotOf(entry, type === 'A' ? 'AAAA' : 'A');
    if (other?.negative === 'NXDOMAIN') {
      other.negative = undefined;
      other.expiresAtMs = NONE;
    }
  }

  /** Drops the facts of `entry` that have run out at `nowMs`; removes the name when nothing is left. */
  #settleEntry(key: string, entry: NameEntry, nowMs: number): boolean {
    if (entry.a !== undefined && !this.#settleSlot(entry.a, nowMs)) entry.a = undefined;
    if (entry.aaaa !== undefined && !this.#settleSlot(entry.aaaa, nowMs)) entry.aaaa = undefined;
    if (entry.a === undefined && entry.aaaa === undefined) {
      this.#names.delete(key);
      return false;
    }
    return true;
  }

  /** Drops run-out facts of one slot; returns whether anything is left. */
  #settleSlot(slot: Slot, nowMs: number): boolean {
    if (slot.records !== undefined && nowMs >= slot.expiresAtMs + this.options.maxStaleSeconds * 1000) {
      slot.records = undefined;
      slot.expiresAtMs = NONE;
      slot.refreshBackoffUntilMs = NONE;
    }
    if (slot.negative !== undefined && nowMs >= slot.expiresAtMs) {
      slot.negative = undefined;
      slot.expiresAtMs = NONE;
    }
    if (slot.errorCode !== undefined && nowMs >= slot.errorUntilMs) {
      slot.errorCode = undefined;
      slot.errorUntilMs = NONE;
    }
    if (slot.refreshBackoffUntilMs <= nowMs) slot.refreshBackoffUntilMs = NONE;
    if (slot.failure !== undefined && nowMs >= slot.failure.runUntilMs) slot.failure = undefined;
    // A slot that holds only a run of failures (its last one expired) is kept so the next failure backs off
    // further; it answers `get` with a miss.
    return (
      slot.records !== undefined ||
      slot.negative !== undefined ||
      slot.errorCode !== undefined ||
      slot.failure !== undefined
    );
  }
}

/** The lookup of a name and type memory holds nothing for (one frozen object, shared). */
export const MISS: CacheLookup = Object.freeze({ state: 'miss' });
const TYPES: readonly DnsRecordType[] = ['A', 'AAAA'];

function slotOf(entry: NameEntry, type: DnsRecordType): Slot | undefined {
  return type === 'A' ? entry.a : entry.aaaa;
}

function setSlot(entry: NameEntry, type: DnsRecordType, slot: Slot): void {
  if (type === 'A') entry.a = slot;
  else entry.aaaa = slot;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** RFC 4343: DNS names compare case-insensitively in ASCII only (no Unicode case folding of U-labels). */
function asciiLower(name: string): string {
  return ASCII_UPPER.test(name) ? name.replace(ASCII_UPPER_RUNS, (s) => s.toLowerCase()) : name;
}

// Made once: a regular expression literal in a function body is a new RegExp object on every call
// (issue 16: ~56 B per cache lookup). Neither keeps state between calls (`test` without /g; `replace`
// resets lastIndex of a /g expression).
const ASCII_UPPER = /[A-Z]/;
const ASCII_UPPER_RUNS = /[A-Z]+/g;

function checkName(name: string): string {
  if (typeof name !== 'string' || name === '') {
    throw invalidArgument(`\`name\` must be a non-empty string, got ${String(name)}`);
  }
  return asciiLower(name);
}

function checkType(type: DnsRecordType): void {
  if (type !== 'A' && type !== 'AAAA')
    throw invalidArgument(`\`type\` must be 'A' or 'AAAA', got ${String(type)}`);
}

function checkNow(value: number, what = 'nowMs', hint = ''): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalidArgument(`\`${what}\` must be a finite number of milliseconds, got ${String(value)}${hint}`);
  }
}

function checkSeconds(value: number, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalidArgument(`\`${what}\` must be a finite number of seconds >= 0, got ${String(value)}`);
  }
  return value;
}

function validateOptions(options: DnsCacheOptions | undefined): DnsCacheConfig {
  if (options === undefined) return DNS_CACHE_DEFAULTS;
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('options', `Expected \`options\` to be an object, got ${String(options)}`);
  }
  const config = { ...DNS_CACHE_DEFAULTS };
  for (const key of Object.keys(DNS_CACHE_DEFAULTS) as (keyof DnsCacheConfig)[]) {
    const value = Object.hasOwn(options, key) ? options[key] : undefined; // own only: never Object.prototype's
    if (value === undefined) continue;
    const integer = key === 'maxNames' || key === 'maxAddressesPerName';
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (integer ? Number.isInteger(value) && value >= 1 : value >= 0);
    if (!ok) {
      const expected = integer ? 'an integer >= 1' : 'a finite number of seconds >= 0';
      throw invalidOption(key, `Expected \`${key}\` to be ${expected}, got ${String(value)}`);
    }
    config[key] = value;
  }
  if (config.minTtlSeconds > config.maxTtlSeconds) {
    throw invalidOption(
      'minTtlSeconds',
      `Expected \`minTtlSeconds\` (${config.minTtlSeconds}) to be <= \`maxTtlSeconds\` (${config.maxTtlSeconds})`,
    );
  }
  return Object.freeze(config);
}
