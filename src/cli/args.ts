/**
 * The command line: argv in, one validated Invocation out, or a UsageError whose message is one line.
 * Pure (node:util parseArgs, no I/O). Option values are checked for form here (durations, numbers); their
 * ranges are the library's to check (it throws TypeError ERR_NETDIAL_INVALID_OPTION, also exit 2).
 */
import { parseArgs } from 'node:util';
import type { DialTarget } from '../dialer.js';
import { UsageError } from './exit-codes.js';
import { suggestName } from '../option-names.js';

/** The commands; 'connect' is netcat mode (`netdial TARGET`). */
export type CommandName = 'connect' | 'trace' | 'resolve' | 'demo';

/** Words that name a command when they come first. */
export const COMMAND_WORDS: readonly string[] = ['trace', 'resolve', 'demo', 'help'];

/** TLS settings from --tls, --servername, --alpn, --insecure, --ca. */
export interface TlsFlags {
  servername: string | undefined;
  alpn: string[];
  insecure: boolean;
  caFile: string | undefined;
}

/** What every dialling command takes. Times in ms; undefined = the library's default. */
export interface DialFlags {
  family: 0 | 4 | 6;
  timeoutMs: number | undefined;
  attemptDelayMs: number | undefined;
  resolutionDelayMs: number | undefined;
  maxConcurrentAttempts: number | undefined;
  localAddress: string | undefined;
  /** undefined: no TLS asked for (an https:// or wss:// target still gets TLS). */
  tls: TlsFlags | undefined;
  /** --nameserver: ask only these DNS servers (resolver 'dns', no hosts file); empty: the system's setup. */
  nameservers: string[];
  /** --memory-file: load the Dialer's memory from it before, save it after. */
  memoryFile: string | undefined;
  /** false with --no-memory. */
  memory: boolean;
  /**
   * -w / --timeout as given, ms. Netcat mode also closes a connection idle this long, as `nc -w` does;
   * undefined: no idle limit.
   */
  idleTimeoutMs: number | undefined;
  /** --proxy URL as given ('' = none); undefined: the environment decides, as curl (proxy: 'env'). */
  proxy: string | undefined;
  /** --noproxy LIST: hosts that skip the proxy (NO_PROXY syntax); replaces no_proxy/NO_PROXY, as curl. */
  noProxy: string | undefined;
  /**
   * --proxy-ca / --proxy-insecure: the TLS of the hop to an https:// proxy (the `proxy` option's `tls`),
   * apart from the target's --ca / --insecure; undefined when neither is given.
   */
  proxyTls: { caFile: string | undefined; insecure: boolean } | undefined;
}

/** One parsed command. */
export type Command =
  | { name: 'help'; topic: CommandName }
  | { name: 'version' }
  | {
      name: 'connect';
      target: DialTarget;
      dial: DialFlags;
      trace: boolean;
      json: boolean;
      verbose: boolean;
    }
  | { name: 'trace'; target: DialTarget; dial: DialFlags; json: boolean }
  | { name: 'resolve'; target: string; dial: DialFlags; json: boolean }
  | { name: 'demo'; loopback: boolean };

/** Flags every command takes. */
export interface GlobalFlags {
  debug: boolean;
  color: 'auto' | 'always' | 'never';
}

/** A parsed command line. */
export interface Invocation {
  command: Command;
  flags: GlobalFlags;
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  debug: { type: 'boolean' },
  color: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  ipv4: { type: 'boolean', short: '4' },
  ipv6: { type: 'boolean', short: '6' },
  timeout: { type: 'string', short: 'w' },
  // nc -N (shut the connection down at the end of stdin): what netdial always does; accepted for nc habits.
  'shutdown-on-eof': { type: 'boolean', short: 'N' },
  'attempt-delay': { type: 'string' },
  'resolution-delay': { type: 'string' },
  'max-concurrent': { type: 'string' },
  source: { type: 'string', short: 's' },
  tls: { type: 'boolean' },
  servername: { type: 'string' },
  alpn: { type: 'string', multiple: true },
  insecure: { type: 'boolean', short: 'k' },
  ca: { type: 'string' },
  trace: { type: 'boolean' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  nameserver: { type: 'string', multiple: true },
  'memory-file': { type: 'string' },
  'no-memory': { type: 'boolean' },
  loopback: { type: 'boolean' },
  proxy: { type: 'string', short: 'x' },
  noproxy: { type: 'string' },
  'proxy-ca': { type: 'string' },
  'proxy-insecure': { type: 'boolean' },
} as const;

type OptionName = keyof typeof OPTIONS;

const GLOBAL: readonly OptionName[] = ['help', 'version', 'debug', 'color', 'no-color'];
const DIAL: readonly OptionName[] = [
  'ipv4',
  'ipv6',
  'timeout',
  'attempt-delay',
  'resolution-delay',
  'max-concurrent',
  'source',
  'tls',
  'servername',
  'alpn',
  'insecure',
  'ca',
  'nameserver',
  'memory-file',
  'no-memory',
  'proxy',
  'noproxy',
  'proxy-ca',
  'proxy-insecure',
];

/** The options each command accepts (besides the global ones). */
export const COMMAND_OPTIONS: Record<CommandName, readonly OptionName[]> = {
  connect: [...DIAL, 'trace', 'json', 'verbose', 'shutdown-on-eof'],
  trace: [...DIAL, 'json'],
  resolve: ['ipv4', 'ipv6', 'timeout', 'source', 'nameserver', 'memory-file', 'no-memory', 'json'],
  demo: ['loopback'],
};

/**
 * A duration in ms from a number with an optional unit ("250ms", "1.5s"); a bare number is in `bareUnit`:
 * seconds for -w/--timeout (nc's unit), milliseconds for the RFC 8305 delays (the RFC's). Throws
 * UsageError naming the option otherwise.
 */
export function parseDurationMs(text: string, option: string, bareUnit: 'ms' | 's' = 'ms'): number {
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s)?$/.exec(text.trim());
  if (!m) {
    const example = bareUnit === 's' ? '5 (seconds), 500ms or 2s' : '250 (ms), 250ms or 2s';
    throw new UsageError(
      `option --${option}: expected a duration like ${example}, got ${JSON.stringify(text)}`,
    );
  }
  const value = Number(m[1]);
  return (m[2] ?? bareUnit) === 's' ? value * 1000 : value;
}

function parseCount(text: string, option: string): number {
  if (!/^\d+$/.test(text.trim()))
    throw new UsageError(`option --${option}: expected a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** parseArgs' own errors, made one short line. */
function usageFrom(error: unknown): UsageError {
  const e = error as { code?: string; message?: string };
  // Node quotes the option first: 'Unknown option '--foo'…', 'Option '-w, --timeout <value>' argument missing'.
  const inQuotes = /'([^']+)'/.exec(e.message ?? '')?.[1] ?? '';
  const quoted = /--[\w-]+/.exec(inQuotes)?.[0] ?? inQuotes.split(' ')[0];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const near = quoted?.startsWith('--')
        ? suggestName(quoted.slice(2), new Set(Object.keys(OPTIONS)))
        : undefined;
      return new UsageError(
        `unknown option ${quoted ?? ''}${near === undefined ? '' : ` (did you mean --${near}?)`}`.trimEnd(),
      );
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(e.message ?? ''))
        return new UsageError(`option ${quoted} takes no value`);
      if (/ambiguous/.test(e.message ?? ''))
        return new UsageError(
          `option ${quoted} needs a value (write ${quoted}=VALUE for one starting with "-")`,
        );
      return new UsageError(`option ${quoted} needs a value`);
    default:
      return new UsageError(e.message?.split('\n')[0] ?? String(error));
  }
}

function dialFlags(v: Record<string, unknown>): DialFlags {
  if (v.ipv4 && v.ipv6) throw new UsageError('options -4 and -6 exclude each other');
  const str = (k: OptionName) => v[k] as string | undefined;
  const alpn = ((v.alpn as string[] | undefined) ?? [])
    .flatMap((a) => a.split(','))
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const wantsTls =
    v.tls === true ||
    str('servername') !== undefined ||
    alpn.length > 0 ||
    v.insecure === true ||
    str('ca') !== undefined;
  const memoryFile = str('memory-file');
  if (memoryFile !== undefined && v['no-memory'])
    throw new UsageError('options --memory-file and --no-memory exclude each other');
  // nc's -w: seconds when bare ("-w 5" is 5 s), as in nc; "500ms" and "2s" work too.
  const timeoutMs =
    str('timeout') === undefined ? undefined : parseDurationMs(str('timeout')!, 'timeout', 's');
  if (timeoutMs !== undefined && !(timeoutMs >= 1 && timeoutMs <= MAX_TIMER_MS)) {
    throw new UsageError(
      `option -w/--timeout: expected 1ms to ${Math.floor(MAX_TIMER_MS / 1000)}s (a bare number is seconds), got ${JSON.stringify(str('timeout'))}`,
    );
  }
  const nameservers = (v.nameserver as string[] | undefined) ?? [];
  for (const ns of nameservers) {
    if (ns.trim() === '') throw new UsageError('option --nameserver needs an address, e.g. 127.0.0.1:5353');
  }
  return {
    family: v.ipv4 ? 4 : v.ipv6 ? 6 : 0,
    timeoutMs,
    attemptDelayMs:
      str('attempt-delay') === undefined
        ? undefined
        : parseDurationMs(str('attempt-delay')!, 'attempt-delay'),
    resolutionDelayMs:
      str('resolution-delay') === undefined
        ? undefined
        : parseDurationMs(str('resolution-delay')!, 'resolution-delay'),
    maxConcurrentAttempts:
      str('max-concurrent') === undefined ? undefined : parseCount(str('max-concurrent')!, 'max-concurrent'),
    localAddress: str('source'),
    tls: wantsTls
      ? { servername: str('servername'), alpn, insecure: v.insecure === true, caFile: str('ca') }
      : undefined,
    nameservers,
    memoryFile,
    memory: v['no-memory'] !== true,
    idleTimeoutMs: timeoutMs,
    proxy: str('proxy'),
    noProxy: str('noproxy'),
    proxyTls:
      str('proxy-ca') !== undefined || v['proxy-insecure'] === true
        ? { caFile: str('proxy-ca'), insecure: v['proxy-insecure'] === true }
        : undefined,
  };
}

/** The longest timer Node keeps (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `HOST PORT` or `TARGET` as a dial target. */
function targetOf(positionals: readonly string[], command: string): DialTarget {
  if (positionals.length === 0) throw new UsageError(`${command}: missing TARGET (e.g. example.com:443)`);
  if (positionals.length > 2)
    throw new UsageError(`${command}: too many arguments: ${positionals.slice(2).join(' ')}`);
  const [first, second] = positionals as [string, string | undefined];
  if (second === undefined) return first;
  const host = first.startsWith('[') && first.endsWith(']') ? first.slice(1, -1) : first;
  const port = /^\d+$/.test(second) ? Number(second) : second;
  return { host, port };
}

/** Parses `argv` (without node and the script). Throws UsageError for a bad command line. */
export function parseCommandLine(argv: readonly string[]): Invocation {
  let parsed: {
    values: Record<string, unknown>;
    positionals: string[];
    tokens: Array<{ kind: string; index: number }>;
  };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
      tokens: true,
    }) as typeof parsed;
  } catch (error) {
    throw usageFrom(error);
  }
  const { values: v } = parsed;
  let positionals = parsed.positionals;
  const flags: GlobalFlags = {
    debug: v.debug === true,
    color: v['no-color'] ? 'never' : v.color ? 'always' : 'auto',
  };
  let name: CommandName = 'connect';
  let helpWord = false;
  const first = positionals[0];
  // A command word counts only before `--`: `netdial -- demo 80` connects to a host named demo.
  const terminated = parsed.tokens.findIndex((t) => t.kind === 'option-terminator');
  const firstPositional = parsed.tokens.findIndex((t) => t.kind === 'positional');
  const isCommandWord =
    first !== undefined &&
    COMMAND_WORDS.includes(first) &&
    (terminated === -1 || firstPositional < terminated);
  if (isCommandWord) {
    positionals = positionals.slice(1);
    if (first === 'help') {
      helpWord = true;
      const topic = positionals[0];
      if (topic !== undefined && !['trace', 'resolve', 'demo', 'connect'].includes(topic)) {
        throw new UsageError(
          `help: unknown command ${JSON.stringify(topic)} (commands: trace, resolve, demo)`,
        );
      }
      name = (topic ?? 'connect') as CommandName;
      positionals = [];
    } else {
      name = first as CommandName;
    }
  }
  if (helpWord || v.help) return { command: { name: 'help', topic: name }, flags };
  if (v.version) return { command: { name: 'version' }, flags };

  const allowed = new Set<string>([...GLOBAL, ...COMMAND_OPTIONS[name]]);
  for (const key of Object.keys(v)) {
    if (!allowed.has(key)) {
      const what = name === 'connect' ? 'netcat mode' : name;
      throw new UsageError(
        `option --${key} does not apply to ${what} (see netdial ${name === 'connect' ? '' : `${name} `}--help)`,
      );
    }
  }
  switch (name) {
    case 'connect':
    case 'trace': {
      if (name === 'connect' && positionals.length === 0)
        throw new UsageError('missing TARGET (e.g. netdial example.com 80)');
      const target = targetOf(positionals, name);
      const dial = dialFlags(v);
      return name === 'trace'
        ? { command: { name, target, dial, json: v.json === true }, flags }
        : {
            command: {
              name,
              target,
              dial,
              trace: v.trace === true,
              json: v.json === true,
              verbose: v.verbose === true,
            },
            flags,
          };
    }
    case 'resolve': {
      if (positionals.length !== 1) {
        throw new UsageError(
          positionals.length === 0
            ? 'resolve: missing NAME (e.g. netdial resolve example.com:443)'
            : `resolve: too many arguments: ${positionals.slice(1).join(' ')}`,
        );
      }
      return { command: { name, target: positionals[0]!, dial: dialFlags(v), json: v.json === true }, flags };
    }
    case 'demo':
      if (positionals.length > 0) throw new UsageError(`demo: unexpected argument ${positionals[0]}`);
      return { command: { name, loopback: v.loopback === true }, flags };
  }
}

/** The command-line flag for each dial option the library may reject (its messages name the option). */
const FLAG_OF: Record<string, string> = {
  timeout: '--timeout',
  attemptDelay: '--attempt-delay',
  resolutionDelay: '--resolution-delay',
  maxConcurrentAttempts: '--max-concurrent',
  localAddress: '--source',
  family: '-4/-6',
  proxy: '--proxy',
};

/**
 * A library message "invalid option attemptDelay: expected a number from 10 to 2000, got 5" in the CLI's
 * words: "invalid option --attempt-delay: expected a number from 10 to 2000 (ms), got 5". Other text is
 * returned unchanged.
 */
export function toCliWords(message: string): string {
  return message.replace(
    /^invalid option (\w+): (expected a number[^,]*)?/,
    (all, name: string, range?: string) => {
      const flag = FLAG_OF[name];
      if (flag === undefined) return all;
      const unit = range !== undefined && name !== 'maxConcurrentAttempts' ? `${range} (ms)` : (range ?? '');
      return `invalid option ${flag}: ${unit}`;
    },
  );
}
