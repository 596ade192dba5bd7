/**
 * The shells of the dialling commands: netcat mode, `trace` and `resolve`. Each builds its Dialer from
 * the flags, runs, prints, saves the memory file and returns the exit status — or throws the error it
 * ended with (main turns that into one line and an exit status).
 */
import type * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Dialer } from '../dialer.js';
import { type DialError, isDialError } from '../errors.js';
import { getReport } from '../report.js';
import type { Command } from './args.js';
import type { Style } from './color.js';
import { setupDial } from './dial-setup.js';
import { EXIT } from './exit-codes.js';
import { addressPort, formatMs } from './format.js';
import { pipeSocket } from './netcat.js';
import { renderResolved, resolvedToJson } from './resolve-view.js';
import { connectedLine, type MemoryEntry, renderDialError, renderReport } from './trace.js';

/** Streams, styles and the Ctrl-C signal a command runs with. */
export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Style for text to stdout / to stderr (each coloured only when that stream is a terminal). */
  outStyle: Style;
  errStyle: Style;
  signal: AbortSignal;
  /** Width of waterfall bars, columns. */
  width: number;
}

type ConnectCommand = Extract<Command, { name: 'connect' }>;
type TraceCommand = Extract<Command, { name: 'trace' }>;
type ResolveCommand = Extract<Command, { name: 'resolve' }>;

/** The error as JSON for --json: its one-line message, code and every attempt. */
export function dialErrorJson(error: DialError): unknown {
  return {
    error: {
      name: error.name,
      code: error.code,
      message: error.message,
      host: error.host,
      port: error.port,
      elapsedMs: error.elapsedMs,
      attempts: error.attempts,
    },
    ...(error.report === undefined ? {} : { report: error.report }),
  };
}

function memoryEntries(dialer: Dialer): MemoryEntry[] | undefined {
  return dialer.exportMemory()?.endpoints.endpoints;
}

/**
 * Dials for netcat mode and `trace`, prints the trace / JSON the command asks for, and returns the socket.
 * On a DialError it prints the failure trace / JSON, saves the memory and rethrows.
 */
async function dialAndShow(
  cmd: ConnectCommand | TraceCommand,
  io: CliIo,
  show: { trace: boolean; json: 'stdout' | 'stderr' | undefined },
): Promise<{ socket: net.Socket; save: () => Promise<void> }> {
  const setup = await setupDial(cmd.dial, cmd.target);
  const before = memoryEntries(setup.dialer);
  let socket: net.Socket;
  try {
    socket = await setup.dialer.dial(cmd.target, { ...setup.options, signal: io.signal });
  } catch (error) {
    if (isDialError(error)) {
      if (show.json !== undefined) {
        (show.json === 'stdout' ? io.stdout : io.stderr).write(
          `${JSON.stringify(dialErrorJson(error), null, 2)}\n`,
        );
      } else if (show.trace) {
        io.stderr.write(renderDialError(error, { style: io.errStyle, width: io.width }));
      }
    }
    await setup.saveMemory();
    throw error;
  }
  const report = getReport(socket);
  if (report !== undefined) {
    if (show.json !== undefined) {
      (show.json === 'stdout' ? io.stdout : io.stderr).write(`${JSON.stringify(report, null, 2)}\n`);
    } else if (show.trace) {
      io.stderr.write(
        renderReport(report, {
          style: io.errStyle,
          width: io.width,
          memoryBefore: before,
          memoryAfter: memoryEntries(setup.dialer),
        }),
      );
    }
  }
  return { socket, save: () => setup.saveMemory() };
}

/** `netdial TARGET`: connect, then copy stdin -> socket -> stdout until either side closes. */
export async function runConnect(cmd: ConnectCommand, io: CliIo): Promise<number> {
  const { socket, save } = await dialAndShow(cmd, io, {
    trace: cmd.trace,
    json: cmd.json ? 'stderr' : undefined,
  });
  if (cmd.verbose) {
    io.stderr.write(
      `netdial: ${connectedLine(getReport(socket), socket.remoteAddress ?? '?', socket.remotePort ?? 0)}\n`,
    );
  }
  await save();
  const end = await pipeSocket(socket, io.stdin, io.stdout, io.signal, cmd.dial.idleTimeoutMs);
  switch (end.kind) {
    case 'closed':
      return EXIT.ok;
    case 'idle':
      // nc -w: an idle connection times out and nc exits 0.
      if (cmd.verbose) io.stderr.write(`netdial: no traffic for ${formatMs(end.idleMs)}, closing (-w)\n`);
      return EXIT.ok;
    case 'aborted':
      return EXIT.interrupted;
    case 'error':
      throw Object.assign(
        new Error(
          `connection to ${addressPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0)}: ${end.error.message}`,
        ),
        {
          code: end.error.code,
        },
      );
  }
}

/** `netdial trace TARGET`: connect, print the waterfall (or JSON), close. */
export async function runTrace(cmd: TraceCommand, io: CliIo): Promise<number> {
  const { socket, save } = await dialAndShow(cmd, io, { trace: true, json: cmd.json ? 'stdout' : undefined });
  socket.destroy();
  await save();
  return EXIT.ok;
}

/** `netdial resolve NAME[:PORT]`: the order a dial would use, without connecting. */
export async function runResolve(cmd: ResolveCommand, io: CliIo): Promise<number> {
  const setup = await setupDial(cmd.dial);
  try {
    const startedMs = performance.now();
    let resolved: Awaited<ReturnType<typeof setup.dialer.resolve>>;
    try {
      resolved = await setup.dialer.resolve(cmd.target, { ...setup.options, signal: io.signal });
    } catch (error) {
      // --json: the failure as JSON on stdout too (its attempts name each query that failed or got no
      // answer), as `trace --json` prints a failed dial; the one-line error still goes to stderr.
      if (cmd.json && isDialError(error))
        io.stdout.write(`${JSON.stringify(dialErrorJson(error), null, 2)}\n`);
      throw error;
    }
    const now = performance.now();
    io.stdout.write(
      cmd.json
        ? `${JSON.stringify(resolvedToJson(resolved, now), null, 2)}\n`
        : renderResolved(resolved, now, io.outStyle, now - startedMs),
    );
    return EXIT.ok;
  } finally {
    await setup.saveMemory();
  }
}
