/**
 * Per-endpoint (address, port) connection history, pure: every method takes `nowMs`.
 *
 * Remembers what the last connection attempts to an endpoint did — smoothed round-trip time of successful
 * handshakes (RFC 6298 §2), consecutive failures and an exponential backoff — so that the dialer can put endpoints
 * that work and answer fast first (RFC 8305 §4) and derive its Connection Attempt Delay from measured RTTs
 * (RFC 8305 §5). History belongs to one network: call {@link EndpointHistory.forget} when the network changes
 * (draft-ietf-happy-happyeyeballs-v3 keeps history per network and flushes it on change).
 *
 * `nowMs` is any monotonic clock in milliseconds; the class never reads a clock itself.
 */

import { isIP } from '../ip-address.js';
import { invalidArgument, invalidOption } from '../errors.js';
import { networkOf } from './network-prefix.js';
import type { PeerVerdict } from './fleet-observation.js';

/** Smoothing gain for SRTT, RFC 6298 §2 (alpha = 1/8). A constant, not an option. */
export const RTT_ALPHA = 1 / 8;
/** Smoothing gain for RTTVAR, RFC 6298 §2 (beta = 1/4). A constant, not an option. */
export const RTT_BETA = 1 / 4;

/**
 * Options of {@link EndpointHistory}; every value is a finite number. Invalid values throw a `TypeError` with code
 * 'ERR_NETDIAL_INVALID_OPTION' naming the option.
 */
export interface EndpointHistoryOptions {
  /** Most endpoints remembered; beyond it the least recently recorded one is forgotten. Integer >= 1. Default 4096. */
  maxEndpoints?: number | undefined;
  /** Backoff after the first consecutive failure, ms (>= 0). Doubles per further failure. Default 60000 (1 min). */
  backoffBaseMs?: number | undefined;
  /** Ceiling of the backoff, ms (>= backoffBaseMs). Default 600000 (10 min): 1, 2, 4, 8, 10, 10, … minutes. */
  backoffMaxMs?: number | undefined;
  /**
   * Lower bound of {@link EndpointHistory.attemptDelayMs}, ms. Default 100 (RFC 8305 §5 recommended minimum);
   * must be >= 10 (RFC 8305 §5: never below 10 ms).
   */
  minAttemptDelayMs?: number | undefined;
  /** Upper bound of {@link EndpointHistory.attemptDelayMs}, ms. Default 2000 (RFC 8305 §5 maximum). */
  maxAttemptDelayMs?: number | undefined;
  /**
   * Connection Attempt Delay when there is no RTT history, ms, within [min, max]. Default 250 (RFC 8305 §5, §8).
   */
  defaultAttemptDelayMs?: number | undefined;
}

/** Validated, frozen options of an {@link EndpointHistory} (every field present). */
export type EndpointHistoryConfig = Readonly<Required<{ [K in keyof EndpointHistoryOptions]: number }>>;

/** Defaults of {@link EndpointHistoryOptions}. */
export const ENDPOINT_HISTORY_DEFAULTS: EndpointHistoryConfig = Object.freeze({
  maxEndpoints: 4096,
  backoffBaseMs: 60_000,
  backoffMaxMs: 600_000,
  minAttemptDelayMs: 100,
  maxAttemptDelayMs: 2000,
  defaultAttemptDelayMs: 250,
});

/**
 * What an attempt delay from {@link EndpointHistory.attemptDelayFor} rests on: the endpoint's own RTT samples, those
 * of its network (same /24 or /64, any port), those of the other addresses of the same name (this dial's), any
 * endpoint the history measured (Dialer-wide), or nothing (default).
 */
export type AttemptDelayBasis = 'endpoint' | 'network' | 'name' | 'dialer' | 'default';

/** Unanswered attempts of one family of a name, while the other family connected (see `noteUnanswered`). */
const FAMILY_TROUBLE_THRESHOLD = 2;

/** Outcome of a connection attempt as history records it. */
export type AttemptOutcome = 'success' | 'failure';

/**
 * Told of each outcome {@link EndpointHistory} records: `failure` set for a failure (its code, the
 * consecutive-failure count and the backoff it started, ms), `rttMs` set for a success.
 */
export type EndpointObserver = (
  address: string,
  port: number,
  failure: { code: string; failures: number; backoffMs: number } | undefined,
  rttMs: number | undefined,
) => void;

/** What {@link EndpointHistory.get} knows about one endpoint at `nowMs`. Times are on the caller's clock (ms). */
export interface EndpointState {
  address: string;
  port: number;
  /** 4 or 6, from the address. */
  family: 4 | 6;
  lastOutcome: AttemptOutcome;
  /** When the last outcome was recorded. */
  lastAtMs: number;
  /** Failures since the last success (0 after a success). */
  consecutiveFailures: number;
  /** Code of the last failure; cleared by a success. */
  lastErrorCode?: string;
  /** Smoothed RTT of successful connects (RFC 6298 SRTT), ms; absent until the first success. Kept across failures. */
  srttMs?: number;
  /** RTT variation (RFC 6298 RTTVAR), ms; absent until the first success. */
  rttvarMs?: number;
  /** End of the backoff started by the last failure (present, possibly in the past, while the last outcome is a failure). */
  backoffUntilMs?: number;
  /** `nowMs < backoffUntilMs`. */
  inBackoff: boolean;
  /** Present (true) when the last outcome is a peer's observation (fleet memory), not one made here. */
  fromPeer?: true;
  /** The last outcome is a failure whose backoff has run out, and nothing was recorded since: due for a retry. */
  backoffJustEnded: boolean;
}

/**
 * Plain-JSON export of an {@link EndpointHistory} (see {@link EndpointHistory.toJSON}); durations are relative to the
 * export instant, whose wall-clock time is `wallClockMs`. Least recently recorded first.
 */
export interface EndpointHistoryJson {
  version: 1;
  /** Wall-clock time (ms since the epoch, e.g. `Date.now()`) of the export instant. */
  wallClockMs: number;
  endpoints: EndpointHistoryJsonEntry[];
}

/** One endpoint in {@link EndpointHistoryJson}. */
export interface EndpointHistoryJsonEntry {
  address: string;
  port: number;
  lastOutcome: AttemptOutcome;
  /** How long before the export instant the last outcome was recorded, ms. */
  lastAgeMs: number;
  consecutiveFailures: number;
  lastErrorCode?: string;
  srttMs?: number;
  rttvarMs?: number;
  /** Backoff remaining at export, ms; zero or negative when it had already ended. */
  backoffForMs?: number;
}

const NONE = Number.NEGATIVE_INFINITY;
/** attemptDelayFor without the other addresses of the name (one array for every such call). */
const NO_NAMES: readonly string[] = Object.freeze([]);

/** attemptDelayMs's exact median stands while no RTT changed; from this many samples on, also for a while. */
const MEDIAN_EXACT_UP_TO = 64;
/** How long (ms of `nowMs`) a median over MEDIAN_EXACT_UP_TO samples or more is given again unchanged. */
const MEDIAN_REUSE_MS = 1000;

/** A Dialer-wide median as computed at `atMs`, over `samples` RTTs, when the change count was `changes`. */
interface KeptMedian {
  delayMs: number;
  samples: number;
  changes: number;
  atMs: number;
}

class Endpoint {
  lastOutcome: AttemptOutcome = 'success';
  lastAtMs = 0;
  consecutiveFailures = 0;
  lastErrorCode: string | undefined = undefined;
  /** NaN until the first RTT sample. */
  srttMs = Number.NaN;
  rttvarMs = Number.NaN;
  /** NONE when the last outcome is a success. */
  backoffUntilMs = NONE;
  /** Its /24 or /64 (network-prefix.ts), computed once. */
  readonly network: string | undefined;
  /** The last outcome came from a peer (adoptPeer), not from a connect made here. */
  fromPeer = false;
  constructor(
    readonly address: string,
    readonly port: number,
    readonly family: 4 | 6,
  ) {
    this.network = networkOf(address);
  }
}

/**
 * Connection history per (address, port), LRU-bounded by `maxEndpoints` (recording counts as use; reads do not).
 *
 * Contract of every method: `address` is an IP address literal (IPv6 may carry a `%zone`), `port` an integer in
 * 1–65535, `nowMs` a finite number on one monotonic clock; violations throw a `TypeError` with code
 * 'ERR_NETDIAL_INVALID_ARGUMENT' naming the argument. Outcomes are applied in call order.
 */
export class EndpointHistory {
  /** The validated options in force. */
  readonly options: EndpointHistoryConfig;
  readonly #endpoints = new Map<string, Endpoint>();
  /** The key #touch last moved to the newest end (see there). */
  #newestKey: string | undefined;
  /** `name \n network` → until when the network's addresses of that name are suspected (ms). */
  readonly #suspects = new Map<string, number>();
  /** name → a family whose attempts went unanswered while the other family connected, how often in a row, until when. */
  readonly #familyTrouble = new Map<string, { family: 4 | 6; count: number; untilMs: number }>();
  /** Told of every outcome recorded here (fleet memory publishes them); undefined without a store. */
  #observer: EndpointObserver | undefined;
  /** Whether any peer observation was ever adopted (lets readers skip the per-endpoint check). */
  #peerInformed = false;
  /** Counts every change to the RTTs remembered (a sample, an endpoint forgotten): see #medians. */
  #rttChanges = 0;
  /** The last Dialer-wide medians of attemptDelayMs (see there): every family, IPv4, IPv6. */
  readonly #medians: (KeptMedian | undefined)[] = [undefined, undefined, undefined];
  /** The last 'endpoint' answer of attemptDelayFor (frozen), given again for the same delay. */
  #endpointDelay: Readonly<{ delayMs: number; basis: 'endpoint' }> | undefined;

  /** @throws TypeError with code 'ERR_NETDIAL_INVALID_OPTION' naming the first invalid option. */
  constructor(options?: EndpointHistoryOptions) {
    this.options = validateOptions(options);
  }

  /** Number of endpoints remembered. */
  get size(): number {
    return this.#endpoints.size;
  }

  /**
   * Records a successful connect whose handshake took `rttMs` (finite, >= 0). Updates SRTT/RTTVAR as RFC 6298 does
   * for its RTO: first sample (§2.2) SRTT = R, RTTVAR = R/2; later samples (§2.3), RTTVAR first, with the old SRTT:
   * RTTVAR = (1 − β)·RTTVAR + β·|SRTT − R|, then SRTT = (1 − α)·SRTT + α·R, α = 1/8, β = 1/4.
   * Ends any backoff and resets the consecutive failure count.
   */
  recordSuccess(address: string, port: number, rttMs: number, nowMs: number): void {
    const key = checkEndpoint(address, port);
    checkNow(nowMs);
    if (typeof rttMs !== 'number' || !Number.isFinite(rttMs) || rttMs < 0) {
      throw invalidArgument(`\`rttMs\` must be a finite number of milliseconds >= 0, got ${String(rttMs)}`);
    }
    const endpoint = this.#touch(key, address, port);
    if (Number.isNaN(endpoint.srttMs)) {
      endpoint.srttMs = rttMs;
      endpoint.rttvarMs = rttMs / 2;
    } else {
      endpoint.rttvarMs = (1 - RTT_BETA) * endpoint.rttvarMs + RTT_BETA * Math.abs(endpoint.srttMs - rttMs);
      endpoint.srttMs = (1 - RTT_ALPHA) * endpoint.srttMs + RTT_ALPHA * rttMs;
    }
    this.#rttChanges++;
    endpoint.lastOutcome = 'success';
    endpoint.lastAtMs = nowMs;
    endpoint.consecutiveFailures = 0;
    endpoint.lastErrorCode = undefined;
    endpoint.backoffUntilMs = NONE;
    endpoint.fromPeer = false;
    if (this.#observer !== undefined) this.#observer(address, port, undefined, rttMs);
  }

  /**
   * Records a failed connect with error `code` (non-empty, e.g. 'ECONNREFUSED', 'ETIMEDOUT'). The n-th consecutive
   * failure starts a backoff until `nowMs + min(backoffBaseMs · 2^(n−1), backoffMaxMs)`; SRTT/RTTVAR are kept.
   */
  recordFailure(address: string, port: number, code: string, nowMs: number): void {
    const key = checkEndpoint(address, port);
    checkNow(nowMs);
    if (typeof code !== 'string' || code === '') {
      throw invalidArgument(`\`code\` must be a non-empty string, got ${String(code)}`);
    }
    const endpoint = this.#touch(key, address, port);
    endpoint.consecutiveFailures += 1;
    endpoint.lastOutcome = 'failure';
    endpoint.lastAtMs = nowMs;
    endpoint.lastErrorCode = code;
    const backoffMs = this.backoffMs(endpoint.consecutiveFailures);
    endpoint.backoffUntilMs = nowMs + backoffMs;
    endpoint.fromPeer = false;
    if (this.#observer !== undefined) {
      this.#observer(address, port, { code, failures: endpoint.consecutiveFailures, backoffMs }, undefined);
    }
  }

  /**
   * Sets the one function told of every outcome recorded from now on (by recordSuccess / recordFailure,
   * not by {@link adoptPeer}); undefined removes it. Fleet memory (src/fleet/fleet-sync.ts) publishes through it.
   */
  setObserver(observer: EndpointObserver | undefined): void {
    this.#observer = observer;
  }

  /**
   * Adopts a peer's newer observation of (address, port) — another thread's or process's, through a
   * MemoryStore — as if it had been made here: a failure demotes the endpoint for the same remaining backoff
   * (capped at `backoffMaxMs`), with the peer's consecutive-failure count and code, so a further local
   * failure backs off longer; a success ends any backoff, and its RTT sample seeds SRTT/RTTVAR only when this
   * history has none of its own (RFC 6298 §2.2 first sample) — local measurements are never overwritten by a
   * remote one, which was taken from another vantage point. The observer is not told (no echo).
   */
  adoptPeer(address: string, port: number, verdict: NonNullable<PeerVerdict>, nowMs: number): void {
    const key = checkEndpoint(address, port);
    checkNow(nowMs);
    const endpoint = this.#touch(key, address, port);
    endpoint.lastAtMs = nowMs;
    endpoint.fromPeer = true;
    this.#peerInformed = true;
    if (verdict.outcome === 'failure') {
      endpoint.lastOutcome = 'failure';
      endpoint.consecutiveFailures = verdict.failures;
      endpoint.lastErrorCode = verdict.code;
      endpoint.backoffUntilMs = nowMs + Math.min(verdict.remainingMs, this.options.backoffMaxMs);
      return;
    }
    endpoint.lastOutcome = 'success';
    endpoint.consecutiveFailures = 0;
    endpoint.lastErrorCode = undefined;
    endpoint.backoffUntilMs = NONE;
    if (Number.isNaN(endpoint.srttMs) && verdict.rttMs !== undefined) {
      endpoint.srttMs = verdict.rttMs;
      endpoint.rttvarMs = verdict.rttMs / 2;
      this.#rttChanges++;
    }
  }

  /** Whether any peer observation was ever adopted here (fleet memory). */
  get peerInformed(): boolean {
    return this.#peerInformed;
  }

  /** Whether the endpoint's last outcome is a peer's (see {@link adoptPeer}). Cheap when no peer ever spoke. */
  isFromPeer(address: string, port: number): boolean {
    if (!this.#peerInformed) return false;
    return this.#endpoints.get(port + ' ' + address)?.fromPeer === true;
  }

  /** Backoff after `consecutiveFailures` (>= 1) failures in a row, ms: min(base · 2^(n−1), max). */
  backoffMs(consecutiveFailures: number): number {
    const { backoffBaseMs, backoffMaxMs } = this.options;
    // 2 ** large is Infinity, which min() turns into the ceiling; no overflow to worry about.
    return Math.min(backoffBaseMs * 2 ** Math.max(0, consecutiveFailures - 1), backoffMaxMs);
  }

  /** What is known about the endpoint at `nowMs`, or undefined when nothing is. Not a use for LRU. */
  get(address: string, port: number, nowMs: number): EndpointState | undefined {
    const key = checkEndpoint(address, port);
    checkNow(nowMs);
    const endpoint = this.#endpoints.get(key);
    if (endpoint === undefined) return undefined;
    const failing = endpoint.lastOutcome === 'failure';
    const inBackoff = failing && nowMs < endpoint.backoffUntilMs;
    const state: EndpointState = {
      address: endpoint.address,
      port: endpoint.port,
      family: endpoint.family,
      lastOutcome: endpoint.lastOutcome,
      lastAtMs: endpoint.lastAtMs,
      consecutiveFailures: endpoint.consecutiveFailures,
      inBackoff,
      backoffJustEnded: failing && !inBackoff,
    };
    if (endpoint.lastErrorCode !== undefined) state.lastErrorCode = endpoint.lastErrorCode;
    if (!Number.isNaN(endpoint.srttMs)) {
      state.srttMs = endpoint.srttMs;
      state.rttvarMs = endpoint.rttvarMs;
    }
    if (failing) state.backoffUntilMs = endpoint.backoffUntilMs;
    if (endpoint.fromPeer) state.fromPeer = true;
    return state;
  }

  /**
   * Whether the endpoint should go after the others: its last recorded outcome is a failure. That covers the
   * backoff itself and the time after it until the endpoint is tried again (`backoffJustEnded`); `orderByHistory`
   * always puts one such due endpoint back at its natural place, so demotion ends by a retry, not by the clock.
   */
  isDemoted(address: string, port: number, nowMs: number): boolean {
    const key = checkEndpoint(address, port);
    checkNow(nowMs);
    return this.#endpoints.get(key)?.lastOutcome === 'failure';
  }

  /**
   * Adaptive Connection Attempt Delay, ms (RFC 8305 §5: the delay "should" come from RTT history where available).
   *
   * Formula: for each remembered endpoint of `family` (every family when undefined) that has an SRTT, take
   * 2·SRTT + 4·RTTVAR; the delay is the median of those values, clamped to [minAttemptDelayMs, maxAttemptDelayMs]
   * and rounded to whole ms; with no such endpoint, `defaultAttemptDelayMs`.
   * Why: SRTT + 4·RTTVAR is RFC 6298's retransmission timeout, the point past which a reply is presumed lost — the
   * question the attempt delay asks of a handshake. The extra SRTT keeps one round trip of slack once RTTVAR decays
   * on a steady path (RTO → SRTT would start a parallel attempt for any slightly slow handshake). The median, not the
   * mean or the maximum, follows the typical path and ignores one far-away or sick endpoint. A first sample R gives
   * 2R + 2R = 4R. `nowMs` is validated; samples are not aged (history is flushed with `forget()` instead).
   *
   * Cost: the median is exact, and kept until an RTT changes; with {@link MEDIAN_EXACT_UP_TO} samples or more it
   * is recomputed at most every {@link MEDIAN_REUSE_MS} of `nowMs` (every connect records a sample, and a walk and
   * sort of thousands of them on each dial cost more than the dial — issue 16: ~110 µs at 1 000 endpoints; one
   * second of lag in a median over that many paths changes nothing a dial could notice).
   */
  attemptDelayMs(family: 4 | 6 | undefined, nowMs: number): number {
    if (family !== undefined && family !== 4 && family !== 6) {
      throw invalidArgument(`\`family\` must be 4, 6 or undefined, got ${String(family)}`);
    }
    checkNow(nowMs);
    const slot = family === undefined ? 0 : family === 4 ? 1 : 2;
    const kept = this.#medians[slot];
    if (
      kept !== undefined &&
      (kept.changes === this.#rttChanges ||
        (kept.samples >= MEDIAN_EXACT_UP_TO && nowMs >= kept.atMs && nowMs - kept.atMs < MEDIAN_REUSE_MS))
    ) {
      return kept.delayMs;
    }
    const median = this.#median(family);
    this.#medians[slot] = {
      delayMs: median.delayMs,
      samples: median.samples,
      changes: this.#rttChanges,
      atMs: nowMs,
    };
    return median.delayMs;
  }

  /** attemptDelayMs's median, computed, and how many samples it rests on. */
  #median(family: 4 | 6 | undefined): { delayMs: number; samples: number } {
    // Every dial asks this at its start, and most histories hold one sample of a family or none: counted
    // first, so the list the median needs is made only when there are two samples or more.
    let count = 0;
    let only = 0;
    for (const endpoint of this.#endpoints.values()) {
      if (Number.isNaN(endpoint.srttMs)) continue;
      if (family !== undefined && endpoint.family !== family) continue;
      count++;
      only = 2 * endpoint.srttMs + 4 * endpoint.rttvarMs;
    }
    if (count === 0) return { delayMs: this.options.defaultAttemptDelayMs, samples: 0 };
    if (count === 1) return { delayMs: this.#clampDelay(only), samples: 1 };
    const values: number[] = [];
    for (const endpoint of this.#endpoints.values()) {
      if (Number.isNaN(endpoint.srttMs)) continue;
      if (family !== undefined && endpoint.family !== family) continue;
      values.push(2 * endpoint.srttMs + 4 * endpoint.rttvarMs);
    }
    return { delayMs: this.#clampDelay(median(values)), samples: count };
  }

  /**
   * The Connection Attempt Delay to wait after starting an attempt to (address, port), ms, and what it rests on
   * (RFC 8305 §5: "should" come from RTT history; the closer the history, the better it predicts this handshake):
   * 1. the endpoint's own SRTT: 2·SRTT + 4·RTTVAR (see {@link attemptDelayMs} for why);
   * 2. else the median of that value over the endpoints of its network (same /24 or /64, any port);
   * 3. else the median over `sameName`, the other addresses of the name being dialled (same port; strings or
   *    candidates with an `address`, so a caller need not map its list): one service, usually one distance;
   * 4. else the Dialer-wide median ({@link attemptDelayMs} over every family);
   * 5. else `defaultAttemptDelayMs`, basis 'default'.
   * Clamped to [minAttemptDelayMs, maxAttemptDelayMs] and rounded to whole ms like {@link attemptDelayMs}.
   */
  attemptDelayFor(
    address: string,
    port: number,
    nowMs: number,
    sameName: ReadonlyArray<string | { readonly address: string }> = NO_NAMES,
  ): Readonly<{ delayMs: number; basis: AttemptDelayBasis }> {
    const key = checkEndpoint(address, port);
    checkNow(nowMs);
    const own = this.#endpoints.get(key);
    if (own !== undefined && !Number.isNaN(own.srttMs)) {
      // The usual case (the endpoint has its own RTT): one frozen answer per delay, shared by every dial
      // and endpoint with that delay (issue 16: no object per attempt).
      const delayMs = this.#clampDelay(2 * own.srttMs + 4 * own.rttvarMs);
      const last = this.#endpointDelay;
      if (last !== undefined && last.delayMs === delayMs) return last;
      const answer = Object.freeze({ delayMs, basis: 'endpoint' as const });
      this.#endpointDelay = answer;
      return answer;
    }
    const network = networkOf(address);
    const near: number[] = [];
    for (const endpoint of this.#endpoints.values()) {
      if (Number.isNaN(endpoint.srttMs) || endpoint.network !== network) continue;
      near.push(2 * endpoint.srttMs + 4 * endpoint.rttvarMs);
    }
    if (near.length > 0) return { delayMs: this.#clampDelay(median(near)), basis: 'network' };
    const siblings: number[] = [];
    for (const item of sameName) {
      const other = typeof item === 'string' ? item : item.address;
      const endpoint = other === address ? undefined : this.#endpoints.get(checkEndpoint(other, port));
      if (endpoint !== undefined && !Number.isNaN(endpoint.srttMs)) {
        siblings.push(2 * endpoint.srttMs + 4 * endpoint.rttvarMs);
      }
    }
    if (siblings.length > 0) return { delayMs: this.#clampDelay(median(siblings)), basis: 'name' };
    for (const endpoint of this.#endpoints.values()) {
      if (!Number.isNaN(endpoint.srttMs)) {
        return { delayMs: this.attemptDelayMs(undefined, nowMs), basis: 'dialer' };
      }
    }
    return { delayMs: this.options.defaultAttemptDelayMs, basis: 'default' };
  }

  #clampDelay(ms: number): number {
    const { minAttemptDelayMs, maxAttemptDelayMs } = this.options;
    return Math.round(Math.min(maxAttemptDelayMs, Math.max(minAttemptDelayMs, ms)));
  }

  /**
   * An attempt of dial `name` to `address` went unanswered (its socket was open longer than the winner's and
   * never connected) while `winner` connected. Learns about networks, not only addresses:
   * - winner in another network (/24, /64): the other addresses of `address`'s network, for `name`, are suspected
   *   ({@link isSuspected}) until one of them connects or `backoffMaxMs` passes;
   * - winner of the other family: counts against `address`'s family for `name`; after 2 such dials in a row
   *   that family is ranked second for the name ({@link deferredFamily}) until it connects or `backoffMaxMs`
   *   passes (as Apple's and Chromium's "IPv6 is broken here" state, but per name).
   * Recording the address's own failure is the caller's ({@link recordFailure}).
   */
  noteUnanswered(name: string, address: string, winner: string, nowMs: number): void {
    checkAddress(address);
    checkAddress(winner);
    checkNow(nowMs);
    const key = checkName(name);
    const network = networkOf(address);
    const untilMs = nowMs + this.options.backoffMaxMs;
    if (network !== networkOf(winner)) {
      const suspect = `${key}\n${network}`;
      this.#suspects.delete(suspect);
      this.#suspects.set(suspect, untilMs);
      trim(this.#suspects, this.options.maxEndpoints);
    }
    const family = isIP(address) === 6 ? 6 : 4;
    if (family !== (isIP(winner) === 6 ? 6 : 4)) {
      const held = this.#familyTrouble.get(key);
      const count = held?.family === family && held.untilMs > nowMs ? held.count + 1 : 1;
      this.#familyTrouble.delete(key);
      this.#familyTrouble.set(key, { family, count, untilMs });
      trim(this.#familyTrouble, this.options.maxEndpoints);
    }
  }

  /**
   * Dial `name` connected to `address`: its network and family are proven for the name (clears what
   * {@link noteUnanswered} suspected of them).
   */
  noteConnected(name: string, address: string): void {
    checkAddress(address);
    const key = checkName(name);
    if (this.#suspects.size === 0 && this.#familyTrouble.size === 0) return;
    this.#suspects.delete(`${key}\n${networkOf(address)}`);
    const family = isIP(address) === 6 ? 6 : 4;
    if (this.#familyTrouble.get(key)?.family === family) this.#familyTrouble.delete(key);
  }

  /**
   * Whether (address, port), for dial `name`, is in a network suspected at `nowMs` and has not proven itself
   * (its last recorded outcome is not a success). Suspects rank after the endpoints not suspected.
   */
  isSuspected(name: string, address: string, port: number, nowMs: number): boolean {
    const endpoint = checkEndpoint(address, port);
    checkNow(nowMs);
    if (this.#suspects.size === 0) return false;
    const suspect = `${checkName(name)}\n${networkOf(address)}`;
    const untilMs = this.#suspects.get(suspect);
    if (untilMs === undefined) return false;
    if (untilMs <= nowMs) {
      this.#suspects.delete(suspect);
      return false;
    }
    return this.#endpoints.get(endpoint)?.lastOutcome !== 'success';
  }

  /** The family ranked second for dial `name` at `nowMs` (see {@link noteUnanswered}), or undefined. */
  deferredFamily(name: string, nowMs: number): 4 | 6 | undefined {
    checkNow(nowMs);
    if (this.#familyTrouble.size === 0) return undefined;
    const held = this.#familyTrouble.get(checkName(name));
    if (held === undefined || held.untilMs <= nowMs || held.count < FAMILY_TROUBLE_THRESHOLD)
      return undefined;
    return held.family;
  }

  /** Forgets the endpoint. Returns whether it was remembered. */
  delete(address: string, port: number): boolean {
    const deleted = this.#endpoints.delete(checkEndpoint(address, port));
    if (deleted) this.#rttChanges++;
    return deleted;
  }

  /** Forgets all history (reachability, backoffs and RTTs): call it when the network changes. */
  forget(): void {
    this.#endpoints.clear();
    this.#medians.fill(undefined);
    this.#suspects.clear();
    this.#familyTrouble.clear();
  }

  /**
   * Exports the history as plain JSON for {@link EndpointHistory.fromJSON}, the same way as `DnsCache.toJSON`:
   * times relative to `nowMs` (this process's monotonic clock), the export instant stamped with `wallClockMs`
   * (a shared wall clock, e.g. `Date.now()`). Both are required; `JSON.stringify(history)` alone throws.
   * Only import into a process on the same network (see the module comment).
   */
  toJSON(nowMs: number, wallClockMs: number): EndpointHistoryJson {
    checkNow(nowMs, 'nowMs', ' (call history.toJSON(nowMs, wallClockMs) and stringify its result)');
    checkNow(wallClockMs, 'wallClockMs');
    const endpoints: EndpointHistoryJsonEntry[] = [];
    for (const endpoint of this.#endpoints.values()) {
      const out: EndpointHistoryJsonEntry = {
        address: endpoint.address,
        port: endpoint.port,
        lastOutcome: endpoint.lastOutcome,
        lastAgeMs: nowMs - endpoint.lastAtMs,
        consecutiveFailures: endpoint.consecutiveFailures,
      };
      if (endpoint.lastErrorCode !== undefined) out.lastErrorCode = endpoint.lastErrorCode;
      if (!Number.isNaN(endpoint.srttMs)) {
        out.srttMs = endpoint.srttMs;
        out.rttvarMs = endpoint.rttvarMs;
      }
      if (endpoint.lastOutcome === 'failure') out.backoffForMs = endpoint.backoffUntilMs - nowMs;
      endpoints.push(out);
    }
    return { version: 1, wallClockMs, endpoints };
  }

  /**
   * Builds a history from {@link EndpointHistory.toJSON} output. `nowMs` is this process's monotonic clock and
   * `wallClockMs` its wall clock now; the wall-clock time elapsed since export (never negative) ages every time, so
   * backoffs end when they would have. A remaining backoff is capped at this history's `backoffMaxMs`. When there
   * are more than `maxEndpoints`, the most recently recorded are kept.
   *
   * @throws TypeError ('ERR_NETDIAL_INVALID_ARGUMENT') naming the first malformed part of `json`;
   *   ('ERR_NETDIAL_INVALID_OPTION') for invalid `options`.
   */
  static fromJSON(
    json: unknown,
    nowMs: number,
    wallClockMs: number,
    options?: EndpointHistoryOptions,
  ): EndpointHistory {
    const history = new EndpointHistory(options);
    checkNow(nowMs);
    checkNow(wallClockMs, 'wallClockMs');
    if (typeof json !== 'object' || json === null) throw invalidArgument('`json` must be an object');
    const snapshot = json as Partial<EndpointHistoryJson>;
    if (snapshot.version !== 1) {
      throw invalidArgument(`\`json.version\` must be 1, got ${String(snapshot.version)}`);
    }
    checkNow(snapshot.wallClockMs as number, 'json.wallClockMs');
    if (!Array.isArray(snapshot.endpoints)) throw invalidArgument('`json.endpoints` must be an array');
    const elapsedMs = Math.max(0, wallClockMs - (snapshot.wallClockMs as number));
    snapshot.endpoints.forEach((raw: unknown, i: number) => {
      const at = `json.endpoints[${i}]`;
      if (typeof raw !== 'object' || raw === null) throw invalidArgument(`\`${at}\` must be an object`);
      const item = raw as EndpointHistoryJsonEntry;
      const key = checkEndpoint(item.address, item.port, `${at}.`);
      const number = (value: unknown, what: string, min = Number.NEGATIVE_INFINITY): number => {
        if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
          throw invalidArgument(`\`${at}.${what}\` must be a finite number >= ${min}, got ${String(value)}`);
        }
        return value;
      };
      if (item.lastOutcome !== 'success' && item.lastOutcome !== 'failure') {
        throw invalidArgument(`\`${at}.lastOutcome\` must be 'success' or 'failure'`);
      }
      const failures = number(item.consecutiveFailures, 'consecutiveFailures', 0);
      if (!Number.isInteger(failures) || (item.lastOutcome === 'failure') !== failures > 0) {
        throw invalidArgument(
          `\`${at}.consecutiveFailures\` must be an integer, > 0 exactly when lastOutcome is 'failure'`,
        );
      }
      const endpoint = history.#touch(key, item.address, item.port);
      endpoint.lastOutcome = item.lastOutcome;
      endpoint.lastAtMs = nowMs - number(item.lastAgeMs, 'lastAgeMs') - elapsedMs;
      endpoint.consecutiveFailures = failures;
      if (item.lastErrorCode !== undefined) {
        if (typeof item.lastErrorCode !== 'string' || item.lastErrorCode === '') {
          throw invalidArgument(`\`${at}.lastErrorCode\` must be a non-empty string`);
        }
        endpoint.lastErrorCode = item.lastErrorCode;
      }
      if (item.srttMs !== undefined) {
        endpoint.srttMs = number(item.srttMs, 'srttMs', 0);
        endpoint.rttvarMs = number(item.rttvarMs, 'rttvarMs', 0);
      }
      if (item.lastOutcome === 'failure') {
        const forMs = Math.min(number(item.backoffForMs, 'backoffForMs'), history.options.backoffMaxMs);
        endpoint.backoffUntilMs = nowMs + forMs - elapsedMs;
      }
    });
    return history;
  }

  /** The endpoint's record, made most recently used (created if new); evicts beyond `maxEndpoints`. */
  #touch(key: string, address: string, port: number): Endpoint {
    // Already the most recent (repeated dials of one endpoint): nothing moves. Every insertion goes through
    // here, so the last key touched, while still held, is at the newest end.
    if (key === this.#newestKey) {
      const newest = this.#endpoints.get(key);
      if (newest !== undefined) return newest;
    }
    this.#newestKey = key;
    let endpoint = this.#endpoints.get(key);
    if (endpoint === undefined) {
      endpoint = new Endpoint(address, port, isIP(address) === 6 ? 6 : 4);
    } else {
      // Map iteration order is insertion order: re-inserting moves the endpoint to the most-recent end.
      this.#endpoints.delete(key);
    }
    this.#endpoints.set(key, endpoint);
    while (this.#endpoints.size > this.options.maxEndpoints) {
      this.#endpoints.delete(this.#endpoints.keys().next().value as string);
      this.#rttChanges++;
    }
    return endpoint;
  }
}

/** The median of `values` (non-empty); sorts them. */
function median(values: number[]): number {
  values.sort((x, y) => x - y);
  const middle = values.length >> 1;
  return values.length % 2 === 1
    ? (values[middle] as number)
    : ((values[middle - 1] as number) + (values[middle] as number)) / 2;
}

/** Drops the oldest entries of an insertion-ordered map beyond `max`. */
function trim(map: Map<string, unknown>, max: number): void {
  while (map.size > max) map.delete(map.keys().next().value as string);
}

/**
 * The last name and endpoint validated, with their keys. A dial asks the history about one endpoint
 * several times (demoted? attempt delay? then its outcome): the same arguments are not parsed again, nor
 * their key built again (issue 16: the checks were a tenth of netdial's own time per cached dial). Only
 * arguments that passed are remembered, so every call is still checked.
 */
const NOTHING_CHECKED: unknown = Symbol('nothing checked yet');
let lastName: unknown = NOTHING_CHECKED;
let lastNameKey = '';
let lastAddress: unknown = NOTHING_CHECKED;
let lastPort: unknown = NOTHING_CHECKED;
let lastEndpointKey = '';

/** Validates a host name for the per-name state and returns its key (ASCII lower case, RFC 4343). */
function checkName(name: string): string {
  if (name === lastName) return lastNameKey;
  if (typeof name !== 'string' || name === '') {
    throw invalidArgument(`\`name\` must be a non-empty string, got ${String(name)}`);
  }
  lastNameKey = name.toLowerCase();
  lastName = name;
  return lastNameKey;
}

/**
 * Validates an address alone (per-name state is per network, not per port). The endpoint just validated
 * passes without a parse, and the endpoint key is left as it is: a dial's next endpoint call (its port,
 * not a stand-in one) still finds it (issue 16: `noteConnected` used to rebuild it twice per dial).
 */
function checkAddress(address: string): void {
  if (address === lastAddress) return;
  if (typeof address !== 'string' || isIP(address) === 0) {
    throw invalidArgument(`\`address\` must be an IP address literal, got ${String(address)}`);
  }
}

/** Validates an endpoint and returns its map key (port first: IPv6 addresses contain colons). */
function checkEndpoint(address: string, port: number, prefix = ''): string {
  if (address === lastAddress && port === lastPort) return lastEndpointKey;
  if (typeof address !== 'string' || isIP(address) === 0) {
    throw invalidArgument(`\`${prefix}address\` must be an IP address literal, got ${String(address)}`);
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidArgument(`\`${prefix}port\` must be an integer in 1–65535, got ${String(port)}`);
  }
  lastEndpointKey = port + ' ' + address;
  lastAddress = address;
  lastPort = port;
  return lastEndpointKey;
}

function checkNow(value: number, what = 'nowMs', hint = ''): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalidArgument(`\`${what}\` must be a finite number of milliseconds, got ${String(value)}${hint}`);
  }
}

function validateOptions(options: EndpointHistoryOptions | undefined): EndpointHistoryConfig {
  if (options === undefined) return ENDPOINT_HISTORY_DEFAULTS;
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('options', `Expected \`options\` to be an object, got ${String(options)}`);
  }
  const config = { ...ENDPOINT_HISTORY_DEFAULTS };
  for (const key of Object.keys(ENDPOINT_HISTORY_DEFAULTS) as (keyof EndpointHistoryConfig)[]) {
    const value = Object.hasOwn(options, key) ? options[key] : undefined; // own only: never Object.prototype's
    if (value === undefined) continue;
    const integer = key === 'maxEndpoints';
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (integer ? Number.isInteger(value) && value >= 1 : value >= 0);
    if (!ok) {
      const expected = integer ? 'an integer >= 1' : 'a finite number of milliseconds >= 0';
      throw invalidOption(key, `Expected \`${key}\` to be ${expected}, got ${String(value)}`);
    }
    config[key] = value;
  }
  const order = (low: keyof EndpointHistoryConfig, high: keyof EndpointHistoryConfig, blame = low): void => {
    if (config[low] > config[high]) {
      throw invalidOption(
        blame,
        `Expected \`${low}\` (${config[low]}) to be <= \`${high}\` (${config[high]})`,
      );
    }
  };
  if (config.minAttemptDelayMs < 10) {
    throw invalidOption(
      'minAttemptDelayMs',
      `Expected \`minAttemptDelayMs\` to be >= 10 (RFC 8305 §5), got ${config.minAttemptDelayMs}`,
    );
  }
  order('backoffBaseMs', 'backoffMaxMs');
  order('minAttemptDelayMs', 'maxAttemptDelayMs');
  order('minAttemptDelayMs', 'defaultAttemptDelayMs', 'defaultAttemptDelayMs');
  order('defaultAttemptDelayMs', 'maxAttemptDelayMs');
  return Object.freeze(config);
}
