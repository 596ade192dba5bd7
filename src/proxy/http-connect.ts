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

const LF = 0x0a;
const CR = 0x0d;
const HTTP_PREFIX = Buffer.from('HTTP/');
const STATUS_LINE = /^HTTP\/1\.[01] ([1-5]\d\d)(?: ([^\r\n]*))?$/;

/**
 * Where the header block of `buf` ends (the index after its empty line), or -1. Lines end with CRLF or,
 * as RFC 9112 §2.2 lets a recipient accept, a bare LF (a CR before it is ignored): the empty line is an
 * LF followed by LF or CRLF. `from`: where to start looking (an LF found earlier was not the end).
 */
function headerEnd(buf: Buffer, from: number): number {
  let i = buf.indexOf(LF, from);
  while (i >= 0) {
    if (buf[i + 1] === LF) return i + 2;
    if (buf[i + 1] === CR && buf[i + 2] === LF) return i + 3;
    i = buf.indexOf(LF, i + 1);
  }
  return -1;
}

/**
 * Reads a CONNECT response as it arrives. `push` each chunk; it answers 'more' until the header block
 * of the final response is complete, then 'done' with the status and the tunnel's first bytes, or
 * 'invalid' for a response that is not HTTP/1.x or whose header blocks together pass `maxBytes`.
 * Interim 1xx responses before the final one are read and skipped (RFC 9110 §15.2: a client must parse
 * them) — except 101 Switching Protocols, which makes no sense for CONNECT and ends it as a refusal.
 * A status line that is not HTTP/1.x is refused as soon as its line ends (no waiting for more bytes).
 */
export class ConnectResponseReader {
  #buffered: Buffer = Buffer.alloc(0);
  readonly #maxBytes: number;
  /** Bytes of interim (1xx) header blocks already read and dropped: they count against the bound. */
  #interimBytes = 0;
  /** Where to resume looking for the end of the header block. */
  #scanFrom = 0;

  constructor(maxBytes = MAX_CONNECT_RESPONSE_BYTES) {
    this.#maxBytes = maxBytes;
  }

  push(chunk: Buffer): ConnectResponse {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    for (;;) {
      const buf = this.#buffered;
      const limit = this.#maxBytes - this.#interimBytes;
      const firstLf = buf.indexOf(LF);
      if (firstLf >= 0 || buf.length >= 8) {
        const prefix = buf.subarray(0, Math.min(HTTP_PREFIX.length, buf.length));
        if (!prefix.equals(HTTP_PREFIX.subarray(0, prefix.length))) {
          return { type: 'invalid', message: 'the proxy did not answer with HTTP' };
        }
      }
      if (firstLf >= 0) {
        const line = statusLineOf(buf, firstLf);
        if (STATUS_LINE.exec(line) === null) return notHttp1(line);
      }
      const end = headerEnd(buf, this.#scanFrom);
      if (end < 0 || end > limit) {
        if (buf.length > limit || end >= 0) {
          return {
            type: 'invalid',
            message: `the proxy's response header is longer than ${this.#maxBytes} bytes`,
          };
        }
        // The next search starts where an unfinished empty line could begin (LF, CR, LF).
        this.#scanFrom = Math.max(0, buf.length - 2);
        return { type: 'more' };
      }
      const line = statusLineOf(buf, firstLf);
      const m = STATUS_LINE.exec(line)!;
      const statusCode = Number(m[1]);
      const rest = buf.subarray(end);
      this.#scanFrom = 0;
      if (statusCode >= 100 && statusCode < 200 && statusCode !== 101) {
        // Interim: skip it, the final response follows (possibly in the same chunk).
        this.#interimBytes += end;
        this.#buffered = rest;
        if (rest.length === 0) return { type: 'more' };
        continue;
      }
      this.#buffered = Buffer.alloc(0);
      return { type: 'done', statusCode, reason: (m[2] ?? '').slice(0, 200), rest };
    }
  }
}

/** The status line ending at the LF at `lf`, without its CR. */
function statusLineOf(buf: Buffer, lf: number): string {
  const end = lf > 0 && buf[lf - 1] === CR ? lf - 1 : lf;
  return buf.subarray(0, end).toString('latin1');
}

function notHttp1(line: string): ConnectResponse {
  return {
    type: 'invalid',
    message: `the proxy's status line is not HTTP/1.x: ${JSON.stringify(line.slice(0, 80))}`,
  };
}

/** A successful CONNECT: any 2xx (RFC 9110 §9.3.6). */
export function isConnectSuccess(statusCode: number): boolean {
  return statusCode >= 200 && statusCode < 300;
}
