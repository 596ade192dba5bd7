/**
 * `npm run lab -- [options] <command> [args…]`: runs one command inside a fresh lab with the default zone,
 * the lab's resolv.conf/hosts in effect, then tears the lab down and exits with the command's code.
 */
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type LabCliArgs, labHelpText, parseLabCliArgs } from './cli-args.js';
import { DEFAULT_ZONE } from './default-zone.js';
import { withLab } from './lab.js';
import { decideForThisProcess, runInsideLab } from './reexec.js';

async function runCommandInLab(args: LabCliArgs): Promise<number> {
  const [cmd, ...rest] = args.command;
  return withLab(
    DEFAULT_ZONE,
    async (lab) => {
      if (args.verbose) process.stderr.write(`lab: ready in ${lab.setupMs.toFixed(0)} ms; running ${cmd}\n`);
      try {
        const result = await lab.exec(cmd!, rest, { stdio: 'inherit', timeoutMs: Number.POSITIVE_INFINITY });
        return result.code ?? 128 + (result.signal === null ? 0 : constants.signals[result.signal]);
      } catch (error) {
        process.stderr.write(`lab: cannot run ${cmd}: ${(error as Error).message}\n`);
        return 127;
      }
    },
    {
      clientIpv4: args.clientIpv4,
      clientIpv6: args.clientIpv6,
      ...(args.slowPathDelayMs === undefined ? {} : { slowPathDelayMs: args.slowPathDelayMs }),
      onTimings: (t) => {
        if (args.verbose) {
          process.stderr.write(
            `lab: setup ${t.setupMs.toFixed(0)} ms, teardown ${t.teardownMs.toFixed(0)} ms\n`,
          );
        }
      },
    },
  );
}

async function main(argv: readonly string[]): Promise<number> {
  let args: LabCliArgs;
  try {
    args = parseLabCliArgs(argv);
  } catch (error) {
    process.stderr.write(`lab: ${(error as Error).message}\n`);
    return 2;
  }
  if (args.help || args.command.length === 0) {
    (args.help ? process.stdout : process.stderr).write(labHelpText());
    return args.help ? 0 : 2;
  }
  const decision = decideForThisProcess();
  switch (decision.action) {
    case 'inside':
      return runCommandInLab(args);
    case 'reexec':
      return runInsideLab(fileURLToPath(import.meta.url), {
        args: argv,
        execArgv: [],
        letInnerHandleInterrupt: true,
      });
    case 'skip':
    case 'fail':
      process.stderr.write(`lab: ${decision.reason}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`lab: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
