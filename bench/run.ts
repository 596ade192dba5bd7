/**
 * `npm run bench`: netdial against the clients people use today, side by side in one run.
 *
 * As root on Linux, re-executes itself inside the network lab (fresh namespaces, see lab/README.md) to
 * run the scenarios, then runs the loopback micro-benchmarks in a child process (`--expose-gc`), writes
 * bench/results/latest.{md,json,svg} and prints the table. Without a lab (not root, not Linux) the lab
 * half is reported as not run and the micro-benchmarks still run. Targets are reported, never enforced:
 * the exit code is 0 unless the benchmark itself broke.
 *
 * Options: `--only id,id` runs only those scenarios (development); `--no-micro`; `--no-lab` (or
 * `--micro`: only the loopback micro-benchmarks and the cold start, about a minute, written to
 * bench/results/micro.{md,json});
 * `--out DIR` (default bench/results next to the sources); `--from-json FILE` measures nothing and
 * rewrites latest.md and latest.svg (and the targets) from a latest.json of an earlier run.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { decideForThisProcess, LAB_INSIDE_ENV, runInsideLab } from '../lab/reexec.js';
import { resultOfChild } from './child-result.js';
import { formatJson } from './json.js';
import { fleetInChild, renderFleetTable } from './fleet.js';
import { ensureDebianPackages } from '../test/support/real-servers.js';
import { findPeers, opensslPresent, type PeerAvailability, runLabScenarios } from './lab-run.js';
import { BENCH_SCENARIOS } from './scenarios.js';
import { machineLine, renderLabTable, renderMarkdown, renderMicroTable } from './report.js';
import { renderSvg } from './svg.js';
import { evaluateTargets } from './targets.js';
import type { BenchResults, MachineInfo, MicroResults, ScenarioResult } from './types.js';

const COMMAND = 'npm run bench';
const MICRO_KILL_MS = 120_000;

interface Args {
  only: string[] | undefined;
  micro: boolean;
  lab: boolean;
  out: string;
  labOut: string | undefined;
  peers: PeerAvailability | undefined;
  fromJson: string | undefined;
  /** The fleet-memory row (bench/fleet.ts, about 3 minutes); off with --no-fleet and --micro. */
  fleet: boolean;
  /** File names written: `latest.*`, or `micro.*` for `--micro` (the full run's files stay as they are). */
  stem: string;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    only: undefined,
    micro: true,
    lab: true,
    // dist/bench/run.js -> <repo>/bench/results
    out: fileURLToPath(new URL('../../bench/results/', import.meta.url)),
    labOut: undefined,
    peers: undefined,
    fromJson: undefined,
    fleet: true,
    stem: 'latest',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--only') args.only = value().split(',');
    else if (a === '--no-micro') args.micro = false;
    else if (a === '--no-lab') args.lab = false;
    else if (a === '--no-fleet') args.fleet = false;
    else if (a === '--micro') {
      args.lab = false;
      args.fleet = false;
      args.stem = 'micro';
    } else if (a === '--out') args.out = value();
    else if (a === '--lab-out') args.labOut = value();
    else if (a === '--peers') args.peers = JSON.parse(value()) as PeerAvailability;
    else if (a === '--from-json') args.fromJson = value();
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

const log = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};

/** Inside the lab: run the scenarios, write them to `--lab-out`. */
async function inner(args: Args): Promise<number> {
  if (args.labOut === undefined) throw new Error('inside the lab without --lab-out');
  const results = await runLabScenarios(args.peers ?? findPeers(), log, args.only);
  writeFileSync(args.labOut, JSON.stringify(results));
  return 0;
}

/** Runs the lab half in fresh namespaces; its results, or why there are none. */
async function labHalf(args: Args, peers: PeerAvailability): Promise<BenchResults['lab']> {
  if (!args.lab) return { available: false, reason: 'skipped (--no-lab)' };
  const decision = decideForThisProcess();
  if (decision.action === 'skip' || decision.action === 'fail')
    return { available: false, reason: decision.reason };
  // The TLS row's lab makes certificates with openssl: install it here, outside the lab's namespaces.
  if (
    BENCH_SCENARIOS.some((s) => s.tls === 'lab-ca' && (args.only === undefined || args.only.includes(s.id)))
  ) {
    const missing = ensureDebianPackages(['openssl'], opensslPresent);
    if (missing !== undefined) log(`TLS row not run: ${missing}`);
  }
  const dir = mkdtempSync(join(os.tmpdir(), 'netdial-bench-'));
  try {
    const labOut = join(dir, 'lab.json');
    const passOn = ['--lab-out', labOut, '--peers', JSON.stringify(peers)];
    if (args.only !== undefined) passOn.push('--only', args.only.join(','));
    const code = await runInsideLab(fileURLToPath(import.meta.url), { args: passOn, execArgv: [] });
    if (code !== 0) return { available: false, reason: `the lab run exited with code ${code}` };
    return { available: true, scenarios: JSON.parse(readFileSync(labOut, 'utf8')) as ScenarioResult[] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs bench/micro.js in a child with --expose-gc. */
function microHalf(args: Args): Promise<BenchResults['micro']> {
  if (!args.micro) return Promise.resolve({ ok: false, error: 'skipped (--no-micro)' });
  const script = fileURLToPath(new URL('./micro.js', import.meta.url));
  return resultOfChild<MicroResults>(['--expose-gc', script], MICRO_KILL_MS);
}

function machine(peers: PeerAvailability): MachineInfo {
  return {
    cores: os.cpus().length,
    cpuModel: (os.cpus()[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim(),
    kernel: os.release(),
    node: process.version,
    curl: peers.curl?.version,
    python: peers.python?.version,
  };
}

async function outer(args: Args): Promise<number> {
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const peers = findPeers();
  const info = machine(peers);
  log(`${machineLine(info)}`);
  const lab = await labHalf(args, peers);
  if (!lab.available) log(`lab not run: ${lab.reason}`);
  log('loopback micro-benchmarks…');
  const micro = await microHalf(args);
  if (!micro.ok) log(`micro-benchmarks not run: ${micro.error}`);
  let fleet: BenchResults['fleet'];
  if (args.fleet) {
    log('fleet of processes (no memory, local, shared through Redis)…');
    fleet = await fleetInChild();
    if (!fleet.ok) log(`fleet not run: ${fleet.error}`);
  }
  const targets = evaluateTargets(
    lab.available ? lab.scenarios : undefined,
    micro.ok ? micro.results : undefined,
  );
  const results: BenchResults = {
    version: 1,
    startedAt,
    durationMs: performance.now() - started,
    command: args.stem === 'micro' ? `${COMMAND} -- --micro` : COMMAND,
    machine: info,
    lab,
    micro,
    ...(fleet === undefined ? {} : { fleet }),
    targets,
  };
  writeResults(results, args.out, args.stem);
  return 0;
}

/** Writes STEM.json, STEM.md and (with a lab) STEM.svg into `dir`, and prints the tables. */
function writeResults(results: BenchResults, dir: string, stem: string): void {
  const { lab, micro, targets, machine: info } = results;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${stem}.json`), formatJson(results));
  writeFileSync(join(dir, `${stem}.md`), renderMarkdown(results));
  if (lab.available) {
    writeFileSync(
      join(dir, `${stem}.svg`),
      renderSvg(
        lab.scenarios,
        `${results.startedAt.slice(0, 10)} · ${machineLine(info)} · ${results.command}`,
      ),
    );
  }
  const printed: string[] = [];
  if (lab.available) printed.push(renderLabTable(lab.scenarios, targets, info));
  if (micro.ok) printed.push(renderMicroTable(micro.results, targets));
  if (results.fleet?.ok) printed.push(renderFleetTable(results.fleet.results));
  process.stdout.write(
    `\n${printed.join('\n\n')}\n\nWritten to ${dir} (${stem}.md, ${stem}.json${lab.available ? `, ${stem}.svg` : ''}).\n`,
  );
}

/** --from-json: the same run's data, written again with the current writers (targets re-evaluated). */
function rerender(args: Args, file: string): number {
  const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  if (results.version !== 1) throw new Error(`${file}: not a version 1 benchmark result`);
  results.targets = evaluateTargets(
    results.lab.available ? results.lab.scenarios : undefined,
    results.micro.ok ? results.micro.results : undefined,
  );
  writeResults(results, args.out, args.stem);
  return 0;
}

const args = parseArgs(process.argv.slice(2));
if (process.env[LAB_INSIDE_ENV] === '1') process.exit(await inner(args));
process.exitCode = args.fromJson === undefined ? await outer(args) : rerender(args, args.fromJson);
