/**
 * `npm run bench:proxy`: through a proxy, first address dead — netdial against `curl -x` and Node with
 * `https-proxy-agent` / `socks-proxy-agent`, in the network lab with real proxies (Debian's tinyproxy and
 * microsocks in the router namespace, as in test/lab-proxy.test.ts). Two rows:
 * - the proxy's name has a blackholed address first, then tinyproxy (HTTP CONNECT; the proxy resolves
 *   the target, which is good);
 * - SOCKS5 with local resolution, the TARGET's name has a blackholed address first, then a good one.
 * Each client runs RUNS times per row, timed from "connect" to the first byte of the HTTP response,
 * capped at CAP_MS. Writes bench/results/proxy.md and prints it. Reported, never enforced.
 * Needs root on Linux (the lab) and the packages tinyproxy and microsocks (installed when missing).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { SocksProxyAgent } from 'socks-proxy-agent';
import { LabDnsServer } from '../lab/dns-server.js';
import { DEFAULT_ZONE } from '../lab/default-zone.js';
import { type Lab, withLab } from '../lab/lab.js';
import { LAB } from '../lab/plan.js';
import { decideForThisProcess, runInsideLab } from '../lab/reexec.js';
import { Dialer } from '../src/index.js';
import { ensureDebianPackages } from '../test/support/real-servers.js';

const RUNS = 5;
const CAP_MS = 10_000;
const { good, blackholed } = LAB.addresses;
const CLIENT = LAB.client.v4;
const TINYPROXY = good.v4[7];
const MICROSOCKS = good.v4[6];
const ZONE = {
  ...DEFAULT_ZONE,
  'bench-proxy-first-dead.lab.test': { A: [blackholed.v4[0], TINYPROXY] },
  'bench-socks.lab.test': { A: [MICROSOCKS] },
};

interface Row {
  title: string;
  proxy: string;
  target: string;
}

const ROWS: Row[] = [
  {
    title: 'HTTP proxy by name, its first address dead',
    proxy: 'http://bench-proxy-first-dead.lab.test:3128',
    target: 'http://one-good.lab.test/',
  },
  {
    title: "SOCKS5 (local resolution), the target's first address dead",
    proxy: 'socks5://bench-socks.lab.test:1080',
    target: 'http://first-a-blackholed.lab.test/',
  },
];

type Client = 'netdial' | 'curl -x' | 'Node + proxy agent';

/** One run: ms to the response's first byte, or undefined when it failed or hit the cap. */
type Run = (row: Row) => Promise<number | undefined>;

const netdialRun: Run = async (row) => {
  const url = new URL(row.target);
  const started = performance.now();
  const dialer = new Dialer({ memory: false, resolver: 'dns' });
  try {
    const socket = await dialer.dial(`${url.hostname}:80`, { proxy: row.proxy, timeout: CAP_MS });
    socket.write(`GET / HTTP/1.1\r\nHost: ${url.hostname}\r\nConnection: close\r\n\r\n`);
    await once(socket, 'data');
    const ms = performance.now() - started;
    socket.destroy();
    return ms;
  } catch {
    return undefined;
  }
};

const curlRun: Run = (row) =>
  new Promise((resolve) => {
    // -p: a CONNECT tunnel for the http target too, as netdial and the agents use.
    execFile(
      'curl',
      [
        '-s',
        '-o',
        '/dev/null',
        '-p',
        '-x',
        row.proxy,
        '--max-time',
        String(CAP_MS / 1000),
        '-w',
        '%{time_starttransfer}',
        row.target,
      ],
      { timeout: CAP_MS + 2000 },
      (err, stdout) => resolve(err ? undefined : Number(stdout) * 1000),
    );
  });

const agentRun: Run = (row) =>
  new Promise((resolve) => {
    const agent = row.proxy.startsWith('socks')
      ? new SocksProxyAgent(row.proxy)
      : new HttpsProxyAgent(row.proxy);
    const started = performance.now();
    const timer = setTimeout(() => {
      req.destroy();
      resolve(undefined);
    }, CAP_MS);
    const req = http.get(row.target, { agent }, (res) => {
      clearTimeout(timer);
      resolve(performance.now() - started);
      res.destroy();
      agent.destroy();
    });
    req.on('error', () => {
      clearTimeout(timer);
      agent.destroy();
      resolve(undefined);
    });
  });

const CLIENTS: Array<[Client, Run]> = [
  ['netdial', netdialRun],
  ['curl -x', curlRun],
  ['Node + proxy agent', agentRun],
];

async function startInRouter(lab: Lab, args: string[], host: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    'nsenter',
    ['-t', String(lab.routerPid), '-n', '--', '/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', ...args],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${args[0]} did not listen on ${host}:${port}`);
}

/** A Markdown table with aligned columns (as the formatter writes them). */
function markdownTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(3, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.slice(1).map(line)]
    .map((l) => `${l}\n`)
    .join('');
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function inside(out: string): Promise<void> {
  await withLab(
    ZONE,
    async (lab) => {
      const dns = new LabDnsServer({ host: CLIENT, zone: ZONE });
      const dir = mkdtempSync(join(tmpdir(), 'netdial-bench-proxy-'));
      const children: ChildProcess[] = [];
      try {
        await dns.start();
        const conf = join(dir, 'tinyproxy.conf');
        writeFileSync(conf, `Port 3128\nListen ${TINYPROXY}\nTimeout 30\nMaxClients 64\nLogLevel Critical\n`);
        children.push(await startInRouter(lab, ['/usr/bin/tinyproxy', '-d', '-c', conf], TINYPROXY, 3128));
        children.push(
          await startInRouter(lab, ['/usr/bin/microsocks', '-i', MICROSOCKS, '-p', '1080'], MICROSOCKS, 1080),
        );
        const table: string[][] = [
          [
            'through a proxy, first address dead',
            'netdial',
            'curl -x',
            'Node + https-proxy-agent / socks-proxy-agent',
          ],
        ];
        for (const row of ROWS) {
          const cells: string[] = [];
          for (const [, run] of CLIENTS) {
            const times: number[] = [];
            for (let i = 0; i < RUNS; i++) {
              const ms = await run(row);
              if (ms !== undefined) times.push(ms);
            }
            const m = median(times);
            const failed = RUNS - times.length;
            cells.push(
              m === undefined
                ? `failed ${failed}/${RUNS} (cap ${CAP_MS / 1000} s)`
                : `${Math.round(m)} ms${failed > 0 ? `, failed ${failed}/${RUNS}` : ''}`,
            );
          }
          table.push([row.title, ...cells]);
        }
        writeFileSync(out, markdownTable(table));
      } finally {
        for (const c of children) c.kill('SIGKILL');
        await dns.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { resolvConf: `nameserver ${CLIENT}\nsearch lab.test\noptions ndots:1\n` },
  );
}

async function main(): Promise<number> {
  const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  const inner = process.env.NETDIAL_BENCH_PROXY_OUT;
  if (process.env.NETDIAL_LAB_INSIDE === '1' && inner !== undefined) {
    await inside(inner);
    return 0;
  }
  const missing = ensureDebianPackages(
    ['tinyproxy', 'microsocks'],
    () => existsSync('/usr/bin/tinyproxy') && existsSync('/usr/bin/microsocks'),
  );
  if (missing !== undefined) {
    process.stderr.write(`bench:proxy not run: ${missing}\n`);
    return 1;
  }
  const decision = decideForThisProcess();
  if (decision.action === 'skip' || decision.action === 'fail') {
    process.stderr.write(`bench:proxy not run: ${decision.reason}\n`);
    return 1;
  }
  mkdirSync(resultsDir, { recursive: true });
  const out = join(resultsDir, 'proxy.md');
  process.env.NETDIAL_BENCH_PROXY_OUT = out;
  const code = await runInsideLab(fileURLToPath(import.meta.url), { execArgv: [] });
  if (code !== 0) return code;
  const { readFileSync } = await import('node:fs');
  process.stdout.write(readFileSync(out, 'utf8'));
  return 0;
}

process.exitCode = await main();
