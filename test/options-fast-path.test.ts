/**
 * A dial whose options set nothing reuses the Dialer's frozen defaults (issue 16: a per-dial options
 * object with no keys costs ~nothing) — while the bag is still read strictly.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readDialerOptions, resolveOptions } from '../src/options.js';

describe('per-dial options that set nothing', () => {
  const base = readDialerOptions({ timeout: 5000, attemptDelay: 100, family: 4, keepAlive: true }).defaults;

  test('{} and a null-prototype {} are the Dialer defaults themselves (no copy built)', () => {
    assert.equal(resolveOptions({}, base), base);
    assert.equal(resolveOptions(Object.create(null), base), base);
    assert.equal(resolveOptions(undefined, base), base);
  });

  test('the copy the general path builds from a bag with only undefined values equals the defaults', () => {
    // The fast path is only sound while this holds: nothing in a config comes from the bag when it sets nothing.
    assert.deepEqual({ ...resolveOptions({ timeout: undefined, tls: undefined }, base) }, { ...base });
    assert.notEqual(resolveOptions({ timeout: undefined }, base), base);
  });

  test('the bag is still read strictly: unknown names and inherited options are refused', () => {
    assert.throws(() => resolveOptions({ timeuot: 1 }, base), { code: 'ERR_NETDIAL_INVALID_OPTION' });
    assert.throws(() => resolveOptions(Object.create({ timeout: 1 }), base), {
      code: 'ERR_NETDIAL_INVALID_OPTION',
    });
    assert.throws(() => resolveOptions([], base), { code: 'ERR_NETDIAL_INVALID_OPTION' });
  });

  test('an option that is set still changes the dial', () => {
    const cfg = resolveOptions({ timeout: 1234 }, base);
    assert.equal(cfg.timeoutMs, 1234);
    assert.equal(cfg.attemptDelayMs, 100);
  });
});
