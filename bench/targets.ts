/**
 * The issue's targets, evaluated on one run's results. A target reports; it never fails the benchmark.
 *
 * Readings of the issue's words (stated in docs/benchmarks.md too):
 * - "a round trip" is the one-good-address time of the same column (netdial cold: DNS from the lab's
 *   server plus the TCP handshake, in a fresh process) — the cost of a connect that meets no dead address;
 * - "warm within 2× the one-good-address time" compares warm with warm (both columns are second dials in
 *   their process);
 * - "200 concurrent dials within 2× one DNS round trip": 2 × the 400 ms the lab's server waits per answer.
 */
import { DEFAULTS } from '../src/options.js';
import { CONCURRENT_DNS_DELAY_MS, RUN_CAP_MS } from './scenarios.js';
import { formatMs, formatMsPrecise, summarize } from './summary.js';
import type { ClientId, MicroResults, ScenarioResult, TargetResult } from './types.js';

/** Per-dial CPU on loopback (name cached, steady state), netdial / net.connect to the literal: at most this. */
export const CPU_RATIO_TARGET = 1.1;
/** CPU per dial over the first 1000 dials of a process, netdial / net.connect: at most this. */
export const FIRST_THOUSAND_RATIO_TARGET = 1.5;
/** Connections per second, sequential, netdial / net.connect: at least this. */
export const CPS_SEQUENTIAL_RATIO_TARGET = 0.92;
/** Connections per second, 16 in flight, netdial / net.connect: at least this. */
export const CPS_IN_FLIGHT_RATIO_TARGET = 0.9;
/** JS heap per dial in flight, netdial / net.connect: at most this. */
export const HEAP_IN_FLIGHT_RATIO_TARGET = 2;
/** Heap per cached name: under this many bytes. */
export const BYTES_PER_NAME_TARGET = 1024;
/** `import('netdial')` in a fresh process, median wall time: at most this many ms. */
export const IMPORT_MS_TARGET = 15;
/** First dial of a fresh process (DNS included), netdial / the bare floor: at most this. */
export const FIRST_DIAL_RATIO_TARGET = 1.5;

function cellOf(scenario: ScenarioResult | undefined, client: ClientId) {
  const cell = scenario?.cells.find((c) => c.client === client);
  return cell === undefined || cell.status !== 'ran' ? undefined : cell;
}

/** Median of the column when every run succeeded; undefined otherwise. */
function okMedian(scenario: ScenarioResult | undefined, client: ClientId): number | undefined {
  const cell = cellOf(scenario, client);
  if (cell === undefined) return undefined;
  const s = summarize(cell.runs);
  return s.runs > 0 && s.ok === s.runs ? s.medianMs : undefined;
}

function measuredText(scenario: ScenarioResult | undefined, client: ClientId): string {
  const cell = cellOf(scenario, client);
  if (cell === undefined) return 'not measured';
  const s = summarize(cell.runs);
  if (s.medianMs === undefined) return 'no runs';
  const base = `${formatMsPrecise(s.medianMs)} median`;
  return s.ok === s.runs ? base : `${s.ok}/${s.runs} runs connected (${s.errors[0] ?? 'failed'}), ${base}`;
}

/**
 * `value <= bound`. undefined when the bound is unknown (its baseline failed); false when the value is
 * unknown (some run of the measured cell failed: a failure does not meet a time target).
 */
function within(value: number | undefined, bound: number | undefined): boolean | undefined {
  if (bound === undefined) return undefined;
  if (value === undefined) return false;
  return value <= bound;
}

/** Evaluates every target of the issue that these results can answer. */
export function evaluateTargets(
  scenarios: readonly ScenarioResult[] | undefined,
  micro: MicroResults | undefined,
): TargetResult[] {
  const out: TargetResult[] = [];
  const byId = new Map((scenarios ?? []).map((s) => [s.id, s]));
  const oneGood = byId.get('one-good');
  const coldBase = okMedian(oneGood, 'netdial-cold');
  const warmBase = okMedian(oneGood, 'netdial-warm');
  const baseText = (v: number | undefined): string => (v === undefined ? '?' : formatMsPrecise(v));

  for (const id of ['first-a-blackholed', 'aaaa-blackholed', 'mixed-eight']) {
    const s = byId.get(id);
    if (s === undefined) continue;
    const coldBound = coldBase === undefined ? undefined : DEFAULTS.attemptDelayMs + coldBase;
    out.push({
      scenarioId: id,
      text: `cold ≤ attempt delay ${DEFAULTS.attemptDelayMs} ms + one-good cold ${baseText(coldBase)} = ${baseText(coldBound)}`,
      short: `cold ≤ ${baseText(coldBound)}`,
      met: within(okMedian(s, 'netdial-cold'), coldBound),
      measured: measuredText(s, 'netdial-cold'),
    });
    const warmBound = warmBase === undefined ? undefined : 2 * warmBase;
    out.push({
      scenarioId: id,
      text: `warm ≤ 2 × one-good warm ${baseText(warmBase)} = ${baseText(warmBound)}`,
      short: `warm ≤ ${baseText(warmBound)}`,
      met: within(okMedian(s, 'netdial-warm'), warmBound),
      measured: measuredText(s, 'netdial-warm'),
    });
  }

  const slow = byId.get('aaaa-slow');
  if (slow !== undefined) {
    const bound = coldBase === undefined ? undefined : DEFAULTS.resolutionDelayMs + coldBase;
    out.push({
      scenarioId: 'aaaa-slow',
      text: `cold ≤ resolution delay ${DEFAULTS.resolutionDelayMs} ms + one-good cold ${baseText(coldBase)} = ${baseText(bound)}`,
      short: `cold ≤ ${baseText(bound)}`,
      met: within(okMedian(slow, 'netdial-cold'), bound),
      measured: measuredText(slow, 'netdial-cold'),
    });
  }

  const dead = byId.get('all-blackholed');
  if (dead !== undefined) {
    const limitMs = RUN_CAP_MS * 1.1;
    const runs = (['netdial-cold', 'netdial-warm'] as const).flatMap((c) => cellOf(dead, c)?.runs ?? []);
    const met =
      runs.length === 0
        ? undefined
        : runs.every(
            (r) => !r.ok && r.ms <= limitMs && new Set((r.attempts ?? []).map((a) => a.address)).size >= 2,
          );
    const listed = runs.map((r) => new Set((r.attempts ?? []).map((a) => a.address)).size);
    out.push({
      scenarioId: 'all-blackholed',
      text: `fails within timeout ${formatMs(RUN_CAP_MS)} + 10 % = ${formatMs(limitMs)}, every address's attempt listed (cold and warm)`,
      short: `fails ≤ ${formatMs(limitMs)}, all listed`,
      met,
      measured:
        runs.length === 0
          ? 'not measured'
          : `${runs.map((r) => `${r.ok ? 'connected' : (r.error ?? '?')} after ${formatMs(r.ms)}`).join(', ')}; addresses listed per error: ${listed.join(', ')}`,
    });
  }

  const stopped = byId.get('dns-stopped');
  const stoppedCell = cellOf(stopped, 'netdial-warm');
  if (stoppedCell !== undefined) {
    const s = summarize(stoppedCell.runs);
    out.push({
      scenarioId: 'dns-stopped',
      text: '100 % of the next dials succeed (netdial with memory)',
      short: 'warm 100 % ok',
      met: s.runs > 0 ? s.ok === s.runs : undefined,
      measured: `${s.ok}/${s.runs} succeeded`,
    });
  }

  const renumberedCell = cellOf(byId.get('renumbered'), 'netdial-warm');
  if (renumberedCell !== undefined) {
    const reached = renumberedCell.runs.filter((r) => r.ok && r.dials === 1).length;
    out.push({
      scenarioId: 'renumbered',
      text: 'the first dial after the change reaches the new address (issue 12: an expired answer never pins a dead one)',
      short: 'warm: 1 dial',
      met: renumberedCell.runs.length > 0 ? reached === renumberedCell.runs.length : undefined,
      measured: `${reached}/${renumberedCell.runs.length} runs reached it on the first dial`,
    });
  }

  const concurrent = byId.get('concurrent-200');
  if (concurrent !== undefined) {
    const bound = 2 * CONCURRENT_DNS_DELAY_MS;
    out.push({
      scenarioId: 'concurrent-200',
      text: `all connected within 2 × one DNS round trip (${CONCURRENT_DNS_DELAY_MS} ms) = ${formatMs(bound)}`,
      short: `cold ≤ ${formatMs(bound)}`,
      met: within(okMedian(concurrent, 'netdial-cold'), bound),
      measured: measuredText(concurrent, 'netdial-cold'),
    });
  }

  if (micro !== undefined) out.push(...microTargets(micro));
  return out;
}

/** The issue's hot-path and cold-start targets (the micro table's rows, by `row`). */
function microTargets(micro: MicroResults): TargetResult[] {
  const out: TargetResult[] = [];
  const x = (v: number): string => `${v.toFixed(2)}×`;
  const add = (row: string, text: string, short: string, met: boolean, measured: string): void => {
    out.push({ scenarioId: 'micro', row, text, short, met, measured });
  };
  const cpu = micro.cpuUsPerDial;
  add(
    'cpu',
    `CPU per dial (cached name, steady state) ≤ ${CPU_RATIO_TARGET}× net.connect to the literal`,
    `≤ ${CPU_RATIO_TARGET}×`,
    cpu.medianRoundRatio <= CPU_RATIO_TARGET,
    `${x(cpu.medianRoundRatio)} (median of ${micro.rounds} rounds; all rounds together ${x(cpu.ratio)})`,
  );
  const first = cpu.firstThousand.netdial / cpu.firstThousand.netConnect;
  add(
    'first-thousand',
    `CPU per dial over the first 1000 dials of a process ≤ ${FIRST_THOUSAND_RATIO_TARGET}× net.connect`,
    `≤ ${FIRST_THOUSAND_RATIO_TARGET}×`,
    first <= FIRST_THOUSAND_RATIO_TARGET,
    x(first),
  );
  const cps = micro.connectionsPerSecond;
  add(
    'cps-sequential',
    `connections per second ≥ ${CPS_SEQUENTIAL_RATIO_TARGET}× net.connect (sequential)`,
    `≥ ${CPS_SEQUENTIAL_RATIO_TARGET}×`,
    cps.sequential.ratio >= CPS_SEQUENTIAL_RATIO_TARGET,
    x(cps.sequential.ratio),
  );
  add(
    'cps-in-flight',
    `connections per second ≥ ${CPS_IN_FLIGHT_RATIO_TARGET}× net.connect (16 in flight)`,
    `≥ ${CPS_IN_FLIGHT_RATIO_TARGET}×`,
    cps.inFlight16.ratio >= CPS_IN_FLIGHT_RATIO_TARGET,
    x(cps.inFlight16.ratio),
  );
  add(
    'bytes-per-name',
    `heap per cached name < ${BYTES_PER_NAME_TARGET} B`,
    '< 1 KiB',
    micro.bytesPerCachedName.bytes < BYTES_PER_NAME_TARGET,
    `${Math.round(micro.bytesPerCachedName.bytes)} B`,
  );
  const heap = micro.bytesPerDialInFlight.netdial / micro.bytesPerDialInFlight.netConnect;
  add(
    'heap-in-flight',
    `heap per dial in flight ≤ ${HEAP_IN_FLIGHT_RATIO_TARGET}× net.connect waiting for its lookup`,
    `≤ ${HEAP_IN_FLIGHT_RATIO_TARGET}×`,
    heap <= HEAP_IN_FLIGHT_RATIO_TARGET,
    x(heap),
  );
  const cold = micro.cold;
  if (cold !== undefined) {
    add(
      'import',
      `import('netdial') in a fresh process ≤ ${IMPORT_MS_TARGET} ms (median of ${cold.samples})`,
      `≤ ${IMPORT_MS_TARGET} ms`,
      cold.importNetdial.wallMs <= IMPORT_MS_TARGET,
      `${cold.importNetdial.wallMs.toFixed(1)} ms (CPU ${cold.importNetdial.cpuMs.toFixed(1)} ms)`,
    );
    add(
      'first-dial',
      `first dial of a fresh process (loopback DNS included) ≤ ${FIRST_DIAL_RATIO_TARGET}× the bare floor (one raw DNS query + net.connect)`,
      `≤ ${FIRST_DIAL_RATIO_TARGET}×`,
      cold.firstDial.ratio <= FIRST_DIAL_RATIO_TARGET,
      `${x(cold.firstDial.ratio)} (${cold.firstDial.netdial.wallMs.toFixed(1)} ms / ${cold.firstDial.bareFloor.wallMs.toFixed(1)} ms, medians of ${cold.samples}; CPU ${x(cold.firstDial.netdial.cpuMs / cold.firstDial.bareFloor.cpuMs)})`,
    );
  }
  return out;
}
