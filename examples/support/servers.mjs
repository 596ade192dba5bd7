// Local servers for the examples: everything listens on 127.0.0.1 only, on a free port, and the
// examples reach it as `localhost` — a name, so netdial resolves and races (::1 is refused, 127.0.0.1
// answers). Not part of netdial; just enough of each protocol for the examples to run anywhere.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function listen(server) {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return {
    port,
    close: () => {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** An HTTP server that answers every request with a line about it. */
export async function startHttpServer() {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`hello from ${req.headers.host}, you came from ${req.socket.remoteAddress}\n`);
  });
  const s = await listen(server);
  return { ...s, server, url: `http://localhost:${s.port}` };
}

/** A self-signed certificate for localhost (openssl CLI), and an HTTPS server that uses it. */
export async function startHttpsServer() {
  const dir = mkdtempSync(join(tmpdir(), 'netdial-example-'));
  let key;
  let cert;
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      ],
      { stdio: 'ignore' },
    );
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const server = https.createServer({ key, cert }, (req, res) => {
    res.end(
      `hello over ${req.socket.getProtocol()}, SNI ${req.socket.servername}, resumed ${req.socket.isSessionReused()}\n`,
    );
  });
  const s = await listen(server);
  return { ...s, server, url: `https://localhost:${s.port}`, ca: cert };
}

/** Just enough RESP (the Redis protocol) for ioredis: PING, INFO (its ready check), SET, GET, QUIT. */
export async function startFakeRedis() {
  const data = new Map();
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk;
      // Requests are arrays of bulk strings: *N\r\n$len\r\narg\r\n...
      for (;;) {
        const lines = buffer.split('\r\n');
        const count = Number(lines[0]?.slice(1));
        if (!lines[0]?.startsWith('*') || lines.length < 1 + 2 * count + 1) return;
        const args = [];
        for (let i = 0; i < count; i++) args.push(lines[2 + 2 * i]);
        buffer = lines.slice(1 + 2 * count).join('\r\n');
        const [command, ...rest] = args;
        const bulk = (s) => (s === undefined ? '$-1\r\n' : `$${Buffer.byteLength(s)}\r\n${s}\r\n`);
        switch (command.toUpperCase()) {
          case 'PING':
            socket.write('+PONG\r\n');
            break;
          case 'INFO':
            socket.write(bulk('# Server\r\nredis_version:7.2.0\r\nloading:0\r\n'));
            break;
          case 'SET':
            data.set(rest[0], rest[1]);
            socket.write('+OK\r\n');
            break;
          case 'GET':
            socket.write(bulk(data.get(rest[0])));
            break;
          case 'QUIT':
            socket.end('+OK\r\n');
            break;
          default:
            socket.write(`-ERR unknown command '${command}'\r\n`);
        }
      }
    });
  });
  return listen(server);
}

/** Just enough of the PostgreSQL protocol for pg: trust auth, and any query answers one row "netdial". */
export async function startFakePostgres() {
  const message = (type, body) => {
    const head = Buffer.alloc(5);
    head.write(type, 0);
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  const int32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const int16 = (n) => {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    return b;
  };
  const cstr = (s) => Buffer.from(`${s}\0`);
  const ready = message('Z', Buffer.from('I'));
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let started = false;
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 4 || buffer.length < buffer.readInt32BE(0)) return;
          buffer = buffer.subarray(buffer.readInt32BE(0));
          started = true;
          socket.write(
            Buffer.concat([
              message('R', int32(0)),
              message('S', Buffer.concat([cstr('server_version'), cstr('16.0')])),
              ready,
            ]),
          );
          continue;
        }
        if (buffer.length < 5 || buffer.length < 1 + buffer.readInt32BE(1)) return;
        const type = String.fromCharCode(buffer[0]);
        buffer = buffer.subarray(1 + buffer.readInt32BE(1));
        if (type === 'X') return void socket.end();
        if (type !== 'Q') continue;
        const field = Buffer.concat([
          cstr('greeting'),
          int32(0),
          int16(0),
          int32(25),
          int16(-1),
          int32(-1),
          int16(0),
        ]);
        socket.write(
          Buffer.concat([
            message('T', Buffer.concat([int16(1), field])),
            message('D', Buffer.concat([int16(1), int32(7), Buffer.from('netdial')])),
            message('C', cstr('SELECT 1')),
            ready,
          ]),
        );
      }
    });
  });
  return listen(server);
}
