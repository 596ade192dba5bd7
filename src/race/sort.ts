/**
 * Destination address ordering: RFC 6724 §6 (destination address selection) with the default policy
 * table of RFC 6724 §2.1, plus the RFC 8305 §4 family interleaving that Happy Eyeballs applies afterwards.
 *
 * Pure: no I/O, no clock. The source address the kernel would use for each destination is an input
 * (see `source-address.ts` for the probe that finds it).
 */
import { isIP } from '../ip-address.js';
import type { Family } from '../types.js';

/** One destination to order. Extra fields on `T` are carried through untouched. */
export interface SortCandidate {
  /** IP literal (IPv6 may carry a `%zone`, which is ignored for sorting). */
  address: string;
  family: Family;
  /**
   * The local address the kernel would use to reach `address`. `null` = no route (RFC 6724 §6 rule 1
   * "unusable"); `undefined` = unknown: treated as usable, and the rules that need a source address
   * (2, 5, 9) are skipped for any pair where either side's source is unknown.
   */
  sourceAddress?: string | null;
}

/** Options of {@link sortDestinations}. */
export interface SortOptions<T> {
  /**
   * Extra comparator run after RFC 6724 rule 8 and before rule 9 (negative = `a` first). RFC 8305 §4:
   * stateful clients add an RTT rule and a "used before" rule there. Default: none.
   */
  between8and9?: (a: T, b: T) => number;
}

/** RFC 4007 §5 / RFC 6724 §3.1 scope values. */
const SCOPE_LINK_LOCAL = 0x2;
const SCOPE_SITE_LOCAL = 0x5;
const SCOPE_GLOBAL = 0xe;

/** RFC 6724 §2.2: CommonPrefixLen stops at "the length of S's prefix"; 64 bits for IPv6 unicast. */
const PREFIX_BITS = 64;

/** An address as 16 bytes: IPv6, or IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
type Bytes16 = Uint8Array;

function typeError(code: string, message: string): TypeError {
  return Object.assign(new TypeError(message), { code });
}

function show(value: unknown): string {
  return typeof value === 'function' ? 'a function' : (JSON.stringify(value) ?? String(value));
}

function invalidAddress(what: string, value: unknown): TypeError {
  return typeError('ERR_NETDIAL_INVALID_ADDRESS', `${what}: expected an IP literal, got ${show(value)}`);
}

function invalidOption(what: string, expected: string, value: unknown): TypeError {
  return typeError('ERR_NETDIAL_INVALID_OPTION', `${what}: expected ${expected}, got ${show(value)}`);
}

/** Removes an IPv6 `%zone` suffix. */
function stripZone(address: string): string {
  const percent = address.indexOf('%');
  return percent === -1 ? address : address.slice(0, percent);
}

function parseIPv4Into(text: string, out: Bytes16, offset: number): void {
  const parts = text.split('.');
  for (let i = 0; i < 4; i++) out[offset + i] = Number(parts[i]);
}

/**
 * Parses an IP literal into 16 bytes (IPv4 as ::ffff:a.b.c.d). IPv6: zone stripped, `::` expanded,
 * a dotted IPv4 tail accepted. Returns `undefined` when `address` is not an IP literal.
 */
function toBytes16(address: string): Bytes16 | undefined {
  if (typeof address !== 'string') return undefined;
  const bare = stripZone(address);
  const version = isIP(bare);
  // A zone is only meaningful on IPv6.
  if (version === 0 || (version === 4 && bare !== address)) return undefined;
  const out = new Uint8Array(16);
  if (version === 4) {
    out[10] = 0xff;
    out[11] = 0xff;
    parseIPv4Into(bare, out, 12);
    return out;
  }
  // net.isIP() has validated the syntax, so the expansion below can trust it.
  const hextets: number[] = [];
  let tail: string | undefined;
  const groups = (text: string): string[] => (text === '' ? [] : text.split(':'));
  const [head = '', rest] = bare.split('::');
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const lastGroups = right.length > 0 ? right : left;
  if (lastGroups.at(-1)?.includes('.')) tail = lastGroups.pop();
  const explicit = left.length + right.length + (tail === undefined ? 0 : 2);
  hextets.push(...left.map((h) => Number.parseInt(h, 16)));
  if (rest !== undefined) for (let i = explicit; i < 8; i++) hextets.push(0);
  hextets.push(...right.map((h) => Number.parseInt(h, 16)));
  hextets.forEach((h, i) => {
    out[2 * i] = h >> 8;
    out[2 * i + 1] = h & 0xff;
  });
  if (tail !== undefined) parseIPv4Into(tail, out, 12);
  return out;
}

function mustParse(address: string, what: string): Bytes16 {
  const bytes = toBytes16(address);
  if (bytes === undefined) throw invalidAddress(what, address);
  return bytes;
}

/** True when the first `bits` bits of `bytes` equal those of `prefix`. */
function hasPrefix(bytes: Bytes16, prefix: Bytes16, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== prefix[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((bytes[whole] ?? 0) & mask) === ((prefix[whole] ?? 0) & mask);
}

/**
 * A prefix as 16 bytes from its leading bytes (the rest zero): the module's fixed prefixes are written as
 * numbers, not parsed from text at import (issue 16: parsing them cost ~0.5–1 ms of every process's start).
 */
function prefixBytes(...leading: number[]): Bytes16 {
  const out = new Uint8Array(16);
  out.set(leading);
  return out;
}

/** ::ffff:0:0 */
const IPV4_MAPPED_PREFIX = prefixBytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff);
/** ::1 */
const LOOPBACK = prefixBytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

function isIPv4Mapped(bytes: Bytes16): boolean {
  return hasPrefix(bytes, IPV4_MAPPED_PREFIX, 96);
}

interface PolicyEntry {
  prefix: Bytes16;
  bits: number;
  precedence: number;
  label: number;
}

/**
 * RFC 6724 §2.1 default policy table, longest prefix first so the first match is the longest match
 * (::ffff:0:0/96 before ::/96: an address matches at most one of the two). Prefixes written as their
 * leading bytes (test/sort.test.ts pins every entry's precedence and label).
 */
const POLICY_TABLE: readonly PolicyEntry[] = [
  { prefix: LOOPBACK, bits: 128, precedence: 50, label: 0 }, // ::1/128
  { prefix: IPV4_MAPPED_PREFIX, bits: 96, precedence: 35, label: 4 }, // ::ffff:0:0/96
  { prefix: prefixBytes(), bits: 96, precedence: 1, label: 3 }, // ::/96
  { prefix: prefixBytes(0x20, 0x01), bits: 32, precedence: 5, label: 5 }, // 2001::/32
  { prefix: prefixBytes(0x20, 0x02), bits: 16, precedence: 30, label: 2 }, // 2002::/16
  { prefix: prefixBytes(0x3f, 0xfe), bits: 16, precedence: 1, label: 12 }, // 3ffe::/16
  { prefix: prefixBytes(0xfe, 0xc0), bits: 10, precedence: 1, label: 11 }, // fec0::/10
  { prefix: prefixBytes(0xfc), bits: 7, precedence: 3, label: 13 }, // fc00::/7
  { prefix: prefixBytes(), bits: 0, precedence: 40, label: 1 }, // ::/0
];

function policyOf(bytes: Bytes16): PolicyEntry {
  for (const entry of POLICY_TABLE) if (hasPrefix(bytes, entry.prefix, entry.bits)) return entry;
  throw new Error('unreachable: ::/0 matches every address');
}

function scopeOf(bytes: Bytes16): number {
  if (isIPv4Mapped(bytes)) {
    // RFC 6724 §3.2: IPv4 loopback (127/8) and auto-configuration (169.254/16) addresses have
    // link-local scope; all other IPv4 addresses (private ones included) are global.
    const [a, b] = [bytes[12], bytes[13]];
    if (a === 127 || (a === 169 && b === 254)) return SCOPE_LINK_LOCAL;
    return SCOPE_GLOBAL;
  }
  const [first = 0, second = 0] = bytes;
  // RFC 4291 §2.7: multicast (ff00::/8) carries its scope in the low 4 bits of the second byte.
  if (first === 0xff) return second & 0x0f;
  // RFC 6724 §3.1 / RFC 4007 §4: the loopback address is treated as link-local.
  if (hasPrefix(bytes, LOOPBACK, 128)) return SCOPE_LINK_LOCAL;
  if (first === 0xfe && (second & 0xc0) === 0x80) return SCOPE_LINK_LOCAL; // fe80::/10
  if (first === 0xfe && (second & 0xc0) === 0xc0) return SCOPE_SITE_LOCAL; // fec0::/10 (deprecated)
  return SCOPE_GLOBAL;
}

/**
 * CommonPrefixLen over two 16-byte addresses, counting at most `limitBits` bits.
 */
function commonPrefixBits(a: Bytes16, b: Bytes16, limitBits: number): number {
  let bits = 0;
  for (let i = 0; i < 16 && bits < limitBits; i++) {
    const diff = (a[i] ?? 0) ^ (b[i] ?? 0);
    if (diff === 0) {
      bits += 8;
      continue;
    }
    bits += Math.clz32(diff) - 24;
    break;
  }
  return Math.min(bits, limitBits);
}

/**
 * RFC 6724 §2.1 default policy table: precedence of `address` (IPv4 looked up as ::ffff:a.b.c.d).
 * E.g. ::1 → 50, other IPv6 → 40, IPv4 → 35, 6to4 → 30, Teredo → 5, ULA → 3.
 * @throws TypeError (`code` 'ERR_NETDIAL_INVALID_ADDRESS') when `address` is not an IP literal.
 */
export function precedence(address: string): number {
  if (typeof address === 'string') {
    const known = precedenceMemo.get(address);
    if (known !== undefined) return known;
  }
  const value = policyOf(mustParse(address, 'precedence(address)')).precedence;
  // Every dial of a cached name asks for the same few addresses: a bounded memo spares their parse (the
  // table is fixed, so a remembered precedence never goes out of date; emptied when full, never grown).
  if (precedenceMemo.size >= PRECEDENCE_MEMO_MAX) precedenceMemo.clear();
  precedenceMemo.set(address, value);
  return value;
}

/**
 * RFC 6724 §2.1 precedence of a destination whose family is known: every IPv4 address is looked up as
 * ::ffff:a.b.c.d, which only ::ffff:0:0/96 matches (precedence 35), so an IPv4 one needs no parse (a
 * fresh process's first dial then never runs the IPv6 parser); IPv6 as precedence().
 */
export function precedenceOf(address: string, family: Family): number {
  return family === 4 ? IPV4_PRECEDENCE : precedence(address);
}

/** RFC 6724 §2.1: ::ffff:0:0/96's precedence, every IPv4 address's. */
const IPV4_PRECEDENCE = 35;

/** Addresses whose precedence is remembered at most (a few KiB). */
const PRECEDENCE_MEMO_MAX = 256;
const precedenceMemo = new Map<string, number>();

/**
 * RFC 6724 §2.1 default policy table: label of `address` (IPv4 looked up as ::ffff:a.b.c.d).
 * @throws TypeError (`code` 'ERR_NETDIAL_INVALID_ADDRESS') when `address` is not an IP literal.
 */
export function label(address: string): number {
  return policyOf(mustParse(address, 'label(address)')).label;
}

/**
 * Scope of `address` as RFC 4007 numbers it (0x2 link-local, 0x5 site-local, 0xe global; IPv6
 * multicast: the scope field of the address). RFC 6724 §3.1 (IPv6: ::1 and fe80::/10 link-local,
 * fec0::/10 site-local, others global) and §3.2 (IPv4, also IPv4-mapped: 127/8 and 169.254/16
 * link-local, all else global).
 * @throws TypeError (`code` 'ERR_NETDIAL_INVALID_ADDRESS') when `address` is not an IP literal.
 */
export function scope(address: string): number {
  return scopeOf(mustParse(address, 'scope(address)'));
}

/**
 * RFC 6724 §2.2 CommonPrefixLen(a, b) for two IPv6 addresses: leading bits in common, counted only up
 * to the 64-bit prefix (the RFC stops at the length of the source's prefix, i.e. not the interface ID),
 * so CommonPrefixLen(fe80::1, fe80::2) = 64. Zones are ignored.
 * @throws TypeError (`code` 'ERR_NETDIAL_INVALID_ADDRESS') when either is not an IPv6 literal.
 */
export function commonPrefixLength(a: string, b: string): number {
  if (isIP(stripZone(String(a))) !== 6) throw invalidAddress('commonPrefixLength(a)', a);
  if (isIP(stripZone(String(b))) !== 6) throw invalidAddress('commonPrefixLength(b)', b);
  return commonPrefixBits(mustParse(a, 'a'), mustParse(b, 'b'), PREFIX_BITS);
}

/** Per-candidate attributes, computed once before sorting. */
interface Prepared<T> {
  item: T;
  /** Input position, for rule 10. */
  index: number;
  isIPv6: boolean;
  bytes: Bytes16;
  scope: number;
  precedence: number;
  label: number;
  /** false = rule 1 "unusable" (no route). */
  usable: boolean;
  /** Attributes of Source(D); undefined when the source address is unknown or absent. */
  source?: { bytes: Bytes16; isIPv6: boolean; scope: number; label: number } | undefined;
}

function prepare<T extends SortCandidate>(item: T, index: number): Prepared<T> {
  if (item === null || typeof item !== 'object') throw invalidAddress(`list[${index}]`, item);
  const bytes = mustParse(item.address, `list[${index}].address`);
  const isIPv6 = isIP(stripZone(item.address)) === 6;
  if (item.family !== (isIPv6 ? 6 : 4)) {
    throw typeError(
      'ERR_NETDIAL_INVALID_ADDRESS',
      `list[${index}].family: expected ${isIPv6 ? 6 : 4} for ${show(item.address)}, got ${show(item.family)}`,
    );
  }
  const policy = policyOf(bytes);
  const prepared: Prepared<T> = {
    item,
    index,
    isIPv6,
    bytes,
    scope: scopeOf(bytes),
    precedence: policy.precedence,
    label: policy.label,
    usable: item.sourceAddress !== null,
  };
  if (typeof item.sourceAddress === 'string') {
    const sourceBytes = mustParse(item.sourceAddress, `list[${index}].sourceAddress`);
    prepared.source = {
      bytes: sourceBytes,
      isIPv6: isIP(stripZone(item.sourceAddress)) === 6,
      scope: scopeOf(sourceBytes),
      label: policyOf(sourceBytes).label,
    };
  } else if (item.sourceAddress !== undefined && item.sourceAddress !== null) {
    throw invalidAddress(`list[${index}].sourceAddress`, item.sourceAddress);
  }
  return prepared;
}

/** Comparator over prepared candidates; negative = DA first. Rule 10 (input order) is the caller's tie-break. */
function compareRFC6724<T>(
  DA: Prepared<T>,
  DB: Prepared<T>,
  between8and9: ((a: T, b: T) => number) | undefined,
): number {
  const SourceDA = DA.source;
  const SourceDB = DB.source;

  // Rule 1: Avoid unusable destinations.
  // If DB is known to be unreachable or if Source(DB) is undefined, then prefer DA. Similarly, if DA is
  // known to be unreachable or if Source(DA) is undefined, then prefer DB.
  // Here `sourceAddress: null` (the probe found no route) is the RFC's "Source(D) is undefined";
  // our `undefined` means "not probed" and counts as usable.
  if (DA.usable !== DB.usable) return DA.usable ? -1 : 1;

  // Rules 2, 5 and 9 compare against Source(D); with an unknown source on either side they are skipped.
  const bothSourcesKnown = SourceDA !== undefined && SourceDB !== undefined;

  // Rule 2: Prefer matching scope.
  // If Scope(DA) = Scope(Source(DA)) and Scope(DB) <> Scope(Source(DB)), then prefer DA. Similarly, if
  // Scope(DA) <> Scope(Source(DA)) and Scope(DB) = Scope(Source(DB)), then prefer DB.
  if (bothSourcesKnown) {
    const matchA = DA.scope === SourceDA.scope;
    const matchB = DB.scope === SourceDB.scope;
    if (matchA !== matchB) return matchA ? -1 : 1;
  }

  // Rule 3: Avoid deprecated addresses.
  // If Source(DA) is deprecated and Source(DB) is not, then prefer DB. Similarly, if Source(DA) is not
  // deprecated and Source(DB) is deprecated, then prefer DA.
  // Skipped: Node exposes no address lifetimes (os.networkInterfaces() has no preferred/valid lifetime),
  // so whether a source address is deprecated cannot be known.

  // Rule 4: Prefer home addresses.
  // If Source(DA) is simultaneously a home address and care-of address and Source(DB) is not, then
  // prefer DA. Similarly, if Source(DB) is simultaneously a home address and care-of address and
  // Source(DA) is not, then prefer DB. If Source(DA) is just a home address and Source(DB) is just a
  // care-of address, then prefer DA. Similarly, if Source(DA) is just a care-of address and Source(DB)
  // is just a home address, then prefer DB.
  // Skipped: Mobile IPv6 home/care-of status is kernel state Node does not expose.

  // Rule 5: Prefer matching label.
  // If Label(Source(DA)) = Label(DA) and Label(Source(DB)) <> Label(DB), then prefer DA. Similarly, if
  // Label(Source(DA)) <> Label(DA) and Label(Source(DB)) = Label(DB), then prefer DB.
  if (bothSourcesKnown) {
    const matchA = SourceDA.label === DA.label;
    const matchB = SourceDB.label === DB.label;
    if (matchA !== matchB) return matchA ? -1 : 1;
  }

  // Rule 6: Prefer higher precedence.
  // If Precedence(DA) > Precedence(DB), then prefer DA. Similarly, if Precedence(DA) < Precedence(DB),
  // then prefer DB.
  if (DA.precedence !== DB.precedence) return DB.precedence - DA.precedence;

  // Rule 7: Prefer native transport.
  // If DA is reached via an encapsulating transition mechanism (e.g., IPv6 in IPv4) and DB is not, then
  // prefer DB. Similarly, if DB is reached via encapsulation and DA is not, then prefer DA.
  // Skipped: whether the route to a destination goes through a tunnel interface is not visible from
  // Node (the UDP probe yields only the source address, not the outgoing interface's type).

  // Rule 8: Prefer smaller scope.
  // If Scope(DA) < Scope(DB), then prefer DA. Similarly, if Scope(DA) > Scope(DB), then prefer DB.
  if (DA.scope !== DB.scope) return DA.scope - DB.scope;

  // RFC 8305 §4: stateful clients insert their RTT rule and their "used before" rule here, between
  // rules 8 and 9.
  if (between8and9 !== undefined) {
    const decided = between8and9(DA.item, DB.item);
    if (decided !== 0 && !Number.isNaN(decided)) return decided;
  }

  // Rule 9: Use longest matching prefix.
  // When DA and DB belong to the same address family (both are IPv6 or both are IPv4 [but see below]):
  // If CommonPrefixLen(Source(DA), DA) > CommonPrefixLen(Source(DB), DB), then prefer DA. Similarly, if
  // CommonPrefixLen(Source(DA), DA) < CommonPrefixLen(Source(DB), DB), then prefer DB.
  // Deviation, IPv6 only (as Go's net package does): applied to IPv4, this rule sends every client in a
  // network to the same server of a DNS round-robin set, since the prefix a client shares with
  // unrelated servers is an accident of numbering (Go issues 13283 and 18518). RFC 6724 §6 allows
  // rules 9 and 10 to be replaced by other means of ordering.
  if (bothSourcesKnown && DA.isIPv6 && DB.isIPv6 && SourceDA.isIPv6 && SourceDB.isIPv6) {
    const lengthA = commonPrefixBits(SourceDA.bytes, DA.bytes, PREFIX_BITS);
    const lengthB = commonPrefixBits(SourceDB.bytes, DB.bytes, PREFIX_BITS);
    if (lengthA !== lengthB) return lengthB - lengthA;
  }

  // Rule 10: Otherwise, leave the order unchanged. (The caller's index tie-break.)
  return 0;
}

/**
 * Orders destinations by RFC 6724 §6: rules 1, 2, 5, 6, 8, then `options.between8and9` (RFC 8305 §4:
 * RTT / history of stateful clients), then rule 9 for IPv6 pairs only, then rule 10 (input order, so the
 * sort is stable). Rules 3, 4 and 7 need kernel state Node cannot see and are skipped.
 * Returns a new array; `list` is not modified.
 * @throws TypeError (`code` 'ERR_NETDIAL_INVALID_ADDRESS') when an `address` or `sourceAddress` is not an
 *   IP literal or `family` does not match `address`.
 */
export function sortDestinations<T extends SortCandidate>(list: readonly T[], options?: SortOptions<T>): T[] {
  if (!Array.isArray(list)) throw invalidOption('list', 'an array', list);
  const between8and9 = options?.between8and9;
  if (between8and9 !== undefined && typeof between8and9 !== 'function') {
    throw invalidOption('options.between8and9', 'a function', between8and9);
  }
  const prepared = list.map((item, index) => prepare(item, index));
  prepared.sort((DA, DB) => compareRFC6724(DA, DB, between8and9) || DA.index - DB.index);
  return prepared.map((p) => p.item);
}

/**
 * RFC 8305 §4 interleaving of a sorted list: the family of the first address goes first with
 * `firstAddressFamilyCount` addresses (the "First Address Family Count", default 1), then the families
 * alternate one address at a time; when one family runs out the rest of the other follows. Order within
 * a family is kept. Returns a new array.
 * @throws TypeError (`code` 'ERR_NETDIAL_INVALID_OPTION') when `firstAddressFamilyCount` is not a positive
 *   integer.
 */
export function interleaveFamilies<T extends { family: Family }>(
  sorted: readonly T[],
  firstAddressFamilyCount = 1,
): T[] {
  if (!Array.isArray(sorted)) throw invalidOption('sorted', 'an array', sorted);
  if (!Number.isInteger(firstAddressFamilyCount) || firstAddressFamilyCount < 1) {
    throw invalidOption('firstAddressFamilyCount', 'a positive integer', firstAddressFamilyCount);
  }
  const first = sorted[0];
  if (first === undefined) return [];
  const preferred = sorted.filter((item) => item.family === first.family);
  const other = sorted.filter((item) => item.family !== first.family);
  const result = preferred.slice(0, firstAddressFamilyCount);
  let p = result.length;
  let o = 0;
  while (p < preferred.length || o < other.length) {
    const nextOther = other[o];
    if (nextOther !== undefined) {
      result.push(nextOther);
      o++;
    }
    const nextPreferred = preferred[p];
    if (nextPreferred !== undefined) {
      result.push(nextPreferred);
      p++;
    }
  }
  return result;
}

/** Entries of one answer that preselectDestinations looks at: a 64 KiB DNS message holds about 4 000 A records. */
export const PRESELECT_WINDOW = 4096;

/**
 * The best `max` destinations of `list` by what is known before any source-address probe: RFC 6724 §6
 * rules 6 (precedence) and 8 (scope) of the destination itself, then input order (rule 10). Rules 1, 2, 5
 * and 9 need Source(D), which is what the probe finds — so the cut is made first and the probe, a UDP
 * socket per address, runs on at most `max` addresses (a hostile answer of thousands of records must not
 * cost thousands of sockets). Family interleaving (RFC 8305 §4) comes later; call this per family, so each
 * family keeps enough for any interleaving of `max` addresses. Stable; returns a new array in the
 * preselected order; `list` is returned as a copy when it is not longer than `max`. Only the first
 * PRESELECT_WINDOW entries are considered: one DNS message (64 KiB) cannot carry more A or AAAA records,
 * so only a custom resolver can hand over a longer list, and it must not buy unbounded work.
 * @throws TypeError (`code` 'ERR_NETDIAL_INVALID_OPTION') when `max` is not a positive integer; like
 *   {@link sortDestinations} for bad addresses.
 */
export function preselectDestinations<T extends SortCandidate>(list: readonly T[], max: number): T[] {
  if (!Array.isArray(list)) throw invalidOption('list', 'an array', list);
  if (!Number.isInteger(max) || max < 1) throw invalidOption('max', 'a positive integer', max);
  if (list.length <= max) return [...list];
  const window = list.length > PRESELECT_WINDOW ? list.slice(0, PRESELECT_WINDOW) : list;
  const prepared = window.map((item, index) => {
    const bytes = mustParse(item.address, `list[${index}].address`);
    const policy = policyOf(bytes);
    return { item, index, precedence: policy.precedence, scope: scopeOf(bytes) };
  });
  prepared.sort(
    (a, b) =>
      // Rule 6: higher precedence first; rule 8: smaller scope first; rule 10: input order.
      b.precedence - a.precedence || a.scope - b.scope || a.index - b.index,
  );
  return prepared.slice(0, max).map((p) => p.item);
}
