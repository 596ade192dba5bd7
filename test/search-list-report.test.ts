/**
 * A search-list candidate that has no address (NXDOMAIN, or a negative answer from memory) moves the
 * search on; its queries end in the dial's report and in Dialer#resolve's answer with their code and
 * source — not left as if still outstanding (an outside reviewer found them reported as `dns` with no
 * end and no code). Real sockets: the lab's DNS server on loopback, a listener on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { type DialError, Dialer, getReport } from '../src/index.js';
import type { QueryReport } from '../src/report.js';
import { closeServer } from './support/servers.js';

let dns: LabDnsServer;
let server: net.Server;
let port = 0;
let dir = '';
let dialer: Dialer;

before(async () => {
  server = net.createServer((s) => s.destroy());
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  port = (server.address() as net.AddressInfo).port;
  dns = await startLoopbackDns({ 'svc.b.test': { A: ['127.0.0.1'], AAAA: [] } }, 'b.test');
  dir = mkdtempSync(join(tmpdir(), 'netdial-search-'));
  const resolvConf = join(dir, 'resolv.conf');
  writeFileSync(resolvConf, 'search a.test b.test\noptions ndots:2\n');
  dialer = new Dialer({
    resolver: 'dns',
    nameservers: [`127.0.0.1:${dns.port}`],
    hostsPath: null,
    resolvConfPath: resolvConf,
  });
});
after(async () => {
  await Promise.all([closeServer(server), dns?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const shown = (queries: readonly QueryReport[]) =>
  queries.map((q) => [q.type, q.name, q.source, q.code ?? 'ok', q.endMs !== undefined]);

test('a candidate without an address ends its queries in the report: NXDOMAIN from the server, then from memory', async () => {
  for (const source of ['dns', 'cache']) {
    const socket = await dialer.dial(`svc:${port}`);
    const report = getReport(socket)!;
    socket.destroy();
    assert.equal(report.winner?.address, '127.0.0.1');
    const candidate = report.resolution.queries.filter((q) => q.name === 'svc.a.test');
    assert.deepEqual(
      shown(candidate).sort(),
      [
        ['A', 'svc.a.test', source, 'ENOTFOUND', true],
        ['AAAA', 'svc.a.test', source, 'ENOTFOUND', true],
      ],
      JSON.stringify(report.resolution.queries),
    );
    for (const q of candidate) assert.ok(q.endMs! >= q.startMs);
  }
});

test('Dialer#resolve lists the candidate’s queries as ended too', async () => {
  const answer = await dialer.resolve(`svc:${port}`);
  const candidate = answer.queries.filter((q) => q.name === 'svc.a.test');
  assert.equal(candidate.length, 2);
  for (const q of candidate) {
    assert.equal(q.code, 'ENOTFOUND');
    assert.notEqual(q.endMs, undefined);
  }
  assert.deepEqual(
    answer.addresses.map((a) => a.address),
    ['127.0.0.1'],
  );
});

test('a name that fails everywhere: each candidate’s queries listed once, every one ended', async () => {
  // Two dots (ndots 2): the name as written is asked first, then each search domain.
  const err = (await dialer.dial(`no.such.name:${port}`).catch((e: unknown) => e)) as DialError;
  assert.equal(err.code, 'ENOTFOUND');
  assert.deepEqual(shown(err.report!.resolution.queries), [
    ['AAAA', 'no.such.name', 'dns', 'ENOTFOUND', true],
    ['A', 'no.such.name', 'dns', 'ENOTFOUND', true],
    ['AAAA', 'no.such.name.a.test', 'dns', 'ENOTFOUND', true],
    ['A', 'no.such.name.a.test', 'dns', 'ENOTFOUND', true],
    ['AAAA', 'no.such.name.b.test', 'dns', 'ENOTFOUND', true],
    ['A', 'no.such.name.b.test', 'dns', 'ENOTFOUND', true],
  ]);
});
