/**
 * The address policy against DNS rebinding, in the lab: a name answers a harmless address to whoever
 * checks it, then 127.0.0.1 to the dial. netdial checks every address it actually dials, after
 * resolution, so the second answer is refused; a resolve-then-check wrapper would have connected.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { DEFAULT_ZONE, enterLab, LAB, withLab } from '../lab/index.js';
import { Dialer, getReport, isDialError } from '../src/index.js';

const { good } = LAB.addresses;
/** Production-style SSRF protection, minus the documentation ranges the lab's "internet" lives in. */
const POLICY = {
  deny: ['loopback', 'private', 'linkLocal', 'uniqueLocal', 'cloudMetadata', 'unspecified', 'reserved'],
};

if (await enterLab(import.meta.url)) {
  test('DNS rebinding: checked as a public address, answered as 127.0.0.1 at dial time — refused, nothing connects', async () => {
    const zone = { ...DEFAULT_ZONE, 'rebind.lab.test': { A: [good.v4[0]], ttl: 0 } };
    await withLab(zone, async (lab) => {
      let accepted = 0;
      const inside = net.createServer((s) => {
        accepted++;
        s.resume();
      });
      inside.listen(LAB.ports.http, '127.0.0.1');
      await once(inside, 'listening');
      try {
        const dialer = new Dialer({
          resolver: 'dns',
          policy: POLICY,
          memory: false,
          redactDeniedAddresses: false,
        });
        const checked = await dialer.resolve('rebind.lab.test');
        assert.deepEqual(
          checked.addresses.map((a) => a.address),
          [good.v4[0]],
          'the check sees a harmless address',
        );
        lab.dns.update('rebind.lab.test', { A: ['127.0.0.1'], ttl: 0 });
        const err = await dialer.dial(`rebind.lab.test:${LAB.ports.http}`).catch((e: unknown) => e);
        assert.ok(isDialError(err), `expected a DialError, got ${err}`);
        assert.equal(err.code, 'ERR_NETDIAL_DENIED');
        assert.deepEqual(
          err.attempts.filter((a) => a.phase !== 'dns').map((a) => [a.address, a.phase]),
          [['127.0.0.1', 'policy']],
        );
        assert.equal(accepted, 0, 'no connection reached the loopback listener');
        // What a resolve-then-connect wrapper does: the second lookup's answer is dialled unchecked
        // (looked up with a Dialer without a policy: a dial's `policy` can only narrow its Dialer's).
        const unchecked = new Dialer({ resolver: 'dns', memory: false });
        const naive = net.connect(
          LAB.ports.http,
          (await unchecked.resolve('rebind.lab.test')).addresses[0]!.address,
        );
        await once(naive, 'connect');
        naive.destroy();
        for (let i = 0; i < 50 && accepted === 0; i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(accepted, 1, 'the naive path did reach it');
      } finally {
        inside.close();
      }
    });
  });

  test('the same policy lets a name with harmless addresses connect as usual', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const dialer = new Dialer({ resolver: 'dns', policy: POLICY, memory: false });
      const s = await dialer.dial(`first-a-blackholed.lab.test:${LAB.ports.discard}`);
      assert.equal(getReport(s)!.winner?.address, good.v4[1]);
      s.destroy();
    });
  });
}
