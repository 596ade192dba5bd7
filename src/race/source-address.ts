/**
 * Finds the source address the kernel would use to reach a destination, for RFC 6724 §6 rules 1, 2, 5
 * and 9 (see `sort.ts`), without sending a packet: connecting a UDP socket only selects a route and a
 * local address. A destination with no route yields `null` (RFC 6724 rule 1 "unusable").
 *
 * This is the I/O shell; the decisions live in the pure `sort.ts`.
 */
import type * as dgram from 'node:dgram';
import { dgram as nodeDgram } from '../builtins.js';
import { ipVersion, literalOnlyLookup } from '../resolution/ip-zone.js';
import type { Family } from '../types.js';
import { AttemptSlots } from './attempt-slots.js';

/** Port given to connect(); any port works since nothing is sent (9 = discard). */
const PROBE_PORT = 9;

/** Default of {@link SourceAddressProbeOptions.ttlMs}. */
const DEFAULT_TTL_MS = 5000;
/** Default of {@link SourceAddressProbeOptions.maxEntries}. */
const DEFAULT_MAX_ENTRIES = 1024;
/** Default of {@link SourceAddressProbeOptions.maxConcurrentProbes}. */
const DEFAULT_MAX_CONCURRENT_PROBES = 8;

/** Options of {@link SourceAddressProbe}. */
export interface SourceAddressProbeOptions {
  /** How long a probe result (address or `null`) is reused, in ms of the caller's clock. Default 5000. */
  ttlMs?: number;
  /** Most results kept; beyond it the oldest result is dropped. Default 1024. */
  maxEntries?: number;
  /**
   * Probe sockets open at once, across every caller of this probe; further probes wait for one to close.
   * A probe takes well under a millisecond, so a small pool costs nothing, while one socket per address
   * at once runs a process out of file descriptors on a large answer (EMFILE). Default 8.
   */
  maxConcurrentProbes?: number;
  /**
   * Creates the UDP socket for one probe; useful for tests (counting sockets). It must pass `options`
   * through to `dgram.createSocket`, whose `lookup` refuses anything but IP literals so that a probe never
   * resolves a name. Default: `dgram.createSocket`.
   */
  createSocket?: (options: dgram.SocketOptions) => dgram.Socket;
}

interface CacheEntry {
  sourceAddress: string | null;
  /** Caller's clock when the probe that produced this entry started, in ms. */
  probedAtMs: number;
}

function invalidOption(what: string, expected: string, value: unknown): TypeError {
  const shown = typeof value === 'function' ? 'a function' : (JSON.stringify(value) ?? String(value));
  return Object.assign(new TypeError(`${what}: expected ${expected}, got ${shown}`), {
    code: 'ERR_NETDIAL_INVALID_OPTION',
  });
}

/**
 * Connects one UDP socket to `address` and reads the local address the kernel picked. Resolves `null` on
 * any failure (ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, EINVAL, EAFNOSUPPORT, …). Resolves only after the
 * socket is closed, so nothing outlives the probe.
 */
function probeOne(
  address: string,
  family: Family,
  createSocket: (options: dgram.SocketOptions) => dgram.Socket,
): Promise<string | null> {
  return new Promise((resolve) => {
    let socket: dgram.Socket | undefined;
    let settled = false;
    const finish = (sourceAddress: string | null): void => {
      if (settled) return;
      settled = true;
      if (socket === undefined) {
        resolve(sourceAddress);
        return;
      }
      try {
        socket.close(() => resolve(sourceAddress));
      } catch {
        // Already closed (ERR_SOCKET_DGRAM_NOT_RUNNING): nothing left to wait for.
        resolve(sourceAddress);
      }
    };
    try {
      socket = createSocket({ type: family === 4 ? 'udp4' : 'udp6', lookup: literalOnlyLookup });
      const connected = socket;
      connected.on('error', () => finish(null));
      connected.connect(PROBE_PORT, address, (error?: Error) => {
        if (error) {
          finish(null);
          return;
        }
        try {
          finish(connected.address().address);
        } catch {
          finish(null);
        }
      });
    } catch {
      finish(null);
    }
  });
}

/**
 * Finds, per destination, the local address the kernel would use to reach it (`null` = no route), by
 * connecting a UDP socket — no packet is sent. Results are cached for `ttlMs` of the caller's clock and
 * the cache holds at most `maxEntries` results (oldest dropped first). Call `clear()` when the network
 * changes.
 * @throws TypeError (`code` 'ERR_NETDIAL_INVALID_OPTION') for a `ttlMs` that is not a finite number ≥ 0,
 *   a `maxEntries` that is not a positive integer, or a `createSocket` that is not a function.
 */
export class SourceAddressProbe {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #createSocket: (options: dgram.SocketOptions) => dgram.Socket;
  /** Places for probe sockets (`maxConcurrentProbes`): the same bound-and-queue as the Dialer's attempts. */
  readonly #slots: AttemptSlots;
  /** Insertion order = age order, so the first key is the oldest entry. */
  readonly #cache = new Map<string, CacheEntry>();
  /** Probes running now, shared by concurrent callers. */
  readonly #inFlight = new Map<string, Promise<string | null>>();
  /** Bumped by clear(): results of probes started before it are not cached. */
  #generation = 0;

  constructor(options: SourceAddressProbeOptions = {}) {
    const {
      ttlMs = DEFAULT_TTL_MS,
      maxEntries = DEFAULT_MAX_ENTRIES,
      createSocket = nodeDgram.createSocket,
      maxConcurrentProbes = DEFAULT_MAX_CONCURRENT_PROBES,
    } = options;
    if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 0) {
      throw invalidOption('options.ttlMs', 'a finite number of ms >= 0', ttlMs);
    }
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw invalidOption('options.maxEntries', 'a positive integer', maxEntries);
    }
    if (typeof createSocket !== 'function') {
      throw invalidOption('options.createSocket', 'a function', createSocket);
    }
    if (!Number.isInteger(maxConcurrentProbes) || maxConcurrentProbes < 1) {
      throw invalidOption('options.maxConcurrentProbes', 'a positive integer', maxConcurrentProbes);
    }
    this.#slots = new AttemptSlots(maxConcurrentProbes);
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
    this.#createSocket = createSocket;
  }

  /**
   * Source address per distinct input address (`null` = unreachable, or not an IP literal of the given
   * family). Each address is probed at most once, at most `maxConcurrentProbes` sockets at a time; a cached result younger than `ttlMs`
   * (0 ≤ nowMs − probedAtMs < ttlMs) is reused without opening a socket. `nowMs` is the caller's clock in
   * ms. Resolves once every socket it opened is closed; never rejects.
   * @throws TypeError (`code` 'ERR_NETDIAL_INVALID_OPTION'), synchronously, when `addresses` is not an
   *   array or `nowMs` is not a finite number.
   */
  probe(
    addresses: ReadonlyArray<{ address: string; family: Family }>,
    nowMs: number,
  ): Promise<Map<string, string | null>> {
    if (!Array.isArray(addresses)) throw invalidOption('addresses', 'an array', addresses);
    if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) {
      throw invalidOption('nowMs', 'a finite number of ms', nowMs);
    }
    const pending: Array<Promise<void>> = [];
    const result = new Map<string, string | null>();
    for (const { address, family } of addresses) {
      if (result.has(address)) continue;
      result.set(address, null);
      if (typeof address !== 'string' || ipVersion(address) !== family) continue;
      const cached = this.#cache.get(address);
      const ageMs = cached === undefined ? -1 : nowMs - cached.probedAtMs;
      if (cached !== undefined && ageMs >= 0 && ageMs < this.#ttlMs) {
        result.set(address, cached.sourceAddress);
        continue;
      }
      pending.push(
        this.#probeShared(address, family, nowMs).then((sourceAddress) => {
          result.set(address, sourceAddress);
        }),
      );
    }
    return Promise.all(pending).then(() => result);
  }

  /** Forgets every cached result (call on a network change). Probes already running are not cached. */
  clear(): void {
    this.#cache.clear();
    this.#inFlight.clear();
    this.#generation++;
  }

  #probeShared(address: string, family: Family, nowMs: number): Promise<string | null> {
    const running = this.#inFlight.get(address);
    if (running !== undefined) return running;
    const generation = this.#generation;
    const probe = this.#pooled(() => probeOne(address, family, this.#createSocket)).then((sourceAddress) => {
      if (generation === this.#generation) {
        this.#inFlight.delete(address);
        this.#remember(address, { sourceAddress, probedAtMs: nowMs });
      }
      return sourceAddress;
    });
    this.#inFlight.set(address, probe);
    return probe;
  }

  /** Runs `work` when one of the `maxConcurrentProbes` places is free; the place is held until it settles. */
  #pooled(work: () => Promise<string | null>): Promise<string | null> {
    return new Promise((resolve) => {
      this.#slots.acquire(() => {
        work().then((result) => {
          this.#slots.release();
          resolve(result);
        });
      });
    });
  }

  #remember(address: string, entry: CacheEntry): void {
    this.#cache.delete(address);
    this.#cache.set(address, entry);
    for (const oldest of this.#cache.keys()) {
      if (this.#cache.size <= this.#maxEntries) break;
      this.#cache.delete(oldest);
    }
  }
}
