/**
 * `Dialer#resolve` for targets with service records: an SRV target (`srv!_service._tcp.name`) or an
 * `https:`/`wss:` URL. The records are asked and planned as a dial would (service-lookup.ts,
 * service-plan.ts); each bucket's target name is resolved at the bucket's port (the best
 * MAX_RESOLVED_BUCKETS buckets, then the name's own A/AAAA for HTTPS), and the addresses are listed bucket
 * by bucket, in the order a dial would try them (`orderBuckets`: buckets that failed recently after live
 * ones, then priority, the fallback last). `queries` lists each query once, in the order asked: the
 * SRV query or each HTTPS query of an AliasMode chain (the origin's, then each alias target's), and each
 * name's A/AAAA (a name that is the target of two buckets — e.g. an HTTPS record with TargetName "." and
 * the fallback — is asked once), times in ms since this resolve began. For an HTTPS URL the name's own
 * A/AAAA are asked alongside the HTTPS query, as a dial asks them, and the HTTPS answer is waited for at
 * most the Resolution Delay once they are in. The whole of it ends within the one `timeout` and at the
 * signal (resolve-bound.ts).
 * RFC 9460 §7.3 hints are listed with their record (`service.records`), not among the addresses: a dial
 * uses them only until the target's own answer is in, and resolve waits for that answer.
 */
import { DialError, formatDuration } from '../errors.js';
import type { DialConfig } from '../options.js';
import { type QueryReport, roundMs as round, type ServiceReport } from '../report.js';
import { type ResolvedEndpoint, type ResolvedName, type ResolveDeps, resolveName } from './resolve-name.js';
import { ResolveBound } from './resolve-bound.js';
import { askCached, lookupHttps } from './service-lookup.js';
import { orderBuckets, planHttps, planSrv, type ServicePlan } from './service-plan.js';
import type { SrvRecordData } from './dns-client.js';

/** Buckets whose target is resolved by `resolve` (a dial resolves the same bound). */
const MAX_RESOLVED_BUCKETS = 8;

/** A resolved endpoint of a service bucket. */
export type ResolvedServiceEndpoint = ResolvedEndpoint & { port?: number; bucket?: number };

/** Resolves a target through its service records (see the file comment). Rejects like resolveName. */
export async function resolveServices(
  kind: 'srv' | 'https',
  host: string,
  port: number,
  cfg: DialConfig,
  deps: ResolveDeps,
): Promise<ResolvedName & { service: ServiceReport }> {
  const t0 = deps.clock.now();
  const now = () => deps.clock.now();
  const { send, cache } = deps.resolver.serviceRecords(t0);
  const name = kind === 'srv' || port === 443 ? host : `_${port}._https.${host}`;
  const service: ServiceReport = {
    type: kind === 'srv' ? 'SRV' : 'HTTPS',
    name,
    aliasChain: [],
    records: [],
  };
  const random = deps.memory ? () => deps.memory!.random() : Math.random;
  const rel = (ms: number) => round(ms - t0);
  const bound = new ResolveBound(kind === 'srv' ? `srv!${host}` : host, host, port, cfg, deps.clock, t0);
  // The service queries first, as a dial's report has them (source 'cache' when answered from the cache):
  // the SRV query, or each HTTPS query of an AliasMode chain (RFC 9460 §2.4.2), in the order asked.
  const queries: ResolvedName['queries'] = [];
  const serviceQuery = (queried: string): QueryReport => {
    const q: QueryReport = { type: service.type, name: queried, source: 'dns', startMs: rel(now()) };
    queries.push(q);
    return q;
  };
  const ended = (q: QueryReport, outcome: { ok: boolean; code?: string; cached: boolean }) => {
    q.endMs = rel(now());
    if (outcome.cached) q.source = 'cache';
    if (!outcome.ok) q.code = outcome.code;
  };
  let plan: ServicePlan = { buckets: [], records: [] };
  /** The origin's own A/AAAA (HTTPS: asked alongside the HTTPS query, as a dial does), and when asked. */
  let origin: { startedMs: number; result: Promise<{ r?: ResolvedName; err?: unknown }> } | undefined;
  if (kind === 'srv') {
    const q = serviceQuery(name);
    const outcome = await bound.wait(askCached<SrvRecordData>(send, cache, name, 'SRV', now), [q]);
    ended(q, outcome);
    if (!outcome.ok) {
      service.code = outcome.code;
    } else {
      const srv = planSrv(outcome.answer.records, random);
      if (srv === undefined) service.code = 'ERR_NETDIAL_NO_SERVICE';
      else plan = srv;
    }
  } else {
    let hop: QueryReport | undefined;
    const lookup = lookupHttps(send, cache, name, 'HTTPS', now, (queried, outcome) => {
      if (outcome === undefined) hop = serviceQuery(queried);
      else if (hop !== undefined) ended(hop, outcome);
    });
    origin = {
      startedMs: rel(now()),
      result: resolveName(host, true, port, bound.remaining(), deps).then(
        (r) => ({ r }),
        (err: unknown) => ({ err }),
      ),
    };
    // As a dial: once the origin's addresses are in, the HTTPS answer is waited for at most the Resolution
    // Delay (draft-ietf-happy-happyeyeballs-v3), not the DNS client's whole timeout (10 s behind a resolver
    // that drops HTTPS queries); the query left out is released keep-for-cache (service-lookup.ts). As in a
    // dial (race.ts#delayStart), the delay runs from the later of the origin's answer (from memory: before
    // any query out) and the HTTPS query's sending — another dial's or resolve's, when this one joined it.
    let timer: unknown;
    let over = false;
    const late = origin.result.then(({ r }) => {
      if (over) return undefined;
      const nowMs = now();
      const fromMemory = r?.queries.every((q) => q.source === 'cache') === true;
      const startMs = Math.max(fromMemory ? Number.NEGATIVE_INFINITY : nowMs, lookup.sentAtMs ?? nowMs);
      return new Promise<undefined>((resolve) => {
        timer = deps.clock.setTimeout(
          () => resolve(undefined),
          Math.max(0, startMs + cfg.resolutionDelayMs - nowMs),
        );
      });
    });
    let found: Awaited<typeof lookup.promise> | undefined;
    try {
      found = await bound.wait(
        { promise: Promise.race([lookup.promise, late]), cancel: () => lookup.cancel() },
        queries,
      );
    } finally {
      over = true;
      if (timer !== undefined) deps.clock.clearTimeout(timer);
    }
    if (found === undefined) {
      // No answer yet: the origin's A/AAAA alone (the query is listed without an end).
      lookup.cancel(true);
    } else if (found.kind === 'service') {
      service.aliasChain = found.aliasChain;
      plan = planHttps({
        records: found.records,
        owner: found.owner === name ? host : found.owner,
        originPort: port,
        defaultAlpn: ['http/1.1'],
        callerAlpn: undefined,
        random,
      });
    } else {
      service.aliasChain = found.aliasChain;
      service.code = found.kind === 'unavailable' ? 'ALIAS_UNAVAILABLE' : found.code;
      // The chain ended at its last query (an alias to ".", a loop, a chain too long, a failure).
      const last = queries.at(-1);
      if (last !== undefined) last.code ??= service.code;
    }
  }
  service.records = plan.records;
  // Bucket -1: the name's own A/AAAA at the URL's port, the fallback of an HTTPS dial (last).
  const targets: Array<{ targetName: string; port: number; bucket: number }> = plan.buckets
    .slice(0, MAX_RESOLVED_BUCKETS)
    .map((b) => ({ targetName: b.targetName, port: b.port, bucket: b.bucket }));
  if (kind === 'https') targets.push({ targetName: host, port, bucket: -1 });
  // Each bucket's endpoints, listed at the end in the order a dial tries the buckets (orderBuckets).
  const byBucket = new Map<number, ResolvedServiceEndpoint[]>();
  let firstError: unknown;
  // The origin's queries went out right after the HTTPS query: listed next.
  const originDone = origin === undefined ? undefined : await origin.result;
  const list = (r: ResolvedName, startedMs: number) => {
    // A name already asked (for another bucket) and answered again from the cache is not listed twice;
    // a query really sent again (no memory) is listed, as it went out.
    for (const q of r.queries) {
      if (q.source === 'cache' && queries.some((x) => x.type === q.type && x.name === q.name)) continue;
      queries.push({
        ...q,
        startMs: round(q.startMs + startedMs),
        ...(q.endMs === undefined ? {} : { endMs: round(q.endMs + startedMs) }),
      });
    }
  };
  if (originDone?.r !== undefined) list(originDone.r, origin!.startedMs);
  for (const b of targets) {
    try {
      let r: ResolvedName;
      if (b.bucket !== -1 || originDone === undefined) {
        const startedMs = rel(now());
        // Each name gets what is left of the one timeout; its timing out is the resolve's (bound.timedOut).
        r = await resolveName(b.targetName, true, b.port, bound.remaining(), deps);
        list(r, startedMs);
      } else if (originDone.r === undefined) throw originDone.err;
      else r = originDone.r;
      byBucket.set(
        b.bucket,
        r.addresses.map((a) =>
          b.bucket === -1 ? { ...a, port: b.port } : { ...a, port: b.port, bucket: b.bucket },
        ),
      );
    } catch (err) {
      bound.rethrowTimeoutOrAbort(err);
      firstError ??= err;
    }
  }
  const addresses: ResolvedServiceEndpoint[] = [];
  const order = orderBuckets(
    [...byBucket.keys()],
    (bucket) => plan.buckets[bucket]?.info.priority,
    (bucket) => byBucket.get(bucket)!.every((a) => a.demoted),
  );
  for (const bucket of order) {
    for (const a of byBucket.get(bucket)!) {
      // An endpoint (address, port) listed by two buckets is tried once, in the first: listed once.
      if (addresses.some((x) => x.address === a.address && x.port === a.port)) continue;
      addresses.push(a);
    }
  }
  // The kernel's source address for every endpoint ("from"), as a dial with more than one learns it: a
  // bucket whose target has one address was resolved (and so probed) alone, which leaves it unknown.
  if (addresses.length > 1 && cfg.localAddress === undefined) {
    const unknown = addresses.filter((a) => a.sourceAddress === undefined);
    if (unknown.length > 0) {
      const sources = await deps.probe.probe(unknown, now());
      for (const a of unknown) a.sourceAddress = sources.get(a.address);
    }
  }
  if (addresses.length === 0) {
    if (firstError !== undefined && kind === 'https') throw firstError;
    const elapsedMs = deps.clock.now() - t0;
    const code = service.code === 'ERR_NETDIAL_NO_SERVICE' ? service.code : 'ENOTFOUND';
    throw new DialError({
      host,
      port: 0,
      code,
      message: `resolve srv!${host} failed in ${formatDuration(elapsedMs)}: ${
        code === 'ENOTFOUND'
          ? `no usable SRV records or target addresses (${service.code ?? 'no address'})`
          : 'the SRV records say the service is not available (target ".")'
      }`,
      attempts: [],
      elapsedMs,
      cause: firstError,
    });
  }
  // In the order asked: the origin's A/AAAA went out alongside the first HTTPS query, an alias target's
  // HTTPS query after that one answered (a stable sort keeps each name's AAAA-then-A as listed).
  queries.sort((a, b) => a.startMs - b.startMs);
  return { host, port: kind === 'srv' ? undefined : port, addresses, queries, service };
}
