/**
 * Shapes shared by the benchmark's parts: what one run of one client reports, what a cell (scenario ×
 * client) holds, and the whole result file (`bench/results/latest.json`). Plain JSON data; times are ms.
 */

/** The columns of the table, in order. `netdial-cold` and `netdial-warm` come from one process per run. */
import type { FleetResults } from './fleet.js';

export const CLIENT_IDS = [
  'netdial-cold',
  'netdial-warm',
  'node-default',
  'node-no-asf',
  'fetch',
  'curl',
  'python',
] as const;

/** One column of the table. */
export type ClientId = (typeof CLIENT_IDS)[number];

/** One attempt of a netdial dial, as its establishment report or DialError lists it. */
export interface AttemptSummary {
  address: string;
  /** 'connected', 'failed', 'cancelled', 'timeout', … (netdial's AttemptOutcome). */
  outcome: string;
  code?: string | undefined;
  startMs: number;
  endMs?: number | undefined;
}

/** What one run of one client measured. */
export interface RunResult {
  /** True when a connected socket (or an HTTP response, for fetch) was obtained. */
  ok: boolean;
  /**
   * Time from "connect to this name" to the connected socket (DNS included), or to the failure, ms.
   * For the concurrent scenario: from the start of the batch until every dial settled (or the cap).
   */
  ms: number;
  /** The winning address (the first one seen for a batch). */
  address?: string | undefined;
  /** Error code (or short description) when `ok` is false. */
  error?: string | undefined;
  /** True when the run hit the 10 s cap rather than ending by itself. */
  capped?: boolean | undefined;
  /** netdial only: the attempts of this dial (from getReport, or from the DialError). */
  attempts?: AttemptSummary[] | undefined;
  /** netdial only: endpoints the memory moved to the end of the order. */
  demoted?: string[] | undefined;
  /** netdial only: where each query's answer came from, e.g. "A cache", "AAAA stale", "A dns ECONNREFUSED". */
  resolution?: string[] | undefined;
  /** DNS queries the lab's server received during this dial (or batch). */
  dnsQueries?: number | undefined;
  /** The types of those queries, each once, sorted ('A', 'AAAA', 'HTTPS', 'SRV'): who asked for a record. */
  dnsQueryTypes?: string[] | undefined;
  /** Renumber scenario: dials it took to reach the new address (the last one if it never did). */
  dials?: number | undefined;
  /** Concurrent scenario: how many dials of the batch connected, of how many. */
  connected?: number | undefined;
  total?: number | undefined;
}

/** One cell of the table: every run of one client in one scenario. */
export interface CellResult {
  client: ClientId;
  /** 'ran'; 'not-installed' (peer missing); 'n/a' (the column has no meaning in this scenario). */
  status: 'ran' | 'not-installed' | 'n/a';
  runs: RunResult[];
  /** Why the cell is n/a, or anything a reader should know about it. */
  note?: string | undefined;
  /** Shown in the table's cell instead of '—' for an n/a cell (e.g. "n/a — no SRV support"). */
  short?: string | undefined;
}

/** The results of one scenario. */
export interface ScenarioResult {
  id: string;
  title: string;
  /** The name dialled (the first of the batch for the concurrent scenario). */
  name: string;
  port: number;
  cells: CellResult[];
}

/** Loopback micro-benchmark results (see bench/micro.ts). */
export interface MicroResults {
  dialsPerRound: number;
  rounds: number;
  /** CPU time (user + system) per dial, microseconds. */
  cpuUsPerDial: {
    netdial: number;
    netConnect: number;
    /** Total netdial CPU / total net.connect CPU over all timed rounds. */
    ratio: number;
    /** Median over the timed rounds of netdial / net.connect (robust to a noisy round): the headline. */
    medianRoundRatio: number;
    /** µs per dial over the first thousand dials of the process (JIT warm-up), not part of the ratios. */
    firstThousand: { netdial: number; netConnect: number };
    /** Per round: netdial / net.connect. */
    roundRatios: number[];
    /** Per round, µs per dial, in the order the rounds ran. */
    netdialRounds: number[];
    netConnectRounds: number[];
  };
  /** Wall time per sequential dial, microseconds. */
  wallUsPerDial: { netdial: number; netConnect: number; ratio: number };
  /** Connections per second, sequential and with 16 in flight; ratio is netdial / net.connect. */
  connectionsPerSecond: {
    sequential: { netdial: number; netConnect: number; ratio: number };
    inFlight16: { netdial: number; netConnect: number; ratio: number };
  };
  /** DNS queries the loopback DNS server saw during the timed netdial loops (0 = every dial used the cache). */
  dnsQueriesDuringLoops: number;
  /** JS heap per cached name (one A and one AAAA record), bytes, measured over `names` names. */
  bytesPerCachedName: { names: number; bytes: number };
  /** JS heap per dial in flight (waiting for DNS), bytes; net.connect waiting for its lookup for reference. */
  bytesPerDialInFlight: { dials: number; netdial: number; netConnect: number };
  /** Cold start, each sample a fresh process (bench/cold.ts); absent in results of older runs. */
  cold?: ColdResults | undefined;
}

/** Medians over fresh processes, ms; the wall time of each sample in run order. */
export interface ColdFigure {
  wallMs: number;
  cpuMs: number;
  wallSamplesMs: number[];
}

/** Cold-start results (see bench/cold.ts). */
export interface ColdResults {
  samples: number;
  /** `await import('netdial')` in a fresh process. */
  importNetdial: ColdFigure;
  /** First dial of a fresh process (DNS from a loopback server included) against the bare floor. */
  firstDial: { netdial: ColdFigure; bareFloor: ColdFigure; ratio: number };
}

/** One target of the issue, evaluated on this run. `met` is undefined when it could not be evaluated. */
export interface TargetResult {
  /** Scenario id, or 'micro'. */
  scenarioId: string;
  /** For micro targets: which row of the micro table it belongs to (see bench/targets.ts). */
  row?: string | undefined;
  /** The target in words, with the numbers it was evaluated against. */
  text: string;
  /** The same in a few words for the table's target column, e.g. "cold ≤ 258 ms". */
  short: string;
  met: boolean | undefined;
  /** What was measured. */
  measured: string;
}

/** The machine the run was made on. */
export interface MachineInfo {
  cores: number;
  cpuModel: string;
  kernel: string;
  node: string;
  curl: string | undefined;
  python: string | undefined;
}

/** Everything one `npm run bench` produced (bench/results/latest.json). */
export interface BenchResults {
  version: 1;
  startedAt: string;
  durationMs: number;
  command: string;
  machine: MachineInfo;
  lab: { available: true; scenarios: ScenarioResult[] } | { available: false; reason: string };
  micro: { ok: true; results: MicroResults } | { ok: false; error: string };
  /** The fleet-memory row (bench/fleet.ts); absent from runs before it existed and with --micro. */
  fleet?: { ok: true; results: FleetResults } | { ok: false; error: string } | undefined;
  targets: TargetResult[];
}
