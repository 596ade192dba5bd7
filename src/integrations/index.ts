/**
 * The integrations, re-exported for the package's main entry: `lookup` for clients that take a lookup
 * function, `createConnection` / `DialSocket` for connection hooks and streams, `Agent` / `HttpsAgent` for
 * node:http(s) and the clients built on them. (undici and fetch: the `netdial/undici` entry.)
 */
export { Agent, HttpsAgent } from './agent.js';
export type { AgentOptions, HttpsAgentOptions, NetdialAgentOptions } from './agent.js';
export { bindCreateConnection, createConnection, DialSocket } from './create-connection.js';
export type {
  ConnectionDialOptions,
  ConnectionOptions,
  CreateConnection,
  CreateConnectionCallback,
  DialSocketOptions,
} from './create-connection.js';
export { createLookup, lookup, observeAttempts } from './lookup.js';
export type {
  AttemptRecorder,
  CreateLookupOptions,
  LookupAddress,
  LookupCallback,
  LookupOptions,
  LookupPromise,
  NetdialLookup,
} from './lookup.js';
