/**
 * `--trace`: the waterfall of one dial, as text — how the name was resolved (type, source, TTL, elapsed),
 * one bar per attempt on a shared millisecond axis with its outcome and the winner marked, then the
 * decisions behind the order (demoted endpoints, RTT history, the attempt delay in force and where it
 * came from). Pure: a DialReport (or a DialError) in, text out.
 */
import type { DialError } from '../errors.js';
import type { MemoryJson } from '../memory/dial-memory.js';
import type { DialReport, QueryReport } from '../report.js';
import { serviceLines } from './service-view.js';
import type { Style } from './color.js';
import {
  addressPort,
  dnsCodeText,
  formatMs,
  formatSpan,
  formatTtl,
  outcomeKind,
  outcomeText,
  attemptWhyText,
} from './format.js';
import { renderTimeline, type TimelineRow, type Tone } from './timeline.js';
import { isIP } from '../ip-address.js';

/** One endpoint as a Dialer's exported memory has it (`MemoryJson.endpoints.endpoints[n]`). */
export type MemoryEntry = MemoryJson['endpoints']['endpoints'][number];

/** Drawing options of the trace views. */
export interface TraceOptions {
  style: Style;
  /** Width of the bar area, columns. Default 40. */
  width?: number;
  /** Axis at least this long (ms), to share a scale with other pictures. */
  minAxisMs?: number;
  /** The Dialer's memory before the dial (what informed its order); omitted: not shown. */
  memoryBefore?: readonly MemoryEntry[] | undefined;
  /** The Dialer's memory after the dial (what it learnt); omitted: not shown. */
  memoryAfter?: readonly MemoryEntry[] | undefined;
}

/** The marker after the winning attempt's outcome. */
export const WINNER_MARK = '◀ winner';

const TONE_OF: Record<ReturnType<typeof outcomeKind>, Tone> = {
  connected: 'ok',
  refused: 'fail',
  unreachable: 'fail',
  failed: 'fail',
  'timed out': 'timeout',
  cancelled: 'cancelled',
  aborted: 'cancelled',
  pending: 'muted',
};

/**
 * A query's result in words: "198.51.100.1, 203.0.113.2 (ttl 60 s)", "no such name (ENOTFOUND)".
 * `unanswered`: the words for a query still out when the report was made (a dial's, by default).
 */
export function queryResult(q: QueryReport, unanswered = 'no answer before the dial ended'): string {
  if (q.code !== undefined) return dnsCodeText(q.code, q.type, q.server);
  if (q.addresses === undefined) return q.endMs === undefined ? unanswered : 'answered';
  if (q.addresses.length === 0) return 'no address';
  const ttls = new Set(q.addresses.map((a) => a.ttlSeconds));
  const list = q.addresses.map((a) =>
    ttls.size > 1 ? `${a.address} (ttl ${formatTtl(a.ttlSeconds)})` : a.address,
  );
  const [ttl] = ttls;
  return ttls.size === 1 && ttl !== undefined
    ? `${list.join(', ')} (ttl ${formatTtl(ttl)})`
    : list.join(', ');
}

/**
 * The resolution section: one aligned line per query (type, name, source, elapsed, result). `unanswered`
 * gives the words for a query still out (see queryResult).
 */
export function queryLines(
  queries: readonly QueryReport[],
  style: Style,
  unanswered?: (q: QueryReport) => string,
): string[] {
  const typeWidth = Math.max(4, ...queries.map((q) => q.type.length));
  const nameWidth = Math.max(0, ...queries.map((q) => q.name.length));
  const sourceWidth = Math.max(0, ...queries.map((q) => q.source.length));
  const spans = queries.map((q) => formatSpan(q.startMs, q.endMs));
  const spanWidth = Math.max(0, ...spans.map((s) => s.length));
  return queries.map((q, i) => {
    const words = queryResult(q, unanswered?.(q));
    const result = q.code === undefined ? words : style.yellow(words);
    const why = q.reason === undefined ? '' : style.dim(` (${q.reason})`);
    return `  ${q.type.padEnd(typeWidth)}  ${q.name.padEnd(nameWidth)}  ${style.cyan(q.source.padEnd(sourceWidth))}  ${(spans[i] ?? '').padEnd(spanWidth)}  ${result}${why}`;
  });
}

/**
 * Timeline rows of a report: one per DNS query, one per attempt (winner marked); with TLS raced per attempt
 * (`tlsMs`), a handshake row under each attempt that connected TCP, else one row for the winner's TLS.
 */
export function reportRows(report: DialReport, style: Style): TimelineRow[] {
  const names = new Set(report.resolution.queries.map((q) => q.name));
  const rows: TimelineRow[] = report.resolution.queries.map((q) => {
    const count = q.addresses?.length ?? 0;
    const result =
      q.endMs === undefined
        ? style.yellow('no answer before the dial ended')
        : q.code !== undefined
          ? style.yellow(q.code)
          : q.addresses === undefined
            ? 'answered' // SRV/HTTPS: records, not addresses (see "service records")
            : `${count} address${count === 1 ? '' : 'es'}`;
    return {
      label: names.size > 1 ? `dns ${q.type} ${q.name}` : `dns ${q.type}`,
      startMs: q.startMs,
      // A query still out when the dial ended (RFC 8305 §3 does not wait for it) is drawn to the dial's end.
      endMs: q.endMs ?? Math.max(q.startMs, report.durationMs),
      tone: 'dns',
      note: `${style.cyan(q.source)}  ${result}  ${style.dim(formatSpan(q.startMs, q.endMs))}`,
    };
  });
  const winner = report.winner;
  report.attempts.forEach((a, i) => {
    const kind = outcomeKind(a.outcome, a.code);
    const won =
      winner !== undefined &&
      a.outcome === 'connected' &&
      a.address === winner.address &&
      a.port === winner.port;
    const tone = TONE_OF[kind];
    const words = outcomeText(kind, a.code, winner !== undefined);
    const outcome = won
      ? style.bold(style.green(`${words} ${WINNER_MARK}`))
      : tone === 'fail'
        ? style.red(words)
        : words;
    if (a.tcpMs === undefined || a.tlsMs === undefined) {
      rows.push({
        label: `#${i + 1} ${a.address}`,
        startMs: a.startMs,
        endMs: a.endMs,
        tone,
        note: `${outcome}  ${style.dim(`${formatSpan(a.startMs, a.endMs)} · ${attemptWhyText(a)}`)}`,
      });
      return;
    }
    // With TLS: the TCP connect, then the handshake on its own row (the attempt won or lost there).
    const tcpEndMs = a.startMs + a.tcpMs;
    rows.push({
      label: `#${i + 1} ${a.address}`,
      startMs: a.startMs,
      endMs: tcpEndMs,
      tone: 'ok',
      note: `tcp ${formatMs(a.tcpMs)}  ${style.dim(`${formatSpan(a.startMs, tcpEndMs)} · ${attemptWhyText(a)}`)}`,
    });
    const what = won && report.tls !== undefined ? `  ${tlsText(report.tls)}` : '';
    rows.push({
      label: '   tls',
      startMs: tcpEndMs,
      endMs: a.endMs,
      tone: a.outcome === 'connected' ? 'tls' : tone,
      note: `${outcome}${what}  ${style.dim(`tls ${formatMs(a.tlsMs)} · ${formatSpan(tcpEndMs, a.endMs)}`)}`,
    });
  });
  // The handshake row of the winner when the attempts do not carry their own (TLS run after the dial, by an agent).
  if (report.tls !== undefined && !report.attempts.some((a) => a.tlsMs !== undefined)) {
    const t = report.tls;
    const what = tlsText(t);
    rows.push({
      label: `tls ${t.servername ?? ''}`.trimEnd(),
      startMs: t.startMs,
      endMs: t.endMs,
      tone: 'tls',
      note: `${t.endMs === undefined ? 'handshake' : what || 'handshake done'}  ${style.dim(formatSpan(t.startMs, t.endMs))}`,
    });
  }
  return rows;
}

/** The handshake's result in words: "TLSv1.3, ALPN h2, resumed" (empty when nothing is known yet). */
function tlsText(t: NonNullable<DialReport['tls']>): string {
  return [
    t.protocol,
    t.alpnProtocol ? `ALPN ${t.alpnProtocol}` : undefined,
    t.sessionReused ? 'resumed' : undefined,
  ]
    .filter((x) => x)
    .join(', ');
}

/** How the attempt delay was chosen, in words. */
export function attemptDelayText(report: DialReport): string {
  const ms = formatMs(report.decisions.attemptDelayMs);
  switch (report.decisions.attemptDelaySource) {
    case 'option':
      return `${ms} (set by the caller: --attempt-delay)`;
    case 'history': {
      const whose =
        report.decisions.attemptDelayBasis === 'endpoint'
          ? 'of this endpoint'
          : report.decisions.attemptDelayBasis === 'network'
            ? 'of its network'
            : report.decisions.attemptDelayBasis === 'name'
              ? "of the name's other addresses"
              : 'of the Dialer';
      return `${ms} (from RTT history ${whose}: 2 × SRTT + 4 × RTTVAR, clamped to 100 ms–2 s; RFC 8305 §5)`;
    }
    default:
      return `${ms} (default, no RTT history; RFC 8305 §5)`;
  }
}

/** One endpoint's memory in words: "srtt 0.6 ms ± 0.3 ms", "2 failures (ETIMEDOUT), in backoff 1.9 min more". */
export function memoryEntryText(e: MemoryEntry): string {
  const parts: string[] = [];
  if (e.lastOutcome === 'failure') {
    const failures = `${e.consecutiveFailures} failure${e.consecutiveFailures === 1 ? '' : 's'}`;
    const code = e.lastErrorCode === undefined ? '' : ` (${e.lastErrorCode})`;
    const left = e.backoffForMs ?? 0;
    parts.push(`${failures}${code}, ${left > 0 ? `in backoff ${formatMs(left)} more` : 'backoff over'}`);
  }
  if (e.srttMs !== undefined) {
    parts.push(`srtt ${formatMs(e.srttMs)}${e.rttvarMs === undefined ? '' : ` ± ${formatMs(e.rttvarMs)}`}`);
  }
  if (parts.length === 0) parts.push('connected before');
  return parts.join('; ');
}

function memoryLines(
  title: string,
  entries: readonly MemoryEntry[] | undefined,
  report: { order: readonly { address: string; port?: number }[]; port: number },
  style: Style,
): string[] {
  if (entries === undefined) return [];
  // Each endpoint of the order carries its own port when a service record gave it one (SRV, HTTPS port=);
  // the target's port is 0 then, so history is looked up per endpoint, never by the target's port.
  const key = (address: string, port: number): string => `${port} ${address}`;
  const wanted = new Set(report.order.map((o) => key(o.address, o.port ?? report.port)));
  const mine = entries.filter((e) => wanted.has(key(e.address, e.port)));
  if (mine.length === 0) return [`  ${title.padEnd(17)} ${style.dim('nothing known about these endpoints')}`];
  const name = (e: MemoryEntry): string =>
    e.port === report.port ? e.address : addressPort(e.address, e.port);
  const width = Math.max(...mine.map((e) => name(e).length));
  return mine.map(
    (e, i) => `  ${(i === 0 ? title : '').padEnd(17)} ${name(e).padEnd(width)}  ${memoryEntryText(e)}`,
  );
}

/**
 * `netdial -v`'s line once connected: the endpoint and the attempts. Through a proxy the socket's peer is the
 * proxy, so the line names the target, the proxy, and the attempts of the dial of the proxy (the hop).
 */
export function connectedLine(
  report: DialReport | undefined,
  remoteAddress: string,
  remotePort: number,
): string {
  const count = (n: number): string => `${n} attempt${n === 1 ? '' : 's'}`;
  const took = formatMs(report?.durationMs ?? 0);
  const p = report?.proxy;
  if (report === undefined || p === undefined) {
    return `connected to ${addressPort(remoteAddress, remotePort)} in ${took} (${count(report?.attempts.length ?? 0)})`;
  }
  const hop = p.hop;
  const at = hop?.winner ? ` at ${addressPort(hop.winner.address, hop.winner.port)}` : '';
  return `connected to ${addressPort(report.host, report.port)} through proxy ${p.url} in ${took} (${count(hop?.attempts.length ?? 0)} to the proxy${at})`;
}

/** The whole trace of a successful dial: summary, resolution, waterfall, decisions. Ends with a newline. */
export function renderReport(report: DialReport, options: TraceOptions): string {
  const { style } = options;
  const w = report.winner;
  const tries = report.attempts.length;
  const tls =
    report.tls?.protocol !== undefined && report.tls.protocol !== null
      ? `, ${report.tls.protocol}${report.tls.alpnProtocol ? ` ${report.tls.alpnProtocol}` : ''}`
      : '';
  const p = report.proxy;
  const target =
    report.service?.type === 'SRV' ? `srv!${report.host}` : addressPort(report.host, report.port);
  const head = w
    ? `connect ${target}: ${style.green(`connected to ${addressPort(w.address, w.port)}`)} in ${formatMs(report.durationMs)} (${tries} attempt${tries === 1 ? '' : 's'}${tls})`
    : p !== undefined && report.durationMs > 0 && p.handshake?.endMs !== undefined
      ? `connect ${target}: ${style.green('tunnel open')} in ${formatMs(report.durationMs)}${tls ? ` (${tls.slice(2)})` : ''}`
      : `connect ${target}: no connection in ${formatMs(report.durationMs)}`;
  const d = report.decisions;
  const lines = [style.bold(head)];
  if (p !== undefined) {
    // The proxy hop: which proxy, who resolved the target, how the proxy itself was reached.
    const hopWinner = p.hop?.winner;
    const reached = hopWinner
      ? ` at ${addressPort(hopWinner.address, hopWinner.port)} after ${p.hop!.attempts.length} attempt${p.hop!.attempts.length === 1 ? '' : 's'}`
      : '';
    const status = p.handshake?.statusCode !== undefined ? `, CONNECT ${p.handshake.statusCode}` : '';
    lines.push(
      `${style.bold('proxy')} ${p.url} (from ${p.from}; target resolved by ${p.resolvedBy})${reached}${status}`,
    );
  }
  lines.push('', style.bold('resolution'), ...queryLines(report.resolution.queries, style));
  if (report.resolution.queries.length === 0) {
    // A name the proxy resolves (CONNECT by name, socks5h) makes no query here; only a literal needs none.
    const byProxy = p?.resolvedBy === 'proxy' && !isIP(report.host);
    lines.push(
      `  ${style.dim(byProxy ? `no queries: ${report.host} is resolved by the proxy` : 'no queries (address literal)')}`,
    );
  }
  if (report.service !== undefined)
    lines.push(
      '',
      style.bold('service records'),
      ...serviceLines(report.service, style, report.resolution.queries),
    );
  lines.push(
    '',
    `${style.bold('attempts')}  ${style.dim(`(ms since the dial began; ${GLOSSARY})`)}`,
    ...renderTimeline(reportRows(report, style), {
      width: options.width ?? 40,
      style,
      ...(options.minAxisMs === undefined ? {} : { minAxisMs: options.minAxisMs }),
    }),
    '',
    style.bold('decisions'),
    `  ${'order'.padEnd(17)} ${report.order.map((o) => (o.port === undefined ? o.address : addressPort(o.address, o.port))).join(', ')}  ${style.dim(report.service ? '(service buckets, then RFC 6724 sort, history, RFC 8305 §4 interleave)' : '(RFC 6724 sort, history, RFC 8305 §4 interleave)')}`,
    `  ${'attempt delay'.padEnd(17)} ${attemptDelayText(report)}`,
    `  ${'resolution delay'.padEnd(17)} ${formatMs(report.settings.resolutionDelayMs)} ${style.dim('(RFC 8305 §3: how long an A answer waits for AAAA)')}`,
    `  ${'concurrency'.padEnd(17)} at most ${report.settings.maxConcurrentAttempts} attempts at once, timeout ${formatMs(report.settings.timeoutMs)}`,
    `  ${'demoted'.padEnd(17)} ${d.demoted.length === 0 ? 'none' : `${d.demoted.join(', ')} ${style.dim('(failed recently: tried last)')}`}`,
  );
  if (d.explored !== undefined) {
    lines.push(
      `  ${'explored'.padEnd(17)} ${d.explored} ${style.dim('(demoted, but tried in its natural place this time)')}`,
    );
  }
  lines.push(
    `  ${'memory'.padEnd(17)} ${d.memory ? `on${d.shuffled ? ', equal endpoints shuffled for load sharing' : ''}` : 'off (DNS order kept among equal endpoints)'}`,
    ...memoryLines('history before', options.memoryBefore, report, style),
    ...memoryLines('history after', options.memoryAfter, report, style),
  );
  return `${lines.join('\n')}\n`;
}

const GLOSSARY = '▒ dns  █ attempt  ░ cancelled  ▓ tls';

/**
 * Timeline rows of a failed dial, from its DialError's `attempts`: the failed DNS queries and every TCP/TLS
 * attempt with its outcome. (A DialError has no successful answers, order or decisions.)
 */
export function errorRows(error: DialError, style: Style): TimelineRow[] {
  return error.attempts.map((a, i) => {
    const end = a.startMs + a.durationMs;
    if (a.phase === 'dns') {
      const type = a.family === 6 ? 'AAAA' : 'A';
      return {
        label: `dns ${type}`,
        startMs: a.startMs,
        endMs: end,
        tone: 'dns' as const,
        note: `${style.yellow(dnsCodeText(a.code))}  ${style.dim(formatSpan(a.startMs, end))}`,
      };
    }
    const kind = outcomeKind('failed', a.code);
    const tone = TONE_OF[kind];
    const words =
      a.phase === 'tls'
        ? `TLS failed: ${a.message}`
        : a.phase === 'proxy'
          ? `proxy: ${a.message}`
          : outcomeText(kind, a.code, false);
    return {
      label: `#${i + 1 - error.attempts.filter((x, j) => j < i && x.phase === 'dns').length} ${a.address}`,
      startMs: a.startMs,
      endMs: end,
      tone,
      note: `${tone === 'fail' ? style.red(words) : words}  ${style.dim(formatSpan(a.startMs, end))}`,
    };
  });
}

/**
 * The trace of a failed dial: summary, then the dial's report when the error carries one (resolution,
 * waterfall, decisions), else the failed queries and attempts. Ends with a newline.
 */
export function renderDialError(error: DialError, options: TraceOptions): string {
  const { style } = options;
  // The count is of connection attempts, as in the DialError's message; policy denials are not attempts.
  const tcp = error.attempts.filter((a) => a.phase === 'tcp' || a.phase === 'tls' || a.phase === 'proxy');
  const dns = error.attempts.filter((a) => a.phase === 'dns');
  const via = error.proxy === undefined ? '' : ` through ${error.proxy}`;
  const head = `connect ${addressPort(error.host, error.port)}${via}: ${style.red(`failed (${error.code})`)} in ${formatMs(error.elapsedMs)} after ${tcp.length} attempt${tcp.length === 1 ? '' : 's'}`;
  if (error.report !== undefined) {
    // The dial's own report: every answer, the order and the decisions, as for a successful dial.
    const full = renderReport(error.report, {
      ...options,
      minAxisMs: Math.max(options.minAxisMs ?? 0, error.elapsedMs),
    });
    return style.bold(head) + full.slice(full.indexOf('\n'));
  }
  const lines = [style.bold(head), '', style.bold('resolution')];
  for (const a of dns) {
    lines.push(
      `  ${(a.family === 6 ? 'AAAA' : 'A').padEnd(4)}  ${a.address}  ${formatSpan(a.startMs, a.startMs + a.durationMs)}  ${style.yellow(dnsCodeText(a.code))}`,
    );
  }
  if (dns.length === 0) {
    lines.push(
      `  ${style.dim(dns.length === error.attempts.length ? 'no DNS answer arrived before the dial ended' : 'no DNS query failed')}`,
    );
  }
  if (dns.length < error.attempts.length)
    lines.push(`  ${style.dim('(a failed dial keeps no successful answers: see the attempts below)')}`);
  lines.push(
    '',
    `${style.bold('attempts')}  ${style.dim(`(ms since the dial began; ${GLOSSARY})`)}`,
    ...renderTimeline(errorRows(error, style), {
      width: options.width ?? 40,
      style,
      minAxisMs: Math.max(options.minAxisMs ?? 0, error.elapsedMs),
    }),
  );
  return `${lines.join('\n')}\n`;
}
