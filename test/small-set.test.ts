/**
 * The race's key sets (src/race/small-set.ts): an array while small, a Set past the limit, insertion order
 * kept either way — the race's answer and attempt logs depend on that order.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addKey,
  deleteKey,
  hasKey,
  type KeyStore,
  keyCount,
  keyList,
  keysOf,
  SMALL_SET_LIMIT,
} from '../src/race/small-set.js';

describe('small key sets', () => {
  test('while small (an array): adds, repeats and deletes from the middle keep Set order', () => {
    let store: KeyStore<string>;
    const reference = new Set<string>();
    for (let i = 0; i < 120; i++) {
      const key = `k${(i * 5) % 7}`; // at most 7 keys: it stays an array
      if (i % 3 === 2) {
        assert.equal(deleteKey(store, key), reference.delete(key), `delete ${key} at ${i}`);
      } else {
        store = addKey(store, key);
        reference.add(key);
      }
      assert.ok(store === undefined || Array.isArray(store), 'an array');
      assert.equal(keyCount(store), reference.size, `size at ${i}`);
      assert.deepEqual([...keyList(store)], [...reference], `order at ${i}`);
    }
  });

  test('behave as a Set through the switch to one, in insertion order (against a real Set)', () => {
    let store: KeyStore<string>;
    const reference = new Set<string>();
    // A deterministic mix of adds (some repeated) and deletes, past the limit and back.
    for (let i = 0; i < 200; i++) {
      const key = `k${(i * 7) % 23}`;
      if (i % 5 === 4) {
        assert.equal(deleteKey(store, key), reference.delete(key), `delete ${key} at ${i}`);
      } else {
        store = addKey(store, key);
        reference.add(key);
      }
      assert.equal(keyCount(store), reference.size, `size at ${i}`);
      assert.deepEqual([...keyList(store)], [...reference], `order at ${i}`);
      for (const k of ['k0', 'k5', 'k22', 'absent']) assert.equal(hasKey(store, k), reference.has(k));
    }
    assert.ok(store instanceof Set, 'past the limit it is a Set');
  });

  test('stay a plain array up to the limit; a copy of the initial keys, duplicates dropped', () => {
    const families = [6, 4];
    const store = keysOf(families);
    assert.ok(Array.isArray(store));
    assert.notEqual(store, families, 'a copy: the configured list is never changed');
    deleteKey(store, 6);
    assert.deepEqual(families, [6, 4]);
    assert.deepEqual(keyList(keysOf(['a', 'b', 'a'])), ['a', 'b']);
    let small: KeyStore<number>;
    for (let i = 0; i < SMALL_SET_LIMIT; i++) small = addKey(small, i);
    assert.ok(Array.isArray(small), `${SMALL_SET_LIMIT} keys: still an array`);
    small = addKey(small, SMALL_SET_LIMIT);
    assert.ok(small instanceof Set, 'one more: a Set');
    assert.equal(keyCount(undefined), 0);
    assert.equal(deleteKey(undefined, 1), false);
    assert.deepEqual(keyList(undefined), []);
  });
});
