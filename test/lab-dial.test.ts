/**
 * dial() in the network lab: real routes, real TCP, a real DNS server. Each scenario is a name in the
 * lab zone; the tests assert structure — which address won, which attempts ran in which order and why,
 * error codes, DNS queries — with time bounds loose for a noisy 2-core machine but tight enough to fail
 * a wrong algorithm (e.g. one that waits for AAAA, or tries addresses one by one).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { DEFAULT_ZONE, enterLab, LAB, withLab } from '../lab/index.js';
import { Dialer, type DialerOptions, type DialReport, getReport, isAbortError } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { failure } from './support/dial-failure.js';

const { good, refused, blackholed, unreachable, clientUnreachable } = LAB.addresses;
const PORT = LAB.ports.discard;

/** A Dialer without memory: every dial starts from nothing and keeps DNS order among equal addresses. */
function fresh(options: DialerOptions = {}): Dialer {
  return new Dialer({ memory: false, resolver: 'dns', ...options });
}

async function dialReport(dialer: Dialer, target: string): Promise<{ report: DialReport; ms: number }> {
  const started = performance.now();
  const socket = await dialer.dial(target);
  const ms = performance.now() - started;
  const report = getReport(socket)!;
  socket.destroy();
  return { report, ms };
}

function attemptsOf(report: DialReport): Array<[string, string, string]> {
  return report.attempts.map((a) => [a.address, a.outcome, a.trigger]);
}

if (await enterLab(import.meta.url)) {
  test('one good address per family: IPv6 first, connected at once, one query per type', async () => {
    await withLab(DEFAULT_ZONE, async (lab) => {
      const baseline = activeResources();
      const { report } = await dialReport(fresh(), `one-good.lab.test:${PORT}`);
      assert.deepEqual(attemptsOf(report), [[good.v6[0], 'connected', 'first']]);
      assert.equal(lab.dns.queryCount('one-good.lab.test', 'A'), 1);
      assert.equal(lab.dns.queryCount('one-good.lab.test', 'AAAA'), 1);
      await assertNoLeaks(baseline);
    });
  });

  test('first A blackholed, second good: the second starts after the attempt delay and wins; the first is cancelled', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const baseline = activeResources();
      const { report, ms } = await dialReport(fresh(), `first-a-blackholed.lab.test:${PORT}`);
      assert.deepEqual(attemptsOf(report), [
        [blackholed.v4[0], 'cancelled', 'first'],
        [good.v4[1], 'connected', 'delay'],
      ]);
      const second = report.attempts[1]!;
      assert.ok(second.startMs >= 240 && second.startMs < 600, `second attempt at ${second.startMs} ms`);
      assert.ok(ms < 1500, `took ${ms} ms`);
      await assertNoLeaks(baseline);
    });
  });

  test('all AAAA blackholed, A good: IPv4 wins one attempt delay later', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const { report, ms } = await dialReport(fresh(), `aaaa-blackholed.lab.test:${PORT}`);
      assert.deepEqual(attemptsOf(report), [
        [blackholed.v6[0], 'cancelled', 'first'],
        [good.v4[0], 'connected', 'delay'],
      ]);
      assert.ok(ms < 1500, `took ${ms} ms`);
    });
  });

  test('AAAA answer 1 s late, both good: connects over IPv4 after the Resolution Delay, long before AAAA arrives', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const { report, ms } = await dialReport(fresh(), `aaaa-slow.lab.test:${PORT}`);
      assert.deepEqual(attemptsOf(report), [[good.v4[0], 'connected', 'first']]);
      assert.ok(report.attempts[0]!.startMs >= 45, 'waited the 50 ms Resolution Delay for AAAA');
      assert.ok(ms < 700, `took ${ms} ms; the AAAA answer takes 1000 ms`);
    });
  });

  test('eight A records mixing blackholed, refused and good: a refusal starts the next attempt at once, past the silent network', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const { report, ms } = await dialReport(fresh(), `mixed-eight.lab.test:${PORT}`);
      const eight = DEFAULT_ZONE['mixed-eight.lab.test']!.A!;
      // DNS order (no memory, no load sharing): blackholed (0 ms), refused (250 ms, RST at once) → the next
      // in order is blackholed too, in the network still silent: passed over for the good one, which wins.
      assert.deepEqual(attemptsOf(report), [
        [eight[0]!, 'cancelled', 'first'],
        [eight[1]!, 'failed', 'delay'],
        [eight[3]!, 'connected', 'failure'],
      ]);
      assert.equal(report.attempts[1]!.code, 'ECONNREFUSED');
      assert.deepEqual(report.attempts[2]!.passedOver, [eight[2]!]);
      assert.ok(
        report.attempts[2]!.startMs < 450,
        `the good one started at ${report.attempts[2]!.startMs} ms`,
      );
      assert.ok(ms < 2000, `took ${ms} ms`);
    });
  });

  test('everything blackholed: fails within the timeout with every attempt listed', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const baseline = activeResources();
      const started = performance.now();
      const err = await failure(fresh({ timeout: 1500 }).dial(`all-blackholed.lab.test:${PORT}`));
      const ms = performance.now() - started;
      assert.equal(err.code, 'ETIMEDOUT');
      assert.deepEqual(
        err.attempts.map((a) => [a.address, a.phase, a.code]),
        [
          [blackholed.v6[0], 'tcp', 'ETIMEDOUT'],
          [blackholed.v4[0], 'tcp', 'ETIMEDOUT'],
        ],
      );
      assert.ok(ms >= 1400 && ms < 2500, `failed after ${ms} ms`);
      assert.match(err.message, /timed out after 1\.\d s/);
      await assertNoLeaks(baseline);
    });
  });

  test('AAAA ::1 refused + A 127.0.0.1 good (the localhost case): IPv4 right after the refusal', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const server = net.createServer((s) => s.resume());
      server.listen(8080, '127.0.0.1');
      await once(server, 'listening');
      try {
        const { report } = await dialReport(fresh(), 'localhost-like.lab.test:8080');
        assert.deepEqual(attemptsOf(report), [
          ['::1', 'failed', 'first'],
          ['127.0.0.1', 'connected', 'failure'],
        ]);
      } finally {
        server.close();
      }
    });
  });

  test('AAAA on a route the router reports unreachable, A good: IPv4 wins by the attempt delay', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const { report, ms } = await dialReport(fresh(), `aaaa-unreachable.lab.test:${PORT}`);
      assert.equal(report.attempts[0]!.address, unreachable.v6[0]);
      assert.deepEqual(report.winner?.address, good.v4[0]);
      assert.ok(ms < 1500, `took ${ms} ms`);
    });
  });

  test('AAAA on a route unreachable at the client: immediate failure, IPv4 at once', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const { report, ms } = await dialReport(fresh(), `aaaa-client-unreachable.lab.test:${PORT}`);
      assert.deepEqual(
        report.attempts.map((a) => [a.address, a.outcome]),
        [
          [clientUnreachable.v6[0], 'failed'],
          [good.v4[0], 'connected'],
        ],
      );
      // IPv4 starts at once: on the failure if the A answer is in, else on the A answer's arrival.
      assert.ok(['failure', 'answer'].includes(report.attempts[1]!.trigger));
      assert.match(report.attempts[0]!.code ?? '', /^E(HOST|NET)UNREACH$/);
      assert.ok(ms < 200, `took ${ms} ms`);
    });
  });

  test('first A refused: the second address right after the RST', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const { report, ms } = await dialReport(fresh(), `first-a-refused.lab.test:${PORT}`);
      assert.deepEqual(attemptsOf(report), [
        [refused.v4[0], 'failed', 'first'],
        [good.v4[1], 'connected', 'failure'],
      ]);
      assert.ok(ms < 200, `took ${ms} ms`);
    });
  });

  test('NXDOMAIN: ENOTFOUND, no connection attempted', async () => {
    await withLab(DEFAULT_ZONE, async (lab) => {
      const err = await failure(fresh().dial(`nope.lab.test.:${PORT}`));
      assert.equal(err.code, 'ENOTFOUND');
      assert.ok(err.attempts.every((a) => a.phase === 'dns'));
      assert.equal(lab.dns.queryCount('nope.lab.test'), 2);
      assert.equal((await lab.serverConnections()).length, 0);
    });
  });

  test('SERVFAIL on AAAA only: connects over IPv4; the report keeps the AAAA error', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const { report } = await dialReport(fresh(), `servfail-aaaa.lab.test:${PORT}`);
      assert.deepEqual(attemptsOf(report), [[good.v4[0], 'connected', 'first']]);
      const aaaa = report.resolution.queries.find((q) => q.type === 'AAAA');
      assert.equal(aaaa?.code, 'ESERVFAIL');
    });
  });

  test('truncated answer: retried over TCP, then connects', async () => {
    await withLab(DEFAULT_ZONE, async (lab) => {
      const { report } = await dialReport(fresh(), `truncated.lab.test:${PORT}`);
      assert.equal(report.winner?.address, good.v6[0]);
      const transports = lab.dns.queries
        .filter((q) => q.name === 'truncated.lab.test')
        .map((q) => q.transport);
      assert.ok(transports.includes('udp') && transports.includes('tcp'), `transports: ${transports}`);
    });
  });

  test('short name completed through the resolv.conf search list', async () => {
    await withLab(DEFAULT_ZONE, async (lab) => {
      const { report } = await dialReport(fresh(), `short:${PORT}`);
      assert.equal(report.winner?.address, good.v6[0]);
      assert.ok(report.resolution.queries.every((q) => q.name === 'short.lab.test'));
      assert.ok(lab.dns.queryCount('short.lab.test') >= 1);
      assert.equal(
        lab.dns.queryCount('short'),
        0,
        'ndots 1: a dotless name goes through the search list first',
      );
    });
  });

  test('abort during the race (blackholed attempts in flight): AbortError, nothing left behind', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const baseline = activeResources();
      const controller = new AbortController();
      const dialing = fresh().dial(`all-blackholed.lab.test:${PORT}`, { signal: controller.signal });
      setTimeout(() => controller.abort(), 400);
      const err = await dialing.catch((e: unknown) => e);
      assert.ok(isAbortError(err));
      await assertNoLeaks(baseline);
    });
  });

  test('with memory: the second dial skips the blackholed first address and connects in about one round trip', async () => {
    await withLab(DEFAULT_ZONE, async (lab) => {
      // DNS order (no load-sharing shuffle), so the first dial meets the blackholed address first.
      const dialer = new Dialer({ resolver: 'dns', memory: { exploreProbability: 0, loadSharing: false } });
      const first = await dialReport(dialer, `first-a-blackholed.lab.test:${PORT}`);
      assert.deepEqual(attemptsOf(first.report), [
        [blackholed.v4[0], 'cancelled', 'first'],
        [good.v4[1], 'connected', 'delay'],
      ]);
      lab.dns.resetLog();
      const second = await dialReport(dialer, `first-a-blackholed.lab.test:${PORT}`);
      assert.deepEqual(attemptsOf(second.report), [[good.v4[1], 'connected', 'first']]);
      assert.deepEqual(second.report.decisions.demoted, [blackholed.v4[0]]);
      assert.equal(lab.dns.queryCount(), 0, 'answers came from the cache');
      assert.ok(second.ms < 150, `second dial took ${second.ms} ms`);
    });
  });

  test('with memory: the DNS server stops after a first dial, the next dial still connects', async () => {
    await withLab(DEFAULT_ZONE, async (lab) => {
      const dialer = new Dialer({ resolver: 'dns' });
      await dialReport(dialer, `short-ttl.lab.test:${PORT}`);
      await new Promise((r) => setTimeout(r, 1100));
      await lab.dns.stop();
      const { report } = await dialReport(dialer, `short-ttl.lab.test:${PORT}`);
      assert.equal(report.winner?.address, good.v6[0]);
      // The winning address came from a stale answer: the server is gone.
      const staleAnswers = report.resolution.queries.filter((q) => q.source === 'stale');
      assert.ok(
        staleAnswers.some((q) => q.addresses?.some((x) => x.address === good.v6[0])),
        JSON.stringify(report.resolution.queries),
      );
    });
  });

  test('with memory: eight A records, three good — 300 dials spread over the good ones; dead ones demoted after one failure', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const dialer = new Dialer({ resolver: 'dns', memory: { seed: 6724 } });
      const eight = DEFAULT_ZONE['mixed-eight.lab.test']!.A!;
      const goodOnes = eight.filter((a) => (good.v4 as readonly string[]).includes(a));
      const wins = new Map<string, number>();
      const failedTries = new Map<string, number>();
      for (let i = 0; i < 300; i++) {
        const { report } = await dialReport(dialer, `mixed-eight.lab.test:${PORT}`);
        wins.set(report.winner!.address, (wins.get(report.winner!.address) ?? 0) + 1);
        for (const a of report.attempts) {
          if (a.outcome !== 'connected') failedTries.set(a.address, (failedTries.get(a.address) ?? 0) + 1);
        }
      }
      assert.equal(goodOnes.length, 3);
      for (const g of goodOnes)
        assert.ok((wins.get(g) ?? 0) >= 75, `${g} won ${wins.get(g)}: ${JSON.stringify([...wins])}`);
      // Every dead address is tried once, then only by exploration (1 dial in 20) or when its backoff ends.
      const deadTries = [...failedTries.values()].reduce((a, b) => a + b, 0);
      assert.ok(deadTries <= 5 + 300 / 20 + 10, `dead addresses were tried ${deadTries} times`);
    });
  });

  test("with memory: a change of the host's interfaces forgets reachability history, DNS answers stay", async () => {
    await withLab(DEFAULT_ZONE, async (lab) => {
      const dialer = new Dialer({
        resolver: 'dns',
        memory: { exploreProbability: 0, loadSharing: false },
        networkCheckIntervalMs: 0,
      });
      const now = () => performance.now();
      await dialReport(dialer, `first-a-blackholed.lab.test:${PORT}`); // DNS order: meets the blackholed one first
      assert.equal(dialer.memory?.endpoints.isDemoted(blackholed.v4[0], PORT, now()), true);
      const added = await lab.exec('ip', ['addr', 'add', '198.18.0.200/32', 'dev', 'lo']);
      assert.equal(added.code, 0, added.stderr);
      lab.dns.resetLog();
      const { report } = await dialReport(dialer, `first-a-blackholed.lab.test:${PORT}`);
      assert.deepEqual(report.decisions.demoted, [], 'history was forgotten');
      assert.equal(report.attempts[0]?.address, blackholed.v4[0], 'DNS order again, as on a new network');
      assert.equal(lab.dns.queryCount(), 0, 'DNS answers were kept');
    });
  });
}
