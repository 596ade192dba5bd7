/**
 * `MemoryStore`: the seam through which Dialers in many threads, processes or hosts share what they learn
 * about endpoints (`new Dialer({ memory: { store } })`). netdial ships two — `BroadcastMemoryStore`
 * (worker threads of one process) and `RedisMemoryStore` (`netdial/redis`) — and anything else that can
 * fan a message out and hand back recent state can be one: NATS, etcd, Postgres LISTEN/NOTIFY, a file.
 *
 * The contract, from netdial's side:
 * - netdial calls `publish` from a timer, never from a dial, at most once per 100 ms per Dialer memory,
 *   and never while the previous call's promise is pending; a rejection (or throw) counts as an error and
 *   the observations are retried later. A store must not buffer without bound: if it cannot send now it
 *   should reject at once (netdial keeps a bounded queue itself and drops the oldest).
 * - Whatever `subscribe`'s listener or `load` delivers is untrusted input: netdial validates every
 *   observation and ignores what is malformed, so a store may pass on raw decoded messages.
 * - A store may deliver a Dialer's own observations back to it (harmless: merging is idempotent).
 * - Nothing identifying a request travels: an observation names an endpoint (IP address, port), an outcome,
 *   a wall-clock time and a random id. Only with `memory: { store, shareDns: true }` do DNS answers travel
 *   too ({@link DnsObservation}: a host name, its addresses, their expiry): names can be private, so that
 *   is off by default. A store keeps them for newcomers like endpoint observations (Redis: under
 *   `<prefix>dns:`, expiring with the answer's remaining TTL).
 */
import type { DnsObservation } from './dns-observation.js';
import type { EndpointObservation } from './fleet-observation.js';

export type { DnsObservation } from './dns-observation.js';
export type { EndpointObservation } from './fleet-observation.js';

/** What travels in a batch: an endpoint observation, or (with `shareDns`) a DNS answer (`kind: 'dns'`). */
export type FleetObservation = EndpointObservation | DnsObservation;

export interface MemoryStore {
  /**
   * Sends `observations` (newest per endpoint, oldest first) to every peer, and keeps them for newcomers'
   * `load` if the store has state. May return a promise; reject (or throw) when they could not be sent.
   */
  publish(observations: readonly FleetObservation[]): void | Promise<void>;
  /**
   * Calls `onMessage` with each batch peers publish (an array of observations, as decoded: unvalidated),
   * and `onError`, if given, with the store's own trouble (a lost connection…), for diagnostics. Returns a
   * function that unsubscribes. Several Dialer memories may subscribe to one store. Called once, from
   * `new Dialer()`: a throw (or a returned promise that rejects) is reported on `netdial:memory:error`
   * (operation 'subscribe') and does not fail the constructor; that Dialer then gets no live updates.
   */
  subscribe(onMessage: (batch: unknown) => void, onError?: (error: unknown) => void): () => void;
  /**
   * Optional: the current shared state, at most `limit` observations (a newcomer merges it before its
   * first dial when it arrives within 50 ms, later otherwise). Reject when it cannot be had.
   */
  load?(limit: number): Promise<unknown>;
}
