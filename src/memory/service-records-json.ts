/**
 * The SRV/HTTPS/SVCB answers of a Dialer memory as plain JSON (the `services` part of MemoryJson), so a
 * saved memory (`--memory-file`, NETDIAL_MEMORY_FILE, `exportMemory()`) keeps them as it keeps A/AAAA.
 * Their TTL rules hold across a reload: each entry carries the time it had left when saved, the time
 * between save and load is taken off, and nothing is ever kept longer than that (a reload never extends
 * a TTL); positive answers at most 7 days (RFC 8767 §4, the DNS client's cap) and the cache's own cap
 * (`maxTtlSeconds`, ServiceRecordCache#restore), negative ones at most 3 hours (RFC 2308 §5). Bounded: at most the cache's 1 024 entries and MAX_RECORDS records each.
 * HTTPS/SVCB records are saved in their RFC 9460 wire form (base64) and read back with the same codec as
 * a DNS answer, so a hand-edited or hostile file is checked by the rules that check the network.
 * Pure: times in, JSON out.
 */
import { invalidArgument, isNegativeAnswer } from '../errors.js';
import { MAX_TTL_SECONDS, type ServiceRecordType, type SrvRecordData } from '../resolution/dns-client.js';
import { SERVICE_TYPES, type ServiceRecordCache } from '../resolution/service-lookup.js';
import { decodeSvcbRdata, encodeSvcbRdata, type SvcbRecord } from '../resolution/svcb.js';

/** Plain-JSON export of a memory's service record answers. */
export interface ServiceRecordsJson {
  version: 1;
  /** Wall clock (Date.now()) when saved: the loader takes the time since off every entry. */
  wallClockMs: number;
  /** Least recently used first. */
  entries: ServiceRecordsJsonEntry[];
}

/** One (name, type) answer. */
export interface ServiceRecordsJsonEntry {
  name: string;
  type: ServiceRecordType;
  /** How long the answer stays valid from `wallClockMs`, ms. */
  forMs: number;
  /** A positive answer: the owner of its records (the end of a CNAME chain). */
  owner?: string;
  /** A positive answer's TTL, seconds (at most what it had left when saved). */
  ttlSeconds?: number;
  /** SRV records (RFC 2782). */
  srv?: SrvRecordData[];
  /** HTTPS/SVCB records, each its RDATA (RFC 9460 wire form) in base64. */
  svcb?: string[];
  /** A negative answer (RFC 2308): its code, ENOTFOUND (NXDOMAIN) or ENODATA (NODATA), and message. */
  negative?: string;
  message?: string;
}

/** Records kept per answer; an answer with more is not saved (a real one is far smaller). */
const MAX_RECORDS = 256;
const MAX_POSITIVE_MS = MAX_TTL_SECONDS * 1000; // 7 days, as any TTL (dns-client.ts)
const MAX_NEGATIVE_MS = 10_800_000; // 3 hours
const MAX_NAME_LENGTH = 255;
const MAX_MESSAGE_LENGTH = 500;

/** `cache` as JSON at `nowMs` (the memory's clock), stamped with `wallClockMs`. */
export function serviceRecordsToJson(
  cache: ServiceRecordCache,
  nowMs: number,
  wallClockMs: number,
): ServiceRecordsJson {
  const entries: ServiceRecordsJsonEntry[] = [];
  for (const { name, type, outcome, forMs } of cache.live(nowMs)) {
    const entry: ServiceRecordsJsonEntry = { name, type, forMs: Math.floor(forMs) };
    // What is saved must load: an answer the loader would refuse (a name with a space, which DNS allows
    // in a label but loadServiceRecords does not) is left out rather than making the whole file unreadable.
    if (entry.forMs <= 0 || !isName(name)) continue;
    // A failure that is not an answer (a timeout, SERVFAIL) is kept a few seconds and says nothing about
    // the name: not saved (as it would not load: `negative` is NXDOMAIN or NODATA only).
    if (!outcome.ok && !isNegativeAnswer(outcome.code)) continue;
    if (outcome.ok) {
      const records = outcome.answer.records;
      if (records.length > MAX_RECORDS || !isName(outcome.answer.owner)) continue;
      entry.owner = outcome.answer.owner;
      entry.ttlSeconds = Math.min(outcome.answer.ttlSeconds, Math.ceil(entry.forMs / 1000));
      if (type === 'SRV') {
        const srv = records as SrvRecordData[];
        if (!srv.every((r) => isName(r.target))) continue;
        entry.srv = srv.map(({ priority, weight, port, target }) => ({ priority, weight, port, target }));
      } else {
        entry.svcb = (records as SvcbRecord[]).map((r) => Buffer.from(encodeSvcbRdata(r)).toString('base64'));
      }
    } else {
      entry.negative = outcome.code;
      entry.message = outcome.message.slice(0, MAX_MESSAGE_LENGTH);
    }
    entries.push(entry);
  }
  return { version: 1, wallClockMs, entries };
}

function isName(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && value.length <= MAX_NAME_LENGTH && !value.includes(' ');
}

function isUint16(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65_535;
}

function srvRecord(raw: unknown, at: string): SrvRecordData {
  const r = raw as Partial<SrvRecordData> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    !isUint16(r.priority) ||
    !isUint16(r.weight) ||
    !isUint16(r.port) ||
    !isName(r.target)
  ) {
    throw invalidArgument(
      `\`${at}\` must be an SRV record: priority, weight, port in 0-65535 and a target name`,
    );
  }
  return { priority: r.priority, weight: r.weight, port: r.port, target: r.target };
}

function svcbRecord(raw: unknown, at: string): SvcbRecord {
  if (typeof raw !== 'string' || raw === '' || !/^[A-Za-z0-9+/]+=*$/.test(raw)) {
    throw invalidArgument(`\`${at}\` must be an SVCB record's RDATA in base64`);
  }
  const decoded = decodeSvcbRdata(Buffer.from(raw, 'base64'));
  if (!decoded.ok) throw invalidArgument(`\`${at}\` is not a valid SVCB record: ${decoded.reason}`);
  return decoded.record;
}

/**
 * Puts the answers of `json` (see serviceRecordsToJson) into `cache`, at `nowMs` on the loading memory's
 * clock and `wallClockMs` now. Expired entries are left out; the rest keep only the time they had left.
 * @throws TypeError (code ERR_NETDIAL_INVALID_ARGUMENT) naming the first part that is not valid.
 */
export function loadServiceRecords(
  json: unknown,
  cache: ServiceRecordCache,
  nowMs: number,
  wallClockMs: number,
): void {
  if (typeof json !== 'object' || json === null) throw invalidArgument('`json.services` must be an object');
  const snapshot = json as Partial<ServiceRecordsJson>;
  if (snapshot.version !== 1) {
    throw invalidArgument(`\`json.services.version\` must be 1, got ${String(snapshot.version)}`);
  }
  const savedAt = snapshot.wallClockMs;
  if (typeof savedAt !== 'number' || !Number.isFinite(savedAt)) {
    throw invalidArgument('`json.services.wallClockMs` must be a finite number');
  }
  if (!Array.isArray(snapshot.entries)) throw invalidArgument('`json.services.entries` must be an array');
  const elapsedMs = Math.max(0, wallClockMs - savedAt);
  snapshot.entries.forEach((raw: unknown, i: number) => {
    const at = `json.services.entries[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw invalidArgument(`\`${at}\` must be an object`);
    const item = raw as ServiceRecordsJsonEntry;
    if (!isName(item.name)) throw invalidArgument(`\`${at}.name\` must be a DNS name`);
    if (!SERVICE_TYPES.includes(item.type))
      throw invalidArgument(`\`${at}.type\` must be 'SRV', 'HTTPS' or 'SVCB'`);
    if (typeof item.forMs !== 'number' || !Number.isFinite(item.forMs)) {
      throw invalidArgument(`\`${at}.forMs\` must be a finite number`);
    }
    if (item.negative !== undefined) {
      if (typeof item.negative !== 'string' || !isNegativeAnswer(item.negative)) {
        throw invalidArgument(`\`${at}.negative\` must be 'ENOTFOUND' or 'ENODATA'`);
      }
      const message = typeof item.message === 'string' ? item.message.slice(0, MAX_MESSAGE_LENGTH) : '';
      const forMs = Math.min(item.forMs, MAX_NEGATIVE_MS) - elapsedMs;
      cache.restore(
        item.name,
        item.type,
        { ok: false, code: item.negative, message, cached: false },
        forMs,
        nowMs,
      );
      return;
    }
    if (!isName(item.owner)) throw invalidArgument(`\`${at}.owner\` must be a DNS name`);
    const list = item.type === 'SRV' ? item.srv : item.svcb;
    if (!Array.isArray(list) || list.length > MAX_RECORDS) {
      throw invalidArgument(
        `\`${at}.${item.type === 'SRV' ? 'srv' : 'svcb'}\` must be an array of at most ${MAX_RECORDS} records`,
      );
    }
    const records =
      item.type === 'SRV'
        ? list.map((r, j) => srvRecord(r, `${at}.srv[${j}]`))
        : list.map((r, j) => svcbRecord(r, `${at}.svcb[${j}]`));
    const ttl = item.ttlSeconds;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0) {
      throw invalidArgument(`\`${at}.ttlSeconds\` must be an integer >= 0`);
    }
    // Never kept longer than the answer's own TTL, whatever `forMs` says (a hand-edited file).
    const forMs = Math.min(item.forMs, MAX_POSITIVE_MS, ttl * 1000) - elapsedMs;
    const ttlSeconds = Math.max(0, Math.min(ttl, Math.ceil(forMs / 1000)));
    cache.restore(
      item.name,
      item.type,
      { ok: true, answer: { records, ttlSeconds, malformed: [], owner: item.owner }, cached: false },
      forMs,
      nowMs,
    );
  });
}
