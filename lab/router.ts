/**
 * The router process. Started by the lab as `unshare --net node router.js '<sysctls json>'`, so it is the
 * process that holds the router network namespace: it writes that namespace's sysctls, runs its `ip`
 * batch, serves the TCP listeners on the `good` addresses and reports accepted connections. It exits when
 * the lab disconnects and is otherwise killed by PID (SIGKILL) at teardown.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type {
  IpBatch,
  ListenerSpec,
  RouterReply,
  RouterRequest,
  RouterTlsMaterial,
  ServerConnection,
  Sysctl,
} from './router-protocol.js';

const connections: ServerConnection[] = [];

function send(reply: RouterReply): void {
  process.send?.(reply);
}

function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

function track(kind: ListenerSpec['kind'], socket: net.Socket): void {
  const entry: ServerConnection = {
    kind,
    localAddress: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
    remoteAddress: socket.remoteAddress ?? '',
    remotePort: socket.remotePort ?? 0,
    acceptedAtEpochMs: epochNow(),
    closedAtEpochMs: undefined,
    bytesRead: 0,
  };
  connections.push(entry);
  socket.on('close', () => {
    entry.closedAtEpochMs = epochNow();
    entry.bytesRead = socket.bytesRead;
  });
  socket.on('error', () => socket.destroy());
}

/** Every request: `200`, body `<server address>\n`, header `x-lab-server` (http and https listeners). */
function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
  const address = req.socket.localAddress ?? '';
  const body = `${address}\n`;
  res.writeHead(200, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-lab-server': address,
  });
  res.end(body);
}

function createListener(spec: ListenerSpec, tls: RouterTlsMaterial | undefined): net.Server {
  const kind = spec.kind;
  if (kind === 'http' || kind === 'https' || kind === 'tls-wrong-name') {
    let server: http.Server | https.Server;
    if (kind === 'http') server = http.createServer(answer);
    else {
      if (tls === undefined) throw new Error(`${kind} listener without TLS material`);
      const wrong = kind === 'tls-wrong-name';
      server = https.createServer(
        {
          key: wrong ? tls.wrongNameKey : tls.key,
          cert: wrong ? tls.wrongNameCert : tls.cert,
          ALPNProtocols: ['http/1.1'],
        },
        answer,
      );
      // A client that rejects the certificate aborts the handshake: nothing to report here.
      server.on('tlsClientError', () => {});
    }
    server.on('connection', (socket: net.Socket) => track(kind, socket));
    return server;
  }
  return net.createServer((socket) => {
    track(kind, socket);
    if (kind === 'echo') socket.pipe(socket);
    // Reads the ClientHello, then RST: a reset in the middle of the client's handshake.
    else if (kind === 'tls-reset') socket.once('data', () => socket.resetAndDestroy());
    // discard and tls-stall: read everything, never write.
    else socket.resume();
  });
}

/**
 * Listens on `spec`. A new IPv6 address can still be tentative for a moment after `ip addr add` (the
 * kernel finishes it from a work queue, late on a loaded machine), and bind() then fails with
 * EADDRNOTAVAIL: retried every 20 ms, at most 50 times (1 s), before that counts as a failure.
 */
async function listen(spec: ListenerSpec, tls: RouterTlsMaterial | undefined): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      await listenOnce(spec, tls);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRNOTAVAIL' || tries >= 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

function listenOnce(spec: ListenerSpec, tls: RouterTlsMaterial | undefined): Promise<void> {
  const server = createListener(spec, tls);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: spec.address, port: spec.port, ipv6Only: net.isIPv6(spec.address) }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function runIpBatch(batch: IpBatch): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', [...batch.familyArgs, '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`router ip -batch exited ${code}: ${stderr.trim()}`));
    });
    child.stdin.end(batch.text);
  });
}

async function configure(
  ipBatches: IpBatch[],
  listeners: ListenerSpec[],
  tls: RouterTlsMaterial | undefined,
): Promise<void> {
  for (const batch of ipBatches) await runIpBatch(batch);
  await Promise.all(listeners.map((spec) => listen(spec, tls)));
}

function main(): void {
  const sysctls = JSON.parse(process.argv[2] ?? '[]') as Sysctl[];
  for (const [path, value] of sysctls) writeFileSync(`/proc/sys/${path}`, value);
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: RouterRequest) => {
    switch (message.type) {
      case 'configure':
        configure(message.ipBatches, message.listeners, message.tls).then(
          () => send({ type: 'configured' }),
          (error: Error) => send({ type: 'error', message: error.message }),
        );
        break;
      case 'connections':
        send({ type: 'connections', id: message.id, connections });
        break;
      case 'reset-connections':
        connections.length = 0;
        break;
    }
  });
  send({ type: 'hello' });
}

main();
