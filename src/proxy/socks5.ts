/**
 * The client side of SOCKS5 (RFC 1928) with username/password authentication (RFC 1929), as a pure state
 * machine: it says what to send and reads what comes back, chunk by chunk, and hands back the bytes after
 * the reply untouched (they belong to the tunnel). It never buffers more than one reply (at most 262 bytes).
 */
import { isIP, parseIPv4, parseIPv6Into } from '../ip-address.js';

/** RFC 1928 §6 reply field, by value. */
export const SOCKS5_REPLIES: Readonly<Record<number, string>> = Object.freeze({
  1: 'general SOCKS server failure',
  2: 'connection not allowed by ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
});

/**
 * The Node-style code a SOCKS reply means: the proxy's view of the target (3, 4, 5, 6) keeps the socket
 * error's name; everything else is ERR_NETDIAL_PROXY. The SOCKS value itself is kept as `socksReply`.
 */
export function socksReplyCode(reply: number): string {
  switch (reply) {
    case 3:
      return 'ENETUNREACH';
    case 4:
      return 'EHOSTUNREACH';
    case 5:
      return 'ECONNREFUSED';
    case 6:
      return 'ETIMEDOUT';
    default:
      return 'ERR_NETDIAL_PROXY';
  }
}

export interface Socks5Credentials {
  username: string | undefined;
  password: string | undefined;
}

export type Socks5Step =
  | { type: 'send'; data: Buffer }
  | { type: 'more' }
  | { type: 'done'; rest: Buffer }
  | { type: 'failed'; message: string; reply?: number };

const VERSION = 5;
const NO_AUTH = 0x00;
const USER_PASS = 0x02;
const NO_ACCEPTABLE = 0xff;
const CONNECT = 0x01;
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;

/** The CONNECT request for `host:port`: an IP literal as its address type, a name as DOMAINNAME (socks5h). */
export function socks5ConnectRequest(host: string, port: number): Buffer {
  const family = isIP(host);
  let address: Buffer;
  if (family === 4) {
    const v = parseIPv4(host);
    address = Buffer.from([ATYP_IPV4, v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
  } else if (family === 6) {
    const words = new Uint32Array(4);
    parseIPv6Into(host, words);
    address = Buffer.alloc(17);
    address[0] = ATYP_IPV6;
    for (let i = 0; i < 4; i++) address.writeUInt32BE(words[i]!, 1 + i * 4);
  } else {
    const name = Buffer.from(host, 'latin1');
    if (name.length === 0 || name.length > 255) throw new RangeError('a SOCKS5 domain name is 1-255 bytes');
    address = Buffer.concat([Buffer.from([ATYP_DOMAIN, name.length]), name]);
  }
  const portBytes = Buffer.from([port >>> 8, port & 255]);
  return Buffer.concat([Buffer.from([VERSION, CONNECT, 0]), address, portBytes]);
}

type Phase = 'method' | 'auth' | 'reply' | 'done';

/**
 * One SOCKS5 handshake. `start()` gives the greeting; each `push(chunk)` returns the next step: bytes to
 * send (then call `push` again when more arrives), 'more', 'done' with the tunnel's first bytes, or
 * 'failed' with the RFC's meaning (and the reply value for a refused CONNECT).
 */
export class Socks5Handshake {
  readonly #credentials: Socks5Credentials;
  readonly #request: Buffer;
  #phase: Phase = 'method';
  #buffered: Buffer = Buffer.alloc(0);

  constructor(host: string, port: number, credentials: Socks5Credentials) {
    this.#credentials = credentials;
    this.#request = socks5ConnectRequest(host, port);
  }

  /** The greeting: no authentication, and username/password when the URL carried a user name. */
  start(): Buffer {
    return this.#credentials.username !== undefined
      ? Buffer.from([VERSION, 2, NO_AUTH, USER_PASS])
      : Buffer.from([VERSION, 1, NO_AUTH]);
  }

  push(chunk: Buffer): Socks5Step {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const b = this.#buffered;
    switch (this.#phase) {
      case 'method': {
        if (b.length < 2) return { type: 'more' };
        if (b[0] !== VERSION) return { type: 'failed', message: 'the proxy does not speak SOCKS5' };
        const method = b[1];
        this.#buffered = b.subarray(2);
        if (method === NO_AUTH) return this.#sendRequest();
        if (method === USER_PASS && this.#credentials.username !== undefined) {
          this.#phase = 'auth';
          const user = Buffer.from(this.#credentials.username, 'utf8');
          const pass = Buffer.from(this.#credentials.password ?? '', 'utf8');
          // RFC 1929 §2: VER=1, ULEN, UNAME, PLEN, PASSWD.
          return {
            type: 'send',
            data: Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]),
          };
        }
        if (method === NO_ACCEPTABLE || method === USER_PASS) {
          return {
            type: 'failed',
            message:
              this.#credentials.username === undefined
                ? 'the SOCKS5 proxy requires authentication and the proxy URL has no user name'
                : 'the SOCKS5 proxy accepts none of the offered authentication methods',
          };
        }
        return { type: 'failed', message: `the SOCKS5 proxy chose an unknown method ${method}` };
      }
      case 'auth': {
        if (b.length < 2) return { type: 'more' };
        this.#buffered = b.subarray(2);
        if (b[1] !== 0) {
          return {
            type: 'failed',
            message: 'the SOCKS5 proxy refused the user name and password (RFC 1929)',
          };
        }
        return this.#sendRequest();
      }
      case 'reply': {
        if (b.length < 5) return { type: 'more' };
        if (b[0] !== VERSION) return { type: 'failed', message: 'the proxy sent a reply that is not SOCKS5' };
        const reply = b[1]!;
        if (reply !== 0) {
          const meaning = SOCKS5_REPLIES[reply] ?? `unknown reply ${reply}`;
          return { type: 'failed', message: `the SOCKS5 proxy answered: ${meaning}`, reply };
        }
        const atyp = b[3];
        const length =
          atyp === ATYP_IPV4 ? 10 : atyp === ATYP_IPV6 ? 22 : atyp === ATYP_DOMAIN ? 7 + b[4]! : -1;
        if (length < 0) return { type: 'failed', message: `the SOCKS5 reply has address type ${atyp}` };
        if (b.length < length) return { type: 'more' };
        this.#phase = 'done';
        const rest = b.subarray(length);
        this.#buffered = Buffer.alloc(0);
        return { type: 'done', rest };
      }
      default:
        return { type: 'failed', message: 'the SOCKS5 handshake is over' };
    }
  }

  #sendRequest(): Socks5Step {
    this.#phase = 'reply';
    return { type: 'send', data: this.#request };
  }

  /** Bytes received but not yet consumed (after a 'send' the proxy may already have answered more). */
  get pending(): boolean {
    return this.#buffered.length > 0;
  }
}
