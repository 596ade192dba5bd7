/**
 * A dial through a proxy: the proxy is one more endpoint netdial dials by name (its addresses raced per
 * RFC 8305, remembered, screened by the policy), then a tunnel is asked for on it (HTTP CONNECT or
 * SOCKS5), then TLS runs on the tunnel with SNI = the target's name.
 *
 * Who resolves the target:
 * - `socks5://`: netdial. The target's addresses (ordered as a direct dial would order them, policy
 *   applied) are raced THROUGH the proxy: each attempt is its own connection to the proxy asking for one
 *   address, staggered by the Connection Attempt Delay (RFC 8305 §5) by the same state machine as
 *   direct attempts (race.ts), so a dead target address costs one attempt delay, not a timeout.
 * - `http://`, `https://` (CONNECT by name) and `socks5h://`: the proxy — unless an address policy is in
 *   force. Then netdial resolves, checks each address and sends the proxy the literal (CONNECT to the IP;
 *   SNI stays the name), since a policy netdial cannot see the address for means nothing. `socks5h://`
 *   under a policy is refused, and both go to the proxy by name with `proxyResolvesNames: true`.
 * An IP literal target is always sent as is (and checked by the policy).
 * - SRV targets (`srv!…`): always netdial (no proxy asks SRV records), each endpoint tunnelled to as
 *   address:port; refused through socks5h:// (that would be local DNS the URL keeps off this host).
 *   When netdial resolves, an https: URL's HTTPS record (its port) is asked as a direct dial asks it.
 * The proxy's own addresses are checked with the policy plus its allowProxy entries (policy.ts
 * proxyHopPolicy); a refused proxy ends the dial with one error naming it. `family` is the target's.
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { DialTrace, markProxyHop } from '../diagnostics.js';
import {
  AbortError,
  type AttemptError,
  DialError,
  formatDuration,
  isAbortError,
  isDialError,
} from '../errors.js';
import type { DialConfig } from '../options.js';
import { DeniedAddresses } from '../policy/denied-addresses.js';
import { POLICY_DENIED_CODE, proxyHopPolicy } from '../policy/policy.js';
import { Race, type RaceAction, type RaceStep } from '../race/race.js';
import {
  attachReport,
  type AttemptReport,
  type DialReport,
  getReport,
  type ProxyReport,
  roundMs as round,
} from '../report.js';
import type { ResolvedName } from '../resolution/resolve-name.js';
import { formatHostPort, type Target } from '../target.js';
import { isIP } from '../ip-address.js';
import type { Family } from '../types.js';
import type { ProxySpec } from './proxy-option.js';
import { openTunnel, type TunnelError } from './tunnel.js';

export interface ProxyDialDeps {
  /** A direct dial (no proxy) with the Dialer: used for the proxy itself. */
  dialDirect(target: Target, cfg: DialConfig): Promise<net.Socket>;
  /**
   * The Dialer's resolution of a target: ordered addresses, policy applied; its DNS events published on
   * `trace` (the proxied dial's).
   */
  resolve(target: Target, cfg: DialConfig, trace: DialTrace): Promise<ResolvedName>;
  now(): number;
  /** Whether the Dialer has a memory (for the report's decisions). */
  hasMemory: boolean;
}

/** An open tunnel: the socket, the report of the proxy's dial, and the handshake's times. */
interface Tunnel {
  socket: net.Socket;
  hop: DialReport | undefined;
  handshake: NonNullable<ProxyReport['handshake']>;
}

interface Candidate {
  address: string;
  family: Family;
  /** The target port for this address: the target's, or the port its SRV / HTTPS record gave. */
  port: number;
}

/** DialErrors that say the proxy itself could not be reached (not what it answered). */
const unreachableProxy = new WeakSet<DialError>();
/** DialErrors that say the policy refused the proxy itself: the whole dial ends with one, whatever the target. */
const deniedProxy = new WeakSet<DialError>();

/** Dials `target` through `proxy`; see the module comment. `from` says where the proxy setting came from. */
export function dialThroughProxy(
  target: Target,
  cfg: DialConfig,
  proxy: ProxySpec,
  from: 'option' | 'env',
  deps: ProxyDialDeps,
): Promise<net.Socket> {
  return new ProxyDial(target, cfg, proxy, from, deps).run();
}

/** The target host as the proxy gets it in remote mode, or undefined when netdial resolves. */
function remoteName(target: Target, cfg: DialConfig, proxy: ProxySpec): string | undefined {
  if (target.hostKind !== 0) return undefined;
  // No proxy asks SRV records: netdial does, and tunnels to the endpoints they give (see run()).
  if (target.srv) return undefined;
  if (proxy.protocol === 'socks5') return undefined;
  if (cfg.policy !== undefined && !cfg.proxyResolvesNames) return undefined;
  return target.host;
}

class ProxyDial {
  readonly #target: Target;
  readonly #cfg: DialConfig;
  readonly #proxy: ProxySpec;
  readonly #deps: ProxyDialDeps;
  readonly #t0: number;
  readonly #startedAt = new Date();
  readonly #deadline: number;
  readonly #report: ProxyReport;
  /** Cancels whatever is in flight (hop dials, handshakes, TLS) when the dial is aborted or times out. */
  readonly #cancels = new Set<() => void>();
  /** The proxied dial's own diagnostics events: dial:start / dial:done / dial:error for the TARGET. */
  readonly #trace: DialTrace;
  #aborted = false;

  constructor(
    target: Target,
    cfg: DialConfig,
    proxy: ProxySpec,
    from: 'option' | 'env',
    deps: ProxyDialDeps,
  ) {
    this.#target = target;
    this.#cfg = cfg;
    this.#proxy = proxy;
    this.#deps = deps;
    this.#t0 = deps.now();
    this.#deadline = this.#t0 + cfg.timeoutMs;
    this.#report = {
      url: proxy.display,
      protocol: proxy.protocol,
      from,
      resolvedBy: remoteName(target, cfg, proxy) === undefined ? 'netdial' : 'proxy',
    };
    this.#trace = new DialTrace(target.host, target.port, deps, this.#t0, cfg.signal);
  }

  #rel(): number {
    return round(this.#deps.now() - this.#t0);
  }

  #where(): string {
    if (this.#target.srv) return `srv!${this.#target.host}`;
    return formatHostPort(this.#target.host, this.#target.port);
  }

  #remainingMs(): number {
    return this.#deadline - this.#deps.now();
  }

  /** The dial, with its own dial:start and dial:done / dial:error (the hops' events come in between). */
  async run(): Promise<net.Socket> {
    const cfg = this.#cfg;
    this.#trace.dialStart(
      this.#startedAt.getTime(),
      cfg.family,
      cfg.tls !== undefined,
      cfg,
      cfg.resolutionDelayMs,
      cfg.maxConcurrentAttempts,
      cfg.timeoutMs,
      this.#proxy.display,
    );
    let socket: net.Socket;
    try {
      socket = await this.#run();
    } catch (err) {
      this.#trace.dialError(err);
      throw err;
    }
    // When the proxy resolved the name, the event names the target, not the proxy the socket reaches.
    this.#trace.dialDone(socket, this.#target.host);
    return socket;
  }

  async #run(): Promise<net.Socket> {
    const signal = this.#cfg.signal;
    if (signal?.aborted) throw new AbortError(signal.reason, `connect ${this.#where()}`);
    const onAbort = () => {
      this.#aborted = true;
      for (const c of [...this.#cancels]) c();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (this.#target.srv && this.#proxy.protocol === 'socks5h') throw this.#srvRefusal();
      if (
        this.#proxy.protocol === 'socks5h' &&
        this.#target.hostKind === 0 &&
        this.#cfg.policy !== undefined &&
        !this.#cfg.proxyResolvesNames
      ) {
        throw this.#policyRefusal();
      }
      const name = remoteName(this.#target, this.#cfg, this.#proxy);
      if (name !== undefined) {
        return await this.#finish(await this.#tunnelTo(name, this.#target.port), undefined, undefined);
      }
      return await this.#raceThroughProxy();
    } catch (err) {
      if (this.#aborted || isAbortError(err)) {
        throw new AbortError(signal?.reason, `connect ${this.#where()}`);
      }
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #policyRefusal(): DialError {
    const message =
      `connect ${this.#where()} refused by the address policy: the socks5h proxy ${this.#proxy.display} ` +
      'would resolve the name, so netdial could not check the address; use socks5:// (netdial resolves) ' +
      'or set proxyResolvesNames: true';
    return new DialError({
      host: this.#target.host,
      port: this.#target.port,
      code: POLICY_DENIED_CODE,
      message,
      attempts: [
        {
          address: this.#target.host,
          family: 4,
          port: this.#target.port,
          phase: 'policy',
          code: POLICY_DENIED_CODE,
          message: 'remote name resolution is refused under an address policy',
          startMs: 0,
          durationMs: 0,
          proxy: this.#proxy.display,
        },
      ],
      elapsedMs: this.#rel(),
      proxy: this.#proxy.display,
      report: this.#baseReport([], undefined),
    });
  }

  /**
   * An SRV target through a socks5h:// proxy: refused. The proxy resolves names and cannot ask SRV records;
   * netdial asking them (and the targets' addresses) itself would do the DNS the socks5h:// URL keeps away
   * from this host. Never a tunnel to port 0, never the SRV owner name sent to the proxy.
   */
  #srvRefusal(): DialError {
    return new DialError({
      host: this.#target.host,
      port: this.#target.port,
      code: 'ERR_NETDIAL_PROXY',
      message:
        `connect ${this.#where()} through ${this.#proxy.display}: an SRV target cannot go through a socks5h:// ` +
        'proxy (the proxy resolves names, and has no SRV lookup); use socks5:// (netdial asks the SRV records ' +
        'and resolves their targets) or dial the service host:port',
      attempts: [],
      elapsedMs: this.#rel(),
      proxy: this.#proxy.display,
      report: this.#baseReport([], undefined),
    });
  }

  /** The config of a dial of the proxy: the dial's, without proxy, TLS only for an https:// proxy. */
  #hopConfig(signal: AbortSignal): DialConfig {
    const remaining = Math.max(1, this.#remainingMs());
    const targetTls = this.#cfg.tls;
    return {
      ...this.#cfg,
      proxy: undefined,
      signal,
      timeoutMs: remaining,
      // The proxy is checked with the policy plus its `allowProxy` entries (policy.ts proxyHopPolicy): an
      // address allowed there as a proxy is still denied as a target.
      policy: proxyHopPolicy(this.#cfg.policy),
      // `family` is the TARGET's (its addresses, resolved by netdial): an IPv6 target is reached through an
      // IPv4 proxy. The hop takes any family of the proxy's addresses — only the one of `localAddress`, which
      // binds the connection netdial opens, i.e. the one to the proxy.
      family: this.#cfg.localAddress === undefined ? 0 : hostKindOf(this.#cfg.localAddress) === 6 ? 6 : 4,
      // TLS to an https:// proxy: its name as SNI, verified with the proxy's own tls options (the object
      // form `{ url, tls }`), else with the system CAs, or the `ca` and `rejectUnauthorized` of the dial's own
      // tls options when it has them (one trust setting for both hops).
      tls:
        this.#proxy.protocol !== 'https'
          ? undefined
          : this.#proxy.tls !== undefined
            ? { ...this.#proxy.tls }
            : {
                ...(targetTls?.ca !== undefined ? { ca: targetTls.ca } : {}),
                ...(targetTls?.rejectUnauthorized !== undefined
                  ? { rejectUnauthorized: targetTls.rejectUnauthorized }
                  : {}),
              },
      tlsOff: false,
    };
  }

  /**
   * One tunnel: dials the proxy (raced, remembered, policy on its address) and asks it for `host`.
   * Returns the tunnel socket, or throws a DialError whose attempts carry phase 'proxy'.
   */
  async #tunnelTo(host: string, port: number, cancelSignal?: AbortSignal): Promise<Tunnel> {
    const controller = new AbortController();
    const cancel = () => controller.abort(new Error('cancelled'));
    this.#cancels.add(cancel);
    cancelSignal?.addEventListener('abort', cancel, { once: true });
    markProxyHop(controller.signal, this.#trace.dialId);
    const hopTarget: Target = {
      host: this.#proxy.host,
      port: this.#proxy.port,
      hostKind: hostKindOf(this.#proxy.host),
      absolute: false,
      tlsByDefault: false,
    };
    const startMs = this.#rel();
    let socket: net.Socket;
    try {
      socket = await this.#deps.dialDirect(hopTarget, this.#hopConfig(controller.signal));
    } catch (err) {
      this.#cancels.delete(cancel);
      cancelSignal?.removeEventListener('abort', cancel);
      if (isDialError(err)) {
        if (!controller.signal.aborted) this.#report.hop = err.report;
        throw isPolicyDenial(err) ? this.#proxyDenied(err) : this.#hopError(err, host, port);
      }
      throw err;
    }
    if (controller.signal.aborted) {
      // Cancelled while the proxy's connection was being handed over: not used.
      this.#cancels.delete(cancel);
      cancelSignal?.removeEventListener('abort', cancel);
      socket.destroy();
      throw new AbortError(undefined, 'tunnel');
    }
    const hop = getReport(socket);
    const hopAddress = socket.remoteAddress ?? this.#proxy.host;
    const handshakeStart = this.#rel();
    const tunnel = openTunnel(socket, this.#proxy, host, port, Math.max(1, this.#remainingMs()));
    const cancelTunnel = () => tunnel.cancel();
    this.#cancels.delete(cancel);
    this.#cancels.add(cancelTunnel);
    cancelSignal?.removeEventListener('abort', cancel);
    cancelSignal?.addEventListener('abort', cancelTunnel, { once: true });
    try {
      const outcome = await tunnel.done;
      return {
        socket,
        hop,
        handshake: { startMs: handshakeStart, endMs: this.#rel(), statusCode: outcome.statusCode },
      };
    } catch (err) {
      socket.destroy();
      if (this.#aborted || cancelSignal?.aborted) throw new AbortError(undefined, 'tunnel');
      const e = err as TunnelError;
      this.#report.hop = hop;
      this.#report.handshake = { startMs: handshakeStart, endMs: this.#rel(), statusCode: e.statusCode };
      const attempt: AttemptError = {
        address: hopAddress,
        family: hostKindOf(hopAddress) === 6 ? 6 : 4,
        port: this.#proxy.port,
        phase: 'proxy',
        code: e.code,
        message: `${e.message} (asked for ${formatHostPort(host, port)})`,
        startMs,
        durationMs: this.#rel() - startMs,
        proxy: this.#proxy.display,
        ...(e.statusCode !== undefined ? { statusCode: e.statusCode } : {}),
        ...(e.socksReply !== undefined ? { socksReply: e.socksReply } : {}),
      };
      throw new DialError({
        host: this.#target.host,
        port: this.#target.port,
        code: e.code,
        message: `connect ${this.#where()} through ${this.#proxy.display} failed in ${formatDuration(this.#rel())}: ${e.message}`,
        attempts: [attempt],
        elapsedMs: this.#rel(),
        proxy: this.#proxy.display,
        statusCode: e.statusCode,
        socksReply: e.socksReply,
        report: this.#baseReport([], undefined),
      });
    } finally {
      this.#cancels.delete(cancelTunnel);
      cancelSignal?.removeEventListener('abort', cancelTunnel);
    }
  }

  /**
   * The policy refused every address of the proxy: the dial fails as refused by the policy, naming the
   * proxy and the rule (redacted as the Dialer redacts), with the proxy's denials as its only attempts —
   * no target attempt, since no target address was tried — and the remedy that opens just the proxy.
   */
  #proxyDenied(err: DialError): DialError {
    const denials = err.attempts.filter((a) => a.phase === 'policy');
    const hop = formatHostPort(this.#proxy.host, this.#proxy.port);
    const error = new DialError({
      host: this.#target.host,
      port: this.#target.port,
      code: POLICY_DENIED_CODE,
      message:
        `connect ${this.#where()} refused by the address policy: the proxy ${hop} is denied ` +
        `(${denials.map((a) => a.message).join('; ')}); to allow it as a proxy only, not as a target, ` +
        "add it to the policy's allowProxy",
      attempts: denials.map((a): AttemptError => ({ ...a, proxy: this.#proxy.display })),
      elapsedMs: this.#rel(),
      proxy: this.#proxy.display,
      report: this.#baseReport([], undefined),
    });
    deniedProxy.add(error);
    return error;
  }

  /**
   * An IP-literal target the policy denies: refused before anything is dialled or resolved, as a direct
   * dial refuses it (one policy attempt, redacted as the Dialer redacts; published on
   * netdial:policy:denied) — no DNS attempt for a literal.
   */
  #literalDenied(): DialError | undefined {
    const policy = this.#cfg.policy;
    const family = this.#target.hostKind;
    if (policy === undefined || family === 0) return undefined;
    const verdict = policy.check(this.#target.host);
    if (verdict.allowed) return undefined;
    const denied = new DeniedAddresses(this.#target.port, this.#cfg.redactDeniedAddresses);
    denied.add(this.#target.host, family, verdict, this.#rel());
    this.#trace.policyDenied(this.#target.host, this.#target.host, family, verdict);
    return new DialError({
      host: this.#target.host,
      port: this.#target.port,
      code: POLICY_DENIED_CODE,
      message: `connect ${this.#where()} refused by the address policy: ${denied.summary(6)}`,
      attempts: denied.attempts().map((a): AttemptError => ({ ...a, proxy: this.#proxy.display })),
      elapsedMs: this.#rel(),
      proxy: this.#proxy.display,
      report: this.#baseReport([], undefined),
    });
  }

  /** The proxy itself could not be reached: the hop's attempts, relabelled phase 'proxy' (DNS and policy kept). */
  #hopError(err: DialError, host: string, port: number): DialError {
    const attempts = err.attempts.map(
      (a): AttemptError => ({
        ...a,
        phase: a.phase === 'tcp' || a.phase === 'tls' ? 'proxy' : a.phase,
        proxy: this.#proxy.display,
      }),
    );
    const hop = formatHostPort(this.#proxy.host, this.#proxy.port);
    const error = new DialError({
      host: this.#target.host,
      port: this.#target.port,
      code: err.code,
      message: `connect ${formatHostPort(host, port)} through ${this.#proxy.display} failed: the proxy ${hop} could not be reached: ${err.message}`,
      attempts,
      elapsedMs: this.#rel(),
      proxy: this.#proxy.display,
      report: this.#baseReport([], undefined),
    });
    unreachableProxy.add(error);
    return error;
  }

  /**
   * netdial resolves the target (policy applied) and races its addresses through the proxy: each attempt
   * a tunnel to one address, driven by the RFC 8305 state machine (race.ts).
   */
  async #raceThroughProxy(): Promise<net.Socket> {
    const refused = this.#literalDenied();
    if (refused !== undefined) throw refused;
    const resolveController = new AbortController();
    const cancelResolve = () => resolveController.abort(new Error('cancelled'));
    this.#cancels.add(cancelResolve);
    let resolved: ResolvedName;
    try {
      resolved = await this.#deps.resolve(
        this.#target,
        {
          ...this.#cfg,
          proxy: undefined,
          signal: resolveController.signal,
          timeoutMs: Math.max(1, this.#remainingMs()),
        },
        this.#trace,
      );
    } catch (err) {
      if (isDialError(err)) {
        throw new DialError({
          host: this.#target.host,
          port: this.#target.port,
          code: err.code,
          // "connect NAME:PORT through PROXY: …" as every other failure of a proxied dial reads.
          message: `connect ${this.#where()} through ${this.#proxy.display}: ${
            err.message.startsWith(`resolve ${this.#target.host}: `)
              ? err.message.slice(`resolve ${this.#target.host}: `.length)
              : err.message
          }`,
          attempts: [...err.attempts],
          elapsedMs: this.#rel(),
          proxy: this.#proxy.display,
          report: this.#baseReport([], undefined),
        });
      }
      throw err;
    } finally {
      this.#cancels.delete(cancelResolve);
    }
    // Endpoints of service records (SRV, HTTPS port=) carry their own port; the others are at the target's.
    const ordered: Candidate[] = resolved.addresses.map((a) => ({
      address: a.address,
      family: a.family,
      port: a.port ?? this.#target.port,
    }));
    return new Promise<net.Socket>((resolve, reject) => {
      const families = [...new Set(ordered.map((c) => c.family))].sort((a, b) => b - a);
      const race = new Race<Candidate>(
        {
          families,
          attemptDelayMs: this.#cfg.attemptDelayMs,
          resolutionDelayMs: this.#cfg.resolutionDelayMs,
          maxConcurrentAttempts: this.#cfg.maxConcurrentAttempts,
          deadlineMs: this.#deadline,
          // Already ordered by the Dialer (RFC 6724, history, RFC 8305 §4 interleave): keep that order.
          order: (known) => ordered.filter((c) => known.includes(c)),
        },
        this.#t0,
      );
      const inFlight = new Map<number, AbortController>();
      const failures = new Map<number, AttemptError>();
      let timer: ReturnType<typeof setTimeout> | undefined;
      let settled = false;
      const trace = this.#trace;
      /** attempt:error for a tunnel attempt the dial dropped, with the outcome the race gave it. */
      const dropped = (id: number) => {
        const a = race.attempts[id];
        if (a === undefined) return;
        const outcome = a.outcome === 'timeout' || a.outcome === 'aborted' ? a.outcome : 'cancelled';
        trace.attemptError(id, a.candidate.address, a.candidate.family, outcome, this.#rel() - a.startMs);
      };
      const stopAll = () => {
        for (const [id, c] of inFlight) {
          c.abort();
          dropped(id);
        }
        inFlight.clear();
      };
      const onAbort = () => {
        if (!settled) apply(race.abort(this.#deps.now()));
      };
      this.#cancels.add(onAbort);
      const done = () => {
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        this.#cancels.delete(onAbort);
      };
      const apply = (step: RaceStep<Candidate>) => {
        if (settled) return;
        for (const action of step.actions) act(action);
        if (settled) return;
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        if (step.wakeAtMs !== undefined) {
          timer = setTimeout(
            () => {
              timer = undefined;
              apply(race.tick(this.#deps.now()));
            },
            Math.max(0, Math.min(step.wakeAtMs - this.#deps.now(), 2 ** 31 - 1)),
          );
        }
      };
      const act = (action: RaceAction<Candidate>) => {
        switch (action.type) {
          case 'start':
            start(action.id, action.candidate);
            return;
          case 'cancel': {
            const controller = inFlight.get(action.id);
            if (controller === undefined) return;
            controller.abort();
            inFlight.delete(action.id);
            dropped(action.id);
            return;
          }
          case 'won':
            return; // handled where the tunnel came in
          case 'fail': {
            done();
            stopAll();
            if (action.reason === 'aborted') {
              reject(new AbortError(this.#cfg.signal?.reason, `connect ${this.#where()}`));
              return;
            }
            reject(this.#raceError(race, failures, resolved, action.reason === 'timeout'));
            return;
          }
        }
      };
      const start = (id: number, c: Candidate) => {
        const controller = new AbortController();
        inFlight.set(id, controller);
        // The target's attempt (one tunnel asked of the proxy for c.address): its hop dial's events, marked
        // proxyHopOf, come between this and its attempt:connect / attempt:error.
        trace.attemptStart(id, c.address, c.family, race.attempts[id]?.trigger ?? 'first');
        const startMs = this.#rel();
        this.#tunnelTo(c.address, c.port, controller.signal).then(
          (tunnel) => {
            if (settled || controller.signal.aborted) {
              tunnel.socket.destroy();
              return;
            }
            inFlight.delete(id);
            trace.attemptConnect(id, c.address, c.family, tunnel.socket, this.#rel() - startMs);
            const step = race.attemptConnected(id, this.#deps.now());
            done();
            stopAll();
            // Actions after a win are cancels of the others (already stopped above).
            void step;
            this.#finish(tunnel, race, resolved).then(resolve, reject);
          },
          (err: unknown) => {
            inFlight.delete(id);
            if (settled || controller.signal.aborted) return;
            if (isDialError(err) && deniedProxy.has(err)) {
              // The proxy is refused: no other target address can do better. The race ends here.
              trace.attemptError(
                id,
                c.address,
                c.family,
                'failed',
                this.#rel() - startMs,
                err.code,
                err.message,
              );
              done();
              stopAll();
              reject(err);
              return;
            }
            let code = 'EIO';
            let message = String(err);
            if (isDialError(err)) {
              code = err.code;
              message = err.message;
              const list = err.attempts.filter((a) => a.phase === 'proxy' || a.phase === 'tcp');
              const a = list[list.length - 1] ?? err.attempts[err.attempts.length - 1];
              if (a) {
                message = unreachableProxy.has(err)
                  ? `the proxy ${formatHostPort(this.#proxy.host, this.#proxy.port)} could not be reached (${a.address}: ${a.message})`
                  : a.message;
                failures.set(id, {
                  ...a,
                  address: c.address,
                  family: c.family,
                  port: c.port,
                  phase: 'proxy',
                  message,
                });
              }
            }
            trace.attemptError(id, c.address, c.family, 'failed', this.#rel() - startMs, code, message);
            apply(race.attemptFailed(id, code, this.#deps.now()));
          },
        );
      };
      apply(race.start(this.#deps.now()));
      for (const f of families) {
        apply(
          race.answer(
            f,
            ordered.filter((c) => c.family === f),
            this.#deps.now(),
          ),
        );
      }
      if (this.#aborted) onAbort();
    });
  }

  #raceError(
    race: Race<Candidate>,
    failures: Map<number, AttemptError>,
    resolved: ResolvedName,
    timedOut: boolean,
  ): DialError {
    const elapsedMs = this.#rel();
    const attempts: AttemptError[] = race.attempts.map(
      (a) =>
        failures.get(a.id) ?? {
          address: a.candidate.address,
          family: a.candidate.family,
          port: a.candidate.port,
          phase: 'proxy',
          code: a.code ?? 'ECANCELED',
          message: a.outcome === 'timeout' ? 'no tunnel before the dial timed out' : 'cancelled',
          startMs: a.startMs,
          durationMs: (a.endMs ?? elapsedMs) - a.startMs,
          proxy: this.#proxy.display,
        },
    );
    const first = attempts[0];
    const code = timedOut ? 'ETIMEDOUT' : (first?.code ?? 'ECONNREFUSED');
    // An endpoint a service record gave its own port is listed as address:port.
    const listed = attempts
      .slice(0, 6)
      .map(
        (a) => `${a.port === this.#target.port ? a.address : formatHostPort(a.address, a.port)} ${a.code}`,
      );
    const statusCode = attempts.find((a) => a.statusCode !== undefined)?.statusCode;
    const socksReply = attempts.find((a) => a.socksReply !== undefined)?.socksReply;
    return new DialError({
      host: this.#target.host,
      port: this.#target.port,
      code,
      message:
        `connect ${this.#where()} through ${this.#proxy.display} ${timedOut ? 'timed out' : 'failed'} after ` +
        `${attempts.length} attempt${attempts.length === 1 ? '' : 's'} in ${formatDuration(elapsedMs)}: ${listed.join('; ')}` +
        (first?.message ? ` (${first.message})` : ''),
      attempts,
      elapsedMs,
      proxy: this.#proxy.display,
      ...(statusCode !== undefined ? { statusCode } : {}),
      ...(socksReply !== undefined ? { socksReply } : {}),
      report: this.#baseReport(
        race.attempts.map((a) => this.#attemptReport(a)),
        resolved,
      ),
    });
  }

  #attemptReport(a: Race<Candidate>['attempts'][number]): AttemptReport {
    return {
      address: a.candidate.address,
      family: a.candidate.family,
      port: a.candidate.port,
      startMs: round(a.startMs),
      endMs: a.endMs === undefined ? undefined : round(a.endMs),
      outcome: a.outcome,
      code: a.code,
      trigger: a.trigger,
    };
  }

  #baseReport(attempts: AttemptReport[], resolved: ResolvedName | undefined): DialReport {
    return {
      host: this.#target.host,
      port: this.#target.port,
      startedAt: this.#startedAt.toISOString(),
      durationMs: this.#rel(),
      resolution: {
        ...(resolved?.path ? { path: resolved.path } : {}),
        queries: resolved?.queries ?? [],
        ...(resolved?.nat64 ? { nat64: resolved.nat64 } : {}),
      },
      order: (resolved?.addresses ?? []).map((a) => {
        const port = a.port;
        return port === undefined
          ? { address: a.address, family: a.family }
          : { address: a.address, family: a.family, port };
      }),
      // The SRV / HTTPS records asked for the target (when netdial resolved it through them).
      ...(resolved?.service ? { service: resolved.service } : {}),
      decisions: {
        attemptDelayMs: this.#cfg.attemptDelayMs,
        attemptDelaySource: this.#cfg.attemptDelayExplicit ? 'option' : 'default',
        memory: this.#deps.hasMemory,
        demoted: (resolved?.addresses ?? []).filter((a) => a.demoted).map((a) => a.address),
        shuffled: false,
      },
      settings: {
        attemptDelayMs: this.#cfg.attemptDelayMs,
        resolutionDelayMs: this.#cfg.resolutionDelayMs,
        maxConcurrentAttempts: this.#cfg.maxConcurrentAttempts,
        timeoutMs: this.#cfg.timeoutMs,
      },
      attempts,
      proxy: { ...this.#report },
    };
  }

  /** The tunnel is open: TLS to the target on it when asked (SNI = the name), then the report. */
  async #finish(
    tunnel: Tunnel,
    race: Race<Candidate> | undefined,
    resolved: ResolvedName | undefined,
  ): Promise<net.Socket> {
    const { socket } = tunnel;
    this.#report.hop = tunnel.hop;
    this.#report.handshake = tunnel.handshake;
    const attempts = race ? race.attempts.map((a) => this.#attemptReport(a)) : [];
    const report = this.#baseReport(attempts, resolved);
    const won = race?.attempts.find((a) => a.outcome === 'connected');
    if (won) {
      report.winner = {
        address: won.candidate.address,
        family: won.candidate.family,
        port: won.candidate.port,
        localAddress: socket.localAddress,
        localPort: socket.localPort,
        connectMs: round(won.endMs ?? this.#rel()),
      };
    }
    if (this.#cfg.noDelay !== undefined) socket.setNoDelay(this.#cfg.noDelay);
    if (this.#cfg.keepAlive !== undefined)
      socket.setKeepAlive(this.#cfg.keepAlive, this.#cfg.keepAliveInitialDelayMs);
    const options = this.#cfg.tls;
    if (options === undefined) {
      report.durationMs = this.#rel();
      attachReport(socket, report);
      return socket;
    }
    const servername = options.servername ?? (this.#target.hostKind === 0 ? this.#target.host : undefined);
    const startMs = this.#rel();
    report.tls = { startMs, servername };
    return new Promise<net.Socket>((resolve, reject) => {
      const tlsSocket = tls.connect({
        ...options,
        socket,
        servername,
        host: options.host ?? this.#target.host,
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const fail = (code: string, message: string) => {
        if (timer !== undefined) clearTimeout(timer);
        this.#cancels.delete(cancel);
        tlsSocket.destroy();
        socket.destroy();
        if (this.#aborted) {
          reject(new AbortError(this.#cfg.signal?.reason, `connect ${this.#where()}`));
          return;
        }
        const endMs = this.#rel();
        report.tls = { startMs, endMs, servername };
        report.durationMs = endMs;
        const address = won?.candidate.address ?? this.#target.host;
        // The attempt's address is an IP that was dialled (AttemptError): with the name resolved by the proxy
        // (CONNECT by name, socks5h) netdial never had the target's address, so the attempt names the proxy
        // it dialled (address and port); the target's name is the error's `host`.
        const hopWinner = tunnel.hop?.winner;
        const dialled = won
          ? { address: won.candidate.address, family: won.candidate.family, port: won.candidate.port }
          : {
              address: hopWinner?.address ?? socket.remoteAddress ?? this.#proxy.host,
              family: hopWinner?.family ?? familyOf(socket),
              port: hopWinner?.port ?? this.#proxy.port,
            };
        reject(
          new DialError({
            host: this.#target.host,
            port: this.#target.port,
            code,
            message: `connect ${this.#where()} through ${this.#proxy.display} failed in ${formatDuration(endMs)}: TLS handshake with ${address}: ${message} (${code})`,
            attempts: [
              {
                ...dialled,
                phase: 'tls',
                code,
                message,
                startMs,
                durationMs: endMs - startMs,
                proxy: this.#proxy.display,
              },
            ],
            elapsedMs: endMs,
            proxy: this.#proxy.display,
            report,
          }),
        );
      };
      const cancel = () => fail('ECANCELED', 'cancelled');
      this.#cancels.add(cancel);
      const remaining = this.#remainingMs();
      if (Number.isFinite(remaining)) {
        timer = setTimeout(
          () => fail('ETIMEDOUT', `no handshake within the ${formatDuration(this.#cfg.timeoutMs)} timeout`),
          Math.max(0, Math.min(remaining, 2 ** 31 - 1)),
        );
      }
      tlsSocket.once('secureConnect', () => {
        if (timer !== undefined) clearTimeout(timer);
        this.#cancels.delete(cancel);
        tlsSocket.removeAllListeners('error');
        const endMs = this.#rel();
        report.tls = {
          startMs,
          endMs,
          servername,
          protocol: tlsSocket.getProtocol(),
          alpnProtocol: tlsSocket.alpnProtocol,
          sessionReused: tlsSocket.isSessionReused(),
        };
        report.durationMs = endMs;
        attachReport(tlsSocket, report);
        resolve(tlsSocket);
      });
      tlsSocket.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'ERR_TLS', err.message));
    });
  }
}

/** A dial that failed only because the policy refused every address it had (no attempt was made). */
function isPolicyDenial(err: DialError): boolean {
  return (
    err.code === POLICY_DENIED_CODE &&
    err.attempts.length > 0 &&
    err.attempts.every((a) => a.phase === 'policy' || a.phase === 'dns')
  );
}

function familyOf(socket: net.Socket): Family {
  return socket.remoteFamily === 'IPv6' ? 6 : 4;
}

function hostKindOf(host: string): 0 | 4 | 6 {
  return isIP(host);
}
