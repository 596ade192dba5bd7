/**
 * TLS-aware racing in the network lab: real routes, real TCP and TLS servers in the router namespace,
 * certificates of a CA made for this run (`withLab(…, { tls: true })`). A connection wins once its TLS
 * handshake is done: a first address that accepts TCP and stalls in TLS loses to the next one within
 * about one attempt delay; a reset in the handshake moves on to the next address at once; a certificate
 * for the wrong name ends the dial with no further attempt. The CLI's trace shows TCP and TLS per attempt.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ZONE, enterLab, LAB, type Lab, withLab } from '../lab/index.js';
import { Dialer, type DialReport, getReport } from '../src/index.js';
import { failure } from './support/dial-failure.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import { ensureDebianPackages } from './support/real-servers.js';
import { execFileSync } from 'node:child_process';

const { good } = LAB.addresses;
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function fresh(): Dialer {
  return new Dialer({ memory: false, resolver: 'dns' });
}

function opensslPresent(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Waits until every connection the router accepted on `address`:443 is closed again (bounded). */
async function allClosed(lab: Lab, address: string): Promise<number> {
  let open = 0;
  let count = 0;
  for (let i = 0; i < 100; i++) {
    const mine = (await lab.serverConnections()).filter(
      (c) => c.localAddress === address && c.localPort === LAB.tls.port,
    );
    count = mine.length;
    open = mine.filter((c) => c.closedAtMs === undefined).length;
    if (open === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(open, 0, `connections to ${address} still open`);
  return count;
}

/** An HTTP/1.1 GET over the dialled TLS socket; returns the x-lab-server header. */
async function get(socket: tls.TLSSocket, host: string): Promise<string | undefined> {
  socket.setEncoding('utf8');
  socket.write(`GET / HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
  let text = '';
  socket.on('data', (d: string) => {
    text += d;
  });
  await once(socket, 'end');
  return /x-lab-server: (\S+)/i.exec(text)?.[1];
}

if (await enterLab(import.meta.url)) {
  const missing = ensureDebianPackages(['openssl'], opensslPresent);
  test('TLS-aware racing in the lab', { timeout: 120_000, skip: missing }, (t) =>
    withLab(
      DEFAULT_ZONE,
      async (lab) => {
        const ca = lab.tls!.ca;

        await t.test(
          'a first address stalling in TLS loses to the next within about one attempt delay',
          async () => {
            lab.resetServerConnections();
            const baseline = activeResources();
            const started = performance.now();
            const socket = (await fresh().dial('https://tls-stall-first.lab.test/', {
              tls: { ca },
            })) as tls.TLSSocket;
            const ms = performance.now() - started;
            const report = getReport(socket) as DialReport;
            assert.deepEqual(
              report.attempts.map((a) => [a.address, a.outcome, a.trigger]),
              [
                [LAB.tls.stall.v6, 'cancelled', 'first'],
                [good.v4[0], 'connected', 'delay'],
              ],
            );
            const [stalled, winner] = report.attempts as [
              DialReport['attempts'][0],
              DialReport['attempts'][0],
            ];
            assert.ok(stalled.tcpMs !== undefined, 'the stalling address accepted TCP');
            assert.ok((stalled.tlsMs ?? 0) > 200, `its handshake ran ${stalled.tlsMs} ms before it lost`);
            assert.ok(
              winner.startMs >= 240 && winner.startMs < 600,
              `second attempt at ${winner.startMs} ms`,
            );
            assert.ok(winner.tcpMs !== undefined && winner.tlsMs !== undefined);
            assert.ok(ms < 1500, `took ${ms} ms`);
            assert.equal(report.tls?.servername, 'tls-stall-first.lab.test');
            assert.equal(await get(socket, 'tls-stall-first.lab.test'), good.v4[0]);
            socket.destroy();
            // The stalled connection was closed by the dial, not left to the server.
            assert.equal(await allClosed(lab, LAB.tls.stall.v6), 1);
            await assertNoLeaks(baseline);
          },
        );

        await t.test(
          'a reset during the handshake fails that attempt: the next starts at once; memory learns it',
          async () => {
            const dialer = new Dialer({ resolver: 'dns', memory: { exploreProbability: 0 } });
            const socket = (await dialer.dial('https://tls-reset-first.lab.test/', {
              tls: { ca },
            })) as tls.TLSSocket;
            const report = getReport(socket) as DialReport;
            socket.destroy();
            assert.deepEqual(
              report.attempts.map((a) => [a.address, a.outcome, a.code, a.trigger]),
              [
                [LAB.tls.reset.v6, 'failed', 'ECONNRESET', 'first'],
                [good.v4[0], 'connected', undefined, 'failure'],
              ],
            );
            assert.ok(report.attempts[0]!.tlsMs !== undefined, 'it failed in TLS, after TCP');
            assert.ok(report.attempts[1]!.startMs < 240, `next attempt at ${report.attempts[1]!.startMs} ms`);
            const again = (await dialer.dial('https://tls-reset-first.lab.test/', {
              tls: { ca },
            })) as tls.TLSSocket;
            const second = getReport(again) as DialReport;
            again.destroy();
            assert.deepEqual(
              second.attempts.map((a) => a.address),
              [good.v4[0]],
            );
            assert.deepEqual(second.decisions.demoted, [LAB.tls.reset.v6]);
          },
        );

        await t.test(
          'a certificate for the wrong name is final: the good A address is never contacted',
          async () => {
            lab.resetServerConnections();
            const baseline = activeResources();
            const err = await failure(fresh().dial('https://tls-wrong-name.lab.test/', { tls: { ca } }));
            assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
            assert.deepEqual(
              err.attempts.filter((a) => a.phase !== 'dns').map((a) => [a.address, a.phase, a.code]),
              [[LAB.tls.wrongName.v6, 'tls', 'ERR_TLS_CERT_ALTNAME_INVALID']],
            );
            // Past the attempt delay: still nothing went to the A address.
            await new Promise((r) => setTimeout(r, 400));
            const toGood = (await lab.serverConnections()).filter((c) => c.localAddress === good.v4[0]);
            assert.deepEqual(toGood, []);
            await allClosed(lab, LAB.tls.wrongName.v6);
            await assertNoLeaks(baseline);
          },
        );

        await t.test(
          'every attempt reports its TCP and TLS times; the winner’s add up to its end',
          async () => {
            const socket = (await fresh().dial('https://tls-good.lab.test/', {
              tls: { ca },
            })) as tls.TLSSocket;
            const report = getReport(socket) as DialReport;
            socket.destroy();
            const [a] = report.attempts;
            assert.equal(report.attempts.length, 1);
            assert.equal(a?.address, good.v6[0]);
            assert.ok(a.tcpMs !== undefined && a.tcpMs > 0 && a.tlsMs !== undefined && a.tlsMs > 0);
            assert.ok(Math.abs(a.startMs + a.tcpMs + a.tlsMs - (a.endMs ?? 0)) < 0.01);
            assert.ok(Math.abs((report.tls?.startMs ?? 0) - (a.startMs + a.tcpMs)) < 0.01);
            assert.equal(report.tls?.endMs, a.endMs);
          },
        );

        await t.test('netdial trace shows the stalled handshake and the winning one', async () => {
          const dir = mkdtempSync(join(tmpdir(), 'netdial-lab-ca-'));
          try {
            writeFileSync(join(dir, 'ca.pem'), ca);
            const child = spawn(
              process.execPath,
              [CLI, 'trace', '--no-memory', '--ca', join(dir, 'ca.pem'), 'https://tls-stall-first.lab.test/'],
              { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
            );
            const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
            let stderr = '';
            child.stderr.setEncoding('utf8').on('data', (d: string) => {
              stderr += d;
            });
            child.stdout.resume();
            const [code] = await once(child, 'close');
            clearTimeout(timer);
            assert.equal(code, 0, stderr);
            const lines = stderr.split('\n');
            const at = lines.findIndex((l) => l.startsWith(`  #1 ${LAB.tls.stall.v6} `));
            assert.ok(at > 0, stderr);
            assert.match(lines[at]!, /tcp \d/);
            assert.match(lines[at + 1]!, /^ {5}tls .*cancelled \(lost the race\).*tls \d+ ms/);
            assert.match(lines[at + 2]!, new RegExp(`^ {2}#2 ${good.v4[0].replaceAll('.', '\\.')} .*tcp `));
            assert.match(lines[at + 3]!, /^ {5}tls .*connected ◀ winner.*tls /);
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        });
      },
      { tls: true },
    ),
  );
}
