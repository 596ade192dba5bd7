/**
 * A DNS server that answers every UDP query truncated (TC=1) and refuses the TCP connection that should
 * follow (RFC 7766 §5), on real namespaces: the failure is ETRUNCATED and says so, naming the server — not
 * ECONNREFUSED "no DNS server could be reached", since the server answered — and in resolver mode 'auto' it
 * is not handed to the system resolver (systemFallbackReason: servers were reached; getaddrinfo would ask
 * the same kind of server). Here the system's resolv.conf (bind-mounted by the lab) points at the lab's
 * healthy server, which knows the name: a fallback would succeed, so a resolve that fails shows none ran.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import { DEFAULT_ZONE, enterLab, LAB, withLab } from '../lab/index.js';
import { Dialer, type DialError, isDialError } from '../src/index.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';

const NAME = 'one-good.lab.test';
const PORT = LAB.ports.discard;
/** The truncating server: UDP only (nothing listens on its TCP port, so the kernel refuses it). */
const TC_SERVER = '127.0.0.2';

/** Answers every query on TC_SERVER:53 with an empty truncated response; closed by the caller. */
async function truncatingServer(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (raw, from) => {
    const query = dnsPacket.decode(raw);
    const flags = dnsPacket.TRUNCATED_RESPONSE | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE;
    const response = dnsPacket.encode({ type: 'response', id: query.id, flags, questions: query.questions });
    socket.send(response, from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(53, TC_SERVER, () => resolve());
  });
  return socket;
}

async function failureOf(promise: Promise<unknown>): Promise<DialError> {
  const err = await promise.then(
    (value) => assert.fail(`it succeeded: ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  assert.ok(isDialError(err), String(err));
  return err;
}

if (await enterLab(import.meta.url)) {
  test("truncated over UDP, TCP refused: ETRUNCATED naming the server, and 'auto' does not ask the system resolver", () =>
    withLab(DEFAULT_ZONE, async (lab) => {
      const server = await truncatingServer();
      const dir = mkdtempSync(join(tmpdir(), 'netdial-tc-'));
      try {
        const baseline = activeResources();
        const resolvConfPath = join(dir, 'resolv.conf');
        writeFileSync(resolvConfPath, `nameserver ${TC_SERVER}\noptions attempts:1\n`);
        for (const resolver of ['auto', 'dns'] as const) {
          const dialer = new Dialer({ memory: false, resolver, resolvConfPath, hostsPath: null });
          const resolved = await failureOf(dialer.resolve(NAME));
          assert.equal(resolved.code, 'ETRUNCATED', `${resolver}: ${resolved.message}`);
          assert.match(
            resolved.message,
            /: DNS server 127\.0\.0\.2:53 answered truncated over UDP and refused the TCP connection to ask again \(RFC 7766 §5\) \(AAAA ETRUNCATED; A ETRUNCATED\)$/,
          );
          assert.doesNotMatch(resolved.message, /could not be reached/);
          assert.deepEqual(
            resolved.attempts.map((a) => [a.phase, a.code]),
            [
              ['dns', 'ETRUNCATED'],
              ['dns', 'ETRUNCATED'],
            ],
          );
          const dialed = await failureOf(dialer.dial(`${NAME}:${PORT}`));
          assert.equal(dialed.code, 'ETRUNCATED', `${resolver}: ${dialed.message}`);
          assert.match(dialed.message, /DNS server 127\.0\.0\.2:53 answered truncated over UDP/);
          assert.equal(lab.dns.queryCount(NAME), 0, `${resolver}: the system resolver was not asked`);
        }
        await assertNoLeaks(baseline, 'truncated DNS');
      } finally {
        rmSync(dir, { recursive: true, force: true });
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }));
}
