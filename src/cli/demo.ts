/**
 * `netdial demo`: the same broken names connected the naive way and with netdial, drawn on one time axis.
 * Inside the project's network lab when this machine can build one (root, Linux namespaces); otherwise
 * with what loopback allows. Never sends a query to the host's resolver: every lookup goes to the demo's
 * own DNS server (the lab's on 127.0.0.1:53, or a loopback one on a free port).
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { DEFAULT_ZONE, SCENARIOS } from '../../lab/default-zone.js';
import { withLab } from '../../lab/lab.js';
import { LAB } from '../../lab/plan.js';
import { decideForThisProcess, LAB_INSIDE_ENV, runInsideLab } from '../../lab/reexec.js';
import type { Zone } from '../../lab/zone.js';
import { Dialer, type DialerOptions } from '../dialer.js';
import { envVariable } from '../env-variable.js';
import { getReport } from '../report.js';
import type { Style } from './color.js';
import { naiveConnect } from './demo-naive.js';
import {
  type DemoScenario,
  type NetdialRun,
  renderScenario,
  renderSummary,
  type ScenarioOutcome,
} from './demo-view.js';
import { EXIT } from './exit-codes.js';

/** Exit status of the inner (re-executed) demo when the lab could not be built: the outer one falls back to loopback. */
export const LAB_SETUP_FAILED = 75;

/** How long the naive client (and netdial) may take per name, ms. */
export const DEMO_CAP_MS = 3000;

/** Learning dials the memory lane makes at most before its shown dial (stops at the first failure learnt). */
const MAX_LEARNING_DIALS = 3;

/** Where the demo runs. */
export type DemoMode = { kind: 'lab-here' } | { kind: 'reexec' } | { kind: 'loopback'; reason: string };

/**
 * Decides where the demo runs: --loopback -> loopback; PID 1 of the lab's namespaces (re-executed) -> build
 * the lab here; inside a lab someone else runs -> loopback (that lab's port 53 is taken); lab possible ->
 * re-execute inside fresh namespaces; otherwise loopback, saying why.
 */
export function decideDemoMode(facts: {
  forceLoopback: boolean;
  insideEnv: boolean;
  pid: number;
  labUnavailableReason: () => string | undefined;
}): DemoMode {
  if (facts.forceLoopback) return { kind: 'loopback', reason: 'asked for with --loopback' };
  if (facts.insideEnv) {
    return facts.pid === 1
      ? { kind: 'lab-here' }
      : { kind: 'loopback', reason: 'already inside a lab run by another process' };
  }
  const reason = facts.labUnavailableReason();
  return reason === undefined ? { kind: 'reexec' } : { kind: 'loopback', reason };
}

/** What the demo writes to and listens to. */
export interface DemoIo {
  out: { write(text: string): unknown };
  err: { write(text: string): unknown };
  style: Style;
  signal: AbortSignal;
  /** Bar area width, columns. */
  width: number;
}

/** Runs the demo; resolves with the exit status. `scriptPath` and `argv` re-execute it inside the lab. */
export async function runDemo(
  options: { loopback: boolean },
  io: DemoIo,
  reexec: { scriptPath: string; argv: readonly string[] },
): Promise<number> {
  const mode = decideDemoMode({
    forceLoopback: options.loopback,
    insideEnv: envVariable(process.env, LAB_INSIDE_ENV) === '1',
    pid: process.pid,
    labUnavailableReason: () => {
      const d = decideForThisProcess();
      return d.action === 'skip' || d.action === 'fail' ? d.reason : undefined;
    },
  });
  switch (mode.kind) {
    case 'lab-here':
      return runInLab(io);
    case 'reexec': {
      const code = await runInsideLab(reexec.scriptPath, {
        args: reexec.argv,
        execArgv: [],
        letInnerHandleInterrupt: true,
      });
      if (code !== LAB_SETUP_FAILED) return code;
      return runOnLoopback(io, 'the lab could not be built');
    }
    case 'loopback':
      return runOnLoopback(io, mode.reason);
  }
}

const LEGEND = (capMs: number) =>
  [
    'Each name is connected three ways, drawn on one time axis (ms since each began):',
    `  naive    resolve A and AAAA, wait for both, connect to the FIRST address only (gives up after ${capMs / 1000} s)`,
    '  netdial  netdial with a fresh Dialer without memory: RFC 8305 Happy Eyeballs race in DNS order',
    '  again    netdial once more with a Dialer that remembers its earlier dials of the name',
    '           (failed endpoints tried last, answers cached, attempt delay from measured RTTs)',
    '',
  ].join('\n');

/** The lab scenarios, in the order shown, with what to notice. */
function labScenarios(): DemoScenario[] {
  const port = LAB.ports.http;
  const notices: Record<string, string> = {
    'first-a-blackholed':
      'The first A address never answers. Naive waits on it; netdial starts the next address when the attempt delay runs out.',
    'aaaa-blackholed':
      'IPv6 comes first and is blackholed. netdial falls back to IPv4 after the attempt delay.',
    'aaaa-slow':
      'The AAAA answer takes 1 s. Naive waits for both answers; netdial connects over IPv4 50 ms after the A answer (resolution delay).',
    'mixed-eight':
      'Eight A records, mostly bad. netdial staggers attempts and moves on at once when one is refused.',
    'localhost-like':
      '::1 comes first and is refused (nothing listens there); netdial moves on to 127.0.0.1 at once.',
  };
  return Object.entries(notices).map(([label, notice]) => {
    const name = `${label}.${LAB.zoneSuffix}`;
    const description = SCENARIOS.find((s) => s.name === name)?.description ?? '';
    return { name, port, description, notice };
  });
}

async function runInLab(io: DemoIo): Promise<number> {
  let started = false;
  try {
    return await withLab(
      DEFAULT_ZONE,
      async () => {
        started = true;
        // localhost-like points at the client's own loopback: listen on 127.0.0.1 only, so ::1 is refused.
        const listener = await listen('127.0.0.1', LAB.ports.http);
        try {
          io.out.write(
            `${io.style.bold('netdial demo')} — in the network lab: network namespaces, DNS server on ${LAB.dnsServer.host}:53, zone ${LAB.zoneSuffix}\n\n${LEGEND(DEMO_CAP_MS)}\n`,
          );
          return await runScenarios(labScenarios(), { servers: [LAB.dnsServer.host], dialer: {} }, io);
        } finally {
          await closeServer(listener);
        }
      },
      { slowPathDelayMs: false },
    );
  } catch (error) {
    if (started) throw error;
    io.err.write(`netdial demo: cannot build the lab (${(error as Error).message}); using loopback\n`);
    return LAB_SETUP_FAILED;
  }
}

async function runOnLoopback(io: DemoIo, reason: string): Promise<number> {
  const { startLoopbackDns } = await import('./loopback-dns.js');
  // Port A: 127.0.0.1 only (so ::1 is refused); port B: both 127.0.0.1 and ::1.
  const onlyV4 = await listen('127.0.0.1', 0);
  const both = await listenBoth();
  const portA = (onlyV4.address() as net.AddressInfo).port;
  const portB = (both[0].address() as net.AddressInfo).port;
  const apex = 'demo.test';
  const zone: Zone = {
    [`localhost-like.${apex}`]: { A: ['127.0.0.1'], AAAA: ['::1'] },
    [`aaaa-slow.${apex}`]: { A: ['127.0.0.1'], AAAA: ['::1'], delayMs: { AAAA: 1000 } },
    [`drop-aaaa.${apex}`]: { A: ['127.0.0.1'], AAAA: ['::1'], fail: { AAAA: 'DROP' } },
  };
  const dns = await startLoopbackDns(zone, apex);
  try {
    const server = `127.0.0.1:${dns.port}`;
    io.out.write(
      `${io.style.bold('netdial demo')} — on loopback (${reason}): DNS server on ${server}, listeners on 127.0.0.1:${portA} and [::1]/127.0.0.1:${portB}\n\n${LEGEND(DEMO_CAP_MS)}\n`,
    );
    const scenarios: DemoScenario[] = [
      {
        name: `localhost-like.${apex}`,
        port: portA,
        description: 'AAAA ::1 (refused: nothing listens there) + A 127.0.0.1 (listening)',
        notice: '::1 comes first and is refused; netdial moves on to 127.0.0.1 at once.',
      },
      {
        name: `aaaa-slow.${apex}`,
        port: portB,
        description: 'AAAA ::1 and A 127.0.0.1, both listening; the AAAA answer takes 1 s',
        notice:
          'Naive waits for both answers; netdial connects over IPv4 50 ms after the A answer (resolution delay).',
      },
      {
        name: `drop-aaaa.${apex}`,
        port: portB,
        description: 'A 127.0.0.1; the DNS server never answers the AAAA query',
        notice: 'Naive waits for an AAAA answer that never comes; netdial connects 50 ms after the A answer.',
      },
    ];
    // resolver 'dns' with our server only, no hosts file: nothing reaches the host's resolver.
    return await runScenarios(
      scenarios,
      { servers: [server], dialer: { resolver: 'dns', nameservers: [server], hostsPath: null } },
      io,
    );
  } finally {
    await dns.close();
    await Promise.all([onlyV4, ...both].map(closeServer));
  }
}

async function runScenarios(
  scenarios: readonly DemoScenario[],
  env: { servers: string[]; dialer: DialerOptions },
  io: DemoIo,
): Promise<number> {
  const outcomes: ScenarioOutcome[] = [];
  for (const scenario of scenarios) {
    if (io.signal.aborted) break;
    const outcome = await runScenario(scenario, env, io.signal);
    if (io.signal.aborted) break;
    outcomes.push(outcome);
    io.out.write(renderScenario(outcome, { style: io.style, width: io.width, capMs: DEMO_CAP_MS }));
  }
  if (io.signal.aborted) {
    io.err.write('netdial: interrupted\n');
    return EXIT.interrupted;
  }
  io.out.write(renderSummary(outcomes, io.style));
  io.out.write(
    `\nSee one dial in detail: netdial trace HOST:PORT (the waterfall) · netdial resolve NAME · netdial --help\n`,
  );
  return EXIT.ok;
}

/**
 * Phase 1, concurrently: the naive client, netdial without memory, and the memory lane's learning dials.
 * Phase 2: the memory lane's shown dial (late DNS answers of phase 1 have reached its cache by then).
 */
async function runScenario(
  scenario: DemoScenario,
  env: { servers: string[]; dialer: DialerOptions },
  signal: AbortSignal,
): Promise<ScenarioOutcome> {
  const fresh = new Dialer({ ...env.dialer, memory: false });
  const remembering = new Dialer({ ...env.dialer });
  const target = { host: scenario.name, port: scenario.port };
  const [naive, freshRun, earlierDials] = await Promise.all([
    naiveConnect(scenario.name, scenario.port, { servers: env.servers, capMs: DEMO_CAP_MS, signal }),
    dialOnce(fresh, target, signal),
    learn(remembering, target, signal),
  ]);
  const again = await dialOnce(remembering, target, signal);
  again.earlierDials = earlierDials;
  return { scenario, naive, fresh: freshRun, again };
}

/**
 * The memory lane's earlier dials: a Dialer with memory shuffles equal endpoints (load sharing), so one
 * dial may connect before it meets the failing address. Dials again (at most MAX_LEARNING_DIALS) until the
 * memory knows a failing endpoint of the target or every address the last dial ordered; returns how many.
 */
async function learn(
  dialer: Dialer,
  target: { host: string; port: number },
  signal: AbortSignal,
): Promise<number> {
  let dials = 0;
  while (dials < MAX_LEARNING_DIALS && !signal.aborted) {
    const run = await dialOnce(dialer, target, signal);
    dials++;
    const known = (dialer.exportMemory()?.endpoints.endpoints ?? []).filter((e) => e.port === target.port);
    if (known.some((e) => e.lastOutcome === 'failure')) break;
    const ordered = run.report?.order.map((o) => o.address) ?? [];
    if (ordered.every((address) => known.some((e) => e.address === address))) break;
  }
  return dials;
}

/** One dial, socket closed at once; never rejects. */
async function dialOnce(
  dialer: Dialer,
  target: { host: string; port: number },
  signal: AbortSignal,
): Promise<NetdialRun> {
  const started = performance.now();
  try {
    const socket = await dialer.dial(target, { timeout: DEMO_CAP_MS, signal });
    socket.destroy();
    const report = getReport(socket);
    return {
      ok: true,
      durationMs: report?.durationMs ?? performance.now() - started,
      report,
      error: undefined,
    };
  } catch (error) {
    const elapsed = (error as { elapsedMs?: number }).elapsedMs;
    return { ok: false, durationMs: elapsed ?? performance.now() - started, report: undefined, error };
  }
}

function listen(host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.end();
    });
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * A listener on 127.0.0.1 and one on ::1, on the same port (a few tries for a port free on both); only the
 * IPv4 one where loopback has no ::1.
 */
async function listenBoth(): Promise<[net.Server, ...net.Server[]]> {
  for (let i = 0; ; i++) {
    const v4 = await listen('127.0.0.1', 0);
    try {
      const v6 = await listen('::1', (v4.address() as net.AddressInfo).port);
      return [v4, v6];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') return [v4];
      await closeServer(v4);
      if (i >= 9) throw error;
    }
  }
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
