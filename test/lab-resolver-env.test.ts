/**
 * Environment-matrix rows of issue 11 owned by the nsswitch and NAT64 work, on real namespaces: a private
 * nsswitch.conf whose `hosts:` line has `myhostname` (bind-mounted in the lab's mount namespace, so
 * getaddrinfo reads it too), and an IPv6-only client with a NAT64 prefix.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { DEFAULT_ZONE, enterLab, LAB, withLab } from '../lab/index.js';
import { Dialer, getReport } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';

const { good } = LAB.addresses;
const PORT = LAB.ports.discard;

if (await enterLab(import.meta.url)) {
  test('nsswitch "hosts: files myhostname dns": the machine\'s own name goes to the system resolver, others to netdial', async () => {
    const hostname = os.hostname().toLowerCase();
    await withLab(
      DEFAULT_ZONE,
      async (lab) => {
        const baseline = activeResources();
        const dialer = new Dialer({ memory: false });
        // The machine's host name: only getaddrinfo can run myhostname; files (first) answers it here.
        const own = await dialer.dial(`${hostname}:${PORT}`);
        const ownReport = getReport(own)!;
        own.destroy();
        assert.equal(ownReport.resolution.path?.resolver, 'system');
        assert.match(ownReport.resolution.path?.reason ?? '', /myhostname answers it .*host name/);
        assert.ok(ownReport.resolution.queries.length > 0);
        assert.ok(ownReport.resolution.queries.every((q) => q.source === 'system'));
        assert.equal(ownReport.winner?.address, good.v4[2]);
        // Any other name: netdial's own resolver, hosts file then DNS, as the line orders them.
        const other = await dialer.dial(`one-good.lab.test:${PORT}`);
        const otherReport = getReport(other)!;
        other.destroy();
        assert.deepEqual(otherReport.resolution.path?.resolver, 'netdial');
        assert.equal(otherReport.resolution.path?.order, 'files-dns');
        assert.ok(otherReport.resolution.queries.every((q) => q.source === 'dns'));
        assert.equal(lab.dns.queryCount('one-good.lab.test', 'AAAA'), 1);
        assert.equal(lab.dns.queryCount(hostname), 0, 'DNS was not asked for the own name by netdial');
        await assertNoLeaks(baseline);
      },
      { nsswitchHosts: 'files myhostname dns', hosts: { [hostname]: good.v4[2] } },
    );
  });
}
