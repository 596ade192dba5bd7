/**
 * The order in which a dial tries addresses (RFC 8305 §4): RFC 6724 destination sorting, then — for a
 * Dialer with memory — endpoint history (recent failures last, known-good RTT first, equal endpoints
 * shuffled for load sharing), then family interleaving. Pure: the caller supplies time and randomness.
 */
import type { DialMemory } from '../memory/dial-memory.js';
import { type FirstReason, orderByHistory } from '../memory/history-order.js';
import { createRandom } from '../memory/random.js';
import { interleaveFamilies, type SortCandidate, sortDestinations } from './sort.js';

/** An address to order, with what sorting needs to know about it. */
export interface OrderCandidate extends SortCandidate {
  /** RFC 6724 precedence (policy table), for grouping equivalent endpoints. */
  precedence: number;
}

/** What history decided for this order. */
export interface OrderDecisions {
  demoted: string[];
  /** Ranked after the others: their network went unanswered for this name while another answered. */
  suspected: string[];
  explored: string | undefined;
  shuffled: boolean;
  /** A family ranked second for this name because its attempts keep going unanswered. */
  deferredFamily?: 4 | 6 | undefined;
  /** The address ordered first and why (see FirstReason). */
  first?: { address: string; reason: FirstReason } | undefined;
  /**
   * Fleet memory: addresses placed on a peer's observation — demoted or explored on a peer's failure, or
   * first on the RTT a peer measured.
   */
  fromPeer?: string[] | undefined;
}

/**
 * Per-dial ordering: its random choices (shuffle seed, whether to explore a demoted endpoint) are drawn
 * once, so re-sorting when a late answer arrives keeps the same decisions for the same addresses.
 */
export class DialOrder {
  readonly #memory: DialMemory | undefined;
  readonly #name: string;
  readonly #port: number;
  readonly #firstAddressFamilyCount: number;
  readonly #maxAddresses: number;
  readonly #seed: number;
  readonly #explore: boolean;
  /**
   * The decisions, once made as an object. Undefined: none made yet, or only those of a lone address
   * (#only, #onlyDemoted), which the `decisions` getter spells out when asked (most dials never ask).
   */
  #decisions: OrderDecisions | undefined;
  /** The lone address of the last order (null: it was of none; undefined: no order made yet). */
  #only: string | null | undefined;
  #onlyDemoted = false;

  /**
   * `name`: the host name dialled (history about networks and families is per name);
   * `maxAddresses`: how many of the ordered addresses are kept (the rest are never tried).
   */
  constructor(
    memory: DialMemory | undefined,
    name: string,
    port: number,
    firstAddressFamilyCount: number,
    maxAddresses = Infinity,
  ) {
    this.#memory = memory;
    this.#name = name;
    this.#port = port;
    this.#firstAddressFamilyCount = firstAddressFamilyCount;
    this.#maxAddresses = maxAddresses;
    this.#seed = memory ? Math.floor(memory.random() * 2 ** 32) : 0;
    this.#explore = memory ? memory.random() < memory.exploreProbability : false;
  }

  /** What history decided for the last order made (made from what was kept when first asked). */
  get decisions(): OrderDecisions {
    if (this.#decisions === undefined) {
      const only = this.#only;
      const demoted = this.#onlyDemoted;
      this.#decisions = {
        demoted: typeof only === 'string' && demoted ? [only] : [],
        suspected: [],
        explored: undefined,
        shuffled: false,
      };
      // An order of one address or none says what came first (none: undefined); before any order, nothing.
      if (only !== undefined) {
        this.#decisions.first =
          only === null ? undefined : { address: only, reason: demoted ? 'fallback' : 'sorted' };
      }
    }
    return this.#decisions;
  }

  set decisions(value: OrderDecisions) {
    this.#decisions = value;
  }

  order<C extends OrderCandidate>(known: readonly C[], nowMs: number): C[] {
    if (known.length <= 1) {
      // Nothing to order; only say whether the one address is held back by history (kept, not yet spelt out).
      const only = known[0];
      this.#only = only === undefined ? null : only.address;
      this.#onlyDemoted =
        only !== undefined && this.#memory?.endpoints.isDemoted(only.address, this.#port, nowMs) === true;
      this.#decisions = undefined;
      if (this.#memory?.endpoints.peerInformed) this.#notePeers(this.#memory.endpoints);
      return only === undefined ? [] : [only];
    }
    return this.#orderSeveral(known, nowMs);
  }

  /**
   * Two addresses or more. Its own method: the closure below would make every order() allocate what it
   * captures, the one-address path too.
   */
  #orderSeveral<C extends OrderCandidate>(known: readonly C[], nowMs: number): C[] {
    // RFC 8305 §4: RFC 6724 first; a stateful client then applies its history (RTT, recent failures)
    // and may share load among equivalent endpoints; family interleaving comes last.
    let sorted = sortDestinations(known);
    const memory = this.#memory;
    if (memory) {
      const history = memory.endpoints;
      const name = this.#name;
      const port = this.#port;
      const deferFamily = name === '' ? undefined : history.deferredFamily(name, nowMs);
      const r = orderByHistory(sorted, port, history, nowMs, {
        random: createRandom(this.#seed),
        exploreProbability: this.#explore ? 1 : 0,
        rttLeewayMs: memory.rttLeewayMs,
        shuffle: memory.loadSharing,
        isSuspected: name === '' ? undefined : (address) => history.isSuspected(name, address, port, nowMs),
        deferFamily,
      });
      sorted = r.ordered;
      this.decisions = {
        demoted: r.demoted.map((c) => c.address),
        suspected: r.suspected.map((c) => c.address),
        explored: r.explored?.address,
        shuffled: r.shuffled,
        deferredFamily: deferFamily,
        first: sorted[0] && r.firstReason && { address: sorted[0].address, reason: r.firstReason },
      };
      if (history.peerInformed) this.#notePeers(history);
    } else if (sorted[0]) {
      this.decisions = { ...this.decisions, first: { address: sorted[0].address, reason: 'sorted' } };
    }
    const ordered = interleaveFamilies(sorted, this.#firstAddressFamilyCount);
    return ordered.length > this.#maxAddresses ? ordered.slice(0, this.#maxAddresses) : ordered;
  }

  /** Fleet memory: records which decided addresses rest on a peer's observation rather than a local one. */
  #notePeers(history: DialMemory['endpoints']): void {
    const d = this.decisions;
    const fromPeer: string[] = [];
    const note = (address: string | undefined) => {
      if (address !== undefined && !fromPeer.includes(address) && history.isFromPeer(address, this.#port)) {
        fromPeer.push(address);
      }
    };
    for (const address of d.demoted) note(address);
    note(d.explored);
    // A peer's success decides a place only through its RTT sample.
    if (d.first?.reason === 'rtt') note(d.first.address);
    if (fromPeer.length > 0) d.fromPeer = fromPeer;
  }
}
