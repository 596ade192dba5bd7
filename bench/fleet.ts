/**
 * The fleet benchmark (`npm run bench:fleet`, and the "fleet of N processes" row of `npm run bench`):
 * N processes dial one name M times each, concurrently, 10 ms apart; the name has 3 blackholed and 2 good
 * addresses on loopback (listeners with a full accept queue: SYNs unanswered), answered in round-robin
 * order. Measured: time lost to dead addresses over the whole fleet — per dial, when the attempt that
 * connected started — with no memory, each process's local memory, and memory shared through a private
 * Redis (RedisMemoryStore). netdial's defaults otherwise (load sharing, exploration 1/20).
 *
 * Options: `--processes N` (default 8), `--dials M` (default 200). Prints a Markdown table, writes
 * bench/results/fleet.md (when run directly), and ends with one `RESULT <json>` line ({@link FleetResults}).
 * Needs redis-server (installed with apt-get when missing, as root).
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { startBlackhole } from '../test/support/blackhole.js';
import { redisUnavailable, startRedis } from '../test/support/real-servers.js';
import { type ChildResult, resultOfChild } from './child-result.js';
import { RESULT_PREFIX } from './clients/protocol.js';
import { type FleetRun, runFleet } from './fleet-run.js';

export interface FleetResults {
  processes: number;
  dialsPerProcess: number;
  deadAddresses: number;
  goodAddresses: number;
  /** Started together, and started one after another (a rolling deploy, autoscaling). */
  scenarios: Array<{ staggerMs: number; runs: FleetRun[] }>;
}

/** How far apart the processes start, per scenario, ms. */
const STAGGERS_MS = [0, 500];

const DEAD = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const GOOD = ['127.0.0.1', '127.0.0.5'];

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 1 || value > 10_000)
    throw new TypeError(`${name} must be an integer 1–10000`);
  return value;
}

export async function measureFleet(processes: number, dials: number): Promise<FleetResults> {
  const missing = redisUnavailable();
  if (missing !== undefined) throw new Error(missing);
  const redis = await startRedis();
  const hole = await startBlackhole({ hosts: DEAD, lifetimeMs: 1_800_000 });
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  try {
    for (const host of GOOD) {
      const server = net.createServer((s) => {
        sockets.add(s);
        s.on('error', () => {})
          .on('close', () => sockets.delete(s))
          .resume();
      });
      server.listen(hole.port, host);
      await once(server, 'listening');
      servers.push(server);
    }
    const base = {
      port: hole.port,
      addresses: [...DEAD, ...GOOD],
      dials,
      intervalMs: 10,
      redisPort: redis.port,
    };
    const scenarios: FleetResults['scenarios'] = [];
    for (const staggerMs of STAGGERS_MS) {
      const runs: FleetRun[] = [];
      for (const mode of ['none', 'local', 'shared'] as const) {
        const prefix = `bench-${mode}-${staggerMs}:`;
        runs.push(await runFleet(processes, { ...base, mode, prefix, staggerMs }, 1_200_000));
      }
      scenarios.push({ staggerMs, runs });
    }
    return {
      processes,
      dialsPerProcess: dials,
      deadAddresses: DEAD.length,
      goodAddresses: GOOD.length,
      scenarios,
    };
  } finally {
    for (const s of servers) s.close();
    for (const s of sockets) s.destroy();
    await hole.close();
    await redis.stop();
  }
}

/** The Markdown table: a row per scenario, a column per memory mode. */
export function renderFleetTable(r: FleetResults): string {
  const cell = (runs: FleetRun[], mode: FleetRun['mode']) => {
    const run = runs.find((x) => x.mode === mode);
    if (run === undefined) return '—';
    const failed = run.failed > 0 ? `, ${run.failed} failed` : '';
    const learning = run.lostMs - run.exploringLostMs;
    const learningDials = run.dialsThatLost - run.exploringDialsThatLost;
    return `${(learning / 1000).toFixed(1)} s (${learningDials} dials) + ${(run.exploringLostMs / 1000).toFixed(1)} s exploring (${run.exploringDialsThatLost})${failed}`;
  };
  const what = `${r.processes} processes × ${r.dialsPerProcess} dials, ${r.deadAddresses} of ${r.deadAddresses + r.goodAddresses} addresses dead`;
  return [
    '| Time lost to dead addresses: learning (dials) + exploring (dials) | no memory | local memory | shared memory (Redis) |',
    '| --- | --- | --- | --- |',
    ...r.scenarios.map(
      (s) =>
        `| fleet of ${what}, ${s.staggerMs === 0 ? 'started together' : `started ${s.staggerMs} ms apart`} | ${cell(s.runs, 'none')} | ${cell(s.runs, 'local')} | ${cell(s.runs, 'shared')} |`,
    ),
  ].join('\n');
}

/** Runs this script in a child (`npm run bench`): the fleet row, or why there is none. Killed by PID after 20 min. */
export function fleetInChild(): Promise<ChildResult<FleetResults>> {
  return resultOfChild([fileURLToPath(import.meta.url), '--no-write'], 1_200_000);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await measureFleet(arg('--processes', 8), arg('--dials', 200));
  const table = renderFleetTable(results);
  process.stdout.write(`${table}\n`);
  if (!process.argv.includes('--no-write')) {
    const out = fileURLToPath(new URL('../../bench/results/fleet.md', import.meta.url));
    writeFileSync(
      out,
      `# Fleet memory benchmark\n\nCommand: \`npm run bench:fleet\`. ${results.processes} processes dial concurrently, 10 ms between dials; ` +
        'time lost per dial = when the attempt that connected started. netdial defaults (load sharing, exploration 1/20); ' +
        '"exploring": dials that gave a demoted address its place anyway (one in 20, local by design, so a fleet does not ' +
        'retry a recovered server in lockstep), counted apart from the time spent learning (or relearning) what is dead; ' +
        'shared memory through a private redis-server on loopback.\n\n' +
        `${table}\n`,
    );
  }
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(results)}\n`);
}
