/**
 * `register()`: netdial process-wide, without changing the application. It
 * - makes a Dialer configured from the environment (NETDIAL_POLICY, NETDIAL_MEMORY_FILE…) the
 *   process-wide default (what `dial()` and netdial's integrations without a `dialer` use);
 * - replaces `http.globalAgent` and `https.globalAgent` with netdial's `Agent` / `HttpsAgent`, built with
 *   the options of the agents they replace (Node 20's: keepAlive, lifo scheduling, 5 s idle timeout), so
 *   every request without an agent of its own — http.get, and axios, got, node-fetch… on top — dials
 *   through netdial and pools as before;
 * - installs netdial's undici dispatcher as the global dispatcher, so global `fetch` and `WebSocket`
 *   dial through netdial (needs the undici package, an optional peer: without it a warning says so and
 *   fetch keeps Node's own connector);
 * - with NETDIAL_TRACE=1, writes one line per dial to stderr; with NETDIAL_MEMORY_FILE, loads the memory
 *   now and saves it at exit.
 * Not patched: `net.connect` / `tls.connect` themselves (see docs/integrations.md "Zero-code adoption").
 *
 * Everything is read and checked before anything is replaced: a bad value throws (naming the variable)
 * and leaves the process as it was.
 */
import type * as http from 'node:http';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import {
  diagnosticsChannel,
  http as nodeHttp,
  https as nodeHttps,
  nodeModule,
  path,
  tls,
} from '../builtins.js';
import { subscribe } from '../diagnostics.js';
import { Dialer, type DialerOptions, getDefaultDialer, replaceDefaultDialer } from '../dialer.js';
import { parseProxyOption } from '../proxy/proxy-option.js';
import { invalidOption, isDialError } from '../errors.js';
import { Agent, HttpsAgent } from '../integrations/agent.js';
import { ownCopy, REGISTER_OPTION_NAMES, readOptionBag } from '../option-names.js';
import { getReport } from '../report.js';
import { loadUndiciIntegration, UNDICI_NOT_INSTALLED } from './undici-integration.js';
import { type EnvironmentSettings, readEnvironment } from './environment.js';
import {
  boundedMemoryText,
  checkMemoryFilePath,
  loadMemoryFile,
  writeFileAtomically,
} from './memory-file.js';
import { doneLine, errorLine, tlsLine } from './trace-line.js';

/** Undoes a `register()`: see {@link register}. */
export type RestoreRegistration = () => Promise<void>;

/**
 * `register(options)`: the knobs of the NETDIAL_* variables, from code. An option given here wins over
 * its variable; a variable whose option is absent (or `undefined`) is still read from the environment.
 */
export interface RegisterOptions {
  /** As the Dialer's `policy` option (`'public'`, `{ deny, allow }`); NETDIAL_POLICY. */
  policy?: DialerOptions['policy'] | undefined;
  /** One stderr line per dial; NETDIAL_TRACE. */
  trace?: boolean | undefined;
  /** The memory file, absolute or relative to the working directory; NETDIAL_MEMORY_FILE. */
  memoryFile?: string | undefined;
  /** Under a policy, let Unix-socket requests connect; NETDIAL_ALLOW_UNIX_SOCKETS. */
  allowUnixSockets?: boolean | undefined;
  /** With a policy and without undici, start anyway (fetch then bypasses the policy); NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH. */
  allowUncoveredFetch?: boolean | undefined;
  /** As the `proxy` option: a proxy URL, `'env'` or `false`; NETDIAL_PROXY. */
  proxy?: DialerOptions['proxy'];
}

/** Stable code of the refusal to start a policy that global fetch would bypass. */
export const UNCOVERED_FETCH_CODE = 'ERR_NETDIAL_UNCOVERED_FETCH';

/**
 * The refusal to start with a policy while global fetch/WebSocket cannot be held to it (no undici).
 * `fromCode`: the policy came from `register({ policy })`, so the message names the options; `why`: why
 * the undici integration is unavailable (undici not installed, or netdial inside an application bundle).
 */
export function uncoveredFetchError(
  fromCode: boolean,
  why: string = UNDICI_NOT_INSTALLED,
): Error & { code: string; variable: string } {
  const cover =
    why === UNDICI_NOT_INSTALLED
      ? 'with the undici package installed (npm install undici, ^6.21 or ^7)'
      : `by netdial's undici integration, unavailable here: ${why}`;
  const [policy, allow] = fromCode
    ? ['policy', 'allowUncoveredFetch: true']
    : ['NETDIAL_POLICY', 'NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH=1'];
  return Object.assign(
    new Error(
      `${policy}: global fetch and WebSocket would bypass the policy: they can only be covered ${cover}; to start anyway with http/https covered and fetch not, set ${allow}`,
    ),
    { code: UNCOVERED_FETCH_CODE, variable: policy },
  );
}

function checkBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw invalidOption(name, `invalid option ${name}: expected a boolean, got ${typeof value}`);
}

/** The environment's settings with what `options` say laid over them (validated; policy by the Dialer). */
function applyOptions(
  settings: EnvironmentSettings,
  options: unknown,
  cwd: string,
): EnvironmentSettings & { policyFromCode: boolean } {
  const bag = readOptionBag(options, REGISTER_OPTION_NAMES, 'options');
  // `dialer` null-prototype: its policy and proxy are read by name below and in register() (a plain
  // object would answer them from a polluted Object.prototype when no variable or option set them).
  const out = { ...settings, dialer: ownCopy(settings.dialer) as DialerOptions };
  if (bag.policy !== undefined) out.dialer.policy = bag.policy as DialerOptions['policy'];
  if (bag.proxy !== undefined) {
    parseProxyOption(bag.proxy); // checked before anything is replaced
    out.dialer.proxy = bag.proxy === false ? undefined : (bag.proxy as DialerOptions['proxy']);
  }
  out.trace = checkBoolean('trace', bag.trace) ?? out.trace;
  out.allowUnixSockets = checkBoolean('allowUnixSockets', bag.allowUnixSockets) ?? out.allowUnixSockets;
  out.allowUncoveredFetch =
    checkBoolean('allowUncoveredFetch', bag.allowUncoveredFetch) ?? out.allowUncoveredFetch;
  const file = bag.memoryFile;
  if (file !== undefined) {
    if (typeof file !== 'string' || file.trim() === '') {
      throw invalidOption('memoryFile', 'invalid option memoryFile: expected a non-empty file path');
    }
    out.memoryFile = path.isAbsolute(file) ? file : path.resolve(cwd, file);
  }
  return { ...out, policyFromCode: bag.policy !== undefined };
}

/**
 * The modules' own objects (an ES namespace import is frozen): `globalAgent` is a setter on `http`
 * (Node's http client reads the agent module's global agent through it) and a plain property on `https`.
 */
const globals = {
  get http() {
    return nodeHttp();
  },
  get https() {
    return nodeHttps();
  },
} as unknown as {
  http: { globalAgent: http.Agent };
  https: { globalAgent: http.Agent };
};

/** Signals whose default action ends the process: the memory file is saved first, then the signal acts. */
const ENDING_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** A line on stderr; a closed stderr loses the line, never the process. */
function writeStderr(line: string): void {
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // nowhere left to say it
  }
}

/** The options `agent` was built with (Node's global agents: keepAlive, scheduling, timeout, noDelay). */
function optionsOf(agent: http.Agent): Record<string, unknown> {
  const options = (agent as { options?: unknown }).options;
  const out: Record<string, unknown> = {};
  if (typeof options !== 'object' || options === null) return out;
  for (const [key, value] of Object.entries(options)) {
    // `path` is per request; `dial` and `maxSocketAge` belong to a netdial agent being replaced.
    if (key !== 'path' && key !== 'dial' && key !== 'maxSocketAge') out[key] = value;
  }
  return out;
}

/** What the TLS trace line reads from a socket whose handshake runs: a tls.TLSSocket or netdial's DialSocket. */
type SecuringSocket = Duplex & { getProtocol(): string | null | undefined };

/**
 * Makes the copied `timeout` of Node's global agent (Node 20: 5 s) work as it does in Node's own agent:
 * the idle timeout of pooled sockets (http.Agent#keepSocketAlive sets it from `agent.options.timeout`),
 * never a bound on connecting. Node's agent hands `options.timeout` to net.connect, where it only makes
 * the socket emit 'timeout' (the connect goes on); a netdial agent would end the dial there. So the
 * agent's own `timeout` is taken out of what reaches createConnection: the dial keeps the Dialer's
 * timeout. (Node merges the agent's options over the request's, so that value is always the agent's.)
 * With `onTls`, every TLS socket the agent makes is handed to it (NETDIAL_TRACE's TLS line).
 */

function idleTimeoutOnly(
  agent: http.Agent,
  onTls?: (socket: SecuringSocket, host: string, port: number) => void,
): void {
  const idleMs = (agent as { options?: { timeout?: unknown } }).options?.timeout;
  const create = agent.createConnection.bind(agent) as (
    options: http.ClientRequestArgs,
    oncreate: (err: Error | null, stream: Duplex) => void,
  ) => Duplex | null | undefined;
  const own = (
    options: http.ClientRequestArgs,
    oncreate: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined => {
    let opts = options;
    if (idleMs !== undefined && options.timeout === idleMs) {
      const { timeout: _idle, ...rest } = options;
      opts = rest;
    }
    if (onTls === undefined) return create(opts, oncreate);
    const host = String(options.host ?? options.hostname ?? 'localhost');
    const port = Number(options.port);
    const socket = create(opts, (err, stream) => {
      if (err === null && stream instanceof tls().TLSSocket) onTls(stream, host, port);
      oncreate(err, stream);
    });
    // netdial's HttpsAgent hands over a connecting socket at once. Its dial races the TLS handshakes and
    // connects once one is done: the dial's own line has the TLS part (and a failed certificate check is
    // the dial's failure, said in its line), so no TLS line follows unless TLS ran after the dial.
    if (
      socket !== null &&
      socket !== undefined &&
      typeof (socket as SecuringSocket).getProtocol === 'function'
    ) {
      socket.once('connect', () => {
        if (getReport(socket as net.Socket)?.tls === undefined) onTls(socket as SecuringSocket, host, port);
      });
    }
    return socket;
  };
  Object.defineProperty(agent, 'createConnection', { value: own, configurable: true, writable: true });
}

/** NETDIAL_TRACE's line for an https.globalAgent request's TLS handshake, after its dial's TCP line. */
function traceTls(socket: SecuringSocket, host: string, port: number): void {
  const startMs = performance.now();
  const onSecure = () => {
    socket.off('error', onError);
    writeStderr(
      tlsLine({ host, port, durationMs: performance.now() - startMs, protocol: socket.getProtocol() }),
    );
  };
  const onError = (err: Error) => {
    socket.off('secureConnect', onSecure);
    writeStderr(tlsLine({ host, port, durationMs: performance.now() - startMs, error: err }));
  };
  socket.once('secureConnect', onSecure);
  socket.once('error', onError);
}

/**
 * Writes the Dialer's memory to `file` at exit (and before a SIGINT/SIGTERM/SIGHUP that no one else
 * handles ends the process). Returns the function that stops it, saving once more when asked.
 */
function saveMemoryAtExit(file: string, dialer: Dialer): (saveNow: boolean) => void {
  const save = () => {
    try {
      const json = dialer.exportMemory();
      if (json !== undefined) writeFileAtomically(file, boundedMemoryText(json));
    } catch (err) {
      writeStderr(
        `netdial: NETDIAL_MEMORY_FILE ${file} not saved: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  };
  const stop = () => {
    process.off('exit', save);
    for (const signal of ENDING_SIGNALS) process.off(signal, onSignal);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    // Someone else handles the signal: the process goes on, or exits through 'exit' (saved there).
    if (process.listenerCount(signal) > 1) return;
    stop();
    save();
    process.kill(process.pid, signal); // no listener left: the signal's default action
  };
  process.on('exit', save);
  for (const signal of ENDING_SIGNALS) process.on(signal, onSignal);
  return (saveNow) => {
    stop();
    if (saveNow) save();
  };
}

/**
 * Takes a replaced agent out of service without cutting requests short: its idle pooled sockets close
 * now, and a socket whose request is still running closes when that request ends (keep-alive off).
 */
function retire(agent: http.Agent): void {
  (agent as unknown as { keepAlive: boolean }).keepAlive = false;
  for (const list of Object.values(agent.freeSockets)) for (const socket of list ?? []) socket.destroy();
}

/** What undici publishes on 'undici:client:connected' / 'undici:client:connectError'. */
interface UndiciConnectMessage {
  connectParams?: { protocol?: string; hostname?: string; port?: string | number };
  socket?: unknown;
  error?: (Error & { code?: unknown; cause?: unknown }) | undefined;
}

/**
 * The TLS line of a global-fetch connection to an https origin whose TLS ran after netdial's dial (over a
 * tunnel socket of undici's ProxyAgent; otherwise the connector's dial races TLS and its line says it);
 * undici publishes the outcome. A failure that is the dial's own
 * (a DialError, or undici's timeout error around one) already has its line, and an abort is no outcome.
 * undici does not say when the handshake began: this line has no time.
 */
function undiciTlsLine(message: UndiciConnectMessage): string | undefined {
  const params = message.connectParams;
  if (params?.protocol !== 'https:') return undefined;
  const host = String(params.hostname ?? '').replace(/^\[(.*)\]$/, '$1');
  const port = Number(params.port) || 443;
  const error = message.error;
  if (error === undefined) {
    // The connector's dial raced TLS (every https origin but a tunnel of undici's ProxyAgent): said in its line.
    if (getReport(message.socket as net.Socket)?.tls !== undefined) return undefined;
    const protocol = message.socket instanceof tls().TLSSocket ? message.socket.getProtocol() : undefined;
    return tlsLine({ host, port, protocol });
  }
  if (isDialError(error) || isDialError(error.cause) || error.name === 'AbortError') return undefined;
  return tlsLine({ host, port, error });
}

/** Subscribes the NETDIAL_TRACE writer; returns the unsubscribe. */
function startTrace(): () => void {
  const onUndici = (message: unknown) => {
    const line = undiciTlsLine(message as UndiciConnectMessage);
    if (line !== undefined) writeStderr(line);
  };
  const connected = diagnosticsChannel.channel('undici:client:connected');
  const connectError = diagnosticsChannel.channel('undici:client:connectError');
  connected.subscribe(onUndici);
  connectError.subscribe(onUndici);
  const stops = [
    // A proxy hop's dial (`proxyHopOf`) is part of the proxied dial's line, which names the target.
    subscribe('netdial:dial:done', (event) => {
      if (event.proxyHopOf === undefined) writeStderr(doneLine(event));
    }),
    subscribe('netdial:dial:error', (event) => {
      if (event.proxyHopOf === undefined) writeStderr(errorLine(event));
    }),
    () => connected.unsubscribe(onUndici),
    () => connectError.unsubscribe(onUndici),
  ];
  return () => {
    for (const stop of stops) stop();
  };
}

/**
 * Installs netdial process-wide from the environment (see the module comment): the default Dialer,
 * `http.globalAgent`, `https.globalAgent`, undici's global dispatcher, the NETDIAL_TRACE writer and the
 * NETDIAL_MEMORY_FILE hooks. Returns `restore()`, which puts back each thing it replaced (the ones still
 * in place: something installed over netdial's since stays), saves the memory file, lets requests in
 * flight finish (their sockets then close), and resolves when netdial's dispatcher has finished its
 * requests. `import 'netdial/register'` calls it once. `options` (see RegisterOptions) say from code
 * what the variables say; an option given wins over its variable, the others are still read.
 * @throws TypeError (code ERR_NETDIAL_INVALID_ENV, message starting with the variable's name) for a bad
 *   NETDIAL_* value, TypeError (ERR_NETDIAL_INVALID_OPTION) for a bad or unknown option, Error
 *   (ERR_NETDIAL_UNCOVERED_FETCH) for a policy while undici is not installed (global fetch would bypass
 *   it) unless allowed — all before anything is replaced.
 */
export function register(options?: RegisterOptions): RestoreRegistration {
  const cwd = process.cwd();
  const settings = applyOptions(readEnvironment(process.env, cwd), options, cwd);
  const { integration: undici, unavailable } = loadUndiciIntegration();
  if (undici === undefined && settings.dialer.policy !== undefined && !settings.allowUncoveredFetch) {
    throw uncoveredFetchError(settings.policyFromCode, unavailable);
  }
  let file = settings.memoryFile;
  let memory: Dialer['memory'];
  if (file !== undefined) {
    file = checkMemoryFilePath(file);
    const loaded = loadMemoryFile(file, performance.now(), Date.now());
    if (loaded.warning !== undefined) {
      process.emitWarning(loaded.warning, { code: 'NETDIAL_MEMORY_FILE_IGNORED' });
    }
    memory = loaded.memory;
    if (!loaded.saveable) file = undefined; // never saved over a file that is not netdial's
  }
  const dialer = new Dialer(memory === undefined ? settings.dialer : { ...settings.dialer, memory });
  // NETDIAL_PROXY goes to each integration too: under `env` they choose the variable by the request's
  // scheme (http_proxy for http:, https_proxy for https:), which the Dialer's plain TCP dial cannot see.
  const proxy = settings.dialer.proxy === undefined ? {} : { proxy: settings.dialer.proxy };
  const dial = settings.allowUnixSockets
    ? { dialer, allowUnixSockets: true, ...proxy }
    : { dialer, ...proxy };
  const httpAgent = new Agent({ ...optionsOf(globals.http.globalAgent), dial });
  const httpsAgent = new HttpsAgent({ ...optionsOf(globals.https.globalAgent), dial });
  idleTimeoutOnly(httpAgent);
  idleTimeoutOnly(httpsAgent, settings.trace ? traceTls : undefined);

  // Everything is checked: replace.
  const previousHttp = globals.http.globalAgent;
  const previousHttps = globals.https.globalAgent;
  const previousDialer = replaceDefaultDialer(dialer);
  globals.http.globalAgent = httpAgent;
  globals.https.globalAgent = httpsAgent;
  nodeModule().syncBuiltinESMExports(); // `import { globalAgent } from 'node:http'` sees the new agents too
  const dispatcher = undici?.installGlobalDispatcher(dial);
  if (undici === undefined) {
    process.emitWarning(
      settings.dialer.policy === undefined
        ? `netdial/register: global fetch and WebSocket keep Node's own connector: ${unavailable}`
        : `netdial/register: global fetch and WebSocket keep Node's own connector and are NOT held to the policy (allowed by NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH / allowUncoveredFetch): ${unavailable}`,
      { code: 'NETDIAL_UNDICI_MISSING' },
    );
  }
  const stopTrace = settings.trace ? startTrace() : () => {};
  const stopSaving = file === undefined ? () => {} : saveMemoryAtExit(file, dialer);

  let restored: Promise<void> | undefined;
  return () => {
    restored ??= (async () => {
      stopTrace();
      stopSaving(true);
      if (globals.http.globalAgent === httpAgent) globals.http.globalAgent = previousHttp;
      if (globals.https.globalAgent === httpsAgent) globals.https.globalAgent = previousHttps;
      nodeModule().syncBuiltinESMExports();
      if (getDefaultDialer() === dialer) replaceDefaultDialer(previousDialer);
      retire(httpAgent);
      retire(httpsAgent);
      await dispatcher?.restore();
    })();
    return restored;
  };
}
