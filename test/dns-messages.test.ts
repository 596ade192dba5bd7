/**
 * DNS failures say what failed, with real DNS servers on loopback: an SRV target without addresses is named
 * (not the SRV owner), an SRV query still out at the dial's timeout is named, and a server that answers
 * truncated over UDP and resets TCP is not "no DNS server could be reached".
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LabDnsServer } from '../lab/dns-server.js';
import { startLoopbackDns } from '../src/cli/loopback-dns.js';
import { type DialError, Dialer, isDialError } from '../src/index.js';

let dns: LabDnsServer;
let tc: LabDnsServer | undefined;
before(async () => {
  dns = await startLoopbackDns(
    {
      '_gone._tcp.msg.test': { SRV: [{ priority: 1, weight: 0, port: 9, target: 'missing.msg.test' }] },
      '_silent._tcp.msg.test': { fail: { SRV: 'DROP' } },
    },
    'msg.test',
  );
  // A server that truncates every UDP answer and resets the TCP connection that follows.
  for (let i = 0; i < 20 && tc === undefined; i++) {
    const server = new LabDnsServer({
      host: '127.0.0.1',
      port: 20_000 + Math.floor(Math.random() * 12_000),
      zone: { 'tc.msg.test': { A: ['127.0.0.1'] } },
      apex: 'msg.test',
      quirk: 'truncate-then-reset',
    });
    try {
      await server.start();
      tc = server;
    } catch (err) {
      await server.close().catch(() => {});
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
});
after(async () => {
  await Promise.all([dns?.close(), tc?.close()]);
});

async function failure(dialing: Promise<unknown>): Promise<DialError> {
  const err = await dialing.then(
    () => assert.fail('the dial connected'),
    (e: unknown) => e,
  );
  assert.ok(isDialError(err), String(err));
  return err;
}

const options = () => ({ resolver: 'dns' as const, nameservers: [`127.0.0.1:${dns.port}`], hostsPath: null });

test('an SRV target with no address is named, not the SRV owner', async () => {
  const err = await failure(new Dialer(options()).dial('srv!_gone._tcp.msg.test'));
  assert.equal(err.code, 'ENOTFOUND');
  assert.match(
    err.message,
    /: no SRV target of _gone\._tcp\.msg\.test has an address \(missing\.msg\.test AAAA ENOTFOUND; missing\.msg\.test A ENOTFOUND\)$/,
  );
});

test('an SRV query still out at the timeout is named', async () => {
  const err = await failure(new Dialer(options()).dial('srv!_silent._tcp.msg.test', { timeout: 300 }));
  assert.equal(err.code, 'ETIMEDOUT');
  assert.match(
    err.message,
    /no address was tried \(DNS SRV _silent\._tcp\.msg\.test still unanswered when the timeout came\)$/,
  );
  assert.deepEqual(
    err.attempts.map((a) => [a.phase, a.address, a.code]),
    [['dns', '_silent._tcp.msg.test', 'ETIMEOUT']],
  );
});

test('truncated over UDP, then TCP reset: the reset is the error, not "no DNS server could be reached"', async () => {
  assert.ok(tc, 'the truncating server started');
  const dialer = new Dialer({
    resolver: 'dns',
    nameservers: [`127.0.0.1:${tc.port}`],
    hostsPath: null,
    dnsTries: 1,
  });
  const err = await failure(dialer.dial('tc.msg.test:9'));
  assert.equal(err.code, 'ECONNRESET');
  assert.doesNotMatch(err.message, /could not be reached|ECONNREFUSED/);
  // The one line names the server (rev8 finding 6).
  assert.ok(
    err.message.includes(
      `DNS server 127.0.0.1:${tc.port} answered truncated over UDP, then reset the TCP connection`,
    ),
    err.message,
  );
  assert.match(err.attempts[0]!.message, /TCP failed after a truncated UDP answer/);
});
