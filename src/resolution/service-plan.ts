/**
 * What service records mean for a dial, decided without I/O: the RFC 2782 SRV order (priority, then
 * weighted random), RFC 9460 AliasMode and ServiceMode (priority order, TargetName `.`, records with
 * unknown mandatory keys skipped, port, hints, ALPN intersected with the caller's), as service buckets
 * the race tries in order. Randomness comes from the caller (seedable through the Dialer's memory).
 */
import type { SrvRecordData } from './dns-client.js';
import { type SvcbRecord, unknownMandatoryKeys } from './svcb.js';

/** One record as a dial considered it (the report's `service.records`). */
export interface ServiceRecordInfo {
  /** Record priority (SRV priority, SvcPriority). */
  priority: number;
  /** SRV weight. */
  weight?: number;
  /** The name whose A/AAAA give the addresses (`.` already resolved to its owner). */
  targetName: string;
  port: number;
  /** ALPN ids offered for the endpoint (the record's set intersected with the caller's ALPNProtocols). */
  alpn?: string[];
  /** RFC 9460 §7.3 hints. */
  ipv4hint?: string[];
  ipv6hint?: string[];
  /** The record carried an ECHConfigList. Node's TLS cannot use ECH: it is reported, not used. */
  echConfig: boolean;
  /** The race bucket (0 first); absent when the record was skipped. */
  bucket?: number;
  /** Why the record was not used. */
  skipped?: string;
}

/** A bucket of endpoints: one usable record's target, port and ALPN. */
export interface ServiceBucket {
  bucket: number;
  targetName: string;
  port: number;
  alpn: string[] | undefined;
  ipv4hint: readonly string[];
  ipv6hint: readonly string[];
  info: ServiceRecordInfo;
}

export interface ServicePlan {
  buckets: ServiceBucket[];
  records: ServiceRecordInfo[];
}

/**
 * The order in which a dial tries service buckets, and `Dialer#resolve` lists them (docs/architecture.md
 * §4): buckets whose every endpoint failed recently (in the Dialer's backoff) after the others, then record
 * priority (RFC 2782, RFC 9460 §2.4.1; the origin's own A/AAAA of an HTTPS dial — the fallback — has none,
 * so it comes last: RFC 9460 §3), then the plan's order. Deviation: RFC 2782 has clients try priorities
 * strictly in order; netdial puts a target that just failed after the reachable ones, as RFC 8305 §4 does
 * for addresses, until its backoff ends (1 to 10 minutes).
 */
export function orderBuckets(
  buckets: readonly number[],
  priorityOf: (bucket: number) => number | undefined,
  failedRecently: (bucket: number) => boolean,
): number[] {
  const ranked = buckets.map((bucket) => ({
    bucket,
    dead: failedRecently(bucket) ? 1 : 0,
    priority: priorityOf(bucket) ?? Number.POSITIVE_INFINITY,
  }));
  ranked.sort((a, b) => a.dead - b.dead || a.priority - b.priority || a.bucket - b.bucket);
  return ranked.map((r) => r.bucket);
}

/** Longest AliasMode chain followed (RFC 9460 §3 asks for a bound; CNAME-like, as glibc's 16 for CNAMEs). */
export const MAX_ALIAS_HOPS = 8;

/**
 * RFC 2782 "Usage rules": ascending priority; within a priority, records are picked one by one at random
 * with probability proportional to weight (those of weight 0 placed first, so they are picked only
 * rarely: when the running sum's random draw is 0). `random()` returns [0, 1).
 */
export function orderSrv(records: readonly SrvRecordData[], random: () => number): SrvRecordData[] {
  const priorities = [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b);
  const out: SrvRecordData[] = [];
  for (const priority of priorities) {
    const left = records.filter((r) => r.priority === priority);
    left.sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (left.length > 0) {
      const total = left.reduce((sum, r) => sum + r.weight, 0);
      // "a uniform random number between 0 and the sum computed (inclusive)".
      const draw = Math.min(total, Math.floor(random() * (total + 1)));
      let running = 0;
      let index = left.length - 1;
      for (let i = 0; i < left.length; i++) {
        running += (left[i] as SrvRecordData).weight;
        if (running >= draw) {
          index = i;
          break;
        }
      }
      out.push(left.splice(index, 1)[0] as SrvRecordData);
    }
  }
  return out;
}

/**
 * The buckets of an SRV answer: one per record in RFC 2782 order. `undefined` when the answer says the
 * service is decidedly not available (one record with target `.`, RFC 2782).
 */
export function planSrv(records: readonly SrvRecordData[], random: () => number): ServicePlan | undefined {
  if (records.length === 1 && records[0]?.target === '.') return undefined;
  const ordered = orderSrv(
    records.filter((r) => r.target !== '.'),
    random,
  );
  const plan: ServicePlan = { buckets: [], records: [] };
  for (const r of ordered) {
    const info: ServiceRecordInfo = {
      priority: r.priority,
      weight: r.weight,
      targetName: r.target,
      port: r.port,
      echConfig: false,
    };
    if (r.port === 0) {
      info.skipped = 'port 0';
    } else {
      info.bucket = plan.buckets.length;
      plan.buckets.push({
        bucket: info.bucket,
        targetName: r.target,
        port: r.port,
        alpn: undefined,
        ipv4hint: [],
        ipv6hint: [],
        info,
      });
    }
    plan.records.push(info);
  }
  return plan;
}

/**
 * One step of RFC 9460 §2.4.2 AliasMode: an RRset with an AliasMode record is an alias (its ServiceMode
 * records are ignored; of several aliases the first is followed); an alias to `.` says the service is not
 * available (§2.5.1); otherwise the ServiceMode records stand.
 */
export function aliasStep(
  records: readonly SvcbRecord[],
): { kind: 'alias'; target: string } | { kind: 'unavailable' } | { kind: 'service' } {
  const alias = records.find((r) => r.priority === 0);
  if (alias === undefined) return { kind: 'service' };
  return alias.targetName === '.' ? { kind: 'unavailable' } : { kind: 'alias', target: alias.targetName };
}

/** ALPN ids for QUIC only (RFC 9114 §3.1 "h3"; drafts "h3-NN"): netdial dials TCP. */
function isQuicOnly(id: string): boolean {
  return id === 'h3' || id.startsWith('h3-');
}

export interface HttpsPlanInput {
  /** The ServiceMode records (AliasMode already followed), any order. */
  records: readonly SvcbRecord[];
  /** The name owning them (the end of the alias chain): TargetName `.` means this name (§2.5.2). */
  owner: string;
  /** The origin's port: a record without `port` uses it (§7.2). */
  originPort: number;
  /** The scheme's default ALPN (HTTPS: http/1.1, §7.1.2); none for SVCB in general. */
  defaultAlpn: readonly string[];
  /** The caller's ALPNProtocols; undefined: offer the record's. */
  callerAlpn: readonly string[] | undefined;
  random: () => number;
}

/**
 * RFC 9460 ServiceMode records as buckets: ascending SvcPriority, records of equal priority shuffled
 * (§2.4.1), skipping records with unknown mandatory keys (§8), whose ALPN set for TCP is empty (only
 * QUIC ids) or has nothing in common with the caller's (issue #17: such endpoints are skipped). The ALPN
 * offered is the caller's order filtered by the record's set; with no caller list, the record's set.
 */
export function planHttps(input: HttpsPlanInput): ServicePlan {
  const service = input.records.filter((r) => r.priority > 0);
  const shuffled = service.map((r) => ({ r, key: input.random() }));
  shuffled.sort((a, b) => a.r.priority - b.r.priority || a.key - b.key);
  const plan: ServicePlan = { buckets: [], records: [] };
  for (const { r } of shuffled) {
    const p = r.params;
    const targetName = r.targetName === '.' ? input.owner : r.targetName;
    const info: ServiceRecordInfo = {
      priority: r.priority,
      targetName,
      port: p.port ?? input.originPort,
      echConfig: p.ech !== undefined,
    };
    if (p.ipv4hint) info.ipv4hint = p.ipv4hint;
    if (p.ipv6hint) info.ipv6hint = p.ipv6hint;
    plan.records.push(info);
    const unknown = unknownMandatoryKeys(r);
    if (unknown.length > 0) {
      info.skipped = `mandatory key${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => `key${k}`).join(', ')} not understood`;
      continue;
    }
    const offered = [...(p.alpn ?? []), ...(p.noDefaultAlpn ? [] : input.defaultAlpn)];
    const tcp = [...new Set(offered)].filter((id) => !isQuicOnly(id));
    let alpn: string[] | undefined = tcp.length > 0 ? tcp : undefined;
    if (offered.length > 0 && tcp.length === 0) {
      info.alpn = [];
      info.skipped = `only QUIC protocols (${offered.join(', ')}); netdial dials TCP`;
      continue;
    }
    if (input.callerAlpn !== undefined && alpn !== undefined) {
      const record = new Set(alpn);
      alpn = input.callerAlpn.filter((id) => record.has(id));
      if (alpn.length === 0) {
        info.alpn = [];
        info.skipped = `no ALPN in common with ALPNProtocols (record: ${tcp.join(', ')})`;
        continue;
      }
    }
    if (info.port === 0) {
      info.skipped = 'port 0';
      continue;
    }
    if (alpn !== undefined) info.alpn = alpn;
    info.bucket = plan.buckets.length;
    plan.buckets.push({
      bucket: info.bucket,
      targetName,
      port: info.port,
      alpn,
      ipv4hint: p.ipv4hint ?? [],
      ipv6hint: p.ipv6hint ?? [],
      info,
    });
  }
  return plan;
}
