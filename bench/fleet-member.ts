/**
 * One process of a fleet (bench/fleet.ts, test/fleet-redis.test.ts): dials one name `dials` times and
 * prints one JSON line with what that cost. The name resolves — a resolver function, no DNS — to
 * `addresses`, rotated by one per dial as a round-robin DNS server would answer, so every address gets
 * its turn at the front. Memory per `mode`: 'none' (`memory: false`), 'local' (the Dialer's own), or
 * 'shared' (a RedisMemoryStore on 127.0.0.1:`redisPort`).
 *
 * Time lost to dead addresses, per dial: when the attempt that connected started, in ms since the dial
 * began (the dial report's timebase; the resolver answers at once). Warm-up time before the first dial
 * (loading the shared state, at most 50 ms) is counted in `wallMs`.
 *
 * argv[2]: JSON of {@link MemberConfig}. Exits 0 after printing; 2 on a broken setup.
 */
import type { Redis } from 'ioredis';
import { Dialer, type DialReport, getReport, isDialError } from '../src/index.js';
import { RedisMemoryStore } from '../src/redis.js';

export interface MemberConfig {
  mode: 'none' | 'local' | 'shared';
  port: number;
  addresses: string[];
  dials: number;
  /** Pause between dials, ms. */
  intervalMs: number;
  /** Wait before the first dial, ms (staggered starts). */
  startDelayMs: number;
  redisPort?: number | undefined;
  prefix?: string | undefined;
  /** memory.exploreProbability (default: netdial's). */
  exploreProbability?: number | undefined;
  /** Rotate the answer per dial (default true). */
  rotate?: boolean | undefined;
  /** memory.loadSharing (default true: equal endpoints shuffled per dial). */
  loadSharing?: boolean | undefined;
}

export interface MemberResult {
  mode: MemberConfig['mode'];
  dials: number;
  failed: number;
  /** Sum over dials of the winning attempt's start, ms. */
  lostMs: number;
  /** Dials that tried a dead address before the one that connected. */
  dialsThatLost: number;
  /** Of `lostMs`: lost on dials that explored a demoted address (RFC 8305 §4 history is ignored now and then, locally by design). */
  exploringLostMs: number;
  exploringDialsThatLost: number;
  /** The first dial: ms until its winning attempt started, its attempts, and the report's fromPeer. */
  first: { lostMs: number; wallMs: number; attempts: Array<[string, string]>; fromPeer: string[] };
  /** Store counters at the end (shared mode). */
  stats?: unknown;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as MemberConfig;
  let redis: Redis | undefined;
  let store: RedisMemoryStore | undefined;
  if (config.mode === 'shared') {
    const { Redis } = await import('ioredis');
    redis = new Redis({ host: '127.0.0.1', port: config.redisPort, lazyConnect: false });
    redis.on('error', () => {}); // reported through the store's diagnostics; the dials do not care
    store = new RedisMemoryStore({ client: redis, prefix: config.prefix });
    // A service connects to its Redis before it serves.
    if (redis.status !== 'ready') await new Promise((resolve) => redis?.once('ready', resolve));
  }
  let turn = 0;
  const dialer = new Dialer({
    resolver: async (_name, family) => {
      if (family !== 4) return [];
      const a = config.addresses;
      const k = config.rotate === false ? 0 : turn++ % a.length;
      return [...a.slice(k), ...a.slice(0, k)];
    },
    hostsPath: null,
    family: 4,
    memory:
      config.mode === 'none'
        ? false
        : {
            store,
            loadSharing: config.loadSharing !== false,
            ...(config.exploreProbability === undefined
              ? {}
              : { exploreProbability: config.exploreProbability }),
          },
  });
  // Let every process of the fleet get through its start-up (CPU) before it dials.
  await sleep(300 + config.startDelayMs);
  const result: MemberResult = {
    mode: config.mode,
    dials: config.dials,
    failed: 0,
    lostMs: 0,
    dialsThatLost: 0,
    exploringLostMs: 0,
    exploringDialsThatLost: 0,
    first: { lostMs: 0, wallMs: 0, attempts: [], fromPeer: [] },
  };
  for (let i = 0; i < config.dials; i++) {
    const started = performance.now();
    let report: DialReport | undefined;
    try {
      const socket = await dialer.dial(`fleet.test:${config.port}`);
      report = getReport(socket);
      socket.destroy();
    } catch (err) {
      result.failed++;
      if (!isDialError(err)) throw err;
    }
    const wallMs = performance.now() - started;
    const winner = report?.attempts.find((a) => a.outcome === 'connected');
    const lost = winner?.startMs ?? wallMs;
    result.lostMs += lost;
    const lostAny = (report?.attempts.length ?? 0) > 1;
    if (lostAny) result.dialsThatLost++;
    if (lostAny && report?.decisions.explored !== undefined) {
      result.exploringDialsThatLost++;
      result.exploringLostMs += lost;
    }
    if (i === 0) {
      // For runners that start the next process only now (after this one's observations went out).
      if (store !== undefined) await sleep(200);
      process.stdout.write('FIRST\n');
      result.first = {
        lostMs: lost,
        wallMs,
        attempts: (report?.attempts ?? []).map((a) => [a.address, a.outcome]),
        fromPeer: report?.decisions.fromPeer ?? [],
      };
    }
    if (config.intervalMs > 0) await sleep(config.intervalMs);
  }
  if (store !== undefined) {
    await sleep(300); // the last observations leave within 100 ms
    result.stats = dialer.memory?.fleet?.stats;
    store.close();
    await redis?.quit().catch(() => redis?.disconnect());
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`fleet member: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(2);
  },
);
