/**
 * Node's built-in modules as netdial's sources use them (issue 16, cold start): every value import of a
 * built-in by a module `import 'netdial'` loads goes through this file (type imports stay `import type`);
 * modules loaded later (netdial/undici, the proxy dial, the CLI) may import built-ins directly.
 *
 * They are taken with `process.getBuiltinModule` (Node >= 20.16; package.json engines says >= 20.19), not
 * an ESM `import`: an ESM import of a built-in makes a module facade with a binding per export (~0.3 ms
 * each on the project's machine kind, ~5 ms for the 16 built-ins netdial used), getBuiltinModule hands
 * over the built-in's exports object itself. One difference follows: where netdial calls through that
 * object (`net.connect(…)`), it sees the object as it is at call time, as Node's own http/tls code does,
 * so a property replaced on it later (an APM patching `net.connect`) is seen without
 * `module.syncBuiltinESMExports()`.
 *
 * - Loaded when netdial is imported (constants below): what defining netdial's exports needs (`Duplex`,
 *   the base of DialSocket), what every dial needs anyway (net, dgram for the DNS client, os), and those
 *   Node has loaded at its own start (events, fs, path, url, async_hooks: free; diagnostics_channel ~0.2 ms).
 * - Loaded on first use (the functions below; each call after the first returns the same object):
 *   http, https and tls (~3 ms: the agents' base classes, TLS dials, `register()`), dns (~0.7 ms: the
 *   system resolver and `lookup`), module (createRequire of the optional peers) — a plain dial of a
 *   name needs none of them; crypto (~1.5–2.5 ms) only where /dev/urandom cannot be read for DNS
 *   message IDs (resolution/dns-id.ts).
 * `performance` is Node's global (node:perf_hooks is not loaded for it).
 */

export const asyncHooks: typeof import('node:async_hooks') = process.getBuiltinModule('node:async_hooks');
export const dgram: typeof import('node:dgram') = process.getBuiltinModule('node:dgram');
export const diagnosticsChannel: typeof import('node:diagnostics_channel') =
  process.getBuiltinModule('node:diagnostics_channel');
export const events: typeof import('node:events') = process.getBuiltinModule('node:events');
export const fs: typeof import('node:fs') = process.getBuiltinModule('node:fs');
export const net: typeof import('node:net') = process.getBuiltinModule('node:net');
export const os: typeof import('node:os') = process.getBuiltinModule('node:os');
export const path: typeof import('node:path') = process.getBuiltinModule('node:path');
export const stream: typeof import('node:stream') = process.getBuiltinModule('node:stream');
export const url: typeof import('node:url') = process.getBuiltinModule('node:url');

let cryptoModule: typeof import('node:crypto') | undefined;
let dnsModule: typeof import('node:dns') | undefined;
let httpModule: typeof import('node:http') | undefined;
let httpsModule: typeof import('node:https') | undefined;
let moduleModule: typeof import('node:module') | undefined;
let tlsModule: typeof import('node:tls') | undefined;

/** node:crypto, loaded on first call. */
export function crypto(): typeof import('node:crypto') {
  cryptoModule ??= process.getBuiltinModule('node:crypto');
  return cryptoModule;
}

/** node:dns, loaded on first call. */
export function dns(): typeof import('node:dns') {
  dnsModule ??= process.getBuiltinModule('node:dns');
  return dnsModule;
}

/** node:http, loaded on first call. */
export function http(): typeof import('node:http') {
  httpModule ??= process.getBuiltinModule('node:http');
  return httpModule;
}

/** node:https, loaded on first call. */
export function https(): typeof import('node:https') {
  httpsModule ??= process.getBuiltinModule('node:https');
  return httpsModule;
}

/** node:module, loaded on first call. */
export function nodeModule(): typeof import('node:module') {
  moduleModule ??= process.getBuiltinModule('node:module');
  return moduleModule;
}

/** node:tls, loaded on first call. */
export function tls(): typeof import('node:tls') {
  tlsModule ??= process.getBuiltinModule('node:tls');
  return tlsModule;
}
