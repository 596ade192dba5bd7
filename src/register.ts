/**
 * `netdial/register`: importing it puts netdial behind every connection of an unmodified application —
 * `node --import netdial/register app.js`, `NODE_OPTIONS="--import netdial/register"`, or
 * `node --require netdial/register app.cjs` (Node ≥ 20.19 loads this ES module through require()).
 * See `register()` (src/adoption/register.ts) for what it replaces and the NETDIAL_* variables it reads.
 *
 * A bad NETDIAL_* value ends the process at start, before the application runs, with one line naming
 * the variable on stderr and exit code 1 — not at the first request.
 */
import { register } from './adoption/register.js';

/** Codes of the errors that are a bad setting, told in one line rather than with a stack. */
const SETTING_ERRORS = new Set(['ERR_NETDIAL_INVALID_ENV', 'ERR_NETDIAL_UNCOVERED_FETCH']);

try {
  register();
} catch (err) {
  if (!SETTING_ERRORS.has((err as { code?: string }).code ?? '')) throw err;
  process.stderr.write(`netdial/register: ${(err as Error).message}\n`);
  process.exit(1);
}
