/**
 * The environment variables of `netdial/register`, read once at start: ONE table, one entry per
 * variable, each turning its text into a setting (a Dialer option, the trace switch, the memory file).
 * Pure: an environment record in, settings out. A bad value is a TypeError (code
 * ERR_NETDIAL_INVALID_ENV) whose message starts with the variable's name, raised at start, never at the
 * first request. An empty value counts as unset (`NETDIAL_POLICY= node app.js` is no policy). An unknown `NETDIAL_*`
 * name one or two typos away from a known one is refused with a suggestion, as an unknown option is.
 */
import { path } from '../builtins.js';
import type { DialerOptions } from '../dialer.js';
import { envVariable } from '../env-variable.js';
import { suggestName } from '../option-names.js';
import { compilePolicy, PUBLIC_INTERNET_ONLY } from '../policy/policy.js';
import { parseProxyOption } from '../proxy/proxy-option.js';

/** What the environment asks `register()` for. */
export interface EnvironmentSettings {
  /** Options of the Dialer that becomes the process-wide default (policy, proxy). */
  dialer: DialerOptions;
  /** NETDIAL_TRACE: one stderr line per dial. */
  trace: boolean;
  /** NETDIAL_MEMORY_FILE, made absolute against the working directory at start. */
  memoryFile: string | undefined;
  /** NETDIAL_ALLOW_UNIX_SOCKETS: under a policy, Unix-socket requests connect (`allowUnixSockets`). */
  allowUnixSockets: boolean;
  /**
   * NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH: with a policy and without undici, start anyway (global fetch and
   * WebSocket then bypass the policy). Without it that combination fails at start.
   */
  allowUncoveredFetch: boolean;
}

/** Stable code of a bad environment value. */
export const INVALID_ENV_CODE = 'ERR_NETDIAL_INVALID_ENV';

/** A bad environment value: a TypeError whose message starts with the variable's name. */
export function invalidEnv(
  variable: string,
  message: string,
): TypeError & { code: string; variable: string } {
  return Object.assign(new TypeError(`${variable}: ${message}`), { code: INVALID_ENV_CODE, variable });
}

/** One variable: how its (non-empty) text becomes part of the settings. */
type ReadVariable = (value: string, into: EnvironmentSettings, cwd: string) => void;

/** The variables netdial/register reads. Adding one is one entry here. */
const VARIABLES: Readonly<Record<string, ReadVariable>> = Object.freeze({
  NETDIAL_POLICY: (value, into) => {
    into.dialer.policy = parsePolicy(value);
  },
  // As the `proxy` option: a proxy URL or `env` (curl's variables). Checked here, so a bad value fails
  // at start; the Dialer gets the text and reads the environment per dial as `proxy: 'env'` does.
  NETDIAL_PROXY: (value, into) => {
    try {
      parseProxyOption(value, 'NETDIAL_PROXY');
    } catch (err) {
      const message = (err as Error).message.replace(/^invalid option NETDIAL_PROXY: /, '');
      throw invalidEnv('NETDIAL_PROXY', message);
    }
    into.dialer.proxy = value;
  },
  NETDIAL_TRACE: (value, into) => {
    into.trace = parseSwitch('NETDIAL_TRACE', value);
  },
  NETDIAL_MEMORY_FILE: (value, into, cwd) => {
    into.memoryFile = path.isAbsolute(value) ? value : path.resolve(cwd, value);
  },
  NETDIAL_ALLOW_UNIX_SOCKETS: (value, into) => {
    into.allowUnixSockets = parseSwitch('NETDIAL_ALLOW_UNIX_SOCKETS', value);
  },
  NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH: (value, into) => {
    into.allowUncoveredFetch = parseSwitch('NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH', value);
  },
});

/** The names of the variables netdial/register reads. */
export const ENVIRONMENT_VARIABLES: readonly string[] = Object.freeze(Object.keys(VARIABLES));

const KNOWN = new Set(ENVIRONMENT_VARIABLES);

/**
 * Reads the NETDIAL_* variables of `env` (`process.env` by default). `cwd` anchors a relative
 * NETDIAL_MEMORY_FILE.
 * @throws TypeError (code ERR_NETDIAL_INVALID_ENV, `variable` set) for a bad value or a misspelt name;
 */
export function readEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): EnvironmentSettings {
  const settings: EnvironmentSettings = {
    dialer: {},
    trace: false,
    memoryFile: undefined,
    allowUnixSockets: false,
    allowUncoveredFetch: false,
  };
  for (const name of Object.keys(env)) {
    if (!name.startsWith('NETDIAL_') || KNOWN.has(name)) continue;
    const suggestion = suggestName(name, KNOWN);
    if (suggestion !== undefined && name.length > 'NETDIAL_'.length)
      throw invalidEnv(name, `unknown variable; did you mean ${suggestion}?`);
  }
  for (const name of ENVIRONMENT_VARIABLES) {
    const value = envVariable(env, name); // own keys only: Object.prototype.NETDIAL_* sets nothing
    if (value === undefined || value.trim() === '') continue;
    VARIABLES[name]!(value.trim(), settings, cwd);
  }
  return settings;
}

/** `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`, any case. */
function parseSwitch(variable: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === '1' || v === 'true' || v === 'yes' || v === 'on') return true;
  if (v === '0' || v === 'false' || v === 'no' || v === 'off') return false;
  throw invalidEnv(
    variable,
    `expected 1, true, yes or on (or 0, false, no, off), got ${JSON.stringify(value)}`,
  );
}

/**
 * NETDIAL_POLICY: `public` (the public internet only, PUBLIC_INTERNET_ONLY), or a comma list of
 * address classes and CIDR ranges to deny, where `public` may appear as one item (its classes), and
 * `proxy:ENTRY` items re-open ENTRY (a class, range or address) for the hop to a proxy only (allowProxy).
 * Each item is checked with the policy compiler, so the env form accepts exactly what `policy.deny` does.
 */
export function parsePolicy(value: string): 'public' | { deny: string[]; allowProxy?: string[] } {
  if (value === 'public') return 'public';
  const items = value.split(',').map((s) => s.trim());
  const deny: string[] = [];
  // `proxy:ENTRY` items: the policy's allowProxy (a proxy on that address is dialled; a target is not).
  const allowProxy: string[] = [];
  items.forEach((item, index) => {
    if (item.startsWith('proxy:')) {
      const entry = item.slice('proxy:'.length);
      try {
        compilePolicy({ allowProxy: [entry] });
      } catch (err) {
        const detail = (err as Error).message.replace(/^invalid option [^:]+: /, '');
        throw invalidEnv('NETDIAL_POLICY', `item ${index + 1} of ${JSON.stringify(value)}: ${detail}`);
      }
      allowProxy.push(entry);
      return;
    }
    if (item === '') {
      throw invalidEnv(
        'NETDIAL_POLICY',
        `item ${index + 1} of ${JSON.stringify(value)} is empty; expected a comma list of address classes and CIDR ranges`,
      );
    }
    if (item === 'public') {
      deny.push(...PUBLIC_INTERNET_ONLY.deny);
      return;
    }
    try {
      compilePolicy({ deny: [item] });
    } catch (err) {
      const detail = (err as Error).message
        .replace(/^invalid option [^:]+: /, '')
        .replace(/^expected an address class/, "expected 'public', an address class");
      throw invalidEnv('NETDIAL_POLICY', `item ${index + 1} of ${JSON.stringify(value)}: ${detail}`);
    }
    deny.push(item);
  });
  const policy = { deny: [...new Set(deny)] };
  return allowProxy.length === 0 ? policy : { ...policy, allowProxy: [...new Set(allowProxy)] };
}
