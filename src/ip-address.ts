/**
 * IP address text to numbers, without regular expressions or allocation on the IPv4 path: what the
 * address policy needs to test an address against precompiled ranges once per address per dial.
 *
 * Accepted text is what `net.isIP` accepts (RFC 4291 §2.2 for IPv6, with a dotted IPv4 tail and an
 * optional `%zone`; IPv4 as four decimal parts 0–255 without leading zeros). `canonicalIP` in
 * target.ts prints addresses; this module only reads them.
 */

const DOT = 0x2e;
const COLON = 0x3a;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/**
 * Reads `text[start, end)` as dotted-quad IPv4 and returns it as an unsigned 32-bit number, or -1 when
 * it is not one (shorthand, hex, octal and leading zeros are not IPv4 here, as in `net.isIPv4`).
 */
export function parseIPv4(text: string, start = 0, end = text.length): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= DIGIT_0 && c <= DIGIT_9) {
      if (digits === 1 && part === 0) return -1; // leading zero
      part = part * 10 + (c - DIGIT_0);
      if (part > 255) return -1;
      digits++;
    } else if (c === DOT) {
      if (digits === 0 || parts === 3) return -1;
      value = value * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else {
      return -1;
    }
  }
  if (digits === 0 || parts !== 3) return -1;
  return value * 256 + part;
}

const SCRATCH = new Uint32Array(4);

/**
 * `net.isIPv4`, `net.isIPv6` and `net.isIP` without their regular expressions: Node's IPv6 expression is
 * large, its first use in a process compiled it for about 3 ms, and every name a dial checks went through
 * it (issue 16). Same answers for every string (pinned against node:net by a property test).
 */
export function isIPv4(text: string): boolean {
  return parseIPv4(asText(text)) !== -1;
}

/** `net.isIPv6` (a `%zone` suffix accepted, as there); see isIPv4. */
export function isIPv6(input: string): boolean {
  const text = asText(input);
  // Every IPv6 text has a ':' before any zone; host names have none, so they are answered here.
  const colon = text.indexOf(':');
  if (colon === -1) return false;
  const percent = text.indexOf('%');
  if (percent !== -1 && percent < colon) return false;
  return parseIPv6Into(text, SCRATCH);
}

/** `net.isIP`: 4, 6 or 0; see isIPv4. */
export function isIP(input: string): 0 | 4 | 6 {
  const text = asText(input);
  return isIPv4(text) ? 4 : isIPv6(text) ? 6 : 0;
}

/** What node:net's regular expressions see of a non-string argument: its string conversion. */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : `${value}`;
}

function hexValue(c: number): number {
  if (c >= DIGIT_0 && c <= DIGIT_9) return c - DIGIT_0;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Reads IPv6 text (no brackets; a `%zone` suffix of letters, digits, '-', '.', ':' is ignored) into `out` as four
 * unsigned 32-bit words, most significant first. Returns false, leaving `out` undefined, when `text`
 * is not IPv6. `out` is caller-owned so a hot path can reuse one array.
 */
export function parseIPv6Into(text: string, out: Uint32Array): boolean {
  let end = text.indexOf('%');
  if (end === -1) end = text.length;
  else if (!isZoneId(text, end + 1)) return false;
  // Up to 8 groups of 16 bits; `gap` is the group index where "::" stands, -1 when there is none.
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  let count = 0;
  let gap = -1;
  let i = 0;
  if (end >= 2 && text.charCodeAt(0) === COLON && text.charCodeAt(1) === COLON) {
    gap = 0;
    i = 2;
    if (i === end) return fill(groups, count, gap, out);
  } else if (end > 0 && text.charCodeAt(0) === COLON) {
    return false;
  }
  while (i < end) {
    // One group: 1–4 hex digits, or a dotted IPv4 tail in the last 32 bits.
    const groupStart = i;
    let value = 0;
    while (i < end && i - groupStart < 5) {
      const h = hexValue(text.charCodeAt(i));
      if (h === -1) break;
      value = value * 16 + h;
      i++;
    }
    const length = i - groupStart;
    if (i < end && text.charCodeAt(i) === DOT) {
      // RFC 4291 §2.2 form 3: x:x:x:x:x:x:d.d.d.d; the tail must end the address.
      if (count > 6) return false;
      const v4 = parseIPv4(text, groupStart, end);
      if (v4 === -1) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      return fill(groups, count, gap, out);
    }
    if (length === 0 || length > 4 || count === 8) return false;
    groups[count++] = value;
    if (i === end) break;
    if (text.charCodeAt(i) !== COLON) return false;
    i++;
    if (i < end && text.charCodeAt(i) === COLON) {
      if (gap !== -1) return false;
      gap = count;
      i++;
      if (i === end) break;
    } else if (i === end) {
      return false; // trailing single ':'
    }
  }
  return fill(groups, count, gap, out);
}

/** A zone id as `net.isIPv6` accepts it: one or more of A–Z, a–z, 0–9, '-', '.', ':'. */
function isZoneId(text: string, start: number): boolean {
  if (start >= text.length) return false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const alnum = (c >= DIGIT_0 && c <= DIGIT_9) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
    if (!alnum && c !== 0x2d && c !== DOT && c !== COLON) return false;
  }
  return true;
}

function fill(groups: number[], count: number, gap: number, out: Uint32Array): boolean {
  if (gap === -1 ? count !== 8 : count > 7) return false;
  const words = [0, 0, 0, 0, 0, 0, 0, 0];
  if (gap === -1) {
    for (let k = 0; k < 8; k++) words[k] = groups[k]!;
  } else {
    const tail = count - gap;
    for (let k = 0; k < gap; k++) words[k] = groups[k]!;
    for (let k = 0; k < tail; k++) words[8 - tail + k] = groups[gap + k]!;
  }
  for (let k = 0; k < 4; k++) out[k] = ((words[2 * k]! << 16) | words[2 * k + 1]!) >>> 0;
  return true;
}

/** Dotted-quad text of an unsigned 32-bit IPv4 value. */
export function formatIPv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** How an IPv6 address carries an IPv4 address; see {@link carriedIPv4}. */
export type CarrierKind = 'mapped' | 'compatible' | 'nat64' | 'nat64-local' | '6to4';

/**
 * The IPv4 address an IPv6 address stands for, as an unsigned 32-bit number, or -1 when it carries none.
 * `words` as {@link parseIPv6Into} fills them. The forms:
 * - `mapped`: ::ffff:0:0/96, IPv4-mapped (RFC 4291 §2.5.5.2) — a socket to it is an IPv4 socket;
 * - `compatible`: ::/96 except :: and ::1, the deprecated IPv4-compatible form (RFC 4291 §2.5.5.1);
 * - `nat64`: 64:ff9b::/96, the NAT64 well-known prefix (RFC 6052 §2.1, address format §2.2 for /96);
 * - `nat64-local`: 64:ff9b:1::/48, the local-use NAT64 prefix (RFC 8215 §4). Deviation: RFC 6052 §2.2
 *   lets an operator embed at /48, /56, /64 or /96 inside it and the address alone does not say which;
 *   the /96 format (IPv4 in the last 32 bits) is assumed because that is how the prefix is deployed.
 *   An address under another format is judged by whatever IPv4 its last 32 bits spell — a wrong but
 *   never silently-public reading, and the whole /48 can be denied as a CIDR range;
 * - `6to4`: 2002::/16, the IPv4 address in bits 16–47 (RFC 3056 §2), deprecated by RFC 7526.
 */
export function carriedIPv4(words: ArrayLike<number>): number {
  return carrierOf(words) === undefined ? -1 : carriedValue(words);
}

/** Which form of {@link carriedIPv4} `words` is, or undefined when it carries no IPv4 address. */
export function carrierOf(words: ArrayLike<number>): CarrierKind | undefined {
  const w0 = words[0]!;
  const w1 = words[1]!;
  const w2 = words[2]!;
  const w3 = words[3]!;
  if (w0 === 0 && w1 === 0) {
    if (w2 === 0xffff) return 'mapped';
    if (w2 === 0 && w3 > 1) return 'compatible';
    return undefined;
  }
  if (w0 === 0x0064ff9b) {
    if (w1 === 0 && w2 === 0) return 'nat64';
    if (w1 >>> 16 === 1) return 'nat64-local';
    return undefined;
  }
  if (w0 >>> 16 === 0x2002) return '6to4';
  return undefined;
}

function carriedValue(words: ArrayLike<number>): number {
  const w0 = words[0]!;
  if (w0 >>> 16 === 0x2002) return (((w0 & 0xffff) << 16) | (words[1]! >>> 16)) >>> 0;
  return words[3]!;
}
