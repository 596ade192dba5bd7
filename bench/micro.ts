/**
 * Loopback micro-benchmarks (no lab needed; run as `node --expose-gc dist/bench/micro.js`, prints one
 * `RESULT <json>` line of MicroResults):
 * - CPU and wall time per dial of a Dialer whose cache holds the name (the real path: the name was
 *   resolved once by a DNS server on loopback, answers come from the cache afterwards) against
 *   `net.connect` to the IP literal — alternating rounds, the listener in another process so only the
 *   client side's CPU is counted;
 * - connections per second, sequential and with 16 in flight;
 * - JS heap per cached name (DnsCache API, one A + one AAAA record) and per dial in flight;
 * - cold start in fresh processes: `import('netdial')` and the first dial against the bare floor
 *   (bench/cold.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { killQuietly } from '../lab/exec.js';
import { LabDnsServer } from '../lab/dns-server.js';
import { Dialer } from '../src/index.js';
import { DnsCache } from '../src/memory/dns-cache.js';
import { RESULT_PREFIX } from './clients/protocol.js';
import { measureCold } from './cold.js';
import { median } from './summary.js';
import type { MicroResults } from './types.js';

const DIALS_PER_ROUND = 1000;
const ROUNDS = 8;
const IN_FLIGHT = 16;
const IN_FLIGHT_ROUNDS = 2;
/**
 * Dials of each kind before the timed rounds, in blocks of DIALS_PER_ROUND. netdial's first thousand
 * dials in a process cost about twice its steady state (the JIT is still optimizing its code paths);
 * that first block is reported on its own, the timed rounds measure the steady state.
 */
const WARM_UP_DIALS = 3000;
const CACHED_NAMES = 20_000;
const DIALS_IN_FLIGHT = 1000;
const NAME = 'micro.bench.test.';

type DialFn = () => Promise<void>;

const gc = (globalThis as { gc?: () => void }).gc;

function collect(): void {
  if (gc === undefined) throw new Error('run with node --expose-gc');
  gc();
  gc();
}

/** A listener in its own process (accepts, reads, closes when the client does); resolves with its port. */
function startListener(): Promise<{ port: number; stop: () => void }> {
  const code = `
    const net = require('node:net');
    const server = net.createServer((s) => { s.on('error', () => {}); s.resume(); s.on('end', () => s.end()); });
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => console.log(server.address().port));
    process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killQuietly(child.pid);
      reject(new Error('listener did not start'));
    }, 10_000);
    child.stdout.setEncoding('utf8');
    child.stdout.once('data', (line: string) => {
      clearTimeout(timer);
      resolve({ port: Number(line.trim()), stop: () => killQuietly(child.pid) });
    });
    child.once('error', reject);
  });
}

/** A DNS server on 127.0.0.1 at a free port (the lab's server needs one port for UDP and TCP). */
async function startDns(): Promise<LabDnsServer> {
  for (let i = 0; i < 20; i++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    const server = new LabDnsServer({
      host: '127.0.0.1',
      port,
      zone: { 'micro.bench.test': { A: ['127.0.0.1'], ttl: 3600 } },
      soaMinimumSeconds: 3600,
      apex: 'bench.test',
    });
    try {
      await server.start();
      return server;
    } catch {
      await server.close().catch(() => {});
    }
  }
  throw new Error('no free port for the loopback DNS server');
}

function netConnectLiteral(port: number): DialFn {
  return () =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
}

function netdialCached(dialer: Dialer, port: number): DialFn {
  const target = { host: NAME, port };
  return async () => {
    const socket = await dialer.dial(target);
    socket.destroy();
  };
}

interface Measured {
  cpuUs: number;
  wallMs: number;
}

async function sequential(fn: DialFn, count: number): Promise<Measured> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i++) await fn();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { cpuUs: used.user + used.system, wallMs };
}

async function inFlight(fn: DialFn, count: number, width: number): Promise<Measured> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      await fn();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { cpuUs: used.user + used.system, wallMs };
}

/** Heap bytes per name of a DnsCache holding CACHED_NAMES names (one A + one AAAA record each). */
function bytesPerCachedName(): number {
  collect();
  const before = process.memoryUsage().heapUsed;
  const cache = new DnsCache({ maxNames: CACHED_NAMES + 1 });
  const now = performance.now();
  for (let i = 0; i < CACHED_NAMES; i++) {
    const name = `host-${i}.cache.bench.test`;
    cache.setPositive(name, 'A', [{ address: `198.18.${i >> 8}.${i & 255}`, ttlSeconds: 300 }], now);
    cache.setPositive(name, 'AAAA', [{ address: `2001:db8::${i.toString(16)}`, ttlSeconds: 300 }], now);
  }
  collect();
  const after = process.memoryUsage().heapUsed;
  if (cache.size !== CACHED_NAMES) throw new Error(`cache holds ${cache.size} names`);
  return (after - before) / CACHED_NAMES;
}

/** Lets close callbacks and timers of finished work run, then collects. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  collect();
}

/** Heap bytes per netdial dial waiting for DNS (a custom resolver that answers when told). */
async function bytesPerNetdialInFlight(port: number): Promise<number> {
  const release: Array<() => void> = [];
  const dialer = new Dialer({
    timeout: 60_000,
    resolver: () => new Promise((resolve) => release.push(() => resolve([]))),
  });
  const run = async (prefix: string): Promise<number> => {
    await settle();
    const before = process.memoryUsage().heapUsed;
    const dials = Array.from({ length: DIALS_IN_FLIGHT }, (_, i) =>
      dialer.dial({ host: `${prefix}-${i}.bench.test`, port }).catch(() => {}),
    );
    await settle();
    const after = process.memoryUsage().heapUsed;
    for (const r of release.splice(0)) r();
    await Promise.all(dials);
    return (after - before) / DIALS_IN_FLIGHT;
  };
  await run('warm'); // code paths compiled, lazily created structures exist
  return run('flight');
}

/** Heap bytes per net.connect waiting for its lookup (a custom lookup that never answers), for reference. */
async function bytesPerNetConnectInFlight(port: number): Promise<number> {
  const run = async (prefix: string): Promise<number> => {
    await settle();
    const before = process.memoryUsage().heapUsed;
    const sockets = Array.from({ length: DIALS_IN_FLIGHT }, (_, i) => {
      const socket = net.connect({ host: `${prefix}-${i}.bench.test`, port, lookup: () => {} });
      socket.on('error', () => {});
      return socket;
    });
    await settle();
    const after = process.memoryUsage().heapUsed;
    for (const s of sockets) s.destroy();
    return (after - before) / DIALS_IN_FLIGHT;
  };
  await run('warm');
  return run('flight');
}

async function main(): Promise<MicroResults> {
  const listener = await startListener();
  const dns = await startDns();
  const dir = mkdtempSync(join(tmpdir(), 'netdial-bench-'));
  try {
    // Our own resolv.conf: no search list, nothing from the host's DNS configuration.
    const resolvConfPath = join(dir, 'resolv.conf');
    writeFileSync(resolvConfPath, `nameserver 127.0.0.1\noptions ndots:1\n`);
    const dialer = new Dialer({
      resolver: 'dns',
      nameservers: [`${dns.host}:${dns.port}`],
      resolvConfPath,
    });
    const variants = {
      netdial: netdialCached(dialer, listener.port),
      netConnect: netConnectLiteral(listener.port),
    };
    const firstBlock = {
      netdial: await sequential(variants.netdial, DIALS_PER_ROUND),
      netConnect: await sequential(variants.netConnect, DIALS_PER_ROUND),
    };
    await sequential(variants.netdial, WARM_UP_DIALS - DIALS_PER_ROUND);
    await sequential(variants.netConnect, WARM_UP_DIALS - DIALS_PER_ROUND);
    const queriesBefore = dns.queryCount();

    const seq = { netdial: [] as Measured[], netConnect: [] as Measured[] };
    for (let round = 0; round < ROUNDS; round++) {
      const order =
        round % 2 === 0 ? (['netdial', 'netConnect'] as const) : (['netConnect', 'netdial'] as const);
      for (const v of order) seq[v].push(await sequential(variants[v], DIALS_PER_ROUND));
    }
    const par = { netdial: [] as Measured[], netConnect: [] as Measured[] };
    for (let round = 0; round < IN_FLIGHT_ROUNDS; round++) {
      const order =
        round % 2 === 0 ? (['netdial', 'netConnect'] as const) : (['netConnect', 'netdial'] as const);
      for (const v of order) par[v].push(await inFlight(variants[v], DIALS_PER_ROUND, IN_FLIGHT));
    }
    const dnsQueriesDuringLoops = dns.queryCount() - queriesBefore;

    const sum = (list: Measured[], key: keyof Measured): number => list.reduce((a, m) => a + m[key], 0);
    const n = ROUNDS * DIALS_PER_ROUND;
    const cpuNetdial = sum(seq.netdial, 'cpuUs') / n;
    const cpuNet = sum(seq.netConnect, 'cpuUs') / n;
    const wallNetdial = (sum(seq.netdial, 'wallMs') * 1000) / n;
    const wallNet = (sum(seq.netConnect, 'wallMs') * 1000) / n;
    const cps = (list: Measured[]): number => (list.length * DIALS_PER_ROUND) / (sum(list, 'wallMs') / 1000);
    const seqCps = { netdial: cps(seq.netdial), netConnect: cps(seq.netConnect) };
    const parCps = { netdial: cps(par.netdial), netConnect: cps(par.netConnect) };

    // Fresh processes (after the timed loops, so they do not disturb them); the same DNS server and listener.
    const cold = await measureCold(dns.port, listener.port, NAME, resolvConfPath);
    const bytesPerName = bytesPerCachedName();
    const netdialInFlight = await bytesPerNetdialInFlight(listener.port);
    const netConnectInFlight = await bytesPerNetConnectInFlight(listener.port);

    return {
      dialsPerRound: DIALS_PER_ROUND,
      rounds: ROUNDS,
      cpuUsPerDial: {
        netdial: cpuNetdial,
        netConnect: cpuNet,
        ratio: cpuNetdial / cpuNet,
        medianRoundRatio: median(seq.netdial.map((m, i) => m.cpuUs / seq.netConnect[i]!.cpuUs)) ?? Number.NaN,
        firstThousand: {
          netdial: firstBlock.netdial.cpuUs / DIALS_PER_ROUND,
          netConnect: firstBlock.netConnect.cpuUs / DIALS_PER_ROUND,
        },
        roundRatios: seq.netdial.map((m, i) => m.cpuUs / seq.netConnect[i]!.cpuUs),
        netdialRounds: seq.netdial.map((m) => m.cpuUs / DIALS_PER_ROUND),
        netConnectRounds: seq.netConnect.map((m) => m.cpuUs / DIALS_PER_ROUND),
      },
      wallUsPerDial: { netdial: wallNetdial, netConnect: wallNet, ratio: wallNetdial / wallNet },
      connectionsPerSecond: {
        sequential: { ...seqCps, ratio: seqCps.netdial / seqCps.netConnect },
        inFlight16: { ...parCps, ratio: parCps.netdial / parCps.netConnect },
      },
      dnsQueriesDuringLoops,
      bytesPerCachedName: { names: CACHED_NAMES, bytes: bytesPerName },
      bytesPerDialInFlight: {
        dials: DIALS_IN_FLIGHT,
        netdial: netdialInFlight,
        netConnect: netConnectInFlight,
      },
      cold,
    };
  } finally {
    listener.stop();
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = await main();
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(results)}\n`);
process.exit(0);
