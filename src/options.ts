/**
 * Dial options: what callers may pass, their defaults and units, and their validation into one frozen
 * config at the boundary. Every bad value is a TypeError with code ERR_NETDIAL_INVALID_OPTION that names
 * the option, what was expected and what came.
 */
import type * as tls from 'node:tls';
import { inputError, invalidOption } from './errors.js';
import { isIP } from './ip-address.js';
import { DialMemory, type MemoryOptions } from './memory/dial-memory.js';
import { type Nat64Prefix, parseNat64Prefix } from './resolution/nat64.js';
import { parseNameserver } from './resolution/dns-client.js';
import { parseProxyOption, type ProxyObject, type ProxySetting } from './proxy/proxy-option.js';
import type { ConnectionDialOptions } from './integrations/create-connection.js';
import {
  CONNECTION_DIAL_OPTION_NAMES,
  DIAL_OPTION_NAMES,
  DIALER_OPTION_NAMES,
  DNS_CACHE_OPTION_NAMES,
  ENDPOINT_HISTORY_OPTION_NAMES,
  MEMORY_OPTION_NAMES,
  ownCopy,
  readOptionBag,
} from './option-names.js';
import { type AddressPolicy, compilePolicy, narrowPolicy, type PolicySpec } from './policy/policy.js';
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
 *   /etc/nsswitch.conf's `hosts:` line is followed as Go does: `dns files` puts DNS first, `files` or
 *   `dns` alone uses only that, and sources only the system can serve (`myhostname` for the machine's
 *   own name, `resolve`, `ldap`, `wins`, `sss`, non-standard `[STATUS=action]` criteria…) send the name
 *   to the system resolver. The dial report's `resolution.path` says which and why;
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
  /**
   * `true` or `tls.connect` options: each attempt runs a TLS handshake once its TCP connects, and the first
   * secure connection wins (a reset or EOF in the handshake fails that attempt only; a certificate error
   * ends the dial). SNI is the host name, never an IP.
   */
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
  /**
   * Addresses of a name tried at most, 1–1024; the best-sorted ones are kept. Default 64 (hostile answers
   * carry hundreds). Bounds the work too: a longer answer is cut per family (RFC 6724 precedence and scope)
   * before any source-address probe, and DNS answers are cut to the Dialer's `maxAddresses` before they
   * are cached — a dial asking for more than its Dialer's gets at most that many from DNS.
   */
  maxAddresses?: number | undefined;
  /** Local IP address to connect from; only destinations of its family are dialled. */
  localAddress?: string | undefined;
  /** See ResolverChoice. Default 'auto'. */
  resolver?: ResolverChoice | undefined;
  /**
   * Which addresses may be dialled: `'public'` (public internet only: no loopback, private, link-local,
   * cloud metadata…), `{ allow, deny }` with address classes and CIDR ranges, or a compiled policy.
   * Checked on every address actually dialled, after resolution — so DNS rebinding cannot slip through.
   * Default: none (everything may be dialled). A dial's policy narrows its Dialer's (an address must
   * pass both); it never widens it: lifting a Dialer's policy takes another Dialer.
   */
  policy?: 'public' | PolicySpec | AddressPolicy | undefined;
  /**
   * Keep addresses the policy denied out of error messages, `attempts` and reports: they appear as
   * "1 address denied by policy (private)", so an endpoint that echoes errors cannot map internal DNS.
   * The full detail goes to the `netdial:policy:denied` diagnostics channel. Default true. A dial
   * cannot turn off the redaction of a Dialer that has a policy and redacts.
   */
  redactDeniedAddresses?: boolean | undefined;
  /** `socket.setNoDelay` on the winner. Default: Node's (off). */
  noDelay?: boolean | undefined;
  /** `socket.setKeepAlive` on the winner. Default: Node's (off). */
  keepAlive?: boolean | undefined;
  /** Initial keep-alive delay in ms when keepAlive is on. */
  keepAliveInitialDelay?: number | undefined;
  /**
   * Connect through a proxy: `'http://[user:pass@]host:port'` (HTTP CONNECT), `'https://…'` (TLS to the
   * proxy, then CONNECT), `'socks5://…'` (netdial resolves the target and races its addresses through the
   * proxy), `'socks5h://…'` (the proxy resolves); `'env'`: curl's environment rules (`https_proxy`,
   * `http_proxy`, `all_proxy`, `no_proxy`; see docs/integrations.md "Proxies"); `false` (default): none.
   * `{ url, tls }`: the URL with the TLS options of the hop to an https:// proxy (e.g. its private CA:
   * `{ url: 'https://proxy:3443', tls: { ca } }`), kept apart from the dial's own `tls`.
   * The proxy is dialled like any name (raced, remembered, policy applied to its address; a policy's
   * `allowProxy` opens an address for this hop only, not as a target — docs/safety.md).
   */
  proxy?: string | URL | ProxyObject | 'env' | false | undefined;
  /**
   * With an address policy: let the proxy resolve the target's name (`socks5h://`, CONNECT by name),
   * although netdial cannot check the address it connects to. Default false: netdial resolves, checks
   * each address and sends the proxy the literal; a `socks5h://` proxy is refused.
   */
  proxyResolvesNames?: boolean | undefined;
  /**
   * Ask for HTTPS records (RFC 9460) in parallel with A/AAAA when the target is an `https:`/`wss:` URL or
   * `tls` is set, and dial the endpoints they name (port, ALPN, address hints), the name's own A/AAAA
   * last. Default true; `false` turns it off.
   */
  httpsRecords?: boolean | undefined;
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
  /** Denied addresses appear only as counts per class in messages, attempts and reports. */
  readonly redactDeniedAddresses: boolean;
  /** This dial said `tls: false` (an https URL target then gets plain TCP). */
  readonly tlsOff: boolean;
  readonly noDelay: boolean | undefined;
  readonly keepAlive: boolean | undefined;
  readonly keepAliveInitialDelayMs: number | undefined;
  /** The proxy to dial through, `'env'` (chosen per dial), or undefined (none). */
  readonly proxy: ProxySetting;
  readonly proxyResolvesNames: boolean;
  /** HTTPS records are asked for https:/wss:/TLS dials (see DialOptions.httpsRecords). */
  readonly httpsRecords: boolean;
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
 * Only own properties are read (see option-names.ts); unknown names are refused. A dial's `policy`
 * narrows the base's (see narrowPolicy).
 * Throws TypeError (code ERR_NETDIAL_INVALID_OPTION) naming the first bad option.
 */
export function resolveOptions(options: unknown, base?: DialConfig): DialConfig {
  // The common case — a dial with no options — reuses the Dialer's frozen defaults as they are.
  if (options === undefined && base !== undefined) return base;
  const o = readOptionBag(options, DIAL_OPTION_NAMES, 'options');
  // An options object that sets nothing (`{}`, or integrations passing an empty bag) is the same dial:
  // the bag was still read strictly above; building a copy of the defaults would change nothing.
  if (base !== undefined && isEmptyBag(o)) return base;
  return buildConfig(o, base);
}

/** True when the null-prototype record from readOptionBag has no keys. */
function isEmptyBag(o: Record<string, unknown>): boolean {
  for (const _ in o) return false;
  return true;
}

/** The config of own-property record `o` (already checked for unknown names) over `base`. */
function buildConfig(o: Record<string, unknown>, base: DialConfig | undefined): DialConfig {
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
    if (typeof o.localAddress !== 'string' || isIP(o.localAddress) === 0) {
      throw bad('localAddress', 'an IP address', o.localAddress);
    }
    localAddress = o.localAddress;
  }
  if (localAddress !== undefined) {
    const localFamily = isIP(localAddress) as Family;
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
  const policy =
    o.policy === undefined
      ? base?.policy
      : narrowPolicy(base?.policy, compilePolicy(o.policy as PolicySpec, 'policy'));
  const redact = bool('redactDeniedAddresses', o.redactDeniedAddresses);
  if (redact === false && base?.policy !== undefined && base.redactDeniedAddresses) {
    throw invalidOption(
      'redactDeniedAddresses',
      "invalid option redactDeniedAddresses: a dial cannot show the addresses its Dialer's policy " +
        'redacts; make the Dialer with redactDeniedAddresses: false (or subscribe to netdial:policy:denied)',
    );
  }
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
    policy,
    redactDeniedAddresses: redact ?? base?.redactDeniedAddresses ?? true,
    // Per dial only: a Dialer's `tls: false` default does not turn TLS off for https/wss URL targets.
    tlsOff: base !== undefined && o.tls === false,
    noDelay: bool('noDelay', o.noDelay) ?? base?.noDelay,
    keepAlive: bool('keepAlive', o.keepAlive) ?? base?.keepAlive,
    keepAliveInitialDelayMs:
      keepAliveInitialDelay === undefined
        ? base?.keepAliveInitialDelayMs
        : number('keepAliveInitialDelay', keepAliveInitialDelay, 0, 2 ** 31 - 1, 0),
    proxy: o.proxy === undefined ? base?.proxy : parseProxyOption(o.proxy),
    proxyResolvesNames: bool('proxyResolvesNames', o.proxyResolvesNames) ?? base?.proxyResolvesNames ?? false,
    httpsRecords: bool('httpsRecords', o.httpsRecords) ?? base?.httpsRecords ?? true,
  });
}

/** A Dialer's options, read and validated: the dial defaults, and the Dialer's own settings. */
export interface DialerConfig {
  readonly defaults: DialConfig;
  /** `memory` as given (true/false/a DialMemory), or MemoryOptions copied from own properties. */
  readonly memory: boolean | DialMemory | MemoryOptions;
  readonly networkCheckIntervalMs: number;
  readonly maxAttemptsInFlight: number;
  readonly hostsPath: string | null | undefined;
  readonly resolvConfPath: string | undefined;
  readonly nameservers: readonly string[] | undefined;
  readonly dnsTimeoutMs: number | undefined;
  readonly dnsTries: number | undefined;
  readonly nsswitchPath: string | undefined;
  /** Parsed; null: never; undefined: discovered (RFC 7050). */
  readonly nat64Prefix: Nat64Prefix | null | undefined;
}

/**
 * Reads and validates `new Dialer()` options: own properties only, unknown names refused (memory
 * options too), every value checked. Throws TypeError (ERR_NETDIAL_INVALID_OPTION) naming the first
 * bad one.
 */
export function readDialerOptions(options: unknown): DialerConfig {
  const o = readOptionBag(options, DIALER_OPTION_NAMES, 'options');
  if (o.signal !== undefined) {
    throw bad('signal', 'no signal on a Dialer (pass it to dial())', o.signal);
  }
  const defaults = buildConfig(o, undefined);
  const m = o.memory;
  let memory: boolean | DialMemory | MemoryOptions;
  if (m === undefined || typeof m === 'boolean') memory = m ?? true;
  else if (m instanceof DialMemory) memory = m;
  else if (typeof m === 'object' && m !== null && !Array.isArray(m)) {
    const copy = readOptionBag(m, MEMORY_OPTION_NAMES, 'memory', 'memory.');
    if (copy.dns !== undefined)
      copy.dns = readOptionBag(copy.dns, DNS_CACHE_OPTION_NAMES, 'memory.dns', 'memory.dns.');
    if (copy.endpoints !== undefined) {
      copy.endpoints = readOptionBag(
        copy.endpoints,
        ENDPOINT_HISTORY_OPTION_NAMES,
        'memory.endpoints',
        'memory.endpoints.',
      );
    }
    memory = copy as MemoryOptions;
  } else throw bad('memory', 'true, false, a DialMemory or memory options', m);
  const networkCheckIntervalMs = number(
    'networkCheckIntervalMs',
    o.networkCheckIntervalMs,
    0,
    2 ** 31 - 1,
    5000,
  );
  const maxAttemptsInFlight = number('maxAttemptsInFlight', o.maxAttemptsInFlight, 1, 65536, 256, true);
  if (o.dnsTimeoutMs !== undefined) number('dnsTimeoutMs', o.dnsTimeoutMs, 1, 2 ** 31 - 1, 1);
  if (o.dnsTries !== undefined) number('dnsTries', o.dnsTries, 1, 16, 1, true);
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
  // Parsed once here: the Dialer takes the parsed prefix (not the text to parse again).
  const nat64Prefix =
    o.nat64Prefix === undefined || o.nat64Prefix === null
      ? o.nat64Prefix
      : parseNat64Prefix(o.nat64Prefix as string);
  if (nat64Prefix === undefined && o.nat64Prefix !== undefined) {
    throw bad(
      'nat64Prefix',
      "a NAT64 prefix like '64:ff9b::/96' (length 32, 40, 48, 56, 64 or 96) or null",
      o.nat64Prefix,
    );
  }
  if (o.nsswitchPath !== undefined && (typeof o.nsswitchPath !== 'string' || o.nsswitchPath === '')) {
    throw bad('nsswitchPath', 'a file path', o.nsswitchPath);
  }
  let nameservers: string[] | undefined;
  const ns = o.nameservers;
  if (ns !== undefined) {
    if (!Array.isArray(ns)) throw bad('nameservers', "an array like ['127.0.0.1', '[::1]:5353']", ns);
    nameservers = [];
    for (let i = 0; i < ns.length; i++) {
      const s: unknown = Object.hasOwn(ns, i) ? ns[i] : undefined;
      if (parseNameserver(s) === undefined)
        throw bad(`nameservers[${i}]`, "an IP address, 'IP:port' or '[IPv6]:port'", s);
      nameservers.push(s as string);
    }
    Object.freeze(nameservers); // the DNS client parses a frozen list once (dns-client.ts parseServers)
  }
  return Object.freeze({
    defaults,
    memory,
    networkCheckIntervalMs,
    maxAttemptsInFlight,
    hostsPath: o.hostsPath as string | null | undefined,
    resolvConfPath: o.resolvConfPath as string | undefined,
    nsswitchPath: o.nsswitchPath as string | undefined,
    nat64Prefix,
    nameservers,
    dnsTimeoutMs: o.dnsTimeoutMs as number | undefined,
    dnsTries: o.dnsTries as number | undefined,
  });
}

/**
 * Reads an integration's netdial options (`Agent({ dial })`, `bindCreateConnection(dial)`,
 * `new DialSocket(dial)`, the undici connector's dial part): own properties only, unknown names refused,
 * values validated now (not at the first request), the policy compiled once. Returns a null-prototype
 * copy: reading a name it lacks gives undefined, never a polluted Object.prototype's value (a spread of it
 * is an ordinary object again — use ownCopy to copy it). `what` names it in messages
 * ('dial' for the agents' `dial` option, 'options' for a function's own argument). `names` defaults to
 * CONNECTION_DIAL_OPTION_NAMES.
 * @throws TypeError (ERR_NETDIAL_INVALID_OPTION) for an unknown name or a bad value.
 */
export function readConnectionDialOptions(
  value: unknown,
  what: string,
  names: ReadonlySet<string> = CONNECTION_DIAL_OPTION_NAMES,
): ConnectionDialOptions {
  const copy =
    value === undefined
      ? Object.create(null)
      : readOptionBag(value, names, what, what === 'options' ? '' : `${what}.`);
  const { dialer, allowUnixSockets, allowHalfOpen } = copy as Record<string, unknown>;
  // The dial options alone, in a null-prototype record: buildConfig reads every name (`o.attemptDelay`),
  // so an ordinary object (a rest spread) would hand it a polluted Object.prototype's values.
  const dialOptions = ownCopy(copy);
  delete dialOptions.dialer;
  delete dialOptions.allowUnixSockets;
  delete dialOptions.allowHalfOpen;
  if (allowUnixSockets !== undefined && typeof allowUnixSockets !== 'boolean') {
    throw bad('allowUnixSockets', 'a boolean', allowUnixSockets);
  }
  if (allowHalfOpen !== undefined && typeof allowHalfOpen !== 'boolean') {
    throw bad('allowHalfOpen', 'a boolean', allowHalfOpen);
  }
  if (
    dialer !== undefined &&
    (typeof dialer !== 'object' ||
      dialer === null ||
      typeof (dialer as { dial?: unknown }).dial !== 'function' ||
      typeof (dialer as { resolve?: unknown }).resolve !== 'function')
  ) {
    throw bad('dialer', 'a Dialer', dialer);
  }
  // Validated (and the policy compiled) once, with the keys this options type has; per-dial values win.
  const cfg = buildConfig(dialOptions, undefined);
  if (copy.policy !== undefined) copy.policy = cfg.policy;
  return copy as ConnectionDialOptions;
}
