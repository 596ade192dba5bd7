/**
 * The tunnel handshake on a connection to the proxy: HTTP CONNECT or SOCKS5, carried out on a real
 * socket. The decisions (request bytes, response parsing, reply meanings) are in http-connect.ts and
 * socks5.ts; this shell reads and writes, bounds the wait, and hands the socket over with any bytes that
 * came after the proxy's answer put back in front of the stream (they belong to the tunnel).
 */
import type * as net from 'node:net';
import { ConnectResponseReader, connectRequest, isConnectSuccess } from './http-connect.js';
import type { ProxySpec } from './proxy-option.js';
import { Socks5Handshake, type Socks5Step, socksReplyCode } from './socks5.js';

/** Why a tunnel could not be opened: a stable code, the proxy's HTTP status or SOCKS reply when it gave one. */
export class TunnelError extends Error {
  readonly code: string;
  readonly statusCode: number | undefined;
  readonly socksReply: number | undefined;
  constructor(code: string, message: string, extra: { statusCode?: number; socksReply?: number } = {}) {
    super(message);
    this.name = 'TunnelError';
    this.code = code;
    this.statusCode = extra.statusCode;
    this.socksReply = extra.socksReply;
  }
}

/** The outcome of a handshake, for the report. */
export interface TunnelOutcome {
  statusCode?: number | undefined;
}

/**
 * Asks the proxy on `socket` for a tunnel to `host:port` (an IP literal, or a name the proxy resolves).
 * Resolves with the same socket, positioned at the tunnel's first byte, and not flowing (as a fresh
 * socket is). Rejects with a TunnelError; `cancel` (the returned function) and `timeoutMs` end the wait
 * with ECANCELED / ETIMEDOUT. The socket is never destroyed here: the caller owns it.
 */
export function openTunnel(
  socket: net.Socket,
  spec: ProxySpec,
  host: string,
  port: number,
  timeoutMs: number,
): { done: Promise<TunnelOutcome>; cancel: () => void } {
  let cancel: () => void = () => {};
  const done = new Promise<TunnelOutcome>((resolve, reject) => {
    let settled = false;
    const finish = (err: TunnelError | undefined, outcome?: TunnelOutcome, rest?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('readable', onReadable);
      socket.removeListener('error', onError);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onEnd);
      if (err) {
        reject(err);
        return;
      }
      // Bytes the proxy sent after its answer are the tunnel's: put back in front of the stream.
      if (rest !== undefined && rest.length > 0) socket.unshift(rest);
      resolve(outcome ?? {});
    };
    const timer = setTimeout(
      () =>
        finish(
          new TunnelError(
            'ETIMEDOUT',
            `the proxy ${spec.display} did not answer the ${spec.protocol.startsWith('socks') ? 'SOCKS5' : 'CONNECT'} request in time`,
          ),
        ),
      Math.max(1, Math.min(timeoutMs, 2 ** 31 - 1)),
    );
    const onError = (err: NodeJS.ErrnoException) =>
      finish(new TunnelError(err.code ?? 'ECONNRESET', `the connection to the proxy failed: ${err.message}`));
    const onEnd = () =>
      finish(
        new TunnelError('ECONNRESET', `the proxy ${spec.display} closed the connection during the handshake`),
      );
    cancel = () => finish(new TunnelError('ECANCELED', 'cancelled'));

    let onChunk: (chunk: Buffer) => boolean;
    if (spec.protocol === 'socks5' || spec.protocol === 'socks5h') {
      const handshake = new Socks5Handshake(host, port, spec);
      const apply = (step: Socks5Step): boolean => {
        switch (step.type) {
          case 'more':
            return false;
          case 'send':
            socket.write(step.data);
            return handshake.pending ? apply(handshake.push(Buffer.alloc(0))) : false;
          case 'done':
            finish(undefined, {}, step.rest);
            return true;
          case 'failed': {
            const code = step.reply === undefined ? 'ERR_NETDIAL_PROXY' : socksReplyCode(step.reply);
            finish(
              new TunnelError(
                code,
                step.reply === undefined ? step.message : `${step.message} (SOCKS reply ${step.reply})`,
                step.reply === undefined ? {} : { socksReply: step.reply },
              ),
            );
            return true;
          }
        }
      };
      onChunk = (chunk) => apply(handshake.push(chunk));
      socket.write(handshake.start());
    } else {
      const reader = new ConnectResponseReader();
      onChunk = (chunk) => {
        const r = reader.push(chunk);
        if (r.type === 'more') return false;
        if (r.type === 'invalid') {
          finish(new TunnelError('ERR_NETDIAL_PROXY', r.message));
          return true;
        }
        if (!isConnectSuccess(r.statusCode)) {
          // 407 asks for credentials; some proxies (tinyproxy) answer wrong ones with 401.
          const auth =
            r.statusCode === 407 && spec.username === undefined
              ? ' (proxy authentication required; the proxy URL has no credentials)'
              : (r.statusCode === 407 || r.statusCode === 401) && spec.username !== undefined
                ? ' (the proxy refused the credentials)'
                : '';
          finish(
            new TunnelError(
              'ERR_NETDIAL_PROXY',
              `the proxy ${spec.display} answered CONNECT with ${r.statusCode}${r.reason ? ` ${r.reason}` : ''}${auth}`,
              { statusCode: r.statusCode },
            ),
          );
          return true;
        }
        finish(undefined, { statusCode: r.statusCode }, r.rest);
        return true;
      };
      socket.write(connectRequest(host, port, spec));
    }
    // 'readable' rather than 'data': removing the last 'readable' listener leaves the stream as a fresh
    // one (not flowing, not paused), so whoever takes the tunnel reads it as they would any socket.
    const onReadable = () => {
      while (!settled) {
        const chunk = socket.read() as Buffer | null;
        if (chunk === null || onChunk(chunk)) return;
      }
    };
    socket.on('readable', onReadable);
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  });
  return { done, cancel };
}
