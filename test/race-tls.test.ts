/**
 * The race core with TLS on a virtual clock: an attempt whose TCP connected is "securing" — it does not win
 * until its handshake is done, the RFC 8305 stagger goes on meanwhile, a network failure in the handshake
 * is that attempt's failure, a certificate failure ends the race. And which handshake errors are final.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RaceConfig } from '../src/race/race.js';
import { isFinalTlsFailure } from '../src/race/tls-failure.js';
import { RaceDriver as Driver, interleave, raceConfig, v4, v6 } from './support/race-driver.js';

const config = (over: Partial<RaceConfig> = {}): RaceConfig => raceConfig(interleave, over);

describe('securing: a TCP connection does not win before its TLS handshake', () => {
  test('an attempt stalled in TLS does not hold back the stagger; a later one that finishes TLS wins', () => {
    const d = new Driver(config());
    d.at(0, (r, n) => r.answer(6, [v6(1)], n));
    d.at(1, (r, n) => r.answer(4, [v4(1)], n));
    d.at(20, (r, n) => r.attemptSecuring(0, n)); // TCP up after 20 ms, then the handshake stalls
    assert.equal(d.race.done, false);
    assert.equal(d.wakeAt, 250, 'the next attempt is still due one attempt delay after the first started');
    d.at(300, (r, n) => r.attemptSecuring(1, n));
    d.at(330, (r, n) => r.attemptConnected(1, n));
    assert.deepEqual(d.log, [
      '0 start #0 2001:db8::1',
      '250 start #1 203.0.113.1',
      '330 cancel #0',
      '330 won #1',
    ]);
    const [first, second] = d.race.attempts;
    assert.equal(first?.securingMs, 20);
    assert.equal(first?.outcome, 'cancelled');
    assert.equal(second?.trigger, 'delay');
    assert.equal(second?.securingMs, 300);
    assert.equal(second?.endMs, 330);
    assert.equal(second?.outcome, 'connected');
  });

  test('securing keeps its slot: with one attempt at a time nothing else starts while it handshakes', () => {
    const d = new Driver(config({ maxConcurrentAttempts: 1 }));
    d.at(0, (r, n) => r.answer(6, [v6(1), v6(2)], n));
    d.at(0, (r, n) => r.answer(4, [], n));
    d.at(10, (r, n) => r.attemptSecuring(0, n));
    d.advanceTo(2000);
    assert.deepEqual(d.log, ['0 start #0 2001:db8::1']);
  });

  test('a handshake failing for a network reason (reset) starts the next attempt at once', () => {
    const d = new Driver(config());
    d.at(0, (r, n) => r.answer(6, [v6(1)], n));
    d.at(1, (r, n) => r.answer(4, [v4(1)], n));
    d.at(15, (r, n) => r.attemptSecuring(0, n));
    d.at(40, (r, n) => r.attemptFailed(0, 'ECONNRESET', n));
    d.at(60, (r, n) => r.attemptSecuring(1, n));
    d.at(70, (r, n) => r.attemptConnected(1, n));
    assert.deepEqual(d.log, ['0 start #0 2001:db8::1', '40 start #1 203.0.113.1', '70 won #1']);
    assert.equal(d.race.attempts[0]?.code, 'ECONNRESET');
    assert.equal(d.race.attempts[1]?.trigger, 'failure');
  });

  test('every handshake failing leaves the race exhausted, like TCP failures', () => {
    const d = new Driver(config());
    d.at(0, (r, n) => r.answer(6, [v6(1)], n));
    d.at(1, (r, n) => r.answer(4, [v4(1)], n));
    d.at(10, (r, n) => r.attemptSecuring(0, n));
    d.at(20, (r, n) => r.attemptFailed(0, 'ECONNRESET', n));
    d.at(30, (r, n) => r.attemptSecuring(1, n));
    d.at(35, (r, n) => r.attemptFailed(1, 'ECONNRESET', n));
    assert.deepEqual(d.log.slice(-1), ['35 fail exhausted']);
  });

  test('a final failure (certificate) cancels the others and ends the race; nothing more starts', () => {
    const d = new Driver(config());
    d.at(0, (r, n) => r.answer(6, [v6(1), v6(2)], n));
    d.at(1, (r, n) => r.answer(4, [v4(1), v4(2)], n));
    d.advanceTo(260); // #0 and #1 in flight, two addresses untried
    d.at(270, (r, n) => r.attemptSecuring(1, n));
    d.at(280, (r, n) => r.attemptFailedFinal(1, 'ERR_TLS_CERT_ALTNAME_INVALID', n));
    assert.deepEqual(d.log, [
      '0 start #0 2001:db8::1',
      '250 start #1 203.0.113.1',
      '280 cancel #0',
      '280 fail final',
    ]);
    assert.equal(d.wakeAt, undefined);
    assert.equal(d.race.attempts[1]?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal(d.race.attempts[1]?.outcome, 'failed');
    assert.equal(d.race.attempts[0]?.outcome, 'cancelled');
    // Late events change nothing.
    d.at(300, (r, n) => r.attemptConnected(0, n));
    d.advanceTo(2000);
    assert.equal(d.log.length, 4);
  });

  test('a handshake still running at the deadline times out with the other attempts', () => {
    const d = new Driver(config({ deadlineMs: 1000 }));
    d.at(0, (r, n) => r.answer(6, [v6(1)], n));
    d.at(0, (r, n) => r.answer(4, [], n));
    d.at(10, (r, n) => r.attemptSecuring(0, n));
    d.advanceTo(1000);
    assert.deepEqual(d.log, ['0 start #0 2001:db8::1', '1000 cancel #0', '1000 fail timeout']);
    assert.equal(d.race.attempts[0]?.outcome, 'timeout');
    assert.equal(d.race.attempts[0]?.securingMs, 10);
  });

  test('securing is noted once, and only for an attempt still pending', () => {
    const d = new Driver(config());
    d.at(0, (r, n) => r.answer(6, [v6(1)], n));
    d.at(0, (r, n) => r.answer(4, [v4(1)], n));
    d.at(10, (r, n) => r.attemptSecuring(0, n));
    d.at(20, (r, n) => r.attemptSecuring(0, n));
    assert.equal(d.race.attempts[0]?.securingMs, 10);
    d.at(30, (r, n) => r.attemptFailed(0, 'ECONNRESET', n));
    d.at(40, (r, n) => r.attemptSecuring(0, n));
    d.at(40, (r, n) => r.attemptSecuring(7, n));
    assert.equal(d.race.attempts[0]?.securingMs, 10);
    assert.equal(d.race.attempts[0]?.outcome, 'failed');
  });
});

describe('which handshake failures are final', () => {
  test('certificate verification and TLS settings: final', () => {
    for (const code of [
      'ERR_TLS_CERT_ALTNAME_INVALID',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'CERT_HAS_EXPIRED',
      'CERT_NOT_YET_VALID',
      'HOSTNAME_MISMATCH',
      'ERR_TLS_INVALID_PROTOCOL_VERSION',
    ]) {
      assert.equal(isFinalTlsFailure(code), true, code);
    }
  });

  test('network failures and one server’s TLS alerts: the attempt’s failure only', () => {
    for (const code of [
      'ECONNRESET',
      'EPIPE',
      'ETIMEDOUT',
      'ERR_TLS_HANDSHAKE_TIMEOUT',
      'ERR_SSL_WRONG_VERSION_NUMBER',
      'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
      'EIO',
    ]) {
      assert.equal(isFinalTlsFailure(code), false, code);
    }
  });
});
