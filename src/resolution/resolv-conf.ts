/**
 * resolv.conf(5): a pure parser, the search-list order of glibc's res_nsearch(3), and a loader that
 * re-reads the file when it changes (see `WatchedTextFile` in hosts-file.ts).
 *
 * glibc references are to resolv/res_init.c (`res_vinit_1`, `res_setoptions`) and resolv/res_query.c
 * (`__res_context_search`), glibc 2.26 or later.
 */
import { isIP } from '../ip-address.js';
import { WatchedTextFile } from './hosts-file.js';
import { canonicalIP, parseHost } from '../target.js';

/** What netdial uses from resolv.conf. */
export interface ResolvConf {
  /** Canonical IP addresses (zone id kept), at most 3, in file order. Empty when the file lists none. */
  nameservers: string[];
  /** Search domains: lowercase IDNA ASCII, without trailing dot, in order. */
  search: string[];
  /** `options ndots:N`: names with at least this many dots are tried as is first. Default 1, max 15. */
  ndots: number;
  /** `options timeout:N`, converted to ms (1..30 s). Undefined when not set (glibc default 5 s). */
  timeoutMs?: number;
  /** `options attempts:N` (1..5). Undefined when not set (glibc default 2). */
  attempts?: number;
  /** `options rotate`: spread queries over the servers, round robin (glibc RES_ROTATE). */
  rotate?: boolean;
  /** `options no-aaaa` (glibc 2.36): no AAAA queries over DNS; /etc/hosts still gives IPv6 addresses. */
  noAaaa?: boolean;
  /** `options use-vc`: every query over TCP (glibc RES_USEVC). */
  useVc?: boolean;
  /** `options no-tld-query`: a single-label name is not asked as is, only with the search domains. */
  noTldQuery?: boolean;
  /**
   * Options read but without effect in netdial, each for a reason given in {@link parseResolvConf}:
   * `edns0`, `single-request`, `single-request-reopen`, `trust-ad`, `inet6`, `no-reload`, … (as written).
   */
  ignoredOptions?: string[];
}

/** Options glibc knows that netdial reads without acting on them (see parseResolvConf). */
const IGNORED_OPTIONS = new Set([
  'edns0',
  'single-request',
  'single-request-reopen',
  'trust-ad',
  'inet6',
  'ip6-bytestring',
  'ip6-dotint',
  'no-ip6-dotint',
  'insecure1',
  'insecure2',
  'no-check-names',
  'no-reload',
  'debug',
]);

/** resolv.conf(5): "Up to MAXNS (currently 3) name servers may be listed". */
const MAX_NAMESERVERS = 3;
/** resolv.conf(5): ndots "is capped to 15" (RES_MAXNDOTS). */
const MAX_NDOTS = 15;
/** resolv.conf(5): timeout "is capped to 30" seconds (RES_MAXRETRANS). */
const MAX_TIMEOUT_SECONDS = 30;
/** resolv.conf(5): attempts "is capped to 5" (RES_MAXRETRY). */
const MAX_ATTEMPTS = 5;
/** RFC 1035 §2.3.4: 255 octets on the wire, 253 characters of text without the trailing dot. */
const MAX_NAME_OCTETS = 253;

/** Keyword at the very start of the line, followed by a space or tab (glibc's MATCH macro). */
function keywordArgs(line: string, keyword: string): string[] | undefined {
  if (!line.startsWith(keyword)) return undefined;
  const next = line[keyword.length];
  if (next !== ' ' && next !== '\t') return undefined;
  const args: string[] = [];
  for (const token of line.slice(keyword.length).split(/[ \t\r\f\v]+/)) {
    if (token === '') continue;
    // Deviation: glibc treats '#'/';' as a comment only in the first column, so `search a # x` would
    // search "#" and "x". Such tokens are never valid names or addresses; drop them and what follows.
    if (token.startsWith('#') || token.startsWith(';')) break;
    args.push(token);
  }
  return args;
}

function searchDomain(raw: string): string | undefined {
  try {
    const parsed = parseHost(raw);
    return parsed.hostKind === 0 ? parsed.host : undefined;
  } catch {
    return undefined;
  }
}

/** `N` of `name:N` as a non-negative integer, or undefined when malformed. */
function optionNumber(token: string, name: string): number | undefined {
  if (!token.startsWith(name)) return undefined;
  const digits = token.slice(name.length);
  if (!/^[0-9]{1,9}$/.test(digits)) return undefined;
  return Number(digits);
}

/**
 * Parses resolv.conf(5) text.
 *
 * - Lines starting with `#` or `;` in the first column are comments. As in glibc, a keyword must start
 *   the line and be followed by a space or tab; other lines are ignored.
 * - `nameserver ADDR`: the first 3 valid IP addresses (MAXNS) are kept, canonicalised; IPv6 may carry
 *   `%zone`. Deviation: glibc also reads IPv4 through inet_aton (`127.1`); such lines are ignored here.
 *   When none is listed, glibc uses the local machine (resolv.conf(5)); this parser returns [] and
 *   leaves that default to the caller.
 * - `search D...` and `domain D`: "mutually exclusive ... the last instance wins" (resolv.conf(5));
 *   `domain` keeps its first argument only. Domains are lowercased, IDNA-converted, stripped of the
 *   trailing dot; invalid ones and duplicates are dropped. Deviation: with neither keyword glibc
 *   derives the search list from the host name's domain; this pure parser returns [].
 * - `options`: `ndots:N` (default 1, capped at 15), `timeout:N` seconds (capped at 30; 0 raised to 1,
 *   since glibc's res_send waits at least 1 s per try), `attempts:N` (capped at 5; 0 raised to 1 —
 *   deviation: glibc would then send no query at all). Malformed values are ignored (deviation: glibc
 *   uses atoi and reads them as 0). Later options override earlier ones.
 * - Options with glibc's meaning: `rotate` (round robin over the servers), `no-aaaa` (no AAAA queries
 *   over DNS), `use-vc` (TCP only), `no-tld-query` (single-label names only with a search domain).
 * - Options read and ignored (listed in `ignoredOptions`), with the reason:
 *   `edns0` — netdial sends EDNS(0) by default (RFC 6891, falling back without it on FORMERR), so the
 *   option changes nothing; `single-request` / `single-request-reopen` — they work around middleboxes
 *   that drop the second of two queries sent from one socket; netdial sends A and AAAA from separate
 *   sockets with separate source ports (and a new socket per try), so there is nothing to serialise,
 *   and serialising would cost Happy Eyeballs its head start (RFC 8305 §3); `trust-ad` — netdial does
 *   not use the AD bit (it makes no DNSSEC decisions); `inet6`, `ip6-bytestring`, `ip6-dotint`,
 *   `no-ip6-dotint` — obsolete in glibc and without effect; `insecure1`/`insecure2` — netdial never
 *   accepts answers from other sources or for other questions; `no-check-names`, `debug` — no effect on
 *   A/AAAA queries; `no-reload` — netdial re-checks the file (at most once a second) regardless.
 *   Unknown options are ignored silently, as glibc does.
 *   The RES_OPTIONS and LOCALDOMAIN environment variables and `sortlist` are not consulted (netdial orders
 *   addresses by RFC 6724 and the Happy Eyeballs rules, not by a sort list).
 */
export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let search: string[] = [];
  let ndots = 1;
  let timeoutMs: number | undefined;
  let attempts: number | undefined;
  const flags = { rotate: false, noAaaa: false, useVc: false, noTldQuery: false };
  const ignored: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.startsWith(';')) continue;
    let args = keywordArgs(line, 'nameserver');
    if (args !== undefined) {
      const ip = args[0] === undefined ? undefined : canonicalIP(args[0]);
      if (ip !== undefined && nameservers.length < MAX_NAMESERVERS) nameservers.push(ip.address);
      continue;
    }
    args = keywordArgs(line, 'domain');
    if (args !== undefined) {
      if (args[0] === undefined) continue; // glibc ignores an empty `domain` line
      const domain = searchDomain(args[0]);
      search = domain === undefined ? [] : [domain];
      continue;
    }
    args = keywordArgs(line, 'search');
    if (args !== undefined) {
      if (args.length === 0) continue;
      const domains: string[] = [];
      for (const arg of args) {
        const domain = searchDomain(arg);
        if (domain !== undefined && !domains.includes(domain)) domains.push(domain);
      }
      search = domains;
      continue;
    }
    args = keywordArgs(line, 'options');
    if (args !== undefined) {
      for (const token of args) {
        const n = optionNumber(token, 'ndots:');
        if (n !== undefined) ndots = Math.min(n, MAX_NDOTS);
        const t = optionNumber(token, 'timeout:');
        if (t !== undefined) timeoutMs = Math.min(Math.max(t, 1), MAX_TIMEOUT_SECONDS) * 1000;
        const a = optionNumber(token, 'attempts:');
        if (a !== undefined) attempts = Math.min(Math.max(a, 1), MAX_ATTEMPTS);
        if (token === 'rotate') flags.rotate = true;
        else if (token === 'no-aaaa') flags.noAaaa = true;
        else if (token === 'use-vc') flags.useVc = true;
        else if (token === 'no-tld-query') flags.noTldQuery = true;
        else if (IGNORED_OPTIONS.has(token) && !ignored.includes(token)) ignored.push(token);
      }
    }
  }
  const conf: ResolvConf = { nameservers, search, ndots };
  if (timeoutMs !== undefined) conf.timeoutMs = timeoutMs;
  if (attempts !== undefined) conf.attempts = attempts;
  if (flags.rotate) conf.rotate = true;
  if (flags.noAaaa) conf.noAaaa = true;
  if (flags.useVc) conf.useVc = true;
  if (flags.noTldQuery) conf.noTldQuery = true;
  if (ignored.length > 0) conf.ignoredOptions = ignored;
  return conf;
}

/**
 * The names to query for `name`, in order, as glibc's res_nsearch does (resolv.conf(5) "search" and
 * "ndots"; glibc `__res_context_search`):
 * - `absolute` (written with a trailing dot) -> `[name]` only; a trailing dot on `name` counts as absolute;
 * - at least `ndots` dots in `name` -> `[name, name.d1, name.d2, ...]` ("an initial absolute query will be
 *   made" first);
 * - fewer dots -> `[name.d1, name.d2, ..., name]` (the search list first, then the name as is; a
 *   single-label name is not tried as is when `no-tld-query` is set, glibc RES_NOTLDQUERY).
 * Candidates longer than 253 octets (RFC 1035 §2.3.4) cannot be queried and are left out; duplicates
 * are removed. `name` should be a host name as target.ts returns it (IP literals give `[name]`).
 */
export function searchCandidates(name: string, absolute: boolean, conf: ResolvConf): string[] {
  let bare = name;
  let isAbsolute = absolute;
  if (bare.endsWith('.')) {
    bare = bare.slice(0, -1);
    isAbsolute = true;
  }
  if (bare === '') return [];
  if (isAbsolute || isIP(bare) !== 0) return [bare];
  let dots = 0;
  for (const ch of bare) if (ch === '.') dots++;
  const suffixed: string[] = [];
  for (const domain of conf.search) {
    const candidate = `${bare}.${domain}`;
    if (candidate.length <= MAX_NAME_OCTETS && candidate !== bare && !suffixed.includes(candidate)) {
      suffixed.push(candidate);
    }
  }
  if (dots >= conf.ndots) return [bare, ...suffixed];
  // glibc __res_context_search: the final as-is query is skipped for a dotless name under
  // RES_NOTLDQUERY, unless no search domain was tried at all.
  return dots === 0 && conf.noTldQuery === true && suffixed.length > 0 ? suffixed : [...suffixed, bare];
}

/** Options of {@link ResolvConfFile}; every field optional. */
export interface ResolvConfFileOptions {
  /** Default '/etc/resolv.conf'. */
  path?: string | undefined;
  /** Minimum time between two checks of the file, in ms. Default 1000. */
  checkIntervalMs?: number | undefined;
  /** Only the first maxBytes bytes are parsed (cut at the last newline). Default 64 KiB. */
  maxBytes?: number | undefined;
}

function freezeConf(conf: ResolvConf): ResolvConf {
  Object.freeze(conf.nameservers);
  Object.freeze(conf.search);
  if (conf.ignoredOptions !== undefined) Object.freeze(conf.ignoredOptions);
  return Object.freeze(conf);
}

/** What a missing or unreadable resolv.conf gives: no servers, no search list, ndots 1. */
const DEFAULT_CONF: ResolvConf = freezeConf({ nameservers: [], search: [], ndots: 1 });

/**
 * resolv.conf, re-read when it changes: `get(nowMs)` checks the file (`fs.statSync`) at most once per
 * `checkIntervalMs` of the caller's clock and returns the parsed, frozen configuration. A missing or
 * unreadable file gives `{ nameservers: [], search: [], ndots: 1 }`. Defaults: path '/etc/resolv.conf',
 * checkIntervalMs 1000, maxBytes 64 KiB.
 */
export class ResolvConfFile {
  readonly #file: WatchedTextFile<ResolvConf>;

  /** @throws TypeError (code ERR_NETDIAL_INVALID_OPTION) for a bad option. */
  constructor(options: ResolvConfFileOptions = {}) {
    this.#file = new WatchedTextFile(
      {
        path: options.path ?? '/etc/resolv.conf',
        checkIntervalMs: options.checkIntervalMs ?? 1000,
        maxBytes: options.maxBytes ?? 64 * 1024,
      },
      (text) => freezeConf(parseResolvConf(text)),
      DEFAULT_CONF,
    );
  }

  /** The configuration as of the last check (frozen); `nowMs` is the caller's clock in ms. */
  get(nowMs: number): ResolvConf {
    return this.#file.get(nowMs);
  }
}
