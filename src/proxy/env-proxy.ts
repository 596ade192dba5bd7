/**
 * `proxy: 'env'`: which proxy curl would use for a target, from environment variables. Pure: the
 * environment is an argument (the shell passes `process.env` at dial time).
 *
 * Variables (curl's `lib/url.c`, its man page "ENVIRONMENT"): lower case wins over upper case.
 * - TLS dials and `https:`/`wss:` targets: `https_proxy`, `HTTPS_PROXY`;
 * - `http:`/`ws:` targets: `http_proxy` only — never `HTTP_PROXY`, which CGI servers set from a request's
 *   `Proxy:` header ("httpoxy", CVE-2016-5385);
 * - then, and for every other target (plain `host:port` dials, other schemes): `all_proxy`, `ALL_PROXY`.
 * An empty variable counts as unset. A value without a scheme is an http:// proxy, as curl reads it.
 *
 * `no_proxy` / `NO_PROXY` (see noProxyMatches) turns the proxy off for the targets it lists.
 */
import { type Environment, envVariable } from '../env-variable.js';
import { isIP } from '../ip-address.js';
import { type ParsedCidr, readCidr } from '../policy/policy.js';
import { parseProxyUrl, type ProxySpec } from './proxy-option.js';

/** What the environment rules need to know about a dial's target. */
export interface EnvProxyTarget {
  /** The host as dialled: a name (lowercase, no trailing dot) or an IP literal (IPv6 without brackets). */
  host: string;
  port: number;
  /** URL scheme without ':' when the target was a URL. */
  scheme?: string | undefined;
  /** The dial runs TLS on the connection (then the https variables apply, as for an https URL). */
  tls: boolean;
}

export type { Environment } from '../env-variable.js';

/** A set, non-empty variable of `env`: own keys only (env-variable.ts), so Object.prototype supplies none. */
function variable(env: Environment, name: string): { name: string; value: string } | undefined {
  const value = envVariable(env, name);
  return value === undefined || value.trim() === '' ? undefined : { name, value: value.trim() };
}

/** The variables consulted for `target`, in order (see the module comment). */
export function proxyVariablesFor(target: Pick<EnvProxyTarget, 'scheme' | 'tls'>): string[] {
  const scheme = target.scheme;
  if (scheme === 'https' || scheme === 'wss' || (target.tls && scheme !== 'http' && scheme !== 'ws')) {
    return ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'];
  }
  if (scheme === 'http' || scheme === 'ws') return ['http_proxy', 'all_proxy', 'ALL_PROXY'];
  return ['all_proxy', 'ALL_PROXY'];
}

/**
 * The proxy for `target` under curl's rules, or undefined (no variable set, or NO_PROXY lists the target).
 * Throws a TypeError (ERR_NETDIAL_INVALID_OPTION) naming the variable when its value is not a proxy URL.
 */
export function proxyFromEnv(env: Environment, target: EnvProxyTarget): ProxySpec | undefined {
  let found: { name: string; value: string } | undefined;
  for (const name of proxyVariablesFor(target)) {
    found = variable(env, name);
    if (found) break;
  }
  if (!found) return undefined;
  const noProxy = variable(env, 'no_proxy') ?? variable(env, 'NO_PROXY');
  if (noProxy && noProxyMatches(noProxy.value, target.host, target.port)) return undefined;
  // curl reads a proxy without a scheme as http://.
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(found.value) ? found.value : `http://${found.value}`;
  return parseProxyUrl(text, found.name);
}

/** One NO_PROXY entry, split into its host part and optional port. */
interface NoProxyEntry {
  host: string;
  port: number | undefined;
}

function splitEntry(raw: string): NoProxyEntry | undefined {
  let text = raw;
  let port: number | undefined;
  if (text.startsWith('[')) {
    // [v6] or [v6]:port
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    const m = /^(\/\d{1,3})?(?::(\d{1,5}))?$/.exec(text.slice(close + 1));
    if (m === null) return undefined;
    if (m[2] !== undefined) port = Number(m[2]);
    return { host: text.slice(1, close) + (m[1] ?? ''), port };
  }
  // name:port or v4:port (a bare IPv6 literal, with several colons, has no port part)
  const colon = text.lastIndexOf(':');
  if (colon >= 0 && text.indexOf(':') === colon) {
    const p = text.slice(colon + 1);
    if (!/^\d{1,5}$/.test(p)) return undefined;
    port = Number(p);
    text = text.slice(0, colon);
  }
  return { host: text, port };
}

/**
 * Whether the IP literal `address` (the target, read once per list) is in `entry` (an address or ADDRESS/BITS), both read as numbers by the
 * policy's CIDR reader, so every spelling of an address agrees (zero compression, case). As curl's
 * noproxy.c: bits after the prefix are ignored ('192.0.2.7/24' is 192.0.2.0/24), an entry that is not an
 * address or range (a prefix past 32/128, a bad address) matches nothing, and an IPv4 entry never matches
 * an IPv6 target (nor the reverse: `::ffff:192.0.2.1` is not 192.0.2.1 here, unlike in the policy).
 */
function ipInEntry(address: ParsedCidr, entry: string): boolean {
  const range = readCidr(entry, 'mask');
  if (range === undefined || range.family !== address.family) return false;
  return address.lo >= range.lo && address.lo <= range.hi;
}

/**
 * Whether the NO_PROXY `list` excludes `host:port` from the proxy (curl's `lib/noproxy.c` rules):
 * - entries are separated by commas (and white space); matching is case-insensitive;
 * - `*` alone excludes every host;
 * - a name excludes itself and every name below it: `example.com` and `.example.com` both match
 *   `example.com` and `www.example.com`, never `notexample.com` (a trailing dot on either side is ignored);
 * - an IP literal (IPv6 with or without brackets) matches that address; `ADDRESS/BITS` is a CIDR range;
 *   an IP target is matched by IP entries only, a name by name entries only (no resolution);
 * - netdial extension (curl ignores ports): `entry:port` (`[v6]:port`) matches only that port.
 */
export function noProxyMatches(list: string, host: string, port: number): boolean {
  const target = host.toLowerCase().replace(/\.$/, '');
  const family = isIP(target);
  // An IP target is read once, not once per entry.
  const address = family === 0 ? undefined : readCidr(target.split('%')[0]!);
  for (const raw of list.split(/[\s,]+/)) {
    if (raw === '') continue;
    if (raw === '*') return true;
    const entry = splitEntry(raw.toLowerCase());
    if (entry === undefined) continue;
    if (entry.port !== undefined && entry.port !== port) continue;
    let h = entry.host;
    if (family !== 0) {
      if (address !== undefined && ipInEntry(address, h)) return true;
      continue;
    }
    h = h.replace(/^\./, '').replace(/\.$/, '');
    if (h === '' || isIP(h) !== 0 || h.includes('/')) continue;
    if (target === h || target.endsWith(`.${h}`)) return true;
  }
  return false;
}
