/**
 * What a Dialer remembers between dials: DNS answers (TTL-correct, with serve-stale) and, per endpoint,
 * how the last connects went (failures with backoff, smoothed RTT). Plain data structures on the caller's
 * clock; the Dialer owns one, `new Dialer({ memory: false })` has none, and two Dialers can share one.
 */
import { inputError } from '../errors.js';
import { ownCopy } from '../option-names.js';
import { DnsCache, type DnsCacheJson, type DnsCacheOptions } from './dns-cache.js';
import {
  EndpointHistory,
  type EndpointHistoryJson,
  type EndpointHistoryOptions,
} from './endpoint-history.js';
import { DEFAULT_EXPLORE_PROBABILITY, DEFAULT_RTT_LEEWAY_MS } from './history-order.js';
import { createRandom, type RandomSource } from './random.js';
import { FleetSync } from '../fleet/fleet-sync.js';
import type { MemoryStore } from './memory-store.js';
import { existingServiceRecordCacheOf, serviceRecordCacheOf } from '../resolution/service-lookup.js';
import { loadServiceRecords, type ServiceRecordsJson, serviceRecordsToJson } from './service-records-json.js';

export interface MemoryOptions {
  /** DNS cache settings (TTL clamps, negative and error TTLs, serve-stale limits, size). */
  dns?: DnsCacheOptions | undefined;
  /** Endpoint history settings (backoff, attempt-delay clamps, size). */
  endpoints?: EndpointHistoryOptions | undefined;
  /** Chance, per dial, that one demoted endpoint is tried in its natural place anyway. Default 1/20. */
  exploreProbability?: number | undefined;
  /** Endpoints whose smoothed RTTs differ by at most this many ms count as equal. Default 10. */
  rttLeewayMs?: number | undefined;
  /**
   * Shuffle equivalent endpoints per dial so connections spread over the whole answer set (load
   * sharing). Default true; false keeps DNS order among equals (deterministic, e.g. for demos).
   */
  loadSharing?: boolean | undefined;
  /** Seed of the random source that shuffles equal endpoints (load sharing); default: random. For tests. */
  seed?: number | undefined;
  /**
   * Fleet memory: share endpoint observations (failures with their backoff, successes with their RTT) with
   * every Dialer on the same store — worker threads (`BroadcastMemoryStore`), processes and hosts
   * (`RedisMemoryStore` from 'netdial/redis'), or your own {@link MemoryStore}. Exploration stays local.
   */
  store?: MemoryStore | undefined;
  /**
   * With `store`: share DNS answers too — each A/AAAA answer this memory caches travels with its
   * remaining TTL, and peers' answers are cached here with theirs (never longer, never over a fresher
   * answer of this memory's own), so a name one worker resolved costs the others no DNS query. Default
   * false: a host name can be private information (which services a process talks to), and all peers
   * must share one DNS view (same servers, same split horizon) for their answers to be valid here.
   */
  shareDns?: boolean | undefined;
}

export interface MemoryJson {
  version: 1;
  dns: DnsCacheJson;
  endpoints: EndpointHistoryJson;
  /** SRV/HTTPS/SVCB answers (see service-records-json.ts); absent when there are none. */
  services?: ServiceRecordsJson | undefined;
}

export class DialMemory {
  readonly dns: DnsCache;
  readonly endpoints: EndpointHistory;
  readonly random: RandomSource;
  readonly exploreProbability: number;
  readonly rttLeewayMs: number;
  readonly loadSharing: boolean;
  /** The link to `options.store` (fleet memory); undefined without a store. */
  readonly fleet: FleetSync | undefined;

  constructor(given: MemoryOptions = {}, state?: { dns: DnsCache; endpoints: EndpointHistory }) {
    // Own properties only (null-prototype copy): an option not given must not come from a polluted
    // Object.prototype (`new Dialer()` makes its memory from a plain `{}`).
    const options = ownCopy(given) as MemoryOptions;
    const explore = options.exploreProbability ?? DEFAULT_EXPLORE_PROBABILITY;
    if (typeof explore !== 'number' || !(explore >= 0 && explore <= 1)) {
      throw inputError(
        'ERR_NETDIAL_INVALID_OPTION',
        `invalid option memory.exploreProbability: expected 0 to 1, got ${explore}`,
      );
    }
    const leeway = options.rttLeewayMs ?? DEFAULT_RTT_LEEWAY_MS;
    if (typeof leeway !== 'number' || !(leeway >= 0 && Number.isFinite(leeway))) {
      throw inputError(
        'ERR_NETDIAL_INVALID_OPTION',
        `invalid option memory.rttLeewayMs: expected a number >= 0, got ${leeway}`,
      );
    }
    this.dns = state?.dns ?? new DnsCache(options.dns);
    this.endpoints = state?.endpoints ?? new EndpointHistory(options.endpoints);
    this.random = createRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.exploreProbability = explore;
    this.rttLeewayMs = leeway;
    this.loadSharing = options.loadSharing !== false;
    const store = options.store;
    if (store !== undefined) {
      const s = store as Partial<MemoryStore> | null;
      if (
        typeof s !== 'object' ||
        s === null ||
        typeof s.publish !== 'function' ||
        typeof s.subscribe !== 'function'
      ) {
        throw inputError(
          'ERR_NETDIAL_INVALID_OPTION',
          'invalid option memory.store: expected a MemoryStore (an object with publish() and subscribe())',
        );
      }
      if (s.load !== undefined && typeof s.load !== 'function') {
        throw inputError(
          'ERR_NETDIAL_INVALID_OPTION',
          'invalid option memory.store: load must be a function',
        );
      }
    }
    const shareDns = options.shareDns ?? false;
    if (typeof shareDns !== 'boolean') {
      throw inputError(
        'ERR_NETDIAL_INVALID_OPTION',
        `invalid option memory.shareDns: expected a boolean, got ${String(shareDns)}`,
      );
    }
    if (shareDns && store === undefined) {
      throw inputError(
        'ERR_NETDIAL_INVALID_OPTION',
        'invalid option memory.shareDns: sharing DNS answers needs memory.store (a MemoryStore)',
      );
    }
    this.fleet =
      store === undefined
        ? undefined
        : new FleetSync(store, this.endpoints, {}, shareDns ? this.dns : undefined);
  }

  /** Stops sharing with the store (unsubscribes, drops unsent observations); the memory itself carries on. */
  detachStore(): void {
    this.fleet?.close();
  }

  /**
   * Plain JSON for persisting or sharing. `nowMs` is the clock the memory was fed with (the Dialer's:
   * `performance.now()`), `wallClockMs` the wall clock (`Date.now()`) that makes the times portable.
   */
  toJSON(nowMs: number, wallClockMs: number): MemoryJson {
    const json: MemoryJson = {
      version: 1,
      dns: this.dns.toJSON(nowMs, wallClockMs),
      endpoints: this.endpoints.toJSON(nowMs, wallClockMs),
    };
    const serviceCache = existingServiceRecordCacheOf(this.dns);
    const services = serviceCache && serviceRecordsToJson(serviceCache, nowMs, wallClockMs);
    if (services !== undefined && services.entries.length > 0) json.services = services;
    return json;
  }

  static fromJSON(
    json: MemoryJson,
    nowMs: number,
    wallClockMs: number,
    given: MemoryOptions = {},
  ): DialMemory {
    const options = ownCopy(given) as MemoryOptions; // own properties only, as the constructor
    if (typeof json !== 'object' || json === null || json.version !== 1) {
      throw inputError(
        'ERR_NETDIAL_INVALID_OPTION',
        'invalid memory JSON: expected an object with version 1',
      );
    }
    const dns = DnsCache.fromJSON(json.dns, nowMs, wallClockMs, options.dns);
    if (Object.hasOwn(json, 'services') && json.services !== undefined) {
      loadServiceRecords(json.services, serviceRecordCacheOf(dns), nowMs, wallClockMs);
    }
    return new DialMemory(options, {
      dns,
      endpoints: EndpointHistory.fromJSON(json.endpoints, nowMs, wallClockMs, options.endpoints),
    });
  }
}
