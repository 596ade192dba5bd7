/**
 * HTTP CONNECT (RFC 9110 §9.3.6) as pure functions: the request bytes, and a bounded reader of the
 * proxy's response that hands back every byte after the header block untouched (they belong to the
 * tunnel: a proxy may send them in the same segment as its `200`).
 */

/** Most bytes of a CONNECT response header block read before giving up (no unbounded buffering). */
export const MAX_CONNECT_RESPONSE_BYTES = 16 * 1024;

/** `host:port` as a request target: an IPv6 literal in brackets (RFC 9110 §7.2, RFC 3986 §3.2.2). */
export function authorityOf(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The CONNECT request for `host:port`, with `Proxy-Authorization: Basic` (RFC 7617) when the proxy URL
 * carried a user name. The Host header repeats the request target, as RFC 9110 §7.2 asks.
 */
export function connectRequest(
  host: string,
  port: number,
  credentials?: { username: string | undefined; password: string | undefined },
): string {
  const authority = authorityOf(host, port);
  let text = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (credentials?.username !== undefined) {
    const token = Buffer.from(`${credentials.username}:${credentials.password ?? ''}`, 'utf8').toString(
      'base64',
    );
    text += `Proxy-Authorization: Basic ${token}\r\n`;
  }
  return `${text}\r\n`;
}

export type ConnectResponse =
  | { type: 'more' }
  | {
      type: 'done';
      statusCode: number;
      reason: string;
      /** Bytes after the header block: the start of the tunnel's data. */
      rest: Buffer;
    }
  | { type: 'invalid'; message: string };

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Reads a CONNECT response as it arrives. `push` each chunk; it answers 'more' until the header block
 * is complete, then 'done' with the status and the tunnel's first bytes, or 'invalid' for a response
 * that is not HTTP/1.x or longer than MAX_CONNECT_RESPONSE_BYTES.
 */
export class ConnectResponseReader {
  #buffered: Buffer = Buffer.alloc(0);
  readonly #maxBytes: number;

  constructor(maxBytes = MAX_CONNECT_RESPONSE_BYTES) {
    this.#maxBytes = maxBytes;
  }

  push(chunk: Buffer): ConnectResponse {
    // Search from 3 bytes before the new chunk, so a CRLFCRLF split across chunks is found.
    const from = Math.max(0, this.#buffered.length - 3);
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const end = this.#buffered.indexOf(CRLFCRLF, from);
    if (end < 0 || end + 4 > this.#maxBytes) {
      if (this.#buffered.length > this.#maxBytes || end >= 0) {
        return {
          type: 'invalid',
          message: `the proxy's response header is longer than ${this.#maxBytes} bytes`,
        };
      }
      if (this.#buffered.length >= 8 && !this.#buffered.subarray(0, 5).equals(Buffer.from('HTTP/'))) {
        return { type: 'invalid', message: 'the proxy did not answer with HTTP' };
      }
      return { type: 'more' };
    }
    const head = this.#buffered.subarray(0, end).toString('latin1');
    const rest = this.#buffered.subarray(end + 4);
    this.#buffered = Buffer.alloc(0);
    const lineEnd = head.indexOf('\r\n');
    const statusLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
    const m = /^HTTP\/1\.[01] ([1-5]\d\d)(?: ([^\r\n]*))?$/.exec(statusLine);
    if (m === null) {
      return {
        type: 'invalid',
        message: `the proxy's status line is not HTTP/1.x: ${JSON.stringify(statusLine.slice(0, 80))}`,
      };
    }
    return { type: 'done', statusCode: Number(m[1]), reason: (m[2] ?? '').slice(0, 200), rest };
  }
}

/** A successful CONNECT: any 2xx (RFC 9110 §9.3.6). */
export function isConnectSuccess(statusCode: number): boolean {
  return statusCode >= 200 && statusCode < 300;
}
