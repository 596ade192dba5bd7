/**
 * Messages between the lab (client side) and its router process over the Node IPC channel.
 */
import type { ListenerKind, TlsListenerKind } from './plan.js';

/** One TCP listener the router opens. */
export interface ListenerSpec {
  address: string;
  port: number;
  kind: ListenerKind | TlsListenerKind;
}

/** Keys and certificates (PEM) of the TLS listeners, made by the lab at setup (lab/tls-pki.ts). */
export interface RouterTlsMaterial {
  key: string;
  cert: string;
  wrongNameKey: string;
  wrongNameCert: string;
}

/** One TCP connection a router listener accepted. */
export interface ServerConnection {
  kind: ListenerKind | TlsListenerKind;
  /** Server address and port the client connected to. */
  localAddress: string;
  localPort: number;
  /** The client's address and port as the server saw them. */
  remoteAddress: string;
  remotePort: number;
  /** Accept time and close time, epoch milliseconds with sub-millisecond precision
   * (`performance.timeOrigin + performance.now()`), comparable across processes. */
  acceptedAtEpochMs: number;
  closedAtEpochMs: number | undefined;
  /** Bytes the server read from the client. */
  bytesRead: number;
}

/** One `ip [familyArgs] -batch -` run: e.g. `['-6']` for `rule` lines that name no address. */
export interface IpBatch {
  familyArgs: string[];
  text: string;
}

/** Lab -> router. */
export type RouterRequest =
  | { type: 'configure'; ipBatches: IpBatch[]; listeners: ListenerSpec[]; tls?: RouterTlsMaterial }
  | { type: 'connections'; id: number }
  | { type: 'reset-connections' };

/** Router -> lab. */
export type RouterReply =
  | { type: 'hello' }
  | { type: 'configured' }
  | { type: 'error'; message: string }
  | { type: 'connections'; id: number; connections: ServerConnection[] };

/** A sysctl to write: path below /proc/sys and value. */
export type Sysctl = readonly [path: string, value: string];
