/**
 * The chart of one run (bench/results/latest.svg), written by hand: for each scenario a group of
 * horizontal bars, one per client, length = median time to connect on a log scale, a whisker for
 * min–max, hatched bars for cells where no run connected. Pure: results in, SVG text out.
 */
import { RUN_CAP_MS } from './scenarios.js';
import { formatMs, summarize } from './summary.js';
import { CLIENT_IDS, type ClientId, type ScenarioResult } from './types.js';

/** Bar colours per client (netdial greens, Node blues, fetch purple, curl orange, Python red). */
export const CLIENT_COLORS: Readonly<Record<ClientId, string>> = {
  'netdial-cold': '#1b7837',
  'netdial-warm': '#7fbf7b',
  'node-default': '#2166ac',
  'node-no-asf': '#92c5de',
  fetch: '#5e3c99',
  curl: '#e08214',
  python: '#b2182b',
};

const PLAIN_LABELS: Readonly<Record<ClientId, string>> = {
  'netdial-cold': 'netdial cold',
  'netdial-warm': 'netdial warm',
  'node-default': 'Node net.connect',
  'node-no-asf': 'Node, autoSelectFamily off',
  fetch: 'Node fetch',
  curl: 'curl',
  python: 'Python asyncio',
};

/** The log scale's ends, ms. */
export const AXIS_MIN_MS = 0.1;
export const AXIS_MAX_MS = 2 * RUN_CAP_MS;

const WIDTH = 1000;
const LABEL_WIDTH = 290;
const PLOT_LEFT = LABEL_WIDTH + 10;
const PLOT_RIGHT = 800;
const BAR_HEIGHT = 9;
const BAR_GAP = 2;
const GROUP_GAP = 14;
const TOP = 78;

/** Escapes text for SVG content and attributes. */
export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/** An error short enough for a bar label: capped runs say so in two words, others keep their code. */
export function shortError(error: string | undefined): string {
  if (error === undefined) return 'failed';
  if (/by the cap|timeout/.test(error)) return 'none by';
  return error.length > 24 ? `${error.slice(0, 23)}…` : error;
}

/** x position of a time on the log axis, clamped to the axis. */
export function xOf(ms: number): number {
  const clamped = Math.min(AXIS_MAX_MS, Math.max(AXIS_MIN_MS, ms));
  const span = Math.log10(AXIS_MAX_MS) - Math.log10(AXIS_MIN_MS);
  return PLOT_LEFT + ((Math.log10(clamped) - Math.log10(AXIS_MIN_MS)) / span) * (PLOT_RIGHT - PLOT_LEFT);
}

function n(v: number): string {
  return v.toFixed(1);
}

/** The chart for the given scenarios (in table order). `subtitle` names the machine and date. */
export function renderSvg(scenarios: readonly ScenarioResult[], subtitle: string): string {
  const groupHeight = CLIENT_IDS.length * (BAR_HEIGHT + BAR_GAP) + GROUP_GAP;
  const plotBottom = TOP + scenarios.length * groupHeight;
  const height = plotBottom + 40;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    '<title>netdial benchmark: time to a connected socket per scenario and client</title>',
    '<defs>',
    ...CLIENT_IDS.map(
      (c) =>
        `<pattern id="hatch-${c}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
        `<rect width="6" height="6" fill="#fff"/><rect width="3" height="6" fill="${CLIENT_COLORS[c]}"/></pattern>`,
    ),
    '</defs>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">Time to a connected socket (median, log scale; whisker min–max; hatched: no run connected)</text>`,
    `<text x="10" y="38" fill="#555">${escapeXml(subtitle)}</text>`,
  );
  // Legend: entries side by side, each as wide as its text (about 6.2 px per character at 11 px).
  let legendX = 10;
  CLIENT_IDS.forEach((c) => {
    const x = legendX;
    legendX += 16 + Math.ceil(PLAIN_LABELS[c].length * 6.2) + 18;
    out.push(
      `<rect x="${x}" y="50" width="12" height="10" fill="${CLIENT_COLORS[c]}"/>`,
      `<text x="${x + 16}" y="59">${escapeXml(PLAIN_LABELS[c])}</text>`,
    );
  });
  // Grid.
  for (const ms of [0.1, 1, 10, 100, 1000, 10_000]) {
    if (ms > AXIS_MAX_MS) continue;
    const x = n(xOf(ms));
    out.push(
      `<line x1="${x}" y1="${TOP - 6}" x2="${x}" y2="${plotBottom}" stroke="#ddd"/>`,
      `<text x="${x}" y="${plotBottom + 14}" text-anchor="middle" fill="#555">${escapeXml(formatMs(ms))}</text>`,
    );
  }
  out.push(
    `<line x1="${n(xOf(RUN_CAP_MS))}" y1="${TOP - 6}" x2="${n(xOf(RUN_CAP_MS))}" y2="${plotBottom}" stroke="#b2182b" stroke-dasharray="4 3"/>`,
    `<text x="${n(xOf(RUN_CAP_MS))}" y="${plotBottom + 28}" text-anchor="middle" fill="#b2182b">cap</text>`,
  );
  scenarios.forEach((s, gi) => {
    const groupTop = TOP + gi * groupHeight;
    out.push(
      `<text x="${LABEL_WIDTH}" y="${n(groupTop + (groupHeight - GROUP_GAP) / 2 + 4)}" text-anchor="end" font-size="12">${escapeXml(s.title.replaceAll('`', ''))}</text>`,
    );
    CLIENT_IDS.forEach((c, i) => {
      const y = groupTop + i * (BAR_HEIGHT + BAR_GAP);
      const cell = s.cells.find((x) => x.client === c);
      const textY = n(y + BAR_HEIGHT - 1);
      if (cell === undefined || cell.status !== 'ran') {
        const what = cell?.status === 'not-installed' ? 'not installed' : (cell?.short ?? '—');
        out.push(
          `<text x="${PLOT_LEFT + 4}" y="${textY}" font-size="9" fill="#888">${escapeXml(what)}</text>`,
        );
        return;
      }
      const sum = summarize(cell.runs);
      if (sum.medianMs === undefined) return;
      const end = xOf(sum.medianMs);
      const failed = sum.ok === 0;
      const fill = failed ? `url(#hatch-${c})` : CLIENT_COLORS[c];
      out.push(
        `<rect x="${PLOT_LEFT}" y="${n(y)}" width="${n(Math.max(1, end - PLOT_LEFT))}" height="${BAR_HEIGHT}" fill="${fill}" stroke="${failed ? CLIENT_COLORS[c] : 'none'}" stroke-width="0.5"/>`,
      );
      if (sum.minMs !== undefined && sum.maxMs !== undefined && sum.runs > 1) {
        out.push(
          `<line x1="${n(xOf(sum.minMs))}" y1="${n(y + BAR_HEIGHT / 2)}" x2="${n(xOf(sum.maxMs))}" y2="${n(y + BAR_HEIGHT / 2)}" stroke="#333" stroke-width="1"/>`,
        );
      }
      const batch =
        sum.total !== undefined && sum.ok < sum.runs ? `${sum.connected ?? 0}/${sum.total} by` : undefined;
      const label = failed
        ? `✗ ${batch ?? shortError(sum.errors[0])} ${formatMs(sum.medianMs)}`
        : sum.ok < sum.runs
          ? `${formatMs(sum.medianMs)} (${sum.ok}/${sum.runs} ok)`
          : formatMs(sum.medianMs);
      out.push(`<text x="${n(end + 4)}" y="${textY}" font-size="9">${escapeXml(label.slice(0, 48))}</text>`);
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
