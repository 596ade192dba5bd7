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
}

/** Result of {@link orderByHistory}. */
export interface HistoryOrderResult<T> {
  /** Every input endpoint exactly once: the reordered others, then the demoted ones. */
  ordered: T[];
  /** The endpoints moved to the end (in their order in `ordered`); excludes `explored`. */
  demoted: T[];
  /** The demoted endpoint that kept its natural place this time, if any. */
  explored: T | undefined;
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
 *    left tied): a group is a maximal run of consecutive non-demoted endpoints with the same family and precedence.
 *    In a group, endpoints whose SRTT is within `rttLeewayMs` of the group's best SRTT and endpoints with no SRTT
 *    form the first class; the others follow, by increasing SRTT, in bands of `rttLeewayMs` (each band starts at its
 *    smallest SRTT). Unknown RTT is deliberately not penalised — deviation from RFC 8305 §4's "used before" rule:
 *    otherwise the first address ever measured would win every connection and the others would never get an RTT.
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
  const { random, exploreProbability, rttLeewayMs, shuffle } = validateOptions(options);
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

  // Step 1: who is demoted (last outcome a failure).
  const demotedIndexes: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (states[i]?.lastOutcome === 'failure') demotedIndexes.push(i);
  }

  // Step 2: exploration. One draw decides, when there is something to explore: a demoted endpoint in
  // backoff, or endpoints never tried next to ones known good (which otherwise always go first).
  let exploredIndex = -1;
  const due = demotedIndexes.filter((i) => states[i]?.backoffJustEnded === true);
  const usable = states.filter((st) => st?.lastOutcome !== 'failure');
  // (Without load sharing, never-tried endpoints simply wait their turn in DNS order.)
  const mixedKnowledge =
    shuffle && usable.some((st) => st?.srttMs !== undefined) && usable.some((st) => st?.srttMs === undefined);
  let exploring = false;
  if ((due.length === 0 && demotedIndexes.length > 0) || mixedKnowledge) {
    exploring = exploreProbability > 0 && random() < exploreProbability;
  }
  if (due.length > 0) {
    exploredIndex = pick(due, random);
  } else if (demotedIndexes.length > 0 && exploring) {
    exploredIndex = pick(demotedIndexes, random);
  }

  // Steps 3 and 4 on the endpoints that keep their place, group by group.
  const kept: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i !== exploredIndex && states[i]?.lastOutcome !== 'failure') kept.push(i);
  }
  const reordered: number[] = [];
  let shuffled = false;
  for (let start = 0; start < kept.length; ) {
    const head = sorted[kept[start] as number] as T;
    let end = start + 1;
    while (end < kept.length) {
      const next = sorted[kept[end] as number] as T;
      if (next.family !== head.family || next.precedence !== head.precedence) break;
      end++;
    }
    for (const band of rttClasses(kept.slice(start, end), states, rttLeewayMs, exploring && shuffle)) {
      if (band.length > 1 && shuffle) {
        fisherYates(band, random);
        shuffled = true;
      }
      reordered.push(...band);
    }
    start = end;
  }
  if (exploredIndex >= 0) {
    let naturalPosition = 0;
    while (naturalPosition < kept.length && (kept[naturalPosition] as number) < exploredIndex)
      naturalPosition++;
    reordered.splice(naturalPosition, 0, exploredIndex);
  }

  // Step 1 again: the demoted ones at the end, fewest consecutive failures first (stable sort keeps input order).
  const demotedOrder = demotedIndexes
    .filter((i) => i !== exploredIndex)
    .sort((x, y) => (states[x]?.consecutiveFailures ?? 0) - (states[y]?.consecutiveFailures ?? 0));

  const demoted = demotedOrder.map((i) => sorted[i] as T);
  return {
    ordered: [...reordered.map((i) => sorted[i] as T), ...demoted],
    demoted,
    explored: exploredIndex >= 0 ? sorted[exploredIndex] : undefined,
    shuffled,
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
  unknownFirst: boolean,
): number[][] {
  const srtt = (i: number): number | undefined => states[i]?.srttMs;
  let best = Number.POSITIVE_INFINITY;
  for (const i of group) best = Math.min(best, srtt(i) ?? Number.POSITIVE_INFINITY);
  const good: number[] = [];
  const unknown: number[] = [];
  const slower: number[] = [];
  for (const i of group) {
    const value = srtt(i);
    if (value === undefined) unknown.push(i);
    else if (value <= best + leewayMs) good.push(i);
    else slower.push(i);
  }
  // RFC 8305 §4: known good RTT first. Endpoints never tried come next (so a dead one costs a dial
  // nothing once another address is known good), except on an exploring dial, which tries them first
  // so that load spreads over the whole answer set as they become known.
  const classes = (unknownFirst ? [unknown, good] : [good, unknown]).filter((c) => c.length > 0);
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

function validateOptions(
  options: HistoryOrderOptions,
): Required<{ [K in keyof HistoryOrderOptions]: NonNullable<HistoryOrderOptions[K]> }> {
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
  return { random: options.random, exploreProbability, rttLeewayMs, shuffle: options.shuffle !== false };
}
