/** Child process: prints Node's own outcome (JSON array) for every ARGUMENT_CASES entry; argv[2] is a live port. */
import net from 'node:net';
import { ARGUMENT_CASES, argsFor, outcomeOf } from './net-arg-cases.js';

// Run as a test file by `node --test dist/test/` (no port given): nothing to do.
if (process.argv[2] === undefined) process.exit(0);
const port = Number(process.argv[2]);
const outcomes = ARGUMENT_CASES.map(([, args]) =>
  outcomeOf(() => (net.createConnection as (...a: unknown[]) => net.Socket)(...argsFor(args, port))),
);
process.stdout.write(JSON.stringify(outcomes));
process.exit(0);
