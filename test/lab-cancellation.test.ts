/**
 * The cancellation matrix: each client (netdial's Agent/HttpsAgent under node:http, got, axios and
 * node-fetch; global fetch through netdial's undici dispatcher) × each way a request is dropped while
 * netdial is still connecting — during DNS (the lab's DNS server drops the name's queries), during
 * connect (every address blackholed), during TLS (a server that accepts and never answers the
 * handshake), the client's own timeout option, an AbortSignal. Each request must end within a second of
 * its 300 ms cancellation with the error the client gives for it (Node's own agent alongside, as the
 * reference for node:http), leave no socket, timer or DNS request behind, and its process must exit
 * promptly afterwards: each client runs in a child process (test/support/cancel-client.ts), timed to
 * its exit.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { DEFAULT_ZONE, enterLab, LAB, withLab } from '../lab/index.js';
import type { CancelCase, CancelOutcome, ClientName } from './support/cancel-client.js';

const CHILD = fileURLToPath(new URL('./support/cancel-client.js', import.meta.url));
const CANCEL_MS = 300;
/** Generous: a cancelled request must not wait for anything of the dial's (its 10 s timeout). */
const SETTLE_BOUND_MS = 1000;
const EXIT_BOUND_MS = 1000;

const ZONE = {
  ...DEFAULT_ZONE,
  'silent-dns.lab.test': {
    A: [LAB.addresses.good.v4[0]],
    AAAA: [LAB.addresses.good.v6[0]],
    fail: { A: 'DROP', AAAA: 'DROP' },
  },
  'mute-tls.lab.test': { A: ['127.0.0.1'] },
} as const;

interface ChildRun {
  outcomes: Map<string, CancelOutcome>;
  /** ms from the `done` line to the process's exit. */
  exitMs: number;
  exitCode: number | null;
  stderr: string;
}

async function runClient(client: ClientName, cases: CancelCase[]): Promise<ChildRun> {
  const child = spawn(process.execPath, [CHILD, client, JSON.stringify(cases)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const outcomes = new Map<string, CancelOutcome>();
  let stderr = '';
  let doneAt: number | undefined;
  let buffered = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    buffered += s;
    let nl = buffered.indexOf('\n');
    while (nl !== -1) {
      const line = JSON.parse(buffered.slice(0, nl)) as CancelOutcome | { done: true };
      buffered = buffered.slice(nl + 1);
      if ('done' in line) doneAt = performance.now();
      else outcomes.set(line.id, line);
      nl = buffered.indexOf('\n');
    }
  });
  // Bounded: a child that hangs is killed (by its PID) after 60 s and the test fails on its exit time.
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const [exitCode] = (await once(child, 'exit')) as [number | null];
    const exitMs = doneAt === undefined ? Number.POSITIVE_INFINITY : performance.now() - doneAt;
    return { outcomes, exitMs, exitCode, stderr };
  } finally {
    clearTimeout(guard);
  }
}

/** What each client's error looks like for each way of cancelling: [name, code, cause's code]. */
type Expect = { name?: string; code?: string | undefined; causeCode?: string };

interface Row {
  client: ClientName;
  cases: Array<CancelCase & { expect: Expect }>;
}

const DNS = `http://silent-dns.lab.test:${LAB.ports.http}/`;
const CONNECT = `http://all-blackholed.lab.test:${LAB.ports.http}/`;
const CONNECT_TLS = `https://all-blackholed.lab.test/`;
/** A blackholed address as a literal: got starts timeout.connect at once for one (at 'lookup' for a name). */
const CONNECT_IP = `http://${LAB.addresses.blackholed.v4[0]}:${LAB.ports.http}/`;
const CONNECT_TLS_IP = `https://${LAB.addresses.blackholed.v4[0]}/`;

function rows(tlsPort: number): Row[] {
  const TLS = `https://mute-tls.lab.test:${tlsPort}/`;
  const c = (id: string, url: string, how: CancelCase['how'], expect: Expect) => ({
    id,
    url,
    how,
    afterMs: CANCEL_MS,
    expect,
  });
  const hangUp = { name: 'Error', code: 'ECONNRESET' };
  const abortErr = { name: 'AbortError', code: 'ABORT_ERR' };
  return [
    {
      // node:http with Node's own agent, as the reference for what the netdial agents must match.
      client: 'node-agent',
      cases: [
        c(
          'connect/destroy',
          `http://${LAB.addresses.blackholed.v4[0]}:${LAB.ports.http}/`,
          'destroy',
          hangUp,
        ),
        c('tls/destroy', TLS, 'destroy', hangUp),
        c(
          'connect/signal',
          `http://${LAB.addresses.blackholed.v4[0]}:${LAB.ports.http}/`,
          'signal',
          abortErr,
        ),
      ],
    },
    {
      client: 'agent',
      cases: [
        c('dns/destroy', DNS, 'destroy', hangUp),
        c('connect/destroy', CONNECT, 'destroy', hangUp),
        c('tls/destroy', TLS, 'destroy', hangUp),
        c('https-connect/destroy', CONNECT_TLS, 'destroy', hangUp),
        c('connect/timeout', CONNECT, 'timeout', {
          name: 'Error',
          code: 'ETIMEDOUT',
          causeCode: 'ETIMEDOUT',
        }),
        c('tls/timeout', TLS, 'timeout', { name: 'Error', code: 'ETIMEDOUT' }),
        c('dns/signal', DNS, 'signal', abortErr),
        c('connect/signal', CONNECT, 'signal', abortErr),
        c('tls/signal', TLS, 'signal', abortErr),
      ],
    },
    {
      // Global fetch (Node's bundled undici) through netdial's dispatcher: a fetch aborted before its
      // connection exists stops the dial at once (the dispatcher hands fetch an abort at dispatch), so
      // closing the dispatcher waits for nothing and the process exits (with undici's default 10 s
      // connectTimeout in force).
      client: 'fetch',
      cases: [
        c('dns/abort', DNS, 'signal', { name: 'AbortError' }),
        c('connect/abort', CONNECT, 'signal', { name: 'AbortError' }),
        c('https-connect/abort', CONNECT_TLS, 'signal', { name: 'AbortError' }),
        c('tls/abort', TLS, 'signal', { name: 'AbortError' }),
        c('dns/timeout', DNS, 'timeout', { name: 'TypeError', causeCode: 'UND_ERR_CONNECT_TIMEOUT' }),
        c('connect/timeout', CONNECT, 'timeout', { name: 'TypeError', causeCode: 'UND_ERR_CONNECT_TIMEOUT' }),
        c('tls/timeout', TLS, 'timeout', { name: 'TypeError', causeCode: 'UND_ERR_CONNECT_TIMEOUT' }),
      ],
    },
    {
      // undici.request with netdial's dispatcher: the request's signal reaches the dial.
      client: 'undici',
      cases: [
        c('dns/signal', DNS, 'signal', { name: 'AbortError' }),
        c('connect/signal', CONNECT, 'signal', { name: 'AbortError' }),
        c('tls/signal', TLS, 'signal', { name: 'AbortError' }),
        c('connect/timeout', CONNECT, 'timeout', {
          name: 'ConnectTimeoutError',
          code: 'UND_ERR_CONNECT_TIMEOUT',
        }),
      ],
    },
    {
      client: 'got',
      cases: [
        c('dns/cancel', DNS, 'destroy', { name: 'CancelError', code: 'ERR_CANCELED' }),
        c('connect/cancel', CONNECT, 'destroy', { name: 'CancelError', code: 'ERR_CANCELED' }),
        c('tls/cancel', TLS, 'destroy', { name: 'CancelError', code: 'ERR_CANCELED' }),
        c('dns/timeout', DNS, 'timeout', { name: 'TimeoutError', code: 'ETIMEDOUT' }),
        c('connect/timeout', CONNECT, 'timeout', { name: 'TimeoutError', code: 'ETIMEDOUT' }),
        c('tls/timeout', TLS, 'timeout', { name: 'TimeoutError', code: 'ETIMEDOUT' }),
        c('connect/signal', CONNECT, 'signal', { name: 'AbortError' }),
        // timeout.connect starts when the request gets its socket (the agent's connecting one) for an
        // IP literal, and at the socket's first 'lookup' for a name: both with Agent and HttpsAgent.
        c('connect/connect-timeout', CONNECT_IP, 'socket-timeout', {
          name: 'TimeoutError',
          code: 'ETIMEDOUT',
        }),
        c('https-connect/connect-timeout', CONNECT_TLS_IP, 'socket-timeout', {
          name: 'TimeoutError',
          code: 'ETIMEDOUT',
        }),
        c('connect/connect-timeout-name', CONNECT, 'socket-timeout', {
          name: 'TimeoutError',
          code: 'ETIMEDOUT',
        }),
        c('https-connect/connect-timeout-name', CONNECT_TLS, 'socket-timeout', {
          name: 'TimeoutError',
          code: 'ETIMEDOUT',
        }),
      ],
    },
    {
      client: 'axios',
      cases: [
        c('dns/abort', DNS, 'signal', { name: 'CanceledError', code: 'ERR_CANCELED' }),
        c('connect/abort', CONNECT, 'signal', { name: 'CanceledError', code: 'ERR_CANCELED' }),
        c('tls/abort', TLS, 'signal', { name: 'CanceledError', code: 'ERR_CANCELED' }),
        c('dns/timeout', DNS, 'timeout', { name: 'AxiosError', code: 'ECONNABORTED' }),
        c('connect/timeout', CONNECT, 'timeout', { name: 'AxiosError', code: 'ECONNABORTED' }),
        c('tls/timeout', TLS, 'timeout', { name: 'AxiosError', code: 'ECONNABORTED' }),
        // Redirects on (axios's default): follow-redirects' timer starts when the request gets its socket.
        c('connect/timeout-redirects', CONNECT, 'socket-timeout', {
          name: 'AxiosError',
          code: 'ECONNABORTED',
        }),
        c('https-connect/timeout-redirects', CONNECT_TLS, 'socket-timeout', {
          name: 'AxiosError',
          code: 'ECONNABORTED',
        }),
        c('tls/timeout-redirects', TLS, 'socket-timeout', { name: 'AxiosError', code: 'ECONNABORTED' }),
      ],
    },
    {
      client: 'node-fetch',
      cases: [
        c('dns/abort', DNS, 'signal', { name: 'AbortError' }),
        c('connect/abort', CONNECT, 'signal', { name: 'AbortError' }),
        c('tls/abort', TLS, 'signal', { name: 'AbortError' }),
        c('connect/timeout', CONNECT, 'timeout', { name: 'AbortError' }),
      ],
    },
  ];
}

if (await enterLab(import.meta.url)) {
  test('cancellation matrix: every client ends at once, as it says, and leaves nothing running', async (t) => {
    await withLab(ZONE, async () => {
      // Accepts TCP and never says a word: a TLS handshake to it never finishes.
      const held = new Set<net.Socket>();
      const mute = net.createServer((s) => {
        held.add(s);
        s.on('close', () => held.delete(s));
      });
      mute.listen(0, '127.0.0.1');
      await once(mute, 'listening');
      const tlsPort = (mute.address() as net.AddressInfo).port;
      try {
        for (const row of rows(tlsPort)) {
          const run = await runClient(row.client, row.cases);
          await t.test(row.client, async (t2) => {
            for (const c of row.cases) {
              await t2.test(c.id, () => {
                const o = run.outcomes.get(c.id);
                assert.ok(o, `no outcome for ${row.client} ${c.id}; stderr: ${run.stderr}`);
                console.log(`# ${row.client} ${c.id}: ${JSON.stringify(o)}`);
                assert.ok(
                  o.ms >= CANCEL_MS - 20 && o.ms < SETTLE_BOUND_MS,
                  `${row.client} ${c.id} ended after ${o.ms.toFixed(0)} ms`,
                );
                if (c.expect.name !== undefined) assert.equal(o.name, c.expect.name, o.message);
                if ('code' in c.expect) assert.equal(o.code, c.expect.code, o.message);
                if (c.expect.causeCode !== undefined)
                  assert.equal(o.causeCode, c.expect.causeCode, o.message);
                assert.ok(
                  o.cleanupMs < SETTLE_BOUND_MS,
                  `closing ${row.client}'s agent/dispatcher took ${o.cleanupMs.toFixed(0)} ms`,
                );
                assert.deepEqual(o.leftover, [], `${row.client} ${c.id} left resources behind`);
              });
            }
            await t2.test('the process exits promptly', () => {
              assert.equal(run.exitCode, 0, run.stderr);
              assert.ok(
                run.exitMs < EXIT_BOUND_MS,
                `${row.client}'s process exited ${run.exitMs.toFixed(0)} ms after its last request`,
              );
            });
          });
        }
      } finally {
        for (const s of held) s.destroy();
        mute.close();
      }
    });
  });
}
