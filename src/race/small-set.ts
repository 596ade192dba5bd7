/**
 * A set for the race's few keys (awaited answers, addresses seen and tried): a plain array while it holds
 * at most SMALL_SET_LIMIT keys — most dials have one or two, and a Set's hash table costs more to make than
 * a linear search over so few — and a real Set past that, so a dial with many addresses stays linear.
 * Keeps insertion order, as a Set does (the race's logs depend on it).
 */
export const SMALL_SET_LIMIT = 8;

export class SmallSet<K> {
  /** The keys while few (undefined until the first one: an empty set allocates nothing). */
  #list: K[] | undefined;
  /** The keys once more than SMALL_SET_LIMIT were held (it stays a Set from then on). */
  #set: Set<K> | undefined;

  constructor(initial?: readonly K[]) {
    if (initial === undefined || initial.length === 0) return;
    if (initial.length <= SMALL_SET_LIMIT && !hasDuplicate(initial)) {
      // A copy of exactly its length (adding one by one would reserve sixteen slots on the second).
      this.#list = initial.slice();
      return;
    }
    for (const k of initial) this.add(k);
  }

  get size(): number {
    return this.#set !== undefined ? this.#set.size : (this.#list?.length ?? 0);
  }

  /** Whether the keys moved to a Set (for tests of the bound). */
  get large(): boolean {
    return this.#set !== undefined;
  }

  has(key: K): boolean {
    if (this.#set !== undefined) return this.#set.has(key);
    const list = this.#list;
    if (list === undefined) return false;
    for (let i = 0; i < list.length; i++) if (list[i] === key) return true;
    return false;
  }

  add(key: K): this {
    if (this.#set !== undefined) {
      this.#set.add(key);
      return this;
    }
    const list = this.#list;
    if (list === undefined) {
      // A literal: exactly one slot (a push onto [] would reserve 16).
      this.#list = [key];
      return this;
    }
    if (this.has(key)) return this;
    if (list.length >= SMALL_SET_LIMIT) {
      this.#set = new Set(list);
      this.#set.add(key);
      this.#list = undefined;
      return this;
    }
    list.push(key);
    return this;
  }

  /** Removes `key`; returns whether it was there. */
  delete(key: K): boolean {
    if (this.#set !== undefined) return this.#set.delete(key);
    const list = this.#list;
    if (list === undefined) return false;
    const i = list.indexOf(key);
    if (i < 0) return false;
    for (let j = i + 1; j < list.length; j++) list[j - 1] = list[j] as K;
    list.length--;
    return true;
  }

  clear(): void {
    this.#set = undefined;
    this.#list = undefined;
  }

  /**
   * The keys in insertion order, as an array to walk by index (no iterator object): the live store while
   * small (do not change the set while walking it), a copy once large.
   */
  items(): readonly K[] {
    if (this.#set !== undefined) return [...this.#set];
    return this.#list ?? EMPTY;
  }
}

const EMPTY: readonly never[] = Object.freeze([]);

function hasDuplicate<K>(list: readonly K[]): boolean {
  for (let i = 1; i < list.length; i++) for (let j = 0; j < i; j++) if (list[i] === list[j]) return true;
  return false;
}
