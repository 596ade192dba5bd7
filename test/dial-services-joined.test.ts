/**
 * A dial to an https: URL that joins the HTTPS query another dial sent (one query per name and type, however
 * many dials ask: service-lookup.ts sharedServiceSender), while the name's A and AAAA come from the DNS
 * cache — real sockets and the lab's DNS server on 127.0.0.1. The joining dial waits for the records at most
 * the Resolution Delay counted from the shared query's sending, as the first dial does, not a whole delay of
 * its own (RFC 8305 §3; draft-ietf-happy-happyeyeballs-v3-01 §4.2 for the service records).
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { Dialer, type DialerOptions, getReport } from '../src/index.js';
import { closeServer, closeSocket, listen, trackConnections } from './support/servers.js';

/** Long enough that a late timer under load cannot be mistaken for the delay (the default is 50 ms). */
const RESOLUTION_DELAY_MS = 600;
/** How long after the first dial the second one starts. */
const JOIN_AFTER_MS = 300;

const server = trackConnections(net.createServer((s) => s.resume()));
let port = 0;
let dns: LabDnsServer;
let options: DialerOptions;

before(async () => {
  port = await listen(server, '127.0.0.2');
  dns = await startLoopbackDns({ 'www.joined.test': { A: ['127.0.0.2'], ttl: 300 } }, 'joined.test');
  // The origin is not on 443: its HTTPS records are asked as _PORT._https.NAME (RFC 9460 §9.1). They come
  // late: the dials wait the Resolution Delay for them, then go on without.
  dns.update(`_${port}._https.www.joined.test`, { delayMs: { HTTPS: 5000 }, fail: { HTTPS: 'NODATA' } });
  options = {
    resolver: 'dns',
    nameservers: [`127.0.0.1:${dns.port}`],
    hostsPath: null,
    dnsTries: 1,
    dnsTimeoutMs: 8000,
    resolutionDelay: RESOLUTION_DELAY_MS,
  };
});
after(async () => {
  await Promise.all([closeServer(server), dns?.close()]);
});

test("a dial joining an HTTPS query in flight, A/AAAA cached: its wait ends when the first dial's does", async () => {
  const dialer = new Dialer(options);
  const sockets: net.Socket[] = [];
  try {
    // A and AAAA (NODATA) into the cache: a plain dial asks for no HTTPS records.
    sockets.push(await dialer.dial(`www.joined.test:${port}`));
    const queriesBefore = dns.queryCount(`_${port}._https.www.joined.test`, 'UNKNOWN_65');
    const firstAt = performance.now();
    const first = dialer.dial(`https://www.joined.test:${port}/`, { tls: false });
    await sleep(JOIN_AFTER_MS);
    const secondAt = performance.now();
    const second = dialer.dial(`https://www.joined.test:${port}/`, { tls: false });
    const [a, b] = await Promise.all([first, second]);
    sockets.push(a, b);
    assert.equal(
      dns.queryCount(`_${port}._https.www.joined.test`, 'UNKNOWN_65') - queriesBefore,
      1,
      'one HTTPS query for both dials',
    );
    const reportA = getReport(a)!;
    const reportB = getReport(b)!;
    for (const r of [reportA, reportB]) {
      const https = r.resolution.queries.find((q) => q.type === 'HTTPS');
      assert.equal(https?.endMs, undefined, 'the records were still out when the dial went on');
      for (const q of r.resolution.queries.filter((x) => x.type !== 'HTTPS')) assert.equal(q.source, 'cache');
    }
    const firstStartMs = firstAt + reportA.attempts[0]!.startMs;
    const secondStartMs = secondAt + reportB.attempts[0]!.startMs;
    // The first dial waits the whole delay from its query's sending.
    assert.ok(reportA.attempts[0]!.startMs >= RESOLUTION_DELAY_MS - 5, `${reportA.attempts[0]!.startMs}`);
    // The second ends its wait with the first (a loaded machine may wake either a little late), not a whole
    // delay after its own start (firstAt + 900 ms).
    assert.ok(
      secondStartMs - firstStartMs < JOIN_AFTER_MS / 2,
      `second dial's first attempt ${Math.round(secondStartMs - firstStartMs)} ms after the first dial's`,
    );
    assert.ok(
      reportB.attempts[0]!.startMs < RESOLUTION_DELAY_MS - JOIN_AFTER_MS / 2,
      `${reportB.attempts[0]!.startMs}`,
    );
  } finally {
    await Promise.all(sockets.map((s) => closeSocket(s)));
  }
});
