/**
 * The waterfall: rows of bars on one shared millisecond axis, with a ruler and tick labels above. Pure:
 * rows in, lines of text out. Used by `--trace` and by the demo (several dials on one axis).
 */
import { padVisible, type Style } from './color.js';

/** What a bar means, which decides its glyph and colour. */
export type Tone = 'dns' | 'ok' | 'fail' | 'timeout' | 'cancelled' | 'tls' | 'muted';

/** One row of the waterfall. */
export interface TimelineRow {
  /** Left column (plain text). */
  label: string;
  /** Start of the bar, ms since the dial began; no bar when undefined. */
  startMs?: number | undefined;
  /** End of the bar, ms; undefined = still running when the picture was taken (drawn to the axis end). */
  endMs?: number | undefined;
  tone: Tone;
  /** Text after the bar (may be styled). */
  note: string;
}

/** How to draw. */
export interface TimelineOptions {
  /** Bar area width in columns (>= 10). */
  width: number;
  style: Style;
  /** Prefix of every line. Default two spaces. */
  indent?: string;
  /** Draw the axis to at least this many ms (so several pictures can share a scale). */
  minAxisMs?: number;
}

const GLYPH: Record<Tone, string> = {
  dns: '▒',
  ok: '█',
  fail: '█',
  timeout: '█',
  cancelled: '░',
  tls: '▓',
  muted: '░',
};

function paint(tone: Tone, style: Style): (text: string) => string {
  switch (tone) {
    case 'dns':
      return style.cyan;
    case 'ok':
      return style.green;
    case 'fail':
      return style.red;
    case 'timeout':
      return style.yellow;
    case 'tls':
      return style.magenta;
    default:
      return style.dim;
  }
}

/**
 * The tick step for an axis reaching `maxMs`: the smallest of 1, 2, 5 × 10^k ms (at least 1 ms) that
 * needs at most `maxTicks` steps to cover `maxMs`.
 */
export function tickStepMs(maxMs: number, maxTicks = 5): number {
  const target = Math.max(maxMs, 1) / maxTicks;
  let magnitude = 10 ** Math.floor(Math.log10(target));
  for (;;) {
    for (const m of [1, 2, 5]) {
      const step = m * magnitude;
      if (step >= target && step >= 1) return step;
    }
    magnitude *= 10;
  }
}

/** A tick label: "0 ms", "250", "1 s", "1.5 s" (seconds once the step reaches 500 ms). */
function tickLabel(ms: number, stepMs: number, first: boolean): string {
  if (stepMs >= 500) return `${Number((ms / 1000).toFixed(1))} s`;
  return first ? '0 ms' : String(ms);
}

/** The axis end for rows (the end of the last bar, rounded up to a whole tick) and its tick step. */
export function axisFor(rows: readonly TimelineRow[], minAxisMs = 0): { axisMs: number; stepMs: number } {
  let maxMs = minAxisMs;
  for (const r of rows) {
    if (r.startMs === undefined) continue;
    maxMs = Math.max(maxMs, r.endMs ?? r.startMs, r.startMs);
  }
  const stepMs = tickStepMs(maxMs);
  // A bar ending 1 ms past a tick (a 3 s cap firing at 3001 ms) does not earn a whole extra tick.
  return { axisMs: Math.max(stepMs, Math.ceil(maxMs / stepMs - 0.01) * stepMs), stepMs };
}

/** Renders `rows` under a ruler; every line starts with `indent`. */
export function renderTimeline(rows: readonly TimelineRow[], options: TimelineOptions): string[] {
  const { style } = options;
  const width = Math.max(10, Math.floor(options.width));
  const indent = options.indent ?? '  ';
  const { axisMs, stepMs } = axisFor(rows, options.minAxisMs);
  const labelWidth = Math.max(0, ...rows.map((r) => r.label.length));
  const col = (ms: number) => Math.min(width, Math.max(0, Math.round((ms / axisMs) * width)));

  // Tick labels and ruler.
  const labels = Array<string>(width + 12).fill(' ');
  const ruler = Array<string>(width + 1).fill('─');
  let free = 0;
  for (let t = 0; t <= axisMs + 1e-9; t += stepMs) {
    const p = col(t);
    ruler[p] = t === 0 ? '├' : p >= width ? '┤' : '┼';
    const text = tickLabel(t, stepMs, t === 0);
    const at = p + text.length > width + 1 ? Math.max(free, width + 1 - text.length) : p;
    if (at < free) continue;
    for (let i = 0; i < text.length; i++) labels[at + i] = text[i] ?? ' ';
    free = at + text.length + 1;
  }
  if (ruler[width] === '─') ruler[width] = '┤';
  const pad = ' '.repeat(labelWidth);
  const lines = [
    `${indent}${pad}  ${style.dim(labels.join('').trimEnd())}`,
    `${indent}${pad}  ${style.dim(ruler.join(''))}`,
  ];

  for (const row of rows) {
    let bar = '';
    if (row.startMs !== undefined) {
      const c0 = Math.min(width - 1, Math.floor((row.startMs / axisMs) * width));
      const end = row.endMs === undefined ? width : Math.ceil((row.endMs / axisMs) * width - 1e-9);
      const c1 = Math.min(width, Math.max(c0 + 1, end));
      bar = ' '.repeat(c0) + paint(row.tone, style)(GLYPH[row.tone].repeat(c1 - c0));
      if (row.endMs === undefined && c1 === width) bar += style.dim('…');
    }
    lines.push(
      `${indent}${row.label.padEnd(labelWidth)}  ${padVisible(bar, width + 1)}  ${row.note}`.trimEnd(),
    );
  }
  return lines;
}
