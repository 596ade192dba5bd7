/**
 * The demo's pictures: per name, the naive client's and netdial's timelines on one shared axis with the
 * time each took, and a summary table at the end. Pure: results in, text out.
 */
import { isDialError } from '../errors.js';
import type { DialReport } from '../report.js';
import type { Style } from './color.js';
import type { NaiveResult } from './demo-naive.js';
import { dnsCodeText, formatMs, formatSpan } from './format.js';
import { renderTimeline, type TimelineRow, type Tone } from './timeline.js';
import { errorRows, reportRows } from './trace.js';

/** One name the demo connects to. */
export interface DemoScenario {
  /** Host name (fully qualified). */
  name: string;
  port: number;
  /** What the name's DNS and servers do. */
  description: string;
  /** What to look at in the pictures. */
  notice: string;
}

/** One netdial dial of the demo. */
export interface NetdialRun {
  ok: boolean;
  durationMs: number;
  report: DialReport | undefined;
  error: unknown;
  /** For the memory lane: how many dials of this name the Dialer made before this one. */
  earlierDials?: number | undefined;
}

/** Everything measured for one scenario. */
export interface ScenarioOutcome {
  scenario: DemoScenario;
  naive: NaiveResult;
  fresh: NetdialRun;
  again: NetdialRun;
}

/** The lane names, as printed. */
export const LANES = { naive: 'naive', fresh: 'netdial', again: 'again' } as const;

const LANE_WIDTH = 8;

/** At most three addresses, then how many more. */
function shortList(addresses: readonly string[]): string {
  if (addresses.length <= 3) return addresses.join(', ');
  return `${addresses.slice(0, 3).join(', ')} and ${addresses.length - 3} more`;
}

function naiveRows(r: NaiveResult, capMs: number, style: Style): TimelineRow[] {
  const rows: TimelineRow[] = r.queries.map((q) => ({
    label: `dns ${q.type}`,
    startMs: q.startMs,
    endMs: q.endMs ?? Math.min(capMs, r.durationMs),
    tone: 'dns' as Tone,
    note:
      q.endMs === undefined
        ? style.yellow('no answer')
        : q.code !== undefined
          ? `${style.yellow(dnsCodeText(q.code, q.type))}  ${style.dim(formatSpan(q.startMs, q.endMs))}`
          : `${shortList(q.addresses)}  ${style.dim(formatSpan(q.startMs, q.endMs))}`,
  }));
  const a = r.attempt;
  if (a !== undefined) {
    const tone: Tone = a.outcome === 'connected' ? 'ok' : a.outcome === 'timed out' ? 'timeout' : 'fail';
    const words = a.outcome === 'timed out' ? `gave up after ${formatMs(a.endMs - a.startMs)}` : a.outcome;
    rows.push({
      label: `connect ${a.address}`,
      startMs: a.startMs,
      endMs: a.endMs,
      tone,
      note: `${tone === 'ok' ? style.green(words) : style.red(words)}  ${style.dim(`${formatSpan(a.startMs, a.endMs)} · first address only`)}`,
    });
  }
  return rows;
}

function netdialRows(run: NetdialRun, style: Style): TimelineRow[] {
  if (run.report !== undefined) return reportRows(run.report, style);
  if (isDialError(run.error)) return errorRows(run.error, style);
  return [
    { label: 'error', tone: 'fail', note: style.red(String((run.error as Error)?.message ?? run.error)) },
  ];
}

function memoryRow(run: NetdialRun, style: Style): TimelineRow | undefined {
  const report = run.report;
  if (report === undefined) return undefined;
  const parts: string[] = [];
  const earlier = run.earlierDials ?? 0;
  parts.push(`memory of ${earlier} earlier dial${earlier === 1 ? '' : 's'}`);
  parts.push(
    report.decisions.demoted.length > 0
      ? `demoted ${report.decisions.demoted.join(', ')}`
      : 'nothing demoted',
  );
  if (report.decisions.explored !== undefined) parts.push(`explored ${report.decisions.explored}`);
  const cached = report.resolution.queries.filter((q) => q.source === 'cache' || q.source === 'stale');
  if (cached.length > 0) parts.push(`${cached.map((q) => q.type).join('+')} from cache`);
  if (report.decisions.attemptDelaySource === 'history')
    parts.push(`attempt delay ${formatMs(report.decisions.attemptDelayMs)} from RTT history`);
  return { label: '', tone: 'muted', note: style.dim(parts.join(' · ')) };
}

function lane(name: string, rows: TimelineRow[]): TimelineRow[] {
  return rows.map((r, i) => ({ ...r, label: `${(i === 0 ? name : '').padEnd(LANE_WIDTH)} ${r.label}` }));
}

/** "✓ 252 ms" / "✗ 3.0 s" with the outcome's colour. */
function verdict(ok: boolean, ms: number, style: Style): string {
  const text = `${ok ? '✓' : '✗'} ${formatMs(ms).padStart(7)}`;
  return ok ? style.green(text) : style.red(text);
}

function runPhrase(run: NetdialRun): string {
  const r = run.report;
  if (r?.winner !== undefined) {
    const n = r.attempts.length;
    return `connected to ${r.winner.address} (${n} attempt${n === 1 ? '' : 's'})`;
  }
  if (isDialError(run.error)) return `${run.error.code}: ${run.error.message}`;
  return String((run.error as Error)?.message ?? run.error);
}

/** One scenario: title, what to notice, the shared-axis timeline of all lanes, the time each took. */
export function renderScenario(
  o: ScenarioOutcome,
  options: { style: Style; width: number; capMs: number },
): string {
  const { style } = options;
  const s = o.scenario;
  const rows = [
    ...lane(LANES.naive, naiveRows(o.naive, options.capMs, style)),
    ...lane(LANES.fresh, netdialRows(o.fresh, style)),
    ...lane(LANES.again, [
      ...netdialRows(o.again, style),
      ...[memoryRow(o.again, style)].filter((r) => r !== undefined),
    ]),
  ];
  const lines = [
    style.bold(`▶ ${s.name} port ${s.port}`) + style.dim(` — ${s.description}`),
    `  ${s.notice}`,
    '',
    ...renderTimeline(rows, { width: options.width, style }),
    '',
    `  ${LANES.naive.padEnd(LANE_WIDTH)} ${verdict(o.naive.ok, o.naive.durationMs, style)}  ${o.naive.summary}`,
    `  ${LANES.fresh.padEnd(LANE_WIDTH)} ${verdict(o.fresh.ok, o.fresh.durationMs, style)}  ${runPhrase(o.fresh)}`,
    `  ${LANES.again.padEnd(LANE_WIDTH)} ${verdict(o.again.ok, o.again.durationMs, style)}  ${runPhrase(o.again)}`,
  ];
  return `${lines.join('\n')}\n\n`;
}

/** The closing table: per name, each lane's verdict and time. */
export function renderSummary(outcomes: readonly ScenarioOutcome[], style: Style): string {
  const nameWidth = Math.max(4, ...outcomes.map((o) => o.scenario.name.length));
  const head = `  ${'name'.padEnd(nameWidth)}  ${LANES.naive.padStart(9)}  ${LANES.fresh.padStart(9)}  ${LANES.again.padStart(9)}`;
  const lines = [style.bold('summary: time to a connection (✗ = none)'), style.dim(head)];
  let naiveOk = 0;
  let netdialOk = 0;
  for (const o of outcomes) {
    if (o.naive.ok) naiveOk++;
    if (o.fresh.ok) netdialOk++;
    lines.push(
      `  ${o.scenario.name.padEnd(nameWidth)}  ${verdict(o.naive.ok, o.naive.durationMs, style)}  ${verdict(o.fresh.ok, o.fresh.durationMs, style)}  ${verdict(o.again.ok, o.again.durationMs, style)}`,
    );
  }
  const sum = (f: (o: ScenarioOutcome) => number) => outcomes.reduce((t, o) => t + f(o), 0);
  lines.push(
    style.dim(
      `  ${'total'.padEnd(nameWidth)}  ${formatMs(sum((o) => o.naive.durationMs)).padStart(9)}  ${formatMs(sum((o) => o.fresh.durationMs)).padStart(9)}  ${formatMs(sum((o) => o.again.durationMs)).padStart(9)}`,
    ),
    '',
    `naive connected ${naiveOk} of ${outcomes.length}; netdial ${netdialOk} of ${outcomes.length}.`,
  );
  return `${lines.join('\n')}\n`;
}
