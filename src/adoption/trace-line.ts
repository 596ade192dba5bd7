/**
 * NETDIAL_TRACE=1: one line per dial, for stderr — the name, the winner, the time, and every attempt
 * with its outcome; a failed dial's line is its error's one-line message (which names every attempt).
 * Pure: a diagnostics event in, a line out (no newline). The lines read like this:
 *
 *   netdial: example.test:443 via 203.0.113.1 in 251.9 ms, 2 attempts: 2001:db8:3::1 cancelled after 250.3 ms, 203.0.113.1 connected in 0.4 ms
 *   netdial: example.test:443 via 203.0.113.1 in 0.6 ms, 1 attempt: 203.0.113.1 connected in 0.4 ms; remembered: 2001:db8:3::1 demoted
 *   netdial: connect example.test:443 failed after 2 attempts in 2.1 ms: 203.0.113.129 ECONNREFUSED; …
 *   netdial: example.test:443 TLS failed ERR_TLS_CERT_ALTNAME_INVALID after 3.1 ms: Hostname/IP does not match … (the request fails; …)
 *   netdial: example.test:443 through http://proxy.test:3128 in 3.2 ms, example.test resolved by the proxy; proxy proxy.test:3128 via 192.0.2.7, 1 attempt: 192.0.2.7 connected in 0.4 ms, status 200
 *
 * A dial's line is about its connection, TLS included when the dial raced it (https.globalAgent and global fetch
 * do). When TLS runs after the dial (global fetch over a tunnel of undici's ProxyAgent), a TLS line follows with
 * the handshake's outcome (tlsLine).
 */
import type { DialDoneEvent, DialErrorEvent } from '../diagnostics.js';
import type { AttemptReport, DialReport, ProxyReport } from '../report.js';
import { formatHostPort } from '../target.js';

/** Milliseconds with one decimal. */
function ms(value: number): string {
  return `${(Math.round(value * 10) / 10).toFixed(1)} ms`;
}

function attemptText(a: AttemptReport): string {
  const took = a.endMs === undefined ? undefined : a.endMs - a.startMs;
  switch (a.outcome) {
    case 'connected':
      return `${a.address} connected${took === undefined ? '' : ` in ${ms(took)}`}`;
    case 'failed':
      return `${a.address} ${a.code ?? 'failed'}${took === undefined ? '' : ` after ${ms(took)}`}`;
    default:
      return `${a.address} ${a.outcome}${took === undefined ? '' : ` after ${ms(took)}`}`;
  }
}

/** What the memory changed about the order: demoted, suspected and explored endpoints. */
function rememberedText(report: DialReport): string {
  const d = report.decisions;
  const parts = [
    ...d.demoted.map((e) => `${e} demoted`),
    ...(d.suspected ?? []).map((e) => `${e} suspected`),
    ...(d.explored === undefined ? [] : [`${d.explored} explored`]),
  ];
  return parts.length === 0 ? '' : `; remembered: ${parts.join(', ')}`;
}

function attemptsText(attempts: readonly AttemptReport[]): string {
  return `${attempts.length} attempt${attempts.length === 1 ? '' : 's'}: ${attempts.map(attemptText).join(', ')}`;
}

/**
 * The proxy part of a proxied dial's line: the proxy hop (its address and attempts, what the memory did
 * about them) and the tunnel's status.
 */
function proxyText(proxy: ProxyReport): string {
  const hop = proxy.hop;
  const status = proxy.handshake?.statusCode === undefined ? '' : `, status ${proxy.handshake.statusCode}`;
  if (hop === undefined) return `; proxy ${proxy.url}${status}`;
  const via = hop.winner === undefined ? '' : ` via ${hop.winner.address}`;
  return `; proxy ${formatHostPort(hop.host, hop.port)}${via}, ${attemptsText(hop.attempts)}${rememberedText(hop)}${status}`;
}

/**
 * The line of a dial that connected. Through a proxy it names the target and the proxy: the target's
 * attempts through it (when netdial resolved the target) or who resolved it, then the hop to the proxy.
 */
export function doneLine(event: DialDoneEvent): string {
  const report = event.report;
  const target = formatHostPort(event.host, event.port);
  const proxy = report?.proxy;
  const head =
    proxy === undefined
      ? `netdial: ${target} via ${event.address} in ${ms(event.durationMs)}`
      : `netdial: ${target} through ${proxy.url} in ${ms(event.durationMs)}`;
  if (report === undefined) return head;
  const attempts = report.attempts;
  const tls = report.tls?.endMs === undefined ? '' : `, TLS ${ms(report.tls.endMs - report.tls.startMs)}`;
  if (proxy !== undefined) {
    const targetPart =
      attempts.length === 0
        ? `, ${event.host} resolved by the proxy`
        : `, ${attemptsText(attempts)}${rememberedText(report)}`;
    return `${head}${tls}${targetPart}${proxyText(proxy)}`;
  }
  return `${head}${tls}, ${attemptsText(attempts)}${rememberedText(report)}`;
}

/** The line of a dial that failed: the error's own one-line message (DialError: every attempt). */
export function errorLine(event: DialErrorEvent): string {
  const message = event.error.message.split('\n', 1)[0] ?? '';
  if (event.error.name === 'DialError') return `netdial: ${message}`;
  const code = event.code === undefined ? '' : ` (${event.code})`;
  return `netdial: ${formatHostPort(event.host, event.port)} ${event.error.name}${code} after ${ms(event.durationMs)}: ${message}`;
}

/** What an https.globalAgent request's TLS handshake came to (the agent runs it after the TCP dial). */
export interface TlsOutcome {
  host: string;
  port: number;
  /** How long the handshake took, when known (global fetch's undici does not say). */
  durationMs?: number | undefined;
  /** The negotiated protocol, when it succeeded. */
  protocol?: string | null | undefined;
  /** Why it failed (a certificate check, a reset…): the request fails with it. */
  error?: (Error & { code?: unknown }) | undefined;
}

/**
 * The line after a dial's (TCP) line when the TLS handshake of an https.globalAgent or global fetch
 * request ends (both run TLS after netdial's TCP dial): the dial's
 * line says the TCP connection, this one whether the request's TLS succeeded — so a failed certificate
 * check never reads as a success.
 */
export function tlsLine(outcome: TlsOutcome): string {
  const head = `netdial: ${formatHostPort(outcome.host, outcome.port)} TLS`;
  const took = (word: string) => (outcome.durationMs === undefined ? '' : `${word}${ms(outcome.durationMs)}`);
  if (outcome.error === undefined) {
    return `${head} ${outcome.protocol ?? 'handshake'} done${took(' in ')}`;
  }
  const code = typeof outcome.error.code === 'string' ? ` ${outcome.error.code}` : '';
  const message = outcome.error.message.split('\n', 1)[0] ?? '';
  return `${head} failed${code}${took(' after ')}: ${message} (the request fails; the TCP connection above is closed)`;
}
