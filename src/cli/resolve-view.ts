/**
 * `netdial resolve`: the addresses of a name in the order a dial would try them, with family, source,
 * TTL, the local address the kernel would use and what the memory knows of each endpoint. Pure.
 */
import { formatDuration } from '../errors.js';
import type { EndpointState } from '../memory/endpoint-history.js';
import type { QueryReport } from '../report.js';
import type { ResolvedName } from '../resolution/resolve-name.js';
import { padVisible, type Style, visibleLength } from './color.js';
import { familyText, formatTtl } from './format.js';
import { serviceLines } from './service-view.js';
import { type MemoryEntry, memoryEntryText, queryLines } from './trace.js';

/** An endpoint's memory state as an exported-memory entry (ages and backoff relative to `nowMs`). */
export function entryFromState(state: EndpointState, nowMs: number): MemoryEntry {
  return {
    address: state.address,
    port: state.port,
    lastOutcome: state.lastOutcome,
    lastAgeMs: nowMs - state.lastAtMs,
    consecutiveFailures: state.consecutiveFailures,
    ...(state.lastErrorCode === undefined ? {} : { lastErrorCode: state.lastErrorCode }),
    ...(state.srttMs === undefined ? {} : { srttMs: state.srttMs }),
    ...(state.rttvarMs === undefined ? {} : { rttvarMs: state.rttvarMs }),
    ...(state.backoffUntilMs === undefined ? {} : { backoffForMs: state.backoffUntilMs - nowMs }),
  };
}

/** The JSON `resolve --json` prints: the ResolvedName with memory times made relative to now. */
export function resolvedToJson(resolved: ResolvedName, nowMs: number): unknown {
  return {
    ...resolved,
    addresses: resolved.addresses.map(({ history, ...a }) => ({
      ...a,
      ...(history === undefined ? {} : { memory: entryFromState(history, nowMs) }),
    })),
  };
}

/**
 * The table of `netdial resolve`, ending with a newline. `nowMs` is the Dialer's clock (performance.now());
 * `elapsedMs`, how long the resolve took: a query still out is shown as having no answer within that time
 * (resolve returned without it, once the other family had answered).
 */
export function renderResolved(
  resolved: ResolvedName,
  nowMs: number,
  style: Style,
  elapsedMs?: number,
): string {
  const n = resolved.addresses.length;
  const where =
    resolved.service?.type === 'SRV'
      ? `srv!${resolved.host}`
      : resolved.port === undefined
        ? resolved.host
        : `${resolved.host} port ${resolved.port}`;
  // Service records give endpoints their own port and bucket: shown when there are any.
  const endpoints = resolved.service !== undefined;
  const header = endpoints
    ? ['#', 'bucket', 'address', 'port', 'family', 'source', 'ttl', 'from', 'memory']
    : ['#', 'address', 'family', 'source', 'ttl', 'from', 'memory'];
  const rows = resolved.addresses.map((a, i) => {
    let memory = '—';
    if (a.history !== undefined) memory = memoryEntryText(entryFromState(a.history, nowMs));
    if (a.demoted) {
      // A demoted endpoint ahead of one that is not was explored: tried in its natural place this time.
      const explored = resolved.addresses.slice(i + 1).some((b) => !b.demoted);
      memory = `${style.yellow(explored ? 'demoted, but explored this time' : 'demoted (tried last)')}; ${memory}`;
    }
    const where = endpoints
      ? [a.bucket === undefined ? 'fallback' : String(a.bucket), a.address, String(a.port ?? '—')]
      : [a.address];
    return [
      String(i + 1),
      ...where,
      familyText(a.family),
      a.source,
      formatTtl(a.ttlSeconds),
      a.sourceAddress === null ? style.red('no route') : (a.sourceAddress ?? '—'),
      memory,
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => visibleLength(r[c] ?? ''))));
  const line = (cells: string[]) =>
    `  ${cells.map((cell, c) => (c === cells.length - 1 ? cell : padVisible(cell, widths[c] ?? 0))).join('  ')}`.trimEnd();
  const lines = [
    style.bold(`${where}: ${n} address${n === 1 ? '' : 'es'}, in the order a dial would try them`),
    '',
    style.dim(line(header)),
    ...rows.map(line),
  ];
  if (resolved.port === undefined && !endpoints)
    lines.push(style.dim('  (memory is per endpoint: give NAME:PORT to see it)'));
  if (resolved.service !== undefined) {
    lines.push('', style.bold('service records'), ...serviceLines(resolved.service, style, resolved.queries));
  }
  const unanswered = (q: QueryReport) =>
    elapsedMs === undefined
      ? 'no answer when resolve returned'
      : `no answer within ${formatDuration(Math.max(0, elapsedMs - q.startMs))} (resolve returned without it)`;
  lines.push('', style.bold('queries'), ...queryLines(resolved.queries, style, unanswered));
  return `${lines.join('\n')}\n`;
}
