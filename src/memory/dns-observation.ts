/**
 * What a fleet of Dialers tells each other about DNS answers (`memory: { store, shareDns: true }`), and
 * how it merges — pure: no clock is read, no I/O; callers pass the wall-clock time.
 *
 * A DNS observation is one process's last positive answer for one (name, family): the addresses, the
 * wall-clock instant the answer stops being fresh (`expiresAtMs` = the observer's wall clock when it
 * stored the answer + the answer's TTL), the observer's wall-clock time and a unique id. Per (name,
 * family) the newest observation wins — newest by (wallClockMs, id), the total order of endpoint
 * observations (fleet-observation.ts) — so merging is a last-writer-wins map: commutative, associative and
 * idempotent (test/fleet-dns.test.ts checks these with fast-check).
 *
 * A receiver uses what is left of the TTL and never more: {@link remainingTtlMs} is the shorter of
 * "expiry minus the receiver's wall clock" and "expiry minus the observer's wall clock", so a peer whose
 * clock runs ahead cannot lengthen an answer's life (RFC 1035 §3.2.1: a TTL is how long the answer may be
 * cached, counted from when it was received — the fleet shares one countdown, it does not restart it).
 *
 * Deviation, on purpose: RFC 1034 §4.3.4 lets a resolver cache only what it received from a server.
 * A peer's answer is second hand; netdial accepts it because the fleet shares one DNS view by
 * configuration, and only when the user switches it on. Names can be private (which hosts a service
 * talks to), so the switch is off by default.
 *
 * Observations arrive from a store, which is input, not trusted code: {@link parseDnsObservation} accepts
 * only well-formed, plausible ones — a host name (LDH labels, underscores allowed, ≤ 253 octets, labels
 * ≤ 63), address literals of the family without zones, at most `maxAddresses`, a TTL within
 * `maxTtlSeconds`, an observer time not from the future (beyond the endpoint observations' clock-skew
 * allowance) and not yet expired — and everything else is dropped by the caller.
 */
import { isIPv4, isIPv6 } from '../ip-address.js';
import { OBSERVATION_LIMITS } from './fleet-observation.js';

/** One process's positive answer for one (name, family), as it travels through a MemoryStore. */
export interface DnsObservation {
  kind: 'dns';
  /** The name asked of DNS (fully qualified, lower case, no trailing dot). */
  name: string;
  family: 4 | 6;
  /** Address literals of `family`, no zones, at least one, in the observer's order. */
  addresses: string[];
  /** The TTL the observer stored the answer with, seconds (> 0). */
  ttlSeconds: number;
  /** The observer's wall-clock time (ms since the epoch) when it stored the answer. */
  wallClockMs: number;
  /** Wall-clock instant the answer stops being fresh: `wallClockMs + ttlSeconds * 1000`. */
  expiresAtMs: number;
  /** Unique per observation: `<origin>.<sequence>`, as for endpoint observations. */
  id: string;
}

/** Limits {@link parseDnsObservation} applies; the receiver passes its DnsCache's own bounds. */
export interface DnsObservationLimits {
  /** The receiver's `maxTtlSeconds`: an answer claiming a longer TTL is rejected. */
  maxTtlSeconds: number;
  /** The receiver's `maxAddressesPerName`: a longer list is rejected, not cut. */
  maxAddresses: number;
  /** Tolerated clock skew, ms (as for endpoint observations). */
  maxFutureMs: number;
}

/** Default {@link DnsObservationLimits} (those of a DnsCache with default options). */
export const DNS_OBSERVATION_LIMITS: DnsObservationLimits = Object.freeze({
  maxTtlSeconds: 86_400,
  maxAddresses: 1024,
  maxFutureMs: OBSERVATION_LIMITS.maxFutureMs,
});

/** Longest name in octets (RFC 1035 §2.3.4: 255 on the wire, 253 as text without the trailing dot). */
const MAX_NAME = 253;
const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
const ID = /^[A-Za-z0-9_-]{1,40}\.[0-9]{1,16}$/;

/**
 * The form a name is shared in, or undefined when it cannot be shared: ASCII lower case (RFC 4343), one
 * trailing dot dropped, ≤ 253 octets, every label 1–63 of letters, digits, '-' and '_' (no '-' at either
 * end). Anything else (Unicode, spaces, '%', empty labels, an IP literal's colons) is not a host name.
 */
export function normaliseDnsName(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME + 1) return undefined;
  let n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > MAX_NAME) return undefined;
  n = n.replace(/[A-Z]+/g, (s) => s.toLowerCase());
  for (const label of n.split('.')) if (!LABEL.test(label)) return undefined;
  return n;
}

/** The (name, family) key. */
export function dnsObservationKey(o: { name: string; family: 4 | 6 }): string {
  return `dns ${o.family} ${o.name}`;
}

/** Whether `a` is newer than `b` in the total order (wallClockMs, then id). */
export function isNewerDns(a: DnsObservation, b: DnsObservation): boolean {
  if (a.wallClockMs !== b.wallClockMs) return a.wallClockMs > b.wallClockMs;
  return a.id > b.id;
}

/** Merges `o` into `table`; true when `o` is now the table's observation of its (name, family). */
export function mergeDnsObservation(table: Map<string, DnsObservation>, o: DnsObservation): boolean {
  const key = dnsObservationKey(o);
  const held = table.get(key);
  if (held !== undefined && !isNewerDns(o, held)) return false;
  table.set(key, o);
  return true;
}

/** The merge of any number of DNS observation sets: per (name, family), the newest. Pure. */
export function mergeAllDns(...sets: ReadonlyArray<Iterable<DnsObservation>>): Map<string, DnsObservation> {
  const table = new Map<string, DnsObservation>();
  for (const set of sets) for (const o of set) mergeDnsObservation(table, o);
  return table;
}

/**
 * What is left of the answer's TTL at the receiver's wall-clock `nowWallMs`, ms: never more than the
 * observer itself had left when it observed (`expiresAtMs - wallClockMs`), so a clock ahead of ours
 * cannot extend it. <= 0: expired, nothing to adopt.
 */
export function remainingTtlMs(o: DnsObservation, nowWallMs: number): number {
  return o.expiresAtMs - Math.max(nowWallMs, o.wallClockMs);
}

/**
 * Validates one untrusted DNS observation; returns a fresh, plain copy (name normalised, addresses
 * de-duplicated), or undefined for anything malformed, implausible or already expired at `nowWallMs`.
 * Never throws, whatever `value` is: only own data properties of a plain object are read.
 */
export function parseDnsObservation(
  value: unknown,
  nowWallMs: number,
  limits: DnsObservationLimits = DNS_OBSERVATION_LIMITS,
): DnsObservation | undefined {
  try {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return undefined;
    const get = (key: string): unknown => {
      const d = Object.getOwnPropertyDescriptor(value, key);
      return d !== undefined && 'value' in d ? d.value : undefined;
    };
    if (get('kind') !== 'dns') return undefined;
    const name = normaliseDnsName(get('name'));
    if (name === undefined) return undefined;
    const family = get('family');
    if (family !== 4 && family !== 6) return undefined;
    const raw = get('addresses');
    if (!Array.isArray(raw) || raw.length === 0 || raw.length > limits.maxAddresses) return undefined;
    const isFamily = family === 4 ? isIPv4 : isIPv6;
    const addresses: string[] = [];
    for (let i = 0; i < raw.length; i++) {
      const d = Object.getOwnPropertyDescriptor(raw, i);
      const a = d !== undefined && 'value' in d ? d.value : undefined;
      // No zone: `fe80::1%eth0` names an interface of the observer's host, meaningless here.
      if (typeof a !== 'string' || a.length > 45 || a.includes('%') || !isFamily(a)) return undefined;
      if (!addresses.includes(a)) addresses.push(a);
    }
    const ttlSeconds = get('ttlSeconds');
    if (typeof ttlSeconds !== 'number' || !(ttlSeconds > 0 && ttlSeconds <= limits.maxTtlSeconds)) {
      return undefined;
    }
    const wallClockMs = get('wallClockMs');
    const expiresAtMs = get('expiresAtMs');
    if (typeof wallClockMs !== 'number' || !Number.isFinite(wallClockMs)) return undefined;
    if (wallClockMs > nowWallMs + limits.maxFutureMs) return undefined;
    // The expiry must be the observer's own arithmetic (to the ms): a TTL cannot be smuggled past the cap.
    if (typeof expiresAtMs !== 'number' || Math.abs(expiresAtMs - (wallClockMs + ttlSeconds * 1000)) > 1) {
      return undefined;
    }
    const id = get('id');
    if (typeof id !== 'string' || !ID.test(id)) return undefined;
    const o: DnsObservation = {
      kind: 'dns',
      name,
      family,
      addresses,
      ttlSeconds,
      wallClockMs,
      expiresAtMs,
      id,
    };
    if (!(remainingTtlMs(o, nowWallMs) > 0)) return undefined;
    return o;
  } catch {
    return undefined; // a hostile object (throwing proxy trap): ignored like any other malformed input
  }
}

/** Whether an untrusted item claims to be a DNS observation (an own `kind: 'dns'`); never throws. */
export function isDnsItem(value: unknown): boolean {
  try {
    if (typeof value !== 'object' || value === null) return false;
    const d = Object.getOwnPropertyDescriptor(value, 'kind');
    return d !== undefined && 'value' in d && d.value === 'dns';
  } catch {
    return false;
  }
}
