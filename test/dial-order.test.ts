/**
 * DialOrder's decisions for an order of one address or none (the hot path): kept as two facts and spelt out
 * only when asked, they must read exactly as the decisions made on the spot did — the report shows them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DialMemory } from '../src/memory/dial-memory.js';
import { DialOrder, type OrderCandidate } from '../src/race/order.js';

const T0 = 1_000_000;
const one = (address: string): OrderCandidate => ({ address, family: 4, precedence: 35 });

describe('DialOrder decisions for one address or none', () => {
  test('before any order: nothing decided, no `first`', () => {
    const order = new DialOrder(undefined, 'one.test', 443, 1);
    assert.deepEqual(order.decisions, { demoted: [], suspected: [], explored: undefined, shuffled: false });
    assert.equal('first' in order.decisions, false);
  });

  test('a lone address history holds back is first as a fallback, and listed as demoted', () => {
    const memory = new DialMemory();
    memory.endpoints.recordFailure('192.0.2.1', 443, 'ECONNREFUSED', T0);
    const order = new DialOrder(memory, 'one.test', 443, 1);
    assert.deepEqual(order.order([one('192.0.2.1')], T0 + 1), [one('192.0.2.1')]);
    assert.deepEqual(order.decisions, {
      demoted: ['192.0.2.1'],
      suspected: [],
      explored: undefined,
      shuffled: false,
      first: { address: '192.0.2.1', reason: 'fallback' },
    });
  });

  test('a lone address nothing holds back is first as sorted; the same object when asked again', () => {
    const order = new DialOrder(new DialMemory(), 'one.test', 443, 1);
    order.order([one('192.0.2.2')], T0);
    const decisions = order.decisions;
    assert.deepEqual(decisions, {
      demoted: [],
      suspected: [],
      explored: undefined,
      shuffled: false,
      first: { address: '192.0.2.2', reason: 'sorted' },
    });
    assert.equal(order.decisions, decisions, 'spelt out once');
  });

  test('an order of none says `first: undefined`; a later order of one replaces it', () => {
    const order = new DialOrder(undefined, 'one.test', 443, 1);
    assert.deepEqual(order.order([], T0), []);
    assert.deepEqual(order.decisions, {
      demoted: [],
      suspected: [],
      explored: undefined,
      shuffled: false,
      first: undefined,
    });
    assert.equal('first' in order.decisions, true);
    order.order([one('192.0.2.3')], T0);
    assert.deepEqual(order.decisions.first, { address: '192.0.2.3', reason: 'sorted' });
  });
});
