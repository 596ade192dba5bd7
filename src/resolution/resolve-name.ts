/**
 * `Dialer#resolve`: the addresses of a name in the order a dial would try them, without connecting —
 * for `netdial resolve`, for the `lookup` drop-in and for anyone who wants to see the decision.
 */
import type { Clock } from '../clock.js';
import { AbortError, type AttemptError, DialError, formatDuration } from '../errors.js';
import { dnsFailureText, dnsServerOf } from './dns-failure-text.js';
import type { DialMemory } from '../memory/dial-memory.js';
import type { EndpointState } from '../memory/endpoint-history.js';
import type { DialConfig } from '../options.js';
import { hasStrandedIPv4, type Nat64Prefixes, synthesizeStranded, translatable } from './nat64.js';
import { DialOrder, type OrderCandidate } from '../race/order.js';
import { unwatchAbort, watchAbort } from '../race/abort-watch.js';
import { type QueryReport, roundMs, type ServiceReport } from '../report.js';
import type { NameResolver, Resolution, ResolutionEvent, ResolverPath } from './resolve.js';
import { DeniedAddresses } from '../policy/denied-addresses.js';
import { DialTrace } from '../diagnostics.js';
import { POLICY_DENIED_CODE } from '../policy/policy.js';
import { precedence, preselectDestinations } from '../race/sort.js';
import type { SourceAddressProbe } from '../race/source-address.js';
import type { AddressSource, Family } from '../types.js';

export interface ResolvedEndpoint {
  address: string;
  family: Family;
  source: AddressSource;
  /** TTL left in seconds as the answer gave it (cache: what is left of it); undefined for hosts/system. */
  ttlSeconds?: number | undefined;
  /** The kernel's source address for it; null = no route. */
  sourceAddress?: string | null | undefined;
  /** Tried after the others: it failed recently (only with a port and a Dialer with memory). */
  demoted: boolean;
  /** Demoted, but tried in its natural place this time (exploration, or its backoff just ended). */
  explored: boolean;
  /** What the Dialer's memory holds about (address, port), when a port was given. */
  history?: EndpointState | undefined;
  /** The endpoint's port when a service record gave it (see `ResolvedName.service`). */
  port?: number | undefined;
  /** The service bucket it belongs to (absent: the name's own A/AAAA). */
  bucket?: number | undefined;
}

export interface ResolvedName {
  host: string;
  port: number | undefined;
  /** In the order a dial would try them (one dial's shuffle of equal endpoints). */
  addresses: ResolvedEndpoint[];
  /** Which resolver the name went to and why (nsswitch.conf `hosts:` line, the resolver option…). */
  path?: ResolverPath | undefined;
  /** RFC 8305 §7: IPv4 addresses without a route, replaced by their NAT64 address under `prefix`. */
  nat64?: { prefix: string; synthesized: Array<{ ipv4: string; ipv6: string }> } | undefined;
  queries: QueryReport[];
  /** Service records (an `srv!` target or an https:/wss: URL): every record, its bucket, the alias chain. */
  service?: ServiceReport | undefined;
}

export interface ResolveDeps {
  resolver: NameResolver;
  probe: SourceAddressProbe;
  clock: Clock;
  memory?: DialMemory | undefined;
  /** NAT64 prefix source; undefined: NAT64 off. */
  nat64?: Nat64Prefixes | undefined;
}

/**
 * Resolves every family `cfg` allows and orders the result; rejects with a DialError (phase 'dns') when
 * there is no address. `dialTrace`, a dial's own (a proxied dial resolving its target), publishes the
 * queries on the DNS channels and the policy's refusals under that dial's id; without it only
 * netdial:policy:denied is published (`resolve()` and `lookup` make no dial events).
 */
export function resolveName(
  host: string,
  absolute: boolean,
  port: number | undefined,
  cfg: DialConfig,
  deps: ResolveDeps,
  dialTrace?: DialTrace,
): Promise<ResolvedName> {
  const families: Family[] = cfg.family === 0 ? [6, 4] : [cfg.family];
  const t0 = deps.clock.now();
  const rel = (t: number) => roundMs(t - t0);
  return new Promise<ResolvedName>((resolve, reject) => {
    const queries: QueryReport[] = [];
    const found: Array<OrderCandidate & { source: AddressSource; ttlSeconds?: number | undefined }> = [];
    const foundSet = new Set<string>();
    const denied = new DeniedAddresses(port ?? 0, cfg.redactDeniedAddresses);
    // Only for netdial:policy:denied (full detail of what redacted errors leave out); no dial events.
    const trace = dialTrace ?? (cfg.policy ? new DialTrace(host, port ?? 0, deps.clock, t0) : undefined);
    const failures: AttemptError[] = [];
    const answered = new Set<Family>();
    let resolution: Resolution | undefined;
    let path: ResolverPath | undefined;
    let nat64: ResolvedName['nat64'];
    let done = false;
    /** complete() has begun: what comes later is not part of the result. */
    let completing = false;
    let aborted = false;
    /** Bounds the wait for the other families once one family answered with addresses (see below). */
    let otherFamilies: unknown;
    /** When the queries this resolve joined (another's, or a refresh) were sent, by family. */
    let joinedAtMs: Map<Family, number> | undefined;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      if (timer !== undefined) deps.clock.clearTimeout(timer);
      if (otherFamilies !== undefined) deps.clock.clearTimeout(otherFamilies);
      if (cfg.signal !== undefined) unwatchAbort(cfg.signal, waiter);
      // As a dial: queries still out finish into the cache (a late answer, or ETIMEOUT), unless aborted.
      resolution?.cancel(!aborted);
      if (err !== undefined) reject(err);
    };
    const onAbort = () => {
      aborted = true;
      finish(new AbortError(cfg.signal?.reason, `resolve ${host}`));
    };
    // One listener per signal, however many dials and resolutions share it (race/abort-watch.ts).
    const waiter = { onSignalAbort: onAbort };
    const timer = Number.isFinite(cfg.timeoutMs)
      ? deps.clock.setTimeout(() => {
          // Each query still out is named (as a dial's error and the service-record path name them),
          // so "timed out" says what got no answer; a family with no query logged (a custom resolver or
          // the system resolver that has not reported) is named by the host.
          const nowRel = rel(deps.clock.now());
          const waiting: string[] = [];
          for (const family of families) {
            if (answered.has(family)) continue;
            const type = family === 6 ? 'AAAA' : 'A';
            const out = queries.filter((q) => q.type === type && q.endMs === undefined);
            for (const q of out.length > 0 ? out : [{ name: host, startMs: 0 }]) {
              waiting.push(`${type} ${q.name}`);
              failures.push({
                address: q.name,
                family,
                port: port ?? 0,
                phase: 'dns',
                code: 'ETIMEOUT',
                message: 'no answer before the timeout',
                startMs: q.startMs,
                durationMs: Math.max(0, nowRel - q.startMs),
              });
            }
          }
          const message =
            `resolve ${host} timed out after ${formatDuration(cfg.timeoutMs)}` +
            (waiting.length === 0 ? '' : `: no answer to ${waiting.join(', ')}`);
          finish(
            new DialError({
              host,
              port: port ?? 0,
              code: 'ETIMEDOUT',
              message,
              attempts: failures,
              elapsedMs: cfg.timeoutMs,
            }),
          );
        }, cfg.timeoutMs)
      : undefined;
    if (cfg.signal?.aborted) return onAbort();
    if (cfg.signal !== undefined) watchAbort(cfg.signal, waiter);

    const complete = async () => {
      completing = true;
      const now = deps.clock.now();
      if (found.length === 0) {
        if (denied.size > 0) {
          const message = `resolve ${host}: every address refused by the address policy: ${denied.summary(6)}`;
          finish(
            new DialError({
              host,
              port: port ?? 0,
              code: POLICY_DENIED_CODE,
              message,
              // ENODATA of the other family is no failure: one family answered (only denied addresses).
              attempts: [...failures.filter((f) => f.code !== 'ENODATA'), ...denied.attempts()],
              elapsedMs: rel(now),
            }),
          );
          return;
        }
        const real = failures.find((f) => f.code !== 'ENOTFOUND' && f.code !== 'ENODATA');
        const code = real?.code ?? 'ENOTFOUND';
        const detail = failures.map((f) => `${f.family === 6 ? 'AAAA' : 'A'} ${f.code}`).join('; ');
        // A failure that is not "no such name" says what it was (a server that answered is named).
        const what = real === undefined ? 'no address' : dnsFailureText(real.code, real.message);
        const message = `resolve ${host} failed in ${formatDuration(rel(now))}: ${what} (${detail})`;
        finish(
          new DialError({ host, port: port ?? 0, code, message, attempts: failures, elapsedMs: rel(now) }),
        );
        return;
      }
      // Bounds before work: per family, only the best maxAddresses by what is known without probing
      // (RFC 6724 rules 6 and 8) are probed and ordered; an answer of thousands costs no more than that.
      for (const family of families) {
        const ofFamily = found.filter((c) => c.family === family);
        if (ofFamily.length <= cfg.maxAddresses) continue;
        const keep = new Set(preselectDestinations(ofFamily, cfg.maxAddresses));
        const rest = found.filter((c) => c.family !== family || keep.has(c));
        found.splice(0, found.length, ...rest);
      }
      // RFC 8305 §7: with NAT64 possible, IPv4 addresses are probed even alone (is there an IPv4 route?).
      const checkNat64 =
        deps.nat64 !== undefined && found.some((c) => c.family === 4 && translatable(c.address));
      if (cfg.localAddress === undefined && (found.length > 1 || checkNat64)) {
        const sources = await deps.probe.probe(found, now);
        for (const c of found) c.sourceAddress = sources.get(c.address);
        if (checkNat64 && deps.nat64 !== undefined && hasStrandedIPv4(found)) {
          const prefix = await deps.nat64.prefix(deps.clock.now());
          if (prefix !== undefined) {
            const made = synthesizeStranded(found, prefix, (from, ipv6) => ({
              ...from,
              address: ipv6,
              family: 6 as const,
              precedence: precedence(ipv6),
              sourceAddress: undefined,
            }));
            const allowed = made.candidates.filter((c) => cfg.policy?.check(c.address).allowed ?? true);
            found.splice(0, found.length, ...allowed);
            nat64 = { prefix: prefix.text, synthesized: made.synthesized };
          }
        }
      } else if (cfg.localAddress !== undefined) {
        for (const c of found) c.sourceAddress = cfg.localAddress;
      }
      if (done) return;
      const memory = port === undefined ? undefined : deps.memory;
      const dialOrder = new DialOrder(memory, host, port ?? 0, cfg.firstAddressFamilyCount, cfg.maxAddresses);
      const ordered = dialOrder.order(found, deps.clock.now());
      const later = deps.clock.now();
      const result: ResolvedName = {
        host,
        port,
        ...(path ? { path } : {}),
        ...(nat64 ? { nat64 } : {}),
        queries,
        addresses: ordered.map((c) => ({
          address: c.address,
          family: c.family,
          source: c.source,
          ttlSeconds: c.ttlSeconds,
          sourceAddress: c.sourceAddress,
          demoted:
            memory !== undefined && port !== undefined && memory.endpoints.isDemoted(c.address, port, later),
          explored: dialOrder.decisions.explored === c.address,
          history: memory && port !== undefined ? memory.endpoints.get(c.address, port, later) : undefined,
        })),
      };
      finish();
      resolve(result);
    };

    const onEvent = (event: ResolutionEvent) => {
      if (done || completing) return;
      if (event.type === 'path') {
        path = { ...event.path }; // shared by the resolutions it decided (frozen): the answer has its own
        return;
      }
      const now = deps.clock.now();
      const type = event.family === 6 ? 'AAAA' : 'A';
      if (event.type === 'query') {
        const report: QueryReport = { type, name: event.name, source: event.source, startMs: rel(now) };
        if (event.reason !== undefined) report.reason = event.reason;
        queries.push(report);
        dialTrace?.dnsQuery(event.name, event.family, event.source);
        if (event.sentAtMs !== undefined) {
          joinedAtMs ??= new Map();
          joinedAtMs.set(event.family, event.sentAtMs);
        } else joinedAtMs?.delete(event.family);
        return;
      }
      let q = queries.findLast((x) => x.type === type && x.name === event.name && x.endMs === undefined);
      if (event.type === 'moved-on') {
        // A search-list candidate without an address: its query ends in the answer's list; not a failure.
        if (q !== undefined) Object.assign(q, { endMs: rel(now), source: event.source, code: event.code });
        return;
      }
      // Ended already (a search-list candidate ended by 'moved-on' that was the name as written, whose
      // error is the family's in the end): its record keeps its own times.
      if (event.type === 'error') q ??= queries.findLast((x) => x.type === type && x.name === event.name);
      if (!q) {
        q = { type, name: event.name, source: event.source, startMs: rel(now) };
        queries.push(q);
      }
      q.endMs ??= rel(now);
      q.source = event.source;
      if (event.type === 'error') {
        q.code = event.code;
        const server = dnsServerOf(event.message);
        if (server !== undefined) q.server = server;
        dialTrace?.dnsError(
          event.name,
          event.family,
          event.source,
          event.code,
          event.message,
          q.endMs - q.startMs,
        );
        if (!answered.has(event.family)) {
          failures.push({
            address: event.name,
            family: event.family,
            port: port ?? 0,
            phase: 'dns',
            code: event.code,
            message: event.message,
            startMs: q.startMs,
            durationMs: q.endMs - q.startMs,
          });
        }
      } else {
        // Bounded before any work, as in a dial: at most the best maxAddresses of one answer (RFC 6724
        // rules 6 and 8, no probe) are looked at.
        const max = cfg.maxAddresses;
        const answer =
          event.addresses.length > max ? preselectDestinations(event.addresses, max) : event.addresses;
        const shown: Array<{ address: string; ttlSeconds?: number | undefined }> = [];
        let deniedHere = 0;
        for (const a of answer) {
          // The address policy applies here too: lookup() and the agents never hand out a denied address.
          const verdict = cfg.policy?.check(a.address);
          if (verdict && !verdict.allowed) {
            deniedHere++;
            if (!cfg.redactDeniedAddresses) shown.push({ address: a.address, ttlSeconds: a.ttlSeconds });
            if (denied.add(a.address, a.family, verdict, q.endMs)) {
              trace?.policyDenied(event.name, a.address, a.family, verdict);
            }
            continue;
          }
          shown.push({ address: a.address, ttlSeconds: a.ttlSeconds });
          if (foundSet.has(a.address)) continue;
          foundSet.add(a.address);
          found.push({
            address: a.address,
            family: a.family,
            precedence: precedence(a.address),
            source: a.source,
            ttlSeconds: a.ttlSeconds,
          });
        }
        q.addresses = shown;
        if (deniedHere > 0) q.deniedByPolicy = deniedHere;
        dialTrace?.dnsAnswer(event.name, event.family, event.source, answer, q.endMs - q.startMs);
      }
      if (answered.has(event.family)) return;
      answered.add(event.family);
      if (answered.size === families.length) {
        void complete();
        return;
      }
      // One family has addresses, another is still out: the result is not held for it past what a dial
      // waits — the Resolution Delay (RFC 8305 §3), then one Connection Attempt Delay (§5) in which a dial's
      // first attempt runs alone (50 + 250 ms by default). A later answer would join a dial's race after
      // that, and an answer that never comes (a resolver that drops AAAA) would hold lookup() for the DNS
      // client's whole timeout (5 s × 2 tries) to return what it already has: glibc's getaddrinfo returns
      // the A answer then too, only 10 s later. The query still out is released keep-for-cache. As in a dial
      // (race.ts#delayStart), the wait runs from the later of this answer's arrival (from memory: before any
      // query out) and the sending of each query still out: one this resolve joined (another dial's or
      // resolve's, a refresh) counts from when it was sent, its own from now.
      if (event.type === 'answer' && otherFamilies === undefined && found.length > 0) {
        let startMs = event.source === 'cache' ? Number.NEGATIVE_INFINITY : now;
        for (const family of families) {
          if (!answered.has(family)) startMs = Math.max(startMs, joinedAtMs?.get(family) ?? now);
        }
        otherFamilies = deps.clock.setTimeout(
          () => {
            otherFamilies = undefined;
            if (!done && !completing) void complete();
          },
          Math.max(0, startMs + cfg.resolutionDelayMs + cfg.attemptDelayMs - now),
        );
      }
    };
    resolution = deps.resolver.resolve(host, absolute, families, cfg.resolver, t0, {
      resolutionEvent: onEvent,
    });
    // Answers from memory can finish the whole resolution before resolve() returns.
    if (done) resolution.cancel(!aborted);
  });
}
