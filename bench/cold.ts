/**
 * Cold start on loopback, each sample in a fresh Node process (run by bench/micro.ts):
 * - `import('netdial')`: wall and CPU time of the dynamic import of the package's entry point — by its name,
 *   resolved through package.json `exports` as a user's import is: the esbuild bundle (dist/pkg, built by
 *   `npm run build`), not tsc's dist/src that the tests import;
 * - first dial: a fresh process imports netdial (not timed), then times `new Dialer(...)` + `dial()` of a
 *   name the loopback DNS server answers, from the call to the connected socket (DNS included: A and AAAA
 *   queries, hosts file and resolv.conf read, the TCP handshake);
 * - the bare floor beside it: a fresh process with only `dns-packet` and `node:net` loaded (not timed)
 *   sends one raw A query over UDP, decodes the answer and `net.connect`s to it — what any Node client must
 *   pay for one name (no library, no AAAA, no files read).
 * Samples alternate between the kinds; medians are reported (the machine may be shared).
 * Each script reads `performance.now()` once before its CPU snapshot: Node's global `performance` loads
 * node:perf_hooks on first touch (~1 ms of CPU), the harness's own cost, not the measured code's.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from './summary.js';
import type { ColdResults } from './types.js';

const SAMPLES = 9;
const CHILD_TIMEOUT_MS = 30_000;

/** The children run in the repository, where `import('netdial')` resolves the package itself (self-reference). */
const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));

interface Sample {
  wallMs: number;
  cpuMs: number;
}

const IMPORT_SCRIPT = `
performance.now();
const cpu = process.cpuUsage();
const t0 = performance.now();
await import('netdial');
const wallMs = performance.now() - t0;
const used = process.cpuUsage(cpu);
console.log(JSON.stringify({ wallMs, cpuMs: (used.user + used.system) / 1000 }));`;

function firstDialScript(dnsPort: number, port: number, name: string, resolvConfPath: string): string {
  return `
const { Dialer } = await import('netdial');
performance.now();
const cpu = process.cpuUsage();
const t0 = performance.now();
const dialer = new Dialer({ resolver: 'dns', nameservers: ['127.0.0.1:${dnsPort}'], resolvConfPath: ${JSON.stringify(resolvConfPath)} });
const socket = await dialer.dial({ host: ${JSON.stringify(name)}, port: ${port} });
const wallMs = performance.now() - t0;
const used = process.cpuUsage(cpu);
socket.destroy();
console.log(JSON.stringify({ wallMs, cpuMs: (used.user + used.system) / 1000 }));`;
}

function floorScript(dnsPort: number, port: number, name: string): string {
  return `
import { createRequire } from 'node:module';
import dgram from 'node:dgram';
import net from 'node:net';
const dnsPacket = createRequire(${JSON.stringify(`${REPO_DIR}package.json`)})('dns-packet');
performance.now();
const cpu = process.cpuUsage();
const t0 = performance.now();
const address = await new Promise((resolve, reject) => {
  const udp = dgram.createSocket('udp4');
  udp.once('error', reject);
  udp.once('message', (message) => {
    udp.close();
    const answer = dnsPacket.decode(message).answers.find((a) => a.type === 'A');
    if (answer === undefined) reject(new Error('no A record')); else resolve(answer.data);
  });
  const id = Math.floor(Math.random() * 0x10000);
  udp.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: ${JSON.stringify(name)} }] }), ${dnsPort}, '127.0.0.1');
});
const socket = await new Promise((resolve, reject) => {
  const s = net.connect({ host: address, port: ${port} });
  s.once('connect', () => resolve(s));
  s.once('error', reject);
});
const wallMs = performance.now() - t0;
const used = process.cpuUsage(cpu);
socket.destroy();
console.log(JSON.stringify({ wallMs, cpuMs: (used.user + used.system) / 1000 }));`;
}

function runChild(script: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { timeout: CHILD_TIMEOUT_MS, cwd: REPO_DIR },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(
            new Error(
              `cold-start child failed: ${error.message} ${stderr.trim().split('\n').slice(-1)[0] ?? ''}`,
            ),
          );
          return;
        }
        const line = stdout.trim().split('\n').slice(-1)[0] ?? '';
        resolve(JSON.parse(line) as Sample);
      },
    );
  });
}

function summary(samples: readonly Sample[]): { wallMs: number; cpuMs: number; wallSamplesMs: number[] } {
  return {
    wallMs: median(samples.map((s) => s.wallMs)) ?? Number.NaN,
    cpuMs: median(samples.map((s) => s.cpuMs)) ?? Number.NaN,
    wallSamplesMs: samples.map((s) => Math.round(s.wallMs * 100) / 100),
  };
}

/**
 * Runs the cold-start samples against a loopback DNS server at `dnsPort` that answers `name` with
 * 127.0.0.1 and a listener at `port`; `resolvConfPath` names our own resolv.conf (no host configuration).
 */
export async function measureCold(
  dnsPort: number,
  port: number,
  name: string,
  resolvConfPath: string,
): Promise<ColdResults> {
  const imports: Sample[] = [];
  const firstDials: Sample[] = [];
  const floors: Sample[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    imports.push(await runChild(IMPORT_SCRIPT));
    floors.push(await runChild(floorScript(dnsPort, port, name)));
    firstDials.push(await runChild(firstDialScript(dnsPort, port, name, resolvConfPath)));
  }
  const firstDial = summary(firstDials);
  const floor = summary(floors);
  return {
    samples: SAMPLES,
    importNetdial: summary(imports),
    firstDial: { netdial: firstDial, bareFloor: floor, ratio: firstDial.wallMs / floor.wallMs },
  };
}
