/**
 * fetch through netdial in the lab: a name whose first address is blackholed answers in about one
 * attempt delay through netdial's dispatcher; Node's own fetch is timed alongside for comparison.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_ZONE, enterLab, LAB, withLab } from '../lab/index.js';
import { Dialer, isDialError } from '../src/index.js';
import { createDispatcher, installGlobalDispatcher } from '../src/undici.js';

const URL_BLACKHOLED = `http://first-a-blackholed.lab.test:${LAB.ports.http}/`;

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

if (await enterLab(import.meta.url)) {
  test('fetch through the netdial dispatcher: first A blackholed answers in about one attempt delay', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const dialer = new Dialer({ resolver: 'dns', memory: false });
      const installed = installGlobalDispatcher({ dialer });
      let netdial: { value: string; ms: number };
      try {
        netdial = await timed(async () => (await fetch(URL_BLACKHOLED)).text());
      } finally {
        await installed.restore();
      }
      assert.equal(netdial.value.trim(), LAB.addresses.good.v4[1]);
      assert.ok(netdial.ms >= 240 && netdial.ms < 1500, `netdial's fetch took ${netdial.ms} ms`);
      // Node's own fetch (its bundled undici, dns.lookup, autoSelectFamily) for comparison.
      const plain = await timed(async () =>
        fetch(URL_BLACKHOLED, { signal: AbortSignal.timeout(5000) }).then(
          (r) => r.text(),
          (e: unknown) => `failed: ${(e as Error).name}`,
        ),
      );
      console.log(
        `# fetch ${URL_BLACKHOLED}: netdial ${netdial.ms.toFixed(0)} ms; Node's default fetch ${plain.ms.toFixed(0)} ms (${plain.value.trim()})`,
      );
    });
  });

  test('the undici connector enforces the address policy', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const dispatcher = createDispatcher({
        dialer: new Dialer({ resolver: 'dns', memory: false }),
        policy: 'public',
      });
      try {
        const err = await fetch(URL_BLACKHOLED, { dispatcher } as unknown as RequestInit).catch(
          (e: unknown) => e,
        );
        const cause = (err as { cause?: unknown }).cause;
        assert.ok(isDialError(cause), `expected a DialError as cause, got ${String(cause)}`);
        assert.equal(cause.code, 'ERR_NETDIAL_DENIED');
      } finally {
        await dispatcher.close();
      }
    });
  });
}
