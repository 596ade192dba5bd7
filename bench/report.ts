/**
 * The Markdown report of one run (bench/results/latest.md): the lab table (scenarios × clients, with the
 * target column and a met/not-met mark for netdial), the loopback micro-benchmarks, the targets in full,
 * and per-scenario details (winners, errors, DNS queries, netdial's warm attempt list). Pure: results in,
 * text out.
 */
import { renderFleetTable } from './fleet.js';
import { RUNS_FAST, RUNS_SLOW } from './run-policy.js';
import { BENCH_SCENARIOS, DNS_STOP_WAIT_MS, RUN_CAP_MS, type ScenarioKind } from './scenarios.js';
import { formatCell, formatMs, summarize } from './summary.js';
import {
  type BenchResults,
  CLIENT_IDS,
  type ClientId,
  type MachineInfo,
  type MicroResults,
  type ScenarioResult,
  type TargetResult,
} from './types.js';

/** Column headers, with peer versions where known. */
export function clientLabels(machine: MachineInfo): Record<ClientId, string> {
  return {
    'netdial-cold': 'netdial cold',
    'netdial-warm': 'netdial warm',
    'node-default': 'Node `net.connect`',
    'node-no-asf': 'Node, `autoSelectFamily: false`',
    fetch: 'Node `fetch`',
    curl: machine.curl === undefined ? 'curl' : `curl ${machine.curl}`,
    python: machine.python === undefined ? 'Python asyncio' : `Python ${machine.python} asyncio`,
  };
}

const WARM_UP_TEXT = '3000 untimed dials of each kind (the first 1000 are reported on their own)';

/** ✓ met, ✗ not met, ? not evaluated. */
export function mark(met: boolean | undefined): string {
  return met === undefined ? '?' : met ? '✓' : '✗';
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function kindOf(id: string): ScenarioKind {
  return BENCH_SCENARIOS.find((s) => s.id === id)?.kind ?? 'single';
}

/**
 * A Markdown table with its columns padded to one width (the layout the project's formatter, Biome,
 * gives tables, so the generated file passes \`biome check\`). Cells are escaped here.
 */
export function markdownTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [head, ...rows].map((r) => r.map(escapeCell));
  const widths = head.map((_, i) => Math.max(3, ...all.map((r) => [...(r[i] ?? '')].length)));
  const line = (cells: readonly string[]): string =>
    `| ${widths.map((w, i) => (cells[i] ?? '').padEnd(w + (cells[i] ?? '').length - [...(cells[i] ?? '')].length)).join(' | ')} |`;
  return [
    line(all[0]!),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...all.slice(1).map(line),
  ].join('\n');
}

/** The main table: one row per scenario, the target column, one column per client. */
export function renderLabTable(
  scenarios: readonly ScenarioResult[],
  targets: readonly TargetResult[],
  machine: MachineInfo,
): string {
  const labels = clientLabels(machine);
  const header = ['scenario', 'target (netdial)', ...CLIENT_IDS.map((c) => labels[c])];
  const rows: string[][] = [];
  for (const s of scenarios) {
    const own = targets.filter((t) => t.scenarioId === s.id);
    const target = own.length === 0 ? '—' : own.map((t) => `${t.short} ${mark(t.met)}`).join('; ');
    const cells = CLIENT_IDS.map((c) => {
      const cell = s.cells.find((x) => x.client === c);
      return cell === undefined ? '—' : formatCell(cell, kindOf(s.id));
    });
    rows.push([s.title, target, ...cells]);
  }
  return markdownTable(header, rows);
}

function bytes(n: number): string {
  return n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${Math.round(n)} B`;
}

/** The loopback micro-benchmark table. */
export function renderMicroTable(micro: MicroResults, targets: readonly TargetResult[]): string {
  const t = targets.filter((x) => x.scenarioId === 'micro');
  const target = (row: string): string => {
    const found = t.find((x) => x.row === row);
    return found === undefined ? '—' : `${found.short} ${mark(found.met)}`;
  };
  const us = (v: number): string => `${v.toFixed(1)} µs`;
  const perS = (v: number): string => `${Math.round(v)}/s`;
  const x = (v: number): string => `${v.toFixed(2)}×`;
  const ms = (v: number): string => `${v.toFixed(1)} ms`;
  const c = micro.connectionsPerSecond;
  const rows = [
    [
      'CPU per dial, name cached, steady state (user + system; ratio: median of rounds)',
      us(micro.cpuUsPerDial.netdial),
      us(micro.cpuUsPerDial.netConnect),
      x(micro.cpuUsPerDial.medianRoundRatio),
      target('cpu'),
    ],
    [
      'CPU per dial, first 1000 dials of the process (JIT warm-up)',
      us(micro.cpuUsPerDial.firstThousand.netdial),
      us(micro.cpuUsPerDial.firstThousand.netConnect),
      x(micro.cpuUsPerDial.firstThousand.netdial / micro.cpuUsPerDial.firstThousand.netConnect),
      target('first-thousand'),
    ],
    [
      'wall time per sequential dial',
      us(micro.wallUsPerDial.netdial),
      us(micro.wallUsPerDial.netConnect),
      x(micro.wallUsPerDial.ratio),
      '—',
    ],
    [
      'connections per second, sequential',
      perS(c.sequential.netdial),
      perS(c.sequential.netConnect),
      x(c.sequential.ratio),
      target('cps-sequential'),
    ],
    [
      'connections per second, 16 in flight',
      perS(c.inFlight16.netdial),
      perS(c.inFlight16.netConnect),
      x(c.inFlight16.ratio),
      target('cps-in-flight'),
    ],
    [
      'JS heap per cached name (one A + one AAAA)',
      bytes(micro.bytesPerCachedName.bytes),
      '—',
      '—',
      target('bytes-per-name'),
    ],
    [
      'JS heap per dial in flight (waiting for DNS)',
      bytes(micro.bytesPerDialInFlight.netdial),
      bytes(micro.bytesPerDialInFlight.netConnect),
      x(micro.bytesPerDialInFlight.netdial / micro.bytesPerDialInFlight.netConnect),
      target('heap-in-flight'),
    ],
  ];
  const cold = micro.cold;
  if (cold !== undefined) {
    rows.push(
      [
        `\`import('netdial')\`, fresh process (median of ${cold.samples}; CPU ${ms(cold.importNetdial.cpuMs)})`,
        ms(cold.importNetdial.wallMs),
        '—',
        '—',
        target('import'),
      ],
      [
        `first dial, fresh process, loopback DNS included (median of ${cold.samples}; CPU ${ms(cold.firstDial.netdial.cpuMs)} against ${ms(cold.firstDial.bareFloor.cpuMs)}); other column: the bare floor, one raw DNS query + \`net.connect\``,
        ms(cold.firstDial.netdial.wallMs),
        ms(cold.firstDial.bareFloor.wallMs),
        x(cold.firstDial.ratio),
        target('first-dial'),
      ],
    );
  }
  const head = ['measure', 'netdial', '`net.connect` to 127.0.0.1 (or the floor)', 'ratio', 'target'];
  return markdownTable(head, rows);
}

function renderTargets(targets: readonly TargetResult[]): string {
  if (targets.length === 0) return '_No target could be evaluated._';
  return targets
    .map((t) => `- ${mark(t.met)} **${t.scenarioId}**: ${t.text} — measured ${t.measured}`)
    .join('\n');
}

/** "3 (A, AAAA, HTTPS)": the median count, and which types the first run asked for (older results: none). */
function queriesText(median: number | undefined, types: readonly string[] | undefined): string {
  if (median === undefined) return '—';
  return types === undefined || types.length === 0 ? String(median) : `${median} (${types.join(', ')})`;
}

/** A run's time in ms with sensible digits, no unit (for the list of every run). */
function formatRunMs(ms: number): string {
  return ms < 10 ? ms.toFixed(1) : String(Math.round(ms));
}

function renderDetails(scenarios: readonly ScenarioResult[], machine: MachineInfo): string {
  const labels = clientLabels(machine);
  const out: string[] = [];
  for (const s of scenarios) {
    out.push(`### ${s.title} — \`${s.name}:${s.port}\``, '');
    const rows: string[][] = [];
    for (const c of s.cells) {
      if (c.status !== 'ran') {
        rows.push([labels[c.client], c.status, '', c.note ?? '', '']);
        continue;
      }
      const sum = summarize(c.runs);
      const who = [...sum.addresses, ...sum.errors.map((e) => `✗ ${e}`)].join(', ');
      const every = c.runs.map((r) => `${r.ok ? '' : '✗'}${formatRunMs(r.ms)}`).join(', ');
      rows.push([
        labels[c.client],
        `${sum.ok}/${sum.runs}`,
        every,
        who || '—',
        queriesText(sum.dnsQueries, c.runs[0]?.dnsQueryTypes),
      ]);
    }
    const head = [
      'client',
      'runs connected',
      'every run (ms, in order)',
      'winner / errors',
      'DNS queries per run (median; types, first run)',
    ];
    out.push(markdownTable(head, rows));
    const warm = s.cells.find((c) => c.client === 'netdial-warm' && c.status === 'ran')?.runs[0];
    if (warm?.attempts !== undefined) {
      const list = warm.attempts
        .map((a) => `${a.address} ${a.outcome}${a.code ? ` ${a.code}` : ''} at ${formatMs(a.startMs)}`)
        .join('; ');
      const demoted =
        warm.demoted !== undefined && warm.demoted.length > 0 ? ` Demoted: ${warm.demoted.join(', ')}.` : '';
      const answers =
        warm.resolution !== undefined && warm.resolution.length > 0
          ? ` Queries (type, source): ${warm.resolution.join(', ')}.`
          : '';
      out.push('', `netdial warm, first run — attempts: ${list || 'none'}.${demoted}${answers}`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** The machine line: cores, CPU, kernel, Node and peer versions. */
export function machineLine(m: MachineInfo): string {
  return `${m.cores} cores (${m.cpuModel}), Linux ${m.kernel}, Node ${m.node}, curl ${m.curl ?? 'not installed'}, Python ${m.python ?? 'not installed'}`;
}

/** The whole latest.md. */
export function renderMarkdown(results: BenchResults): string {
  const parts = [
    `# netdial benchmark — ${results.startedAt.slice(0, 10)}`,
    '',
    `Machine: ${machineLine(results.machine)}. Command: \`${results.command}\`${results.lab.available ? ' (as root)' : ''}. ` +
      `Run started ${results.startedAt}, took ${(results.durationMs / 60_000).toFixed(1)} min. ` +
      'Machines here are noisy: compare numbers within this run, not across runs.',
    '',
    '## Time to a connected socket, in the lab',
    '',
  ];
  if (results.lab.available) {
    parts.push(
      `Median (min–max) of ${RUNS_FAST} runs per cell, ${RUNS_SLOW} when the first run took 0.8 s or more, 1 when ` +
        `4 s or more; DNS included; each connect capped at ${formatMs(RUN_CAP_MS)}. netdial cold: a fresh process ` +
        'per run; warm: the second dial in that process. Node, curl and Python: a fresh process per run. fetch: ' +
        'time to the response headers. "DNS down" row: after a first successful connect the lab\'s DNS server ' +
        `is stopped (port closed); the next connect, ${DNS_STOP_WAIT_MS / 1000} s later (past the answer's TTL), in the ` +
        'same process (a new one for curl): success rate. 200-dial row: time until the whole batch settled. ' +
        "✓/✗: netdial against the issue's target (docs/benchmarks.md says how each is read).",
      '',
      renderLabTable(results.lab.scenarios, results.targets, results.machine),
      '',
      '![time to connect per scenario and client](latest.svg)',
      '',
    );
  } else {
    parts.push(`_Lab not run: ${results.lab.reason}._`, '');
  }
  parts.push('## Loopback micro-benchmarks', '');
  if (results.micro.ok) {
    const m = results.micro.results;
    parts.push(
      `${m.rounds} alternating rounds of ${m.dialsPerRound} dials each way to a listener in another process; ` +
        `netdial dials a name its Dialer has cached (DNS queries during the timed loops: ${m.dnsQueriesDuringLoops}). ` +
        `Timed after ${WARM_UP_TEXT}. Per-round CPU ratios: ${m.cpuUsPerDial.roundRatios.map((r) => r.toFixed(2)).join(', ')} ` +
        `(all rounds together ${m.cpuUsPerDial.ratio.toFixed(2)}×).`,
      '',
      renderMicroTable(m, results.targets),
      '',
    );
  } else {
    parts.push(`_Micro-benchmarks failed: ${results.micro.error}._`, '');
  }
  if (results.fleet !== undefined) {
    parts.push('## Fleet memory', '');
    if (results.fleet.ok) {
      parts.push(
        'Processes dialling one name with 3 dead and 2 good addresses on loopback, 10 ms between dials; time lost per ' +
          'dial = when the attempt that connected started; "exploring" = dials that gave a demoted address its ' +
          'place anyway (local by design). Shared: RedisMemoryStore on a private redis-server (`npm run bench:fleet`).',
        '',
        renderFleetTable(results.fleet.results),
        '',
      );
    } else parts.push(`_Fleet not run: ${results.fleet.error}._`, '');
  }
  parts.push('## Targets', '', renderTargets(results.targets), '');
  if (results.lab.available)
    parts.push('## Details', '', renderDetails(results.lab.scenarios, results.machine));
  return `${parts.join('\n').trimEnd()}\n`;
}
