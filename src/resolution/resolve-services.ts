/**
 * `Dialer#resolve` for targets with service records: an SRV target (`srv!_service._tcp.name`) or an
 * `https:`/`wss:` URL. The records are asked and planned as a dial would (service-lookup.ts,
 * service-plan.ts); each bucket's target name is resolved at the bucket's port (the best
 * MAX_RESOLVED_BUCKETS buckets, then the name's own A/AAAA for HTTPS), and the addresses are listed bucket
 * by bucket, in the order a dial would try them. `queries` lists each query once, in the order asked: the
 * SRV/HTTPS query, then each name's A/AAAA (a name that is the target of two buckets — e.g. an HTTPS
 * record with TargetName "." and the fallback — is asked once), times in ms since this resolve began. For
 * an HTTPS URL the name's own A/AAAA are asked alongside the HTTPS query, as a dial asks them, and the HTTPS
 * answer is waited for at most the Resolution Delay once they are in.
 */
import { DialError, formatDuration } from '../errors.js';
import type { DialConfig } from '../options.js';
import type { QueryReport, ServiceReport } from '../report.js';
import { type ResolvedEndpoint, type ResolvedName, type ResolveDeps, resolveName } from './resolve-name.js';
import { askCached, lookupHttps } from './service-lookup.js';
import { planHttps, planSrv, type ServicePlan } from './service-plan.js';
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
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  const rel = (ms: number) => round(ms - t0);
  // The service query first, as a dial's report has it (source 'cache' when answered from the cache).
  const serviceQuery: QueryReport = { type: service.type, name, source: 'dns', startMs: rel(now()) };
  let plan: ServicePlan = { buckets: [], records: [] };
  /** The origin's own A/AAAA (HTTPS: asked alongside the HTTPS query, as a dial does), and when asked. */
  let origin: { startedMs: number; result: Promise<{ r?: ResolvedName; err?: unknown }> } | undefined;
  if (kind === 'srv') {
    const outcome = await askCached<SrvRecordData>(send, cache, name, 'SRV', now).promise;
    serviceQuery.endMs = rel(now());
    if (outcome.cached) serviceQuery.source = 'cache';
    if (!outcome.ok) {
      service.code = outcome.code;
      serviceQuery.code = outcome.code;
    } else {
      const srv = planSrv(outcome.answer.records, random);
      if (srv === undefined) service.code = 'ERR_NETDIAL_NO_SERVICE';
      else plan = srv;
    }
  } else {
    const lookup = lookupHttps(send, cache, name, 'HTTPS', now);
    origin = {
      startedMs: rel(now()),
      result: resolveName(host, true, port, cfg, deps).then(
        (r) => ({ r }),
        (err: unknown) => ({ err }),
      ),
    };
    // As a dial: once the origin's addresses are in, the HTTPS answer is waited for at most the Resolution
    // Delay (draft-ietf-happy-happyeyeballs-v3), not the DNS client's whole timeout (10 s behind a resolver
    // that drops HTTPS queries); the query left out is released keep-for-cache (service-lookup.ts).
    let timer: unknown;
    const late = origin.result.then(
      () =>
        new Promise<undefined>((resolve) => {
          timer = deps.clock.setTimeout(() => resolve(undefined), cfg.resolutionDelayMs);
        }),
    );
    const found = await Promise.race([lookup.promise, late]);
    if (timer !== undefined) deps.clock.clearTimeout(timer);
    if (found === undefined) lookup.cancel(true);
    else {
      serviceQuery.endMs = rel(now());
      service.aliasChain = found.aliasChain;
      if (found.cached) serviceQuery.source = 'cache';
    }
    if (found === undefined) {
      // No answer yet: the origin's A/AAAA alone (the query is listed without an end).
    } else if (found.kind === 'service') {
      plan = planHttps({
        records: found.records,
        owner: found.owner === name ? host : found.owner,
        originPort: port,
        defaultAlpn: ['http/1.1'],
        callerAlpn: undefined,
        random,
      });
    } else {
      service.code = found.kind === 'unavailable' ? 'ALIAS_UNAVAILABLE' : found.code;
      serviceQuery.code = service.code;
    }
  }
  service.records = plan.records;
  // Bucket -1: the name's own A/AAAA at the URL's port, the fallback of an HTTPS dial (last).
  const targets: Array<{ targetName: string; port: number; bucket: number }> = plan.buckets
    .slice(0, MAX_RESOLVED_BUCKETS)
    .map((b) => ({ targetName: b.targetName, port: b.port, bucket: b.bucket }));
  if (kind === 'https') targets.push({ targetName: host, port, bucket: -1 });
  const addresses: ResolvedServiceEndpoint[] = [];
  const queries: ResolvedName['queries'] = [serviceQuery];
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
        r = await resolveName(b.targetName, true, b.port, cfg, deps);
        list(r, startedMs);
      } else if (originDone.r === undefined) throw originDone.err;
      else r = originDone.r;
      for (const a of r.addresses) {
        if (addresses.some((x) => x.address === a.address && x.port === b.port)) continue;
        addresses.push(b.bucket === -1 ? { ...a, port: b.port } : { ...a, port: b.port, bucket: b.bucket });
      }
    } catch (err) {
      firstError ??= err;
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
  return { host, port: kind === 'srv' ? undefined : port, addresses, queries, service };
}
