/**
 * Resolution shell: turns a host name into one answer (or one error) per address family, each reported
 * the moment it is known so the race can start early (RFC 8305 §3). Sources, in order: IP literal,
 * /etc/hosts, `localhost` (RFC 6761 §6.3), DNS through netdial's own DNS client (src/dns-client.ts; A and
 * AAAA in parallel, resolv.conf search list), and the system resolver as a fallback; or a caller's function.
 */
import dns from 'node:dns';
import net from 'node:net';
import { type Clock, realClock } from './clock.js';
import { type DnsClientOptions, queryAddresses } from './dns-client.js';
import {
  DnsQueries,
  type QueryOutcome,
  type QueryRecords,
  type QueryTicket,
  type StaleUse,
} from './dns-queries.js';
import { HostsFile } from './hosts-file.js';
import type { DnsCache } from './memory/dns-cache.js';
import type { ResolveFunction, ResolverChoice } from './options.js';
import { ResolvConfFile, searchCandidates } from './resolv-conf.js';
import type { AddressSource, Family, ResolvedAddress } from './types.js';

/** What resolution tells the dialer, as it happens. Each family gets exactly one `answer` or `error`. */
export type ResolutionEvent =
  | { type: 'query'; family: Family; name: string; source: AddressSource }
  | {
      type: 'answer';
      family: Family;
      name: string;
      source: AddressSource;
      addresses: ResolvedAddress[];
      /** With source 'stale': why the expired answer is used. */
      staleUse?: StaleUse | undefined;
      /** A stale answer whose refresh is still running: a `refresh` answer or error for the family follows. */
      refreshing?: boolean | undefined;
      /** The refresh behind an earlier stale answer of this family. */
      refresh?: boolean | undefined;
    }
  | {
      type: 'error';
      family: Family;
      name: string;
      source: AddressSource;
      code: string;
      message: string;
      /** The refresh behind an earlier stale answer of this family failed (the stale answer stays in force). */
      refresh?: boolean | undefined;
    };

/**
 * RFC 8767 §5 client response timer: how long a dial waits for the refresh of an answer that is not used
 * optimistically (TTL 0, or stale too long) before it falls back to the stale answer (the RFC suggests 1.8 s).
 */
export const STALE_CLIENT_RESPONSE_MS = 1800;

/** Negative answers are answers (RFC 8767 §4): they end a stale answer's use, they do not trigger it. */
const NEGATIVE = new Set(['ENOTFOUND', 'ENODATA']);

export interface ResolverSettings {
  /** Hosts file to honour; null to ignore it. Default '/etc/hosts'. */
  hostsPath?: string | null | undefined;
  /** resolv.conf for search/ndots (and nameservers when it is not the system's). Default '/etc/resolv.conf'. */
  resolvConfPath?: string | undefined;
  /** DNS servers ('127.0.0.1', '[::1]:5353', …) instead of resolv.conf's. */
  nameservers?: readonly string[] | undefined;
  /** DNS timeout per try in ms. Default: resolv.conf `timeout`, else 5000 (glibc's). */
  dnsTimeoutMs?: number | undefined;
  /** Rounds over the servers. Default: resolv.conf `attempts`, else 2 (glibc's). */
  dnsTries?: number | undefined;
}

/**
 * A running resolution. `cancel(keepForCache)`: the dial is over; outstanding queries are cancelled
 * unless `keepForCache` lets them finish to fill the cache (RFC 8305 §5) or another dial waits for them.
 */
export interface Resolution {
  cancel(keepForCache?: boolean): void;
}

const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA']);

/** Whether a name is for the system resolver only: multicast DNS (RFC 6762 §3) is not for unicast servers. */
function isMulticastName(name: string): boolean {
  return name === 'local' || name.endsWith('.local');
}

/** RFC 6761 §6.3: `localhost` and names below it are loopback, without asking DNS. */
function isLocalhostName(name: string): boolean {
  return name === 'localhost' || name.endsWith('.localhost');
}

export class NameResolver {
  readonly #settings: ResolverSettings;
  readonly #hosts: HostsFile | undefined;
  readonly #resolvConf: ResolvConfFile;
  readonly #queries: DnsQueries;
  readonly #clock: Clock;
  #clientOptions: DnsClientOptions = { servers: ['127.0.0.1'] };

  /** `cache` (optional) is where DNS answers are remembered; `clock` stamps what is written there. */
  constructor(settings: ResolverSettings = {}, cache?: DnsCache, clock?: Clock) {
    this.#settings = settings;
    this.#clock = clock ?? realClock;
    this.#queries = new DnsQueries(
      cache,
      (name, type) => queryAddresses(name, type, this.#clientOptions),
      this.#clock,
    );
    this.#hosts =
      settings.hostsPath === null ? undefined : new HostsFile({ path: settings.hostsPath ?? '/etc/hosts' });
    this.#resolvConf = new ResolvConfFile({ path: settings.resolvConfPath ?? '/etc/resolv.conf' });
  }

  /**
   * Starts resolving `host` for `families` and calls `emit` as answers come. `nowMs` is read only to
   * decide whether the hosts and resolv.conf files need a re-check.
   */
  resolve(
    host: string,
    absolute: boolean,
    families: readonly Family[],
    choice: ResolverChoice,
    nowMs: number,
    emit: (event: ResolutionEvent) => void,
  ): Resolution {
    const literal = net.isIP(host);
    if (literal !== 0) {
      for (const family of families) {
        if (family === literal) {
          emit({
            type: 'answer',
            family,
            name: host,
            source: 'literal',
            addresses: [{ address: host, family, source: 'literal' }],
          });
        } else {
          emit({
            type: 'error',
            family,
            name: host,
            source: 'literal',
            code: 'ENODATA',
            message: `${host} is an IPv${literal} address`,
          });
        }
      }
      return { cancel() {} };
    }
    if (typeof choice === 'function') return resolveCustom(choice, host, families, emit);

    if (choice !== 'system') {
      const fromHosts = this.#hosts?.lookup(host, nowMs);
      if (fromHosts && fromHosts.length > 0) {
        emitList(host, 'hosts', families, fromHosts, emit);
        return { cancel() {} };
      }
      if (isLocalhostName(host)) {
        const loopback = [
          { address: '::1', family: 6 as const },
          { address: '127.0.0.1', family: 4 as const },
        ];
        emitList(host, 'hosts', families, loopback, emit);
        return { cancel() {} };
      }
    }
    if (choice === 'system' || (choice === 'auto' && isMulticastName(host))) {
      return resolveSystem(host, families, emit);
    }
    const conf = this.#resolvConf.get(nowMs);
    const candidates = searchCandidates(host, absolute, conf);
    // resolv.conf(5): servers in order, `timeout` per try (default 5 s), `attempts` rounds (default 2);
    // no nameserver line means the local one.
    this.#clientOptions = {
      servers: this.#settings.nameservers ?? (conf.nameservers.length > 0 ? conf.nameservers : ['127.0.0.1']),
      timeoutMs: this.#settings.dnsTimeoutMs ?? conf.timeoutMs ?? 5000,
      attempts: this.#settings.dnsTries ?? conf.attempts ?? 2,
    };
    return new SearchListQuery(
      this.#queries,
      this.#clock,
      host,
      candidates,
      families,
      choice === 'auto',
      nowMs,
      emit,
    );
  }
}

function emitList(
  name: string,
  source: AddressSource,
  families: readonly Family[],
  list: ReadonlyArray<{ address: string; family: Family; ttlSeconds?: number | undefined }>,
  emit: (event: ResolutionEvent) => void,
): void {
  for (const family of families) {
    const addresses = list
      .filter((a) => a.family === family)
      .map((a) => ({ address: a.address, family, ttlSeconds: a.ttlSeconds, source }));
    if (addresses.length > 0) emit({ type: 'answer', family, name, source, addresses });
    else
      emit({
        type: 'error',
        family,
        name,
        source,
        code: 'ENODATA',
        message: `${name} has no IPv${family} address`,
      });
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length > 0 ? code : 'EAI_FAIL';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function resolveCustom(
  fn: ResolveFunction,
  host: string,
  families: readonly Family[],
  emit: (event: ResolutionEvent) => void,
): Resolution {
  const controller = new AbortController();
  let over = false;
  for (const family of families) {
    emit({ type: 'query', family, name: host, source: 'custom' });
    Promise.resolve()
      .then(() => fn(host, family, { signal: controller.signal }))
      .then(
        (list) => {
          if (over) return;
          const addresses: ResolvedAddress[] = [];
          for (const item of list ?? []) {
            const address = typeof item === 'string' ? item : item?.address;
            if (typeof address !== 'string' || net.isIP(address) !== family) continue;
            const ttlSeconds = typeof item === 'string' ? undefined : item.ttlSeconds;
            addresses.push({ address, family, ttlSeconds, source: 'custom' });
          }
          if (addresses.length > 0) emit({ type: 'answer', family, name: host, source: 'custom', addresses });
          else
            emit({
              type: 'error',
              family,
              name: host,
              source: 'custom',
              code: 'ENODATA',
              message: `${host} has no IPv${family} address`,
            });
        },
        (err: unknown) => {
          if (over) return;
          emit({
            type: 'error',
            family,
            name: host,
            source: 'custom',
            code: errorCode(err),
            message: errorMessage(err),
          });
        },
      );
  }
  return {
    cancel() {
      over = true;
      controller.abort();
    },
  };
}

function resolveSystem(
  host: string,
  families: readonly Family[],
  emit: (event: ResolutionEvent) => void,
): Resolution {
  let over = false;
  const family = families.length === 1 ? families[0]! : 0;
  for (const f of families) emit({ type: 'query', family: f, name: host, source: 'system' });
  // getaddrinfo answers both families at once, so the system resolver cannot start early (RFC 8305 §3).
  dns.lookup(host, { all: true, family, order: 'verbatim' }, (err, list) => {
    if (over) return;
    if (err) {
      for (const f of families)
        emit({
          type: 'error',
          family: f,
          name: host,
          source: 'system',
          code: errorCode(err),
          message: err.message,
        });
      return;
    }
    emitList(host, 'system', families, list as Array<{ address: string; family: Family }>, emit);
  });
  return {
    cancel() {
      over = true;
    },
  };
}

interface FamilyResult {
  ok: boolean;
  code?: string;
  message?: string;
  source?: AddressSource;
}

/**
 * DNS with a resolv.conf search list. Candidates are tried in order (resolv.conf(5)); for each, A and
 * AAAA go out in parallel and a positive answer is passed on at once. The first candidate with a positive
 * answer is the name; NXDOMAIN for either type moves on at once (RFC 8020: nothing exists below it, so
 * the other type cannot exist either); other failures move on when both types have failed.
 *
 * An expired cached answer is used two ways, and the answer event says which (`staleUse`):
 * - optimistic (it had a positive TTL and expired recently): passed on at once with `refreshing`, and its
 *   refresh — answer or failure — after it with `refresh`, so the race can wait for it;
 * - serve-stale (RFC 8767): otherwise the refresh is awaited; the stale answer is passed on only if the
 *   refresh fails with a temporary error, or has not answered within STALE_CLIENT_RESPONSE_MS (then with
 *   `refreshing`, the refresh following as above).
 * Exported for the virtual-clock tests only (not part of the package's API).
 */
export class SearchListQuery implements Resolution {
  readonly #queries: DnsQueries;
  readonly #clock: Clock;
  /** Client response timers (RFC 8767 §5) of families waiting for a refresh with a stale answer held back. */
  readonly #staleTimers = new Set<unknown>();
  readonly #host: string;
  readonly #candidates: readonly string[];
  readonly #families: readonly Family[];
  readonly #systemFallback: boolean;
  readonly #nowMs: number;
  readonly #emit: (event: ResolutionEvent) => void;
  readonly #done = new Set<Family>();
  readonly #tickets: QueryTicket[] = [];
  /** Errors per family of the most telling candidate so far: the name as written, else the last tried. */
  #lastErrors = new Map<Family, FamilyResult>();
  #errorsFromHost = false;
  #index = -1;
  #cancelled = false;
  #fallback: Resolution | undefined;

  constructor(
    queries: DnsQueries,
    clock: Clock,
    host: string,
    candidates: readonly string[],
    families: readonly Family[],
    systemFallback: boolean,
    nowMs: number,
    emit: (event: ResolutionEvent) => void,
  ) {
    this.#queries = queries;
    this.#clock = clock;
    this.#host = host;
    this.#candidates = candidates;
    this.#families = families;
    this.#systemFallback = systemFallback;
    this.#nowMs = nowMs;
    this.#emit = emit;
    this.#next();
  }

  cancel(keepForCache = false): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    for (const timer of this.#staleTimers) this.#clock.clearTimeout(timer);
    this.#staleTimers.clear();
    this.#fallback?.cancel();
    for (const t of this.#tickets) t.release(keepForCache);
  }

  #next(): void {
    this.#index++;
    const name = this.#candidates[this.#index];
    if (name === undefined) {
      this.#exhausted();
      return;
    }
    const results = new Map<Family, FamilyResult>();
    let movedOn = false;
    // Answers memory already has are handled right after every query is out, without a promise hop.
    const ready: Array<() => void> = [];
    for (const family of this.#families) {
      const ticket = this.#queries.query(name, family, this.#nowMs);
      this.#tickets.push(ticket);
      /** A stale answer for this family has been passed on: the refresh's outcome is an update. */
      let staleGiven = false;
      const giveStale = (records: QueryRecords, staleUse: StaleUse, refreshing: boolean): void => {
        staleGiven = true;
        this.#emit({ type: 'query', family, name, source: 'stale' });
        results.set(family, { ok: true });
        this.#finishFamily({
          type: 'answer',
          family,
          name,
          source: 'stale',
          staleUse,
          refreshing,
          addresses: toResolved(records, family),
        });
      };
      // The name exists: a failure that came first for another type is that type's answer.
      const finishOtherFailures = (): void => {
        for (const [f, r] of results) {
          if (r.ok) continue;
          const code = r.code ?? 'ENODATA';
          this.#finishFamily({
            type: 'error',
            family: f,
            name,
            source: r.source ?? 'dns',
            code,
            message: r.message ?? code,
          });
        }
      };
      // draft-ietf-happy-happyeyeballs-v3 optimistic use: race on the expired answer while it refreshes.
      if (ticket.stale) giveStale(ticket.stale, 'optimistic', true);
      let staleTimer: unknown;
      const fallback = ticket.fallback;
      if (fallback) {
        // RFC 8767 §5 client response timer: a refresh this slow is not waited for any longer.
        staleTimer = this.#clock.setTimeout(() => {
          this.#staleTimers.delete(staleTimer);
          if (this.#cancelled || movedOn || this.#done.has(family)) return;
          giveStale(fallback, 'refresh-timeout', true);
          finishOtherFailures();
        }, STALE_CLIENT_RESPONSE_MS);
        this.#staleTimers.add(staleTimer);
      }
      this.#emit({ type: 'query', family, name, source: 'dns' });
      const handle = (answer: QueryOutcome): void => {
        if (this.#cancelled) return;
        if (staleTimer !== undefined && this.#staleTimers.delete(staleTimer)) {
          this.#clock.clearTimeout(staleTimer);
        }
        if (staleGiven) {
          // The refresh: new addresses join the race, the stale ones it no longer lists are dropped; a
          // failure leaves the stale answer in force. Either way the race stops waiting for it.
          if (answer.ok)
            this.#emit({
              type: 'answer',
              family,
              name,
              source: 'dns',
              refresh: true,
              addresses: toResolved(answer, family),
            });
          else
            this.#emit({
              type: 'error',
              family,
              name,
              source: 'dns',
              refresh: true,
              code: answer.code,
              message: answer.message,
            });
          return;
        }
        // RFC 8767 §4: stale data answers only when the refresh could not be had; a negative answer is an answer.
        const outcome: QueryOutcome =
          !answer.ok && fallback !== undefined && !NEGATIVE.has(answer.code) ? fallback : answer;
        if (movedOn) return;
        if (outcome.ok) {
          results.set(family, { ok: true });
          const addresses = toResolved(outcome, family);
          this.#finishFamily({
            type: 'answer',
            family,
            name,
            source: outcome.source,
            staleUse: outcome.staleUse,
            addresses,
          });
          finishOtherFailures();
          return;
        }
        const failure = { ok: false, code: outcome.code, message: outcome.message, source: outcome.source };
        results.set(family, failure);
        if ([...results.values()].some((r) => r.ok)) {
          // The name exists (the other type answered): this failure is this family's answer.
          this.#finishFamily({
            type: 'error',
            family,
            name,
            source: outcome.source,
            code: failure.code,
            message: failure.message,
          });
          return;
        }
        const nxdomain = failure.code === 'ENOTFOUND';
        if (!nxdomain && results.size < this.#families.length) return;
        movedOn = true;
        // NXDOMAIN for one type stands for every type of the name (RFC 8020).
        const errors = new Map<Family, FamilyResult>();
        for (const f of this.#families) errors.set(f, results.get(f) ?? failure);
        // The error reported in the end is the one for the name as written, else the last candidate's.
        if (name === this.#host || !this.#errorsFromHost) {
          this.#lastErrors = errors;
          this.#errorsFromHost = name === this.#host;
        }
        this.#next();
      };
      const now = ticket.ready;
      if (now === undefined) ticket.outcome.then(handle);
      else ready.push(() => handle(now));
    }
    for (const deliver of ready) deliver();
  }

  #finishFamily(event: ResolutionEvent): void {
    if (this.#done.has(event.family)) return;
    this.#done.add(event.family);
    this.#emit(event);
  }

  /** No candidate had an address. Fall back to the system resolver for names DNS does not know. */
  #exhausted(): void {
    const all = [...this.#lastErrors.values()];
    if (this.#systemFallback && all.every((r) => r.code !== undefined && NOT_FOUND.has(r.code))) {
      this.#fallback = resolveSystem(this.#host, this.#families, (event) => {
        if (!this.#cancelled) this.#emit(event);
      });
      return;
    }
    for (const family of this.#families) {
      const r = this.#lastErrors.get(family);
      this.#finishFamily({
        type: 'error',
        family,
        name: this.#host,
        source: r?.source ?? 'dns',
        code: r?.code ?? 'ENOTFOUND',
        message: r?.message ?? `${this.#host} not found`,
      });
    }
  }
}

function toResolved(records: QueryRecords, family: Family): ResolvedAddress[] {
  return records.addresses.map((a) => ({
    address: a.address,
    family,
    ttlSeconds: a.ttlSeconds,
    source: records.source,
  }));
}
