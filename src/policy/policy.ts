/**
 * Address policy: which IP addresses a dial may connect to, decided per address after resolution, so a
 * name cannot smuggle a forbidden address past a check done elsewhere (SSRF, DNS rebinding). Pure: the
 * policy is compiled once into sorted numeric intervals; `check` parses the address text and does one
 * binary search per address family, with no regular expressions and no allocation on the allowed path.
 *
 * Entries are address classes (see {@link ADDRESS_CLASS_RANGES}) or CIDR ranges. Decisions:
 * - The most specific matching entry decides (longest prefix, as routing does); between an allow and a
 *   deny entry of the same prefix length, allow wins, so `allow: ['198.18.0.0/15']` re-opens exactly
 *   what the `documentation` class closes, while `allow: ['linkLocal']` does not re-open the more
 *   specific `cloudMetadata` addresses of a deny list. No matching entry: allowed.
 * - IPv4 prefix lengths count as IPv4-mapped IPv6 ones (/8 = /104) when compared with IPv6 entries.
 * - An IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96 and
 *   64:ff9b:1::/48, 6to4; see `carriedIPv4`) is checked against the classes as that IPv4 address
 *   (RFC 6052 §3.1: the well-known prefix must not stand for non-global IPv4). IPv6 CIDR entries are
 *   matched against the address as written too, so `deny: ['64:ff9b::/96']` can refuse NAT64 outright.
 * - Text that is not an IP address is denied (fail closed); an IPv6 zone id is ignored.
 */
import { inputError } from '../errors.js';
import { carriedIPv4, formatIPv4, parseIPv4, parseIPv6Into } from '../ip-address.js';
import { POLICY_SPEC_NAMES, readOptionBag } from '../option-names.js';
import { canonicalIP } from '../target.js';

/** Named address classes; their ranges are in {@link ADDRESS_CLASS_RANGES}. */
export type AddressClass =
  | 'loopback'
  | 'private'
  | 'linkLocal'
  | 'uniqueLocal'
  | 'multicast'
  | 'unspecified'
  | 'reserved'
  | 'documentation'
  | 'cloudMetadata'
  | 'sharedAddressSpace';

/** One range of a class: a CIDR, minus sub-ranges that IANA marks globally reachable. */
export interface ClassRange {
  readonly cidr: string;
  readonly except?: readonly string[];
}

/**
 * The ranges of every class, from the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890
 * and later updates) and the IPv6 Address Space registry. Classes may overlap (169.254.169.254 is
 * `linkLocal` and `cloudMetadata`; ::1 is `loopback` and inside `reserved` ::/8): the most specific range
 * names the rule. Addresses that carry IPv4 (::ffff:0:0/96, ::/96, 64:ff9b::/96, 64:ff9b:1::/48,
 * 2002::/16) are never matched by an IPv6 class range: their IPv4 address is.
 */
export const ADDRESS_CLASS_RANGES: Readonly<Record<AddressClass, readonly ClassRange[]>> = deepFreeze({
  // RFC 1122 §3.2.1.3, RFC 4291 §2.5.3. As destinations the unspecified addresses are loopback too:
  // Linux (and the BSDs) deliver a connect() to 0.0.0.0 or :: (also ::ffff:0.0.0.0) to the local host,
  // so a deny list that names `loopback` refuses them without having to name `unspecified` as well.
  loopback: [{ cidr: '127.0.0.0/8' }, { cidr: '::1/128' }, { cidr: '0.0.0.0/32' }, { cidr: '::/128' }],
  // RFC 1918 §3. IPv6 has no equivalent; its private-use space is uniqueLocal.
  // RFC 1918: data for the check, never a destination (netdial's tests send nothing there).
  private: [{ cidr: '10.0.0.0/8' }, { cidr: '172.16.0.0/12' }, { cidr: '192.168.0.0/16' }],
  // RFC 3927, RFC 4291 §2.5.6
  linkLocal: [{ cidr: '169.254.0.0/16' }, { cidr: 'fe80::/10' }],
  // RFC 4193
  uniqueLocal: [{ cidr: 'fc00::/7' }],
  // RFC 5771, RFC 4291 §2.7
  multicast: [{ cidr: '224.0.0.0/4' }, { cidr: 'ff00::/8' }],
  // RFC 1122 §3.2.1.3 ("this host"), RFC 4291 §2.5.2. Linux connects 0.0.0.0 and :: to the local host.
  unspecified: [{ cidr: '0.0.0.0/32' }, { cidr: '::/128' }],
  // Not globally reachable and not in a more telling class.
  reserved: [
    { cidr: '0.0.0.0/8' }, // RFC 791 "this network"
    // RFC 6890 IETF protocol assignments; .9 (PCP anycast, RFC 7723) and .10 (TURN anycast, RFC 8155)
    // are globally reachable.
    { cidr: '192.0.0.0/24', except: ['192.0.0.9/32', '192.0.0.10/32'] },
    { cidr: '192.88.99.0/24' }, // 6to4 relay anycast, deprecated by RFC 7526
    { cidr: '240.0.0.0/4' }, // RFC 1112 §4 reserved
    { cidr: '255.255.255.255/32' }, // RFC 919 limited broadcast
    // IPv6 space outside 2000::/3 that is not ULA, link-local or multicast: IANA "Reserved by IETF"
    // (::/8 includes 100::/64 discard-only, RFC 6666; 5f00::/16 SRv6 SIDs, RFC 9602, lies in 4000::/3).
    { cidr: '::/8' },
    { cidr: '100::/8' },
    { cidr: '200::/7' },
    { cidr: '400::/6' },
    { cidr: '800::/5' },
    { cidr: '1000::/4' },
    { cidr: '4000::/2' },
    { cidr: '8000::/2' },
    { cidr: 'c000::/3' },
    { cidr: 'e000::/4' },
    { cidr: 'f000::/5' },
    { cidr: 'f800::/6' },
    { cidr: 'fe00::/9' },
    { cidr: 'fec0::/10' }, // site-local, deprecated by RFC 3879
    // RFC 2928 IETF protocol assignments (includes Teredo 2001::/32, RFC 4380), minus the globally
    // reachable assignments: PCP/TURN/DNS-SD-SRP anycast, AMT (RFC 7450), AS112-v6 (RFC 7535),
    // ORCHIDv2 (RFC 7343), drone remote ID (RFC 9374).
    {
      cidr: '2001::/23',
      except: [
        '2001:1::1/128',
        '2001:1::2/128',
        '2001:1::3/128',
        '2001:3::/32',
        '2001:4:112::/48',
        '2001:20::/28',
        '2001:30::/28',
      ],
    },
  ],
  // RFC 5737 TEST-NET-1/2/3, RFC 2544 benchmarking, RFC 3849 and RFC 9637 documentation, RFC 5180
  // benchmarking. Never legitimate in production; tests and labs allow them explicitly.
  documentation: [
    { cidr: '192.0.2.0/24' },
    { cidr: '198.51.100.0/24' },
    { cidr: '203.0.113.0/24' },
    { cidr: '198.18.0.0/15' },
    { cidr: '2001:db8::/32' },
    { cidr: '3fff::/20' },
    { cidr: '2001:2::/48' },
  ],
  // Instance metadata and credential endpoints: AWS/GCP/Azure/OpenStack IMDS, AWS ECS task credentials,
  // AWS EKS Pod Identity, AWS IMDS over IPv6 and its Pod Identity twin, Alibaba Cloud ECS metadata
  // (inside 100.64/10), Azure WireServer (a public address only reachable from inside Azure).
  cloudMetadata: [
    { cidr: '169.254.169.254/32' },
    { cidr: '169.254.170.2/32' },
    { cidr: '169.254.170.23/32' },
    { cidr: '100.100.100.200/32' },
    { cidr: '168.63.129.16/32' },
    { cidr: 'fd00:ec2::254/128' },
    { cidr: 'fd00:ec2::23/128' },
  ],
  // RFC 6598 carrier-grade NAT space
  sharedAddressSpace: [{ cidr: '100.64.0.0/10' }],
});

/** Every address class, in the order the docs list them. */
export const ADDRESS_CLASSES: readonly AddressClass[] = Object.freeze(
  Object.keys(ADDRESS_CLASS_RANGES) as AddressClass[],
);

/** What `compilePolicy` takes: address classes and CIDR ranges ('198.51.100.0/24', '2001:db8::/32', or one address). */
export interface PolicySpec {
  allow?: ReadonlyArray<AddressClass | string> | undefined;
  deny?: ReadonlyArray<AddressClass | string> | undefined;
  /**
   * Entries (as in `allow`) that re-open addresses for the connection to a PROXY only (the `proxy`
   * option's hop): `allowProxy: ['127.0.0.1']` lets a sidecar proxy on loopback be dialled under
   * `'public'` without letting any dial — through that proxy or not — reach 127.0.0.1 as its target.
   */
  allowProxy?: ReadonlyArray<AddressClass | string> | undefined;
}

/**
 * The "public internet only" preset: every class denied. Spread it to re-open something for a test or
 * lab: `{ ...PUBLIC_INTERNET_ONLY, allow: ['198.18.0.0/15'] }`.
 */
export const PUBLIC_INTERNET_ONLY: Readonly<{ deny: readonly AddressClass[] }> = Object.freeze(
  // No prototype: nothing on Object.prototype can add an `allow` to it.
  Object.assign(Object.create(null) as { deny: readonly AddressClass[] }, { deny: ADDRESS_CLASSES }),
);

/**
 * The outcome of a check. Allowed: `rule` names the allow entry that decided, absent when no entry
 * matched. Denied: `rule` reads like `deny loopback (127.0.0.0/8)` or `deny 198.51.100.0/24`; `matched` is the
 * address the rule matched — the IPv4 address an IPv6 form carries, or the address without its zone.
 */
export type PolicyVerdict =
  | { readonly allowed: true; readonly rule?: string }
  | {
      readonly allowed: false;
      readonly rule: string;
      readonly matched: string;
      /**
       * What a redacted message shows instead of the address: the class that denied it ('private',
       * 'loopback'…), 'a deny-listed range' for a CIDR entry, or 'not an IP address'.
       */
      readonly label: string;
    };

/**
 * A compiled policy. `allow`/`deny` list the entries as normalised ('198.51.100.7' becomes
 * '198.51.100.7/32'). A policy narrowed by another (a Dialer's policy with a dial's, see
 * {@link narrowPolicy}) has `parts`: an address must pass every part; its `allow`/`deny` are the parts'
 * lists one after the other.
 */
export interface AddressPolicy {
  /** Decides one IP address (text as `net.isIP` accepts it, IPv6 optionally with `%zone`). Never throws. */
  check(address: string): PolicyVerdict;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  /** For a narrowed policy: the policies an address must all pass. */
  readonly parts?: readonly AddressPolicy[] | undefined;
  /** The `allowProxy` entries, normalised; empty when none. */
  readonly allowProxy: readonly string[];
  /**
   * The policy for the connection to a proxy: this one with `allowProxy` added to its allow entries
   * (this very policy when there are none). See {@link proxyHopPolicy}.
   */
  readonly forProxy: AddressPolicy;
}

/** The `code` of a DialError whose every address the policy denied, and of each such attempt. */
export const POLICY_DENIED_CODE = 'ERR_NETDIAL_DENIED';

/**
 * What a redacted message says for `count` denied addresses of one label:
 * `1 address denied by policy (private)`, `3 addresses denied by policy (loopback)`.
 */
export function describeRedactedDenial(count: number, label: string): string {
  return `${count} address${count === 1 ? '' : 'es'} denied by policy (${label})`;
}

/**
 * One line for an error message: `127.0.0.1 denied by policy (deny loopback (127.0.0.0/8))`, with the
 * carried IPv4 address shown for IPv6 forms: `::ffff:127.0.0.1 denied by policy (as 127.0.0.1: deny …)`.
 */
export function describeDenial(address: string, verdict: PolicyVerdict): string {
  if (verdict.allowed) return `${address} allowed by policy${verdict.rule ? ` (${verdict.rule})` : ''}`;
  const bare = stripZone(address);
  const as = verdict.matched !== bare && verdict.matched !== address ? `as ${verdict.matched}: ` : '';
  return `${address} denied by policy (${as}${verdict.rule})`;
}

// ---------------------------------------------------------------------------------------------------
// Compilation

/**
 * The policies this module compiled. Only these pass as compiled policies: a look-alike object (or a
 * policy of another copy of netdial) is read as a spec `{ allow, deny }` and validated as one.
 */
const COMPILED = new WeakSet<object>();
/** Most entries in one list of a spec (a bound on compile work for hostile input). */
const MAX_LIST_ENTRIES = 65_536;
const IPV4_SPACE_END = (1n << 32n) - 1n;
const IPV6_SPACE_END = (1n << 128n) - 1n;
/** IPv4 prefix lengths are compared as IPv4-mapped IPv6 prefix lengths. */
const IPV4_SPECIFICITY_OFFSET = 96;

interface Entry {
  readonly allow: boolean;
  /** Prefix length, IPv4 + 96. */
  readonly specificity: number;
  readonly rule: string;
  /** The class name, or 'a deny-listed range' for a CIDR entry: what a redacted message shows. */
  readonly label: string;
  /** Frozen verdict for allow entries; undefined for deny entries (those allocate `matched`). */
  readonly allowedVerdict: PolicyVerdict | undefined;
}

interface Range {
  lo: bigint;
  hi: bigint;
  entry: number;
}

/** A partition of one address space into intervals, each with the entry that decides it (-1: none). */
interface Partition {
  /** Interval starts, ascending; interval i ends where i+1 starts. */
  readonly starts: bigint[];
  readonly entries: number[];
}

/** A CIDR range as the policy reads it: its first and last address as integers (IPv4: 0..2^32-1). */
export interface ParsedCidr {
  family: 4 | 6;
  lo: bigint;
  hi: bigint;
  prefix: number;
  text: string;
}

const ALLOWED_NO_RULE: PolicyVerdict = Object.freeze({ allowed: true });
const NOT_AN_ADDRESS = 'deny anything that is not an IP address';
const NOT_AN_ADDRESS_LABEL = 'not an IP address';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function stripZone(address: string): string {
  const percent = address.indexOf('%');
  return percent === -1 ? address : address.slice(0, percent);
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

function optionError(name: string, message: string): TypeError {
  return inputError('ERR_NETDIAL_INVALID_OPTION', `invalid option ${name}: ${message}`);
}

function wordsToBigInt(words: Uint32Array): bigint {
  return (
    (BigInt(words[0]!) << 96n) | (BigInt(words[1]!) << 64n) | (BigInt(words[2]!) << 32n) | BigInt(words[3]!)
  );
}

/**
 * Parses 'a.b.c.d/n', 'x::/n' or a single address; undefined when it is none; throws for a near miss
 * (a prefix out of range; bits set after the prefix, unless `maskHostBits` clears them).
 */
/** A prefix length as the policy's lists write it (one spelling), and as curl reads NO_PROXY's (`/08`). */
const POLICY_PREFIX = /^(0|[1-9][0-9]{0,2})$/;
const CURL_PREFIX = /^[0-9]{1,5}$/;

function parseCidr(text: string, name: string, maskHostBits = false): ParsedCidr | undefined {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  let family: 4 | 6;
  let value: bigint;
  const v4 = parseIPv4(addressText);
  if (v4 !== -1) {
    family = 4;
    value = BigInt(v4);
  } else {
    const words = new Uint32Array(4);
    if (addressText.includes('%') || !parseIPv6Into(addressText, words)) return undefined;
    family = 6;
    value = wordsToBigInt(words);
  }
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1);
    // The policy's own lists want one spelling; NO_PROXY (maskHostBits) reads the number as curl does,
    // leading zeros included (`/08`).
    const spelling = maskHostBits ? CURL_PREFIX : POLICY_PREFIX;
    if (!spelling.test(prefixText) || Number(prefixText) > bits) {
      throw optionError(
        name,
        `prefix length "/${prefixText}" in ${show(text)} is not a number from 0 to ${bits} (IPv${family})`,
      );
    }
    prefix = Number(prefixText);
  }
  const hostBits = BigInt(bits - prefix);
  const hostMask = (1n << hostBits) - 1n;
  const canonical = (v: bigint): string =>
    family === 4
      ? formatIPv4(Number(v))
      : canonicalIP(
          Array.from({ length: 8 }, (_, i) => ((v >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':'),
        )!.address;
  if (maskHostBits) value &= ~hostMask;
  if ((value & hostMask) !== 0n) {
    throw optionError(
      name,
      `${show(text)} has bits set after its /${prefix} prefix; did you mean "${canonical(value & ~hostMask)}/${prefix}"?`,
    );
  }
  return { family, lo: value, hi: value | hostMask, prefix, text: `${canonical(value)}/${prefix}` };
}

/**
 * The project's one CIDR reader, for other modules: 'a.b.c.d/n', 'x::/n' or a single address (/32, /128)
 * as the policy reads it, or undefined when `text` is not one — no exception. A zone id is not an address
 * here (strip it first). `hostBits: 'mask'` reads bits set after the prefix as cleared ('192.0.2.7/24' is
 * 192.0.2.0/24, as curl reads NO_PROXY); 'refuse' (the policy's reading) makes such text undefined.
 */
export function readCidr(text: string, hostBits: 'mask' | 'refuse' = 'refuse'): ParsedCidr | undefined {
  try {
    return parseCidr(text, 'cidr', hostBits === 'mask');
  } catch {
    return undefined;
  }
}

function mustParseCidr(text: string): ParsedCidr {
  const parsed = parseCidr(text, 'ADDRESS_CLASS_RANGES');
  if (parsed === undefined) throw new Error(`netdial bug: bad class range ${text}`);
  return parsed;
}

/** `lo..hi` minus the `holes` (sorted, disjoint, inside it): what is left, as ranges. */
function subtract(lo: bigint, hi: bigint, holes: readonly ParsedCidr[]): Array<[bigint, bigint]> {
  const out: Array<[bigint, bigint]> = [];
  let next = lo;
  for (const h of [...holes].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0))) {
    if (h.lo > next) out.push([next, h.lo - 1n]);
    if (h.hi + 1n > next) next = h.hi + 1n;
  }
  if (next <= hi) out.push([next, hi]);
  return out;
}

/** Is entry `a` a better decider than entry `b`: longer prefix, then allow over deny, then listed first. */
function better(entries: readonly Entry[], a: number, b: number): boolean {
  if (b === -1) return true;
  const ea = entries[a]!;
  const eb = entries[b]!;
  if (ea.specificity !== eb.specificity) return ea.specificity > eb.specificity;
  return ea.allow && !eb.allow;
}

/**
 * Cuts [0, spaceEnd] at every range boundary and gives each interval its best entry, then merges
 * neighbours with the same entry. Cost: ranges × intervals each covers.
 */
function partition(ranges: readonly Range[], spaceEnd: bigint, entries: readonly Entry[]): Partition {
  const cuts = new Set<bigint>([0n]);
  for (const r of ranges) {
    cuts.add(r.lo);
    if (r.hi < spaceEnd) cuts.add(r.hi + 1n);
  }
  const starts = [...cuts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const best = new Array<number>(starts.length).fill(-1);
  for (const r of ranges) {
    let i = lowerBound(starts, r.lo);
    for (; i < starts.length && starts[i]! <= r.hi; i++) {
      if (better(entries, r.entry, best[i]!)) best[i] = r.entry;
    }
  }
  const mergedStarts: bigint[] = [];
  const mergedEntries: number[] = [];
  for (let i = 0; i < starts.length; i++) {
    if (i > 0 && best[i] === mergedEntries[mergedEntries.length - 1]) continue;
    mergedStarts.push(starts[i]!);
    mergedEntries.push(best[i]!);
  }
  return { starts: mergedStarts, entries: mergedEntries };
}

function lowerBound(sorted: readonly bigint[], value: bigint): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function isAddressClass(value: string): value is AddressClass {
  return Object.hasOwn(ADDRESS_CLASS_RANGES, value);
}

/** A spec's list, read own element by own element (no holes, no inherited indices, bounded length). */
function readList(
  spec: Record<string, unknown>,
  key: 'allow' | 'deny' | 'allowProxy',
  prefix: string,
): string[] {
  const list = spec[key];
  if (list === undefined) return [];
  const name = `${prefix}${key}`;
  const out: string[] = [];
  try {
    if (!Array.isArray(list)) {
      throw optionError(name, `expected an array of address classes and CIDR ranges, got ${show(list)}`);
    }
    const length = list.length;
    if (length > MAX_LIST_ENTRIES) {
      throw optionError(name, `has ${length} entries; at most ${MAX_LIST_ENTRIES} are taken`);
    }
    for (let i = 0; i < length; i++) {
      if (!Object.hasOwn(list, i)) throw optionError(`${name}[${i}]`, 'is a hole in the array');
      const item: unknown = list[i];
      if (typeof item !== 'string') {
        throw optionError(`${name}[${i}]`, `expected an address class or a CIDR range, got ${show(item)}`);
      }
      out.push(item);
    }
  } catch (err) {
    if (isOptionError(err)) throw err;
    throw optionError(name, 'cannot be read (a getter or Proxy trap threw)');
  }
  return out;
}

function isOptionError(err: unknown): boolean {
  return err instanceof TypeError && (err as { code?: unknown }).code === 'ERR_NETDIAL_INVALID_OPTION';
}

/** Each class's ranges, parsed once: [range, pieces left after its exceptions]. */
let classPieces: Map<AddressClass, Array<[ParsedCidr, Array<[bigint, bigint]>]>> | undefined;

function piecesOf(cls: AddressClass): Array<[ParsedCidr, Array<[bigint, bigint]>]> {
  classPieces ??= new Map(
    ADDRESS_CLASSES.map((c) => [
      c,
      ADDRESS_CLASS_RANGES[c].map((cr): [ParsedCidr, Array<[bigint, bigint]>] => {
        const cidr = mustParseCidr(cr.cidr);
        // Own property only: a polluted Object.prototype.except must not punch holes in a class.
        const except = Object.hasOwn(cr, 'except') ? (cr.except ?? []) : [];
        return [cidr, subtract(cidr.lo, cidr.hi, except.map(mustParseCidr))];
      }),
    ]),
  );
  return classPieces.get(cls)!;
}

let publicPolicy: AddressPolicy | undefined;

/**
 * Compiles a policy. `spec`: `'public'` (= {@link PUBLIC_INTERNET_ONLY}), `{ allow?, deny? }` of address
 * classes and CIDR ranges ('198.51.100.0/24', '2001:db8::/32'; a single address means /32 or /128), or an
 * already compiled AddressPolicy (returned as is). An empty spec allows everything. `optionName`
 * prefixes error messages (e.g. 'policy' gives "invalid option policy.deny[2]: …"); default none.
 * @throws TypeError with code ERR_NETDIAL_INVALID_OPTION naming the entry: an unknown class, a bad CIDR
 *   (host bits set, prefix out of range), a non-array list, an unknown key.
 */
export function compilePolicy(
  spec: PolicySpec | 'public' | AddressPolicy,
  optionName?: string,
): AddressPolicy {
  if (isAddressPolicy(spec)) return spec;
  const base = optionName === undefined || optionName === '' ? '' : `${optionName}.`;
  const specName = optionName === undefined || optionName === '' ? 'policy' : optionName;
  if (spec === 'public') {
    publicPolicy ??= compilePolicy(PUBLIC_INTERNET_ONLY);
    return publicPolicy;
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw optionError(specName, `expected 'public' or an object { allow?, deny? }, got ${show(spec)}`);
  }
  // Own properties only, each read once; unknown and inherited keys are refused (option-names.ts).
  const record = readOptionBag(spec, POLICY_SPEC_NAMES, specName, base);
  const lists = { allow: readList(record, 'allow', base), deny: readList(record, 'deny', base) };
  const allowProxy = readList(record, 'allowProxy', base);
  const policy = compileLists(lists, base);
  if (allowProxy.length === 0) return policy;
  // The proxy's policy: the same entries plus allowProxy as allow entries (each named as allowProxy[i]).
  const forProxy = compileLists(lists, base, allowProxy);
  return new CompiledPolicy(policy, forProxy);
}

/** Compiles deny and allow lists (plus `allowProxy` entries, read as allow entries) into a policy. */
function compileLists(
  lists: { allow: string[]; deny: string[] },
  base: string,
  allowProxy: string[] = [],
): CompiledPolicy {
  const entries: Entry[] = [];
  const v4: Range[] = [];
  const v6: Range[] = [];
  const v6Cidr: Range[] = [];
  const normalized = { allow: [] as string[], deny: [] as string[] };
  const listed = { ...lists, allowProxy };
  for (const action of ['deny', 'allow', 'allowProxy'] as const) {
    const allow = action !== 'deny';
    // The verdict's words: an allowProxy entry reads as an allow entry of the proxy's policy.
    const verb = allow ? 'allow' : 'deny';
    const normalizedList = action === 'deny' ? normalized.deny : normalized.allow;
    listed[action].forEach((item, index) => {
      const name = `${base}${action}[${index}]`;
      const add = (
        cidr: ParsedCidr,
        rule: string,
        pieces: Array<[bigint, bigint]>,
        isClass: boolean,
        label: string,
      ) => {
        const entry = entries.length;
        entries.push({
          allow,
          specificity: cidr.prefix + (cidr.family === 4 ? IPV4_SPECIFICITY_OFFSET : 0),
          rule,
          label,
          allowedVerdict: allow ? Object.freeze({ allowed: true, rule }) : undefined,
        });
        for (const [lo, hi] of pieces) {
          const range = { lo, hi, entry };
          if (cidr.family === 4) v4.push(range);
          else {
            v6.push(range);
            if (!isClass) v6Cidr.push(range);
          }
        }
      };
      if (isAddressClass(item)) {
        normalizedList.push(item);
        for (const [cidr, pieces] of piecesOf(item)) {
          add(cidr, `${verb} ${item} (${cidr.text})`, pieces, true, item);
        }
        return;
      }
      const cidr = parseCidr(item, name);
      if (cidr === undefined) {
        throw optionError(
          name,
          `expected an address class (${ADDRESS_CLASSES.join(', ')}) or a CIDR range such as ` +
            `"198.51.100.0/24" or "2001:db8::/32", got ${show(item)}`,
        );
      }
      normalizedList.push(cidr.text);
      add(cidr, `${verb} ${cidr.text}`, [[cidr.lo, cidr.hi]], false, 'a deny-listed range');
    });
  }
  return new CompiledPolicy({
    entries,
    v4: partition(v4, IPV4_SPACE_END, entries),
    v6: partition(v6, IPV6_SPACE_END, entries),
    v6Cidr: partition(v6Cidr, IPV6_SPACE_END, entries),
    allow: Object.freeze(normalized.allow.slice(0, normalized.allow.length - allowProxy.length)),
    deny: Object.freeze(normalized.deny),
    allowProxy: Object.freeze(normalized.allow.slice(normalized.allow.length - allowProxy.length)),
  });
}

/**
 * The policy for the connection to a proxy (the `proxy` option's hop): `policy` with its `allowProxy`
 * entries added to its allow entries — for a narrowed policy, each part's own (an address must pass every
 * part, so a dial's policy cannot re-open a proxy its Dialer's denies). Undefined: no policy.
 */
export function proxyHopPolicy(policy: AddressPolicy | undefined): AddressPolicy | undefined {
  return policy?.forProxy;
}

/**
 * True for a policy made by this copy of netdial (`compilePolicy`, `narrowPolicy`): recognised by a
 * module-private WeakSet, so no other object — a look-alike with a `check` that allows everything, an
 * object carrying a global symbol — can pass for one.
 */
export function isAddressPolicy(value: unknown): value is AddressPolicy {
  return typeof value === 'object' && value !== null && COMPILED.has(value);
}

/**
 * `floor` narrowed by `narrower`: an address is allowed only when both allow it (an intersection). This
 * is how a dial's own `policy` combines with its Dialer's: it can refuse more, never allow more. Either
 * may be undefined (no policy). The denial reported is the first part's that denies.
 */
export function narrowPolicy(
  floor: AddressPolicy | undefined,
  narrower: AddressPolicy | undefined,
): AddressPolicy | undefined {
  if (floor === undefined || narrower === undefined || floor === narrower) return floor ?? narrower;
  const parts: AddressPolicy[] = [];
  for (const p of [...(floor.parts ?? [floor]), ...(narrower.parts ?? [narrower])]) {
    if (!parts.includes(p)) parts.push(p);
  }
  return parts.length === 1 ? parts[0] : new NarrowedPolicy(parts);
}

class NarrowedPolicy implements AddressPolicy {
  readonly parts: readonly AddressPolicy[];
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly allowProxy: readonly string[];
  readonly #forProxy: AddressPolicy;

  constructor(parts: readonly AddressPolicy[]) {
    this.parts = Object.freeze([...parts]);
    this.allow = Object.freeze(parts.flatMap((p) => p.allow));
    this.deny = Object.freeze(parts.flatMap((p) => p.deny));
    this.allowProxy = Object.freeze(parts.flatMap((p) => p.allowProxy));
    // Each part's proxy policy, intersected: allowProxy in one part cannot lift another part's deny.
    this.#forProxy = parts.some((p) => p.forProxy !== p)
      ? new NarrowedPolicy(parts.map((p) => p.forProxy))
      : this;
    COMPILED.add(this);
    Object.freeze(this);
  }

  /** A getter, not an own property: a spread copy of a policy is a spec of its lists only. */
  get forProxy(): AddressPolicy {
    return this.#forProxy;
  }

  check(address: string): PolicyVerdict {
    let verdict: PolicyVerdict = ALLOWED_NO_RULE;
    for (const part of this.parts) {
      verdict = part.check(address);
      if (!verdict.allowed) return verdict;
    }
    return verdict;
  }

  toJSON(): { allOf: readonly AddressPolicy[] } {
    return { allOf: this.parts };
  }
}

// ---------------------------------------------------------------------------------------------------
// Checking

/** IPv4 intervals as doubles (exact for 32-bit values). */
interface V4Table {
  starts: Float64Array;
  entries: Int32Array;
}

/** IPv6 intervals as four 32-bit words per start. */
interface V6Table {
  starts: Uint32Array;
  entries: Int32Array;
}

function v4Table(p: Partition): V4Table {
  return { starts: Float64Array.from(p.starts, (s) => Number(s)), entries: Int32Array.from(p.entries) };
}

function v6Table(p: Partition): V6Table {
  const starts = new Uint32Array(p.starts.length * 4);
  p.starts.forEach((s, i) => {
    for (let k = 0; k < 4; k++) starts[i * 4 + k] = Number((s >> BigInt(96 - 32 * k)) & 0xffffffffn);
  });
  return { starts, entries: Int32Array.from(p.entries) };
}

function lookupV4(table: V4Table, value: number): number {
  const starts = table.starts;
  let lo = 0;
  let hi = starts.length - 1;
  // Largest i with starts[i] <= value; starts[0] is 0.
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid]! <= value) lo = mid;
    else hi = mid - 1;
  }
  return table.entries[lo]!;
}

/** -1, 0, 1 as interval start `i` compares with `words`. */
function compareStart(starts: Uint32Array, i: number, words: Uint32Array): number {
  const base = i * 4;
  for (let k = 0; k < 4; k++) {
    const s = starts[base + k]!;
    const w = words[k]!;
    if (s !== w) return s < w ? -1 : 1;
  }
  return 0;
}

function lookupV6(table: V6Table, words: Uint32Array): number {
  let lo = 0;
  let hi = table.entries.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (compareStart(table.starts, mid, words) <= 0) lo = mid;
    else hi = mid - 1;
  }
  return table.entries[lo]!;
}

interface CompiledTables {
  entries: readonly Entry[];
  v4: Partition;
  v6: Partition;
  v6Cidr: Partition;
  allow: readonly string[];
  deny: readonly string[];
  allowProxy: readonly string[];
}

class CompiledPolicy implements AddressPolicy {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly allowProxy: readonly string[];
  readonly #forProxy: AddressPolicy;
  readonly #entries: readonly Entry[];
  readonly #v4: V4Table;
  readonly #v6: V6Table;
  readonly #v6Cidr: V6Table;
  readonly #empty: boolean;
  /** Scratch for parsing; `check` is synchronous, so one per policy is enough. */
  readonly #words = new Uint32Array(4);

  /**
   * From compiled tables; or `(policy, forProxy)`: the target policy `policy` (its tables shared) whose
   * proxy hop is checked with `forProxy` (compiled with the allowProxy entries).
   */
  constructor(tables: CompiledTables);
  constructor(policy: CompiledPolicy, forProxy: CompiledPolicy);
  constructor(from: CompiledTables | CompiledPolicy, forProxy?: CompiledPolicy) {
    if (from instanceof CompiledPolicy) {
      this.#entries = from.#entries;
      this.#v4 = from.#v4;
      this.#v6 = from.#v6;
      this.#v6Cidr = from.#v6Cidr;
      this.#empty = from.#empty;
      this.allow = from.allow;
      this.deny = from.deny;
      this.allowProxy = forProxy!.allowProxy;
      this.#forProxy = forProxy!;
    } else {
      this.#entries = from.entries;
      this.#v4 = v4Table(from.v4);
      this.#v6 = v6Table(from.v6);
      this.#v6Cidr = v6Table(from.v6Cidr);
      this.#empty = from.entries.length === 0;
      this.allow = from.allow;
      this.deny = from.deny;
      this.allowProxy = from.allowProxy;
      this.#forProxy = this;
    }
    COMPILED.add(this);
    Object.freeze(this);
  }

  /** A getter, not an own property: a spread copy of a policy is a spec of its lists only. */
  get forProxy(): AddressPolicy {
    return this.#forProxy;
  }

  check(address: string): PolicyVerdict {
    if (typeof address !== 'string')
      return { allowed: false, rule: NOT_AN_ADDRESS, matched: typeof address, label: NOT_AN_ADDRESS_LABEL };
    const v4 = address.includes(':') ? -1 : parseIPv4(address);
    if (v4 !== -1) return this.#verdict(lookupV4(this.#v4, v4), address);
    const words = this.#words;
    if (!parseIPv6Into(address, words))
      return { allowed: false, rule: NOT_AN_ADDRESS, matched: address, label: NOT_AN_ADDRESS_LABEL };
    if (this.#empty) return ALLOWED_NO_RULE;
    const carried = carriedIPv4(words);
    if (carried === -1) return this.#verdict(lookupV6(this.#v6, words), address);
    // Classes see the carried IPv4 address; IPv6 CIDR entries also see the address as written.
    const byV4 = lookupV4(this.#v4, carried);
    const byV6 = lookupV6(this.#v6Cidr, words);
    if (byV6 !== -1 && better(this.#entries, byV6, byV4)) return this.#verdict(byV6, address);
    return this.#verdict(byV4, formatIPv4(carried));
  }

  #verdict(entry: number, matched: string): PolicyVerdict {
    if (entry === -1) return ALLOWED_NO_RULE;
    const e = this.#entries[entry]!;
    if (e.allowedVerdict !== undefined) return e.allowedVerdict;
    return { allowed: false, rule: e.rule, matched: stripZone(matched), label: e.label };
  }

  toJSON(): { allow: readonly string[]; deny: readonly string[]; allowProxy?: readonly string[] } {
    return this.allowProxy.length === 0
      ? { allow: this.allow, deny: this.deny }
      : { allow: this.allow, deny: this.deny, allowProxy: this.allowProxy };
  }
}
