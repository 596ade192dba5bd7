/**
 * The addresses an address policy refused during one dial (or one `resolve()`), and how they are shown:
 * one attempt per address with the rule that denied it, or — redacted, the default — one attempt per
 * family and class with only a count ("2 addresses denied by policy (private)"), so that a service that
 * echoes errors to its users does not map its internal DNS for them. Linear: a Set of what was seen.
 */
import type { AttemptError } from '../errors.js';
import { describeDenial, describeRedactedDenial, POLICY_DENIED_CODE, type PolicyVerdict } from './policy.js';
import type { Family } from '../types.js';

/** What stands in an attempt's `address` for denied addresses that are redacted. */
export const REDACTED_ADDRESS = '(redacted)';

export interface DeniedAddress {
  address: string;
  family: Family;
  label: string;
  message: string;
  atMs: number;
}

export class DeniedAddresses {
  readonly #port: number;
  readonly #redact: boolean;
  readonly #seen = new Set<string>();
  readonly #list: DeniedAddress[] = [];

  constructor(port: number, redact: boolean) {
    this.#port = port;
    this.#redact = redact;
  }

  get size(): number {
    return this.#list.length;
  }

  /** Remembers a denied address; false when it was already remembered. */
  add(address: string, family: Family, verdict: PolicyVerdict, atMs: number): boolean {
    if (verdict.allowed || this.#seen.has(address)) return false;
    this.#seen.add(address);
    this.#list.push({
      address,
      family,
      label: verdict.label,
      message: describeDenial(address, verdict),
      atMs,
    });
    return true;
  }

  /** The attempts (phase 'policy') to list in a DialError: per address, or per family and class when redacted. */
  attempts(): AttemptError[] {
    if (!this.#redact) {
      return this.#list.map((d) => this.#attempt(d.address, d.family, d.message, d.atMs));
    }
    return this.#groups().map((g) =>
      this.#attempt(REDACTED_ADDRESS, g.family, describeRedactedDenial(g.count, g.label), g.atMs),
    );
  }

  /** For a one-line message: at most `max` denials (or groups), then "N more". */
  summary(max: number): string {
    // One line per class across both families ("2 addresses denied by policy (loopback)" for ::1 and
    // 127.0.0.1), where the attempts keep one per family and class (each attempt has one family).
    const lines = this.#redact
      ? this.#labels().map((g) => describeRedactedDenial(g.count, g.label))
      : this.#list.map((d) => d.message);
    const listed = lines.slice(0, max);
    if (lines.length > max) listed.push(`${lines.length - max} more`);
    return listed.join('; ');
  }

  #labels(): Array<{ label: string; count: number }> {
    const counts = new Map<string, number>();
    for (const d of this.#list) counts.set(d.label, (counts.get(d.label) ?? 0) + 1);
    return [...counts].map(([label, count]) => ({ label, count }));
  }

  #groups(): Array<{ family: Family; label: string; count: number; atMs: number }> {
    const groups = new Map<string, { family: Family; label: string; count: number; atMs: number }>();
    for (const d of this.#list) {
      const key = `${d.family} ${d.label}`;
      const g = groups.get(key);
      if (g) g.count++;
      else groups.set(key, { family: d.family, label: d.label, count: 1, atMs: d.atMs });
    }
    return [...groups.values()];
  }

  #attempt(address: string, family: Family, message: string, atMs: number): AttemptError {
    return {
      address,
      family,
      port: this.#port,
      phase: 'policy',
      code: POLICY_DENIED_CODE,
      message,
      startMs: atMs,
      durationMs: 0,
    };
  }
}
