/**
 * `Dialer`: the long-lived object that owns what dials share — option defaults, the name resolver (hosts
 * and resolv.conf readers), the source-address probe — and `dial()`, the process-wide default Dialer's
 * shortcut (like Node's global agent, so what it learns accumulates across calls).
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { os } from './builtins.js';
import { AttemptSlots } from './race/attempt-slots.js';
import { type Clock, realClock } from './clock.js';
import { runDial, type SessionDeps } from './race/dial-session.js';
import { Wakeups } from './race/wakeups.js';
import { isIP } from './ip-address.js';
import { DialMemory, type MemoryJson, type MemoryOptions } from './memory/dial-memory.js';
import type { FleetSync } from './fleet/fleet-sync.js';
import { type DialConfig, type DialOptions, readDialerOptions, resolveOptions } from './options.js';
import { Nat64Prefixes } from './resolution/nat64.js';
import { NameResolver, type ResolverSettings } from './resolution/resolve.js';
import { SourceAddressProbe } from './race/source-address.js';
import { type ResolvedName, resolveName } from './resolution/resolve-name.js';
import type { DialTrace } from './diagnostics.js';
import { resolveServices } from './resolution/resolve-services.js';
import { parseHost, parseTarget, type Target } from './target.js';
import { proxyFor } from './proxy/select-proxy.js';

/** What `dial()` accepts: "host:port", "[v6]:port", "tcp!host!service", a URL (string or object), or `{ host, port }`. */
export type DialTarget =
  | string
  | URL
  | { host?: string; hostname?: string; port?: number | string }
  | { srv: string };

/**
 * A URL string whose scheme makes the dial TLS (`https:`, `wss:`). With these, `dial()` is typed to
 * resolve with a `tls.TLSSocket` unless the options say `tls: false`.
 */
export type TlsUrlTarget = `https:${string}` | `wss:${string}`;

/** Options that ask for a TLS handshake: `dial()` is typed to resolve with a `tls.TLSSocket`. */
export type TlsDialOptions = DialOptions & { tls: true | tls.ConnectionOptions };

/** Defaults for every dial of a Dialer, plus where its resolver looks and what it remembers. */
export interface DialerOptions extends Omit<DialOptions, 'signal'>, ResolverSettings {
  /**
   * What the Dialer remembers between dials (DNS cache with serve-stale, failed endpoints, RTTs, load
   * sharing): `true` (default) a memory of its own; `false` none — every dial starts from nothing, DNS
   * order is kept; a `DialMemory` to share one between Dialers; or MemoryOptions for a tuned one —
   * `{ store }` shares endpoint observations with other threads, processes or hosts (fleet memory).
   */
  memory?: boolean | DialMemory | MemoryOptions | undefined;
  /** Connection attempts in flight at most across all dials of this Dialer (1–65536). Default 256. */
  maxAttemptsInFlight?: number | undefined;
  /** How often (ms) to look for a change of the host's network interfaces, which clears reachability history. Default 5000. */
  networkCheckIntervalMs?: number | undefined;
  /**
   * RFC 8305 §7 on IPv6-only networks: an IPv4 destination (literal or A record) the host has no route to
   * (the source-address probe finds none) is dialled through the NAT64 address synthesised under this
   * prefix (RFC 6052 §2.2), e.g. '64:ff9b::/96'. Default: discovered per RFC 7050 (AAAA query for
   * `ipv4only.arpa`: one try of at most 1 s per DNS server, remembered for its TTL, 30 s when there is
   * none), only when such a destination comes up. `null`: never.
   */
  nat64Prefix?: string | null | undefined;
}

export class Dialer {
  readonly #defaults: DialConfig;
  readonly #resolver: NameResolver;
  readonly #probe = new SourceAddressProbe();
  readonly #clock: Clock = realClock;
  readonly #memory: DialMemory | undefined;
  /** The memory's link to a MemoryStore (fleet memory), if any: dials wait for its warm-up (≤ 50 ms). */
  readonly #fleet: FleetSync | undefined;
  readonly #networkCheckIntervalMs: number;
  readonly #slots: AttemptSlots;
  /** One timer for every dial of this Dialer (each race's wake-ups: deadline, delays). */
  readonly #wakeups = new Wakeups(this.#clock);
  readonly #nat64: Nat64Prefixes | undefined;
  #networkCheckedAtMs = Number.NEGATIVE_INFINITY;
  #deps: SessionDeps | undefined;
  #networkFingerprint: string | undefined;

  /**
   * Throws a TypeError (code ERR_NETDIAL_INVALID_OPTION) for a bad or unknown option. Only own
   * properties of `options` are read, once. Its `policy` is a floor for every dial of this Dialer.
   */
  constructor(options: DialerOptions = {}) {
    const config = readDialerOptions(options);
    this.#defaults = config.defaults;
    const memory = config.memory;
    this.#memory =
      memory === false
        ? undefined
        : memory instanceof DialMemory
          ? memory
          : new DialMemory(memory === true ? {} : memory);
    this.#fleet = this.#memory?.fleet;
    this.#networkCheckIntervalMs = config.networkCheckIntervalMs;
    this.#slots = new AttemptSlots(config.maxAttemptsInFlight);
    this.#resolver = new NameResolver(
      {
        hostsPath: config.hostsPath,
        resolvConfPath: config.resolvConfPath,
        nsswitchPath: config.nsswitchPath,
        nameservers: config.nameservers,
        dnsTimeoutMs: config.dnsTimeoutMs,
        dnsTries: config.dnsTries,
      },
      this.#memory?.dns,
      this.#clock,
      // Bounds before work: a DNS answer is cut to the Dialer's maxAddresses before it is cached (a dial
      // asking for more than its Dialer's maxAddresses gets at most that many from DNS).
      this.#defaults.maxAddresses,
    );
    const resolver = this.#resolver;
    this.#nat64 =
      config.nat64Prefix === null
        ? undefined
        : new Nat64Prefixes(config.nat64Prefix, (name) => resolver.lookupAAAA(name, this.#clock.now()));
  }

  /**
   * The addresses of `host` in the order a dial would try them, with their source, TTL and (given a
   * port) what the memory knows of each. `host` is a host name or IP literal, or any dial target with a
   * port. Honours family, timeout, signal, resolver and localAddress. Rejects with a DialError (phase
   * 'dns', code ENOTFOUND…) when there is no address, or a TypeError for bad input.
   */
  async resolve(host: DialTarget, options?: DialOptions): Promise<ResolvedName> {
    let name: { host: string; absolute: boolean; port: number | undefined };
    let service: 'srv' | 'https' | undefined;
    if (typeof host === 'string' && (isIP(host) !== 0 || /^[^:!/[\]]*$/.test(host))) {
      const h = parseHost(host);
      name = { host: h.host, absolute: h.absolute, port: undefined };
    } else {
      const t = parseTarget(host);
      name = { host: t.host, absolute: t.absolute, port: t.port };
      // Service records as a dial would ask them: SRV targets; https:/wss: URLs (httpsRecords: false: not).
      if (t.srv) service = 'srv';
      else if (t.hostKind === 0 && (t.scheme === 'https' || t.scheme === 'wss')) service = 'https';
    }
    const cfg = resolveOptions(options, this.#defaults);
    if (
      service === 'srv' ||
      (service === 'https' &&
        cfg.httpsRecords &&
        !this.#resolver.answersWithoutDns(name.host, cfg.resolver, this.#clock.now()))
    ) {
      return resolveServices(service, name.host, name.port ?? 0, cfg, this.#sessionDeps());
    }
    // The same frozen deps a dial uses (built once per Dialer), not a fresh object per call.
    return resolveName(name.host, name.absolute, name.port, cfg, this.#sessionDeps());
  }

  /** Whether the Dialer's defaults carry an address policy (integrations refuse Unix sockets then, unless allowed). */
  get hasPolicy(): boolean {
    return this.#defaults.policy !== undefined;
  }

  /** The Dialer's memory (inspect it, or export it with `exportMemory()`); undefined with `memory: false`. */
  get memory(): DialMemory | undefined {
    return this.#memory;
  }

  /** The memory as plain JSON (see DialMemory.toJSON); undefined with `memory: false`. */
  exportMemory(): MemoryJson | undefined {
    return this.#memory?.toJSON(this.#clock.now(), Date.now());
  }

  /**
   * A host whose interfaces or addresses changed is on another network: what was learnt about
   * reachability and source addresses no longer holds (draft-ietf-happy-happyeyeballs-v3: history is
   * per network). DNS answers stay. Checked at most once per networkCheckIntervalMs.
   */
  #checkNetwork(nowMs: number): void {
    if (nowMs - this.#networkCheckedAtMs < this.#networkCheckIntervalMs) return;
    this.#networkCheckedAtMs = nowMs;
    let fingerprint: string;
    try {
      fingerprint = networkFingerprint();
    } catch {
      return; // e.g. EMFILE: the interface list cannot be read now; the dial itself will say what is wrong
    }
    if (this.#networkFingerprint !== undefined && fingerprint !== this.#networkFingerprint) {
      this.#memory?.endpoints.forget();
      this.#probe.clear();
      this.#nat64?.forget();
    }
    this.#networkFingerprint = fingerprint;
  }

  /**
   * Connects to `target` by racing every address of its name (RFC 8305) and resolves with the winning
   * socket — a `tls.TLSSocket` when `tls` is set or the target is an https/wss URL (pass `tls: false`
   * to get plain TCP). Rejects with a DialError (every attempt listed), an AbortError, or a TypeError
   * (code ERR_NETDIAL_INVALID_TARGET / ERR_NETDIAL_INVALID_OPTION) for bad input.
   */
  dial(
    target: TlsUrlTarget,
    options?: DialOptions & { tls?: true | tls.ConnectionOptions },
  ): Promise<tls.TLSSocket>;
  dial(target: DialTarget, options: TlsDialOptions): Promise<tls.TLSSocket>;
  /** Without `tls` (or with `tls: false`) typed as a `net.Socket`; a Dialer whose defaults set `tls` still gives a TLSSocket, which is one. */
  dial(target: DialTarget, options?: DialOptions): Promise<net.Socket>;
  dial(target: DialTarget, options?: DialOptions): Promise<net.Socket | tls.TLSSocket> {
    let parsed: ReturnType<typeof parseTarget>;
    let cfg: DialConfig;
    try {
      parsed = parseTarget(target);
      cfg = resolveOptions(options, this.#defaults);
    } catch (err) {
      return Promise.reject(err); // bad input rejects like any failure, never throws synchronously
    }
    if (parsed.tlsByDefault && cfg.tls === undefined && !cfg.tlsOff) cfg = { ...cfg, tls: {} };
    if (this.#memory) this.#checkNetwork(this.#clock.now());
    if (cfg.proxy !== undefined) {
      const proxied = this.#dialProxied(parsed, cfg);
      if (proxied !== undefined) return proxied;
    }
    // Fleet memory: a newcomer's first dials wait (at most 50 ms) for the shared state to load.
    const warmup = this.#fleet?.waitForWarmup();
    if (warmup !== undefined) return this.#dialAfter(warmup, parsed, cfg);
    return runDial(parsed, cfg, this.#sessionDeps());
  }

  /**
   * The dial through the proxy `cfg.proxy` names for `parsed`, or undefined when none applies. The proxy and
   * warm-up paths are methods of their own: closures in dial() would make every dial allocate what they capture.
   */
  #dialProxied(parsed: Target, cfg: DialConfig): Promise<net.Socket> | undefined {
    let proxy: ReturnType<typeof proxyFor>;
    try {
      proxy = proxyFor(cfg.proxy!, parsed, cfg.tls !== undefined, process.env);
    } catch (err) {
      return Promise.reject(err); // a bad proxy URL in the environment
    }
    if (proxy === undefined) return undefined;
    const from = cfg.proxy === 'env' ? 'env' : 'option';
    const spec = proxy;
    // Loaded on the first proxied dial: a process that never uses a proxy never loads the tunnel code.
    return import('./proxy/proxy-dial.js').then(({ dialThroughProxy }) =>
      dialThroughProxy(parsed, cfg, spec, from, {
        dialDirect: (t: Target, c: DialConfig) => runDial(t, c, this.#sessionDeps()),
        resolve: (t: Target, c: DialConfig, trace) => this.#resolveForProxy(t, c, trace),
        now: () => this.#clock.now(),
        hasMemory: this.#memory !== undefined,
      }),
    );
  }

  /**
   * A proxied dial's resolution of its target when netdial resolves it: through its service records as a
   * direct dial asks them (SRV for srv! targets; HTTPS for https:/wss: URLs and TLS dials, unless
   * `httpsRecords: false` or the name never goes to DNS), else its A/AAAA. Endpoints of service records
   * carry their own port.
   */
  #resolveForProxy(t: Target, c: DialConfig, trace: DialTrace): Promise<ResolvedName> {
    const kind = t.srv
      ? 'srv'
      : t.hostKind === 0 &&
          c.httpsRecords &&
          (t.scheme === 'https' || t.scheme === 'wss' || c.tls !== undefined) &&
          !this.#resolver.answersWithoutDns(t.host, c.resolver, this.#clock.now())
        ? 'https'
        : undefined;
    if (kind !== undefined) return resolveServices(kind, t.host, t.port, c, this.#sessionDeps());
    return resolveName(t.host, t.absolute, t.port, c, this.#resolveDeps(), trace);
  }

  /** The dial once `warmup` (fleet memory's first load) is over. */
  #dialAfter(warmup: Promise<unknown>, parsed: Target, cfg: DialConfig): Promise<net.Socket> {
    return warmup.then(() => runDial(parsed, cfg, this.#sessionDeps()));
  }

  #resolveDeps() {
    return {
      resolver: this.#resolver,
      probe: this.#probe,
      clock: this.#clock,
      memory: this.#memory,
      nat64: this.#nat64,
    };
  }

  /** What every dial session of this Dialer shares (all fixed at construction): built once, not per dial. */
  #sessionDeps(): SessionDeps {
    this.#deps ??= Object.freeze({
      resolver: this.#resolver,
      probe: this.#probe,
      clock: this.#clock,
      memory: this.#memory,
      slots: this.#slots,
      wakeups: this.#wakeups,
      nat64: this.#nat64,
    });
    return this.#deps;
  }
}

/** The host's interface addresses, as one comparable string. */
function networkFingerprint(): string {
  const parts: string[] = [];
  for (const [name, list] of Object.entries(os.networkInterfaces())) {
    for (const a of list ?? []) parts.push(`${name} ${a.address}/${a.netmask}`);
  }
  return parts.sort().join(',');
}

let defaultDialer: Dialer | undefined;

/** The process-wide Dialer behind `dial()`, created on first use. */
export function getDefaultDialer(): Dialer {
  defaultDialer ??= new Dialer();
  return defaultDialer;
}

/**
 * Puts `dialer` in place as the process-wide default (netdial/register's environment-configured one);
 * `undefined` goes back to creating one on first use. Returns the one it replaced (undefined if none had
 * been created). Internal: not exported from the package.
 */
export function replaceDefaultDialer(dialer: Dialer | undefined): Dialer | undefined {
  const previous = defaultDialer;
  defaultDialer = dialer;
  return previous;
}

/**
 * Connects by name with the process-wide default Dialer; see Dialer#dial. Typed to resolve with a
 * `tls.TLSSocket` when `tls` is set or the target is an `https:`/`wss:` URL string (not with `tls: false`).
 */
export function dial(
  target: TlsUrlTarget,
  options?: DialOptions & { tls?: true | tls.ConnectionOptions },
): Promise<tls.TLSSocket>;
export function dial(target: DialTarget, options: TlsDialOptions): Promise<tls.TLSSocket>;
export function dial(target: DialTarget, options?: DialOptions): Promise<net.Socket>;
export function dial(target: DialTarget, options?: DialOptions): Promise<net.Socket | tls.TLSSocket> {
  return getDefaultDialer().dial(target, options);
}
