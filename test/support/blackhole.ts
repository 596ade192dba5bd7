/**
 * A blackholed address on loopback, without root: a listener in a child process that never accepts,
 * its accept queue filled. Linux drops a SYN to a listener whose accept queue is full
 * (net.ipv4.tcp_abort_on_overflow = 0, the default), so a connect to it hears nothing, like a
 * firewalled address; the client retransmits its SYN after 1 s, 3 s, … `open()` makes the child start
 * accepting, which empties the queue: the next retransmitted SYN gets through and the address turns
 * "slow but alive" (connected about 1 s after the attempt began).
 *
 * Right after it listens the child sleeps in Atomics.wait (looking for the open flag every 5 ms), so it
 * cannot accept; it is killed by PID in `close()` and exits on its own after `lifetimeMs` whatever
 * happens.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

export interface Blackhole {
  /** The port, the same on every host. */
  readonly port: number;
  readonly hosts: readonly string[];
  /** Starts accepting: the next retransmitted SYN gets through (a slow but alive address). */
  open(): void;
  /** Kills the listener (by PID) and closes the connections that filled its queue. */
  close(): Promise<void>;
}

export interface BlackholeOptions {
  /** Loopback addresses to listen on (one port for all). */
  hosts: readonly string[];
  /** Port to use; 0 picks one on the first host. */
  port?: number;
  /** The child exits by itself after this long, milliseconds (default 60 s). */
  lifetimeMs?: number;
}

const CHILD = String.raw`
const fs = require('node:fs');
const net = require('node:net');
const [hosts, port0, openFlag, lifetimeMs] = JSON.parse(process.argv[1]);
const endAt = Date.now() + lifetimeMs;
setTimeout(() => process.exit(0), lifetimeMs);
let port = port0;
(async () => {
  for (const host of hosts) {
    const s = net.createServer((c) => c.on('error', () => {}));
    // backlog 1: the kernel queues two connections, then drops every SYN.
    await new Promise((resolve, reject) => {
      s.once('error', reject);
      s.listen({ host, port, backlog: 1 }, resolve);
    });
    port = s.address().port;
  }
  // Stop serving the event loop in the same turn (a pipe write is synchronous), so nothing is accepted
  // until the parent creates the flag file: its two fillers complete in the kernel and fill the queue.
  process.stdout.write(JSON.stringify({ port }) + '\n');
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < endAt && !fs.existsSync(openFlag)) Atomics.wait(nap, 0, 0, 5);
  if (!fs.existsSync(openFlag)) process.exit(0);
})().catch((e) => { process.stderr.write(String(e) + '\n'); process.exit(2); });
`;

export async function startBlackhole(options: BlackholeOptions): Promise<Blackhole> {
  const lifetimeMs = options.lifetimeMs ?? 60_000;
  const dir = mkdtempSync(join(tmpdir(), 'netdial-blackhole-'));
  const openFlag = join(dir, 'open');
  const child: ChildProcess = spawn(
    process.execPath,
    ['-e', CHILD, JSON.stringify([options.hosts, options.port ?? 0, openFlag, lifetimeMs])],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const fillers: net.Socket[] = [];
  const exited = once(child, 'exit');
  const close = async (): Promise<void> => {
    for (const f of fillers) f.destroy();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stdout!.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('\n')) resolve(text);
      });
      child.once('exit', (code) => reject(new Error(`blackhole listener exited (${code}) before listening`)));
    });
    const { port } = JSON.parse(line) as { port: number };
    for (const host of options.hosts) {
      // Backlog 1 queues two connections; they complete in the kernel without an accept().
      for (let i = 0; i < 2; i++) {
        const f = net.connect({ host, port });
        f.on('error', () => {});
        fillers.push(f);
        await once(f, 'connect');
      }
    }
    return { port, hosts: options.hosts, open: () => writeFileSync(openFlag, ''), close };
  } catch (err) {
    await close();
    throw err;
  }
}
