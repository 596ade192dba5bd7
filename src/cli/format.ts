/**
 * Small text formatters shared by the CLI's views: durations, TTLs, outcomes of attempts. Pure.
 */
import { describeCode } from '../errors.js';
import { formatHostPort } from '../target.js';

/**
 * A duration for people: "0.4 ms" below 10 ms (one decimal), "252 ms" below 10 s, "12.5 s" above.
 * Negative or non-finite input prints as "—".
 */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** A span "0.4 → 1.3 ms" (both ends relative to the dial's start); an open end prints as "…". */
export function formatSpan(startMs: number, endMs: number | undefined): string {
  const n = (v: number) => (v < 10 ? v.toFixed(1) : String(Math.round(v)));
  return endMs === undefined ? `${n(startMs)} → …` : `${n(startMs)} → ${n(endMs)} ms`;
}

/** A TTL in seconds: "60 s", "1 h 5 min", "—" when the source gave none (hosts file, system resolver). */
export function formatTtl(ttlSeconds: number | undefined): string {
  if (ttlSeconds === undefined || !Number.isFinite(ttlSeconds)) return '—';
  const s = Math.max(0, Math.round(ttlSeconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min${s % 60 === 0 ? '' : ` ${s % 60} s`}`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h} h${m === 0 ? '' : ` ${m} min`}`;
}

/** How an attempt ended, in the words the waterfall prints. */
export type OutcomeKind =
  | 'connected'
  | 'refused'
  | 'unreachable'
  | 'timed out'
  | 'cancelled'
  | 'aborted'
  | 'failed'
  | 'pending';

/**
 * The kind of an attempt's ending, from the race's outcome ('connected', 'failed', 'cancelled', 'timeout',
 * 'aborted', 'pending') and its error code. A failure with ECONNREFUSED is 'refused'; EHOSTUNREACH and
 * ENETUNREACH are 'unreachable'; ETIMEDOUT is 'timed out'; other codes are 'failed'.
 */
export function outcomeKind(outcome: string, code: string | undefined): OutcomeKind {
  switch (outcome) {
    case 'connected':
    case 'pending':
    case 'aborted':
      return outcome;
    case 'cancelled':
      return 'cancelled';
    case 'timeout':
      return 'timed out';
  }
  if (code === 'ECANCELED' || code === 'ECANCELLED') return 'cancelled';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'unreachable';
  if (code === 'ETIMEDOUT') return 'timed out';
  return 'failed';
}

/** The words after an attempt's bar: "refused", "failed: reset (ECONNRESET)", "cancelled (lost the race)". */
export function outcomeText(kind: OutcomeKind, code: string | undefined, hadWinner: boolean): string {
  switch (kind) {
    case 'cancelled':
      return hadWinner ? 'cancelled (lost the race)' : 'cancelled';
    case 'failed':
      return code === undefined
        ? 'failed'
        : `failed: ${describeCode(code)}${describeCode(code) === code ? '' : ` (${code})`}`;
    case 'timed out':
      return 'timed out';
    default:
      return kind;
  }
}

/** Why an attempt started when it did (RFC 8305 §5), as a short phrase. */
export function triggerText(trigger: 'first' | 'delay' | 'failure' | 'answer'): string {
  switch (trigger) {
    case 'first':
      return 'first attempt';
    case 'delay':
      return 'attempt delay ran out';
    case 'failure':
      return 'previous attempt failed';
    case 'answer':
      return 'new DNS answer';
  }
}

/**
 * Why an attempt started when it did, and — when it went ahead of addresses in a network that had gone
 * silent — which ones: "attempt delay ran out, ahead of 198.51.100.3 (its network unanswered)".
 */
export function attemptWhyText(a: {
  trigger: 'first' | 'delay' | 'failure' | 'answer';
  passedOver?: readonly string[] | undefined;
}): string {
  const why = triggerText(a.trigger);
  const over = a.passedOver;
  if (over === undefined || over.length === 0) return why;
  const shown =
    over.length <= 2 ? over.join(', ') : `${over.slice(0, 2).join(', ')} and ${over.length - 2} more`;
  return `${why}, ahead of ${shown} (${over.length === 1 ? 'its' : 'their'} network unanswered)`;
}

/**
 * A DNS query's failure code, in words: "no address of this family (ENODATA)", "no such name (ENOTFOUND)",
 * "DNS server failure at 127.0.0.1:53 (ESERVFAIL)". `type`: an HTTPS/SRV/SVCB query with no data has "no
 * record", not "no address"; `server`: the server that answered, when the query report names it.
 */
export function dnsCodeText(code: string, type?: string, server?: string): string {
  if (code === 'ENODATA') {
    return type === undefined || type === 'A' || type === 'AAAA'
      ? 'no address of this family (ENODATA)'
      : 'no record (ENODATA)';
  }
  if (code === 'ENOTFOUND') return 'no such name (ENOTFOUND)';
  const words = describeCode(code);
  const at = server === undefined ? '' : ` at ${server}`;
  return words === code ? `${code}${at}` : `${words}${at} (${code})`;
}

/** "IPv4" / "IPv6". */
export function familyText(family: 4 | 6): string {
  return family === 6 ? 'IPv6' : 'IPv4';
}

/** "203.0.113.1:80" or "[2001:db8::1]:80" (target.ts's formatHostPort, one spelling). */
export const addressPort = formatHostPort;
