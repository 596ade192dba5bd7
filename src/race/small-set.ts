/**
 * Sets for the race's few keys (awaited answers, addresses seen and tried), kept in the race's own fields
 * with no object of their own: undefined while empty, a plain array while they hold at most
 * SMALL_SET_LIMIT keys — most dials have one or two, and a Set's hash table costs more to make than a
 * linear search over so few — and a real Set past that, so a dial with many addresses stays linear.
 * Insertion order is kept, as a Set keeps it (the race's logs depend on it).
 *
 * Each function takes the store and returns it (a new one when it grew from nothing, or into a Set):
 * `this.#seen = addKey(this.#seen, key)`.
 */
export const SMALL_SET_LIMIT = 8;

/** Keys: none (undefined), few (an array), or many (a Set). */
export type KeyStore<K> = K[] | Set<K> | undefined;

/**
 * A store holding `initial`'s keys (a new store: `initial` is never changed), duplicates dropped. Copied key
 * by key: the race's families lists are frozen, and `slice` of a frozen array takes V8's slow path (about
 * 1.5 µs per dial); one or two keys make an array of exactly that length (see addKey).
 */
export function keysOf<K>(initial: readonly K[]): KeyStore<K> {
  // Two distinct keys (a dial's two families) in one array: addKey would make a one-slot array first.
  if (initial.length === 2 && initial[0] !== initial[1]) return [initial[0] as K, initial[1] as K];
  let store: KeyStore<K>;
  for (let i = 0; i < initial.length; i++) store = addKey(store, initial[i] as K);
  return store;
}

export function keyCount<K>(store: KeyStore<K>): number {
  if (store === undefined) return 0;
  return store instanceof Set ? store.size : store.length;
}

export function hasKey<K>(store: KeyStore<K>, key: K): boolean {
  if (store === undefined) return false;
  if (store instanceof Set) return store.has(key);
  for (let i = 0; i < store.length; i++) if (store[i] === key) return true;
  return false;
}

/** `store` with `key` added. */
export function addKey<K>(store: KeyStore<K>, key: K): KeyStore<K> {
  // A literal: exactly one slot (a push onto [] would reserve sixteen).
  if (store === undefined) return [key];
  if (store instanceof Set) return store.add(key);
  if (hasKey(store, key)) return store;
  if (store.length >= SMALL_SET_LIMIT) {
    const set = new Set(store);
    set.add(key);
    return set;
  }
  if (store.length === 1) return [store[0] as K, key];
  store.push(key);
  return store;
}

/** Removes `key` from `store` in place; returns whether it was there. */
export function deleteKey<K>(store: KeyStore<K>, key: K): boolean {
  if (store === undefined) return false;
  if (store instanceof Set) return store.delete(key);
  const i = store.indexOf(key);
  if (i < 0) return false;
  for (let j = i + 1; j < store.length; j++) store[j - 1] = store[j] as K;
  store.length--;
  return true;
}

/**
 * The keys in insertion order, as an array to walk by index (no iterator object): the store itself while
 * small (do not change it while walking it), a copy once it is a Set.
 */
export function keyList<K>(store: KeyStore<K>): readonly K[] {
  if (store === undefined) return EMPTY;
  return store instanceof Set ? [...store] : store;
}

/** The one shared empty list: logs, key lists and step actions start as it (never changed). */
export const EMPTY: readonly never[] = Object.freeze([]);

/**
 * `list` with `item` appended. The first item makes a one-slot array (a push onto an empty array reserves
 * sixteen) and the second a two-slot one: most dials log one or two answers and one attempt.
 */
export function append<T>(list: T[] | undefined, item: T): T[] {
  if (list === undefined || list.length === 0) return [item];
  if (list.length === 1) return [list[0] as T, item];
  list.push(item);
  return list;
}
