/**
 * The `proxy` option: which proxy a dial goes through, validated once at the boundary. Pure: no I/O, no
 * environment (`'env'` is read per dial by env-proxy.ts, since which variable applies depends on the
 * target).
 *
 * Accepted: `http://[user:pass@]host[:port]` (HTTP CONNECT), `https://…` (TLS to the proxy, then CONNECT),
 * `socks5://…` (netdial resolves the target and sends the proxy an address), `socks5h://…` (the proxy
 * resolves the name), `'env'` (curl's environment rules), `false`/`undefined` (no proxy); and the object
 * form `{ url, tls }`: the URL, with the TLS options of the hop to an https:// proxy (its private CA, a
 * client certificate…: curl's --proxy-cacert and friends), kept apart from the dial's own `tls`.
 *
 * Default ports follow curl: 1080 for http and the SOCKS schemes, 443 for https (curl's man page, -x).
 * A port written in a URL string is used even when it is its scheme's own (`http://proxy:80`); a URL
 * object cannot say so (WHATWG URL drops such a port), so `new URL('http://proxy:80')` gets 1080.
 * Deviation from curl: a proxy URL without a scheme is refused here (curl reads it as http://); in the
 * environment it is read as http:// as curl does (see env-proxy.ts).
 */
import type * as tls from 'node:tls';
import { invalidOption } from '../errors.js';
import { PROXY_OBJECT_NAMES, readOptionBag } from '../option-names.js';
import { parseHost } from '../target.js';

export type ProxyProtocol = 'http' | 'https' | 'socks5' | 'socks5h';

/** One proxy, parsed. `host` is lowercase ASCII or a canonical IP literal (IPv6 without brackets). */
export interface ProxySpec {
  readonly protocol: ProxyProtocol;
  readonly host: string;
  readonly port: number;
  /** Percent-decoded user name from the URL (HTTP Basic or RFC 1929), when there is one. */
  readonly username: string | undefined;
  /** Percent-decoded password from the URL, when there is one. */
  readonly password: string | undefined;
  /** The URL without its password, for messages and reports (`http://user@proxy:3128`). */
  readonly display: string;
  /**
   * An https:// proxy's own TLS options (the object form's `tls`), used for the hop to the proxy instead
   * of the `ca` and `rejectUnauthorized` of the dial's `tls`. SNI is the proxy's name unless set here.
   */
  readonly tls?: Readonly<tls.ConnectionOptions> | undefined;
}

/** The `proxy` option's object form: the proxy URL, with the TLS options of the hop to an https:// proxy. */
export interface ProxyObject {
  /** The proxy URL, as the string form takes it. */
  url: string | URL;
  /** `tls.connect` options for the TLS to the proxy (https:// only): `ca`, `cert`/`key`, `servername`… */
  tls?: tls.ConnectionOptions | undefined;
}

/** The validated `proxy` option: a proxy, curl's environment rules, or none. */
export type ProxySetting = ProxySpec | 'env' | undefined;

const DEFAULT_PORTS: Readonly<Record<ProxyProtocol, number>> = {
  http: 1080,
  https: 443,
  socks5: 1080,
  socks5h: 1080,
};

/** RFC 1929 §2: user name and password are 1–255 bytes each. */
const MAX_SOCKS_CREDENTIAL_BYTES = 255;

function decode(part: string, name: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalidOption(name, `invalid option ${name}: its ${what} is not valid percent-encoding`);
  }
}

/**
 * The port written in a URL ('' when none), even when it is its scheme's default: WHATWG URL keeps the
 * port of a scheme it does not know, so the same text under an unknown scheme says what was written.
 */
function writtenPort(text: string): string {
  try {
    return new URL(`x-${text.trim()}`).port;
  } catch {
    return '';
  }
}

/**
 * Reads a proxy URL (string or URL object). `name` is the option's name in messages ('proxy',
 * 'HTTPS_PROXY'…). Throws a TypeError (ERR_NETDIAL_INVALID_OPTION) naming what is wrong; the message never
 * carries the password.
 */
export function parseProxyUrl(value: string | URL, name = 'proxy'): ProxySpec {
  let url: URL;
  const text = typeof value === 'string' ? value : value.href;
  try {
    url = new URL(text);
  } catch {
    throw invalidOption(
      name,
      `invalid option ${name}: expected a proxy URL like 'http://proxy:3128' or 'socks5://proxy:1080', got a string that is not a URL`,
    );
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https' && scheme !== 'socks5' && scheme !== 'socks5h') {
    const hint = scheme === 'socks4' || scheme === 'socks4a' ? ' (SOCKS4 is not supported)' : '';
    throw invalidOption(
      name,
      `invalid option ${name}: proxy scheme must be http, https, socks5 or socks5h, got ${JSON.stringify(scheme)}${hint}`,
    );
  }
  const protocol = scheme as ProxyProtocol;
  // WHATWG URL parses non-special schemes (socks5) with an opaque host: take the raw host text and
  // validate it like a dial target's host.
  let rawHost = url.hostname;
  if (rawHost === '') throw invalidOption(name, `invalid option ${name}: the proxy URL has no host`);
  if (rawHost.startsWith('[') && rawHost.endsWith(']')) rawHost = rawHost.slice(1, -1);
  let host: string;
  try {
    host = parseHost(decode(rawHost, name, 'host')).host;
  } catch (err) {
    throw invalidOption(name, `invalid option ${name}: bad proxy host (${(err as Error).message})`);
  }
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw invalidOption(name, `invalid option ${name}: a proxy URL has no path, query or fragment`);
  }
  let port = DEFAULT_PORTS[protocol];
  // WHATWG URL drops a port equal to its scheme's default (`http://proxy:80` has url.port ''), which
  // would send the dial to curl's 1080: a port written in the URL is the port (curl reads it so too).
  const portText = url.port !== '' ? url.port : writtenPort(text);
  if (portText !== '') {
    port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw invalidOption(name, `invalid option ${name}: proxy port must be 1 to 65535`);
    }
  }
  const username = url.username === '' ? undefined : decode(url.username, name, 'user name');
  const password = url.password === '' ? undefined : decode(url.password, name, 'password');
  if (protocol === 'socks5' || protocol === 'socks5h') {
    for (const [what, v] of [
      ['user name', username],
      ['password', password],
    ] as const) {
      if (v !== undefined && Buffer.byteLength(v) > MAX_SOCKS_CREDENTIAL_BYTES) {
        throw invalidOption(
          name,
          `invalid option ${name}: a SOCKS5 ${what} is at most ${MAX_SOCKS_CREDENTIAL_BYTES} bytes (RFC 1929)`,
        );
      }
    }
  }
  const hostText = host.includes(':') ? `[${host}]` : host;
  const user = url.username === '' ? '' : `${url.username}@`;
  return Object.freeze({
    protocol,
    host,
    port,
    username,
    password,
    display: `${protocol}://${user}${hostText}:${port}`,
  });
}

/**
 * The `proxy` option's value, validated: a URL string or URL object → a ProxySpec; `'env'` → 'env';
 * `false` or `undefined` → undefined (no proxy). Anything else is a TypeError (ERR_NETDIAL_INVALID_OPTION).
 * Exported for `netdial/register` (NETDIAL_PROXY) and the CLI.
 */
export function parseProxyOption(value: unknown, name = 'proxy'): ProxySetting {
  if (value === undefined || value === false) return undefined;
  if (value === 'env') return 'env';
  if (typeof value === 'string' || value instanceof URL) return parseProxyUrl(value, name);
  if (typeof value === 'object' && value !== null && !Array.isArray(value))
    return parseProxyObject(value, name);
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  throw invalidOption(
    name,
    `invalid option ${name}: expected a proxy URL (http, https, socks5, socks5h), { url, tls }, 'env' or false, got ${got}`,
  );
}

/** The object form `{ url, tls }` (names checked against PROXY_OBJECT_NAMES: an unknown one is a TypeError). */
function parseProxyObject(value: object, name: string): ProxySpec {
  const bag = readOptionBag(value, PROXY_OBJECT_NAMES, name, `${name}.`);
  const url = bag.url;
  if (typeof url !== 'string' && !(url instanceof URL)) {
    throw invalidOption(
      `${name}.url`,
      `invalid option ${name}.url: expected the proxy URL, got ${typeof url}`,
    );
  }
  const spec = parseProxyUrl(url, `${name}.url`);
  const options = bag.tls;
  if (options === undefined) return spec;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const got = options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options;
    throw invalidOption(
      `${name}.tls`,
      `invalid option ${name}.tls: expected tls.connect options, got ${got}`,
    );
  }
  if (spec.protocol !== 'https') {
    throw invalidOption(
      `${name}.tls`,
      `invalid option ${name}.tls: TLS options apply to an https:// proxy, not to ${spec.protocol}://`,
    );
  }
  return Object.freeze({ ...spec, tls: Object.freeze({ ...(options as tls.ConnectionOptions) }) });
}

/** Whether a proxy resolves the target's name itself (socks5h, and CONNECT by name). */
export function proxyResolvesRemotely(spec: ProxySpec): boolean {
  return spec.protocol !== 'socks5';
}
