/**
 * Dial options: what callers may pass, their defaults and units, and their validation into one frozen
 * config at the boundary. Every bad value is a TypeError with code ERR_NETDIAL_INVALID_OPTION that names
 * the option, what was expected and what came.
 */
import net from 'node:net';
import type tls from 'node:tls';
import { inputError } from './errors.js';
import { type AddressPolicy, compilePolicy, type PolicySpec } from './policy.js';
import type { Family } from './types.js';

/**
 * A custom resolver: called once per address family with the host name; returns that family's addresses
 * (strings or `{ address, ttlSeconds }`). Throw an error with a `code` (ENOTFOUND, ESERVFAIL…) for a
 * failed query; an empty array means the name has no address of that family. Honour `signal`.
 */
export type ResolveFunction = (
  hostname: string,
  family: Family,
  context: { signal: AbortSignal },
) => Promise<ReadonlyArray<string | { address: string; ttlSeconds?: number }>>;

/**
 * How names become addresses:
 * - 'auto' (default): /etc/hosts, then DNS (A and AAAA in parallel, resolv.conf search list), then the
 *   system resolver (`dns.lookup`: mDNS, nsswitch) for names DNS does not know, when no DNS server can
 *   be reached at all, and for `.local` names;
 * - 'dns': /etc/hosts, then DNS only;
 * - 'system': `dns.lookup` only (getaddrinfo; no TTLs, one answer for both families);
 * - a function: see ResolveFunction (the seam for tests and for callers with their own resolution).
 */
export type ResolverChoice = 'auto' | 'dns' | 'system' | ResolveFunction;

/** Options of one dial. Times are milliseconds. */
export interface DialOptions {
  /** Cancels the dial; it then rejects with an AbortError (`code: 'ABORT_ERR'`, `cause` = the reason). */
  signal?: AbortSignal | undefined;
  /** One bound for the whole dial — resolution, every attempt and TLS — in ms. Default 10 000. `Infinity` removes it. */
  timeout?: number | undefined;
  /** `true` or `tls.connect` options: run a TLS handshake on the winning connection; SNI is the host name, never an IP. */
  tls?: boolean | tls.ConnectionOptions | undefined;
  /** 0 (default) both families, 4 or 6 only that family. */
  family?: 0 | 4 | 6 | undefined;
  /**
   * RFC 8305 §5 Connection Attempt Delay in ms, 10–2000. Default: derived from the Dialer's RTT history
   * (2 × SRTT + 4 × RTTVAR, clamped to 100–2000), 250 without history.
   */
  attemptDelay?: number | undefined;
  /** RFC 8305 §3 Resolution Delay in ms (how long an A answer waits for AAAA), 0–2000. Default 50. */
  resolutionDelay?: number | undefined;
  /** Attempts in flight at once, 1–64. Default 6. */
  maxConcurrentAttempts?: number | undefined;
  /** RFC 8305 §4 First Address Family Count, 1–16. Default 1. */
  firstAddressFamilyCount?: number | undefined;
  /** Addresses of a name tried at most, 1–1024; the best-sorted ones are kept. Default 64 (hostile answers carry hundreds). */
  maxAddresses?: number | undefined;
  /** Local IP address to connect from; only destinations of its family are dialled. */
  localAddress?: string | undefined;
  /** See ResolverChoice. Default 'auto'. */
  resolver?: ResolverChoice | undefined;
  /**
   * Which addresses may be dialled: `'public'` (public internet only: no loopback, private, link-local,
   * cloud metadata…), `{ allow, deny }` with address classes and CIDR ranges, or a compiled policy.
   * Checked on every address actually dialled, after resolution — so DNS rebinding cannot slip through.
   * Default: none (everything may be dialled).
   */
  policy?: 'public' | PolicySpec | AddressPolicy | undefined;
  /** `socket.setNoDelay` on the winner. Default: Node's (off). */
  noDelay?: boolean | undefined;
  /** `socket.setKeepAlive` on the winner. Default: Node's (off). */
  keepAlive?: boolean | undefined;
  /** Initial keep-alive delay in ms when keepAlive is on. */
  keepAliveInitialDelay?: number | undefined;
}

/** Defaults as documented above. */
export const DEFAULTS = Object.freeze({
  timeoutMs: 10_000,
  attemptDelayMs: 250,
  resolutionDelayMs: 50,
  maxConcurrentAttempts: 6,
  firstAddressFamilyCount: 1,
  maxAddresses: 64,
});

/** The validated form of DialOptions. */
export interface DialConfig {
  readonly signal: AbortSignal | undefined;
  readonly timeoutMs: number;
  readonly tls: tls.ConnectionOptions | undefined;
  readonly family: 0 | 4 | 6;
  readonly attemptDelayMs: number;
  /** True when a caller set attemptDelay; otherwise a Dialer with memory derives it from RTT history. */
  readonly attemptDelayExplicit: boolean;
  readonly resolutionDelayMs: number;
  readonly maxConcurrentAttempts: number;
  readonly firstAddressFamilyCount: number;
  readonly maxAddresses: number;
  readonly localAddress: string | undefined;
  readonly resolver: ResolverChoice;
  readonly policy: AddressPolicy | undefined;
  readonly noDelay: boolean | undefined;
  readonly keepAlive: boolean | undefined;
  readonly keepAliveInitialDelayMs: number | undefined;
}

function bad(name: string, expected: string, got: unknown): TypeError {
  return inputError(
    'ERR_NETDIAL_INVALID_OPTION',
    `invalid option ${name}: expected ${expected}, got ${show(got)}`,
  );
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (typeof v === 'function') return 'a function';
  return Array.isArray(v) ? 'an array' : typeof v;
}

function number(
  name: string,
  v: unknown,
  min: number,
  max: number,
  fallback: number,
  integer = false,
): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || Number.isNaN(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw bad(name, `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`, v);
  }
  return v;
}

function bool(name: string, v: unknown): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  throw bad(name, 'a boolean', v);
}

/**
 * Validates `options` over `base` (the Dialer's defaults, already validated) and returns a frozen config.
 * Throws TypeError (code ERR_NETDIAL_INVALID_OPTION) naming the first bad option.
 */
export function resolveOptions(options: unknown, base?: DialConfig): DialConfig {
  // The common case — a dial with no options — reuses the Dialer's frozen defaults as they are.
  if (options === undefined && base !== undefined) return base;
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw bad('options', 'an object', options);
  }
  const o = (options ?? {}) as Record<string, unknown>;
  const signal = o.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw bad('signal', 'an AbortSignal', signal);

  let timeoutMs = base?.timeoutMs ?? DEFAULTS.timeoutMs;
  if (o.timeout !== undefined) {
    if (o.timeout !== Number.POSITIVE_INFINITY)
      timeoutMs = number('timeout', o.timeout, 1, 2 ** 31 - 1, timeoutMs);
    else timeoutMs = Number.POSITIVE_INFINITY;
  }

  let tlsOptions = base?.tls;
  if (o.tls !== undefined) {
    if (o.tls === false) tlsOptions = undefined;
    else if (o.tls === true) tlsOptions = {};
    else if (typeof o.tls === 'object' && o.tls !== null && !Array.isArray(o.tls)) {
      tlsOptions = o.tls as tls.ConnectionOptions;
    } else throw bad('tls', 'true, false or tls.connect options', o.tls);
  }

  let family = base?.family ?? 0;
  if (o.family !== undefined) {
    if (o.family !== 0 && o.family !== 4 && o.family !== 6) throw bad('family', '0, 4 or 6', o.family);
    family = o.family;
  }

  let localAddress = base?.localAddress;
  if (o.localAddress !== undefined) {
    if (typeof o.localAddress !== 'string' || net.isIP(o.localAddress) === 0) {
      throw bad('localAddress', 'an IP address', o.localAddress);
    }
    localAddress = o.localAddress;
  }
  if (localAddress !== undefined) {
    const localFamily = net.isIP(localAddress) as Family;
    if (family !== 0 && family !== localFamily) {
      throw bad('family', `${localFamily} to match localAddress ${localAddress}`, family);
    }
    family = localFamily;
  }

  let resolver = base?.resolver ?? 'auto';
  if (o.resolver !== undefined) {
    if (
      o.resolver !== 'auto' &&
      o.resolver !== 'dns' &&
      o.resolver !== 'system' &&
      typeof o.resolver !== 'function'
    ) {
      throw bad('resolver', "'auto', 'dns', 'system' or a function", o.resolver);
    }
    resolver = o.resolver as ResolverChoice;
  }

  const keepAliveInitialDelay = o.keepAliveInitialDelay;
  return Object.freeze({
    signal: signal as AbortSignal | undefined,
    timeoutMs,
    tls: tlsOptions,
    family,
    // RFC 8305 §5: "MUST NOT be less than 10 ms"; §8 recommends at most 2 s.
    attemptDelayExplicit: o.attemptDelay !== undefined || (base?.attemptDelayExplicit ?? false),
    attemptDelayMs: number(
      'attemptDelay',
      o.attemptDelay,
      10,
      2000,
      base?.attemptDelayMs ?? DEFAULTS.attemptDelayMs,
    ),
    resolutionDelayMs: number(
      'resolutionDelay',
      o.resolutionDelay,
      0,
      2000,
      base?.resolutionDelayMs ?? DEFAULTS.resolutionDelayMs,
    ),
    maxConcurrentAttempts: number(
      'maxConcurrentAttempts',
      o.maxConcurrentAttempts,
      1,
      64,
      base?.maxConcurrentAttempts ?? DEFAULTS.maxConcurrentAttempts,
      true,
    ),
    firstAddressFamilyCount: number(
      'firstAddressFamilyCount',
      o.firstAddressFamilyCount,
      1,
      16,
      base?.firstAddressFamilyCount ?? DEFAULTS.firstAddressFamilyCount,
      true,
    ),
    maxAddresses: number(
      'maxAddresses',
      o.maxAddresses,
      1,
      1024,
      base?.maxAddresses ?? DEFAULTS.maxAddresses,
      true,
    ),
    localAddress,
    resolver,
    policy: o.policy === undefined ? base?.policy : compilePolicy(o.policy as PolicySpec, 'policy'),
    noDelay: bool('noDelay', o.noDelay) ?? base?.noDelay,
    keepAlive: bool('keepAlive', o.keepAlive) ?? base?.keepAlive,
    keepAliveInitialDelayMs:
      keepAliveInitialDelay === undefined
        ? base?.keepAliveInitialDelayMs
        : number('keepAliveInitialDelay', keepAliveInitialDelay, 0, 2 ** 31 - 1, 0),
  });
}

/** A DNS server as resolv.conf or `Resolver#setServers` takes it: an IP, `IP:port` or `[IPv6]:port`. */
function isNameserver(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  if (net.isIP(v) !== 0) return true;
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v);
  if (!m) return false;
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  return net.isIP(host) !== 0 && port >= 1 && port <= 65535 && (m[1] === undefined || net.isIPv6(host));
}

/**
 * Validates the options only a Dialer takes (resolver settings, memory, bounds); the dial options it
 * also takes are validated by resolveOptions. Throws TypeError (ERR_NETDIAL_INVALID_OPTION) naming the
 * first bad one.
 */
export function checkDialerOptions(options: unknown): void {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw bad('options', 'an object', options);
  }
  const o = (options ?? {}) as Record<string, unknown>;
  if ('signal' in o && o.signal !== undefined) {
    throw bad('signal', 'no signal on a Dialer (pass it to dial())', o.signal);
  }
  const m = o.memory;
  if (
    m !== undefined &&
    typeof m !== 'boolean' &&
    (typeof m !== 'object' || m === null || Array.isArray(m))
  ) {
    throw bad('memory', 'true, false, a DialMemory or memory options', m);
  }
  number('networkCheckIntervalMs', o.networkCheckIntervalMs, 0, 2 ** 31 - 1, 0);
  number('maxAttemptsInFlight', o.maxAttemptsInFlight, 1, 65536, 1, true);
  number('dnsTimeoutMs', o.dnsTimeoutMs, 1, 2 ** 31 - 1, 1);
  number('dnsTries', o.dnsTries, 1, 16, 1, true);
  if (
    o.hostsPath !== undefined &&
    o.hostsPath !== null &&
    (typeof o.hostsPath !== 'string' || o.hostsPath === '')
  ) {
    throw bad('hostsPath', 'a file path or null', o.hostsPath);
  }
  if (o.resolvConfPath !== undefined && (typeof o.resolvConfPath !== 'string' || o.resolvConfPath === '')) {
    throw bad('resolvConfPath', 'a file path', o.resolvConfPath);
  }
  const ns = o.nameservers;
  if (ns !== undefined) {
    if (!Array.isArray(ns)) throw bad('nameservers', "an array like ['127.0.0.1', '[::1]:5353']", ns);
    ns.forEach((s: unknown, i: number) => {
      if (!isNameserver(s)) throw bad(`nameservers[${i}]`, "an IP address, 'IP:port' or '[IPv6]:port'", s);
    });
  }
}
