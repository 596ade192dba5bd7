/**
 * A client's own retry after a DNS failure reaches the server again (RFC 9520 §3.2: a failure is kept at least
 * 1 s and backed off when repeated — not 5 s flat, which hid got's retries at ~1 s and ~3 s from the server).
 * The real `got` (a devDependency) with its default retry, through createLookup, against a loopback DNS server
 * that SERVFAILs a name and then recovers; and the same through a plain retry loop with the back-off visible.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import got from 'got';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { Dialer, type DialerOptions } from '../src/index.js';
import { createLookup } from '../src/integrations/lookup.js';
import { closeServer, listen, trackConnections } from './support/servers.js';

let dns: LabDnsServer;
let web: http.Server;
let webPort: number;
let options: DialerOptions;

before(async () => {
  dns = await startLoopbackDns({ 'ok.rt.test': { A: ['127.0.0.1'] } }, 'rt.test');
  web = trackConnections(http.createServer((_q, r) => r.end('hi')));
  webPort = await listen(web, '127.0.0.1');
  // 'dns' only, no hosts file: the host's resolver is never asked.
  options = { resolver: 'dns', nameservers: [`127.0.0.1:${dns.port}`], hostsPath: null, dnsTries: 1 };
});
after(async () => {
  await closeServer(web);
  await dns.close();
});

test("got's default retry on EAI_AGAIN reaches the DNS server again and succeeds once it recovers", async () => {
  dns.update('flaky.rt.test', { fail: { A: 'SERVFAIL', AAAA: 'SERVFAIL' } });
  dns.resetLog();
  const dialer = new Dialer(options);
  const recover = setTimeout(() => dns.update('flaky.rt.test', { A: ['127.0.0.1'] }), 300);
  const retries: string[] = [];
  try {
    const response = await got(`http://flaky.rt.test:${webPort}/`, {
      dnsLookup: createLookup({ dialer }),
      hooks: { beforeRetry: [(error) => void retries.push(String(error.code))] },
      timeout: { request: 30_000 },
    });
    assert.equal(response.body, 'hi');
    // got retries at about 1 s (and 3 s); the first failure is kept 1 s, so a retry asks the server again.
    assert.ok(retries.length >= 1 && retries.every((c) => c === 'EAI_AGAIN'), retries.join());
    assert.ok(dns.queryCount('flaky.rt.test', 'A') >= 2, 'a retry asked the server again');
  } finally {
    clearTimeout(recover);
  }
});

test('a retry loop through lookup: failures in a row kept 1 s, then 2 s (doubling); recovery is seen', async () => {
  dns.update('down.rt.test', { fail: { A: 'SERVFAIL', AAAA: 'SERVFAIL' } });
  dns.resetLog();
  const lookup = createLookup({ dialer: new Dialer(options) });
  const ask = () =>
    new Promise<string>((resolve) =>
      lookup('down.rt.test', { family: 4 }, (err, address) =>
        resolve(err ? String(err.code) : String(address)),
      ),
    );
  // Ask every 100 ms for 3.6 s (bounded: at most 36 asks); note when an ask reached the server.
  const startedMs = performance.now();
  const queriedAtMs: number[] = [];
  for (let i = 0; i < 36; i++) {
    const askedAtMs = performance.now();
    const before = dns.queryCount('down.rt.test', 'A');
    assert.equal(await ask(), 'EAI_AGAIN');
    if (dns.queryCount('down.rt.test', 'A') > before) queriedAtMs.push(askedAtMs - startedMs);
    const waitMs = startedMs + (i + 1) * 100 - performance.now();
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
  }
  assert.ok(queriedAtMs.length >= 2, `queries at ${queriedAtMs.join(', ')} ms`);
  const [first, second, third] = queriedAtMs as [number, number, number | undefined];
  assert.ok(second - first >= 1000 && second - first < 1900, `first failure kept 1 s: ${queriedAtMs}`);
  if (third !== undefined) assert.ok(third - second >= 2000, `second in a row kept 2 s: ${queriedAtMs}`);
  // The server recovers: the next query (within the 2 s or 4 s now kept) is answered, and the answer
  // resets the run, so the next failure is kept 1 s again.
  dns.update('down.rt.test', { A: ['127.0.0.1'] });
  let answer = '';
  for (let i = 0; i < 60 && answer !== '127.0.0.1'; i++) {
    answer = await ask();
    if (answer !== '127.0.0.1') await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(answer, '127.0.0.1');
});

test('a plain name that times out: resolve() and lookup name each query still unanswered', async () => {
  dns.update('hang.rt.test', { A: ['127.0.0.1'], fail: { A: 'DROP', AAAA: 'DROP' } });
  const dialer = new Dialer({ ...options, memory: false });
  await assert.rejects(dialer.resolve('hang.rt.test', { timeout: 300 }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ETIMEDOUT');
    assert.match(err.message, /^resolve hang\.rt\.test timed out after 300 ms: no answer to /);
    assert.match(err.message, /AAAA hang\.rt\.test/);
    assert.match(err.message, /, A hang\.rt\.test|^.*: no answer to A hang\.rt\.test/);
    return true;
  });
  const lookup = createLookup({ dialer, timeout: 300 });
  const err = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
    lookup('hang.rt.test', { family: 4 }, (e) => resolve(e)),
  );
  assert.equal(err?.code, 'EAI_AGAIN');
  const cause = err?.cause as { code?: string; message?: string } | undefined;
  assert.equal(cause?.code, 'ETIMEDOUT');
  assert.match(String(cause?.message), /: no answer to A hang\.rt\.test$/);
});

test("a remembered failure's text names the server that failed it (lookup family 6 right after family 0)", async () => {
  dns.update('sf.rt.test', { A: ['127.0.0.1'], fail: { AAAA: 'SERVFAIL' } });
  dns.resetLog();
  const lookup = createLookup({ dialer: new Dialer(options) });
  const ask = (family: 0 | 6) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
      lookup('sf.rt.test', { family }, (err, address) => resolve({ err, address })),
    );
  assert.equal((await ask(0)).address, '127.0.0.1');
  const { err } = await ask(6);
  assert.equal(dns.queryCount('sf.rt.test', 'AAAA'), 1, 'the AAAA failure came from memory');
  assert.equal(err?.code, 'EAI_AGAIN');
  const cause = err?.cause as { code?: string; message?: string; attempts?: { message: string }[] };
  assert.equal(cause.code, 'ESERVFAIL');
  assert.ok(cause.message?.includes(`DNS server 127.0.0.1:${dns.port} failed it (ESERVFAIL)`), cause.message);
});
