/**
 * IPv6 zone ids (RFC 4007 §11): `fe80::1%eth0` and `fe80::1%2` name the same scope when interface 2 is
 * eth0. The kernel only knows the index; Node prints the interface name in `rinfo.address` and libuv
 * turns a zone into an index with if_nametoindex(3), so a numeric zone given to a socket is lost on
 * Unix. These helpers keep zones end to end: parse, turn into the name form a socket accepts, and
 * compare two addresses by interface index rather than by text.
 */
import type * as dgram from 'node:dgram';
import { os } from '../builtins.js';
import { isIP } from '../ip-address.js';
import { canonicalIP } from '../target.js';

/** An IP address split from its zone: `address` canonical (lowercase, compressed), `zone` as written. */
export interface ZonedAddress {
  address: string;
  family: 4 | 6;
  zone?: string | undefined;
}

/** Splits `text` into a canonical address and its zone; undefined when it is not an IP (zones only on IPv6). */
export function parseZonedAddress(text: string): ZonedAddress | undefined {
  const percent = text.indexOf('%');
  const base = percent === -1 ? text : text.slice(0, percent);
  const zone = percent === -1 ? undefined : text.slice(percent + 1);
  // canonicalIP: net.isIP's answers and SocketAddress's canonical text, without Node's IP regular
  // expressions (about 0.1 ms a call in a fresh process, before they warm up: every DNS answer's sender
  // is checked here; issue 16, first dial).
  const parsed = canonicalIP(base);
  if (parsed === undefined) return undefined;
  const { address, family } = parsed;
  if (zone !== undefined && (family !== 6 || !/^[0-9A-Za-z_.:-]{1,64}$/.test(zone))) return undefined;
  return zone === undefined ? { address, family } : { address, family, zone };
}

/**
 * Interface name -> index, from the link-local (scoped) IPv6 addresses `os.networkInterfaces()` reports
 * for this process's network namespace. (Not /sys/class/net: sysfs shows the namespace that mounted it.)
 * An interface without IPv6 cannot reach a link-local server anyway.
 */
export function interfaceIndexes(): Map<string, number> {
  const indexes = new Map<string, number>();
  for (const [name, addresses] of Object.entries(os.networkInterfaces())) {
    const scoped = addresses?.find((a) => a.family === 'IPv6' && (a.scopeid ?? 0) > 0);
    if (scoped?.scopeid !== undefined) indexes.set(name, scoped.scopeid);
  }
  return indexes;
}

/** Interface name -> index; `interfaceIndexes()` unless a caller (a test) passes its own. */
export type InterfaceTable = ReadonlyMap<string, number>;

/** The interface index a zone stands for: a number as is, a name looked up; undefined when unknown. */
export function interfaceIndex(zone: string, table: InterfaceTable = interfaceIndexes()): number | undefined {
  if (/^[0-9]+$/.test(zone)) return Number(zone);
  return table.get(zone);
}

/** The interface name for an index; undefined when no interface has it. */
function interfaceName(index: number, table: InterfaceTable = interfaceIndexes()): string | undefined {
  for (const [name, i] of table) if (i === index) return name;
  return undefined;
}

/**
 * The text a socket should be given for `a`: the zone as an interface name (libuv's if_nametoindex
 * cannot read `%2`). A numeric zone without an interface stays numeric, and the connect then fails
 * with an error instead of silently losing the scope.
 */
export function socketAddressText(a: ZonedAddress, table?: InterfaceTable): string {
  if (a.zone === undefined) return a.address;
  const name = /^[0-9]+$/.test(a.zone) ? interfaceName(Number(a.zone), table) : a.zone;
  return `${a.address}%${name ?? a.zone}`;
}

/**
 * True when `text` (e.g. a datagram's `rinfo.address`) is the same address as `expected`: same
 * canonical address and, for zoned addresses, the same interface index (`%2` equals `%eth0` when eth0
 * is interface 2). A zone whose index cannot be found is compared as text.
 */
export function sameZonedAddress(expected: ZonedAddress, text: string, table?: InterfaceTable): boolean {
  const got = parseZonedAddress(text);
  if (got === undefined || got.address !== expected.address) return false;
  if (got.zone === undefined || expected.zone === undefined) return got.zone === expected.zone;
  if (got.zone === expected.zone) return true;
  const interfaces = table ?? interfaceIndexes();
  const a = interfaceIndex(got.zone, interfaces);
  const b = interfaceIndex(expected.zone, interfaces);
  return a !== undefined && a === b;
}

/** Version (4/6) of an IP literal, IPv6 `%zone` allowed; 0 when it is not an IP literal. */
export function ipVersion(address: string): 0 | 4 | 6 {
  const percent = address.indexOf('%');
  if (percent === -1) return isIP(address) as 0 | 4 | 6;
  return isIP(address.slice(0, percent)) === 6 ? 6 : 0;
}

/**
 * dgram `lookup` that accepts IP literals only, so a UDP socket given it can never trigger a DNS query
 * (source-address probes) — and Node does not load node:dns for it: dgram's default lookup is
 * `dns.lookup`, loaded with the socket (~0.7 ms at a fresh process's first DNS query; issue 16).
 */
export const literalOnlyLookup: NonNullable<dgram.SocketOptions['lookup']> = (
  hostname,
  _options,
  callback,
) => {
  const version = ipVersion(hostname);
  if (version === 0) {
    const error = Object.assign(new Error(`not an IP literal: ${hostname}`), { code: 'EINVAL' });
    callback(error, '', 0);
    return;
  }
  callback(null, hostname, version);
};
