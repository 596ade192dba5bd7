/**
 * Cancellation through createConnection / DialSocket in the lab, for http, ws and pg: the client is
 * cancelled its own way (req.destroy / ws.terminate / destroying pg's stream, or its timeout option:
 * http `timeout`, ws `handshakeTimeout`, pg `connectionTimeoutMillis`) while netdial
 * is still resolving (the lab's DNS drops the queries) or still connecting (every address blackholed).
 * Each row runs in a child process (test/support/cancel-child.ts) and asserts: the client gives up
 * within 1 s of the cancellation (generous: the cancellation itself is immediate), with the error Node's
 * own net gives that client (compared live, for the blackholed rows), the socket closed, and the child
 * process exits by itself within 1 s of reporting — nothing of the abandoned dial keeps it alive.
 * Also Node's Happy Eyeballs knobs against a blackholed first address: `autoSelectFamilyAttemptTimeout`
 * is the delay before the next attempt, `autoSelectFamily: false` waits for the first attempt alone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import type net from 'node:net';
import { DEFAULT_ZONE, enterLab, LAB, withLab } from '../lab/index.js';
import { Dialer, isDialError } from '../src/index.js';
import { bindCreateConnection } from '../src/integrations/create-connection.js';
import { getReport } from '../src/report.js';
import type { ChildResult } from './support/cancel-child.js';

const CHILD = fileURLToPath(new URL('./support/cancel-child.js', import.meta.url));
const DNS_DROPPED = `dns-dropped.${LAB.zoneSuffix}`;
const BLACKHOLED = `all-blackholed.${LAB.zoneSuffix}`;
const AFTER_MS = 300;

interface Row {
  client: 'http' | 'ws' | 'pg';
  impl: 'netdial' | 'node';
  host: string;
  port: number;
  cancel: 'destroy' | 'timeout';
  afterMs: number;
}

/** Runs one row; resolves with the child's result and how long it took to exit after reporting. */
function runChild(row: Row): Promise<{ result: ChildResult; exitMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(row)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let reportedAt: number | undefined;
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (reportedAt === undefined && out.includes('\n')) reportedAt = performance.now();
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      const exitedAt = performance.now();
      if (code !== 0 || reportedAt === undefined) {
        reject(new Error(`child ${JSON.stringify(row)} exited ${code ?? signal}: ${err}${out}`));
        return;
      }
      resolve({ result: JSON.parse(out) as ChildResult, exitMs: exitedAt - reportedAt });
    });
  });
}

if (await enterLab(import.meta.url)) {
  const zone = {
    ...DEFAULT_ZONE,
    [DNS_DROPPED]: {
      A: [LAB.addresses.good.v4[0]],
      AAAA: [LAB.addresses.good.v6[0]],
      fail: { A: 'DROP', AAAA: 'DROP' },
    },
  } as typeof DEFAULT_ZONE;

  for (const client of ['http', 'ws', 'pg'] as const) {
    test(`createConnection through ${client}: cancellation during DNS and during connect, by destroy and by timeout`, async () => {
      await withLab(zone, async () => {
        const port = client === 'pg' ? 5432 : LAB.ports.http;
        const rows: string[] = [];
        for (const cancel of ['destroy', 'timeout'] as const) {
          // Node's own client against the blackholed name: the error this client gives for this cancellation.
          const node = await runChild({
            client,
            impl: 'node',
            host: BLACKHOLED,
            port,
            cancel,
            afterMs: AFTER_MS,
          });
          for (const host of [DNS_DROPPED, BLACKHOLED]) {
            const { result, exitMs } = await runChild({
              client,
              impl: 'netdial',
              host,
              port,
              cancel,
              afterMs: AFTER_MS,
            });
            const where = `${client} ${cancel} during ${host === DNS_DROPPED ? 'DNS' : 'connect'}`;
            rows.push(
              `${where}: gave up ${result.ms.toFixed(0)} ms after the cancellation (${result.code ?? '-'} ${result.message}); exited ${exitMs.toFixed(0)} ms later; Node: ${node.result.ms.toFixed(0)} ms (${node.result.code ?? '-'} ${node.result.message})`,
            );
            assert.ok(result.ms < 1000, `${where}: gave up ${result.ms} ms after the cancellation`);
            assert.equal(result.code, node.result.code, `${where}: Node's error code`);
            assert.equal(result.message, node.result.message, `${where}: Node's error message`);
            assert.equal(result.socketClosed, true, `${where}: the socket emitted 'close'`);
            assert.ok(exitMs < 1000, `${where}: the process exited ${exitMs} ms after the result`);
          }
        }
        for (const r of rows) console.log(r);
      });
    });
  }

  test('autoSelectFamily knobs with a blackholed first address: attempt timeout = delay; false = one at a time', async () => {
    await withLab(DEFAULT_ZONE, async () => {
      const createConnection = bindCreateConnection({
        dialer: new Dialer({ resolver: 'dns', memory: false }),
      });
      const host = `first-a-blackholed.${LAB.zoneSuffix}`;
      const [blackholed, good] = [LAB.addresses.blackholed.v4[0], LAB.addresses.good.v4[1]];
      const attemptsOf = (socket: unknown) =>
        getReport(socket as net.Socket)?.attempts.map((a) => [a.address, a.outcome, a.trigger, a.startMs]) ??
        [];

      const attemptEvents = (socket: NodeJS.EventEmitter) => {
        const seen: string[] = [];
        for (const name of ['connectionAttempt', 'connectionAttemptFailed', 'connectionAttemptTimeout']) {
          socket.on(name, (address: string, port: number, family: number) =>
            seen.push(`${name} ${address} ${port} ${family}`),
          );
        }
        return seen;
      };
      const port = LAB.ports.http;

      // autoSelectFamilyAttemptTimeout: 100 → the good address is tried 100 ms after the silent one.
      const quick = createConnection({ host, port: LAB.ports.http, autoSelectFamilyAttemptTimeout: 100 });
      const quickEvents = attemptEvents(quick);
      await once(quick, 'connect');
      // The silent attempt is dropped when the good one wins: no event for it (net has no such attempt).
      assert.deepEqual(quickEvents, [
        `connectionAttempt ${blackholed} ${port} 4`,
        `connectionAttempt ${good} ${port} 4`,
      ]);
      const attempts = attemptsOf(quick);
      quick.destroy();
      assert.deepEqual(
        attempts.map((a) => a.slice(0, 3)),
        [
          [blackholed, 'cancelled', 'first'],
          [good, 'connected', 'delay'],
        ],
      );
      const secondStartMs = (attempts[1]?.[3] as number) - (attempts[0]?.[3] as number);
      assert.ok(
        secondStartMs >= 95 && secondStartMs < 240,
        `second attempt ${secondStartMs} ms after the first`,
      );

      // autoSelectFamily: false → nothing but the first attempt until it fails (here: the 800 ms bound).
      const lone = bindCreateConnection({
        dialer: new Dialer({ resolver: 'dns', memory: false }),
        timeout: 800,
      })({
        host,
        port: LAB.ports.http,
        autoSelectFamily: false,
      });
      const loneEvents = attemptEvents(lone);
      const [err] = await once(lone, 'error').catch((e: unknown) => [e]);
      // Still connecting at the dial's deadline: 'connectionAttemptTimeout', as net's for its attempt timer.
      assert.deepEqual(loneEvents, [
        `connectionAttempt ${blackholed} ${port} 4`,
        `connectionAttemptTimeout ${blackholed} ${port} 4`,
      ]);
      assert.ok(isDialError(err), String(err));
      assert.equal(err.code, 'ETIMEDOUT');
      assert.deepEqual(
        err.attempts.filter((a) => a.phase === 'tcp').map((a) => a.address),
        [blackholed],
        'one address at a time: the good one was never tried while the first was pending',
      );
    });
  });
}
