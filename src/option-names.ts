/**
 * Which option names exist — ONE table per options type — and how netdial reads an options object:
 * its own string-keyed properties, enumerable or not, copied once into a null-prototype record, unknown
 * names refused with a "did you mean …" suggestion. So a typo never silently drops an option, an
 * inherited property (a polluted `Object.prototype`, a `"__proto__"` key from JSON, a prototype object)
 * never supplies one, a non-enumerable own one (`Object.defineProperty(o, 'policy', { value })`) is
 * read like any other rather than silently skipped, and a getter is read exactly once.
 *
 * Adding an option is one line in its table below; each table is checked by the compiler against its
 * interface (`names<keyof X>({...})`), so a table that misses a key, or has one too many, does not build.
 */
import type { RegisterOptions } from './adoption/register.js';
import type { DialerOptions } from './dialer.js';
import { invalidOption } from './errors.js';
import type { ConnectionDialOptions, DialSocketOptions } from './integrations/create-connection.js';
import type { CreateLookupOptions } from './integrations/lookup.js';
import type { DnsCacheOptions } from './memory/dns-cache.js';
import type { EndpointHistoryOptions } from './memory/endpoint-history.js';
import type { MemoryOptions } from './memory/dial-memory.js';
import type { DialOptions } from './options.js';
import type { PolicySpec } from './policy/policy.js';
import type { ProxyObject } from './proxy/proxy-option.js';
import type { ConnectorOptions, DispatcherOptions } from './undici.js';

/** A set of option names, built from a table the compiler checks against `keyof` an options interface. */
function names<K extends string>(table: Record<K, true>): ReadonlySet<string> {
  return Object.freeze(new Set(Object.keys(table)));
}

/** `dial()` / `Dialer#dial` / `Dialer#resolve` options (DialOptions). */
export const DIAL_OPTION_NAMES = names<keyof DialOptions>({
  signal: true,
  timeout: true,
  tls: true,
  family: true,
  attemptDelay: true,
  resolutionDelay: true,
  maxConcurrentAttempts: true,
  firstAddressFamilyCount: true,
  maxAddresses: true,
  localAddress: true,
  resolver: true,
  policy: true,
  redactDeniedAddresses: true,
  noDelay: true,
  keepAlive: true,
  keepAliveInitialDelay: true,
  proxy: true,
  proxyResolvesNames: true,
  httpsRecords: true,
});

/** What `new Dialer()` takes besides the dial options (DialerOptions, with ResolverSettings). */
export const DIALER_ONLY_OPTION_NAMES = names<Exclude<keyof DialerOptions, keyof DialOptions>>({
  memory: true,
  maxAttemptsInFlight: true,
  networkCheckIntervalMs: true,
  hostsPath: true,
  resolvConfPath: true,
  nameservers: true,
  dnsTimeoutMs: true,
  dnsTries: true,
  nsswitchPath: true,
  nat64Prefix: true,
});

/** `new Dialer()` options: the dial options (a Dialer's `signal` gets its own message) and the Dialer's own. */
export const DIALER_OPTION_NAMES: ReadonlySet<string> = Object.freeze(
  new Set([...DIAL_OPTION_NAMES, ...DIALER_ONLY_OPTION_NAMES]),
);

/** `memory: { … }` (MemoryOptions). */
export const MEMORY_OPTION_NAMES = names<keyof MemoryOptions>({
  dns: true,
  endpoints: true,
  exploreProbability: true,
  rttLeewayMs: true,
  loadSharing: true,
  seed: true,
  store: true,
  shareDns: true,
});

/** `memory: { dns: { … } }` (DnsCacheOptions). */
export const DNS_CACHE_OPTION_NAMES = names<keyof DnsCacheOptions>({
  maxNames: true,
  minTtlSeconds: true,
  maxTtlSeconds: true,
  negativeTtlSeconds: true,
  maxNegativeTtlSeconds: true,
  errorTtlSeconds: true,
  maxStaleSeconds: true,
  staleRefreshBackoffSeconds: true,
  maxAddressesPerName: true,
  maxOptimisticStaleSeconds: true,
});

/** `memory: { endpoints: { … } }` (EndpointHistoryOptions). */
export const ENDPOINT_HISTORY_OPTION_NAMES = names<keyof EndpointHistoryOptions>({
  maxEndpoints: true,
  backoffBaseMs: true,
  backoffMaxMs: true,
  minAttemptDelayMs: true,
  maxAttemptDelayMs: true,
  defaultAttemptDelayMs: true,
});

/** `policy: { … }` (PolicySpec). */
export const POLICY_SPEC_NAMES = names<keyof PolicySpec>({ allow: true, deny: true, allowProxy: true });

/** The `proxy` option's object form (ProxyObject). */
export const PROXY_OBJECT_NAMES = names<keyof ProxyObject>({ url: true, tls: true });

/**
 * The netdial options of an integration — `Agent({ dial })`, `HttpsAgent({ dial })`,
 * `bindCreateConnection(dial)`, `new DialSocket(dial)` (ConnectionDialOptions): the dial options without
 * `signal` and `tls` (those come from the request), plus `dialer`.
 */
export const CONNECTION_DIAL_OPTION_NAMES: ReadonlySet<string> = Object.freeze(
  new Set([
    ...[...DIAL_OPTION_NAMES].filter((n) => n !== 'signal' && n !== 'tls'),
    ...names<Exclude<keyof ConnectionDialOptions, keyof DialOptions>>({
      dialer: true,
      allowUnixSockets: true,
    }),
  ]),
);

/** `new DialSocket({ … })` (DialSocketOptions): the connection dial options, plus net's `allowHalfOpen`. */
export const DIAL_SOCKET_OPTION_NAMES: ReadonlySet<string> = Object.freeze(
  new Set([
    ...CONNECTION_DIAL_OPTION_NAMES,
    ...names<Exclude<keyof DialSocketOptions, keyof ConnectionDialOptions>>({ allowHalfOpen: true }),
  ]),
);

/**
 * `connector({ … })` of netdial/undici (ConnectorOptions): the integration's dial options without
 * `timeout`, plus undici's connector settings.
 */
export const CONNECTOR_OPTION_NAMES: ReadonlySet<string> = Object.freeze(
  new Set([
    ...[...CONNECTION_DIAL_OPTION_NAMES].filter((n) => n !== 'timeout'),
    ...names<Exclude<keyof ConnectorOptions, keyof ConnectionDialOptions>>({
      connectTimeout: true,
      tls: true,
      maxCachedSessions: true,
      allowH2: true,
    }),
  ]),
);

/** `createDispatcher({ … })` / `installGlobalDispatcher({ … })` (DispatcherOptions): the connector's, plus `agent`. */
export const DISPATCHER_OPTION_NAMES: ReadonlySet<string> = Object.freeze(
  new Set([
    ...CONNECTOR_OPTION_NAMES,
    ...names<Exclude<keyof DispatcherOptions, keyof ConnectorOptions>>({ agent: true }),
  ]),
);

/** `createLookup({ … })` (CreateLookupOptions). */
export const LOOKUP_OPTION_NAMES = names<keyof CreateLookupOptions>({
  dialer: true,
  resolver: true,
  timeout: true,
  firstAddressFamilyCount: true,
});

/** `register({ … })` (RegisterOptions): the NETDIAL_* variables' knobs, from code. */
export const REGISTER_OPTION_NAMES = names<keyof RegisterOptions>({
  policy: true,
  trace: true,
  memoryFile: true,
  allowUnixSockets: true,
  allowUncoveredFetch: true,
  proxy: true,
});

/** Most prototype levels looked through for an inherited option (a legitimate options object has one or two). */
const MAX_PROTOTYPE_DEPTH = 32;

function showKey(key: string): string {
  return key.length > 40
    ? `${JSON.stringify(key.slice(0, 40))}…`
    : /^[\w$]+$/.test(key)
      ? key
      : JSON.stringify(key);
}

/**
 * Optimal string alignment distance (Levenshtein plus adjacent transpositions, so `memroy` is one edit
 * from `memory`), case-insensitive; gives up early above `limit`.
 */
export function editDistance(a: string, b: string, limit = 3): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  if (Math.abs(s.length - t.length) > limit) return limit + 1;
  let prevPrev: number[] = [];
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1])
        d = Math.min(d, prevPrev[j - 2]! + 1);
      row.push(d);
      if (d < best) best = d;
    }
    if (best > limit) return limit + 1;
    prevPrev = prev;
    prev = row;
  }
  return prev[t.length]!;
}

/** Option names people bring from other clients, and netdial's name for them where it has one. */
const ALSO_KNOWN_AS: Readonly<Record<string, string>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, string>, {
    timeout: 'connectTimeout', // undici's connector: `connect.timeout` there is `connectTimeout` here
    connectTimeout: 'timeout', // net/undici habit, on netdial's own dial options
    lookup: 'resolver',
    dnsServers: 'nameservers',
    servers: 'nameservers',
  }),
);

/** The known name closest to `key` (at most a third of its length in edits, at least 1, at most 3), if any. */
export function suggestName(key: string, known: ReadonlySet<string>): string | undefined {
  if (key.length > 64) return undefined;
  const limit = Math.min(3, Math.max(1, Math.floor(key.length / 3)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const name of known) {
    const d = editDistance(key, name, limit);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

/** Node's TLS option names (tls.connect / SecureContext) a caller may put at the wrong level. */
const TLS_OPTION_NAMES: ReadonlySet<string> = new Set([
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'crl',
  'ciphers',
  'servername',
  'rejectUnauthorized',
  'checkServerIdentity',
  'ALPNProtocols',
  'minVersion',
  'maxVersion',
  'secureContext',
  'secureProtocol',
  'session',
  'sigalgs',
  'ecdhCurve',
]);

/**
 * Where a TLS option goes when it was given at a level that has none: under `tls` where the bag has it
 * (Dialer, dial(), the undici connector), on the agent itself for the agents' `dial` (HttpsAgent passes its
 * own options, https.Agent's, to tls.connect). Undefined elsewhere (no single right place to name).
 */
function tlsHint(key: string, known: ReadonlySet<string>, path: string): string | undefined {
  if (known.has('tls') && TLS_OPTION_NAMES.has(key)) return `TLS options go under \`tls\` (tls: { ${key} })`;
  if (path === 'dial.' && (key === 'tls' || TLS_OPTION_NAMES.has(key))) {
    return 'TLS options go on the agent itself (new HttpsAgent({ ca, dial })), not in `dial`';
  }
  return undefined;
}

/** The error for an option name that does not exist in `known`. `path` prefixes it ('memory.'). */
function unknownOptionError(key: string, known: ReadonlySet<string>, path: string): TypeError {
  const name = `${path}${showKey(key)}`;
  if ((key === 'allow' || key === 'deny') && known.has('policy')) {
    return invalidOption(
      name,
      `invalid option ${name}: unknown option; an address policy is written \`policy: { allow, deny }\``,
    );
  }
  const tls = tlsHint(key, known, path);
  if (tls !== undefined) return invalidOption(name, `invalid option ${name}: unknown option; ${tls}`);
  // Names too far apart for an edit distance that still mean the same thing to a newcomer.
  const renamed = ALSO_KNOWN_AS[key];
  const suggestion =
    renamed !== undefined && known.has(renamed) && !known.has(key) ? renamed : suggestName(key, known);
  const hint =
    suggestion !== undefined ? `did you mean ${suggestion}?` : `expected one of ${[...known].join(', ')}`;
  return invalidOption(name, `invalid option ${name}: unknown option; ${hint}`);
}

/**
 * One property of a foreign options bag (http.Agent options, …) that netdial reads: own only, so an
 * inherited `dial` (a polluted Object.prototype) supplies nothing. A throwing getter propagates.
 */
export function ownOption(bag: unknown, key: string): unknown {
  if (typeof bag !== 'object' || bag === null || !Object.hasOwn(bag, key)) return undefined;
  return (bag as Record<string, unknown>)[key];
}

/**
 * A null-prototype record with the own enumerable properties of `parts`, later ones winning (as
 * `{ ...a, ...b }`). Where netdial merges or narrows options it has read and then reads names from the
 * result (`o.timeout`, `dial.proxy`), the result must not be an ordinary object: a name it lacks would
 * be looked up on Object.prototype, and a polluted one would answer.
 */
export function ownCopy(...parts: ReadonlyArray<object | undefined>): Record<string, unknown> {
  return Object.assign(Object.create(null) as Record<string, unknown>, ...parts);
}

function describeThrown(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'an exception';
  }
}

/**
 * Reads an options object: its own string-keyed properties — enumerable or not: what the object itself
 * holds is what it says, so a non-enumerable `policy` is a policy, and a non-enumerable typo a TypeError
 * like any other — each read once, into a null-prototype record (enumerable there). Symbol keys are not
 * options and are not looked at. `undefined` gives an empty record. `what` names the object in messages
 * ('options', 'memory', 'policy'), `path` prefixes option names ('' or 'memory.').
 * @throws TypeError (ERR_NETDIAL_INVALID_OPTION) for a value that is not a plain object, an unknown
 *   name (with a suggestion), an option found only on the object's prototype chain (below
 *   Object.prototype, which is never read: a polluted Object.prototype supplies nothing), or a property
 *   whose getter or Proxy trap throws.
 */
export function readOptionBag(
  value: unknown,
  known: ReadonlySet<string>,
  what: string,
  path = '',
): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  if (value === undefined) return out;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw invalidOption(what, `invalid option ${what}: expected an object, got ${got}`);
  }
  let keys: string[];
  try {
    // Not Object.keys: it skips non-enumerable own properties, which would silently drop an option.
    // (Same cost: both list the own keys; Object.keys then filters by enumerability.)
    keys = Object.getOwnPropertyNames(value);
  } catch (err) {
    throw invalidOption(what, `invalid option ${what}: its keys cannot be read (${describeThrown(err)})`);
  }
  for (const key of keys) {
    if (!known.has(key)) throw unknownOptionError(key, known, path);
  }
  checkPrototypeChain(value, keys, known, what, path);
  for (const key of keys) {
    try {
      out[key] = (value as Record<string, unknown>)[key];
    } catch (err) {
      const name = `${path}${key}`;
      throw invalidOption(name, `invalid option ${name}: reading it threw (${describeThrown(err)})`);
    }
  }
  return out;
}

/**
 * A known option that is not an own property but sits on the object's prototype chain (an options
 * class with getters, `Object.create(defaults)`, `Object.assign({}, JSON.parse('{"__proto__": …}'))`)
 * is refused rather than silently ignored. Object.prototype (and anything above it) is never consulted.
 */
function checkPrototypeChain(
  value: object,
  ownKeys: readonly string[],
  known: ReadonlySet<string>,
  what: string,
  path: string,
): void {
  let proto: object | null;
  try {
    proto = Object.getPrototypeOf(value);
    if (proto === null || proto === Object.prototype) return; // the common case: nothing to look at
    const own = new Set(ownKeys);
    for (let depth = 0; proto !== null && proto !== Object.prototype; depth++) {
      if (depth >= MAX_PROTOTYPE_DEPTH) {
        throw invalidOption(
          what,
          `invalid option ${what}: its prototype chain is deeper than ${MAX_PROTOTYPE_DEPTH}`,
        );
      }
      for (const key of Object.getOwnPropertyNames(proto)) {
        if (known.has(key) && !own.has(key)) {
          const name = `${path}${key}`;
          throw invalidOption(
            name,
            `invalid option ${name}: inherited from the options object's prototype; netdial reads own properties only`,
          );
        }
      }
      proto = Object.getPrototypeOf(proto);
    }
  } catch (err) {
    if (err instanceof TypeError && (err as { code?: unknown }).code === 'ERR_NETDIAL_INVALID_OPTION')
      throw err;
    throw invalidOption(
      what,
      `invalid option ${what}: its prototype cannot be read (${describeThrown(err)})`,
    );
  }
}
