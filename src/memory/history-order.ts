/**
 * Reorders RFC 6724-sorted destinations using connection history (RFC 8305 §4 stateful sorting), pure: the caller
 * passes `nowMs` and the random source.
 *
 * Runs after the RFC 6724 sort and before family interleaving (RFC 8305 §4 "First Address Family Count").
 * It only moves endpoints within what RFC 6724 left open, except for demotion of failing endpoints, which moves
 * them to the end, and never drops anything.
 */

import type { EndpointHistory, EndpointState } from './endpoint-history.js';
import { fisherYates, type RandomSource } from './random.js';
import { invalidArgument, invalidOption } from '../errors.js';

/** Default {@link HistoryOrderOptions.exploreProbability}: one call in twenty retries a demoted endpoint early. */
export const DEFAULT_EXPLORE_PROBABILITY = 1 / 20;
/** Default {@link HistoryOrderOptions.rttLeewayMs}, ms. */
export const DEFAULT_RTT_LEEWAY_MS = 10;

/** What `orderByHistory` needs from a destination; extra fields ride along untouched. */
export interface OrderableEndpoint {
  /** IP address literal, as given to the endpoint history. */
  address: string;
  family: 4 | 6;
  /** RFC 6724 §2.1 precedence of the address (policy table), as the sorter computed it. */
  precedence: number;
}

/** Options of {@link orderByHistory}. */
export interface HistoryOrderOptions {
  /** Source in [0, 1) for exploration and shuffling (`Math.random`, or `createRandom(seed)` for determinism). */
  random: RandomSource;
  /**
   * Probability in [0, 1] that, on a call with demoted endpoints in backoff, one of them (uniformly chosen) keeps its
   * natural place. Default 1/20. Keeps clients with different histories converging and notices recoveries before a
   * backoff ends (draft-ietf-happy-happyeyeballs-v3: ignore history now and then).
   */
  exploreProbability?: number | undefined;
  /** SRTTs within this many ms of the best one of their group count as equally good. >= 0. Default 10. */
  rttLeewayMs?: number | undefined;
  /** Shuffle equivalent endpoints (load sharing). Default true; false keeps their input (DNS) order. */
  shuffle?: boolean | undefined;
  /**
   * Whether an endpoint is suspected because its network failed to answer for this name
   * (`EndpointHistory.isSuspected`). Suspects go after the others, before the demoted. Default: none.
   */
  isSuspected?: ((address: string) => boolean) | undefined;
  /** A family ranked second for this name (`EndpointHistory.deferredFamily`), except on an exploring call. */
  deferFamily?: 4 | 6 | undefined;
}

/**
 * Why the first endpoint of the order went first:
 * - 'load-sharing': drawn at random among equivalent endpoints (same family, precedence, RTT class);
 * - 'rtt': alone in the best RTT class of its group, ahead of slower endpoints;
 * - 'sorted': alone in its class, first by RFC 6724 (or input) order;
 * - 'explored': a demoted or suspected endpoint given its natural place (exploration, or backoff over);
 * - 'family': its family goes first because the other one keeps going unanswered for this name;
 * - 'fallback': every endpoint is suspected or demoted; this one is the least suspicious.
 */
export type FirstReason = 'load-sharing' | 'rtt' | 'sorted' | 'explored' | 'family' | 'fallback';

/** Result of {@link orderByHistory}. */
export interface HistoryOrderResult<T> {
  /** Every input endpoint exactly once: the reordered others, then the demoted ones. */
  ordered: T[];
  /** The endpoints moved to the end (in their order in `ordered`); excludes `explored`. */
  demoted: T[];
  /** The demoted or suspected endpoint that kept its natural place this time, if any. */
  explored: T | undefined;
  /** Endpoints ranked after the others because their network is suspected (excludes `explored`). */
  suspected: T[];
  /** Why `ordered[0]` is first; undefined when the input is empty. */
  firstReason: FirstReason | undefined;
  /**
   * True when at least one run of two or more equivalent endpoints was shuffled (the permutation drawn may happen to
   * be the identity).
   */
  shuffled: boolean;
}

/**
 * Orders `sorted` (already sorted by RFC 6724, family interleaving not yet applied) with the history of
 * (address, `port`) at `nowMs`. With `history` undefined only step 4 applies. Steps:
 *
 * 1. Demotion: endpoints whose last outcome is a failure (`history.isDemoted`: in backoff, or backoff ended but not
 *    retried yet) are moved after all others, fewest consecutive failures first, ties in input order. Never dropped.
 * 2. Exploration: one demoted endpoint keeps its natural place instead (reported as `explored`): always one whose
 *    backoff just ended (`backoffJustEnded`; uniformly chosen when several are due), otherwise, with probability
 *    `exploreProbability`, one uniformly chosen among those in backoff. Its natural place is its position among the
 *    non-demoted endpoints as in the input; it takes part in neither step 3 nor step 4.
 * 3. RTT (RFC 8305 §4 adds an RTT rule between RFC 6724 rules 8 and 9, so it only reorders endpoints RFC 6724
 *    left tied): a group is a maximal run of consecutive non-demoted, non-suspected endpoints with the same family
 *    and precedence. In a group, endpoints whose SRTT − 2·RTTVAR is within `rttLeewayMs` of the group's best SRTT
 *    and endpoints with no SRTT form the first class; the others follow, by increasing SRTT, in bands of
 *    `rttLeewayMs` (each band starts at its smallest SRTT). Unknown RTT is deliberately not penalised — deviation
 *    from RFC 8305 §4's "used before" rule: otherwise the first address ever measured would win every connection
 *    and the others would never get an RTT; nor is one slow sample (its RTTVAR is half of it).
 * 4. Load sharing: each class is shuffled (Fisher–Yates with `random`) on every call. This replaces RFC 6724 rules 9
 *    and 10 within the class, as RFC 6724 §6 allows ("rules 9 and 10 may be superseded if the implementation has
 *    other means of sorting destination addresses"); for IPv4 it also avoids rule 9 pinning every client of a
 *    round-robin name to one server (Go issues 13283, 18518).
 *
 * Random draws, in order: for exploration, one draw to choose among several due endpoints, or else (when some are
 * in backoff and `exploreProbability` > 0) one draw for the probability and, if it hits and several are in backoff,
 * one to choose; then `n − 1` per shuffled class of `n`, groups in order.
 *
 * @throws TypeError ('ERR_NETDIAL_INVALID_OPTION') for a bad option, ('ERR_NETDIAL_INVALID_ARGUMENT') for a bad
 *   `sorted` item, `port` or `nowMs` (as `EndpointHistory.get` checks them).
 */
export function orderByHistory<T extends OrderableEndpoint>(
  sorted: readonly T[],
  port: number,
  history: EndpointHistory | undefined,
  nowMs: number,
  options: HistoryOrderOptions,
): HistoryOrderResult<T> {
  const { random, exploreProbability, rttLeewayMs, shuffle, isSuspected, deferFamily } =
    validateOptions(options);
  if (!Array.isArray(sorted)) throw invalidArgument('`sorted` must be an array');
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidArgument(`\`port\` must be an integer in 1–65535, got ${String(port)}`);
  }
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) {
    throw invalidArgument(`\`nowMs\` must be a finite number of milliseconds, got ${String(nowMs)}`);
  }
  const states: (EndpointState | undefined)[] = sorted.map((item, i) => {
    if (typeof item !== 'object' || item === null)
      throw invalidArgument(`\`sorted[${i}]\` must be an object`);
    if (item.family !== 4 && item.family !== 6) {
      throw invalidArgument(`\`sorted[${i}].family\` must be 4 or 6, got ${String(item.family)}`);
    }
    if (typeof item.precedence !== 'number' || Number.isNaN(item.precedence)) {
      throw invalidArgument(`\`sorted[${i}].precedence\` must be a number, got ${String(item.precedence)}`);
    }
    return history?.get(item.address, port, nowMs);
  });

  // Step 1: who is demoted (last outcome a failure), who is suspected (its network went unanswered).
  const demotedIndexes: number[] = [];
  const suspectIndexes: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (states[i]?.lastOutcome === 'failure') demotedIndexes.push(i);
    else if (isSuspected?.((sorted[i] as T).address)) suspectIndexes.push(i);
  }

  // Step 2: exploration. One demoted endpoint whose backoff ended always gets its natural place back;
  // otherwise, with probability exploreProbability, one demoted or suspected endpoint does.
  let exploredIndex = -1;
  const due = demotedIndexes.filter((i) => states[i]?.backoffJustEnded === true);
  const explorable = [...demotedIndexes, ...suspectIndexes];
  let exploring = false;
  if ((due.length === 0 && explorable.length > 0) || deferFamily !== undefined) {
    exploring = exploreProbability > 0 && random() < exploreProbability;
  }
  if (due.length > 0) {
    exploredIndex = pick(due, random);
  } else if (explorable.length > 0 && exploring) {
    exploredIndex = pick(explorable, random);
  }

  // Steps 3 and 4 on the endpoints that keep their place, group by group.
  const held = new Set([...demotedIndexes, ...suspectIndexes]);
  const kept: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i !== exploredIndex && !held.has(i)) kept.push(i);
  }
  const reordered: number[] = [];
  const reasons: FirstReason[] = [];
  let shuffled = false;
  for (let start = 0; start < kept.length; ) {
    const head = sorted[kept[start] as number] as T;
    let end = start + 1;
    while (end < kept.length) {
      const next = sorted[kept[end] as number] as T;
      if (next.family !== head.family || next.precedence !== head.precedence) break;
      end++;
    }
    const classes = rttClasses(kept.slice(start, end), states, rttLeewayMs);
    classes.forEach((band, c) => {
      let reason: FirstReason = c === 0 && classes.length > 1 ? 'rtt' : 'sorted';
      if (band.length > 1 && shuffle) {
        fisherYates(band, random);
        shuffled = true;
        reason = 'load-sharing';
      }
      for (const i of band) {
        reordered.push(i);
        reasons.push(reason);
      }
    });
    start = end;
  }
  if (exploredIndex >= 0) {
    let naturalPosition = 0;
    while (naturalPosition < kept.length && (kept[naturalPosition] as number) < exploredIndex)
      naturalPosition++;
    reordered.splice(naturalPosition, 0, exploredIndex);
    reasons.splice(naturalPosition, 0, 'explored');
  }
  // A family that keeps going unanswered for this name goes second (stable), except when exploring.
  let familyMoved = false;
  if (deferFamily !== undefined && !exploring) {
    const firstBefore = reordered[0];
    const order = reordered.map((i, k) => ({ i, reason: reasons[k] as FirstReason }));
    const front = order.filter((x) => (sorted[x.i] as T).family !== deferFamily);
    const back = order.filter((x) => (sorted[x.i] as T).family === deferFamily);
    reordered.splice(0, reordered.length, ...front.map((x) => x.i), ...back.map((x) => x.i));
    reasons.splice(0, reasons.length, ...front.map((x) => x.reason), ...back.map((x) => x.reason));
    familyMoved = front.length > 0 && back.length > 0 && reordered[0] !== firstBefore;
  }

  // Step 1 again: suspects after the others (input order), the demoted at the end, fewest consecutive
  // failures first (stable sort keeps input order).
  const suspectOrder = suspectIndexes.filter((i) => i !== exploredIndex);
  const demotedOrder = demotedIndexes
    .filter((i) => i !== exploredIndex)
    .sort((x, y) => (states[x]?.consecutiveFailures ?? 0) - (states[y]?.consecutiveFailures ?? 0));

  let firstReason: FirstReason | undefined;
  if (reordered.length > 0) firstReason = familyMoved ? 'family' : reasons[0];
  else if (sorted.length > 0) firstReason = 'fallback';
  const demoted = demotedOrder.map((i) => sorted[i] as T);
  const suspected = suspectOrder.map((i) => sorted[i] as T);
  return {
    ordered: [...reordered.map((i) => sorted[i] as T), ...suspected, ...demoted],
    demoted,
    explored: exploredIndex >= 0 ? sorted[exploredIndex] : undefined,
    suspected,
    shuffled,
    firstReason,
  };
}

/**
 * Splits one group (input indexes, in input order) into RTT classes, best first: unknown SRTT or within `leewayMs`
 * of the best SRTT, then the slower ones by increasing SRTT in bands of `leewayMs`.
 */
function rttClasses(
  group: number[],
  states: readonly (EndpointState | undefined)[],
  leewayMs: number,
): number[][] {
  const srtt = (i: number): number | undefined => states[i]?.srttMs;
  let best = Number.POSITIVE_INFINITY;
  for (const i of group) best = Math.min(best, srtt(i) ?? Number.POSITIVE_INFINITY);
  const first: number[] = [];
  const slower: number[] = [];
  for (const i of group) {
    const value = srtt(i);
    // Never measured counts as equivalent to the best: load is shared from the first dial, and a
    // never-tried endpoint is not starved by one that happened to connect first. What an unknown
    // endpoint costs when it turns out dead is bounded: it is demoted after that one attempt, and its
    // network's other addresses are suspected when another network answered instead.
    // "Clearly slower" needs the endpoint's SRTT to stay above the band even after subtracting 2·RTTVAR
    // (RFC 6298's variance): one slow first handshake (RTTVAR = R/2) is no verdict, else an endpoint whose
    // first SYN met a busy moment would never be chosen — and so never re-measured — again.
    const spread = 2 * (states[i]?.rttvarMs ?? 0);
    if (value === undefined || value - spread <= best + leewayMs) first.push(i);
    else slower.push(i);
  }
  const classes = first.length > 0 ? [first] : [];
  slower.sort((x, y) => (srtt(x) as number) - (srtt(y) as number));
  let band: number[] = [];
  let bandStart = 0;
  for (const i of slower) {
    const value = srtt(i) as number;
    if (band.length > 0 && value > bandStart + leewayMs) {
      classes.push(band);
      band = [];
    }
    if (band.length === 0) bandStart = value;
    band.push(i);
  }
  if (band.length > 0) classes.push(band);
  return classes;
}

/** One element of `items` chosen uniformly; no random draw when there is only one. */
function pick(items: readonly number[], random: RandomSource): number {
  if (items.length === 1) return items[0] as number;
  return items[Math.min(items.length - 1, Math.floor(random() * items.length))] as number;
}

function validateOptions(options: HistoryOrderOptions): {
  random: RandomSource;
  exploreProbability: number;
  rttLeewayMs: number;
  shuffle: boolean;
  isSuspected: ((address: string) => boolean) | undefined;
  deferFamily: 4 | 6 | undefined;
} {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('options', `Expected \`options\` to be an object, got ${String(options)}`);
  }
  if (typeof options.random !== 'function') {
    throw invalidOption(
      'random',
      `Expected \`random\` to be a function returning [0, 1), got ${String(options.random)}`,
    );
  }
  const exploreProbability = options.exploreProbability ?? DEFAULT_EXPLORE_PROBABILITY;
  if (typeof exploreProbability !== 'number' || !(exploreProbability >= 0 && exploreProbability <= 1)) {
    throw invalidOption(
      'exploreProbability',
      `Expected \`exploreProbability\` to be a number in [0, 1], got ${String(exploreProbability)}`,
    );
  }
  const rttLeewayMs = options.rttLeewayMs ?? DEFAULT_RTT_LEEWAY_MS;
  if (typeof rttLeewayMs !== 'number' || !Number.isFinite(rttLeewayMs) || rttLeewayMs < 0) {
    throw invalidOption(
      'rttLeewayMs',
      `Expected \`rttLeewayMs\` to be a finite number of milliseconds >= 0, got ${String(rttLeewayMs)}`,
    );
  }
  if (options.isSuspected !== undefined && typeof options.isSuspected !== 'function') {
    throw invalidOption(
      'isSuspected',
      `Expected \`isSuspected\` to be a function, got ${String(options.isSuspected)}`,
    );
  }
  if (options.deferFamily !== undefined && options.deferFamily !== 4 && options.deferFamily !== 6) {
    throw invalidOption(
      'deferFamily',
      `Expected \`deferFamily\` to be 4, 6 or undefined, got ${String(options.deferFamily)}`,
    );
  }
  return {
    random: options.random,
    exploreProbability,
    rttLeewayMs,
    shuffle: options.shuffle !== false,
    isSuspected: options.isSuspected,
    deferFamily: options.deferFamily,
  };
}
