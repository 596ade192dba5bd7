/**
 * Soak under faults, in the network lab: many dials over a few hundred names while addresses are
 * blackholed, refused or unreachable, the DNS server is slow, drops queries, answers SERVFAIL, goes
 * silent or closes its port, the zone changes and dials are aborted at random — all driven by a seeded
 * PRNG so a run can be repeated. Checked for every dial: it connected to an address that is really
 * reachable and was served for that name, or failed with a DialError that lists its attempts (an
 * AbortError when we aborted it), within the timeout. Checked at the end: file descriptors, active
 * handles and server-side connections back to baseline; RSS growth after warm-up reported.
 *
 * `npm run soak [-- --dials N --concurrency N --timeout-ms N --names N --seed N]` runs the long version
 * and writes bench/results/soak.md; test/soak.test.ts runs a short one through `runSoak`.
 */
import { mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Lab, LAB, type LabOptions, withLab, type ZoneRecordSet } from '../lab/index.js';
import { decideForThisProcess, runInsideLab } from '../lab/reexec.js';
import { Dialer, isAbortError, isDialError } from '../src/index.js';
import { createRandom, type RandomSource } from '../src/memory/random.js';

/** Parameters of one soak run. Times are milliseconds. */
export interface SoakOptions {
  /** Dials in total. */
  dials: number;
  /** Dials in flight at once. */
  concurrency: number;
  /** The Dialer's `timeout` for every dial. */
  timeoutMs: number;
  /** Names in the zone. */
  names: number;
  /** PRNG seed: same seed, same plan, same fault schedule (timing still varies). */
  seed: number;
  /** A fault (zone change, DNS outage, …) every this many ms. */
  faultIntervalMs: number;
  /**
   * DNS outages (server silent or port closed) happen only in the first `outageWindowMs` of every
   * `outageCycleMs`, so that the rest of each cycle, once failures cached during an outage expired
   * (DnsCache errorTtlSeconds, 5 s), can check that names with only good addresses always connect.
   */
  outageCycleMs: number;
  outageWindowMs: number;
  /** Share of dials aborted at a random moment (0–1). */
  abortRate: number;
  /** RSS is taken as the baseline once this share of the dials is done (0–1). */
  warmupFraction: number;
  /** No new dial starts after this long; the run then drains. */
  maxDurationMs: number;
  /** Called every `progressEvery` finished dials. */
  onProgress?: ((done: number, elapsedMs: number) => void) | undefined;
  progressEvery?: number | undefined;
}

/** The short run of test/soak.test.ts. */
export const TEST_SOAK: SoakOptions = {
  dials: 1500,
  concurrency: 32,
  timeoutMs: 2000,
  names: 300,
  seed: 8,
  faultIntervalMs: 150,
  outageCycleMs: 10_000,
  outageWindowMs: 3000,
  abortRate: 0.05,
  warmupFraction: 0.3,
  maxDurationMs: 40_000,
};

/**
 * Lab options for a soak: the DNS client gives up on a query after about 3 s (1 s, then 2 s) instead of its
 * defaults (5 s × 4 tries), because queries kept alive to fill the cache after their dial ended (RFC 8305
 * §5) hold a UDP socket until the DNS client gives up, and the run waits for descriptors to come back.
 */
export const SOAK_LAB_OPTIONS: LabOptions = Object.freeze({ resolvOptions: ['timeout:1', 'attempts:2'] });

/** The long run of `npm run soak`. */
export const LONG_SOAK: SoakOptions = {
  ...TEST_SOAK,
  dials: 20_000,
  maxDurationMs: 600_000,
  progressEvery: 2000,
};

/** What each name of the plan is for. */
export type NameKind = 'good' | 'mixed' | 'bad' | 'dnsFault' | 'alias' | 'missing' | 'mutable';

interface NamePlan {
  name: string;
  kind: NameKind;
}

interface Plan {
  names: NamePlan[];
  zone: Record<string, ZoneRecordSet>;
  /** Every address each name (through its CNAME) was ever served with. */
  served: Map<string, Set<string>>;
  /** alias -> target. */
  aliases: Map<string, string>;
}

/** Outcome counts of one kind of name. */
export interface KindStats {
  dials: number;
  connected: number;
  dialErrors: number;
  aborted: number;
}

/** What a soak run found. */
export interface SoakResult {
  options: Omit<SoakOptions, 'onProgress'>;
  durationMs: number;
  dials: number;
  connected: number;
  dialErrors: number;
  abortErrors: number;
  /** Dials we aborted (they may still have connected or failed first). */
  abortedByUs: number;
  byKind: Record<NameKind, KindStats>;
  /** Dials of 'good' names checked for "must connect" (not aborted, not near a DNS outage). */
  goodChecked: number;
  /** DialError codes and how often. */
  errorCodes: Record<string, number>;
  /** Dial duration percentiles, ms. */
  durationMsPercentiles: { p50: number; p95: number; p99: number; max: number };
  /** Broken invariants (at most 50 listed) and their total. */
  violations: string[];
  violationCount: number;
  faults: Record<string, number>;
  /** Descriptors before and after; `settleMs`: how long after the last dial they took to come back. */
  fds: { baseline: number; after: number; settleMs: number };
  handles: { baseline: Record<string, number>; after: Record<string, number> };
  serverConnectionsOpenAfter: number;
  serverConnections: number;
  rss: {
    warmupMB: number;
    endMB: number;
    growthMB: number;
    samples: Array<{ dials: number; rssMB: number; note: string }>;
  };
  slowPath: boolean;
}

// ---------------------------------------------------------------------------------------------------
// The plan

const KINDS: ReadonlyArray<[NameKind, number]> = [
  ['good', 0.2],
  ['mixed', 0.25],
  ['bad', 0.12],
  ['dnsFault', 0.15],
  ['alias', 0.06],
  ['missing', 0.05],
  ['mutable', 0.17],
];

const REACHABLE = new Set<string>([
  ...LAB.addresses.good.v4,
  ...LAB.addresses.good.v6,
  ...LAB.addresses.slow.v4,
  ...LAB.addresses.slow.v6,
]);

function pick<T>(random: RandomSource, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!;
}

function chance(random: RandomSource, p: number): boolean {
  return random() < p;
}

type Condition = 'good' | 'slow' | 'refused' | 'blackholed' | 'unreachable' | 'clientUnreachable';

function addressOf(random: RandomSource, condition: Condition, family: 4 | 6): string {
  const set = LAB.addresses[condition];
  return pick(random, family === 4 ? set.v4 : set.v6);
}

/** A record set of `count` addresses in the given conditions, both families mixed. */
function recordSet(random: RandomSource, conditions: readonly Condition[], count: number): ZoneRecordSet {
  const A = new Set<string>();
  const AAAA = new Set<string>();
  for (let i = 0; i < count; i++) {
    const family = chance(random, 0.5) ? 4 : 6;
    (family === 4 ? A : AAAA).add(addressOf(random, pick(random, conditions), family));
  }
  const rs: ZoneRecordSet = { ttl: pick(random, [1, 2, 5, 30]) };
  return { ...rs, ...(A.size > 0 ? { A: [...A] } : {}), ...(AAAA.size > 0 ? { AAAA: [...AAAA] } : {}) };
}

function withGood(random: RandomSource, rs: ZoneRecordSet, slowPath: boolean): ZoneRecordSet {
  const family = chance(random, 0.5) ? 4 : 6;
  const address = addressOf(random, slowPath && chance(random, 0.2) ? 'slow' : 'good', family);
  const key = family === 4 ? 'A' : 'AAAA';
  const list = [...(rs[key] ?? [])];
  list.splice(Math.floor(random() * (list.length + 1)), 0, address);
  return { ...rs, [key]: [...new Set(list)] };
}

function randomFailure(random: RandomSource): NonNullable<ZoneRecordSet['fail']>['A'] {
  return pick(random, ['SERVFAIL', 'DROP', 'NXDOMAIN', 'NODATA', 'REFUSED'] as const);
}

/** A record set for a mutable name: any of the shapes above. */
function mutableRecordSet(random: RandomSource, slowPath: boolean): ZoneRecordSet {
  const bad: Condition[] = ['refused', 'blackholed', 'unreachable', 'clientUnreachable'];
  const base = recordSet(random, bad, 1 + Math.floor(random() * 4));
  const rs = chance(random, 0.7) ? withGood(random, base, slowPath) : base;
  if (chance(random, 0.2))
    return { ...rs, fail: { [chance(random, 0.5) ? 'A' : 'AAAA']: randomFailure(random) } };
  if (chance(random, 0.2))
    return { ...rs, delayMs: { A: Math.floor(random() * 400), AAAA: Math.floor(random() * 400) } };
  return rs;
}

function addressesOf(rs: ZoneRecordSet): string[] {
  return [...(rs.A ?? []), ...(rs.AAAA ?? [])];
}

/** Builds the names and their zone from `random`. */
export function buildPlan(random: RandomSource, count: number, slowPath: boolean): Plan {
  const plan: Plan = { names: [], zone: {}, served: new Map(), aliases: new Map() };
  const bad: Condition[] = ['refused', 'blackholed', 'unreachable', 'clientUnreachable'];
  const mixedConditions: Condition[] = slowPath ? [...bad, 'good', 'slow'] : [...bad, 'good'];
  const targets: string[] = [];
  const pending: NamePlan[] = [];
  for (let i = 0; i < count; i++) {
    let r = random();
    let kind: NameKind = 'good';
    for (const [k, share] of KINDS) {
      if (r < share) {
        kind = k;
        break;
      }
      r -= share;
    }
    const name = `s${i}-${kind}.soak.${LAB.zoneSuffix}`;
    const entry = { name, kind };
    plan.names.push(entry);
    let rs: ZoneRecordSet | undefined;
    switch (kind) {
      case 'good':
        rs = recordSet(random, ['good'], 1 + Math.floor(random() * 3));
        targets.push(name);
        break;
      case 'mixed':
        rs = withGood(random, recordSet(random, mixedConditions, 1 + Math.floor(random() * 7)), slowPath);
        targets.push(name);
        break;
      case 'bad':
        rs = recordSet(random, bad, 1 + Math.floor(random() * 4));
        break;
      case 'dnsFault': {
        rs = withGood(random, recordSet(random, ['good'], 1 + Math.floor(random() * 2)), slowPath);
        const which = pick(random, ['A', 'AAAA', 'both', 'delay', 'truncate'] as const);
        if (which === 'delay')
          rs = { ...rs, delayMs: { A: Math.floor(random() * 600), AAAA: Math.floor(random() * 600) } };
        else if (which === 'truncate') rs = { ...rs, truncate: true };
        else if (which === 'both')
          rs = { ...rs, fail: { A: randomFailure(random), AAAA: randomFailure(random) } };
        else rs = { ...rs, fail: { [which]: randomFailure(random) } };
        break;
      }
      case 'alias':
        pending.push(entry);
        break;
      case 'missing':
        break;
      case 'mutable':
        rs = mutableRecordSet(random, slowPath);
        break;
    }
    if (rs !== undefined) {
      plan.zone[name] = rs;
      plan.served.set(name, new Set(addressesOf(rs)));
    } else if (kind === 'missing') {
      plan.served.set(name, new Set());
    }
  }
  for (const alias of pending) {
    const target = targets.length > 0 ? pick(random, targets) : `nowhere.soak.${LAB.zoneSuffix}`;
    plan.zone[alias.name] = { CNAME: target, ttl: 5 };
    plan.aliases.set(alias.name, target);
  }
  return plan;
}

/** Addresses a name may legitimately connect to: what it (or its CNAME target) was ever served. */
function servedFor(plan: Plan, name: string): Set<string> {
  return plan.served.get(plan.aliases.get(name) ?? name) ?? new Set();
}

// ---------------------------------------------------------------------------------------------------
// Measurements

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** What each open descriptor is (socket:[inode], pipe:[…], a path), for a report on a leak. */
function fdTargets(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // closed while listing (the listing's own descriptor)
    }
  }
  return out;
}

function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

let gcFunction: (() => void) | undefined;
/** A full GC before memory readings (exposed at run time so `node dist/soak/run.js` needs no flag). */
function collectGarbage(): void {
  if (gcFunction === undefined) {
    v8.setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as () => void;
  }
  gcFunction();
}

function rssMB(): number {
  collectGarbage();
  return Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `ok` for up to `ms`, with a GC between tries (sockets of finished queries close when collected). */
async function settle(ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (!(await ok()) && performance.now() < until) {
    collectGarbage();
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------------
// The run

/**
 * Runs one soak in `lab` (its zone is replaced by the plan). Resolves with what was found; never throws
 * for a broken invariant (those are in `violations`), only for a broken lab.
 */
export async function runSoak(lab: Lab, options: SoakOptions): Promise<SoakResult> {
  const random = createRandom(options.seed);
  const slowPath = lab.slowPathDelayMs !== undefined;
  const plan = buildPlan(random, options.names, slowPath);
  lab.dns.setZone(plan.zone);
  const mutable = plan.names.filter((n) => n.kind === 'mutable');
  const port = LAB.ports.discard;

  const violations: string[] = [];
  let violationCount = 0;
  const violate = (text: string): void => {
    violationCount++;
    if (violations.length < 50) violations.push(text);
  };
  const byKind = Object.fromEntries(
    KINDS.map(([k]) => [k, { dials: 0, connected: 0, dialErrors: 0, aborted: 0 }]),
  ) as Record<NameKind, KindStats>;
  const errorCodes: Record<string, number> = {};
  const faults: Record<string, number> = {};
  const durations: number[] = [];
  const rssSamples: Array<{ dials: number; rssMB: number; note: string }> = [];
  let connected = 0;
  let dialErrors = 0;
  let abortErrors = 0;
  let abortedByUs = 0;

  // DNS outages: a dial that overlaps one, or starts while failures it caused are cached, may fail
  // even for a good name.
  let outageDepth = 0;
  let outageSerial = 0;
  let lastOutageEndMs = Number.NEGATIVE_INFINITY;
  let goodChecked = 0;
  const ERROR_CACHE_MS = 5000 + 500;

  await settle(() => true, 0);
  const fdBaseline = fdCount();
  const fdTargetsBaseline = new Set(fdTargets());
  const handlesBaseline = handleCounts();
  const dialer = new Dialer({ resolver: 'dns', timeout: options.timeoutMs });
  lab.resetServerConnections();

  const started = performance.now();
  let next = 0;
  let done = 0;
  let warmupRss: number | undefined;
  let stopFaults = false;

  const faultLoop = (async () => {
    const faultRandom = createRandom(options.seed ^ 0x5eed);
    while (!stopFaults) {
      await sleep(options.faultIntervalMs);
      if (stopFaults) break;
      const stormy = (performance.now() - started) % options.outageCycleMs < options.outageWindowMs;
      const r = faultRandom();
      if ((r < 0.55 || (!stormy && r < 0.8)) && mutable.length > 0) {
        const target = pick(faultRandom, mutable);
        const rs = mutableRecordSet(faultRandom, slowPath);
        for (const a of addressesOf(rs)) plan.served.get(target.name)!.add(a);
        lab.dns.update(target.name, rs);
        faults.zoneChange = (faults.zoneChange ?? 0) + 1;
      } else if (stormy && r < 0.7) {
        outageDepth++;
        outageSerial++;
        await lab.dns.stop({ mode: 'silent' });
        await sleep(100 + Math.floor(faultRandom() * 300));
        await lab.dns.start();
        outageDepth--;
        lastOutageEndMs = performance.now();
        faults.dnsSilent = (faults.dnsSilent ?? 0) + 1;
      } else if (stormy && r < 0.8) {
        outageDepth++;
        outageSerial++;
        await lab.dns.stop();
        await sleep(100 + Math.floor(faultRandom() * 200));
        await lab.dns.start();
        outageDepth--;
        lastOutageEndMs = performance.now();
        faults.dnsClosed = (faults.dnsClosed ?? 0) + 1;
      } else {
        faults.none = (faults.none ?? 0) + 1;
      }
    }
  })();

  const dialOne = async (index: number): Promise<void> => {
    const dialRandom = createRandom(options.seed * 1_000_003 + index);
    const entry = pick(dialRandom, plan.names);
    const stats = byKind[entry.kind];
    stats.dials++;
    const controller = new AbortController();
    let abortTimer: NodeJS.Timeout | undefined;
    const abort = chance(dialRandom, options.abortRate);
    if (abort) {
      abortedByUs++;
      stats.aborted++;
      const atMs = Math.floor(dialRandom() * options.timeoutMs * 0.75);
      if (atMs < 20) controller.abort(new Error('soak: aborted before the dial'));
      else abortTimer = setTimeout(() => controller.abort(new Error('soak: aborted')), atMs);
    }
    const t0 = performance.now();
    const outageNear = outageDepth > 0 || t0 - lastOutageEndMs < ERROR_CACHE_MS;
    const serialAtStart = outageSerial;
    let socket: net.Socket | undefined;
    try {
      socket = await dialer.dial({ host: `${entry.name}.`, port }, { signal: controller.signal });
      const ms = performance.now() - t0;
      durations.push(ms);
      if (entry.kind === 'good' && !abort && !outageNear && outageSerial === serialAtStart) goodChecked++;
      connected++;
      stats.connected++;
      const remote = socket.remoteAddress ?? '';
      if (!REACHABLE.has(remote))
        violate(`dial ${index} ${entry.name}: connected to ${remote}, not a reachable lab address`);
      else if (!servedFor(plan, entry.name).has(remote)) {
        violate(`dial ${index} ${entry.name}: connected to ${remote}, never served for that name`);
      }
      if (socket.remotePort !== port)
        violate(`dial ${index} ${entry.name}: remote port ${socket.remotePort}`);
      if (socket.destroyed) violate(`dial ${index} ${entry.name}: handed over a destroyed socket`);
      if (ms > options.timeoutMs + 1000)
        violate(`dial ${index} ${entry.name}: connected after ${Math.round(ms)} ms`);
    } catch (e) {
      const ms = performance.now() - t0;
      durations.push(ms);
      if (isDialError(e)) {
        dialErrors++;
        stats.dialErrors++;
        errorCodes[e.code] = (errorCodes[e.code] ?? 0) + 1;
        if (e.attempts.length === 0)
          violate(`dial ${index} ${entry.name}: DialError ${e.code} lists no attempts`);
        for (const a of e.attempts) {
          if (
            !['dns', 'tcp', 'tls', 'policy'].includes(a.phase) ||
            typeof a.code !== 'string' ||
            a.code === ''
          ) {
            violate(`dial ${index} ${entry.name}: malformed attempt ${JSON.stringify(a)}`);
            break;
          }
        }
        if (
          entry.kind === 'good' &&
          !abort &&
          !outageNear &&
          outageSerial === serialAtStart &&
          outageDepth === 0
        ) {
          goodChecked++;
          violate(`dial ${index} ${entry.name}: a name with only good addresses failed: ${e.message}`);
        }
        if (ms > options.timeoutMs + 1000)
          violate(`dial ${index} ${entry.name}: failed after ${Math.round(ms)} ms`);
      } else if (isAbortError(e)) {
        abortErrors++;
        if (!abort) violate(`dial ${index} ${entry.name}: AbortError though nobody aborted it`);
      } else {
        violate(`dial ${index} ${entry.name}: neither DialError nor AbortError: ${String(e)}`);
      }
    } finally {
      if (abortTimer !== undefined) clearTimeout(abortTimer);
      socket?.destroy();
    }
  };

  const worker = async (): Promise<void> => {
    while (next < options.dials && performance.now() - started < options.maxDurationMs) {
      const index = next++;
      await dialOne(index);
      done++;
      if (warmupRss === undefined && done >= options.dials * options.warmupFraction) {
        warmupRss = rssMB();
        rssSamples.push({ dials: done, rssMB: warmupRss, note: 'warm-up done' });
      }
      const every = options.progressEvery ?? 0;
      if (every > 0 && done % every === 0) {
        if (rssSamples.at(-1)?.dials !== done) rssSamples.push({ dials: done, rssMB: rssMB(), note: '' });
        options.onProgress?.(done, performance.now() - started);
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    stopFaults = true;
    await faultLoop;
    await lab.dns.start();
  }
  const durationMs = performance.now() - started;
  if (done < options.dials)
    violate(`only ${done} of ${options.dials} dials ran within ${options.maxDurationMs} ms`);

  // Leaks: descriptors and handles back to baseline, every server-side connection closed.
  let fdsAfter = fdCount();
  const settleStarted = performance.now();
  await settle(() => {
    fdsAfter = fdCount();
    return fdsAfter <= fdBaseline;
  }, 20_000);
  const fdSettleMs = Math.round(performance.now() - settleStarted);
  let handlesAfter = handleCounts();
  const grown = (): string[] =>
    Object.entries(handlesAfter)
      .filter(([k, n]) => n > (handlesBaseline[k] ?? 0))
      .map(([k, n]) => `${k} ${handlesBaseline[k] ?? 0}→${n}`);
  await settle(() => {
    handlesAfter = handleCounts();
    return grown().length === 0;
  }, 3000);
  if (fdsAfter > fdBaseline) {
    const extra = fdTargets().filter((t) => !fdTargetsBaseline.has(t));
    violate(`file descriptors: ${fdBaseline} before, ${fdsAfter} after (new: ${extra.join(', ')})`);
  }
  if (grown().length > 0) violate(`active handles grew: ${grown().join(', ')}`);
  let serverConnections = 0;
  let openAfter = 0;
  await settle(async () => {
    const list = await lab.serverConnections();
    serverConnections = list.length;
    openAfter = list.filter((c) => c.closedAtMs === undefined).length;
    return openAfter === 0;
  }, 3000);
  if (openAfter > 0) violate(`${openAfter} of ${serverConnections} server-side connections still open`);

  const endRss = rssMB();
  rssSamples.push({ dials: done, rssMB: endRss, note: 'end, after the leak checks' });
  const sorted = [...durations].sort((a, b) => a - b);
  const { onProgress: _unused, ...shown } = options;
  return {
    options: shown,
    durationMs: Math.round(durationMs),
    dials: done,
    connected,
    dialErrors,
    abortErrors,
    abortedByUs,
    byKind,
    goodChecked,
    errorCodes,
    durationMsPercentiles: {
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      p99: percentile(sorted, 0.99),
      max: Math.round(sorted[sorted.length - 1] ?? 0),
    },
    violations,
    violationCount,
    faults,
    fds: { baseline: fdBaseline, after: fdsAfter, settleMs: fdSettleMs },
    handles: { baseline: handlesBaseline, after: handlesAfter },
    serverConnectionsOpenAfter: openAfter,
    serverConnections,
    rss: {
      warmupMB: warmupRss ?? endRss,
      endMB: endRss,
      growthMB: Math.round((endRss - (warmupRss ?? endRss)) * 10) / 10,
      samples: rssSamples,
    },
    slowPath,
  };
}

// ---------------------------------------------------------------------------------------------------
// Report

/** The soak result as Markdown (bench/results/soak.md). */
export function renderSoakReport(r: SoakResult, when: Date = new Date()): string {
  const o = r.options;
  const lines = [
    '# Soak under faults',
    '',
    `Run ${when.toISOString()} with Node ${process.version} (\`npm run soak\`, source soak/run.ts).`,
    '',
    `${r.dials} dials over ${o.names} names, ${o.concurrency} in flight, timeout ${o.timeoutMs} ms, seed ${o.seed}; ` +
      `a fault every ${o.faultIntervalMs} ms, ${Math.round(o.abortRate * 100)} % of dials aborted at a random moment; ` +
      `slow path ${r.slowPath ? 'on' : 'off (no python3)'}. Took ${(r.durationMs / 1000).toFixed(1)} s.`,
    '',
    `**Invariants: ${r.violationCount === 0 ? 'all held' : `${r.violationCount} broken`}.** Every dial connected ` +
      'to a reachable address served for its name, or failed with a DialError listing its attempts (an AbortError ' +
      'only when aborted), within timeout + 1 s; descriptors, handles and server-side connections back to baseline.',
    '',
    '## Outcomes',
    '',
    `Connected ${r.connected}, DialError ${r.dialErrors}, AbortError ${r.abortErrors} (aborted by the soak: ${r.abortedByUs}). ` +
      `${r.goodChecked} dials of names with only good addresses, away from DNS outages, were checked to connect.`,
    '',
    '| names | dials | connected | DialError | aborted by us |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...Object.entries(r.byKind).map(
      ([k, s]) => `| ${k} | ${s.dials} | ${s.connected} | ${s.dialErrors} | ${s.aborted} |`,
    ),
    '',
    `DialError codes: ${
      Object.entries(r.errorCodes)
        .sort((a, b) => b[1] - a[1])
        .map(([c, n]) => `${c} ${n}`)
        .join(', ') || 'none'
    }.`,
    '',
    `Dial time (all outcomes): p50 ${r.durationMsPercentiles.p50} ms, p95 ${r.durationMsPercentiles.p95} ms, ` +
      `p99 ${r.durationMsPercentiles.p99} ms, max ${r.durationMsPercentiles.max} ms.`,
    '',
    `Faults injected: ${Object.entries(r.faults)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}.`,
    '',
    '## Resources',
    '',
    `File descriptors: ${r.fds.baseline} before, ${r.fds.after} after (back ${r.fds.settleMs} ms after the last dial: ` +
      'DNS queries kept to fill the cache outlive their dial until the DNS client gives up). ' +
      `Server-side connections: ${r.serverConnections}, ` +
      `${r.serverConnectionsOpenAfter} still open after the run.`,
    '',
    `Active handles before: ${JSON.stringify(r.handles.baseline)}; after: ${JSON.stringify(r.handles.after)}.`,
    '',
    `RSS after warm-up (${Math.round(o.warmupFraction * 100)} % of dials) ${r.rss.warmupMB} MB, at the end ${r.rss.endMB} MB: ` +
      `growth ${r.rss.growthMB} MB (after a full GC each time).`,
    '',
    '| dials done | RSS MB | |',
    '| ---: | ---: | --- |',
    ...r.rss.samples.map((s) => `| ${s.dials} | ${s.rssMB} | ${s.note} |`),
    '',
  ];
  if (r.violations.length > 0) {
    lines.push('## Violations', '', ...r.violations.map((v) => `- ${v}`), '');
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Command line

function parseArgs(argv: readonly string[]): SoakOptions {
  const options: SoakOptions = { ...LONG_SOAK };
  const numeric: Record<string, keyof SoakOptions> = {
    '--dials': 'dials',
    '--concurrency': 'concurrency',
    '--timeout-ms': 'timeoutMs',
    '--names': 'names',
    '--seed': 'seed',
    '--fault-interval-ms': 'faultIntervalMs',
    '--outage-cycle-ms': 'outageCycleMs',
    '--outage-window-ms': 'outageWindowMs',
  };
  for (let i = 0; i < argv.length; i++) {
    const key = numeric[argv[i]!];
    const value = Number(argv[i + 1]);
    if (key === undefined || !Number.isInteger(value) || value < 0) {
      throw new Error(`usage: npm run soak -- [${Object.keys(numeric).join(' N] [')} N] (bad ${argv[i]})`);
    }
    (options as unknown as Record<string, number>)[key] = value;
    i++;
  }
  return options;
}

async function main(): Promise<number> {
  const decision = decideForThisProcess();
  if (decision.action === 'skip' || decision.action === 'fail') {
    process.stderr.write(`soak: ${decision.reason}\n`);
    return 1;
  }
  const script = fileURLToPath(import.meta.url);
  if (decision.action === 'reexec') return runInsideLab(script, { args: process.argv.slice(2) });
  const options = parseArgs(process.argv.slice(2));
  options.onProgress = (done, elapsedMs) =>
    process.stderr.write(`soak: ${done}/${options.dials} dials, ${(elapsedMs / 1000).toFixed(0)} s\n`);
  // An unhandled rejection or uncaught exception is a failure of the run, reported rather than fatal.
  const stray = new Map<string, number>();
  const onStray = (e: unknown): void => {
    const key = String(e);
    stray.set(key, (stray.get(key) ?? 0) + 1);
  };
  process.on('unhandledRejection', onStray);
  process.on('uncaughtException', onStray);
  const result = await withLab({}, (lab) => runSoak(lab, options), SOAK_LAB_OPTIONS);
  process.off('unhandledRejection', onStray);
  process.off('uncaughtException', onStray);
  for (const [message, count] of stray) {
    result.violationCount++;
    result.violations.push(`unhandled rejection or uncaught exception (${count}×): ${message}`);
  }
  const report = renderSoakReport(result);
  const out = fileURLToPath(new URL('../../bench/results/soak.md', import.meta.url));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, report);
  process.stdout.write(report);
  process.stderr.write(`soak: report written to ${out}\n`);
  return result.violationCount === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
