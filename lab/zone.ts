/**
 * The lab DNS server's zone model and its pure answering rules: which records, which response code,
 * which delay. No sockets and no clock here; `dns-server.ts` does the I/O.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer } from 'dns-packet';
import { encodeSvcbRdata, type SvcbRecord } from '../src/resolution/svcb.js';

/** How a name fails for one type instead of answering. `DROP` sends no response at all. */
export type DnsFailure = 'SERVFAIL' | 'NXDOMAIN' | 'NODATA' | 'REFUSED' | 'DROP';

/** The record set of one owner name. */
export interface ZoneRecordSet {
  /** IPv4 addresses, answered in this order. */
  A?: readonly string[];
  /** IPv6 addresses, answered in this order. */
  AAAA?: readonly string[];
  /** Alias target (fqdn, no trailing dot); chased inside the zone for A/AAAA queries. */
  CNAME?: string;
  /** TTL of every record of this set, seconds. Default 60. */
  ttl?: number;
  /** SRV records (RFC 2782); `target` without the trailing dot, `.` for "no service". */
  SRV?: ReadonlyArray<{ priority: number; weight: number; port: number; target: string }>;
  /** HTTPS records (RFC 9460 §9), encoded by netdial's codec. */
  HTTPS?: readonly SvcbRecord[];
  /** SVCB records (RFC 9460 §2). */
  SVCB?: readonly SvcbRecord[];
  /** Delay before answering, per query type, milliseconds. Default 0. */
  delayMs?: { [T in RecordType]?: number };
  /** Fail queries of a type instead of answering them. */
  fail?: { [T in RecordType]?: DnsFailure };
  /** UDP answers carry TC=1 and no records (forcing a TCP retry); TCP gets the full answer. */
  truncate?: boolean;
}

/** The query types a record set can delay or fail. */
export type RecordType = 'A' | 'AAAA' | 'SRV' | 'HTTPS' | 'SVCB';
const RECORD_TYPES: readonly RecordType[] = ['A', 'AAAA', 'SRV', 'HTTPS', 'SVCB'];

/** dns-packet has no SVCB/HTTPS codec: it names them by number. */
const WIRE_TYPE: Readonly<Record<string, RecordType>> = { UNKNOWN_64: 'SVCB', UNKNOWN_65: 'HTTPS' };

/** Owner name (fqdn, lowercase, no trailing dot) -> record set. */
export type Zone = Readonly<Record<string, ZoneRecordSet>>;

/** Response codes the lab answers with (RFC 1035 §4.1.1, RFC 2308). */
export type DnsRcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED';

/** Numeric value of each response code for the header's RCODE field. */
export const RCODE_VALUE: Readonly<Record<DnsRcode, number>> = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
};

/** What the server should do with one question. */
export type ZoneDecision =
  | {
      kind: 'answer';
      rcode: DnsRcode;
      answers: Answer[];
      /** SOA for negative answers (RFC 2308 §3), otherwise empty. */
      authority: Answer[];
      /** Answer over UDP with TC=1 and no records. */
      truncate: boolean;
      delayMs: number;
    }
  | { kind: 'drop'; delayMs: number };

/** Parameters of the synthetic SOA used for negative answers. */
export interface SoaSettings {
  /** Zone apex used as SOA owner for names under it; other names get the root as owner. */
  apex: string;
  /** SOA MINIMUM and SOA TTL: the negative-caching TTL, seconds (RFC 2308 §5). */
  minimumSeconds: number;
  /** SOA serial; the server bumps it on every zone change. */
  serial: number;
}

const INVALID_ZONE = 'ERR_NETDIAL_LAB_INVALID_ZONE';
const FAILURES: readonly DnsFailure[] = ['SERVFAIL', 'NXDOMAIN', 'NODATA', 'REFUSED', 'DROP'];
const MAX_CNAME_CHAIN = 8;

/** Lowercases a DNS name and strips one trailing dot. */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') && lower.length > 1 ? lower.slice(0, -1) : lower;
}

function invalid(message: string): TypeError {
  const error = new TypeError(message) as TypeError & { code: string };
  error.code = INVALID_ZONE;
  return error;
}

function checkDelay(owner: string, type: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(`zone "${owner}": delayMs.${type} must be a finite number >= 0, got ${String(value)}`);
  }
}

function checkFailure(owner: string, type: string, value: unknown): void {
  if (value === undefined) return;
  if (!FAILURES.includes(value as DnsFailure)) {
    throw invalid(
      `zone "${owner}": fail.${type} must be one of ${FAILURES.join(', ')}, got ${String(value)}`,
    );
  }
}

/**
 * Validates a record set and returns a normalized copy (CNAME target normalized).
 * Throws `TypeError` with code `ERR_NETDIAL_LAB_INVALID_ZONE` naming the owner and the bad field.
 */
export function validateRecordSet(owner: string, rs: ZoneRecordSet): ZoneRecordSet {
  if (typeof rs !== 'object' || rs === null) throw invalid(`zone "${owner}": record set must be an object`);
  for (const address of rs.A ?? []) {
    if (!isIPv4(address)) throw invalid(`zone "${owner}": A record "${address}" is not an IPv4 address`);
  }
  for (const address of rs.AAAA ?? []) {
    if (!isIPv6(address)) throw invalid(`zone "${owner}": AAAA record "${address}" is not an IPv6 address`);
  }
  if (rs.ttl !== undefined && (!Number.isInteger(rs.ttl) || rs.ttl < 0 || rs.ttl > 0x7fffffff)) {
    throw invalid(`zone "${owner}": ttl must be an integer number of seconds >= 0, got ${String(rs.ttl)}`);
  }
  for (const type of RECORD_TYPES) {
    checkDelay(owner, type, rs.delayMs?.[type]);
    checkFailure(owner, type, rs.fail?.[type]);
  }
  for (const srv of rs.SRV ?? []) {
    const fields = [srv.priority, srv.weight, srv.port];
    if (fields.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffff) || typeof srv.target !== 'string') {
      throw invalid(`zone "${owner}": SRV record needs priority, weight, port in 0-65535 and a target`);
    }
  }
  for (const type of ['HTTPS', 'SVCB'] as const) {
    for (const record of rs[type] ?? []) {
      try {
        encodeSvcbRdata(record);
      } catch (err) {
        throw invalid(`zone "${owner}": ${type} record: ${(err as Error).message}`);
      }
    }
  }
  if (rs.CNAME !== undefined && (typeof rs.CNAME !== 'string' || rs.CNAME === '')) {
    throw invalid(`zone "${owner}": CNAME must be a non-empty name`);
  }
  if (rs.CNAME !== undefined && (rs.A !== undefined || rs.AAAA !== undefined)) {
    throw invalid(`zone "${owner}": a CNAME owner cannot also have A/AAAA records (RFC 1034 §3.6.2)`);
  }
  return rs.CNAME === undefined ? { ...rs } : { ...rs, CNAME: normalizeName(rs.CNAME) };
}

/** Validates a whole zone and returns a copy with normalized owner names. Throws like `validateRecordSet`. */
export function validateZone(zone: Zone): Zone {
  if (typeof zone !== 'object' || zone === null)
    throw invalid('zone must be an object of name -> record set');
  const out: Record<string, ZoneRecordSet> = {};
  for (const [name, rs] of Object.entries(zone)) {
    const owner = normalizeName(name);
    if (owner === '' || owner.includes(' ')) throw invalid(`zone name "${name}" is not a DNS name`);
    out[owner] = validateRecordSet(owner, rs);
  }
  return out;
}

function soaRecord(name: string, soa: SoaSettings): Answer {
  const owner = name === soa.apex || name.endsWith(`.${soa.apex}`) ? soa.apex : '.';
  return {
    type: 'SOA',
    name: owner,
    ttl: soa.minimumSeconds,
    data: {
      mname: `ns.${soa.apex}`,
      rname: `hostmaster.${soa.apex}`,
      serial: soa.serial,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: soa.minimumSeconds,
    },
  };
}

function failureDecision(failure: DnsFailure, name: string, delayMs: number, soa: SoaSettings): ZoneDecision {
  switch (failure) {
    case 'DROP':
      return { kind: 'drop', delayMs };
    case 'NODATA':
      return negative('NOERROR', name, delayMs, soa);
    case 'NXDOMAIN':
      return negative('NXDOMAIN', name, delayMs, soa);
    default:
      return { kind: 'answer', rcode: failure, answers: [], authority: [], truncate: false, delayMs };
  }
}

type AnswerDecision = Extract<ZoneDecision, { kind: 'answer' }>;

function negative(rcode: DnsRcode, name: string, delayMs: number, soa: SoaSettings): AnswerDecision {
  return { kind: 'answer', rcode, answers: [], authority: [soaRecord(name, soa)], truncate: false, delayMs };
}

function hasDescendant(zone: Zone, name: string): boolean {
  const suffix = `.${name}`;
  return Object.keys(zone).some((owner) => owner.endsWith(suffix));
}

/**
 * Decides the response to one question. `qname` is kept as sent (case preserved, for owner names of the
 * answer); lookup is case-insensitive.
 * - name absent (and no descendants): NXDOMAIN + SOA (RFC 2308 §2.1); empty non-terminal: NODATA + SOA.
 * - `fail[type]` applies to A/AAAA of the queried name and of each CNAME in the chain.
 * - CNAME: answered as is, then chased inside the zone for the queried type (at most 8 links); the final
 *   name's result decides the rcode, and negative answers keep the CNAME records (RFC 2308 §2.1).
 * - any other type on an existing name: NODATA + SOA.
 * - `delayMs[type]` of every name on the chain adds up.
 */
export function decideAnswer(zone: Zone, qname: string, wireType: string, soa: SoaSettings): ZoneDecision {
  const qtype: string = WIRE_TYPE[wireType] ?? wireType;
  const answers: Answer[] = [];
  let owner = qname;
  let delayMs = 0;
  let truncate = false;
  for (let link = 0; link <= MAX_CNAME_CHAIN; link++) {
    const key = normalizeName(owner);
    const rs = zone[key];
    if (rs === undefined) {
      if (hasDescendant(zone, key)) return { ...negative('NOERROR', key, delayMs, soa), answers, truncate };
      return { ...negative('NXDOMAIN', key, delayMs, soa), answers, truncate };
    }
    truncate ||= rs.truncate === true;
    const ttl = rs.ttl ?? 60;
    if (RECORD_TYPES.includes(qtype as RecordType)) {
      delayMs += rs.delayMs?.[qtype as RecordType] ?? 0;
      const failure = rs.fail?.[qtype as RecordType];
      if (failure !== undefined) {
        const decision = failureDecision(failure, key, delayMs, soa);
        return decision.kind === 'answer' && decision.rcode !== 'SERVFAIL' && decision.rcode !== 'REFUSED'
          ? { ...decision, answers, truncate }
          : decision;
      }
    }
    if (rs.CNAME !== undefined) {
      answers.push({ type: 'CNAME', name: owner, ttl, data: rs.CNAME });
      if (qtype === 'CNAME') break;
      owner = rs.CNAME;
      continue;
    }
    if (qtype === 'SRV' || qtype === 'HTTPS' || qtype === 'SVCB') {
      const set = qtype === 'SRV' ? rs.SRV : rs[qtype];
      if (set === undefined || set.length === 0) {
        return { ...negative('NOERROR', key, delayMs, soa), answers, truncate };
      }
      for (const record of set) {
        answers.push(
          qtype === 'SRV'
            ? { type: 'SRV', name: owner, ttl, data: record as NonNullable<ZoneRecordSet['SRV']>[number] }
            : ({
                type: wireType,
                name: owner,
                ttl,
                data: Buffer.from(encodeSvcbRdata(record as SvcbRecord)),
              } as unknown as Answer),
        );
      }
      return { kind: 'answer', rcode: 'NOERROR', answers, authority: [], truncate, delayMs };
    }
    const records = qtype === 'A' ? rs.A : qtype === 'AAAA' ? rs.AAAA : undefined;
    if (records === undefined || records.length === 0) {
      return { ...negative('NOERROR', key, delayMs, soa), answers, truncate };
    }
    for (const address of records) {
      answers.push({ type: qtype as 'A' | 'AAAA', name: owner, ttl, data: address });
    }
    return { kind: 'answer', rcode: 'NOERROR', answers, authority: [], truncate, delayMs };
  }
  // CNAME chain too long (or a CNAME query): answer what we have.
  return {
    kind: 'answer',
    rcode: qtype === 'CNAME' ? 'NOERROR' : 'SERVFAIL',
    answers,
    authority: [],
    truncate,
    delayMs,
  };
}
