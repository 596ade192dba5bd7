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

/** Per-dial CPU on loopback, netdial / net.connect to the literal: at most this. */
export const CPU_RATIO_TARGET = 1.15;
/** Connections per second, netdial / net.connect: at least this. */
export const CPS_RATIO_TARGET = 0.9;
/** Heap per cached name: under this many bytes. */
export const BYTES_PER_NAME_TARGET = 1024;

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

  if (micro !== undefined) {
    out.push({
      scenarioId: 'micro',
      text: `CPU per dial (cached name) ≤ ${CPU_RATIO_TARGET}× net.connect to the literal`,
      short: `≤ ${CPU_RATIO_TARGET}×`,
      met: micro.cpuUsPerDial.medianRoundRatio <= CPU_RATIO_TARGET,
      measured: `${micro.cpuUsPerDial.medianRoundRatio.toFixed(2)}× (median of ${micro.rounds} rounds; all rounds together ${micro.cpuUsPerDial.ratio.toFixed(2)}×)`,
    });
    out.push({
      scenarioId: 'micro',
      text: `connections per second ≥ ${CPS_RATIO_TARGET}× net.connect (sequential)`,
      short: `≥ ${CPS_RATIO_TARGET}×`,
      met: micro.connectionsPerSecond.sequential.ratio >= CPS_RATIO_TARGET,
      measured: `${micro.connectionsPerSecond.sequential.ratio.toFixed(2)}×`,
    });
    out.push({
      scenarioId: 'micro',
      text: `connections per second ≥ ${CPS_RATIO_TARGET}× net.connect (16 in flight)`,
      short: `≥ ${CPS_RATIO_TARGET}×`,
      met: micro.connectionsPerSecond.inFlight16.ratio >= CPS_RATIO_TARGET,
      measured: `${micro.connectionsPerSecond.inFlight16.ratio.toFixed(2)}×`,
    });
    out.push({
      scenarioId: 'micro',
      text: `heap per cached name < ${BYTES_PER_NAME_TARGET} B`,
      short: '< 1 KiB',
      met: micro.bytesPerCachedName.bytes < BYTES_PER_NAME_TARGET,
      measured: `${Math.round(micro.bytesPerCachedName.bytes)} B`,
    });
  }
  return out;
}
