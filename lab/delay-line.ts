/**
 * The userspace delay line behind the `slow` condition: a small Python reader that owns a TUN device in the
 * router namespace, holds every packet it reads for `delayMs` and writes it back into the same device.
 * Node cannot open a TUN device (that takes the TUNSETIFF ioctl); Python's `fcntl` can. The router
 * policy-routes packets from the client to the `slow` prefixes into the device; re-injected packets arrive
 * "from" the device and are delivered locally, so each round trip gains `delayMs` (the client->server
 * direction is delayed, replies are not).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { killQuietly } from './exec.js';

/** Default one-way delay of the `slow` condition, milliseconds. */
export const DEFAULT_SLOW_DELAY_MS = 400;

const READER = String.raw`
import fcntl, heapq, os, select, struct, sys, time
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000
name, delay = sys.argv[1].encode(), float(sys.argv[2]) / 1000.0
tun = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(tun, TUNSETIFF, struct.pack('16sH', name, IFF_TUN | IFF_NO_PI))
parent = os.getppid()
os.write(1, b'ready\n')
queue, seq, pending = [], 0, b''
while True:
    timeout = 0.25 if not queue else max(0.0, min(0.25, queue[0][0] - time.monotonic()))
    readable = select.select([tun, 0], [], [], timeout)[0]
    if tun in readable:
        heapq.heappush(queue, (time.monotonic() + delay, seq, os.read(tun, 65535)))
        seq += 1
    if 0 in readable:
        chunk = os.read(0, 4096)
        if not chunk:
            break
        pending += chunk
        while b'\n' in pending:
            line, pending = pending.split(b'\n', 1)
            delay = float(line) / 1000.0
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        os.write(tun, heapq.heappop(queue)[2])
    if os.getppid() != parent:
        break
`;

/** A running delay line. */
export interface DelayLine {
  readonly pid: number;
  /** Changes the delay for packets read from now on, milliseconds. */
  setDelayMs(delayMs: number): void;
  /** Kills the reader by PID and waits for it; the TUN device disappears with its last file descriptor. */
  stop(): Promise<void>;
}

/** The Python interpreter for the reader: Debian's /usr/bin/python3 (starts fast) if present, else the first
 * `python3` on PATH; undefined when there is none. */
export function findPython(): string | undefined {
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(':').filter((dir) => dir !== '')];
  return dirs.map((dir) => join(dir, 'python3')).find((path) => existsSync(path));
}

function checkDelay(delayMs: number): void {
  if (!Number.isFinite(delayMs) || delayMs < 0) {
    const error = new TypeError(
      `slow path delayMs must be a finite number >= 0, got ${delayMs}`,
    ) as TypeError & {
      code: string;
    };
    error.code = 'ERR_NETDIAL_LAB_INVALID_OPTION';
    throw error;
  }
}

async function stopReader(reader: ChildProcess): Promise<void> {
  if (reader.pid === undefined || reader.exitCode !== null || reader.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => reader.once('exit', () => resolve()));
  killQuietly(reader.pid);
  await exited;
}

/**
 * Starts the reader inside the network namespace of `routerPid` (`nsenter -t PID -n`), creating TUN device
 * `device` there. Resolves once the device exists. Rejects (after killing the reader) when Python is missing
 * or the device cannot be created within `timeoutMs`.
 */
export function startDelayLine(
  routerPid: number,
  device: string,
  delayMs: number,
  timeoutMs: number,
): Promise<DelayLine> {
  checkDelay(delayMs);
  const python = findPython();
  if (python === undefined) {
    return Promise.reject(new Error('slow-path delay line needs python3 (or pass slowPathDelayMs: false)'));
  }
  const reader = spawn(
    'nsenter',
    ['-t', String(routerPid), '-n', '--', python, '-c', READER, device, String(delayMs)],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  reader.stdin.on('error', () => {});
  let stderr = '';
  reader.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise<DelayLine>((resolve, reject) => {
    const settle = (): void => {
      clearTimeout(timer);
      reader.off('error', onError);
      reader.off('exit', onExit);
    };
    const fail = (why: string): void => {
      settle();
      stopReader(reader).then(() =>
        reject(new Error(`slow-path delay line: ${why}${stderr ? `: ${stderr.trim()}` : ''}`)),
      );
    };
    const onError = (error: Error): void => fail(error.message);
    const onExit = (code: number | null, signal: string | null): void =>
      fail(`exited (${code ?? signal}) before it was ready`);
    const timer = setTimeout(() => fail(`not ready within ${timeoutMs} ms`), timeoutMs);
    reader.once('error', onError);
    reader.once('exit', onExit);
    reader.stdout.setEncoding('utf8').once('data', () => {
      settle();
      reader.on('error', () => {});
      reader.stdout.resume();
      resolve({
        pid: reader.pid!,
        setDelayMs(next: number) {
          checkDelay(next);
          reader.stdin.write(`${next}\n`);
        },
        stop: () => stopReader(reader),
      });
    });
  });
}
