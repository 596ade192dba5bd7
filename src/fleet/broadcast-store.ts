/**
 * `BroadcastMemoryStore`: fleet memory between the worker threads of one process, over a
 * `BroadcastChannel` of the given name (every thread that creates one with the same name shares).
 *
 * Messages on the channel (structured clone, no JSON):
 * - `{ type: 'observations', batch }`: a Dialer memory's coalesced observations;
 * - `{ type: 'hello', nonce }`: a newcomer asks for the current state;
 * - `{ type: 'state', nonce, batch }`: a peer's answer (its newest observation per endpoint, bounded).
 * Each store keeps the newest valid observation per endpoint — and per (name, family) for DNS answers
 * (`shareDns`), dropped once expired — it has seen (at most 4096 in all), to answer
 * newcomers; what other threads post is validated before it is kept, and passed on to netdial as untrusted
 * input, which validates it again. The channel is unref'd: it never keeps a thread alive; `close()` ends it.
 */
// The global BroadcastChannel is node:worker_threads' class, loaded when first touched: importing
// node:worker_threads would load the worker machinery at `import 'netdial'` (~0.5 ms, issue 16) for a
// store few programs create.
import type { BroadcastChannel as Channel } from 'node:worker_threads';
import { type EndpointObservation, mergeObservation, parseObservation } from '../memory/fleet-observation.js';
import {
  type DnsObservation,
  dnsObservationKey,
  isDnsItem,
  mergeDnsObservation,
  parseDnsObservation,
  remainingTtlMs,
} from '../memory/dns-observation.js';
import { STORE_CLOSED } from './fleet-sync.js';
import type { FleetObservation, MemoryStore } from '../memory/memory-store.js';
import { inputError } from '../errors.js';

/** Most observations a store keeps to answer newcomers. */
const MAX_STATE = 4096;
/** How long `load` waits for the first peer's answer before it answers with nothing, ms. */
const LOAD_WAIT_MS = 30;

type Listener = { onMessage: (batch: unknown) => void; onError: ((error: unknown) => void) | undefined };

export class BroadcastMemoryStore implements MemoryStore {
  readonly name: string;
  readonly #channel: Channel;
  readonly #listeners = new Set<Listener>();
  readonly #state = new Map<string, EndpointObservation>();
  readonly #dnsState = new Map<string, DnsObservation>();
  readonly #loads = new Map<string, (batch: unknown) => void>();
  #closed = false;

  /** @throws TypeError (ERR_NETDIAL_INVALID_ARGUMENT) when `name` is not a non-empty string. */
  constructor(name = 'netdial') {
    if (typeof name !== 'string' || name === '') {
      throw inputError(
        'ERR_NETDIAL_INVALID_ARGUMENT',
        `\`name\` must be a non-empty string, got ${String(name)}`,
      );
    }
    this.name = name;
    this.#channel = new (globalThis.BroadcastChannel as typeof Channel)(name);
    this.#channel.unref();
    this.#channel.onmessage = (event) => this.#onMessage((event as MessageEvent).data);
    this.#channel.onmessageerror = (event) => {
      for (const l of this.#listeners)
        l.onError?.(new Error(`undecodable message on ${name}: ${String(event)}`));
    };
  }

  publish(observations: readonly FleetObservation[]): void {
    if (this.#closed) {
      throw Object.assign(new Error(`BroadcastMemoryStore ${this.name} is closed`), { code: STORE_CLOSED });
    }
    const batch = [...observations];
    this.#keep(batch);
    this.#channel.postMessage({ type: 'observations', batch });
  }

  subscribe(onMessage: (batch: unknown) => void, onError?: (error: unknown) => void): () => void {
    const listener: Listener = { onMessage, onError };
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Asks the other threads for their state; the first answer wins (others arrive as ordinary batches). */
  load(limit: number): Promise<unknown> {
    if (this.#closed) return Promise.resolve([]);
    const nonce = `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#loads.delete(nonce);
        resolve([]);
      }, LOAD_WAIT_MS);
      timer.unref();
      this.#loads.set(nonce, (batch) => {
        clearTimeout(timer);
        this.#loads.delete(nonce);
        resolve(Array.isArray(batch) ? batch.slice(0, limit) : batch);
      });
      this.#channel.postMessage({ type: 'hello', nonce });
    });
  }

  /** Closes the channel; publishing then fails with ERR_NETDIAL_STORE_CLOSED and subscribers stop. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    for (const answer of [...this.#loads.values()]) answer([]);
    this.#channel.close();
  }

  #keep(batch: readonly unknown[]): void {
    const nowWallMs = Date.now();
    for (const item of batch) {
      if (isDnsItem(item)) {
        const d = parseDnsObservation(item, nowWallMs);
        if (d === undefined || !mergeDnsObservation(this.#dnsState, d)) continue;
        const key = dnsObservationKey(d);
        this.#dnsState.delete(key);
        this.#dnsState.set(key, d);
        while (this.#state.size + this.#dnsState.size > MAX_STATE) {
          this.#dnsState.delete(this.#dnsState.keys().next().value as string);
        }
        continue;
      }
      const o = parseObservation(item, nowWallMs);
      if (o === undefined) continue;
      if (mergeObservation(this.#state, o)) {
        // Most recently updated last: the oldest goes first when the state is full.
        this.#state.delete(`${o.port} ${o.address}`);
        this.#state.set(`${o.port} ${o.address}`, o);
        if (this.#state.size + this.#dnsState.size > MAX_STATE) {
          if (this.#dnsState.size > 0) this.#dnsState.delete(this.#dnsState.keys().next().value as string);
          else this.#state.delete(this.#state.keys().next().value as string);
        }
      }
    }
  }

  #onMessage(data: unknown): void {
    if (this.#closed) return;
    const message = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
    const type = message.type;
    if (type === 'hello') {
      if (typeof message.nonce === 'string') {
        const nowWallMs = Date.now();
        for (const [key, d] of this.#dnsState)
          if (!(remainingTtlMs(d, nowWallMs) > 0)) this.#dnsState.delete(key);
        if (this.#state.size + this.#dnsState.size > 0) {
          const batch = [...this.#state.values(), ...this.#dnsState.values()];
          this.#channel.postMessage({ type: 'state', nonce: message.nonce, batch });
        }
      }
      return;
    }
    if (type === 'state') {
      const answer = typeof message.nonce === 'string' ? this.#loads.get(message.nonce) : undefined;
      if (answer !== undefined) {
        if (Array.isArray(message.batch)) this.#keep(message.batch);
        answer(message.batch);
        return;
      }
      // An answer to another thread's hello: also news for this one.
    }
    const batch = type === 'observations' || type === 'state' ? message.batch : data;
    if (Array.isArray(batch)) this.#keep(batch);
    for (const l of this.#listeners) l.onMessage(batch);
  }
}
