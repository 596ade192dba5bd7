/**
 * The benchmark's scenarios: which lab name each row dials, on which port, in which mode, and the zone
 * (the lab's default zone plus the names only the benchmark needs). Pure data.
 */
import { DEFAULT_ZONE } from '../lab/default-zone.js';
import { LAB } from '../lab/plan.js';
import type { Zone, ZoneRecordSet } from '../lab/zone.js';

/**
 * How a scenario is run:
 * - 'single': one connect per process (netdial: a second, warm one in the same process);
 * - 'dns-stop': one connect, then the lab's DNS server is stopped (port closed) and the answer's TTL is
 *   let run out, then the next connect in the same process (a new process for curl) — success or not;
 * - 'concurrent': a batch of dials started at once across many names, timed until all settled;
 * - 'renumber': one connect to the name's old address, then the service moves: the old address refuses
 *   (its listener is closed), DNS answers the new one, the old answer's TTL is let run out; then the client
 *   dials again, up to RENUMBER_MAX_DIALS times in the same process (a new process each for curl), until
 *   it reaches the new address. The cell shows how many dials that took.
 */
export type ScenarioKind = 'single' | 'dns-stop' | 'concurrent' | 'renumber';

/** One row of the table. */
export interface BenchScenario {
  /** Stable id (JSON key, SVG label). */
  id: string;
  /** Row label in the table. */
  title: string;
  /** The name dialled (first name of the batch for 'concurrent'). */
  name: string;
  port: number;
  kind: ScenarioKind;
  /** Number of addresses the name has, for the "every attempt listed" check. */
  addressCount: number;
  /** Start an HTTP listener on the client's own 127.0.0.1:port for the duration (localhost-like). */
  localListener?: boolean;
  /** For 'concurrent': the names of the batch and dials per name. */
  batch?: { names: readonly string[]; dialsPerName: number };
  /** For 'renumber': the address before (a listener on the client's own 127.0.0.1) and after the move. */
  renumber?: { oldAddress: string; newAddress: string };
  /**
   * What netdial dials instead of `{ host: name, port }` (issue 17: a URL whose HTTPS record it reads, an
   * `srv!` name). The peers dial `name:port` as in every other row (none of them reads HTTPS or SRV records).
   */
  netdialTarget?: string;
  /**
   * 'lab-ca': every client completes a TLS handshake (trusting the lab's CA) before the run counts as
   * connected, and the lab runs its TLS listeners. 'off': netdial is told `tls: false` (an https URL whose
   * record moves it to a plain TCP port). Unset: plain TCP, netdial's own default for the target.
   */
  tls?: 'lab-ca' | 'off';
  /** When set, no peer can express the target: their cells are n/a with this short reason. */
  peersNa?: string;
}

/** Port of the HTTP listener the benchmark starts on the client's 127.0.0.1 for the localhost-like row. */
export const LOCAL_LISTENER_PORT = 8080;

/** TTL (s) of the dns-stop name, and how long (ms) after stopping DNS the next connect waits: past the TTL. */
export const DNS_STOP_TTL_SECONDS = 1;
export const DNS_STOP_WAIT_MS = 1500;

/** DNS answer delay (ms) of the concurrent batch's names, and the batch's shape. */
export const CONCURRENT_DNS_DELAY_MS = 400;
export const CONCURRENT_NAMES = 50;
export const CONCURRENT_DIALS_PER_NAME = 4;

/**
 * The renumbered service: before the move, the name answers RENUMBER_OLD_ADDRESS (a listener the benchmark
 * runs on the client's own loopback, on the http port), TTL 1 s; after it, a good lab address, and the old
 * listener is closed (ECONNREFUSED). The clients dial after RENUMBER_WAIT_MS (past the TTL), at most
 * RENUMBER_MAX_DIALS times, until they reach the new address. DNS answers A in RENUMBER_DNS_DELAY_MS, a
 * typical resolver round trip: slower than the old address's refusal, as on a real network.
 */
export const RENUMBER_OLD_ADDRESS = '127.0.0.1';
export const RENUMBER_TTL_SECONDS = 1;
export const RENUMBER_WAIT_MS = 1500;
export const RENUMBER_MAX_DIALS = 10;
export const RENUMBER_DNS_DELAY_MS = 20;

/** Every run is capped at this many ms (a dial that has not connected by then counts as a failure). */
export const RUN_CAP_MS = 10_000;

/** DNS answer delay (ms) of svc-hints' A (lab/default-zone.ts; its HTTPS record carries address hints). */
export const SVC_HINTS_DNS_DELAY_MS: number = DEFAULT_ZONE[`svc-hints.${LAB.zoneSuffix}`]?.delayMs?.A ?? 0;

const suffix = LAB.zoneSuffix;
const { good } = LAB.addresses;

const dnsStopName = `bench-dns-stop.${suffix}`;
const renumberName = `bench-renumbered.${suffix}`;
/** Where the renumbered service lives after the move. */
export const RENUMBER_NEW_ADDRESS: string = good.v4[1];
const concurrentNames = Array.from(
  { length: CONCURRENT_NAMES },
  (_, i) => `bench-c${String(i).padStart(2, '0')}.${suffix}`,
);

/** Names the benchmark adds to the lab's default zone. */
export const BENCH_EXTRA_ZONE: Readonly<Record<string, ZoneRecordSet>> = Object.freeze({
  [dnsStopName]: { A: [good.v4[0]], AAAA: [good.v6[0]], ttl: DNS_STOP_TTL_SECONDS },
  [renumberName]: {
    A: [RENUMBER_OLD_ADDRESS],
    ttl: RENUMBER_TTL_SECONDS,
    delayMs: { A: RENUMBER_DNS_DELAY_MS },
  },
  ...Object.fromEntries(
    concurrentNames.map((name, i) => [
      name,
      {
        A: [good.v4[i % 8]!],
        AAAA: [good.v6[i % 8]!],
        delayMs: { A: CONCURRENT_DNS_DELAY_MS, AAAA: CONCURRENT_DNS_DELAY_MS },
      },
    ]),
  ),
});

/** The zone the benchmark's lab serves: the default scenarios plus BENCH_EXTRA_ZONE. */
export const BENCH_ZONE: Zone = { ...DEFAULT_ZONE, ...BENCH_EXTRA_ZONE };

function row(
  id: string,
  title: string,
  addressCount: number,
  extra: Partial<BenchScenario> = {},
): BenchScenario {
  return { id, title, name: `${id}.${suffix}`, port: LAB.ports.http, kind: 'single', addressCount, ...extra };
}

/** The rows, in table order. */
export const BENCH_SCENARIOS: readonly BenchScenario[] = [
  row('one-good', 'one good address (A + AAAA)', 2),
  row('first-a-blackholed', '2 A, first blackholed', 2),
  row('aaaa-blackholed', 'AAAA blackholed, A good', 2),
  row('aaaa-slow', 'AAAA answer +1 s, both good', 2),
  row('mixed-eight', '8 A: blackholed, refused, good mixed', 8),
  row('all-blackholed', 'everything blackholed', 2),
  row('localhost-like', '`::1` refused, `127.0.0.1` listens', 2, {
    port: LOCAL_LISTENER_PORT,
    localListener: true,
  }),
  row('aaaa-unreachable', 'AAAA unreachable route (ICMP ~1 s), A good', 2),
  row('first-a-refused', '2 A, first refused', 2),
  row('svc-hints', `HTTPS record with hints, A/AAAA ${SVC_HINTS_DNS_DELAY_MS / 1000} s late`, 2, {
    netdialTarget: `https://svc-hints.${suffix}/`,
    tls: 'off',
  }),
  {
    id: 'srv-failover',
    title: 'SRV priority 1 target blackholed',
    name: `_discard._tcp.${suffix}`,
    port: LAB.ports.discard,
    kind: 'single',
    addressCount: 2,
    netdialTarget: `srv!_discard._tcp.${suffix}`,
    peersNa: 'n/a — no SRV support',
  },
  // The TLS rows' control: every client's TLS path against a good listener (same CA, same port).
  {
    ...row('tls-one-good', 'TLS: one good address (A + AAAA)', 2, {
      port: LAB.tls.port,
      netdialTarget: `https://one-good.${suffix}/`,
      tls: 'lab-ca',
    }),
    name: `one-good.${suffix}`,
  },
  row('tls-stall-first', 'TLS: first address stalls in the handshake', 2, {
    port: LAB.tls.port,
    netdialTarget: `https://tls-stall-first.${suffix}/`,
    tls: 'lab-ca',
  }),
  {
    id: 'dns-stopped',
    title: `DNS down after a first dial (TTL ${DNS_STOP_TTL_SECONDS} s)`,
    name: dnsStopName,
    port: LAB.ports.http,
    kind: 'dns-stop',
    addressCount: 2,
  },
  {
    id: 'renumbered',
    title: `renumbered service (old address refuses, DNS +${RENUMBER_DNS_DELAY_MS} ms): dials until the new one`,
    name: renumberName,
    port: LAB.ports.http,
    kind: 'renumber',
    addressCount: 1,
    renumber: { oldAddress: RENUMBER_OLD_ADDRESS, newAddress: RENUMBER_NEW_ADDRESS },
  },
  {
    id: 'concurrent-200',
    title: `${CONCURRENT_NAMES * CONCURRENT_DIALS_PER_NAME} dials at once, ${CONCURRENT_NAMES} names, DNS +${CONCURRENT_DNS_DELAY_MS} ms`,
    name: concurrentNames[0]!,
    port: LAB.ports.http,
    kind: 'concurrent',
    addressCount: 2,
    batch: { names: concurrentNames, dialsPerName: CONCURRENT_DIALS_PER_NAME },
  },
];

/** The names of a batch, each repeated dialsPerName times, interleaved (name0, name1, …, name0, …). */
export function batchTargets(batch: { names: readonly string[]; dialsPerName: number }): string[] {
  const out: string[] = [];
  for (let round = 0; round < batch.dialsPerName; round++) out.push(...batch.names);
  return out;
}
