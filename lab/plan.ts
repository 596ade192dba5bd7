/**
 * The lab's constant address plan: which address answers how, the client/router link, device names and
 * server ports. Everything comes from documentation/benchmarking ranges (RFC 5737, RFC 2544, RFC 3849,
 * RFC 9637). 192.0.2.0/24 is deliberately unused: the host's own eth0 sits in it.
 */

/** Eight addresses of one condition and family; a tuple so `LAB.addresses.good.v4[0]` is typed `string`. */
export type EightAddresses = readonly [string, string, string, string, string, string, string, string];

/** The addresses of one condition, per family. */
export interface ConditionAddresses {
  readonly v4: EightAddresses;
  readonly v6: EightAddresses;
}

/** The routed prefix of one condition, per family (CIDR). */
export interface ConditionPrefixes {
  readonly v4: string;
  readonly v6: string;
}

/** The conditions a server address can be in. */
export type ConditionName = 'good' | 'slow' | 'refused' | 'blackholed' | 'unreachable' | 'clientUnreachable';

function eightV4(prefix: string, first: number): EightAddresses {
  const at = (i: number): string => `${prefix}.${first + i}`;
  return [at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7)];
}

function eightV6(prefix: string): EightAddresses {
  const at = (i: number): string => `${prefix}::${i + 1}`;
  return [at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7)];
}

/**
 * The address plan. Server addresses (`addresses.*`) are what zones point at:
 * - `good`: on the router's `lo` with listeners on every port of `ports` (connect succeeds).
 * - `slow`: like `good`, but packets toward them pass a userspace delay line: every round trip gains the
 *   lab's slow-path delay (default 400 ms; `LabOptions.slowPathDelayMs`, `lab.setSlowPathDelayMs`).
 * - `refused`: on the router's `lo`, no listener: RST, `ECONNREFUSED` after one round trip.
 * - `blackholed`: the router routes the prefix into a TUN device nobody reads: silent drop, the client waits.
 * - `unreachable`: the router has an `unreachable` route: ICMP back (IPv4 at once, IPv6 about 1 s late).
 * - `clientUnreachable`: the client has an `unreachable` route: `EHOSTUNREACH`/`ENETUNREACH` at once, no packet.
 * Only the eight listed addresses of `good`, `slow` and `refused` exist; other addresses in those prefixes get ICMP
 * unreachable from the router. Any address in the other three prefixes behaves like the listed ones.
 */
export const LAB = {
  /** DNS suffix of the default zone and the default resolv.conf search list. */
  zoneSuffix: 'lab.test',
  /** Where the lab's DNS server listens (UDP and TCP), inside the client namespace. */
  dnsServer: { host: '127.0.0.1', port: 53 },
  /** The client's (the test process's) source addresses on its veth toward the router. */
  client: { v4: '198.18.0.2', v6: '3fff:0:0:ffff::2', interface: 'veth-c', mac: '02:00:00:00:00:02' },
  /** The router's addresses on its veth: the client's default gateways. */
  router: { v4: '198.18.0.1', v6: '3fff:0:0:ffff::1', interface: 'veth-r', mac: '02:00:00:00:00:01' },
  /** Prefix lengths of the client<->router link. */
  linkPrefixLength: { v4: 30, v6: 64 },
  /** Name of the router's TUN device that swallows blackholed packets. */
  blackholeDevice: 'bh0',
  /** Name of the router's TUN device of the slow-path delay line, and its policy routing table. */
  delayDevice: 'dl0',
  delayTable: 100,
  addresses: {
    good: { v4: eightV4('203.0.113', 1), v6: eightV6('2001:db8:1') },
    slow: { v4: eightV4('198.18.1', 1), v6: eightV6('2001:db8:6') },
    refused: { v4: eightV4('203.0.113', 129), v6: eightV6('2001:db8:2') },
    blackholed: { v4: eightV4('198.51.100', 1), v6: eightV6('2001:db8:3') },
    unreachable: { v4: eightV4('198.51.100', 129), v6: eightV6('2001:db8:4') },
    clientUnreachable: { v4: eightV4('198.19.0', 1), v6: eightV6('2001:db8:5') },
  } satisfies Record<ConditionName, ConditionAddresses>,
  prefixes: {
    good: { v4: '203.0.113.0/25', v6: '2001:db8:1::/64' },
    slow: { v4: '198.18.1.0/24', v6: '2001:db8:6::/64' },
    refused: { v4: '203.0.113.128/25', v6: '2001:db8:2::/64' },
    blackholed: { v4: '198.51.100.0/25', v6: '2001:db8:3::/64' },
    unreachable: { v4: '198.51.100.128/25', v6: '2001:db8:4::/64' },
    clientUnreachable: { v4: '198.19.0.0/24', v6: '2001:db8:5::/64' },
  } satisfies Record<ConditionName, ConditionPrefixes>,
  /**
   * TCP ports served on every `good` and `slow` address:
   * echo (7) writes back what it reads; discard (9) accepts and reads but never writes;
   * http (80) is HTTP/1.1 answering every request `200` with body `<server address>\n` and header
   * `x-lab-server: <server address>`.
   */
  ports: { echo: 7, discard: 9, http: 80 },
  /**
   * TLS listeners, only in a lab built with `withLab(…, { tls: true })` (certificates made at setup by a CA
   * of that run, `lab.tls.ca`). On `port` of every `good` (and `slow`) address: HTTPS like the http
   * listener, certificate for `*.lab.test` and `lab.test`. On `port` of three more addresses (added to
   * the router only then): `stall` accepts TCP, reads the ClientHello and never answers; `reset` reads the
   * ClientHello and resets the connection (RST); `wrongName` completes the handshake with a certificate of
   * the same CA for `wrong-name.invalid`.
   */
  tls: {
    port: 443,
    stall: { v4: '203.0.113.17', v6: '2001:db8:1::17' },
    reset: { v4: '203.0.113.18', v6: '2001:db8:1::18' },
    wrongName: { v4: '203.0.113.19', v6: '2001:db8:1::19' },
  },
} as const;

/** Kinds of listener the router runs; keys of `LAB.ports`. */
export type ListenerKind = keyof typeof LAB.ports;

/** Kinds of TLS listener the router runs with `withLab(…, { tls: true })` (see `LAB.tls`). */
export type TlsListenerKind = 'https' | 'tls-stall' | 'tls-reset' | 'tls-wrong-name';
