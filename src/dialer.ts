/**
 * `Dialer`: the long-lived object that owns what dials share — option defaults, the name resolver (hosts
 * and resolv.conf readers), the source-address probe — and `dial()`, the process-wide default Dialer's
 * shortcut (like Node's global agent, so what it learns accumulates across calls).
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { type Clock, realClock } from './clock.js';
import { runDial } from './dial-session.js';
import { type DialConfig, type DialOptions, resolveOptions } from './options.js';
import { NameResolver, type ResolverSettings } from './resolve.js';
import { SourceAddressProbe } from './source-address.js';
import { parseTarget } from './target.js';

/** What `dial()` accepts: "host:port", "[v6]:port", "tcp!host!service", a URL (string or object), or `{ host, port }`. */
export type DialTarget = string | URL | { host?: string; hostname?: string; port?: number | string };

/** Defaults for every dial of a Dialer, plus where its resolver looks. */
export interface DialerOptions extends Omit<DialOptions, 'signal'>, ResolverSettings {}

export class Dialer {
  readonly #defaults: DialConfig;
  readonly #resolver: NameResolver;
  readonly #probe = new SourceAddressProbe();
  readonly #clock: Clock = realClock;

  /** Throws a TypeError (code ERR_NETDIAL_INVALID_OPTION) for a bad option. */
  constructor(options: DialerOptions = {}) {
    if ('signal' in options) throw resolveOptionsError();
    this.#defaults = resolveOptions(options);
    this.#resolver = new NameResolver({
      hostsPath: options.hostsPath,
      resolvConfPath: options.resolvConfPath,
      nameservers: options.nameservers,
      dnsTimeoutMs: options.dnsTimeoutMs,
      dnsTries: options.dnsTries,
    });
  }

  /**
   * Connects to `target` by racing every address of its name (RFC 8305) and resolves with the winning
   * socket — a `tls.TLSSocket` when `tls` is set or the target is an https/wss URL (pass `tls: false`
   * to get plain TCP). Rejects with a DialError (every attempt listed), an AbortError, or a TypeError
   * (code ERR_NETDIAL_INVALID_TARGET / ERR_NETDIAL_INVALID_OPTION) for bad input.
   */
  async dial(target: DialTarget, options?: DialOptions): Promise<net.Socket | tls.TLSSocket> {
    const parsed = parseTarget(target);
    let cfg = resolveOptions(options, this.#defaults);
    if (parsed.tlsByDefault && cfg.tls === undefined && options?.tls === undefined) cfg = { ...cfg, tls: {} };
    return runDial(parsed, cfg, { resolver: this.#resolver, probe: this.#probe, clock: this.#clock });
  }
}

function resolveOptionsError(): TypeError {
  return Object.assign(new TypeError('invalid option signal: a Dialer takes no signal; pass it to dial()'), {
    code: 'ERR_NETDIAL_INVALID_OPTION',
  });
}

let defaultDialer: Dialer | undefined;

/** The process-wide Dialer behind `dial()`, created on first use. */
export function getDefaultDialer(): Dialer {
  defaultDialer ??= new Dialer();
  return defaultDialer;
}

/** Connects by name with the process-wide default Dialer; see Dialer#dial. */
export function dial(target: DialTarget, options?: DialOptions): Promise<net.Socket | tls.TLSSocket> {
  return getDefaultDialer().dial(target, options);
}
