/**
 * Child process of the createConnection cancellation matrix: one client (http, ws or pg) connects to
 * `host` through netdial's createConnection / DialSocket (impl 'netdial') or Node's own net (impl 'node'),
 * is cancelled the client's own way, and prints one JSON line — how long after the cancellation the
 * client gave up, with which error, and which socket events — then returns without `process.exit`: the
 * parent times how long the process takes to exit by itself (nothing may keep it alive).
 *
 * argv[2] is JSON: { client, impl, host, port, cancel: 'destroy' | 'timeout', afterMs }.
 * - destroy: http `req.destroy()`, ws `terminate()`, pg `connection.stream.destroy()` (what pg does on
 *   its own timeout: pg has no public cancel while connecting), `afterMs` after the start;
 * - timeout: http `timeout` option (+ `req.destroy()` on 'timeout', as http asks), ws
 *   `handshakeTimeout`, pg `connectionTimeoutMillis`, all of `afterMs`.
 * Run as a test file by `node --test dist/test/` (no argument): does nothing.
 */
import http from 'node:http';
import net from 'node:net';
import pg from 'pg';
import { WebSocket } from 'ws';
import { Dialer } from '../../src/index.js';
import { bindCreateConnection, DialSocket } from '../../src/integrations/create-connection.js';

interface Row {
  client: 'http' | 'ws' | 'pg';
  impl: 'netdial' | 'node';
  host: string;
  port: number;
  cancel: 'destroy' | 'timeout';
  afterMs: number;
}

export interface ChildResult {
  /** ms from the cancellation (the call, or the moment the timeout was due) to the client giving up. */
  ms: number;
  code: string | undefined;
  message: string;
  /** 'close' seen on the underlying socket / DialSocket. */
  socketClosed: boolean;
}

async function run(row: Row): Promise<ChildResult> {
  // No memory: each child dials from nothing; the system resolver is not used (the lab's DNS is).
  const dialer = new Dialer({ memory: false, resolver: 'dns' });
  const createConnection = bindCreateConnection({ dialer });
  const started = performance.now();
  let cancelledAt = started + row.afterMs;
  let socket: { on(e: string, f: () => void): unknown } | undefined;
  let socketClosed = false;
  const watch = (s: { on(e: string, f: () => void): unknown }) => {
    socket = s;
    s.on('close', () => {
      socketClosed = true;
    });
  };
  const cancelLater = (fn: () => void) => {
    const t = setTimeout(() => {
      cancelledAt = performance.now();
      fn();
    }, row.afterMs);
    return () => clearTimeout(t);
  };
  const err = await new Promise<Error & { code?: string }>((resolve) => {
    if (row.client === 'http') {
      // http's `timeout` option is the socket's (it runs while connecting); req.setTimeout waits for
      // 'connect' and so cannot bound a connect.
      const req = http.get(
        {
          host: row.host,
          port: row.port,
          path: '/',
          ...(row.impl === 'netdial' ? { createConnection } : { agent: false }),
          ...(row.cancel === 'timeout' ? { timeout: row.afterMs } : {}),
        },
        () => resolve(new Error('unexpected response')),
      );
      req.on('socket', (s) => watch(s));
      req.on('error', (e) => resolve(e));
      if (row.cancel === 'destroy') cancelLater(() => req.destroy());
      else req.on('timeout', () => req.destroy());
    } else if (row.client === 'ws') {
      const hook = row.impl === 'netdial' ? createConnection : net.createConnection;
      const ws = new WebSocket(`ws://${row.host}:${row.port}/`, {
        createConnection: ((...args: Parameters<typeof net.createConnection>) => {
          const s = (hook as typeof net.createConnection)(...args);
          watch(s);
          return s;
        }) as typeof net.createConnection,
        ...(row.cancel === 'timeout' ? { handshakeTimeout: row.afterMs } : {}),
      });
      ws.on('error', (e) => resolve(e));
      ws.on('open', () => resolve(new Error('unexpected open')));
      if (row.cancel === 'destroy') cancelLater(() => ws.terminate());
    } else {
      const client = new pg.Client({
        host: row.host,
        port: row.port,
        user: 'netdial',
        ...(row.impl === 'netdial'
          ? {
              stream: () => {
                const s = new DialSocket({ dialer });
                watch(s);
                return s;
              },
            }
          : {}),
        ...(row.cancel === 'timeout' ? { connectionTimeoutMillis: row.afterMs } : {}),
      });
      client.connect().then(
        () => resolve(new Error('unexpected connect')),
        (e: Error) => resolve(e),
      );
      const stream = (client as unknown as { connection: { stream: net.Socket } }).connection.stream;
      if (row.impl === 'node') watch(stream);
      // pg has no cancel of its own for a connect in progress (client.end() waits for the connection);
      // what it does itself on its timeout — and what a caller can do — is destroy the stream.
      if (row.cancel === 'destroy') cancelLater(() => stream.destroy());
    }
  });
  const ms = performance.now() - cancelledAt;
  // Give a close that is due a moment to land before reporting it.
  if (socket && !socketClosed) await new Promise((r) => setTimeout(r, 20));
  return { ms, code: err.code, message: err.message, socketClosed };
}

if (process.argv[2] !== undefined) {
  const row = JSON.parse(process.argv[2]) as Row;
  const result = await run(row);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
