/** Address family as Node numbers it: 4 for IPv4, 6 for IPv6. */
export type Family = 4 | 6;

/** Where an address came from. */
/**
 * Where an address came from: an IP literal, the hosts file, netdial's own answer for `localhost` names
 * (RFC 6761 §6.3, no file or server asked), DNS now, the system resolver, a custom function, the DNS
 * cache (fresh) or an expired cached answer.
 */
export type AddressSource =
  | 'literal'
  | 'hosts'
  | 'localhost'
  | 'dns'
  | 'system'
  | 'custom'
  | 'cache'
  | 'stale';

/** One address of a name, as resolution produced it. */
export interface ResolvedAddress {
  /** Canonical textual form (IPv6 without brackets, zone kept after `%`). */
  address: string;
  family: Family;
  /** Time to live in seconds as the source gave it; undefined when the source has none (hosts, system). */
  ttlSeconds?: number | undefined;
  source: AddressSource;
}
