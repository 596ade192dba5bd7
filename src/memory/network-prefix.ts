/**
 * The network an address belongs to, as history reasons about it: its /24 for IPv4 and its /64 for IPv6.
 * /64 is the IPv6 subnet size (RFC 4291 §2.5.1, RFC 7421); /24 is the smallest IPv4 block routed between
 * networks, so addresses in one /24 usually share a path and fail together. Heuristics, not facts: history
 * only uses them to suspect (rank later), never to drop an address.
 */
import { isIPv4 } from '../ip-address.js';
import { parseIPv6Into } from '../ip-address.js';

const words = new Uint32Array(4);

/** `a.b.c.0/24` or `xxxx:xxxx:xxxx:xxxx::/64` (hex words, lower case), or undefined for a non-address. */
export function networkOf(address: string): string | undefined {
  if (isIPv4(address)) return `${address.slice(0, address.lastIndexOf('.'))}.0/24`;
  if (!parseIPv6Into(address, words)) return undefined;
  const w0 = words[0] as number;
  const w1 = words[1] as number;
  const hex = (w: number): string => `${(w >>> 16).toString(16)}:${(w & 0xffff).toString(16)}`;
  return `${hex(w0)}:${hex(w1)}::/64`;
}
