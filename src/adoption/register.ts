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
import httpModule from 'node:http';
import httpsModule from 'node:https';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { performance } from 'node:perf_hooks';
import { subscribe } from '../diagnostics.js';
import { Dialer, getDefaultDialer, replaceDefaultDialer } from '../dialer.js';
import { Agent, HttpsAgent } from '../integrations/agent.js';
import type * as UndiciIntegration from '../undici.js';
import { readEnvironment } from './environment.js';
import {
  boundedMemoryText,
  checkMemoryFilePath,
  loadMemoryFile,
  writeFileAtomically,
} from './memory-file.js';
import { doneLine, errorLine } from './trace-line.js';

/** Undoes a `register()`: see {@link register}. */
export type RestoreRegistration = () => Promise<void>;

/**
 * The modules' own objects (an ES namespace import is frozen): `globalAgent` is a setter on `http`
 * (Node's http client reads the agent module's global agent through it) and a plain property on `https`.
 */
const globals = { http: httpModule, https: httpsModule } as unknown as {
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

/** netdial/undici, loaded now (synchronously) when undici is installed; undefined when it is not. */
function loadUndiciIntegration(): typeof UndiciIntegration | undefined {
  try {
    return createRequire(import.meta.url)('../undici.js') as typeof UndiciIntegration;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_NETDIAL_UNDICI_MISSING') return undefined;
    throw err;
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

/** Subscribes the NETDIAL_TRACE writer; returns the unsubscribe. */
function startTrace(): () => void {
  const stops = [
    subscribe('netdial:dial:done', (event) => writeStderr(doneLine(event))),
    subscribe('netdial:dial:error', (event) => writeStderr(errorLine(event))),
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
 * requests. `import 'netdial/register'` calls it once.
 * @throws TypeError (code ERR_NETDIAL_INVALID_ENV, message starting with the variable's name) for a bad
 *   NETDIAL_* value, before anything is replaced.
 */
export function register(): RestoreRegistration {
  const settings = readEnvironment(process.env, process.cwd());
  const file = settings.memoryFile;
  let memory: Dialer['memory'];
  if (file !== undefined) {
    checkMemoryFilePath(file);
    const loaded = loadMemoryFile(file, performance.now(), Date.now());
    if (loaded.warning !== undefined) {
      process.emitWarning(loaded.warning, { code: 'NETDIAL_MEMORY_FILE_IGNORED' });
    }
    memory = loaded.memory;
  }
  const dialer = new Dialer(memory === undefined ? settings.dialer : { ...settings.dialer, memory });
  const undici = loadUndiciIntegration();
  // NETDIAL_PROXY goes to each integration too: under `env` they choose the variable by the request's
  // scheme (http_proxy for http:, https_proxy for https:), which the Dialer's plain TCP dial cannot see.
  const proxy = settings.dialer.proxy === undefined ? {} : { proxy: settings.dialer.proxy };
  const httpAgent = new Agent({ ...optionsOf(globals.http.globalAgent), dial: { dialer, ...proxy } });
  const httpsAgent = new HttpsAgent({ ...optionsOf(globals.https.globalAgent), dial: { dialer, ...proxy } });

  // Everything is checked: replace.
  const previousHttp = globals.http.globalAgent;
  const previousHttps = globals.https.globalAgent;
  const previousDialer = replaceDefaultDialer(dialer);
  globals.http.globalAgent = httpAgent;
  globals.https.globalAgent = httpsAgent;
  syncBuiltinESMExports(); // `import { globalAgent } from 'node:http'` sees the new agents too
  const dispatcher = undici?.installGlobalDispatcher({ dialer, ...proxy });
  if (undici === undefined) {
    process.emitWarning(
      "netdial/register: global fetch and WebSocket keep Node's own connector: the undici package is not installed (npm install undici, ^6.21 or ^7)",
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
      syncBuiltinESMExports();
      if (getDefaultDialer() === dialer) replaceDefaultDialer(previousDialer);
      retire(httpAgent);
      retire(httpsAgent);
      await dispatcher?.restore();
    })();
    return restored;
  };
}
