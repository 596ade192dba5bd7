/**
 * Servers and sockets that a failing test cannot leave open. `server.close()` only stops listening: the
 * connections it accepted (and the client sockets on their other end) keep the process alive, so a test
 * that fails before closing its socket would hang the file. `closeServer` ends them too.
 */
import { once } from 'node:events';
import type net from 'node:net';
import { readFileSync } from 'node:fs';

const accepted = new WeakMap<net.Server, Set<net.Socket>>();

/** Remembers every connection `server` accepts, so `closeServer` can end them. */
export function trackConnections<S extends net.Server>(server: S): S {
  const sockets = new Set<net.Socket>();
  accepted.set(server, sockets);
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  return server;
}

/** Listens on `host` (port 0: any free one) and returns the port. */
export async function listen(server: net.Server, host: string, port = 0): Promise<number> {
  server.listen(port, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** Stops listening, destroys every tracked connection, and waits for the server to close. */
export async function closeServer(server: net.Server): Promise<void> {
  for (const s of accepted.get(server) ?? []) s.destroy();
  const maybeHttp = server as net.Server & { closeAllConnections?: () => void };
  maybeHttp.closeAllConnections?.();
  if (!server.listening) return;
  const closed = once(server, 'close');
  server.close();
  await closed;
}

/** Destroys `socket` (if it is not already) and waits for its 'close'. */
export async function closeSocket(socket: net.Socket | undefined): Promise<void> {
  if (socket === undefined || socket.closed) return;
  const closed = once(socket, 'close');
  socket.destroy();
  await closed;
}

/** `127.0.0.2` -> `0200007F` (how /proc/net/tcp writes an IPv4 address). */
function procAddress(host: string, port: number): string {
  const hex = host
    .split('.')
    .map((b) => Number(b).toString(16).padStart(2, '0'))
    .reverse()
    .join('');
  return `${hex}:${port.toString(16).padStart(4, '0')}`.toUpperCase();
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
};

/**
 * The states of this network namespace's IPv4 TCP sockets whose remote end is `host:port`, as the kernel
 * lists them in /proc/net/tcp (e.g. `['SYN_SENT']` for a connect still waiting for an answer).
 */
export function kernelSocketsTo(host: string, port: number): string[] {
  const remote = procAddress(host, port);
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[2] === remote)
    .map((cols) => TCP_STATES[cols[3] ?? ''] ?? `state ${cols[3]}`);
}

/** Counts the connections `server` accepted and the ones closed since (reset the fields to start again). */
export function countConnections(server: net.Server): { accepted: number; closed: number } {
  const c = { accepted: 0, closed: 0 };
  server.on('connection', (s: net.Socket) => {
    c.accepted++;
    s.on('close', () => c.closed++);
  });
  return c;
}

/** Waits until `check()` holds, polling every 10 ms for at most 2 s; then asserts it, saying `what`. */
export async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`not within 2 s: ${what}`);
}
