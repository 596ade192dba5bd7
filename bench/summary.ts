/**
 * What a cell's runs come to — median and spread (min–max), successes, errors, winners, DNS queries —
 * and how a time or a cell reads in the table. Pure.
 */
import type { ScenarioKind } from './scenarios.js';
import type { CellResult, RunResult } from './types.js';

/** The summary of one cell. Times in ms. */
export interface CellSummary {
  runs: number;
  ok: number;
  /** Median over the successful runs; over all runs when none succeeded. undefined without runs. */
  medianMs: number | undefined;
  minMs: number | undefined;
  maxMs: number | undefined;
  /** Distinct errors, most frequent first. */
  errors: string[];
  /** Distinct winning addresses, in order of first appearance. */
  addresses: string[];
  /** Median of the DNS queries per run; undefined when not counted. */
  dnsQueries: number | undefined;
  /** Concurrent scenario: median connected of total per run. */
  connected: number | undefined;
  total: number | undefined;
}

/** Median of a non-empty list (mean of the middle two for an even count); undefined for an empty one. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Summarises the runs of a cell. */
export function summarize(runs: readonly RunResult[]): CellSummary {
  const ok = runs.filter((r) => r.ok);
  const timed = (ok.length > 0 ? ok : runs).map((r) => r.ms);
  const errorCounts = new Map<string, number>();
  for (const r of runs) {
    if (!r.ok && r.error !== undefined) errorCounts.set(r.error, (errorCounts.get(r.error) ?? 0) + 1);
  }
  const addresses: string[] = [];
  for (const r of runs)
    if (r.address !== undefined && !addresses.includes(r.address)) addresses.push(r.address);
  const queries = runs.map((r) => r.dnsQueries).filter((q): q is number => q !== undefined);
  const connected = runs.map((r) => r.connected).filter((c): c is number => c !== undefined);
  return {
    runs: runs.length,
    ok: ok.length,
    medianMs: median(timed),
    minMs: timed.length > 0 ? Math.min(...timed) : undefined,
    maxMs: timed.length > 0 ? Math.max(...timed) : undefined,
    errors: [...errorCounts.entries()].sort((a, b) => b[1] - a[1]).map(([e]) => e),
    addresses,
    dnsQueries: median(queries),
    connected: median(connected),
    total: runs.find((r) => r.total !== undefined)?.total,
  };
}

/** A time for humans: "0.42 ms", "3.4 ms", "262 ms", "1.01 s", "10.0 s". */
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 999.5) return `${Math.round(ms)} ms`;
  if (ms < 9995) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** A time with the precision a target comparison needs: "0.93 ms", "257.9 ms", "1.01 s". */
export function formatMsPrecise(ms: number): string {
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return formatMs(ms);
}

/** "257–258 ms", "7.8 ms–258 ms" (the unit once when both ends share it), or '' for a single run. */
export function formatSpread(s: CellSummary): string {
  if (s.runs < 2 || s.minMs === undefined || s.maxMs === undefined) return '';
  const low = formatMs(s.minMs);
  const high = formatMs(s.maxMs);
  const unit = (text: string): string => text.slice(text.lastIndexOf(' '));
  return unit(low) === unit(high) ? `${low.slice(0, low.lastIndexOf(' '))}–${high}` : `${low}–${high}`;
}

/**
 * One table cell: "262 ms (258–270)"; failures "✗ ETIMEDOUT 10.0 s"; partial "3/5 ok: 262 ms …";
 * concurrent "200/200 in 452 ms"; dns-stop rows use the same form (success rate shows as k/n ok);
 * renumber "1 dial, 3.4 ms" (median dials to the new address) or "✗ not reached in 10 dials: ECONNREFUSED".
 */
export function formatCell(cell: CellResult, kind: ScenarioKind): string {
  if (cell.status === 'not-installed') return 'not installed';
  if (cell.status === 'n/a') return cell.short ?? '—';
  const s = summarize(cell.runs);
  if (s.runs === 0 || s.medianMs === undefined) return 'no runs';
  const spread = formatSpread(s);
  const time = `${formatMs(s.medianMs)}${spread === '' ? '' : ` (${spread})`}`;
  const firstError = s.errors[0] ?? 'failed';
  if (kind === 'concurrent') {
    const done = `${s.connected ?? 0}/${s.total ?? '?'}`;
    if (s.ok === s.runs) return `${done} in ${time}`;
    return `✗ ${done} connected, ${time}${s.errors.length > 0 ? ` (${firstError})` : ''}`;
  }
  if (kind === 'renumber') {
    const dials = median(cell.runs.map((r) => r.dials).filter((d): d is number => d !== undefined)) ?? 0;
    const count = `${dials} dial${dials === 1 ? '' : 's'}`;
    if (s.ok === s.runs) return `${count}, ${time}`;
    if (s.ok === 0) return `✗ not reached in ${count}: ${firstError}`;
    return `${s.ok}/${s.runs} reached: ${count}, ${time}; ✗ ${firstError}`;
  }
  if (kind === 'dns-stop') {
    const rate = `${s.ok}/${s.runs} ok`;
    return s.ok > 0 ? `${rate}, ${time}` : `✗ ${rate}: ${firstError}`;
  }
  if (s.ok === s.runs) return time;
  if (s.ok === 0) return `✗ ${firstError}, ${time}`;
  return `${s.ok}/${s.runs} ok: ${time}; ✗ ${firstError}`;
}
