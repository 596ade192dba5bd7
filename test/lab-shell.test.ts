/**
 * The dial shell in the lab, where "slow" is a real path: the lab's delay line adds ~400 ms to every
 * round trip to a `slow` address. RFC 8305 §5: starting the next attempt does not stop the earlier ones,
 * so a slow-but-alive first address must still win over a dead (blackholed) second one — at its own
 * round-trip time, in well under a second, not at the timeout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enterLab, LAB, withLab } from '../lab/index.js';
import { Dialer, getReport } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { closeSocket } from './support/servers.js';

const { slow, blackholed } = LAB.addresses;
const PORT = LAB.ports.discard;
const NAME = 'slow-then-dead.lab.test';

if (await enterLab(import.meta.url)) {
  test('a slow first address (400 ms RTT, attempt delay 250 ms) still wins over a blackholed second one', async () => {
    await withLab(
      { [NAME]: { A: [slow.v4[0], blackholed.v4[0]] } },
      async (lab) => {
        assert.equal(lab.slowPathDelayMs, 400);
        const baseline = activeResources();
        const dialer = new Dialer({ memory: false, resolver: 'dns', attemptDelay: 250, timeout: 5000 });
        const started = performance.now();
        const socket = await dialer.dial(`${NAME}:${PORT}`);
        const ms = performance.now() - started;
        try {
          const report = getReport(socket)!;
          assert.deepEqual(
            report.attempts.map((a) => [a.address, a.outcome, a.trigger]),
            [
              [slow.v4[0], 'connected', 'first'],
              [blackholed.v4[0], 'cancelled', 'delay'],
            ],
          );
          const [first, second] = report.attempts;
          // The second attempt started while the first was still waiting for its SYN-ACK, and the first
          // connected after that, about one slow round trip after it began.
          assert.ok(second!.startMs >= 240 && second!.startMs < first!.endMs!);
          assert.ok(
            first!.endMs! - first!.startMs >= 380,
            `first attempt took ${first!.endMs! - first!.startMs} ms`,
          );
          assert.ok(ms < 1000, `took ${ms} ms; the timeout is 5 s`);
        } finally {
          await closeSocket(socket);
        }
        await assertNoLeaks(baseline);
      },
      { slowPathDelayMs: 400 },
    );
  });
}
