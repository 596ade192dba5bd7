/**
 * Turns what a caller hands to netdial ("host:port", "[v6]:port", a Plan 9 dial string, a URL, a
 * `{ host, port }` object) into one validated {@link Target}, or throws a `TypeError` with
 * `code: 'ERR_NETDIAL_INVALID_TARGET'` whose message names the bad part and quotes the input.
 *
 * Decisions taken here (each has a test):
 * - Host names: letters, digits, hyphen, underscore and dots only (RFC 1123 §2.1 host names, plus `_`
 *   because real DNS has it, e.g. SRV-style and `_dmarc` owner names). Labels of 1..63 octets, the whole
 *   name at most 253 octets without the trailing dot (RFC 1035 §2.3.4: 255 octets on the wire).
 *   Leading or trailing hyphens in a label are ACCEPTED: deviation from RFC 952/1123 on purpose —
 *   browsers (WHATWG URL, UTS #46 with CheckHyphens=false) and getaddrinfo accept them and such names
 *   exist, so rejecting them would only break working setups.
 * - Non-ASCII names are converted with `url.domainToASCII` (UTS #46 / IDNA, as browsers do); a
 *   conversion failure is an error. ASCII names are only lowercased (an ASCII `xn--` label is not
 *   re-validated as Punycode, as getaddrinfo does not).
 * - IPv4 literals: only four decimal parts without leading zeros (what `net.isIPv4` accepts).
 *   inet_aton(3) and the WHATWG URL parser also read `127.1`, `0x7f.1`, `0177.0.0.1` as addresses; in a
 *   bare host such text is REJECTED rather than guessed: a name whose last label is all digits or
 *   `0x…` cannot be a DNS name either (RFC 3696 §2: top-level domains are never all-numeric), so it is
 *   never sent to DNS. Exception: inside a URL of a special scheme (http, https, ws, wss) the WHATWG
 *   URL parser has already decided that `http://127.1/` means 127.0.0.1, as `fetch` would; netdial
 *   dials what the URL means.
 * - IPv6 literals are canonicalised to the RFC 5952 §4 text form in the exact variant Node prints for
 *   socket addresses (inet_ntop: IPv4-mapped and IPv4-compatible addresses in mixed notation, e.g.
 *   `::ffff:192.0.2.1`), so a target compares equal to `socket.remoteAddress`. Zone ids are kept
 *   verbatim after `%` (interface names are case-sensitive).
 * - Host strings must bracket IPv6 (`[2001:db8::1]:443`); in a `{ host }` object and in Plan 9 dial
 *   strings (`tcp!2001:db8::1!443`, where `!` separates fields) bare IPv6 is unambiguous and accepted.
 */
import { url } from './builtins.js';
import { type InputErrorCode, inputError } from './errors.js';
import { isIPv4, isIPv6 } from './ip-address.js';
import { lookupService } from './resolution/services.js';

/** A validated dial target. */
export interface Target {
  /**
   * ASCII host: a lowercase name in IDNA ASCII form without the trailing dot, or a canonical IP literal
   * (IPv6 without brackets; a zone id kept as `%zone`).
   */
  host: string;
  /** TCP port, 1..65535; 0 for an SRV target (`srv`), whose records give each endpoint's port. */
  port: number;
  /** 0 = a name to resolve; 4 or 6 = an IP literal of that family (equals `net.isIP(host)`). */
  hostKind: 0 | 4 | 6;
  /** The name was written with a trailing dot: query it as is, skip the resolv.conf search list. */
  absolute: boolean;
  /** URL scheme (lowercase, without `:`) when the target was a URL; absent otherwise. */
  scheme?: string;
  /** True when the scheme implies TLS (https, wss, tls, ldaps, imaps, ...); false otherwise. */
  tlsByDefault: boolean;
  /**
   * The target names a service by its SRV records (RFC 2782): `host` is `_service._proto.name`, dialled
   * through the records' targets and ports. Set by `srv!_service._proto.name` and `{ srv: … }`.
   */
  srv?: true;
}

/** A validated host without a port; see {@link parseHost}. */
export interface ParsedHost {
  host: string;
  hostKind: 0 | 4 | 6;
  absolute: boolean;
}

/** A URL has to look like `scheme://` to be read as a URL; `localhost:80` is host:port. */
const URL_PREFIX = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Default ports of URL schemes; other schemes need an explicit port. These are exactly the WHATWG URL
 * special-scheme defaults (RFC 9110 §4.2, RFC 6455 §3, RFC 1738 for ftp): the URL parser drops a port
 * equal to them (`new URL('ftp://h:21').port === ''`), so they must be known here.
 */
const SCHEME_PORTS: ReadonlyMap<string, number> = new Map([
  ['ftp', 21],
  ['http', 80],
  ['https', 443],
  ['ws', 80],
  ['wss', 443],
]);

/** WHATWG URL "special" schemes among those we accept: their host is already parsed and canonical. */
const SPECIAL_SCHEMES: ReadonlySet<string> = new Set(['http', 'https', 'ws', 'wss', 'ftp']);

/** Schemes whose connections are TLS from the first byte. */
const TLS_SCHEMES: ReadonlySet<string> = new Set([
  'https',
  'wss',
  'tls',
  'ssl',
  'ftps',
  'imaps',
  'pop3s',
  'smtps',
  'ldaps',
  'ircs',
  'rediss',
  'mqtts',
  'amqps',
]);

const MAX_LABEL_OCTETS = 63;
const MAX_NAME_OCTETS = 253;
const MAX_QUOTED_CHARS = 200;

const INVALID_TARGET: InputErrorCode = 'ERR_NETDIAL_INVALID_TARGET';
const INVALID_OPTION: InputErrorCode = 'ERR_NETDIAL_INVALID_OPTION';

function codedError(code: InputErrorCode, message: string, cause?: unknown): TypeError {
  const err = inputError(code, message);
  if (cause !== undefined)
    Object.defineProperty(err, 'cause', { value: cause, configurable: true, writable: true });
  return err;
}

/** Internal: a reason why a piece is invalid; turned into a full message once the input is known. */
class Reject {
  constructor(
    readonly detail: string,
    readonly cause?: unknown,
  ) {}
}

function quote(text: string): string {
  const shown = text.length > MAX_QUOTED_CHARS ? text.slice(0, MAX_QUOTED_CHARS) + '…' : text;
  return JSON.stringify(shown);
}

function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    case 'object':
      return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
    default:
      return String(value);
  }
}

function describeInput(input: unknown): string {
  if (input instanceof URL) return quote(input.href);
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const obj = input as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of ['host', 'hostname', 'port']) {
      if (obj[key] !== undefined) parts.push(`${key}: ${describeValue(obj[key])}`);
    }
    return parts.length === 0 ? '{}' : `{ ${parts.join(', ')} }`;
  }
  return describeValue(input);
}

function describeChar(ch: string): string {
  const code = ch.codePointAt(0)!;
  if (code === 0x20) return "' ' (space)";
  if (code < 0x20 || code === 0x7f) return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${ch}'`;
}

// ---------------------------------------------------------------------------------------------------
// IP literals

function hex16(word: number): string {
  return word.toString(16);
}

/** Parses IPv6 text (no zone, no brackets) into 8 16-bit words, or undefined. */
function ipv6Words(text: string): number[] | undefined {
  let tail = text;
  let v4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const dotted = text.slice(lastColon + 1);
    if (!isIPv4(dotted)) return undefined;
    const b = dotted.split('.').map(Number);
    v4 = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
    // Keep the ':' so "::1.2.3.4" leaves "::" and "a::1.2.3.4" leaves "a::".
    tail = text.slice(0, lastColon + 1);
    if (!tail.endsWith('::')) tail = tail.slice(0, -1);
  }
  const toWords = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const group of part.split(':')) {
      if (!HEX_GROUP.test(group)) return undefined;
      out.push(Number.parseInt(group, 16));
    }
    return out;
  };
  const gap = tail.indexOf('::');
  if (gap === -1) {
    const words = toWords(tail);
    if (words === undefined) return undefined;
    words.push(...v4);
    return words.length === 8 ? words : undefined;
  }
  if (tail.indexOf('::', gap + 1) !== -1) return undefined;
  const head = toWords(tail.slice(0, gap));
  const rest = toWords(tail.slice(gap + 2));
  if (head === undefined || rest === undefined) return undefined;
  rest.push(...v4);
  const missing = 8 - head.length - rest.length;
  if (missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...rest];
}

/**
 * RFC 5952 §4 text of 8 words: lowercase hex, no leading zeros, the longest run (first on a tie) of two
 * or more zero words as `::`. Like inet_ntop (and so Node's `remoteAddress`), `::ffff:0:0/96` and the
 * deprecated IPv4-compatible `::/96` (except `::` and `::1`-style short forms) print the low 32 bits as
 * dotted decimal (RFC 5952 §5).
 */
function formatIPv6Words(words: readonly number[]): string {
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  if (bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
    const hi = words[6]!;
    const lo = words[7]!;
    const dotted = `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
    return bestLen === 5 ? `::ffff:${dotted}` : `::${dotted}`;
  }
  if (bestBase === -1) return words.map(hex16).join(':');
  const left = words.slice(0, bestBase).map(hex16).join(':');
  const right = words
    .slice(bestBase + bestLen)
    .map(hex16)
    .join(':');
  return `${left}::${right}`;
}

/**
 * Canonical form of an IP address literal, or undefined when `text` is not one.
 *
 * IPv4: four decimal parts without leading zeros (as `net.isIPv4`; shorthand/hex/octal are not
 * addresses here). IPv6: as `net.isIPv6` accepts it (optionally with `%zone`), printed in RFC 5952
 * form exactly as Node prints socket addresses; the zone is kept verbatim. No brackets in or out.
 */
export function canonicalIP(text: string): { address: string; family: 4 | 6 } | undefined {
  if (typeof text !== 'string') return undefined;
  if (isIPv4(text)) return { address: text, family: 4 };
  if (!isIPv6(text)) return undefined;
  const percent = text.indexOf('%');
  const bare = percent === -1 ? text : text.slice(0, percent);
  const zone = percent === -1 ? '' : text.slice(percent);
  const words = ipv6Words(bare);
  if (words === undefined) return undefined;
  return { address: formatIPv6Words(words) + zone, family: 6 };
}

// ---------------------------------------------------------------------------------------------------
// Host names and hosts

const NAME_CHAR = /^[A-Za-z0-9_.-]$/;

function firstBadAsciiChar(text: string): string | undefined {
  for (const ch of text) {
    if (ch.codePointAt(0)! < 0x80 && !NAME_CHAR.test(ch)) return ch;
  }
  return undefined;
}

interface HostRules {
  /** Accept IPv6 without brackets (object host fields, Plan 9 dial strings, URL internals). */
  bareIPv6: boolean;
  /** Extra hint when a name contains ':'. */
  colonHint?: string;
}

const BARE_IPV6: HostRules = Object.freeze({ bareIPv6: true });
const BRACKETED_IPV6: HostRules = Object.freeze({ bareIPv6: false });
/** `{ host, port }` objects: IPv6 without brackets, the port in its own field. */
const OBJECT_HOST: HostRules = Object.freeze({
  bareIPv6: true,
  colonHint: 'give the port in the port field; IPv6 needs no brackets here',
});

// Made once: a regular expression literal in a function body is a new RegExp object on every call.
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const ASCII_ONLY = /^[\x00-\x7f]*$/;
const DIGITS = /^[0-9]+$/;
const HEX_NUMBER = /^0x[0-9a-f]*$/;
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+*-]{0,63}$/;

/** A host name as it usually comes: lower-case ASCII letters, digits, '-', '_' and dots only. */
const PLAIN_NAME = /^[a-z0-9_.-]+$/;

function checkName(raw: string, rules: HostRules): ParsedHost {
  // Fast path, same checks: a plain lower-case ASCII name has no bad character, needs no IDNA and no
  // lower-casing, so only the label rules below apply to it.
  const plain = PLAIN_NAME.test(raw);
  const bad = plain ? undefined : firstBadAsciiChar(raw);
  if (bad !== undefined) {
    const hint = bad === ':' && rules.colonHint !== undefined ? ` (${rules.colonHint})` : '';
    throw new Reject(`character ${describeChar(bad)} not allowed in host name${hint}`);
  }
  const isAscii = plain || ASCII_ONLY.test(raw);
  let ascii = plain ? raw : isAscii ? raw.toLowerCase() : url.domainToASCII(raw);
  if (ascii === '') throw new Reject('cannot convert internationalized host name to ASCII (IDNA)');
  if (!isAscii) {
    // IDNA mapping can produce ASCII that is not allowed (e.g. fullwidth '＊' -> '*').
    const mapped = firstBadAsciiChar(ascii);
    if (mapped !== undefined) {
      throw new Reject(`character ${describeChar(mapped)} not allowed in host name (after IDNA mapping)`);
    }
    ascii = ascii.toLowerCase();
  }
  const absolute = ascii.endsWith('.');
  const name = absolute ? ascii.slice(0, -1) : ascii;
  if (name === '') throw new Reject('empty host name');
  const labels = name.split('.');
  if (labels.includes('')) throw new Reject('empty label in host name');
  const long = labels.find((l) => l.length > MAX_LABEL_OCTETS);
  if (long !== undefined) {
    throw new Reject(`label ${quote(long)} is longer than ${MAX_LABEL_OCTETS} octets`);
  }
  if (name.length > MAX_NAME_OCTETS) {
    throw new Reject(`host name is ${name.length} octets, longer than ${MAX_NAME_OCTETS}`);
  }
  // WHATWG URL "ends in a number": such text is read as IPv4 by URL parsers and inet_aton, and is not a
  // valid DNS name (RFC 3696 §2). Refuse instead of guessing which one was meant.
  const last = labels[labels.length - 1]!;
  if (DIGITS.test(last) || HEX_NUMBER.test(last)) {
    throw new Reject(
      `${quote(name)} is neither a host name (last label is numeric) nor an IPv4 address in dotted-quad ` +
        'decimal form (shorthand, hex, octal and leading zeros are not accepted)',
    );
  }
  return { host: name, hostKind: 0, absolute };
}

/**
 * The last host accepted, under which rules, and what it became. A Dialer dials the same few hosts again
 * and again: the same text is not parsed again (issue 16: host checks were a measurable share of a
 * cached dial). Only accepted hosts are remembered (a rejected one is checked, and rejected, every time);
 * the result is frozen and copied by whoever hands it on.
 */
let lastRaw: string | undefined;
let lastBareIPv6 = false;
let lastHost: Readonly<ParsedHost> | undefined;

function checkHost(raw: string, rules: HostRules): Readonly<ParsedHost> {
  if (raw === lastRaw && rules.bareIPv6 === lastBareIPv6 && lastHost !== undefined) return lastHost;
  const host = Object.freeze(checkHostText(raw, rules));
  lastRaw = raw;
  lastBareIPv6 = rules.bareIPv6;
  lastHost = host;
  return host;
}

function checkHostText(raw: string, rules: HostRules): ParsedHost {
  if (raw === '') throw new Reject('empty host');
  if (raw.startsWith('[')) {
    if (!raw.endsWith(']')) throw new Reject("missing ']' after IPv6 address");
    const inner = raw.slice(1, -1);
    const ip = canonicalIP(inner);
    if (ip === undefined || ip.family !== 6) {
      throw new Reject(`brackets around ${quote(inner)}, which is not an IPv6 address`);
    }
    return { host: ip.address, hostKind: 6, absolute: false };
  }
  const ip = canonicalIP(raw);
  if (ip !== undefined) {
    if (ip.family === 6 && !rules.bareIPv6) {
      throw new Reject(`IPv6 address must be in brackets, e.g. "[${raw}]:443"`);
    }
    return { host: ip.address, hostKind: ip.family, absolute: false };
  }
  return checkName(raw, rules);
}

/**
 * Validates and normalises a host on its own (no port): a name (returned lowercase, IDNA ASCII, without
 * the trailing dot, `absolute` telling whether one was written), an IPv4 literal, or an IPv6 literal
 * with or without brackets (canonicalised; zone kept). Same rules as {@link parseTarget}. Idempotent:
 * `parseHost(parseHost(x).host).host === parseHost(x).host`.
 * @throws TypeError with `code: 'ERR_NETDIAL_INVALID_TARGET'`.
 */
export function parseHost(host: string): ParsedHost {
  if (typeof host !== 'string') {
    throw codedError(INVALID_TARGET, `invalid host ${describeValue(host)}: host must be a string`);
  }
  try {
    return { ...checkHost(host, BARE_IPV6) };
  } catch (err) {
    if (err instanceof Reject) {
      throw codedError(INVALID_TARGET, `invalid host ${quote(host)}: ${err.detail}`, err.cause);
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------
// Ports

function checkPortNumber(port: number): number {
  if (!Number.isInteger(port)) throw new Reject(`port ${port} is not an integer`);
  if (port < 1 || port > 65535) throw new Reject(`port ${port} is outside 1-65535`);
  return port;
}

function portFromText(text: string): number {
  if (text === '') throw new Reject('empty port');
  if (DIGITS.test(text)) {
    if (text.length > 5) throw new Reject(`port ${quote(text)} is outside 1-65535`);
    return checkPortNumber(Number(text));
  }
  const port = SERVICE_NAME.test(text) ? lookupService(text) : undefined;
  if (port === undefined) {
    throw new Reject(`port ${quote(text)} is neither a number in 1-65535 nor a known TCP service name`);
  }
  return port;
}

function missingPort(defaultPort: number | undefined, how: string): number {
  if (defaultPort !== undefined) return defaultPort;
  throw new Reject(`port missing (${how})`);
}

// ---------------------------------------------------------------------------------------------------
// The accepted forms

function build(host: ParsedHost, port: number, scheme?: string): Target {
  const target: Target = {
    host: host.host,
    port,
    hostKind: host.hostKind,
    absolute: host.absolute,
    tlsByDefault: scheme !== undefined && TLS_SCHEMES.has(scheme),
  };
  if (scheme !== undefined) target.scheme = scheme;
  return target;
}

/** `scheme://[userinfo@]host[:port][/path][?query][#fragment]`, parsed by the WHATWG URL parser. */
function fromUrl(url: URL): Target {
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  let hostText = url.hostname;
  if (!SPECIAL_SCHEMES.has(scheme) && hostText.includes('%')) {
    // Non-special schemes keep an opaque, percent-encoded host (WHATWG URL "opaque host").
    try {
      hostText = decodeURIComponent(hostText);
    } catch (cause) {
      throw new Reject('invalid percent-encoding in URL host', cause);
    }
  }
  const host = checkHost(hostText, BRACKETED_IPV6);
  let port: number;
  if (url.port !== '') {
    port = checkPortNumber(Number(url.port));
  } else {
    const byScheme = SCHEME_PORTS.get(scheme);
    if (byScheme === undefined) {
      throw new Reject(`port missing: scheme "${scheme}" has no default port, write "${scheme}://host:PORT"`);
    }
    port = byScheme;
  }
  return build(host, port, scheme);
}

function fromUrlString(text: string): Target {
  // The WHATWG parser silently drops tabs/newlines and trims C0/space; a target containing them is
  // more likely an injection or a paste error than intent, so refuse.
  const ctl = /[\x00-\x20\x7f]/.exec(text);
  if (ctl !== null) throw new Reject(`character ${describeChar(ctl[0])} not allowed in URL`);
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new Reject('not a valid URL (bad host or port?)', cause);
  }
  return fromUrl(url);
}

/**
 * An SRV owner name (RFC 2782): `_service._proto.name`, both underscore labels non-empty, `_proto` TCP
 * (netdial dials TCP). The port is the records'.
 */
function fromSrvName(text: string): Target {
  const host = checkHost(text, { bareIPv6: false });
  const labels = host.host.split('.');
  if (host.hostKind !== 0 || labels.length < 3 || !/^_[a-z0-9-]+$/.test(labels[0]!) || labels[1] !== '_tcp') {
    throw new Reject(
      `SRV name ${quote(text)} must be "_service._tcp.name" (RFC 2782), e.g. "_imap._tcp.example.com"`,
    );
  }
  return { host: host.host, port: 0, hostKind: 0, absolute: host.absolute, tlsByDefault: false, srv: true };
}

/** Plan 9 dial string `net!host!service` (dial(2)); `net` is `tcp` or `net`; `srv!_service._tcp.name`. */
function fromDialString(text: string, defaultPort: number | undefined): Target {
  const fields = text.split('!');
  if (fields[0]!.toLowerCase() === 'srv') {
    if (fields.length !== 2) throw new Reject('an SRV target is "srv!_service._tcp.name", without a port');
    return fromSrvName(fields[1]!);
  }
  if (fields.length > 3) throw new Reject('too many "!" fields, expected "tcp!host!port"');
  const network = fields[0]!.toLowerCase();
  if (network === 'udp') {
    throw new Reject('netdial dials TCP; "udp!" dial strings are not supported (use "tcp!" or "net!")');
  }
  if (network !== 'tcp' && network !== 'net') {
    throw new Reject(`unsupported network ${quote(fields[0]!)} in dial string, expected "tcp" or "net"`);
  }
  const hostText = fields[1]!;
  if (hostText === '*') throw new Reject('host "*" (any address) is for announcing, not for dialing');
  const host = checkHost(hostText, BARE_IPV6);
  const port =
    fields.length === 3 ? portFromText(fields[2]!) : missingPort(defaultPort, 'write "tcp!host!port"');
  return build(host, port);
}

/** `host:port`, `[v6]:port`, or a bare host that takes `defaultPort`. */
function fromHostPort(text: string, defaultPort: number | undefined): Target {
  let hostText: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) throw new Reject("missing ']' after IPv6 address");
    hostText = text.slice(0, close + 1);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new Reject(`unexpected ${quote(rest)} after ']', expected ":port"`);
      portText = rest.slice(1);
    }
  } else {
    const colon = text.indexOf(':');
    if (colon === -1) {
      hostText = text;
    } else if (text.indexOf(':', colon + 1) !== -1) {
      const lastColon = text.lastIndexOf(':');
      const example = isIPv6(text.slice(0, lastColon))
        ? `[${text.slice(0, lastColon)}]${text.slice(lastColon)}`
        : isIPv6(text)
          ? `[${text}]:443`
          : '[2001:db8::1]:443';
      throw new Reject(`more than one ':'; an IPv6 address must be in brackets, e.g. ${quote(example)}`);
    } else {
      hostText = text.slice(0, colon);
      portText = text.slice(colon + 1);
    }
  }
  const host = checkHost(hostText, BRACKETED_IPV6);
  const port =
    portText === undefined
      ? missingPort(defaultPort, 'write "host:port" or { host, port }')
      : portFromText(portText);
  return build(host, port);
}

function fromObject(obj: Record<string, unknown>, defaultPort: number | undefined): Target {
  if (obj.srv !== undefined) {
    if (typeof obj.srv !== 'string') throw new Reject(`srv must be a string, got ${describeValue(obj.srv)}`);
    if (obj.host !== undefined || obj.hostname !== undefined || obj.port !== undefined) {
      throw new Reject('{ srv } takes no host, hostname or port: the SRV records give them');
    }
    return fromSrvName(obj.srv);
  }
  // Like Node's http.request: `hostname` is used when both `host` and `hostname` are given.
  const hostValue = obj.hostname !== undefined && obj.hostname !== null ? obj.hostname : obj.host;
  if (hostValue === undefined || hostValue === null) {
    throw new Reject('missing host (expected { host, port } or { hostname, port })');
  }
  if (typeof hostValue !== 'string') {
    throw new Reject(`host must be a string, got ${describeValue(hostValue)}`);
  }
  const host = checkHost(hostValue, OBJECT_HOST);
  const portValue = obj.port;
  let port: number;
  if (portValue === undefined || portValue === null) {
    port = missingPort(defaultPort, 'write { host, port }');
  } else if (typeof portValue === 'number') {
    port = checkPortNumber(portValue);
  } else if (typeof portValue === 'string') {
    port = portFromText(portValue);
  } else {
    throw new Reject(`port must be a number or a string, got ${describeValue(portValue)}`);
  }
  return build(host, port);
}

/**
 * The last target text accepted, with what it became (frozen): a caller dialling one `host:port` or URL
 * string again gets a copy instead of a new parse (issue 16: a URL string was ~0.5 KB per dial, a
 * `host:port` ~0.2 KB). Parsing is pure — the services table is read once per process — so the copy is
 * what a parse would give.
 */
let lastText: string | undefined;
let lastTextPort: number | undefined;
let lastTextTarget: Readonly<Target> | undefined;

function fromText(text: string, defaultPort: number | undefined): Target {
  if (text === lastText && defaultPort === lastTextPort && lastTextTarget !== undefined) {
    return { ...lastTextTarget };
  }
  const target = URL_PREFIX.test(text)
    ? fromUrlString(text)
    : text.includes('!')
      ? fromDialString(text, defaultPort)
      : fromHostPort(text, defaultPort);
  lastText = text;
  lastTextPort = defaultPort;
  lastTextTarget = Object.freeze({ ...target });
  return target;
}

function fromInput(target: unknown, defaultPort: number | undefined): Target {
  if (typeof target === 'string') return fromText(target, defaultPort);
  if (target instanceof URL) return fromUrl(target);
  if (typeof target === 'object' && target !== null) {
    return fromObject(target as Record<string, unknown>, defaultPort);
  }
  throw new Reject(`expected a string, a URL or a { host, port } object, got ${describeValue(target)}`);
}

/**
 * Parses a dial target. Accepted forms:
 * - `"host:port"`, `"192.0.2.1:80"`, `"[2001:db8::1]:443"`, `"[fe80::1%eth0]:80"`; the port may be a TCP
 *   service name (`"example.com:https"`, as Go's net.Dial). A bare host (`"example.com"`) takes
 *   `defaultPort`. Unbracketed IPv6 is an error.
 * - Plan 9 dial strings `"tcp!host!port"`, `"tcp!host!https"`, `"net!host!port"`, and `"tcp!host"` with
 *   `defaultPort`; IPv6 may be bare. Host `*` and networks other than tcp/net (e.g. `udp`) are errors.
 * - URL strings matching `/^[a-z][a-z0-9+.-]*:\/\//i` and `URL` objects: explicit port, else http/ws 80,
 *   https/wss 443, ftp 21; any other scheme (including `tcp://`) needs an explicit port. `defaultPort` does not
 *   apply to URLs. Userinfo, path, query and fragment are ignored. Zone ids cannot be written in URLs
 *   (the WHATWG parser rejects them). Control characters and spaces are rejected.
 * - Objects `{ host, port }` or `{ hostname, port }` (hostname wins when both are set, as in Node's
 *   http.request); port is a number, a numeric string or a service name; missing port -> `defaultPort`.
 *
 * @param defaultPort used when a host string, dial string or object has no port; 1..65535.
 * @returns a fresh {@link Target}; `scheme` is set only for URLs.
 * @throws TypeError with `code: 'ERR_NETDIAL_INVALID_TARGET'` and a message like
 *   `invalid target "a..b:80": empty label in host name`; TypeError with `code: 'ERR_NETDIAL_INVALID_OPTION'`
 *   when `defaultPort` itself is invalid.
 */
export function parseTarget(target: unknown, defaultPort?: number): Target {
  if (
    defaultPort !== undefined &&
    (typeof defaultPort !== 'number' ||
      !Number.isInteger(defaultPort) ||
      defaultPort < 1 ||
      defaultPort > 65535)
  ) {
    throw codedError(
      INVALID_OPTION,
      `invalid defaultPort ${describeValue(defaultPort)}: expected an integer in 1-65535`,
    );
  }
  try {
    return fromInput(target, defaultPort);
  } catch (err) {
    if (err instanceof Reject) {
      throw codedError(INVALID_TARGET, `invalid target ${describeInput(target)}: ${err.detail}`, err.cause);
    }
    throw err;
  }
}

/**
 * Formats host and port for messages and for `host:port` strings: IPv6 (any host containing ':') in
 * brackets, e.g. `[2001:db8::1]:443`, `192.0.2.1:80`, `example.com:443`. The output of
 * `formatHostPort(t.host, t.port)` parses back to the same host and port.
 */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
