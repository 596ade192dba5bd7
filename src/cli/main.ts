#!/usr/bin/env node
/**
 * `netdial`: connect by name from the shell (netcat mode), see how it went (`trace`), see the order a
 * dial would use (`resolve`), and watch why it matters (`demo`). This file wires argv, streams, colour,
 * Ctrl-C and exit statuses; the commands live next to it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Invocation, parseCommandLine, toCliWords } from './args.js';
import { makeStyle, shouldColor } from './color.js';
import { type CliIo, runConnect, runResolve, runTrace } from './commands.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { helpText } from './help.js';

/** Width of waterfall bars, columns. */
const BAR_WIDTH = 40;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? 'unknown';
}

/** A usage message ends by pointing at the help (once). */
function withHelpPointer(message: string): string {
  return message.includes('(see netdial') ? message : `${message} (see netdial --help)`;
}

/** One line on stderr for the error (its stack too with --debug); returns the exit status. */
function reportError(error: unknown, debug: boolean): number {
  const status = exitCodeFor(error);
  const message = error instanceof Error ? error.message : String(error);
  const line =
    status === EXIT.interrupted
      ? 'interrupted'
      : status === EXIT.usage
        ? withHelpPointer(toCliWords(message.split('\n')[0] ?? ''))
        : (message.split('\n')[0] ?? '');
  process.stderr.write(`netdial: ${line}\n`);
  if (debug && error instanceof Error) {
    process.stderr.write(`${error.stack ?? ''}\n`);
    if (error.cause !== undefined)
      process.stderr.write(`cause: ${String((error.cause as Error)?.stack ?? error.cause)}\n`);
  }
  return status;
}

async function main(argv: readonly string[]): Promise<number> {
  // Whoever reads our output went away (`netdial … | head`): stop quietly, as a shell tool does.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
  });
  let invocation: Invocation;
  try {
    invocation = parseCommandLine(argv);
  } catch (error) {
    return reportError(error, argv.includes('--debug'));
  }
  const { command, flags } = invocation;
  const colorFor = (stream: NodeJS.WriteStream) =>
    makeStyle(shouldColor({ isTTY: stream.isTTY, env: process.env, flag: flags.color }));
  if (command.name === 'help') {
    process.stdout.write(helpText(command.topic));
    return EXIT.ok;
  }
  if (command.name === 'version') {
    process.stdout.write(`netdial ${version()}\n`);
    return EXIT.ok;
  }

  // Ctrl-C aborts the dial (or the copy); a second Ctrl-C exits at once.
  const controller = new AbortController();
  const onInterrupt = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onInterrupt);
  const io: CliIo = {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    outStyle: colorFor(process.stdout),
    errStyle: colorFor(process.stderr),
    signal: controller.signal,
    width: BAR_WIDTH,
  };
  try {
    switch (command.name) {
      case 'connect':
        return await runConnect(command, io);
      case 'trace':
        return await runTrace(command, io);
      case 'resolve':
        return await runResolve(command, io);
      case 'demo': {
        const { runDemo } = await import('./demo.js');
        return await runDemo(
          { loopback: command.loopback },
          {
            out: process.stdout,
            err: process.stderr,
            style: io.outStyle,
            signal: io.signal,
            width: BAR_WIDTH,
          },
          { scriptPath: fileURLToPath(import.meta.url), argv },
        );
      }
    }
  } catch (error) {
    return reportError(error, flags.debug);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

main(process.argv.slice(2)).then(
  (status) => {
    // Exit once the output is flushed, even if stdin (a terminal) would keep the process alive.
    process.stdout.write('', () => process.stderr.write('', () => process.exit(status)));
  },
  (error: unknown) => {
    process.stderr.write(
      `netdial: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(EXIT.failure);
  },
);
