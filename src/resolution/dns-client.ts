/**
 * A small DNS client for A/AAAA queries: a fresh UDP socket and ID per transmission, EDNS0 with FORMERR
 * fallback, TCP when truncated, servers tried in order (or rotated) like resolv.conf with glibc's waits;
 * every socket failure is a per-server failure, never an exception. It replaces c-ares for two reasons: c-ares hands over answer records owned by names that
 * are neither the question nor its CNAME chain, and it drops the SOA of negative answers, without which
 * RFC 2308 §5 negative TTLs cannot be honoured.
 */
import type * as dgram from 'node:dgram';
import type * as net from 'node:net';
import { dgram as nodeDgram, net as nodeNet } from '../builtins.js';
import { randomDnsId } from './dns-id.js';
import { isIP } from '../ip-address.js';
import { type DecodedPacket, dnsPacket } from './dns-packet.js';
import { inputError, isNegativeAnswer } from '../errors.js';
import {
  literalOnlyLookup,
  parseZonedAddress,
  sameZonedAddress,
  socketAddressText,
  type ZonedAddress,
} from './ip-zone.js';
import { decodeSvcbRdata, type SvcbRecord } from './svcb.js';

/** Where and how patiently to ask. */
export interface DnsClientOptions {
  /**
   * Recursive servers, tried in order: 'IP', 'IP:port' or '[IPv6]:port'; port default 53; an IPv6
   * address may carry a zone ('fe80::1%eth0', '[fe80::1%2]:53'). Non-empty.
   */
  servers: readonly string[];
  /** Wait for one try at the first server, milliseconds (resolv.conf `timeout:`; later servers: see below). Default 2000. */
  timeoutMs?: number;
  /** Rounds over the servers, >= 1 (resolv.conf `attempts:`). Default 2. */
  attempts?: number;
  /** Index of the server to ask first (resolv.conf `rotate`); the others follow in order, wrapping. Default 0. */
  firstServer?: number;
  /** Ask over TCP only (resolv.conf `use-vc`); one try per server, as glibc does. Default false. */
  tcpOnly?: boolean;
  /** Send EDNS(0) (RFC 6891). Default true; servers that answer FORMERR to it are asked again without. */
  edns?: boolean;
  /** Remembers which servers do not speak EDNS, across queries (RFC 6891 §6.2.2, §7). Default: this query only. */
  serverMemory?: DnsServerMemory;
  /**
   * Creates each UDP socket (one per transmission). For tests: the socket must be a real dgram socket.
   * Default `dgram.createSocket({ type, lookup })` with a lookup for IP literals only (the servers are
   * literals; Node's default lookup would load node:dns).
   */
  createSocket?: (type: 'udp4' | 'udp6') => dgram.Socket;
}

/** A positive answer: the addresses of the final name of the CNAME chain. */
export interface DnsAnswer {
  /** Addresses in answer order, without duplicates; `ttlSeconds` = min(record TTL, TTLs of the CNAMEs used). */
  addresses: Array<{ address: string; ttlSeconds: number }>;
  /** Set when a CNAME was followed: the final name, as the server spelled it, without a trailing dot. */
  canonicalName?: string;
}

/** One query in flight. */
export interface DnsQuery {
  promise: Promise<DnsAnswer>;
  /** Closes the socket(s) and rejects with ECANCELLED; does nothing once the promise is settled. */
  cancel(): void;
  /**
   * Lets the process exit while the query is still out: its sockets and timer (and those of later tries)
   * stop holding the event loop. For a query nobody waits for any more (kept only to fill a cache).
   * Optional for stand-ins (tests' fake clients).
   */
  unref?(): void;
}

/** The SOA of a negative answer: its TTL and its MINIMUM field (RFC 2308 §5: cache for the lower one). */
export interface NegativeSoa {
  ttlSeconds: number;
  minimumSeconds: number;
}

/** How one try at one server ended, when it did not give the final answer. */
export interface DnsTryFailure {
  /** The server as 'IP:port' or '[IPv6%zone]:port'. */
  server: string;
  /** ETIMEOUT, a socket error (ENETUNREACH, EHOSTUNREACH, ECONNREFUSED, EINVAL, EMFILE, ECONNRESET…) or a DNS error code. */
  code: string;
}

/**
 * How `queryAddresses` rejects: `code` as listed there, `soa` only on ENOTFOUND/ENODATA when the server
 * sent one; `tries` lists what happened at each server when no server gave an answer.
 */
export type DnsClientError = Error & {
  code: string;
  hostname: string;
  syscall: string;
  soa?: NegativeSoa;
  tries?: DnsTryFailure[];
};

/**
 * What a resolver learns about its servers across queries: which ones answered FORMERR to EDNS
 * (RFC 6891 §7) and are asked without it from then on (§6.2.2 lets a requestor remember this). At most
 * `maxServers` servers are remembered; beyond that the oldest is forgotten.
 */
export class DnsServerMemory {
  readonly #noEdns = new Set<string>();
  readonly #maxServers: number;

  constructor(maxServers = 64) {
    this.#maxServers = maxServers;
  }

  /** False once `server` ('IP:port') rejected EDNS. */
  speaksEdns(server: string): boolean {
    return !this.#noEdns.has(server);
  }

  /** Notes that `server` answered FORMERR to a query with an OPT record. */
  noteNoEdns(server: string): void {
    this.#noEdns.delete(server);
    this.#noEdns.add(server);
    if (this.#noEdns.size > this.#maxServers) {
      const oldest = this.#noEdns.values().next().value;
      if (oldest !== undefined) this.#noEdns.delete(oldest);
    }
  }
}

/** EDNS0 UDP payload size we advertise (RFC 6891 §6.2.5; 1232 bytes as agreed for DNS flag day 2020). */
const EDNS_UDP_PAYLOAD_BYTES = 1232;
/** Longest CNAME chain followed inside one answer. */
const MAX_CNAME_HOPS = 16;
/** RFC 8767 §4: TTLs are capped at 7 days (604 800 s), also those with the top bit set. */
export const MAX_TTL_SECONDS = 604_800;
/** Earlier tries' UDP sockets kept open for a late answer while later tries run. */
const MAX_LINGERING_SOCKETS = 3;
/** RCODE values (RFC 1035 §4.1.1) and the error codes Node's resolver uses for them. */
const RCODE_ERRORS: Readonly<Record<number, string>> = {
  1: 'EFORMERR',
  2: 'ESERVFAIL',
  4: 'ENOTIMP',
  5: 'EREFUSED',
};
/** The names of those RCODEs (RFC 1035 §4.1.1), for messages. */
const RCODE_NAMES: Readonly<Record<number, string>> = {
  1: 'FORMERR',
  2: 'SERVFAIL',
  4: 'NOTIMP',
  5: 'REFUSED',
};
const RCODE_FORMERR = 1;

export interface Server extends ZonedAddress {
  port: number;
  /** What sockets are given: the zone as an interface name. */
  connectTo: string;
  /** 'IP:port' for messages and the server memory. */
  label: string;
}

/** One transmission: one server, one fresh ID, one fresh socket (fresh source port). */
interface Transmission {
  server: Server;
  /** Position of the server in this query's order (after rotation): glibc's timeout depends on it. */
  position: number;
  id: number;
  edns: boolean;
  query: Buffer;
  udp?: dgram.Socket | undefined;
  tcp?: net.Socket | undefined;
}

/**
 * How long one try at the server in `position` (0-based, in the order asked) waits, as glibc's
 * res_send.c send_dg computes it: `retrans << ns`, divided by the number of servers for every server
 * but the first (so with 3 servers and `timeout:5`: 5, 3.3 and 6.7 s). Deviations: milliseconds, floor
 * 1 ms, instead of whole seconds with a floor of 1 s; capped at twice `baseMs`, which only a list of
 * more than 3 servers (the `nameservers` option; resolv.conf allows 3) could exceed.
 */
export function tryTimeoutMs(baseMs: number, position: number, serverCount: number): number {
  if (position === 0) return baseMs;
  const glibc = Math.floor((baseMs * 2 ** Math.min(position, 16)) / serverCount);
  return Math.min(Math.max(1, glibc), 2 * baseMs);
}

/**
 * Asks `servers` for the `type` records of `name` (trailing dot optional) and resolves with the addresses
 * of the name or of the end of its CNAME chain.
 * - Tries go through the servers in order starting at `firstServer`, `attempts` rounds (resolv.conf).
 *   Each try is one transmission on a new UDP socket (fresh source port) with a fresh random ID
 *   (RFC 5452 §9.2), RD set and, unless the server is known not to speak it, an EDNS(0) OPT record; it
 *   waits `tryTimeoutMs(timeoutMs, position, servers)`. A response with TC=1 is asked again over TCP from
 *   the same server, with a fresh ID and wait (RFC 7766 §5). Earlier tries' sockets stay open for a late
 *   answer (the last 3).
 * - A response counts only if it comes from the queried address (compared by interface index for zoned
 *   IPv6) and port with the transmission's ID, QR=1, opcode QUERY and the same single question (name
 *   compared case-insensitively, type, class IN); anything else is ignored and the wait goes on
 *   (RFC 5452 §3). A NOERROR/NXDOMAIN response is final even when it is a late answer to an earlier try.
 * - Moving on to the next try: SERVFAIL, REFUSED, FORMERR, NOTIMP, unusable answers, a lame or referral
 *   answer (NOERROR with AA=0, RA=0 and no answer records: glibc and Go move on too), and every
 *   transport failure (connect or send error such as ENETUNREACH/EHOSTUNREACH/EINVAL, ICMP errors,
 *   EMFILE, a TCP connection refused, reset or closed before the answer). FORMERR to a query with OPT
 *   asks the same server again at once without EDNS and remembers that in `serverMemory` (RFC 6891 §7).
 * - Rejects with a `DnsClientError`: ENOTFOUND (NXDOMAIN), ENODATA (NOERROR without records of the type,
 *   also at the end of a CNAME chain), each with `soa` when the authority section has one (RFC 2308 §5);
 *   ECANCELLED after `cancel()`. When every try failed, with `tries`: the code of the last server that
 *   answered (ESERVFAIL, EREFUSED, EFORMERR, ENOTIMP, EBADRESP for a lame answer, a CNAME loop, a chain
 *   over 16 hops, an unknown RCODE or TC over TCP); else ETIMEOUT when some server did not answer in
 *   time; else, when a server answered truncated over UDP and its TCP failed, that TCP failure's code
 *   (ECONNRESET…) — ETRUNCATED when the TCP connection was refused, which ECONNREFUSED would misread —;
 *   else ECONNREFUSED ("could not contact DNS servers", Node's meaning): no server could be reached at all,
 *   each try failed at the socket. A failure a server answered (SERVFAIL, REFUSED, lame…) names it.
 * - Throws a TypeError (ERR_NETDIAL_INVALID_TARGET / ERR_NETDIAL_INVALID_OPTION) for a bad name or option.
 * Never throws or emits anything else: every socket error becomes a per-server failure. When the promise
 * settles, the timer is cleared and every socket has been closed (their handles are gone one event-loop
 * turn later).
 */
export function queryAddresses(name: string, type: 'A' | 'AAAA', options: DnsClientOptions): DnsQuery {
  const qname = checkName(name);
  if (type !== 'A' && type !== 'AAAA') throw badOption('type', "'A' or 'AAAA'", type);
  return runQuery<DnsAnswer>(qname, type, type, options, (packet, fail) =>
    readAnswer(packet, qname, type, fail),
  );
}

/** Service record types netdial asks for: SRV (RFC 2782), SVCB and HTTPS (RFC 9460). */
export type ServiceRecordType = 'SRV' | 'SVCB' | 'HTTPS';

/** One SRV record (RFC 2782); `target` lowercase without the trailing dot, `.` for "no service". */
export interface SrvRecordData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** A positive answer to a service record query, from the name or the end of its CNAME chain. */
export interface ServiceAnswer<R> {
  /** Usable records in answer order (malformed ones left out, see `malformed`). */
  records: R[];
  /** min(record TTLs, TTLs of the CNAMEs used), RFC 2181 §5.2. */
  ttlSeconds: number;
  /** Why each malformed record was left out (RFC 9460 §2.2: a client ignores them). */
  malformed: string[];
  /** The name that owns the records (the end of the CNAME chain), lowercase, without a trailing dot. */
  owner: string;
}

/** The wire type dns-packet knows each service type by (it has no SVCB/HTTPS codec: raw RDATA). */
const SERVICE_WIRE_TYPES: Readonly<Record<ServiceRecordType, string>> = {
  SRV: 'SRV',
  SVCB: 'UNKNOWN_64',
  HTTPS: 'UNKNOWN_65',
};

/**
 * Asks for the SRV, SVCB or HTTPS records of `name`, with everything `queryAddresses` does (servers,
 * tries, EDNS, TCP on truncation, reply matching, CNAME chain, RFC 2308 negative answers with their SOA).
 * A response whose every record of the type is malformed is ENODATA-like for the caller: it resolves
 * with no records and the reasons in `malformed`.
 */
export function queryServiceRecords(
  name: string,
  type: 'SRV',
  options: DnsClientOptions,
): { promise: Promise<ServiceAnswer<SrvRecordData>>; cancel(): void; unref(): void };
export function queryServiceRecords(
  name: string,
  type: 'SVCB' | 'HTTPS',
  options: DnsClientOptions,
): { promise: Promise<ServiceAnswer<SvcbRecord>>; cancel(): void; unref(): void };
export function queryServiceRecords(
  name: string,
  type: ServiceRecordType,
  options: DnsClientOptions,
): { promise: Promise<ServiceAnswer<SrvRecordData | SvcbRecord>>; cancel(): void; unref(): void } {
  const qname = checkName(name);
  const wire = SERVICE_WIRE_TYPES[type];
  if (wire === undefined) throw badOption('type', "'SRV', 'SVCB' or 'HTTPS'", type);
  return runQuery<ServiceAnswer<SrvRecordData | SvcbRecord>>(qname, wire, type, options, (packet, fail) =>
    readServiceAnswer(packet, qname, type, wire, fail),
  );
}

/** The transport of one query: servers, tries, EDNS, TCP; `read` turns a matched response into the answer. */
function runQuery<T>(
  qname: string,
  type: string,
  label: string,
  options: DnsClientOptions,
  read: (
    packet: DecodedPacket,
    fail: (code: string, detail?: string, soa?: NegativeSoa) => DnsClientError,
  ) => T | DnsClientError,
): { promise: Promise<T>; cancel(): void; unref(): void } {
  if (!Array.isArray(options?.servers) || options.servers.length === 0) {
    throw badOption('servers', 'a non-empty array', options?.servers);
  }
  const servers = parseServers(options.servers);
  const timeoutMs = options.timeoutMs ?? 2000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 0x7fffffff) {
    throw badOption('timeoutMs', 'an integer number of milliseconds >= 1', timeoutMs);
  }
  const tcpOnly = options.tcpOnly === true;
  // glibc res_send: "Use VC; at most one attempt per server".
  const attempts = tcpOnly ? 1 : (options.attempts ?? 2);
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 100) {
    throw badOption('attempts', 'an integer from 1 to 100', options.attempts);
  }
  const firstServer = options.firstServer ?? 0;
  if (!Number.isInteger(firstServer) || firstServer < 0) {
    throw badOption('firstServer', 'an integer >= 0', firstServer);
  }
  const ednsWanted = options.edns !== false;
  const memory = options.serverMemory ?? new DnsServerMemory();
  const createSocket =
    options.createSocket ??
    ((t: 'udp4' | 'udp6') => nodeDgram.createSocket({ type: t, lookup: literalOnlyLookup }));
  const order = servers.map((_, i) => servers[(firstServer + i) % servers.length] as Server);

  const fail = (code: string, detail?: string, soa?: NegativeSoa): DnsClientError =>
    Object.assign(new Error(`query${label} ${code} ${qname}${detail === undefined ? '' : ` (${detail})`}`), {
      code,
      hostname: qname,
      syscall: `query${label}`,
      ...(soa === undefined ? {} : { soa }),
    });

  let timer: NodeJS.Timeout | undefined;
  /** unref() was called: every socket and timer of this query, now and later, is unref'd. */
  let unrefd = false;
  let tryIndex = -1; // tries started; the server is order[tryIndex % order.length]
  let current: Transmission | undefined;
  const lingering: Transmission[] = []; // earlier tries whose UDP socket still listens
  let done = false;
  let lastAnswered: DnsClientError | undefined; // the last server's error response
  // The last server that answered truncated over UDP: it was reached (its TCP may still fail).
  let truncatedBy: string | undefined;
  const failures: DnsTryFailure[] = [];
  let settle: (result: T | DnsClientError) => void = () => {};
  const promise = new Promise<T>((resolve, reject) => {
    settle = (result) => (result instanceof Error ? reject(result) : resolve(result));
  });

  const finish = (result: T | DnsClientError): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (current !== undefined) closeTransmission(current);
    for (const t of lingering) closeTransmission(t);
    settle(result);
  };

  /** Starts the next try, or gives up with the error the tries add up to. */
  const advance = (): void => {
    tryIndex++;
    if (tryIndex >= attempts * order.length) {
      finish(giveUp());
      return;
    }
    const position = tryIndex % order.length;
    const server = order[position] as Server;
    transmit(server, position, ednsWanted && memory.speaksEdns(server.label), tcpOnly ? 'tcp' : 'udp');
  };

  const giveUp = (): DnsClientError => {
    const detail = failures.map((f) => `${f.server} ${f.code}`).join(', ');
    let error: DnsClientError;
    if (lastAnswered !== undefined) error = lastAnswered;
    else if (failures.some((f) => f.code === 'ETIMEOUT')) error = fail('ETIMEOUT', `no answer: ${detail}`);
    else if (truncatedBy !== undefined) {
      // The server answered (truncated, over UDP): not "no server could be reached", but its TCP failed.
      const tcp = failures.findLast((f) => f.server === truncatedBy)?.code ?? 'ECONNRESET';
      // A refused TCP connection as ECONNREFUSED would read as "no DNS server could be reached" (Node's
      // meaning, and 'auto' would then ask the system resolver): it has its own code, ETRUNCATED.
      error =
        tcp === 'ECONNREFUSED'
          ? fail(
              'ETRUNCATED',
              `${truncatedBy} answered truncated over UDP and refused the TCP connection to ask again (RFC 7766 §5): ${detail}`,
            )
          : fail(tcp, `TCP failed after a truncated UDP answer from ${truncatedBy} (RFC 7766 §5): ${detail}`);
    } else error = fail('ECONNREFUSED', `no DNS server could be reached: ${detail}`);
    error.tries = failures;
    return error;
  };

  /**
   * What a server answered that is not a fact about the name (SERVFAIL, REFUSED, a lame answer, a CNAME
   * loop…) names that server, the one to look at: "queryA EBADRESP name (127.0.0.1:53 sent a lame…)".
   */
  const fromServer = (error: DnsClientError, server: string): DnsClientError => {
    const head = `query${label} ${error.code} ${qname}`;
    const detail = error.message.length > head.length ? error.message.slice(head.length + 2, -1) : 'failed';
    error.message = `${head} (${server} ${detail})`;
    return error;
  };

  /** Ends the try in progress: its UDP socket may linger for a late answer; its TCP connection is closed. */
  const retire = (t: Transmission): void => {
    clearTimeout(timer);
    if (current === t) current = undefined;
    t.tcp?.destroy();
    t.tcp = undefined;
    if (t.udp === undefined) return;
    lingering.push(t);
    while (lingering.length > MAX_LINGERING_SOCKETS) closeTransmission(lingering.shift() as Transmission);
  };

  /** The try `t` failed with `code` (or a DNS error response): on to the next try. */
  const tryFailed = (t: Transmission, outcome: string | DnsClientError): void => {
    if (done || current !== t) return;
    if (typeof outcome === 'string') failures.push({ server: t.server.label, code: outcome });
    else {
      failures.push({ server: t.server.label, code: outcome.code });
      lastAnswered = outcome;
    }
    retire(t);
    advance();
  };

  /** A socket-level failure of `t`: its socket is closed; if it is the try in progress, on to the next. */
  const transportFailed = (t: Transmission, err: unknown): void => {
    if (done) return;
    const code = errorCode(err);
    if (current === t) {
      closeTransmission(t);
      tryFailed(t, code);
    } else {
      closeTransmission(t); // an earlier try's socket (e.g. a late ICMP error): nothing more to hear on it
    }
  };

  /** One transmission to `server` over `via`, with a fresh ID (and, over UDP, a fresh socket and port). */
  const transmit = (server: Server, position: number, edns: boolean, via: 'udp' | 'tcp'): void => {
    const id = randomDnsId();
    const t: Transmission = { server, position, id, edns, query: encodeQuery(id, qname, type, edns) };
    current = t;
    clearTimeout(timer);
    timer = setTimeout(() => tryFailed(t, 'ETIMEOUT'), tryTimeoutMs(timeoutMs, position, order.length));
    if (unrefd) timer.unref();
    if (via === 'udp') sendUdp(t);
    else sendTcp(t);
  };

  /** A response from `t`'s server over `via`: final, a reason to move on, or ignored. */
  const onMessage = (message: Buffer, t: Transmission, via: 'udp' | 'tcp'): void => {
    if (done) return;
    let packet: DecodedPacket;
    try {
      packet = dnsPacket.decode(message);
    } catch {
      return; // undecodable: cannot even be matched to the query
    }
    const isCurrent = current === t;
    if (t.edns && isCurrent && isEdnsRejection(packet, t.id, qname, type)) {
      // RFC 6891 §7: a server that does not implement EDNS answers FORMERR (often without the question);
      // ask it again at once without the OPT record, and remember that.
      memory.noteNoEdns(t.server.label);
      closeTransmission(t);
      transmit(t.server, t.position, false, via);
      return;
    }
    if (!isResponseTo(packet, t.id, qname, type)) return;
    if (packet.flag_tc) {
      // RFC 7766 §5: a truncated UDP answer is asked again over TCP; TC over TCP is a broken server.
      if (isCurrent && via === 'udp') {
        truncatedBy = t.server.label;
        closeTransmission(t);
        transmit(t.server, t.position, t.edns, 'tcp');
      } else if (isCurrent) tryFailed(t, fromServer(fail('EBADRESP', 'sent TC=1 over TCP'), t.server.label));
      return;
    }
    const result = read(packet, fail);
    if (!(result instanceof Error) || isNegativeAnswer(result.code)) finish(result);
    else if (isCurrent) tryFailed(t, fromServer(result, t.server.label));
  };

  const sendUdp = (t: Transmission): void => {
    const { server } = t;
    let socket: dgram.Socket;
    try {
      socket = createSocket(server.family === 6 ? 'udp6' : 'udp4');
    } catch (err) {
      transportFailed(t, err); // EMFILE and friends
      return;
    }
    t.udp = socket;
    if (unrefd) socket.unref();
    socket.on('message', (message, from) => {
      // RFC 5452 §9.1: only the queried address and port; zones compared by interface index.
      if (from.port === server.port && sameZonedAddress(server, from.address)) onMessage(message, t, 'udp');
    });
    socket.on('error', (err) => transportFailed(t, err));
    try {
      // A connected socket: the kernel filters other sources and reports ICMP errors (ECONNREFUSED…).
      socket.connect(server.port, server.connectTo, (err?: Error) => {
        if (err) {
          transportFailed(t, err);
          return;
        }
        if (done || t.udp !== socket) return;
        try {
          socket.send(t.query, (sendErr) => {
            if (sendErr) transportFailed(t, sendErr);
          });
        } catch (sendErr) {
          transportFailed(t, sendErr);
        }
      });
    } catch (err) {
      transportFailed(t, err);
    }
  };

  /** RFC 7766 §8: the query on a new connection, each message framed by a 2-byte length. */
  const sendTcp = (t: Transmission): void => {
    let socket: net.Socket;
    try {
      socket = nodeNet.connect({ host: t.server.connectTo, port: t.server.port });
    } catch (err) {
      transportFailed(t, err);
      return;
    }
    t.tcp = socket;
    if (unrefd) socket.unref();
    const frame = Buffer.alloc(2 + t.query.length);
    frame.writeUInt16BE(t.query.length, 0);
    t.query.copy(frame, 2);
    socket.on('connect', () => socket.write(frame));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + message.length);
        if (t.tcp !== socket) return;
        onMessage(message, t, 'tcp');
      }
    });
    socket.on('error', (err) => {
      if (t.tcp === socket) transportFailed(t, err);
    });
    socket.on('close', () => {
      if (t.tcp === socket) transportFailed(t, Object.assign(new Error('closed'), { code: 'ECONNRESET' }));
    });
  };

  advance();
  const unref = (): void => {
    if (unrefd || done) return;
    unrefd = true;
    timer?.unref();
    for (const t of [current, ...lingering]) {
      t?.udp?.unref();
      t?.tcp?.unref();
    }
  };
  return { promise, cancel: () => finish(fail('ECANCELLED', 'cancelled')), unref };
}

/** Closes `t`'s sockets; safe to call more than once. */
function closeTransmission(t: Transmission): void {
  const { udp, tcp } = t;
  t.udp = undefined;
  t.tcp = undefined;
  tcp?.destroy();
  if (udp === undefined) return;
  try {
    udp.close();
  } catch {
    // already closed (ERR_SOCKET_DGRAM_NOT_RUNNING)
  }
}

/** A socket error's code; 'EIO' when it has none. */
function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length > 0 ? code : 'EIO';
}

/** RFC 1035 §4.1.1 header: ID, RD=1, one question; RFC 6891 §6.1.2 OPT pseudo-record when `edns`. */
function encodeQuery(id: number, qname: string, type: string, edns: boolean): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as 'A', name: qname, class: 'IN' }],
    additionals: edns
      ? [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: EDNS_UDP_PAYLOAD_BYTES,
            extendedRcode: 0,
            ednsVersion: 0,
            flags: 0,
            flag_do: false,
            options: [],
          },
        ]
      : [],
  });
}

/**
 * FORMERR to our query with OPT: the response has our ID, QR=1, opcode QUERY, RCODE 1 and either no
 * question (RFC 6891 §7 servers often send none; glibc checks this before matching the question) or ours.
 */
function isEdnsRejection(packet: DecodedPacket, id: number, qname: string, type: string): boolean {
  if (packet.id !== id || !packet.flag_qr || ((packet.flags ?? 0) & 0xf) !== RCODE_FORMERR) return false;
  if ((packet as DecodedPacket & { opcode?: string }).opcode !== 'QUERY') return false;
  return (packet.questions ?? []).length === 0 || isResponseTo(packet, id, qname, type);
}

/** True when `packet` is the response to our query (RFC 1035 §4.1.1, RFC 5452 §3). */
function isResponseTo(packet: DecodedPacket, id: number, qname: string, type: string): boolean {
  const questions = packet.questions ?? [];
  const q = questions[0];
  return (
    packet.id === id &&
    packet.flag_qr &&
    (packet as DecodedPacket & { opcode?: string }).opcode === 'QUERY' &&
    questions.length === 1 &&
    q !== undefined &&
    q.type === type &&
    (q.class ?? 'IN') === 'IN' &&
    canonical(q.name) === canonical(qname)
  );
}

/**
 * Reads a matched response. Only records owned by the question name or by a name on its CNAME chain are
 * used (RFC 1034 §4.3.2 step 3, RFC 2181 §5.4.1); everything else in any section is ignored.
 * A CNAME loop or a chain over 16 hops is EBADRESP (decision: a broken answer, not a fact about the name,
 * so another server is tried and nothing is cached as negative).
 */
function readAnswer(
  packet: DecodedPacket,
  qname: string,
  type: 'A' | 'AAAA',
  fail: (code: string, detail?: string, soa?: NegativeSoa) => DnsClientError,
): DnsAnswer | DnsClientError {
  const chain = followChain(packet, qname, fail);
  if (chain instanceof Error) return chain;
  const { records, owner, canonicalName, chainTtl } = chain;
  const family = type === 'A' ? 4 : 6;
  const addresses: DnsAnswer['addresses'] = [];
  for (const r of records) {
    if (r.type !== type || canonical(r.name) !== owner || isIP(String(r.data)) !== family) continue;
    const address = String(r.data);
    const ttlSeconds = Math.min(ttlOf(r), chainTtl);
    const dup = addresses.find((a) => a.address === address);
    if (dup === undefined) addresses.push({ address, ttlSeconds });
    else dup.ttlSeconds = Math.min(dup.ttlSeconds, ttlSeconds); // RFC 2181 §5.2: lowest TTL of the set
  }
  if (addresses.length === 0) return fail('ENODATA', canonicalName, negativeSoa(packet, owner));
  return canonicalName === undefined ? { addresses } : { addresses, canonicalName };
}

/**
 * Reads a matched response to a service record query: the records of the type owned by the name or the
 * end of its CNAME chain. SVCB/HTTPS RDATA is decoded by svcb.ts; a malformed record is left out with
 * its reason (RFC 9460 §2.2). No usable record: ENODATA, like an address query.
 */
function readServiceAnswer(
  packet: DecodedPacket,
  qname: string,
  type: ServiceRecordType,
  wire: string,
  fail: (code: string, detail?: string, soa?: NegativeSoa) => DnsClientError,
): ServiceAnswer<SrvRecordData | SvcbRecord> | DnsClientError {
  const chain = followChain(packet, qname, fail);
  if (chain instanceof Error) return chain;
  const { records, owner, canonicalName, chainTtl } = chain;
  const out: Array<SrvRecordData | SvcbRecord> = [];
  const malformed: string[] = [];
  let ttlSeconds = chainTtl;
  for (const r of records) {
    if (r.type !== wire || canonical(r.name) !== owner) continue;
    if (type === 'SRV') {
      const d = r.data as Partial<SrvRecordData> | undefined;
      if (typeof d?.port !== 'number' || typeof d.target !== 'string') {
        malformed.push('SRV record without port or target');
        continue;
      }
      out.push({
        priority: d.priority ?? 0,
        weight: d.weight ?? 0,
        port: d.port,
        target: d.target === '' || d.target === '.' ? '.' : canonical(d.target),
      });
    } else {
      const decoded = r.data instanceof Uint8Array ? decodeSvcbRdata(r.data) : undefined;
      if (decoded === undefined || !decoded.ok) {
        malformed.push(decoded?.reason ?? 'no RDATA');
        continue;
      }
      out.push(decoded.record);
    }
    ttlSeconds = Math.min(ttlSeconds, ttlOf(r)); // RFC 2181 §5.2: one TTL for the RRset, the lowest
  }
  if (out.length === 0) {
    const detail = malformed.length > 0 ? `every record malformed: ${malformed.join('; ')}` : canonicalName;
    return fail('ENODATA', detail, negativeSoa(packet, owner));
  }
  return { records: out, ttlSeconds, malformed, owner };
}

/**
 * The rcode check and the CNAME chain of a matched response: the records to read and the name owning
 * them (RFC 1034 §4.3.2 step 3, RFC 2181 §5.4.1). A CNAME loop or a chain over 16 hops is EBADRESP.
 */
function followChain(
  packet: DecodedPacket,
  qname: string,
  fail: (code: string, detail?: string, soa?: NegativeSoa) => DnsClientError,
): { records: Rr[]; owner: string; canonicalName: string | undefined; chainTtl: number } | DnsClientError {
  const opt = packet.additionals?.find((r) => r.type === 'OPT') as { extendedRcode?: number } | undefined;
  const rcode = ((opt?.extendedRcode ?? 0) << 4) | ((packet.flags ?? 0) & 0xf);
  if (rcode !== 0 && rcode !== 3) {
    return fail(RCODE_ERRORS[rcode] ?? 'EBADRESP', `answered ${RCODE_NAMES[rcode] ?? `rcode ${rcode}`}`);
  }
  if (rcode === 0 && !packet.flag_aa && !packet.flag_ra && (packet.answers ?? []).length === 0) {
    // A lame delegation or a referral: the server neither recurses (RA=0) nor owns the name (AA=0), so
    // its empty answer says nothing about the name. glibc (res_send.c send_dg "referred query") and Go
    // (errLameReferral) move on to the next server; so does netdial, and nothing is cached as NODATA.
    // Deviation: both also require an empty additional section; a referral with glue is as useless.
    return fail(
      'EBADRESP',
      'sent a lame or referral answer (NOERROR, no records, AA=0, RA=0), so it does not resolve this name',
    );
  }
  const records = ((packet.answers ?? []) as Rr[]).filter((r) => r.class === 'IN');
  let owner = canonical(qname);
  let canonicalName: string | undefined;
  let chainTtl = MAX_TTL_SECONDS;
  const seen = new Set([owner]);
  for (let hops = 0; ; hops++) {
    const cname = records.find((r) => r.type === 'CNAME' && canonical(r.name) === owner);
    if (cname === undefined) break;
    if (hops === MAX_CNAME_HOPS) return fail('EBADRESP', `sent a CNAME chain longer than ${MAX_CNAME_HOPS}`);
    const target = String(cname.data).replace(/\.$/, '');
    if (seen.has(canonical(target))) return fail('EBADRESP', `sent a CNAME loop at ${target}`);
    owner = canonical(target);
    seen.add(owner);
    canonicalName = target;
    chainTtl = Math.min(chainTtl, ttlOf(cname));
  }
  if (rcode === 3) return fail('ENOTFOUND', canonicalName, negativeSoa(packet, owner));
  return { records, owner, canonicalName, chainTtl };
}

/** RFC 2308 §5: the SOA in the authority section, if it is for `owner` or one of its ancestors. */
function negativeSoa(packet: DecodedPacket, owner: string): NegativeSoa | undefined {
  for (const r of packet.authorities ?? []) {
    if (r.type !== 'SOA' || r.class !== 'IN') continue;
    const zone = canonical(r.name);
    if (zone !== '' && zone !== owner && !owner.endsWith(`.${zone}`)) continue;
    return { ttlSeconds: ttlOf(r), minimumSeconds: ttlOf({ ttl: r.data.minimum }) };
  }
  return undefined;
}

/** A decoded resource record, as far as this file reads it. */
type Rr = { type: string; name: string; class?: string; ttl?: number | undefined; data?: unknown };

/**
 * RFC 8767 §4 (updating RFC 2181 §8): a TTL (here also the SOA MINIMUM) is read as an unsigned 32-bit
 * value — one with the top bit set is a large positive number, not 0 — and every TTL is capped at
 * 7 days (604 800 s), the cap the RFC recommends.
 */
function ttlOf(record: { ttl?: number | undefined }): number {
  const ttl = record.ttl ?? 0;
  return Number.isFinite(ttl) && ttl > 0 ? Math.min(Math.floor(ttl), MAX_TTL_SECONDS) : 0;
}

/** Name for comparisons: ASCII-only lowercase (RFC 4343 §3), no trailing dot; the root is ''. */
function canonical(name: string): string {
  return name.replace(/\.$/, '').replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** Validates a query name: 1..253 characters without the trailing dot, labels 1..63, printable ASCII, no '\'. */
function checkName(name: unknown): string {
  const bare = typeof name === 'string' ? name.replace(/\.$/, '') : '';
  const ok =
    bare.length > 0 &&
    bare.length <= 253 &&
    /^[\x21-\x7e]+$/.test(bare) &&
    !bare.includes('\\') &&
    bare.split('.').every((label) => label.length >= 1 && label.length <= 63);
  if (!ok) {
    throw inputError(
      'ERR_NETDIAL_INVALID_TARGET',
      `invalid DNS name ${JSON.stringify(name)}: expected labels of 1 to 63 printable characters, 253 in all`,
    );
  }
  return bare;
}

/**
 * Parses 'IP', 'IP:port', '[IPv6]:port' (port default 53), IPv6 with a zone ('fe80::1%eth0',
 * '[fe80::1%2]:53'); undefined when `text` is none of these. The one definition of a DNS server's
 * spelling: the `nameservers` option is validated with it too. The address comes back canonical with its
 * zone kept: for sockets as an interface name, for comparisons as the interface index (see ip-zone.ts).
 */
export function parseNameserver(text: unknown): Server | undefined {
  const m =
    typeof text === 'string' ? /^(?:\[([^\]]+)\]:(\d{1,5})|([^:\s]+):(\d{1,5})|([^\s]+))$/.exec(text) : null;
  const host = m?.[1] ?? m?.[3] ?? m?.[5] ?? '';
  const port = Number(m?.[2] ?? m?.[4] ?? 53);
  const parsed = parseZonedAddress(host);
  if (parsed === undefined || (m?.[1] !== undefined && parsed.family !== 6) || port < 1 || port > 65535) {
    return undefined;
  }
  const shown = parsed.zone === undefined ? parsed.address : `${parsed.address}%${parsed.zone}`;
  const label = parsed.family === 6 ? `[${shown}]:${port}` : `${shown}:${port}`;
  return { ...parsed, port, connectTo: socketAddressText(parsed), label };
}

/**
 * Frozen server lists parsed before (the resolver's nameservers: the option's list, resolv.conf's), so a
 * query does not parse its servers again. Lists with a zone are parsed per query: a numeric zone is
 * turned into the interface's current name.
 */
const parsedServerLists = new WeakMap<readonly string[], readonly Server[]>();

function parseServers(list: readonly string[]): readonly Server[] {
  const known = parsedServerLists.get(list);
  if (known !== undefined) return known;
  const servers = list.map((text, i) => {
    const server = parseNameserver(text);
    if (server === undefined) {
      throw badOption(`servers[${i}]`, "an IP address, 'IP:port' or '[IPv6]:port'", text);
    }
    return server;
  });
  if (Object.isFrozen(list) && servers.every((s) => s.zone === undefined))
    parsedServerLists.set(list, servers);
  return servers;
}

function badOption(name: string, expected: string, got: unknown): TypeError {
  const shown = typeof got === 'string' ? JSON.stringify(got) : Array.isArray(got) ? 'an array' : String(got);
  return inputError(
    'ERR_NETDIAL_INVALID_OPTION',
    `invalid DNS client option ${name}: expected ${expected}, got ${shown}`,
  );
}
