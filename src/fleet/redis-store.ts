/**
 * `RedisMemoryStore`: fleet memory between processes and hosts, over Redis (`netdial/redis`).
 *
 * - Live: each batch is PUBLISHed as JSON on `<prefix>observations`; a duplicate of the given client
 *   (ioredis `duplicate()`, made on first subscribe) SUBSCRIBEs to it. ioredis reconnects and resubscribes
 *   by itself after Redis restarts.
 * - State for newcomers: each observation is also kept under `<prefix>ep:<port> <address>` with an expiry
 *   (a failure: its remaining backoff; a success: 10 minutes), written by a small Lua script only when it
 *   is newer (wallClockMs, id) than what the key holds, so the keys converge on the same merge rule as the
 *   processes. A DNS answer (`shareDns`) is kept under `<prefix>dns:<family> <name>`, expiring with its
 *   remaining TTL (so Redis never serves it longer than its server allowed). `load` SCANs `<prefix>ep:*`
 *   and `<prefix>dns:*` (each bounded by `limit`) and MGETs them.
 * - Never in a dial's way: `publish` rejects at once unless the client is connected ('ready'), so nothing
 *   piles up in ioredis's offline queue; netdial keeps its own bounded queue and retries.
 * - Untrusted input: messages and key values are parsed here (JSON, size-bounded) and validated by netdial.
 * - A client made with ioredis's `keyPrefix` option: ioredis puts it before the KEYS of a command
 *   (EVAL's keys, MGET's) but not into SCAN's MATCH pattern, not into the keys SCAN returns, and not into
 *   pub/sub channel names (PUBLISH / SUBSCRIBE have no key arguments in its command table; see ioredis's
 *   README, "Transparent Key Prefixing"). So `load` scans `<keyPrefix><prefix>ep:*` and strips
 *   `keyPrefix` from the keys found before MGET (which adds it again), and the channel is
 *   `<keyPrefix><prefix>observations`, named in full here: everything the store keeps or sends lives under
 *   `keyPrefix + prefix`, the one namespace a fleet shares.
 *
 * ioredis is not imported: the client is passed in, so `netdial/redis` loads without ioredis installed and
 * its types name only the methods used ({@link RedisClientLike}), which an ioredis `Redis` instance has.
 */
import { STORE_CLOSED } from './fleet-sync.js';
import { remainingTtlMs } from '../memory/dns-observation.js';
import type { FleetObservation, MemoryStore } from '../memory/memory-store.js';
import { inputError } from '../errors.js';

/** What RedisMemoryStore uses of an ioredis client (an ioredis `Redis` instance fits). */
export interface RedisClientLike {
  /** ioredis connection status: 'ready' when commands go out at once. */
  readonly status: string;
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  /** A new connection with the same options (for the subscription). */
  duplicate(): RedisClientLike;
  subscribe(...channels: string[]): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  disconnect(): void;
  /** ioredis's options; `keyPrefix` (a string or Buffer) is accounted for (see the module comment). */
  readonly options?: { readonly keyPrefix?: unknown } | undefined;
}

export interface RedisMemoryStoreOptions {
  /** An ioredis client (`new Redis(...)`); it stays the caller's (never closed here). */
  client: RedisClientLike;
  /** Namespace of the keys and the channel. Default 'netdial:'. */
  prefix?: string | undefined;
}

/** How long a success stays in the shared state, ms. */
const SUCCESS_TTL_MS = 600_000;
/** Largest message or key value looked at, bytes (a batch of 1024 observations is about 200 kB). */
const MAX_MESSAGE_BYTES = 1 << 20;
/** Keys asked for per SCAN / MGET round. */
const SCAN_COUNT = 500;

/** SET the key to ARGV[1] with expiry ARGV[4] ms unless it holds a newer observation (wallClockMs ARGV[2], id ARGV[3]). */
const SET_IF_NEWER = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, held = pcall(cjson.decode, cur)
  if ok and type(held) == 'table' and type(held.wallClockMs) == 'number' then
    local t = tonumber(ARGV[2])
    if held.wallClockMs > t or (held.wallClockMs == t and tostring(held.id) >= ARGV[3]) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
return 1`;

type Listener = { onMessage: (batch: unknown) => void; onError: ((error: unknown) => void) | undefined };

export class RedisMemoryStore implements MemoryStore {
  readonly prefix: string;
  readonly #client: RedisClientLike;
  /** The client's ioredis `keyPrefix` ('' without one): added by ioredis to command keys, not to patterns. */
  readonly #keyPrefix: string;
  readonly #channel: string;
  readonly #listeners = new Set<Listener>();
  #subscriber: RedisClientLike | undefined;
  #closed = false;

  /** @throws TypeError (ERR_NETDIAL_INVALID_ARGUMENT) naming a bad `client` or `prefix`. */
  constructor(options: RedisMemoryStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw inputError(
        'ERR_NETDIAL_INVALID_ARGUMENT',
        'RedisMemoryStore needs { client }: an ioredis client',
      );
    }
    const { client, prefix = 'netdial:' } = options;
    if (
      typeof client !== 'object' ||
      client === null ||
      typeof client.call !== 'function' ||
      typeof client.duplicate !== 'function'
    ) {
      throw inputError('ERR_NETDIAL_INVALID_ARGUMENT', '`client` must be an ioredis client (new Redis(...))');
    }
    if (typeof prefix !== 'string' || prefix === '' || prefix.length > 200) {
      throw inputError(
        'ERR_NETDIAL_INVALID_ARGUMENT',
        `\`prefix\` must be a non-empty string, got ${String(prefix)}`,
      );
    }
    this.#client = client;
    this.prefix = prefix;
    this.#keyPrefix = keyPrefixOf(client);
    this.#channel = `${this.#keyPrefix}${prefix}observations`;
  }

  /**
   * The key an endpoint's observation, or a DNS answer (`shareDns`), is kept under, as given to the client
   * (the client's ioredis `keyPrefix`, if any, comes before it in Redis).
   */
  keyOf(o: { address: string; port: number } | { name: string; family: 4 | 6 }): string {
    return 'name' in o
      ? `${this.prefix}dns:${o.family} ${o.name}`
      : `${this.prefix}ep:${o.port} ${o.address}`;
  }

  async publish(observations: readonly FleetObservation[]): Promise<void> {
    if (this.#closed) {
      throw Object.assign(new Error('RedisMemoryStore is closed'), { code: STORE_CLOSED });
    }
    if (this.#client.status !== 'ready') {
      throw Object.assign(new Error(`Redis is not connected (client status ${this.#client.status})`), {
        code: 'ERR_NETDIAL_STORE_UNAVAILABLE',
      });
    }
    const nowWallMs = Date.now();
    const writes: Promise<unknown>[] = [];
    for (const o of observations) {
      const ttlMs =
        'kind' in o
          ? Math.floor(remainingTtlMs(o, nowWallMs)) // never longer than the answer has left
          : o.outcome === 'success'
            ? SUCCESS_TTL_MS
            : Math.ceil((o.backoffMs ?? 0) - Math.max(0, nowWallMs - o.wallClockMs));
      if (!(ttlMs > 0)) continue; // a failure whose backoff is over: nothing for newcomers
      writes.push(
        this.#client.call(
          'EVAL',
          SET_IF_NEWER,
          1,
          this.keyOf(o),
          JSON.stringify(o),
          o.wallClockMs,
          o.id,
          ttlMs,
        ),
      );
    }
    writes.push(this.#client.call('PUBLISH', this.#channel, JSON.stringify(observations)));
    await Promise.all(writes);
  }

  subscribe(onMessage: (batch: unknown) => void, onError?: (error: unknown) => void): () => void {
    const listener: Listener = { onMessage, onError };
    this.#listeners.add(listener);
    if (this.#subscriber === undefined && !this.#closed) this.#startSubscriber();
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** The shared state: up to `limit` observations kept under the prefix (parsed, not yet validated). */
  async load(limit: number): Promise<unknown> {
    if (this.#closed) return [];
    const keys = [...(await this.#scan('ep:*', limit)), ...(await this.#scan('dns:*', limit))];
    const out: unknown[] = [];
    for (let i = 0; i < keys.length; i += SCAN_COUNT) {
      const values = (await this.#client.call('MGET', ...keys.slice(i, i + SCAN_COUNT))) as unknown;
      if (!Array.isArray(values)) continue;
      for (const v of values) {
        const parsed = parseMessage(v);
        if (parsed !== undefined) out.push(parsed);
      }
    }
    return out;
  }

  /**
   * Keys under the prefix matching `suffix`: at most `limit` and 10 000 SCAN rounds, whatever the keyspace
   * holds. As the client names them: SCAN matches and returns whole keys, `keyPrefix` included, and the
   * MGET that reads them adds `keyPrefix` again, so it is matched here and taken off what comes back.
   */
  async #scan(suffix: string, limit: number): Promise<string[]> {
    const keyPrefix = this.#keyPrefix;
    const pattern = `${escapeGlob(keyPrefix + this.prefix)}${suffix}`;
    const keys: string[] = [];
    let cursor = '0';
    for (let round = 0; round < 10_000 && keys.length < limit; round++) {
      const reply = (await this.#client.call(
        'SCAN',
        cursor,
        'MATCH',
        pattern,
        'COUNT',
        SCAN_COUNT,
      )) as unknown;
      if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) break;
      cursor = String(reply[0]);
      for (const k of reply[1] as unknown[]) {
        if (typeof k === 'string' && k.startsWith(keyPrefix) && keys.length < limit)
          keys.push(k.slice(keyPrefix.length));
      }
      if (cursor === '0') break;
    }
    return keys;
  }

  /** Ends the subscription connection (the caller's client stays open); publishing then fails for good. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  #startSubscriber(): void {
    const subscriber = this.#client.duplicate();
    this.#subscriber = subscriber;
    subscriber.on('message', (channel: unknown, message: unknown) => {
      if (channel !== this.#channel) return;
      const batch = parseMessage(message);
      for (const l of this.#listeners) l.onMessage(batch === undefined ? message : batch);
    });
    subscriber.on('error', (error: unknown) => {
      for (const l of this.#listeners) l.onError?.(error);
    });
    subscriber.subscribe(this.#channel).catch((error: unknown) => {
      for (const l of this.#listeners) l.onError?.(error);
    });
  }
}

/**
 * The ioredis `keyPrefix` of `client` as text ('' when it has none). A Buffer prefix is taken when it is
 * UTF-8 text (SCAN's pattern and replies are text here); any other value is a TypeError naming it.
 */
function keyPrefixOf(client: RedisClientLike): string {
  const keyPrefix = client.options?.keyPrefix;
  if (keyPrefix === undefined || keyPrefix === null || keyPrefix === '') return '';
  if (typeof keyPrefix === 'string') return keyPrefix;
  if (keyPrefix instanceof Uint8Array) {
    const text = Buffer.from(keyPrefix).toString('utf8');
    if (Buffer.from(text, 'utf8').equals(keyPrefix)) return text;
  }
  throw inputError(
    'ERR_NETDIAL_INVALID_ARGUMENT',
    '`client.options.keyPrefix` must be a string (or a Buffer of UTF-8 text) for RedisMemoryStore',
  );
}

/** JSON from Redis, size-bounded; undefined for anything that is not parseable JSON text. */
function parseMessage(value: unknown): unknown {
  if (typeof value !== 'string' || value.length > MAX_MESSAGE_BYTES) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

/** Escapes Redis glob specials so the prefix matches literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
