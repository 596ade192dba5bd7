/**
 * Netcat mode's data copy: stdin to the socket, the socket to stdout, until either side is done. End of
 * stdin half-closes the connection (FIN) and the copy goes on until the server closes its side; when the
 * server closes, the output ends and so does the copy (stdin is abandoned, as nc does).
 */
import type * as net from 'node:net';

/** How the copy ended. */
export type PipeEnd =
  | { kind: 'closed' }
  | { kind: 'idle'; idleMs: number }
  | { kind: 'error'; error: NodeJS.ErrnoException }
  | { kind: 'aborted' };

/**
 * Copies until the connection ends; never rejects. The socket is destroyed when it resolves. With
 * `idleTimeoutMs`, a connection with no traffic either way for that long ends the copy (nc's -w).
 */
export function pipeSocket(
  socket: net.Socket,
  stdin: NodeJS.ReadableStream & { destroy?: () => void },
  stdout: NodeJS.WritableStream,
  signal: AbortSignal,
  idleTimeoutMs?: number,
): Promise<PipeEnd> {
  return new Promise<PipeEnd>((resolve) => {
    let settled = false;
    const finish = (end: PipeEnd) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket.setTimeout(0);
      socket.removeListener('timeout', onIdle);
      stdin.unpipe(socket);
      stdin.pause();
      socket.unpipe(stdout);
      socket.destroy();
      resolve(end);
    };
    const onAbort = () => finish({ kind: 'aborted' });
    const onIdle = () => finish({ kind: 'idle', idleMs: idleTimeoutMs ?? 0 });
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });

    if (idleTimeoutMs !== undefined && Number.isFinite(idleTimeoutMs) && idleTimeoutMs > 0) {
      // Socket inactivity counts reads and writes, as nc's poll() does.
      socket.setTimeout(idleTimeoutMs);
      socket.on('timeout', onIdle);
    }
    socket.pipe(stdout, { end: false });
    // Half-close: pipe() calls socket.end() when stdin ends; the server's answer still arrives.
    stdin.pipe(socket);
    socket.once('end', () => {
      // The server is done sending: let stdout take the last bytes, then stop.
      stdin.unpipe(socket);
      stdout.write('', () => finish({ kind: 'closed' }));
    });
    socket.once('error', (error: NodeJS.ErrnoException) => finish({ kind: 'error', error }));
    socket.once('close', () => {
      if (!settled) stdout.write('', () => finish({ kind: 'closed' }));
    });
    stdout.on('error', (error: NodeJS.ErrnoException) => {
      // Reader of our output went away (EPIPE): nothing more to do.
      finish(error.code === 'EPIPE' ? { kind: 'closed' } : { kind: 'error', error });
    });
  });
}
