/**
 * What a person reads when DNS servers answer but not usefully — real servers on loopback: a lame or referral
 * answer (NOERROR, no records, AA=0, RA=0) and SERVFAIL. The dial's and the resolve's one-line messages name
 * the server and what it did (dns-failure-text.ts over the DNS client's message), not a bare code. Also the
 * pure wording: an answer from memory (no server detail kept) still reads as words, and 'auto' does not hand
 * a truncated answer whose TCP retry was refused (ETRUNCATED) to the system resolver.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { Dialer, type DialError, isDialError } from '../src/index.js';
import { dnsFailureText } from '../src/resolution/dns-failure-text.js';
import { systemFallbackReason } from '../src/resolution/resolve.js';

let lame: LabDnsServer;
let failing: LabDnsServer;

before(async () => {
  lame = await startLoopbackDns({ 'www.words.test': { A: ['192.0.2.1'] } }, 'words.test');
  lame.quirk = 'lame';
  failing = await startLoopbackDns(
    { 'www.words.test': { fail: { A: 'SERVFAIL', AAAA: 'SERVFAIL' } } },
    'words.test',
  );
});
after(async () => {
  await Promise.all([lame?.close(), failing?.close()]);
});

function dialer(server: LabDnsServer): Dialer {
  return new Dialer({
    resolver: 'dns',
    nameservers: [`127.0.0.1:${server.port}`],
    hostsPath: null,
    dnsTries: 1,
    memory: false,
  });
}

async function failureOf(promise: Promise<unknown>): Promise<DialError> {
  const err = await promise.then(
    () => assert.fail('it succeeded'),
    (e: unknown) => e,
  );
  assert.ok(isDialError(err), String(err));
  return err;
}

test('a lame server: one line naming it and what it sent (dial and resolve)', async () => {
  const server = `127.0.0.1:${lame.port}`;
  const said = `DNS server ${server} sent a lame or referral answer (NOERROR, no records, AA=0, RA=0), so it does not resolve this name (AAAA EBADRESP; A EBADRESP)`;
  const dial = await failureOf(dialer(lame).dial('www.words.test:9'));
  assert.equal(dial.code, 'EBADRESP');
  assert.match(dial.message, /^connect www\.words\.test:9 failed in \d+ ms: /);
  assert.ok(dial.message.endsWith(said), dial.message);
  const resolve = await failureOf(dialer(lame).resolve('www.words.test'));
  assert.equal(resolve.code, 'EBADRESP');
  assert.ok(resolve.message.endsWith(said), resolve.message);
  assert.match(
    resolve.attempts[0]!.message,
    new RegExp(`^queryAAAA EBADRESP www\\.words\\.test \\(${server} sent a lame`),
  );
});

test('SERVFAIL: the server is named with the RCODE it answered', async () => {
  const dial = await failureOf(dialer(failing).dial('www.words.test:9'));
  assert.equal(dial.code, 'ESERVFAIL');
  assert.ok(
    dial.message.endsWith(
      `: DNS server 127.0.0.1:${failing.port} answered SERVFAIL (AAAA ESERVFAIL; A ESERVFAIL)`,
    ),
    dial.message,
  );
});

test('wording without the client detail (an answer from memory): the code in words', () => {
  assert.equal(dnsFailureText('ESERVFAIL', 'AAAA x.test: ESERVFAIL (cached)'), 'DNS server failure');
  assert.equal(dnsFailureText('EBADRESP', undefined), 'a DNS server sent an unusable answer');
  assert.equal(
    dnsFailureText('ETRUNCATED', 'A x.test: ETRUNCATED (cached)'),
    'a DNS server answered truncated over UDP and refused TCP (RFC 7766 §5)',
  );
  assert.equal(
    dnsFailureText('ECONNREFUSED', 'queryA ECONNREFUSED x (no DNS server could be reached: …)'),
    'no DNS server could be reached',
  );
});

test("'auto': ETRUNCATED is not 'no DNS server could be reached' — no system resolver fallback", () => {
  assert.equal(systemFallbackReason([{ code: 'ETRUNCATED' }, { code: 'ETRUNCATED' }]), undefined);
  assert.match(
    systemFallbackReason([{ code: 'ECONNREFUSED' }, { code: 'ECONNREFUSED' }]) ?? '',
    /could be reached/,
  );
});
