/**
 * `lookup`: a drop-in for Node's `lookup` option (the `dns.lookup(hostname, options, callback)` signature)
 * backed by a Dialer's `resolve()` — /etc/hosts, parallel A and AAAA over DNS with the resolv.conf search
 * list and the Dialer's DNS cache, the system resolver as a fallback, or a custom resolver function — in
 * netdial's order (RFC 6724 §6 sorting with the kernel's source addresses, RFC 8305 §4 family
 * interleaving). For clients that take only a lookup function: `http.request({ lookup })`, axios
 * `lookup`, got `dnsLookup`, mongodb `lookup`.
 *
 * Node still makes the connection then (with its own `autoSelectFamily` racing when it gets several
 * addresses); for netdial's full race use `Agent`, `createConnection` or `netdial/undici` instead.
 *
 * Not a policy boundary: Node's `net` never calls a lookup function for an IP literal, so
 * `http://127.0.0.1/` (or a redirect to it) is connected without asking; a Dialer's `policy` applies
 * here to names only. To enforce a policy, give it to netdial's agents or dispatcher, which dial every
 * connection themselves (docs/integrations.md; test/integrations-policy-recipe.test.ts).
 */
import type * as net from 'node:net';
import type { promisify } from 'node:util';
import { dns as nodeDns, os } from '../builtins.js';
import { type Dialer, getDefaultDialer } from '../dialer.js';
import { isIP } from '../ip-address.js';
import { GETADDRINFO_ERRNO } from './node-error.js';
import { LOOKUP_OPTION_NAMES, readOptionBag } from '../option-names.js';
import type { ResolverChoice } from '../options.js';
import type { Family } from '../types.js';

/** Options of one lookup call, as `dns.lookup` takes them. */
export interface LookupOptions {
  /** 0 (default) both families; 4 or 6 (or 'IPv4' / 'IPv6') only that one. */
  family?: number | 'IPv4' | 'IPv6' | undefined;
  /** `dns.ADDRCONFIG`, `dns.V4MAPPED`, `dns.ALL`, or'ed together. */
  hints?: number | undefined;
  /** true: every address as `[{ address, family }]`; false (default): the first one as (address, family). */
  all?: boolean | undefined;
  /** 'verbatim' (default): netdial's order; 'ipv4first' / 'ipv6first': that family first, netdial's order within. */
  order?: 'verbatim' | 'ipv4first' | 'ipv6first' | undefined;
  /** Legacy: true = 'verbatim', false = 'ipv4first'. `order` wins when both are given. */
  verbatim?: boolean | undefined;
}

/** One address as `dns.lookup` with `all: true` returns it. */
export interface LookupAddress {
  address: string;
  family: number;
}

/** The callback of a lookup: with `all: true` `address` is a LookupAddress[], otherwise one IP string. */
export type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * `util.promisify.custom` (a registered symbol, so node:util need not be loaded for it): `util.promisify(lookup)`
 * then gives what `util.promisify(dns.lookup)` gives.
 */
const PROMISIFY_CUSTOM: typeof promisify.custom = Symbol.for(
  'nodejs.util.promisify.custom',
) as typeof promisify.custom;

/** What `util.promisify(lookup)` resolves: `{ address, family }`, or every address with `all: true`. */
export type LookupPromise = (
  hostname: string,
  options?: number | LookupOptions,
) => Promise<LookupAddress | LookupAddress[]>;

/**
 * A netdial lookup function: call it like `dns.lookup`. The callback always runs asynchronously.
 * `observe(socket)` feeds the outcome of each connection attempt Node makes on `socket` (its
 * `connectionAttempt*` events, Node ≥ 20.12 with `autoSelectFamily`) to the Dialer's memory.
 */
export interface NetdialLookup {
  (hostname: string, callback: LookupCallback): void;
  (hostname: string, options: number | LookupOptions | undefined, callback: LookupCallback): void;
  /** Records Node's per-attempt outcomes on `socket` in the Dialer's endpoint memory (no-op without one). */
  observe(socket: net.Socket): void;
  /**
   * As dns.lookup's: `util.promisify(lookup)(host)` resolves `{ address, family }` (every address as an array
   * with `all: true`) and rejects with the error the callback would get.
   */
  [PROMISIFY_CUSTOM]: LookupPromise;
}

/** The promise form of a callback lookup, as dns.lookup's `util.promisify.custom` shapes it. */
function promiseForm(lookup: (h: string, o: unknown, c: LookupCallback) => void): LookupPromise {
  return (hostname, options) =>
    new Promise((resolve, reject) => {
      lookup(hostname, options, (err, address, family) => {
        if (err) reject(err);
        else if (Array.isArray(address)) resolve(address);
        else resolve({ address, family: family ?? 0 });
      });
    });
}

/** Where a lookup records attempt outcomes: the shape of netdial's endpoint history. */
export interface AttemptRecorder {
  recordSuccess(address: string, port: number, rttMs: number, nowMs: number): void;
  recordFailure(address: string, port: number, code: string, nowMs: number): void;
}

/** Options of {@link createLookup}. */
export interface CreateLookupOptions {
  /**
   * The Dialer whose `resolve()` answers (its resolver settings, DNS cache and hosts file) and whose
   * memory `observe()` feeds. Default: the process-wide default Dialer.
   */
  dialer?: Dialer | undefined;
  /** Resolver choice for these lookups (see DialOptions.resolver). Default: the Dialer's. */
  resolver?: ResolverChoice | undefined;
  /**
   * Bound on one lookup, ms. Default 10 000. Past it the callback gets EAI_AGAIN (as getaddrinfo's TRY_AGAIN,
   * what retry logic checks), its `cause` the DialError with code ETIMEDOUT naming the queries still unanswered.
   */
  timeout?: number | undefined;
  /** RFC 8305 §4 First Address Family Count for the interleaved order. Default: the Dialer's (1). */
  firstAddressFamilyCount?: number | undefined;
}

const DEFAULT_TIMEOUT_MS = 10_000;

function optionError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_NETDIAL_INVALID_OPTION' });
}

function timeoutMs(value: unknown): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !(value >= 1) || !Number.isFinite(value)) {
    throw optionError(
      `invalid option timeout: expected a number of ms >= 1 or Infinity, got ${String(value)}`,
    );
  }
  return value;
}

/** Normalised options of one call. */
interface CallOptions {
  family: 0 | 4 | 6;
  hints: number;
  all: boolean;
  order: 'verbatim' | 'ipv4first' | 'ipv6first';
}

/** Node's text for a received value in its argument errors: "type string ('yes')". */
function received(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'function') return 'function';
  if (typeof value === 'object') return 'an instance of Object';
  const text = typeof value === 'string' ? `'${value.slice(0, 28)}'` : String(value);
  return `type ${typeof value} (${text})`;
}

/** A TypeError with Node's own argument-error code (ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE), as dns.lookup throws. */
function argError(code: 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE', message: string): TypeError {
  return Object.assign(new TypeError(message), { code });
}

function checkBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') {
    throw argError(
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" property must be of type boolean. Received ${received(value)}`,
    );
  }
  return value;
}

/**
 * Reads `dns.lookup`-style options and throws what dns.lookup throws for them, synchronously: a value of the
 * wrong type (`{ all: 'yes' }`, `hints: '1'`, options that are neither an object nor a number) is a TypeError
 * with code ERR_INVALID_ARG_TYPE; a value out of range (`family: 5`, unknown hint bits, `order: 'random'`)
 * ERR_INVALID_ARG_VALUE. `null` is absent, as in dns.lookup.
 */
export function parseLookupOptions(options: unknown): CallOptions {
  const result: CallOptions = { family: 0, hints: 0, all: false, order: 'verbatim' };
  if (options === undefined || options === null) return result;
  let family: unknown;
  if (typeof options === 'number') family = options;
  else if (typeof options === 'object') {
    const o = options as Record<string, unknown>;
    family = o.family;
    if (o.hints !== undefined && o.hints !== null) {
      if (typeof o.hints !== 'number') {
        throw argError(
          'ERR_INVALID_ARG_TYPE',
          `The "options.hints" property must be of type number. Received ${received(o.hints)}`,
        );
      }
      if ((o.hints & ~(nodeDns().ADDRCONFIG | nodeDns().V4MAPPED | nodeDns().ALL)) !== 0) {
        throw argError(
          'ERR_INVALID_ARG_VALUE',
          `The argument 'hints' is invalid (expected dns.ADDRCONFIG | dns.V4MAPPED | dns.ALL). Received ${o.hints}`,
        );
      }
      result.hints = o.hints;
    }
    result.all = checkBoolean(o.all, 'options.all') ?? false;
    const verbatim = checkBoolean(o.verbatim, 'options.verbatim');
    if (verbatim !== undefined) result.order = verbatim ? 'verbatim' : 'ipv4first';
    if (o.order !== undefined && o.order !== null) {
      if (o.order !== 'verbatim' && o.order !== 'ipv4first' && o.order !== 'ipv6first') {
        throw argError(
          'ERR_INVALID_ARG_VALUE',
          `The property 'options.order' must be one of: 'verbatim', 'ipv4first', 'ipv6first'. Received ${received(o.order)}`,
        );
      }
      result.order = o.order;
    }
  } else {
    throw argError(
      'ERR_INVALID_ARG_TYPE',
      `The "options" argument must be of type object or integer. Received ${received(options)}`,
    );
  }
  if (family !== undefined && family !== null) {
    if (family === 4 || family === 'IPv4') result.family = 4;
    else if (family === 6 || family === 'IPv6') result.family = 6;
    else if (family !== 0) {
      throw argError(
        'ERR_INVALID_ARG_VALUE',
        `The property 'options.family' must be one of: 0, 4, 6. Received ${received(family)}`,
      );
    }
  }
  return result;
}

/** An IPv4 address as an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2), for `dns.V4MAPPED`. */
function mapped(ipv4: string): string {
  return `::ffff:${ipv4}`;
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.');
}

/**
 * Families the host has a usable address of, for `dns.ADDRCONFIG`: a family counts when some interface
 * has an address of it that is neither loopback nor (IPv6) link-local, as glibc's getaddrinfo decides.
 */
function configuredFamilies(): Set<Family> {
  const families = new Set<Family>();
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4') families.add(4);
      else if (!a.address.toLowerCase().startsWith('fe80:')) families.add(6);
    }
  }
  return families;
}

/**
 * Applies `hints`, `family` and `order` to addresses in netdial's order. ADDRCONFIG drops a family the
 * host has no address of, except loopback addresses (so `localhost` works on a host whose only IPv6
 * address is ::1: a deviation from glibc, which drops ::1 there too). V4MAPPED with family 6 returns
 * IPv4 addresses as ::ffff:a.b.c.d when there is no IPv6 address, or always with ALL.
 */
export function shapeAddresses(
  ordered: ReadonlyArray<{ address: string; family: Family }>,
  call: CallOptions,
  configured: ReadonlySet<Family> | undefined,
): LookupAddress[] {
  let list = ordered.map((a) => ({ address: a.address, family: a.family as number }));
  if ((call.hints & nodeDns().ADDRCONFIG) !== 0 && configured !== undefined) {
    list = list.filter((a) => configured.has(a.family as Family) || isLoopback(a.address));
  }
  if (call.family === 6) {
    const v6 = list.filter((a) => a.family === 6);
    const v4 = list.filter((a) => a.family === 4);
    const mapping =
      (call.hints & nodeDns().V4MAPPED) !== 0 && (v6.length === 0 || (call.hints & nodeDns().ALL) !== 0);
    list = mapping ? [...v6, ...v4.map((a) => ({ address: mapped(a.address), family: 6 }))] : v6;
  } else if (call.family === 4) {
    list = list.filter((a) => a.family === 4);
  }
  if (call.order !== 'verbatim') {
    const first = call.order === 'ipv4first' ? 4 : 6;
    list = [...list.filter((a) => a.family === first), ...list.filter((a) => a.family !== first)];
  }
  return list;
}

/**
 * A getaddrinfo error as Node's `dns.lookup` makes it: "getaddrinfo CODE hostname", `code`, libuv's
 * `errno` for it (UV_EAI_*), `syscall` 'getaddrinfo', `hostname`.
 */
function lookupError(code: string, hostname: string): NodeJS.ErrnoException {
  const err = new Error(`getaddrinfo ${code} ${hostname}`) as NodeJS.ErrnoException & {
    hostname: string;
  };
  err.errno = GETADDRINFO_ERRNO[code];
  err.code = code;
  err.syscall = 'getaddrinfo';
  err.hostname = hostname;
  return err;
}

/**
 * The getaddrinfo code a DNS failure comes out of glibc's getaddrinfo as — what `dns.lookup` callers see and
 * retry logic checks (got and axios-retry retry on EAI_AGAIN): no such name or no address of the family
 * (NXDOMAIN, NODATA) is EAI_NONAME, which Node calls ENOTFOUND; a server failure, timeout, refusal, an
 * unreachable, lame or truncating server is TRY_AGAIN, EAI_AGAIN; a server that cannot take the query
 * (FORMERR, NOTIMP) NO_RECOVERY, EAI_FAIL. Other codes (a custom resolver's own, the address policy's) pass.
 */
function getaddrinfoCode(code: string): string {
  switch (code) {
    case 'ENOTFOUND':
    case 'ENODATA':
      return 'ENOTFOUND';
    case 'ETIMEOUT':
    case 'ETIMEDOUT':
    case 'ESERVFAIL':
    case 'EREFUSED':
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ETRUNCATED':
    case 'EBADRESP':
      return 'EAI_AGAIN';
    case 'EFORMERR':
    case 'ENOTIMP':
      return 'EAI_FAIL';
    default:
      return code;
  }
}

function recorderOf(dialer: unknown): AttemptRecorder | undefined {
  const endpoints = (dialer as { memory?: { endpoints?: unknown } } | undefined)?.memory?.endpoints;
  const r = endpoints as Partial<AttemptRecorder> | undefined;
  return typeof r?.recordFailure === 'function' && typeof r.recordSuccess === 'function'
    ? (r as AttemptRecorder)
    : undefined;
}

/**
 * Listens on `socket` for the per-attempt events Node emits while it races addresses itself
 * (`connectionAttempt`, `connectionAttemptFailed`, `connectionAttemptTimeout`, then `connect`) and records
 * each outcome in `recorder` (netdial's endpoint history): failures with their code (a timeout as
 * ETIMEDOUT), the winner with the time from its attempt to `connect` as RTT. Times are
 * `performance.now()` ms, the Dialer's clock. Listeners go away when the socket connects or closes.
 */
export function observeAttempts(socket: net.Socket, recorder: AttemptRecorder): void {
  const started = new Map<string, number>();
  const key = (ip: string, port: number) => `${ip}|${port}`;
  const onAttempt = (ip: string, port: number) => started.set(key(ip, port), performance.now());
  const onFailed = (ip: string, port: number, _family: number, error: NodeJS.ErrnoException) =>
    recorder.recordFailure(ip, port, error?.code ?? 'EIO', performance.now());
  const onTimeout = (ip: string, port: number) =>
    recorder.recordFailure(ip, port, 'ETIMEDOUT', performance.now());
  const onConnect = () => {
    const ip = socket.remoteAddress;
    const port = socket.remotePort;
    if (ip !== undefined && port !== undefined) {
      const t0 = started.get(key(ip, port));
      if (t0 !== undefined) recorder.recordSuccess(ip, port, performance.now() - t0, performance.now());
    }
    stop();
  };
  const stop = () => {
    socket.off('connectionAttempt', onAttempt);
    socket.off('connectionAttemptFailed', onFailed);
    socket.off('connectionAttemptTimeout', onTimeout);
    socket.off('connect', onConnect);
    socket.off('close', stop);
  };
  socket.on('connectionAttempt', onAttempt);
  socket.on('connectionAttemptFailed', onFailed);
  socket.on('connectionAttemptTimeout', onTimeout);
  socket.once('connect', onConnect);
  socket.once('close', stop);
}

/** A DialError (or other error) of `Dialer#resolve` as the getaddrinfo-style error lookup callers expect. */
function asLookupError(err: unknown, hostname: string): NodeJS.ErrnoException {
  const e = err as NodeJS.ErrnoException;
  if (e instanceof TypeError && typeof e.code === 'string') return e;
  if (e instanceof Error && (e as { code?: unknown }).code === 'ABORT_ERR') return e;
  // netdial's own code for the failure (ESERVFAIL, ETIMEOUT…) stays on the DialError, the `cause`.
  const code = getaddrinfoCode(typeof e?.code === 'string' ? e.code : 'EAI_FAIL');
  const out = lookupError(code, hostname);
  (out as Error).cause = err;
  return out;
}

/**
 * Makes a lookup function (see NetdialLookup) on `options.dialer` (default: the default Dialer): each
 * call is `dialer.resolve(hostname, { family, timeout, resolver, signal })`, shaped by the call's
 * `family`, `hints`, `order`/`verbatim` and `all`; an IP literal is returned as it is (as dns.lookup).
 * Errors are dns.lookup's (`code` ENOTFOUND, EAI_AGAIN, EAI_FAIL as getaddrinfoCode reads them, `errno`,
 * `syscall` 'getaddrinfo', `hostname`, the DialError as `cause`); a host that is not
 * a valid name is the TypeError (code ERR_NETDIAL_INVALID_TARGET), through the callback.
 * @throws TypeError (code ERR_NETDIAL_INVALID_OPTION) for a bad option.
 */
export function createLookup(given: CreateLookupOptions = {}): NetdialLookup {
  // Own properties only, strict names: an inherited or misspelt option never changes the lookup.
  const options = readOptionBag(given, LOOKUP_OPTION_NAMES, 'options') as CreateLookupOptions;
  const timeout = timeoutMs(options.timeout);
  const dialer = options.dialer ?? getDefaultDialer();
  const resolveOptions = {
    timeout,
    ...(options.resolver === undefined ? {} : { resolver: options.resolver }),
    ...(options.firstAddressFamilyCount === undefined
      ? {}
      : { firstAddressFamilyCount: options.firstAddressFamilyCount }),
  };

  const run = (hostname: string, call: CallOptions, callback: LookupCallback) => {
    const reply = (err: NodeJS.ErrnoException | null, list?: LookupAddress[]) => {
      if (err) {
        callback(err, call.all ? [] : '', 0);
        return;
      }
      if (call.all) callback(null, list ?? []);
      else {
        const first = list?.[0];
        if (first === undefined) callback(lookupError('ENOTFOUND', hostname), '', 0);
        else callback(null, first.address, first.family);
      }
    };
    // An IP literal is its own answer, whatever `family` and `hints` ask for, as in dns.lookup (Node returns
    // it before looking at them): resolve() only checks it against the Dialer's address policy.
    const literal = isIP(hostname);
    if (literal !== 0) {
      dialer.resolve(hostname, { ...resolveOptions, family: 0 }).then(
        () => reply(null, [{ address: hostname, family: literal }]),
        (err: unknown) => reply(asLookupError(err, hostname)),
      );
      return;
    }
    // V4MAPPED with family 6 needs the A answer too (to map it when there is no AAAA, or with ALL).
    const family: 0 | 4 | 6 = call.family === 6 && (call.hints & nodeDns().V4MAPPED) !== 0 ? 0 : call.family;
    dialer.resolve(hostname, { ...resolveOptions, family }).then(
      (resolved) => {
        const configured = (call.hints & nodeDns().ADDRCONFIG) !== 0 ? configuredFamilies() : undefined;
        const list = shapeAddresses(resolved.addresses, call, configured);
        if (list.length === 0) reply(lookupError('ENOTFOUND', hostname));
        else reply(null, list);
      },
      (err: unknown) => reply(asLookupError(err, hostname)),
    );
  };

  const lookup = ((hostname: string, options: unknown, callback?: LookupCallback) => {
    let cb = callback;
    let opts = options;
    if (typeof opts === 'function') {
      cb = opts as LookupCallback;
      opts = undefined;
    }
    if (typeof cb !== 'function') {
      throw argError(
        'ERR_INVALID_ARG_TYPE',
        `The "callback" argument must be of type function. Received ${received(cb)}`,
      );
    }
    const call = parseLookupOptions(opts);
    if (typeof hostname !== 'string') {
      throw Object.assign(new TypeError(`invalid host: expected a string, got ${typeof hostname}`), {
        code: 'ERR_NETDIAL_INVALID_TARGET',
      });
    }
    run(hostname, call, cb);
  }) as NetdialLookup;

  lookup.observe = (socket: net.Socket) => {
    const recorder = recorderOf(dialer);
    if (recorder) observeAttempts(socket, recorder);
  };
  lookup[PROMISIFY_CUSTOM] = promiseForm(lookup as (h: string, o: unknown, c: LookupCallback) => void);
  return lookup;
}

let defaultLookup: NetdialLookup | undefined;

/**
 * The ready-made lookup: `http.request(url, { lookup })`, axios `{ lookup }`, got `{ dnsLookup: lookup }`.
 * Resolves with the default Dialer (and `observe` feeds its memory); made on first use.
 */
const callDefault = (hostname: string, options: unknown, callback?: LookupCallback) => {
  defaultLookup ??= createLookup();
  (defaultLookup as (h: string, o: unknown, c?: LookupCallback) => void)(hostname, options, callback);
};
export const lookup: NetdialLookup = Object.assign(callDefault, {
  observe(socket: net.Socket) {
    defaultLookup ??= createLookup();
    defaultLookup.observe(socket);
  },
  [PROMISIFY_CUSTOM]: promiseForm(callDefault),
}) as NetdialLookup;
