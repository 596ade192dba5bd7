/**
 * The lab half of the benchmark (runs inside the lab's namespaces): for every scenario and every client,
 * a few runs, each in a fresh process, timed from "connect to this name" to a connected socket; the
 * lab's DNS log says how many queries each run sent.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { killQuietly } from '../lab/exec.js';
import { type Lab, withLab } from '../lab/lab.js';
import { runsFor } from './run-policy.js';
import { curlArgs, parseCurlBatch, parseCurlLine, pythonArgs } from './clients/peers.js';
import { type ChildJob, type ChildReport, READY_LINE, RESULT_PREFIX } from './clients/protocol.js';
import {
  BENCH_SCENARIOS,
  BENCH_ZONE,
  type BenchScenario,
  batchTargets,
  DNS_STOP_WAIT_MS,
  RENUMBER_DNS_DELAY_MS,
  RENUMBER_MAX_DIALS,
  RENUMBER_TTL_SECONDS,
  RENUMBER_WAIT_MS,
  RUN_CAP_MS,
} from './scenarios.js';
import type { CellResult, ClientId, RunResult, ScenarioResult } from './types.js';

/** A peer that is (or is not) installed. */
export interface PeerAvailability {
  curl: { path: string; version: string } | undefined;
  /** The real interpreter (not a pyenv shim), so startup does not cost a shell script per run. */
  python: { path: string; version: string } | undefined;
}

/** Finds curl and Python (3.8+ for happy_eyeballs_delay); a missing one is undefined. */
export function findPeers(): PeerAvailability {
  let curl: PeerAvailability['curl'];
  const c = spawnSync('curl', ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (c.status === 0) curl = { path: 'curl', version: (c.stdout.split('\n')[0] ?? '').split(' ')[1] ?? '?' };
  let python: PeerAvailability['python'];
  const p = spawnSync(
    'python3',
    [
      '-c',
      'import sys; print(sys.executable); print("%d.%d.%d" % sys.version_info[:3]); print(sys.version_info >= (3, 8))',
    ],
    { encoding: 'utf8', timeout: 10_000 },
  );
  if (p.status === 0) {
    const [path, version, recent] = p.stdout.trim().split('\n');
    if (path && version && recent === 'True') python = { path, version };
  }
  return { curl, python };
}

/** What the lab half prints as it goes. */
export type Log = (line: string) => void;

interface ProcessOutcome {
  report: ChildReport | undefined;
  stdout: string;
  stderr: string;
  wallMs: number;
}

/** Bound on one client process (a netdial process can dial twice, each up to the cap; renumber: more). */
const PROCESS_KILL_MS = (1 + RENUMBER_MAX_DIALS) * RUN_CAP_MS + DNS_STOP_WAIT_MS + 8000;

/**
 * Runs one client process: collects stdout, answers READY by awaiting `onReady` then writing a line to
 * stdin, kills the process by PID after PROCESS_KILL_MS. Parses the `RESULT` line when `parse` is true.
 */
function runProcess(
  cmd: string,
  args: readonly string[],
  onReady: (() => Promise<void>) | undefined,
  parse = true,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProcessOutcome> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    let scanned = 0;
    const timer = setTimeout(() => killQuietly(child.pid), PROCESS_KILL_MS);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdin.on('error', () => {});
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      let newline = stdout.indexOf('\n', scanned);
      while (newline !== -1) {
        const line = stdout.slice(scanned, newline);
        scanned = newline + 1;
        if (line === READY_LINE) {
          const go = onReady ?? (async () => {});
          go().then(
            () => child.stdin.write('GO\n'),
            () => killQuietly(child.pid),
          );
        }
        newline = stdout.indexOf('\n', scanned);
      }
    });
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 4000) stderr += chunk;
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', () => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      let report: ChildReport | undefined;
      if (parse && line !== undefined) report = normalizeReport(JSON.parse(line.slice(RESULT_PREFIX.length)));
      resolve({ report, stdout, stderr, wallMs: performance.now() - started });
    });
  });
}

/** Python reports null where Node leaves a field out. */
function normalizeReport(raw: ChildReport): ChildReport {
  const clean = (r: RunResult | undefined): RunResult | undefined =>
    r === undefined
      ? undefined
      : (Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null)) as unknown as RunResult);
  return { ...raw, first: clean(raw.first)!, second: clean(raw.second) };
}

/** A process that produced no result line is a failed run with what stderr said. */
function brokenRun(outcome: ProcessOutcome): RunResult {
  const firstLine = outcome.stderr.trim().split('\n').slice(-1)[0] ?? '';
  return { ok: false, ms: outcome.wallMs, error: `no result (${firstLine.slice(0, 100) || 'no output'})` };
}

export type RunnerId = 'netdial' | 'node-default' | 'node-no-asf' | 'fetch' | 'curl' | 'python';

export interface Runner {
  id: RunnerId;
  /** The columns this runner fills. */
  columns: ClientId[];
  /** Why it cannot run (not installed), or undefined. */
  missing: string | undefined;
  /** One run: a fresh process (two for curl's dns-stop). */
  run(scenario: BenchScenario, job: ChildJob, onReady: () => Promise<void>): Promise<ProcessOutcome>;
}

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

function nodeRunner(id: RunnerId, columns: ClientId[], script: string, extra: string[]): Runner {
  return {
    id,
    columns,
    missing: undefined,
    run: (_scenario, job, onReady) =>
      runProcess(
        process.execPath,
        [here(script), ...extra, JSON.stringify(job)],
        onReady,
        true,
        // fetch (bundled undici) takes no CA option: the process trusts the lab's CA from the start.
        job.caFile === undefined ? process.env : { ...process.env, NODE_EXTRA_CA_CERTS: job.caFile },
      ),
  };
}

function curlRunner(peers: PeerAvailability): Runner {
  const path = peers.curl?.path;
  return {
    id: 'curl',
    columns: ['curl'],
    missing: path === undefined ? 'not installed' : undefined,
    async run(scenario, job, onReady) {
      const cmd = path!;
      if (job.mode === 'concurrent') {
        const outcome = await runProcess(
          cmd,
          curlArgs(job.names, job.port, job.capMs, job.caFile),
          undefined,
          false,
        );
        const first = parseCurlBatch(outcome.stdout, job.names.length) ?? brokenRun(outcome);
        return { ...outcome, report: { first } };
      }
      const once = async (): Promise<[ProcessOutcome, RunResult]> => {
        const outcome = await runProcess(
          cmd,
          curlArgs([scenario.name], job.port, job.capMs, job.caFile),
          undefined,
          false,
        );
        return [outcome, parseCurlLine(outcome.stdout) ?? brokenRun(outcome)];
      };
      const started = performance.now();
      const [outcome, first] = await once();
      if (job.mode === 'single') return { ...outcome, report: { first } };
      if (job.mode === 'renumber') {
        // curl keeps nothing between invocations: each dial after the move is a new curl.
        await onReady();
        const moved = job.renumber!;
        const t = performance.now();
        let last: [ProcessOutcome, RunResult] = [outcome, first];
        for (let dials = 1; dials <= moved.maxDials; dials++) {
          last = await once();
          const run = last[1];
          if (run.ok && run.address === moved.newAddress) {
            const second = { ...run, ms: performance.now() - t, dials };
            return { ...last[0], wallMs: performance.now() - started, report: { first, second } };
          }
        }
        const run = last[1];
        const error = run.ok ? `still ${run.address ?? '?'}` : (run.error ?? 'failed');
        const second = { ...run, ok: false, ms: performance.now() - t, dials: moved.maxDials, error };
        return { ...last[0], wallMs: performance.now() - started, report: { first, second } };
      }
      // dns-stop: curl keeps nothing between invocations, so its "next connect" is the next curl.
      await onReady();
      const [outcome2, second] = await once();
      return { ...outcome2, wallMs: performance.now() - started, report: { first, second } };
    },
  };
}

function pythonRunner(peers: PeerAvailability): Runner {
  const path = peers.python?.path;
  return {
    id: 'python',
    columns: ['python'],
    missing: path === undefined ? 'not installed (python3 >= 3.8)' : undefined,
    run: (_scenario, job, onReady) => runProcess(path!, pythonArgs(job), onReady),
  };
}

/** Every runner, in column order. */
export function makeRunners(peers: PeerAvailability): Runner[] {
  return [
    nodeRunner('netdial', ['netdial-cold', 'netdial-warm'], './clients/netdial-child.js', []),
    nodeRunner('node-default', ['node-default'], './clients/node-child.js', ['net-default']),
    nodeRunner('node-no-asf', ['node-no-asf'], './clients/node-child.js', ['net-no-asf']),
    nodeRunner('fetch', ['fetch'], './clients/node-child.js', ['fetch']),
    curlRunner(peers),
    pythonRunner(peers),
  ];
}

export function jobFor(scenario: BenchScenario, caFile: string | undefined): ChildJob {
  return {
    netdialTarget: scenario.netdialTarget,
    tls: scenario.tls === 'off' ? 'off' : undefined,
    caFile: scenario.tls === 'lab-ca' ? caFile : undefined,
    mode: scenario.kind,
    names: scenario.batch === undefined ? [scenario.name] : batchTargets(scenario.batch),
    port: scenario.port,
    capMs: RUN_CAP_MS,
    renumber:
      scenario.renumber === undefined
        ? undefined
        : { newAddress: scenario.renumber.newAddress, maxDials: RENUMBER_MAX_DIALS },
  };
}

/** Query counts (and types) of one process's dial(s): before the split, and from it on. */
interface QueryCounts {
  first: number;
  second: number;
  firstTypes: string[];
  secondTypes: string[];
}

/** dns-packet names types it has no codec for by number; the lab logs HTTPS (65) and SVCB (64) so. */
const TYPE_NAMES: Readonly<Record<string, string>> = { UNKNOWN_65: 'HTTPS', UNKNOWN_64: 'SVCB' };

/** Splits the DNS log of one process at `splitEpochMs`: queries before it, and from it on. */
function countQueries(lab: Lab, splitEpochMs: number | undefined): QueryCounts {
  let first = 0;
  let second = 0;
  const firstTypes = new Set<string>();
  const secondTypes = new Set<string>();
  for (const q of lab.dns.queries) {
    const type = TYPE_NAMES[q.type] ?? q.type;
    if (splitEpochMs !== undefined && performance.timeOrigin + q.atMs >= splitEpochMs) {
      second++;
      secondTypes.add(type);
    } else {
      first++;
      firstTypes.add(type);
    }
  }
  return { first, second, firstTypes: [...firstTypes].sort(), secondTypes: [...secondTypes].sort() };
}

/**
 * Turns one process's report into the runs of the runner's columns. dns-stop: the column shows the next
 * connect after DNS stopped (netdial-cold has no meaning there: a fresh process remembers nothing).
 */
function columnsOf(
  runner: Runner,
  scenario: BenchScenario,
  report: ChildReport,
  queries: QueryCounts,
): Map<ClientId, RunResult> {
  const first = { ...report.first, dnsQueries: queries.first, dnsQueryTypes: queries.firstTypes };
  const second =
    report.second === undefined
      ? undefined
      : { ...report.second, dnsQueries: queries.second, dnsQueryTypes: queries.secondTypes };
  const out = new Map<ClientId, RunResult>();
  const secondOnly = scenario.kind === 'dns-stop' || scenario.kind === 'renumber';
  if (runner.id === 'netdial') {
    if (!secondOnly) out.set('netdial-cold', first);
    out.set('netdial-warm', second ?? { ok: false, ms: 0, error: 'no second dial reported' });
    return out;
  }
  const column = runner.columns[0]!;
  if (secondOnly) {
    out.set(
      column,
      !first.ok
        ? { ...first, error: `first connect (before the change) failed: ${first.error ?? '?'}` }
        : (second ?? { ok: false, ms: 0, error: 'no second connect reported' }),
    );
  } else out.set(column, first);
  return out;
}

/** Starts a listener on the client's own loopback (localhost-like row; the renumbered row's old address). */
async function startLocalListener(port: number, host = '127.0.0.1'): Promise<http.Server> {
  const server = http.createServer((_req, res) => res.end(`${host}\n`));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  return server;
}

/** Closes a listener and every connection it holds (a moved service refuses from then on). */
function closeListener(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Why a runner cannot run this scenario (not installed; no peer expresses it; no TLS lab), or undefined. */
export function unavailable(
  runner: Runner,
  scenario: BenchScenario,
  caFile: string | undefined,
): string | undefined {
  if (runner.missing !== undefined) return runner.missing;
  if (scenario.tls === 'lab-ca' && caFile === undefined) return 'n/a — no TLS lab (openssl missing)';
  if (scenario.peersNa !== undefined && runner.id !== 'netdial') return scenario.peersNa;
  return undefined;
}

async function runScenario(
  lab: Lab,
  scenario: BenchScenario,
  runners: readonly Runner[],
  log: Log,
  caFile: string | undefined,
): Promise<ScenarioResult> {
  const job = jobFor(scenario, caFile);
  const cells = new Map<ClientId, CellResult>();
  let listener = scenario.localListener ? await startLocalListener(scenario.port) : undefined;
  const moved = scenario.renumber;
  const onReady = async (): Promise<void> => {
    if (moved !== undefined) {
      // The service moves: the old address refuses, DNS answers the new one, the old TTL runs out.
      const old = listener;
      listener = undefined;
      if (old !== undefined) await closeListener(old);
      lab.dns.update(scenario.name, {
        A: [moved.newAddress],
        ttl: RENUMBER_TTL_SECONDS,
        delayMs: { A: RENUMBER_DNS_DELAY_MS },
      });
      await new Promise((resolve) => setTimeout(resolve, RENUMBER_WAIT_MS));
      return;
    }
    await lab.dns.stop();
    await new Promise((resolve) => setTimeout(resolve, DNS_STOP_WAIT_MS));
  };
  try {
    for (const runner of runners) {
      const why = unavailable(runner, scenario, caFile);
      for (const column of runner.columns) {
        cells.set(
          column,
          why === undefined
            ? { client: column, status: 'ran', runs: [] }
            : runner.missing !== undefined
              ? { client: column, status: 'not-installed', runs: [], note: why }
              : { client: column, status: 'n/a', runs: [], note: why, short: why },
        );
      }
      if (why !== undefined) continue;
      let planned = 1;
      for (let i = 0; i < planned; i++) {
        lab.dns.resetLog();
        if (moved !== undefined) {
          // Before the move: the name answers the old address, which listens.
          lab.dns.update(scenario.name, {
            A: [moved.oldAddress],
            ttl: RENUMBER_TTL_SECONDS,
            delayMs: { A: RENUMBER_DNS_DELAY_MS },
          });
          listener ??= await startLocalListener(scenario.port, moved.oldAddress);
        }
        let outcome: ProcessOutcome;
        try {
          outcome = await runner.run(scenario, job, onReady);
        } finally {
          if (lab.dns.state !== 'running') await lab.dns.start();
        }
        if (i === 0) planned = runsFor(outcome.wallMs);
        const report = outcome.report ?? { first: brokenRun(outcome) };
        const runs = columnsOf(runner, scenario, report, countQueries(lab, report.secondStartEpochMs));
        for (const [column, run] of runs) cells.get(column)!.runs.push(run);
      }
      log(`  ${scenario.id} · ${runner.id}: ${describeRuns(runner, cells)}`);
    }
  } finally {
    if (listener !== undefined) await closeListener(listener);
  }
  if (scenario.kind === 'dns-stop' || scenario.kind === 'renumber') {
    const cold = cells.get('netdial-cold');
    if (cold !== undefined && cold.status === 'ran') {
      cold.status = 'n/a';
      cold.note = 'a fresh process remembers nothing: the next connect is in the warm column';
    }
  }
  return {
    id: scenario.id,
    title: scenario.title,
    name: scenario.name,
    port: scenario.port,
    cells: [...cells.values()],
  };
}

function describeRuns(runner: Runner, cells: Map<ClientId, CellResult>): string {
  return runner.columns
    .map((c) => {
      const runs = cells.get(c)?.runs ?? [];
      const parts = runs.map((r) => (r.ok ? `${r.ms.toFixed(0)}` : `✗${r.error ?? ''}@${r.ms.toFixed(0)}`));
      return `${c} [${parts.join(' ')}] ms`;
    })
    .join('; ');
}

/**
 * Builds the lab (default zone + the benchmark's names), runs every scenario (or those whose id is in
 * `only`), tears the lab down, and returns the results in table order.
 */
export async function runLabScenarios(
  peers: PeerAvailability,
  log: Log,
  only?: readonly string[],
): Promise<ScenarioResult[]> {
  const runners = makeRunners(peers);
  const scenarios = BENCH_SCENARIOS.filter((s) => only === undefined || only.includes(s.id));
  // The TLS listeners (and a CA of this run) only when a row needs them and openssl is there.
  const tls = scenarios.some((s) => s.tls === 'lab-ca') && opensslPresent();
  const dir = mkdtempSync(join(tmpdir(), 'netdial-bench-ca-'));
  try {
    return await withLab(
      BENCH_ZONE,
      async (lab) => {
        log(`lab ready in ${lab.setupMs.toFixed(0)} ms${tls ? ' (with TLS listeners)' : ''}`);
        let caFile: string | undefined;
        if (lab.tls !== undefined) {
          caFile = join(dir, 'lab-ca.pem');
          writeFileSync(caFile, lab.tls.ca);
        }
        const results: ScenarioResult[] = [];
        for (const scenario of scenarios) {
          const started = performance.now();
          log(`scenario ${scenario.id} (${scenario.netdialTarget ?? `${scenario.name}:${scenario.port}`})`);
          results.push(await runScenario(lab, scenario, runners, log, caFile));
          log(`  … ${((performance.now() - started) / 1000).toFixed(1)} s`);
        }
        return results;
      },
      { tls },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** True when the openssl CLI runs (the lab makes its TLS certificates with it). */
export function opensslPresent(): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}
