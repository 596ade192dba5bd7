/**
 * NAT64 for RFC 8305 §7 (IPv6-only networks): an IPv4 destination the host has no route to is dialled
 * through the IPv6 address a NAT64 translator stands for, synthesised from a prefix (RFC 6052 §2.2) that is
 * configured or discovered per RFC 7050 (AAAA query for `ipv4only.arpa`).
 *
 * Pure functions (prefix parsing, synthesis, discovery from AAAA answers) and a small shell
 * ({@link Nat64Prefixes}) that asks DNS and remembers the answer for its TTL.
 */
import { isIPv4, isIPv6 } from '../ip-address.js';
import { parseIPv6Into } from '../ip-address.js';
import { canonicalIP } from '../target.js';

/** A NAT64 prefix: its first `length` bits (16 bytes, the rest zero) and the length. */
export interface Nat64Prefix {
  /** Canonical text, e.g. '64:ff9b::/96'. */
  text: string;
  bytes: Uint8Array;
  /** 32, 40, 48, 56, 64 or 96 (RFC 6052 §2.2). */
  length: number;
}

/** RFC 6052 §2.2: the prefix lengths an IPv4-embedded IPv6 address can have. */
const LENGTHS = [32, 40, 48, 56, 64, 96] as const;

/** RFC 7050 §2.2: the well-known IPv4 addresses `ipv4only.arpa` has (192.0.0.170 and 192.0.0.171). */
export const WELL_KNOWN_IPV4 = ['192.0.0.170', '192.0.0.171'] as const;

/** RFC 7050 §2.2: the name whose AAAA answer reveals the prefix. */
export const IPV4ONLY_ARPA = 'ipv4only.arpa';

/** 16 bytes of an IPv6 literal without a zone; undefined for anything else. */
function ipv6Bytes(address: string): Uint8Array | undefined {
  if (typeof address !== 'string' || address.includes('%') || !isIPv6(address)) return undefined;
  const words = new Uint32Array(4);
  if (!parseIPv6Into(address, words)) return undefined;
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[4 * i] = w >>> 24;
    out[4 * i + 1] = (w >>> 16) & 0xff;
    out[4 * i + 2] = (w >>> 8) & 0xff;
    out[4 * i + 3] = w & 0xff;
  });
  return out;
}

function formatIPv6(bytes: Uint8Array): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return canonicalIP(words.join(':'))!.address;
}

/** RFC 6052 §2.2: where the 32 bits of IPv4 go for each prefix length (bits 64–71, the "u" octet, skipped). */
function ipv4Positions(length: number): number[] {
  const start = length / 8;
  const positions: number[] = [];
  for (let i = start; positions.length < 4; i++) if (i !== 8) positions.push(i);
  return positions;
}

/**
 * Parses a NAT64 prefix 'P/len' (RFC 6052 §2.2: len 32, 40, 48, 56, 64 or 96; bits 64–71 must be zero;
 * bits past the length are ignored). Returns undefined when `text` is not one.
 */
export function parseNat64Prefix(text: string): Nat64Prefix | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  if (slash === -1) return undefined;
  const length = Number(text.slice(slash + 1));
  if (!(LENGTHS as readonly number[]).includes(length) || !/^\d+$/.test(text.slice(slash + 1)))
    return undefined;
  const bytes = ipv6Bytes(text.slice(0, slash));
  if (bytes === undefined) return undefined;
  bytes.fill(0, length / 8);
  if (bytes[8] !== 0) return undefined;
  return { text: `${formatIPv6(bytes)}/${length}`, bytes, length };
}

/** RFC 6052 §2.2: the IPv4-embedded IPv6 address of `ipv4` under `prefix` (suffix bits zero). */
export function synthesizeIPv6(prefix: Nat64Prefix, ipv4: string): string {
  if (!isIPv4(ipv4)) throw new TypeError(`synthesizeIPv6: expected an IPv4 address, got ${String(ipv4)}`);
  const out = new Uint8Array(16);
  out.set(prefix.bytes.subarray(0, prefix.length / 8));
  const octets = ipv4.split('.').map(Number);
  ipv4Positions(prefix.length).forEach((position, i) => {
    out[position] = octets[i]!;
  });
  return formatIPv6(out);
}

/**
 * RFC 7050 §3: the prefixes revealed by the AAAA addresses of `ipv4only.arpa`. For each address, each
 * RFC 6052 prefix length is tried, longest first (§3: the location of a well-known IPv4 address in the
 * address gives the prefix length); an address that embeds neither well-known address is ignored (§3:
 * such answers are not from a DNS64). Duplicates are dropped; order of the answer kept.
 */
export function prefixesFromAnswer(addresses: readonly string[]): Nat64Prefix[] {
  const out: Nat64Prefix[] = [];
  for (const address of addresses) {
    const bytes = ipv6Bytes(address);
    if (bytes === undefined) continue;
    for (const length of [...LENGTHS].reverse()) {
      const embedded = ipv4Positions(length)
        .map((p) => bytes[p])
        .join('.');
      if (!(WELL_KNOWN_IPV4 as readonly string[]).includes(embedded)) continue;
      const prefixBytes = new Uint8Array(16);
      prefixBytes.set(bytes.subarray(0, length / 8));
      if (length < 96 && bytes[8] !== 0) continue; // RFC 6052 §2.2: the u octet is zero
      const text = `${formatIPv6(prefixBytes)}/${length}`;
      if (!out.some((p) => p.text === text)) out.push({ text, bytes: prefixBytes, length });
      break;
    }
  }
  return out;
}

/**
 * Whether an IPv4 destination can stand behind a NAT64 at all: loopback (127/8), "this network" (0/8),
 * link-local (169.254/16), multicast and broadcast never leave the host or link, so no synthesis.
 */
export function translatable(ipv4: string): boolean {
  if (!isIPv4(ipv4)) return false;
  // Checked on every dial of an IPv4 answer: the first two octets read in place, no split.
  const dot = ipv4.indexOf('.');
  const a = Number(ipv4.slice(0, dot));
  const b = Number(ipv4.slice(dot + 1, ipv4.indexOf('.', dot + 1)));
  return !(a === 0 || a === 127 || (a === 169 && b === 254) || a >= 224);
}

/** An AAAA answer for discovery: addresses and the smallest TTL; undefined when there is none. */
export type AaaaLookup = (name: string) => Promise<{ addresses: string[]; ttlSeconds: number } | undefined>;

/** How long "no NAT64 here" is remembered, in seconds (RFC 7050 §3 leaves it open; like a short negative TTL). */
const NEGATIVE_TTL_SECONDS = 30;
/** The longest a discovered prefix is trusted without asking again, in seconds. */
const MAX_TTL_SECONDS = 86_400;

/**
 * The NAT64 prefix to use: the configured one, or the one RFC 7050 discovery finds (the first, §3: a node
 * that learns several may use any), remembered for the TTL of the answer (§3: "…the node SHOULD … repeat
 * the discovery process" when it expires) or, when there is none, for 30 s. Concurrent callers share one
 * query. `prefix(nowMs)` never rejects: undefined means no NAT64.
 */
export class Nat64Prefixes {
  readonly #configured: Nat64Prefix | undefined;
  readonly #lookup: AaaaLookup;
  #known: { prefix: Nat64Prefix | undefined; untilMs: number } | undefined;
  #inFlight: Promise<Nat64Prefix | undefined> | undefined;

  /** `configured`: a prefix from the caller (no discovery); `lookup`: an AAAA query through netdial's DNS. */
  constructor(configured: Nat64Prefix | undefined, lookup: AaaaLookup) {
    this.#configured = configured;
    this.#lookup = lookup;
  }

  /** Forgets what discovery found (the host moved to another network). */
  forget(): void {
    this.#known = undefined;
  }

  /** Whether the prefix is configured (no discovery query is ever sent). */
  get configured(): Nat64Prefix | undefined {
    return this.#configured;
  }

  prefix(nowMs: number): Promise<Nat64Prefix | undefined> {
    if (this.#configured !== undefined) return Promise.resolve(this.#configured);
    const known = this.#known;
    if (known !== undefined && nowMs < known.untilMs) return Promise.resolve(known.prefix);
    this.#inFlight ??= this.#lookup(IPV4ONLY_ARPA).then(
      (answer) => {
        this.#inFlight = undefined;
        const prefix = answer === undefined ? undefined : prefixesFromAnswer(answer.addresses)[0];
        const ttlSeconds =
          prefix === undefined || answer === undefined
            ? NEGATIVE_TTL_SECONDS
            : Math.min(Math.max(answer.ttlSeconds, 0), MAX_TTL_SECONDS);
        this.#known = { prefix, untilMs: nowMs + ttlSeconds * 1000 };
        return prefix;
      },
      () => {
        this.#inFlight = undefined;
        this.#known = { prefix: undefined, untilMs: nowMs + NEGATIVE_TTL_SECONDS * 1000 };
        return undefined;
      },
    );
    return this.#inFlight;
  }
}

/** One IPv4 destination dialled through NAT64, for reports. */
export interface Nat64Synthesis {
  ipv4: string;
  ipv6: string;
}

/**
 * RFC 8305 §7.1: the IPv4 destinations of `candidates` that the host has no route to (`sourceAddress`
 * null: the source-address probe found none, RFC 6724 rule 1 "unusable") and that a NAT64 can stand for
 * are replaced, in place in the list, by their address under `prefix` (RFC 6052 §2.2), made by `make`.
 * Others are kept as they are. Pure.
 */
export function synthesizeStranded<
  C extends { address: string; family: number; sourceAddress?: string | null },
>(
  candidates: readonly C[],
  prefix: Nat64Prefix,
  make: (from: C, ipv6: string) => C,
): { candidates: C[]; synthesized: Nat64Synthesis[] } {
  const synthesized: Nat64Synthesis[] = [];
  const out = candidates.map((c) => {
    if (c.family !== 4 || c.sourceAddress !== null || !translatable(c.address)) return c;
    const ipv6 = synthesizeIPv6(prefix, c.address);
    synthesized.push({ ipv4: c.address, ipv6 });
    return make(c, ipv6);
  });
  return { candidates: out, synthesized };
}

/** Whether any IPv4 candidate is stranded (no route) and translatable: the case for NAT64. */
export function hasStrandedIPv4(
  candidates: ReadonlyArray<{ address: string; family: number; sourceAddress?: string | null }>,
): boolean {
  return candidates.some((c) => c.family === 4 && c.sourceAddress === null && translatable(c.address));
}
