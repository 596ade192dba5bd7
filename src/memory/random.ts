/**
 * A tiny seedable pseudo-random source and an in-place Fisher–Yates shuffle.
 *
 * Used for load sharing and exploration in `history-order.ts`, so that tests can pin the outcome with a seed
 * and the dialer can pass `Math.random` (or a seeded source) in production. Not cryptographic.
 */

/** A source of numbers uniformly distributed in [0, 1), like `Math.random`. */
export type RandomSource = () => number;

/**
 * Returns a deterministic pseudo-random source in [0, 1) for `seed`.
 *
 * Contract: the same seed always yields the same sequence; `seed` must be an integer and is taken modulo 2^32
 * (so `-1` and `4294967295` are the same seed). Each call advances a 32-bit Weyl counter and mixes it with a
 * xor-shift/multiply finaliser (the SplitMix idea at 32 bits); period 2^32, 32 bits of output per call.
 *
 * @throws TypeError with code 'ERR_NETDIAL_INVALID_ARGUMENT' when `seed` is not an integer.
 */
export function createRandom(seed: number): RandomSource {
  if (!Number.isInteger(seed)) {
    const error = new TypeError(`Expected \`seed\` to be an integer, got ${String(seed)}`);
    (error as TypeError & { code: string }).code = 'ERR_NETDIAL_INVALID_ARGUMENT';
    throw error;
  }
  // Through BigInt so that integers beyond 2^53 (and negative ones) reduce exactly modulo 2^32.
  // The state is kept as a signed 32-bit integer (the same bits as the unsigned counter): a small integer
  // to V8, where an unsigned value above 2^31 would be a heap number made on every call (issue 16).
  let state = Number(BigInt.asIntN(32, BigInt(seed)));
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    z = (z ^ (z >>> 15)) >>> 0;
    return z / 4294967296;
  };
}

/**
 * Shuffles `items` in place with the Fisher–Yates (Durstenfeld) algorithm and returns the same array.
 *
 * Every permutation is equally likely when `random` is uniform in [0, 1). Uses exactly `items.length - 1`
 * calls to `random` (none for arrays of 0 or 1 items), from the last position down to the second.
 */
export function fisherYates<T>(items: T[], random: RandomSource): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    // min() guards a source that breaks its contract and returns 1.
    const j = Math.min(i, Math.floor(random() * (i + 1)));
    const held = items[i] as T;
    items[i] = items[j] as T;
    items[j] = held;
  }
  return items;
}
