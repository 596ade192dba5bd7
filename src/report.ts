/**
 * The establishment report: how one successful dial went — how the name was resolved and from where,
 * the order decided, each attempt with its timing and outcome, the winner, the TLS handshake. Plain
 * data (JSON-serialisable), kept in a WeakMap against the socket so it costs nothing once the socket
 * is gone. All times are milliseconds since the dial began.
 */
import type * as net from 'node:net';
import type { AttemptDelayBasis } from './memory/endpoint-history.js';
import type { FirstReason } from './memory/history-order.js';
import type { AttemptOutcome } from './race/race.js';
import type { ResolverPath } from './resolution/resolve.js';
import type { ServiceRecordInfo } from './resolution/service-plan.js';
import type { AddressSource, Family } from './types.js';

/** Milliseconds rounded to the microsecond: the precision of every time in reports and diagnostics events. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export interface QueryReport {
  /**
   * 'A' or 'AAAA' (for hosts, literal, system and custom sources the family's record type as well);
   * 'HTTPS' or 'SRV' for the service record query (its records are in `service`).
   */
  type: 'A' | 'AAAA' | 'HTTPS' | 'SRV';
  /** The name asked for (with a search domain appended when the search list supplied one). */
  name: string;
  source: AddressSource;
  startMs: number;
  /** When the answer or error came; undefined if it never came before the dial ended. */
  endMs?: number | undefined;
  addresses?: Array<{ address: string; ttlSeconds?: number | undefined }> | undefined;
  /**
   * How many addresses of this answer the address policy denied. With `redactDeniedAddresses` (the
   * default) they are left out of `addresses`; the netdial:policy:denied diagnostics channel has them.
   */
  deniedByPolicy?: number | undefined;
  /** Error code when the query failed: ENOTFOUND (NXDOMAIN), ENODATA, ESERVFAIL, ETIMEOUT… */
  code?: string | undefined;
  /**
   * With `code`: the DNS server the failure came from ("127.0.0.1:53"), when one server answered it (SERVFAIL,
   * REFUSED, a lame or truncated answer); absent for a timeout of every server, a remembered failure, or a
   * source other than DNS.
   */
  server?: string | undefined;
  /** Why this source was asked when it was not the usual path, e.g. the system resolver as 'auto' fallback. */
  reason?: string | undefined;
  /**
   * With source 'stale': why an expired answer was used — 'optimistic' (raced while its refresh ran; the
   * refresh's answer follows as a 'dns' query), or RFC 8767 serve-stale: 'refresh-failed' (the refresh failed,
   * now or within the last staleRefreshBackoffSeconds) or 'refresh-timeout' (no answer within 1.8 s).
   */
  staleUse?: 'optimistic' | 'refresh-failed' | 'refresh-timeout' | undefined;
}

/** One SRV/HTTPS/SVCB record as the dial considered it. */
export type ServiceRecordReport = ServiceRecordInfo;

/**
 * The service records behind a dial (RFC 2782 SRV, RFC 9460 HTTPS): the query, the AliasMode chain,
 * every record considered (with its bucket, or why it was skipped), and which one led to the winner.
 */
export interface ServiceReport {
  type: 'HTTPS' | 'SRV';
  /** The name queried (`_PORT._https.NAME` for an https: port other than 443, RFC 9460 §9.1). */
  name: string;
  /** RFC 9460 AliasMode targets followed, in order. */
  aliasChain: string[];
  /** Every record considered, in bucket order; skipped ones say why. */
  records: ServiceRecordReport[];
  /** Why no record was used: the query's error code (ENODATA: none published), or 'ALIAS_UNAVAILABLE'. */
  code?: string | undefined;
  /** The record that led to the winner, with whether its address came from a hint (RFC 9460 §7.3). */
  winner?: (ServiceRecordReport & { type: 'HTTPS' | 'SRV'; hintsUsed: boolean }) | undefined;
  /** The winner came from the origin's own A/AAAA (no record, or none of them connected). */
  fallback?: boolean | undefined;
}

export interface AttemptReport {
  address: string;
  family: Family;
  port: number;
  startMs: number;
  endMs?: number | undefined;
  outcome: AttemptOutcome;
  code?: string | undefined;
  /** Why it started then: the first attempt, the attempt delay ran out, a previous attempt failed, or a new answer arrived. */
  trigger: 'first' | 'delay' | 'failure' | 'answer';
  /**
   * Addresses that came before this one in `order` and were passed over, untried, because an attempt to
   * their network (/24, /64) was still unanswered past its attempt delay: a silent network's other addresses
   * go after those of networks not known to be silent (they are still tried if these fail). Absent when the
   * attempt took its place in `order`.
   */
  passedOver?: string[] | undefined;
  /** How long its TCP connect took, ms (from `startMs`); undefined when TCP never connected. */
  tcpMs?: number | undefined;
  /**
   * With `tls`: how long its TLS handshake ran after TCP connected, ms — to success, failure (`code`) or
   * cancellation; undefined when no handshake began (no TLS, or TCP never connected).
   */
  tlsMs?: number | undefined;
}

export interface DialReport {
  host: string;
  port: number;
  /** Wall-clock start, ISO 8601. */
  startedAt: string;
  durationMs: number;
  /**
   * `path`: which resolver the name went to and why — netdial's own (hosts file and DNS, in the order
   * nsswitch.conf gives), the system resolver (nsswitch.conf names sources only it can serve, a `.local`
   * name, or the resolver option), a custom function, or none for an IP literal.
   */
  resolution: {
    path?: ResolverPath | undefined;
    queries: QueryReport[];
    /**
     * RFC 8305 §7: IPv4 destinations the host had no route to, dialled through a NAT64 as the IPv6
     * address synthesised under `prefix` (configured, or discovered per RFC 7050).
     */
    nat64?: { prefix: string; synthesized: Array<{ ipv4: string; ipv6: string }> } | undefined;
  };
  /** Every address in the order netdial decided to try them (RFC 6724 sort, RFC 8305 §4 interleave). */
  order: Array<{ address: string; family: Family; port?: number }>;
  /** Where the order and timing came from. */
  decisions: {
    /**
     * The Connection Attempt Delay after the first attempt, and whether it was the default, a caller's option, or
     * derived from RTT history ('history' only when an RTT sample stands behind it).
     */
    attemptDelayMs: number;
    attemptDelaySource: 'default' | 'option' | 'history';
    /**
     * With memory: whose RTT samples the delay rests on — the first destination's own ('endpoint'), its network's
     * (same /24 or /64: 'network'), the name's other addresses ('name'), any endpoint the Dialer measured
     * ('dialer'), or none ('default').
     */
    attemptDelayBasis?: AttemptDelayBasis | undefined;
    /** Whether the Dialer had a memory (cache and endpoint history). */
    memory: boolean;
    /** Endpoints moved to the end because they failed recently (in backoff). */
    demoted: string[];
    /**
     * Endpoints ranked after the others (before the demoted) because their network (/24, /64) went unanswered
     * for this name while another network connected; they stay there until one of them connects.
     */
    suspected?: string[] | undefined;
    /** A family ranked second for this name: its attempts kept going unanswered while the other family connected. */
    deferredFamily?: 4 | 6 | undefined;
    /**
     * The address ordered first and why: 'load-sharing' (drawn among equivalent endpoints), 'rtt' (best measured
     * RTT of its group), 'sorted' (RFC 6724 / DNS order), 'explored' (a demoted or suspected endpoint given its
     * place), 'family' (the other family is ranked second), 'fallback' (everything is demoted or suspected).
     */
    first?:
      | {
          address: string;
          reason: FirstReason;
        }
      | undefined;
    /** A demoted endpoint tried in its natural place anyway (exploration, or its backoff just ended). */
    explored?: string | undefined;
    /**
     * Fleet memory: addresses whose place rests on a peer's observation (another thread, process or host,
     * through the memory's store) rather than this process's: demoted or explored on a peer's failure, or
     * first (reason 'rtt') on the RTT a peer measured.
     */
    fromPeer?: string[] | undefined;
    /** Whether equivalent endpoints were shuffled for load sharing. */
    shuffled: boolean;
  };
  /** The settings in force: attempt delay, resolution delay, concurrency. */
  settings: {
    attemptDelayMs: number;
    resolutionDelayMs: number;
    maxConcurrentAttempts: number;
    timeoutMs: number;
  };
  attempts: AttemptReport[];
  /** Service records (HTTPS for https:/wss: or TLS dials, SRV for srv! targets); absent when none were asked. */
  service?: ServiceReport | undefined;
  winner?: {
    address: string;
    family: Family;
    port: number;
    localAddress?: string | undefined;
    localPort?: number | undefined;
    /** When TCP connected. */
    connectMs: number;
  };
  /**
   * The dial went through a proxy: which one, who resolved the target's name ('netdial': the target's
   * addresses were checked and raced through the proxy, `attempts` are those; 'proxy': the name went to
   * the proxy), the dial of the proxy itself (`hop`, a report of its own: its resolution, attempts and
   * winner) and the tunnel handshake.
   */
  proxy?: ProxyReport | undefined;
  tls?: {
    startMs: number;
    endMs?: number | undefined;
    servername?: string | undefined;
    protocol?: string | null | undefined;
    alpnProtocol?: string | false | null | undefined;
    sessionReused?: boolean | undefined;
  };
}

export interface ProxyReport {
  /** The proxy URL without its password. */
  url: string;
  protocol: 'http' | 'https' | 'socks5' | 'socks5h';
  /** Where the proxy came from: the `proxy` option, or an environment variable (`'env'`). */
  from: 'option' | 'env';
  resolvedBy: 'netdial' | 'proxy';
  /** The dial of the proxy that carried the tunnel (for a failed dial: the last one made). */
  hop?: DialReport | undefined;
  /** The CONNECT / SOCKS5 exchange on it, ms since the dial began. */
  handshake?: { startMs: number; endMs?: number | undefined; statusCode?: number | undefined } | undefined;
}

/** What builds a report when it is first asked for: the dial session itself (no closure per dial). */
export interface ReportSource {
  buildReport(): DialReport;
}

type ReportEntry = DialReport | ReportSource;

const reports = new WeakMap<object, ReportEntry>();

/** The report of the dial that produced `socket` (a socket or TLS socket netdial returned); undefined otherwise. */
export function getReport(socket: net.Socket): DialReport | undefined {
  const entry = reports.get(socket);
  if (entry === undefined) return undefined;
  if (typeof (entry as Partial<ReportSource>).buildReport !== 'function') return entry as DialReport;
  const report = (entry as ReportSource).buildReport();
  reports.set(socket, report);
  return report;
}

/**
 * Ties a report to a socket. A ReportSource builds it on the first `getReport` (most callers never ask,
 * so a plain dial does not pay for building it); the report it built is kept.
 */
export function attachReport(socket: net.Socket, report: ReportEntry): void {
  reports.set(socket, report);
}
