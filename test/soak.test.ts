/**
 * The soak in `npm test`: a short run of soak/run.ts in the lab (1500 dials over 300 names, 32 in
 * flight, 2 s timeout, random faults, seeded). Every dial must connect to a reachable address served for
 * its name or fail with a DialError listing its attempts (AbortError only when aborted), within the
 * timeout; descriptors, handles and server-side connections must return to baseline. RSS growth after
 * warm-up is printed, not asserted (the long `npm run soak` reports it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enterLab, withLab } from '../lab/index.js';
import { renderSoakReport, runSoak, SOAK_LAB_OPTIONS, TEST_SOAK } from '../soak/run.js';

if (await enterLab(import.meta.url)) {
  const stray: unknown[] = [];
  const onStray = (e: unknown): void => {
    stray.push(e);
  };
  process.on('unhandledRejection', onStray);
  process.on('uncaughtException', onStray);

  test('soak: 1500 dials under random faults, every outcome accounted for, nothing leaked', {
    timeout: 90_000,
  }, async () => {
    const result = await withLab({}, (lab) => runSoak(lab, TEST_SOAK), SOAK_LAB_OPTIONS);
    process.off('unhandledRejection', onStray);
    process.off('uncaughtException', onStray);
    const report = renderSoakReport(result);
    console.log(report);
    assert.equal(result.dials, TEST_SOAK.dials, 'every dial ran within the time bound');
    assert.ok(result.durationMs < 60_000, `took ${result.durationMs} ms`);
    assert.deepEqual(result.violations, [], `${result.violationCount} violations`);
    assert.deepEqual(
      stray.map((e) => String(e)),
      [],
      'no unhandled rejection or uncaught exception',
    );
    // The run exercised what it claims to.
    assert.ok(result.connected > result.dials * 0.3, `${result.connected} connected`);
    assert.ok(result.dialErrors > result.dials * 0.1, `${result.dialErrors} DialErrors`);
    assert.ok(result.abortErrors > 0, 'some dials were aborted');
    assert.ok(result.goodChecked >= 50, `${result.goodChecked} good-name dials checked`);
    assert.ok(
      (result.faults.zoneChange ?? 0) > 0 &&
        (result.faults.dnsSilent ?? 0) + (result.faults.dnsClosed ?? 0) > 0,
    );
    assert.ok(result.fds.after <= result.fds.baseline);
    assert.equal(result.serverConnectionsOpenAfter, 0);
  });
}
