/**
 * Where an answer came from is said truly, in `Dialer#resolve`'s result and in the dial report: the hosts
 * file only when the hosts file listed the name; `localhost` answered by netdial itself (RFC 6761 §6.3)
 * as 'localhost', whether or not a hosts file was read; the resolution path says whether one is read.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Dialer, getReport } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { closeServer, closeSocket, listen } from './support/servers.js';

describe('localhost (RFC 6761 §6.3)', () => {
  const cases: Array<{ name: string; hosts: string | null; want: string; wantAddresses: string[] }> = [
    {
      name: 'no hosts file read (hostsPath: null)',
      hosts: null,
      want: 'localhost',
      wantAddresses: ['127.0.0.1', '::1'],
    },
    {
      name: 'a hosts file without localhost',
      hosts: '192.0.2.7 other.test\n',
      want: 'localhost',
      wantAddresses: ['127.0.0.1', '::1'],
    },
    {
      name: 'a hosts file that lists localhost',
      hosts: '127.0.0.1 localhost\n',
      want: 'hosts',
      wantAddresses: ['127.0.0.1'],
    },
  ];
  for (const c of cases) {
    test(`${c.name}: source '${c.want}' in resolve() and in the dial report`, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'netdial-src-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
      let hostsPath: string | null = null;
      if (c.hosts !== null) {
        hostsPath = join(dir, 'hosts');
        writeFileSync(hostsPath, c.hosts);
      }
      const server = net.createServer((s) => s.on('error', () => {}).resume());
      const port = await listen(server, '127.0.0.1');
      t.after(() => closeServer(server));
      const baseline = activeResources();
      // DNS is never asked: nothing listens on port 1.
      const dialer = new Dialer({
        resolver: 'dns',
        nameservers: ['127.0.0.1:1'],
        hostsPath,
        resolvConfPath: join(dir, 'resolv.conf'),
      });
      const resolved = await dialer.resolve(`localhost:${port}`);
      assert.deepEqual(resolved.addresses.map((a) => a.address).sort(), c.wantAddresses);
      assert.deepEqual([...new Set(resolved.addresses.map((a) => a.source))], [c.want]);
      assert.ok(resolved.queries.length > 0);
      for (const q of resolved.queries) assert.equal(q.source, c.want, `${q.type} query`);
      const socket = await dialer.dial({ host: 'localhost', port }, { family: 4 });
      try {
        // The path says whether a hosts file is read before DNS.
        const reason = getReport(socket)?.resolution.path?.reason ?? '';
        if (c.hosts === null) assert.match(reason, /no hosts file \(hostsPath null\), only DNS/);
        else assert.match(reason, /: hosts file, then DNS/);
        const queries = getReport(socket)?.resolution.queries ?? [];
        assert.ok(queries.length > 0);
        for (const q of queries) assert.equal(q.source, c.want, `${q.type} query in the report`);
      } finally {
        await closeSocket(socket);
      }
      await assertNoLeaks(baseline);
    });
  }
});
