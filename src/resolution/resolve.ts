/**
 * Resolution shell: turns a host name into one answer (or one error) per address family, each reported
 * the moment it is known so the race can start early (RFC 8305 §3). Sources, in order: IP literal,
 * /etc/hosts, `localhost` (RFC 6761 §6.3), DNS through netdial's own DNS client (src/resolution/dns-client.ts; A and
 * AAAA in parallel, resolv.conf search list), and the system resolver as a fallback; or a caller's function.
 */
import { dns, fs, os } from '../builtins.js';
import { type Clock, realClock } from '../clock.js';
import { CustomResolution } from './custom-resolution.js';
import { type DnsClientOptions, DnsServerMemory, queryAddresses, queryServiceRecords } from './dns-client.js';
import {
  type ServiceQuerySender,
  type ServiceRecordCache,
  serviceRecordCacheOf,
  sharedServiceSender,
} from './service-lookup.js';
import {
  DnsQueries,
  type QueryOutcome,
  type QueryRecords,
  type QueryTicket,
  type StaleUse,
} from './dns-queries.js';
import { type HostsEntry, HostsFile } from './hosts-file.js';
import { isIP } from '../ip-address.js';
import type { DnsCache } from '../memory/dns-cache.js';
import { type HostLookupOrder, hostLookupPlan, NsswitchFile } from './nsswitch.js';
import type { ResolverChoice } from '../options.js';
import { type ResolvConf, ResolvConfFile, searchCandidates } from './resolv-conf.js';
import type { AddressSource, Family, ResolvedAddress } from '../types.js';
import { isNegativeAnswer } from '../errors.js';

/**
 * Which resolver a name went to and why (nsswitch.conf, the `resolver` option, an IP literal…): in the
 * dial report and in `Dialer#resolve`'s result. `order` is the nsswitch-style order netdial's own
 * resolver followed; absent for the system resolver, a custom function and IP literals.
 */
export interface ResolverPath {
  resolver: 'netdial' | 'system' | 'custom' | 'literal';
  order?: HostLookupOrder | undefined;
  reason: string;
}

/**
 * What resolution tells the dialer, as it happens: first one `path` event (synchronously, before any
 * other), then per family `query` events (a `moved-on` ends each search-list candidate's that had no
 * address) and exactly one `answer` or `error`.
 */
export type ResolutionEvent =
  /** Read-only: one path is shared (frozen) by every resolution it decided; a report keeps a copy. */
  | { type: 'path'; path: ResolverPath }
  | {
      type: 'query';
      family: Family;
      name: string;
      source: AddressSource;
      /** Why this source was asked, when it was not the usual path (e.g. the system resolver as a fallback). */
      reason?: string | undefined;
      /**
       * The query was already in flight when this resolution began (another dial's, or a stale answer's
       * refresh), sent at this time (the resolver's clock): the waits that count from a query's start count
       * from then (RFC 8305 §3 Resolution Delay, RFC 8767 §5 client response timer).
       */
      sentAtMs?: number | undefined;
    }
  | {
      type: 'answer';
      family: Family;
      name: string;
      source: AddressSource;
      /** Read-only: one answer from memory is shared by every dial given it (frozen). */
      addresses: readonly ResolvedAddress[];
      /** With source 'stale': why the expired answer is used. */
      staleUse?: StaleUse | undefined;
      /** A stale answer served without asking DNS: refreshes are held back after a recent failure (RFC 8767 §5). */
      heldBack?: true | undefined;
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
    }
  | {
      /**
       * A search-list candidate's query for `family` ended without an address, and the search moved on to
       * the next candidate or ended: it closes that query (for reports); it is not the family's answer or
       * error, which follow (for another candidate, or the name as written).
       */
      type: 'moved-on';
      family: Family;
      name: string;
      source: AddressSource;
      code: string;
      message: string;
    };

/**
 * Where a resolution tells its events (an object, not a function: a dial session is its own sink, so a
 * dial makes no closure, nor its context, for it — issue 16).
 */
export interface ResolutionSink {
  resolutionEvent(event: ResolutionEvent): void;
}

/**
 * RFC 8767 §5 client response timer: how long a dial waits for the refresh of an answer that is not used
 * optimistically (TTL 0, or stale too long) before it falls back to the stale answer (the RFC suggests 1.8 s).
 */
export const STALE_CLIENT_RESPONSE_MS = 1800;

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
  /**
   * nsswitch.conf whose `hosts:` line decides, for `resolver: 'auto'`, whether a name goes to netdial's own
   * resolver (and in which order: hosts file and DNS) or to the system resolver. Default
   * '/etc/nsswitch.conf'; a missing file means the C library's default.
   */
  nsswitchPath?: string | undefined;
}

/**
 * A running resolution. `cancel(keepForCache)`: the dial is over; outstanding queries are cancelled
 * unless `keepForCache` lets them finish to fill the cache (RFC 8305 §5) or another dial waits for them.
 */
export interface Resolution {
  cancel(keepForCache?: boolean): void;
}

/** Paths that depend on nothing (frozen: whoever hands one to a caller copies it). */
const CUSTOM_PATH: ResolverPath = Object.freeze({
  resolver: 'custom',
  reason: 'resolver option: a function',
});
const SYSTEM_OPTION_PATH: ResolverPath = Object.freeze({
  resolver: 'system',
  reason: "resolver option 'system'",
});
const LITERAL_PATH_EVENT: ResolutionEvent = Object.freeze({
  type: 'path',
  path: Object.freeze({ resolver: 'literal', reason: 'an IP literal needs no resolution' } as const),
});

/** resolv.conf without a nameserver line: glibc's 127.0.0.1 (frozen: the DNS client parses it once). */
const LOOPBACK_SERVER: readonly string[] = Object.freeze(['127.0.0.1']);

/** Go's conf.go reads the same file: mDNS modules may answer more than `.local` names when it exists. */
const MDNS_ALLOW_PATH = '/etc/mdns.allow';
/** How long the machine's host name and /etc/mdns.allow's existence are taken as read (as the files' check). */
const MACHINE_RECHECK_MS = 1000;

function machineHostname(): string {
  try {
    return os.hostname();
  } catch {
    return '';
  }
}

let glibcRuntime: boolean | undefined;

/** Whether this process runs on glibc (whose nsswitch.conf defaults apply); asked once per process. */
function isGlibc(): boolean {
  if (glibcRuntime === undefined) {
    try {
      const header = (
        process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
      )?.header;
      glibcRuntime = typeof header?.glibcVersionRuntime === 'string';
    } catch {
      glibcRuntime = true;
    }
  }
  return glibcRuntime;
}

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
  readonly #nsswitch: NsswitchFile;
  #machineFacts: { atMs: number; hostname: string; mdnsAllow: boolean } | undefined;
  /** The path of the `resolver: 'dns'` option (it depends on the settings only). */
  #dnsOptionPath: ResolverPath | undefined;
  /** The last path the `nameservers` option overrode, and what it made of it. */
  #lastOverride: { from: ResolverPath; path: ResolverPath } | undefined;
  /** The last `path` event made (see #pathEvent). */
  #lastPathEvent: Extract<ResolutionEvent, { type: 'path' }> | undefined;
  /** The last nsswitch plan and what it was made from (nsswitch.conf's parse, the name, machine facts). */
  #lastPlan:
    | {
        hosts: unknown;
        name: string;
        facts: object | undefined;
        path: ResolverPath;
      }
    | undefined;
  readonly #queries: DnsQueries;
  readonly #clock: Clock;
  /** The last IP literal answered, with its answer and the other family's message (made once). */
  #lastLiteral: { host: string; addresses: readonly ResolvedAddress[]; message: string } | undefined;
  /** The last search list made, and what from (see #candidates). */
  #lastCandidates:
    | { host: string; absolute: boolean; conf: ResolvConf; names: readonly string[] }
    | undefined;
  #clientOptions: DnsClientOptions = { servers: LOOPBACK_SERVER };
  /** The resolv.conf parse #clientOptions was built from. */
  #configuredFrom: ResolvConf | undefined;
  /** resolv.conf `rotate`: queries sent so far, for the round robin over the servers. */
  #rotation = 0;
  #rotate = false;
  /** Servers known not to speak EDNS (RFC 6891 §7), for the life of this resolver. */
  readonly #serverMemory = new DnsServerMemory();
  /**
   * SRV/HTTPS/SVCB answers, by the TTL rules of A/AAAA (made on the first service query); only when A/AAAA
   * are cached too (a Dialer with memory): a Dialer without memory remembers nothing.
   */
  #serviceCache: ServiceRecordCache | undefined;
  #serviceSend: ServiceQuerySender | undefined;
  /** The memory's DNS cache: the service record cache is the one kept with it (saved with the memory). */
  readonly #answers: DnsCache | undefined;

  /**
   * `cache` (optional) is where DNS answers are remembered; `clock` stamps what is written there. A DNS
   * answer longer than `maxAddressesPerName` is cut to its best addresses before it is cached or used.
   */
  constructor(
    settings: ResolverSettings = {},
    cache?: DnsCache,
    clock?: Clock,
    maxAddressesPerName?: number,
  ) {
    this.#settings = settings;
    this.#clock = clock ?? realClock;
    this.#answers = cache;
    this.#queries = new DnsQueries(
      cache,
      (name, type) => queryAddresses(name, type, this.#nextClientOptions()),
      this.#clock,
      maxAddressesPerName,
    );
    this.#hosts =
      settings.hostsPath === null ? undefined : new HostsFile({ path: settings.hostsPath ?? '/etc/hosts' });
    this.#resolvConf = new ResolvConfFile({ path: settings.resolvConfPath ?? '/etc/resolv.conf' });
    this.#nsswitch = new NsswitchFile({ path: settings.nsswitchPath ?? '/etc/nsswitch.conf' });
  }

  /** Reads resolv.conf (when due) and sets the DNS client's servers and timeouts from it. */
  #configure(nowMs: number): ResolvConf {
    const conf = this.#resolvConf.get(nowMs);
    // The file's parse is frozen and kept while the file is unchanged: nothing to rebuild then.
    if (conf === this.#configuredFrom) return conf;
    this.#configuredFrom = conf;
    // resolv.conf(5): servers in order, `timeout` per try (default 5 s), `attempts` rounds (default 2);
    // no nameserver line (or no file) means 127.0.0.1 only, as glibc's res_init.c does when its
    // nameserver list is empty (`__inet_makeaddr (IN_LOOPBACKNET, 1)`, port 53); Go's pure resolver
    // also adds ::1 (dnsconfig.go defaultNS).
    this.#clientOptions = {
      servers:
        this.#settings.nameservers ?? (conf.nameservers.length > 0 ? conf.nameservers : LOOPBACK_SERVER),
      timeoutMs: this.#settings.dnsTimeoutMs ?? conf.timeoutMs ?? 5000,
      attempts: this.#settings.dnsTries ?? conf.attempts ?? 2,
      tcpOnly: conf.useVc === true,
      serverMemory: this.#serverMemory,
    };
    this.#rotate = conf.rotate === true;
    return conf;
  }

  /**
   * One AAAA query for the absolute name `name` straight to the DNS servers (no hosts file, no search
   * list, no cache): RFC 7050 §3 NAT64 prefix discovery asks `ipv4only.arpa` this way. A dial waits for
   * it, so each server is tried once for at most `maxTryMs` (default 1000) rather than resolv.conf's
   * timeouts. Resolves undefined when there is no AAAA answer or the query fails; never rejects.
   */
  lookupAAAA(
    name: string,
    nowMs: number,
    maxTryMs = 1000,
  ): Promise<{ addresses: string[]; ttlSeconds: number } | undefined> {
    this.#configure(nowMs);
    let query: ReturnType<typeof queryAddresses>;
    try {
      query = queryAddresses(name, 'AAAA', {
        servers: this.#clientOptions.servers,
        timeoutMs: Math.min(this.#clientOptions.timeoutMs ?? maxTryMs, maxTryMs),
        attempts: 1,
        tcpOnly: this.#clientOptions.tcpOnly,
        serverMemory: this.#serverMemory,
      });
    } catch {
      return Promise.resolve(undefined);
    }
    return query.promise.then(
      (answer) =>
        answer.addresses.length === 0
          ? undefined
          : {
              addresses: answer.addresses.map((a) => a.address),
              ttlSeconds: Math.min(...answer.addresses.map((a) => a.ttlSeconds)),
            },
      () => undefined,
    );
  }

  /**
   * Sends SRV/HTTPS/SVCB queries straight to the DNS servers (resolv.conf or `nameservers`, with their
   * timeouts; no hosts file, no search list: service names are asked as written) and caches their answers.
   */
  serviceRecords(nowMs: number): { send: ServiceQuerySender; cache: ServiceRecordCache | undefined } {
    this.#configure(nowMs);
    if (this.#answers !== undefined) this.#serviceCache ??= serviceRecordCacheOf(this.#answers);
    // One query in flight per (name, type) for every dial of this resolver (service-lookup.ts).
    this.#serviceSend ??= sharedServiceSender(
      (name, type) =>
        queryServiceRecords(name, type as 'SRV', this.#nextClientOptions()) as ReturnType<ServiceQuerySender>,
      () => this.#serviceCache,
      this.#clock,
    );
    return { send: this.#serviceSend, cache: this.#serviceCache };
  }

  /**
   * The stale addresses of `name` served without asking DNS (`heldBack`) all failed: the next dial asks for a
   * refresh at once instead of after the refresh backoff (DnsCache#allowRefresh).
   */
  allowRefresh(name: string, family: Family): void {
    this.#answers?.allowRefresh(name, family === 6 ? 'AAAA' : 'A');
  }

  /**
   * Whether `host` is answered without netdial's DNS: a custom or system resolver, or a name the hosts
   * file has. HTTPS records are not asked for such names (browsers skip DNS entirely for hosts-file names).
   */
  answersWithoutDns(host: string, choice: ResolverChoice, nowMs: number): boolean {
    if (typeof choice === 'function' || choice === 'system') return true;
    if (this.#path(host, choice, nowMs).resolver !== 'netdial') return true;
    const entries = this.#hosts?.entries(host, nowMs);
    return entries !== undefined && entries.length > 0;
  }

  /**
   * Where `host` (a name, not a literal) goes under `choice`, and why. With the `nameservers` option the
   * caller chose the DNS servers (a private or test DNS): a name then never goes to getaddrinfo, whose
   * servers (resolv.conf, nss-resolve, mDNS) are the host's, not the caller's — nsswitch's order of the
   * hosts file and DNS still holds.
   */
  #path(host: string, choice: ResolverChoice, nowMs: number): ResolverPath {
    const path = this.#plannedPath(host, choice, nowMs);
    if (path.resolver !== 'system' || choice === 'system' || this.#settings.nameservers === undefined)
      return path;
    const last = this.#lastOverride;
    if (last !== undefined && last.from === path) return last.path;
    const override: ResolverPath = Object.freeze({
      resolver: 'netdial',
      order: 'files-dns',
      reason: `nameservers option: ${this.#hostsThen()}those DNS servers, never the system resolver (otherwise: ${path.reason})`,
    });
    this.#lastOverride = { from: path, path: override };
    return override;
  }

  /** How a path that reads the hosts file first says so; `hostsPath: null` reads none. */
  #hostsThen(): string {
    return this.#settings.hostsPath === null ? 'no hosts file (hostsPath null), only ' : 'hosts file, then ';
  }

  /**
   * The path of `host` under `choice`: frozen, and the same object while what decides it is the same (a
   * Dialer dialling one name plans once; issue 16: planning was ~0.5 KB per dial, then a copy ~0.1 KB).
   * Whoever hands a path to a caller (a report, Dialer#resolve's answer) hands a copy of it.
   */
  #plannedPath(host: string, choice: ResolverChoice, nowMs: number): ResolverPath {
    if (typeof choice === 'function') return CUSTOM_PATH;
    if (choice === 'system') return SYSTEM_OPTION_PATH;
    if (choice === 'dns') {
      this.#dnsOptionPath ??= Object.freeze({
        resolver: 'netdial',
        order: 'files-dns',
        reason: `resolver option 'dns': ${this.#hostsThen()}DNS (nsswitch.conf not consulted)`,
      });
      return this.#dnsOptionPath;
    }
    if (isMulticastName(host)) {
      return { resolver: 'system', reason: `${host} is a .local name: multicast DNS (RFC 6762 §3)` };
    }
    const hosts = this.#nsswitch.hosts(nowMs);
    const myhostname = hosts?.some((s) => s.source === 'myhostname') === true;
    const mdns = hosts?.some((s) => s.source.startsWith('mdns')) === true;
    const facts = myhostname || mdns ? this.#machine(nowMs) : undefined;
    // The plan depends only on these.
    const last = this.#lastPlan;
    if (last !== undefined && last.hosts === hosts && last.name === host && last.facts === facts) {
      return last.path;
    }
    const plan = hostLookupPlan(hosts, host, {
      machineHostname: myhostname ? (facts?.hostname ?? '') : '',
      glibc: hosts === undefined ? isGlibc() : true,
      mdnsAllow: mdns ? (facts?.mdnsAllow ?? false) : false,
    });
    const path: ResolverPath = Object.freeze(
      plan.order === 'system'
        ? { resolver: 'system', reason: plan.reason }
        : { resolver: 'netdial', order: plan.order, reason: plan.reason },
    );
    this.#lastPlan = { hosts, name: host, facts, path };
    return path;
  }

  /** The `path` event of `path` (made once per path: events are only read). */
  #pathEvent(path: ResolverPath): ResolutionEvent {
    const last = this.#lastPathEvent;
    if (last !== undefined && last.path === path) return last;
    const event = Object.freeze({ type: 'path', path } as const);
    this.#lastPathEvent = event;
    return event;
  }

  /**
   * The machine's host name and whether /etc/mdns.allow exists (what nsswitch's myhostname and mdns
   * decide on), read at most once per second like the files: not a system call on every dial.
   */
  #machine(nowMs: number): { hostname: string; mdnsAllow: boolean } {
    const last = this.#machineFacts;
    if (last !== undefined && nowMs >= last.atMs && nowMs - last.atMs < MACHINE_RECHECK_MS) return last;
    const facts = { atMs: nowMs, hostname: machineHostname(), mdnsAllow: fs.existsSync(MDNS_ALLOW_PATH) };
    this.#machineFacts = facts;
    return facts;
  }

  /**
   * The search list's names for `host` (resolv-conf.ts `searchCandidates`), the last list made again while
   * the name and the resolv.conf parse are the same (issue 16: a Dialer dialling one name builds no list
   * per dial). Frozen: SearchListQuery only reads it.
   */
  #candidates(host: string, absolute: boolean, conf: ResolvConf): readonly string[] {
    const last = this.#lastCandidates;
    if (last !== undefined && last.host === host && last.absolute === absolute && last.conf === conf) {
      return last.names;
    }
    const names = Object.freeze(searchCandidates(host, absolute, conf));
    this.#lastCandidates = { host, absolute, conf, names };
    return names;
  }

  /** The client options for one query: with `rotate`, each query starts one server further on. */
  #nextClientOptions(): DnsClientOptions {
    if (!this.#rotate) return this.#clientOptions;
    const firstServer = this.#rotation % this.#clientOptions.servers.length;
    this.#rotation = (this.#rotation + 1) % 0x7fffffff;
    return { ...this.#clientOptions, firstServer };
  }

  /**
   * The hosts file's entries for `host`, read when DNS had no address (nsswitch `dns files`); undefined
   * without a hosts file. Its own method (issue 16): a closure made inside resolve() would make every
   * call of it allocate a context for the variables the closure captures, a cached dial's call too.
   */
  #hostsLater(host: string, nowMs: number): (() => readonly HostsEntry[] | undefined) | undefined {
    const hosts = this.#hosts;
    return hosts === undefined ? undefined : () => hosts.entries(host, nowMs);
  }

  /**
   * Starts resolving `host` for `families` and tells `sink` each event as it comes. `nowMs` is read only to
   * decide whether the hosts and resolv.conf files need a re-check.
   */
  resolve(
    host: string,
    absolute: boolean,
    families: readonly Family[],
    choice: ResolverChoice,
    nowMs: number,
    sink: ResolutionSink,
  ): Resolution {
    const literal = isIP(host);
    if (literal !== 0) {
      sink.resolutionEvent(LITERAL_PATH_EVENT);
      // The answer and the other family's message are made once per literal (issue 16), frozen.
      let known = this.#lastLiteral;
      if (known === undefined || known.host !== host) {
        known = {
          host,
          addresses: Object.freeze([
            Object.freeze({ address: host, family: literal, source: 'literal' as const }),
          ]),
          message: `${host} is an IPv${literal} address`,
        };
        this.#lastLiteral = known;
      }
      for (const family of families) {
        if (family === literal) {
          sink.resolutionEvent({
            type: 'answer',
            family,
            name: host,
            source: 'literal',
            addresses: known.addresses,
          });
        } else {
          sink.resolutionEvent({
            type: 'error',
            family,
            name: host,
            source: 'literal',
            code: 'ENODATA',
            message: known.message,
          });
        }
      }
      return NOTHING_TO_CANCEL;
    }
    const path = this.#path(host, choice, nowMs);
    sink.resolutionEvent(this.#pathEvent(path));
    if (typeof choice === 'function') return new CustomResolution(choice, host, families, sink);
    if (path.resolver === 'system') {
      return resolveSystem(host, families, sink, choice === 'system' ? undefined : path.reason);
    }
    const order = path.order ?? 'files-dns';

    if (order === 'files-dns' || order === 'files') {
      const fromHosts = this.#hosts?.entries(host, nowMs);
      if (fromHosts && fromHosts.length > 0) {
        emitList(host, 'hosts', families, fromHosts, sink, true);
        return NOTHING_TO_CANCEL;
      }
    }
    if (isLocalhostName(host)) {
      // Answered here, not by the hosts file (which did not list the name, or was not read).
      emitList(host, 'localhost', families, LOOPBACK, sink, true);
      return NOTHING_TO_CANCEL;
    }
    if (order === 'files') {
      for (const family of families) {
        sink.resolutionEvent({
          type: 'error',
          family,
          name: host,
          source: 'hosts',
          code: 'ENOTFOUND',
          message: `${host} is not in the hosts file (${path.reason})`,
        });
      }
      return NOTHING_TO_CANCEL;
    }
    const conf = this.#configure(nowMs);
    let dnsFamilies = families;
    if (conf.noAaaa === true && families.includes(6)) {
      // glibc 2.36 `options no-aaaa`: no AAAA query over DNS (hosts files still give IPv6 addresses).
      sink.resolutionEvent({
        type: 'error',
        family: 6,
        name: host,
        source: 'dns',
        code: 'ENODATA',
        message: `AAAA ${host}: not asked (resolv.conf options no-aaaa)`,
      });
      dnsFamilies = families.filter((f) => f !== 6);
      if (dnsFamilies.length === 0) return NOTHING_TO_CANCEL;
    }
    // 'dns-files': the hosts file answers only names DNS has no address for.
    const hostsAfterDns = order === 'dns-files' ? this.#hostsLater(host, nowMs) : undefined;
    return new SearchListQuery(
      this.#queries,
      this.#clock,
      host,
      this.#candidates(host, absolute, conf),
      dnsFamilies,
      choice === 'auto' && this.#settings.nameservers === undefined,
      hostsAfterDns,
      nowMs,
      sink,
    );
  }
}

/** A resolution answered at once: nothing to cancel (one object for all of them). */
const NOTHING_TO_CANCEL: Resolution = Object.freeze({ cancel() {} });

/** RFC 6761 §6.3 `localhost`: loopback of both families (one list: what is made from it is kept). */
const LOOPBACK: ReadonlyArray<{ address: string; family: Family }> = Object.freeze([
  Object.freeze({ address: '::1', family: 6 as const }),
  Object.freeze({ address: '127.0.0.1', family: 4 as const }),
]);

type AddressList = ReadonlyArray<{ address: string; family: Family; ttlSeconds?: number | undefined }>;

/** One family's part of an address list: its addresses (frozen), or the message saying it has none. */
type FamilyPart = readonly ResolvedAddress[] | string;

/**
 * Family parts made from lists that stay the same (the hosts file's own lists while the file is unchanged,
 * LOOPBACK), for the name they were made for: a dial of such a name builds nothing (issue 16). Held weakly:
 * gone with the list.
 */
const KEPT_PARTS = new WeakMap<
  AddressList,
  { name: string; source: AddressSource; v4: FamilyPart | undefined; v6: FamilyPart | undefined }
>();

function familyPart(name: string, source: AddressSource, list: AddressList, family: Family): FamilyPart {
  const addresses = list
    .filter((a) => a.family === family)
    .map((a) => ({ address: a.address, family, ttlSeconds: a.ttlSeconds, source }));
  return addresses.length > 0 ? addresses : `${name} has no IPv${family} address`;
}

function keptPart(name: string, source: AddressSource, list: AddressList, family: Family): FamilyPart {
  let kept = KEPT_PARTS.get(list);
  if (kept === undefined || kept.name !== name || kept.source !== source) {
    kept = { name, source, v4: undefined, v6: undefined };
    KEPT_PARTS.set(list, kept);
  }
  const known = family === 6 ? kept.v6 : kept.v4;
  if (known !== undefined) return known;
  const part = familyPart(name, source, list, family);
  if (typeof part !== 'string') {
    for (const a of part) Object.freeze(a);
    Object.freeze(part);
  }
  if (family === 6) kept.v6 = part;
  else kept.v4 = part;
  return part;
}

/** Answers each family from `list`; `keep`: the list stays the same, so what is made from it is kept. */
function emitList(
  name: string,
  source: AddressSource,
  families: readonly Family[],
  list: AddressList,
  sink: ResolutionSink,
  keep = false,
): void {
  for (const family of families) {
    const part = keep ? keptPart(name, source, list, family) : familyPart(name, source, list, family);
    if (typeof part !== 'string')
      sink.resolutionEvent({ type: 'answer', family, name, source, addresses: part });
    else sink.resolutionEvent({ type: 'error', family, name, source, code: 'ENODATA', message: part });
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length > 0 ? code : 'EAI_FAIL';
}

function resolveSystem(
  host: string,
  families: readonly Family[],
  sink: ResolutionSink,
  reason?: string,
): Resolution {
  let over = false;
  const family = families.length === 1 ? families[0]! : 0;
  for (const f of families)
    sink.resolutionEvent({ type: 'query', family: f, name: host, source: 'system', reason });
  // getaddrinfo answers both families at once, so the system resolver cannot start early (RFC 8305 §3).
  dns().lookup(host, { all: true, family, order: 'verbatim' }, (err, list) => {
    if (over) return;
    if (err) {
      for (const f of families)
        sink.resolutionEvent({
          type: 'error',
          family: f,
          name: host,
          source: 'system',
          code: errorCode(err),
          message: err.message,
        });
      return;
    }
    emitList(host, 'system', families, list as Array<{ address: string; family: Family }>, sink);
  });
  return {
    cancel() {
      over = true;
    },
  };
}

interface FamilyResult {
  readonly ok: boolean;
  readonly code?: string;
  readonly message?: string;
  readonly source?: AddressSource;
}

/**
 * `failure`, the NXDOMAIN of `from`'s query, standing for `family` (RFC 8020: no type exists): itself for
 * its own family, else with a message that names the query that answered, not a `family` query never read.
 */
function nxdomainFor(failure: FamilyResult, family: Family, from: Family, name: string): FamilyResult {
  if (family === from) return failure;
  const type = (f: Family) => (f === 6 ? 'AAAA' : 'A');
  return {
    ...failure,
    message: `query${type(family)} ENOTFOUND ${name} (the ${type(from)} query's NXDOMAIN)`,
  };
}

/**
 * The events of an answer memory gave (an answer or a negative answer), made once and kept on its ticket —
 * the one object per name, type and second that every dial of that name shares (dns-queries.ts) — so
 * those dials share them, frozen, instead of building their own (issue 16: ~250 B per cached dial).
 * Consumers only read events (the dial session and resolve-name copy what they keep).
 */
function keptEventsOf(ticket: QueryTicket): NonNullable<QueryTicket['events']> {
  ticket.events ??= { query: undefined, outcome: undefined };
  return ticket.events;
}

/** The `query` event of `family`, answered from memory by `ticket` for `name` (the ticket's name). */
function queryEventOf(ticket: QueryTicket, name: string, family: Family): ResolutionEvent {
  const kept = keptEventsOf(ticket);
  kept.query ??= Object.freeze({ type: 'query', family, name, source: 'dns' } as const);
  return kept.query;
}

/** The `answer` (or `error`) event that passes `ticket`'s answer from memory on as `family`'s. */
function outcomeEventOf(
  ticket: QueryTicket,
  name: string,
  family: Family,
): Extract<ResolutionEvent, { family: Family }> {
  const kept = keptEventsOf(ticket);
  kept.outcome ??= Object.freeze(outcomeEvent(ticket.ready!, name, family));
  return kept.outcome as Extract<ResolutionEvent, { family: Family }>;
}

function outcomeEvent(
  outcome: QueryOutcome,
  name: string,
  family: Family,
): Extract<ResolutionEvent, { family: Family }> {
  if (outcome.ok) {
    return {
      type: 'answer',
      family,
      name,
      source: outcome.source,
      staleUse: outcome.staleUse,
      heldBack: outcome.heldBack,
      addresses: toResolved(outcome, family),
    };
  }
  return {
    type: 'error',
    family,
    name,
    source: outcome.source,
    code: outcome.code,
    message: outcome.message,
  };
}

/** A family that answered (one shared record: nothing to say beyond that). */
const OK: FamilyResult = Object.freeze({ ok: true });

/**
 * What each family's query gave for one name: two families at most, so two fields, not a Map per dial
 * (issue 16).
 */
class FamilyResults {
  #v4: FamilyResult | undefined;
  #v6: FamilyResult | undefined;
  /** Families with a result. */
  size = 0;

  get(family: Family): FamilyResult | undefined {
    return family === 6 ? this.#v6 : this.#v4;
  }

  set(family: Family, result: FamilyResult): void {
    if (this.get(family) === undefined) this.size++;
    if (family === 6) this.#v6 = result;
    else this.#v4 = result;
  }

  anyOk(): boolean {
    return this.#v4?.ok === true || this.#v6?.ok === true;
  }

  /** The results of `families`, in that order (those with one). */
  values(families: readonly Family[]): FamilyResult[] {
    const out: FamilyResult[] = [];
    for (const f of families) {
      const r = this.get(f);
      if (r !== undefined) out.push(r);
    }
    return out;
  }
}

/** One candidate name of a search list, and its families' results so far. */
class Round extends FamilyResults {
  /** A failure moved the search on to the next candidate: late outcomes of this one are ignored. */
  movedOn = false;
  /** Tickets of answers memory had, per family, until they are handled (after every query of the round is out). */
  #ready4: QueryTicket | undefined;
  #ready6: QueryTicket | undefined;
  constructor(readonly name: string) {
    super();
  }

  setReady(family: Family, ticket: QueryTicket): void {
    if (family === 6) this.#ready6 = ticket;
    else this.#ready4 = ticket;
  }

  /** The ticket of `family`'s answer from memory (its `ready` set), if memory had it. */
  ready(family: Family): QueryTicket | undefined {
    return family === 6 ? this.#ready6 : this.#ready4;
  }
}

/** A family whose answer was not in memory: what its outcome is handled with. */
class FamilyWait {
  /** A stale answer for this family has been passed on: the refresh's outcome is an update. */
  staleGiven = false;
  /** The RFC 8767 §5 client response timer, while it runs. */
  staleTimer: unknown;
  constructor(readonly fallback: QueryRecords | undefined) {}
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
  #staleTimers: Set<unknown> | undefined;
  readonly #host: string;
  readonly #candidates: readonly string[];
  readonly #families: readonly Family[];
  readonly #systemFallback: boolean;
  readonly #hostsAfterDns: (() => readonly HostsEntry[] | undefined) | undefined;
  readonly #nowMs: number;
  readonly #sink: ResolutionSink;
  /** Families whose answer or error has been passed on: bit 1 << family (a cached dial allocates no Set). */
  #done = 0;
  /** Queries this resolution waits on, to release at the end (answers from memory need none: not kept). */
  #tickets: QueryTicket[] | undefined;
  /** Errors per family of the most telling candidate so far: the name as written, else the last tried. */
  #lastErrors: FamilyResults | undefined;
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
    hostsAfterDns: (() => readonly HostsEntry[] | undefined) | undefined,
    nowMs: number,
    sink: ResolutionSink,
  ) {
    this.#hostsAfterDns = hostsAfterDns;
    this.#queries = queries;
    this.#clock = clock;
    this.#host = host;
    this.#candidates = candidates;
    this.#families = families;
    this.#systemFallback = systemFallback;
    this.#nowMs = nowMs;
    this.#sink = sink;
    this.#next();
  }

  cancel(keepForCache = false): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    if (this.#staleTimers !== undefined) {
      for (const timer of this.#staleTimers) this.#clock.clearTimeout(timer);
      this.#staleTimers.clear();
    }
    this.#fallback?.cancel();
    if (this.#tickets !== undefined) for (const t of this.#tickets) t.release(keepForCache);
  }

  #next(): void {
    this.#index++;
    const name = this.#candidates[this.#index];
    if (name === undefined) {
      this.#exhausted();
      return;
    }
    const round = new Round(name);
    let ready = false;
    // Indexed loops over the families: the lists are frozen, and V8 does not inline the array iterator
    // for frozen arrays (a for-of here allocated its iterator results on every cached dial, ~0.3 KB).
    const families = this.#families;
    for (let i = 0; i < families.length; i++) {
      const family = families[i]!;
      const ticket = this.#queries.query(name, family, this.#nowMs);
      if (ticket.ready !== undefined) {
        // Memory had the answer: handled below, once every query is out, without a promise hop or a
        // closure, and kept nowhere else: it needs no release (issue 16: the cached dial's path).
        round.setReady(family, ticket);
        ready = true;
        this.#sink.resolutionEvent(queryEventOf(ticket, name, family));
        continue;
      }
      this.#wait(round, family, ticket);
    }
    if (!ready) return;
    for (let i = 0; i < families.length; i++) {
      const family = families[i]!;
      const ticket = round.ready(family);
      if (ticket !== undefined) this.#handle(round, family, ticket.ready!, undefined);
    }
  }

  /**
   * A family whose answer was not in memory: its ticket is kept for release, a stale answer is used as
   * the RFC says, and its outcome is handled when it comes. Its own method (issue 16): the closures made
   * here would otherwise make every call of #next — a cached dial's too — allocate their context.
   */
  #wait(round: Round, family: Family, ticket: QueryTicket): void {
    const name = round.name;
    this.#tickets ??= [];
    this.#tickets.push(ticket);
    const wait = new FamilyWait(ticket.fallback);
    // draft-ietf-happy-happyeyeballs-v3 optimistic use: race on the expired answer while it refreshes.
    if (ticket.stale) {
      wait.staleGiven = true;
      this.#giveStale(round, family, ticket.stale, 'optimistic');
    }
    const fallback = wait.fallback;
    // A query this dial joined was sent before it: the waits run from then, not from this dial's start.
    const sentAtMs = ticket.sentAtMs;
    const joined = sentAtMs !== undefined && sentAtMs < this.#nowMs;
    if (fallback) {
      // RFC 8767 §5 client response timer: a refresh this slow is not waited for any longer. The RFC starts it
      // when a resolver receives a request; netdial reads it for a refresh another dial started as running from
      // the refresh's own start — a server silent for 1.8 s already is not waited for again by each new dial.
      const waitMs = joined
        ? Math.max(0, sentAtMs + STALE_CLIENT_RESPONSE_MS - this.#clock.now())
        : STALE_CLIENT_RESPONSE_MS;
      const staleTimer = this.#clock.setTimeout(() => {
        this.#staleTimers?.delete(staleTimer);
        if (this.#cancelled || round.movedOn || this.#isDone(family)) return;
        wait.staleGiven = true;
        this.#giveStale(round, family, fallback, 'refresh-timeout');
        this.#finishOtherFailures(round);
      }, waitMs);
      wait.staleTimer = staleTimer;
      this.#staleTimers ??= new Set();
      this.#staleTimers.add(staleTimer);
    }
    this.#sink.resolutionEvent(
      joined
        ? { type: 'query', family, name, source: 'dns', sentAtMs }
        : { type: 'query', family, name, source: 'dns' },
    );
    ticket.outcome.then((answer) => this.#handle(round, family, answer, wait));
  }

  /** One family's query outcome for `round`'s name; `wait` is its state when it was not answered at once. */
  #handle(round: Round, family: Family, answer: QueryOutcome, wait: FamilyWait | undefined): void {
    if (this.#cancelled) return;
    const name = round.name;
    if (wait !== undefined) {
      const staleTimer = wait.staleTimer;
      if (staleTimer !== undefined && this.#staleTimers?.delete(staleTimer)) {
        this.#clock.clearTimeout(staleTimer);
      }
      if (wait.staleGiven) {
        // The refresh: new addresses join the race, the stale ones it no longer lists are dropped; a
        // failure leaves the stale answer in force. Either way the race stops waiting for it.
        if (answer.ok)
          this.#sink.resolutionEvent({
            type: 'answer',
            family,
            name,
            source: 'dns',
            refresh: true,
            addresses: toResolved(answer, family),
          });
        else
          this.#sink.resolutionEvent({
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
    }
    // RFC 8767 §4: stale data answers only when the refresh could not be had; a negative answer is an answer.
    // Negative answers are answers (RFC 8767 §4): they end a stale answer's use, they do not trigger it.
    const fallback = wait?.fallback;
    const outcome: QueryOutcome =
      !answer.ok && fallback !== undefined && !isNegativeAnswer(answer.code) ? fallback : answer;
    if (round.movedOn) return;
    if (outcome.ok) {
      round.set(family, OK);
      // From memory (no wait): the event kept on the answer's ticket; otherwise this query's own.
      this.#finishFamily(
        wait === undefined
          ? outcomeEventOf(round.ready(family)!, name, family)
          : outcomeEvent(outcome, name, family),
      );
      this.#finishOtherFailures(round);
      return;
    }
    // The failure itself is the family's result (it has every field one needs): no copy per dial.
    const failure: FamilyResult = outcome;
    round.set(family, failure);
    if (round.anyOk()) {
      // The name exists (the other type answered): this failure is this family's answer.
      this.#finishFamily(
        wait === undefined
          ? outcomeEventOf(round.ready(family)!, name, family)
          : outcomeEvent(outcome, name, family),
      );
      return;
    }
    const nxdomain = outcome.code === 'ENOTFOUND';
    if (!nxdomain && round.size < this.#families.length) return;
    round.movedOn = true;
    // NXDOMAIN for one type stands for every type of the name (RFC 8020).
    const errors = new FamilyResults();
    const families = this.#families;
    for (let i = 0; i < families.length; i++) {
      const f = families[i]!;
      const result = round.get(f) ?? nxdomainFor(failure, f, family, name);
      errors.set(f, result);
      // This candidate's queries end here, in the reports too (not left as if still outstanding); the
      // family's own error, when the search is over, names the name as written and ends nothing new.
      const code = result.code ?? failure.code ?? 'ENODATA';
      this.#sink.resolutionEvent({
        type: 'moved-on',
        family: f,
        name,
        source: result.source ?? 'dns',
        code,
        message: result.message ?? code,
      });
    }
    // The error reported in the end is the one for the name as written, else the last candidate's.
    if (name === this.#host || !this.#errorsFromHost) {
      this.#lastErrors = errors;
      this.#errorsFromHost = name === this.#host;
    }
    this.#next();
  }

  /** Passes on a stale answer for `family` (still refreshing: the refresh's outcome follows as an update). */
  #giveStale(round: Round, family: Family, records: QueryRecords, staleUse: StaleUse): void {
    const name = round.name;
    this.#sink.resolutionEvent({ type: 'query', family, name, source: 'stale' });
    round.set(family, OK);
    this.#finishFamily({
      type: 'answer',
      family,
      name,
      source: 'stale',
      staleUse,
      refreshing: true,
      addresses: toResolved(records, family),
    });
  }

  /** The name exists: a failure that came first for another type is that type's answer. */
  #finishOtherFailures(round: Round): void {
    const families = this.#families;
    for (let i = 0; i < families.length; i++) {
      const f = families[i]!;
      const r = round.get(f);
      if (r === undefined || r.ok || this.#isDone(f)) continue;
      // A failure memory gave is the round's outcome itself: its event is made once for it.
      const fromMemory = round.ready(f);
      if (fromMemory !== undefined && fromMemory.ready === r) {
        this.#finishFamily(outcomeEventOf(fromMemory, round.name, f));
        continue;
      }
      const code = r.code ?? 'ENODATA';
      this.#finishFamily({
        type: 'error',
        family: f,
        name: round.name,
        source: r.source ?? 'dns',
        code,
        message: r.message ?? code,
      });
    }
  }

  #isDone(family: Family): boolean {
    return (this.#done & (1 << family)) !== 0;
  }

  #finishFamily(event: Extract<ResolutionEvent, { family: Family }>): void {
    if (event.type === 'query' || this.#isDone(event.family)) return;
    this.#done |= 1 << event.family;
    this.#sink.resolutionEvent(event);
  }

  /** No candidate had an address. In 'auto' mode the system resolver may still know the name. */
  #exhausted(): void {
    const all = this.#lastErrors === undefined ? [] : this.#lastErrors.values(this.#families);
    // nsswitch `hosts: dns files`: the hosts file after DNS, for names DNS has no address for.
    const fromHosts = all.every((r) => isNegativeAnswer(r.code)) ? this.#hostsAfterDns?.() : undefined;
    if (fromHosts !== undefined && fromHosts.length > 0) {
      const pending = this.#families.filter((f) => !this.#isDone(f));
      emitList(
        this.#host,
        'hosts',
        pending,
        fromHosts,
        {
          resolutionEvent: (event) => {
            if (event.type !== 'path') this.#finishFamily(event);
          },
        },
        true,
      );
      return;
    }
    const reason = this.#systemFallback ? systemFallbackReason(all) : undefined;
    if (reason !== undefined) {
      this.#fallback = resolveSystem(
        this.#host,
        this.#families,
        {
          resolutionEvent: (event) => {
            if (!this.#cancelled) this.#sink.resolutionEvent(event);
          },
        },
        reason,
      );
      return;
    }
    for (const family of this.#families) {
      const r = this.#lastErrors?.get(family);
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

/**
 * When 'auto' resolution hands a name to the system resolver (`dns.lookup`, i.e. getaddrinfo with
 * nsswitch.conf) after DNS gave no address, and why; undefined when DNS's answer stands.
 * - Every family ended in NXDOMAIN/NODATA: DNS does not know the name, but nsswitch sources may (mDNS,
 *   myhostname, LDAP, …).
 * - Every family ended in ECONNREFUSED: no DNS server could be reached at all (each try failed at the
 *   socket: no route, link-local without its interface, port closed, EMFILE). getaddrinfo may still
 *   answer, e.g. through nss-resolve or nscd, which do not use resolv.conf's servers.
 * Not for ETIMEOUT (a server that drops queries would make getaddrinfo wait just as long again) nor for
 * SERVFAIL/REFUSED/FORMERR/lame answers (servers were reached and answered).
 */
export function systemFallbackReason(
  errors: ReadonlyArray<{ code?: string | undefined }>,
): string | undefined {
  if (errors.length === 0) return undefined;
  if (errors.every((r) => isNegativeAnswer(r.code))) {
    return 'DNS has no address for the name (NXDOMAIN/NODATA): asking the system resolver (nsswitch)';
  }
  if (errors.every((r) => r.code === 'ECONNREFUSED')) {
    return 'no DNS server could be reached (ECONNREFUSED): asking the system resolver instead';
  }
  return undefined;
}

function toResolved(records: QueryRecords, family: Family): readonly ResolvedAddress[] {
  // An answer from memory comes with them made once for every dial (dns-queries.ts).
  if (records.resolved !== undefined) return records.resolved;
  return records.addresses.map((a) => ({
    address: a.address,
    family,
    ttlSeconds: a.ttlSeconds,
    source: records.source,
  }));
}
