/**
 * Fleet memory's shell: connects one Dialer memory's endpoint history to a {@link MemoryStore}.
 *
 * - Out: every outcome the history records becomes an observation (endpoint, outcome, wall-clock time,
 *   id). Observations wait in a queue holding one per endpoint (the newest) and leave in one batch per
 *   100 ms (coalesced), from an unref'd timer — never on a dial's path. The queue is bounded: beyond
 *   `maxQueued` endpoints the oldest are dropped and counted. A failed or slow publish (5 s) is retried
 *   after 1 s with what has not been superseded meanwhile.
 * - In: batches from peers (and the newcomer's `load`) are validated item by item (fleet-observation.ts);
 *   an observation newer than anything known of its endpoint is adopted into the history
 *   (`EndpointHistory.adoptPeer`): the merge rule, newest per endpoint wins, is the pure one of
 *   fleet-observation.ts.
 * - Warm start: `load` is asked for at most `maxEndpoints` observations at once; dials wait for it at most
 *   `warmupMs` (50 ms); an answer arriving later is merged when it comes.
 * - Wall-clock times are made monotonic per endpoint: a local observation is stamped at least 1 ms after
 *   the newest one known of its endpoint, so a peer whose clock runs a little ahead (at most 60 s, see
 *   OBSERVATION_LIMITS) cannot make a later local outcome look older than the peer's.
 *
 * - DNS answers (only with `shareDns`, i.e. when a DnsCache is passed): each positive answer the cache
 *   stores with a TTL becomes a DNS observation (dns-observation.ts: name, family, addresses, expiry on
 *   the observer's wall clock) that travels in the same coalesced, bounded batches, one per (name, family)
 *   per window; a peer's newer one is adopted into the cache with what is left of its TTL
 *   (`DnsCache.adoptPeer`: never extended, never over a fresher local answer, not echoed back). Without
 *   `shareDns` no name leaves the process and DNS observations received are ignored.
 *
 * Nothing here ever throws into a dial or rejects a dial: store trouble is reported on the
 * `netdial:memory:*` diagnostics channels and counted in {@link FleetSync.stats}.
 */
import { publish } from '../diagnostics.js';
import type { EndpointHistory, EndpointObserver } from '../memory/endpoint-history.js';
import {
  type EndpointObservation,
  OBSERVATION_LIMITS,
  isNewer,
  observationKey,
  parseObservation,
  verdictOf,
} from '../memory/fleet-observation.js';
import type { FleetObservation, MemoryStore } from '../memory/memory-store.js';
import type { DnsCache, DnsRecordType } from '../memory/dns-cache.js';
import {
  type DnsObservation,
  dnsObservationKey,
  isDnsItem,
  isNewerDns,
  normaliseDnsName,
  parseDnsObservation,
  remainingTtlMs,
} from '../memory/dns-observation.js';

export type { FleetObservation } from '../memory/memory-store.js';

function keyOf(o: FleetObservation): string {
  return 'kind' in o ? dnsObservationKey(o) : observationKey(o);
}

/** Tuning of a {@link FleetSync}; the defaults are the documented behaviour. */
export interface FleetSyncSettings {
  /** Longest a dial waits for the newcomer's load, ms. */
  warmupMs: number;
  /** Publish at most once per this many ms (one observation per endpoint per window). */
  coalesceMs: number;
  /** Most observations waiting to be published; the oldest are dropped beyond it. */
  maxQueued: number;
  /** Wait after a failed publish before trying again, ms. */
  retryMs: number;
  /** A publish not settled after this long counts as failed, ms. */
  publishTimeoutMs: number;
  /** Most entries of one received batch looked at; the rest are rejected. */
  maxBatch: number;
}

export const FLEET_SYNC_DEFAULTS: FleetSyncSettings = Object.freeze({
  warmupMs: 50,
  coalesceMs: 100,
  maxQueued: 1024,
  retryMs: 1000,
  publishTimeoutMs: 5000,
  maxBatch: 10_000,
});

/** Counters of a {@link FleetSync}, for tests and diagnostics. */
export interface FleetSyncStats {
  /** Observations handed to `store.publish` and acknowledged. */
  published: number;
  /** Valid observations received (live and loaded). */
  received: number;
  /** Received observations that were newer than what was known and took effect here. */
  adopted: number;
  /** Received entries ignored as malformed or implausible (including non-batch messages). */
  rejected: number;
  /** Observations dropped from the full publish queue. */
  dropped: number;
  /** Store operations that failed (publish, load, or an error the store reported). */
  errors: number;
}

/** The code built-in stores reject `publish` with once closed: the sync then stops for good. */
export const STORE_CLOSED = 'ERR_NETDIAL_STORE_CLOSED';

export class FleetSync {
  readonly #store: MemoryStore;
  readonly #history: EndpointHistory;
  readonly #settings: FleetSyncSettings;
  /** Random per sync (not per host or request): tells observations apart, identifies nothing. */
  readonly #origin = randomOrigin();
  #sequence = 0;
  /** Newest observation known per endpoint (local or a peer's); LRU-bounded like the history. */
  readonly #known = new Map<string, EndpointObservation>();
  /** With `shareDns`: the cache whose answers are shared, and the newest observation per (name, family). */
  readonly #dns: DnsCache | undefined;
  readonly #knownDns = new Map<string, DnsObservation>();
  /** Waiting to be published, one per endpoint or (name, family), oldest first. */
  #queue = new Map<string, FleetObservation>();
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;
  #closed = false;
  #unsubscribe: () => void = () => {};
  #warming: Promise<void> | undefined;
  readonly stats: FleetSyncStats = {
    published: 0,
    received: 0,
    adopted: 0,
    rejected: 0,
    dropped: 0,
    errors: 0,
  };

  /** `dns`: the DnsCache whose answers are shared too (`shareDns`); undefined shares endpoints only. */
  constructor(
    store: MemoryStore,
    history: EndpointHistory,
    settings: Partial<FleetSyncSettings> = {},
    dns?: DnsCache,
  ) {
    this.#store = store;
    this.#history = history;
    this.#dns = dns;
    this.#settings = { ...FLEET_SYNC_DEFAULTS, ...settings };
    history.setObserver(this.#onLocal);
    dns?.setObserver(this.#onLocalDns);
    this.#subscribe(store);
    if (typeof store.load === 'function') this.#warming = this.#load(store.load.bind(store));
  }

  /**
   * While the newcomer's load is pending (at most `warmupMs` after construction): a promise that settles
   * when the load was merged or the bound passed; never rejects. Undefined afterwards (dials go straight on).
   */
  get warming(): Promise<void> | undefined {
    return this.#warming;
  }

  /**
   * What a dial waits on while the load is pending: `warming`, holding the event loop while it waits.
   * The load's own timers and the store's channel are unref'd so an idle Dialer never keeps a process
   * alive; a dial in progress must (as its socket would), or a script whose only work is its first dial
   * exits before the dial starts.
   */
  waitForWarmup(): Promise<void> | undefined {
    const warming = this.#warming;
    if (warming === undefined) return undefined;
    const hold = setTimeout(() => {}, this.#settings.warmupMs + 1000);
    return warming.then(() => clearTimeout(hold));
  }

  /** Stops sharing: unsubscribes, drops the queue, detaches from the history. Local memory carries on. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.clear();
    this.#history.setObserver(undefined);
    this.#dns?.setObserver(undefined);
    this.#callUnsubscribe(this.#unsubscribe);
  }

  /**
   * Subscribes to the store. A store whose `subscribe` throws, or returns a rejected promise, is reported
   * like its other failures (`netdial:memory:error`, operation 'subscribe'; counted in `stats.errors`) and
   * never fails `new Dialer()`: the Dialer then works with local memory, publishing and loading as before,
   * without live updates. An unsubscribe function delivered by a promise (an async `subscribe`) is taken
   * when it arrives (and called at once if the sync was closed meanwhile).
   */
  #subscribe(store: MemoryStore): void {
    let returned: unknown;
    try {
      returned = store.subscribe(
        (batch) => this.#receive(batch, 'receive'),
        (error) => this.#error('store', error),
      );
    } catch (error) {
      this.#error('subscribe', error);
      return;
    }
    if (typeof returned === 'function') {
      this.#unsubscribe = returned as () => void;
      return;
    }
    if (typeof returned !== 'object' || returned === null) return; // nothing to unsubscribe with
    const adopt = (value: unknown) => {
      if (typeof value !== 'function') return;
      if (this.#closed) this.#callUnsubscribe(value as () => void);
      else this.#unsubscribe = value as () => void;
    };
    // A promise (or any thenable) of the unsubscribe function: Promise.resolve turns a throwing `then`
    // getter, a throwing `then` and a rejection alike into a rejection, reported once.
    Promise.resolve(returned).then(adopt, (error: unknown) => this.#error('subscribe', error));
  }

  #callUnsubscribe(unsubscribe: () => void): void {
    try {
      unsubscribe();
    } catch (error) {
      this.#error('store', error);
    }
  }

  #load(load: (limit: number) => Promise<unknown>): Promise<void> {
    const startedMs = performance.now();
    const { warmupMs } = this.#settings;
    let answer: Promise<unknown>;
    try {
      const dnsLimit = this.#dns === undefined ? 0 : 2 * this.#dns.options.maxNames;
      answer = Promise.resolve(load(this.#history.options.maxEndpoints + dnsLimit));
    } catch (error) {
      answer = Promise.reject(error);
    }
    const merged = answer.then(
      (batch) => {
        if (this.#closed) return;
        const durationMs = performance.now() - startedMs;
        this.#receive(batch, 'load', durationMs, durationMs > warmupMs);
      },
      (error) => this.#error('load', error),
    );
    return new Promise<void>((resolve) => {
      const bound = setTimeout(resolve, warmupMs);
      bound.unref();
      const done = () => {
        clearTimeout(bound);
        resolve();
      };
      merged.then(done, done);
    }).then(() => {
      this.#warming = undefined;
    });
  }

  /** The history's observer: one local outcome becomes an observation queued for publishing. */
  readonly #onLocal: EndpointObserver = (address, port, failure, rttMs) => {
    if (this.#closed || address.includes('%')) return; // a zone is meaningless elsewhere
    const key = `${port} ${address}`;
    const held = this.#known.get(key);
    let wallClockMs = Date.now();
    if (held !== undefined && held.wallClockMs >= wallClockMs) wallClockMs = held.wallClockMs + 1;
    const id = `${this.#origin}.${++this.#sequence}`;
    const o: EndpointObservation =
      failure === undefined
        ? { address, port, outcome: 'success', wallClockMs, id, rttMs }
        : {
            address,
            port,
            outcome: 'failure',
            wallClockMs,
            id,
            code: failure.code,
            failures: failure.failures,
            backoffMs: failure.backoffMs,
          };
    this.#remember(key, o);
    this.#enqueue(key, o);
  };

  /** The DNS cache's observer (`shareDns`): one positive answer becomes a DNS observation queued for publishing. */
  readonly #onLocalDns = (
    name: string,
    type: DnsRecordType,
    addresses: readonly string[],
    ttlSeconds: number,
  ) => {
    if (this.#closed) return;
    const shared = normaliseDnsName(name);
    // Not a plain host name, or a zoned address: stays here (a peer would reject it anyway).
    if (shared === undefined || addresses.some((a) => a.includes('%'))) return;
    const family = type === 'AAAA' ? 6 : 4;
    const key = dnsObservationKey({ name: shared, family });
    const held = this.#knownDns.get(key);
    let wallClockMs = Date.now();
    if (held !== undefined && held.wallClockMs >= wallClockMs) wallClockMs = held.wallClockMs + 1;
    const o: DnsObservation = {
      kind: 'dns',
      name: shared,
      family,
      addresses: [...addresses],
      ttlSeconds,
      wallClockMs,
      expiresAtMs: wallClockMs + ttlSeconds * 1000,
      id: `${this.#origin}.${++this.#sequence}`,
    };
    this.#rememberDns(key, o);
    this.#enqueue(key, o);
  };

  #enqueue(key: string, o: FleetObservation): void {
    this.#queue.delete(key);
    this.#queue.set(key, o);
    this.#trimQueue();
    this.#schedule(this.#settings.coalesceMs);
  }

  #rememberDns(key: string, o: DnsObservation): void {
    this.#knownDns.delete(key);
    this.#knownDns.set(key, o);
    const max = 2 * (this.#dns?.options.maxNames ?? 0);
    while (this.#knownDns.size > max) this.#knownDns.delete(this.#knownDns.keys().next().value as string);
  }

  #remember(key: string, o: EndpointObservation): void {
    this.#known.delete(key);
    this.#known.set(key, o);
    const max = this.#history.options.maxEndpoints;
    while (this.#known.size > max) this.#known.delete(this.#known.keys().next().value as string);
  }

  #trimQueue(): void {
    let dropped = 0;
    while (this.#queue.size > this.#settings.maxQueued) {
      this.#queue.delete(this.#queue.keys().next().value as string);
      dropped++;
    }
    if (dropped === 0) return;
    this.stats.dropped += dropped;
    const totalDropped = this.stats.dropped;
    publish('netdial:memory:drop', () => ({ dropped, totalDropped }));
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, delayMs);
    this.#timer.unref();
  }

  #flush(): void {
    if (this.#closed || this.#inFlight || this.#queue.size === 0) return;
    const batch = [...this.#queue.values()];
    this.#queue = new Map();
    this.#inFlight = true;
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timeout = setTimeout(
        () => reject(new Error(`store.publish did not settle within ${this.#settings.publishTimeoutMs} ms`)),
        this.#settings.publishTimeoutMs,
      );
      timeout.unref();
    });
    let sent: Promise<unknown>;
    try {
      sent = Promise.race([Promise.resolve(this.#store.publish(batch)), timedOut]);
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      () => {
        clearTimeout(timeout);
        this.#inFlight = false;
        this.stats.published += batch.length;
        publish('netdial:memory:sync', () => ({ direction: 'publish', observations: batch.length }));
        if (this.#queue.size > 0) this.#schedule(this.#settings.coalesceMs);
      },
      (error: unknown) => {
        clearTimeout(timeout);
        this.#inFlight = false;
        this.#error('publish', error);
        if ((error as { code?: unknown } | null)?.code === STORE_CLOSED) {
          this.close();
          return;
        }
        // Put back what was not superseded while the publish was out, ahead of the newer entries.
        const queue = new Map<string, FleetObservation>();
        for (const o of batch) {
          const key = keyOf(o);
          if (!this.#queue.has(key)) queue.set(key, o);
        }
        for (const [key, o] of this.#queue) queue.set(key, o);
        this.#queue = queue;
        this.#trimQueue();
        this.#schedule(this.#settings.retryMs);
      },
    );
  }

  /** Merges a batch from peers or from `load`: validates each entry, adopts the newer ones. */
  #receive(batch: unknown, direction: 'receive' | 'load', durationMs?: number, late?: boolean): void {
    if (this.#closed) return;
    if (!Array.isArray(batch)) {
      this.stats.rejected++;
      this.#error('receive', new TypeError('a store message that is not an array of observations'));
      return;
    }
    const nowWallMs = Date.now();
    const nowMs = performance.now();
    const { maxBatch } = this.#settings;
    let valid = 0;
    let adopted = 0;
    let rejected = Math.max(0, batch.length - maxBatch);
    const n = Math.min(batch.length, maxBatch);
    for (let i = 0; i < n; i++) {
      if (isDnsItem(batch[i])) {
        // Without shareDns a peer's DNS answer is not for this memory: skipped, neither parsed nor kept.
        if (this.#dns === undefined) continue;
        const d = this.#receiveDns(batch[i], nowWallMs, nowMs);
        if (d === 'rejected') rejected++;
        else {
          valid++;
          if (d === 'adopted') adopted++;
        }
        continue;
      }
      const o = parseObservation(batch[i], nowWallMs);
      if (o === undefined) {
        rejected++;
        continue;
      }
      valid++;
      const key = observationKey(o);
      const held = this.#known.get(key);
      if (held !== undefined && !isNewer(o, held)) continue;
      const verdict = verdictOf(o, nowWallMs);
      this.#remember(key, o);
      if (verdict === undefined) continue; // a failure whose backoff is over says nothing about now
      // Never publish back: the observation is the peer's, already in the store.
      this.#queue.delete(key);
      this.#history.adoptPeer(o.address, o.port, verdict, nowMs);
      adopted++;
    }
    this.stats.received += valid;
    this.stats.adopted += adopted;
    this.stats.rejected += rejected;
    publish('netdial:memory:sync', () => ({
      direction,
      observations: valid,
      adopted,
      rejected,
      durationMs,
      late,
    }));
  }

  /** One DNS item of a batch (shareDns on): validated against the cache's bounds, adopted when newer. */
  #receiveDns(item: unknown, nowWallMs: number, nowMs: number): 'rejected' | 'known' | 'adopted' {
    const cache = this.#dns as DnsCache;
    const o = parseDnsObservation(item, nowWallMs, {
      maxTtlSeconds: cache.options.maxTtlSeconds,
      maxAddresses: cache.options.maxAddressesPerName,
      maxFutureMs: OBSERVATION_LIMITS.maxFutureMs,
    });
    if (o === undefined) return 'rejected';
    const key = dnsObservationKey(o);
    const held = this.#knownDns.get(key);
    if (held !== undefined && !isNewerDns(o, held)) return 'known';
    this.#rememberDns(key, o);
    // Never publish back: the observation is the peer's, already in the store.
    this.#queue.delete(key);
    const type = o.family === 6 ? 'AAAA' : 'A';
    try {
      const taken = cache.adoptPeer(
        o.name,
        type,
        o.addresses,
        remainingTtlMs(o, nowWallMs),
        o.ttlSeconds,
        nowMs,
      );
      return taken ? 'adopted' : 'known';
    } catch {
      return 'rejected'; // validated above; a cache refusing it anyway is not a reason to throw into a store
    }
  }

  #error(operation: 'publish' | 'load' | 'receive' | 'store' | 'subscribe', error: unknown): void {
    if (operation !== 'receive') this.stats.errors++;
    publish('netdial:memory:error', () => ({
      operation,
      error,
      message: describeStoreError(error),
    }));
  }
}

/** One line for what a store threw: its message, or the value as text (never throws: a store is input). */
function describeStoreError(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return 'the store failed with a value that cannot be shown';
  }
}

/** 16 random base-36 digits (about 80 bits): unique enough for observation ids, not a secret. */
function randomOrigin(): string {
  let out = '';
  for (let i = 0; i < 4; i++)
    out += Math.floor(Math.random() * 36 ** 4)
      .toString(36)
      .padStart(4, '0');
  return out;
}
