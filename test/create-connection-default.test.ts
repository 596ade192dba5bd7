/**
 * The package's default `createConnection` hook (bound on its first call, not at import: issue 16) dials
 * with the default Dialer, as `bindCreateConnection()` does: an http request to a loopback server through it.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { getReport } from '../src/report.js';
import { createConnection, DialSocket } from '../src/integrations/create-connection.js';

test('the default createConnection hook dials on first use, with the default Dialer', async (t) => {
  const server = http.createServer((q, s) => s.end(`hello ${q.url}`));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  for (const path of ['/one', '/two']) {
    const { text, socket } = await new Promise<{ text: string; socket: unknown }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path, createConnection }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ text, socket: res.socket }));
      });
      req.on('error', reject);
    });
    assert.equal(text, `hello ${path}`);
    assert.ok(
      socket instanceof DialSocket,
      `the request ran on a netdial DialSocket, not ${(socket as object)?.constructor?.name}`,
    );
    assert.equal(getReport(socket as never)?.winner?.address, '127.0.0.1');
  }
});
